//! Child processes for the e2e run: started with a deadline on their `listening on` line, logs
//! captured to files, and killed on drop, on failure and on Ctrl-C. No orphans, ever.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

/// Every running child's pid, for the Ctrl-C handler.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Kills every child still running (the Ctrl-C path; drop does it otherwise).
pub(crate) fn kill_all() {
    let pids = RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for pid in pids {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// A running server binary: its address, its log file; killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// The threads copying stdout and stderr into the log; joined on stop, so the log is
    /// complete before anyone reads it (the secret scan does).
    readers: Vec<std::thread::JoinHandle<()>>,
    pub(crate) address: String,
    /// Whether the listening line said `https://` (`--tls`).
    https: bool,
    pub(crate) log: PathBuf,
    /// The stdout lines after the listening line, up to [`EARLY_LINES`] (a second listening
    /// line, `tls ca: PATH`), for [`Server::next_line`].
    early_lines: Option<mpsc::Receiver<String>>,
}

/// How many of a child's first stdout lines [`Server::next_line`] can read.
const EARLY_LINES: usize = 16;

impl Server {
    /// Starts `binary` with `args`, waits up to `deadline` for its first stdout line
    /// (`<name> listening on http://ADDR`, or `https://` with `--tls`), and keeps reading its
    /// output into `log`.
    pub(crate) fn start(
        binary: &Path,
        args: &[String],
        log: PathBuf,
        deadline: Duration,
    ) -> Result<Self> {
        Self::start_logging(binary, args, log, deadline, "info")
    }

    /// The sample API (`binary`: a built `ccflow-resource-api`) on an ephemeral port, accepting
    /// `issuer`'s tokens for `items-api`, with an optional config file, logging at `warn` (as
    /// the bench and the soak run it).
    pub(crate) fn start_sample_api(
        binary: &Path,
        issuer: &str,
        config: Option<&Path>,
        log: PathBuf,
    ) -> Result<Self> {
        let mut args = Vec::new();
        if let Some(config) = config {
            args.extend(["--config".to_owned(), config.display().to_string()]);
        }
        args.extend(
            [
                "--bind",
                "127.0.0.1:0",
                "--issuer",
                issuer,
                "--audience",
                "items-api",
            ]
            .map(str::to_owned),
        );
        Self::start_logging(binary, &args, log, Duration::from_secs(30), "warn")
    }

    /// [`Server::start`] with the child's `CCFLOW_LOG` filter (the bench runs at `warn`).
    pub(crate) fn start_logging(
        binary: &Path,
        args: &[String],
        log: PathBuf,
        deadline: Duration,
        level: &str,
    ) -> Result<Self> {
        let child = Command::new(binary)
            .args(args)
            .env("CCFLOW_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(child.id());
        // From here on the guard owns the child: any early return kills it.
        let mut server = Server {
            child,
            readers: Vec::new(),
            address: String::new(),
            https: false,
            log,
            early_lines: None,
        };
        let stdout = server.child.stdout.take().context("no stdout")?;
        let stderr = server.child.stderr.take().context("no stderr")?;
        let file = File::create(&server.log)
            .with_context(|| format!("cannot write {}", server.log.display()))?;
        let (early_line, early_lines) = mpsc::channel();
        let stdout_file = file.try_clone()?;
        let stdout_reader = std::thread::spawn(move || {
            let mut file = stdout_file;
            let mut early = Some(early_line);
            for (index, line) in BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .enumerate()
            {
                if index == EARLY_LINES {
                    early = None;
                }
                if let Some(sender) = &early {
                    let _ = sender.send(line.clone());
                }
                let _ = writeln!(file, "{line}");
            }
        });
        let stderr_reader = std::thread::spawn(move || {
            let mut file = file;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
            }
        });
        server.readers = vec![stdout_reader, stderr_reader];
        let line = match early_lines.recv_timeout(deadline) {
            Ok(line) => line,
            Err(_) => bail!(
                "{} did not announce itself within {deadline:?}; see {}",
                binary.display(),
                server.log.display()
            ),
        };
        let (scheme, address) = line
            .split_once(" listening on ")
            .and_then(|(_, url)| url.trim().split_once("://"))
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .map(|(scheme, address)| (scheme.to_owned(), address.to_owned()))
            .with_context(|| {
                format!("unexpected first line from {}: {line:?}", binary.display())
            })?;
        server.https = scheme == "https";
        server.address = address;
        server.early_lines = Some(early_lines);
        Ok(server)
    }

    /// The next of the child's first stdout lines after the listening line (`--https-bind`'s
    /// second listening line, `tls ca: PATH`), waiting up to `deadline` for it.
    pub(crate) fn next_line(&self, deadline: Duration) -> Result<String> {
        self.early_lines
            .as_ref()
            .context("no early lines to read")?
            .recv_timeout(deadline)
            .with_context(|| format!("no further start-up line within {deadline:?}"))
    }

    /// The child's process id (for `/proc` readings).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `http://ADDR`, or `https://ADDR` for a server started with `--tls`.
    pub(crate) fn uri(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// Stops it now (SIGTERM, then SIGKILL if it lingers) and waits.
    pub(crate) fn stop(&mut self) {
        let pid = self.child.id();
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The child is gone, so its pipes reach end of file and the readers finish.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|running| *running != pid);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `command` to its end in a process group of its own and returns its stdout; past
/// `deadline` the whole group (the command and everything it started) is killed.
pub(crate) fn output_within(mut command: Command, deadline: Duration) -> Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::process::CommandExt as _;
    let mut child = command
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the command")?;
    let pid = child.id();
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(pid);
    let mut stdout = child.stdout.take().context("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(());
        status
    });
    let timed_out = finished.recv_timeout(deadline).is_err();
    // Whatever is left of the group (a server the script could not stop) goes now.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
    let status = waiter.join().ok().and_then(Result::ok);
    let bytes = reader.join().unwrap_or_default();
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|running| *running != pid);
    if timed_out {
        bail!("did not finish within {deadline:?}");
    }
    // The script's own status says little (its last command's); each command's status is in
    // the transcript, which the caller checks.
    let _ = status;
    Ok(bytes)
}
