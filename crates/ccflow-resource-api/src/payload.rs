//! A JWT's claims set as it is read before the signature is checked: decoded and parsed in one
//! pass that keeps only the members the checks read, and the whole map built on demand.
//!
//! Every token pays for this pass and most tokens never need the map ([`Claims::all`] and
//! [`Claims::get`] are for applications' own claims), so the map is not built here: the other
//! members are parsed in full, as a `Value` would be, but nothing is kept of them. The decoded
//! bytes are kept instead, and [`Claims`] builds the map from them the first time it is asked.
//!
//! [`Claims`]: crate::Claims
//! [`Claims::all`]: crate::Claims::all
//! [`Claims::get`]: crate::Claims::get

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::TokenRejection;

/// A decoded claims set whose member names are all distinct, with the members the validator
/// reads taken out as sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Payload {
    /// The decoded JSON text, from which every member can be built.
    pub(crate) json: ClaimsJson,
    /// The members the claim checks and the binding checks read.
    pub(crate) read: ReadMembers,
}

/// A claims set's JSON text, parsed and accepted: an object with unique member names.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimsJson(Vec<u8>);

impl ClaimsJson {
    /// Every member, as sent. The bytes were parsed once already, by the same parser and down
    /// to every value (see [`Parsed`]), so this parse cannot fail; were it to, the answer is
    /// an empty map, never a panic.
    pub(crate) fn map(&self) -> Map<String, Value> {
        serde_json::from_slice(&self.0).unwrap_or_default()
    }
}

/// The members the validator reads, each as sent: `None` when absent. Their types are judged
/// later, after the signature (RFC 8725 §3.x: nothing but the issuer is trusted before it).
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadMembers {
    pub(crate) iss: Option<Value>,
    pub(crate) aud: Option<Value>,
    pub(crate) exp: Option<Value>,
    pub(crate) nbf: Option<Value>,
    pub(crate) iat: Option<Value>,
    pub(crate) sub: Option<Value>,
    pub(crate) client_id: Option<Value>,
    pub(crate) azp: Option<Value>,
    pub(crate) jti: Option<Value>,
    pub(crate) scope: Option<Value>,
    pub(crate) scp: Option<Value>,
    /// `cnf` (RFC 7800): DPoP's `jkt` (RFC 9449 §6.1), mutual TLS's `x5t#S256` (RFC 8705 §3.1).
    pub(crate) cnf: Option<Value>,
}

impl ReadMembers {
    /// The slot of a member read by name, `None` for the others.
    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        Some(match name {
            "iss" => &mut self.iss,
            "aud" => &mut self.aud,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "sub" => &mut self.sub,
            "client_id" => &mut self.client_id,
            "azp" => &mut self.azp,
            "jti" => &mut self.jti,
            "scope" => &mut self.scope,
            "scp" => &mut self.scp,
            "cnf" => &mut self.cnf,
            _ => return None,
        })
    }
}

impl Payload {
    /// Decodes and parses the payload: a JSON object (RFC 7519 §7.2 step 10) whose member names
    /// are unique. RFC 7519 §4 lets a parser either reject duplicates or keep the last; rejecting
    /// them, as for the header, leaves no room for two parsers to read different claims.
    pub(crate) fn decode(encoded: &str) -> Result<Payload, TokenRejection> {
        let json = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| TokenRejection::NotAJws)?;
        Payload::parse(json)
    }

    /// Parses decoded JSON, keeping the bytes.
    pub(crate) fn parse(json: Vec<u8>) -> Result<Payload, TokenRejection> {
        let Members(read) =
            serde_json::from_slice(&json).map_err(|_| TokenRejection::MalformedClaims)?;
        Ok(Payload {
            json: ClaimsJson(json),
            read,
        })
    }
}

/// The top-level object: the read members kept, the others parsed and dropped, every name
/// checked to appear once.
struct Members(ReadMembers);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
        let mut read = ReadMembers::default();
        // The names of the members not read; a token has few, usually none.
        let mut others: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Text(name)) = members.next_key::<Text<'de>>()? {
            let repeated = match read.slot(&name) {
                Some(slot) => slot.replace(members.next_value::<Value>()?).is_some(),
                None => {
                    members.next_value::<Parsed>()?;
                    others.push(name);
                    false
                }
            };
            if repeated {
                return Err(A::Error::custom("a member name is repeated"));
            }
        }
        if has_repeats(&mut others) {
            return Err(A::Error::custom("a member name is repeated"));
        }
        Ok(Members(read))
    }
}

/// Whether a name appears twice: sorted, so a payload of many short members costs
/// `n log n`, not `n²`, before its signature is checked.
pub(crate) fn has_repeats(names: &mut [Cow<'_, str>]) -> bool {
    names.sort_unstable();
    names.windows(2).any(|pair| pair[0] == pair[1])
}

/// A string (a member name, the JOSE header's values) borrowed from the input when it has no
/// escapes (`serde(borrow)`: a plain `Cow` would always be an owned copy).
#[derive(serde::Deserialize)]
pub(crate) struct Text<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

/// A JSON value parsed exactly as `Value` parses it, through `deserialize_any`: strings decoded
/// and checked UTF-8 (a lone surrogate or a stray byte is refused), numbers in range (`1e400`
/// is refused), nesting limited, but nothing built. `IgnoredAny` would check the syntax only.
struct Parsed;

impl<'de> Deserialize<'de> for Parsed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParsedVisitor)
    }
}

struct ParsedVisitor;

