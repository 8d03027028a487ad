//! TLS for the ccflow servers (issue 19): what the auth server and the sample API share.
//!
//! - [`CertificateAuthority`]: a throw-away CA made at start-up, which signs the server's
//!   certificate for the names it answers to ([`server_names`]) and, for mutual TLS, client
//!   certificates ([`CertificateAuthority::issue_client_certificate`]), so nobody runs openssl;
//! - [`Identity::from_pem_files`]: a certificate chain and key from PEM files instead;
//! - [`server_config`]: the rustls `ServerConfig` on aws-lc-rs (the one crypto backend), which
//!   with [`ClientCertificates::Request`] asks every client for a certificate without requiring
//!   one and accepts any chain, self-signed included ([`AnyClientCertificate`]): whether a
//!   certificate is trusted is the application's decision (RFC 8705 §2.1 against a CA, §2.2
//!   against a registered certificate, §3 only a thumbprint);
//! - behind the `actix` feature, [`on_connect`]: the hook that stores the client's certificate
//!   as [`ClientCertificate`](ccflow_protocol::mtls::ClientCertificate) in the connection's
//!   data, where handlers read it with `HttpRequest::conn_data`.

mod authority;
mod config;
#[cfg(feature = "actix")]
mod connection;
mod error;
mod files;
mod names;
mod x509;

pub use authority::{CertificateAuthority, ClientSubject, IssuedCertificate};
pub use config::{AnyClientCertificate, ClientCertificates, server_config};
#[cfg(feature = "actix")]
pub use connection::on_connect;
pub use error::TlsError;
pub use files::{Identity, load_certificates};
pub use names::server_names;
pub use x509::{
    CertificateNames, ClientCertificateRoots, DistinguishedName, der_element, subject_public_key,
};
