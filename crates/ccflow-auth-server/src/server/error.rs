//! Why a server could not be built or started.

use std::net::SocketAddr;

use crate::config::ConfigError;
use crate::domain::keys::KeyError;

/// Why a server could not be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The signing key could not be loaded or generated.
    #[error("signing key: {0}")]
    Key(#[from] KeyError),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server thread failed to start.
    #[error("the server failed to start: {0}")]
    Start(String),
}
