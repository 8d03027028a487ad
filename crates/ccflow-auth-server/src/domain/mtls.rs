//! Mutual TLS (RFC 8705): client authentication with the certificate of the TLS connection
//! (`tls_client_auth`, §2.1; `self_signed_tls_client_auth`, §2.2) and the thumbprint that binds
//! a token to it (§3). X.509 work is ccflow-tls's, behind the `tls` feature: without it no
//! connection carries a certificate, and a client cannot register these methods.

use ccflow_protocol::mtls::ClientCertificate;
use ccflow_protocol::{AuthMethod, ErrorResponse, Jwk};

use crate::domain::echo::truncate;

/// What a client registered for mutual TLS (RFC 8705 §2.1.2 and §2.2 metadata).
#[cfg_attr(
    not(feature = "tls"),
    allow(dead_code, reason = "read only with the `tls` feature")
)]
#[derive(Clone, Debug, Default)]
pub(crate) struct MtlsRegistration {
    /// `tls_client_auth_subject_dn` (RFC 4514 string), validated at registration.
    pub(crate) subject_dn: Option<String>,
    /// `tls_client_auth_san_dns`.
    pub(crate) san_dns: Option<String>,
    /// `self_signed_tls_client_auth`'s registered certificates (DER): the PEM ones, then the
    /// `x5c[0]` of each key of the client's `jwks` that has one (§2.2).
    pub(crate) certificates: Vec<Vec<u8>>,
}

/// The registration's mTLS fields as given (builder, TOML, admin API), before validation.
#[derive(Clone, Debug, Default)]
pub(crate) struct MtlsFields {
    pub(crate) subject_dn: Option<String>,
    pub(crate) san_dns: Option<String>,
    /// PEM text of registered certificates.
    pub(crate) certificate_pems: Vec<String>,
}

impl MtlsFields {
    /// The method these fields imply when a client gives no secret and no key.
    pub(crate) fn implied_method(&self) -> Option<AuthMethod> {
        if self.subject_dn.is_some() || self.san_dns.is_some() {
            Some(AuthMethod::TlsClientAuth)
        } else if !self.certificate_pems.is_empty() {
            Some(AuthMethod::SelfSignedTlsClientAuth)
        } else {
            None
        }
    }

    /// Validates the fields against the client's methods: `(field, why)` on error. `jwks` are
    /// the client's JWKs (its `jwks`): a `self_signed_tls_client_auth` client's certificates
    /// are also their `x5c[0]` (RFC 8705 §2.2).
    pub(crate) fn validate(
        self,
        methods: &[AuthMethod],
        jwks: &[&Jwk],
    ) -> Result<MtlsRegistration, (&'static str, String)> {
        let tls_client_auth = methods.contains(&AuthMethod::TlsClientAuth);
        let self_signed = methods.contains(&AuthMethod::SelfSignedTlsClientAuth);
        if tls_client_auth {
            // RFC 8705 §2.1.2: "A client using the tls_client_auth authentication method MUST
            // use exactly one of the below metadata parameters".
            match (&self.subject_dn, &self.san_dns) {
                (Some(_), Some(_)) => {
                    return Err((
                        "tls_client_auth_subject_dn",
                        "give tls_client_auth_subject_dn or tls_client_auth_san_dns, not both (RFC 8705 section 2.1.2)".to_owned(),
                    ));
                }
                (None, None) => {
                    return Err((
                        "tls_client_auth_subject_dn",
                        "tls_client_auth needs tls_client_auth_subject_dn or tls_client_auth_san_dns (RFC 8705 section 2.1.2)".to_owned(),
                    ));
                }
                _ => {}
            }
        } else if self.subject_dn.is_some() || self.san_dns.is_some() {
            return Err((
                "tls_client_auth_subject_dn",
                "only a tls_client_auth client registers a subject DN or DNS name".to_owned(),
            ));
        }
        // RFC 8705 §2.2: "the client registers its X.509 certificates [...] using the jwks or
        // jwks_uri metadata", each in a key's x5c (RFC 7517 §4.7).
        let in_jwks = jwks.iter().any(|jwk| jwk.extra.contains_key("x5c"));
        if self_signed && self.certificate_pems.is_empty() && !in_jwks {
            return Err(if jwks.is_empty() {
                (
                    "tls_client_certificate_pem",
                    "self_signed_tls_client_auth needs the client's certificate: tls_client_certificate_pem, or a jwks whose keys carry it in x5c (RFC 8705 section 2.2)"
                        .to_owned(),
                )
            } else {
                (
                    "jwks",
                    "self_signed_tls_client_auth needs the client's certificate, and no key of its jwks has an x5c member (RFC 8705 section 2.2: the certificate goes in x5c, RFC 7517 section 4.7)"
                        .to_owned(),
                )
            });
        }
        if !self_signed && !self.certificate_pems.is_empty() {
            return Err((
                "tls_client_certificate_pem",
                "only a self_signed_tls_client_auth client registers a certificate".to_owned(),
            ));
        }
        if !(tls_client_auth || self_signed) {
            return Ok(MtlsRegistration::default());
        }
        // Only a self-signed client's keys are certificates to it.
        checked(self, if self_signed { jwks } else { &[] })
    }
}

