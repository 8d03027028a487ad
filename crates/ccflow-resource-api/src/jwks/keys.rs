//! Key conversion: a JWK Set's entries (RFC 7517) turned into verification keys once, when the
//! set is loaded, and the lookup of a token's `kid` and `alg` in the loaded set.

use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

/// The most keys kept from one JWKS; further keys are ignored (with a warning).
pub const MAX_KEYS: usize = 100;
/// How many keys a token without `kid` is tried against, so a kid-less
/// forgery cannot make one request cost a hundred signature checks.
pub const MAX_KIDLESS_CANDIDATES: usize = 8;
/// The smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
const MIN_RSA_BITS: usize = 2048;

/// The algorithm families a JWK can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    fn fits(self, algorithm: Algorithm) -> bool {
        use Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
        match self {
            KeyKind::Rsa => matches!(algorithm, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => algorithm == ES256,
            KeyKind::EcP384 => algorithm == ES384,
            KeyKind::Ed25519 => algorithm == EdDSA,
        }
    }
}

/// One public key from the JWKS, parsed once when the set is loaded.
pub(crate) struct VerificationKey {
    kid: Option<String>,
    kind: KeyKind,
    /// The JWK's own `alg`, which the token's must equal (RFC 7517 §4.4).
    alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// Parses a JWK into a verification key, or says why it is skipped.
    /// Symmetric (`oct`) keys are always skipped: HMAC keys never come from a
    /// JWKS, so a published secret cannot be turned against us.
    fn from_jwk(jwk: &Jwk) -> Result<VerificationKey, &'static str> {
        if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
            return Err("its `use` is not `sig`");
        }
        if jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            return Err("its `key_ops` do not include `verify`");
        }
        let decode = |value: Option<&String>| -> Result<Vec<u8>, &'static str> {
            let value = value.ok_or("a key member is missing")?;
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| "a key member is not base64url")
        };
        let (kind, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let n = decode(jwk.n.as_ref())?;
                let e = decode(jwk.e.as_ref())?;
                let significant = n.iter().skip_while(|&&byte| byte == 0).count();
                if significant * 8 < MIN_RSA_BITS {
                    return Err("its RSA modulus is shorter than 2048 bits");
                }
                if e.is_empty() {
                    return Err("its RSA exponent is empty");
                }
                (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
            }
            ("EC", Some(curve @ ("P-256" | "P-384"))) => {
                let (kind, size) = if curve == "P-256" {
                    (KeyKind::EcP256, 32)
                } else {
                    (KeyKind::EcP384, 48)
                };
                let x = decode(jwk.x.as_ref())?;
                let y = decode(jwk.y.as_ref())?;
                if x.len() != size || y.len() != size {
                    return Err("its EC coordinates have the wrong length");
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (kind, DecodingKey::from_ec_der(&point))
            }
            ("OKP", Some("Ed25519")) => {
                let x = decode(jwk.x.as_ref())?;
                if x.len() != 32 {
                    return Err("its Ed25519 key has the wrong length");
                }
                (KeyKind::Ed25519, DecodingKey::from_ed_der(&x))
            }
            ("oct", _) => return Err("symmetric keys are never taken from a JWKS"),
            _ => return Err("its key type or curve is not supported"),
        };
        let alg = match jwk.alg.as_deref() {
            None => None,
            Some(alg) => {
                let alg =
                    Algorithm::from_str(alg).map_err(|_| "its `alg` is not a JWS algorithm")?;
                if !kind.fits(alg) {
                    return Err("its `alg` does not match its key type");
                }
                Some(alg)
            }
        };
        Ok(VerificationKey {
            kid: jwk.kid.clone(),
            kind,
            alg,
            key,
        })
    }

    /// Whether this key may verify a token signed with `algorithm`: the key
    /// type must fit, and a JWK `alg`, when given, must be the same.
    fn fits(&self, algorithm: Algorithm) -> bool {
        self.kind.fits(algorithm) && self.alg.is_none_or(|alg| alg == algorithm)
    }
}

/// What a key lookup found.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    /// Keys to try, in JWKS order.
    Found(Vec<&'a VerificationKey>),
    /// Keys with this `kid` exist, but none fits the token's `alg`.
    Mismatch,
    /// No key with this `kid` (or, without a `kid`, none fitting the `alg`).
    Unknown,
}

