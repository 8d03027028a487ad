//! `AuthorizedClient`: API requests with `Authorization: Bearer` (or `DPoP` and a proof for a
//! DPoP-bound token, RFC 9449 §7), re-authenticated once when the API says the token is invalid
//! (RFC 6750 §3.1), or retried once with the API's DPoP nonce (RFC 9449 §9).

use std::future::Future;

use reqwest::header::HeaderMap;
use reqwest::{IntoUrl, Method, RequestBuilder, Response, StatusCode};

use crate::authorize::{self, Exchange, Failure};
use crate::client::TokenClient;
use crate::error::ApiError;

/// Sends API requests with a bearer token from a [`TokenClient`].
///
/// On a `401` whose `WWW-Authenticate` says `error="invalid_token"`, it invalidates that token
/// (compare-and-swap, so concurrent 401s cause one new token request), gets a new one and sends
/// the request again, once, if its body can be cloned. A streamed body cannot be: then the 401
/// is returned, and the next request gets a new token. Any other answer, including
/// `403 insufficient_scope`, is returned as it is.
///
/// It works with the `reqwest::Client` users already have. With `reqwest-middleware`, the
/// `reqwest-middleware` feature's `TokenMiddleware` does the same in a middleware chain, and
/// with tower clients the `tower` feature's `TokenLayer`: all three run one implementation.
#[derive(Debug, Clone)]
pub struct AuthorizedClient {
    tokens: TokenClient,
    http: reqwest::Client,
}

impl AuthorizedClient {
    /// Uses `tokens` for tokens and a default `reqwest::Client` for the API — one with the
    /// token client's TLS identity and roots when it has them
    /// ([`client_identity_pem`](crate::TokenClientBuilder::client_identity_pem)), so the API
    /// sees the certificate a bound token names (RFC 8705 §3).
    pub fn new(tokens: TokenClient) -> Self {
        let http = tokens.api_http().unwrap_or_default();
        Self { tokens, http }
    }

    /// Uses `http` for API requests.
    pub fn with_http_client(tokens: TokenClient, http: reqwest::Client) -> Self {
        Self { tokens, http }
    }

    /// The token client.
    pub fn token_client(&self) -> &TokenClient {
        &self.tokens
    }

    /// A request builder on the API client; pass it to [`send`](Self::send).
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// `GET url`, to pass to [`send`](Self::send).
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.http.get(url)
    }

    /// `POST url`, to pass to [`send`](Self::send).
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.http.post(url)
    }

    /// `PUT url`, to pass to [`send`](Self::send).
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.http.put(url)
    }

    /// `DELETE url`, to pass to [`send`](Self::send).
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.http.delete(url)
    }

    /// Builds and sends `request` with a bearer token.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ApiError> {
        self.execute(request.build().map_err(ApiError::Http)?).await
    }

    /// Sends `request` with a token (see the type's docs for the one retry).
    pub async fn execute(&self, request: reqwest::Request) -> Result<Response, ApiError> {
        authorize::send(&self.tokens, &mut Plain(&self.http), request)
            .await
            .map_err(|failure| match failure {
                Failure::Token(error) => ApiError::Token(error),
                Failure::Transport(error) => ApiError::Http(error),
            })
    }
}

/// A plain `reqwest::Client` as the HTTP stack of [`authorize::send`].
struct Plain<'a>(&'a reqwest::Client);

impl Exchange for Plain<'_> {
    type Request = reqwest::Request;
    type Response = Response;
    type Error = reqwest::Error;

    fn try_clone(&self, request: &reqwest::Request) -> Option<reqwest::Request> {
        request.try_clone()
    }

    fn method(request: &reqwest::Request) -> &str {
        request.method().as_str()
    }

    fn url(&self, request: &reqwest::Request) -> Option<String> {
        Some(request.url().as_str().to_owned())
    }

    fn headers_mut(request: &mut reqwest::Request) -> &mut HeaderMap {
        request.headers_mut()
    }

    fn send(
        &mut self,
        request: reqwest::Request,
    ) -> impl Future<Output = Result<Response, reqwest::Error>> + Send {
        self.0.execute(request)
    }

    fn status(response: &Response) -> StatusCode {
        response.status()
    }

    fn headers(response: &Response) -> &HeaderMap {
        response.headers()
    }
}
