//! What mutual TLS client authentication reads from a client certificate (RFC 8705 §2.1):
//! its subject distinguished name and DNS subject alternative names, compared with a
//! client's registration, and whether it chains to a trusted CA. Parsing is rustls-webpki's
//! (already under rustls), plus a small reader for the subject's attributes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use crate::TlsError;

/// One attribute of a distinguished name: its type (a short name such as `CN`, or a dotted
/// OID) and its value.
type Attribute = (String, String);

/// A distinguished name, most significant RDN first as in the certificate; each RDN a set of
/// attributes (usually one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistinguishedName(Vec<Vec<Attribute>>);

impl DistinguishedName {
    /// Parses the RFC 4514 string form, e.g. `CN=svc,O=Example` (least significant RDN
    /// first), what RFC 8705 §2.1.2's `tls_client_auth_subject_dn` holds.
    pub fn parse_rfc4514(text: &str) -> Result<Self, String> {
        let mut rdns: Vec<Vec<Attribute>> = Vec::new();
        let mut rdn: Vec<Attribute> = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars().peekable();
        let finish = |current: &mut String, rdn: &mut Vec<Attribute>| -> Result<(), String> {
            let (kind, value) = current
                .split_once('=')
                .ok_or_else(|| format!("`{current}` is not TYPE=value"))?;
            let kind = normalise_type(kind.trim());
            if kind.is_empty() {
                return Err(format!("`{current}` has no attribute type"));
            }
            rdn.push((kind, unescape(value.trim())?));
            current.clear();
            Ok(())
        };
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    current.push('\\');
                    current.extend(chars.next());
                }
                '+' => finish(&mut current, &mut rdn)?,
                ',' | ';' => {
                    finish(&mut current, &mut rdn)?;
                    rdns.push(std::mem::take(&mut rdn));
                }
                c => current.push(c),
            }
        }
        if text.trim().is_empty() {
            return Err("the distinguished name is empty".to_owned());
        }
        finish(&mut current, &mut rdn)?;
        rdns.push(rdn);
        // RFC 4514 §2.1: the string lists the last RDN of the sequence first.
        rdns.reverse();
        Ok(Self(rdns))
    }

    /// Whether `self` and `other` name the same subject: same RDNs in the same order, each
    /// the same set of attributes, types compared by OID, values ignoring case and
    /// surrounding spaces (caseIgnoreMatch, RFC 4517 §4.2.11, the matching rule of the usual
    /// naming attributes).
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        let normal = |dn: &Self| -> Vec<Vec<Attribute>> {
            dn.0.iter()
                .map(|rdn| {
                    let mut rdn: Vec<Attribute> = rdn
                        .iter()
                        .map(|(kind, value)| (kind.clone(), value.trim().to_lowercase()))
                        .collect();
                    rdn.sort();
                    rdn
                })
                .collect()
        };
        normal(self) == normal(other)
    }
}

impl fmt::Display for DistinguishedName {
    /// The RFC 4514 string: least significant RDN first, `,` between RDNs, `+` inside one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rdns: Vec<String> = self
            .0
            .iter()
            .rev()
            .map(|rdn| {
                rdn.iter()
                    .map(|(kind, value)| format!("{kind}={}", escape(value)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect();
        f.write_str(&rdns.join(","))
    }
}

/// The names in a client certificate that RFC 8705 §2.1.2 registrations name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateNames {
    /// The subject distinguished name.
    pub subject: DistinguishedName,
    /// The DNS names of the subject alternative name extension.
    pub dns_names: Vec<String>,
}

impl CertificateNames {
    /// Reads the names of a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, TlsError> {
        let bad = |why: String| TlsError::BadCertificate(why);
        let certificate = CertificateDer::from(der);
        let parsed = webpki::EndEntityCert::try_from(&certificate)
            .map_err(|error| bad(format!("not an X.509 certificate: {error}")))?;
        let subject = read_name(parsed.subject()).map_err(bad)?;
        let dns_names = parsed.valid_dns_names().map(str::to_owned).collect();
        Ok(Self { subject, dns_names })
    }
}

/// The subject public key of a DER certificate: the contents of its SubjectPublicKeyInfo's
/// BIT STRING (RFC 5280 §4.1.2.7), e.g. an EC point `04 || x || y` (RFC 5480 §2.2) or an
/// RSAPublicKey (RFC 8017 §A.1.1). For comparing a certificate with a JWK (RFC 7517 §4.7).
pub fn subject_public_key(der: &[u8]) -> Result<Vec<u8>, TlsError> {
    let bad = |why: &str| TlsError::BadCertificate(why.to_owned());
    let certificate = CertificateDer::from(der);
    let parsed = webpki::EndEntityCert::try_from(&certificate)
        .map_err(|error| TlsError::BadCertificate(format!("not an X.509 certificate: {error}")))?;
    let spki = parsed.subject_public_key_info();
    // SEQUENCE { AlgorithmIdentifier (a SEQUENCE), BIT STRING }.
    let (spki, _) = der_element(spki.as_ref(), 0x30).ok_or_else(|| bad("no key info"))?;
    let (_algorithm, rest) = der_element(spki, 0x30).ok_or_else(|| bad("no algorithm"))?;
    let (bits, rest) = der_element(rest, 0x03).ok_or_else(|| bad("no subject public key"))?;
    match (bits, rest) {
        ([0, key @ ..], []) => Ok(key.to_vec()),
        _ => Err(bad("the subject public key is not whole bytes")),
    }
}

/// One DER element of type `tag` at the start of `input`: its contents and what follows.
pub fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            let length = bytes
                .iter()
                .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
            (length, rest)
        }
        _ => return None,
    };
    rest.split_at_checked(length)
}

