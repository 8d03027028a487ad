//! The one implementation of an API request that carries a token from a [`TokenClient`]: which
//! `Authorization` (and `DPoP`) header it gets, and when it is sent a second time.
//! [`AuthorizedClient`](crate::AuthorizedClient), the `reqwest-middleware` middleware and the
//! tower service only translate their request and response types to [`Exchange`].

use std::future::Future;

use ccflow_protocol::dpop::{DPOP_HEADER, NONCE_HEADER};
use ccflow_protocol::{BearerChallenge, ErrorCode};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, WWW_AUTHENTICATE};

use crate::client::TokenClient;
use crate::error::TokenError;
use crate::token::AccessToken;

/// How one HTTP stack sends a request and shows its answer.
pub(crate) trait Exchange {
    /// The request, headers still to be set.
    type Request: Send;
    /// The answer.
    type Response: Send;
    /// Why the request got no answer.
    type Error: Send;

    /// Whether answers may be gRPC's, whose refusal of a token is `grpc-status: 16`
    /// (`UNAUTHENTICATED`) in the headers of an HTTP 200, not a `401` challenge.
    const GRPC: bool = false;

    /// A second copy of the request for the one retry, if its body can be copied.
    fn try_clone(&self, request: &Self::Request) -> Option<Self::Request>;

    /// The request's method (`htm` of a DPoP proof).
    fn method(request: &Self::Request) -> &str;

    /// The request's absolute URL (`htu` of a DPoP proof, the origin of its nonce), when known.
    fn url(&self, request: &Self::Request) -> Option<String>;

    /// The request's headers, to set `Authorization` and `DPoP` in.
    fn headers_mut(request: &mut Self::Request) -> &mut HeaderMap;

    /// Sends the request.
    fn send(
        &mut self,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Response, Self::Error>> + Send;

    /// The answer's status.
    fn status(response: &Self::Response) -> StatusCode;

    /// The answer's headers.
    fn headers(response: &Self::Response) -> &HeaderMap;
}

/// Why an authorized request could not complete.
#[derive(Debug)]
pub(crate) enum Failure<E> {
    /// No token, or no proof for it.
    Token(TokenError),
    /// The HTTP stack's own error.
    Transport(E),
}

/// Sends `request` with a token from `tokens`.
///
/// On a `401` whose challenge says `error="invalid_token"` (RFC 6750 §3.1), the token is
/// invalidated (compare-and-swap: concurrent 401s cause one new token request) and the request
/// is sent once more with a new token, if it can be copied; otherwise the 401 is the answer
/// and the next request gets a new token. On a DPoP `401 use_dpop_nonce` (RFC 9449 §9) the
/// API's nonce is remembered and the request is sent once more with the same token and a
/// proof carrying it. Any other answer, `403 insufficient_scope` included, is returned as it is.
pub(crate) async fn send<X: Exchange>(
    tokens: &TokenClient,
    exchange: &mut X,
    mut request: X::Request,
) -> Result<X::Response, Failure<X::Error>> {
    let token = tokens.token().await.map_err(Failure::Token)?;
    let retry = exchange.try_clone(&request);
    let url = exchange.url(&request);
    authorize::<X>(tokens, &mut request, url.as_deref(), &token).map_err(Failure::Token)?;
    let response = exchange.send(request).await.map_err(Failure::Transport)?;
    if X::status(&response) != StatusCode::UNAUTHORIZED {
        if X::GRPC && grpc_unauthenticated(X::headers(&response)) {
            // A gRPC call cannot be sent again (its body is a stream): drop the refused token
            // so that the next call gets a new one, as for a 401 invalid_token.
            tokens.invalidate(&token);
        }
        return Ok(response);
    }
    let headers = X::headers(&response);
    let asks_nonce = token.is_dpop_bound()
        && url
            .as_deref()
            .is_some_and(|url| remember_nonce(tokens, headers, url));
    if !asks_nonce && !challenge_says(headers, &ErrorCode::InvalidToken) {
        return Ok(response);
    }
    let fresh = if asks_nonce {
        // The same token again, with a proof carrying the API's nonce.
        token
    } else {
        // The API refused this token: whatever happens to this request, the next one must not
        // be sent with it.
        tokens.invalidate(&token);
        if retry.is_none() {
            tracing::debug!(
                "401 invalid_token, but the request body cannot be cloned: not retrying"
            );
            return Ok(response);
        }
        tokens.token().await.map_err(Failure::Token)?
    };
    let Some(mut retry) = retry else {
        tracing::debug!("401 use_dpop_nonce, but the request body cannot be cloned: not retrying");
        return Ok(response);
    };
    authorize::<X>(tokens, &mut retry, url.as_deref(), &fresh).map_err(Failure::Token)?;
    exchange.send(retry).await.map_err(Failure::Transport)
}

/// Puts the token on the request: `Authorization`, and for a DPoP-bound token a fresh proof
/// for this method and URL with the token's hash (`ath`) and the API's last nonce. A bound token
/// is never sent without its proof (RFC 9449 §7.2): no key or no URL is an error.
fn authorize<X: Exchange>(
    tokens: &TokenClient,
    request: &mut X::Request,
    url: Option<&str>,
    token: &AccessToken,
) -> Result<(), TokenError> {
    if !token.is_dpop_bound() {
        X::headers_mut(request).insert(AUTHORIZATION, token.authorization_header().clone());
        return Ok(());
    }
    let dpop = tokens.dpop().ok_or_else(|| {
        TokenError::Config("a DPoP-bound token needs the client's DPoP key".to_owned())
    })?;
    let url = url.ok_or_else(|| {
        TokenError::Config(
            "a DPoP-bound token needs the request's absolute URL for its proof (htu)".to_owned(),
        )
    })?;
    let now = tokens.now();
    let proof = dpop
        .key
        .proof(
            X::method(request),
            url,
            u64::try_from(ccflow_protocol::unix_seconds(now)).unwrap_or_default(),
            dpop.nonce_for(url).as_deref(),
            Some(token.secret()),
        )
        .map_err(|error| TokenError::Config(format!("cannot sign a DPoP proof: {error}")))?;
    let value = HeaderValue::from_str(&proof)
        .map_err(|_| TokenError::Config("the DPoP proof is not a header value".to_owned()))?;
    let headers = X::headers_mut(request);
    headers.insert(AUTHORIZATION, token.authorization_header().clone());
    headers.insert(DPOP_HEADER, value);
    Ok(())
}

/// Remembers the API's `DPoP-Nonce`; whether the answer asked for it (a DPoP challenge with
/// `use_dpop_nonce`, RFC 9449 §9).
fn remember_nonce(tokens: &TokenClient, headers: &HeaderMap, url: &str) -> bool {
    let (Some(dpop), Some(nonce)) = (
        tokens.dpop(),
        headers
            .get(NONCE_HEADER)
            .and_then(|value| value.to_str().ok()),
    ) else {
        return false;
    };
    dpop.remember(url, nonce);
    challenge_says(headers, &ErrorCode::UseDpopNonce)
}

/// Whether a Bearer or DPoP challenge of the answer carries `error`.
fn challenge_says(headers: &HeaderMap, error: &ErrorCode) -> bool {
    headers
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

/// Whether a gRPC answer is a "Trailers-Only" `UNAUTHENTICATED` (gRPC over HTTP/2: the status
/// comes in the headers when there is no message; code 16 in `grpc/status.h`).
fn grpc_unauthenticated(headers: &HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .is_some_and(|value| value.as_bytes() == b"16")
}
