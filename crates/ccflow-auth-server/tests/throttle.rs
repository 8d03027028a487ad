//! Failed-authentication throttling against an embedded server: the threshold, `429` with
//! `Retry-After` until the window closes (time advanced on the server's virtual clock, never
//! slept), per client id and per address, unknown ids alike, no state changed, off by default.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use ccflow_auth_server::{AuthThrottle, Endpoint, Fault, MockAuthServer, VirtualClock};
use common::{T0, basic, fixture, form, post_form};
use serde_json::{Value, json};

const CC: (&str, &str) = ("grant_type", "client_credentials");

/// A server throttling after `per_client` failures per id and `per_ip` per address in a
/// 60 s window, on a virtual clock frozen at `T0`.
async fn throttled_server(per_client: u32, per_ip: u32) -> (MockAuthServer, VirtualClock) {
    let clock = VirtualClock::new();
    clock.set(UNIX_EPOCH + Duration::from_secs(T0));
    clock.freeze();
    let server = common::builder(&common::clock())
        .virtual_clock(clock.clone())
        .auth_throttle(
            AuthThrottle::default()
                .max_failures_per_client(per_client)
                .max_failures_per_ip(per_ip)
                .window(Duration::from_secs(60)),
        )
        .start()
        .await
        .expect("server starts");
    (server, clock)
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn post(url: &str, authorization: Option<&str>, pairs: &[(&str, &str)]) -> Answer {
    let response = post_form(url, authorization, form(pairs)).await;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

async fn basic_token(server: &MockAuthServer, id: &str, secret: &str) -> Answer {
    post(&server.token_url(), Some(&basic(id, secret)), &[CC]).await
}

#[track_caller]
fn assert_throttled(answer: &Answer, retry_after: u64) {
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(
        answer.retry_after.as_deref(),
        Some(retry_after.to_string().as_str())
    );
    assert_eq!(answer.body["error"], "temporarily_unavailable");
    assert_eq!(
        answer.body["error_description"],
        format!(
            "too many failed client authentication attempts; retry after {retry_after} seconds"
        )
    );
    assert!(answer.body.get("access_token").is_none());
}

#[tokio::test]
async fn a_client_id_is_throttled_after_the_threshold_until_the_window_closes() {
    let (server, clock) = throttled_server(3, 1000).await;
    for _ in 0..3 {
        let answer = basic_token(&server, "orders-service", "wrong").await;
        assert_eq!(
            (answer.status, answer.body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }
    // The right secret does not get through while the id is blocked.
    assert_throttled(
        &basic_token(&server, "orders-service", "orders-secret").await,
        60,
    );
    clock.advance(Duration::from_secs(59));
    assert_throttled(
        &basic_token(&server, "orders-service", "orders-secret").await,
        1,
    );
    // Throttled requests do not count: the window still closes 60 s after the first failure.
    clock.advance(Duration::from_secs(1));
    let answer = basic_token(&server, "orders-service", "orders-secret").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    server
        .assert_token_requests()
        .for_client("orders-service")
        .with_status(429)
        .exactly(2);
    server.assert_token_requests().successful().exactly(1);
    let journal = server.received_requests();
    let throttled = journal
        .iter()
        .find(|entry| entry.status == 429)
        .expect("journaled");
    assert_eq!(
        throttled.error.as_ref().map(|code| code.as_str()),
        Some("temporarily_unavailable")
    );
}

#[tokio::test]
async fn the_threshold_is_exact_and_successes_neither_count_nor_reset() {
    let (server, _clock) = throttled_server(3, 1000).await;
    for _ in 0..2 {
        assert_eq!(
            basic_token(&server, "orders-service", "wrong").await.status,
            401
        );
        for _ in 0..3 {
            let answer = basic_token(&server, "orders-service", "orders-secret").await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
    }
    // Two failures so far: the third is still answered 401, the next request 429.
    assert_eq!(
        basic_token(&server, "orders-service", "wrong").await.status,
        401
    );
    assert_throttled(
        &basic_token(&server, "orders-service", "orders-secret").await,
        60,
    );
    // A different id from the same address is not blocked by the per-client count.
    let answer = post(
        &server.token_url(),
        None,
        &[
            CC,
            ("client_id", "post-only"),
            ("client_secret", "post-secret"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn unknown_client_ids_are_throttled_exactly_like_known_ones() {
    let (server, _clock) = throttled_server(2, 1000).await;
    let mut answers = Vec::new();
    for id in ["orders-service", "no-such-client"] {
        for _ in 0..2 {
            assert_eq!(basic_token(&server, id, "wrong").await.status, 401);
        }
        answers.push(basic_token(&server, id, "whatever").await);
    }
    assert_throttled(&answers[0], 60);
    assert_throttled(&answers[1], 60);
    assert_eq!(answers[0].body, answers[1].body);
}

#[tokio::test]
async fn an_address_is_throttled_across_client_ids() {
    let (server, clock) = throttled_server(1000, 4).await;
    for n in 0..4 {
        let id = format!("random-{n}");
        let answer = post(
            &server.token_url(),
            None,
            &[CC, ("client_id", &id), ("client_secret", "guess")],
        )
        .await;
        assert_eq!(answer.status, 401);
    }
    // Every request from the address now waits, whatever it names, even no client at all.
    assert_throttled(
        &basic_token(&server, "orders-service", "orders-secret").await,
        60,
    );
    assert_throttled(&post(&server.token_url(), None, &[CC]).await, 60);
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        basic_token(&server, "orders-service", "orders-secret")
            .await
            .status,
        200
    );
}

fn assertion(server: &MockAuthServer, jti: &str, key_pem: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("rsa key");
    let claims = json!({
        "iss": "jwt-client", "sub": "jwt-client", "aud": server.token_url(),
        "iat": T0, "exp": T0 + 240, "jti": jti,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .expect("assertion signs")
}

async fn assertion_token(server: &MockAuthServer, assertion: &str) -> Answer {
    post(
        &server.token_url(),
        None,
        &[
            CC,
            ("client_id", "jwt-client"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ],
    )
    .await
}

#[tokio::test]
async fn bad_assertions_count_and_a_throttled_request_changes_no_state() {
    let (server, clock) = throttled_server(2, 1000).await;
    // Signed by a key the client did not register: invalid_client, counted.
    let foreign = fixture("keys/rs256-1.pem");
    for n in 0..2 {
        let answer =
            assertion_token(&server, &assertion(&server, &format!("bad-{n}"), &foreign)).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    // A fault scenario waiting for the next token request.
    server
        .on_token()
        .times(1)
        .respond(Fault::status(503).retry_after(7));
    let good = assertion(&server, "good", &fixture("keys/client-rs256.pem"));
    assert_throttled(&assertion_token(&server, &good).await, 60);
    clock.advance(Duration::from_secs(60));
    // The fault was not consumed by the throttled request...
    let answer = assertion_token(&server, &good).await;
    assert_eq!(answer.status, 503);
    // ...nor the assertion's jti: the same assertion still works.
    let answer = assertion_token(&server, &good).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn introspection_and_revocation_count_failures_and_are_throttled() {
    let (server, _clock) = throttled_server(2, 1000).await;
    let token = basic_token(&server, "orders-service", "orders-secret")
        .await
        .body["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let introspect = server.introspection_url().expect("rfc introspects");
    let revoke = server.revocation_url().expect("rfc revokes");
    let wrong = basic("orders-service", "wrong");
    assert_eq!(
        post(&introspect, Some(&wrong), &[("token", &token)])
            .await
            .status,
        401
    );
    assert_eq!(
        post(&revoke, Some(&wrong), &[("token", &token)])
            .await
            .status,
        401
    );
    let right = basic("orders-service", "orders-secret");
    assert_throttled(&post(&revoke, Some(&right), &[("token", &token)]).await, 60);
    assert_throttled(
        &post(&introspect, Some(&right), &[("token", &token)]).await,
        60,
    );
    assert_throttled(
        &basic_token(&server, "orders-service", "orders-secret").await,
        60,
    );
    // The throttled revocation did not revoke: clearing the counts shows the token active.
    server.app().clear_auth_failures();
    let answer = post(&introspect, Some(&right), &[("token", &token)]).await;
    assert_eq!(answer.body["active"], true, "{}", answer.body);
    server
        .assert_requests(Some(Endpoint::Revocation))
        .with_status(429)
        .exactly(1);
}

async fn admin(method: reqwest::Method, server: &MockAuthServer) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}/_ccflow/throttle", server.uri()))
        .send()
        .await
        .expect("the admin API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_api_shows_the_throttle_and_clears_it() {
    let (server, _clock) = throttled_server(2, 1000).await;
    let (status, state) = admin(reqwest::Method::GET, &server).await;
    assert_eq!(status, 200);
    assert_eq!(
        state,
        json!({
            "enabled": true,
            "settings": {
                "max_failures_per_client": 2, "max_failures_per_ip": 1000,
                "window_secs": 60, "max_tracked": 10_000,
            },
            "tracked_client_ids": 0,
            "tracked_addresses": 0,
        })
    );
    for id in ["orders-service", "orders-service", "nobody"] {
        assert_eq!(basic_token(&server, id, "wrong").await.status, 401);
    }
    assert_throttled(
        &basic_token(&server, "orders-service", "orders-secret").await,
        60,
    );
    let (_, state) = admin(reqwest::Method::GET, &server).await;
    assert_eq!(
        (&state["tracked_client_ids"], &state["tracked_addresses"]),
        (&json!(2), &json!(1)),
        "{state}"
    );

    // What a test run between cases calls: no block and no count survives it.
    assert_eq!(admin(reqwest::Method::DELETE, &server).await.0, 204);
    let (_, state) = admin(reqwest::Method::GET, &server).await;
    assert_eq!(
        (&state["tracked_client_ids"], &state["tracked_addresses"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(
        basic_token(&server, "orders-service", "orders-secret")
            .await
            .status,
        200
    );
    // Counting starts again from zero: one failure is below the threshold of two.
    assert_eq!(
        basic_token(&server, "orders-service", "wrong").await.status,
        401
    );
    assert_eq!(
        basic_token(&server, "orders-service", "orders-secret")
            .await
            .status,
        200
    );

    // With throttling off there is nothing to show, and clearing is harmless.
    let (plain, _clock) = common::start().await;
    assert_eq!(
        admin(reqwest::Method::GET, &plain).await,
        (200, json!({ "enabled": false }))
    );
    assert_eq!(admin(reqwest::Method::DELETE, &plain).await.0, 204);
}

#[tokio::test]
async fn throttling_is_off_by_default() {
    let (server, _clock) = common::start().await;
    for _ in 0..50 {
        assert_eq!(
            basic_token(&server, "orders-service", "wrong").await.status,
            401
        );
    }
    assert_eq!(
        basic_token(&server, "orders-service", "orders-secret")
            .await
            .status,
        200
    );
    server.assert_token_requests().with_status(429).none();
}

#[tokio::test]
async fn a_bad_throttle_setting_is_a_configuration_error() {
    let error = MockAuthServer::builder()
        .auth_throttle(AuthThrottle::default().max_tracked(0))
        .start()
        .await
        .expect_err("zero is refused");
    assert!(
        error.to_string().contains("throttle.max_tracked"),
        "{error}"
    );
}
