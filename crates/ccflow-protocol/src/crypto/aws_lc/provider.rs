//! jsonwebtoken's provider on aws-lc-rs, with keys parsed once instead of on every signature and
//! every verification.
//!
//! jsonwebtoken 11's aws-lc provider re-parses the key inside every `encode()` and `decode()`:
//! for RS256 that costs more than the signature itself, and a third of a verification. Its
//! `CryptoProvider` factories are plain functions of `(&Algorithm, &key)`, so ccflow's provider
//! keeps the parsed aws-lc-rs key per key bytes and hands out signers and verifiers holding
//! it. Key utilities and every other algorithm are delegated to the aws-lc default provider.
//! `jwt::install_provider` installs it.

use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self as aws, EcdsaKeyPair, ParsedPublicKey, RsaKeyPair, VerificationAlgorithm,
};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, aws_lc};
use jsonwebtoken::errors::Result as JwtResult;
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};

/// How many distinct keys each parsed-key cache holds; past that it is cleared. A server has
/// a handful of keys and a validator a JWKS, so this only bounds pathological use (e.g. a
/// JWKS that changes on every fetch).
const MAX_CACHED_KEYS: usize = 64;

pub(super) static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: cached_signer,
    verifier_factory: cached_verifier,
    key_utils: aws_lc::DEFAULT_PROVIDER.key_utils.clone(),
});

/// A short list of parsed keys, read-mostly, searched by comparing key bytes. For the handful
/// of keys a process has, a comparison (which stops at the first differing byte, and on a hit
/// is one `memcmp`) costs less than hashing a 270-byte public or 1.2 KB private key, and no
/// lookup key has to be built: this runs for every signature and every verification.
struct Cache<K, V>(RwLock<Vec<(K, V)>>);

impl<K, V: Clone> Cache<K, V> {
    const fn new() -> Self {
        Cache(RwLock::new(Vec::new()))
    }

    /// The value whose key `matches`, else `parse()`'s (remembered under `key()`).
    fn get_or_parse(
        &self,
        matches: impl Fn(&K) -> bool,
        key: impl FnOnce() -> K,
        parse: impl FnOnce(&K) -> Option<V>,
    ) -> Option<V> {
        let found = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(cached, _)| matches(cached))
            .map(|(_, value)| value.clone());
        if found.is_some() {
            return found;
        }
        let key = key();
        let value = parse(&key)?;
        let mut entries = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.push((key, value.clone()));
        Some(value)
    }
}

// ---- signing ----

#[derive(Clone)]
enum PrivateKey {
    Rsa(Arc<RsaKeyPair>),
    Es256(Arc<EcdsaKeyPair>),
}

static PRIVATE_KEYS: Cache<Vec<u8>, PrivateKey> = Cache::new();

