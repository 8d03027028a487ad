//! The cheap checks that run before any key is looked up: finding the one bearer token in a
//! request, the JWS compact shape, and the JOSE header.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{Error as _, MapAccess, Visitor};
use serde_json::Value;

use crate::error::{AuthError, RequestRejection, TokenRejection};
use crate::payload::{Text, has_repeats};

/// The largest `Authorization` header (and token) accepted, checked before any
/// decoding so an oversized header costs nothing (RFC 8725 §3.x, and the size
/// caps of Microsoft's `MaximumTokenSizeInBytes`).
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// The longest `kid` looked up. RFC 7515 §4.1.4 leaves its format open; ours
/// are 43-character thumbprints, and real issuers' rarely pass 100.
pub const MAX_KID_BYTES: usize = 256;

/// How a token was presented: the `Authorization` scheme (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: DPoP <token>`, with a `DPoP` proof header.
    Dpop,
}

/// The token a request presents and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Presented<'a> {
    pub(crate) scheme: TokenScheme,
    pub(crate) token: &'a str,
}

/// Finds the request's token in its `Authorization` header values: exactly one header with the
/// `Bearer` scheme, or `DPoP` when `dpop` is accepted (schemes in any case), and no
/// `access_token` in the query. With `dpop` false, a DPoP header counts as another scheme.
///
/// The form-body transport needs the body, which only the middlewares read;
/// see [`form_has_access_token`].
pub(crate) fn presented<'a>(
    authorization: &[&'a [u8]],
    query: &str,
    dpop: bool,
) -> Result<Presented<'a>, AuthError> {
    let header = match authorization {
        [] => None,
        [one] => Some(*one),
        _ => return Err(RequestRejection::MultipleAuthorizationHeaders.into()),
    };
    if query_has_access_token(query) {
        // RFC 6750 §2: one method only. Say which rule was broken.
        return Err(match header {
            Some(_) => RequestRejection::MultipleTransports,
            None => RequestRejection::TokenInQuery,
        }
        .into());
    }
    let Some(header) = header else {
        return Err(AuthError::MissingToken);
    };
    if header.len() > MAX_AUTHORIZATION_BYTES {
        return Err(TokenRejection::TooLarge {
            limit: MAX_AUTHORIZATION_BYTES,
        }
        .into());
    }
    // A header value is visible ASCII (and spaces, tabs) or it is not ours to read. Checked
    // first, over the bytes, folded without an early exit so the loop vectorises (this runs
    // over every byte of every request's header): ASCII is then UTF-8.
    if !is_visible_ascii_or_blank(header) {
        return Err(RequestRejection::MalformedAuthorization.into());
    }
    let value =
        std::str::from_utf8(header).map_err(|_| RequestRejection::MalformedAuthorization)?;
    parse_credentials(value, dpop)
}

/// Whether every byte is visible ASCII, a space or a tab (RFC 9110 §5.5 `field-vchar`, less
/// `obs-text`).
fn is_visible_ascii_or_blank(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |all, &byte| {
        all & ((byte == b'\t') | ((b' '..=b'~').contains(&byte)))
    })
}

/// Reads `Bearer 1*SP b64token` (RFC 6750 §2.1) or `DPoP 1*SP token68` (RFC 9449 §7.1, the
/// same characters), the scheme case-insensitively (RFC 7235 §2.1).
fn parse_credentials(value: &str, dpop: bool) -> Result<Presented<'_>, AuthError> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let (scheme, malformed) = if scheme.eq_ignore_ascii_case("bearer") {
        (
            TokenScheme::Bearer,
            RequestRejection::MalformedAuthorization,
        )
    } else if dpop && scheme.eq_ignore_ascii_case("dpop") {
        (
            TokenScheme::Dpop,
            RequestRejection::MalformedDpopAuthorization,
        )
    } else {
        // Another scheme (Basic, Negotiate...): to us the request carries no
        // credentials, and RFC 6750 §3.1 says then not to include an error code.
        return Err(AuthError::MissingToken);
    };
    let token = rest.trim_start_matches(' ');
    if !is_b64token(token) {
        return Err(malformed.into());
    }
    Ok(Presented { scheme, token })
}

