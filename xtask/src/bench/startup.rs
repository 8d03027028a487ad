//! Start-up measured: process start → `listening on` line and → first token, and the
//! embedded `MockAuthServer::start()` → first token (medians).

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use ccflow_protocol::Profile;
use serde_json::{Value, json};

use super::figures::median;
use super::{Options, runtime};

pub(super) struct Startup {
    pub(super) process_to_listening_ms: f64,
    process_to_first_token_ms: f64,
    pub(super) embedded_to_first_token_ms: f64,
    samples: usize,
}

impl Startup {
    /// The report's line.
    pub(super) fn summary(&self) -> String {
        format!(
            "  process start → listening line {:.1} ms, → first token {:.1} ms; embedded start() → first token {:.2} ms ({} samples)",
            self.process_to_listening_ms,
            self.process_to_first_token_ms,
            self.embedded_to_first_token_ms,
            self.samples
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "process_to_listening": self.process_to_listening_ms,
            "process_to_first_token": self.process_to_first_token_ms,
            "embedded_start_to_first_token": self.embedded_to_first_token_ms,
            "samples": self.samples,
        })
    }
}

pub(super) fn measure(release: &Path, root: &Path, options: &Options) -> Result<Startup> {
    let samples = if options.quick { 3 } else { 15 };
    let runtime = runtime()?;
    // No connection pool: each sample's server is new, and may reuse a dead one's port.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()?;
    let config = root.join("fixtures/bench/rs256.toml");
    let mut listening = Vec::new();
    let mut first_token = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        let mut child = Command::new(release.join("ccflow-auth-server"))
            .args(["--config", &config.display().to_string()])
            .args(["--bind", "127.0.0.1:0"])
            .env("CCFLOW_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start ccflow-auth-server")?;
        let measured = (|| -> Result<()> {
            let mut line = String::new();
            let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
            stdout.read_line(&mut line)?;
            listening.push(started.elapsed().as_secs_f64() * 1e3);
            // Keep reading, as a script would: the summary follows the first line.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            let address = line
                .split_once(" listening on http://")
                .map(|(_, address)| address.trim().to_owned())
                .with_context(|| format!("unexpected first line {line:?}"))?;
            let url = format!("http://{address}{}", Profile::Rfc.spec().routes.token[0]);
            let response = runtime.block_on(
                http.post(&url)
                    .basic_auth("bench", Some("bench-secret"))
                    .form(&[("grant_type", "client_credentials")])
                    .send(),
            )?;
            ensure!(
                response.status() == 200,
                "first token: {}",
                response.status()
            );
            runtime.block_on(response.bytes())?;
            first_token.push(started.elapsed().as_secs_f64() * 1e3);
            Ok(())
        })();
        let _ = child.kill();
        let _ = child.wait();
        measured?;
    }
    let key = std::fs::read_to_string(root.join("fixtures/keys/rs256-1.pem"))?;
    let mut embedded = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        runtime.block_on(async {
            let server = MockAuthServer::builder()
                .signing_key(SigningKey::from_pem(&key)?)
                .client(Client::new("bench", "bench-secret"))
                .start()
                .await?;
            let response = http
                .post(server.token_url())
                .basic_auth("bench", Some("bench-secret"))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await?;
            ensure!(
                response.status() == 200,
                "first token: {}",
                response.status()
            );
            response.bytes().await?;
            embedded.push(started.elapsed().as_secs_f64() * 1e3);
            server.shutdown().await;
            Ok(())
        })?;
    }
    Ok(Startup {
        process_to_listening_ms: median(listening),
        process_to_first_token_ms: median(first_token),
        embedded_to_first_token_ms: median(embedded),
        samples,
    })
}
