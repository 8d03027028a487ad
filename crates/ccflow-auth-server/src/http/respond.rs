//! Writing a response: the profile's headers, JSON bodies, and OAuth error bodies in the
//! profile's dialect.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use ccflow_protocol::ErrorResponse;
use serde::Serialize;

use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::EndpointError;

/// Applies the headers every response of this profile carries, except the cacheable JWKS and
/// discovery answers ([`cacheable_json`]): `Cache-Control: no-store` (RFC 6749 §5.1, RFC 6750
/// §5.3; not for UserClouds, which sends none), `Pragma: no-cache` on token-endpoint style
/// responses, and the vendor's request id header.
pub(super) fn builder(
    server: &AuthServer,
    status: StatusCode,
    pragma: bool,
) -> HttpResponseBuilder {
    let spec = server.spec();
    let mut builder = HttpResponse::build(status);
    if spec.cache_headers {
        builder.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if pragma {
            builder.insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
        }
    }
    request_id(server, &mut builder);
    builder
}

/// The vendor's request id header, if it has one.
fn request_id(server: &AuthServer, builder: &mut HttpResponseBuilder) {
    if let Some(name) = server.spec().request_id_header {
        let id: String = crate::domain::ids::random_bytes(&server.inner.rng)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        builder.insert_header((name, id));
    }
}

/// A JSON answer caches may keep for `max_age_secs` (the JWKS and the discovery document):
/// `Cache-Control: public, max-age=N`, never the token endpoint's `no-store` or `Pragma`
/// (RFC 9111 §5.2.2; see [`AuthServer::metadata_max_age`] for N).
pub(super) fn cacheable_json(
    server: &AuthServer,
    max_age_secs: u64,
    body: &serde_json::Value,
) -> HttpResponse {
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.insert_header((
        header::CACHE_CONTROL,
        format!("public, max-age={max_age_secs}"),
    ));
    request_id(server, &mut builder);
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    builder
        .content_type(HeaderValue::from_static(JSON))
        .body(bytes)
}

pub(super) fn json<T: Serialize>(
    server: &AuthServer,
    status: StatusCode,
    pragma: bool,
    content_type: &'static str,
    body: &T,
) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => builder(server, status, pragma)
            .content_type(HeaderValue::from_static(content_type))
            .body(bytes),
        Err(error) => {
            tracing::error!(%error, "serialising a response failed");
            error_response(
                server,
                &EndpointError {
                    response: ErrorResponse::server_error(
                        "the server could not serialise its response",
                    ),
                    basic_attempted: false,
                },
            )
        }
    }
}

pub(super) const JSON: &str = "application/json";

pub(super) fn error_response(server: &AuthServer, error: &EndpointError) -> HttpResponse {
    let status = StatusCode::from_u16(error.response.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut builder = builder(server, status, true);
    // RFC 6749 §5.2: a 401 after a Basic attempt must carry a WWW-Authenticate challenge.
    if error.basic_attempted && status == StatusCode::UNAUTHORIZED {
        builder.insert_header((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ccflow\""),
        ));
    }
    let body = server.dialect().error_body(&error.response);
    let body =
        serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"server_error\"}".to_vec());
    builder
        .content_type(HeaderValue::from_static(JSON))
        .body(body)
}