/// The scheme of the request's one `Authorization` header, if it is Bearer or DPoP: which
/// challenge a refusal answers with.
pub(crate) fn scheme_of(authorization: &[&[u8]]) -> Option<TokenScheme> {
    let [value] = authorization else {
        return None;
    };
    let value = std::str::from_utf8(value)
        .ok()?
        .trim_start_matches([' ', '\t']);
    let scheme = value.split([' ', '\t']).next()?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(TokenScheme::Bearer)
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some(TokenScheme::Dpop)
    } else {
        None
    }
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750 §2.1).
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && all_alphanumeric_or(body, |byte| {
            (byte == b'-')
                | (byte == b'.')
                | (byte == b'_')
                | (byte == b'~')
                | (byte == b'+')
                | (byte == b'/')
        })
}

/// Whether a query string has an `access_token` parameter (RFC 6750 §2.3).
pub(crate) fn query_has_access_token(query: &str) -> bool {
    has_access_token_parameter(query.as_bytes())
}

/// Whether an `application/x-www-form-urlencoded` body has an `access_token`
/// parameter (RFC 6750 §2.2).
pub(crate) fn form_has_access_token(body: &[u8]) -> bool {
    has_access_token_parameter(body)
}

fn has_access_token_parameter(encoded: &[u8]) -> bool {
    // Names decoded as the WHATWG form parser does ('+' as space, then percent escapes), so
    // `access%5Ftoken` counts and `access+token` does not.
    form_urlencoded::parse(encoded).any(|(name, _)| name == "access_token")
}

/// The three parts of a JWS in compact serialization (RFC 7515 §7.1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompactJws<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    /// `header.payload`: the bytes the signature covers (RFC 7515 §5.2).
    pub(crate) signing_input: &'a str,
}

/// Whether every byte is a letter, a digit or `extra`. Comparisons folded without an early
/// exit, so the loop vectorises (a table lookup per byte, or a search of a list of extra
/// bytes, does not): this runs over every byte of every token.
#[inline]
fn all_alphanumeric_or(text: &str, extra: impl Fn(u8) -> bool) -> bool {
    text.bytes().fold(true, |all, byte| {
        all & (byte.is_ascii_lowercase()
            | byte.is_ascii_uppercase()
            | byte.is_ascii_digit()
            | extra(byte))
    })
}

/// The base64url alphabet (RFC 4648 §5).
fn is_base64url(part: &str) -> bool {
    all_alphanumeric_or(part, |byte| (byte == b'-') | (byte == b'_'))
}

/// Splits a token into its three base64url parts, refusing anything else
/// (JWE's five parts, padding, stray characters).
pub(crate) fn split_compact(token: &str) -> Result<CompactJws<'_>, TokenRejection> {
    if token.len() > MAX_AUTHORIZATION_BYTES {
        return Err(TokenRejection::TooLarge {
            limit: MAX_AUTHORIZATION_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRejection::NotAJws);
    };
    // An empty signature is left to fail verification, so `alg: none` tokens
    // ("header.payload.") get their own, clearer rejection from the header.
    if header.is_empty()
        || payload.is_empty()
        || !is_base64url(header)
        || !is_base64url(payload)
        || !is_base64url(signature)
    {
        return Err(TokenRejection::NotAJws);
    }
    Ok(CompactJws {
        header,
        payload,
        signature,
        signing_input: &token[..header.len() + 1 + payload.len()],
    })
}

