//! The JWKS cache's timing rules, shared by the refresh state machine and the fetch.

use std::time::Duration;

/// The cache's timing rules. Defaults follow the surveyed validators: jose's
/// 30 s cooldown, a 5 min TTL like Spring's, keyfunc-style stale serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JwksSettings {
    /// Least time between two fetches triggered by unknown `kid`s.
    pub(crate) refresh_cooldown: Duration,
    /// Least time between two fetches after a failure (or when no keys are loaded).
    pub(crate) retry_interval: Duration,
    /// Deadline for discovery plus JWKS fetch.
    pub(crate) fetch_timeout: Duration,
    /// Freshness when the response has no `Cache-Control: max-age`.
    pub(crate) default_ttl: Duration,
    /// Bounds applied to `max-age`.
    pub(crate) min_ttl: Duration,
    /// Bounds applied to `max-age`.
    pub(crate) max_ttl: Duration,
    /// How long past freshness cached keys keep validating while refreshes fail.
    pub(crate) max_stale: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            refresh_cooldown: Duration::from_secs(30),
            retry_interval: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(3),
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            max_stale: Duration::from_secs(24 * 3600),
        }
    }
}
