//! `cargo xtask bench`: ccflow's performance, measured against the physical limit in the same
//! run. Release build; the servers are the real binaries started as child processes, loaded by
//! a built-in generator; everything else is measured in-process. A table goes to stdout and
//! every figure to `target/ccflow-bench.json`. docs/performance.md explains each figure.

mod crypto;
mod load;
mod procfs;
mod sections;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) use load::{LoadReport, LoadSpec, run as load};
pub(crate) use procfs::memory_mib;

/// Set in the environment of the release re-run, so it does not re-run itself.
const RELEASE_MARKER: &str = "CCFLOW_BENCH_RELEASE";

#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    /// Measured seconds per load run.
    pub(crate) seconds: f64,
    pub(crate) warmup: f64,
    pub(crate) connections: Vec<usize>,
    pub(crate) load_threads: usize,
    /// Server worker threads (default: the machine's cores, as the binary does).
    pub(crate) workers: Option<usize>,
    /// Another token server (or any URL) to load instead of ccflow's own.
    pub(crate) target: Option<url::Url>,
    pub(crate) basic: Option<String>,
    pub(crate) body: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) method: Method,
    pub(crate) expect: u16,
    /// The target server's pid, for CPU and memory readings.
    pub(crate) pid: Option<u32>,
    pub(crate) json: Option<PathBuf>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut options = Options {
            quick: false,
            seconds: 10.0,
            warmup: 2.0,
            connections: vec![16, 64],
            load_threads: 2,
            workers: None,
            target: None,
            basic: None,
            body: None,
            headers: Vec::new(),
            method: Method::POST,
            expect: 200,
            pid: None,
            json: None,
        };
        let mut seconds = None;
        let mut warmup = None;
        let mut connections = None;
        let mut method = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--seconds" => seconds = Some(parse_number::<f64>("--seconds", &value(arg)?)?),
                "--warmup" => warmup = Some(parse_number::<f64>("--warmup", &value(arg)?)?),
                "--connections" => {
                    let list = value(arg)?;
                    connections = Some(
                        list.split(',')
                            .map(|one| parse_number::<usize>("--connections", one.trim()))
                            .collect::<Result<Vec<_>>>()?,
                    );
                }
                "--load-threads" => {
                    options.load_threads = parse_number("--load-threads", &value(arg)?)?;
                }
                "--workers" => options.workers = Some(parse_number("--workers", &value(arg)?)?),
                "--target" => {
                    let text = value(arg)?;
                    options.target = Some(
                        url::Url::parse(&text)
                            .with_context(|| format!("--target: not a URL: {text}"))?,
                    );
                }
                "--basic" => {
                    let pair = value(arg)?;
                    if !pair.contains(':') {
                        bail!("--basic takes ID:SECRET");
                    }
                    options.basic = Some(pair);
                }
                "--body" => options.body = Some(value(arg)?),
                "--header" => {
                    let header = value(arg)?;
                    let (name, content) = header
                        .split_once(':')
                        .context("--header takes 'Name: value'")?;
                    options
                        .headers
                        .push((name.trim().to_owned(), content.trim().to_owned()));
                }
                "--method" => method = Some(value(arg)?),
                "--expect" => options.expect = parse_number("--expect", &value(arg)?)?,
                "--pid" => options.pid = Some(parse_number("--pid", &value(arg)?)?),
                "--json" => options.json = Some(PathBuf::from(value(arg)?)),
                other => bail!("bench: unknown option `{other}` (see `cargo xtask help`)"),
            }
        }
        if options.quick {
            options.seconds = 1.0;
            options.warmup = 0.3;
            options.connections = vec![16];
        }
        options.seconds = seconds.unwrap_or(options.seconds);
        options.warmup = warmup.unwrap_or(options.warmup);
        options.connections = connections.unwrap_or(options.connections);
        if let Some(method) = method {
            options.method = Method::from_bytes(method.to_uppercase().as_bytes())
                .with_context(|| format!("--method: not a method: {method}"))?;
        } else if options.target.is_some() && options.body.is_none() && options.basic.is_none() {
            options.method = Method::GET;
        }
        if options.seconds <= 0.0 || options.warmup < 0.0 {
            bail!("--seconds must be positive and --warmup not negative");
        }
        if options.connections.is_empty() || options.connections.contains(&0) {
            bail!("--connections takes positive numbers, e.g. 16,64");
        }
        if options.target.is_none()
            && (options.basic.is_some() || options.body.is_some() || options.pid.is_some())
        {
            bail!("--basic, --body and --pid go with --target URL");
        }
        Ok(options)
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }

    /// How long each in-process micro-measurement runs.
    fn micro(&self) -> Duration {
        if self.quick {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        }
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("{name}: not a number: {text}"))
}

