//! The `probe-pyjwt` and `probe-jose` flows: `ccflow-auth-server probe api` (docs/probe.md)
//! pointed at a resource server nobody here wrote — `examples/probe-python`, PyJWT's
//! `PyJWKClient` recipe, installed from PyPI into a virtual environment under target/, and
//! `examples/probe-node`, jose's `createRemoteJWKSet` + `jwtVerify`, installed from the npm
//! registry (`npm ci`, the lock file's pinned version) under target/ — each with an auth server
//! of its own (the probe rotates and withdraws keys, which the chain's other flows must not see).
//! The snapshot holds each case's verdict and the exit status: what the probe says of that
//! library.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};

use crate::e2e::Chain;
use crate::e2e::process::Server;

const EXAMPLE: &str = "examples/probe-python";
const NODE_EXAMPLE: &str = "examples/probe-node";
/// The Python API's JWK Set lifespan, told to the probe as `--jwks-cache-secs`: the key cases
/// wait this long, not PyJWT's default five minutes.
const JWKS_CACHE_SECS: &str = "5";

/// The virtual environment with the example's pinned requirements: its `python`.
fn python() -> Result<PathBuf> {
    crate::python::venv(&crate::root(), "python-probe", EXAMPLE)
}

/// `examples/probe-node` copied to target/node-probe with its locked dependencies installed
/// (`npm ci`: exactly the lock file's jose, from the npm registry): the script to run.
fn node_api() -> Result<PathBuf> {
    let root = crate::root();
    let dir = crate::bench::target_dir(&root).join("node-probe");
    std::fs::create_dir_all(&dir)?;
    for file in ["package.json", "package-lock.json", "api.mjs"] {
        std::fs::copy(root.join(NODE_EXAMPLE).join(file), dir.join(file))
            .with_context(|| format!("cannot copy {NODE_EXAMPLE}/{file}"))?;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .status()
        .context("cannot run npm (apt-get install nodejs npm)")?;
    anyhow::ensure!(status.success(), "npm ci in {} failed", dir.display());
    Ok(dir.join("api.mjs"))
}

pub(super) async fn probe_pyjwt(chain: &Chain) -> Result<Value> {
    probe_library(chain, Library::PyJwt).await
}

pub(super) async fn probe_jose(chain: &Chain) -> Result<Value> {
    probe_library(chain, Library::Jose).await
}

/// The API under the probe.
#[derive(Clone, Copy)]
enum Library {
    PyJwt,
    Jose,
}

async fn probe_library(chain: &Chain, library: Library) -> Result<Value> {
    let root = crate::root();
    let auth_binary = chain.api_binary.with_file_name("ccflow-auth-server");
    let logs = chain.logs.clone();
    tokio::task::spawn_blocking(move || {
        let (program, script, name) = match library {
            Library::PyJwt => (python()?, root.join(EXAMPLE).join("api.py"), "pyjwt"),
            Library::Jose => (PathBuf::from("node"), node_api()?, "jose"),
        };
        let auth = Server::start(
            &auth_binary,
            &["--bind".to_owned(), "127.0.0.1:0".to_owned()],
            logs.join(format!("rfc-probe-{name}-auth-server.log")),
            crate::e2e::START_DEADLINE,
        )?;
        let issuer = auth.uri();
        let api = Server::start(
            &program,
            &[
                script.display().to_string(),
                "--issuer".to_owned(),
                issuer.clone(),
                "--audience".to_owned(),
                "probe-api".to_owned(),
                "--scope".to_owned(),
                "items:read".to_owned(),
                "--jwks-cache-secs".to_owned(),
                JWKS_CACHE_SECS.to_owned(),
            ],
            logs.join(format!("rfc-probe-{name}-api.log")),
            crate::e2e::START_DEADLINE,
        )?;
        let report = logs.join(format!("rfc-probe-{name}.json"));
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
        let errors = String::from_utf8_lossy(&output.stderr);
        let report: Value =
            serde_json::from_slice(&std::fs::read(&report).with_context(|| {
                format!(
                    "no report (exit status {:?}); the probe printed:\n{table}{errors}",
                    output.status.code()
                )
            })?)?;
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
