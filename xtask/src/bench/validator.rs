//! The validator measured: `Validator::authenticate` on an actix request (the extractor's
//! path), one thread, in rounds interleaved with raw verifications of the same token; each
//! adapter's cost over the framework-free core (actix's `Validator::authenticate`, axum's
//! `Authenticated` extractor, both against `authenticate_credentials`), in interleaved rounds;
//! and the cost of trusting ten issuers rather than one (the `iss` lookup), the same way.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use axum_core::extract::FromRequestParts as _;
use ccflow_resource_api::{Authenticated, RequestCredentials, Validator};
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

/// Authentications per second through the core and through each adapter, one thread.
pub(super) struct AdapterOverhead {
    core: f64,
    actix: f64,
    axum: f64,
    /// Each adapter's rate over the core's, as the median of per-round ratios (1.00: no cost).
    pub(super) actix_ratio: f64,
    pub(super) axum_ratio: f64,
}

impl AdapterOverhead {
    /// The report's line.
    pub(super) fn summary(&self) -> String {
        format!(
            "  adapters ÷ core authenticate_credentials {:>9.0}/s (interleaved rounds): actix {:.3} ({:.0}/s), axum {:.3} ({:.0}/s)",
            self.core, self.actix_ratio, self.actix, self.axum_ratio, self.axum
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "core_per_second_one_thread": self.core,
            "actix_per_second_one_thread": self.actix,
            "axum_per_second_one_thread": self.axum,
            "actix_ratio": self.actix_ratio,
            "axum_ratio": self.axum_ratio,
            "ratio_method": "median of per-round ratios, core, actix and axum rounds interleaved",
        })
    }
}

/// Calls per second of `$call` (a `bool`: accepted) for `$round`, 16 calls per clock reading.
macro_rules! rate {
    ($round:expr, $call:expr) => {{
        let started = Instant::now();
        let mut done: u64 = 0;
        while started.elapsed() < $round {
            for _ in 0..16 {
                if !$call {
                    bail!("an authentication failed mid-run");
                }
            }
            done += 16;
        }
        #[allow(clippy::cast_precision_loss, reason = "counts are small")]
        let rate = done as f64 / started.elapsed().as_secs_f64();
        rate
    }};
}

/// The same bearer request authenticated by the core (`authenticate_credentials` on the header
/// value), the actix adapter (`Validator::authenticate` on an `HttpRequest`) and the axum
/// extractor (`Authenticated::from_request_parts`, the validator in the extensions, its cached
/// result removed before each call), one thread, in interleaved rounds.
pub(super) fn adapter_overhead(
    issuer: &str,
    token: &str,
    duration: Duration,
) -> Result<AdapterOverhead> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let validator = Validator::builder()
            .issuer(issuer)
            .audience("items-api")
            .build()?;
        let binding = validator.token_binding();
        let header = format!("Bearer {token}");
        let actix_request = actix_web::test::TestRequest::default()
            .uri("/v1/whoami")
            .insert_header((actix_web::http::header::AUTHORIZATION, header.clone()))
            .to_http_request();
        let (mut parts, ()) = http::Request::get("/v1/whoami")
            .header(http::header::AUTHORIZATION, &header)
            .body(())?
            .into_parts();
        parts.extensions.insert(validator.clone());
        let authorization = [header.as_bytes()];
        let credentials = RequestCredentials {
            method: "GET",
            url: "/v1/whoami",
            authorization: &authorization,
            dpop: &[],
            ..RequestCredentials::default()
        };
        // The first call loads the JWKS (discovery then keys): not part of the rates.
        validator
            .authenticate_credentials(&credentials, binding)
            .await
            .map_err(|error| anyhow::anyhow!("the validator refused the bench token: {error}"))?;
        const ROUNDS: u32 = 7;
        let round = duration / (3 * ROUNDS);
        let (mut cores, mut actixes, mut axums) = (Vec::new(), Vec::new(), Vec::new());
        let (mut actix_ratios, mut axum_ratios) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let core = rate!(
                round,
                validator
                    .authenticate_credentials(&credentials, binding)
                    .await
                    .is_ok()
            );
            let actix = rate!(round, validator.authenticate(&actix_request).await.is_ok());
            let axum = rate!(round, {
                parts.extensions.remove::<Authenticated>();
                Authenticated::from_request_parts(&mut parts, &())
                    .await
                    .is_ok()
            });
            cores.push(core);
            actixes.push(actix);
            axums.push(axum);
            actix_ratios.push(actix / core);
            axum_ratios.push(axum / core);
        }
        Ok(AdapterOverhead {
            core: median(cores),
            actix: median(actixes),
            axum: median(axums),
            actix_ratio: median(actix_ratios),
            axum_ratio: median(axum_ratios),
        })
    })
}