/// The CAs a `tls_client_auth` certificate must chain to (RFC 8705 §2.1): path building,
/// signatures, validity period and the clientAuth extended key usage, by rustls's WebPKI
/// verifier on aws-lc-rs.
#[derive(Clone)]
pub struct ClientCertificateRoots {
    verifier: Arc<dyn ClientCertVerifier>,
    count: usize,
}

impl ClientCertificateRoots {
    /// Trusts `roots` (intermediate CAs may be listed too: the client's connection gives only
    /// its end-entity certificate to the application).
    pub fn new(roots: Vec<CertificateDer<'static>>) -> Result<Self, TlsError> {
        let mut store = RootCertStore::empty();
        let count = roots.len();
        for root in roots {
            store
                .add(root)
                .map_err(|error| TlsError::BadCertificate(format!("not a usable CA: {error}")))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
            .build()
            .map_err(|error| TlsError::Configure(error.to_string()))?;
        Ok(Self { verifier, count })
    }

    /// Checks that the DER certificate chains to a trusted CA at `now` (Unix seconds); the
    /// error says why not.
    pub fn verify(&self, der: &[u8], now: u64) -> Result<(), String> {
        self.verifier
            .verify_client_cert(
                &CertificateDer::from(der),
                &[],
                UnixTime::since_unix_epoch(Duration::from_secs(now)),
            )
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

impl fmt::Debug for ClientCertificateRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificateRoots")
            .field("count", &self.count)
            .finish()
    }
}

/// Short names of the attribute types RFC 4514 §3 lists, with their OIDs' DER contents.
const TYPES: [(&str, &[u8]); 9] = [
    ("CN", &[0x55, 0x04, 0x03]),
    ("C", &[0x55, 0x04, 0x06]),
    ("L", &[0x55, 0x04, 0x07]),
    ("ST", &[0x55, 0x04, 0x08]),
    ("STREET", &[0x55, 0x04, 0x09]),
    ("O", &[0x55, 0x04, 0x0a]),
    ("OU", &[0x55, 0x04, 0x0b]),
    (
        "DC",
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
    ),
    (
        "UID",
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
    ),
];

/// A type as given in a string: a known short name upper-cased, a known OID as its short name.
fn normalise_type(kind: &str) -> String {
    let upper = kind.to_ascii_uppercase();
    let oid = upper.strip_prefix("OID.").unwrap_or(&upper);
    TYPES
        .iter()
        .find(|(name, der)| *name == upper || dotted(der).as_deref() == Some(oid))
        .map_or(oid.to_owned(), |(name, _)| (*name).to_owned())
}

/// One TLV of DER: tag, content, rest.
fn read_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let truncated = || "truncated DER in the subject".to_owned();
    let (&tag, rest) = input.split_first().ok_or_else(truncated)?;
    let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(truncated());
        }
        let length = rest[..n]
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, &rest[n..])
    };
    if rest.len() < length {
        return Err(truncated());
    }
    Ok((tag, &rest[..length], &rest[length..]))
}

/// The subject's RDN sequence (the Name's content, as webpki gives it).
fn read_name(mut input: &[u8]) -> Result<DistinguishedName, String> {
    let mut rdns = Vec::new();
    while !input.is_empty() {
        let (tag, mut set, rest) = read_tlv(input)?;
        input = rest;
        if tag != 0x31 {
            return Err("an RDN is not a SET".to_owned());
        }
        let mut rdn = Vec::new();
        while !set.is_empty() {
            let (tag, attribute, rest) = read_tlv(set)?;
            set = rest;
            if tag != 0x30 {
                return Err("an attribute is not a SEQUENCE".to_owned());
            }
            let (tag, oid, value_tlv) = read_tlv(attribute)?;
            if tag != 0x06 {
                return Err("an attribute type is not an OID".to_owned());
            }
            let kind = TYPES
                .iter()
                .find(|(_, der)| *der == oid)
                .map(|(name, _)| (*name).to_owned())
                .or_else(|| dotted(oid))
                .ok_or_else(|| "a malformed OID".to_owned())?;
            let (value_tag, value, _) = read_tlv(value_tlv)?;
            let value = match value_tag {
                // UTF8String, PrintableString, IA5String, NumericString.
                0x0c | 0x13 | 0x16 | 0x12 => String::from_utf8_lossy(value).into_owned(),
                // TeletexString, read as Latin-1 as most software does.
                0x14 => value.iter().map(|&byte| char::from(byte)).collect(),
                // BMPString (UCS-2).
                0x1e => String::from_utf16_lossy(
                    &value
                        .chunks(2)
                        .map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]))
                        .collect::<Vec<_>>(),
                ),
                // Anything else: RFC 4514 §2.4's `#` and the hex of the whole encoding.
                _ => format!(
                    "#{}",
                    value_tlv
                        .iter()
                        .map(|byte| format!("{byte:02x}"))
                        .collect::<String>()
                ),
            };
            rdn.push((kind, value));
        }
        rdns.push(rdn);
    }
    Ok(DistinguishedName(rdns))
}

