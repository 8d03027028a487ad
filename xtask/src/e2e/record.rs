//! What a flow observed, redacted where it changes from run to run (after checking its shape),
//! and compared with the reviewed snapshot `xtask/snapshots/<profile>__<flow>.snap` (insta's
//! file format, so `cargo insta review` can accept `.snap.new` files too).

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use ccflow_protocol::Profile;
use serde_json::{Value, json};

/// Members holding times: checked to be numbers, then redacted.
const TIMES: [&str; 8] = [
    "iat",
    "exp",
    "nbf",
    "auth_time",
    "received_at",
    "now",
    "retire_at",
    "expires_at",
];

/// Replaces what changes between runs. `hosts` maps run-specific strings (URIs, addresses) to
/// stable names.
pub(crate) fn redact(value: &mut Value, hosts: &[(String, String)]) -> Result<()> {
    match value {
        Value::Object(map) => {
            for (name, member) in map.iter_mut() {
                if TIMES.contains(&name.as_str()) && !member.is_null() {
                    if !member.is_number() {
                        bail!("`{name}` should be a number, got {member}");
                    }
                    *member = json!("[time]");
                } else if name == "jti" {
                    let ok = member.as_str().is_some_and(|jti| jti.len() >= 16);
                    if !ok {
                        bail!("`jti` should be a random id, got {member}");
                    }
                    *member = json!("[jti]");
                } else if name == "latency_us" {
                    *member = json!("[latency]");
                } else if name.eq_ignore_ascii_case("x-trace-id")
                    || name.eq_ignore_ascii_case("x-request-id")
                {
                    *member = json!("[request id]");
                } else if name == "refresh_token" {
                    *member = json!("[refresh token]");
                } else {
                    redact(member, hosts)?;
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                redact(item, hosts)?;
            }
        }
        Value::String(text) => {
            if looks_like_jwt(text) {
                *text = "[jwt]".to_owned();
            } else {
                for (from, to) in hosts {
                    if text.contains(from.as_str()) {
                        *text = text.replace(from.as_str(), to);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn looks_like_jwt(text: &str) -> bool {
    text.starts_with("eyJ") && text.split('.').count() == 3 && text.len() > 40
}

/// A JWT's decoded header and claims, for the snapshot.
pub(crate) fn decode(token: &str) -> Value {
    let segment = |index: usize| -> Value {
        token
            .split('.')
            .nth(index)
            .and_then(|segment| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(segment)
                    .ok()
            })
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null)
    };
    json!({"header": segment(0), "claims": segment(1)})
}

const HEADER: &str = "---\nsource: xtask/src/e2e/record.rs\nexpression: observed\n---\n";

/// Compares `observed` with the snapshot; `--accept` writes it instead. Outside CI a mismatch
/// leaves a `.snap.new` beside the snapshot for review.
pub(crate) fn compare(
    root: &Path,
    profile: Profile,
    flow: &str,
    observed: &Value,
    accept: bool,
) -> Result<String> {
    let dir = root.join("xtask/snapshots");
    let name = format!("e2e__{}__{}", profile.as_str(), flow);
    let path = dir.join(format!("{name}.snap"));
    let rendered = format!("{}\n", serde_json::to_string_pretty(observed)?);
    if accept {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&path, format!("{HEADER}{rendered}"))
            .with_context(|| format!("cannot write {}", path.display()))?;
        let _ = std::fs::remove_file(dir.join(format!("{name}.snap.new")));
        return Ok(format!("wrote xtask/snapshots/{name}.snap"));
    }
    let stored = match std::fs::read_to_string(&path) {
        Ok(stored) => stored,
        Err(_) => {
            write_pending(&dir, &name, &rendered);
            bail!(
                "no snapshot {} yet: review the output and run `cargo xtask e2e --accept`",
                path.display()
            );
        }
    };
    let expected = stored.splitn(3, "---\n").nth(2).unwrap_or_default();
    if expected == rendered {
        let size = match observed {
            Value::Array(items) => format!("{} observations, ", items.len()),
            Value::Object(members) => format!("{} observed values, ", members.len()),
            _ => String::new(),
        };
        return Ok(format!(
            "matches xtask/snapshots/{name}.snap ({size}{} lines)",
            rendered.lines().count()
        ));
    }
    write_pending(&dir, &name, &rendered);
    // A unified diff with three lines of context: where in the flow the change is.
    let diff = similar::TextDiff::from_lines(expected, rendered.as_str());
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header("reviewed", "observed")
        .to_string();
    bail!("snapshot {} differs:\n{text}", path.display())
}

/// Leaves the observed value as a pending insta snapshot, unless in CI.
fn write_pending(dir: &Path, name: &str, rendered: &str) {
    let in_ci =
        std::env::var_os("CI").is_some() || std::env::var("INSTA_UPDATE").is_ok_and(|v| v == "no");
    if !in_ci && std::fs::create_dir_all(dir).is_ok() {
        let _ = std::fs::write(
            dir.join(format!("{name}.snap.new")),
            format!("{HEADER}{rendered}"),
        );
    }
}
