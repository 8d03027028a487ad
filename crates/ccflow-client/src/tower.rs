//! `TokenLayer` and `TokenService`: the token of a [`TokenClient`] on every request of a
//! tower-based HTTP client (hyper-util's client, tonic channels), feature `tower`.

use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::HeaderMap;
use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::authorize::{self, Exchange, Failure};
use crate::client::TokenClient;

/// The error type of [`TokenService`]: the inner service's error, or a
/// [`TokenError`](crate::TokenError) when no token could be had (`downcast_ref::<TokenError>()`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A `tower::Layer` that wraps a service in a [`TokenService`] (`docs/client.md` has a tonic
/// example).
#[derive(Debug, Clone)]
pub struct TokenLayer {
    tokens: TokenClient,
}

impl TokenLayer {
    /// Uses `tokens` for the tokens.
    pub fn new(tokens: TokenClient) -> Self {
        Self { tokens }
    }
}

impl<S> Layer<S> for TokenLayer {
    type Service = TokenService<S>;

    fn layer(&self, inner: S) -> TokenService<S> {
        TokenService {
            tokens: self.tokens.clone(),
            inner,
        }
    }
}

/// A `tower::Service` for `http::Request`s that sends each one with a token from a
/// [`TokenClient`]: `authorization: Bearer …` (for gRPC, the call's `authorization` metadata),
/// or for a DPoP-bound token `authorization: DPoP …` with a fresh proof (RFC 9449 §7) when the
/// request's URI is absolute, as hyper-util's client sends it. A bound token is never sent as
/// Bearer: without an absolute URI (a tonic channel sees `/package.Service/Method`) the request
/// fails with [`TokenError::Config`](crate::TokenError::Config).
///
/// A request is sent once: a tower body cannot be copied in general, so a `401` with
/// `error="invalid_token"` is returned as it is, and the refused token is invalidated (the next
/// request gets a new one); a DPoP `use_dpop_nonce` answer's nonce is remembered for the next
/// request. This is the decision of [`AuthorizedClient`](crate::AuthorizedClient) for a body
/// that cannot be cloned. A gRPC refusal, `grpc-status: 16` (`UNAUTHENTICATED`) in the
/// headers of the answer (a call refused before any message, as a server's auth check does),
/// drops the token the same way; a status that comes only in the trailers, after messages, is
/// not seen.
#[derive(Clone)]
pub struct TokenService<S> {
    tokens: TokenClient,
    inner: S,
}

impl<S> fmt::Debug for TokenService<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenService")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl<S> TokenService<S> {
    /// Wraps `inner`.
    pub fn new(tokens: TokenClient, inner: S) -> Self {
        Self { tokens, inner }
    }

    /// The token client.
    pub fn token_client(&self) -> &TokenClient {
        &self.tokens
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for TokenService<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    RequestBody: Send + 'static,
    ResponseBody: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        // The instance that was polled ready goes with the request; this one keeps a clone
        // (tower's documented pattern for services used across an await).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let tokens = self.tokens.clone();
        Box::pin(async move {
            authorize::send(&tokens, &mut Inner(inner, PhantomData), request)
                .await
                .map_err(|failure| match failure {
                    Failure::Token(error) => BoxError::from(error),
                    Failure::Transport(error) => error,
                })
        })
    }
}

/// The wrapped service as the HTTP stack of [`authorize::send`], for one request body type.
struct Inner<S, RequestBody>(S, PhantomData<fn(RequestBody)>);

impl<S, RequestBody, ResponseBody> Exchange for Inner<S, RequestBody>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>> + Send,
    S::Future: Send,
    S::Error: Into<BoxError>,
    RequestBody: Send,
    ResponseBody: Send,
{
    type Request = Request<RequestBody>;
    type Response = Response<ResponseBody>;
    type Error = BoxError;

    const GRPC: bool = true;

    fn try_clone(&self, _: &Request<RequestBody>) -> Option<Request<RequestBody>> {
        None
    }

    fn method(request: &Request<RequestBody>) -> &str {
        request.method().as_str()
    }

    fn url(&self, request: &Request<RequestBody>) -> Option<String> {
        let uri = request.uri();
        (uri.scheme().is_some() && uri.authority().is_some()).then(|| uri.to_string())
    }

    fn headers_mut(request: &mut Request<RequestBody>) -> &mut HeaderMap {
        request.headers_mut()
    }

    async fn send(
        &mut self,
        request: Request<RequestBody>,
    ) -> Result<Response<ResponseBody>, BoxError> {
        poll_fn(|context| self.0.poll_ready(context))
            .await
            .map_err(Into::into)?;
        self.0.call(request).await.map_err(Into::into)
    }

    fn status(response: &Response<ResponseBody>) -> StatusCode {
        response.status()
    }

    fn headers(response: &Response<ResponseBody>) -> &HeaderMap {
        response.headers()
    }
}
