//! Log hygiene: one line per request with its outcome, and never a secret or token.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{basic, form, post_form, start, token};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_logs_carry_the_outcome_but_no_secret_or_token() {
    let capture = Capture::default();
    let writer = capture.clone();
    // The server logs from its own threads, so the subscriber must be global.
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .init();

    let (server, _clock) = start().await;
    let issued = token(&server, "orders-service", "orders-secret", &[]).await;
    let access_token = issued["access_token"].as_str().unwrap().to_owned();
    let authorization = basic("orders-service", "orders-secret");
    post_form(
        &server.token_url(),
        Some(&basic("orders-service", "wrong-secret")),
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    post_form(
        &server.token_url(),
        None,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "post-only"),
            ("client_secret", "post-secret"),
        ]),
    )
    .await;
    post_form(
        &server.introspection_url().unwrap(),
        Some(&authorization),
        form(&[("token", &access_token)]),
    )
    .await;
    // Admin calls: allowed reads at debug (the console polls), state changes and refusals at
    // info.
    let admin = common::http();
    let admin_url = |path: &str| format!("{}/_ccflow{path}", server.uri());
    admin.get(admin_url("/keys")).send().await.unwrap();
    admin.delete(admin_url("/requests")).send().await.unwrap();
    admin
        .get(admin_url("/keys"))
        .header("host", "rebind.example")
        .send()
        .await
        .unwrap();
    drop(server);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let admin_lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("admin call"))
        .collect();
    assert_eq!(admin_lines.len(), 3, "one line per admin call:\n{logs}");
    for (line, level, allowed) in [
        (admin_lines[0], "DEBUG", "allowed=true"),
        (admin_lines[1], " INFO", "allowed=true"),
        (admin_lines[2], " INFO", "allowed=false"),
    ] {
        assert!(
            line.contains(level) && line.contains(allowed),
            "{level} {allowed}: {line}"
        );
    }
    let request_lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("ccflow_auth_server::request"))
        .collect();
    assert_eq!(request_lines.len(), 4, "one line per request:\n{logs}");
    assert!(
        request_lines[0].contains("client_id=\"orders-service\"")
            || request_lines[0].contains("client_id=orders-service"),
        "{logs}"
    );
    assert!(request_lines[0].contains("status=200"), "{logs}");
    assert!(
        request_lines[1].contains("outcome=\"invalid_client\"")
            || request_lines[1].contains("outcome=invalid_client"),
        "{logs}"
    );
    assert!(request_lines[1].contains("status=401"), "{logs}");
    for secret in [
        "orders-secret",
        "wrong-secret",
        "post-secret",
        &access_token,
        &authorization[6..],
    ] {
        assert!(!logs.contains(secret), "logs leak `{secret:.12}…`:\n{logs}");
    }
    // Not even a piece of the token's signature.
    let signature = access_token.rsplit('.').next().unwrap();
    assert!(!logs.contains(&signature[..16]));
}
