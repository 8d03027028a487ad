//! The token endpoint's route (RFC 6749 §3.2): fault reshaping of its success answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::faults::reshape_token;
use super::pipeline::post_endpoint;
use super::respond::json;
use crate::control::journal::Endpoint;
use crate::domain::auth_server::AuthServer;

pub(super) async fn token(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let content_type = server.spec().content_type;
    post_endpoint(
        &server,
        &request,
        payload,
        Endpoint::Token,
        AuthServer::token,
        |response, fault| match fault {
            Some(fault) if fault.reshapes_token() => match serde_json::to_value(&response) {
                Ok(body) => reshape_token(&server, fault, body),
                Err(_) => json(&server, StatusCode::OK, true, content_type, &response),
            },
            _ => json(&server, StatusCode::OK, true, content_type, &response),
        },
    )
    .await
}
