//! `/_ccflow/keys`: the key ring, and rotation.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde::Serialize;
use serde_json::Value;

use super::respond::{ErrorBody, admin_error, unix_seconds_f64};
use crate::domain::auth_server::AuthServer;
use utoipa::ToSchema;

/// `GET /_ccflow/keys`: every key's public part and state (retired keys included).
#[utoipa::path(
    get,
    path = "/keys",
    summary = "Every key's public part and state",
    responses((status = OK, description = "the ring", body = KeysBody))
)]
pub(super) async fn get_keys(server: web::Data<AuthServer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(keys_body(&server, None))
}

// Members in alphabetical order, as the untyped JSON objects this replaced wrote them.
/// The key ring: every key, retired ones included.
#[derive(Serialize, ToSchema)]
pub(super) struct KeysBody {
    /// The new signing key's `kid`, in the answer to a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<String>,
    keys: Vec<KeyBody>,
}

/// One key: its public part and where it is in its life.
#[derive(Serialize, ToSchema)]
struct KeyBody {
    alg: String,
    // As a JSON value, so its members keep the order they had.
    /// The public key (RFC 7517 JWK).
    jwk: Value,
    kid: String,
    /// Unix seconds.
    retire_at: Option<i64>,
    state: &'static str,
}

pub(super) fn keys_body(server: &AuthServer, active: Option<String>) -> KeysBody {
    let keys = server
        .keys()
        .entries()
        .iter()
        .map(|entry| KeyBody {
            alg: format!("{:?}", entry.key.algorithm()),
            jwk: serde_json::to_value(entry.key.public_jwk()).unwrap_or_default(),
            kid: entry.key.kid().to_owned(),
            retire_at: entry
                .retire_at
                .map(|at| unix_seconds_f64(at).round() as i64),
            state: entry.state.as_str(),
        })
        .collect();
    KeysBody { active, keys }
}

/// `POST /_ccflow/keys/rotate`: a new key signs from now on; the previous one stays published
/// until the longest token it signed has expired. Answers the new ring.
#[utoipa::path(
    post,
    path = "/keys/rotate",
    summary = "Rotate the signing key",
    responses(
        (status = OK, description = "the new ring; `active` names the new key", body = KeysBody),
        (status = INTERNAL_SERVER_ERROR, description = "key generation failed", body = ErrorBody),
    )
)]
pub(super) async fn rotate_keys(server: web::Data<AuthServer>) -> HttpResponse {
    let rotating = server.clone();
    // RSA generation is CPU work: keep it off the I/O threads.
    let rotated = web::block(move || rotating.rotate_keys()).await;
    after_key_generation(&server, rotated, Some)
}

/// The answer to an admin call that generated a key on the blocking pool: the ring (with
/// `active` of what the call returned, when it names the new signing key), or a 500 that says
/// only that generation failed (the error goes to the log).
pub(super) fn after_key_generation<T, E: std::fmt::Display>(
    server: &AuthServer,
    outcome: Result<Result<T, E>, actix_web::error::BlockingError>,
    active: impl FnOnce(T) -> Option<String>,
) -> HttpResponse {
    match outcome {
        Ok(Ok(done)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(keys_body(server, active(done))),
        Ok(Err(error)) => {
            tracing::error!(%error, "key generation failed");
            admin_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                "key generation failed",
            )
        }
        Err(_) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "key generation was cancelled",
        ),
    }
}
