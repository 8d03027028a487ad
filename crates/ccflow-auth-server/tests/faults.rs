//! Fault scenarios: every action, the matchers, the Rust API and the admin API.

mod common;

use std::time::Duration;

use ccflow_auth_server::protocol::ErrorCode;
use ccflow_auth_server::{
    Client, Endpoint, Fault, MockAuthServer, MockAuthServerBuilder, SigningKey,
};
use common::{basic, fixture, form, get_json, http, introspect, post_form};
use serde_json::{Value, json};

async fn server() -> MockAuthServer {
    MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .client(Client::new("svc", "secret"))
        .client(Client::new("other", "other-secret"))
        .start()
        .await
        .unwrap()
}

async fn token_request(server: &MockAuthServer, id: &str, secret: &str) -> reqwest::Response {
    post_form(
        &server.token_url(),
        Some(&basic(id, secret)),
        form(&[("grant_type", "client_credentials")]),
    )
    .await
}

async fn ok_body(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_503_with_retry_after_for_the_first_two_requests_of_one_client() {
    let server = server().await;
    let scenario = server
        .on_token()
        .for_client("svc")
        .times(2)
        .respond(Fault::status(503).retry_after(5));
    for _ in 0..2 {
        let response = token_request(&server, "svc", "secret").await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "5");
    }
    ok_body(token_request(&server, "other", "other-secret").await).await;
    ok_body(token_request(&server, "svc", "secret").await).await;
    assert_eq!((scenario.hits(), scenario.seen()), (2, 3));
    let statuses: Vec<u16> = server
        .received_requests()
        .iter()
        .map(|entry| entry.status)
        .collect();
    assert_eq!(
        statuses,
        [503, 503, 200, 200],
        "faulted requests are journaled too"
    );
}

/// One token request in a sequence: the fault installed for it (`nth` its place, 1-based), if
/// any, and what its answer must show. A field left `None` or empty is not checked.
struct Step {
    name: &'static str,
    fault: Option<Fault>,
    status: Option<u16>,
    /// Headers with exactly these values.
    headers: &'static [(&'static str, &'static str)],
    content_type_prefix: Option<&'static str>,
    /// Whether the body parses as JSON.
    json: Option<bool>,
    members: Vec<(&'static str, Value)>,
    absent: &'static [&'static str],
    strings: &'static [&'static str],
}

fn step(name: &'static str, fault: Option<Fault>) -> Step {
    Step {
        name,
        fault,
        status: None,
        headers: &[],
        content_type_prefix: None,
        json: None,
        members: Vec::new(),
        absent: &[],
        strings: &[],
    }
}

/// A 200 with a JSON body, after `fault` if there is one.
fn normal(name: &'static str, fault: Option<Fault>) -> Step {
    Step {
        status: Some(200),
        json: Some(true),
        ..step(name, fault)
    }
}

/// Installs each step's fault for the token request at its place on one server, then sends
/// the requests in order and checks each answer; failures name the step (an async fn cannot be
/// `#[track_caller]`).
async fn check(steps: Vec<Step>) {
    let server = server().await;
    for (place, step) in (1..).zip(&steps) {
        if let Some(fault) = &step.fault {
            server.on_token().nth(place).respond(fault.clone());
        }
    }
    for step in &steps {
        let name = step.name;
        let response = token_request(&server, "svc", "secret").await;
        if let Some(status) = step.status {
            assert_eq!(response.status(), status, "{name}: status");
        }
        for (header, value) in step.headers {
            assert_eq!(response.headers()[*header], *value, "{name}: {header}");
        }
        if let Some(prefix) = step.content_type_prefix {
            let content_type = response.headers()["content-type"].to_str().unwrap();
            assert!(
                content_type.starts_with(prefix),
                "{name}: content-type {content_type}"
            );
        }
        let text = response.text().await.unwrap();
        let parsed = serde_json::from_str::<Value>(&text);
        if let Some(json) = step.json {
            assert_eq!(parsed.is_ok(), json, "{name}: body is JSON: {text}");
        }
        let body = parsed.unwrap_or(Value::Null);
        for (member, want) in &step.members {
            assert_eq!(&body[*member], want, "{name}: `{member}` in {body}");
        }
        for member in step.absent {
            assert!(body.get(*member).is_none(), "{name}: `{member}` in {body}");
        }
        for member in step.strings {
            assert!(body[*member].is_string(), "{name}: `{member}` in {body}");
        }
    }
}

