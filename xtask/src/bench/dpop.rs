//! DPoP measured (RFC 9449), each path as a ratio to the raw signature and verification work it
//! contains: the token endpoint's DPoP path (an ES256 proof verified, an RS256 token signed),
//! from the server's CPU time per token; and the validator's DPoP path (the RS256 token and the
//! ES256 proof verified), one thread in process, in rounds interleaved with the raw work.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail, ensure};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::dpop::DpopKey;
use ccflow_resource_api::{RequestCredentials, TokenBinding, Validator};
use serde_json::{Value, json};

use super::crypto::{self, RawVerifier};
use super::figures::median;
use super::{Options, http, procfs};

/// The bench config's load client (fixtures/bench/rs256.toml).
const CLIENT: (&str, &str) = ("bench", "bench-secret");
/// The URL the validator's proofs name (the validator is called in process).
const API_URL: &str = "http://api.test/v1/whoami";

/// What the DPoP section measured.
pub(super) struct DpopFigures {
    /// Server CPU per token, DPoP and Bearer, sequential requests (µs).
    endpoint_dpop_cpu_us: f64,
    endpoint_bearer_cpu_us: f64,
    /// Raw one-thread RS256 sign + ES256 proof verify (µs).
    endpoint_raw_us: f64,
    /// Raw work ÷ server CPU per DPoP token.
    pub(super) endpoint_ratio: f64,
    validator_rate: f64,
    validator_raw_rate: f64,
    /// Median of per-round validator ÷ raw (RS256 verify + ES256 proof verify) rates.
    pub(super) validator_ratio: f64,
}