/// One loaded JWKS. Immutable: a refresh builds a new one and swaps the `Arc`,
/// so a key removed from the JWKS is gone after the next refresh.
#[derive(Debug)]
pub(crate) struct KeySet {
    pub(super) keys: Vec<VerificationKey>,
    pub(super) generation: u64,
    pub(super) fetched_at: SystemTime,
    pub(super) fresh_until: SystemTime,
}

impl KeySet {
    pub(crate) fn lookup(&self, kid: Option<&str>, algorithm: Algorithm) -> Lookup<'_> {
        match kid {
            // Exact match only: a kid is an opaque string, never a path or a query.
            Some(kid) => {
                let mut named = false;
                let mut found = Vec::new();
                for key in self
                    .keys
                    .iter()
                    .filter(|key| key.kid.as_deref() == Some(kid))
                {
                    named = true;
                    if key.fits(algorithm) {
                        found.push(key);
                    }
                }
                match (found.is_empty(), named) {
                    (false, _) => Lookup::Found(found),
                    (true, true) => Lookup::Mismatch,
                    (true, false) => Lookup::Unknown,
                }
            }
            None => {
                let found: Vec<_> = self
                    .keys
                    .iter()
                    .filter(|key| key.fits(algorithm))
                    .take(MAX_KIDLESS_CANDIDATES)
                    .collect();
                if found.is_empty() {
                    Lookup::Unknown
                } else {
                    Lookup::Found(found)
                }
            }
        }
    }

    pub(super) fn is_fresh(&self, now: SystemTime) -> bool {
        now < self.fresh_until
    }

    pub(super) fn is_usable(&self, now: SystemTime, max_stale: Duration) -> bool {
        self.fresh_until
            .checked_add(max_stale)
            .is_none_or(|limit| now < limit)
    }
}

