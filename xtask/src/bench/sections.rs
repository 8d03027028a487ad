//! The five sections of the full run: crypto baseline, token endpoint, validator, SDK,
//! start-up; then the targets of docs/performance.md checked against what was measured.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use bytes::Bytes;
use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use ccflow_client::TokenClient;
use ccflow_protocol::Profile;
use ccflow_resource_api::Validator;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::crypto::{self, CryptoFigures};
use super::load::{self, LoadReport, LoadSpec, Window};
use super::{Options, basic_header, procfs, say, spec};
use crate::e2e::process::Server;

pub(crate) const LOAD_HEADER: &str = "  what                          conns       req/s    p50 ms    p90 ms    p99 ms    max ms  errors  srv CPU/req  srv cores  peak RSS";

const TOKEN_BODY: &str = "grant_type=client_credentials";

/// One load run and the server readings around its measured window.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadFigures {
    pub(crate) load: LoadReport,
    /// Server CPU seconds inside the window (None without a pid).
    pub(crate) server_cpu_seconds: Option<f64>,
    pub(crate) generator_cpu_seconds: f64,
    pub(crate) peak_rss_mib: Option<f64>,
    pub(crate) rss_mib: Option<f64>,
}

impl LoadFigures {
    pub(crate) fn cpu_per_request_us(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss, reason = "request counts are small")]
        self.server_cpu_seconds
            .filter(|_| self.load.ok > 0)
            .map(|cpu| cpu * 1e6 / self.load.ok as f64)
    }

    pub(crate) fn server_cores(&self) -> Option<f64> {
        self.server_cpu_seconds.map(|cpu| cpu / self.load.seconds)
    }

    pub(crate) fn row(&self, what: &str) -> String {
        let optional = |value: Option<f64>, unit: &str, width: usize| {
            value.map_or_else(
                || format!("{:>width$}", "-"),
                |value| format!("{:>width$}", format!("{value:.0}{unit}")),
            )
        };
        format!(
            "  {what:<28} {:>6} {:>11.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7} {} {} {}",
            self.load.connections,
            self.load.per_second,
            self.load.p50_ms,
            self.load.p90_ms,
            self.load.p99_ms,
            self.load.max_ms,
            self.load.errors,
            optional(self.cpu_per_request_us(), " µs", 12),
            self.server_cores()
                .map_or_else(|| format!("{:>10}", "-"), |cores| format!("{cores:>10.2}")),
            optional(self.peak_rss_mib, " MiB", 9),
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "connections": self.load.connections,
            "seconds": self.load.seconds,
            "requests_ok": self.load.ok,
            "errors": self.load.errors,
            "error_samples": self.load.error_samples,
            "requests_per_second": self.load.per_second,
            "latency_ms": {
                "p50": self.load.p50_ms,
                "p90": self.load.p90_ms,
                "p99": self.load.p99_ms,
                "max": self.load.max_ms,
            },
            "server_cpu_seconds": self.server_cpu_seconds,
            "server_cpu_per_request_us": self.cpu_per_request_us(),
            "server_cores_used": self.server_cores(),
            "generator_cpu_seconds": self.generator_cpu_seconds,
            "server_peak_rss_mib": self.peak_rss_mib,
            "server_rss_mib": self.rss_mib,
        })
    }
}

/// CPU readings of the server (if known) and of the generator at the window's edges.
struct Readings {
    pid: Option<u32>,
    server: [f64; 2],
    own: [f64; 2],
}

impl Window for Readings {
    fn started(&mut self) {
        if let Some(pid) = self.pid {
            self.server[0] = procfs::cpu_seconds(pid).unwrap_or(f64::NAN);
        }
        self.own[0] = procfs::own_cpu_seconds().unwrap_or(f64::NAN);
    }

    fn ended(&mut self) {
        if let Some(pid) = self.pid {
            self.server[1] = procfs::cpu_seconds(pid).unwrap_or(f64::NAN);
        }
        self.own[1] = procfs::own_cpu_seconds().unwrap_or(f64::NAN);
    }
}

/// Runs `spec`, reading the server's CPU and memory if its pid is known.
pub(crate) fn load_with_readings(spec: &LoadSpec, pid: Option<u32>) -> Result<LoadFigures> {
    let mut readings = Readings {
        pid,
        server: [0.0; 2],
        own: [0.0; 2],
    };
    let report = load::run(spec, &mut readings)?;
    let memory = pid.map(procfs::memory_mib).transpose()?;
    Ok(LoadFigures {
        load: report,
        server_cpu_seconds: pid.map(|_| readings.server[1] - readings.server[0]),
        generator_cpu_seconds: readings.own[1] - readings.own[0],
        peak_rss_mib: memory.map(|(_, peak)| peak),
        rss_mib: memory.map(|(now, _)| now),
    })
}

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
fn rfc_token_url(server: &Server) -> String {
    format!("{}{}", server.uri(), Profile::Rfc.spec().routes.token[0])
}

fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().build()?)
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The measured figures of one token-endpoint configuration.
struct Endpoint {
    crypto: CryptoFigures,
    runs: Vec<LoadFigures>,
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
    fn ratio(&self, index: usize) -> Option<f64> {
        signing_ratio(self.runs.get(index)?, *self.raw_sign_around.get(index)?)
    }

    /// Server CPU per token beyond one raw signature (µs): what the server adds around it.
    fn overhead_us(&self, index: usize) -> Option<f64> {
        let cpu = self.runs.get(index)?.cpu_per_request_us()?;
        Some(cpu - 1e6 / self.raw_sign_around.get(index)?)
    }

    fn to_json(&self) -> Value {
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
fn token_endpoint(
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

/// Validations and raw verifications per second, one thread.
struct Validation {
    validator: f64,
    raw_verify: f64,
    /// The median of the per-round ratios: each validator round is compared with the raw round
    /// run just before it, so a machine that speeds up or slows down mid-run (a shared VM, a
    /// build beside it) moves both sides of every ratio alike.
    ratio: f64,
}

/// Validations per second through the actix extractor path (`Validator::authenticate` on a
/// request with the bearer header), one thread, against raw verifies of the same token with
/// the same key, in interleaved rounds.
fn validator_rate(
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

struct Sdk {
    cached_ns: f64,
    cold_callers: usize,
    cold_requests: usize,
}

/// Cached `token()` cost, and how many requests 10,000 callers on a cold cache make.
fn sdk(token_url: &str, admin: &str, options: &Options) -> Result<Sdk> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let client = TokenClient::builder()
            .token_url(token_url)
            .credentials("bench-sdk", "bench-sdk-secret")
            .build()?;
        client.token().await?;
        let iterations: u32 = if options.quick { 100_000 } else { 2_000_000 };
        let started = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(client.token().await?);
        }
        let cached_ns = started.elapsed().as_secs_f64() * 1e9 / f64::from(iterations);

        let http = http()?;
        let status = http
            .delete(format!("{admin}/requests"))
            .send()
            .await?
            .status();
        ensure!(status == 204, "DELETE /_ccflow/requests answered {status}");
        let cold = Arc::new(
            TokenClient::builder()
                .token_url(token_url)
                .credentials("bench-sdk", "bench-sdk-secret")
                .build()?,
        );
        let callers = 10_000;
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let client = Arc::clone(&cold);
                tokio::spawn(async move { client.token().await })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        let journal: Value = http
            .get(format!(
                "{admin}/requests?endpoint=token&client_id=bench-sdk"
            ))
            .send()
            .await?
            .json()
            .await?;
        let cold_requests = journal["requests"].as_array().map_or(0, Vec::len);
        Ok(Sdk {
            cached_ns,
            cold_callers: callers,
            cold_requests,
        })
    })
}

struct Startup {
    process_to_listening_ms: f64,
    process_to_first_token_ms: f64,
    embedded_to_first_token_ms: f64,
    samples: usize,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn startup(release: &Path, root: &Path, options: &Options) -> Result<Startup> {
    let samples = if options.quick { 3 } else { 15 };
    let runtime = runtime()?;
    // No connection pool: each sample's server is new, and may reuse a dead one's port.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()?;
    let config = root.join("fixtures/bench/rs256.toml");
    let mut listening = Vec::new();
    let mut first_token = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        let mut child = Command::new(release.join("ccflow-auth-server"))
            .args(["--config", &config.display().to_string()])
            .args(["--bind", "127.0.0.1:0"])
            .env("CCFLOW_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start ccflow-auth-server")?;
        let measured = (|| -> Result<()> {
            let mut line = String::new();
            let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
            stdout.read_line(&mut line)?;
            listening.push(started.elapsed().as_secs_f64() * 1e3);
            // Keep reading, as a script would: the summary follows the first line.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            let address = line
                .split_once(" listening on http://")
                .map(|(_, address)| address.trim().to_owned())
                .with_context(|| format!("unexpected first line {line:?}"))?;
            let url = format!("http://{address}{}", Profile::Rfc.spec().routes.token[0]);
            let response = runtime.block_on(
                http.post(&url)
                    .basic_auth("bench", Some("bench-secret"))
                    .form(&[("grant_type", "client_credentials")])
                    .send(),
            )?;
            ensure!(
                response.status() == 200,
                "first token: {}",
                response.status()
            );
            runtime.block_on(response.bytes())?;
            first_token.push(started.elapsed().as_secs_f64() * 1e3);
            Ok(())
        })();
        let _ = child.kill();
        let _ = child.wait();
        measured?;
    }
    let key = std::fs::read_to_string(root.join("fixtures/keys/rs256-1.pem"))?;
    let mut embedded = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        runtime.block_on(async {
            let server = MockAuthServer::builder()
                .signing_key(SigningKey::from_pem(&key)?)
                .client(Client::new("bench", "bench-secret"))
                .start()
                .await?;
            let response = http
                .post(server.token_url())
                .basic_auth("bench", Some("bench-secret"))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await?;
            ensure!(
                response.status() == 200,
                "first token: {}",
                response.status()
            );
            response.bytes().await?;
            embedded.push(started.elapsed().as_secs_f64() * 1e3);
            server.shutdown().await;
            Ok(())
        })?;
    }
    Ok(Startup {
        process_to_listening_ms: median(listening),
        process_to_first_token_ms: median(first_token),
        embedded_to_first_token_ms: median(embedded),
        samples,
    })
}

