//! The physical limit: raw signatures and verifications with aws-lc-rs (the backend every ccflow
//! crate uses), key parsed once, over exactly the signing input of a token the server issued,
//! on one thread and on every core; plus jsonwebtoken's own `encode` path (which re-parses
//! the key per call) to show what the server's cached signer saves.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as aws, EcdsaKeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};

/// Operations per second of one algorithm.
#[derive(Clone, Debug, Default)]
pub(crate) struct CryptoFigures {
    pub(crate) algorithm: &'static str,
    pub(crate) sign_one_thread: f64,
    pub(crate) sign_all_cores: f64,
    pub(crate) verify_one_thread: f64,
    pub(crate) verify_all_cores: f64,
    /// `jsonwebtoken::encode`'s path: a signer made (key parsed) per token.
    pub(crate) jsonwebtoken_encode_one_thread: f64,
    pub(crate) threads: usize,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct Material {
    algorithm: Algorithm,
    pair: Pair,
    public: ParsedPublicKey,
    encoding_key: EncodingKey,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Material {
    fn new(private_pem: &[u8], token: &str) -> Result<Self> {
        let (signing_input, signature) = token
            .rsplit_once('.')
            .context("the server's token is not a compact JWS")?;
        let signature = URL_SAFE_NO_PAD.decode(signature)?;
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(signing_input.split('.').next().unwrap_or_default())?,
        )?;
        let (algorithm, encoding_key, pair, public) = match header["alg"].as_str() {
            Some("RS256") => {
                let key = EncodingKey::from_rsa_pem(private_pem)?;
                let pair = RsaKeyPair::from_der(key.as_bytes())
                    .map_err(|error| anyhow::anyhow!("RSA key: {error}"))?;
                let public = ParsedPublicKey::new(
                    &aws::RSA_PKCS1_2048_8192_SHA256,
                    pair.public_key().as_ref(),
                )
                .map_err(|error| anyhow::anyhow!("RSA public key: {error}"))?;
                (Algorithm::RS256, key, Pair::Rsa(pair), public)
            }
            Some("ES256") => {
                let key = EncodingKey::from_ec_pem(private_pem)?;
                let pair =
                    EcdsaKeyPair::from_pkcs8(&aws::ECDSA_P256_SHA256_FIXED_SIGNING, key.as_bytes())
                        .map_err(|error| anyhow::anyhow!("EC key: {error}"))?;
                let public =
                    ParsedPublicKey::new(&aws::ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
                        .map_err(|error| anyhow::anyhow!("EC public key: {error}"))?;
                (Algorithm::ES256, key, Pair::Ec(pair), public)
            }
            other => bail!("unexpected token alg {other:?}"),
        };
        let material = Material {
            algorithm,
            pair,
            public,
            encoding_key,
            signing_input: signing_input.as_bytes().to_vec(),
            signature,
        };
        // The token must verify with this key: otherwise we would measure the wrong key.
        if !material.verify() {
            bail!("the server's token does not verify with the benchmark key");
        }
        Ok(material)
    }

    fn sign(&self, rng: &SystemRandom, out: &mut Vec<u8>) -> bool {
        match &self.pair {
            Pair::Rsa(pair) => {
                out.resize(pair.public_modulus_len(), 0);
                pair.sign(&aws::RSA_PKCS1_SHA256, rng, &self.signing_input, out)
                    .is_ok()
            }
            Pair::Ec(pair) => pair.sign(rng, &self.signing_input).is_ok(),
        }
    }

    fn verify(&self) -> bool {
        self.public
            .verify_sig(&self.signing_input, &self.signature)
            .is_ok()
    }

    fn jsonwebtoken_sign(&self) -> bool {
        // What `jsonwebtoken::encode` does for the signature: a fresh signer from the key.
        (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(
            &self.algorithm,
            &self.encoding_key,
        )
        .is_ok_and(|signer| signer.try_sign(&self.signing_input).is_ok())
    }
}

/// Raw verification of one token with its key parsed once: the baseline the validator is
/// compared with, round by round.
pub(crate) struct RawVerifier(Material);

impl RawVerifier {
    pub(crate) fn new(private_pem: &[u8], token: &str) -> Result<Self> {
        Material::new(private_pem, token).map(RawVerifier)
    }

    pub(crate) fn verify(&self) -> bool {
        self.0.verify()
    }
}

/// Raw one-thread signs/s of one token's signing input with its key (the fastest of ten
/// rounds): the baseline measured again after each load run.
pub(crate) fn sign_rate(private_pem: &[u8], token: &str, duration: Duration) -> Result<f64> {
    let material = Material::new(private_pem, token)?;
    let rng = SystemRandom::new();
    let mut out = Vec::new();
    rate(duration, || material.sign(&rng, &mut out))
}

/// How many rounds a baseline rate is measured in.
const ROUNDS: u32 = 10;

/// Calls `operation` in a loop for `duration` and returns operations per second: the fastest of
/// ten rounds. The baseline is the physical limit, and other work on the machine (a shared VM's
/// neighbours, seen here to slow one thread's signatures from 242 to 338 µs for seconds at a
/// time) can only ever slow a round down; the fastest round is the closest to the limit.
pub(crate) fn rate(duration: Duration, mut operation: impl FnMut() -> bool) -> Result<f64> {
    let mut fastest: f64 = 0.0;
    for _ in 0..ROUNDS {
        fastest = fastest.max(round(duration / ROUNDS, &mut operation)?);
    }
    Ok(fastest)
}

/// Operations per second of `operation` over one round of `duration` (in batches of 16, so
/// the clock is read rarely).
pub(crate) fn round(duration: Duration, mut operation: impl FnMut() -> bool) -> Result<f64> {
    let started = Instant::now();
    let mut done: u64 = 0;
    while started.elapsed() < duration {
        for _ in 0..16 {
            if !operation() {
                bail!("a crypto operation failed");
            }
        }
        done += 16;
    }
    #[allow(clippy::cast_precision_loss, reason = "operation counts are small")]
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// Runs `operation` on `threads` threads at once; the sum of their rates.
fn rate_on(
    threads: usize,
    duration: Duration,
    operation: &(dyn Fn() -> bool + Sync),
) -> Result<f64> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| rate(duration, operation)))
            .collect();
        let mut total = 0.0;
        for handle in handles {
            total += handle
                .join()
                .map_err(|_| anyhow::anyhow!("a crypto thread panicked"))??;
        }
        Ok(total)
    })
}

