//! `cargo xtask bench`: ccflow's performance, measured against the physical limit in the same
//! run. Release build; the servers are the real binaries started as child processes, loaded by
//! a built-in generator; everything else is measured in-process. A table goes to stdout and
//! every figure to `target/ccflow-bench.json`. docs/performance.md explains each figure.
//!
//! `options` reads the command line; `sections` runs the report as a table of sections, each
//! measured by its own module (`endpoint`, `validator`, `dpop`, `tls`, `sdk`, `startup`) over
//! `crypto` (the raw baselines), `load` (the generator) and `figures` (server readings around a
//! run); `targets` holds the limits of docs/performance.md, once.

mod crypto;
mod dpop;
mod endpoint;
mod figures;
mod load;
mod options;
mod procfs;
mod sdk;
mod sections;
mod startup;
mod targets;
mod tls;
mod validator;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) use load::{LoadReport, LoadSpec, run as load};
pub(crate) use options::{BenchArgs, Options};
pub(crate) use procfs::memory_mib;

/// Set in the environment of the release re-run, so it does not re-run itself.
const RELEASE_MARKER: &str = "CCFLOW_BENCH_RELEASE";

/// `cargo xtask bench`: from a debug xtask, builds everything in release and re-runs itself
/// from there (timings of a debug build would be meaningless); in release, measures.
pub(crate) fn run(root: &Path, options: &Options, args: &[OsString]) -> Result<()> {
    if cfg!(debug_assertions) && std::env::var_os(RELEASE_MARKER).is_none() {
        return rerun_in_release(root, "bench", args);
    }
    if cfg!(debug_assertions) {
        bail!("the benchmark must run from a release build");
    }
    let target = target_dir(root);
    let json_path = options
        .json
        .clone()
        .unwrap_or_else(|| target.join("ccflow-bench.json"));
    let report = match &options.target {
        Some(url) => external(url, options)?,
        None => sections::everything(root, &target.join("release"), options)?,
    };
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    say(&format!("\nfigures written to {}", json_path.display()));
    Ok(())
}

pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Builds the binaries and xtask in release, then runs `xtask <command> <args>` from there.
pub(crate) fn rerun_in_release(root: &Path, command: &str, args: &[OsString]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    say(&format!(
        "{command}: building ccflow-auth-server, ccflow-resource-api and xtask in release"
    ));
    let status = std::process::Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "ccflow-auth-server",
            "-p",
            "ccflow-resource-api",
            "-p",
            "xtask",
        ])
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("the release build failed");
    }
    let xtask = target_dir(root).join("release/xtask");
    let status = std::process::Command::new(&xtask)
        .arg(command)
        .args(args)
        .env(RELEASE_MARKER, "1")
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {}", xtask.display()))?;
    if !status.success() {
        bail!("`xtask {command}` failed ({status})");
    }
    Ok(())
}

/// An HTTP client for the few requests around the measurements (never through a proxy).
fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().build()?)
}

/// The runtime of the in-process measurements: two workers, like the machine's cores.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

#[allow(clippy::print_stdout, reason = "xtask is a command-line tool")]
fn say(line: &str) {
    println!("{line}");
}

/// A load spec against `url` with the given connection count.
fn spec(
    url: url::Url,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    expect: Vec<StatusCode>,
    connections: usize,
    options: &Options,
) -> LoadSpec {
    LoadSpec {
        url,
        method,
        headers,
        body,
        expect,
        connections,
        threads: options.load_threads,
        warmup: options.warmup(),
        duration: options.duration(),
    }
}

/// `Authorization: Basic` per RFC 6749 §2.3.1 (form-encode id and secret, then base64).
pub(crate) fn basic_header(id: &str, secret: &str) -> Result<(HeaderName, HeaderValue)> {
    use base64::Engine as _;
    let encode =
        |text: &str| -> String { url::form_urlencoded::byte_serialize(text.as_bytes()).collect() };
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(id),
        encode(secret)
    ));
    Ok((
        hyper::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {credentials}"))?,
    ))
}

/// `--target URL`: the same load generator against any server, e.g. another mock.
fn external(url: &url::Url, options: &Options) -> Result<Value> {
    let mut headers = Vec::new();
    if let Some(pair) = &options.basic {
        let (id, secret) = pair.split_once(':').context("--basic takes ID:SECRET")?;
        headers.push(basic_header(id, secret)?);
    }
    let body = options.body.clone().unwrap_or_default();
    if !body.is_empty() {
        headers.push((
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ));
    }
    for (name, value) in &options.headers {
        headers.push((
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        ));
    }
    let expect = StatusCode::from_u16(options.expect)?;
    let mut runs = Vec::new();
    say(&format!(
        "load against {url} ({} load threads)",
        options.load_threads
    ));
    say(figures::LOAD_HEADER);
    for &connections in &options.connections {
        let spec = spec(
            url.clone(),
            options.method.clone(),
            headers.clone(),
            Bytes::from(body.clone()),
            vec![expect],
            connections,
            options,
        );
        let figures = figures::load_with_readings(&spec, options.pid)?;
        say(&figures.row(url.as_str()));
        runs.push(figures.to_json());
    }
    Ok(json!({
        "kind": "external",
        "target": url.as_str(),
        "load_threads": options.load_threads,
        "runs": runs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        use base64::Engine as _;
        // RFC 6749 §2.3.1: "a b:c" and "p@ss" become "a+b%3Ac" and "p%40ss".
        let (name, value) = basic_header("a b:c", "p@ss").unwrap();
        assert_eq!(name, hyper::header::AUTHORIZATION);
        let expected = base64::engine::general_purpose::STANDARD.encode("a+b%3Ac:p%40ss");
        assert_eq!(value.to_str().unwrap(), format!("Basic {expected}"));
    }
}