impl DpopFigures {
    pub(super) fn summary(&self) -> String {
        format!(
            "  token endpoint, DPoP: {:.0} µs server CPU per token (Bearer {:.0} µs) vs raw RS256 sign + ES256 proof verify {:.0} µs: ratio {:.2}\n  \
             validator, DPoP: {:.0}/s vs raw RS256 verify + ES256 proof verify {:.0}/s (interleaved rounds): ratio {:.2}",
            self.endpoint_dpop_cpu_us,
            self.endpoint_bearer_cpu_us,
            self.endpoint_raw_us,
            self.endpoint_ratio,
            self.validator_rate,
            self.validator_raw_rate,
            self.validator_ratio,
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "token_endpoint": {
                "server_cpu_per_dpop_token_us": self.endpoint_dpop_cpu_us,
                "server_cpu_per_bearer_token_us": self.endpoint_bearer_cpu_us,
                "raw_rs256_sign_plus_es256_verify_us": self.endpoint_raw_us,
                "ratio": self.endpoint_ratio,
                "ratio_method": "raw one-thread RS256 sign + ES256 proof verify, over the server's CPU time per DPoP token (sequential requests, proofs made beforehand)",
            },
            "validator": {
                "dpop_validations_per_second_one_thread": self.validator_rate,
                "raw_verify_pairs_per_second_one_thread": self.validator_raw_rate,
                "ratio": self.validator_ratio,
                "ratio_method": "median of per-round ratios, validator rounds (Validator::authenticate_credentials, proofs made beforehand) interleaved with raw RS256 token verify + ES256 proof verify rounds",
            },
        })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A raw ES256 verification of a proof, its embedded key parsed on every call (as the
/// validator must: the key comes with the proof).
struct RawProofVerify {
    point: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl RawProofVerify {
    fn new(key: &DpopKey, proof: &str) -> Result<Self> {
        let (message, signature) = proof.rsplit_once('.').context("a compact proof")?;
        let jwk = key.public_jwk();
        let coordinate = |value: &Option<String>| -> Result<Vec<u8>> {
            Ok(URL_SAFE_NO_PAD.decode(value.as_deref().context("an EC jwk")?)?)
        };
        let mut point = vec![4];
        point.extend(coordinate(&jwk.x)?);
        point.extend(coordinate(&jwk.y)?);
        Ok(Self {
            point,
            message: message.as_bytes().to_vec(),
            signature: URL_SAFE_NO_PAD.decode(signature)?,
        })
    }

    fn verify(&self) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(&self.message, &self.signature)
            .is_ok()
    }
}

/// Both DPoP paths against `token_url` (the release RS256 server, `pid`), whose issuer is
/// `issuer` and signing key `private_pem`.
pub(super) fn measure(
    token_url: &str,
    issuer: &str,
    pid: u32,
    private_pem: &[u8],
    options: &Options,
) -> Result<DpopFigures> {
    let runtime = super::runtime()?;
    let key = DpopKey::generate()?;
    let requests: usize = if options.quick { 300 } else { 3_000 };
    let (dpop_cpu, bearer_cpu, bound) = runtime.block_on(async {
        let client = http()?;
        let request = |proof: Option<String>| {
            let mut request = client
                .post(token_url)
                .basic_auth(CLIENT.0, Some(CLIENT.1))
                .form(&[("grant_type", "client_credentials")]);
            if let Some(proof) = proof {
                request = request.header("DPoP", proof);
            }
            request
        };
        // Proofs are made before the clock starts: a client's signing is not the server's work.
        let run = async |dpop: bool, count: usize| -> Result<(f64, String)> {
            let proofs: Vec<Option<String>> = (0..count)
                .map(|_| {
                    dpop.then(|| key.proof("POST", token_url, unix_now(), None, None))
                        .transpose()
                })
                .collect::<Result<_, _>>()?;
            let before = procfs::cpu_seconds(pid)?;
            let mut last = String::new();
            for proof in proofs {
                let response = request(proof).send().await?;
                ensure!(
                    response.status() == 200,
                    "the token endpoint answered {}",
                    response.status()
                );
                let body: Value = response.json().await?;
                ensure!(
                    body["token_type"] == if dpop { "DPoP" } else { "Bearer" },
                    "unexpected token_type: {}",
                    body["token_type"]
                );
                last = body["access_token"].as_str().unwrap_or_default().to_owned();
            }
            #[allow(clippy::cast_precision_loss, reason = "small counts")]
            let per_token = (procfs::cpu_seconds(pid)? - before) / count as f64 * 1e6;
            Ok((per_token, last))
        };
        run(true, 20).await?;
        let (dpop_cpu, bound) = run(true, requests).await?;
        let (bearer_cpu, _) = run(false, requests).await?;
        Ok::<_, anyhow::Error>((dpop_cpu, bearer_cpu, bound))
    })?;
    let sample = key.proof("POST", token_url, unix_now(), None, None)?;
    let proof_verify = RawProofVerify::new(&key, &sample)?;
    let raw_sign = crypto::sign_rate(private_pem, &bound, options.micro())?;
    let raw_proof = crypto::rate(options.micro(), || proof_verify.verify())?;
    let endpoint_raw_us = 1e6 / raw_sign + 1e6 / raw_proof;

    let raw = RawVerifier::new(private_pem, &bound)?;
    let (validator_rate, validator_raw_rate, validator_ratio) =
        validator_rounds(&runtime, issuer, &key, &bound, &raw, options.micro())?;
    Ok(DpopFigures {
        endpoint_dpop_cpu_us: dpop_cpu,
        endpoint_bearer_cpu_us: bearer_cpu,
        endpoint_raw_us,
        endpoint_ratio: endpoint_raw_us / dpop_cpu,
        validator_rate,
        validator_raw_rate,
        validator_ratio,
    })
}

/// DPoP validations per second (`Validator::authenticate_credentials`, one thread) and raw
/// RS256 token verify + ES256 proof verify per second, in interleaved rounds; the median of
/// the per-round ratios.
fn validator_rounds(
    runtime: &tokio::runtime::Runtime,
    issuer: &str,
    key: &DpopKey,
    token: &str,
    raw: &RawVerifier,
    duration: Duration,
) -> Result<(f64, f64, f64)> {
    runtime.block_on(async {
        let validator = Validator::builder()
            .issuer(issuer)
            .audience("items-api")
            .token_binding(TokenBinding::Dpop)
            .dpop_replay_capacity(50_000_000)
            .build()?;
        let authorization = format!("DPoP {token}");
        let authorization = [authorization.as_bytes()];
        let proofs = |count: usize| -> Result<Vec<String>> {
            (0..count)
                .map(|_| Ok(key.proof("GET", API_URL, unix_now(), None, Some(token))?))
                .collect()
        };
        let validate = async |proof: &str| {
            let dpop = [proof.as_bytes()];
            validator
                .authenticate_credentials(
                    &RequestCredentials {
                        method: "GET",
                        url: API_URL,
                        authorization: &authorization,
                        dpop: &dpop,
                        ..RequestCredentials::default()
                    },
                    TokenBinding::Dpop,
                )
                .await
        };
        // The first call loads the JWKS; a short run sizes the rounds' proof pools.
        let calibration = proofs(64)?;
        let started = Instant::now();
        for proof in &calibration {
            validate(proof).await.map_err(|error| {
                anyhow::anyhow!("the validator refused the bench proof: {error}")
            })?;
        }
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        let estimate = calibration.len() as f64 / started.elapsed().as_secs_f64();
        const ROUNDS: u32 = 7;
        let round = duration / ROUNDS;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a small positive count"
        )]
        let per_round = ((estimate * round.as_secs_f64() * 2.0) as usize).max(32);
        let proof_verify = RawProofVerify::new(key, &proofs(1)?[0])?;
        let (mut rates, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let raw_rate = crypto::round(round, || raw.verify() && proof_verify.verify())?;
            let pool = proofs(per_round)?;
            let started = Instant::now();
            for proof in &pool {
                if validate(proof).await.is_err() {
                    bail!("a DPoP validation failed mid-run");
                }
            }
            #[allow(clippy::cast_precision_loss, reason = "small counts")]
            let rate = pool.len() as f64 / started.elapsed().as_secs_f64();
            rates.push(rate);
            raws.push(raw_rate);
            ratios.push(rate / raw_rate);
        }
        Ok((median(rates), median(raws), median(ratios)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The raw baseline verifies exactly what the validator verifies: a real proof passes, a
    /// proof whose signature is another one's does not.
    #[test]
    fn the_raw_proof_baseline_verifies_real_proofs_only() {
        let key = DpopKey::generate().unwrap();
        let proof = key.proof("GET", API_URL, 1, None, Some("token")).unwrap();
        assert!(RawProofVerify::new(&key, &proof).unwrap().verify());
        let other = key.proof("GET", API_URL, 2, None, Some("token")).unwrap();
        let mut swapped = RawProofVerify::new(&key, &proof).unwrap();
        swapped.signature = RawProofVerify::new(&key, &other).unwrap().signature;
        assert!(!swapped.verify());
    }
}
