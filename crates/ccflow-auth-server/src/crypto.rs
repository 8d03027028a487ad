//! jsonwebtoken's crypto backend (DESIGN.md "Crypto": aws-lc-rs only), with signing keys parsed
//! once instead of on every token.
//!
//! jsonwebtoken 11's aws-lc provider re-parses the RSA private key inside every `encode()`,
//! which costs more than the signature itself. Its `CryptoProvider::signer_factory` is a plain
//! function of `(&Algorithm, &EncodingKey)`, so our provider keeps the parsed aws-lc-rs key pair
//! per key (by its DER bytes) and hands out signers holding it. Verification, key utilities
//! and every other algorithm are delegated to the aws-lc default provider.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as aws, EcdsaKeyPair, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, aws_lc};
use jsonwebtoken::errors::Result as JwtResult;
use jsonwebtoken::{Algorithm, EncodingKey};

/// How many distinct signing keys the parsed-key cache holds; past that it is cleared (a
/// server has a handful of keys, so this only bounds pathological use).
const MAX_CACHED_KEYS: usize = 64;

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: cached_signer,
    verifier_factory: aws_lc::DEFAULT_PROVIDER.verifier_factory,
    key_utils: aws_lc::DEFAULT_PROVIDER.key_utils.clone(),
});

/// Installs ccflow's provider as the process default. Idempotent: a provider installed earlier
/// (by us or by the embedding application) is left in place, and signing still works through it.
pub(crate) fn install_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // An `Err` means some provider is already installed, which is what we want anyway.
        let _ = PROVIDER.install_default();
    });
}

#[derive(Clone)]
enum ParsedKey {
    Rsa(Arc<RsaKeyPair>),
    Es256(Arc<EcdsaKeyPair>),
}

static PARSED: LazyLock<RwLock<HashMap<Vec<u8>, ParsedKey>>> = LazyLock::new(RwLock::default);

fn parsed(key: &EncodingKey, algorithm: Algorithm) -> Option<ParsedKey> {
    let der = key.as_bytes();
    if let Some(parsed) = PARSED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(der)
    {
        return Some(parsed.clone());
    }
    let parsed = match algorithm {
        Algorithm::ES256 => ParsedKey::Es256(Arc::new(
            EcdsaKeyPair::from_pkcs8(&aws::ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?,
        )),
        _ => ParsedKey::Rsa(Arc::new(RsaKeyPair::from_der(der).ok()?)),
    };
    let mut cache = PARSED.write().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= MAX_CACHED_KEYS {
        cache.clear();
    }
    cache.insert(der.to_vec(), parsed.clone());
    Some(parsed)
}

fn cached_signer(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    let padding: &'static dyn aws::RsaEncoding = match algorithm {
        Algorithm::RS256 => &aws::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &aws::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &aws::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &aws::RSA_PSS_SHA256,
        Algorithm::PS384 => &aws::RSA_PSS_SHA384,
        Algorithm::PS512 => &aws::RSA_PSS_SHA512,
        Algorithm::ES256 => {
            return match parsed(key, *algorithm) {
                Some(ParsedKey::Es256(pair)) => Ok(Box::new(CachedSigner {
                    algorithm: *algorithm,
                    key: Key::Es256(pair),
                })),
                _ => (aws_lc::DEFAULT_PROVIDER.signer_factory)(algorithm, key),
            };
        }
        _ => return (aws_lc::DEFAULT_PROVIDER.signer_factory)(algorithm, key),
    };
    match parsed(key, *algorithm) {
        Some(ParsedKey::Rsa(pair)) => Ok(Box::new(CachedSigner {
            algorithm: *algorithm,
            key: Key::Rsa(pair, padding),
        })),
        // Not a parseable RSA key: let the default provider report it in its own words.
        _ => (aws_lc::DEFAULT_PROVIDER.signer_factory)(algorithm, key),
    }
}

enum Key {
    Rsa(Arc<RsaKeyPair>, &'static dyn aws::RsaEncoding),
    Es256(Arc<EcdsaKeyPair>),
}

struct CachedSigner {
    algorithm: Algorithm,
    key: Key,
}

impl signature::Signer<Vec<u8>> for CachedSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Rsa(pair, padding) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(*padding, &rng, message, &mut signature)
                    .map_err(signature::Error::from_source)?;
                Ok(signature)
            }
            Key::Es256(pair) => Ok(pair
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

/// A signer from the default aws-lc provider (parses the key every time), for the bench.
#[doc(hidden)]
pub fn default_provider_sign(algorithm: Algorithm, key: &EncodingKey, message: &[u8]) -> Vec<u8> {
    let signer = (aws_lc::DEFAULT_PROVIDER.signer_factory)(&algorithm, key).expect("a signer");
    signature::Signer::try_sign(signer.as_ref(), message).expect("a signature")
}

/// A signer from ccflow's provider (parsed key cached), for the bench.
#[doc(hidden)]
pub fn cached_provider_sign(algorithm: Algorithm, key: &EncodingKey, message: &[u8]) -> Vec<u8> {
    let signer = cached_signer(&algorithm, key).expect("a signer");
    signature::Signer::try_sign(signer.as_ref(), message).expect("a signature")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_signatures_verify_with_the_default_verifier() {
        for (pem, algorithm) in [
            (
                include_str!("../../../fixtures/keys/rs256-1.pem"),
                Algorithm::RS256,
            ),
            (
                include_str!("../../../fixtures/keys/rs256-1.pem"),
                Algorithm::PS256,
            ),
            (
                include_str!("../../../fixtures/keys/es256-1.pem"),
                Algorithm::ES256,
            ),
        ] {
            let key = crate::SigningKey::from_pem(pem).unwrap();
            let message = b"header.payload";
            for _ in 0..2 {
                let signature = cached_provider_sign(algorithm, key.encoding_key(), message);
                let verifier =
                    (aws_lc::DEFAULT_PROVIDER.verifier_factory)(&algorithm, key.decoding_key())
                        .unwrap();
                signature::Verifier::verify(verifier.as_ref(), message, &signature)
                    .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
            }
        }
    }

    #[test]
    fn an_unparseable_key_falls_back_to_the_default_error() {
        let error = cached_signer(&Algorithm::RS256, &EncodingKey::from_rsa_der(b"not a key"))
            .and_then(|signer| {
                signature::Signer::try_sign(signer.as_ref(), b"m")
                    .map_err(|e| jsonwebtoken::errors::ErrorKind::Signing(e.to_string()).into())
            });
        assert!(error.is_err());
    }
}
