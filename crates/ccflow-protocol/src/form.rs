//! The `application/x-www-form-urlencoded` encoding of OAuth requests (RFC 6749 Appendix B), decoded strictly.

use std::collections::HashSet;
use std::fmt;

use crate::RequestError;

/// Parameter names whose values are credentials and never appear in
/// `Debug` output.
const SENSITIVE_PARAMETERS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "assertion",
    "token",
    "access_token",
    "refresh_token",
    "password",
    "code",
    "code_verifier",
];

/// Why a form-urlencoded string failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A `%` not followed by two hexadecimal digits.
    BadPercentEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl DecodeError {
    /// A short reason fit for an error message.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            DecodeError::BadPercentEscape => "`%` must be followed by two hexadecimal digits",
            DecodeError::NotUtf8 => "percent-decoded bytes are not valid UTF-8",
        }
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Decodes one name or value: `+` is a space, `%XX` a byte, and, unlike the
/// WHATWG parser, a stray `%` is an error rather than a literal, because a
/// token endpoint should reject what it cannot read unambiguously.
pub(crate) fn form_urldecode(encoded: &str) -> Result<String, DecodeError> {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => {
                decoded.push(b' ');
                index += 1;
            }
            b'%' => {
                let high = bytes.get(index + 1).copied().and_then(hex_value);
                let low = bytes.get(index + 2).copied().and_then(hex_value);
                match (high, low) {
                    (Some(high), Some(low)) => decoded.push(high << 4 | low),
                    _ => return Err(DecodeError::BadPercentEscape),
                }
                index += 3;
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| DecodeError::NotUtf8)
}

/// Serializes a string as `application/x-www-form-urlencoded` (the WHATWG
/// byte serializer RFC 6749 Appendix B points to): ASCII alphanumerics and
/// `*-._` stay, a space becomes `+`, every other UTF-8 byte becomes `%XX`
/// with upper-case hex.
pub fn form_urlencode(text: &str) -> String {
    // The `form_urlencoded` crate (re-exported by `url`) implements exactly this serializer.
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Whether a `Content-Type` value is `application/x-www-form-urlencoded`
/// in UTF-8 (RFC 6749 Appendix B): the media type compares
/// case-insensitively, parameters may follow, and a `charset` must be
/// `utf-8`.
fn is_utf8_form_content_type(content_type: &str) -> bool {
    if !crate::media::is_form(content_type) {
        return false;
    }
    let mut parts = content_type.split(';');
    parts.next();
    for parameter in parts {
        let parameter = parameter.trim();
        if parameter.is_empty() {
            continue;
        }
        let Some((name, value)) = parameter.split_once('=') else {
            return false;
        };
        if name.trim().eq_ignore_ascii_case("charset") {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|quoted| quoted.strip_suffix('"'))
                .unwrap_or(value);
            if !value.eq_ignore_ascii_case("utf-8") {
                return false;
            }
        }
    }
    true
}

