//! The rustls server configuration, on aws-lc-rs, and the client-certificate verifier of
//! mutual TLS: ask for a certificate, accept any, check only that the client holds its key.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use crate::{Identity, TlsError};

/// Whether the server asks clients for a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientCertificates {
    /// No `CertificateRequest`: plain server-authenticated TLS.
    #[default]
    Ignore,
    /// Ask every client for a certificate, require none, accept any chain
    /// ([`AnyClientCertificate`]); the application decides what a certificate is worth.
    Request,
}

/// The rustls configuration of a server presenting `identity`: aws-lc-rs, TLS 1.2 and 1.3,
/// HTTP/2 and HTTP/1.1 offered over ALPN (as actix-web serves both).
pub fn server_config(
    identity: Identity,
    client_certificates: ClientCertificates,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Configure(error.to_string()))?;
    let builder = match client_certificates {
        ClientCertificates::Ignore => builder.with_no_client_auth(),
        ClientCertificates::Request => {
            builder.with_client_cert_verifier(Arc::new(AnyClientCertificate::new(&provider)))
        }
    };
    builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(|error| TlsError::Configure(error.to_string()))
}

/// A `ClientCertVerifier` that requests a client certificate without requiring one and
/// accepts any chain, self-signed included: RFC 8705 §2.2 (`self_signed_tls_client_auth`)
/// needs self-signed certificates through, and §2.1's chain check (`tls_client_auth`) is made
/// by the application against the client's registration, which the TLS layer does not know.
/// What it does check is the handshake's `CertificateVerify` signature, with the provider's
/// algorithms: a client presents only a certificate whose private key it holds (RFC 8446
/// §4.4.3, RFC 5246 §7.4.8), which is what makes the certificate worth anything.
#[derive(Debug)]
pub struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCertificate {
    /// The verifier, checking signatures with `provider`'s algorithms.
    #[must_use]
    pub fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hint: "the client should always provide a client certificate if it has one".
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // The certificate is parsed (and its key checked) by the signature verification below.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
