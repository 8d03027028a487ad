//! `cargo xtask bench`'s command line (clap), and the settings a run uses once `--quick` and
//! `--target` have filled in what was not given.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use hyper::Method;

/// Measures ccflow's hot paths against the physical limit, in the same run
///
/// Release build (a debug xtask builds everything in release and re-runs itself). Measures raw
/// RS256/ES256 sign and verify rates (the baseline), the token endpoint under load (tokens/s,
/// p50/p90/p99/max, errors, server CPU per token, peak RSS, ratio to raw signing), the
/// validator and GET /v1/whoami, the SDK's cached token() and cold-cache stampede, and start-up
/// times; prints a table and the targets of docs/performance.md, and writes every figure as
/// JSON to target/ccflow-bench.json.
///
/// With --target URL it runs the same load generator against any server instead (another mock,
/// for comparison); --pid adds that server's CPU per request and peak RSS.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// A few seconds per section, for CI (it checks that everything runs and produces numbers):
    /// 1 s load runs after 0.3 s of warm-up, 16 connections; --seconds, --warmup and
    /// --connections, when given, win
    #[arg(long)]
    quick: bool,
    /// Measured seconds per load run [default: 10]
    #[arg(long, value_name = "N", value_parser = number::<f64>, allow_negative_numbers = true)]
    seconds: Option<f64>,
    /// Warm-up seconds before each load run's measured window [default: 2]
    #[arg(long, value_name = "N", value_parser = number::<f64>, allow_negative_numbers = true)]
    warmup: Option<f64>,
    /// Connection counts, one load run each, comma-separated [default: 16,64]
    #[arg(long, value_name = "N,N", value_parser = connection_counts)]
    connections: Option<Connections>,
    /// Threads of the load generator
    #[arg(long, value_name = "N", value_parser = number::<usize>, default_value_t = 2)]
    load_threads: usize,
    /// Worker threads of the auth server [default: one per core, as the binary does]
    #[arg(long, value_name = "N", value_parser = number::<usize>)]
    workers: Option<usize>,
    /// Where to write the figures [default: target/ccflow-bench.json]
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Load this URL instead of ccflow's own servers
    #[arg(long, value_name = "URL", value_parser = url_value, help_heading = "Another server")]
    target: Option<url::Url>,
    /// HTTP Basic credentials for --target (form-encoded, then base64, per RFC 6749 §2.3.1)
    #[arg(long, value_name = "ID:SECRET", value_parser = basic_pair, help_heading = "Another server")]
    basic: Option<String>,
    /// A form body for --target (sent as application/x-www-form-urlencoded)
    #[arg(long, value_name = "FORM", help_heading = "Another server")]
    body: Option<String>,
    /// An extra request header for --target, 'Name: value' (repeatable)
    #[arg(long = "header", value_name = "'N: V'", value_parser = header_pair, help_heading = "Another server")]
    headers: Vec<(String, String)>,
    /// The request method for --target [default: POST with --body or --basic, else GET]
    #[arg(long, value_name = "M", value_parser = method_value, help_heading = "Another server")]
    method: Option<Method>,
    /// The status every --target request must answer
    #[arg(long, value_name = "STATUS", value_parser = number::<u16>, default_value_t = 200, help_heading = "Another server")]
    expect: u16,
    /// The --target server's process id, for its CPU per request and peak RSS
    #[arg(long, value_name = "PID", value_parser = number::<u32>, help_heading = "Another server")]
    pid: Option<u32>,
}

/// `--connections 16,64`, kept whole so that a second `--connections` replaces the first.
#[derive(Clone, Debug)]
struct Connections(Vec<usize>);

/// The settings of one run.
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

impl BenchArgs {
    /// Fills in the defaults (`--quick`'s shorter ones unless a value was given) and checks
    /// what only makes sense together.
    pub(crate) fn resolve(self) -> Result<Options> {
        let (seconds, warmup, connections) = if self.quick {
            (1.0, 0.3, vec![16])
        } else {
            (10.0, 2.0, vec![16, 64])
        };
        let method = match self.method {
            Some(method) => method,
            None if self.target.is_some() && self.body.is_none() && self.basic.is_none() => {
                Method::GET
            }
            None => Method::POST,
        };
        let options = Options {
            quick: self.quick,
            seconds: self.seconds.unwrap_or(seconds),
            warmup: self.warmup.unwrap_or(warmup),
            connections: self.connections.map_or(connections, |given| given.0),
            load_threads: self.load_threads,
            workers: self.workers,
            target: self.target,
            basic: self.basic,
            body: self.body,
            headers: self.headers,
            method,
            expect: self.expect,
            pid: self.pid,
            json: self.json,
        };
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
}

impl Options {
    pub(crate) fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }

    pub(crate) fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }

    /// How long each in-process micro-measurement runs.
    pub(crate) fn micro(&self) -> Duration {
        if self.quick {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        }
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

fn connection_counts(list: &str) -> Result<Connections, String> {
    list.split(',')
        .map(|one| number(one.trim()))
        .collect::<Result<_, _>>()
        .map(Connections)
}

fn url_value(text: &str) -> Result<url::Url, String> {
    url::Url::parse(text).map_err(|error| format!("not a URL: {text}: {error}"))
}

fn basic_pair(pair: &str) -> Result<String, String> {
    if pair.contains(':') {
        Ok(pair.to_owned())
    } else {
        Err("takes ID:SECRET".to_owned())
    }
}

fn header_pair(header: &str) -> Result<(String, String), String> {
    header
        .split_once(':')
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .ok_or_else(|| "takes 'Name: value'".to_owned())
}

fn method_value(method: &str) -> Result<Method, String> {
    Method::from_bytes(method.to_uppercase().as_bytes())
        .map_err(|_| format!("not a method: {method}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// `cargo xtask bench ARGS`, through the real command line.
    fn parse(args: &[&str]) -> Result<Options> {
        let cli = crate::Cli::try_parse_from(["xtask", "bench"].iter().chain(args))?;
        match cli.command {
            Some(crate::Command::Bench(bench)) => bench.resolve(),
            other => bail!("not a bench command: {other:?}"),
        }
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
        // Each refusal names the option and says what is wrong with it (clap words the last
        // three: a missing value and an unknown option).
        for (args, option, says) in [
            (
                &["--basic", "id:secret"][..],
                "--basic",
                "--basic, --body and --pid go with --target",
            ),
            (
                &["--target", "http://127.0.0.1:9/t", "--basic", "nocolon"],
                "--basic",
                "ID:SECRET",
            ),
            (&["--target", "not a url"], "--target", "not a URL"),
            (
                &["--connections", "16,0"],
                "--connections",
                "--connections takes positive numbers",
            ),
            (
                &["--seconds", "0"],
                "--seconds",
                "--seconds must be positive",
            ),
            (&["--seconds", "ten"], "--seconds", "not a number: ten"),
            (&["--header", "no colon"], "--header", "takes 'Name: value'"),
            (&["--seconds"], "--seconds", "a value is required"),
            (&["--fast"], "--fast", "unexpected argument"),
        ] {
            let error = parse(args).unwrap_err().to_string();
            assert!(
                error.contains(option) && error.contains(says),
                "{args:?}: {error}"
            );
        }
    }

    #[test]
    fn a_repeated_option_keeps_its_last_value_as_before() {
        let twice = parse(&[
            "--seconds",
            "3",
            "--seconds",
            "4",
            "--connections",
            "8",
            "--connections",
            "32",
        ])
        .unwrap();
        assert_eq!((twice.seconds, twice.connections), (4.0, vec![32]));
    }
}
