//! `cargo xtask embed-build`: what embedding `MockAuthServer` in a test costs at build time,
//! against wiremock's `MockServer` in the same test. Two minimal crates are generated in a
//! temporary directory, each cold-built (`cargo test --no-run`, fresh target directory) and run
//! once; the table gives both times (wall-clock and CPU), their ratios, the heaviest crates of
//! the ccflow build and the binary-only crates an embedder compiles. docs/performance.md,
//! "Embedder build time".
//!
//! `crates` writes the two test crates, `graph` reads their dependency graphs (cargo metadata),
//! `report` turns the figures into the table and the JSON.

mod crates;
mod graph;
mod process;
mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail, ensure};

use crates::{Embedder, Versions, generate};
use graph::Graph;
use process::{cargo, checked};
use report::{BINARY_ONLY, Measured, Report, crates_by_build_time, table, to_json};

/// Cold-builds a minimal crate embedding MockAuthServer, and the same with wiremock's MockServer
///
/// Generates, in a temporary directory, two crates whose only integration test starts a mock
/// authorization server and fetches a token with reqwest (TLS off, identical in both): one with
/// ccflow_auth_server::MockAuthServer (by path, from this workspace), one with wiremock's
/// MockServer answering a mocked token endpoint. Each gets this workspace's Cargo.lock (so the
/// same versions build, offline) and is cold-built with `cargo test --no-run` in a fresh target
/// directory (dev profile, -j the number of CPUs), timed in wall-clock and in CPU seconds (the
/// steadier figure on a shared machine), then its test runs once: a crate that does not build or
/// whose test fails is an error, not a number. Prints both times, the ratios, the heaviest
/// crates of the ccflow build (cargo --timings) and which binary-only crates (clap, anyhow,
/// tracing-subscriber and what only they pull in) the embedder compiles. Takes minutes and
/// several GB of disk, removed at the end. docs/performance.md, "Embedder build time".
///
/// A sibling of `cargo xtask bench`, not part of it: two cold builds take minutes.
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// Also write every figure to FILE as JSON
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Parallel jobs of both builds [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// How many of the heaviest crates to list
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Keep the temporary crates and their target directories (several GB) and print where
    #[arg(long)]
    keep: bool,
    /// The auth server's features in the ccflow crate, after `default-features = false`: its
    /// crypto backend, `aws-lc-rs` or `rust-crypto` (docs/embedding.md)
    #[arg(
        long,
        value_name = "LIST",
        default_value = "aws-lc-rs",
        value_delimiter = ',',
        value_parser = feature_name
    )]
    features: Vec<String>,
}

/// A cargo feature name (letters, digits, `-`, `_`), so it can go into a TOML array as is.
fn feature_name(text: &str) -> Result<String, String> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(text.to_owned())
    } else {
        Err(format!("not a feature name: {text:?}"))
    }
}

/// Crates worth naming in the report: the binary-only ones, the configuration file's parser and
/// the crypto backends (aws-lc-sys is the heaviest single build of the tree; p256 stands for the
/// RustCrypto stack of `--features rust-crypto`).
const NOTABLE: [&str; 7] = [
    "clap",
    "anyhow",
    "tracing-subscriber",
    "toml",
    "aws-lc-sys",
    "rsa",
    "p256",
];

#[allow(clippy::print_stdout, reason = "xtask is a command-line tool")]
fn say(line: &str) {
    println!("{line}");
}

pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    let jobs = match options.jobs {
        Some(jobs) => jobs,
        None => std::thread::available_parallelism()
            .map_or(1, |cpus| u32::try_from(cpus.get()).unwrap_or(u32::MAX)),
    };
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .context("cannot read the workspace's Cargo.lock")?;
    let versions = Versions::from_lock(&lock)?;
    let scratch = std::env::temp_dir().join(format!("ccflow-embed-build-{}", std::process::id()));
    let _cleanup = Cleanup {
        path: scratch.clone(),
        keep: options.keep,
    };
    let mut measured = Vec::new();
    let mut trees = Vec::new();
    for embedder in Embedder::BOTH {
        let dir = scratch.join(embedder.package());
        generate(&dir, root, embedder, &versions, &options.features, &lock)?;
        let graph = Graph::load(&dir)?;
        say(&format!(
            "embed-build: {}{}: cold `cargo test --no-run -j {jobs}` of {} packages…",
            embedder.name(),
            if embedder == Embedder::Ccflow {
                format!(" (features {})", options.features.join(","))
            } else {
                String::new()
            },
            graph.compiled().len()
        ));
        measured.push(measure(&dir, embedder, jobs, graph.compiled().len())?);
        trees.push(graph);
    }
    let (Some(wiremock), Some(ccflow)) = (measured.pop(), measured.pop()) else {
        bail!("two measurements expected");
    };
    let [ccflow_tree, wiremock_tree] = &trees[..] else {
        bail!("two dependency trees expected");
    };
    let ccflow_names = ccflow_tree.compiled();
    let wiremock_names = wiremock_tree.compiled();
    let report = Report {
        jobs,
        features: options.features.clone(),
        top: options.top,
        notable: NOTABLE
            .iter()
            .map(|name| {
                (
                    *name,
                    ccflow_names.contains(*name),
                    wiremock_names.contains(*name),
                )
            })
            .collect(),
        binary_only: ccflow_tree
            .only_through("ccflow-auth-server", &BINARY_ONLY)
            .into_iter()
            .collect(),
        only_ccflow: ccflow_names.difference(&wiremock_names).count(),
        ccflow,
        wiremock,
    };
    say(&table(&report));
    if let Some(path) = &options.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&to_json(&report))? + "\n",
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        say(&format!("figures written to {}", path.display()));
    }
    if options.keep {
        say(&format!("kept {}", scratch.display()));
    }
    Ok(())
}

/// Removes the temporary directory (multi-GB target directories) however the run ends.
struct Cleanup {
    path: PathBuf,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.keep && self.path.exists() {
            // Best effort: nothing useful to do if the directory cannot be removed.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn measure(dir: &Path, embedder: Embedder, jobs: u32, packages: usize) -> Result<Measured> {
    let jobs_text = jobs.to_string();
    let load_before = load_average()?;
    let mut build = cargo(dir);
    build.args([
        "test",
        "--offline",
        "--no-run",
        "--timings",
        "-j",
        &jobs_text,
    ]);
    let cpu_before = children_cpu_seconds()?;
    let started = Instant::now();
    checked(build, &format!("{}: cargo test --no-run", embedder.name()))?;
    let build_seconds = started.elapsed().as_secs_f64();
    let build_cpu_seconds = children_cpu_seconds()? - cpu_before;
    let load_after = load_average()?;
    let mut test = cargo(dir);
    test.args(["test", "--offline", "-j", &jobs_text]);
    let started = Instant::now();
    let output = checked(test, &format!("{}: cargo test", embedder.name()))?;
    let test_seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        stdout.contains("test fetches_a_token_from_the_mock ... ok"),
        "{}: the test did not run:\n{stdout}",
        embedder.name()
    );
    let timings = dir.join("target/cargo-timings/cargo-timing.html");
    let html = std::fs::read_to_string(&timings)
        .with_context(|| format!("cannot read {}", timings.display()))?;
    let crates = crates_by_build_time(&html)?;
    say(&format!(
        "embed-build: {}: built in {build_seconds:.1} s ({build_cpu_seconds:.1} CPU s), \
         test passed in {test_seconds:.1} s",
        embedder.name()
    ));
    Ok(Measured {
        embedder: embedder.name(),
        build_seconds,
        build_cpu_seconds,
        test_seconds,
        packages,
        crates,
        load_before,
        load_after,
    })
}

/// CPU seconds (user + system) of this process's children that have been waited for, their
/// own waited-for children included: cargo's rustc and build-script processes count. Fields 16
/// and 17 of `/proc/self/stat`, in clock ticks (100 per second on Linux).
fn children_cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("cannot read /proc/self/stat")?;
    children_cpu_seconds_of(&stat).context("unexpected /proc/self/stat")
}

fn children_cpu_seconds_of(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
    Some((ticks(13)? + ticks(14)?) / 100.0)
}

/// The 1-minute load average (the machine is shared: a busy host stretches both builds).
fn load_average() -> Result<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").context("cannot read /proc/loadavg")?;
    text.split_whitespace()
        .next()
        .and_then(|first| first.parse().ok())
        .context("unexpected /proc/loadavg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_cpu_time_is_read_after_the_command_name() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 250 75 0 0";
        assert_eq!(children_cpu_seconds_of(stat), Some(3.25));
        assert_eq!(children_cpu_seconds_of("42 (x) S 1"), None);
        assert!(children_cpu_seconds().is_ok());
    }
}
