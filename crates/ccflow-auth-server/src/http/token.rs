//! The token endpoint's route (RFC 6749 §3.2): the request's DPoP headers (RFC 9449), fault
//! reshaping of its success answer, and the server's DPoP nonce on every answer (§8).

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::dpop::DPOP_HEADER;
use ccflow_protocol::mtls::ClientCertificate;

use super::faults::reshape_token;
use super::pipeline::post_endpoint;
use super::respond::json;
use super::site::site_of;
use crate::control::journal::Endpoint;
use crate::domain::auth_server::AuthServer;
use crate::domain::issuance::DpopRequest;

pub(super) async fn token(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let content_type = server.spec().content_type;
    // A header that is not visible ASCII cannot be a JWS: it reaches the proof check as
    // malformed rather than being dropped.
    let proofs: Vec<&str> = request
        .headers()
        .get_all(DPOP_HEADER)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"))
        .collect();
    // The URL a proof must name, built only when there is a proof (most requests have none).
    let site = site_of(&server, &request);
    let url = if proofs.is_empty() {
        String::new()
    } else {
        site.public_url(request.path())
    };
    let dpop = DpopRequest { proofs, url };
    // Mutual TLS (RFC 8705): the certificate of the connection, if it presented one.
    let certificate = request.conn_data::<ClientCertificate>().cloned();
    let mut response = post_endpoint(
        &server,
        &request,
        payload,
        Endpoint::Token,
        |server, content_type, authorization, body| {
            server.token(
                &site,
                content_type,
                authorization,
                body,
                &dpop,
                certificate.as_ref(),
            )
        },
        |response, fault| match fault {
            Some(fault) if fault.reshapes_token() => match serde_json::to_value(&response) {
                Ok(body) => reshape_token(&server, fault, body),
                Err(_) => json(&server, StatusCode::OK, true, content_type, &response),
            },
            _ => json(&server, StatusCode::OK, true, content_type, &response),
        },
    )
    .await;
    if server.inner.dpop.requires_nonce() {
        let nonce = server.inner.dpop.fresh_nonce(server.now_secs());
        if let Ok(value) = HeaderValue::from_str(&nonce) {
            response
                .headers_mut()
                // `ccflow_protocol::dpop::NONCE_HEADER`, lower-cased as header names are stored.
                .insert(HeaderName::from_static("dpop-nonce"), value);
        }
    }
    response
}
