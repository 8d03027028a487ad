//! The client certificate a TLS-terminating proxy forwards in a header (RFC 8705 §3 behind a
//! proxy): which header and format, which peer addresses are trusted to send it, and reading it
//! (Envoy's `X-Forwarded-Client-Cert`, or a URL-encoded PEM as nginx's
//! `$ssl_client_escaped_cert`). Framework-free; the adapters only hand over the peer address and
//! the header's values.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use aws_lc_rs::digest::{SHA256, digest};
use ccflow_protocol::mtls::ClientCertificate;

/// How the proxy writes the certificate into the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedCertificateFormat {
    /// Envoy's `X-Forwarded-Client-Cert`: comma-separated elements, one per proxy, each
    /// `Key=value` pairs separated by `;` (values with `,`, `;` or `=` double-quoted). The
    /// certificate is the **last** element's `Cert` (URL-encoded PEM): the element the proxy
    /// next to this API added for the TLS client it saw. Earlier elements are what that proxy was
    /// sent, so anyone could have written them: they are never read. When the element also has
    /// a `Hash` (hex SHA-256 of the certificate), it must agree with `Cert`.
    Xfcc,
    /// The certificate as URL-encoded PEM, one header value: nginx's
    /// `proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;` (nginx sends no header
    /// when the client presented no certificate). A plain PEM needs no decoding and passes too.
    EscapedPem,
}

impl ForwardedCertificateFormat {
    /// The name used in configuration: `xfcc` or `pem`.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardedCertificateFormat::Xfcc => "xfcc",
            ForwardedCertificateFormat::EscapedPem => "pem",
        }
    }

    /// The format a header of this name usually has: `xfcc` for `X-Forwarded-Client-Cert`
    /// (Envoy's name), `pem` for any other (nginx's variable goes in a header the user names).
    pub fn default_for(header: &str) -> Self {
        if header.eq_ignore_ascii_case("x-forwarded-client-cert") {
            ForwardedCertificateFormat::Xfcc
        } else {
            ForwardedCertificateFormat::EscapedPem
        }
    }
}

impl FromStr for ForwardedCertificateFormat {
    type Err = String;

    /// `xfcc` or `pem`, in any case.
    fn from_str(name: &str) -> Result<Self, String> {
        [
            ForwardedCertificateFormat::Xfcc,
            ForwardedCertificateFormat::EscapedPem,
        ]
        .into_iter()
        .find(|format| format.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("`{name}` is not a client certificate header format (xfcc or pem)"))
    }
}

impl fmt::Display for ForwardedCertificateFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An IP address or a CIDR block (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`): a proxy
/// address trusted to forward client certificates. Bits past the prefix are ignored
/// (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`) counts as its
/// IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// A network of `prefix` bits; `None` when the prefix is longer than the address.
    pub fn new(address: IpAddr, prefix: u8) -> Option<Self> {
        let bits = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        (prefix <= bits).then_some(Self {
            address: address.to_canonical(),
            prefix: if address.to_canonical().is_ipv4() && address.is_ipv6() {
                prefix.saturating_sub(96)
            } else {
                prefix
            },
        })
    }

    /// Whether `address` is in this network.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("`{text}` is not an IP address or CIDR block (e.g. 10.0.0.0/8)");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let prefix = match prefix {
            Some(prefix) if prefix.bytes().all(|byte| byte.is_ascii_digit()) => {
                prefix.parse::<u8>().map_err(|_| invalid())?
            }
            Some(_) => return Err(invalid()),
            None if address.is_ipv4() => 32,
            None => 128,
        };
        IpNetwork::new(address, prefix).ok_or_else(invalid)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.address, self.prefix)
    }
}

/// The validator's proxy settings, checked by the builder.
#[derive(Debug, Clone)]
pub(crate) struct ForwardedCertificate {
    /// The header's name, lower case.
    pub(crate) header: String,
    pub(crate) format: ForwardedCertificateFormat,
    pub(crate) trusted_proxies: Vec<IpNetwork>,
}

impl ForwardedCertificate {
    /// Whether a request from `peer` may carry a forwarded certificate.
    pub(crate) fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|network| network.contains(peer))
    }
}

