//! A JWK's public key turned into a verification key once, with the algorithms it may verify:
//! the one conversion the validator's JWKS, the auth server's registered client keys and DPoP
//! proofs' embedded keys share.

use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::Jwk;

/// The smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
pub const MIN_RSA_BITS: usize = 2048;

/// The members of a JWK that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The algorithm families a public key can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA: RS256/384/512 and PS256/384/512.
    Rsa,
    /// EC on P-256: ES256.
    EcP256,
    /// EC on P-384: ES384.
    EcP384,
    /// Ed25519: EdDSA (RFC 8037).
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind may verify `algorithm`.
    pub fn fits(self, algorithm: Algorithm) -> bool {
        use Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
        match self {
            KeyKind::Rsa => matches!(algorithm, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => algorithm == ES256,
            KeyKind::EcP384 => algorithm == ES384,
            KeyKind::Ed25519 => algorithm == EdDSA,
        }
    }
}

/// Why a JWK cannot be used to verify signatures. The messages name the problem, never a key
/// member's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyError {
    /// A member the key type needs is missing.
    MissingMember,
    /// A key member is not base64url.
    NotBase64url,
    /// An RSA modulus below [`MIN_RSA_BITS`].
    ShortRsaModulus,
    /// An empty RSA exponent.
    EmptyRsaExponent,
    /// EC coordinates of the wrong length for the curve.
    WrongEcLength,
    /// An Ed25519 key that is not 32 bytes.
    WrongEd25519Length,
    /// `oct`: a shared secret, never a public key.
    Symmetric,
    /// A key type or curve other than RSA, EC P-256/P-384 and Ed25519.
    Unsupported,
    /// The JWK carries private key material.
    PrivateMembers,
    /// The JWK's `alg` is not a JWS algorithm.
    UnknownAlg,
    /// The JWK's `alg` does not fit its key type.
    AlgMismatch,
}

impl PublicKeyError {
    /// The reason, as a phrase completing "the key is skipped because …".
    pub fn as_str(self) -> &'static str {
        match self {
            PublicKeyError::MissingMember => "a key member is missing",
            PublicKeyError::NotBase64url => "a key member is not base64url",
            PublicKeyError::ShortRsaModulus => "its RSA modulus is shorter than 2048 bits",
            PublicKeyError::EmptyRsaExponent => "its RSA exponent is empty",
            PublicKeyError::WrongEcLength => "its EC coordinates have the wrong length",
            PublicKeyError::WrongEd25519Length => "its Ed25519 key has the wrong length",
            PublicKeyError::Symmetric => "symmetric keys are never public keys",
            PublicKeyError::Unsupported => "its key type or curve is not supported",
            PublicKeyError::PrivateMembers => "it contains private key members",
            PublicKeyError::UnknownAlg => "its `alg` is not a JWS algorithm",
            PublicKeyError::AlgMismatch => "its `alg` does not match its key type",
        }
    }
}

impl std::fmt::Display for PublicKeyError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::error::Error for PublicKeyError {}

