//! JSON Web Keys and key sets (RFC 7517), and the canonical input of a JWK thumbprint (RFC 7638).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON Web Key (RFC 7517 §4). Key material members are base64url
/// strings, kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP`, ... (RFC 7517 §4.1).
    pub kty: String,
    /// Intended use, `sig` or `enc` (RFC 7517 §4.2).
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Permitted operations (RFC 7517 §4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// Algorithm the key is for, e.g. `RS256` (RFC 7517 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id (RFC 7517 §4.5); ccflow uses the RFC 7638 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// RSA modulus (RFC 7518 §6.3.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (RFC 7518 §6.3.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve, for `EC` (RFC 7518 §6.2.1.1) and `OKP` (RFC 8037 §2) keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate (`EC`) or public key (`OKP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (`EC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Further members, e.g. `x5c`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Jwk {
    /// The string to hash for this key's JWK thumbprint (RFC 7638 §3.2):
    /// the required members only, in lexicographic order, without
    /// whitespace. `None` for a key type without a defined member set
    /// (`RSA`, `EC`, and `OKP` from RFC 8037 §2 are supported) or with a
    /// required member missing.
    pub fn thumbprint_input(&self) -> Option<String> {
        let members: Vec<(&str, &str)> = match self.kty.as_str() {
            "RSA" => vec![
                ("e", self.e.as_deref()?),
                ("kty", "RSA"),
                ("n", self.n.as_deref()?),
            ],
            "EC" => vec![
                ("crv", self.crv.as_deref()?),
                ("kty", "EC"),
                ("x", self.x.as_deref()?),
                ("y", self.y.as_deref()?),
            ],
            "OKP" => vec![
                ("crv", self.crv.as_deref()?),
                ("kty", "OKP"),
                ("x", self.x.as_deref()?),
            ],
            _ => return None,
        };
        let mut canonical = String::from("{");
        for (index, (name, value)) in members.into_iter().enumerate() {
            if index > 0 {
                canonical.push(',');
            }
            // serde_json writes the minimal escaping RFC 7638 §3.3 asks for;
            // base64url values never need any, but a hostile key might.
            canonical.push_str(&Value::from(name).to_string());
            canonical.push(':');
            canonical.push_str(&Value::from(value).to_string());
        }
        canonical.push('}');
        Some(canonical)
    }
}

/// A JWK Set (RFC 7517 §5), as served at `jwks_uri`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys, in the order served.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The first key whose `kid` is `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The example key of RFC 7638 §3.1.
    const RFC_7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn thumbprint_input_matches_rfc_7638_example() {
        let key: Jwk = serde_json::from_value(json!({
            "kty": "RSA", "n": RFC_7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        }))
        .unwrap();
        // The canonical form printed in RFC 7638 §3.1; its SHA-256, base64url
        // encoded, is the RFC's NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
        let expected = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{RFC_7638_N}"}}"#);
        assert_eq!(key.thumbprint_input().as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn thumbprint_input_per_key_type() {
        #[track_caller]
        fn check(key: Value, expected: Option<&str>) {
            let key: Jwk = serde_json::from_value(key).unwrap();
            assert_eq!(key.thumbprint_input().as_deref(), expected);
        }
        check(
            json!({"kty": "EC", "crv": "P-256", "x": "X", "y": "Y", "kid": "k", "use": "sig"}),
            Some(r#"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#),
        );
        check(
            json!({"kty": "OKP", "crv": "Ed25519", "x": "X"}),
            Some(r#"{"crv":"Ed25519","kty":"OKP","x":"X"}"#),
        );
        check(json!({"kty": "RSA", "n": "N"}), None);
        check(json!({"kty": "EC", "crv": "P-256", "x": "X"}), None);
        check(json!({"kty": "oct", "k": "K"}), None);
        check(json!({"kty": "rsa", "n": "N", "e": "E"}), None);
        check(
            json!({"kty": "RSA", "n": "a\"b", "e": "E"}),
            Some(r#"{"e":"E","kty":"RSA","n":"a\"b"}"#),
        );
    }

    #[test]
    fn jwk_round_trips_with_use_and_extra_members() {
        let value = json!({
            "kty": "RSA", "use": "sig", "key_ops": ["verify"], "alg": "RS256", "kid": "k1",
            "n": "N", "e": "AQAB", "x5c": ["cert"]
        });
        let key: Jwk = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(key.use_.as_deref(), Some("sig"));
        assert_eq!(key.extra.get("x5c"), Some(&json!(["cert"])));
        assert_eq!(serde_json::to_value(&key).unwrap(), value);
    }

    #[test]
    fn jwks_finds_keys_by_kid() {
        let jwks: Jwks = serde_json::from_value(json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": "N1", "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": "N2", "e": "AQAB"},
            {"kty": "RSA", "n": "N3", "e": "AQAB"}
        ]}))
        .unwrap();
        assert_eq!(jwks.find("b").and_then(|key| key.n.as_deref()), Some("N2"));
        assert!(jwks.find("c").is_none());
        assert!(Jwks::default().find("a").is_none());
    }
}
