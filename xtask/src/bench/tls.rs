//! The token endpoint over HTTPS (issue 19), as ratios to plain HTTP on the same server: one
//! release auth server serves HTTP on `--bind` and HTTPS on `--https-bind`, and the server's
//! CPU time per token is read from `/proc` for sequential requests in four ways — HTTP and
//! HTTPS on one kept-alive connection, and HTTP and HTTPS on a new connection per request (for
//! HTTPS, a full handshake each time: session resumption is off in the client). All four are
//! HTTP/1.1 and measured in interleaved rounds; each figure is the median of its rounds.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{Value, json};

use super::figures::median;
use super::{Options, procfs};
use crate::e2e::process::Server;

/// The bench config's load client (fixtures/bench/rs256.toml).
const CLIENT: (&str, &str) = ("bench", "bench-secret");
const ROUNDS: usize = 5;

/// One way of reaching the token endpoint.
#[derive(Clone, Copy)]
enum Way {
    HttpKeptAlive,
    HttpsKeptAlive,
    HttpNewConnection,
    HttpsFullHandshake,
}

impl Way {
    const ALL: [Way; 4] = [
        Way::HttpKeptAlive,
        Way::HttpsKeptAlive,
        Way::HttpNewConnection,
        Way::HttpsFullHandshake,
    ];

    fn tls(self) -> bool {
        matches!(self, Way::HttpsKeptAlive | Way::HttpsFullHandshake)
    }

    fn kept_alive(self) -> bool {
        matches!(self, Way::HttpKeptAlive | Way::HttpsKeptAlive)
    }
}

/// Server CPU and client wall time per token, each way (µs, medians of the rounds).
#[derive(Default)]
pub(super) struct TlsFigures {
    cpu_us: [f64; 4],
    wall_us: [f64; 4],
    requests_per_round: usize,
}

impl TlsFigures {
    /// HTTPS over HTTP, server CPU per token, on kept-alive connections.
    pub(super) fn kept_alive_ratio(&self) -> f64 {
        self.cpu_us[1] / self.cpu_us[0]
    }

    /// A full TLS handshake per request over a new TCP connection per request.
    pub(super) fn new_connection_ratio(&self) -> f64 {
        self.cpu_us[3] / self.cpu_us[2]
    }

    /// A full TLS handshake per request over plain HTTP kept alive: the worst case against the
    /// best.
    fn handshake_over_kept_alive(&self) -> f64 {
        self.cpu_us[3] / self.cpu_us[0]
    }

    pub(super) fn summary(&self) -> String {
        format!(
            "  kept alive: HTTPS {:.0} µs server CPU per token vs HTTP {:.0} µs: ratio {:.2} (client wall {:.0} vs {:.0} µs)\n  \
             new connection per request: HTTPS, full handshake, {:.0} µs vs HTTP {:.0} µs: ratio {:.2} (client wall {:.0} vs {:.0} µs)\n  \
             full handshake per request vs HTTP kept alive: ratio {:.2}",
            self.cpu_us[1],
            self.cpu_us[0],
            self.kept_alive_ratio(),
            self.wall_us[1],
            self.wall_us[0],
            self.cpu_us[3],
            self.cpu_us[2],
            self.new_connection_ratio(),
            self.wall_us[3],
            self.wall_us[2],
            self.handshake_over_kept_alive(),
        )
    }

    pub(super) fn to_json(&self) -> Value {
        let way = |index: usize| {
            json!({
                "server_cpu_per_token_us": self.cpu_us[index],
                "client_wall_per_token_us": self.wall_us[index],
            })
        };
        json!({
            "http_kept_alive": way(0),
            "https_kept_alive": way(1),
            "http_new_connection": way(2),
            "https_full_handshake": way(3),
            "kept_alive_ratio": self.kept_alive_ratio(),
            "new_connection_ratio": self.new_connection_ratio(),
            "full_handshake_over_http_kept_alive": self.handshake_over_kept_alive(),
            "requests_per_round": self.requests_per_round,
            "ratio_method": "server CPU time per token (/proc, all threads) for sequential HTTP/1.1 requests, HTTPS over HTTP on the same process, median of interleaved rounds; full handshake = new TCP connection and TLS session resumption off in the client",
        })
    }
}