/// Authentications per second with one trusted issuer and with ten, one thread.
pub(super) struct IssuerLookup {
    one: f64,
    ten: f64,
    /// Ten issuers' rate over one's, the median of per-round ratios (1.00: the lookup among ten
    /// costs nothing more).
    pub(super) ratio: f64,
}

impl IssuerLookup {
    /// The report's line.
    pub(super) fn summary(&self) -> String {
        format!(
            "  10 trusted issuers ÷ 1 {:>9.0}/s (interleaved rounds): {:.3} ({:.0}/s)",
            self.one, self.ratio, self.ten
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "one_issuer_per_second_one_thread": self.one,
            "ten_issuers_per_second_one_thread": self.ten,
            "ratio": self.ratio,
            "ratio_method": "median of per-round ratios, one-issuer and ten-issuer rounds interleaved",
        })
    }
}

/// The same bearer request through `authenticate_credentials` of a validator trusting only
/// `issuer` and of one trusting it and nine others (`trust`, each with its own key cache; the
/// token's issuer given last), one thread, in interleaved rounds.
pub(super) fn issuer_lookup(issuer: &str, token: &str, duration: Duration) -> Result<IssuerLookup> {
    use ccflow_resource_api::IssuerSettings;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let one = Validator::builder()
            .trust(IssuerSettings::new(issuer).audience("items-api"))
            .build()?;
        let mut builder = Validator::builder();
        for index in 1..10 {
            builder = builder.trust(
                IssuerSettings::new(format!("https://issuer-{index}.example"))
                    .audience("items-api"),
            );
        }
        let ten = builder
            .trust(IssuerSettings::new(issuer).audience("items-api"))
            .build()?;
        let header = format!("Bearer {token}");
        let authorization = [header.as_bytes()];
        let credentials = RequestCredentials {
            method: "GET",
            url: "/v1/whoami",
            authorization: &authorization,
            ..RequestCredentials::default()
        };
        let binding = one.token_binding();
        // The first calls load each validator's JWKS: not part of the rates.
        for validator in [&one, &ten] {
            validator
                .authenticate_credentials(&credentials, binding)
                .await
                .map_err(|error| {
                    anyhow::anyhow!("the validator refused the bench token: {error}")
                })?;
        }
        const ROUNDS: u32 = 7;
        let round = duration / (2 * ROUNDS);
        let (mut ones, mut tens, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let one_rate = rate!(
                round,
                one.authenticate_credentials(&credentials, binding)
                    .await
                    .is_ok()
            );
            let ten_rate = rate!(
                round,
                ten.authenticate_credentials(&credentials, binding)
                    .await
                    .is_ok()
            );
            ones.push(one_rate);
            tens.push(ten_rate);
            ratios.push(ten_rate / one_rate);
        }
        Ok(IssuerLookup {
            one: median(ones),
            ten: median(tens),
            ratio: median(ratios),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three paths run and measure against a real issuer (debug build: the figures mean
    /// nothing here, only that every path authenticates and the ratios are ratios).
    #[test]
    fn measures_both_adapters_against_the_core() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (server, token) = runtime.block_on(async {
            let server = ccflow_auth_server::MockAuthServer::builder()
                .client(
                    ccflow_auth_server::Client::new("bench", "bench-secret")
                        .audiences(["items-api"]),
                )
                .start()
                .await
                .unwrap();
            let token = server
                .mint()
                .client("bench")
                .claim("aud", "items-api")
                .sign()
                .unwrap();
            (server, token)
        });
        let overhead =
            adapter_overhead(server.issuer(), &token, Duration::from_millis(210)).unwrap();
        for ratio in [overhead.actix_ratio, overhead.axum_ratio] {
            assert!(ratio.is_finite() && ratio > 0.0, "{}", overhead.summary());
        }
        assert!(overhead.core > 0.0 && overhead.actix > 0.0 && overhead.axum > 0.0);
        let lookup = issuer_lookup(server.issuer(), &token, Duration::from_millis(140)).unwrap();
        assert!(
            lookup.ratio.is_finite() && lookup.ratio > 0.0 && lookup.one > 0.0 && lookup.ten > 0.0,
            "{}",
            lookup.summary()
        );
        drop(server);
    }
}
