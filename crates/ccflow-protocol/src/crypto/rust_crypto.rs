//! The RustCrypto backend of [`crate::crypto`] (feature `rust-crypto`): the crates jsonwebtoken's
//! own `rust_crypto` provider compiles (sha2, hmac, p256, ed25519-dalek, rsa), so an embedder's
//! build has no C to compile.
//!
//! RSA signatures here use the `rsa` crate, which carries RUSTSEC-2023-0071 (a timing side
//! channel in private-key operations, no fixed release). Acceptable for what this backend is
//! for, a mock server inside a test process with throw-away keys and no remote party timing it;
//! the default backend (aws-lc-rs) never signs with `rsa` (deny.toml records the same).

use ed25519_dalek::Signer as _;
use hmac::Mac as _;
use jsonwebtoken::crypto::{CryptoProvider, rust_crypto};
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand_core::{OsRng, RngCore as _};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};

use super::{PublicMembers, RandomError};

pub(super) const NAME: &str = "rust-crypto";

pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[derive(Debug, Default, Clone)]
pub(super) struct SystemRandom;

impl SystemRandom {
    pub(super) fn fill(&self, bytes: &mut [u8]) -> Result<(), RandomError> {
        OsRng.try_fill_bytes(bytes).map_err(|_| RandomError)
    }
}

type HmacSha256 = hmac::Hmac<Sha256>;

pub(super) struct HmacSha256Key(HmacSha256);

impl HmacSha256Key {
    pub(super) fn new(key: &[u8; 32]) -> Self {
        // HMAC takes a key of any length (RFC 2104 §2), so this cannot fail.
        Self(<HmacSha256 as hmac::Mac>::new_from_slice(key).expect("HMAC accepts any key length"))
    }

    pub(super) fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    pub(super) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.0.clone();
        mac.update(message);
        // Constant time (subtle), as aws-lc's `hmac::verify`.
        mac.verify_slice(tag).is_ok()
    }
}

pub(super) enum PrivateKey {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(rsa::RsaPrivateKey),
}

/// A random P-256 scalar, drawn again in the (2^-32) case that it is not below the group order.
fn random_p256_secret() -> Result<p256::SecretKey, RandomError> {
    loop {
        let mut scalar = [0_u8; 32];
        SystemRandom.fill(&mut scalar)?;
        if let Ok(secret) = p256::SecretKey::from_bytes(&scalar.into()) {
            return Ok(secret);
        }
    }
}

impl PrivateKey {
    pub(super) fn generate_p256() -> Result<Self, RandomError> {
        Ok(Self::P256(random_p256_secret()?.into()))
    }

    pub(super) fn generate_ed25519() -> Result<Self, RandomError> {
        let mut secret = [0_u8; 32];
        SystemRandom.fill(&mut secret)?;
        Ok(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(
            &secret,
        )))
    }

    pub(super) fn from_pkcs8(der: &[u8]) -> Option<Self> {
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Some(Self::P256(key));
        }
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Some(Self::Ed25519(key));
        }
        rsa::RsaPrivateKey::from_pkcs8_der(der)
            .ok()
            .filter(|key| key.size() * 8 >= crate::public_key::MIN_RSA_BITS)
            .map(Self::Rsa)
    }

    pub(super) fn public_members(&self) -> PublicMembers {
        match self {
            Self::P256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                PublicMembers::P256 {
                    x: point.x().map(|x| x.to_vec()).unwrap_or_default(),
                    y: point.y().map(|y| y.to_vec()).unwrap_or_default(),
                }
            }
            Self::Ed25519(key) => PublicMembers::Ed25519 {
                x: key.verifying_key().to_bytes().to_vec(),
            },
            Self::Rsa(key) => PublicMembers::Rsa {
                n: key.n().to_bytes_be(),
                e: key.e().to_bytes_be(),
            },
        }
    }

    pub(super) fn sign(
        &self,
        algorithm: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, RandomError> {
        Ok(match self {
            // Deterministic ECDSA (RFC 6979): as valid as aws-lc's random `k`.
            Self::P256(key) => {
                let signature: p256::ecdsa::Signature =
                    key.try_sign(message).map_err(|_| RandomError)?;
                signature.to_bytes().to_vec()
            }
            Self::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            // Blinded with OS randomness; PSS salt as long as the hash (RFC 7518 §3.5).
            Self::Rsa(key) if algorithm == Algorithm::PS256 => {
                rsa::pss::BlindedSigningKey::<Sha256>::new(key.clone())
                    .try_sign_with_rng(&mut OsRng, message)
                    .map_err(|_| RandomError)?
                    .to_vec()
            }
            Self::Rsa(key) => rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone())
                .try_sign_with_rng(&mut OsRng, message)
                .map_err(|_| RandomError)?
                .to_vec(),
        })
    }
}

pub(super) fn p256_generate_pkcs8() -> Result<Vec<u8>, RandomError> {
    let secret = random_p256_secret()?;
    secret
        .to_pkcs8_der()
        .map(|document| document.as_bytes().to_vec())
        .map_err(|_| RandomError)
}

pub(super) fn p256_pkcs8_from_scalar(scalar: &[u8; 32]) -> Option<Vec<u8>> {
    let secret = p256::SecretKey::from_bytes(&(*scalar).into()).ok()?;
    secret
        .to_pkcs8_der()
        .ok()
        .map(|document| document.as_bytes().to_vec())
}

pub(super) fn jwt_provider() -> &'static CryptoProvider {
    &rust_crypto::DEFAULT_PROVIDER
}

pub(super) fn default_provider_sign(
    algorithm: Algorithm,
    key: &EncodingKey,
    message: &[u8],
) -> Vec<u8> {
    let signer = (rust_crypto::DEFAULT_PROVIDER.signer_factory)(&algorithm, key).expect("a signer");
    signer.try_sign(message).expect("a signature")
}

/// ccflow keeps no parsed-key cache on this backend: its provider is jsonwebtoken's own.
pub(super) fn cached_provider_sign(
    algorithm: Algorithm,
    key: &EncodingKey,
    message: &[u8],
) -> Vec<u8> {
    default_provider_sign(algorithm, key, message)
}
