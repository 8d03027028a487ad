//! axum 0.8 / tower integration, translation only: [`ValidatorLayer`] (authenticates every
//! request, the [`Authenticated`] result in the request's extensions), the policies
//! (`RequireScope`, `RequireAudience`, `RequireToken`, a route's [`TokenBinding`]) as tower
//! layers, `Authenticated` as an axum extractor, an `http` request read as
//! [`RequestCredentials`], and a [`Refusal`] written as an axum response. The actix adapter
//! answers from the same `Refusal`, so both answer byte for byte alike.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use ccflow_protocol::mtls::ClientCertificate;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use crate::authenticated::Authenticated;
use crate::dpop::TokenBinding;
use crate::error::{AuthError, RequestRejection};
use crate::form::{self, MAX_FORM_BODY_BYTES};
use crate::policy::{Policy, RequireAudience, RequireScope, RequireToken};
use crate::refusal::{Refusal, refusal_for};
use crate::request::RequestCredentials;
use crate::token::{self, TokenScheme};
use crate::validator::Validator;

/// Layer: authenticates every request with its validator (any valid token, accepted as the
/// validator's [`token_binding`](crate::ValidatorBuilder::token_binding) says, or as
/// [`token_binding`](Self::token_binding) sets for the routes it wraps), refuses an
/// `access_token` in a form body, and puts the [`Authenticated`] result and the [`Validator`]
/// in the request's extensions: handlers take `Authenticated` as an extractor, and the policy
/// layers inside it (`RequireScope`, `RequireAudience`, `RequireToken`, a [`TokenBinding`])
/// reuse the result. Refusals are the RFC 6750 / RFC 9449 answers of the actix adapter.
///
/// ```
/// use axum::{Router, routing::get};
/// use ccflow_resource_api::{Authenticated, RequireScope, Validator, ValidatorLayer};
///
/// async fn whoami(auth: Authenticated) -> String {
///     auth.client_id().unwrap_or("unknown").to_owned()
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let validator = Validator::builder()
///     .issuer("https://issuer.example")
///     .audience("orders-api")
///     .build()?;
/// let app: Router = Router::new()
///     .route("/orders", get(|| async { "[]" }).route_layer(RequireScope::all(["orders.read"])))
///     .route("/whoami", get(whoami))
///     .layer(ValidatorLayer::new(validator));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ValidatorLayer {
    validator: Validator,
    policy: Arc<Policy>,
}

impl ValidatorLayer {
    /// Authenticates every request with `validator`.
    pub fn new(validator: Validator) -> Self {
        Self {
            validator,
            policy: Arc::new(Policy::Token),
        }
    }

    /// The wrapped routes accept tokens as `binding` says, whatever the validator's
    /// [`token_binding`](crate::ValidatorBuilder::token_binding): `TokenBinding::Dpop` makes them
    /// DPoP-only.
    #[must_use]
    pub fn token_binding(mut self, binding: TokenBinding) -> Self {
        self.policy = binding.policy();
        self
    }
}

impl<S> Layer<S> for ValidatorLayer {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            policy: Arc::clone(&self.policy),
            validator: Some(self.validator.clone()),
        }
    }
}

/// The policies as layers (axum's `route_layer`, or `layer` on a router of protected routes):
/// each reuses the result of a [`ValidatorLayer`] around it (or authenticates with the
/// `Validator` in the request's extensions), then checks its policy.
macro_rules! policy_layer {
    ($policy:ty) => {
        impl<S> Layer<S> for $policy {
            type Service = PolicyService<S>;

            fn layer(&self, inner: S) -> Self::Service {
                PolicyService {
                    inner,
                    policy: self.policy(),
                    validator: None,
                }
            }
        }
    };
}

policy_layer!(RequireScope);
policy_layer!(RequireAudience);
policy_layer!(RequireToken);
policy_layer!(TokenBinding);

/// The service [`ValidatorLayer`] and the policy layers wrap a route in.
#[derive(Debug, Clone)]
pub struct PolicyService<S> {
    inner: S,
    policy: Arc<Policy>,
    /// The layer's own validator ([`ValidatorLayer`]); the policy layers find theirs in the
    /// request's extensions.
    validator: Option<Validator>,
}

