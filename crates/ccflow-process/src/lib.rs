//! Process plumbing shared by `ccflow-auth-server` and `ccflow-resource-api`: logs (text or
//! JSON, `CCFLOW_LOG` filter), shutdown on SIGINT or SIGTERM, and the `healthcheck` probe a
//! container's `HEALTHCHECK` runs (the images have no shell and no curl).

mod health;
mod logging;
mod signals;

pub use health::{
    HealthError, HealthcheckArgs, Transport, Trust, probe, probe_address, probe_over, probe_within,
    probe_within_over,
};
pub use logging::{LogFormat, init_logging};
pub use signals::ShutdownSignals;
