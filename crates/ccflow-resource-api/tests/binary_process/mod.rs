//! The `ccflow-resource-api` binary as a child process, for the suites that run it
//! (`binary.rs`, `multi_issuer.rs`): a command with no `CCFLOW_RESOURCE_*` variable inherited
//! from the test's environment, and a running child read up to its `listening on` line and
//! killed on drop.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, ChildStdout, Command, Stdio};

pub const BINARY: &str = env!("CARGO_BIN_EXE_ccflow-resource-api");

/// Kills the child on drop, so a failing test leaves no process behind.
pub struct Running {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    pub address: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// SIGTERM, then the exit status and whatever else it printed.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let exit = self.child.wait().unwrap();
        (exit, rest)
    }
}

pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    // Every setting the binary reads from the environment starts so: none leaks in.
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("CCFLOW_RESOURCE_") {
            command.env_remove(variable);
        }
    }
    command
}

pub fn spawn(args: &[&str]) -> Running {
    start(command(args))
}

/// Runs `command` (from [`command`], perhaps with variables added) up to its `listening on` line.
pub fn start(mut command: Command) -> Running {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a first stdout line");
    let address = first
        .trim_end()
        .strip_prefix("ccflow-resource-api listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    assert!(
        !address.ends_with(":0"),
        "the real port is printed: {address}"
    );
    Running {
        child,
        stdout,
        address,
    }
}