/// Why a forwarded certificate could not be read. Fixed sentences: never the header's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unreadable {
    #[error("the header is not text")]
    NotText,
    #[error("the header appears more than once")]
    Repeated,
    #[error("the value is not correctly URL-encoded")]
    BadEscape,
    #[error("the value is not one PEM CERTIFICATE block")]
    NotPem,
    #[error("the certificate is not DER (an ASN.1 SEQUENCE filling the PEM block)")]
    NotDer,
    #[error("the last X-Forwarded-Client-Cert element is not Key=value pairs")]
    BadElement,
    #[error(
        "the last X-Forwarded-Client-Cert element has no Cert (is the proxy set to forward it?)"
    )]
    NoCert,
    #[error("the X-Forwarded-Client-Cert Hash is not the SHA-256 of its Cert")]
    HashMismatch,
}

/// The client certificate in the header's `values` (every value, in order), `None` when the
/// proxy forwarded none (no header, or an empty value).
pub(crate) fn read(
    format: ForwardedCertificateFormat,
    values: &[&[u8]],
) -> Result<Option<ClientCertificate>, Unreadable> {
    let texts = values
        .iter()
        .map(|value| std::str::from_utf8(value).map(str::trim))
        .collect::<Result<Vec<&str>, _>>()
        .map_err(|_| Unreadable::NotText)?;
    match format {
        ForwardedCertificateFormat::EscapedPem => match texts[..] {
            [] | [""] => Ok(None),
            [text] => certificate_from_escaped_pem(text).map(Some),
            _ => Err(Unreadable::Repeated),
        },
        // Several header lines are one comma-separated list (RFC 9110 §5.3).
        ForwardedCertificateFormat::Xfcc => {
            let joined = texts.join(",");
            let Some(element) = last_element(&joined) else {
                return Ok(None);
            };
            from_xfcc_element(element).map(Some)
        }
    }
}

/// The last comma-separated element outside double quotes, if any is not blank.
fn last_element(text: &str) -> Option<&str> {
    let mut start = 0;
    let mut last = None;
    let mut quoted = false;
    let mut escaped = false;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                last = Some(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    let tail = &text[start..];
    let element = if tail.trim().is_empty() {
        last
    } else {
        Some(tail)
    };
    element.map(str::trim).filter(|element| !element.is_empty())
}

/// `Key=value;Key="value"…`: the certificate of `Cert`, checked against `Hash` when present.
fn from_xfcc_element(element: &str) -> Result<ClientCertificate, Unreadable> {
    let mut cert = None;
    let mut hash = None;
    for pair in split_outside_quotes(element, b';') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').ok_or(Unreadable::BadElement)?;
        let value = unquote(value.trim())?;
        // Keys are case-insensitive (Envoy's documentation of the header).
        if key.trim().eq_ignore_ascii_case("cert") {
            cert = Some(value);
        } else if key.trim().eq_ignore_ascii_case("hash") {
            hash = Some(value);
        }
    }
    let certificate = certificate_from_escaped_pem(&cert.ok_or(Unreadable::NoCert)?)?;
    if let Some(hash) = hash {
        let expected = hex(digest(&SHA256, certificate.der()).as_ref());
        if !hash.eq_ignore_ascii_case(&expected) {
            return Err(Unreadable::HashMismatch);
        }
    }
    Ok(certificate)
}

fn split_outside_quotes(text: &str, separator: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if byte == separator && !quoted => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A value as written: bare, or double-quoted with `\"` and `\\` escapes.
fn unquote(value: &str) -> Result<String, Unreadable> {
    let Some(inner) = value.strip_prefix('"') else {
        return if value.contains('"') {
            Err(Unreadable::BadElement)
        } else {
            Ok(value.to_owned())
        };
    };
    let inner = inner.strip_suffix('"').ok_or(Unreadable::BadElement)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or(Unreadable::BadElement)?),
            '"' => return Err(Unreadable::BadElement),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A URL-encoded (or plain) PEM certificate. `+` stays `+` (base64 uses it): this is
/// percent-decoding (RFC 3986 §2.1), not form decoding.
fn certificate_from_escaped_pem(text: &str) -> Result<ClientCertificate, Unreadable> {
    let pem_text = percent_decode(text)?;
    let blocks = pem::parse_many(&pem_text).map_err(|_| Unreadable::NotPem)?;
    let [block] = &blocks[..] else {
        return Err(Unreadable::NotPem);
    };
    if block.tag() != "CERTIFICATE" {
        return Err(Unreadable::NotPem);
    }
    let der = block.contents();
    if !is_der_sequence(der) {
        return Err(Unreadable::NotDer);
    }
    Ok(ClientCertificate::from_der(der.to_vec()))
}

fn percent_decode(text: &str) -> Result<Vec<u8>, Unreadable> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes
                .get(index + 1..index + 3)
                .ok_or(Unreadable::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| Unreadable::BadEscape)?;
            if !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return Err(Unreadable::BadEscape);
            }
            out.push(u8::from_str_radix(hex, 16).map_err(|_| Unreadable::BadEscape)?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Ok(out)
}