impl<S> Service<Request<Body>> for PolicyService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone is not the service that was polled ready: call that one (tower's rule).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let policy = Arc::clone(&self.policy);
        let own = self.validator.clone();
        Box::pin(async move {
            if let Some(validator) = &own {
                request.extensions_mut().insert(validator.clone());
            }
            let validator = own.or_else(|| request.extensions().get::<Validator>().cloned());
            let outcome = match &validator {
                Some(validator) => authorize(validator, &mut request, &policy).await,
                None => Err(AuthError::NotConfigured),
            };
            match outcome {
                Ok(authenticated) => {
                    request.extensions_mut().insert(authenticated);
                    inner.call(request).await
                }
                Err(error) => {
                    let (parts, _) = request.into_parts();
                    log_rejection(&parts, &error);
                    let binding = match &*policy {
                        Policy::Binding(binding) => Some(*binding),
                        _ => None,
                    };
                    let refusal =
                        refusal_for(validator.as_ref(), &error, binding, scheme_of(&parts));
                    Ok(refusal.into_response())
                }
            }
        })
    }
}

/// Authenticates once per request (an outer layer's result is reused), checks the form-body
/// transport, then the policy: the actix middlewares' order.
async fn authorize(
    validator: &Validator,
    request: &mut Request<Body>,
    policy: &Policy,
) -> Result<Authenticated, AuthError> {
    let known = request.extensions().get::<Authenticated>().cloned();
    crate::authenticated::authorize(policy, known, validator.token_binding(), async |binding| {
        check_form_body(request).await?;
        let (parts, body) = std::mem::take(request).into_parts();
        let outcome = authenticate_parts(validator, &parts, binding).await;
        *request = Request::from_parts(parts, body);
        outcome
    })
    .await
}

/// A form body is read (up to [`MAX_FORM_BODY_BYTES`]) and put back for the handler; a token
/// in it is refused (RFC 6750 §2.2 is not supported, §2 allows one transport).
async fn check_form_body(request: &mut Request<Body>) -> Result<(), AuthError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .map(HeaderValue::as_bytes);
    if !form::is_form(content_type) {
        return Ok(());
    }
    let body = std::mem::replace(request.body_mut(), Body::empty());
    let body = match Limited::new(body, MAX_FORM_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => return Err(form::too_large().into()),
        // Never hand the handler a silently truncated body.
        Err(_) => return Err(RequestRejection::UnreadableBody.into()),
    };
    let verdict = form::check_body(&body, request.headers().contains_key(AUTHORIZATION));
    *request.body_mut() = Body::from(body);
    Ok(verdict?)
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
{
    type Rejection = Response;

    /// The result of a [`ValidatorLayer`] (or policy layer) around the route; else the request
    /// is authenticated here, with the `Validator` in its extensions, as the validator's
    /// binding says (header only; no form body: reading it would take it from the handler).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(authenticated) = parts.extensions.get::<Authenticated>() {
            return Ok(authenticated.clone());
        }
        let validator = parts.extensions.get::<Validator>().cloned();
        let outcome = match &validator {
            Some(validator) => {
                authenticate_parts(validator, parts, validator.token_binding()).await
            }
            None => Err(AuthError::NotConfigured),
        };
        match outcome {
            Ok(authenticated) => {
                parts.extensions.insert(authenticated.clone());
                Ok(authenticated)
            }
            Err(error) => {
                log_rejection(parts, &error);
                Err(refusal_for(validator.as_ref(), &error, None, scheme_of(parts)).into_response())
            }
        }
    }
}