/// The JOSE header (RFC 7515 §4), of which the validator acts on `alg`, `typ`, `kid` and the
/// presence of `crit`. Every other member is ignored: in particular `jku`, `x5u`, `jwk` and
/// `x5c`, since keys come only from the configured JWKS (RFC 8725 §3.10). Ignored, but still
/// parsed: see [`parse_header`].
#[derive(Debug)]
pub(crate) struct JoseHeader<'a> {
    alg: Cow<'a, str>,
    typ: Option<Cow<'a, str>>,
    kid: Option<Cow<'a, str>>,
    crit: bool,
}

impl JoseHeader<'_> {
    pub(crate) fn alg(&self) -> &str {
        &self.alg
    }

    /// `typ`, if present (`null` counts as absent).
    pub(crate) fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// `kid`, if present (`null` counts as absent).
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `crit` is present at all, whatever its value.
    pub(crate) fn has_crit(&self) -> bool {
        self.crit
    }
}

/// Decodes the header part into `buffer` (which the parsed header borrows from).
pub(crate) fn decode_header(encoded: &str, buffer: &mut Vec<u8>) -> Result<(), TokenRejection> {
    buffer.clear();
    URL_SAFE_NO_PAD
        .decode_vec(encoded, buffer)
        .map_err(|_| TokenRejection::MalformedHeader)
}

/// Parses decoded header bytes. All of them must be "a UTF-8-encoded representation of a
/// completely valid JSON object" (RFC 7515 §5.2 step 3), not only the members read: so the
/// others are parsed too, not skipped (a skip checks syntax only, and would not see a stray
/// byte 0xF2 inside `jwk`, as fuzzing found, or half a surrogate pair). No member may appear
/// twice, read or not, which RFC 7515 §4 allows and which closes the door on parsers
/// disagreeing about which `alg` counts.
pub(crate) fn parse_header(decoded: &[u8]) -> Result<JoseHeader<'_>, TokenRejection> {
    serde_json::from_slice(decoded).map_err(|_| TokenRejection::MalformedHeader)
}

