//! The discovery document (RFC 8414) and JWKS (RFC 7517) routes.

use actix_web::{HttpRequest, HttpResponse, web};

use super::pipeline::get_endpoint;
use super::site::site_of;
use crate::control::journal::Endpoint;
use crate::domain::auth_server::AuthServer;

pub(super) async fn discovery(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    get_endpoint(&server, &request, Endpoint::Discovery, || {
        server.metadata(&site_of(&server, &request))
    })
    .await
}

pub(super) async fn jwks(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    get_endpoint(&server, &request, Endpoint::Jwks, || {
        serde_json::to_value(server.keys().jwks()).unwrap_or_default()
    })
    .await
}
