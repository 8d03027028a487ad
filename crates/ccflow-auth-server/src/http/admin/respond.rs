//! How the admin API answers: errors as RFC 6749 §5.2 bodies with `Cache-Control: no-store`,
//! times as Unix seconds.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use ccflow_protocol::{ErrorCode, ErrorResponse};

/// What [`admin_error`] writes, as the OpenAPI document shows it: an RFC 6749 §5.2 error body.
#[derive(utoipa::ToSchema)]
#[schema(as = Error)]
#[allow(
    dead_code,
    reason = "read by the OpenAPI derive only; the body is written by `ErrorResponse`"
)]
pub(super) struct ErrorBody {
    error: String,
    error_description: Option<String>,
}

pub(super) fn admin_error(status: StatusCode, code: ErrorCode, description: &str) -> HttpResponse {
    let body = ErrorResponse::new(code, description).with_status(status.as_u16());
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}

pub(super) fn unix_seconds_f64(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}
