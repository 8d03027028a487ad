//! Docs that run: every curl session in the README and the guides is executed against the real
//! binaries, and each answer shown in a ```json block is compared with the real one (`…` stands
//! for any value). A doc that drifts from the code fails the e2e run.
//!
//! A session is a ```sh block whose lines start servers (`cargo run -p ccflow-auth-server [--
//! --config FILE]`, `cargo run -p ccflow-resource-api -- --issuer http://127.0.0.1:8080
//! --audience AUD`) or run `curl` (`-s`, `-u`, `-d`, `--data-urlencode`, `-H`, `-X`, the URL).
//! `127.0.0.1:8080` and `:8081` stand for the auth server and the resource API; `$TOKEN` for
//! the last `access_token` an answer carried.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::Value;

use super::START_DEADLINE;
use super::process::Server;

/// The documents whose sessions run.
pub(crate) const DOCUMENTS: [&str; 4] = [
    "README.md",
    "docs/quickstart.md",
    "docs/profiles.md",
    "docs/test-control.md",
];

const AUTH: &str = "http://127.0.0.1:8080";
const API: &str = "http://127.0.0.1:8081";

/// Fenced code blocks: language and text.
fn blocks(doc: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(language) = line
            .strip_prefix("```")
            .filter(|language| !language.is_empty())
        {
            let mut text = String::new();
            for line in lines.by_ref() {
                if line.starts_with("```") {
                    break;
                }
                text.push_str(line);
                text.push('\n');
            }
            blocks.push((language.to_owned(), text));
        }
    }
    blocks
}

/// Splits a command line as a POSIX shell would for the quoting the docs use.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (_, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Joins `\`-continued lines and drops comments.
fn commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let line = line.split(" # ").next().unwrap_or(line).trim_end();
        match line.strip_suffix('\\') {
            Some(start) => {
                pending.push_str(start);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

struct Session<'a> {
    root: &'a Path,
    binaries: &'a (PathBuf, PathBuf),
    logs: &'a Path,
    name: String,
    auth: Option<Server>,
    api: Option<Server>,
    token: Option<String>,
    started: usize,
}

impl Session<'_> {
    fn substitute(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if let Some(auth) = &self.auth {
            text = text.replace(AUTH, &auth.uri());
        }
        if let Some(api) = &self.api {
            text = text.replace(API, &api.uri());
        }
        if let Some(token) = &self.token {
            text = text.replace("$TOKEN", token);
        }
        text
    }

    fn log(&mut self, what: &str) -> PathBuf {
        self.started += 1;
        self.logs
            .join(format!("docs-{}-{}-{what}.log", self.name, self.started))
    }

    fn start(&mut self, command: &str) -> Result<()> {
        let words = words(command);
        let args: Vec<String> = words
            .iter()
            .skip_while(|word| *word != "--")
            .skip(1)
            .cloned()
            .collect();
        if command.starts_with("cargo run -p ccflow-auth-server") {
            self.api = None;
            let mut args: Vec<String> = args
                .into_iter()
                .map(|arg| {
                    if arg.ends_with(".toml") {
                        self.root.join(arg).display().to_string()
                    } else {
                        arg
                    }
                })
                .collect();
            args.extend(["--bind".to_owned(), "127.0.0.1:0".to_owned()]);
            let log = self.log("auth-server");
            self.auth = Some(Server::start(&self.binaries.0, &args, log, START_DEADLINE)?);
        } else {
            let mut args: Vec<String> = args.iter().map(|arg| self.substitute(arg)).collect();
            args.extend(["--bind".to_owned(), "127.0.0.1:0".to_owned()]);
            let log = self.log("resource-api");
            self.api = Some(Server::start(&self.binaries.1, &args, log, START_DEADLINE)?);
        }
        Ok(())
    }

    async fn curl(&mut self, command: &str) -> Result<Value> {
        let words = words(&self.substitute(command));
        let (mut method, mut url, mut data, mut headers, mut basic) =
            (None, None, Vec::new(), Vec::new(), None);
        let mut args = words.iter().skip(1);
        while let Some(arg) = args.next() {
            let mut next = || {
                args.next()
                    .cloned()
                    .with_context(|| format!("`{arg}` needs a value"))
            };
            match arg.as_str() {
                "-s" | "-i" => {}
                "-u" => basic = Some(next()?),
                "-d" | "--data" => data.push(next()?),
                "--data-urlencode" => {
                    let pair = next()?;
                    let (name, value) = pair.split_once('=').unwrap_or(("", pair.as_str()));
                    data.push(format!("{name}={}", ccflow_protocol::form_urlencode(value)));
                }
                "-H" => headers.push(next()?),
                "-X" => method = Some(next()?),
                other if other.starts_with("http://") => url = Some(other.to_owned()),
                other => bail!("the docs use a curl option this runner does not know: {other}"),
            }
        }
        let method = method.unwrap_or_else(|| {
            if data.is_empty() {
                "GET".to_owned()
            } else {
                "POST".to_owned()
            }
        });
        let mut request = reqwest::Client::new().request(method.parse()?, url.context("a URL")?);
        let mut has_content_type = false;
        for header in &headers {
            let (name, value) = header.split_once(':').context("Name: value")?;
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            request = request.header(name.trim(), value.trim());
        }
        if !data.is_empty() {
            if !has_content_type {
                request = request.header("content-type", "application/x-www-form-urlencoded");
            }
            request = request.body(data.join("&"));
        }
        if let Some(basic) = basic {
            let (id, secret) = basic.split_once(':').context("-u id:secret")?;
            // curl -u sends id:secret as they are (base64 of the raw pair).
            request = request.basic_auth(id, Some(secret));
        }
        let text = request.send().await?.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if let Some(token) = value.get("access_token").and_then(Value::as_str) {
            self.token = Some(token.to_owned());
        }
        Ok(value)
    }
}

