//! Mock OAuth 2.0 authorization server for the Client Credentials grant: embeddable library
//! and the `ccflow-auth-server` binary. The guide below is `docs/auth-server.md`; its examples
//! run as doctests.
#![doc = include_str!("../../../docs/auth-server.md")]
#![warn(missing_docs)]

mod banner;
mod config;
mod control;
mod domain;
mod http;
#[cfg(feature = "probe")]
pub mod probe;
mod profiles;
mod server;
mod settings;

pub use ccflow_protocol::{Clock, ManualClock, SystemClock, VirtualClock, unix_seconds};
pub use ccflow_protocol::{Defect, Fault, MintSpec, ScenarioSpec, When};
pub use config::ConfigError;
pub use control::expect::{RequestAssertion, RequestExpectation};
pub use control::journal::{Endpoint, JOURNAL_CAPACITY, Journal, JournalEntry};
pub use control::limits::{Limits, LimitsError, MAX_BODY_BYTES};
pub use control::mint::{MintBuilder, MintError};
pub use control::proofs::{FactoryProof, ProofDefect, ProofSpec};
pub use control::scenarios::{ScenarioBuilder, ScenarioHandle, ScenarioStatus};
pub use control::throttle::{AuthThrottle, ThrottleError};
pub use domain::auth_server::AuthServer;
pub use domain::clients::{Client, ClientError};
pub use domain::dpop::DpopSettings;
pub use domain::keys::{
    KeyEntry, KeyError, KeyRing, KeyRingError, KeyState, SigningKey, thumbprint,
};
pub use http::admin::{ADMIN_OPENAPI, ADMIN_PREFIX};
pub use http::configure;
pub use profiles::ResponseStyle;
pub use server::{MockAuthServer, MockAuthServerBuilder, MockIssuer, StartError};

/// Re-exported so users need no direct dependency to name profiles and wire types.
pub use ccflow_protocol as protocol;
pub use ccflow_protocol::{BasicCredentials, Profile, ProfileOptions};
/// The certificate types of [`MockAuthServer::issue_client_certificate`] (feature `tls`).
#[cfg(feature = "tls")]
pub use ccflow_tls::{IssuedCertificate, TlsError};

/// Internals exposed for the crate's benchmarks only; not a stable API.
#[doc(hidden)]
pub mod bench_support {
    pub use ccflow_protocol::jwt::{cached_provider_sign, default_provider_sign};

    /// The jsonwebtoken key of a signing key.
    pub fn encoding_key(key: &crate::SigningKey) -> &jsonwebtoken::EncodingKey {
        key.encoding_key()
    }
}

/// The Rust examples of `docs/test-control.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/test-control.md")]
mod test_control_guide {}
