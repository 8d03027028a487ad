//! The `probe-pyjwt` flow: `ccflow-auth-server probe api` (docs/probe.md) pointed at a resource
//! server nobody here wrote — `examples/probe-python`, PyJWT's `PyJWKClient` recipe, installed
//! from PyPI into a virtual environment under target/ — with an auth server of its own (the
//! probe rotates and withdraws keys, which the chain's other flows must not see). The snapshot
//! holds each case's verdict and the exit status: what the probe says of that library.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};

use crate::e2e::Chain;
use crate::e2e::process::Server;

const EXAMPLE: &str = "examples/probe-python";
/// The Python API's JWK Set lifespan, told to the probe as `--jwks-cache-secs`: the key cases
/// wait this long, not PyJWT's default five minutes.
const JWKS_CACHE_SECS: &str = "5";

/// The virtual environment with the example's pinned requirements: its `python`.
fn python() -> Result<PathBuf> {
    crate::python::venv(&crate::root(), "python-probe", EXAMPLE)
}

pub(super) async fn probe_pyjwt(chain: &Chain) -> Result<Value> {
    let root = crate::root();
    let auth_binary = chain.api_binary.with_file_name("ccflow-auth-server");
    let logs = chain.logs.clone();
    tokio::task::spawn_blocking(move || {
        let python = python()?;
        let auth = Server::start(
            &auth_binary,
            &["--bind".to_owned(), "127.0.0.1:0".to_owned()],
            logs.join("rfc-probe-auth-server.log"),
            crate::e2e::START_DEADLINE,
        )?;
        let issuer = auth.uri();
        let api = Server::start(
            &python,
            &[
                root.join(EXAMPLE).join("api.py").display().to_string(),
                "--issuer".to_owned(),
                issuer.clone(),
                "--audience".to_owned(),
                "probe-api".to_owned(),
                "--scope".to_owned(),
                "items:read".to_owned(),
                "--jwks-cache-secs".to_owned(),
                JWKS_CACHE_SECS.to_owned(),
            ],
            logs.join("rfc-probe-python-api.log"),
            crate::e2e::START_DEADLINE,
        )?;
        let report = logs.join("rfc-probe-pyjwt.json");
        let output = Command::new(&auth_binary)
            .args(["probe", "api", "--issuer", &issuer])
            .args(["--url", &format!("{}/items", api.uri())])
            .args(["--audience", "probe-api", "--scope", "items:read"])
            .args([
                "--jwks-cache-secs",
                JWKS_CACHE_SECS,
                "--refetch-wait-secs",
                "10",
            ])
            .arg("--json")
            .arg(&report)
            .stdin(Stdio::null())
            .output()
            .context("cannot run ccflow-auth-server probe api")?;
        drop(api);
        drop(auth);
        let table = String::from_utf8_lossy(&output.stdout);
        let report: Value = serde_json::from_slice(
            &std::fs::read(&report)
                .with_context(|| format!("no report; the probe printed:\n{table}"))?,
        )?;
        let verdicts: Map<String, Value> = report["cases"]
            .as_array()
            .context("the report has no cases")?
            .iter()
            .map(|case| {
                (
                    case["id"].as_str().unwrap_or_default().to_owned(),
                    case["verdict"].clone(),
                )
            })
            .collect();
        Ok(json!({
            "exit status": output.status.code(),
            "passed": report["passed"],
            "verdicts": verdicts,
        }))
    })
    .await?
}
