//! Docs that run, exactly as written: every command in a document's ```sh blocks is executed by
//! a real `bash`, in order, in one shell per document (so `TOKEN=$(…)` lines carry over), inside
//! a private network namespace where the documented ports (`127.0.0.1:8080`, `:8081`) are free.
//! Nothing on the page is rewritten: the same binary arguments, the same ports, the same
//! variables a reader types. Each answer shown in a ```json block is compared with what the
//! command before it printed, member order and value types included.
//!
//! Server commands (`cargo run -p ccflow-auth-server …`, `cargo run -p ccflow-resource-api …`)
//! run in the background, as a reader runs them in a second terminal; the next line waits for
//! their `listening on` line (read from a pipe, not polled), and starting a server of the same
//! kind stops the previous one first, as Ctrl-C would. In a shown answer, `"…"` stands for any
//! string and a bare `…` for any number: values that change on every call, with their type kept
//! (`answer`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};

mod answer;

use answer::{Json, compare, shown_json};

/// The documents whose sessions run.
pub(crate) const DOCUMENTS: [&str; 10] = [
    "README.md",
    "docs/quickstart.md",
    "docs/profiles.md",
    "docs/test-control.md",
    "docs/auth-server.md",
    "docs/resource-api.md",
    "docs/dpop.md",
    "docs/tls.md",
    "docs/probe.md",
    "docs/multi-issuer.md",
];

/// How long one document's whole session may take (it may have to build a binary).
const SESSION_DEADLINE: Duration = Duration::from_secs(600);

/// What a line of a ```sh block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    AuthServer,
    ResourceApi,
    /// `cargo test …`, `cargo xtask …`: what `.ci/run` runs itself, word for word (checked);
    /// running the test suite again inside its own e2e step would only repeat it.
    Ci,
    Command,
}

/// Subcommands of the server binaries that do not serve.
const ONE_SHOT_SUBCOMMANDS: [&str; 3] = ["healthcheck", "probe", "cert"];

fn role(command: &str) -> Role {
    let program = command.trim_start();
    // The binaries' subcommands that run to their end (`healthcheck`, `probe` of
    // docs/probe.md, `cert`) are commands, not servers to wait for.
    let one_shot = program
        .split_whitespace()
        .any(|word| ONE_SHOT_SUBCOMMANDS.contains(&word));
    if one_shot {
        Role::Command
    } else if program.starts_with("cargo run -p ccflow-auth-server")
        || program.starts_with("ccflow-auth-server")
    {
        Role::AuthServer
    } else if program.starts_with("cargo run -p ccflow-resource-api")
        || program.starts_with("ccflow-resource-api")
    {
        Role::ResourceApi
    } else if program.starts_with("cargo test") || program.starts_with("cargo xtask") {
        Role::Ci
    } else {
        Role::Command
    }
}

/// One step of a document: a command to run, or an answer the last command must have printed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Run { line: usize, command: String },
    Shown { line: usize, text: String },
}

/// The steps of a document, from its ```sh and ```json blocks (other blocks are prose).
fn steps(doc: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = doc.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        let Some(language) = line.strip_prefix("```") else {
            continue;
        };
        let language = language.trim().to_owned();
        let mut block = Vec::new();
        for (index, line) in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            block.push((index + 1, line));
        }
        match language.as_str() {
            "sh" => steps.extend(commands(&block)),
            "json" => {
                let line = block.first().map_or(0, |(line, _)| *line);
                let text = block
                    .iter()
                    .map(|(_, text)| *text)
                    .collect::<Vec<_>>()
                    .join("\n");
                steps.push(Step::Shown { line, text });
            }
            _ => {}
        }
    }
    steps
}

/// The commands of a ```sh block: `\`-continued lines joined as the shell joins them,
/// comment-only and empty lines dropped (the shell skips them too).
fn commands(block: &[(usize, &str)]) -> Vec<Step> {
    let mut commands = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (line, text) in block {
        if pending.is_none() && (text.trim().is_empty() || text.trim_start().starts_with('#')) {
            continue;
        }
        let (start, command) = pending.get_or_insert_with(|| (*line, String::new()));
        match text.strip_suffix('\\') {
            Some(head) => {
                command.push_str(head);
            }
            None => {
                command.push_str(text);
                commands.push(Step::Run {
                    line: *start,
                    command: std::mem::take(command),
                });
                pending = None;
            }
        }
    }
    if let Some((line, command)) = pending {
        commands.push(Step::Run { line, command });
    }
    commands
}

