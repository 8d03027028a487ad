//! `/_ccflow/requests`: the request journal.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde_json::{Value, json};

use super::respond::{admin_error, unix_seconds_f64};
use crate::control::journal::{Endpoint, JournalEntry};
use crate::domain::auth_server::AuthServer;

fn entry_json(entry: &JournalEntry) -> Value {
    json!({
        "received_at": unix_seconds_f64(entry.received_at),
        "endpoint": entry.endpoint.as_str(),
        "method": entry.method,
        "path": entry.path,
        "client_id": entry.client_id.as_ref().map(|id| id.as_str()),
        "status": entry.status,
        "error": entry.error.as_ref().map(|code| code.as_str()),
        "latency_us": entry.latency_us,
        "auth_method": entry.auth_method,
        "params": entry.params.iter().map(|(name, value)| json!([name, value])).collect::<Vec<_>>(),
    })
}

/// `GET /_ccflow/requests[?endpoint=token][&client_id=…]`: the journal, oldest first.
pub(super) async fn get_requests(
    server: web::Data<AuthServer>,
    request: HttpRequest,
) -> HttpResponse {
    let query = match ccflow_protocol::FormParams::parse(request.query_string()) {
        Ok(query) => query,
        Err(_) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "malformed query string",
            );
        }
    };
    let endpoint = match query.get("endpoint") {
        Some(name) => match Endpoint::from_name(name) {
            Some(endpoint) => Some(endpoint),
            None => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    "endpoint must be token, introspection, revocation, discovery, jwks or unknown",
                );
            }
        },
        None => None,
    };
    let client_id = query.get("client_id");
    let entries: Vec<Value> = server
        .journal()
        .entries()
        .iter()
        .filter(|entry| endpoint.is_none_or(|wanted| entry.endpoint == wanted))
        .filter(|entry| {
            client_id.is_none_or(|wanted| {
                entry
                    .client_id
                    .as_ref()
                    .is_some_and(|id| id.as_str() == wanted)
            })
        })
        .map(entry_json)
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"requests": entries}))
}

/// `DELETE /_ccflow/requests`: empties the journal.
pub(super) async fn delete_requests(server: web::Data<AuthServer>) -> HttpResponse {
    server.journal().clear();
    HttpResponse::NoContent().finish()
}
