//! `cargo xtask console`: the auth server's browser console (`/_ccflow/console`) driven in a real
//! browser — Debian's chromium through the npm package playwright-core — against the real
//! binary (`xtask/console-test/console.test.mjs`; docs/console.md). Installs nothing by itself
//! but the locked test package (`npm ci`, announced): without node, npm or chromium it fails
//! saying what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// The oldest Node the test runs on (playwright-core 1.57's `engines`; Debian 12 has 18).
const MIN_NODE_MAJOR: u32 = 18;

/// Drive the browser console in headless Chromium (playwright-core) against the real binary:
/// clients, journal, tokens, keys, faults, clock, and the Origin/Host/markup safety checks.
/// Needs node (18+), npm and chromium (Debian: apt-get install chromium nodejs npm)
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// Also write a screenshot of each page to docs/console/ (the pictures in docs/console.md)
    #[arg(long)]
    screenshots: bool,
    /// The Chromium executable
    #[arg(long, env = "CCFLOW_CHROMIUM", default_value = "/usr/bin/chromium")]
    chromium: PathBuf,
}

pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    let node_version = tool_version("node", "apt-get install nodejs")?;
    let major = node_major(&node_version)
        .with_context(|| format!("cannot read the version of node from {node_version:?}"))?;
    if major < MIN_NODE_MAJOR {
        bail!(
            "node {node_version} is too old: the console test needs node {MIN_NODE_MAJOR} or later"
        );
    }
    tool_version("npm", "apt-get install npm")?;
    if !options.chromium.is_file() {
        bail!(
            "no Chromium at {}: install it (Debian: apt-get install chromium) or name it with \
             --chromium PATH / CCFLOW_CHROMIUM",
            options.chromium.display()
        );
    }
    say(&format!(
        "console: node {node_version}, chromium {}",
        options.chromium.display()
    ));

    say("console: building ccflow-auth-server");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .args([
            "build",
            "-p",
            "ccflow-auth-server",
            "--bin",
            "ccflow-auth-server",
        ])
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("building ccflow-auth-server failed");
    }
    let binary = crate::bench::target_dir(root).join("debug/ccflow-auth-server");

    let test_dir = root.join("xtask/console-test");
    if !test_dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        say(
            "== npm ci (xtask/console-test: playwright-core, exactly as package-lock.json pins it)",
        );
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&test_dir)
            .status()
            .context("cannot run npm")?;
        if !status.success() {
            bail!("npm ci in xtask/console-test failed ({status})");
        }
    }

    let mut test = Command::new("node");
    test.arg("console.test.mjs")
        .arg("--binary")
        .arg(&binary)
        .arg("--chromium")
        .arg(&options.chromium)
        .current_dir(&test_dir);
    if options.screenshots {
        test.arg("--screenshots").arg(root.join("docs/console"));
    }
    let status = test.status().context("cannot run node")?;
    if !status.success() {
        bail!("the browser console test failed ({status})");
    }
    if options.screenshots {
        say("console: screenshots written to docs/console/");
    }
    Ok(())
}

/// `TOOL --version`, or an error naming the package that provides it.
fn tool_version(tool: &str, install: &str) -> Result<String> {
    match Command::new(tool).arg("--version").output() {
        Ok(output) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        }
        Ok(output) => bail!(
            "`{tool} --version` failed ({}): the console test needs a working {tool} (Debian: {install})",
            output.status
        ),
        Err(error) => {
            bail!("{tool} not found ({error}): the console test needs it (Debian: {install})")
        }
    }
}

/// The major version in `node --version`'s `v18.19.0`.
fn node_major(version: &str) -> Option<u32> {
    version
        .trim()
        .strip_prefix('v')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

#[allow(clippy::print_stdout, reason = "xtask reports progress on stdout")]
fn say(line: &str) {
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_are_read() {
        for (text, expected) in [
            ("v18.19.0\n", Some(18)),
            ("v20.20.2", Some(20)),
            ("18.19.0", None),
            ("vx", None),
            ("", None),
        ] {
            assert_eq!(node_major(text), expected, "{text:?}");
        }
    }

    #[test]
    fn a_missing_tool_is_named_with_its_package() {
        let error = tool_version("ccflow-no-such-tool", "apt-get install something").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("ccflow-no-such-tool not found"),
            "{message}"
        );
        assert!(message.contains("apt-get install something"), "{message}");
    }

    #[test]
    fn a_missing_chromium_fails_before_anything_is_built() {
        let options = Options {
            screenshots: false,
            chromium: PathBuf::from("/nonexistent/chromium"),
        };
        let Err(error) = run(Path::new("/nonexistent-root"), &options) else {
            panic!("ran without chromium");
        };
        let message = error.to_string();
        // Where node is missing the first check fails instead; both name what to install.
        assert!(message.contains("apt-get install"), "{message}");
    }
}
