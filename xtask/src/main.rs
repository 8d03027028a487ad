//! `cargo xtask`: workspace automation. Orchestration only, never product logic.

mod bench;
mod console;
mod containers;
mod e2e;
mod embed_build;
mod fuzz;
mod image;
mod python;
mod soak;
mod tidy;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode};

use anyhow::{Context as _, Result, bail};
use clap::{CommandFactory as _, Parser, Subcommand};

/// Workspace automation for ccflow: the end-to-end run, benchmarks, soak, fuzzing and CI
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    after_help = "Run `cargo xtask <COMMAND> --help` for a command's options.",
    // As the hand-written parser did: a repeated option keeps its last value.
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    E2e(e2e::Options),
    Bench(Box<bench::BenchArgs>),
    Soak(soak::Options),
    Fuzz(fuzz::Options),
    EmbedBuild(embed_build::Options),
    /// Build the container images ccflow-auth-server and ccflow-resource-api (release
    /// binaries on `FROM scratch`, tagged with the workspace version and latest)
    Image(image::Options),
    /// Build the images, then test them with a real Docker daemon: health, token, JWKS, admin
    /// token, CCFLOW_CONFIG_TOML, issuers, SIGTERM, docs/docker.md, the Python example
    Containers(containers::Options),
    Console(console::Options),
    /// fmt --check, clippy -D warnings, cargo test --workspace, then the e2e run: CI's core,
    /// not all of .ci/run
    #[command(long_about = CI_HELP)]
    Ci,
}

const CI_HELP: &str = "\
fmt --check, clippy -D warnings, cargo test --workspace, then the e2e run: CI's core, not all
of .ci/run

Runs, in this order, from the workspace root and through $CARGO, stopping at the first failure:
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
  cargo test --workspace
  the e2e run (`cargo xtask e2e` with no options: every profile, every flow, the docs flow,
  snapshots compared, never accepted)
The three cargo commands run with INSTA_UPDATE=no.

CI itself runs .ci/run, which does more than this command:
  - it prints the toolchain versions and sets CARGO_TERM_COLOR=never;
  - between fmt and clippy it runs .ci/supply-chain: cargo-deny on licenses, bans and sources,
    and on advisories when the RustSec database can be fetched (installing a pinned cargo-deny
    into target/tools on first use);
  - after the e2e run, .ci/browser installs chromium, nodejs and npm when missing and
    `cargo xtask console` drives the browser console in headless Chromium (where they cannot
    be had, the step fails under CI=true and is skipped, saying so, elsewhere);
  - then it runs `cargo xtask bench --quick` and `cargo xtask soak --seconds 15`
    (release builds);
  - last, .ci/docker installs and starts a Docker daemon when it can, then `cargo xtask image`
    and `cargo xtask containers --no-build` test the container images; where no daemon can
    run, it prints that the container step was skipped and why;
  - it exports INSTA_UPDATE=no for everything, the e2e run included; here the e2e run inherits
    your environment, so outside CI (no CI or INSTA_UPDATE=no set) a snapshot mismatch also
    leaves a .snap.new file beside the snapshot.
So a green `cargo xtask ci` is necessary for a green .ci/run, not sufficient.";

fn main() -> ExitCode {
    // A bad command line exits here (status 2, with clap's message); --help exits 0.
    let cli = Cli::parse();
    // What followed the command's name, for bench and soak to re-run in release as given.
    let args: Vec<OsString> = std::env::args_os().skip(2).collect();
    let result = match cli.command {
        None => print_help(),
        Some(Command::Ci) => ci(),
        Some(Command::E2e(options)) => e2e::run(&root(), &options),
        Some(Command::Bench(bench_args)) => bench_args
            .resolve()
            .and_then(|options| bench::run(&root(), &options, &args)),
        Some(Command::Soak(options)) => soak::run(&root(), &options, &args),
        Some(Command::Fuzz(options)) => fuzz::run(&root(), &options),
        Some(Command::EmbedBuild(options)) => embed_build::run(&root(), &options),
        Some(Command::Image(options)) => image::run(&root(), &options),
        Some(Command::Containers(options)) => containers::run(&root(), &options),
        Some(Command::Console(options)) => console::run(&root(), &options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask` alone: the help, as `cargo xtask help` prints it.
fn print_help() -> Result<()> {
    Cli::command().print_help().context("cannot print the help")
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
    e2e::run(&root(), &e2e::Options::default())
}

/// Runs cargo (the one that runs us, via `$CARGO`) from the workspace root.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Process::new(&cargo)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_a_help_that_exits_zero() {
        for args in [
            &["xtask", "help"][..],
            &["xtask", "--help"],
            &["xtask", "-h"],
            &["xtask", "e2e", "--help"],
            &["xtask", "bench", "--help"],
            &["xtask", "soak", "--help"],
            &["xtask", "fuzz", "--help"],
            &["xtask", "embed-build", "--help"],
            &["xtask", "image", "--help"],
            &["xtask", "containers", "--help"],
            &["xtask", "console", "--help"],
            &["xtask", "ci", "--help"],
            &["xtask", "help", "e2e"],
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp,
                "{args:?}"
            );
            assert_eq!(error.exit_code(), 0, "{args:?}");
        }
        let bare = Cli::try_parse_from(["xtask"]).unwrap();
        assert!(bare.command.is_none(), "bare `cargo xtask` prints the help");
    }

    #[test]
    fn unknown_commands_and_options_are_refused() {
        for args in [
            &["xtask", "deploy"][..],
            &["xtask", "--fast"],
            &["xtask", "ci", "--fast"],
            &["xtask", "soak", "--seconds", "0"],
            &["xtask", "soak", "--minutes", "1"],
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_ne!(error.exit_code(), 0, "{args:?}");
        }
    }
}
