//! `cargo xtask`: workspace automation. Orchestration only, never product logic.

mod bench;
mod e2e;
mod fuzz;
mod soak;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result, bail};

const HELP: &str = "\
cargo xtask <command>

commands:
  e2e [--profile NAME]... [--flow NAME]... [--accept] [--keep-logs DIR]
          start the real ccflow-auth-server and ccflow-resource-api per profile, run every
          flow through the SDK and raw HTTP, compare with the snapshots in xtask/snapshots/
          (--accept writes them instead; CI never does)
  bench [--quick] [--seconds N] [--warmup N] [--connections 16,64] [--load-threads N]
        [--workers N] [--json PATH]
          release build; raw RS256/ES256 sign and verify rates (the baseline), the token
          endpoint under load (tokens/s, p50/p90/p99/max, errors, server CPU per token, peak
          RSS, ratio to raw signing), the validator and GET /v1/whoami, the SDK's cached
          token() and cold-cache stampede, start-up times; a table, the targets of
          docs/performance.md, and JSON at target/ccflow-bench.json. --quick: a few seconds,
          for CI (it checks that everything runs and produces numbers)
  bench --target URL [--basic ID:SECRET] [--body FORM] [--header 'N: V']... [--method M]
        [--expect STATUS] [--pid PID] [--connections ...]
          the same load generator against any server (another mock, for comparison); --pid
          adds that server's CPU per request and peak RSS
  soak [--seconds N]
          release build; the auth server and resource API under sustained mixed load (good
          and bad requests) while keys rotate and faults toggle every second: fails on any
          unexpected status, a panic, a dead server, RSS growth or an unbounded journal
  fuzz [--seconds N] [--target NAME]...
          build the libFuzzer targets under fuzz/ (stable toolchain) and run each for N s
          (default 30) on a copy of its seed corpus; fails on any crash (docs/fuzzing.md)
  ci      what CI runs (.ci/run): fmt --check, clippy -D warnings, cargo test --workspace, e2e

profiles: rfc, slb, cloudentity, cyberark, userclouds (default: all)
flows: discovery, token, cached-reuse, resource-api, expiry, errors, revocation, retries,
       rotation, auth-server-down, and docs (every curl session of the README and guides)
       (default: all that apply)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            print_help();
            Ok(())
        }
        Some("ci") => ci(),
        Some("e2e") => {
            e2e::Options::parse(&args[1..]).and_then(|options| e2e::run(&root(), &options))
        }
        Some("bench") => bench::run(&root(), &args[1..]),
        Some("soak") => soak::run(&root(), &args[1..]),
        Some("fuzz") => fuzz::Options::parse(&args[1..]).and_then(|o| fuzz::run(&root(), &o)),
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout, reason = "xtask is a command-line tool")]
fn print_help() {
    print!("{HELP}");
}

#[allow(clippy::print_stderr, reason = "xtask is a command-line tool")]
fn report(error: &anyhow::Error) {
    eprintln!("error: {error:#}");
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace"])?;
    e2e::run(&root(), &e2e::Options::parse(&[])?)
}

/// Runs cargo (the one that runs us, via `$CARGO`) from the workspace root.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .env("INSTA_UPDATE", "no")
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
