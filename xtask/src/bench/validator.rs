//! The validator measured: `Validator::authenticate` on an actix request (the extractor's
//! path), one thread, in rounds interleaved with raw verifications of the same token.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use ccflow_resource_api::Validator;
use serde_json::{Value, json};

use super::crypto;
use super::figures::median;

/// Validations and raw verifications per second, one thread.
pub(super) struct Validation {
    validator: f64,
    raw_verify: f64,
    /// The median of the per-round ratios: each validator round is compared with the raw round
    /// run just before it, so a machine that speeds up or slows down mid-run (a shared VM, a
    /// build beside it) moves both sides of every ratio alike.
    pub(super) ratio: f64,
}

impl Validation {
    /// The report's line.
    pub(super) fn summary(&self) -> String {
        format!(
            "  Validator::authenticate {:>9.0}/s vs raw verify {:>9.0}/s (interleaved rounds): ratio {:.2}",
            self.validator, self.raw_verify, self.ratio
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "validations_per_second_one_thread": self.validator,
            "raw_verify_per_second_one_thread": self.raw_verify,
            "ratio": self.ratio,
            "ratio_method": "median of per-round ratios, validator and raw verify rounds interleaved",
        })
    }
}

/// Validations per second through the actix extractor path (`Validator::authenticate` on a
/// request with the bearer header), one thread, against raw verifies of the same token with
/// the same key, in interleaved rounds.
pub(super) fn validator_rate(
    issuer: &str,
    token: &str,
    raw: &crypto::RawVerifier,
    duration: Duration,
) -> Result<Validation> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let validator = Validator::builder()
            .issuer(issuer)
            .audience("items-api")
            .build()?;
        let request = actix_web::test::TestRequest::default()
            .insert_header((
                actix_web::http::header::AUTHORIZATION,
                format!("Bearer {token}"),
            ))
            .to_http_request();
        // The first call loads the JWKS (discovery then keys): not part of the rate.
        validator
            .authenticate(&request)
            .await
            .map_err(|error| anyhow::anyhow!("the validator refused the bench token: {error}"))?;
        const ROUNDS: u32 = 7;
        let round = duration / ROUNDS;
        let (mut validations, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let raw_rate = crypto::round(round, || raw.verify())?;
            let started = Instant::now();
            let mut done: u64 = 0;
            while started.elapsed() < round {
                for _ in 0..16 {
                    if validator.authenticate(&request).await.is_err() {
                        bail!("a validation failed mid-run");
                    }
                }
                done += 16;
            }
            #[allow(clippy::cast_precision_loss, reason = "counts are small")]
            let validator_rate = done as f64 / started.elapsed().as_secs_f64();
            validations.push(validator_rate);
            raws.push(raw_rate);
            ratios.push(validator_rate / raw_rate);
        }
        Ok(Validation {
            validator: median(validations),
            raw_verify: median(raws),
            ratio: median(ratios),
        })
    })
}