/// Parses a JWK Set (RFC 7517 §5), keeping every usable key. A key that cannot
/// be used is skipped with a warning instead of failing the whole set, so one
/// exotic key cannot take the others down.
pub(super) fn parse_jwks(body: &[u8]) -> Result<Vec<VerificationKey>, String> {
    #[derive(Deserialize)]
    struct RawJwks {
        keys: Vec<Value>,
    }
    let raw: RawJwks = serde_json::from_slice(body)
        .map_err(|_| "not a JWK Set (a JSON object with a `keys` array)".to_owned())?;
    let mut keys = Vec::new();
    for (index, value) in raw.keys.into_iter().enumerate() {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            tracing::warn!(index, "skipping a JWKS entry that is not a JWK");
            continue;
        };
        match VerificationKey::from_jwk(&jwk) {
            Ok(_) if keys.len() == MAX_KEYS => {
                tracing::warn!(
                    limit = MAX_KEYS,
                    "the JWKS has too many keys; ignoring the rest"
                );
                break;
            }
            Ok(key) => keys.push(key),
            Err(why) => {
                let kid = jwk.kid.as_deref().unwrap_or("");
                tracing::warn!(index, kid, why, "skipping a JWKS key");
            }
        }
    }
    if keys.is_empty() {
        tracing::warn!("the JWKS has no usable key: every token will be refused");
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The public half of `fixtures/keys/client-es256.pem`.
    const ES256_X: &str = "cwVPcxL7JJX1kOW7oOUIsKcm7DpIe2evPBxKlmBOSPg";
    const ES256_Y: &str = "S4nSzeBN5-pnATuzLU1mHF79qfWwNGEkGLCoXf-PEik";

    fn rsa_n(bits: usize) -> String {
        let mut n = vec![0xC5_u8; bits / 8];
        n.insert(0, 0);
        URL_SAFE_NO_PAD.encode(n)
    }

    fn jwk(value: Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn converts_usable_jwks_and_explains_the_rest() {
        #[track_caller]
        fn check(value: Value, expected: Result<KeyKind, &str>) {
            let result = VerificationKey::from_jwk(&jwk(value)).map(|key| key.kind);
            assert_eq!(result, expected);
        }
        let n = rsa_n(2048);
        check(json!({"kty": "RSA", "n": n, "e": "AQAB"}), Ok(KeyKind::Rsa));
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "use": "sig", "key_ops": ["verify"], "alg": "PS256"}),
            Ok(KeyKind::Rsa),
        );
        check(
            json!({"kty": "EC", "crv": "P-256", "x": ES256_X, "y": ES256_Y}),
            Ok(KeyKind::EcP256),
        );
        check(
            json!({"kty": "RSA", "n": rsa_n(1024), "e": "AQAB"}),
            Err("its RSA modulus is shorter than 2048 bits"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "use": "enc"}),
            Err("its `use` is not `sig`"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "key_ops": ["encrypt"]}),
            Err("its `key_ops` do not include `verify`"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "ES256"}),
            Err("its `alg` does not match its key type"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RSA-OAEP"}),
            Err("its `alg` is not a JWS algorithm"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "HS256"}),
            Err("its `alg` does not match its key type"),
        );
        check(
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            Err("symmetric keys are never taken from a JWKS"),
        );
        check(
            json!({"kty": "EC", "crv": "P-521", "x": ES256_X, "y": ES256_Y}),
            Err("its key type or curve is not supported"),
        );
        check(
            json!({"kty": "EC", "crv": "P-384", "x": ES256_X, "y": ES256_Y}),
            Err("its EC coordinates have the wrong length"),
        );
        check(
            json!({"kty": "RSA", "e": "AQAB"}),
            Err("a key member is missing"),
        );
        check(
            json!({"kty": "RSA", "n": "!!", "e": "AQAB"}),
            Err("a key member is not base64url"),
        );
    }

    fn key_set(keys: Vec<Value>) -> KeySet {
        let now = SystemTime::UNIX_EPOCH;
        KeySet {
            keys: keys
                .into_iter()
                .map(|value| VerificationKey::from_jwk(&jwk(value)).unwrap())
                .collect(),
            generation: 1,
            fetched_at: now,
            fresh_until: now,
        }
    }

    #[test]
    fn looks_keys_up_by_exact_kid_then_by_algorithm() {
        let n = rsa_n(2048);
        let set = key_set(vec![
            json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "rsa"}),
            json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "rs512-only", "alg": "RS512"}),
            json!({"kty": "EC", "crv": "P-256", "x": ES256_X, "y": ES256_Y}),
        ]);
        #[track_caller]
        fn check(set: &KeySet, kid: Option<&str>, alg: Algorithm, expected: &str) {
            let found = match set.lookup(kid, alg) {
                Lookup::Found(keys) => format!("found {}", keys.len()),
                Lookup::Mismatch => "mismatch".to_owned(),
                Lookup::Unknown => "unknown".to_owned(),
            };
            assert_eq!(found, expected, "{kid:?} {alg:?}");
        }
        check(&set, Some("rsa"), Algorithm::RS256, "found 1");
        check(&set, Some("rsa"), Algorithm::PS256, "found 1");
        check(&set, Some("rsa"), Algorithm::ES256, "mismatch");
        check(&set, Some("rs512-only"), Algorithm::RS256, "mismatch");
        check(&set, Some("rs512-only"), Algorithm::RS512, "found 1");
        check(&set, Some("RSA"), Algorithm::RS256, "unknown");
        check(&set, Some("../../rsa"), Algorithm::RS256, "unknown");
        check(&set, None, Algorithm::RS256, "found 1");
        check(&set, None, Algorithm::RS512, "found 2");
        check(&set, None, Algorithm::ES256, "found 1");
        check(&set, None, Algorithm::ES384, "unknown");
    }

    #[test]
    fn caps_kidless_candidates() {
        let n = rsa_n(2048);
        let set = key_set(vec![json!({"kty": "RSA", "n": n, "e": "AQAB"}); 20]);
        match set.lookup(None, Algorithm::RS256) {
            Lookup::Found(keys) => assert_eq!(keys.len(), MAX_KIDLESS_CANDIDATES),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_jwks_skipping_unusable_keys() {
        let n = rsa_n(2048);
        let body = json!({"keys": [
            {"kty": "RSA", "n": n, "e": "AQAB", "kid": "a"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"no": "kty"},
            "not even an object",
            {"kty": "RSA", "n": n, "e": "AQAB", "kid": "b"}
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = keys.iter().map(|key| key.kid.as_deref()).collect();
        assert_eq!(kids, [Some("a"), Some("b")]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(br#"{"keys": []}"#).unwrap().is_empty());
        let many = json!({"keys": vec![json!({"kty": "RSA", "n": n, "e": "AQAB"}); MAX_KEYS + 5]});
        assert_eq!(
            parse_jwks(many.to_string().as_bytes()).unwrap().len(),
            MAX_KEYS
        );
    }
}
