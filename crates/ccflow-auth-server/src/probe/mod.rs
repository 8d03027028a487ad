//! Conformance probes (issue 23, docs/probe.md): the running auth server turned outward, its
//! bad-token factory, keys, clock and faults driven through the admin API against a resource
//! server the user wrote; `ccflow-auth-server probe api`.

mod admin;
mod api;
#[cfg(feature = "cli")]
mod command;
mod report;

pub use api::{ApiProbe, CASE_IDS, Wait};
#[cfg(feature = "cli")]
pub use command::ProbeCommand;
pub use report::{CaseResult, Report, Verdict};

/// Why a probe could not run (a failing case is not an error: it is in the [`Report`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The options do not make sense.
    #[error("{0}")]
    Usage(String),
    /// The auth server's admin API refused or could not be reached.
    #[error("the auth server's admin API: {0}")]
    Admin(String),
    /// The API under test could not be reached.
    #[error("the API under test: {0}")]
    Target(String),
}
