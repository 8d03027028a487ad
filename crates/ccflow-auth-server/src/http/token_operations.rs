//! The introspection (RFC 7662) and revocation (RFC 7009) routes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::mtls::ClientCertificate;

use super::pipeline::post_endpoint;
use super::respond::{JSON, builder, json};
use super::site::site_of;
use crate::control::journal::Endpoint;
use crate::domain::auth_server::AuthServer;

pub(super) async fn introspect(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    post_endpoint(
        &server,
        &request,
        payload,
        Endpoint::Introspection,
        |server, content_type, authorization, body| {
            server.introspect(
                &site_of(server, &request),
                content_type,
                authorization,
                body,
                request.conn_data::<ClientCertificate>(),
            )
        },
        |response, _| json(&server, StatusCode::OK, true, JSON, &response),
    )
    .await
}

pub(super) async fn revoke(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    post_endpoint(
        &server,
        &request,
        payload,
        Endpoint::Revocation,
        |server, content_type, authorization, body| {
            server.revoke(
                &site_of(server, &request),
                content_type,
                authorization,
                body,
                request.conn_data::<ClientCertificate>(),
            )
        },
        |(), _| {
            // RFC 7009 §2.2: 200 with an empty body.
            builder(&server, StatusCode::OK, true).finish()
        },
    )
    .await
}
