//! DPoP proofs (RFC 9449): the one implementation of how a proof is made ([`DpopKey`]: the SDK,
//! the bad-proof factory, the `dpop-proof` helper) and how it is checked ([`check_proof`]: the
//! auth server's token endpoint and the validator), plus the `htu` comparison, the `ath` hash
//! and key thumbprints they share.
//!
//! What is stateful stays with the caller: remembering `jti`s (replay, §11.1) and issuing and
//! accepting server nonces (§8, §9). [`check_proof`] returns what they need.

use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value, json};

use crate::Jwk;
use crate::crypto::{PrivateKey, PublicMembers, SystemRandom, sha256};
use crate::public_key::{PublicKey, PublicKeyError};

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const PROOF_TYPE: &str = "dpop+jwt";
/// The request header that carries a proof (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "DPoP";
/// The response header that carries a server nonce (RFC 9449 §8.1).
pub const NONCE_HEADER: &str = "DPoP-Nonce";
/// The algorithms ccflow accepts by default: the asymmetric ones the issue and FAPI 2.0 name.
/// `none` and HMAC can never be allowed (RFC 9449 §4.2: "MUST NOT be none or an identifier for a
/// symmetric algorithm").
pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];
/// The default `iat` window, in seconds either side of the verifier's clock. RFC 9449 §11.1
/// leaves it to the server ("a reasonable amount of time"); 60 s tolerates ordinary clock skew
/// while keeping the replay cache short.
pub const DEFAULT_IAT_WINDOW_SECS: u64 = 60;
/// The largest proof looked at. A proof with an RSA-4096 `jwk` is about 1.5 KB; anything
/// much larger is refused before it is decoded.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` accepted (RFC 9449 §4.2 asks for at least 96 bits of randomness; this
/// bounds what the replay cache stores).
pub const MAX_JTI_CHARS: usize = 256;

/// What a proof is checked against: the request as the verifier sees it and its policy.
#[derive(Debug, Clone, Copy)]
pub struct ProofCheck<'a> {
    /// The request's method (`htm` must equal it, RFC 9449 §4.3 check 8).
    pub method: &'a str,
    /// The request's URL as the verifier is reached (`htu`, §4.3 check 9).
    pub url: &'a str,
    /// The verifier's clock, Unix seconds.
    pub now: u64,
    /// How far `iat` may be from `now`, either way (§4.3 check 11).
    pub iat_window: u64,
    /// The accepted algorithms (§4.3 check 5).
    pub algorithms: &'a [Algorithm],
    /// The access token presented with the proof, at a resource server: `ath` must then be its
    /// hash (§4.3 check 12, §7.1). `None` at the token endpoint.
    pub access_token: Option<&'a str>,
}

/// A proof that passed every stateless check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key: a bound token's `cnf.jkt` (§6.1).
    pub jkt: String,
    /// The proof's `jti`, for the caller's replay check.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: u64,
    /// The proof's `nonce`, for the caller's nonce check.
    pub nonce: Option<String>,
    /// The proof's algorithm.
    pub algorithm: Algorithm,
}

/// Why a proof is refused. Every variant is `invalid_dpop_proof` (RFC 9449 §5, §7.1); the
/// message is the `error_description`, precise and free of the proof's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// More than [`MAX_PROOF_BYTES`].
    #[error("the DPoP proof is longer than {MAX_PROOF_BYTES} bytes")]
    TooLong,
    /// Not three base64url parts with a JSON header and a JSON object as claims.
    #[error("the DPoP proof is not a JWS in compact serialization with JSON header and claims")]
    Malformed,
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ must be dpop+jwt (RFC 9449 section 4.2)")]
    WrongType,
    /// `alg` is `none`, symmetric, unknown or not allowed.
    #[error("the DPoP proof's alg is not one of the accepted algorithms ({0})")]
    AlgNotAllowed(String),
    /// No `jwk` header.
    #[error("the DPoP proof has no jwk header (RFC 9449 section 4.2)")]
    MissingJwk,
    /// The `jwk` has private members.
    #[error("the DPoP proof's jwk contains a private key (RFC 9449 section 4.3)")]
    PrivateJwk,
    /// The `jwk` is not a usable public key.
    #[error("the DPoP proof's jwk is not a usable public key: {0}")]
    BadJwk(PublicKeyError),
    /// The `jwk` does not fit `alg`.
    #[error("the DPoP proof's jwk does not match its alg")]
    KeyAlgMismatch,
    /// The signature does not verify with the embedded key.
    #[error("the DPoP proof's signature does not verify with its jwk")]
    BadSignature,
    /// A required claim is missing or of the wrong type.
    #[error("the DPoP proof's {0} claim is missing or not a {1}")]
    MissingClaim(&'static str, &'static str),
    /// `jti` is empty or too long.
    #[error("the DPoP proof's jti must be 1 to {MAX_JTI_CHARS} characters")]
    BadJti,
    /// `htm` is not the request's method.
    #[error("the DPoP proof's htm does not match the request method {0}")]
    WrongMethod(String),
    /// `htu` is not the request's URL.
    #[error("the DPoP proof's htu does not match the request URL {0} (RFC 9449 section 4.3)")]
    WrongUrl(String),
    /// `iat` is outside the window.
    #[error("the DPoP proof's iat is more than {0} seconds from the server's time")]
    StaleIat(u64),
    /// `ath` is missing where an access token is presented.
    #[error("the DPoP proof has no ath claim for the access token (RFC 9449 section 4.2)")]
    MissingAth,
    /// `ath` is not the hash of the presented token.
    #[error("the DPoP proof's ath does not match the access token")]
    WrongAth,
}