/// The dotted form of an OID's DER content.
fn dotted(der: &[u8]) -> Option<String> {
    let (&first, rest) = der.split_first()?;
    let mut parts = vec![u64::from(first / 40).min(2), 0];
    parts[1] = u64::from(first) - parts[0] * 40;
    let mut value: u64 = 0;
    for &byte in rest {
        value = value.checked_mul(128)? | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            parts.push(value);
            value = 0;
        }
    }
    Some(
        parts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// RFC 4514 §2.4 escaping of a value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (index, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (index == 0 && matches!(c, '#' | ' '))
            || (index == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 4514 §3 unescaping: `\` then a special character, or two hex digits (UTF-8 bytes).
fn unescape(value: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buffer = [0; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        let next = chars
            .next()
            .ok_or_else(|| format!("`{value}` ends with a lone backslash"))?;
        if next.is_ascii_hexdigit() {
            let low = chars
                .next()
                .filter(char::is_ascii_hexdigit)
                .ok_or_else(|| format!("`{value}` has a bad \\XX escape"))?;
            let pair: String = [next, low].iter().collect();
            bytes.push(u8::from_str_radix(&pair, 16).map_err(|error| error.to_string())?);
        } else {
            let mut buffer = [0; 4];
            bytes.extend_from_slice(next.encode_utf8(&mut buffer).as_bytes());
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("`{value}` escapes bytes that are not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CertificateAuthority, ClientSubject, IssuedCertificate};

    #[test]
    fn registered_subject_dns_match_as_rfc_4514_and_rfc_4517_say() {
        // (registered, presented as an RFC 4514 string, match)
        let cases = [
            ("CN=svc", "CN=svc", true),
            ("cn = SVC ", "CN=svc", true),
            ("2.5.4.3=svc", "CN=svc", true),
            ("CN=svc,O=Example", "CN=svc,O=Example", true),
            // Order matters: a DN is a sequence.
            ("O=Example,CN=svc", "CN=svc,O=Example", false),
            ("CN=svc+OU=a,O=Example", "OU=a+CN=svc,O=Example", true),
            ("CN=svc", "CN=svc2", false),
            ("CN=a\\,b", "CN=a\\2cb", true),
            ("CN=svc", "CN=svc,O=Example", false),
        ];
        for (registered, presented, expected) in cases {
            let registered = DistinguishedName::parse_rfc4514(registered).unwrap();
            let presented = DistinguishedName::parse_rfc4514(presented).unwrap();
            assert_eq!(
                registered.matches(&presented),
                expected,
                "{registered} {presented}"
            );
        }
        for bad in ["", "svc", "=svc", "CN=svc\\"] {
            assert!(DistinguishedName::parse_rfc4514(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_certificate_s_names_are_read_and_printed_in_rfc_4514_form() {
        let ca = CertificateAuthority::generate().unwrap();
        let issued = ca
            .issue_client_certificate(&ClientSubject::new("svc, a+b").dns_name("svc.example"))
            .unwrap();
        let names = CertificateNames::from_der(issued.certificate_der()).unwrap();
        assert_eq!(names.subject.to_string(), "CN=svc\\, a\\+b");
        assert!(
            names
                .subject
                .matches(&DistinguishedName::parse_rfc4514("cn=SVC\\, A\\+B").unwrap())
        );
        assert_eq!(names.dns_names, ["svc.example"]);
        assert!(CertificateNames::from_der(b"not a certificate").is_err());
    }

    #[test]
    fn only_certificates_issued_by_a_trusted_ca_chain() {
        let now = 1_800_000_000;
        let ca = CertificateAuthority::generate().unwrap();
        let other = CertificateAuthority::generate().unwrap();
        let roots = ClientCertificateRoots::new(vec![ca.certificate_der().clone()]).unwrap();
        let subject = ClientSubject::new("svc");
        let cases = [
            (ca.issue_client_certificate(&subject).unwrap(), true),
            (other.issue_client_certificate(&subject).unwrap(), false),
            (IssuedCertificate::self_signed(&subject).unwrap(), false),
        ];
        for (issued, expected) in cases {
            let verdict = roots.verify(issued.certificate_der(), now);
            assert_eq!(verdict.is_ok(), expected, "{verdict:?}");
        }
    }
}
