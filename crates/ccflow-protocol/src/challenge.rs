//! The `WWW-Authenticate: Bearer` challenge of RFC 6750 §3: building one, and finding one in a challenge list (RFC 7235 §4.1).

use crate::ErrorCode;
use crate::error::{sanitize_description, sanitize_uri};

/// A Bearer challenge (RFC 6750 §3), sent by a protected resource with a
/// 401 or 403 and read by clients to learn why a token was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// The protection space (RFC 7235 §2.2).
    pub realm: Option<String>,
    /// Space-delimited scopes the resource requires (RFC 6750 §3).
    pub scope: Option<String>,
    /// The error code, e.g. `invalid_token` (RFC 6750 §3.1).
    pub error: Option<ErrorCode>,
    /// Human-readable text for the developer.
    pub error_description: Option<String>,
    /// A URI of a page about the error.
    pub error_uri: Option<String>,
}

impl BearerChallenge {
    /// A challenge without parameters: `Bearer`, as RFC 6750 §3.1 asks for
    /// when a request carried no token at all.
    pub fn new() -> BearerChallenge {
        BearerChallenge::default()
    }

    /// Sets the realm.
    pub fn realm(mut self, realm: impl Into<String>) -> BearerChallenge {
        self.realm = Some(realm.into());
        self
    }

    /// Sets the error code and, unless empty, its description.
    pub fn error(mut self, code: ErrorCode, description: impl Into<String>) -> BearerChallenge {
        let description = description.into();
        self.error = Some(code);
        self.error_description = (!description.is_empty()).then_some(description);
        self
    }

    /// Sets the required scopes, space-delimited (RFC 6750 §3).
    pub fn scope(mut self, scope: impl Into<String>) -> BearerChallenge {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the error URI.
    pub fn error_uri(mut self, error_uri: impl Into<String>) -> BearerChallenge {
        self.error_uri = Some(error_uri.into());
        self
    }

    /// The `WWW-Authenticate` header value, e.g.
    /// `Bearer realm="api", error="invalid_token", error_description="the token expired"`.
    ///
    /// Every value is a quoted-string restricted to the RFC 6750 §3
    /// character sets: `"` becomes `'` and `\`, control or non-ASCII
    /// characters become `?` (a space in `error_uri` too), so no escaping is
    /// ever needed and a header can never be broken by a value.
    pub fn to_header_value(&self) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(realm) = &self.realm {
            params.push(("realm", sanitize_description(realm)));
        }
        if let Some(error) = &self.error {
            params.push(("error", sanitize_description(error.as_str())));
        }
        if let Some(description) = &self.error_description {
            params.push(("error_description", sanitize_description(description)));
        }
        if let Some(error_uri) = &self.error_uri {
            params.push(("error_uri", sanitize_uri(error_uri)));
        }
        if let Some(scope) = &self.scope {
            params.push(("scope", sanitize_description(scope)));
        }
        let mut header = String::from("Bearer");
        for (index, (name, value)) in params.iter().enumerate() {
            header.push_str(if index == 0 { " " } else { ", " });
            header.push_str(name);
            header.push_str("=\"");
            header.push_str(value);
            header.push('"');
        }
        header
    }

    /// Finds the first Bearer challenge in a `WWW-Authenticate` value.
    ///
    /// The value is parsed as an RFC 7235 §4.1 challenge list, so it may
    /// hold several challenges (`Basic realm="x", Bearer error="invalid_token"`).
    /// Scheme and parameter names are case-insensitive; values are tokens or
    /// quoted-strings with `\` escapes; challenges carrying a token68 are
    /// skipped; a repeated parameter keeps its first value; unknown
    /// parameters are ignored. Returns `None` when there is no Bearer
    /// challenge or the list is malformed before one is complete.
    pub fn parse(header_value: &str) -> Option<BearerChallenge> {
        BearerChallenge::parse_scheme(header_value, "Bearer")
    }

    /// Finds the first challenge of `scheme` (case-insensitive) in a `WWW-Authenticate` value,
    /// read as [`parse`](Self::parse) reads Bearer ones: e.g. `DPoP`, whose challenges carry
    /// the same parameters (RFC 9449 §7.1; its `algs` is ignored here).
    pub fn parse_scheme(header_value: &str, scheme: &str) -> Option<BearerChallenge> {
        let mut cursor = Cursor {
            bytes: header_value.as_bytes(),
            position: 0,
        };
        loop {
            let challenge = cursor.challenge()?;
            if challenge.scheme.eq_ignore_ascii_case(scheme) && !challenge.has_token68 {
                return Some(BearerChallenge::from_params(challenge.params));
            }
        }
    }

