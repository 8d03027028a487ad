//! `/_ccflow/requests`: the request journal.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde::Serialize;

use super::respond::{ErrorBody, admin_error, unix_seconds_f64};
use crate::control::journal::{Endpoint, JournalEntry};
use crate::domain::auth_server::AuthServer;
use utoipa::ToSchema;

// Members in alphabetical order, as the untyped JSON objects this replaced wrote them.
/// The request journal, oldest first.
#[derive(Serialize, ToSchema)]
struct RequestsBody<'a> {
    requests: Vec<EntryBody<'a>>,
}

/// One journal entry as the admin API shows it.
#[derive(Serialize, ToSchema)]
struct EntryBody<'a> {
    auth_method: Option<&'a str>,
    client_id: Option<&'a str>,
    endpoint: &'static str,
    error: Option<&'a str>,
    latency_us: u64,
    method: &'a str,
    /// `[name, value]` pairs; secrets, assertions and tokens are `[redacted]`.
    #[schema(value_type = Vec<Vec<String>>)]
    params: Vec<(&'a str, &'a str)>,
    path: &'a str,
    /// Unix seconds, with a fraction.
    received_at: f64,
    status: u16,
}

impl<'a> EntryBody<'a> {
    fn new(entry: &'a JournalEntry) -> Self {
        Self {
            auth_method: entry.auth_method.as_deref(),
            client_id: entry.client_id.as_ref().map(|id| id.as_str()),
            endpoint: entry.endpoint.as_str(),
            error: entry.error.as_ref().map(|code| code.as_str()),
            latency_us: entry.latency_us,
            method: &entry.method,
            params: entry
                .params
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect(),
            path: &entry.path,
            received_at: unix_seconds_f64(entry.received_at),
            status: entry.status,
        }
    }
}

/// `GET /_ccflow/requests[?endpoint=token][&client_id=…]`: the journal, oldest first.
#[utoipa::path(
    get,
    path = "/requests",
    summary = "The request journal, oldest first",
    params(
        ("endpoint" = Option<String>, Query, description = "only this endpoint's requests: token, introspection, revocation, discovery, jwks or unknown"),
        ("client_id" = Option<String>, Query, description = "only this client's requests"),
    ),
    responses(
        (status = OK, description = "the journal", body = RequestsBody<'_>),
        (status = BAD_REQUEST, description = "malformed query or unknown endpoint", body = ErrorBody),
    )
)]
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
    let entries = server.journal().entries();
    let requests = entries
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
        .map(EntryBody::new)
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RequestsBody { requests })
}

/// `DELETE /_ccflow/requests`: empties the journal.
#[utoipa::path(
    delete,
    path = "/requests",
    summary = "Empty the journal",
    responses((status = NO_CONTENT, description = "emptied"))
)]
pub(super) async fn delete_requests(server: web::Data<AuthServer>) -> HttpResponse {
    server.journal().clear();
    HttpResponse::NoContent().finish()
}