/// The bash script that runs a document's commands in order, each framed by markers on stdout.
fn script(steps: &[Step], logs: &Path, name: &str) -> String {
    let mut script = String::from(SCRIPT_HEAD);
    let mut started = 0;
    for step in steps {
        let Step::Run { line, command } = step else {
            continue;
        };
        match role(command) {
            Role::Ci => {}
            Role::Command => {
                // A brace group runs in this shell, so `TOKEN=$(…)` stays set for the next line;
                // its own line keeps a trailing `# comment` a comment.
                let _ = write!(
                    script,
                    "printf '\\036BEGIN {line}\\n'\n{{\n{command}\n}} 2>{err}\nprintf '\\n\\036END {line} %d\\n' $?\n",
                    err = shell_quote(&stderr_log(logs, name, *line).display().to_string()),
                );
            }
            server => {
                started += 1;
                let log = logs.join(format!("docs-{name}-{started}"));
                let kind = if server == Role::AuthServer {
                    "auth"
                } else {
                    "api"
                };
                // The command itself, unchanged, in the background with stdout on a pipe; on a
                // line of its own, so a trailing `# comment` stays a comment. `exec` makes the
                // background job the command itself, so stopping it stops the server.
                let _ = write!(
                    script,
                    "__ccflow_stop_{kind}\n\
                     rm -f {fifo}; mkfifo {fifo}\n\
                     {{\nexec {command}\n}} >{fifo} 2>{err} &\n\
                     __ccflow_{kind}=$!\n\
                     printf '\\036BEGIN {line}\\n'\n\
                     __ccflow_ready {fifo} {out}\n\
                     printf '\\n\\036END {line} %d\\n' $?\n",
                    fifo = shell_quote(&format!("{}.fifo", log.display())),
                    err = shell_quote(&format!("{}.stderr.log", log.display())),
                    out = shell_quote(&format!("{}.stdout.log", log.display())),
                );
            }
        }
    }
    script
}

/// Helpers of the generated script. `__ccflow_ready` reads the server's stdout until its
/// `listening on` line (or end of file: the server died), prints that first line, then keeps
/// copying the rest into the log in the background so the server never blocks on a full pipe.
const SCRIPT_HEAD: &str = r#"set -u
__ccflow_auth=""
__ccflow_api=""
__ccflow_stop() { if [ -n "$1" ]; then kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi; return 0; }
__ccflow_stop_api() { __ccflow_stop "$__ccflow_api"; __ccflow_api=""; }
__ccflow_stop_auth() { __ccflow_stop_api; __ccflow_stop "$__ccflow_auth"; __ccflow_auth=""; }
trap '__ccflow_stop_auth' EXIT
__ccflow_ready() {
  exec 4<"$1"
  local first=""
  IFS= read -r first <&4 || { echo "the server exited before printing a line"; exec 4<&-; return 1; }
  printf '%s\n' "$first" > "$2"
  cat <&4 >> "$2" &
  exec 4<&-
  printf '%s' "$first"
  case "$first" in *" listening on http"*) return 0 ;; *) return 1 ;; esac
}
"#;

/// Where the script puts what the command at `line` wrote on stderr.
fn stderr_log(logs: &Path, name: &str, line: usize) -> std::path::PathBuf {
    logs.join(format!("docs-{name}-line-{line}.stderr.log"))
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// What the script printed for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Output {
    line: usize,
    text: String,
    status: i32,
}

