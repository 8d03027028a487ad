//! How `cargo xtask embed-build` runs commands: cargo set up for a cold build, and any command
//! whose failure stops the measurement (its output shown).

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context as _, Result, bail};

/// The cargo that runs us, without a compiler wrapper (a cache would make the build warm).
pub(super) fn cargo(dir: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .env_remove("CARGO_INCREMENTAL")
        .env("CARGO_TARGET_DIR", dir.join("target"));
    command
}

/// Runs a command to completion; its output is shown only if it fails.
pub(super) fn checked(mut command: Command, what: &str) -> Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}
