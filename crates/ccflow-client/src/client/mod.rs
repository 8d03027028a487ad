//! `TokenClient` and its builder, one idea per file: `settings` (the configuration as one
//! value), `builder` (checking it), `env` (reading it from `CCFLOW_*`), `resolve` (endpoint and
//! auth method), `request` (the bytes of a token request), `exchange` (RFC 8693 token exchange), `fetch` (attempts and retries) and
//! `token_client` (the cached, single-flight handle).

mod builder;
mod env;
mod exchange;
mod fetch;
mod request;
mod resolve;
mod settings;
mod token_client;

pub use builder::TokenClientBuilder;
pub use exchange::TokenExchange;
pub use settings::{DEFAULT_LIFETIME, DEFAULT_REQUEST_TIMEOUT, MAX_DEFAULT_SKEW};
pub use token_client::TokenClient;