fn private_key(key: &EncodingKey, algorithm: Algorithm) -> Option<PrivateKey> {
    // The cache key is the DER itself: an ES256 and an RSA key can never share bytes.
    let der = key.as_bytes();
    PRIVATE_KEYS.get_or_parse(
        |cached| cached.as_slice() == der,
        || der.to_vec(),
        |der| {
            Some(match algorithm {
                Algorithm::ES256 => PrivateKey::Es256(Arc::new(
                    EcdsaKeyPair::from_pkcs8(&aws::ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?,
                )),
                _ => PrivateKey::Rsa(Arc::new(RsaKeyPair::from_der(der).ok()?)),
            })
        },
    )
}

fn rsa_padding(algorithm: Algorithm) -> Option<&'static dyn aws::RsaEncoding> {
    Some(match algorithm {
        Algorithm::RS256 => &aws::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &aws::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &aws::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &aws::RSA_PSS_SHA256,
        Algorithm::PS384 => &aws::RSA_PSS_SHA384,
        Algorithm::PS512 => &aws::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn cached_signer(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    let signer = match (*algorithm, rsa_padding(*algorithm)) {
        (Algorithm::ES256, _) => match private_key(key, *algorithm) {
            Some(PrivateKey::Es256(pair)) => Some(SigningKey::Es256(pair)),
            _ => None,
        },
        (_, Some(padding)) => match private_key(key, *algorithm) {
            Some(PrivateKey::Rsa(pair)) => Some(SigningKey::Rsa(pair, padding)),
            _ => None,
        },
        _ => None,
    };
    match signer {
        Some(key) => Ok(Box::new(CachedSigner {
            algorithm: *algorithm,
            key,
        })),
        // Another algorithm, or a key that does not parse: the default provider decides,
        // and reports errors in its own words.
        None => (aws_lc::DEFAULT_PROVIDER.signer_factory)(algorithm, key),
    }
}

enum SigningKey {
    Rsa(Arc<RsaKeyPair>, &'static dyn aws::RsaEncoding),
    Es256(Arc<EcdsaKeyPair>),
}

struct CachedSigner {
    algorithm: Algorithm,
    key: SigningKey,
}

impl signature::Signer<Vec<u8>> for CachedSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match &self.key {
            SigningKey::Rsa(pair, padding) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(*padding, &rng, message, &mut signature)
                    .map_err(signature::Error::from_source)?;
                Ok(signature)
            }
            SigningKey::Es256(pair) => Ok(pair
                .sign(&rng, message)
                .map_err(signature::Error::from_source)?
                .as_ref()
                .to_vec()),
        }
    }
}

impl JwtSigner for CachedSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

// ---- verification ----

fn verification_algorithm(algorithm: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match algorithm {
        Algorithm::RS256 => &aws::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &aws::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &aws::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &aws::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &aws::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &aws::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &aws::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &aws::ECDSA_P384_SHA384_FIXED,
        _ => return None,
    })
}

/// A public key as jsonwebtoken holds it: DER, or RSA `n`/`e` components (from a JWK).
#[derive(PartialEq, Eq)]
enum PublicMaterial {
    Der(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl PublicMaterial {
    fn of(key: &DecodingKey) -> Self {
        match key.kind() {
            DecodingKeyKind::SecretOrDer(der) => PublicMaterial::Der(der.clone()),
            DecodingKeyKind::RsaModulusExponent { n, e } => PublicMaterial::Rsa {
                n: n.clone(),
                e: e.clone(),
            },
        }
    }

    fn is(&self, key: &DecodingKey) -> bool {
        match (self, key.kind()) {
            (PublicMaterial::Der(cached), DecodingKeyKind::SecretOrDer(der)) => cached == der,
            (
                PublicMaterial::Rsa { n, e },
                DecodingKeyKind::RsaModulusExponent { n: key_n, e: key_e },
            ) => n == key_n && e == key_e,
            _ => false,
        }
    }

    /// The bytes aws-lc-rs parses: DER as given, or for RSA components the PKCS#1
    /// `RSAPublicKey` DER built from them (RFC 8017 §A.1.1).
    fn der(&self) -> Vec<u8> {
        match self {
            PublicMaterial::Der(der) => der.clone(),
            PublicMaterial::Rsa { n, e } => {
                let mut body = der_integer(n);
                body.extend(der_integer(e));
                der_tlv(0x30, &body)
            }
        }
    }
}

fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = match magnitude.iter().position(|&byte| byte != 0) {
        Some(start) => &magnitude[start..],
        None => &[0][..],
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    // A leading 1 bit would make the (unsigned) magnitude negative in DER.
    if trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    der_tlv(0x02, &content)
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(u8::try_from(length).unwrap_or(0));
    } else {
        let bytes = length.to_be_bytes();
        let significant = &bytes[bytes.iter().position(|&byte| byte != 0).unwrap_or(0)..];
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

static PUBLIC_KEYS: Cache<(Algorithm, PublicMaterial), Arc<ParsedPublicKey>> = Cache::new();

fn cached_verifier(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    let parsed = verification_algorithm(*algorithm).and_then(|verification| {
        PUBLIC_KEYS.get_or_parse(
            |(cached_algorithm, material)| cached_algorithm == algorithm && material.is(key),
            || (*algorithm, PublicMaterial::of(key)),
            |(_, material)| {
                ParsedPublicKey::new(verification, material.der())
                    .ok()
                    .map(Arc::new)
            },
        )
    });
    match parsed {
        Some(key) => Ok(Box::new(CachedVerifier {
            algorithm: *algorithm,
            key,
        })),
        // HMAC, EdDSA, or a key that does not parse for this algorithm: the default provider
        // decides, with its own errors (e.g. InvalidKeyFormat for a key-type mismatch).
        None => (aws_lc::DEFAULT_PROVIDER.verifier_factory)(algorithm, key),
    }
}

struct CachedVerifier {
    algorithm: Algorithm,
    key: Arc<ParsedPublicKey>,
}

impl signature::Verifier<Vec<u8>> for CachedVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        self.key
            .verify_sig(message, signature)
            .map_err(signature::Error::from_source)
    }
}

impl JwtVerifier for CachedVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// A signature from the default aws-lc provider (parses the key every time), for benches.
pub(in crate::crypto) fn default_provider_sign(
    algorithm: Algorithm,
    key: &EncodingKey,
    message: &[u8],
) -> Vec<u8> {
    let signer = (aws_lc::DEFAULT_PROVIDER.signer_factory)(&algorithm, key).expect("a signer");
    signature::Signer::try_sign(signer.as_ref(), message).expect("a signature")
}

/// A signature from ccflow's provider (parsed key cached), for benches.
pub(in crate::crypto) fn cached_provider_sign(
    algorithm: Algorithm,
    key: &EncodingKey,
    message: &[u8],
) -> Vec<u8> {
    let signer = cached_signer(&algorithm, key).expect("a signer");
    signature::Signer::try_sign(signer.as_ref(), message).expect("a signature")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};

