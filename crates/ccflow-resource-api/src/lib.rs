//! Bearer-token validator for actix-web (RFC 6750, RFC 9068 JWT access tokens) with a
//! rotation-safe JWKS cache, and the sample protected API behind the `ccflow-resource-api`
//! binary. The guide below is `docs/resource-api.md`; its examples run as doctests.
#![doc = include_str!("../../../docs/resource-api.md")]
#![warn(missing_docs)]

mod actix;
mod authenticated;
mod claims;
mod dpop;
mod error;
mod jwks;
mod policy;
mod refusal;
mod request;
pub mod sample_api;
mod token;
mod validator;

pub use actix::{
    Authenticated, MAX_FORM_BODY_BYTES, PolicyMiddleware, RequireAudience, RequireScope,
    RequireToken,
};
pub use claims::Claims;
pub use dpop::{DEFAULT_DPOP_NONCE_LIFETIME, MAX_DPOP_REPLAY_ENTRIES, TokenBinding};
pub use error::{
    AuthError, BuildError, DpopRejection, JwksError, RequestRejection, TokenRejection,
};
pub use jwks::{JwksStatus, MAX_JWKS_BYTES, MAX_KEYS, MAX_KIDLESS_CANDIDATES};
pub use refusal::Refusal;
pub use request::RequestCredentials;
pub use token::{MAX_AUTHORIZATION_BYTES, MAX_KID_BYTES, TokenScheme};
pub use validator::{DEFAULT_LEEWAY, DEFAULT_REALM, Validator, ValidatorBuilder};

/// Re-exported so users need no direct dependency to name algorithms, clocks and wire types.
pub use ccflow_protocol::{Clock, ManualClock, SystemClock};
pub use jsonwebtoken::Algorithm;
