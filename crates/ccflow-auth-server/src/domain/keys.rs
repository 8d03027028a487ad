//! Signing keys: RS256 key pairs with RFC 7638 thumbprint `kid`s, and the key ring the JWKS publishes.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{Jwk, Jwks};
use jsonwebtoken::jwk::AlgorithmParameters;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

/// Why a key could not be loaded or generated. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM text is not a private key jsonwebtoken can sign with.
    #[error(
        "not a usable private key (RSA of at least 2048 bits, or EC P-256; PKCS#8 or PKCS#1 PEM): {0}"
    )]
    InvalidPrivateKey(String),
    /// A key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Key generation failed.
    #[error("RSA key generation failed: {0}")]
    Generation(String),
}

/// One signing key (RSA for RS256, or EC P-256 for ES256): the private half for signing, the
/// public half as a JWK.
///
/// Its `Debug` output shows the algorithm and `kid` only, never key material.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    kid: String,
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    public_jwk: Jwk,
    /// `base64url(JOSE header)` and the `typ` it was made for: constant per key and profile, so
    /// it is encoded once rather than per token. Shared by clones.
    encoded_header: Arc<OnceLock<(String, String)>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a private key from PEM text: RSA (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`, signs RS256) or EC P-256 (PKCS#8, signs ES256).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        ccflow_protocol::jwt::install_provider();
        if let Ok(encoding_key) = EncodingKey::from_rsa_pem(pem.as_bytes()) {
            return Self::from_encoding_key(encoding_key, Algorithm::RS256);
        }
        match EncodingKey::from_ec_pem(pem.as_bytes()) {
            Ok(encoding_key) => Self::from_encoding_key(encoding_key, Algorithm::ES256),
            Err(error) => Err(KeyError::InvalidPrivateKey(error.to_string())),
        }
    }

    fn from_encoding_key(
        encoding_key: EncodingKey,
        algorithm: Algorithm,
    ) -> Result<Self, KeyError> {
        let invalid =
            |error: jsonwebtoken::errors::Error| KeyError::InvalidPrivateKey(error.to_string());
        let jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding_key, algorithm).map_err(invalid)?;
        let (decoding_key, mut public_jwk) = match jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => (
                DecodingKey::from_rsa_components(&rsa.n, &rsa.e).map_err(invalid)?,
                Jwk {
                    kty: "RSA".to_owned(),
                    use_: Some("sig".to_owned()),
                    alg: Some("RS256".to_owned()),
                    n: Some(rsa.n),
                    e: Some(rsa.e),
                    ..Jwk::default()
                },
            ),
            AlgorithmParameters::EllipticCurve(ec)
                if ec.curve == jsonwebtoken::jwk::EllipticCurve::P256 =>
            {
                (
                    DecodingKey::from_ec_components(&ec.x, &ec.y).map_err(invalid)?,
                    Jwk {
                        kty: "EC".to_owned(),
                        use_: Some("sig".to_owned()),
                        alg: Some("ES256".to_owned()),
                        crv: Some("P-256".to_owned()),
                        x: Some(ec.x),
                        y: Some(ec.y),
                        ..Jwk::default()
                    },
                )
            }
            _ => {
                return Err(KeyError::InvalidPrivateKey(
                    "only RSA and EC P-256 keys can sign".to_owned(),
                ));
            }
        };
        let kid = thumbprint(&public_jwk)
            .ok_or_else(|| KeyError::InvalidPrivateKey("no RFC 7638 thumbprint".to_owned()))?;
        public_jwk.kid = Some(kid.clone());
        Ok(Self {
            algorithm,
            kid,
            encoding_key,
            decoding_key,
            public_jwk,
            encoded_header: Arc::default(),
        })
    }

    /// Loads an RSA private key from a PEM file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&pem)
    }

    /// Generates a fresh RSA key of `bits` bits (2048 or more). Slow: about a second in debug
    /// builds, so tests should prefer the fixture keys or [`SigningKey::process_default`].
    pub fn generate_rsa(bits: usize) -> Result<Self, KeyError> {
        use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
        // `rsa` only generates and exports (DESIGN.md "Crypto"); signing goes through aws-lc-rs.
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
            .map_err(|error| KeyError::Generation(error.to_string()))?;
        let pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| KeyError::Generation(error.to_string()))?;
        Self::from_pem(&pem)
    }

    /// Generates a fresh EC P-256 key (ES256), on the build's crypto backend: fast in any build.
    pub fn generate_es256() -> Result<Self, KeyError> {
        ccflow_protocol::jwt::install_provider();
        let pkcs8 = ccflow_protocol::crypto::p256_generate_pkcs8()
            .map_err(|error| KeyError::Generation(error.to_string()))?;
        Self::from_encoding_key(EncodingKey::from_ec_der(&pkcs8), Algorithm::ES256)
    }

    /// A deterministic RSA key: the same `seed` and `bits` give the same key (and `kid`) on
    /// every run and machine, for stable snapshots without fixture files.
    pub fn seeded_rsa(seed: u64, bits: usize) -> Result<Self, KeyError> {
        use rand_chacha::rand_core::SeedableRng as _;
        use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let private = rsa::RsaPrivateKey::new(&mut rng, bits)
            .map_err(|error| KeyError::Generation(error.to_string()))?;
        let pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| KeyError::Generation(error.to_string()))?;
        Self::from_pem(&pem)
    }

    /// A deterministic P-256 key (ES256): the same `seed` gives the same key and `kid`.
    pub fn seeded_es256(seed: u64) -> Result<Self, KeyError> {
        ccflow_protocol::jwt::install_provider();
        for attempt in 0_u32..16 {
            // The private scalar is a hash of the seed; in the astronomically rare case that it
            // is not below the group order, hash again.
            let scalar = ccflow_protocol::crypto::sha256(
                format!("ccflow-es256:{seed}:{attempt}").as_bytes(),
            );
            if let Some(pkcs8) = ccflow_protocol::crypto::p256_pkcs8_from_scalar(&scalar) {
                return Self::from_encoding_key(EncodingKey::from_ec_der(&pkcs8), Algorithm::ES256);
            }
        }
        Err(KeyError::Generation(
            "no valid P-256 scalar from this seed".to_owned(),
        ))
    }

    /// The RSA key of every server that has no key of its own: a fixed, **public, test-only**
    /// 2048-bit key shipped with this crate (`src/domain/default-rs256.pem`), parsed once per
    /// process. No key is generated, so a server starts in milliseconds even in an embedding
    /// crate's unoptimised build (generating one took seconds there), and its `kid` is the same
    /// on every run, so a validator's cached JWKS stays valid across restarts.
    pub fn process_default() -> Result<Self, KeyError> {
        static KEY: OnceLock<Result<SigningKey, String>> = OnceLock::new();
        KEY.get_or_init(|| {
            Self::from_pem(include_str!("default-rs256.pem")).map_err(|error| error.to_string())
        })
        .clone()
        .map_err(KeyError::Generation)
    }

    /// Like [`process_default`](Self::process_default), for an ES256 key.
    pub fn process_default_es256() -> Result<Self, KeyError> {
        static KEY: OnceLock<Result<SigningKey, String>> = OnceLock::new();
        KEY.get_or_init(|| Self::generate_es256().map_err(|error| error.to_string()))
            .clone()
            .map_err(KeyError::Generation)
    }

    /// The JWS algorithm it signs with (RS256 or ES256).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key, base64url.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 7517), with `kid`, `use` and `alg`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding_key
    }

    /// The first part of a token this key signs: `base64url(UTF-8(JOSE header))` with `alg`,
    /// `typ` and `kid` (RFC 7515 §5.1 steps 1-2), encoded on first use and then reused. A key
    /// shared by servers of two profiles encodes the second `typ` per token.
    pub(crate) fn encoded_header(&self, typ: &str) -> Cow<'_, str> {
        let encode = || {
            let mut header = Header::new(self.algorithm);
            header.typ = Some(typ.to_owned());
            header.kid = Some(self.kid.clone());
            // A header of strings only cannot fail to serialise.
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default())
        };
        let (cached_typ, encoded) = self
            .encoded_header
            .get_or_init(|| (typ.to_owned(), encode()));
        if *cached_typ == typ {
            Cow::Borrowed(encoded)
        } else {
            Cow::Owned(encode())
        }
    }

    /// Signs `claims` into a compact JWS (RFC 7515 §7.1): the cached header, the claims, and
    /// the signature from jsonwebtoken's installed provider (ccflow's keeps the key parsed).
    pub(crate) fn sign_token<T: serde::Serialize>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let header = self.encoded_header(typ);
        let claims = serde_json::to_vec(claims)?;
        // header "." claims "." signature, the signature at most 4/3 of a 4096-bit modulus.
        let mut token = String::with_capacity(header.len() + claims.len() * 4 / 3 + 2 + 4 + 683);
        token.push_str(&header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let signature =
            jsonwebtoken::crypto::sign(token.as_bytes(), &self.encoding_key, self.algorithm)?;
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding_key
    }
}

/// The RFC 7638 §3 thumbprint of a JWK: base64url(SHA-256(canonical JSON of its required members)).
/// The same function DPoP's `cnf.jkt` uses, kept under this name as part of the crate's API.
pub use ccflow_protocol::dpop::jwk_thumbprint as thumbprint;

/// How the server makes new keys (the first one when none is configured, and on rotation).
#[derive(Debug, Default)]
pub(crate) struct KeyPolicy {
    /// Deterministic keys from this seed (RSA only).
    pub(crate) seed: Option<u64>,
    /// RSA modulus size (2048 or 3072).
    pub(crate) rsa_bits: Option<usize>,
    /// Keys made so far, so each seeded key differs.
    pub(crate) made: std::sync::atomic::AtomicU64,
}

impl KeyPolicy {
    pub(crate) fn next_key(&self, algorithm: Algorithm) -> Result<SigningKey, KeyError> {
        let index = self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match (algorithm, self.seed) {
            (Algorithm::ES256, Some(seed)) => SigningKey::seeded_es256(seed.wrapping_add(index)),
            (Algorithm::ES256, None) => SigningKey::generate_es256(),
            (_, Some(seed)) => {
                SigningKey::seeded_rsa(seed.wrapping_add(index), self.rsa_bits.unwrap_or(2048))
            }
            (_, None) => SigningKey::generate_rsa(self.rsa_bits.unwrap_or(2048)),
        }
    }
}

/// Where a key is in its life: `Staged` keys are published in the JWKS but do not sign,
/// exactly one key is `Active` (published, signs), `Retired` keys are gone from the JWKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyState {
    /// Published, not signing (a new key before activation, or the previous key after a
    /// rotation until the tokens it signed have expired).
    Staged,
    /// Published and signing.
    Active,
    /// Removed from the JWKS; tokens it signed no longer verify.
    Retired,
}

impl KeyState {
    /// `staged`, `active` or `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staged => "staged",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

/// One key of a ring and its state.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// The key.
    pub key: SigningKey,
    /// Its state.
    pub state: KeyState,
    /// When a staged key will be retired automatically (after a rotation).
    pub retire_at: Option<SystemTime>,
}

