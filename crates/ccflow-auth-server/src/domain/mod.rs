//! The authorization server's state and endpoint logic, in plain Rust: clients and client
//! authentication, keys and the key ring, issuance, introspection and revocation, discovery
//! metadata. Nothing here knows actix-web.

pub(crate) mod assertion;
pub(crate) mod auth_server;
pub(crate) mod authentication;
mod caller;
pub(crate) mod clients;
pub(crate) mod dpop;
pub(crate) mod echo;
pub(crate) mod endpoint;
mod exchange;
pub(crate) mod ids;
mod introspection;
pub(crate) mod issuance;
pub(crate) mod keys;
mod metadata;
pub(crate) mod mtls;
pub(crate) mod site;
pub(crate) mod urls;