/// The decoded parameters of a form-urlencoded body, in the order sent.
///
/// `Debug` redacts the values of credential parameters such as
/// `client_secret`, `client_assertion` and `token`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    /// An empty parameter list, e.g. to build a request body.
    pub fn new() -> FormParams {
        FormParams::default()
    }

    /// Parses a form-urlencoded body (RFC 6749 Appendix B).
    ///
    /// Segments are split on `&` (empty ones skipped) and at their first `=`
    /// (no `=` means an empty value); `+` decodes to a space and `%XX` to a
    /// byte, strictly. Pairs whose value is empty are dropped, because
    /// "parameters sent without a value MUST be treated as if they were
    /// omitted from the request" (RFC 6749 §3.1).
    pub fn parse(body: &str) -> Result<FormParams, RequestError> {
        let mut pairs = Vec::new();
        for segment in body.split('&').filter(|segment| !segment.is_empty()) {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            let name = form_urldecode(name)
                .map_err(|error| RequestError::MalformedBody(error.reason()))?;
            let value = form_urldecode(value)
                .map_err(|error| RequestError::MalformedBody(error.reason()))?;
            if !value.is_empty() {
                pairs.push((name, value));
            }
        }
        Ok(FormParams { pairs })
    }

    /// Parses a request body the way a token, introspection or revocation
    /// endpoint must (RFC 6749 §3.2, Appendix B): the `Content-Type` must be
    /// `application/x-www-form-urlencoded` (UTF-8), the body UTF-8, and no
    /// parameter may repeat unless named in `repeatable` (RFC 8707 §2 lets
    /// `resource` repeat).
    pub fn from_request(
        content_type: Option<&str>,
        body: &[u8],
        repeatable: &[&str],
    ) -> Result<FormParams, RequestError> {
        match content_type {
            Some(content_type) if is_utf8_form_content_type(content_type) => {}
            _ => return Err(RequestError::UnsupportedContentType),
        }
        let body = std::str::from_utf8(body).map_err(|_| RequestError::BodyNotUtf8)?;
        let params = FormParams::parse(body)?;
        let mut seen = HashSet::with_capacity(params.len());
        for (name, _) in &params.pairs {
            if !seen.insert(name.as_str()) && !repeatable.contains(&name.as_str()) {
                return Err(RequestError::DuplicateParameter(crate::truncate_for_echo(
                    name,
                )));
            }
        }
        Ok(params)
    }

    /// Decodes a JSON object body whose values are strings (or, for names in `repeatable`,
    /// arrays of strings), as CyberArk's seed sends token requests. `null` and empty strings
    /// count as omitted (RFC 6749 §3.1); any other value type is malformed.
    pub fn from_json_body(body: &[u8], repeatable: &[&str]) -> Result<FormParams, RequestError> {
        let text = std::str::from_utf8(body).map_err(|_| RequestError::BodyNotUtf8)?;
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|_| RequestError::MalformedBody("not a JSON object"))?;
        let mut params = FormParams::new();
        for (name, value) in object {
            match value {
                serde_json::Value::Null => {}
                serde_json::Value::String(value) if value.is_empty() => {}
                serde_json::Value::String(value) => params.push(name, value),
                serde_json::Value::Array(items) if repeatable.contains(&name.as_str()) => {
                    for item in items {
                        match item {
                            serde_json::Value::String(value) if !value.is_empty() => {
                                params.push(name.clone(), value)
                            }
                            _ => {
                                return Err(RequestError::MalformedBody(
                                    "JSON array values must be strings",
                                ));
                            }
                        }
                    }
                }
                _ => return Err(RequestError::MalformedBody("JSON values must be strings")),
            }
        }
        Ok(params)
    }

    /// Appends a pair, e.g. to build a request body.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(present, _)| present == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name`, in the order sent.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(present, _)| present == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every `(name, value)` pair, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The name of every pair, in the order sent (a repeated name appears
    /// once per occurrence).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(name, _)| name.as_str())
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Serializes the pairs as a form-urlencoded body with
    /// [`form_urlencode`]. Deliberately not `Display`: the body may hold
    /// secrets and must not end up in logs by accident.
    pub fn to_urlencoded(&self) -> String {
        let mut body = String::new();
        for (index, (name, value)) in self.pairs.iter().enumerate() {
            if index > 0 {
                body.push('&');
            }
            body.push_str(&form_urlencode(name));
            body.push('=');
            body.push_str(&form_urlencode(value));
        }
        body
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for FormParams {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        FormParams {
            pairs: pairs
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for FormParams {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = formatter.debug_list();
        for (name, value) in &self.pairs {
            if SENSITIVE_PARAMETERS.contains(&name.as_str()) {
                list.entry(&(name, "[redacted]"));
            } else {
                list.entry(&(name, value));
            }
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn pairs(params: &FormParams) -> Vec<(&str, &str)> {
        params.iter().collect()
    }

    #[test]
    fn parses_form_bodies() {
        #[track_caller]
        fn check(body: &str, expected: &[(&str, &str)]) {
            let params = FormParams::parse(body).unwrap();
            assert_eq!(pairs(&params), expected, "body {body:?}");
        }
        check("", &[]);
        check("&&", &[]);
        check("a=1&b=2", &[("a", "1"), ("b", "2")]);
        check("a=1&&b=2&", &[("a", "1"), ("b", "2")]);
        check("a=x=y", &[("a", "x=y")]);
        check("a+b=c+d", &[("a b", "c d")]);
        check("a=%2B%20%25%26", &[("a", "+ %&")]);
        check("a=%c2%a3%E2%82%AC", &[("a", "£€")]);
        check("scope=a%20b", &[("scope", "a b")]);
        // RFC 6749 §3.1: a parameter without a value counts as omitted.
        check("a=&b&c=1", &[("c", "1")]);
        check("a=1&a=2", &[("a", "1"), ("a", "2")]);
        check("=orphan", &[("", "orphan")]);
    }

    #[test]
    fn rejects_malformed_percent_escapes_and_bad_utf8() {
        #[track_caller]
        fn check(body: &str, reason: DecodeError) {
            assert_eq!(
                FormParams::parse(body),
                Err(RequestError::MalformedBody(reason.reason())),
                "body {body:?}"
            );
        }
        check("a=%", DecodeError::BadPercentEscape);
        check("a=%2", DecodeError::BadPercentEscape);
        check("a=%zz", DecodeError::BadPercentEscape);
        check("a=%g1", DecodeError::BadPercentEscape);
        check("%=1", DecodeError::BadPercentEscape);
        check("a=100%", DecodeError::BadPercentEscape);
        check("a=%FF", DecodeError::NotUtf8);
        check("a=%C3", DecodeError::NotUtf8);
        // Even a pair that would be dropped for its empty value must decode.
        check("%zz=", DecodeError::BadPercentEscape);
    }

    #[test]
    fn gets_first_and_all_values() {
        let params = FormParams::parse("resource=a&x=1&resource=b").unwrap();
        assert_eq!(params.get("resource"), Some("a"));
        assert_eq!(params.get("missing"), None);
        assert_eq!(params.get_all("resource").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(params.get_all("missing").count(), 0);
        assert_eq!(
            params.names().collect::<Vec<_>>(),
            ["resource", "x", "resource"]
        );
        assert_eq!(params.len(), 3);
        assert!(!params.is_empty());
        assert!(FormParams::new().is_empty());
    }

    #[test]
    fn encodes_like_the_whatwg_form_serializer() {
        #[track_caller]
        fn check(input: &str, expected: &str) {
            assert_eq!(form_urlencode(input), expected);
            assert_eq!(form_urldecode(expected).as_deref(), Ok(input));
        }
        check("", "");
        check("azAZ09*-._", "azAZ09*-._");
        check("a b", "a+b");
        check("c+d", "c%2Bd");
        check(" %&+£€:@/~", "+%25%26%2B%C2%A3%E2%82%AC%3A%40%2F%7E");
        check("\n\"'", "%0A%22%27");
    }

    #[test]
    fn builds_and_serializes_bodies() {
        let mut params: FormParams = [("grant_type", "client_credentials")].into_iter().collect();
        params.push("scope", "a b");
        assert_eq!(
            params.to_urlencoded(),
            "grant_type=client_credentials&scope=a+b"
        );
        assert_eq!(FormParams::parse(&params.to_urlencoded()).unwrap(), params);
    }

    #[test]
    fn debug_redacts_credential_values() {
        let params = FormParams::parse(
            "client_id=me&client_secret=hunter2&client_assertion=eyJhbGc&token=tok123",
        )
        .unwrap();
        let debug = format!("{params:?}");
        assert!(debug.contains("\"me\""), "{debug}");
        for secret in ["hunter2", "eyJhbGc", "tok123"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn accepts_form_content_types() {
        #[track_caller]
        fn check(content_type: &str) {
            assert!(
                FormParams::from_request(Some(content_type), b"a=1", &[]).is_ok(),
                "{content_type:?}"
            );
        }
        check("application/x-www-form-urlencoded");
        check("Application/X-WWW-Form-URLEncoded");
        check("application/x-www-form-urlencoded;charset=UTF-8");
        check("application/x-www-form-urlencoded; charset=utf-8");
        check("application/x-www-form-urlencoded; charset=\"utf-8\"");
        check("application/x-www-form-urlencoded; foo=bar");
        check("application/x-www-form-urlencoded;");
        check(" application/x-www-form-urlencoded ");
    }

    #[test]
    fn rejects_other_content_types() {
        #[track_caller]
        fn check(content_type: Option<&str>) {
            assert_eq!(
                FormParams::from_request(content_type, b"a=1", &[]),
                Err(RequestError::UnsupportedContentType),
                "{content_type:?}"
            );
        }
        check(None);
        check(Some(""));
        check(Some("application/json"));
        check(Some("text/plain"));
        check(Some("multipart/form-data; boundary=x"));
        check(Some("application/x-www-form-urlencoded-extra"));
        check(Some(
            "application/x-www-form-urlencoded; charset=iso-8859-1",
        ));
        check(Some("application/x-www-form-urlencoded; charset=utf8"));
        check(Some("application/x-www-form-urlencoded; charset"));
    }

    #[test]
    fn rejects_a_body_that_is_not_utf8() {
        assert_eq!(
            FormParams::from_request(FORM, b"a=\xff", &[]),
            Err(RequestError::BodyNotUtf8)
        );
    }

    #[test]
    fn rejects_duplicate_parameters_unless_repeatable() {
        #[track_caller]
        fn check(body: &str, repeatable: &[&str], expected: &Result<usize, RequestError>) {
            let result = FormParams::from_request(FORM, body.as_bytes(), repeatable);
            assert_eq!(
                &result.map(|params| params.len()),
                expected,
                "body {body:?}"
            );
        }
        let duplicate = |name: &str| Err(RequestError::DuplicateParameter(name.to_owned()));
        check("a=1&b=2", &[], &Ok(2));
        check("a=1&a=2", &[], &duplicate("a"));
        check("a=1&a=1", &[], &duplicate("a"));
        check("resource=x&resource=y", &["resource"], &Ok(2));
        check(
            "resource=x&resource=y&a=1&a=2",
            &["resource"],
            &duplicate("a"),
        );
        // An empty value counts as omitted, so it does not make a duplicate.
        check("a=&a=1", &[], &Ok(1));
        check("a%20b=1&a+b=2", &[], &duplicate("a b"));
    }

    #[test]
    fn truncates_a_huge_duplicate_name() {
        let name = "n".repeat(10_000);
        let body = format!("{name}=1&{name}=2");
        match FormParams::from_request(FORM, body.as_bytes(), &[]) {
            Err(RequestError::DuplicateParameter(echoed)) => assert_eq!(echoed.chars().count(), 64),
            other => panic!("unexpected {other:?}"),
        }
    }
}
