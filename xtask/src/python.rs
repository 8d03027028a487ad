//! The Python examples' virtual environments (examples/*-python): one per example under
//! target/, made once and reused, with the example's pinned requirements installed from PyPI
//! (pip leaves a satisfied requirement alone, so a second run is quick).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, ensure};

/// The `python` of `target/<venv>`, made if missing, with `example`'s `requirements.txt`
/// installed (`example` relative to the workspace `root`).
pub(crate) fn venv(root: &Path, venv: &str, example: &str) -> Result<PathBuf> {
    let venv = crate::bench::target_dir(root).join(venv);
    let python = venv.join("bin/python");
    if !python.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("cannot run python3 (it makes the virtual environment)")?;
        ensure!(status.success(), "python3 -m venv failed");
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(root.join(example).join("requirements.txt"))
        .stdin(Stdio::null())
        .status()
        .context("cannot run pip")?;
    ensure!(
        status.success(),
        "pip install of {example}/requirements.txt failed"
    );
    Ok(python)
}
