//! `/_ccflow/keys/stage`, `/_ccflow/keys/{kid}/activate`, `/_ccflow/keys/{kid}/retire`: the
//! key ring's single steps, which `POST /_ccflow/keys/rotate` does in one go — publish a new
//! key before it signs, let it sign, withdraw an old one early.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use ccflow_protocol::ErrorCode;

use super::keys::{KeysBody, after_key_generation, keys_body};
use super::respond::{ErrorBody, admin_error};
use crate::domain::auth_server::AuthServer;
use crate::domain::keys::KeyRingError;

/// `POST /_ccflow/keys/stage`: a new key of the active key's algorithm is published in the
/// JWKS without signing. Answers the ring (the new key is its last staged one).
#[utoipa::path(
    post,
    path = "/keys/stage",
    summary = "Publish a new key without signing with it",
    responses(
        (status = OK, description = "the ring", body = KeysBody),
        (status = INTERNAL_SERVER_ERROR, description = "key generation failed", body = ErrorBody),
    )
)]
pub(super) async fn stage_key(server: web::Data<AuthServer>) -> HttpResponse {
    let staging = server.clone();
    // RSA generation is CPU work: keep it off the I/O threads.
    let staged = web::block(move || {
        let algorithm = staging.keys().active().algorithm();
        staging
            .inner
            .key_policy
            .next_key(algorithm)
            .map(|key| staging.stage_key(key))
    })
    .await;
    after_key_generation(&server, staged, |()| None)
}

/// `POST /_ccflow/keys/{kid}/activate`: the staged key signs from now on; the previous one
/// stays published for the longest token lifetime. Answers the ring.
#[utoipa::path(
    post,
    path = "/keys/{kid}/activate",
    summary = "Sign with a staged key from now on",
    params(("kid" = String, Path, description = "the staged key")),
    responses(
        (status = OK, description = "the ring", body = KeysBody),
        (status = NOT_FOUND, description = "no such key", body = ErrorBody),
        (status = CONFLICT, description = "the key cannot be activated", body = ErrorBody),
    )
)]
pub(super) async fn activate_key(
    server: web::Data<AuthServer>,
    kid: web::Path<String>,
) -> HttpResponse {
    ring_answer(&server, server.activate_key(&kid))
}

/// `POST /_ccflow/keys/{kid}/retire`: the staged key leaves the JWKS now. Answers the ring.
#[utoipa::path(
    post,
    path = "/keys/{kid}/retire",
    summary = "Take a staged key out of the JWKS",
    params(("kid" = String, Path, description = "the staged key")),
    responses(
        (status = OK, description = "the ring", body = KeysBody),
        (status = NOT_FOUND, description = "no such key", body = ErrorBody),
        (status = CONFLICT, description = "the key is active", body = ErrorBody),
    )
)]
pub(super) async fn retire_key(
    server: web::Data<AuthServer>,
    kid: web::Path<String>,
) -> HttpResponse {
    ring_answer(&server, server.retire_key(&kid))
}

fn ring_answer(server: &AuthServer, outcome: Result<(), KeyRingError>) -> HttpResponse {
    match outcome {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(keys_body(server, None)),
        Err(error @ KeyRingError::UnknownKid(_)) => admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            &error.to_string(),
        ),
        Err(error) => admin_error(
            StatusCode::CONFLICT,
            ErrorCode::Other("key_active".to_owned()),
            &error.to_string(),
        ),
    }
}
