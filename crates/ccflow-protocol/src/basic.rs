//! HTTP Basic client authentication as RFC 6749 §2.3.1 defines it (RFC 7617 over form-urlencoded
//! credentials), and as vendors document it (the raw `CLIENT_ID:CLIENT_SECRET`, seeds 000, 001, 003).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::form::{form_urldecode, form_urlencode};
use crate::{ClientId, ClientSecret, RequestError};

/// How the id and secret inside `Authorization: Basic` are encoded before base64.
///
/// RFC 6749 §2.3.1 form-urlencodes each part first; SLB (seeds 000, 001) and CyberArk (seed 003)
/// document `base64(CLIENT_ID:CLIENT_SECRET)` with nothing encoded, and their consoles generate
/// secrets with `+`, `/`, `=` and `%`, where the two forms differ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BasicCredentials {
    /// Nothing encoded: the decoded text split at its first `:` is the id and the secret.
    Raw,
    /// RFC 6749 §2.3.1: each part form-urldecoded after the split (the default).
    #[default]
    Rfc6749,
    /// A server accepts both: the raw form is tried first, then the RFC 6749 form where it
    /// differs. A client never sends "either"; it encodes as [`BasicCredentials::Rfc6749`].
    Either,
}

impl BasicCredentials {
    /// Every form, as configuration names them.
    pub const ALL: [BasicCredentials; 3] = [Self::Raw, Self::Rfc6749, Self::Either];

    /// The name configuration uses: `raw`, `rfc6749`, `either`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Rfc6749 => "rfc6749",
            Self::Either => "either",
        }
    }

    /// The form named `name` (`raw`, `rfc6749`, `either`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|form| form.as_str() == name)
    }
}

/// Basic credentials read under [`BasicCredentials::Either`]: the raw form first, and the RFC
/// 6749 form when it decodes and differs. `Debug` redacts the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBasic {
    /// The form tried first: raw under `raw` and `either`, RFC 6749 under `rfc6749`.
    pub client_id: ClientId,
    /// The secret of the first form.
    pub client_secret: ClientSecret,
    /// The RFC 6749 form under `either`, when it differs from the raw one.
    pub alternative: Option<(ClientId, ClientSecret)>,
}

/// The `Authorization` header value for `client_secret_basic` in `form`: RFC 6749 §2.3.1
/// ([`basic_authorization`]) or, for [`BasicCredentials::Raw`], `Basic base64(id ":" secret)`
/// as SLB and CyberArk document it.
pub fn basic_authorization_as(
    form: BasicCredentials,
    client_id: &str,
    client_secret: &str,
) -> String {
    match form {
        BasicCredentials::Raw => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{client_id}:{client_secret}"))
        ),
        BasicCredentials::Rfc6749 | BasicCredentials::Either => {
            basic_authorization(client_id, client_secret)
        }
    }
}