/// Whether `der` is one DER SEQUENCE (an X.509 certificate's outer shape) and nothing more.
fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (length, body) = match *first {
        short @ 0..=0x7f => (usize::from(short), rest),
        long @ 0x81..=0x84 => {
            let count = usize::from(long & 0x7f);
            let Some((length_bytes, body)) = rest.split_at_checked(count) else {
                return false;
            };
            let length = length_bytes
                .iter()
                .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
            (length, body)
        }
        _ => return false,
    };
    body.len() == length
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// Whether `name` is an HTTP field name (RFC 9110 §5.1: a token).
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER SEQUENCE of `n` zero bytes, PEM-wrapped as a certificate.
    fn pem_of(der: &[u8]) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
    }

    fn escaped(text: &str) -> String {
        text.bytes()
            .map(|byte| {
                if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                    char::from(byte).to_string()
                } else {
                    format!("%{byte:02X}")
                }
            })
            .collect()
    }

    const DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];
    const OTHER_DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x07];

    #[test]
    fn reads_an_escaped_pem() {
        #[track_caller]
        fn check(values: &[&str], expected: Result<Option<&[u8]>, Unreadable>) {
            let values: Vec<&[u8]> = values.iter().map(|value| value.as_bytes()).collect();
            let read = read(ForwardedCertificateFormat::EscapedPem, &values);
            let read = read.map(|certificate| certificate.map(|c| c.der().to_vec()));
            assert_eq!(
                read,
                expected.map(|der| der.map(<[u8]>::to_vec)),
                "{values:?}"
            );
        }
        let pem = pem_of(DER);
        check(&[&escaped(&pem)], Ok(Some(DER)));
        // Unescaped PEM passes as well (nothing to decode).
        check(&[&pem], Ok(Some(DER)));
        check(&[], Ok(None));
        check(&[""], Ok(None));
        check(&[&escaped(&pem), &escaped(&pem)], Err(Unreadable::Repeated));
        check(&["%ZZ"], Err(Unreadable::BadEscape));
        check(&["abc%4"], Err(Unreadable::BadEscape));
        check(&["not a certificate"], Err(Unreadable::NotPem));
        let key = pem::encode(&pem::Pem::new("PRIVATE KEY", DER.to_vec()));
        check(&[&escaped(&key)], Err(Unreadable::NotPem));
        let two = format!("{pem}{}", pem_of(OTHER_DER));
        check(&[&escaped(&two)], Err(Unreadable::NotPem));
        check(&[&escaped(&pem_of(b"hello"))], Err(Unreadable::NotDer));
        check(
            &[&escaped(&pem_of(&[0x30, 0x05, 0x02]))],
            Err(Unreadable::NotDer),
        );
    }

    #[test]
    fn reads_the_last_xfcc_element() {
        #[track_caller]
        fn check(values: &[&str], expected: Result<Option<&[u8]>, Unreadable>) {
            let values: Vec<&[u8]> = values.iter().map(|value| value.as_bytes()).collect();
            let read = read(ForwardedCertificateFormat::Xfcc, &values);
            let read = read.map(|certificate| certificate.map(|c| c.der().to_vec()));
            assert_eq!(
                read,
                expected.map(|der| der.map(<[u8]>::to_vec)),
                "{values:?}"
            );
        }
        let cert = escaped(&pem_of(DER));
        let other = escaped(&pem_of(OTHER_DER));
        let hash = hex(digest(&SHA256, DER).as_ref());
        check(&[&format!("Cert=\"{cert}\"")], Ok(Some(DER)));
        check(&[&format!("Hash={hash};Cert={cert}")], Ok(Some(DER)));
        check(
            &[&format!("Hash={};Cert={cert}", hash.to_uppercase())],
            Ok(Some(DER)),
        );
        check(
            &[&format!(
                "By=spiffe://api;Hash={hash};Cert=\"{cert}\";Subject=\"CN=a,O=b;c=\\\"d\\\"\";URI=spiffe://client;DNS=a.test"
            )],
            Ok(Some(DER)),
        );
        // The last element is the nearest proxy's: an earlier one is what it was sent.
        check(
            &[&format!("Cert=\"{other}\",Cert=\"{cert}\"")],
            Ok(Some(DER)),
        );
        check(
            &[&format!("Cert={other}"), &format!("Cert={cert}")],
            Ok(Some(DER)),
        );
        check(
            &[&format!("Cert={other}, By=x;Subject=\"a,b\";Cert={cert} ")],
            Ok(Some(DER)),
        );
        check(&[&format!("Cert={cert},")], Ok(Some(DER)));
        check(&[], Ok(None));
        check(&[" "], Ok(None));
        check(&["By=spiffe://api;Hash=00"], Err(Unreadable::NoCert));
        check(
            &[&format!("Cert=\"{other}\",By=spiffe://api")],
            Err(Unreadable::NoCert),
        );
        check(
            &[&format!("Hash={};Cert={cert}", "0".repeat(64))],
            Err(Unreadable::HashMismatch),
        );
        check(&["Cert"], Err(Unreadable::BadElement));
        check(&["Cert=\"abc"], Err(Unreadable::BadElement));
        check(&["Cert=ab\"c"], Err(Unreadable::BadElement));
        check(&["Cert=garbage"], Err(Unreadable::NotPem));
        check(&["Cert=%G0"], Err(Unreadable::BadEscape));
    }

    /// Envoy's own examples of the header, verbatim (envoyproxy/envoy,
    /// docs/root/configuration/http/http_conn_man/headers.rst, "x-forwarded-client-cert"):
    /// one element with a quoted `Subject` holding `=` and spaces, two elements, repeated `DNS`
    /// keys. They carry no `Cert` (Envoy adds it only with `set_current_client_cert_details:
    /// {cert: true}`), so they confirm no certificate; with a `Cert` in Envoy's key order (By,
    /// Hash, Cert, Chain, Subject, URI, DNS) the last element's is read. No Envoy runs here
    /// (docs/resource-api.md "Behind a TLS-terminating proxy" says why).
    #[test]
    fn reads_envoy_s_documented_xfcc_examples() {
        const EXAMPLE_1: &str = r#"By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com"#;
        const EXAMPLE_2: &str = "By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com";
        const EXAMPLE_3: &str = r#"By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com"#;
        const DOCUMENTED_HASH: &str =
            "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688";
        #[track_caller]
        fn check(header: &str, expected: Result<Option<&[u8]>, Unreadable>) {
            let read = read(ForwardedCertificateFormat::Xfcc, &[header.as_bytes()]);
            let read = read.map(|certificate| certificate.map(|c| c.der().to_vec()));
            assert_eq!(
                read,
                expected.map(|der| der.map(<[u8]>::to_vec)),
                "{header}"
            );
        }
        let pem = pem_of(DER);
        let cert = escaped(&pem);
        // Only what must be: newlines and spaces, keeping base64's `+`, `/` and `=` (which
        // the quotes protect).
        let lightly = pem.replace('\n', "%0A").replace(' ', "%20");
        let other = escaped(&pem_of(OTHER_DER));
        let hash = hex(digest(&SHA256, DER).as_ref());
        let chain = escaped(&format!("{pem}{}", pem_of(OTHER_DER)));
        let with_cert = |example: &str, cert: &str| {
            example.replacen(
                &format!("Hash={DOCUMENTED_HASH}"),
                &format!("Hash={hash};Cert=\"{cert}\""),
                1,
            )
        };
        // Envoy's examples as written: well-formed, and no certificate in them.
        check(EXAMPLE_1, Err(Unreadable::NoCert));
        check(EXAMPLE_2, Err(Unreadable::NoCert));
        check(EXAMPLE_3, Err(Unreadable::NoCert));
        // With the certificate (and its own Hash) in the element Envoy adds.
        check(&with_cert(EXAMPLE_1, &cert), Ok(Some(DER)));
        check(&with_cert(EXAMPLE_1, &lightly), Ok(Some(DER)));
        check(&with_cert(EXAMPLE_3, &cert), Ok(Some(DER)));
        check(
            &with_cert(EXAMPLE_3, &cert)
                .replace(";Subject=", &format!(";Chain=\"{chain}\";Subject=")),
            Ok(Some(DER)),
        );
        // Two elements: only the last (the nearest proxy's) counts.
        let (first, last) = EXAMPLE_2.split_once(",By=").unwrap();
        let two = format!(
            "{first};Cert=\"{other}\",By={}",
            last.replacen(
                "Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e",
                &format!("Hash={hash};Cert=\"{cert}\""),
                1
            )
        );
        check(&two, Ok(Some(DER)));
        // The last element's Hash (Envoy's documented one) is not its Cert's: refused, and the
        // earlier element's matching Cert is not taken instead.
        let swapped = format!("{first};Cert=\"{cert}\",By={last};Cert=\"{other}\"");
        check(&swapped, Err(Unreadable::HashMismatch));
        // The documented Hash is no digest of this certificate.
        check(
            &format!("{EXAMPLE_1};Cert=\"{cert}\""),
            Err(Unreadable::HashMismatch),
        );
        // Quoted values holding `,`, `;`, `=` and escaped quotes, in several elements.
        check(
            &format!(
                r#"By=spiffe://edge;Subject="CN=Test Client,O=\"Lyft, Inc.\";OU=a=b";Cert="{other}",By=spiffe://api;Hash={hash};Cert="{cert}";Subject="CN=x,OU=\"y;z\"";DNS=a.test;DNS=b.test"#
            ),
            Ok(Some(DER)),
        );
        check(
            &format!(r#"By=spiffe://api;Subject="CN=a,b;c";Cert="{cert}",By=x;Subject="CN=\"z,"#),
            Err(Unreadable::BadElement),
        );
    }

    #[test]
    fn refuses_header_values_that_are_not_text() {
        let values: [&[u8]; 1] = [b"\xff\xfe"];
        for format in [
            ForwardedCertificateFormat::Xfcc,
            ForwardedCertificateFormat::EscapedPem,
        ] {
            assert_eq!(read(format, &values), Err(Unreadable::NotText));
        }
    }

    #[test]
    fn parses_networks_and_matches_peers() {
        #[track_caller]
        fn check(network: &str, peer: &str, expected: bool) {
            let network: IpNetwork = network.parse().unwrap();
            assert_eq!(
                network.contains(peer.parse().unwrap()),
                expected,
                "{network} {peer}"
            );
        }
        check("127.0.0.1", "127.0.0.1", true);
        check("127.0.0.1", "127.0.0.2", false);
        check("127.0.0.1", "::ffff:127.0.0.1", true);
        check("10.0.0.0/8", "10.255.1.2", true);
        check("10.1.2.3/8", "10.9.9.9", true);
        check("10.0.0.0/8", "11.0.0.1", false);
        check("0.0.0.0/0", "192.0.2.1", true);
        check("0.0.0.0/0", "::1", false);
        check("::1", "::1", true);
        check("::1", "127.0.0.1", false);
        check("fd00::/8", "fd12::1", true);
        check("fd00::/8", "fe80::1", false);
        check("::ffff:10.0.0.0/104", "10.1.1.1", true);
        check("::ffff:10.0.0.0/104", "11.1.1.1", false);
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host",
        ] {
            assert!(bad.parse::<IpNetwork>().is_err(), "{bad}");
        }
        assert_eq!(
            "10.0.0.0/8".parse::<IpNetwork>().unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn names_formats_and_defaults_by_header() {
        assert_eq!(
            ForwardedCertificateFormat::default_for("X-Forwarded-Client-Cert"),
            ForwardedCertificateFormat::Xfcc
        );
        assert_eq!(
            ForwardedCertificateFormat::default_for("X-SSL-Client-Cert"),
            ForwardedCertificateFormat::EscapedPem
        );
        assert_eq!("PEM".parse(), Ok(ForwardedCertificateFormat::EscapedPem));
        assert_eq!("xfcc".parse(), Ok(ForwardedCertificateFormat::Xfcc));
        assert!("der".parse::<ForwardedCertificateFormat>().is_err());
        assert!(is_header_name("X-SSL-Client-Cert"));
        assert!(!is_header_name("X SSL"));
        assert!(!is_header_name(""));
        assert!(!is_header_name("x:y"));
    }
}