/// Splits the script's stdout at the markers.
fn outputs(transcript: &str) -> Vec<Output> {
    let mut outputs = Vec::new();
    let mut rest = transcript;
    while let Some(begin) = rest.find("\u{1e}BEGIN ") {
        let after = &rest[begin + "\u{1e}BEGIN ".len()..];
        let Some((line, body)) = after.split_once('\n') else {
            break;
        };
        let Some(end) = body.find("\n\u{1e}END ") else {
            outputs.push(Output {
                line: line.parse().unwrap_or(0),
                text: body.to_owned(),
                status: -1,
            });
            break;
        };
        let text = body[..end].to_owned();
        let tail = &body[end + "\n\u{1e}END ".len()..];
        let (fields, next) = tail.split_once('\n').unwrap_or((tail, ""));
        let status = fields
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(-1);
        outputs.push(Output {
            line: line.parse().unwrap_or(0),
            text,
            status,
        });
        rest = next;
    }
    outputs
}

/// How the commands reach a network where the documented ports are free.
fn isolation() -> Result<Vec<String>> {
    // A private network namespace: its own loopback, so 8080/8081 are free whatever the
    // machine runs. As root a plain one; otherwise inside a user namespace (no privilege needed).
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0");
    let unshare: Vec<String> = if is_root {
        vec!["unshare".into(), "--net".into()]
    } else {
        vec![
            "unshare".into(),
            "--user".into(),
            "--map-root-user".into(),
            "--net".into(),
        ]
    };
    let probe = Command::new(&unshare[0])
        .args(&unshare[1..])
        .args(["ip", "link", "set", "lo", "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_ok_and(|status| status.success()) {
        return Ok(unshare);
    }
    // No namespaces (not Linux, or forbidden): the host network, only if the ports are free.
    for port in [8080, 8081] {
        ensure!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "the docs use 127.0.0.1:{port}, which is taken here, and no private network namespace \
             can be made (`unshare --net` needs Linux and root or user namespaces); free the port"
        );
    }
    Ok(Vec::new())
}

/// What one document's session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Commands run (servers included).
    pub(crate) commands: usize,
    /// Shown answers compared with what their command printed.
    pub(crate) compared: usize,
}

/// Runs one document's text.
pub(crate) fn run_text(root: &Path, logs: &Path, name: &str, doc: &str) -> Result<Tally> {
    run_text_in(root, logs, name, doc, &isolation()?)
}

/// Runs one document's text in the host's network, not a private namespace: for a page whose
/// commands drive the Docker daemon, which publishes ports in the host's network (the
/// documented ports must then be free here; `cargo xtask containers` runs docs/docker.md so).
pub(crate) fn run_text_on_host(root: &Path, logs: &Path, name: &str, doc: &str) -> Result<Tally> {
    run_text_in(root, logs, name, doc, &[])
}

fn run_text_in(
    root: &Path,
    logs: &Path,
    name: &str,
    doc: &str,
    isolation: &[String],
) -> Result<Tally> {
    let steps = steps(doc);
    check_ci_commands(root, name, &steps)?;
    // A page name may hold a `/` (docs/docker.md): the script's files stay in `logs`.
    let name = &name.replace('/', "-");
    let path = logs.join(format!("docs-{name}.sh"));
    std::fs::write(&path, script(&steps, logs, name))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut command = match isolation.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command
                .args(args)
                .args(["bash", "-c", "ip link set lo up && exec bash \"$0\""]);
            command
        }
        None => Command::new("bash"),
    };
    command.arg(&path).current_dir(root).stdin(Stdio::null());
    // The reader's environment, not cargo's: nothing of this xtask's package, no CCFLOW_*.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CCFLOW_")
            || [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_BIN_",
                "CARGO_CRATE_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || name == "CARGO_PRIMARY_PACKAGE"
        {
            command.env_remove(name.as_ref());
        }
    }
    let output = super::process::output_within(command, SESSION_DEADLINE)
        .with_context(|| format!("{name}: running its commands"))?;
    let transcript = String::from_utf8_lossy(&output);
    let outputs = outputs(&transcript);
    check_session(name, &steps, &outputs).map_err(|error| {
        // The failing command's stderr, if it wrote any, is the most useful line of all.
        let stderr = steps
            .iter()
            .filter_map(|step| match step {
                Step::Run { line, .. } => std::fs::read_to_string(stderr_log(logs, name, *line))
                    .ok()
                    .filter(|text| !text.trim().is_empty())
                    .map(|text| format!("line {line} stderr: {}", text.trim())),
                Step::Shown { .. } => None,
            })
            .collect::<Vec<_>>();
        if stderr.is_empty() {
            error
        } else {
            error.context(stderr.join("\n"))
        }
    })
}

