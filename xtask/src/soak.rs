//! `cargo xtask soak --seconds N`: the release auth server and resource API under sustained,
//! mixed load (good and bad requests, through the bench's load generator) while the admin API
//! rotates keys and toggles faults. It fails on any status outside each stream's expected set,
//! any panic in either server's log, a server that died, memory that grew, or a journal that
//! outgrew its bound.

use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::bench::{self, LoadReport, LoadSpec};
use crate::e2e::process::Server;

/// Memory may wobble (allocator, connection buffers) but not grow: end ≤ start × 1.25 + 4 MiB.
const RSS_GROWTH_FACTOR: f64 = 1.25;
const RSS_GROWTH_SLACK_MIB: f64 = 4.0;
/// The auth server's default journal bound.
const JOURNAL_BOUND: usize = ccflow_auth_server::JOURNAL_CAPACITY;

/// The release auth server and resource API under sustained mixed load
///
/// Release build. Good and bad requests in ten streams, while the admin API rotates the signing
/// key and toggles a fault scenario every second; fails on any unexpected status, a panic in
/// either server's log, a dead server, RSS growth (beyond ×1.25 + 4 MiB) or a journal over its
/// bound (docs/security.md).
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// How long the load runs, in seconds
    #[arg(long, value_name = "N", default_value_t = 60.0, value_parser = positive_seconds, allow_negative_numbers = true)]
    seconds: f64,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    text.parse()
        .ok()
        .filter(|seconds: &f64| *seconds > 0.0)
        .ok_or_else(|| format!("not a positive number: {text}"))
}

/// One stream of requests and the statuses it may get.
struct Stream {
    name: &'static str,
    spec: LoadSpec,
}

#[allow(clippy::print_stdout, reason = "xtask is a command-line tool")]
fn say(line: &str) {
    println!("{line}");
}