/// Starts the release server with HTTP and HTTPS and measures the four ways.
pub(super) fn measure(
    release: &Path,
    root: &Path,
    options: &Options,
    logs: &Path,
) -> Result<TlsFigures> {
    let ca_file = logs.join("bench-tls-ca.pem");
    let args = [
        "--config".to_owned(),
        root.join("fixtures/bench/rs256.toml").display().to_string(),
        "--bind".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--https-bind".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--tls-ca-file".to_owned(),
        ca_file.display().to_string(),
    ];
    let server = Server::start_logging(
        &release.join("ccflow-auth-server"),
        &args,
        logs.join("auth-server-tls.log"),
        Duration::from_secs(30),
        "warn",
    )?;
    let https_line = server.next_line(Duration::from_secs(10))?;
    let https = https_line
        .split_once(" listening on https://")
        .map(|(_, address)| format!("https://{}", address.trim()))
        .with_context(|| format!("expected the HTTPS listening line, got {https_line:?}"))?;
    let ca_line = server.next_line(Duration::from_secs(10))?;
    ensure!(
        ca_line.starts_with("tls ca: "),
        "expected `tls ca: PATH`, got {ca_line:?}"
    );
    let ca_pem =
        std::fs::read(&ca_file).with_context(|| format!("cannot read {}", ca_file.display()))?;

    let token_path = ccflow_protocol::Profile::Rfc.spec().routes.token[0];
    let urls = [
        format!("{}{token_path}", server.uri()),
        format!("{https}{token_path}"),
    ];
    let clients = Way::ALL
        .iter()
        .map(|way| client(*way, &ca_pem))
        .collect::<Result<Vec<_>>>()?;
    let requests = if options.quick { 200 } else { 1_500 };
    let runtime = super::runtime()?;
    let pid = server.pid();
    let (mut cpu, mut wall): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
        (vec![Vec::new(); 4], vec![Vec::new(); 4]);
    runtime.block_on(async {
        // Warm every path (the server's workers, the clients' pools and the JWKS-free path).
        for (index, way) in Way::ALL.iter().enumerate() {
            run(&clients[index], &urls[usize::from(way.tls())], pid, 20).await?;
        }
        for _ in 0..ROUNDS {
            for (index, way) in Way::ALL.iter().enumerate() {
                let (cpu_us, wall_us) = run(
                    &clients[index],
                    &urls[usize::from(way.tls())],
                    pid,
                    requests,
                )
                .await?;
                cpu[index].push(cpu_us);
                wall[index].push(wall_us);
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    let mut figures = TlsFigures {
        requests_per_round: requests,
        ..TlsFigures::default()
    };
    for index in 0..4 {
        figures.cpu_us[index] = median(std::mem::take(&mut cpu[index]));
        figures.wall_us[index] = median(std::mem::take(&mut wall[index]));
    }
    drop(server);
    Ok(figures)
}

/// A reqwest client for `way`: HTTP/1.1 (no ALPN is offered), the run's CA trusted, a pool of
/// one kept-alive connection or none, and for HTTPS without keep-alive no session resumption,
/// so every request is a full handshake.
fn client(way: Way, ca_pem: &[u8]) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().no_proxy().http1_only();
    if !way.kept_alive() {
        builder = builder.pool_max_idle_per_host(0);
    }
    if way.tls() {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(certificate.context("the CA file holds a bad certificate")?)?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        if !way.kept_alive() {
            config.resumption = rustls::client::Resumption::disabled();
        }
        builder = builder.tls_backend_preconfigured(config);
    }
    Ok(builder.build()?)
}

/// `count` sequential token requests: the server's CPU and the client's wall time per token.
async fn run(client: &reqwest::Client, url: &str, pid: u32, count: usize) -> Result<(f64, f64)> {
    let before = procfs::cpu_seconds(pid)?;
    let started = Instant::now();
    for _ in 0..count {
        let response = client
            .post(url)
            .basic_auth(CLIENT.0, Some(CLIENT.1))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?;
        ensure!(
            response.status() == 200,
            "the token endpoint answered {}",
            response.status()
        );
        response.bytes().await?;
    }
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let count = count as f64;
    let wall_us = started.elapsed().as_secs_f64() / count * 1e6;
    let cpu_us = (procfs::cpu_seconds(pid)? - before) / count * 1e6;
    Ok((cpu_us, wall_us))
}