/// Why a key-ring operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// No key with this `kid` in the ring (or it is retired).
    #[error("no key with kid `{0}` is staged or active")]
    UnknownKid(String),
    /// The active key cannot be retired; activate another one first.
    #[error("the active key cannot be retired; rotate or activate another key first")]
    RetireActive,
}

/// The keys of one server: exactly one signs; staged and active keys are published.
#[derive(Debug, Clone)]
pub struct KeyRing {
    entries: Vec<KeyEntry>,
}

impl KeyRing {
    /// A ring whose only key is `active`.
    pub fn new(active: SigningKey) -> Self {
        Self {
            entries: vec![KeyEntry {
                key: active,
                state: KeyState::Active,
                retire_at: None,
            }],
        }
    }

    /// Also publishes `key` in the JWKS as a staged key (it verifies, it does not sign).
    #[must_use]
    pub fn with_published(mut self, key: SigningKey) -> Self {
        self.stage(key);
        self
    }

    /// Publishes `key` as staged, unless a key with its `kid` is already in the ring.
    pub fn stage(&mut self, key: SigningKey) {
        if !self
            .entries
            .iter()
            .any(|entry| entry.key.kid() == key.kid())
        {
            self.entries.push(KeyEntry {
                key,
                state: KeyState::Staged,
                retire_at: None,
            });
        }
    }

