//! `/_ccflow/keys`: the key ring, and rotation.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde_json::{Value, json};

use super::respond::{admin_error, unix_seconds_f64};
use crate::domain::auth_server::AuthServer;

/// `GET /_ccflow/keys`: every key's public part and state (retired keys included).
pub(super) async fn get_keys(server: web::Data<AuthServer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(keys_json(&server))
}

fn keys_json(server: &AuthServer) -> Value {
    let keys: Vec<Value> = server
        .keys()
        .entries()
        .iter()
        .map(|entry| {
            json!({
                "kid": entry.key.kid(),
                "alg": format!("{:?}", entry.key.algorithm()),
                "state": entry.state.as_str(),
                "retire_at": entry.retire_at.map(|at| unix_seconds_f64(at).round() as i64),
                "jwk": entry.key.public_jwk(),
            })
        })
        .collect();
    json!({"keys": keys})
}

/// `POST /_ccflow/keys/rotate`: a new key signs from now on; the previous one stays published
/// until the longest token it signed has expired. Answers the new ring.
pub(super) async fn rotate_keys(server: web::Data<AuthServer>) -> HttpResponse {
    let rotating = server.clone();
    // RSA generation is CPU work: keep it off the I/O threads.
    match web::block(move || rotating.rotate_keys()).await {
        Ok(Ok(kid)) => {
            let mut body = keys_json(&server);
            body["active"] = json!(kid);
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(body)
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "key rotation failed");
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
