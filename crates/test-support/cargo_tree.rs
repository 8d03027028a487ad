//! `cargo tree` read as crate names, for the suites that check which crates a feature set
//! compiles: `tests/features.rs` of ccflow-auth-server, ccflow-client and ccflow-resource-api
//! include this file (`#[path]`), so the three read the graph the same way.

use std::process::Command;

/// The crates of `cargo tree -p PACKAGE -e normal`, run from `dir` (the suite's
/// `CARGO_MANIFEST_DIR`): with the default features for `None`, with `--no-default-features
/// --features LIST` for `Some(LIST)` (`Some("")`: no feature at all); only the direct
/// dependencies (`--depth 1`) with `direct_only`.
pub(crate) fn crates(
    dir: &str,
    package: &str,
    features: Option<&str>,
    direct_only: bool,
) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .args(["tree", "--locked", "-p", package, "-e", "normal"])
        .args(["--prefix", "none"]);
    if let Some(features) = features {
        command.arg("--no-default-features");
        if !features.is_empty() {
            command.args(["--features", features]);
        }
    }
    if direct_only {
        command.args(["--depth", "1"]);
    }
    let output = command.output().expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}
