//! # ccflow-auth-server
//!
//! A mock OAuth 2.0 authorization server for the Client Credentials grant (RFC 6749 §4.4) that
//! issues real RS256-signed JWT access tokens (RFC 9068), serves its JWKS (RFC 7517) and
//! discovery metadata (RFC 8414), and answers introspection (RFC 7662) and revocation
//! (RFC 7009). Run it as the `ccflow-auth-server` binary, or embed it in a test:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
//!
//! let server = MockAuthServer::builder()
//!     .client(Client::new("orders-service", "s3cret").scopes(["orders.read"]).audiences(["orders-api"]))
//!     .signing_key(SigningKey::from_pem(include_str!("../../../fixtures/keys/rs256-1.pem"))?)
//!     .start()
//!     .await?; // bound to 127.0.0.1 on a free port, accepting connections
//! println!("token endpoint: {}", server.token_url());
//! # Ok(()) }
//! ```
//!
//! The server stops when the handle is dropped. [`MockAuthServer::assert_token_requests`]
//! checks how often the token endpoint was called, and [`configure`] mounts the routes in your
//! own actix-web `App` (or in `actix_web::test::init_service`) without a socket.
//!
//! See `docs/auth-server.md` in the repository for the endpoints, errors and configuration.

#![warn(missing_docs)]

mod app;
mod assertion;
mod clients;
mod clock;
mod config;
mod crypto;
mod http;
mod journal;
mod keys;
mod server;

pub use app::AuthServer;
pub use clients::Client;
pub use clock::{Clock, ManualClock, SystemClock, unix_seconds};
pub use config::ConfigError;
pub use http::{MAX_BODY_BYTES, configure};
pub use journal::{Endpoint, JOURNAL_CAPACITY, Journal, JournalEntry};
pub use keys::{KeyError, KeyRing, SigningKey, thumbprint};
pub use server::{DEFAULT_TOKEN_TTL, MockAuthServer, MockAuthServerBuilder, StartError};

/// Re-exported so users need no direct dependency to name profiles and wire types.
pub use ccflow_protocol as protocol;
pub use ccflow_protocol::Profile;