/// Checks a proof's form, signature and claims (RFC 9449 §4.3 checks 2–9, 11 and 12). The
/// caller still checks the nonce (check 10) and the `jti` replay (§11.1), and that there was
/// exactly one `DPoP` header (check 1).
pub fn check_proof(proof: &str, check: &ProofCheck<'_>) -> Result<VerifiedProof, ProofError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(ProofError::TooLong);
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let header = decode_object(header_b64)?;
    let claims = decode_object(claims_b64)?;

    // Check 4: `typ`. Media type names compare case-insensitively (RFC 7515 §4.1.9).
    match header.get("typ").and_then(Value::as_str) {
        Some(typ) if typ.eq_ignore_ascii_case(PROOF_TYPE) => {}
        _ => return Err(ProofError::WrongType),
    }
    // Check 5: an accepted asymmetric `alg`.
    let allowed = || algorithm_names(check.algorithms);
    let algorithm = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|alg| Algorithm::from_str(alg).ok())
        .filter(|alg| is_asymmetric(*alg) && check.algorithms.contains(alg))
        .ok_or_else(|| ProofError::AlgNotAllowed(allowed()))?;
    // Checks 6 and 7: a public `jwk` that fits `alg` and verifies the signature.
    let jwk_value = header.get("jwk").ok_or(ProofError::MissingJwk)?;
    let jwk: Jwk = serde_json::from_value(jwk_value.clone()).map_err(|_| ProofError::MissingJwk)?;
    let key = PublicKey::from_jwk(&jwk).map_err(|error| match error {
        PublicKeyError::PrivateMembers | PublicKeyError::Symmetric => ProofError::PrivateJwk,
        other => ProofError::BadJwk(other),
    })?;
    if !key.fits(algorithm) {
        return Err(ProofError::KeyAlgMismatch);
    }
    crate::jwt::install_provider();
    let message = &proof[..header_b64.len() + 1 + claims_b64.len()];
    let verified =
        jsonwebtoken::crypto::verify(signature_b64, message.as_bytes(), &key.key, algorithm)
            .unwrap_or(false);
    if !verified {
        return Err(ProofError::BadSignature);
    }

    // Required claims (RFC 9449 §4.2).
    let string = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .ok_or(ProofError::MissingClaim(name, "string"))
    };
    let jti = string("jti")?;
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
        return Err(ProofError::BadJti);
    }
    let htm = string("htm")?;
    let htu = string("htu")?;
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or(ProofError::MissingClaim("iat", "NumericDate"))?;
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(nonce)) => Some(nonce.clone()),
        Some(_) => return Err(ProofError::MissingClaim("nonce", "string")),
    };
    // Check 8: methods are case-sensitive (RFC 9110 §9.1).
    if htm != check.method {
        return Err(ProofError::WrongMethod(check.method.to_owned()));
    }
    // Check 9.
    if !htu_matches(htu, check.url) {
        return Err(ProofError::WrongUrl(crate::truncate_for_echo(
            &htu_of(check.url).unwrap_or_default(),
        )));
    }
    // Check 11.
    if iat.abs_diff(check.now) > check.iat_window {
        return Err(ProofError::StaleIat(check.iat_window));
    }
    // Check 12.
    if let Some(token) = check.access_token {
        let ath = claims.get("ath").and_then(Value::as_str);
        match ath {
            None => return Err(ProofError::MissingAth),
            Some(ath) if ath != access_token_hash(token) => return Err(ProofError::WrongAth),
            Some(_) => {}
        }
    }
    Ok(VerifiedProof {
        jkt: jwk_thumbprint(&jwk).ok_or(ProofError::BadJwk(PublicKeyError::Unsupported))?,
        jti: jti.to_owned(),
        iat,
        nonce,
        algorithm,
    })
}