/// A target of docs/performance.md and whether the run met it.
struct Target {
    name: &'static str,
    measured: f64,
    limit: f64,
    /// `true`: measured must be ≤ limit; `false`: ≥.
    at_most: bool,
    unit: &'static str,
}

impl Target {
    fn met(&self) -> bool {
        if self.at_most {
            self.measured <= self.limit
        } else {
            self.measured >= self.limit
        }
    }
}

/// The full run.
pub(crate) fn everything(root: &Path, release: &Path, options: &Options) -> Result<Value> {
    let logs = std::env::temp_dir().join(format!("ccflow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    say(&format!(
        "ccflow bench: {cores} cores, {} load threads, {} s per load run after {} s warm-up{}",
        options.load_threads,
        options.seconds,
        options.warmup,
        if options.quick { " (--quick)" } else { "" }
    ));

    say(
        "\n1-2. baseline (raw aws-lc-rs over the server's own token, key parsed once) and token endpoint (release ccflow-auth-server, logs at warn)",
    );
    say(LOAD_HEADER);
    let (rs256, rs256_server, rs256_token) = token_endpoint(
        root,
        release,
        "rs256.toml",
        "rs256-1.pem",
        &options.connections,
        options,
        &logs,
    )?;
    let largest = options.connections.iter().copied().max().unwrap_or(64);
    let (es256, es256_server, _) = token_endpoint(
        root,
        release,
        "es256.toml",
        "es256-1.pem",
        &[largest],
        options,
        &logs,
    )?;
    drop(es256_server);

    say("\n3. validator (one thread, extractor path) and the sample API");
    let issuer = rs256_server.uri();
    let raw_verifier = crypto::RawVerifier::new(
        &std::fs::read(root.join("fixtures/keys/rs256-1.pem"))?,
        &rs256_token,
    )?;
    let validation = validator_rate(&issuer, &rs256_token, &raw_verifier, options.micro())?;
    say(&format!(
        "  Validator::authenticate {:>9.0}/s vs raw verify {:>9.0}/s (interleaved rounds): ratio {:.2}",
        validation.validator, validation.raw_verify, validation.ratio
    ));
    let api = Server::start_sample_api(
        &release.join("ccflow-resource-api"),
        &issuer,
        None,
        logs.join("resource-api.log"),
    )?;
    let whoami_spec = spec(
        url::Url::parse(&format!("{}/v1/whoami", api.uri()))?,
        Method::GET,
        vec![(
            HeaderName::from_static("authorization"),
            HeaderValue::from_str(&format!("Bearer {rs256_token}"))?,
        )],
        Bytes::new(),
        vec![StatusCode::OK],
        largest,
        options,
    );
    say(LOAD_HEADER);
    let whoami = load_with_readings(&whoami_spec, Some(api.pid()))?;
    say(&whoami.row("GET /v1/whoami"));
    drop(api);

    say("\n4. SDK");
    let sdk = sdk(
        &rfc_token_url(&rs256_server),
        &format!("{}/_ccflow", rs256_server.uri()),
        options,
    )?;
    say(&format!(
        "  cached token(): {:.0} ns/op; {} concurrent callers on a cold cache made {} token request(s)",
        sdk.cached_ns, sdk.cold_callers, sdk.cold_requests
    ));
    drop(rs256_server);

    say("\n5. start-up (median)");
    let startup = startup(release, root, options)?;
    say(&format!(
        "  process start → listening line {:.1} ms, → first token {:.1} ms; embedded start() → first token {:.2} ms ({} samples)",
        startup.process_to_listening_ms,
        startup.process_to_first_token_ms,
        startup.embedded_to_first_token_ms,
        startup.samples
    ));

    let mut targets = Vec::new();
    let run_at = |connections: usize| {
        rs256
            .runs
            .iter()
            .find(|run| run.load.connections == connections)
    };
    let largest_run = rs256
        .runs
        .iter()
        .enumerate()
        .max_by_key(|(_, run)| run.load.connections);
    if let Some((index, run)) = largest_run {
        if let Some(cpu) = run.cpu_per_request_us() {
            targets.push(Target {
                name: "RS256 server CPU per token",
                measured: cpu,
                limit: 250.0,
                at_most: true,
                unit: "µs",
            });
        }
        if let Some(ratio) = rs256.ratio(index) {
            targets.push(Target {
                name: "RS256 tokens/s ÷ raw signing of the cores used",
                measured: ratio,
                limit: 0.8,
                at_most: false,
                unit: "×",
            });
        }
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        targets.push(Target {
            name: "RS256 token endpoint errors",
            measured: run.load.errors as f64,
            limit: 0.0,
            at_most: true,
            unit: "",
        });
        if let Some(rss) = run.peak_rss_mib {
            targets.push(Target {
                name: "auth server peak RSS",
                measured: rss,
                limit: 30.0,
                at_most: true,
                unit: "MiB",
            });
        }
    }
    if let Some(run) = run_at(64) {
        targets.push(Target {
            name: "RS256 tokens/s at 64 connections",
            measured: run.load.per_second,
            limit: 7000.0,
            at_most: false,
            unit: "/s",
        });
        targets.push(Target {
            name: "RS256 p99 at 64 connections",
            measured: run.load.p99_ms,
            limit: 12.0,
            at_most: true,
            unit: "ms",
        });
    }
    if let Some(run) = run_at(16) {
        targets.push(Target {
            name: "RS256 p99 at 16 connections",
            measured: run.load.p99_ms,
            limit: 4.0,
            at_most: true,
            unit: "ms",
        });
    }
    if let Some(cpu) = es256.runs.first().and_then(LoadFigures::cpu_per_request_us) {
        targets.push(Target {
            name: "ES256 server CPU per token",
            measured: cpu,
            limit: 60.0,
            at_most: true,
            unit: "µs",
        });
    }
    targets.push(Target {
        name: "validator ÷ raw verify",
        measured: validation.ratio,
        limit: 0.8,
        at_most: false,
        unit: "×",
    });
    targets.push(Target {
        name: "cached token()",
        measured: sdk.cached_ns,
        limit: 200.0,
        at_most: true,
        unit: "ns",
    });
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    targets.push(Target {
        name: "requests from 10,000 cold callers",
        measured: sdk.cold_requests as f64,
        limit: 1.0,
        at_most: true,
        unit: "",
    });
    targets.push(Target {
        name: "embedded start() → first token",
        measured: startup.embedded_to_first_token_ms,
        limit: 10.0,
        at_most: true,
        unit: "ms",
    });
    targets.push(Target {
        name: "process start → ready",
        measured: startup.process_to_listening_ms,
        limit: 50.0,
        at_most: true,
        unit: "ms",
    });

    say("\ntargets (docs/performance.md)");
    for target in &targets {
        say(&format!(
            "  {} {:<48} {:>10.2} {:<3} (target {} {})",
            if target.met() { "✓" } else { "✗" },
            target.name,
            target.measured,
            target.unit,
            if target.at_most { "≤" } else { "≥" },
            target.limit
        ));
    }
    let _ = std::fs::remove_dir_all(&logs);
    Ok(json!({
        "kind": "ccflow",
        "quick": options.quick,
        "cores": cores,
        "load_threads": options.load_threads,
        "seconds_per_run": options.seconds,
        "warmup_seconds": options.warmup,
        "token_endpoint": {
            "rs256": rs256.to_json(),
            "es256": es256.to_json(),
        },
        "validator": {
            "validations_per_second_one_thread": validation.validator,
            "raw_verify_per_second_one_thread": validation.raw_verify,
            "ratio": validation.ratio,
            "ratio_method": "median of per-round ratios, validator and raw verify rounds interleaved",
            "whoami": whoami.to_json(),
        },
        "sdk": {
            "cached_token_ns": sdk.cached_ns,
            "cold_callers": sdk.cold_callers,
            "cold_requests": sdk.cold_requests,
        },
        "startup_ms": {
            "process_to_listening": startup.process_to_listening_ms,
            "process_to_first_token": startup.process_to_first_token_ms,
            "embedded_start_to_first_token": startup.embedded_to_first_token_ms,
            "samples": startup.samples,
        },
        "targets": targets.iter().map(|target| json!({
            "name": target.name,
            "measured": target.measured,
            "target": target.limit,
            "at_most": target.at_most,
            "unit": target.unit,
            "met": target.met(),
        })).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
