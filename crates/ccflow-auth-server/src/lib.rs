//! Mock OAuth 2.0 authorization server for the Client Credentials grant: embeddable library
//! and the `ccflow-auth-server` binary. The guide below is `docs/auth-server.md`; its examples
//! run as doctests.
#![doc = include_str!("../../../docs/auth-server.md")]
#![warn(missing_docs)]

mod admin;
mod app;
mod assertion;
mod authentication;
mod clients;
mod config;
mod echo;
mod expect;
mod http;
mod journal;
mod keys;
mod limits;
mod mint;
mod scenarios;
mod server;
mod settings;
mod shape;
mod throttle;

pub use admin::{ADMIN_OPENAPI, ADMIN_PREFIX};
pub use app::AuthServer;
pub use ccflow_protocol::{Clock, ManualClock, SystemClock, VirtualClock, unix_seconds};
pub use ccflow_protocol::{Defect, Fault, MintSpec, ScenarioSpec, When};
pub use clients::{Client, ClientError};
pub use config::ConfigError;
pub use expect::{RequestAssertion, RequestExpectation};
pub use http::configure;
pub use journal::{Endpoint, JOURNAL_CAPACITY, Journal, JournalEntry};
pub use keys::{KeyEntry, KeyError, KeyRing, KeyRingError, KeyState, SigningKey, thumbprint};
pub use limits::{Limits, LimitsError, MAX_BODY_BYTES};
pub use mint::{MintBuilder, MintError};
pub use scenarios::{ScenarioBuilder, ScenarioHandle, ScenarioStatus};
pub use server::{MockAuthServer, MockAuthServerBuilder, StartError};
pub use shape::ResponseStyle;
pub use throttle::{AuthThrottle, ThrottleError};

/// Re-exported so users need no direct dependency to name profiles and wire types.
pub use ccflow_protocol as protocol;
pub use ccflow_protocol::{Profile, ProfileOptions};

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
