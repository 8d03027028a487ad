//! The token endpoint measured: the release auth server with a bench config, the raw signing
//! baseline over its own token, load runs at each connection count with raw signing measured
//! again around each, and the ratio of tokens to the signing capacity of the cores used.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use bytes::Bytes;
use ccflow_protocol::Profile;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::crypto::{self, CryptoFigures};
use super::figures::{LoadFigures, load_with_readings};
use super::{Options, basic_header, http, runtime, say, spec};
use crate::e2e::process::Server;

const TOKEN_BODY: &str = "grant_type=client_credentials";

/// A release server binary with a bench config, logging at `warn` (no per-request lines).
fn start_auth_server(
    release: &Path,
    root: &Path,
    config: &str,
    options: &Options,
    logs: &Path,
) -> Result<Server> {
    let mut args = vec![
        "--config".to_owned(),
        root.join("fixtures/bench")
            .join(config)
            .display()
            .to_string(),
        "--bind".to_owned(),
        "127.0.0.1:0".to_owned(),
    ];
    if let Some(workers) = options.workers {
        args.extend(["--workers".to_owned(), workers.to_string()]);
    }
    Server::start_logging(
        &release.join("ccflow-auth-server"),
        &args,
        logs.join(format!("auth-server-{config}.log")),
        Duration::from_secs(30),
        "warn",
    )
}

/// The bench configs use the strict `rfc` profile: its token route.
pub(super) fn rfc_token_url(server: &Server) -> String {
    format!("{}{}", server.uri(), Profile::Rfc.spec().routes.token[0])
}

/// One token from the server, the way the load generator asks for it.
async fn one_token(token_url: &str, id: &str, secret: &str) -> Result<String> {
    let response = http()?
        .post(token_url)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    ensure!(
        response.status() == 200,
        "the token endpoint answered {}",
        response.status()
    );
    let body: Value = response.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the token response")
}

/// The measured figures of one token-endpoint configuration.
pub(super) struct Endpoint {
    crypto: CryptoFigures,
    pub(super) runs: Vec<LoadFigures>,
    /// Raw one-thread signs/s around each run: the mean of the baseline measured just before
    /// it and the one just after, so that a machine whose speed drifts during the bench (a
    /// shared VM) is compared with itself.
    raw_sign_around: Vec<f64>,
}

/// Tokens/s ÷ (raw one-thread signs/s × cores the server used): the share of the signing
/// capacity of the server's cores that ends up as tokens.
fn signing_ratio(run: &LoadFigures, raw_sign_per_second: f64) -> Option<f64> {
    run.server_cores()
        .filter(|cores| *cores > 0.0)
        .map(|cores| run.load.per_second / (raw_sign_per_second * cores))
}

impl Endpoint {
    pub(super) fn ratio(&self, index: usize) -> Option<f64> {
        signing_ratio(self.runs.get(index)?, *self.raw_sign_around.get(index)?)
    }

    /// Server CPU per token beyond one raw signature (µs): what the server adds around it.
    fn overhead_us(&self, index: usize) -> Option<f64> {
        let cpu = self.runs.get(index)?.cpu_per_request_us()?;
        Some(cpu - 1e6 / self.raw_sign_around.get(index)?)
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "baseline": crypto_json(&self.crypto),
            "runs": self.runs.iter().enumerate().map(|(index, run)| {
                let mut value = run.to_json();
                value["raw_sign_per_second_around_run"] = json!(self.raw_sign_around.get(index));
                value["ratio_to_raw_signing"] = json!(self.ratio(index));
                value["server_cpu_beyond_raw_sign_us"] = json!(self.overhead_us(index));
                value
            }).collect::<Vec<_>>(),
        })
    }
}

fn crypto_json(figures: &CryptoFigures) -> Value {
    json!({
        "algorithm": figures.algorithm,
        "threads": figures.threads,
        "sign_per_second_one_thread": figures.sign_one_thread,
        "sign_per_second_all_cores": figures.sign_all_cores,
        "verify_per_second_one_thread": figures.verify_one_thread,
        "verify_per_second_all_cores": figures.verify_all_cores,
        "jsonwebtoken_encode_sign_per_second_one_thread": figures.jsonwebtoken_encode_one_thread,
        "sign_us": 1e6 / figures.sign_one_thread,
        "verify_us": 1e6 / figures.verify_one_thread,
    })
}