/// The request's credentials, as the actix adapter reads them: every `Authorization` and `DPoP`
/// value, the method, and the URL (the path and query, or the whole URL when a proof needs it).
async fn authenticate_parts(
    validator: &Validator,
    parts: &Parts,
    binding: TokenBinding,
) -> Result<Authenticated, AuthError> {
    let authorization: Vec<&[u8]> = parts
        .headers
        .get_all(AUTHORIZATION)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let dpop: Vec<&[u8]> = parts
        .headers
        .get_all(ccflow_protocol::dpop::DPOP_HEADER)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    // Only built when a proof needs it.
    let url = if dpop.is_empty() {
        None
    } else {
        request_url(parts, path)
    };
    let forwarded: Vec<&[u8]> = match validator.forwarded_certificate_header() {
        Some(name) => parts
            .headers
            .get_all(name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect(),
        None => Vec::new(),
    };
    let credentials = RequestCredentials {
        method: parts.method.as_str(),
        url: url.as_deref().unwrap_or(path),
        authorization: &authorization,
        dpop: &dpop,
        // What the app's TLS acceptor put in the request's extensions (axum has no TLS of its
        // own; docs/resource-api.md "Mutual TLS").
        client_certificate: parts.extensions.get::<ClientCertificate>(),
        // The TCP peer, as actix's `peer_addr`: axum's `ConnectInfo<SocketAddr>`, which
        // `into_make_service_with_connect_info::<SocketAddr>()` puts in every request. Never
        // `Forwarded`/`X-Forwarded-For` (a client can write those). Without it no peer is a
        // trusted proxy, and the forwarded certificate header is not read.
        peer: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip()),
        forwarded_client_certificate: &forwarded,
    };
    validator
        .authenticate_credentials(&credentials, binding)
        .await
}

/// The request's URL as this API sees it, by the actix adapter's rules: the URI's scheme (an
/// HTTP/2 request has one), else `http`; the `Host` header, else the URI's authority; the path
/// and query. `Forwarded` and `X-Forwarded-*` are not read: behind a proxy, or behind TLS that
/// axum does not see, configure the [public URL](crate::ValidatorBuilder::public_url). Without
/// any host, the path alone: only a public URL can then make a proof's `htu` match.
fn request_url(parts: &Parts, path: &str) -> Option<String> {
    let host = parts
        .headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| parts.uri.authority().map(|authority| authority.as_str()))?;
    let scheme = parts.uri.scheme_str().unwrap_or("http");
    Some(format!("{scheme}://{host}{path}"))
}

/// The scheme the request's `Authorization` uses, for the refusal's challenge.
fn scheme_of(parts: &Parts) -> Option<TokenScheme> {
    let authorization: Vec<&[u8]> = parts
        .headers
        .get_all(AUTHORIZATION)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    token::scheme_of(&authorization)
}

/// Logs a refusal as the actix adapter does (never the token).
fn log_rejection(parts: &Parts, error: &AuthError) {
    let path = parts.uri.path();
    match error {
        AuthError::NotConfigured => tracing::error!(
            path,
            "a protected route has no ccflow_resource_api::ValidatorLayer around it"
        ),
        AuthError::KeysUnavailable { .. } => {
            tracing::warn!(path, %error, "refused a request: no signing keys");
        }
        _ => tracing::debug!(
            target: "ccflow_resource_api::auth",
            method = %parts.method,
            path,
            %error,
            "refused a request"
        ),
    }
}

/// The refusal as an axum response: its status, its headers in order, and its JSON body with
/// `Content-Type: application/json`, as actix's `HttpResponse::json` writes it.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_every_header_in_order_and_answers_json() {
        let refusal = Refusal {
            status: 401,
            headers: vec![
                ("www-authenticate", r#"Bearer realm="api""#.to_owned()),
                (
                    "www-authenticate",
                    r#"DPoP realm="api", algs="ES256""#.to_owned(),
                ),
                ("cache-control", "no-store".to_owned()),
            ],
            body: serde_json::json!({"error_description": "no token"}),
        };
        let response = refusal.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenges: Vec<&str> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect();
        assert_eq!(
            challenges,
            [r#"Bearer realm="api""#, r#"DPoP realm="api", algs="ES256""#]
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["content-type"], "application/json");
    }

    #[tokio::test]
    async fn without_a_validator_the_extractor_and_the_policies_answer_500() {
        let (mut parts, ()) = Request::get("/x")
            .header(AUTHORIZATION, "Bearer a.b.c")
            .body(())
            .unwrap()
            .into_parts();
        let rejection = Authenticated::from_request_parts(&mut parts, &())
            .await
            .unwrap_err();
        assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);

        let inner = tower::service_fn(|_request: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        });
        let mut service = RequireToken.layer(inner);
        let request = Request::get("/x")
            .header(AUTHORIZATION, "Bearer a.b.c")
            .body(Body::empty())
            .unwrap();
        let response = service.call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!response.headers().contains_key("www-authenticate"));
    }
}
