//! HTTP Basic client authentication as RFC 6749 §2.3.1 defines it: RFC 7617 over form-urlencoded credentials.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::form::{form_urldecode, form_urlencode};
use crate::{ClientId, ClientSecret, RequestError};

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
    let (client_id, client_secret) = decoded.split_once(':').ok_or(
        RequestError::MalformedBasic("decoded credentials contain no `:`"),
    )?;
    let client_id = form_urldecode(client_id)
        .map_err(|_| RequestError::MalformedBasic("client id is not validly form-urlencoded"))?;
    let client_secret = form_urldecode(client_secret).map_err(|_| {
        RequestError::MalformedBasic("client secret is not validly form-urlencoded")
    })?;
    if client_id.is_empty() {
        return Err(RequestError::MalformedBasic("client id is empty"));
    }
    Ok((ClientId::new(client_id), ClientSecret::new(client_secret)))
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
}
