//! `cargo xtask containers`: the images as a user runs them, against a real Docker daemon from
//! the host — health checks, a token and the JWKS, the admin API's guard and token, the whole
//! configuration from `CCFLOW_CONFIG_TOML`, the issuer seen from a compose network and from the
//! host, SIGTERM, then docs/docker.md's commands exactly as written (the compose example) and
//! the Testcontainers example in Python. Builds the images first (`cargo xtask image`).
//!
//! Without a Docker daemon it fails and says why; `.ci/run` decides whether to skip it.

mod checks;
mod docker;
mod python;

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

/// `cargo xtask containers` options.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Options {
    /// Use the images already built (by `cargo xtask image`) instead of building them.
    #[arg(long)]
    pub(crate) no_build: bool,
    /// Skip the Python Testcontainers example (it installs testcontainers from PyPI into a
    /// virtual environment under target/).
    #[arg(long)]
    pub(crate) no_python: bool,
}

/// The page whose commands run as written, on the host network (Docker publishes ports there).
pub(crate) const DOCUMENT: &str = "docs/docker.md";

#[allow(clippy::print_stdout, reason = "xtask reports progress on stdout")]
pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    docker::available()?;
    if !options.no_build {
        crate::image::run(root, &crate::image::Options::default())?;
    }
    let started = Instant::now();
    let prefix = format!("ccflow-ct-{}", std::process::id());
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut record = |name: &str, result: Result<String>| match result {
        Ok(detail) => {
            println!("containers: ok   {name}: {detail}");
            passed += 1;
        }
        Err(error) => {
            println!("containers: FAIL {name}: {error:#}");
            failed.push(name.to_owned());
        }
    };
    for (name, check) in checks::CHECKS {
        let check_started = Instant::now();
        let result = check(&prefix)
            .map(|detail| format!("{detail} ({:.1} s)", check_started.elapsed().as_secs_f64()));
        record(name, result);
    }
    let document_started = Instant::now();
    let logs = std::env::temp_dir().join(format!("{prefix}-docs"));
    std::fs::create_dir_all(&logs)?;
    let document = std::fs::read_to_string(root.join(DOCUMENT))?;
    let result =
        crate::e2e::docs::run_text_on_host(root, &logs, DOCUMENT, &document).map(|tally| {
            format!(
                "{} commands run as written, {} answers compared ({:.1} s)",
                tally.commands,
                tally.compared,
                document_started.elapsed().as_secs_f64()
            )
        });
    // Whatever the page left running (it ends with `docker-compose … down`).
    python::compose_down(root);
    record(DOCUMENT, result);
    if options.no_python {
        println!("containers: SKIPPED python testcontainers example: --no-python");
    } else {
        let python_started = Instant::now();
        let result = python::run(root)
            .map(|detail| format!("{detail} ({:.1} s)", python_started.elapsed().as_secs_f64()));
        record("python testcontainers example", result);
    }
    println!(
        "containers: the checks took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Alone on its line: the plain closing line a CI log reader counts.
    println!("containers: {passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        bail!("container checks failed: {}", failed.join(", "));
    }
    Ok(())
}