/// `htu` as RFC 9449 §4.3 compares it: the URL without query and fragment, normalized by the
/// WHATWG URL parser (scheme and host lower-cased, default port dropped, dot segments resolved;
/// RFC 3986 §6.2.2–6.2.3). `None` for a string that is not an absolute http(s) URL.
pub fn htu_of(url: &str) -> Option<String> {
    let mut url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// Whether a proof's `htu` names the request URL (RFC 9449 §4.3 check 9).
pub fn htu_matches(htu: &str, request_url: &str) -> bool {
    match (htu_of(htu), htu_of(request_url)) {
        (Some(htu), Some(request)) => htu == request,
        _ => false,
    }
}

/// The `ath` of an access token: base64url of the SHA-256 of its ASCII bytes (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(access_token.as_bytes()))
}

/// The RFC 7638 thumbprint of a JWK: base64url(SHA-256(its canonical required members)). `None`
/// for a key type without a defined member set.
pub fn jwk_thumbprint(jwk: &Jwk) -> Option<String> {
    let input = jwk.thumbprint_input()?;
    Some(URL_SAFE_NO_PAD.encode(sha256(input.as_bytes())))
}

fn decode_object(part: &str) -> Result<Map<String, Value>, ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ProofError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ProofError::Malformed),
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative number of seconds; a fraction is dropped.
fn numeric_date(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            // Truncation of a finite, non-negative float to whole seconds is the intent.
            .map(|seconds| seconds as u64)
    })
}

