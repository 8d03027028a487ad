//! The embeddable server: a builder over one `Settings` value, its validation, and a handle
//! that serves on its own thread until dropped.

mod builder;
mod error;
mod issuer;
mod issuers;
mod prepare;
mod running;
#[cfg(feature = "tls")]
mod tls;

pub use builder::MockAuthServerBuilder;
pub use error::StartError;
pub use issuer::MockIssuer;
pub use running::MockAuthServer;
