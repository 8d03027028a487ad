//! `cargo xtask fuzz`: builds the libFuzzer targets under `fuzz/` on the stable toolchain
//! (SanitizerCoverage through `-Cpasses=sancov-module`, no cargo-fuzz, no nightly), runs each
//! for a bounded time on a fresh copy of its seed corpus, and prints what every run did.
//!
//! Run outputs (grown corpora, crash artifacts, logs) go to `<target dir>/fuzz/runs/`, never
//! into the repository; a crash becomes a regression test by hand (docs/fuzzing.md).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

/// Every target in `fuzz/fuzz_targets/`, in the order they run.
pub(crate) const TARGETS: [&str; 6] = [
    "token_request",
    "basic",
    "www_authenticate",
    "bearer_header",
    "jwt_decode",
    "config",
];

/// The flags `cargo fuzz` would pass, minus the nightly-only sanitizer: coverage counters,
/// the PC table and comparison tracing for libFuzzer, with assertions and overflow checks.
const RUSTFLAGS: &[&str] = &[
    "--cfg",
    "fuzzing",
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

/// Builds the libFuzzer targets under fuzz/ (stable toolchain) and runs each for a while
///
/// Each target runs on a fresh copy of its seed corpus; run outputs go to <target dir>/fuzz/runs/,
/// never into the repository. Fails on any crash (docs/fuzzing.md).
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// Seconds per target
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = positive_seconds)]
    seconds: u64,
    /// Run only this target (repeatable) [default: all]
    #[arg(long = "target", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    targets: Vec<String>,
}

impl Options {
    /// The targets asked for, or every one.
    fn targets(&self) -> Vec<String> {
        if self.targets.is_empty() {
            TARGETS.iter().map(|&name| name.to_owned()).collect()
        } else {
            self.targets.clone()
        }
    }
}

fn positive_seconds(text: &str) -> Result<u64, String> {
    text.parse()
        .ok()
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| format!("not a positive number: {text}"))
}

/// One run's figures, read from libFuzzer's output.
#[derive(Debug, Default)]
struct Report {
    target: String,
    seconds: f64,
    execs: u64,
    execs_per_second: u64,
    coverage: u64,
    features: u64,
    corpus: u64,
    seeds: usize,
    artifacts: Vec<PathBuf>,
    log: PathBuf,
}

pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    let work = fuzz_target_dir(root);
    let host = host_triple()?;
    let started = Instant::now();
    let targets = options.targets();
    build(root, &work, &host, &targets)?;
    say(&format!(
        "fuzz: built {} target(s) in {:.0} s",
        targets.len(),
        started.elapsed().as_secs_f64()
    ));
    let binaries = work.join(&host).join("release");
    let mut reports = Vec::new();
    for target in &targets {
        say(&format!("fuzz: running {target} for {} s", options.seconds));
        reports.push(run_target(
            root,
            &binaries.join(target),
            &work.join("runs").join(target),
            target,
            options.seconds,
        )?);
    }
    say(&table(&reports));
    let crashed: Vec<&Report> = reports.iter().filter(|r| !r.artifacts.is_empty()).collect();
    if crashed.is_empty() {
        return Ok(());
    }
    let mut message = String::from(
        "fuzzing found crashes (reproduce: the binary with the artifact as its argument):",
    );
    for report in crashed {
        for artifact in &report.artifacts {
            let _ = write!(message, "\n  {}: {}", report.target, artifact.display());
        }
        let _ = write!(
            message,
            "\n  {} log: {}",
            report.target,
            report.log.display()
        );
    }
    bail!(message)
}

/// `<target dir>/fuzz`: its own target dir, since the instrumented build shares nothing with
/// the normal one.
fn fuzz_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("fuzz")
}

/// The host triple. Building for an explicit `--target` keeps RUSTFLAGS away from build
/// scripts and proc macros, which must not be instrumented (they do not link libFuzzer).
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("cannot run {rustc} -vV"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host triple")
}

fn build(root: &Path, work: &Path, host: &str, targets: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(root.join("fuzz/Cargo.toml"))
        .args(["--target", host]);
    for target in targets {
        command.args(["--bin", target]);
    }
    let status = command
        .current_dir(root.join("fuzz"))
        .env("CARGO_TARGET_DIR", work)
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status})");
    }
    Ok(())
}

