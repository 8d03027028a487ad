//! The admin API's one access check, as middleware on the `/_ccflow` scope: the admin API may
//! be off, need a bearer token, or answer loopback peers only. Every call is logged, allowed or
//! not.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::{BearerChallenge, ClientSecret, ErrorCode};

use super::respond::admin_error;
use crate::domain::auth_server::AuthServer;

/// Lets an admin call through, or answers it with the refusal.
pub(super) async fn guard<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let refusal = request
        .app_data::<web::Data<AuthServer>>()
        .and_then(|server| authorize(server, request.request()).err());
    match refusal {
        Some(response) => Ok(request.into_response(response).map_into_right_body()),
        None => next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

/// Checks access and logs the call; `Err` is the answer to send instead.
#[allow(
    clippy::result_large_err,
    reason = "the `Err` is the HTTP answer itself, sent at once: boxing it buys nothing"
)]
fn authorize(server: &AuthServer, request: &HttpRequest) -> Result<(), HttpResponse> {
    let admin = &server.inner.admin;
    let peer = request.peer_addr();
    let outcome = if !admin.enabled {
        Err(admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "the admin API is disabled",
        ))
    } else if let Some(token) = &admin.token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| ClientSecret::new(token.trim()));
        match presented {
            // Constant-time comparison, as for client secrets.
            Some(presented) if presented == *token => Ok(()),
            _ => {
                let challenge = BearerChallenge::new().realm("ccflow-admin").error(
                    ErrorCode::InvalidToken,
                    "the admin API needs the admin token",
                );
                let mut response = admin_error(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidToken,
                    "the admin API needs the admin token",
                );
                if let Ok(value) = HeaderValue::from_str(&challenge.to_header_value()) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                Err(response)
            }
        }
    } else if peer.is_some_and(|peer| peer.ip().is_loopback()) {
        Ok(())
    } else {
        Err(admin_error(
            StatusCode::FORBIDDEN,
            ErrorCode::Other("forbidden".to_owned()),
            "the admin API answers loopback peers only; start the server with an admin token to use it remotely",
        ))
    };
    tracing::info!(
        target: "ccflow_auth_server::admin",
        method = %request.method(),
        path = request.path(),
        peer = ?peer,
        allowed = outcome.is_ok(),
        "admin call"
    );
    outcome
}
