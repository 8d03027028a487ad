//! `AuthorizedClient`: API requests with `Authorization: Bearer`, re-authenticated once when
//! the API says the token is invalid (RFC 6750 §3.1).

use ccflow_protocol::{BearerChallenge, ErrorCode};
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{IntoUrl, Method, RequestBuilder, Response, StatusCode};

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
/// Why not a `reqwest-middleware` layer: that crate brings its own `Client` and request types,
/// and a retry needs a clonable request, which plain `reqwest::Request::try_clone` gives us
/// directly; this type works with the `reqwest::Client` users already have.
#[derive(Debug, Clone)]
pub struct AuthorizedClient {
    tokens: TokenClient,
    http: reqwest::Client,
}

impl AuthorizedClient {
    /// Uses `tokens` for tokens and a default `reqwest::Client` for the API.
    pub fn new(tokens: TokenClient) -> Self {
        Self {
            tokens,
            http: reqwest::Client::new(),
        }
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

    /// Sends `request` with a bearer token (see the type's docs for the one retry).
    pub async fn execute(&self, mut request: reqwest::Request) -> Result<Response, ApiError> {
        let token = self.tokens.token().await?;
        let retry = request.try_clone();
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        let response = self.http.execute(request).await.map_err(ApiError::Http)?;
        if response.status() != StatusCode::UNAUTHORIZED || !says_invalid_token(&response) {
            return Ok(response);
        }
        // The API refused this token: whatever happens to this request, the next one must not
        // be sent with it.
        self.tokens.invalidate(&token);
        let Some(mut retry) = retry else {
            tracing::debug!(
                "401 invalid_token, but the request body cannot be cloned: not retrying"
            );
            return Ok(response);
        };
        let fresh = self.tokens.token().await?;
        retry
            .headers_mut()
            .insert(AUTHORIZATION, fresh.authorization_header().clone());
        self.http.execute(retry).await.map_err(ApiError::Http)
    }
}

fn says_invalid_token(response: &Response) -> bool {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(BearerChallenge::parse)
        .any(|challenge| challenge.error == Some(ErrorCode::InvalidToken))
}