    const RSA: &str = include_str!("../../../../../fixtures/keys/rs256-1.pem");
    const RSA_OTHER: &str = include_str!("../../../../../fixtures/keys/rs256-2.pem");
    const EC: &str = include_str!("../../../../../fixtures/keys/es256-1.pem");

    fn encoding(pem: &str, algorithm: Algorithm) -> EncodingKey {
        // Before any jsonwebtoken call that reads the process default: in a build with both
        // backends, jsonwebtoken's own choice would be a provider that panics.
        crate::jwt::install_provider();
        match algorithm {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        }
    }

    /// The public key as a validator gets it: from the JWK's components.
    fn decoding(pem: &str, algorithm: Algorithm) -> DecodingKey {
        let jwk = Jwk::from_encoding_key(&encoding(pem, algorithm), algorithm).unwrap();
        match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => DecodingKey::from_rsa_components(&rsa.n, &rsa.e),
            AlgorithmParameters::EllipticCurve(ec) => DecodingKey::from_ec_components(&ec.x, &ec.y),
            _ => unreachable!("RSA and EC fixtures only"),
        }
        .unwrap()
    }

    fn verify_with(
        factory: fn(&Algorithm, &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>>,
        algorithm: Algorithm,
        key: &DecodingKey,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        factory(&algorithm, key).is_ok_and(|verifier| {
            signature::Verifier::verify(verifier.as_ref(), message, &signature.to_vec()).is_ok()
        })
    }

    #[test]
    fn cached_and_default_providers_agree_both_ways() {
        for (pem, algorithm) in [
            (RSA, Algorithm::RS256),
            (RSA, Algorithm::PS256),
            (EC, Algorithm::ES256),
        ] {
            let key = encoding(pem, algorithm);
            let public = decoding(pem, algorithm);
            let message = b"header.payload";
            for _ in 0..2 {
                let ours = cached_provider_sign(algorithm, &key, message);
                let theirs = default_provider_sign(algorithm, &key, message);
                for signature in [&ours, &theirs] {
                    assert!(verify_with(
                        aws_lc::DEFAULT_PROVIDER.verifier_factory,
                        algorithm,
                        &public,
                        message,
                        signature
                    ));
                    assert!(
                        verify_with(cached_verifier, algorithm, &public, message, signature),
                        "{algorithm:?}"
                    );
                    assert!(!verify_with(
                        cached_verifier,
                        algorithm,
                        &public,
                        b"header.payloaD",
                        signature
                    ));
                }
            }
        }
    }

    #[test]
    fn the_cached_verifier_never_confuses_keys_or_algorithms() {
        let message = b"header.payload";
        let signature =
            cached_provider_sign(Algorithm::RS256, &encoding(RSA, Algorithm::RS256), message);
        // Same algorithm, another key: the cache is keyed by the key bytes.
        assert!(verify_with(
            cached_verifier,
            Algorithm::RS256,
            &decoding(RSA, Algorithm::RS256),
            message,
            &signature
        ));
        assert!(!verify_with(
            cached_verifier,
            Algorithm::RS256,
            &decoding(RSA_OTHER, Algorithm::RS256),
            message,
            &signature
        ));
        // Same key, another algorithm: keyed by algorithm too (PKCS#1 v1.5 is not PSS).
        assert!(!verify_with(
            cached_verifier,
            Algorithm::PS256,
            &decoding(RSA, Algorithm::RS256),
            message,
            &signature
        ));
        // An RSA key for ES256 is refused, as the default provider refuses it.
        assert!(!verify_with(
            cached_verifier,
            Algorithm::ES256,
            &decoding(RSA, Algorithm::RS256),
            message,
            &signature
        ));
    }

    #[test]
    fn the_der_built_from_components_is_the_keys_own() {
        let key = encoding(RSA, Algorithm::RS256);
        let pair = RsaKeyPair::from_der(key.as_bytes()).unwrap();
        let from_components = PublicMaterial::of(&decoding(RSA, Algorithm::RS256)).der();
        assert_eq!(
            from_components,
            aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref()
        );
        // Leading zeros are dropped and a high bit gets its 0x00 pad.
        assert_eq!(der_integer(&[0, 0, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(der_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(der_integer(&[0, 0]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn key_material_matches_only_the_same_bytes_in_the_same_form() {
        let components = decoding(RSA, Algorithm::RS256);
        let material = PublicMaterial::of(&components);
        assert!(material.is(&components));
        // The same key as DER is another cache entry, never a false hit.
        let der = DecodingKey::from_rsa_der(&material.der());
        assert!(!material.is(&der));
        assert!(PublicMaterial::of(&der).is(&der));
        let DecodingKeyKind::RsaModulusExponent { n, e } = components.kind() else {
            panic!("a JWK-style key")
        };
        let mut other_n = n.clone();
        *other_n.last_mut().unwrap() ^= 1;
        assert!(!material.is(&DecodingKey::from_rsa_raw_components(&other_n, e)));
        assert!(!material.is(&DecodingKey::from_rsa_raw_components(n, &[1, 0, 0, 1])));
    }

    #[test]
    fn an_unparseable_key_falls_back_to_the_default_error() {
        let error = cached_signer(&Algorithm::RS256, &EncodingKey::from_rsa_der(b"not a key"))
            .and_then(|signer| {
                signature::Signer::try_sign(signer.as_ref(), b"m")
                    .map_err(|e| jsonwebtoken::errors::ErrorKind::Signing(e.to_string()).into())
            });
        assert!(error.is_err());
        assert!(!verify_with(
            cached_verifier,
            Algorithm::RS256,
            &DecodingKey::from_rsa_raw_components(b"\x01", b"\x01"),
            b"m",
            b"s"
        ));
    }
}
