//! `/_ccflow/requests`: the request journal: an issuer's own, and at the root of a process with
//! several issuers all of theirs merged by arrival, each entry naming its issuer.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde::Serialize;

use super::respond::{ErrorBody, admin_error, unix_seconds_f64};
use crate::control::journal::{Endpoint, JournalEntry};
use crate::domain::auth_server::AuthServer;
use crate::http::IssuerList;
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
    /// The name of the issuer that received it: only in the root journal of a process with
    /// several issuers (`[[issuers]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
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
    fn new(issuer: Option<&'a str>, entry: &'a JournalEntry) -> Self {
        Self {
            issuer,
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

/// `GET /_ccflow/requests[?endpoint=token][&client_id=…]`: the journal, oldest first. At the
/// root of a process with several issuers the same path is [`get_all_requests`], which also
/// takes `issuer`; the operation below documents both.
#[utoipa::path(
    get,
    path = "/requests",
    summary = "The request journal, oldest first",
    params(
        ("endpoint" = Option<String>, Query, description = "only this endpoint's requests: token, introspection, revocation, discovery, jwks or unknown"),
        ("client_id" = Option<String>, Query, description = "only this client's requests"),
        ("issuer" = Option<String>, Query, description = "only at the root of a process with several issuers (`[[issuers]]`), whose journal is every issuer's, merged in order of arrival, each entry naming its `issuer`: only this issuer's requests. Refused by an issuer's own journal (`/{name}/_ccflow/requests`)"),
    ),
    responses(
        (status = OK, description = "the journal", body = RequestsBody<'_>),
        (status = BAD_REQUEST, description = "malformed query, unknown endpoint or unknown issuer", body = ErrorBody),
    )
)]
pub(super) async fn get_requests(
    server: web::Data<AuthServer>,
    request: HttpRequest,
) -> HttpResponse {
    let filter = match Filter::parse(&request) {
        Ok(filter) => filter,
        Err(response) => return response,
    };
    if filter.issuer.is_some() {
        return admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "issuer filters the root journal of a process with several issuers \
             (GET /_ccflow/requests at the root); this journal is one issuer's",
        );
    }
    let entries = server.journal().entries();
    let requests = entries
        .iter()
        .filter(|entry| filter.matches(entry))
        .map(|entry| EntryBody::new(None, entry))
        .collect();
    journal(RequestsBody { requests })
}

/// `GET /_ccflow/requests[?issuer=NAME][&endpoint=…][&client_id=…]` at the root of a process
/// with several issuers: every issuer's journal (or `NAME`'s only), each entry tagged with its
/// issuer's name. The journals are merged in the order the requests arrived by the machine's
/// monotonic clock, not by the issuers' clocks, which tests may freeze or shift apart.
pub(super) async fn get_all_requests(
    list: web::Data<IssuerList>,
    request: HttpRequest,
) -> HttpResponse {
    let filter = match Filter::parse(&request) {
        Ok(filter) => filter,
        Err(response) => return response,
    };
    let named = list
        .0
        .iter()
        .filter_map(|(name, server)| name.as_deref().map(|name| (name, server)));
    let chosen: Vec<(&str, &AuthServer)> = match &filter.issuer {
        None => named.collect(),
        Some(wanted) => {
            let chosen: Vec<_> = named.filter(|(name, _)| *name == wanted.as_str()).collect();
            if chosen.is_empty() {
                let known: Vec<String> = list
                    .0
                    .iter()
                    .filter_map(|(name, _)| name.as_deref().map(|name| format!("`{name}`")))
                    .collect();
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    &format!(
                        "no issuer is named `{wanted}`: the issuers are {}",
                        known.join(", ")
                    ),
                );
            }
            chosen
        }
    };
    let journals: Vec<(&str, Vec<JournalEntry>)> = chosen
        .into_iter()
        .map(|(name, server)| (name, server.journal().entries()))
        .collect();
    let mut merged: Vec<(&str, &JournalEntry)> = journals
        .iter()
        .flat_map(|(name, entries)| entries.iter().map(move |entry| (*name, entry)))
        .filter(|(_, entry)| filter.matches(entry))
        .collect();
    // Stable: entries that arrived at the same instant keep their issuer's order.
    merged.sort_by_key(|(_, entry)| entry.arrived);
    let requests = merged
        .into_iter()
        .map(|(name, entry)| EntryBody::new(Some(name), entry))
        .collect();
    journal(RequestsBody { requests })
}

fn journal(body: RequestsBody<'_>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The journal's query: which entries to show.
struct Filter {
    endpoint: Option<Endpoint>,
    client_id: Option<String>,
    issuer: Option<String>,
}

impl Filter {
    #[allow(
        clippy::result_large_err,
        reason = "the `Err` is the HTTP answer itself, sent at once: boxing it buys nothing"
    )]
    fn parse(request: &HttpRequest) -> Result<Self, HttpResponse> {
        let query = ccflow_protocol::FormParams::parse(request.query_string()).map_err(|_| {
            admin_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "malformed query string",
            )
        })?;
        let endpoint = match query.get("endpoint") {
            Some(name) => Some(Endpoint::from_name(name).ok_or_else(|| {
                admin_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    "endpoint must be token, introspection, revocation, discovery, jwks or unknown",
                )
            })?),
            None => None,
        };
        Ok(Self {
            endpoint,
            client_id: query.get("client_id").map(str::to_owned),
            issuer: query.get("issuer").map(str::to_owned),
        })
    }

    fn matches(&self, entry: &JournalEntry) -> bool {
        self.endpoint.is_none_or(|wanted| entry.endpoint == wanted)
            && self.client_id.as_deref().is_none_or(|wanted| {
                entry
                    .client_id
                    .as_ref()
                    .is_some_and(|id| id.as_str() == wanted)
            })
    }
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
