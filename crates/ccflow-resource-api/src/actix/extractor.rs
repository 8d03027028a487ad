//! The `Authenticated` extractor: a handler argument that holds a validated token's claims,
//! validating the request's credentials itself unless a policy middleware already did; and the
//! translation of an actix request into the framework-free
//! [`RequestCredentials`](crate::RequestCredentials).

use std::future::{Future, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HOST};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use ccflow_protocol::mtls::ClientCertificate;

use crate::actix::challenge::refusal;
use crate::authenticated::Authenticated;
use crate::dpop::TokenBinding;
use crate::error::AuthError;
use crate::request::RequestCredentials;
use crate::token::{self, TokenScheme};
use crate::validator::Validator;

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        if let Some(authenticated) = request.extensions().get::<Authenticated>() {
            let authenticated = authenticated.clone();
            return Box::pin(ready(Ok(authenticated)));
        }
        let request = request.clone();
        Box::pin(async move {
            let Some(validator) = validator_of(&request) else {
                return Err(rejection(None, &request, AuthError::NotConfigured));
            };
            match validator.authenticate(&request).await {
                Ok(authenticated) => {
                    request.extensions_mut().insert(authenticated.clone());
                    Ok(authenticated)
                }
                Err(error) => Err(rejection(Some(&validator), &request, error)),
            }
        })
    }
}

pub(super) fn validator_of(request: &HttpRequest) -> Option<Validator> {
    request.app_data::<Validator>().cloned().or_else(|| {
        request
            .app_data::<web::Data<Validator>>()
            .map(|data| Validator::clone(data))
    })
}

/// Logs a refusal (never the token) and turns it into an actix error whose
/// response is the RFC 6750 answer.
fn rejection(
    validator: Option<&Validator>,
    request: &HttpRequest,
    error: AuthError,
) -> actix_web::Error {
    log_rejection(request, &error);
    let response = refusal(validator, &error, None, scheme_of(request));
    actix_web::error::InternalError::from_response(error, response).into()
}

pub(super) fn log_rejection(request: &HttpRequest, error: &AuthError) {
    match error {
        AuthError::NotConfigured => tracing::error!(
            path = request.path(),
            "a protected route has no ccflow_resource_api::Validator in its app data"
        ),
        AuthError::KeysUnavailable { .. } => tracing::warn!(
            path = request.path(),
            %error,
            "refused a request: no signing keys"
        ),
        _ => tracing::debug!(
            target: "ccflow_resource_api::auth",
            method = %request.method(),
            path = request.path(),
            %error,
            "refused a request"
        ),
    }
}

impl Validator {
    /// Finds and validates the request's token as the validator's
    /// [`token_binding`](Validator::token_binding) allows (header only; an `access_token` in
    /// the query is refused). This is what the extractor does; the middlewares also check
    /// form bodies.
    pub async fn authenticate(&self, request: &HttpRequest) -> Result<Authenticated, AuthError> {
        self.authenticate_with(request, self.token_binding()).await
    }

    /// [`authenticate`](Self::authenticate) for a route that accepts tokens as `binding` says.
    pub async fn authenticate_with(
        &self,
        request: &HttpRequest,
        binding: TokenBinding,
    ) -> Result<Authenticated, AuthError> {
        let headers = request.headers();
        let authorization: Vec<&[u8]> = headers
            .get_all(AUTHORIZATION)
            .map(|value| value.as_bytes())
            .collect();
        let dpop: Vec<&[u8]> = headers
            .get_all(ccflow_protocol::dpop::DPOP_HEADER)
            .map(|value| value.as_bytes())
            .collect();
        // Only built when a proof needs it.
        let url = if dpop.is_empty() {
            String::new()
        } else {
            request_url(request)
        };
        // The TLS connection's certificate, which the server's `on_connect` stored; else one an
        // app's own middleware put in the request's extensions.
        let from_extensions = request.extensions().get::<ClientCertificate>().cloned();
        let client_certificate = request
            .conn_data::<ClientCertificate>()
            .or(from_extensions.as_ref());
        let forwarded: Vec<&[u8]> = match self.forwarded_certificate_header() {
            Some(name) => headers
                .get_all(name)
                .map(|value| value.as_bytes())
                .collect(),
            None => Vec::new(),
        };
        let credentials = RequestCredentials {
            method: request.method().as_str(),
            url: if url.is_empty() {
                request
                    .uri()
                    .path_and_query()
                    .map_or("/", |path| path.as_str())
            } else {
                &url
            },
            authorization: &authorization,
            dpop: &dpop,
            client_certificate,
            // The TCP peer, never `Forwarded`/`X-Forwarded-For` (a client can write those).
            peer: request.peer_addr().map(|peer| peer.ip()),
            forwarded_client_certificate: &forwarded,
        };
        self.authenticate_credentials(&credentials, binding).await
    }
}

/// The request's URL as this API sees it: `http`, or `https` on a TLS listener; the `Host`
/// header (else the URI's authority, else the server's configured host); the path and query.
/// `Forwarded` and `X-Forwarded-*` are not read: behind a proxy, configure the public URL.
fn request_url(request: &HttpRequest) -> String {
    let scheme = if request.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = request
        .headers()
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
        .unwrap_or_else(|| request.app_config().host());
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    format!("{scheme}://{host}{path}")
}

/// The scheme the request's `Authorization` uses, for the refusal's challenge.
pub(super) fn scheme_of(request: &HttpRequest) -> Option<TokenScheme> {
    let authorization: Vec<&[u8]> = request
        .headers()
        .get_all(AUTHORIZATION)
        .map(|value| value.as_bytes())
        .collect();
    token::scheme_of(&authorization)
}
