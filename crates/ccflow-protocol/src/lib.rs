//! Wire types and pure request logic shared by every ccflow crate: the vocabulary of an OAuth 2.0 Client Credentials exchange.
//!
//! This crate does no I/O and knows no HTTP framework: the servers hand it
//! header values and body bytes, and it hands back typed requests or typed
//! errors that already know their RFC 6749 §5.2 error code.
//!
//! - Protocol values ([`ClientId`], [`ClientSecret`], [`AccessToken`], [`Scope`],
//!   [`Scopes`], [`GrantType`], [`AuthMethod`]) are newtypes or closed enums whose
//!   constructors enforce the RFC grammar; secrets never print.
//! - [`FormParams`] and [`parse_basic_authorization`] implement the strict
//!   request encodings of RFC 6749 Appendix B and §2.3.1.
//! - [`TokenRequest`] and [`TokenOperationRequest`] parse token, introspection
//!   and revocation requests; every failure is a [`RequestError`] that maps to
//!   one [`ErrorResponse`].
//! - Response types ([`TokenResponse`], [`AccessTokenClaims`], [`ServerMetadata`],
//!   [`IntrospectionResponse`], [`Jwks`], [`BearerChallenge`]) serialize exactly
//!   as their RFCs describe.
//! - [`Profile`] names the dialect a server speaks and where it routes.
//! - [`Clock`] is where every crate reads the time ([`ManualClock`] for tests).
#![warn(missing_docs)]

mod basic;
mod challenge;
mod clock;
#[cfg(feature = "jwt")]
pub mod crypto;
mod discovery;
#[cfg(feature = "jwt")]
pub mod dpop;
mod error;
mod exchange;
mod form;
mod jwk;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod media;
#[cfg(feature = "jwt")]
pub mod mtls;
mod profile;
#[cfg(feature = "jwt")]
pub mod public_key;
mod request;
mod response;
mod scenario;
mod scope;
mod types;
mod vocabulary;

pub use basic::{
    BasicCredentials, DecodedBasic, basic_authorization, basic_authorization_as,
    parse_basic_authorization, parse_basic_authorization_as,
};
pub use challenge::BearerChallenge;
pub use clock::{Clock, ManualClock, SystemClock, VirtualClock, unix_seconds};
pub use discovery::{is_loopback, metadata_urls};
pub use error::{ErrorCode, ErrorResponse};
pub use exchange::{TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT, TokenExchangeParams};
pub use form::{FormParams, form_urlencode};
pub use jwk::{Jwk, Jwks};
pub use profile::{
    CYBERARK_PLATFORM_TOKEN_PATH, ClaimStyle, ErrorDialect, ExpiresIn, Profile, ProfileOptions,
    ProfileRoutes, ProfileSpec, ResourceDefaults, Routes, ScopeField, ScopeSemantics,
    SigningAlgorithm, UnknownProfile,
};
pub use request::{
    ClientAuthentication, RequestError, TokenOperationRequest, TokenRequest, TokenRequestOptions,
};
pub use response::{
    AccessTokenClaims, Audience, IntrospectionResponse, ServerMetadata, TokenResponse,
};
pub use scenario::{ClientRegistration, Defect, Fault, MintSpec, ScenarioSpec, When};
pub use scope::{Scope, ScopeError, Scopes};
pub use types::{AccessToken, ClientId, ClientSecret};
pub use vocabulary::{
    AuthMethod, CLIENT_ASSERTION_TYPE_JWT_BEARER, GRANT_TYPE_TOKEN_EXCHANGE, GrantType,
    UnknownAuthMethod,
};

/// Shortens a value we echo back in an error message, so a hostile client
/// cannot make us reflect an unbounded string.
pub(crate) fn truncate_for_echo(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    if value.chars().count() <= MAX_CHARS {
        return value.to_owned();
    }
    let mut shortened: String = value.chars().take(MAX_CHARS - 3).collect();
    shortened.push_str("...");
    shortened
}

#[cfg(test)]
mod tests {
    use super::truncate_for_echo;

    #[test]
    fn truncates_long_echoed_values_to_64_chars() {
        assert_eq!(truncate_for_echo("short"), "short");
        let exactly_64 = "x".repeat(64);
        assert_eq!(truncate_for_echo(&exactly_64), exactly_64);
        let long = "é".repeat(1000);
        let echoed = truncate_for_echo(&long);
        assert_eq!(echoed.chars().count(), 64);
        assert!(echoed.ends_with("..."));
    }
}
