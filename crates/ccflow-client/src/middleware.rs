//! `TokenMiddleware`: the token of a [`TokenClient`] on every request of a
//! `reqwest_middleware::ClientWithMiddleware`, with the one retry of [`AuthorizedClient`]
//! (feature `reqwest-middleware`).
//!
//! [`AuthorizedClient`]: crate::AuthorizedClient

use std::future::Future;

use http::Extensions;
use reqwest::header::HeaderMap;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::authorize::{self, Exchange, Failure};
use crate::client::TokenClient;

/// A `reqwest_middleware::Middleware` that sends each request with a token from a
/// [`TokenClient`], exactly as [`AuthorizedClient`](crate::AuthorizedClient) does:
/// `Authorization: Bearer`, or for a DPoP-bound token `Authorization: DPoP` with a fresh proof
/// (RFC 9449 §7); on a `401` with `error="invalid_token"` the token is invalidated and the
/// request sent once more with a new one, on a DPoP `use_dpop_nonce` once more with the API's
/// nonce.
///
/// The second send goes through the middleware that follow this one, never back through those
/// before it. A request whose body cannot be cloned (a stream) cannot be sent twice: its `401`
/// is returned as it is (the refused token is still dropped, so the next request gets a new
/// one). A token that cannot be had is `reqwest_middleware::Error::Middleware` wrapping the
/// [`TokenError`](crate::TokenError) (`error.downcast_ref::<TokenError>()`).
///
/// Put retrying middleware (e.g. `reqwest-retry`) before it, so that every attempt carries a
/// valid token and a fresh DPoP proof.
#[derive(Debug, Clone)]
pub struct TokenMiddleware {
    tokens: TokenClient,
}

impl TokenMiddleware {
    /// Uses `tokens` for the tokens.
    pub fn new(tokens: TokenClient) -> Self {
        Self { tokens }
    }

    /// The token client.
    pub fn token_client(&self) -> &TokenClient {
        &self.tokens
    }
}

#[async_trait::async_trait]
impl Middleware for TokenMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let mut chain = Chain { next, extensions };
        authorize::send(&self.tokens, &mut chain, request)
            .await
            .map_err(|failure| match failure {
                Failure::Token(error) => reqwest_middleware::Error::middleware(error),
                Failure::Transport(error) => error,
            })
    }
}

/// The rest of the middleware chain as the HTTP stack of [`authorize::send`].
struct Chain<'a, 'e> {
    next: Next<'a>,
    extensions: &'e mut Extensions,
}

impl Exchange for Chain<'_, '_> {
    type Request = Request;
    type Response = Response;
    type Error = reqwest_middleware::Error;

    fn try_clone(&self, request: &Request) -> Option<Request> {
        request.try_clone()
    }

    fn method(request: &Request) -> &str {
        request.method().as_str()
    }

    fn url(&self, request: &Request) -> Option<String> {
        Some(request.url().as_str().to_owned())
    }

    fn headers_mut(request: &mut Request) -> &mut HeaderMap {
        request.headers_mut()
    }

    fn send(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, reqwest_middleware::Error>> + Send {
        self.next.clone().run(request, self.extensions)
    }

    fn status(response: &Response) -> StatusCode {
        response.status()
    }

    fn headers(response: &Response) -> &HeaderMap {
        response.headers()
    }
}
