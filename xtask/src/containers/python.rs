//! The Testcontainers example in Python (examples/testcontainers-python): a virtual environment
//! under target/ with the pinned requirements from PyPI (made once, then reused; pip leaves a
//! satisfied requirement alone), then the example's unittest run against the image just built.
//! Also: taking down what the compose page started.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, ensure};

use crate::image::VERSION;

const EXAMPLE: &str = "examples/testcontainers-python";
/// The compose projects docs/docker.md starts (and ends with `down`).
const COMPOSE_FILES: [&str; 2] = [
    "examples/compose/docker-compose.yml",
    "examples/compose-issuers/docker-compose.yml",
];

/// Installs the example's requirements and runs it; what it ran.
pub(crate) fn run(root: &Path) -> Result<String> {
    let python = crate::python::venv(root, "python-testcontainers", EXAMPLE)?;
    let output = Command::new(&python)
        .args(["-m", "unittest", "-v", "test_ccflow.py"])
        .current_dir(root.join(EXAMPLE))
        .env("CCFLOW_IMAGE", format!("ccflow-auth-server:{VERSION}"))
        // Testcontainers' reaper is an image from a registry; the `with` block removes the
        // container itself.
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .context("cannot run the example")?;
    let report = String::from_utf8_lossy(&output.stderr);
    ensure!(output.status.success(), "the example failed:\n{report}");
    let ran = report
        .lines()
        .find(|line| line.starts_with("Ran "))
        .unwrap_or("ran");
    Ok(format!("{EXAMPLE}: {ran}, OK"))
}

/// `docker-compose -f FILE down` for each compose project of the page, whatever state it left.
pub(crate) fn compose_down(root: &Path) {
    for file in COMPOSE_FILES {
        let _ = Command::new("docker-compose")
            .args(["-f", file, "down", "--timeout", "5"])
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
