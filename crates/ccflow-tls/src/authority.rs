//! A throw-away certificate authority (P-256, made at start-up) and what it signs: the
//! server's certificate, and client certificates for mutual TLS (RFC 8705 §2.1), so that no
//! test and no user has to run openssl.

use std::fmt;

use ccflow_protocol::mtls::x5t_s256;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::{Identity, TlsError};

/// The subject of the generated CA's certificate.
const CA_COMMON_NAME: &str = "ccflow throw-away test CA";

/// A CA made for one run. Its key lives in memory only; its certificate is public
/// ([`certificate_pem`](Self::certificate_pem)) so that clients can trust what it signs.
pub struct CertificateAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: String,
}

impl CertificateAuthority {
    /// A new CA with a fresh P-256 key. Its path length is 0: it signs end-entity
    /// certificates only.
    pub fn generate() -> Result<Self, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, CA_COMMON_NAME);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let pem = certificate_pem(issuer.der());
        Ok(Self { issuer, pem })
    }

    /// The CA's certificate (PEM), what clients trust (`curl --cacert`).
    #[must_use]
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }

    /// The CA's certificate (DER), e.g. a trust anchor for client certificates.
    #[must_use]
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        self.issuer.der()
    }

    /// A server certificate for `names` (DNS names or IP addresses, see
    /// [`server_names`](crate::server_names)) with subject `CN=common_name`, signed by this CA:
    /// the chain (leaf, CA) and the leaf's key.
    pub fn server_identity(
        &self,
        common_name: &str,
        names: Vec<String>,
    ) -> Result<Identity, TlsError> {
        // `CertificateParams::new` makes an IP address SAN of a name that parses as one.
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let leaf = params.signed_by(&key, &self.issuer)?;
        Ok(Identity {
            chain: vec![leaf.der().clone(), self.issuer.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }

    /// A client certificate for `subject`, signed by this CA: what a client presents for
    /// `tls_client_auth` (RFC 8705 §2.1), its subject DN `CN=<common name>` and its DNS names
    /// the values a registration names (§2.1.2).
    pub fn issue_client_certificate(
        &self,
        subject: &ClientSubject,
    ) -> Result<IssuedCertificate, TlsError> {
        let key = KeyPair::generate()?;
        let certificate = subject.params()?.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate::new(certificate.der(), &key))
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("x5t#S256", &x5t_s256(self.issuer.der()))
            .finish_non_exhaustive()
    }
}

/// Who a client certificate names: the common name (the client id, by convention) and any
/// DNS names (subject alternative names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSubject {
    common_name: String,
    dns_names: Vec<String>,
}

impl ClientSubject {
    /// A subject `CN=common_name`.
    #[must_use]
    pub fn new(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            dns_names: Vec::new(),
        }
    }

    /// Adds a DNS subject alternative name.
    #[must_use]
    pub fn dns_name(mut self, name: impl Into<String>) -> Self {
        self.dns_names.push(name.into());
        self
    }

    /// The common name.
    #[must_use]
    pub fn common_name(&self) -> &str {
        &self.common_name
    }

    /// The DNS names.
    #[must_use]
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    fn params(&self) -> Result<CertificateParams, TlsError> {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        params.subject_alt_names = self
            .dns_names
            .iter()
            .map(|name| {
                rcgen::string::Ia5String::try_from(name.as_str())
                    .map(rcgen::SanType::DnsName)
                    .map_err(TlsError::from)
            })
            .collect::<Result<_, _>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        Ok(params)
    }
}

/// A client certificate and its private key, both PEM. The key is the client's secret:
/// `Debug` shows the certificate's thumbprint only.
#[derive(Clone)]
pub struct IssuedCertificate {
    certificate_pem: String,
    certificate_der: CertificateDer<'static>,
    private_key_pem: String,
    thumbprint: String,
}