fn check(expected: &Value, actual: &Value, context: &str) -> Result<()> {
    match (expected, actual) {
        (Value::String(wildcard), _) if wildcard == "…" => Ok(()),
        (Value::Object(expected), Value::Object(actual)) => {
            let mut wanted: Vec<&String> = expected.keys().collect();
            let mut got: Vec<&String> = actual.keys().collect();
            wanted.sort();
            got.sort();
            ensure!(
                wanted == got,
                "{context}: members {wanted:?} shown, {got:?} answered"
            );
            for (name, value) in expected {
                check(value, &actual[name], context)?;
            }
            Ok(())
        }
        (Value::Array(expected), Value::Array(actual)) => {
            ensure!(
                expected.len() == actual.len(),
                "{context}: {} items shown, {} answered",
                expected.len(),
                actual.len()
            );
            expected
                .iter()
                .zip(actual)
                .try_for_each(|(expected, actual)| check(expected, actual, context))
        }
        _ => {
            ensure!(
                expected == actual,
                "{context}: shown {expected}, answered {actual}"
            );
            Ok(())
        }
    }
}

/// Runs one document's sessions; returns how many answers were compared.
pub(crate) async fn run(
    root: &Path,
    binaries: &(PathBuf, PathBuf),
    logs: &Path,
    document: &str,
) -> Result<usize> {
    let text = std::fs::read_to_string(root.join(document))
        .with_context(|| format!("cannot read {document}"))?;
    let mut session = Session {
        root,
        binaries,
        logs,
        name: document.replace(['/', '.'], "-"),
        auth: None,
        api: None,
        token: None,
        started: 0,
    };
    let mut pending: Option<(String, Value)> = None;
    let mut compared = 0;
    for (language, text) in blocks(&text) {
        match language.as_str() {
            "sh" => {
                for command in commands(&text) {
                    if command.starts_with("cargo run -p ccflow-auth-server")
                        || command.starts_with("cargo run -p ccflow-resource-api")
                    {
                        session.start(&command)?;
                    } else if command.starts_with("curl ") {
                        ensure!(
                            session.auth.is_some(),
                            "{document}: `{command}` before any server is started"
                        );
                        let answer = session
                            .curl(&command)
                            .await
                            .with_context(|| format!("{document}: {command}"))?;
                        pending = Some((command, answer));
                    }
                }
            }
            "json" => {
                let (command, actual) = pending
                    .take()
                    .with_context(|| format!("{document}: a json answer with no curl before it"))?;
                let expected: Value = serde_json::from_str(&session.substitute(&text))
                    .with_context(|| format!("{document}: the shown answer is not JSON"))?;
                check(&expected, &actual, &format!("{document}: {command}"))?;
                compared += 1;
            }
            _ => {}
        }
    }
    Ok(compared)
}
