//! Key conversion: a JWK Set's entries (RFC 7517) turned into verification keys once, when the
//! set is loaded, and the lookup of a token's `kid` and `alg` in the loaded set.

use std::time::{Duration, SystemTime};

use ccflow_protocol::Jwk;
use ccflow_protocol::public_key::{PublicKey, PublicKeyError};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

/// The most keys kept from one JWKS; further keys are ignored (with a warning).
pub const MAX_KEYS: usize = 100;
/// How many keys a token without `kid` is tried against, so a kid-less
/// forgery cannot make one request cost a hundred signature checks.
pub const MAX_KIDLESS_CANDIDATES: usize = 8;

/// One public key from the JWKS, parsed once when the set is loaded.
pub(crate) struct VerificationKey {
    kid: Option<String>,
    public: PublicKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("kind", &self.public.kind)
            .field("alg", &self.public.alg)
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
        let public = PublicKey::from_jwk(jwk).map_err(PublicKeyError::as_str)?;
        Ok(VerificationKey {
            kid: jwk.kid.clone(),
            public,
        })
    }

    /// The parsed key.
    pub(crate) fn key(&self) -> &DecodingKey {
        &self.public.key
    }

    /// Whether this key may verify a token signed with `algorithm`: the key
    /// type must fit, and a JWK `alg`, when given, must be the same.
    fn fits(&self, algorithm: Algorithm) -> bool {
        self.public.fits(algorithm)
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

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ccflow_protocol::public_key::KeyKind;

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
            let result = VerificationKey::from_jwk(&jwk(value)).map(|key| key.public.kind);
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
            Err("symmetric keys are never public keys"),
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
