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

use ccflow_tls::{
    CertificateAuthority, ClientCertificateRoots, ClientCertificates, Identity, TlsError,
};
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
    /// The throw-away CA itself, which also issues client certificates; `None` with files.
    pub(crate) ca: Option<Arc<CertificateAuthority>>,
    /// The CAs trusted for `tls_client_auth` (RFC 8705 §2.1): the generated one and the
    /// configured client CA file's; `None` when there are none.
    pub(crate) client_roots: Option<ClientCertificateRoots>,
}

impl ServerTls {
    /// Builds the configuration for a server bound to `address` whose issuer is on
    /// `issuer_host`; `client_ca_file` adds CAs trusted for client certificates.
    pub(crate) fn new(
        source: &TlsSource,
        address: SocketAddr,
        issuer_host: Option<&str>,
        client_ca_file: Option<&std::path::Path>,
    ) -> Result<Self, StartError> {
        let start_error = |error: TlsError| StartError::Start(error.to_string());
        let (identity, ca) = match source {
            TlsSource::Generated { names } => {
                let names = ccflow_tls::server_names(address, issuer_host, names);
                let ca = CertificateAuthority::generate().map_err(start_error)?;
                let identity = ca
                    .server_identity(SERVER_COMMON_NAME, names)
                    .map_err(start_error)?;
                (identity, Some(Arc::new(ca)))
            }
            TlsSource::Files { cert, key } => (
                Identity::from_pem_files(cert, key).map_err(start_error)?,
                None,
            ),
        };
        let mut roots: Vec<_> = ca.iter().map(|ca| ca.certificate_der().clone()).collect();
        if let Some(path) = client_ca_file {
            roots.extend(ccflow_tls::load_certificates(path).map_err(start_error)?);
        }
        let client_roots = if roots.is_empty() {
            None
        } else {
            Some(ClientCertificateRoots::new(roots).map_err(start_error)?)
        };
        // Every client is asked for a certificate and none is required (RFC 8705 §2): which
        // certificate authenticates which client is the token endpoint's decision.
        let config = ccflow_tls::server_config(identity, ClientCertificates::Request)
            .map_err(start_error)?;
        Ok(Self {
            config: Arc::new(config),
            ca_pem: ca.as_ref().map(|ca| ca.certificate_pem().to_owned()),
            ca,
            client_roots,
        })
    }

    /// What the token endpoint trusts for `tls_client_auth`.
    pub(crate) fn mtls_trust(&self) -> crate::domain::mtls::MtlsTrust {
        crate::domain::mtls::MtlsTrust {
            roots: self.client_roots.clone(),
            ca: self.ca.clone(),
        }
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
            None,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
    }
}