    /// Makes the staged key `kid` the signing key; the previous active key stays published
    /// (staged) until `retire_previous_at`.
    pub fn activate(
        &mut self,
        kid: &str,
        retire_previous_at: SystemTime,
    ) -> Result<(), KeyRingError> {
        let index = self
            .entries
            .iter()
            .position(|entry| entry.key.kid() == kid && entry.state != KeyState::Retired)
            .ok_or_else(|| KeyRingError::UnknownKid(kid.to_owned()))?;
        if self.entries[index].state == KeyState::Active {
            return Ok(());
        }
        for entry in &mut self.entries {
            if entry.state == KeyState::Active {
                entry.state = KeyState::Staged;
                entry.retire_at = Some(retire_previous_at);
            }
        }
        let entry = &mut self.entries[index];
        entry.state = KeyState::Active;
        entry.retire_at = None;
        Ok(())
    }

    /// Stages `key` and activates it at once (a rotation); see [`activate`](Self::activate).
    pub fn rotate(&mut self, key: SigningKey, retire_previous_at: SystemTime) {
        let kid = key.kid().to_owned();
        self.stage(key);
        // The key was just staged, so activation cannot fail.
        let _ = self.activate(&kid, retire_previous_at);
    }

    /// Removes the staged key `kid` from the JWKS now.
    pub fn retire(&mut self, kid: &str) -> Result<(), KeyRingError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|entry| entry.key.kid() == kid && entry.state != KeyState::Retired)
            .ok_or_else(|| KeyRingError::UnknownKid(kid.to_owned()))?;
        if entry.state == KeyState::Active {
            return Err(KeyRingError::RetireActive);
        }
        entry.state = KeyState::Retired;
        entry.retire_at = None;
        Ok(())
    }

    /// Retires staged keys whose time has come; `true` if anything changed.
    pub fn retire_due(&mut self, now: SystemTime) -> bool {
        let mut changed = false;
        for entry in &mut self.entries {
            if entry.state == KeyState::Staged && entry.retire_at.is_some_and(|at| at <= now) {
                entry.state = KeyState::Retired;
                entry.retire_at = None;
                changed = true;
            }
        }
        changed
    }

    /// Whether [`retire_due`](Self::retire_due) would change anything.
    pub fn has_due(&self, now: SystemTime) -> bool {
        self.entries.iter().any(|entry| {
            entry.state == KeyState::Staged && entry.retire_at.is_some_and(|at| at <= now)
        })
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        self.entries
            .iter()
            .find(|entry| entry.state == KeyState::Active)
            .map(|entry| &entry.key)
            .expect("a key ring always has exactly one active key")
    }

    /// Every key with its state, in the order they joined the ring.
    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// Every published key (active and staged), the active one first.
    pub fn published(&self) -> impl Iterator<Item = &SigningKey> {
        let active = self
            .entries
            .iter()
            .filter(|entry| entry.state == KeyState::Active);
        let staged = self
            .entries
            .iter()
            .filter(|entry| entry.state == KeyState::Staged);
        active.chain(staged).map(|entry| &entry.key)
    }

    /// The published key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.published().find(|key| key.kid() == kid)
    }

    /// The JWKS document (RFC 7517 §5).
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .published()
                .map(|key| key.public_jwk().clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_is_the_shipped_one_with_a_stable_kid() {
        let key = SigningKey::process_default().unwrap();
        assert_eq!(key.algorithm(), Algorithm::RS256);
        assert_eq!(key.kid(), "ea_efm5NmTCAUUm51R5JUGXdYk1eCRZnKGZJx-kqqaE");
        assert_eq!(SigningKey::process_default().unwrap().kid(), key.kid());
    }

    const FIXTURE: &str = include_str!("../../../../fixtures/keys/rs256-1.pem");

    #[test]
    fn kid_is_the_rfc7638_thumbprint_of_the_public_key() {
        let key = SigningKey::from_pem(FIXTURE).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
        assert_eq!(thumbprint(jwk).as_deref(), Some(key.kid()));
        // 32 bytes of SHA-256, base64url without padding.
        assert_eq!(key.kid().len(), 43);
    }

    #[test]
    fn a_token_with_the_cached_header_is_what_jsonwebtoken_encode_makes() {
        let claims = serde_json::json!({"iss": "https://issuer.test", "sub": "svc", "exp": 1});
        for pem in [
            FIXTURE,
            include_str!("../../../../fixtures/keys/es256-1.pem"),
        ] {
            let key = SigningKey::from_pem(pem).unwrap();
            for typ in ["at+jwt", "JWT", "at+jwt"] {
                let mut header = Header::new(key.algorithm());
                header.typ = Some(typ.to_owned());
                header.kid = Some(key.kid().to_owned());
                let expected = jsonwebtoken::encode(&header, &claims, key.encoding_key()).unwrap();
                let token = key.sign_token(typ, &claims).unwrap();
                // RS256 (PKCS#1 v1.5) is deterministic: the whole token is the same. ES256
                // signatures are randomised: the signed parts are the same, and it verifies.
                if key.algorithm() == Algorithm::RS256 {
                    assert_eq!(token, expected);
                }
                let signed = |token: &str| token.rsplit_once('.').unwrap().0.to_owned();
                assert_eq!(signed(&token), signed(&expected), "{typ}");
                let mut validation = jsonwebtoken::Validation::new(key.algorithm());
                validation.validate_exp = false;
                validation.required_spec_claims.clear();
                let decoded = jsonwebtoken::decode::<serde_json::Value>(
                    &token,
                    key.decoding_key(),
                    &validation,
                )
                .unwrap();
                assert_eq!(decoded.header.typ.as_deref(), Some(typ));
                assert_eq!(decoded.claims, claims);
            }
        }
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = Jwk {
            kty: "RSA".to_owned(),
            e: Some("AQAB".to_owned()),
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".to_owned()),
            ..Jwk::default()
        };
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn ec_keys_sign_es256_and_publish_an_ec_jwk() {
        let key =
            SigningKey::from_pem(include_str!("../../../../fixtures/keys/es256-1.pem")).unwrap();
        assert_eq!(key.algorithm(), Algorithm::ES256);
        let jwk = key.public_jwk();
        assert_eq!(
            (jwk.kty.as_str(), jwk.crv.as_deref(), jwk.alg.as_deref()),
            ("EC", Some("P-256"), Some("ES256"))
        );
        assert_eq!(thumbprint(jwk).as_deref(), Some(key.kid()));
        let generated = SigningKey::generate_es256().unwrap();
        assert_ne!(generated.kid(), key.kid());
    }

    #[test]
    fn rotation_stages_activates_and_retires_the_previous_key_on_time() {
        let one = SigningKey::from_pem(FIXTURE).unwrap();
        let two =
            SigningKey::from_pem(include_str!("../../../../fixtures/keys/rs256-2.pem")).unwrap();
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        let mut ring = KeyRing::new(one.clone());
        ring.rotate(two.clone(), t0 + std::time::Duration::from_secs(600));
        assert_eq!(ring.active().kid(), two.kid());
        let kids: Vec<_> = ring.published().map(|k| k.kid().to_owned()).collect();
        assert_eq!(
            kids,
            [two.kid(), one.kid()],
            "the previous key stays published"
        );
        assert!(!ring.has_due(t0 + std::time::Duration::from_secs(599)));
        assert!(ring.retire_due(t0 + std::time::Duration::from_secs(600)));
        assert_eq!(ring.published().count(), 1);
        assert_eq!(ring.entries()[0].state, KeyState::Retired);
        assert_eq!(ring.retire(two.kid()), Err(KeyRingError::RetireActive));
        assert_eq!(
            ring.activate("nope", t0),
            Err(KeyRingError::UnknownKid("nope".to_owned()))
        );
    }

    #[test]
    fn seeded_keys_are_deterministic() {
        let a = SigningKey::seeded_rsa(7, 2048).unwrap();
        let b = SigningKey::seeded_rsa(7, 2048).unwrap();
        let c = SigningKey::seeded_rsa(8, 2048).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_ne!(a.kid(), c.kid());
        let ec = SigningKey::seeded_es256(7).unwrap();
        assert_eq!(ec.algorithm(), Algorithm::ES256);
        assert_eq!(ec.kid(), SigningKey::seeded_es256(7).unwrap().kid());
        assert_ne!(ec.kid(), SigningKey::seeded_es256(8).unwrap().kid());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = SigningKey::from_pem(FIXTURE).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(key.kid()));
        assert!(!debug.contains(key.public_jwk().n.as_deref().unwrap()));
        assert!(!debug.contains("PRIVATE"));
    }

    #[test]
    fn rejects_text_that_is_not_a_key() {
        let error =
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .unwrap_err();
        assert!(matches!(error, KeyError::InvalidPrivateKey(_)), "{error}");
    }

    #[test]
    fn ring_publishes_every_key_once_with_the_active_first() {
        let one = SigningKey::from_pem(FIXTURE).unwrap();
        let two =
            SigningKey::from_pem(include_str!("../../../../fixtures/keys/rs256-2.pem")).unwrap();
        let ring = KeyRing::new(one.clone())
            .with_published(two.clone())
            .with_published(one.clone());
        let kids: Vec<_> = ring.jwks().keys.into_iter().filter_map(|k| k.kid).collect();
        assert_eq!(kids, [one.kid(), two.kid()]);
        assert_eq!(ring.active().kid(), one.kid());
    }
}