fn crypto_row(figures: &CryptoFigures) {
    say(&format!(
        "  {:<6} sign {:>8.0}/s ({:>5.0} µs) 1 thread, {:>8.0}/s on {} threads; verify {:>8.0}/s ({:>4.1} µs), {:>8.0}/s on {}; jsonwebtoken encode path {:>7.0}/s ({:.2}× slower)",
        figures.algorithm,
        figures.sign_one_thread,
        1e6 / figures.sign_one_thread,
        figures.sign_all_cores,
        figures.threads,
        figures.verify_one_thread,
        1e6 / figures.verify_one_thread,
        figures.verify_all_cores,
        figures.threads,
        figures.jsonwebtoken_encode_one_thread,
        figures.sign_one_thread / figures.jsonwebtoken_encode_one_thread,
    ));
}

/// Baseline + load runs against one server configuration.
pub(super) fn token_endpoint(
    root: &Path,
    release: &Path,
    config: &str,
    key: &str,
    connections: &[usize],
    options: &Options,
    logs: &Path,
) -> Result<(Endpoint, Server, String)> {
    let server = start_auth_server(release, root, config, options, logs)?;
    let token_url = rfc_token_url(&server);
    let token = runtime()?.block_on(one_token(&token_url, "bench", "bench-secret"))?;
    let pem = std::fs::read(root.join("fixtures/keys").join(key))?;
    let crypto = crypto::measure(&pem, &token, options.micro())?;
    crypto_row(&crypto);
    let headers = vec![
        basic_header("bench", "bench-secret")?,
        (
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ),
    ];
    let mut runs = Vec::new();
    let mut raw_sign_around = Vec::new();
    let mut before = crypto.sign_one_thread;
    for &conns in connections {
        let spec = spec(
            url::Url::parse(&token_url)?,
            Method::POST,
            headers.clone(),
            Bytes::from_static(TOKEN_BODY.as_bytes()),
            vec![StatusCode::OK],
            conns,
            options,
        );
        let figures = load_with_readings(&spec, Some(server.pid()))?;
        let after = crypto::sign_rate(&pem, &token, options.micro())?;
        let around = f64::midpoint(before, after);
        let extra = figures
            .cpu_per_request_us()
            .map_or_else(String::new, |cpu| {
                format!(" (+{:.0} µs beyond a raw sign)", cpu - 1e6 / around)
            });
        let ratio = signing_ratio(&figures, around)
            .map_or_else(String::new, |ratio| format!("  ratio {ratio:.2}{extra}"));
        say(&format!(
            "{}{ratio}",
            figures.row(&format!("POST /token {}", crypto.algorithm))
        ));
        runs.push(figures);
        raw_sign_around.push(around);
        before = after;
    }
    Ok((
        Endpoint {
            crypto,
            runs,
            raw_sign_around,
        },
        server,
        token,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::LoadReport;

    fn run(per_second: f64, seconds: f64, ok: u64, server_cpu_seconds: Option<f64>) -> LoadFigures {
        LoadFigures {
            load: LoadReport {
                per_second,
                seconds,
                ok,
                ..LoadReport::default()
            },
            server_cpu_seconds,
            ..LoadFigures::default()
        }
    }

    #[test]
    fn the_ratio_compares_tokens_with_the_signing_capacity_of_the_cores_used() {
        // 6,000 tokens/s on 1.8 cores of 4,000 signs/s each: 6,000 / 7,200.
        let figures = run(6_000.0, 10.0, 60_000, Some(18.0));
        assert_eq!(figures.server_cores(), Some(1.8));
        assert_eq!(figures.cpu_per_request_us(), Some(300.0));
        let ratio = signing_ratio(&figures, 4_000.0).unwrap();
        assert!((ratio - 6_000.0 / 7_200.0).abs() < 1e-12, "{ratio}");
        let endpoint = Endpoint {
            crypto: CryptoFigures::default(),
            runs: vec![figures],
            raw_sign_around: vec![4_000.0],
        };
        assert_eq!(endpoint.ratio(0), Some(ratio));
        // 300 µs per token against a 250 µs signature.
        assert!((endpoint.overhead_us(0).unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(endpoint.ratio(1), None);
        // Without server readings (another server, no --pid) there is no ratio.
        assert_eq!(
            signing_ratio(&run(6_000.0, 10.0, 60_000, None), 4_000.0),
            None
        );
        assert_eq!(run(0.0, 10.0, 0, Some(1.0)).cpu_per_request_us(), None);
    }
}
