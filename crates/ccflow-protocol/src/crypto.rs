//! The one place a ccflow build's crypto backend is chosen: aws-lc-rs (feature `aws-lc-rs`, what
//! the binaries, TLS and every other crate run on) or RustCrypto (feature `rust-crypto`, for an
//! embedder whose tests should not compile aws-lc-sys, a C library). Every other module calls
//! what this one defines (hashes, random bytes, HMAC, key pairs, jsonwebtoken's provider) and
//! never a backend crate, so the two backends give the same tokens and the same errors.
//!
//! One backend per build. Cargo features add up, so a build can have both (`cargo build
//! --all-features` in this workspace, or one dependency asking for each): then aws-lc-rs is used,
//! deterministically, because it is the backend of everything else that build runs (TLS is
//! rustls on aws-lc-rs either way). jsonwebtoken then has both of its providers compiled and
//! would panic at the first signature ("Could not automatically determine the process-level
//! CryptoProvider"); ccflow never lets it decide: `jwt::install_provider` installs
//! this backend's provider explicitly, and every ccflow entry point calls it before its first
//! JWT operation. With neither feature the crate does not compile, saying which to choose.

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, EncodingKey};

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;
#[cfg(feature = "aws-lc-rs")]
use aws_lc as backend;

// Compiled whenever its feature is on, so a build with both features can check that the two
// backends agree (the tests below); used only when aws-lc-rs is off.
#[cfg(feature = "rust-crypto")]
#[cfg_attr(feature = "aws-lc-rs", allow(dead_code))]
mod rust_crypto;
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
use rust_crypto as backend;

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "ccflow needs a crypto backend: enable feature `aws-lc-rs` (the default of ccflow-auth-server \
     and ccflow-client) or `rust-crypto` (pure Rust, no aws-lc-sys to compile) on \
     ccflow-auth-server, or on ccflow-protocol next to `jwt`"
);

/// The backend this build runs on: `"aws-lc-rs"` or `"rust-crypto"` (aws-lc-rs when both
/// features are on). Tests assert it, so a feature that leaks in through another dependency
/// cannot make a RustCrypto test run exercise aws-lc-rs without anyone noticing.
pub const BACKEND: &str = backend::NAME;

/// The operating system's random number generator failed; nothing random can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

/// The SHA-256 digest of `data` (FIPS 180-4).
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    backend::sha256(data)
}

/// The operating system's cryptographically secure random number generator.
#[derive(Debug, Default, Clone)]
pub struct SystemRandom(backend::SystemRandom);

impl SystemRandom {
    /// A handle on the generator (cheap: no state of its own).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Fills `bytes` with random bytes.
    pub fn fill(&self, bytes: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(bytes)
    }
}

/// An HMAC-SHA256 key (RFC 2104), made in memory and never exported.
pub(crate) struct HmacSha256Key(backend::HmacSha256Key);

impl HmacSha256Key {
    /// A fresh random 256-bit key.
    pub(crate) fn generate(rng: &SystemRandom) -> Result<Self, RandomError> {
        let mut bytes = [0_u8; 32];
        rng.fill(&mut bytes)?;
        Ok(Self(backend::HmacSha256Key::new(&bytes)))
    }

    /// The tag of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 32] {
        self.0.sign(message)
    }

    /// Whether `tag` is `message`'s tag, compared in constant time.
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        self.0.verify(message, tag)
    }
}

/// The public half of a [`PrivateKey`], as JWK members want it (RFC 7518 §6, RFC 8037 §2):
/// unsigned big-endian integers without leading zeros, coordinates at full length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicMembers {
    /// EC P-256: `x` and `y`, 32 bytes each.
    P256 { x: Vec<u8>, y: Vec<u8> },
    /// Ed25519: `x`, 32 bytes.
    Ed25519 { x: Vec<u8> },
    /// RSA: modulus `n` and exponent `e`.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// A private key that signs DPoP proofs: EC P-256 (ES256), Ed25519 (EdDSA) or RSA (RS256, PS256).
pub(crate) struct PrivateKey(backend::PrivateKey);

impl PrivateKey {
    /// A fresh P-256 key.
    pub(crate) fn generate_p256() -> Result<Self, RandomError> {
        backend::PrivateKey::generate_p256().map(Self)
    }

    /// A fresh Ed25519 key.
    pub(crate) fn generate_ed25519() -> Result<Self, RandomError> {
        backend::PrivateKey::generate_ed25519().map(Self)
    }

    /// A PKCS#8 private key (RFC 5958): P-256, then Ed25519, then RSA of at least
    /// [`MIN_RSA_BITS`](crate::public_key::MIN_RSA_BITS); `None` for anything else.
    pub(crate) fn from_pkcs8(der: &[u8]) -> Option<Self> {
        backend::PrivateKey::from_pkcs8(der).map(Self)
    }

    /// The public key.
    pub(crate) fn public_members(&self) -> PublicMembers {
        self.0.public_members()
    }

    /// The signature of `message` with `algorithm` (ES256 for P-256, EdDSA for Ed25519, RS256 or
    /// PS256 for RSA; the caller pairs them). ES256 signatures are `r || s` (RFC 7518 §3.4).
    /// `Err` when the random number generator fails.
    pub(crate) fn sign(
        &self,
        algorithm: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, RandomError> {
        self.0.sign(algorithm, message)
    }
}

/// A fresh P-256 private key as PKCS#8 DER (RFC 5958), for jsonwebtoken's
/// [`EncodingKey::from_ec_der`].
pub fn p256_generate_pkcs8() -> Result<Vec<u8>, RandomError> {
    backend::p256_generate_pkcs8()
}

/// The P-256 private key with scalar `scalar` (big-endian) as PKCS#8 DER; `None` when the
/// scalar is zero or not below the group order.
#[must_use]
pub fn p256_pkcs8_from_scalar(scalar: &[u8; 32]) -> Option<Vec<u8>> {
    backend::p256_pkcs8_from_scalar(scalar)
}

/// jsonwebtoken's provider on this backend (what the `jwt` module installs).
pub(crate) fn jwt_provider() -> &'static CryptoProvider {
    backend::jwt_provider()
}

/// A signature from jsonwebtoken's own provider for this backend (which parses the key on
/// every call), for benches.
#[doc(hidden)]
#[must_use]
pub fn default_provider_sign(algorithm: Algorithm, key: &EncodingKey, message: &[u8]) -> Vec<u8> {
    backend::default_provider_sign(algorithm, key, message)
}

/// A signature from ccflow's provider (on aws-lc-rs the parsed key is cached; on RustCrypto it
/// is jsonwebtoken's own), for benches.
#[doc(hidden)]
#[must_use]
pub fn cached_provider_sign(algorithm: Algorithm, key: &EncodingKey, message: &[u8]) -> Vec<u8> {
    backend::cached_provider_sign(algorithm, key, message)
}

#[cfg(test)]
mod tests;
