//! Answers for requests no route takes: 405 with `Allow` on a known path, 404 elsewhere.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::{ErrorCode, ErrorResponse};

use super::record::{Outcome, finish};
use super::respond::error_response;
use crate::control::journal::Endpoint;
use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::EndpointError;

fn path_matches(server: &AuthServer, route: &str, path: &str) -> bool {
    if server.spec().case_insensitive_paths {
        route.eq_ignore_ascii_case(path)
    } else {
        route == path
    }
}

fn endpoint_of(server: &AuthServer, path: &str) -> Endpoint {
    let routes = server.routes();
    let matches = |route: &str| path_matches(server, route, path);
    if routes.token.iter().any(|route| matches(route)) {
        Endpoint::Token
    } else if routes.introspection.as_deref().is_some_and(matches) {
        Endpoint::Introspection
    } else if routes.revocation.as_deref().is_some_and(matches) {
        Endpoint::Revocation
    } else if matches(&routes.jwks) {
        Endpoint::Jwks
    } else if routes.discovery.iter().any(|route| matches(route)) {
        Endpoint::Discovery
    } else {
        Endpoint::Unknown
    }
}

/// 405 with `Allow` for a known path used with the wrong method.
pub(super) async fn method_not_allowed(
    server: web::Data<AuthServer>,
    request: HttpRequest,
) -> HttpResponse {
    let started = Instant::now();
    let endpoint = endpoint_of(&server, super::local_path(&request));
    let allowed: &'static str = match endpoint {
        Endpoint::Discovery | Endpoint::Jwks => "GET",
        _ => "POST",
    };
    let error = EndpointError {
        response: ErrorResponse::invalid_request(format!("use {allowed} on {}", request.path()))
            .with_status(StatusCode::METHOD_NOT_ALLOWED.as_u16()),
        basic_attempted: false,
    };
    let mut response = error_response(&server, &error);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    let outcome = Outcome::new(endpoint, None, Some(error.response.error));
    finish(&server, &request, started, outcome, response)
}

/// 404 JSON for paths the server does not serve.
pub(crate) async fn not_found(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let error = EndpointError {
        response: ErrorResponse::new(ErrorCode::Other("not_found".to_owned()), "no such endpoint")
            .with_status(StatusCode::NOT_FOUND.as_u16()),
        basic_attempted: false,
    };
    let response = error_response(&server, &error);
    let outcome = Outcome::new(Endpoint::Unknown, None, Some(error.response.error));
    finish(&server, &request, started, outcome, response)
}