#[cfg(feature = "tls")]
fn checked(fields: MtlsFields, jwks: &[&Jwk]) -> Result<MtlsRegistration, (&'static str, String)> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    if let Some(dn) = &fields.subject_dn {
        ccflow_tls::DistinguishedName::parse_rfc4514(dn)
            .map_err(|why| ("tls_client_auth_subject_dn", why))?;
    }
    if fields.san_dns.as_deref().is_some_and(str::is_empty) {
        return Err(("tls_client_auth_san_dns", "must not be empty".to_owned()));
    }
    let mut certificates = Vec::new();
    for pem in &fields.certificate_pems {
        let parsed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|error| ("tls_client_certificate_pem", format!("not PEM: {error}")))?;
        if parsed.is_empty() {
            return Err((
                "tls_client_certificate_pem",
                "holds no PEM certificate".to_owned(),
            ));
        }
        for der in parsed {
            ccflow_tls::CertificateNames::from_der(&der)
                .map_err(|error| ("tls_client_certificate_pem", error.to_string()))?;
            certificates.push(der.to_vec());
        }
    }
    for (index, jwk) in jwks.iter().enumerate() {
        if let Some(x5c) = jwk.extra.get("x5c") {
            let der = first_x5c_certificate(x5c)
                .and_then(|der| same_key(jwk, &der).map(|()| der))
                .map_err(|why| ("jwks", format!("keys[{index}].x5c: {why}")))?;
            certificates.push(der);
        }
    }
    Ok(MtlsRegistration {
        subject_dn: fields.subject_dn,
        san_dns: fields.san_dns,
        certificates,
    })
}

/// The DER of `x5c[0]`, the key's own certificate (RFC 7517 §4.7: a non-empty array of
/// base64 — not base64url — DER certificates, the first the key's). Every entry must decode; the
/// rest of the chain is not used (§2.2 matches the certificate itself).
#[cfg(feature = "tls")]
fn first_x5c_certificate(x5c: &serde_json::Value) -> Result<Vec<u8>, String> {
    use base64::Engine as _;

    let entries = x5c
        .as_array()
        .ok_or("must be an array of base64 DER certificates (RFC 7517 section 4.7)")?;
    if entries.is_empty() {
        return Err("must hold at least the key's certificate (RFC 7517 section 4.7)".to_owned());
    }
    let mut first = None;
    for (index, entry) in entries.iter().enumerate() {
        let text = entry
            .as_str()
            .ok_or_else(|| format!("[{index}] is not a string"))?;
        let der = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                format!(
                    "[{index}] is not base64 (standard alphabet with padding, RFC 7517 section 4.7)"
                )
            })?;
        ccflow_tls::CertificateNames::from_der(&der)
            .map_err(|error| format!("[{index}] is not an X.509 certificate: {error}"))?;
        first.get_or_insert(der);
    }
    first.ok_or_else(|| "holds no certificate".to_owned())
}

