//! HTTPS (issue 19): the server's certificate and rustls configuration, on aws-lc-rs like every
//! other piece of crypto in the process. Either a throw-away certificate authority made at
//! start-up signs a server certificate for the names the server answers to, and its
//! certificate is handed out (`tls ca: PATH`, [`MockAuthServer::tls_ca_pem`]) so that curl and
//! any client can trust the server; or a certificate chain and key come from PEM files.
//!
//! [`MockAuthServer::tls_ca_pem`]: crate::MockAuthServer::tls_ca_pem

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::error::StartError;
use crate::settings::TlsSource;

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
        let (chain, key, ca_pem) = match source {
            TlsSource::Generated { names } => {
                let names = certificate_names(address, issuer_host, names);
                let (chain, key, ca_pem) = generate(names).map_err(|error| {
                    StartError::Start(format!("cannot make the TLS certificates: {error}"))
                })?;
                (chain, key, Some(ca_pem))
            }
            TlsSource::Files { cert, key } => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|error| {
                        StartError::Start(format!(
                            "cannot read the TLS certificate {}: {error}",
                            cert.display()
                        ))
                    })?;
                if chain.is_empty() {
                    return Err(StartError::Start(format!(
                        "{} holds no PEM certificate",
                        cert.display()
                    )));
                }
                // The error names the file, never its content (a private key).
                let private = PrivateKeyDer::from_pem_file(key).map_err(|_| {
                    StartError::Start(format!(
                        "cannot read a PEM private key (PKCS#8, PKCS#1 or SEC1) from {}",
                        key.display()
                    ))
                })?;
                (chain, private, None)
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|error| StartError::Start(format!("cannot configure TLS: {error}")))?;
        Ok(Self {
            config: Arc::new(config),
            ca_pem,
        })
    }
}

/// The names a generated server certificate carries: `localhost`, both loopback addresses, the
/// bound address unless it is a wildcard, the issuer's host, then `extra`; each once.
fn certificate_names(
    address: SocketAddr,
    issuer_host: Option<&str>,
    extra: &[String],
) -> Vec<String> {
    let mut names: Vec<String> = vec![
        "localhost".to_owned(),
        IpAddr::V4(Ipv4Addr::LOCALHOST).to_string(),
        IpAddr::V6(Ipv6Addr::LOCALHOST).to_string(),
    ];
    if !address.ip().is_unspecified() {
        names.push(address.ip().to_string());
    }
    // `[::1]` in a URL is `::1` in a certificate.
    names.extend(issuer_host.map(|host| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    }));
    names.extend(extra.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| !name.is_empty() && seen.insert(name.to_ascii_lowercase()));
    names
}

/// A throw-away CA (P-256) and a server certificate for `names` signed by it: the chain (leaf,
/// CA), the leaf's key, and the CA certificate as PEM.
fn generate(
    names: Vec<String>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String), rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ccflow throw-away test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    // `CertificateParams::new` makes an IP address SAN of a name that parses as one.
    let mut leaf_params = CertificateParams::new(names)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "ccflow-auth-server");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let ca_pem = pem::encode(&pem::Pem::new("CERTIFICATE", ca.der().to_vec()));
    Ok((vec![leaf.der().clone(), ca.der().clone()], key, ca_pem))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The bound address, the issuer's host, the extra names, and the names expected.
    type Case = (
        &'static str,
        Option<&'static str>,
        &'static [&'static str],
        &'static [&'static str],
    );

    #[test]
    fn a_generated_certificate_names_loopback_the_bound_address_and_the_issuer() {
        let cases: [Case; 3] = [
            (
                "127.0.0.1:8443",
                None,
                &[],
                &["localhost", "127.0.0.1", "::1"],
            ),
            (
                "0.0.0.0:8443",
                Some("auth"),
                &["id.example", "AUTH"],
                &["localhost", "127.0.0.1", "::1", "auth", "id.example"],
            ),
            (
                "192.0.2.7:8443",
                Some("[::1]"),
                &[],
                &["localhost", "127.0.0.1", "::1", "192.0.2.7"],
            ),
        ];
        for (address, issuer_host, extra, expected) in cases {
            let extra: Vec<String> = extra.iter().map(|name| (*name).to_owned()).collect();
            assert_eq!(
                certificate_names(address.parse().unwrap(), issuer_host, &extra),
                expected,
                "{address} {issuer_host:?}"
            );
        }
    }

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