/// A documented `cargo test`/`cargo xtask` line must be one `.ci/run` runs, as written.
fn check_ci_commands(root: &Path, name: &str, steps: &[Step]) -> Result<()> {
    let ci = std::fs::read_to_string(root.join(".ci/run")).context("cannot read .ci/run")?;
    let ci_lines: Vec<&str> = ci.lines().map(without_comment).collect();
    for step in steps {
        if let Step::Run { line, command } = step
            && role(command) == Role::Ci
        {
            let command = without_comment(command);
            ensure!(
                ci_lines.contains(&command),
                "{name}:{line}: `{command}` is documented but .ci/run does not run it as written"
            );
        }
    }
    Ok(())
}

fn without_comment(line: &str) -> &str {
    line.split(" #").next().unwrap_or(line).trim()
}

/// The page and the product disagree (as opposed to the run itself failing: a file that cannot
/// be written, a shell that cannot start). The mutants must be refused for this reason only.
#[derive(Debug)]
struct Mismatch(String);

impl std::fmt::Display for Mismatch {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

/// Holds every command to a zero exit status and every shown answer to the output before it.
fn check_session(name: &str, steps: &[Step], outputs: &[Output]) -> Result<Tally> {
    let mut outputs = outputs.iter();
    let mut last: Option<&Output> = None;
    let mut tally = Tally {
        commands: 0,
        compared: 0,
    };
    let mut differences = Vec::new();
    for step in steps {
        match step {
            Step::Run { command, .. } if role(command) == Role::Ci => {}
            Step::Run { line, command } => {
                let output = outputs
                    .next()
                    .with_context(|| format!("{name}:{line}: `{command}` did not run"))?;
                ensure!(
                    output.line == *line,
                    "{name}:{line}: the transcript is out of step (line {})",
                    output.line
                );
                tally.commands += 1;
                last = Some(output);
                if output.status != 0 {
                    differences.push(format!(
                        "{name}:{line}: `{command}` failed (exit status {}); it printed:\n{}",
                        output.status, output.text
                    ));
                    // What follows depends on it; one failure is enough to read.
                    break;
                }
            }
            Step::Shown { line, text } => {
                let output = last.take().with_context(|| {
                    format!("{name}:{line}: an answer with no command before it")
                })?;
                let shown = shown_json(text)
                    .with_context(|| format!("{name}:{line}: the shown answer is not JSON"))?;
                let printed: Json =
                    serde_json::from_str(output.text.trim()).with_context(|| {
                        format!(
                            "{name}:{line}: the command at line {} printed no JSON:\n{}",
                            output.line, output.text
                        )
                    })?;
                if let Err(difference) = compare(&shown, &printed, "$") {
                    differences.push(format!(
                        "{name}:{line}: {difference}\n  shown:   {}\n  printed: {}",
                        text.trim(),
                        output.text.trim()
                    ));
                }
                tally.compared += 1;
            }
        }
    }
    // Every shown answer that differs, not only the first: one run tells a writer all of it.
    if !differences.is_empty() {
        return Err(Mismatch(differences.join("\n")).into());
    }
    ensure!(tally.commands > 0, "{name}: no command ran");
    Ok(tally)
}

/// Runs one document of the repository.
pub(crate) fn run(root: &Path, logs: &Path, document: &str) -> Result<Tally> {
    let text = std::fs::read_to_string(root.join(document))
        .with_context(|| format!("cannot read {document}"))?;
    run_text(root, logs, &document.replace(['/', '.'], "-"), &text)
}

/// The check must be able to fail: README with one shown value changed, and with one command's
/// port changed, must each be refused. Returns what was refused, for the report.
pub(crate) fn run_mutants(root: &Path, logs: &Path) -> Result<String> {
    let readme =
        std::fs::read_to_string(root.join("README.md")).context("cannot read README.md")?;
    let mutants = [
        (
            "a shown value changed",
            readme.replacen("\"expires_in\":3600", "\"expires_in\":3601", 1),
        ),
        (
            "a command's port changed",
            readme.replacen(
                "127.0.0.1:8080/oauth2/token",
                "127.0.0.1:8089/oauth2/token",
                1,
            ),
        ),
    ];
    let mut refused = Vec::new();
    for (index, (what, text)) in mutants.iter().enumerate() {
        ensure!(
            *text != readme,
            "README.md no longer has the line the mutant `{what}` changes"
        );
        match run_text(root, logs, &format!("mutant-{index}"), text) {
            Ok(tally) => bail!(
                "README.md with {what} passed ({} answers compared)",
                tally.compared
            ),
            // Refused because page and product disagree, not because the run broke.
            Err(error) if error.chain().any(|cause| cause.is::<Mismatch>()) => {
                refused.push(format!("{what}: refused ({})", first_line(&error)));
            }
            Err(error) => return Err(error.context(format!("running the mutant `{what}`"))),
        }
    }
    Ok(refused.join("; "))
}

fn first_line(error: &anyhow::Error) -> String {
    format!("{error:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_start_in_the_background_and_everything_else_runs_in_turn() {
        let cases = [
            ("cargo run -p ccflow-auth-server -- --tls", Role::AuthServer),
            ("ccflow-auth-server --profile slb", Role::AuthServer),
            (
                "cargo run -p ccflow-resource-api -- --issuer x",
                Role::ResourceApi,
            ),
            (
                "cargo run -p ccflow-auth-server -- --tls healthcheck && echo ok",
                Role::Command,
            ),
            (
                "cargo run -p ccflow-auth-server -- probe api --issuer x",
                Role::Command,
            ),
            ("ccflow-auth-server probe api --issuer x", Role::Command),
            (
                "cargo run -p ccflow-auth-server -- cert --client-id a",
                Role::Command,
            ),
            ("cargo xtask e2e", Role::Ci),
            ("cargo test --workspace", Role::Ci),
            ("curl -s http://127.0.0.1:8080/", Role::Command),
        ];
        for (command, expected) in cases {
            assert_eq!(role(command), expected, "{command}");
        }
    }

    #[test]
    fn commands_join_continuations_and_skip_comments() {
        let doc = "text\n```sh\n# a comment\ncurl -s \\\n  http://x # trailing\n\nTOKEN=$(a)\n```\n\n```json\n{\"a\":1}\n```\n```rust\nignored\n```\n";
        assert_eq!(
            steps(doc),
            vec![
                Step::Run {
                    line: 4,
                    command: "curl -s   http://x # trailing".to_owned()
                },
                Step::Run {
                    line: 7,
                    command: "TOKEN=$(a)".to_owned()
                },
                Step::Shown {
                    line: 11,
                    text: "{\"a\":1}".to_owned()
                },
            ]
        );
    }

    #[test]
    fn the_transcript_splits_at_the_markers() {
        let transcript =
            "\u{1e}BEGIN 3\n{\"a\":1}\n\u{1e}END 3 0\nnoise\n\u{1e}BEGIN 5\n\n\u{1e}END 5 7\n";
        assert_eq!(
            outputs(transcript),
            vec![
                Output {
                    line: 3,
                    text: "{\"a\":1}".to_owned(),
                    status: 0
                },
                Output {
                    line: 5,
                    text: String::new(),
                    status: 7
                },
            ]
        );
    }

    #[test]
    fn a_failing_command_or_a_wrong_answer_fails_the_session() {
        let steps = steps("```sh\ncurl a\n```\n```json\n{\"a\":1}\n```\n");
        let ok = [Output {
            line: 2,
            text: "{\"a\":1}".to_owned(),
            status: 0,
        }];
        assert_eq!(
            check_session("doc", &steps, &ok).expect("passes"),
            Tally {
                commands: 1,
                compared: 1
            }
        );
        let wrong = [Output {
            line: 2,
            text: "{\"a\":2}".to_owned(),
            status: 0,
        }];
        assert!(check_session("doc", &steps, &wrong).is_err());
        let failed = [Output {
            line: 2,
            text: String::new(),
            status: 7,
        }];
        let error = check_session("doc", &steps, &failed).expect_err("fails");
        assert!(format!("{error:#}").contains("exit status 7"), "{error:#}");
        assert!(check_session("doc", &steps, &[]).is_err());
    }
}
