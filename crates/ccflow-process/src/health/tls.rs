//! The probe over HTTPS, for a server whose port speaks TLS (`--tls`, `--tls-cert`): rustls on
//! aws-lc-rs (the one crypto backend), blocking, one connection. The probe verifies what it
//! talks to, as any client must: against the throw-away CA the server wrote (`tls ca: PATH`),
//! or, with the server's own certificate files, by pinning the leaf of `--tls-cert` (the names
//! in a real certificate need not include the loopback address the probe dials).

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::{HealthError, MAX_ANSWER};

/// What an HTTPS probe trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Certificates issued by these roots (DER), e.g. the server's throw-away CA.
    Roots(Vec<Vec<u8>>),
    /// Exactly this end-entity certificate (DER): the leaf of the server's `--tls-cert`.
    Pinned(Vec<u8>),
}

impl Trust {
    /// Every certificate of a PEM file as roots (`tls ca: PATH`'s file).
    pub fn roots_from_pem_file(path: &Path) -> Result<Self, HealthError> {
        Ok(Self::Roots(certificates(path)?))
    }

    /// The first certificate of a PEM chain file (leaf first, as `--tls-cert` is) as the pin.
    pub fn leaf_from_pem_file(path: &Path) -> Result<Self, HealthError> {
        let mut chain = certificates(path)?;
        Ok(Self::Pinned(chain.swap_remove(0)))
    }
}

/// The certificates of a PEM file, at least one (ccflow-tls's loader, which the servers use).
fn certificates(path: &Path) -> Result<Vec<Vec<u8>>, HealthError> {
    let chain = ccflow_tls::load_certificates(path)
        .map_err(|error| HealthError::Trust(error.to_string()))?;
    Ok(chain.into_iter().map(|der| der.to_vec()).collect())
}

/// Sends `request` over TLS on `stream` and reads the answer (at most [`MAX_ANSWER`] bytes).
pub(super) fn exchange(
    stream: std::net::TcpStream,
    address: SocketAddr,
    trust: &Trust,
    request: &[u8],
) -> Result<Vec<u8>, HealthError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| HealthError::Tls(error.to_string()))?;
    let config = match trust {
        Trust::Roots(roots) => {
            let mut store = rustls::RootCertStore::empty();
            for root in roots {
                store
                    .add(CertificateDer::from(root.clone()))
                    .map_err(|error| HealthError::Trust(error.to_string()))?;
            }
            builder.with_root_certificates(store).with_no_client_auth()
        }
        Trust::Pinned(leaf) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                leaf: leaf.clone(),
                provider,
            }))
            .with_no_client_auth(),
    };
    let name = ServerName::IpAddress(address.ip().into());
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|error| HealthError::Tls(error.to_string()))?;
    let mut socket = stream;
    let mut tls = rustls::Stream::new(&mut connection, &mut socket);
    tls.write_all(request).map_err(handshake_error)?;
    tls.flush().map_err(handshake_error)?;
    let mut answer = Vec::new();
    match tls.take(MAX_ANSWER).read_to_end(&mut answer) {
        Ok(_) => {}
        // A peer that closes without close_notify after a whole answer is still an answer.
        Err(error) if error.kind() == ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(error) => return Err(handshake_error(error)),
    }
    Ok(answer)
}

/// rustls reports handshake failures (an untrusted certificate…) as I/O errors wrapping its
/// own; name them as TLS failures.
fn handshake_error(error: std::io::Error) -> HealthError {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => HealthError::Tls(tls.to_string()),
        None => HealthError::Io(error),
    }
}

/// Trusts one end-entity certificate, byte for byte, and still checks that the server holds
/// its key (the handshake signatures).
#[derive(Debug)]
struct Pinned {
    leaf: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;
    use crate::health::{Transport, probe_over};

    /// A CA and a leaf for 127.0.0.1 it signed: (CA DER, leaf DER, leaf key).
    fn identity() -> (Vec<u8>, Vec<u8>, PrivateKeyDer<'static>) {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        (ca.der().to_vec(), leaf.der().to_vec(), key)
    }

    /// A one-shot HTTPS server with `leaf` that answers 200 to the first request; a failed
    /// handshake just ends it.
    fn serving(leaf: Vec<u8>, key: PrivateKeyDer<'static>) -> SocketAddr {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(leaf)], key)
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut connection = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut tls = rustls::Stream::new(&mut connection, &mut socket);
            let mut request = Vec::new();
            let mut byte = [0_u8; 1];
            while !request.ends_with(b"\r\n\r\n") && tls.read(&mut byte).is_ok_and(|n| n == 1) {
                request.push(byte[0]);
            }
            if request.starts_with(b"GET /health HTTP/1.1\r\n") {
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        address
    }

    #[test]
    fn the_https_probe_trusts_only_the_named_ca_or_the_pinned_leaf() {
        let (ca, leaf, key) = identity();
        let (other_ca, other_leaf, _) = identity();
        let cases: [(&str, Transport, Result<(), &str>); 5] = [
            (
                "the server's CA",
                Transport::Https(Trust::Roots(vec![ca])),
                Ok(()),
            ),
            (
                "the server's leaf pinned",
                Transport::Https(Trust::Pinned(leaf.clone())),
                Ok(()),
            ),
            (
                "another CA",
                Transport::Https(Trust::Roots(vec![other_ca])),
                Err("TLS: invalid peer certificate"),
            ),
            (
                "another leaf pinned",
                Transport::Https(Trust::Pinned(other_leaf)),
                Err("TLS: invalid peer certificate"),
            ),
            (
                "plain HTTP to an HTTPS port",
                Transport::Http,
                Err("the answer is not HTTP"),
            ),
        ];
        for (case, transport, expected) in cases {
            let address = serving(leaf.clone(), key.clone_key());
            let result = probe_over(address, "/health", &transport).map_err(|e| e.to_string());
            match expected {
                Ok(()) => assert_eq!(result, Ok(()), "{case}"),
                Err(prefix) => {
                    let error = result.expect_err(case);
                    assert!(error.starts_with(prefix), "{case}: {error}");
                }
            }
        }
    }

    #[test]
    fn trust_files_must_hold_a_certificate() {
        let missing = Path::new("/nonexistent/ca.pem");
        let error = Trust::roots_from_pem_file(missing).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
        let empty = std::env::temp_dir().join(format!("ccflow-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not pem\n").unwrap();
        let error = Trust::leaf_from_pem_file(&empty).unwrap_err().to_string();
        std::fs::remove_file(&empty).unwrap();
        assert!(error.contains("no PEM certificate"), "{error}");
    }
}
