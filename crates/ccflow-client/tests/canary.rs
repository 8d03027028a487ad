//! Secret hygiene across the SDK: a unique secret and token never appear in any captured log
//! line, `Debug` output or error message.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccflow_client::{AuthorizedClient, RetryPolicy, TokenClient};
use common::Harness;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SECRET: &str = "canary-secret-5f1c0d9e";
const TOKEN: &str = "canary-token-8a7b6c5d";

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
async fn the_canary_secret_and_token_never_leak() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .init();

    let h = Harness::start().await;
    let mut seen = Vec::new();
    let builder = || {
        h.builder()
            .credentials("svc", SECRET)
            .retry(RetryPolicy::new(
                2,
                Duration::ZERO,
                Duration::ZERO,
                Duration::from_secs(5),
            ))
    };
    seen.push(format!("{:?}", builder()));

    // A success, then every kind of failure that might echo what it received.
    let responses = [
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 0})),
        ResponseTemplate::new(200).set_body_json(
            json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": "soon"}),
        ),
        ResponseTemplate::new(500).set_body_string(format!(
            "internal error while checking {SECRET} for token {TOKEN}"
        )),
        ResponseTemplate::new(401)
            .set_body_json(json!({"error": "invalid_client", "error_description": "bad client"})),
        ResponseTemplate::new(200).set_body_raw(format!("<html>{TOKEN}</html>"), "text/html"),
    ];
    for response in responses {
        h.server.reset().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(response)
            .mount(&h.server)
            .await;
        let client = builder().build().unwrap();
        seen.push(format!("{client:?}"));
        match client.token().await {
            Ok(token) => {
                assert_eq!(token.secret(), TOKEN);
                seen.push(format!("{token:?} {token}"));
            }
            Err(error) => seen.push(format!("{error} {error:?}")),
        }
    }
    // Through the authorized client, with a 401 invalid_token retry.
    h.server.reset().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 60}),
        ))
        .mount(&h.server)
        .await;
    Mock::given(path("/api"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", r#"Bearer error="invalid_token""#),
        )
        .mount(&h.server)
        .await;
    let api = AuthorizedClient::new(builder().build().unwrap());
    let response = api
        .send(api.get(format!("{}/api", h.server.uri())))
        .await
        .unwrap();
    seen.push(format!("{api:?} {response:?}"));
    let missing = TokenClient::builder()
        .token_url("https://example.invalid/token")
        .credentials("svc", SECRET)
        .build()
        .unwrap();
    seen.push(format!("{missing:?}"));

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("ccflow_client"),
        "logs were captured:\n{logs}"
    );
    for (index, text) in seen.iter().chain(std::iter::once(&logs)).enumerate() {
        assert!(
            !text.contains(SECRET),
            "output {index} leaks the secret: {text}"
        );
        assert!(
            !text.contains(TOKEN),
            "output {index} leaks the token: {text}"
        );
    }
}
