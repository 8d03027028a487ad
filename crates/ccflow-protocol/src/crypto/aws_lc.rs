//! The aws-lc-rs backend of [`crate::crypto`]: the default, and what TLS runs on anyway.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SecureRandom as _;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaEncoding, RsaKeyPair,
};
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::{PublicMembers, RandomError};

mod provider;

pub(super) const NAME: &str = "aws-lc-rs";

pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0_u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

#[derive(Debug, Default, Clone)]
pub(super) struct SystemRandom(aws_lc_rs::rand::SystemRandom);

impl SystemRandom {
    pub(super) fn fill(&self, bytes: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(bytes).map_err(|_| RandomError)
    }
}

pub(super) struct HmacSha256Key(hmac::Key);

impl HmacSha256Key {
    pub(super) fn new(key: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    pub(super) fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut out = [0_u8; 32];
        out.copy_from_slice(hmac::sign(&self.0, message).as_ref());
        out
    }

    pub(super) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, message, tag).is_ok()
    }
}

pub(super) enum PrivateKey {
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl PrivateKey {
    pub(super) fn generate_p256() -> Result<Self, RandomError> {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map(Self::P256)
            .map_err(|_| RandomError)
    }

    pub(super) fn generate_ed25519() -> Result<Self, RandomError> {
        Ed25519KeyPair::generate()
            .map(Self::Ed25519)
            .map_err(|_| RandomError)
    }

    pub(super) fn from_pkcs8(der: &[u8]) -> Option<Self> {
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Some(Self::P256(pair));
        }
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Some(Self::Ed25519(pair));
        }
        RsaKeyPair::from_pkcs8(der)
            .ok()
            .filter(|pair| pair.public_modulus_len() * 8 >= crate::public_key::MIN_RSA_BITS)
            .map(Self::Rsa)
    }

    pub(super) fn public_members(&self) -> PublicMembers {
        match self {
            Self::P256(pair) => {
                // The uncompressed SEC1 point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                PublicMembers::P256 {
                    x: point[1..33].to_vec(),
                    y: point[33..65].to_vec(),
                }
            }
            Self::Ed25519(pair) => PublicMembers::Ed25519 {
                x: pair.public_key().as_ref().to_vec(),
            },
            Self::Rsa(pair) => {
                let public = pair.public_key();
                PublicMembers::Rsa {
                    n: public.modulus().big_endian_without_leading_zero().to_vec(),
                    e: public.exponent().big_endian_without_leading_zero().to_vec(),
                }
            }
        }
    }

    pub(super) fn sign(
        &self,
        algorithm: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, RandomError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Self::P256(pair) => Ok(pair
                .sign(&rng, message)
                .map_err(|_| RandomError)?
                .as_ref()
                .to_vec()),
            Self::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Self::Rsa(pair) => {
                let padding: &'static dyn RsaEncoding = if algorithm == Algorithm::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut signature)
                    .map_err(|_| RandomError)?;
                Ok(signature)
            }
        }
    }
}

pub(super) fn p256_generate_pkcs8() -> Result<Vec<u8>, RandomError> {
    EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .map(|pkcs8| pkcs8.as_ref().to_vec())
    .map_err(|_| RandomError)
}

pub(super) fn p256_pkcs8_from_scalar(scalar: &[u8; 32]) -> Option<Vec<u8>> {
    // RFC 5915 ECPrivateKey { version 1, privateKey, parameters [0] prime256v1 }.
    let mut der = vec![0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20];
    der.extend_from_slice(scalar);
    der.extend_from_slice(&[
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ]);
    let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).ok()?;
    pair.to_pkcs8v1().ok().map(|pkcs8| pkcs8.as_ref().to_vec())
}

pub(super) fn jwt_provider() -> &'static CryptoProvider {
    &provider::PROVIDER
}

pub(super) use provider::{cached_provider_sign, default_provider_sign};
