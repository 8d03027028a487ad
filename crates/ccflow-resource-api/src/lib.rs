//! Bearer-token validator for actix-web and axum/tower (RFC 6750, RFC 9068 JWT access tokens)
//! with a rotation-safe JWKS cache, and the sample protected API behind the `ccflow-resource-api`
//! binary. The guide below is `docs/resource-api.md`; its examples run as doctests when both
//! adapters are compiled (as `cargo test` does).
#![cfg_attr(
    all(feature = "actix", feature = "axum"),
    doc = include_str!("../../../docs/resource-api.md")
)]
#![warn(missing_docs)]
// Built with neither adapter, the shared policy and form-body code has no caller.
#![cfg_attr(not(any(feature = "actix", feature = "axum")), allow(dead_code))]

#[cfg(feature = "actix")]
mod actix;
mod authenticated;
#[cfg(feature = "axum")]
mod axum;
mod claims;
mod dpop;
mod error;
mod form;
mod forwarded;
mod jwks;
mod payload;
mod policy;
mod refusal;
mod request;
#[cfg(feature = "actix")]
pub mod sample_api;
mod token;
mod validator;

#[cfg(feature = "actix")]
pub use actix::PolicyMiddleware;
pub use authenticated::Authenticated;
#[cfg(feature = "axum")]
pub use axum::{PolicyService, ValidatorLayer};
pub use claims::Claims;
pub use dpop::{DEFAULT_DPOP_NONCE_LIFETIME, MAX_DPOP_REPLAY_ENTRIES, TokenBinding};
pub use error::{
    AuthError, BuildError, DpopRejection, JwksError, RequestRejection, TokenRejection,
};
pub use form::MAX_FORM_BODY_BYTES;
pub use forwarded::{ForwardedCertificateFormat, IpNetwork};
pub use jwks::{JwksStatus, MAX_JWKS_BYTES, MAX_KEYS, MAX_KIDLESS_CANDIDATES};
pub use policy::{RequireAudience, RequireScope, RequireToken};
pub use refusal::Refusal;
pub use request::RequestCredentials;
pub use token::{MAX_AUTHORIZATION_BYTES, MAX_KID_BYTES, TokenScheme};
pub use validator::{
    DEFAULT_LEEWAY, DEFAULT_REALM, IssuerSettings, TrustedIssuer, Validator, ValidatorBuilder,
};

/// Re-exported so users need no direct dependency to name algorithms, clocks and wire types.
pub use ccflow_protocol::{Clock, ManualClock, Profile, SystemClock};
pub use jsonwebtoken::Algorithm;