/// Measures one algorithm with the server's key over the server's own token.
pub(crate) fn measure(
    private_pem: &[u8],
    token: &str,
    duration: Duration,
) -> Result<CryptoFigures> {
    let material = Material::new(private_pem, token)?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let rng = SystemRandom::new();
    let sign = || {
        let mut out = Vec::new();
        material.sign(&rng, &mut out)
    };
    let verify = || material.verify();
    Ok(CryptoFigures {
        algorithm: match material.algorithm {
            Algorithm::ES256 => "ES256",
            _ => "RS256",
        },
        sign_one_thread: rate(duration, sign)?,
        sign_all_cores: rate_on(threads, duration, &sign)?,
        verify_one_thread: rate(duration, verify)?,
        verify_all_cores: rate_on(threads, duration, &verify)?,
        jsonwebtoken_encode_one_thread: rate(duration, || material.jsonwebtoken_sign())?,
        threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_operation_is_an_error_not_a_rate() {
        let mut calls = 0;
        let error = round(Duration::from_secs(60), || {
            calls += 1;
            calls < 5
        })
        .unwrap_err();
        assert!(error.to_string().contains("failed"), "{error}");
        assert_eq!(calls, 5, "it stops at the first failure");
    }

    #[test]
    fn the_baseline_verifies_with_the_key_of_the_token_or_refuses() {
        let pem = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/keys/rs256-1.pem"
        ))
        .unwrap();
        let other = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/keys/rs256-2.pem"
        ))
        .unwrap();
        let key = EncodingKey::from_rsa_pem(&pem).unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".to_owned());
        let token =
            jsonwebtoken::encode(&header, &serde_json::json!({"sub": "bench"}), &key).unwrap();
        assert!(RawVerifier::new(&pem, &token).unwrap().verify());
        // A baseline measured with the wrong key would measure nothing: refused.
        assert!(RawVerifier::new(&other, &token).is_err());
    }
}
