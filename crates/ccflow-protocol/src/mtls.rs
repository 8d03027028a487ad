//! Mutual TLS (RFC 8705): the client certificate a TLS connection presented, and its SHA-256
//! thumbprint, the `x5t#S256` member of a certificate-bound token's `cnf` claim (§3.1).
//!
//! The servers put a [`ClientCertificate`] in each connection's data when the client presented
//! one (actix's `on_connect`; read with `HttpRequest::conn_data::<ClientCertificate>()`); the
//! auth server authenticates clients and binds tokens with it, the validator checks bound
//! tokens against it. A proxy that terminates TLS forwards the certificate in a header, which
//! the validator turns into the same value.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The `cnf` member that carries a certificate thumbprint (RFC 8705 §3.1).
pub const CNF_X5T_S256: &str = "x5t#S256";

/// The end-entity certificate a client presented (DER), as read from the TLS handshake or from
/// a trusted proxy's header. Not a secret (the private key never leaves the client), but
/// `Debug` shows the thumbprint only, so logs stay short.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    der: Vec<u8>,
    thumbprint: String,
}

impl ClientCertificate {
    /// Wraps a DER-encoded X.509 certificate. The bytes are not parsed here: who reads the
    /// subject or checks a chain does so with an X.509 library.
    #[must_use]
    pub fn from_der(der: Vec<u8>) -> Self {
        let thumbprint = x5t_s256(&der);
        Self { der, thumbprint }
    }

    /// The DER bytes.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's `x5t#S256` thumbprint: base64url (no padding) of the SHA-256 of its
    /// DER encoding (RFC 8705 §3.1).
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// The `x5t#S256` thumbprint of a DER certificate (RFC 8705 §3.1).
#[must_use]
pub fn x5t_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(crate::crypto::sha256(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_base64url_of_sha256_of_the_der() {
        // SHA-256 of the empty string, base64url without padding.
        let cases: [(&[u8], &str); 2] = [
            (b"", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"),
            (b"abc", "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"),
        ];
        for (der, expected) in cases {
            assert_eq!(x5t_s256(der), expected);
            let certificate = ClientCertificate::from_der(der.to_vec());
            assert_eq!(certificate.thumbprint(), expected);
            assert_eq!(certificate.der(), der);
            assert!(format!("{certificate:?}").contains(expected));
        }
    }
}