/// RFC 7517 §4.7: "The key in the first certificate MUST match the public key represented by
/// other members of the JWK": EC `x`/`y` against the certificate's point, RSA `n`/`e` against
/// its RSAPublicKey (leading zero bytes aside), OKP `x` against its raw key.
#[cfg(feature = "tls")]
fn same_key(jwk: &Jwk, der: &[u8]) -> Result<(), String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let key = ccflow_tls::subject_public_key(der).map_err(|error| error.to_string())?;
    let decode =
        |member: Option<&String>| member.and_then(|value| URL_SAFE_NO_PAD.decode(value).ok());
    let unsigned = |bytes: &[u8]| -> Vec<u8> {
        let start = bytes
            .iter()
            .position(|byte| *byte != 0)
            .unwrap_or(bytes.len());
        bytes[start..].to_vec()
    };
    let same = match jwk.kty.as_str() {
        "EC" => match (decode(jwk.x.as_ref()), decode(jwk.y.as_ref())) {
            (Some(x), Some(y)) => key.split_first() == Some((&4, [x, y].concat().as_slice())),
            _ => false,
        },
        "RSA" => {
            let parts = ccflow_tls::der_element(&key, 0x30).and_then(|(sequence, _)| {
                let (n, rest) = ccflow_tls::der_element(sequence, 0x02)?;
                let (e, _) = ccflow_tls::der_element(rest, 0x02)?;
                Some((unsigned(n), unsigned(e)))
            });
            match (parts, decode(jwk.n.as_ref()), decode(jwk.e.as_ref())) {
                (Some((n, e)), Some(jwk_n), Some(jwk_e)) => {
                    n == unsigned(&jwk_n) && e == unsigned(&jwk_e)
                }
                _ => false,
            }
        }
        "OKP" => decode(jwk.x.as_ref()).is_some_and(|x| x == key),
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(
            "the certificate's public key is not the key of this JWK (RFC 7517 section 4.7)"
                .to_owned(),
        )
    }
}

#[cfg(not(feature = "tls"))]
fn checked(_: MtlsFields, _: &[&Jwk]) -> Result<MtlsRegistration, (&'static str, String)> {
    Err((
        "auth_methods",
        "mutual TLS needs ccflow-auth-server's `tls` feature".to_owned(),
    ))
}

/// What the server trusts for `tls_client_auth` (RFC 8705 §2.1): its own generated CA and
/// any configured client CA file.
#[derive(Clone, Debug)]
pub(crate) struct MtlsTrust {
    #[cfg(feature = "tls")]
    pub(crate) roots: Option<ccflow_tls::ClientCertificateRoots>,
    /// The run's generated CA, which also issues client certificates for tests
    /// (`POST /_ccflow/clients/{id}/certificate`); `None` with certificate files.
    #[cfg(feature = "tls")]
    pub(crate) ca: Option<std::sync::Arc<ccflow_tls::CertificateAuthority>>,
}

/// Why no client certificate could be issued.
#[cfg(feature = "tls")]
#[derive(Debug, thiserror::Error)]
pub(crate) enum IssueError {
    /// The server made no CA of its own (plain HTTP, or certificate files).
    #[error(
        "this server has no CA of its own to issue from: start it with --tls (or --https-bind without --tls-cert)"
    )]
    NoCa,
    /// The names given cannot go in a certificate.
    #[error("cannot issue the certificate: {0}")]
    Issue(String),
}

/// A client certificate (and its key) for `client_id` from the run's generated CA in `trust`:
/// subject `CN=<client_id>`, plus a DNS subject alternative name if given (RFC 8705 §2.1.2).
#[cfg(feature = "tls")]
pub(crate) fn issue_client_certificate(
    trust: Option<&MtlsTrust>,
    client_id: &str,
    dns_name: Option<&str>,
) -> Result<ccflow_tls::IssuedCertificate, IssueError> {
    let ca = trust
        .and_then(|trust| trust.ca.as_ref())
        .ok_or(IssueError::NoCa)?;
    let mut subject = ccflow_tls::ClientSubject::new(client_id);
    if let Some(dns_name) = dns_name {
        subject = subject.dns_name(dns_name);
    }
    ca.issue_client_certificate(&subject)
        .map_err(|error| IssueError::Issue(error.to_string()))
}

