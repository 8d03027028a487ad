//! `AuthorizedClient`: API requests with `Authorization: Bearer` (or `DPoP` and a proof for a
//! DPoP-bound token, RFC 9449 §7), re-authenticated once when the API says the token is invalid
//! (RFC 6750 §3.1), or retried once with the API's DPoP nonce (RFC 9449 §9).

use ccflow_protocol::dpop::{DPOP_HEADER, NONCE_HEADER};
use ccflow_protocol::{BearerChallenge, ErrorCode};
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{IntoUrl, Method, RequestBuilder, Response, StatusCode};

use crate::client::TokenClient;
use crate::error::{ApiError, TokenError};
use crate::token::AccessToken;

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

    /// Sends `request` with a token (see the type's docs for the one retry).
    pub async fn execute(&self, mut request: reqwest::Request) -> Result<Response, ApiError> {
        let token = self.tokens.token().await?;
        let retry = request.try_clone();
        self.authorize(&mut request, &token)?;
        let url = request.url().clone();
        let response = self.http.execute(request).await.map_err(ApiError::Http)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let asks_nonce = token.is_dpop_bound() && self.remember_nonce(&response, url.as_str());
        if !asks_nonce && !challenge_says(&response, &ErrorCode::InvalidToken) {
            return Ok(response);
        }
        let fresh = if asks_nonce {
            // The same token again, with a proof carrying the API's nonce.
            token
        } else {
            // The API refused this token: whatever happens to this request, the next one must
            // not be sent with it.
            self.tokens.invalidate(&token);
            let Some(_) = &retry else {
                tracing::debug!(
                    "401 invalid_token, but the request body cannot be cloned: not retrying"
                );
                return Ok(response);
            };
            self.tokens.token().await?
        };
        let Some(mut retry) = retry else {
            tracing::debug!(
                "401 use_dpop_nonce, but the request body cannot be cloned: not retrying"
            );
            return Ok(response);
        };
        self.authorize(&mut retry, &fresh)?;
        self.http.execute(retry).await.map_err(ApiError::Http)
    }

    /// Puts the token on the request: `Authorization`, and for a DPoP-bound token a fresh proof
    /// for this method and URL with the token's hash (`ath`) and the API's last nonce.
    fn authorize(
        &self,
        request: &mut reqwest::Request,
        token: &AccessToken,
    ) -> Result<(), ApiError> {
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        if !token.is_dpop_bound() {
            return Ok(());
        }
        let dpop = self.tokens.dpop().ok_or_else(|| {
            ApiError::Token(TokenError::Config(
                "a DPoP-bound token needs the client's DPoP key".to_owned(),
            ))
        })?;
        let url = request.url().as_str().to_owned();
        let now = self.tokens.now();
        let proof = dpop
            .key
            .proof(
                request.method().as_str(),
                &url,
                u64::try_from(ccflow_protocol::unix_seconds(now)).unwrap_or_default(),
                dpop.nonce_for(&url).as_deref(),
                Some(token.secret()),
            )
            .map_err(|error| {
                ApiError::Token(TokenError::Config(format!(
                    "cannot sign a DPoP proof: {error}"
                )))
            })?;
        let value = HeaderValue::from_str(&proof).map_err(|_| {
            ApiError::Token(TokenError::Config(
                "the DPoP proof is not a header value".to_owned(),
            ))
        })?;
        request.headers_mut().insert(DPOP_HEADER, value);
        Ok(())
    }

    /// Remembers the API's `DPoP-Nonce`; whether the answer asked for it (a DPoP challenge with
    /// `use_dpop_nonce`, RFC 9449 §9).
    fn remember_nonce(&self, response: &Response, url: &str) -> bool {
        let (Some(dpop), Some(nonce)) = (
            self.tokens.dpop(),
            response
                .headers()
                .get(NONCE_HEADER)
                .and_then(|value| value.to_str().ok()),
        ) else {
            return false;
        };
        dpop.remember(url, nonce);
        challenge_says(response, &ErrorCode::UseDpopNonce)
    }
}

/// Whether a Bearer or DPoP challenge of the answer carries `error`.
fn challenge_says(response: &Response, error: &ErrorCode) -> bool {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| {
            [
                BearerChallenge::parse(value),
                BearerChallenge::parse_scheme(value, "DPoP"),
            ]
        })
        .flatten()
        .any(|challenge| challenge.error.as_ref() == Some(error))
}