    fn from_params(params: Vec<(String, String)>) -> BearerChallenge {
        let mut challenge = BearerChallenge::new();
        for (name, value) in params {
            let slot = match name.as_str() {
                "realm" => &mut challenge.realm,
                "scope" => &mut challenge.scope,
                "error_description" => &mut challenge.error_description,
                "error_uri" => &mut challenge.error_uri,
                "error" => {
                    if challenge.error.is_none() {
                        challenge.error = Some(ErrorCode::from(value));
                    }
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        challenge
    }
}

/// One parsed challenge of a list.
struct Challenge {
    scheme: String,
    has_token68: bool,
    params: Vec<(String, String)>,
}

/// A byte cursor over a header value. Every delimiter in the grammar is
/// ASCII, so working on bytes never splits a character we keep, and
/// `get` instead of indexing means no input can make it panic.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The characters of `token68` before its `=` padding (RFC 7235 §2.1).
fn is_token68_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte)
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn eat(&mut self, expected: u8) -> bool {
        let matched = self.peek() == Some(expected);
        if matched {
            self.position += 1;
        }
        matched
    }

    /// Skips optional whitespace (OWS/BWS: spaces and tabs); returns how many.
    fn skip_whitespace(&mut self) -> usize {
        let start = self.position;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.position += 1;
        }
        self.position - start
    }

