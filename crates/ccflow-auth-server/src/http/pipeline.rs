//! What every endpoint request goes through: header and body limits, throttling, fault
//! scenarios, the endpoint logic, then the log line and journal entry.

use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::{ClientId, ErrorCode, ErrorResponse, Fault};
use serde::Serialize;

use super::faults::fault_response;
use super::record::{Outcome, finish};
use super::request::{header_str, probe, read_body};
use super::respond::{cacheable_json, error_response};
use crate::control::journal::Endpoint;
use crate::control::scenarios::Probe;
use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::{EndpointError, Handled};

pub(super) async fn post_endpoint<T: Serialize>(
    server: &AuthServer,
    request: &HttpRequest,
    payload: web::Payload,
    endpoint: Endpoint,
    handle: impl FnOnce(&AuthServer, Option<&str>, Option<&str>, &[u8]) -> Handled<T>,
    success: impl FnOnce(T, Option<&Fault>) -> HttpResponse,
) -> HttpResponse {
    let started = Instant::now();
    let limits = &server.inner.limits;
    let body = match limits.check_headers(request.headers()) {
        Ok(()) => read_body(request, payload, limits.max_body_bytes).await,
        Err(response) => Err(response),
    };
    let body = match body {
        Ok(body) => body,
        Err(response) => return refuse(server, request, started, endpoint, response),
    };
    let probe = probe(request, &body, server.dialect().basic_credentials());
    // Failed-authentication throttling: checked before anything can change state (fault
    // counts, assertion `jti`s, tokens), keyed by the client id the request names, whether
    // or not it is registered, and by the peer address (never a forwarded-for header).
    let peer = request.peer_addr().map(|address| address.ip());
    if let Some(throttle) = &server.inner.throttle
        && let Some(retry_after) = throttle.retry_after(probe.client_id.as_deref(), peer, || {
            server.inner.clock.unix_seconds()
        })
    {
        let error = EndpointError {
            response: crate::control::throttle::throttled(retry_after),
            basic_attempted: false,
        };
        let mut response = error_response(server, &error);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        let client_id = probe.client_id.clone().map(ClientId::new);
        let outcome =
            Outcome::new(endpoint, client_id, Some(error.response.error)).with_probe(probe);
        return finish(server, request, started, outcome, response);
    }
    let fault = server
        .inner
        .scenarios
        .take(endpoint, &probe, || server.inner.clock.now());
    if let Some(Fault::Delay { millis }) = &fault {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(*millis)).await;
    }
    if let Some(fault) = fault.as_ref().filter(|fault| fault.replaces_response()) {
        let (response, error) = fault_response(server, request, fault);
        let client_id = probe.client_id.clone().map(ccflow_protocol::ClientId::new);
        return finish(
            server,
            request,
            started,
            Outcome::new(endpoint, client_id, error).with_probe(probe),
            response,
        );
    }
    let handled = handle(
        server,
        header_str(request, header::CONTENT_TYPE),
        // A non-ASCII Authorization header is treated as malformed Basic by the parser.
        request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or("\u{fffd}")),
        &body,
    );
    if let (Some(throttle), Err(error)) = (&server.inner.throttle, &handled.result)
        && is_authentication_failure(error)
    {
        throttle.record_failure(
            probe.client_id.as_deref(),
            peer,
            server.inner.clock.unix_seconds(),
        );
    }
    let (response, error) = match handled.result {
        Ok(value) => (success(value, fault.as_ref()), None),
        Err(error) => (
            error_response(server, &error),
            Some(error.response.error.clone()),
        ),
    };
    let outcome = Outcome::new(endpoint, handled.client_id, error).with_probe(probe);
    finish(server, request, started, outcome, response)
}

/// Whether an endpoint error is a failed client authentication, as the throttle counts them:
/// every `invalid_client`, and any other 401 (UserClouds words a wrong secret
/// `invalid_grant` with 401).
fn is_authentication_failure(error: &EndpointError) -> bool {
    error.response.error == ErrorCode::InvalidClient || error.response.status() == 401
}

/// A request refused before it was parsed (a size limit): the error, journaled as any other.
fn refuse(
    server: &AuthServer,
    request: &HttpRequest,
    started: Instant,
    endpoint: Endpoint,
    response: ErrorResponse,
) -> HttpResponse {
    let error = EndpointError {
        response,
        basic_attempted: false,
    };
    let outcome = Outcome::new(endpoint, None, Some(error.response.error.clone()));
    finish(
        server,
        request,
        started,
        outcome,
        error_response(server, &error),
    )
}

/// A GET endpoint (discovery, JWKS), with fault scenarios applied.
pub(super) async fn get_endpoint(
    server: &AuthServer,
    request: &HttpRequest,
    endpoint: Endpoint,
    body: impl FnOnce() -> serde_json::Value,
) -> HttpResponse {
    let started = Instant::now();
    if let Err(response) = server.inner.limits.check_headers(request.headers()) {
        return refuse(server, request, started, endpoint, response);
    }
    let fault = server
        .inner
        .scenarios
        .take(endpoint, &Probe::default(), || server.inner.clock.now());
    if let Some(Fault::Delay { millis }) = &fault {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(*millis)).await;
    }
    let (response, error) = match fault.as_ref().filter(|fault| fault.replaces_response()) {
        Some(fault) => fault_response(server, request, fault),
        None => (
            cacheable_json(server, server.metadata_max_age().as_secs(), &body()),
            None,
        ),
    };
    finish(
        server,
        request,
        started,
        Outcome::new(endpoint, None, error),
        response,
    )
}
