//! HTTPS (issue 19): the server's certificate and rustls configuration, made with ccflow-tls
//! on aws-lc-rs like every other piece of crypto in the process. Either a throw-away
//! certificate authority made at start-up signs a server certificate for the names the server
//! answers to, and its certificate is handed out (`tls ca: PATH`,
//! [`MockAuthServer::tls_ca_pem`]) so that curl and any client can trust the server; or a
//! certificate chain and key come from PEM files.
//!
//! [`MockAuthServer::tls_ca_pem`]: crate::MockAuthServer::tls_ca_pem

use std::net::SocketAddr;
use std::sync::Arc;

use ccflow_tls::{CertificateAuthority, ClientCertificates, Identity, TlsError};
use rustls::ServerConfig;

use super::error::StartError;
use crate::settings::TlsSource;

/// The subject common name of a generated server certificate.
const SERVER_COMMON_NAME: &str = "ccflow-auth-server";

/// What serving HTTPS needs: the rustls configuration, and the CA certificate when the server
/// made its own.
pub(crate) struct ServerTls {
    pub(crate) config: Arc<ServerConfig>,
    /// The throw-away CA's certificate (PEM), for clients to trust; `None` with given files.
    pub(crate) ca_pem: Option<String>,
}

impl ServerTls {
    /// Builds the configuration for a server bound to `address` whose issuer is on `issuer_host`.
    pub(crate) fn new(
        source: &TlsSource,
        address: SocketAddr,
        issuer_host: Option<&str>,
    ) -> Result<Self, StartError> {
        let start_error = |error: TlsError| StartError::Start(error.to_string());
        let (identity, ca_pem) = match source {
            TlsSource::Generated { names } => {
                let names = ccflow_tls::server_names(address, issuer_host, names);
                let ca = CertificateAuthority::generate().map_err(start_error)?;
                let identity = ca
                    .server_identity(SERVER_COMMON_NAME, names)
                    .map_err(start_error)?;
                (identity, Some(ca.certificate_pem().to_owned()))
            }
            TlsSource::Files { cert, key } => (
                Identity::from_pem_files(cert, key).map_err(start_error)?,
                None,
            ),
        };
        let config =
            ccflow_tls::server_config(identity, ClientCertificates::Ignore).map_err(start_error)?;
        Ok(Self {
            config: Arc::new(config),
            ca_pem,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_generated_identity_configures_rustls_and_hands_out_its_ca() {
        let tls = ServerTls::new(
            &TlsSource::Generated { names: Vec::new() },
            "127.0.0.1:0".parse().unwrap(),
            None,
        )
        .unwrap();
        let ca = tls.ca_pem.unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        assert!(!ca.contains("PRIVATE KEY"));
    }

    #[test]
    fn unreadable_files_are_a_start_error_that_names_the_file_only() {
        let error = ServerTls::new(
            &TlsSource::Files {
                cert: PathBuf::from("/nonexistent/cert.pem"),
                key: PathBuf::from("/nonexistent/key.pem"),
            },
            "127.0.0.1:0".parse().unwrap(),
            None,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
    }
}
