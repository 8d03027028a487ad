//! `cargo xtask`: workspace automation. Orchestration only, never product logic.

use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result, bail};

const HELP: &str = "\
cargo xtask <command>

commands:
  ci      what CI runs (.ci/run): cargo fmt --check, clippy -D warnings, cargo test --workspace

Not yet here: `e2e` (end-to-end run of the real binaries with snapshots) and `bench`
(throughput against the raw signing baseline) arrive with their issues.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            print_help();
            Ok(())
        }
        Some("ci") => ci(),
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
    cargo(&["test", "--workspace"])
}

/// Runs cargo (the one that runs us, via `$CARGO`) from the workspace root.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives inside the workspace")?;
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .env("INSTA_UPDATE", "no")
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
