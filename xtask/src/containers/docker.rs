//! The Docker CLI from the host: containers and networks removed on drop, health waited for on
//! the daemon's event stream (no polling), ports chosen free on the host's loopback.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};

/// Why Docker cannot be used here, or `Ok` when the daemon answers.
pub(crate) fn available() -> Result<()> {
    let output = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .context("the docker CLI is not installed (apt-get install docker.io)")?;
    ensure!(
        output.status.success(),
        "the Docker daemon does not answer: {} (start it: .ci/docker)",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// `docker ARGS`, its stdout on success.
pub(crate) fn docker(args: &[&str]) -> Result<String> {
    let output = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run docker")?;
    ensure!(
        output.status.success(),
        "`docker {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A free TCP port on the host's loopback (bound, then released for `docker run -p`).
pub(crate) fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A user-defined bridge network (its containers resolve each other by name); removed on drop.
#[derive(Debug)]
pub(crate) struct Network {
    pub(crate) name: String,
}

impl Network {
    pub(crate) fn create(name: &str) -> Result<Self> {
        let _ = docker(&["network", "rm", name]);
        docker(&["network", "create", name])?;
        Ok(Self {
            name: name.to_owned(),
        })
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// A container started detached; removed (with `-f`) on drop.
#[derive(Debug)]
pub(crate) struct Container {
    pub(crate) name: String,
}

impl Container {
    /// `docker run -d --name NAME ARGS…` (ARGS: options, the image, then its arguments).
    pub(crate) fn run(name: &str, args: &[String]) -> Result<Self> {
        let _ = docker(&["rm", "-f", name]);
        let mut all = vec!["run", "-d", "--name", name];
        all.extend(args.iter().map(String::as_str));
        docker(&all)?;
        Ok(Self {
            name: name.to_owned(),
        })
    }

    /// Waits for Docker's verdict on the image's HEALTHCHECK: `healthy`, or an error on
    /// `unhealthy`, on the container's exit, or after `deadline`. Reads the daemon's event
    /// stream from the container's creation on, so an event before this call is not missed.
    pub(crate) fn wait_healthy(&self, deadline: Duration) -> Result<()> {
        // Its creation time (RFC 3339): the stream replays what happened since, then follows.
        let created = docker(&["inspect", "--format", "{{.Created}}", &self.name])?;
        let mut events = Command::new("docker")
            .args(["events", "--since", &created])
            .args(["--filter", &format!("container={}", self.name)])
            .args(["--format", "{{.Status}}"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .context("cannot run docker events")?;
        let stdout = events.stdout.take().context("no events stream")?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let verdict = match line.trim() {
                    "health_status: healthy" => Some(Ok(())),
                    "health_status: unhealthy" => Some(Err("unhealthy".to_owned())),
                    "die" => Some(Err("the container exited".to_owned())),
                    _ => None,
                };
                if let Some(verdict) = verdict {
                    let _ = sender.send(verdict);
                    return;
                }
            }
            let _ = sender.send(Err("the event stream ended".to_owned()));
        });
        let verdict = receiver.recv_timeout(deadline);
        let _ = events.kill();
        let _ = events.wait();
        match verdict {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => bail!("{}: {why}; its logs:\n{}", self.name, self.logs()),
            Err(_) => bail!(
                "{} not healthy within {deadline:?}; its logs:\n{}",
                self.name,
                self.logs()
            ),
        }
    }

    /// Everything the container wrote, stdout and stderr.
    pub(crate) fn logs(&self) -> String {
        Command::new("docker")
            .args(["logs", &self.name])
            .output()
            .map(|output| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                )
            })
            .unwrap_or_default()
    }

    /// `docker stop` (SIGTERM, SIGKILL after `grace`): how long it took and the exit code.
    pub(crate) fn stop(&self, grace: Duration) -> Result<(Duration, i64)> {
        let started = std::time::Instant::now();
        docker(&["stop", "--time", &grace.as_secs().to_string(), &self.name])?;
        let elapsed = started.elapsed();
        let code = docker(&["inspect", "--format", "{{.State.ExitCode}}", &self.name])?;
        Ok((elapsed, code.parse().context("the exit code")?))
    }

    /// `docker exec NAME ARGS…`: the exit code (no shell in the image: ARGS is the command).
    pub(crate) fn exec(&self, args: &[&str]) -> Result<i32> {
        let status = Command::new("docker")
            .args(["exec", &self.name])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run docker exec")?;
        Ok(status.code().unwrap_or(-1))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}
