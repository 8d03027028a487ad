//! The per-request log line and journal entry.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse};
use ccflow_protocol::{ClientId, ErrorCode};

use crate::control::journal::{Endpoint, JournalEntry};
use crate::control::scenarios::Probe;
use crate::domain::auth_server::AuthServer;

/// What the handlers report about a request, for the log line and the journal.
pub(super) struct Outcome {
    endpoint: Endpoint,
    client_id: Option<ClientId>,
    error: Option<ErrorCode>,
    auth_method: Option<ccflow_protocol::AuthMethod>,
    params: Vec<(String, String)>,
}

impl Outcome {
    pub(super) fn new(
        endpoint: Endpoint,
        client_id: Option<ClientId>,
        error: Option<ErrorCode>,
    ) -> Self {
        Self {
            endpoint,
            client_id,
            error,
            auth_method: None,
            params: Vec::new(),
        }
    }

    pub(super) fn with_probe(mut self, probe: Probe) -> Self {
        self.auth_method = probe.auth_method;
        self.params = probe.params;
        self
    }
}

/// Logs one line for the request and records it in the journal.
pub(super) fn finish(
    server: &AuthServer,
    request: &HttpRequest,
    started: Instant,
    outcome: Outcome,
    response: HttpResponse,
) -> HttpResponse {
    let status = response.status().as_u16();
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let client_id = outcome.client_id.as_ref().map_or("-", ClientId::as_str);
    let result = outcome.error.as_ref().map_or("ok", ErrorCode::as_str);
    tracing::info!(
        target: "ccflow_auth_server::request",
        method = %request.method(),
        path = request.path(),
        endpoint = outcome.endpoint.as_str(),
        client_id,
        outcome = result,
        status,
        latency_us,
        "request"
    );
    server.journal().record(JournalEntry {
        received_at: server.inner.clock.now(),
        arrived: started,
        endpoint: outcome.endpoint,
        method: request.method().to_string(),
        path: request.path().to_owned(),
        client_id: outcome.client_id,
        status,
        error: outcome.error,
        latency_us,
        auth_method: outcome.auth_method.map(|method| method.as_str().to_owned()),
        params: outcome.params,
    });
    response
}