impl<'de> Visitor<'de> for ParsedVisitor {
    type Value = Parsed;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Parsed, A::Error> {
        while items.next_element::<Parsed>()?.is_some() {}
        Ok(Parsed)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Parsed, A::Error> {
        // Nested objects are data: a repeated name there is `Value`'s business (last kept).
        while members.next_key::<Parsed>()?.is_some() {
            members.next_value::<Parsed>()?;
        }
        Ok(Parsed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The one-pass parse accepts exactly what a `Value` parse of the object accepts (with
    /// unique top-level names), and the map it builds later is that `Value`'s.
    #[track_caller]
    fn check(json: &[u8], expected: &Result<usize, TokenRejection>) {
        let payload = Payload::parse(json.to_vec());
        assert_eq!(
            payload.as_ref().map(|payload| payload.json.map().len()),
            expected.as_ref().map(|members| *members),
            "{}",
            String::from_utf8_lossy(json)
        );
        if let Ok(payload) = payload {
            let value: Map<String, Value> = serde_json::from_slice(json).unwrap();
            assert_eq!(payload.json.map(), value);
        }
    }

    #[test]
    fn parses_like_a_value_and_refuses_repeats() {
        let malformed = Err(TokenRejection::MalformedClaims);
        let cases: &[(&[u8], Result<usize, TokenRejection>)] = &[
            (b"{}", Ok(0)),
            (br#"{"iss":"i","tid":"t","n":[1,{"a":null}]}"#, Ok(3)),
            // Nested repeats are data (the last kept, as `Value` does).
            (br#"{"x":{"a":1,"a":2}}"#, Ok(1)),
            (br#"{"iss":"a","iss":"b"}"#, malformed.clone()),
            (br#"{"tid":1,"x":2,"tid":3}"#, malformed.clone()),
            // A read name and an escaped spelling of it are the same name.
            (br#"{"iss":"a","\u0069ss":"b"}"#, malformed.clone()),
            (br#"{"t\u0069d":1,"tid":2}"#, malformed.clone()),
            // What a syntax-only skip would let through, in a member nobody reads.
            (br#"{"x":1e400}"#, malformed.clone()),
            (br#"{"x":"\ud800"}"#, malformed.clone()),
            (b"{\"x\":\"\xf2\"}", malformed.clone()),
            (b"{\"x\":[\"\xff\"]}", malformed.clone()),
            (b"{\"\xff\":1}", malformed.clone()),
            (br#"["iss"]"#, malformed.clone()),
            (br#"{"x":1}trailing"#, malformed.clone()),
            (br#"{"x":}"#, malformed),
        ];
        for (json, expected) in cases {
            check(json, expected);
        }
    }

    #[test]
    fn refuses_nesting_past_the_parsers_limit_in_any_member() {
        let deep = |depth: usize| format!("{{\"x\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        check(deep(100).as_bytes(), &Ok(1));
        check(deep(200).as_bytes(), &Err(TokenRejection::MalformedClaims));
    }

    #[test]
    fn keeps_the_read_members_as_sent() {
        let payload = Payload::parse(
            serde_json::to_vec(&json!({"iss": "i", "aud": ["a"], "exp": 1.5, "cnf": {"jkt": 1}}))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(payload.read.iss, Some(json!("i")));
        assert_eq!(payload.read.aud, Some(json!(["a"])));
        assert_eq!(payload.read.exp, Some(json!(1.5)));
        assert_eq!(payload.read.cnf, Some(json!({"jkt": 1})));
        assert_eq!(payload.read.sub, None);
    }

    #[test]
    fn many_distinct_names_are_accepted_and_one_repeat_among_them_is_not() {
        let names: Vec<String> = (0..2000).map(|n| format!("\"m{n}\":0")).collect();
        check(format!("{{{}}}", names.join(",")).as_bytes(), &Ok(2000));
        check(
            format!("{{{},\"m1999\":1}}", names.join(",")).as_bytes(),
            &Err(TokenRejection::MalformedClaims),
        );
    }

    #[test]
    fn decodes_claims_as_one_object_with_unique_names() {
        #[track_caller]
        fn check(json: &str, expected: &Result<usize, TokenRejection>) {
            let encoded = URL_SAFE_NO_PAD.encode(json);
            assert_eq!(
                &Payload::decode(&encoded).map(|payload| payload.json.map().len()),
                expected,
                "{json}"
            );
        }
        check(r#"{"iss":"a","exp":1,"nested":{"x":1,"y":[1,2]}}"#, &Ok(3));
        check("{}", &Ok(0));
        check(" \t{\"a\":1} ", &Ok(1));
        // RFC 7519 §4: a repeated claim is refused, whichever claim it is.
        check(
            r#"{"exp":1,"exp":9999999999}"#,
            &Err(TokenRejection::MalformedClaims),
        );
        check(
            r#"{"x":1,"y":2,"x":1}"#,
            &Err(TokenRejection::MalformedClaims),
        );
        // Nested objects are data: their own repeats are serde_json's (last one kept).
        check(r#"{"cnf":{"a":1,"a":2}}"#, &Ok(1));
        for not_an_object in [r#"["iss"]"#, "1", "null", r#""iss""#, "", "{", "{} {}"] {
            check(not_an_object, &Err(TokenRejection::MalformedClaims));
        }
        assert_eq!(
            Payload::decode(&format!("{}AA", URL_SAFE_NO_PAD.encode("{}"))).map(|_| ()),
            Err(TokenRejection::NotAJws),
            "a stray base64url length"
        );
        assert_eq!(
            Payload::decode(&URL_SAFE_NO_PAD.encode(b"{\"a\":\"\xff\"}")).map(|_| ()),
            Err(TokenRejection::MalformedClaims),
            "not UTF-8"
        );
    }
}