/// Authenticates client `client_id`, registered with `methods` and `registration`, by the
/// connection's `certificate` with the first of its mTLS methods the certificate satisfies;
/// the error says what is missing or wrong (all `invalid_client`, RFC 8705 §2 and RFC 6749
/// §5.2).
pub(crate) fn authenticate(
    (client_id, methods, registration): (&str, &[AuthMethod], &MtlsRegistration),
    certificate: Option<&ClientCertificate>,
    trust: Option<&MtlsTrust>,
    now: i64,
) -> Result<(), ErrorResponse> {
    let methods: Vec<AuthMethod> = methods
        .iter()
        .copied()
        .filter(|method| method.is_mutual_tls())
        .collect();
    let id = truncate(client_id);
    let Some(certificate) = certificate else {
        let names: Vec<&str> = methods.iter().map(|method| method.as_str()).collect();
        return Err(ErrorResponse::invalid_client(format!(
            "client `{id}` authenticates with {} (RFC 8705 section 2): the request came without a client certificate (send it over HTTPS with the client's certificate and key)",
            names.join(" or ")
        )));
    };
    let mut why = Vec::new();
    for method in methods {
        match check(registration, method, certificate, trust, now) {
            Ok(()) => return Ok(()),
            Err(reason) => why.push(format!("{method}: {reason}")),
        }
    }
    Err(ErrorResponse::invalid_client(format!(
        "the client certificate does not authenticate client `{id}`: {}",
        why.join("; ")
    )))
}

#[cfg(feature = "tls")]
fn check(
    registration: &MtlsRegistration,
    method: AuthMethod,
    certificate: &ClientCertificate,
    trust: Option<&MtlsTrust>,
    now: i64,
) -> Result<(), String> {
    match method {
        AuthMethod::SelfSignedTlsClientAuth => {
            // RFC 8705 §2.2: the certificate must be one the client registered (the TLS layer
            // already checked that the client holds its key).
            let registered = registration
                .certificates
                .iter()
                .any(|der| der.as_slice() == certificate.der());
            if registered {
                Ok(())
            } else {
                Err(format!(
                    "it is not the registered certificate (x5t#S256 {})",
                    certificate.thumbprint()
                ))
            }
        }
        AuthMethod::TlsClientAuth => {
            // RFC 8705 §2.1: a chain to a trusted CA, then the registered name (§2.1.2).
            let roots = trust
                .and_then(|trust| trust.roots.as_ref())
                .ok_or("this server trusts no CA for client certificates")?;
            roots
                .verify(certificate.der(), u64::try_from(now).unwrap_or_default())
                .map_err(|error| format!("it does not chain to a trusted CA ({error})"))?;
            let names = ccflow_tls::CertificateNames::from_der(certificate.der())
                .map_err(|error| error.to_string())?;
            if let Some(dn) = &registration.subject_dn {
                let registered = ccflow_tls::DistinguishedName::parse_rfc4514(dn)?;
                if !registered.matches(&names.subject) {
                    return Err(format!(
                        "its subject `{}` is not the registered `{}`",
                        truncate(&names.subject.to_string()),
                        truncate(dn)
                    ));
                }
            }
            if let Some(dns) = &registration.san_dns
                && !names
                    .dns_names
                    .iter()
                    .any(|name| name.eq_ignore_ascii_case(dns))
            {
                return Err(format!(
                    "it has no DNS subject alternative name `{}`",
                    truncate(dns)
                ));
            }
            Ok(())
        }
        _ => Err("not a mutual TLS method".to_owned()),
    }
}

#[cfg(not(feature = "tls"))]
fn check(
    _: &MtlsRegistration,
    _: AuthMethod,
    _: &ClientCertificate,
    _: Option<&MtlsTrust>,
    _: i64,
) -> Result<(), String> {
    Err("this server was built without TLS".to_owned())
}
