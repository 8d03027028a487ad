//! Client SDK for the OAuth 2.0 Client Credentials grant: gets, caches and refreshes tokens,
//! one request for many concurrent callers, retries, typed errors. The guide below is
//! `docs/client.md`; its examples run as doctests.
#![doc = include_str!("../../../docs/client.md")]
#![warn(missing_docs)]

mod auth;
mod authorize;
mod authorized;
mod cache;
mod client;
mod discovery;
mod dpop;
mod error;
#[cfg(feature = "reqwest-middleware")]
mod middleware;
mod retry;
mod token;
#[cfg(feature = "tower")]
mod tower;

pub use auth::{AuthMethod, PrivateKey};
pub use authorized::AuthorizedClient;
pub use cache::{DEFAULT_CACHE_CAPACITY, TokenCache};
pub use client::{
    DEFAULT_LIFETIME, DEFAULT_REQUEST_TIMEOUT, MAX_DEFAULT_SKEW, TokenClient, TokenClientBuilder,
    TokenExchange,
};
pub use error::{ApiError, TokenError};
#[cfg(feature = "reqwest-middleware")]
pub use middleware::TokenMiddleware;
pub use retry::{RetryPolicy, Sleeper, TokioSleeper};
pub use token::AccessToken;
#[cfg(feature = "tower")]
pub use tower::{BoxError, TokenLayer, TokenService};

/// Re-exported so users need no direct dependency for profiles, clocks and wire types.
pub use ccflow_protocol as protocol;
pub use ccflow_protocol::{Clock, ManualClock, Profile, SystemClock};
/// The JWS algorithms for [`AuthMethod::PrivateKeyJwt`].
pub use jsonwebtoken::Algorithm;

/// Selects jsonwebtoken's aws-lc-rs backend, ccflow's provider with parsed keys cached
/// (idempotent; an existing choice is kept).
fn install_crypto_provider() {
    ccflow_protocol::jwt::install_provider();
}

/// The SDK snippets of `docs/profiles.md`, run as doctests against the fixture configs.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/profiles.md")]
mod profiles_guide {}

/// The complete test of `docs/embedding.md`, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/embedding.md")]
mod embedding_guide {}

/// The SDK snippet of `docs/dpop.md`, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/dpop.md")]
mod dpop_guide {}

/// The Rust example of the README, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}
