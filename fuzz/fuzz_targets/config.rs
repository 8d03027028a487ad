//! The auth server's TOML configuration loader (`MockAuthServerBuilder::from_config_str`) and
//! the validation `into_app` does before a server would start.
//!
//! Input: the configuration text; relative key paths resolve against `fixtures/`, so the
//! fixture keys are reachable. Asserts: no panic, every mistake is an `Err` with a field and a
//! reason, and no error message repeats a configured client secret.
#![no_main]

use ccflow_auth_server::MockAuthServerBuilder;
use ccflow_fuzz::fixtures_dir;
use libfuzzer_sys::fuzz_target;

/// The values of `client_secret = "..."` lines (without escapes).
fn secrets(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("client_secret"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .filter_map(|rest| rest.trim().strip_prefix('"'))
        .filter_map(|rest| rest.split('"').next())
        .filter(|secret| secret.len() >= 4 && !secret.contains('\\'))
        .collect()
}

/// Loads and validates `text`; the error message, if any.
fn load(text: &str) -> Option<String> {
    match MockAuthServerBuilder::from_config_str(text, fixtures_dir()) {
        Err(error) => {
            assert!(
                !error.field.is_empty() && !error.why.is_empty(),
                "{error:?}"
            );
            Some(error.to_string())
        }
        Ok(builder) => builder
            .into_app("http://127.0.0.1:8080")
            .err()
            .map(|error| error.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Reading a device or a FIFO blocks forever; which files a config names is the operator's
    // choice, not something a parser can defend against.
    if ["/dev", "/proc", "/sys", "\\\\"]
        .iter()
        .any(|path| text.contains(path))
    {
        return;
    }
    let Some(error) = load(text) else {
        return;
    };
    assert!(!error.is_empty());
    for secret in secrets(text) {
        if !error.contains(secret) {
            continue;
        }
        // The secret's text shows in the message: coincidence (e.g. a secret `value` against
        // "key with no value") or an echo? Change the secret alone and look for the new one.
        let marker = "Q".repeat(secret.chars().count());
        let changed = text.replace(&format!("\"{secret}\""), &format!("\"{marker}\""));
        if let Some(again) = load(&changed) {
            assert!(
                !again.contains(&marker),
                "the error repeats a secret: {again}"
            );
        }
    }
});