impl IssuedCertificate {
    /// A self-signed client certificate for `subject` (RFC 8705 §2.2,
    /// `self_signed_tls_client_auth`: the server knows the certificate itself, not a CA).
    pub fn self_signed(subject: &ClientSubject) -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let certificate = subject.params()?.self_signed(&key)?;
        Ok(Self::new(certificate.der(), &key))
    }

    /// A client certificate made elsewhere, from its PEM texts: the certificate (one
    /// `CERTIFICATE`) and its private key (one PKCS#8 `PRIVATE KEY`), e.g. what the admin
    /// API's `POST /_ccflow/clients/{id}/certificate` answers. The thumbprint is computed from
    /// the certificate, not taken from anyone's word. Whether the key belongs to the
    /// certificate is not checked here: a TLS client using a wrong pair fails its handshake.
    pub fn from_pem(certificate: &str, private_key: &str) -> Result<Self, TlsError> {
        let certificate = pem::parse(certificate)
            .ok()
            .filter(|block| block.tag() == "CERTIFICATE")
            .ok_or_else(|| TlsError::BadCertificate("not one PEM certificate".to_owned()))?;
        let key_is_pkcs8 = pem::parse(private_key).is_ok_and(|block| block.tag() == "PRIVATE KEY");
        if !key_is_pkcs8 {
            return Err(TlsError::BadKey);
        }
        let der = CertificateDer::from(certificate.into_contents());
        Ok(Self {
            certificate_pem: certificate_pem(&der),
            thumbprint: x5t_s256(&der),
            certificate_der: der,
            private_key_pem: private_key.to_owned(),
        })
    }

    fn new(der: &CertificateDer<'static>, key: &KeyPair) -> Self {
        Self {
            certificate_pem: certificate_pem(der),
            certificate_der: der.clone(),
            private_key_pem: pem::encode(&pem::Pem::new("PRIVATE KEY", key.serialize_der())),
            thumbprint: x5t_s256(der),
        }
    }

    /// The certificate (PEM).
    #[must_use]
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The certificate (DER).
    #[must_use]
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.certificate_der
    }

    /// The private key (PEM, PKCS#8): a secret.
    #[must_use]
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// The certificate then the key, one PEM text: what `reqwest::Identity::from_pem` and
    /// `curl --cert` (without `--key`) read.
    #[must_use]
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.certificate_pem, self.private_key_pem)
    }

    /// The certificate's `x5t#S256` thumbprint (RFC 8705 §3.1).
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("x5t#S256", &self.thumbprint)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

fn certificate_pem(der: &CertificateDer<'_>) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_hands_out_its_certificate_and_never_its_key() {
        let ca = CertificateAuthority::generate().unwrap();
        let pem = ca.certificate_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert!(!pem.contains("PRIVATE KEY"));
        assert_eq!(
            pem::parse(pem).unwrap().contents(),
            ca.certificate_der().as_ref()
        );
        assert!(!format!("{ca:?}").contains("PRIVATE"));
    }

    #[test]
    fn issued_client_certificates_carry_their_subject_and_hide_their_key() {
        let ca = CertificateAuthority::generate().unwrap();
        let cases = [
            (
                ca.issue_client_certificate(&ClientSubject::new("svc-a"))
                    .unwrap(),
                false,
            ),
            (
                ca.issue_client_certificate(&ClientSubject::new("svc-b").dns_name("svc-b.example"))
                    .unwrap(),
                false,
            ),
            (
                IssuedCertificate::self_signed(&ClientSubject::new("svc-c")).unwrap(),
                true,
            ),
        ];
        for (issued, self_signed) in cases {
            assert!(
                issued
                    .private_key_pem()
                    .starts_with("-----BEGIN PRIVATE KEY-----")
            );
            assert_eq!(
                issued.identity_pem(),
                format!("{}{}", issued.certificate_pem(), issued.private_key_pem())
            );
            assert_eq!(issued.thumbprint(), x5t_s256(issued.certificate_der()));
            let debug = format!("{issued:?}");
            assert!(
                !debug.contains("PRIVATE") && debug.contains("[redacted]"),
                "{debug}"
            );
            // A CA-issued certificate names the CA as its issuer (its DER holds the CA's
            // subject); a self-signed one names only itself.
            let der = issued.certificate_der().as_ref();
            let names_ca = der
                .windows(CA_COMMON_NAME.len())
                .any(|window| window == CA_COMMON_NAME.as_bytes());
            assert_eq!(names_ca, !self_signed);
        }
    }

    #[test]
    fn a_certificate_made_elsewhere_reads_back_from_its_pem_texts() {
        let ca = CertificateAuthority::generate().unwrap();
        let issued = ca
            .issue_client_certificate(&ClientSubject::new("svc-a"))
            .unwrap();
        let read = IssuedCertificate::from_pem(issued.certificate_pem(), issued.private_key_pem())
            .unwrap();
        assert_eq!(read.certificate_der(), issued.certificate_der());
        assert_eq!(read.thumbprint(), issued.thumbprint());
        assert_eq!(read.identity_pem(), issued.identity_pem());

        let cert = issued.certificate_pem();
        let key = issued.private_key_pem();
        let sec1 = key.replace("PRIVATE KEY", "EC PRIVATE KEY");
        #[rustfmt::skip]
        let cases: [(&str, &str, &str); 5] = [
            ("", key, "bad certificate: not one PEM certificate"),
            (key, key, "bad certificate: not one PEM certificate"),
            (ca.certificate_pem(), "", "not a PEM PKCS#8 private key"),
            (cert, cert, "not a PEM PKCS#8 private key"),
            (cert, &sec1, "not a PEM PKCS#8 private key"),
        ];
        for (certificate, private_key, expected) in cases {
            let error = IssuedCertificate::from_pem(certificate, private_key).unwrap_err();
            let message = error.to_string();
            assert_eq!(message, expected);
            assert!(!message.contains("PRIVATE KEY-----"));
        }
    }
}
