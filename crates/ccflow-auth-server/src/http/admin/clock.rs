//! `/_ccflow/clock`: read and move the server's virtual clock.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use ccflow_protocol::{ErrorCode, VirtualClock};
use serde_json::Value;

use super::respond::{ErrorBody, admin_error};
use crate::domain::auth_server::AuthServer;

#[allow(
    clippy::result_large_err,
    reason = "the `Err` is the HTTP answer itself, sent at once: boxing it buys nothing"
)]
fn controllable(server: &AuthServer) -> Result<&VirtualClock, HttpResponse> {
    server.inner.virtual_clock.as_ref().ok_or_else(|| {
        admin_error(
            StatusCode::CONFLICT,
            ErrorCode::Other("clock_injected".to_owned()),
            "this server runs on a clock injected by the embedding test; control that clock instead",
        )
    })
}

/// `GET /_ccflow/clock`.
#[utoipa::path(
    get,
    path = "/clock",
    summary = "The virtual clock's state",
    responses(
        (status = OK, description = "`now` (Unix seconds), `frozen`, `offset_secs`", body = Object),
        (status = CONFLICT, description = "the embedding test injected its own clock", body = ErrorBody),
    )
)]
pub(super) async fn get_clock(server: web::Data<AuthServer>) -> HttpResponse {
    match controllable(&server) {
        Ok(clock) => HttpResponse::Ok().json(clock.state()),
        Err(response) => response,
    }
}

/// `POST /_ccflow/clock` with one of `{"advance_secs": n}`, `{"rewind_secs": n}`,
/// `{"set": unix_seconds}`, `{"freeze": true}`, `{"resume": true}`, `{"reset": true}`.
#[utoipa::path(
    post,
    path = "/clock",
    summary = "Advance, rewind, set, freeze, resume or reset the clock",
    request_body(
        content = Object,
        description = "exactly one of {\"advance_secs\": n}, {\"rewind_secs\": n}, {\"set\": unix_seconds}, {\"freeze\": true}, {\"resume\": true}, {\"reset\": true}"
    ),
    responses(
        (status = OK, description = "the new state", body = Object),
        (status = BAD_REQUEST, description = "bad command", body = ErrorBody),
        (status = CONFLICT, description = "the embedding test injected its own clock", body = ErrorBody),
    )
)]
pub(super) async fn post_clock(server: web::Data<AuthServer>, body: web::Bytes) -> HttpResponse {
    let clock = match controllable(&server) {
        Ok(clock) => clock,
        Err(response) => return response,
    };
    let applied = serde_json::from_slice::<Value>(&body)
        .map_err(|_| "the body is not JSON")
        .and_then(|command| clock.apply_command(&command));
    match applied {
        Ok(()) => HttpResponse::Ok().json(clock.state()),
        Err(why) => admin_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, why),
    }
}
