//! The JWKS cache, one file per idea: `keys` turns JWKs into verification keys and looks them
//! up, `refresh` is the state machine deciding when to fetch (single flight, cooldowns,
//! stale-while-error), `fetch` does discovery and the HTTP download, `cache_control` reads a
//! response's freshness, and `settings` holds the timing rules they share.

mod cache_control;
mod fetch;
mod keys;
mod refresh;
mod settings;

pub(crate) use fetch::JwksSource;
pub use fetch::MAX_JWKS_BYTES;
pub(crate) use keys::{Lookup, VerificationKey};
pub use keys::{MAX_KEYS, MAX_KIDLESS_CANDIDATES};
pub(crate) use refresh::JwksCache;
pub use refresh::JwksStatus;
pub(crate) use settings::JwksSettings;