fn is_asymmetric(algorithm: Algorithm) -> bool {
    !matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

/// The names of `algorithms`, space-separated, as `WWW-Authenticate`'s `algs` wants them
/// (RFC 9449 §7.1).
pub fn algorithm_names(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|algorithm| format!("{algorithm:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a DPoP key could not be made or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopKeyError {
    /// The PEM text is not one PKCS#8 `PRIVATE KEY` block.
    #[error("not a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----)")]
    NotPem,
    /// The key is not an EC P-256, Ed25519 or RSA (2048 bits or more) private key.
    #[error("the key is not an EC P-256, Ed25519 or RSA (2048+ bits) private key")]
    UnsupportedKey,
    /// The algorithm does not fit the key.
    #[error("the algorithm {0:?} does not fit the key")]
    AlgorithmMismatch(Algorithm),
    /// The system's random number generator failed.
    #[error("the random number generator failed")]
    Random,
}

/// A client's DPoP key: signs proofs. `Debug` shows the public thumbprint only.
pub struct DpopKey {
    key: PrivateKey,
    algorithm: Algorithm,
    jwk: Jwk,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DpopKey")
            .field("algorithm", &self.algorithm())
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A fresh ES256 (P-256) key: the common choice, and the SDK's default.
    pub fn generate() -> Result<DpopKey, DpopKeyError> {
        let key = PrivateKey::generate_p256().map_err(|_| DpopKeyError::Random)?;
        Ok(DpopKey::from_key(key, Algorithm::ES256))
    }

    /// A fresh Ed25519 (EdDSA) key.
    pub fn generate_ed25519() -> Result<DpopKey, DpopKeyError> {
        let key = PrivateKey::generate_ed25519().map_err(|_| DpopKeyError::Random)?;
        Ok(DpopKey::from_key(key, Algorithm::EdDSA))
    }

    /// Loads a PKCS#8 PEM private key: EC P-256 signs ES256, Ed25519 EdDSA, RSA RS256 (see
    /// [`from_pem_with_algorithm`](Self::from_pem_with_algorithm) for PS256).
    pub fn from_pem(pem: &str) -> Result<DpopKey, DpopKeyError> {
        let key = PrivateKey::from_pkcs8(&pkcs8_der(pem)?).ok_or(DpopKeyError::UnsupportedKey)?;
        let algorithm = match key.public_members() {
            PublicMembers::P256 { .. } => Algorithm::ES256,
            PublicMembers::Ed25519 { .. } => Algorithm::EdDSA,
            PublicMembers::Rsa { .. } => Algorithm::RS256,
        };
        Ok(DpopKey::from_key(key, algorithm))
    }

    /// Loads a PKCS#8 PEM private key to sign with `algorithm` (ES256, EdDSA, RS256 or PS256).
    pub fn from_pem_with_algorithm(
        pem: &str,
        algorithm: Algorithm,
    ) -> Result<DpopKey, DpopKeyError> {
        let mut key = DpopKey::from_pem(pem)?;
        match (key.algorithm, algorithm) {
            (Algorithm::ES256, Algorithm::ES256) | (Algorithm::EdDSA, Algorithm::EdDSA) => {}
            (Algorithm::RS256, Algorithm::RS256 | Algorithm::PS256) => key.algorithm = algorithm,
            _ => return Err(DpopKeyError::AlgorithmMismatch(algorithm)),
        }
        Ok(key)
    }

    fn from_key(key: PrivateKey, algorithm: Algorithm) -> DpopKey {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let jwk = match key.public_members() {
            PublicMembers::P256 { x, y } => Jwk {
                kty: "EC".to_owned(),
                crv: Some("P-256".to_owned()),
                x: Some(b64(&x)),
                y: Some(b64(&y)),
                ..Jwk::default()
            },
            PublicMembers::Ed25519 { x } => Jwk {
                kty: "OKP".to_owned(),
                crv: Some("Ed25519".to_owned()),
                x: Some(b64(&x)),
                ..Jwk::default()
            },
            PublicMembers::Rsa { n, e } => Jwk {
                kty: "RSA".to_owned(),
                n: Some(b64(&n)),
                e: Some(b64(&e)),
                ..Jwk::default()
            },
        };
        let thumbprint = jwk_thumbprint(&jwk).unwrap_or_default();
        DpopKey {
            key,
            algorithm,
            jwk,
            thumbprint,
        }
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key, as a proof's `jwk` header carries it.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The RFC 7638 thumbprint of the public key: what a token bound to it has as `cnf.jkt`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for one request (RFC 9449 §4.2): a fresh random `jti`, `htm`, `htu` (query and
    /// fragment removed), `iat`, and the server's `nonce` and the token's `ath` when given.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        iat: u64,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, DpopKeyError> {
        let mut jti = [0_u8; 16];
        SystemRandom::new()
            .fill(&mut jti)
            .map_err(|_| DpopKeyError::Random)?;
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": htu_of(url).unwrap_or_else(|| url.to_owned()),
            "iat": iat,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(token) = access_token {
            claims["ath"] = json!(access_token_hash(token));
        }
        self.sign(&self.proof_header(), &claims)
    }

    /// The header of a well-formed proof: `typ`, `alg` and the public `jwk`.
    pub fn proof_header(&self) -> Map<String, Value> {
        let mut header = Map::new();
        header.insert("typ".to_owned(), json!(PROOF_TYPE));
        header.insert("alg".to_owned(), json!(format!("{:?}", self.algorithm())));
        header.insert(
            "jwk".to_owned(),
            serde_json::to_value(&self.jwk).unwrap_or(Value::Null),
        );
        header
    }

    /// Signs any header and claims with this key: how the bad-proof factory makes proofs that
    /// are wrong in exactly one way. The signature uses this key's algorithm whatever the
    /// header's `alg` says.
    pub fn sign(
        &self,
        header: &Map<String, Value>,
        claims: &Value,
    ) -> Result<String, DpopKeyError> {
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let message = format!(
            "{}.{}",
            encode(&Value::Object(header.clone())),
            encode(claims)
        );
        let signature = self
            .key
            .sign(self.algorithm, message.as_bytes())
            .map_err(|_| DpopKeyError::Random)?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER of the single PKCS#8 `PRIVATE KEY` block in `pem`.
fn pkcs8_der(pem: &str) -> Result<Vec<u8>, DpopKeyError> {
    match pem::parse(pem) {
        Ok(block) if block.tag() == "PRIVATE KEY" => Ok(block.into_contents()),
        _ => Err(DpopKeyError::NotPem),
    }
}

mod nonce;
pub use nonce::NonceKey;

#[cfg(test)]
mod tests;
