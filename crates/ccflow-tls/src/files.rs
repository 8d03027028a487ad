//! Certificates and keys from PEM files, and the server identity (chain and key) they make.

use std::fmt;
use std::path::Path;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// A server's certificate chain (leaf first) and private key. `Debug` never shows the key.
pub struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Reads the chain from `cert` (one or more PEM certificates, leaf first) and the key from
    /// `key` (PEM PKCS#8, PKCS#1 or SEC1). Errors name the files, never the key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = load_certificates(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::ReadKey {
            path: key.to_path_buf(),
        })?;
        Ok(Self { chain, key })
    }

    /// The certificate chain, leaf first.
    #[must_use]
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Every PEM certificate in `path` (at least one), in file order.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| TlsError::ReadCertificate {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn unreadable_files_are_an_error_that_names_the_file_only() {
        let cases: [(&str, &str, &str); 2] = [
            (
                "/nonexistent/cert.pem",
                "/nonexistent/key.pem",
                "/nonexistent/cert.pem",
            ),
            // A certificate file that is not PEM at all holds no certificate.
            (
                "/dev/null",
                "/nonexistent/key.pem",
                "/dev/null holds no PEM certificate",
            ),
        ];
        for (cert, key, expected) in cases {
            let error = Identity::from_pem_files(&PathBuf::from(cert), &PathBuf::from(key))
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