/// A parsed public key: its kind, the JWK's own `alg` if it named one, and jsonwebtoken's key.
#[derive(Clone)]
pub struct PublicKey {
    /// Which algorithms the key type can verify.
    pub kind: KeyKind,
    /// The JWK's `alg` (RFC 7517 §4.4), which a token's `alg` must then equal.
    pub alg: Option<Algorithm>,
    /// The key, ready for `jsonwebtoken::decode` or [`jsonwebtoken::crypto::verify`].
    pub key: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PublicKey")
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Parses a JWK's public key (RFC 7517, RFC 7518 §6, RFC 8037 §2). A JWK with private
    /// members is refused rather than stripped: a sender that publishes its private key has a
    /// bug a test should see (RFC 9449 §4.3 check 7 asks the same of DPoP proofs).
    pub fn from_jwk(jwk: &Jwk) -> Result<PublicKey, PublicKeyError> {
        if jwk.kty == "oct" {
            return Err(PublicKeyError::Symmetric);
        }
        if PRIVATE_MEMBERS
            .iter()
            .any(|member| jwk.extra.contains_key(*member))
        {
            return Err(PublicKeyError::PrivateMembers);
        }
        let decode = |value: Option<&String>| -> Result<Vec<u8>, PublicKeyError> {
            let value = value.ok_or(PublicKeyError::MissingMember)?;
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| PublicKeyError::NotBase64url)
        };
        let (kind, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let n = decode(jwk.n.as_ref())?;
                let e = decode(jwk.e.as_ref())?;
                let significant = n.iter().skip_while(|&&byte| byte == 0).count();
                if significant * 8 < MIN_RSA_BITS {
                    return Err(PublicKeyError::ShortRsaModulus);
                }
                if e.is_empty() {
                    return Err(PublicKeyError::EmptyRsaExponent);
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
                    return Err(PublicKeyError::WrongEcLength);
                }
                // The uncompressed SEC1 point aws-lc-rs verifies with.
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (kind, DecodingKey::from_ec_der(&point))
            }
            ("OKP", Some("Ed25519")) => {
                let x = decode(jwk.x.as_ref())?;
                if x.len() != 32 {
                    return Err(PublicKeyError::WrongEd25519Length);
                }
                (KeyKind::Ed25519, DecodingKey::from_ed_der(&x))
            }
            _ => return Err(PublicKeyError::Unsupported),
        };
        let alg = match jwk.alg.as_deref() {
            None => None,
            Some(alg) => {
                let alg = Algorithm::from_str(alg).map_err(|_| PublicKeyError::UnknownAlg)?;
                if !kind.fits(alg) {
                    return Err(PublicKeyError::AlgMismatch);
                }
                Some(alg)
            }
        };
        Ok(PublicKey { kind, alg, key })
    }

    /// Whether this key may verify `algorithm`: the key type must fit, and a JWK `alg`, when
    /// given, must be the same.
    pub fn fits(&self, algorithm: Algorithm) -> bool {
        self.kind.fits(algorithm) && self.alg.is_none_or(|alg| alg == algorithm)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn converts_or_refuses_each_kind_of_jwk() {
        #[track_caller]
        fn check(jwk: Value, expected: Result<(KeyKind, Option<Algorithm>), PublicKeyError>) {
            let jwk: Jwk = serde_json::from_value(jwk).unwrap();
            let got = PublicKey::from_jwk(&jwk).map(|key| (key.kind, key.alg));
            assert_eq!(got, expected);
        }
        let n = b64(&[0xC5; 256]);
        let short_n = b64(&[0xC5; 255]);
        let p256 = b64(&[7; 32]);
        let p384 = b64(&[7; 48]);
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB"}),
            Ok((KeyKind::Rsa, None)),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "PS256"}),
            Ok((KeyKind::Rsa, Some(Algorithm::PS256))),
        );
        check(
            json!({"kty": "RSA", "n": short_n, "e": "AQAB"}),
            Err(PublicKeyError::ShortRsaModulus),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": ""}),
            Err(PublicKeyError::EmptyRsaExponent),
        );
        check(
            json!({"kty": "RSA", "n": n}),
            Err(PublicKeyError::MissingMember),
        );
        check(
            json!({"kty": "RSA", "n": "not base64!", "e": "AQAB"}),
            Err(PublicKeyError::NotBase64url),
        );
        check(
            json!({"kty": "EC", "crv": "P-256", "x": p256, "y": p256}),
            Ok((KeyKind::EcP256, None)),
        );
        check(
            json!({"kty": "EC", "crv": "P-384", "x": p384, "y": p384, "alg": "ES384"}),
            Ok((KeyKind::EcP384, Some(Algorithm::ES384))),
        );
        check(
            json!({"kty": "EC", "crv": "P-256", "x": p384, "y": p384}),
            Err(PublicKeyError::WrongEcLength),
        );
        check(
            json!({"kty": "EC", "crv": "P-256", "x": p256, "y": p256, "alg": "ES384"}),
            Err(PublicKeyError::AlgMismatch),
        );
        check(
            json!({"kty": "EC", "crv": "secp256k1", "x": p256, "y": p256}),
            Err(PublicKeyError::Unsupported),
        );
        check(
            json!({"kty": "OKP", "crv": "Ed25519", "x": p256}),
            Ok((KeyKind::Ed25519, None)),
        );
        check(
            json!({"kty": "OKP", "crv": "Ed448", "x": p256}),
            Err(PublicKeyError::Unsupported),
        );
        check(
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            Err(PublicKeyError::Symmetric),
        );
        check(
            json!({"kty": "EC", "crv": "P-256", "x": p256, "y": p256, "d": p256}),
            Err(PublicKeyError::PrivateMembers),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS999"}),
            Err(PublicKeyError::UnknownAlg),
        );
    }

    #[test]
    fn debug_names_the_kind_only() {
        let jwk: Jwk =
            serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[9; 32])}))
                .unwrap();
        let debug = format!("{:?}", PublicKey::from_jwk(&jwk).unwrap());
        assert_eq!(debug, "PublicKey { kind: Ed25519, alg: None, .. }");
    }
}