/// Standard alphabet, padding optional on input: clients differ, and the
/// padding carries no information.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `Authorization` header value for `client_secret_basic`
/// (RFC 6749 §2.3.1): `Basic base64(urlencode(id) ":" urlencode(secret))`.
///
/// RFC 6749 requires form-urlencoding each part before RFC 7617 joins them,
/// so ids and secrets may contain `:` and any Unicode.
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let credentials = format!(
        "{}:{}",
        form_urlencode(client_id),
        form_urlencode(client_secret)
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// Parses an `Authorization: Basic` header value into client credentials
/// (RFC 6749 §2.3.1, RFC 7617 §2).
///
/// The scheme is case-insensitive and followed by one or more spaces; the
/// token is standard base64 with or without padding; the decoded text is
/// split at its first `:` and each part form-urldecoded. Errors never
/// contain the header or the secret.
pub fn parse_basic_authorization(
    header_value: &str,
) -> Result<(ClientId, ClientSecret), RequestError> {
    let decoded = parse_basic_authorization_as(BasicCredentials::Rfc6749, header_value)?;
    Ok((decoded.client_id, decoded.client_secret))
}

/// Parses an `Authorization: Basic` header value with the credentials encoded as `form` says
/// (see [`parse_basic_authorization`] for the RFC 6749 form). Under
/// [`BasicCredentials::Either`], credentials that are not validly form-urlencoded are still
/// read raw. Errors never contain the header or the secret.
pub fn parse_basic_authorization_as(
    form: BasicCredentials,
    header_value: &str,
) -> Result<DecodedBasic, RequestError> {
    let header_value = header_value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, token) = match header_value.split_once(' ') {
        Some((scheme, token)) => (scheme, token.trim_start_matches(' ')),
        None => (header_value, ""),
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(RequestError::UnsupportedAuthScheme);
    }
    if token.is_empty() {
        return Err(RequestError::MalformedBasic("credentials are missing"));
    }
    let decoded = LENIENT_STANDARD
        .decode(token)
        .map_err(|_| RequestError::MalformedBasic("credentials are not valid base64"))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| RequestError::MalformedBasic("decoded credentials are not valid UTF-8"))?;
    let (raw_id, raw_secret) = decoded.split_once(':').ok_or(RequestError::MalformedBasic(
        "decoded credentials contain no `:`",
    ))?;
    let rfc6749 = || -> Result<(String, String), RequestError> {
        let client_id = form_urldecode(raw_id).map_err(|_| {
            RequestError::MalformedBasic("client id is not validly form-urlencoded")
        })?;
        let client_secret = form_urldecode(raw_secret).map_err(|_| {
            RequestError::MalformedBasic("client secret is not validly form-urlencoded")
        })?;
        Ok((client_id, client_secret))
    };
    let ((client_id, client_secret), alternative) = match form {
        BasicCredentials::Rfc6749 => (rfc6749()?, None),
        BasicCredentials::Raw => ((raw_id.to_owned(), raw_secret.to_owned()), None),
        BasicCredentials::Either => {
            let alternative = rfc6749()
                .ok()
                .filter(|(id, secret)| (id.as_str(), secret.as_str()) != (raw_id, raw_secret))
                .filter(|(id, _)| !id.is_empty());
            ((raw_id.to_owned(), raw_secret.to_owned()), alternative)
        }
    };
    if client_id.is_empty() {
        return Err(RequestError::MalformedBasic("client id is empty"));
    }
    Ok(DecodedBasic {
        client_id: ClientId::new(client_id),
        client_secret: ClientSecret::new(client_secret),
        alternative: alternative.map(|(id, secret)| (ClientId::new(id), ClientSecret::new(secret))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(raw: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    #[test]
    fn encodes_the_rfc_6749_form_of_basic_credentials() {
        assert_eq!(basic_authorization("a b", "c+d"), "Basic YStiOmMlMkJk");
        assert_eq!(
            basic_authorization("id", "secret"),
            format!("Basic {}", encode("id:secret"))
        );
    }

    #[test]
    fn round_trips_awkward_characters() {
        let awkward = " %&+£€:@/";
        let header = basic_authorization(&format!("id{awkward}"), &format!("secret{awkward}"));
        let (client_id, client_secret) = parse_basic_authorization(&header).unwrap();
        assert_eq!(client_id.as_str(), format!("id{awkward}"));
        assert_eq!(client_secret.expose_secret(), format!("secret{awkward}"));
    }

    #[test]
    fn parses_valid_headers() {
        #[track_caller]
        fn check(header: &str, client_id: &str, client_secret: &str) {
            let (id, secret) = parse_basic_authorization(header).unwrap();
            assert_eq!(
                (id.as_str(), secret.expose_secret()),
                (client_id, client_secret),
                "{header:?}"
            );
        }
        check("Basic YStiOmMlMkJk", "a b", "c+d");
        check("basic YStiOmMlMkJk", "a b", "c+d");
        check("BASIC   YStiOmMlMkJk", "a b", "c+d");
        check(&format!("Basic {}", encode("id:secret")), "id", "secret");
        // "id:secre" encodes with one `=` of padding; accept it without.
        check("Basic aWQ6c2VjcmU=", "id", "secre");
        check("Basic aWQ6c2VjcmU", "id", "secre");
        // The first `:` splits; later ones belong to the secret.
        check(&format!("Basic {}", encode("id:a:b")), "id", "a:b");
        check(&format!("Basic {}", encode("id:")), "id", "");
        check(&format!("Basic {}", encode("caf%C3%A9:s")), "café", "s");
    }

    #[test]
    fn rejects_malformed_basic_credentials() {
        #[track_caller]
        fn check(header: &str, expected: RequestError) {
            assert_eq!(
                parse_basic_authorization(header).map(|_| ()),
                Err(expected),
                "{header:?}"
            );
        }
        let malformed = RequestError::MalformedBasic;
        check("Basic", malformed("credentials are missing"));
        check("Basic ", malformed("credentials are missing"));
        check("Basic !!!!", malformed("credentials are not valid base64"));
        check(
            "Basic aWQ6c2VjcmV0=x",
            malformed("credentials are not valid base64"),
        );
        check(
            "Basic aWQ6c2VjcmV0 extra",
            malformed("credentials are not valid base64"),
        );
        check(
            "Basic aWQtc2VjcmV0",
            malformed("decoded credentials contain no `:`"),
        );
        check(
            &format!("Basic {}", encode(":secret")),
            malformed("client id is empty"),
        );
        check(
            &format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(b"id:\xff")
            ),
            malformed("decoded credentials are not valid UTF-8"),
        );
        check(
            &format!("Basic {}", encode("i%zz:secret")),
            malformed("client id is not validly form-urlencoded"),
        );
        check(
            &format!("Basic {}", encode("id:%FF")),
            malformed("client secret is not validly form-urlencoded"),
        );
    }

    #[test]
    fn rejects_other_schemes() {
        #[track_caller]
        fn check(header: &str) {
            assert_eq!(
                parse_basic_authorization(header).map(|_| ()),
                Err(RequestError::UnsupportedAuthScheme),
                "{header:?}"
            );
        }
        check("Bearer abc");
        check("Digest username=x");
        check("");
        check("Basicx YStiOmMlMkJk");
        check("YStiOmMlMkJk");
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let header = format!("Basic {}", encode("id:topsecret%zz"));
        let error = parse_basic_authorization(&header).unwrap_err();
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("topsecret"), "{text}");
            assert!(!text.contains(&header), "{text}");
        }
    }

    #[test]
    fn reads_each_form_of_a_vendor_secret() {
        // A console-generated secret: `+`, `/`, `=` and `%` differ between the two forms.
        let raw_header = basic_authorization_as(BasicCredentials::Raw, "svc", "k7+Qz/w==%2B");
        assert_eq!(raw_header, format!("Basic {}", encode("svc:k7+Qz/w==%2B")));
        let rfc_header = basic_authorization_as(BasicCredentials::Rfc6749, "svc", "k7+Qz/w==%2B");
        #[track_caller]
        fn check(form: BasicCredentials, header: &str, first: &str, alternative: Option<&str>) {
            let decoded = parse_basic_authorization_as(form, header).unwrap();
            assert_eq!(decoded.client_id.as_str(), "svc");
            assert_eq!(decoded.client_secret.expose_secret(), first, "{form:?}");
            assert_eq!(
                decoded
                    .alternative
                    .as_ref()
                    .map(|(_, secret)| secret.expose_secret()),
                alternative,
                "{form:?}"
            );
        }
        check(BasicCredentials::Raw, &raw_header, "k7+Qz/w==%2B", None);
        check(BasicCredentials::Rfc6749, &raw_header, "k7 Qz/w==+", None);
        check(
            BasicCredentials::Either,
            &raw_header,
            "k7+Qz/w==%2B",
            Some("k7 Qz/w==+"),
        );
        check(BasicCredentials::Rfc6749, &rfc_header, "k7+Qz/w==%2B", None);
        check(
            BasicCredentials::Either,
            &rfc_header,
            "k7%2BQz%2Fw%3D%3D%252B",
            Some("k7+Qz/w==%2B"),
        );
        // Identical forms give no alternative; a malformed RFC form is still read raw.
        check(
            BasicCredentials::Either,
            &basic_authorization("svc", "plain"),
            "plain",
            None,
        );
        check(
            BasicCredentials::Either,
            &format!("Basic {}", encode("svc:50%zz")),
            "50%zz",
            None,
        );
        assert_eq!(
            parse_basic_authorization_as(BasicCredentials::Raw, &format!("Basic {}", encode(":s")))
                .map(|_| ()),
            Err(RequestError::MalformedBasic("client id is empty"))
        );
        for form in BasicCredentials::ALL {
            assert_eq!(BasicCredentials::from_name(form.as_str()), Some(form));
        }
        assert_eq!(BasicCredentials::from_name("RAW"), None);
    }
}