#[tokio::test]
async fn an_injected_invalid_client_after_basic_carries_the_challenge() {
    check(vec![
        Step {
            status: Some(401),
            headers: &[("www-authenticate", "Basic realm=\"ccflow\"")],
            json: Some(true),
            members: vec![("error", json!("invalid_client"))],
            ..step(
                "injected invalid_client",
                Some(Fault::oauth_error(ErrorCode::InvalidClient)),
            )
        },
        normal("the next request", None),
    ])
    .await;
}

#[tokio::test]
async fn reshaping_faults_change_an_otherwise_normal_token_response() {
    check(vec![
        Step {
            members: vec![("expires_in", json!(0))],
            ..normal("expires_in 0", Some(Fault::expires_in(0)))
        },
        Step {
            members: vec![("expires_in", json!(-30))],
            ..normal("expires_in -30", Some(Fault::expires_in(-30)))
        },
        Step {
            absent: &["token_type"],
            strings: &["access_token"],
            ..normal("no token_type", Some(Fault::MissingTokenType))
        },
        Step {
            absent: &["expires_in"],
            strings: &["access_token", "token_type"],
            ..normal("no expires_in", Some(Fault::MissingExpiresIn))
        },
    ])
    .await;
}

#[tokio::test]
async fn broken_bodies_and_pages() {
    check(vec![
        Step {
            status: Some(200),
            json: Some(false),
            ..step("truncated JSON", Some(Fault::TruncatedJson))
        },
        Step {
            json: Some(false),
            ..step("malformed JSON", Some(Fault::MalformedJson))
        },
        Step {
            headers: &[("content-type", "text/plain")],
            json: Some(true),
            ..step("wrong content type", Some(Fault::WrongContentType))
        },
        Step {
            status: Some(502),
            content_type_prefix: Some("text/html"),
            ..step("HTML error page", Some(Fault::HtmlErrorPage))
        },
    ])
    .await;
}