fn run_target(
    root: &Path,
    binary: &Path,
    dir: &Path,
    target: &str,
    seconds: u64,
) -> Result<Report> {
    // A fresh copy of the seeds each run: results do not depend on earlier runs, and the
    // committed corpus never grows by accident.
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let corpus = dir.join("corpus");
    let artifacts = dir.join("artifacts");
    fs::create_dir_all(&corpus)?;
    fs::create_dir_all(&artifacts)?;
    let seeds_dir = root.join("fuzz/corpus").join(target);
    let mut seeds = 0;
    if seeds_dir.is_dir() {
        for entry in fs::read_dir(&seeds_dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                fs::copy(entry.path(), corpus.join(entry.file_name()))?;
                seeds += 1;
            }
        }
    }
    let log = dir.join("fuzz.log");
    let log_file = fs::File::create(&log)?;
    let started = Instant::now();
    let status = Command::new(binary)
        .arg(&corpus)
        .arg(format!("-max_total_time={seconds}"))
        // A hang is a bug too: one input may take at most 10 s.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let output = fs::read_to_string(&log).unwrap_or_default();
    let mut report = parse_output(&output);
    report.target = target.to_owned();
    report.seconds = elapsed;
    report.seeds = seeds;
    report.log = log.clone();
    report.artifacts = fs::read_dir(&artifacts)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    report.artifacts.sort();
    if !status.success() && report.artifacts.is_empty() {
        bail!(
            "{target} failed ({status}) without an artifact; see {}",
            log.display()
        );
    }
    if report.execs == 0 && report.artifacts.is_empty() {
        bail!("{target} ran no input; see {}", log.display());
    }
    Ok(report)
}

/// Reads libFuzzer's final stats and its last status line (`#N ... cov: C ft: F corp: K/S`).
fn parse_output(output: &str) -> Report {
    let mut report = Report::default();
    let number = |text: &str| text.trim().parse::<u64>().unwrap_or(0);
    for line in output.lines() {
        if let Some(value) = line.strip_prefix("stat::number_of_executed_units:") {
            report.execs = number(value);
        } else if let Some(value) = line.strip_prefix("stat::average_exec_per_sec:") {
            report.execs_per_second = number(value);
        } else if line.starts_with('#') {
            let mut words = line.split_whitespace();
            while let Some(word) = words.next() {
                match word {
                    "cov:" => report.coverage = words.next().map_or(0, number),
                    "ft:" => report.features = words.next().map_or(0, number),
                    "corp:" => {
                        report.corpus = words
                            .next()
                            .and_then(|value| value.split('/').next())
                            .map_or(0, number);
                    }
                    _ => {}
                }
            }
        }
    }
    report
}

fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "target            seconds       execs   exec/s     cov      ft  corpus (seeds)  crashes\n",
    );
    for r in reports {
        let _ = writeln!(
            out,
            "{:<16} {:>8.0} {:>11} {:>8} {:>7} {:>7} {:>7} ({:>4})  {:>7}",
            r.target,
            r.seconds,
            r.execs,
            r.execs_per_second,
            r.coverage,
            r.features,
            r.corpus,
            r.seeds,
            r.artifacts.len()
        );
    }
    out
}

#[allow(clippy::print_stdout, reason = "xtask is a command-line tool")]
fn say(text: &str) {
    println!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_final_stats_and_last_status_line() {
        let output = "\
INFO: Seed: 1
#2\tINITED cov: 10 ft: 12 corp: 1/5b exec/s: 0 rss: 30Mb
#4096\tpulse  cov: 130 ft: 410 corp: 37/1024b lim: 43 exec/s: 2048 rss: 40Mb
#8000\tDONE   cov: 131 ft: 415 corp: 38/1100b lim: 43 exec/s: 4000 rss: 41Mb
Done 8000 runs in 2 second(s)
stat::number_of_executed_units: 8000
stat::average_exec_per_sec:     4000
stat::new_units_added:          37
";
        let report = parse_output(output);
        assert_eq!(report.execs, 8000);
        assert_eq!(report.execs_per_second, 4000);
        assert_eq!(
            (report.coverage, report.features, report.corpus),
            (131, 415, 38)
        );
    }

    #[test]
    fn parses_options() {
        use clap::Parser as _;
        let parse =
            |list: &[&str]| match crate::Cli::try_parse_from(["xtask", "fuzz"].iter().chain(list))?
                .command
            {
                Some(crate::Command::Fuzz(options)) => Ok(options),
                other => bail!("not a fuzz command: {other:?}"),
            };
        let options = parse(&["--seconds", "5", "--target", "basic"]).unwrap();
        assert_eq!(options.seconds, 5);
        assert_eq!(options.targets(), ["basic"]);
        assert_eq!(parse(&[]).unwrap().targets().len(), TARGETS.len());
        assert!(parse(&["--target", "nope"]).is_err());
        assert!(parse(&["--seconds", "0"]).is_err());
    }
}