/// `cargo xtask bench`: from a debug xtask, builds everything in release and re-runs itself
/// from there (timings of a debug build would be meaningless); in release, measures.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
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
        Some(url) => external(url, &options)?,
        None => sections::everything(root, &target.join("release"), &options)?,
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
pub(crate) fn rerun_in_release(root: &Path, command: &str, args: &[String]) -> Result<()> {
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
    say(sections::LOAD_HEADER);
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
        let figures = sections::load_with_readings(&spec, options.pid)?;
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

    fn parse(args: &[&str]) -> Result<Options> {
        Options::parse(&args.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn options_default_to_the_issue_settings_and_quick_shortens_them() {
        let full = parse(&[]).unwrap();
        assert_eq!(
            (
                full.seconds,
                full.warmup,
                full.connections,
                full.load_threads
            ),
            (10.0, 2.0, vec![16, 64], 2)
        );
        assert_eq!((full.method.clone(), full.expect), (Method::POST, 200));
        let quick = parse(&["--quick"]).unwrap();
        assert_eq!((quick.seconds, quick.connections), (1.0, vec![16]));
        // An explicit value wins over --quick's, whatever the order.
        let both = parse(&["--seconds", "3", "--quick", "--connections", "8,32"]).unwrap();
        assert_eq!((both.seconds, both.connections), (3.0, vec![8, 32]));
    }

    #[test]
    fn a_target_takes_its_own_request() {
        let get = parse(&["--target", "http://127.0.0.1:9/healthz"]).unwrap();
        assert_eq!(get.method, Method::GET, "no body and no credentials: GET");
        let token = parse(&[
            "--target",
            "http://127.0.0.1:9/token",
            "--basic",
            "id:secret",
            "--body",
            "grant_type=client_credentials",
            "--header",
            "X-Trace: on",
            "--pid",
            "42",
        ])
        .unwrap();
        assert_eq!(token.method, Method::POST);
        assert_eq!(token.basic.as_deref(), Some("id:secret"));
        assert_eq!(token.headers, [("X-Trace".to_owned(), "on".to_owned())]);
        assert_eq!(token.pid, Some(42));
        let put = parse(&["--target", "http://127.0.0.1:9/x", "--method", "put"]).unwrap();
        assert_eq!(put.method, Method::PUT);
    }

    #[test]
    fn bad_options_are_refused_with_their_name() {
        for (args, says) in [
            (
                &["--basic", "id:secret"][..],
                "--basic, --body and --pid go with --target",
            ),
            (
                &["--target", "http://127.0.0.1:9/t", "--basic", "nocolon"],
                "ID:SECRET",
            ),
            (&["--target", "not a url"], "--target: not a URL"),
            (
                &["--connections", "16,0"],
                "--connections takes positive numbers",
            ),
            (&["--seconds", "0"], "--seconds must be positive"),
            (&["--seconds", "ten"], "--seconds: not a number"),
            (&["--header", "no colon"], "--header takes 'Name: value'"),
            (&["--seconds"], "--seconds needs a value"),
            (&["--fast"], "unknown option `--fast`"),
        ] {
            let error = parse(args).unwrap_err().to_string();
            assert!(error.contains(says), "{args:?}: {error}");
        }
    }

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