#[tokio::test]
async fn a_dropped_connection_is_a_transport_error() {
    let server = server().await;
    server.on_token().times(1).respond(Fault::DropConnection);
    let outcome = async {
        let response = http()
            .post(server.token_url())
            .header("authorization", basic("svc", "secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await?;
        response.bytes().await
    };
    let error = outcome.await.expect_err("no complete response arrives");
    assert!(
        error.is_body() || error.is_request() || error.is_decode(),
        "{error:?}"
    );
    ok_body(token_request(&server, "svc", "secret").await).await;
}

#[tokio::test]
async fn a_delay_then_the_normal_answer() {
    let server = server().await;
    let scenario = server
        .on_token()
        .times(1)
        .respond(Fault::delay(Duration::from_millis(50)));
    ok_body(token_request(&server, "svc", "secret").await).await;
    assert_eq!(scenario.hits(), 1);
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_not_verifiable() {
    let server = server().await;
    server.on_token().times(1).respond(Fault::UnknownKey);
    let body = ok_body(token_request(&server, "svc", "secret").await).await;
    let token = body["access_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwks: Value = get_json(server.jwks_url()).await;
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["kid"] != kid.as_str())
    );
    let introspection = introspect(&server, "svc", "secret", token).await;
    assert_eq!(introspection, json!({"active": false}));
}

#[tokio::test]
async fn the_jwks_endpoint_can_fail_too() {
    let server = server().await;
    server
        .on(Endpoint::Jwks)
        .every(2)
        .respond(Fault::status(503));
    assert_eq!(
        http().get(server.jwks_url()).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        http().get(server.jwks_url()).send().await.unwrap().status(),
        503
    );
    assert_eq!(
        http().get(server.jwks_url()).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn scenarios_are_managed_over_http_with_hit_counts() {
    let server = server().await;
    let url = format!("{}/_ccflow/scenarios", server.uri());
    let created = http()
        .post(&url)
        .json(&json!([
            {"client_id": "svc", "when": {"every": 2}, "fault": {"kind": "status", "status": 429, "retry_after_secs": 1}},
            {"endpoint": "token", "when": {"probability": {"p": 0.0, "seed": 3}}, "fault": {"kind": "drop_connection"}}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ids: Value = created.json().await.unwrap();
    assert_eq!(ids["ids"].as_array().unwrap().len(), 2);
    let statuses = [
        token_request(&server, "svc", "secret")
            .await
            .status()
            .as_u16(),
        token_request(&server, "svc", "secret")
            .await
            .status()
            .as_u16(),
        token_request(&server, "svc", "secret")
            .await
            .status()
            .as_u16(),
        token_request(&server, "svc", "secret")
            .await
            .status()
            .as_u16(),
    ];
    assert_eq!(statuses, [200, 429, 200, 429]);
    let listed: Value = get_json(&url).await;
    assert_eq!(listed["scenarios"][0]["hits"], 2);
    assert_eq!(listed["scenarios"][0]["seen"], 4);
    assert_eq!(listed["scenarios"][1]["hits"], 0);
    let one = listed["scenarios"][1]["id"].as_u64().unwrap();
    assert_eq!(
        http()
            .delete(format!("{url}/{one}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        http()
            .delete(format!("{url}/{one}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(http().delete(&url).send().await.unwrap().status(), 204);
    let empty: Value = get_json(&url).await;
    assert_eq!(empty["scenarios"], json!([]));
    ok_body(token_request(&server, "svc", "secret").await).await;
}

#[tokio::test]
async fn invalid_scenarios_are_refused_whole() {
    let server = server().await;
    let url = format!("{}/_ccflow/scenarios", server.uri());
    for bad in [
        json!({"fault": {"kind": "teleport"}}),
        json!([{"fault": {"kind": "drop_connection"}}, {"endpoint": "jwks", "fault": {"kind": "unknown_key"}}]),
        json!({"when": {"nth": 0}, "fault": {"kind": "drop_connection"}}),
    ] {
        let response = http().post(&url).json(&bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    assert!(server.app().scenarios().is_empty(), "nothing was installed");
}

#[tokio::test]
async fn scenarios_load_from_the_config_file() {
    let dir = std::env::temp_dir().join(format!("ccflow-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ccflow.toml");
    std::fs::write(
        &path,
        r#"
[[clients]]
client_id = "svc"
client_secret = "secret"

[[scenarios]]
client_id = "svc"
when = { first = 1 }
fault = { kind = "oauth_error", error = "temporarily_unavailable", status = 503 }
"#,
    )
    .unwrap();
    let server = MockAuthServerBuilder::from_config_file(&path)
        .unwrap()
        .start()
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let first = token_request(&server, "svc", "secret").await;
    assert_eq!(first.status(), 503);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    ok_body(token_request(&server, "svc", "secret").await).await;
}

#[tokio::test]
async fn a_scenario_with_a_time_window_follows_the_server_clock() {
    // "The token endpoint is down for 30 s, starting 10 s from now": no test waits 40 s, the
    // server's virtual clock is advanced instead (frozen, so no real time leaks in).
    let server = server().await;
    let clock = server.clock().expect("a virtual clock by default");
    clock.freeze();
    let outage = server
        .on_token()
        .after_secs(10)
        .for_secs(30)
        .respond(Fault::status(503).retry_after(5));
    let mut statuses = Vec::new();
    for advance in [0, 10, 29, 1] {
        clock.advance(Duration::from_secs(advance));
        statuses.push(
            token_request(&server, "svc", "secret")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 503, 503, 200]);
    // Only the requests inside the window matched.
    assert_eq!((outage.hits(), outage.seen()), (2, 2));
    outage.remove();

    // The same over HTTP, the clock driven by the admin API too.
    let url = format!("{}/_ccflow/scenarios", server.uri());
    let created = http()
        .post(&url)
        .json(&json!({"client_id": "other", "for_secs": 5, "fault": {"kind": "status", "status": 418}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let listed: Value = get_json(&url).await;
    assert_eq!(
        listed["scenarios"][0]["scenario"]["for_secs"], 5,
        "{listed}"
    );
    let other = || token_request(&server, "other", "other-secret");
    assert_eq!(other().await.status(), 418);
    let advanced = http()
        .post(format!("{}/_ccflow/clock", server.uri()))
        .json(&json!({"advance_secs": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(advanced.status(), 200);
    ok_body(other().await).await;

    // A window of no time is a mistake, said at once.
    let refused = http()
        .post(&url)
        .json(&json!({"for_secs": 0, "fault": {"kind": "drop_connection"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|text| text.contains("for_secs")),
        "{body}"
    );
}

#[tokio::test]
async fn a_windowed_scenario_reports_when_its_window_opens_and_closes() {
    let clock = common::clock();
    let server = common::builder(&clock).start().await.unwrap();
    let url = format!("{}/_ccflow/scenarios", server.uri());
    let created = http()
        .post(&url)
        .json(&json!([
            {"after_secs": 60, "for_secs": 600, "fault": {"kind": "status", "status": 503}},
            {"for_secs": 30, "fault": {"kind": "status", "status": 429}},
            {"fault": {"kind": "status", "status": 500}}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let listed = get_json(&url).await;
    let windows: Vec<(Value, Value)> = listed["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["starts_at"].clone(), item["ends_at"].clone()))
        .collect();
    let t0 = common::T0;
    assert_eq!(
        windows,
        [
            (json!(t0 + 60), json!(t0 + 660)),
            (json!(t0), json!(t0 + 30)),
            (Value::Null, Value::Null),
        ]
    );
}
