//! `TokenClient` and its builder, one idea per file: `settings` (the configuration as one
//! value), `builder` (checking it), `env` (reading it from `CCFLOW_*`), `resolve` (endpoint and
//! auth method), `request` (the bytes of a token request), `fetch` (attempts and retries) and
//! `token_client` (the cached, single-flight handle).

mod builder;
mod env;
mod fetch;
mod request;
mod resolve;
mod settings;
mod token_client;

pub use builder::TokenClientBuilder;
pub use settings::{DEFAULT_LIFETIME, DEFAULT_REQUEST_TIMEOUT, MAX_DEFAULT_SKEW};
pub use token_client::TokenClient;