impl<'de> Deserialize<'de> for JoseHeader<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_map`: a derived struct would also accept an array (`["RS256"]`).
        deserializer.deserialize_map(JoseHeaderVisitor)
    }
}

struct JoseHeaderVisitor;

impl<'de> Visitor<'de> for JoseHeaderVisitor {
    type Value = JoseHeader<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JOSE header: a JSON object with a string `alg`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
        let text = |value: Option<Text<'de>>| value.map(|Text(text)| text);
        let (mut alg, mut typ, mut kid, mut crit) = (None, None, None, false);
        // The names of the members not read; a header has few, usually none.
        let mut others: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Text(name)) = members.next_key::<Text<'de>>()? {
            let repeated = match name.as_ref() {
                "alg" => alg.replace(members.next_value::<Text<'de>>()?.0).is_some(),
                "typ" => typ
                    .replace(text(members.next_value::<Option<Text<'de>>>()?))
                    .is_some(),
                "kid" => kid
                    .replace(text(members.next_value::<Option<Text<'de>>>()?))
                    .is_some(),
                "crit" => {
                    members.next_value::<Value>()?;
                    std::mem::replace(&mut crit, true)
                }
                _ => {
                    members.next_value::<Value>()?;
                    others.push(name);
                    false
                }
            };
            if repeated {
                return Err(A::Error::custom("a header member is repeated"));
            }
        }
        if has_repeats(&mut others) {
            return Err(A::Error::custom("a header member is repeated"));
        }
        Ok(JoseHeader {
            alg: alg.ok_or_else(|| A::Error::missing_field("alg"))?,
            typ: typ.flatten(),
            kid: kid.flatten(),
            crit,
        })
    }
}

/// Normalises a `typ` for comparison: media types are case-insensitive and
/// RFC 7515 §4.1.9 lets `application/` be omitted.
pub(crate) fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// Whether a token's `typ` names the already normalised `accepted` media type, by the rules
/// of [`normalize_typ`] but without allocating (this runs for every token).
pub(crate) fn typ_matches(typ: &str, accepted: &str) -> bool {
    const PREFIX: &str = "application/";
    let typ = match typ.get(..PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &typ[PREFIX.len()..],
        _ => typ,
    };
    typ.eq_ignore_ascii_case(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(authorization: &[&'a str]) -> Vec<&'a [u8]> {
        authorization.iter().map(|value| value.as_bytes()).collect()
    }

    fn bearer_token<'a>(headers: &[&'a [u8]], query: &str) -> Result<&'a str, AuthError> {
        presented(headers, query, false).map(|presented| {
            assert_eq!(presented.scheme, TokenScheme::Bearer);
            presented.token
        })
    }

    #[test]
    fn finds_the_bearer_token() {
        #[track_caller]
        fn check(
            authorization: &[&str],
            query: &str,
            expected: impl Into<Result<&'static str, AuthError>>,
        ) {
            let expected = expected.into();
            let headers = headers(authorization);
            assert_eq!(bearer_token(&headers, query), expected);
        }
        let malformed = Err(RequestRejection::MalformedAuthorization.into());
        check(&["Bearer abc.def.ghi"], "", Ok("abc.def.ghi"));
        check(&["bearer abc"], "", Ok("abc"));
        check(&["BEARER abc"], "", Ok("abc"));
        check(&["Bearer   abc  "], "", Ok("abc"));
        check(&["Bearer a-b_c~d+e/f=="], "", Ok("a-b_c~d+e/f=="));
        check(&[], "", Err(AuthError::MissingToken));
        check(&["Basic dXNlcjpwdw=="], "", Err(AuthError::MissingToken));
        check(&["Bearerabc"], "", Err(AuthError::MissingToken));
        check(&["Bearer"], "", malformed.clone());
        check(&["Bearer "], "", malformed.clone());
        check(&["Bearer a b"], "", malformed.clone());
        check(&["Bearer a\"b"], "", malformed.clone());
        check(&["Bearer ="], "", malformed.clone());
        check(&["Bearer a=b"], "", malformed);
        check(
            &["Bearer a", "Bearer b"],
            "",
            Err(RequestRejection::MultipleAuthorizationHeaders.into()),
        );
        check(
            &[],
            "x=1&access_token=abc",
            Err(RequestRejection::TokenInQuery.into()),
        );
        check(
            &["Bearer abc"],
            "access_token=abc",
            Err(RequestRejection::MultipleTransports.into()),
        );
        check(&["Bearer abc"], "access_tokens=1&token=2", Ok("abc"));
        // Without DPoP accepted, `DPoP` is just another scheme.
        check(&["DPoP abc"], "", Err(AuthError::MissingToken));
    }

    /// RFC 9449 §7.1: `DPoP` credentials are one token68, the scheme in any case.
    #[test]
    fn finds_a_dpop_token_when_dpop_is_accepted() {
        #[track_caller]
        fn check(authorization: &str, expected: impl Into<Result<Presented<'static>, AuthError>>) {
            let expected = expected.into();
            assert_eq!(
                presented(&[authorization.as_bytes()], "", true),
                expected,
                "{authorization}"
            );
            if let Ok(found) = expected {
                assert_eq!(scheme_of(&[authorization.as_bytes()]), Some(found.scheme));
            }
        }
        let dpop = |token| {
            Ok(Presented {
                scheme: TokenScheme::Dpop,
                token,
            })
        };
        let bearer = |token| {
            Ok(Presented {
                scheme: TokenScheme::Bearer,
                token,
            })
        };
        check("DPoP abc.def.ghi", dpop("abc.def.ghi"));
        check("dpop  abc", dpop("abc"));
        check("Bearer abc", bearer("abc"));
        check(
            "DPoP",
            Err(RequestRejection::MalformedDpopAuthorization.into()),
        );
        check(
            "DPoP a b",
            Err(RequestRejection::MalformedDpopAuthorization.into()),
        );
        check("Basic abc", Err(AuthError::MissingToken));
        assert_eq!(scheme_of(&[b"Basic x"]), None);
        assert_eq!(scheme_of(&[b"DPoP x", b"DPoP y"]), None);
    }

    #[test]
    fn caps_the_authorization_header_before_reading_it() {
        let token = "a".repeat(MAX_AUTHORIZATION_BYTES);
        let value = format!("Bearer {token}");
        let headers = headers(&[&value]);
        assert_eq!(
            bearer_token(&headers, ""),
            Err(TokenRejection::TooLarge {
                limit: MAX_AUTHORIZATION_BYTES
            }
            .into())
        );
    }

    #[test]
    fn rejects_non_ascii_header_values_as_malformed() {
        #[track_caller]
        fn check(value: &[u8], expected: &Result<&str, AuthError>) {
            assert_eq!(&bearer_token(&[value], ""), expected, "{value:?}");
        }
        let malformed = || Err(RequestRejection::MalformedAuthorization.into());
        check(b"Bearer caf\xc3\xa9", &malformed());
        // Control bytes, DEL and bytes that are not UTF-8 anywhere in the value, even after
        // a whole token (the check runs over every byte, without stopping early).
        for bad in [
            &b"\x00"[..],
            b"\x1f",
            b"\x7f",
            b"\x80",
            b"\xff",
            b"\r",
            b"\n",
        ] {
            check(&[&b"Bearer abc.def.ghi"[..], bad].concat(), &malformed());
            check(&[bad, &b"Bearer abc"[..]].concat(), &malformed());
        }
        // Tabs and spaces around the credentials are allowed.
        check(b"\tBearer abc \t", &Ok("abc"));
        check(b"Bearer ~abc~", &Ok("~abc~"));
    }

    #[test]
    fn finds_access_token_parameters_however_encoded() {
        #[track_caller]
        fn check(encoded: &str, expected: bool) {
            assert_eq!(query_has_access_token(encoded), expected, "{encoded}");
            assert_eq!(form_has_access_token(encoded.as_bytes()), expected);
        }
        check("access_token=x", true);
        check("a=1&access_token", true);
        check("access%5Ftoken=x", true);
        check("access%5ftoken=x", true);
        check("", false);
        check("access_token_x=1", false);
        check("x=access_token", false);
        check("access+token=x", false);
        check("%ZZ&access", false);
    }

    #[test]
    fn splits_compact_serialization_strictly() {
        #[track_caller]
        fn check(token: &str, ok: bool) {
            assert_eq!(split_compact(token).is_ok(), ok, "{token}");
        }
        check("aGVhZA.Ym9keQ.c2ln", true);
        check("aGVhZA.Ym9keQ.", true);
        check("aGVhZA.Ym9keQ", false);
        check("a.b.c.d.e", false);
        check(".Ym9keQ.c2ln", false);
        check("aGVhZA..c2ln", false);
        check("aGVhZA=.Ym9keQ.c2ln", false);
        check("aGV+ZA.Ym9keQ.c2ln", false);
        check("aGV/ZA.Ym9keQ.c2ln", false);
        check("aGVhZA.Ym9k\u{e9}Q.c2ln", false);
        check("aGVhZA.Ym9keQ.c2l\n", false);

        let jws = split_compact("aGVhZA.Ym9keQ.c2ln").unwrap();
        assert_eq!(
            (jws.header, jws.payload, jws.signature, jws.signing_input),
            ("aGVhZA", "Ym9keQ", "c2ln", "aGVhZA.Ym9keQ")
        );
    }

    #[test]
    fn parses_only_the_header_members_it_acts_on() {
        #[track_caller]
        fn check(json: &str, expected: Option<(&str, Option<&str>, Option<&str>, bool)>) {
            let parsed = parse_header(json.as_bytes()).ok().map(|header| {
                (
                    header.alg().to_owned(),
                    header.typ().map(str::to_owned),
                    header.kid().map(str::to_owned),
                    header.has_crit(),
                )
            });
            let expected = expected.map(|(alg, typ, kid, crit)| {
                (
                    alg.to_owned(),
                    typ.map(str::to_owned),
                    kid.map(str::to_owned),
                    crit,
                )
            });
            assert_eq!(parsed, expected, "{json}");
        }
        check(
            r#"{"alg":"RS256","typ":"at+jwt","kid":"k1"}"#,
            Some(("RS256", Some("at+jwt"), Some("k1"), false)),
        );
        check(
            r#"{"alg":"RS256","jku":"https://evil.test/jwks","x5u":"https://evil.test/c","jwk":{"kty":"RSA"}}"#,
            Some(("RS256", None, None, false)),
        );
        check(
            r#"{"alg":"RS256","kid":"a\"b"}"#,
            Some(("RS256", None, Some("a\"b"), false)),
        );
        check(
            r#"{"alg":"RS256","crit":["exp"]}"#,
            Some(("RS256", None, None, true)),
        );
        check(
            r#"{"alg":"RS256","crit":null}"#,
            Some(("RS256", None, None, true)),
        );
        check(r#"{"alg":"RS256","alg":"none"}"#, None);
        // Any member, read or not, may appear once.
        check(r#"{"alg":"RS256","jku":"a","jku":"b"}"#, None);
        check(r#"{"x5u":"a","alg":"RS256","jku":"b","x5u":"c"}"#, None);
        check(r#"{"alg":"RS256","j\u006bu":"a","jku":"b"}"#, None);
        check(
            r#"{"alg":"RS256","typ":null,"kid":null}"#,
            Some(("RS256", None, None, false)),
        );
        // Members it does not read must still be valid JSON text (RFC 7515 §5.2 step 3).
        check(
            r#"{"alg":"RS256","jwk":{"k\u00e9y":"\u00e9"}}"#,
            Some(("RS256", None, None, false)),
        );
        check(r#"{"alg":"RS256","jwk":{"k":"\ud800"}}"#, None);
        check(r#"{"alg":"RS256","x5c":["\udc00x"]}"#, None);
        check(
            r#"{"alg":"RS256","x":"\ud83d\ude00"}"#,
            Some(("RS256", None, None, false)),
        );
        assert!(parse_header(b"{\"alg\":\"RS256\",\"jwk\":{\"k\xf2ty\":\"EC\"}}").is_err());
        assert!(parse_header(b"{\"alg\":\"RS256\",\"x\":\"\xc3\"}").is_err());
        check(r#"{"alg":null}"#, None);
        check(r#"{"typ":"JWT"}"#, None);
        check(r#"{"alg":"RS256","typ":1}"#, None);
        check(r#"{"alg":"RS256","kid":["k"]}"#, None);
        check(r#"["RS256"]"#, None);
        check("not json", None);
    }

    #[test]
    fn normalizes_typ_values() {
        assert_eq!(normalize_typ("at+jwt"), "at+jwt");
        assert_eq!(normalize_typ("application/AT+JWT"), "at+jwt");
        assert_eq!(normalize_typ("JWT"), "jwt");
        for (typ, accepted, matches) in [
            ("at+jwt", "at+jwt", true),
            ("AT+JWT", "at+jwt", true),
            ("application/at+jwt", "at+jwt", true),
            ("Application/At+Jwt", "at+jwt", true),
            ("application/", "", true),
            ("jwt", "at+jwt", false),
            ("application/jwt", "at+jwt", false),
            ("applicationat+jwt", "at+jwt", false),
            ("x-application/at+jwt", "at+jwt", false),
            ("é", "at+jwt", false),
            ("applicatioé/at+jwt", "at+jwt", false),
        ] {
            assert_eq!(typ_matches(typ, accepted), matches, "{typ} vs {accepted}");
            assert_eq!(
                normalize_typ(typ) == accepted,
                matches,
                "the two must agree on {typ}"
            );
        }
    }
}
