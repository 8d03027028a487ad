//! What can go wrong making certificates, reading PEM files or configuring rustls: messages
//! that name files, never their content (a private key).

use std::path::PathBuf;

/// A TLS set-up error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// rcgen could not make a key or a certificate.
    #[error("cannot make the TLS certificates: {0}")]
    Generate(String),
    /// A certificate file could not be read or parsed.
    #[error("cannot read the TLS certificate {}: {message}", path.display())]
    ReadCertificate {
        /// The file.
        path: PathBuf,
        /// Why (I/O or PEM syntax; certificates are public).
        message: String,
    },
    /// A certificate file held no certificate.
    #[error("{} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A private-key file could not be read or held no key; the message never quotes it.
    #[error("cannot read a PEM private key (PKCS#8, PKCS#1 or SEC1) from {}", path.display())]
    ReadKey {
        /// The file.
        path: PathBuf,
    },
    /// A private key given as text is not one PEM PKCS#8 key (`-----BEGIN PRIVATE KEY-----`);
    /// the message never quotes it.
    #[error("not a PEM PKCS#8 private key")]
    BadKey,
    /// A certificate could not be parsed or used (certificates are public; the message says why).
    #[error("bad certificate: {0}")]
    BadCertificate(String),
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("cannot configure TLS: {0}")]
    Configure(String),
}

impl From<rcgen::Error> for TlsError {
    fn from(error: rcgen::Error) -> Self {
        Self::Generate(error.to_string())
    }
}
