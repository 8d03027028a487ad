//! What the validator logs: refusals and key-fetch trouble are visible, and no token, signature
//! or `Authorization` value ever appears, at any level.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use ccflow_resource_api::sample_api::SampleApi;
use common::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// Collects everything written by the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[actix_web::test]
async fn refusals_are_logged_without_any_token_material() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Current-thread runtime: the refresh task runs on this thread too.
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = mock_server().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(&[&key_1()]))
        .mount(&server)
        .await;
    let clock = clock();
    let api = SampleApi::new(validator_for(&server, &clock).build().unwrap());
    let valid = token(&key_1());
    let expired = token_with_claims(&key_1(), &claims_with(&json!({"exp": T0 - 3600})));
    let forged = sign_with(&key_2(), &header(&key_1()), &claims());

    assert_eq!(
        send(&api, get("/v1/items").insert_header(bearer(&valid)))
            .await
            .status,
        503
    );
    clock.advance(std::time::Duration::from_secs(5));
    for token in [&valid, &expired, &forged] {
        send(&api, get("/v1/items").insert_header(bearer(token))).await;
    }

    let logs = captured.text();
    assert!(logs.contains("refused a request"), "{logs}");
    assert!(logs.contains("the token expired"), "{logs}");
    assert!(logs.contains("JWKS fetch failed"), "{logs}");
    assert!(logs.contains("loaded the issuer's signing keys"), "{logs}");
    for token in [&valid, &expired, &forged] {
        for part in token.split('.') {
            assert!(
                !logs.contains(part),
                "a token part leaked into the logs:\n{logs}"
            );
        }
    }
    assert!(!logs.contains("Bearer ey"), "{logs}");
}