pub(crate) fn run(root: &Path, options: &Options, args: &[OsString]) -> Result<()> {
    if cfg!(debug_assertions) {
        return bench::rerun_in_release(root, "soak", args);
    }
    let release = bench::target_dir(root).join("release");
    let logs = std::env::temp_dir().join(format!("ccflow-soak-{}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    let mut auth = Server::start_logging(
        &release.join("ccflow-auth-server"),
        &[
            "--config".to_owned(),
            root.join("fixtures/bench/soak.toml").display().to_string(),
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
        ],
        logs.join("auth-server.log"),
        Duration::from_secs(30),
        "warn",
    )?;
    // Unknown kids are refetched at once, so a rotation is visible to the API immediately.
    let api_config = logs.join("resource-api.toml");
    std::fs::write(&api_config, "[jwks]\nrefresh_cooldown_secs = 0\n")?;
    let mut api = Server::start_sample_api(
        &release.join("ccflow-resource-api"),
        &auth.uri(),
        Some(&api_config),
        logs.join("resource-api.log"),
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let token_url = format!(
        "{}{}",
        auth.uri(),
        ccflow_protocol::Profile::Rfc.spec().routes.token[0]
    );
    let token = runtime.block_on(fresh_token(&http, &token_url))?;
    // Every third token request of `soak-faulty` fails with 503 (toggled by the churn).
    runtime.block_on(add_fault(&http, &auth.uri()))?;

    let duration = Duration::from_secs_f64(options.seconds);
    let streams = streams(&token_url, &api.uri(), &token, duration)?;
    say(&format!(
        "soak: {} s, {} streams, {} connections; keys rotated and faults toggled every second",
        options.seconds,
        streams.len(),
        streams
            .iter()
            .map(|stream| stream.spec.connections)
            .sum::<usize>()
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let memory = Arc::new(Mutex::new(Vec::<(f64, f64)>::new()));
    let churn = {
        let stop = Arc::clone(&stop);
        let memory = Arc::clone(&memory);
        let urls = (auth.uri(), api.uri(), token_url);
        let pids = (auth.pid(), api.pid());
        std::thread::spawn(move || churn(&stop, &memory, pids, &urls))
    };
    let started = Instant::now();
    let results: Vec<(&'static str, Result<LoadReport>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = streams
            .iter()
            .map(|stream| {
                (
                    stream.name,
                    scope.spawn(|| bench::load(&stream.spec, &mut ())),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, handle)| {
                (
                    name,
                    handle
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("the load thread panicked"))),
                )
            })
            .collect()
    });
    stop.store(true, Ordering::SeqCst);
    let churn = churn
        .join()
        .map_err(|_| anyhow::anyhow!("the churn thread panicked"))?;
    let elapsed = started.elapsed();

    let mut failures = Vec::new();
    say(
        "  stream                      conns    answers  statuses                          unexpected",
    );
    for (name, result) in &results {
        match result {
            Ok(report) => {
                let statuses = report
                    .statuses
                    .iter()
                    .map(|(status, count)| format!("{status}×{count}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let total: u64 = report.statuses.values().sum();
                say(&format!(
                    "  {name:<27} {:>5} {total:>10}  {statuses:<33} {:>10}",
                    report.connections, report.errors
                ));
                if report.errors > 0 {
                    failures.push(format!(
                        "{name}: {} unexpected answers, e.g. {:?}",
                        report.errors, report.error_samples
                    ));
                }
                if total == 0 {
                    failures.push(format!("{name}: no request completed"));
                }
            }
            Err(error) => failures.push(format!("{name}: {error:#}")),
        }
    }
    match &churn {
        Ok(churn) => say(&format!(
            "  admin churn: {} key rotations, {} fault toggles, {} tokens of a just-rotated key accepted by the API",
            churn.rotations, churn.toggles, churn.fresh_tokens
        )),
        Err(error) => failures.push(format!("admin churn: {error:#}")),
    }
    // A new connection: the pooled one may have idled past the server's keep-alive.
    let fresh = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()?;
    let journal = runtime.block_on(journal_len(&fresh, &auth.uri()))?;
    say(&format!(
        "  journal: {journal} entries (bound {JOURNAL_BOUND})"
    ));
    if journal > JOURNAL_BOUND {
        failures.push(format!(
            "the journal holds {journal} entries, over its bound {JOURNAL_BOUND}"
        ));
    }
    let memory = memory
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    // The first seconds fill the journal to its bound and warm the allocator; flatness is
    // judged from the fifth second on (or the first sample of a shorter run).
    let settled = memory.get(4).or(memory.first());
    if let (Some(first), Some(last)) = (settled, memory.last()) {
        say(&format!(
            "  RSS from the 5th second to the end: auth server {:.1} → {:.1} MiB, resource API {:.1} → {:.1} MiB ({} samples over {:.0} s)",
            first.0,
            last.0,
            first.1,
            last.1,
            memory.len(),
            elapsed.as_secs_f64()
        ));
        for (what, start, end) in [
            ("auth server", first.0, last.0),
            ("resource API", first.1, last.1),
        ] {
            if end > start * RSS_GROWTH_FACTOR + RSS_GROWTH_SLACK_MIB {
                failures.push(format!("{what} RSS grew from {start:.1} to {end:.1} MiB"));
            }
        }
    } else {
        failures.push("no memory samples were taken (run longer than 2 s)".to_owned());
    }
    for (what, server) in [("auth server", &mut auth), ("resource API", &mut api)] {
        if !server.alive() {
            failures.push(format!("the {what} died; see {}", server.log.display()));
        }
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        if log.contains("panicked") {
            failures.push(format!("the {what} panicked; see {}", server.log.display()));
        }
    }
    drop(api);
    drop(auth);
    if failures.is_empty() {
        say("soak: ✓ zero unexpected statuses, zero panics, memory flat, journal bounded");
        let _ = std::fs::remove_dir_all(&logs);
        Ok(())
    } else {
        bail!(
            "soak failed (logs in {}):\n  {}",
            logs.display(),
            failures.join("\n  ")
        )
    }
}

fn form_headers(id: &str, secret: &str) -> Result<Vec<(HeaderName, HeaderValue)>> {
    Ok(vec![
        bench::basic_header(id, secret)?,
        (
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ),
    ])
}

/// A stream's definition: target, request, expected statuses, connections.
struct Definition {
    name: &'static str,
    url: url::Url,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: &'static str,
    expect: Vec<StatusCode>,
    connections: usize,
}

fn streams(token_url: &str, api: &str, token: &str, duration: Duration) -> Result<Vec<Stream>> {
    let token_url = url::Url::parse(token_url)?;
    let whoami = url::Url::parse(&format!("{api}/v1/whoami"))?;
    let grant = "grant_type=client_credentials";
    let bearer = |value: &str| -> Result<Vec<(HeaderName, HeaderValue)>> {
        Ok(vec![(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_str(value)?,
        )])
    };
    let definitions = [
        Definition {
            name: "token: good",
            url: token_url.clone(),
            method: Method::POST,
            headers: form_headers("bench", "bench-secret")?,
            body: grant,
            expect: vec![StatusCode::OK],
            connections: 8,
        },
        Definition {
            // A scripted temporarily_unavailable (RFC 6749 §5.2) on every third request.
            name: "token: faulted client",
            url: token_url.clone(),
            method: Method::POST,
            headers: form_headers("soak-faulty", "faulty-secret")?,
            body: grant,
            expect: vec![StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE],
            connections: 2,
        },
        Definition {
            // §5.2 invalid_client after Basic authentication: 401.
            name: "token: wrong secret",
            url: token_url.clone(),
            method: Method::POST,
            headers: form_headers("bench", "not-the-secret")?,
            body: grant,
            expect: vec![StatusCode::UNAUTHORIZED],
            connections: 2,
        },
        Definition {
            name: "token: unknown client",
            url: token_url.clone(),
            method: Method::POST,
            headers: form_headers("nobody", "nothing")?,
            body: grant,
            expect: vec![StatusCode::UNAUTHORIZED],
            connections: 1,
        },
        Definition {
            // §5.2 unsupported_grant_type: 400.
            name: "token: wrong grant",
            url: token_url.clone(),
            method: Method::POST,
            headers: form_headers("bench", "bench-secret")?,
            body: "grant_type=password",
            expect: vec![StatusCode::BAD_REQUEST],
            connections: 1,
        },
        Definition {
            // §3.1: a parameter sent twice is invalid_request.
            name: "token: repeated parameter",
            url: token_url.clone(),
            method: Method::POST,
            headers: form_headers("bench", "bench-secret")?,
            body: "grant_type=client_credentials&grant_type=client_credentials",
            expect: vec![StatusCode::BAD_REQUEST],
            connections: 1,
        },
        Definition {
            name: "token: GET",
            url: token_url,
            method: Method::GET,
            headers: Vec::new(),
            body: "",
            expect: vec![StatusCode::METHOD_NOT_ALLOWED],
            connections: 1,
        },
        Definition {
            name: "whoami: valid token",
            url: whoami.clone(),
            method: Method::GET,
            headers: bearer(&format!("Bearer {token}"))?,
            body: "",
            expect: vec![StatusCode::OK],
            connections: 6,
        },
        Definition {
            // RFC 6750 §3.1 invalid_token: 401.
            name: "whoami: forged token",
            url: whoami.clone(),
            method: Method::GET,
            headers: bearer("Bearer eyJhbGciOiJSUzI1NiJ9.e30.AAAA")?,
            body: "",
            expect: vec![StatusCode::UNAUTHORIZED],
            connections: 2,
        },
        Definition {
            name: "whoami: no token",
            url: whoami,
            method: Method::GET,
            headers: Vec::new(),
            body: "",
            expect: vec![StatusCode::UNAUTHORIZED],
            connections: 1,
        },
    ];
    Ok(definitions
        .into_iter()
        .map(|definition| Stream {
            name: definition.name,
            spec: LoadSpec {
                url: definition.url,
                method: definition.method,
                headers: definition.headers,
                body: Bytes::from_static(definition.body.as_bytes()),
                expect: definition.expect,
                connections: definition.connections,
                threads: 1,
                warmup: Duration::ZERO,
                duration,
            },
        })
        .collect())
}

async fn fresh_token(http: &reqwest::Client, token_url: &str) -> Result<String> {
    let response = http
        .post(token_url)
        .basic_auth("bench", Some("bench-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    ensure!(response.status() == 200, "token: {}", response.status());
    let body: Value = response.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token")
}

async fn add_fault(http: &reqwest::Client, auth: &str) -> Result<()> {
    let response = http
        .post(format!("{auth}/_ccflow/scenarios"))
        .json(&json!({
            "client_id": "soak-faulty",
            "when": {"every": 3},
            "fault": {"kind": "oauth_error", "error": "temporarily_unavailable", "status": 503},
        }))
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "POST /_ccflow/scenarios: {}",
        response.status()
    );
    Ok(())
}

async fn journal_len(http: &reqwest::Client, auth: &str) -> Result<usize> {
    let body: Value = http
        .get(format!("{auth}/_ccflow/requests"))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["requests"].as_array().map_or(0, Vec::len))
}

struct Churn {
    rotations: u64,
    toggles: u64,
    fresh_tokens: u64,
}

/// Once a second: sample both servers' RSS, rotate the keys, check that a token signed by the
/// new key is accepted by the API at once, and toggle the fault scenario off and on.
fn churn(
    stop: &AtomicBool,
    memory: &Mutex<Vec<(f64, f64)>>,
    pids: (u32, u32),
    (auth, api, token_url): &(String, String, String),
) -> Result<Churn> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut churn = Churn {
        rotations: 0,
        toggles: 0,
        fresh_tokens: 0,
    };
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_secs(1));
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let sample = (bench::memory_mib(pids.0)?.0, bench::memory_mib(pids.1)?.0);
        memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
        runtime.block_on(async {
            let status = http
                .post(format!("{auth}/_ccflow/keys/rotate"))
                .send()
                .await?
                .status();
            ensure!(status == 200, "POST /_ccflow/keys/rotate: {status}");
            churn.rotations += 1;
            let token = fresh_token(&http, token_url).await?;
            let status = http
                .get(format!("{api}/v1/whoami"))
                .bearer_auth(&token)
                .send()
                .await?
                .status();
            ensure!(
                status == 200,
                "the API refused a token of the new key: {status}"
            );
            churn.fresh_tokens += 1;
            let status = http
                .delete(format!("{auth}/_ccflow/scenarios"))
                .send()
                .await?
                .status();
            ensure!(status.is_success(), "DELETE /_ccflow/scenarios: {status}");
            add_fault(&http, auth).await?;
            churn.toggles += 1;
            Ok(())
        })?;
    }
    Ok(churn)
}