    /// Skips whitespace and commas: RFC 9110 §5.6.1 makes recipients accept
    /// empty list elements.
    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.position += 1;
        }
    }

    fn at_element_end(&self) -> bool {
        matches!(self.peek(), None | Some(b','))
    }

    fn token(&mut self) -> Option<String> {
        let start = self.position;
        while self.peek().is_some_and(is_tchar) {
            self.position += 1;
        }
        let token = self.bytes.get(start..self.position)?;
        (!token.is_empty()).then(|| String::from_utf8_lossy(token).into_owned())
    }

    /// If a token68 starts here and fills the rest of the list element,
    /// returns where it ends.
    fn token68_end(&self) -> Option<usize> {
        let mut end = self.position;
        while self.bytes.get(end).copied().is_some_and(is_token68_char) {
            end += 1;
        }
        if end == self.position {
            return None;
        }
        while self.bytes.get(end) == Some(&b'=') {
            end += 1;
        }
        let mut after = end;
        while matches!(self.bytes.get(after), Some(b' ' | b'\t')) {
            after += 1;
        }
        matches!(self.bytes.get(after), None | Some(b',')).then_some(after)
    }

    /// `quoted-string` (RFC 9110 §5.6.4), unescaped.
    fn quoted_string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut value = Vec::new();
        loop {
            let byte = self.peek()?;
            self.position += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escaped = self.peek()?;
                    self.position += 1;
                    if !(escaped == b'\t' || escaped >= 0x20) || escaped == 0x7F {
                        return None;
                    }
                    value.push(escaped);
                }
                b'\t' | 0x20..=0x7E | 0x80..=0xFF => value.push(byte),
                _ => return None,
            }
        }
        Some(String::from_utf8_lossy(&value).into_owned())
    }

    /// Whether an `auth-param` (`token BWS "="`) starts here, as opposed to
    /// the scheme of the next challenge.
    fn at_auth_param(&self) -> bool {
        let mut lookahead = Cursor {
            bytes: self.bytes,
            position: self.position,
        };
        if lookahead.token().is_none() {
            return false;
        }
        lookahead.skip_whitespace();
        lookahead.peek() == Some(b'=')
    }

    /// The next challenge of the list, or `None` at the end or on a syntax
    /// error.
    fn challenge(&mut self) -> Option<Challenge> {
        self.skip_list_separators();
        let scheme = self.token()?;
        let mut challenge = Challenge {
            scheme,
            has_token68: false,
            params: Vec::new(),
        };
        let separated = self.skip_whitespace() > 0;
        if self.at_element_end() {
            return Some(challenge);
        }
        if !separated {
            return None;
        }
        if let Some(end) = self.token68_end() {
            self.position = end;
            challenge.has_token68 = true;
            return Some(challenge);
        }
        loop {
            let name = self.token()?.to_ascii_lowercase();
            self.skip_whitespace();
            if !self.eat(b'=') {
                return None;
            }
            self.skip_whitespace();
            let value = if self.peek() == Some(b'"') {
                self.quoted_string()?
            } else {
                self.token()?
            };
            challenge.params.push((name, value));
            self.skip_whitespace();
            if self.at_end() {
                return Some(challenge);
            }
            if !self.eat(b',') {
                return None;
            }
            self.skip_list_separators();
            if self.at_end() || !self.at_auth_param() {
                return Some(challenge);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_header_values() {
        #[track_caller]
        fn check(challenge: BearerChallenge, expected: &str) {
            assert_eq!(challenge.to_header_value(), expected);
            assert_eq!(BearerChallenge::parse(expected), Some(challenge));
        }
        check(BearerChallenge::new(), "Bearer");
        check(BearerChallenge::new().realm("api"), r#"Bearer realm="api""#);
        check(
            BearerChallenge::new()
                .realm("api")
                .error(ErrorCode::InvalidToken, "the token expired"),
            r#"Bearer realm="api", error="invalid_token", error_description="the token expired""#,
        );
        check(
            BearerChallenge::new()
                .error(ErrorCode::InsufficientScope, "")
                .scope("orders.read orders.write"),
            r#"Bearer error="insufficient_scope", scope="orders.read orders.write""#,
        );
        check(
            BearerChallenge::new()
                .error(ErrorCode::InvalidRequest, "x")
                .error_uri("https://x.test/e"),
            r#"Bearer error="invalid_request", error_description="x", error_uri="https://x.test/e""#,
        );
    }

    #[test]
    fn sanitizes_values_so_the_header_cannot_break() {
        let challenge = BearerChallenge::new()
            .realm("a\"b")
            .error(
                ErrorCode::InvalidToken,
                "bad \\ token\r\nSet-Cookie: x=\u{e9}",
            )
            .error_uri("https://x.test/a b");
        assert_eq!(
            challenge.to_header_value(),
            r#"Bearer realm="a'b", error="invalid_token", error_description="bad ? token??Set-Cookie: x=?", error_uri="https://x.test/a?b""#
        );
    }

    #[test]
    fn parses_challenge_lists() {
        #[track_caller]
        fn check(header: &str, expected: Option<&BearerChallenge>) {
            assert_eq!(
                BearerChallenge::parse(header).as_ref(),
                expected,
                "{header:?}"
            );
        }
        let invalid_token = BearerChallenge::new().error(ErrorCode::InvalidToken, "");
        check("Bearer", Some(&BearerChallenge::new()));
        check("bearer", Some(&BearerChallenge::new()));
        check(
            r#"Bearer realm="example""#,
            Some(&BearerChallenge::new().realm("example")),
        );
        check(
            r#"BEARER REALM="example""#,
            Some(&BearerChallenge::new().realm("example")),
        );
        check("Bearer error=invalid_token", Some(&invalid_token));
        check("Bearer error = \"invalid_token\"", Some(&invalid_token));
        check(
            r#"Basic realm="x", Bearer error="invalid_token""#,
            Some(&invalid_token),
        );
        check(
            r#"Basic realm="x", charset="UTF-8", Bearer error="invalid_token""#,
            Some(&invalid_token),
        );
        check(
            "Negotiate abc==, Bearer error=invalid_token",
            Some(&invalid_token),
        );
        check(
            r#"Bearer error="invalid_token", Basic realm="x""#,
            Some(&invalid_token),
        );
        check(r#", ,Bearer error="invalid_token",,"#, Some(&invalid_token));
        check(r#"Bearer, Basic realm="x""#, Some(&BearerChallenge::new()));
        check(
            r#"Bearer realm="a \"quoted\" realm", error_description="back\\slash and \x""#,
            Some(&BearerChallenge {
                realm: Some(r#"a "quoted" realm"#.to_owned()),
                error_description: Some(r"back\slash and x".to_owned()),
                ..BearerChallenge::default()
            }),
        );
        check(
            r#"Bearer realm="first", realm="second", unknown="ignored", scope="a b""#,
            Some(&BearerChallenge::new().realm("first").scope("a b")),
        );
        check(
            "Bearer realm=\"caf\u{e9}\"",
            Some(&BearerChallenge::new().realm("caf\u{e9}")),
        );
        // A Bearer challenge carrying a token68 is not an RFC 6750 challenge.
        check("Bearer abc123==", None);
        check(
            "Bearer abc123, Bearer realm=\"x\"",
            Some(&BearerChallenge::new().realm("x")),
        );
        check("", None);
        check("Basic realm=\"x\"", None);
        check("Bearer realm=\"unterminated", None);
        check("Bearer realm=", None);
        check("Bearer realm=\"x\" junk", None);
        check("Bearer=x", None);
        check("Bearer error_uri=https://x.test", None);
        check("Bearer realm=\"a\u{1}b\"", None);
        check("Bearer realm=\"a\\", None);
        check("\"Bearer\"", None);
    }
}
