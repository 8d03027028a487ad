//! The `/_ccflow` admin API: the virtual clock, the request journal and the key listing over
//! HTTP, and who may call it.

mod common;

use std::time::Duration;

use ccflow_auth_server::{Client, MockAuthServer, SigningKey, VirtualClock};
use common::{
    ADMIN_GET, AdminCase, basic, check_admin, claims_of, fixture, form, get_json, http, post_form,
    token,
};
use serde_json::{Value, json};

async fn server() -> MockAuthServer {
    MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .client(Client::new("svc", "secret").scopes(["a"]))
        .client(Client::new("other", "other-secret"))
        .start()
        .await
        .unwrap()
}

async fn token_iat(server: &MockAuthServer) -> i64 {
    let body = token(server, "svc", "secret", &[]).await;
    claims_of(body["access_token"].as_str().unwrap())["iat"]
        .as_i64()
        .unwrap()
}

async fn clock_command(server: &MockAuthServer, command: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/_ccflow/clock", server.uri()))
        .json(&command)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_clock_is_controlled_over_http_and_drives_issuance() {
    let server = server().await;
    let (status, state) = clock_command(&server, json!({"set": 2_000_000_000})).await;
    assert_eq!(status, 200, "{state}");
    let (_, state) = clock_command(&server, json!({"freeze": true})).await;
    assert_eq!(state["frozen"], true);
    assert_eq!(token_iat(&server).await, state["now"].as_i64().unwrap());
    let (_, advanced) = clock_command(&server, json!({"advance_secs": 3600})).await;
    assert_eq!(
        advanced["now"].as_i64().unwrap(),
        state["now"].as_i64().unwrap() + 3600
    );
    assert_eq!(token_iat(&server).await, advanced["now"].as_i64().unwrap());
    let (_, rewound) = clock_command(&server, json!({"rewind_secs": 60})).await;
    assert_eq!(
        rewound["now"].as_i64().unwrap(),
        advanced["now"].as_i64().unwrap() - 60
    );
    let (_, resumed) = clock_command(&server, json!({"resume": true})).await;
    assert_eq!(resumed["frozen"], false);
    let (_, reset) = clock_command(&server, json!({"reset": true})).await;
    assert!(reset["offset_secs"].as_f64().unwrap().abs() < 5.0);
    let current: Value = get_json(format!("{}/_ccflow/clock", server.uri())).await;
    assert_eq!(current["frozen"], false);
}

#[tokio::test]
async fn bad_clock_commands_are_400_and_change_nothing() {
    let server = server().await;
    clock_command(&server, json!({"freeze": true})).await;
    let before: Value = get_json(format!("{}/_ccflow/clock", server.uri())).await;
    for command in [
        json!({}),
        json!({"advance_secs": -5}),
        json!({"advance_secs": "10"}),
        json!({"jump": 1}),
        json!({"freeze": true, "resume": true}),
        json!([1]),
    ] {
        let (status, body) = clock_command(&server, command.clone()).await;
        assert_eq!(status, 400, "{command}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    let after: Value = get_json(format!("{}/_ccflow/clock", server.uri())).await;
    // A frozen clock's offset from the wall clock grows; its time and state do not change.
    assert_eq!(
        (&before["now"], &before["frozen"]),
        (&after["now"], &after["frozen"])
    );
}

#[tokio::test]
async fn the_rust_handle_controls_the_same_clock() {
    let clock = VirtualClock::new();
    let server = MockAuthServer::builder()
        .virtual_clock(clock.clone())
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    clock.freeze();
    let before = token_iat(&server).await;
    server.clock().unwrap().advance(Duration::from_secs(120));
    assert_eq!(token_iat(&server).await, before + 120);
}

#[tokio::test]
async fn an_injected_clock_is_not_controlled_over_http() {
    let server = MockAuthServer::builder()
        .clock(ccflow_auth_server::ManualClock::starting_now())
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    assert!(server.clock().is_none());
    let (status, body) = clock_command(&server, json!({"freeze": true})).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn the_journal_is_queried_and_reset_over_http() {
    let server = server().await;
    let cc = form(&[("grant_type", "client_credentials")]);
    post_form(
        &server.token_url(),
        Some(&basic("svc", "secret")),
        cc.clone(),
    )
    .await;
    post_form(
        &server.token_url(),
        Some(&basic("svc", "wrong")),
        cc.clone(),
    )
    .await;
    post_form(
        &server.token_url(),
        Some(&basic("other", "other-secret")),
        cc,
    )
    .await;
    http().get(server.jwks_url()).send().await.unwrap();
    let get = |query: &'static str| {
        let url = format!("{}/_ccflow/requests{query}", server.uri());
        async move {
            http()
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["requests"]
                .clone()
        }
    };
    assert_eq!(get("").await.as_array().unwrap().len(), 4);
    let svc = get("?endpoint=token&client_id=svc").await;
    let svc = svc.as_array().unwrap();
    assert_eq!(svc.len(), 2);
    assert_eq!(svc[0]["status"], 200);
    assert_eq!(svc[1]["status"], 401);
    assert_eq!(svc[1]["error"], "invalid_client");
    assert_eq!(svc[0]["path"], "/oauth2/token");
    assert!(svc[0]["latency_us"].as_u64().is_some());
    assert_eq!(get("?endpoint=jwks").await.as_array().unwrap().len(), 1);
    let bad = http()
        .get(format!("{}/_ccflow/requests?endpoint=nope", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let deleted = http()
        .delete(format!("{}/_ccflow/requests", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(get("").await.as_array().unwrap().is_empty());
    // Admin calls themselves are not journaled.
    assert!(server.received_requests().is_empty());
}

#[tokio::test]
async fn the_keys_are_listed_with_public_parts_only() {
    let server = server().await;
    let body: Value = get_json(format!("{}/_ccflow/keys", server.uri())).await;
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["state"], "active");
    assert_eq!(keys[0]["kid"], server.app().keys().active().kid());
    assert!(keys[0]["jwk"].get("d").is_none());
}

#[tokio::test]
async fn assertions_and_expectations_read_the_journal() {
    let server = server().await;
    server.expect_token_requests().for_client("svc").exactly(2);
    server.expect_token_requests().for_client("nobody").none();
    let cc = form(&[("grant_type", "client_credentials")]);
    post_form(
        &server.token_url(),
        Some(&basic("svc", "secret")),
        cc.clone(),
    )
    .await;
    post_form(
        &server.token_url(),
        Some(&basic("svc", "wrong")),
        cc.clone(),
    )
    .await;
    post_form(
        &server.token_url(),
        None,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "other"),
            ("client_secret", "other-secret"),
        ]),
    )
    .await;
    server.assert_token_requests().exactly(3);
    server
        .assert_token_requests()
        .for_client("svc")
        .successful()
        .exactly(1);
    server
        .assert_token_requests()
        .for_client("svc")
        .with_status(401)
        .exactly(1);
    server
        .assert_token_requests()
        .for_client("other")
        .at_least(1);
    server
        .assert_requests(Some(ccflow_auth_server::Endpoint::Jwks))
        .none();
    let entries = server.received_requests();
    assert_eq!(
        entries[0].auth_method.as_deref(),
        Some("client_secret_basic")
    );
    assert_eq!(
        entries[2].auth_method.as_deref(),
        Some("client_secret_post")
    );
    let params: Vec<(String, String)> = entries[2].params.clone();
    assert!(
        params.contains(&("client_secret".to_owned(), "[redacted]".to_owned())),
        "{params:?}"
    );
    assert!(params.contains(&("client_id".to_owned(), "other".to_owned())));
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        server.assert_token_requests().for_client("svc").exactly(5)
    }))
    .unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("expected exactly 5 token request(s) from client `svc`, received 2"),
        "{message}"
    );
    assert!(
        message.contains("POST /oauth2/token -> 401 invalid_client (client_id svc)"),
        "{message}"
    );
    assert!(!message.contains("other-secret"), "{message}");
    server.verify();
}

#[tokio::test]
#[should_panic(expected = "expected exactly 1 token request(s) from client `svc`, received 0")]
async fn an_unmet_expectation_fails_the_test_when_the_server_is_dropped() {
    let server = server().await;
    server.expect_token_requests().for_client("svc").exactly(1);
    drop(server);
}

#[tokio::test]
async fn the_journal_keeps_only_its_capacity() {
    let server = MockAuthServer::builder()
        .journal_capacity(2)
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        http().get(server.jwks_url()).send().await.unwrap();
    }
    assert_eq!(server.received_requests().len(), 2);
}

#[tokio::test]
async fn every_route_in_the_openapi_document_is_served() {
    let server = server().await;
    let document: Value = get_json(format!("{}/_ccflow/openapi.json", server.uri())).await;
    assert_eq!(
        document,
        serde_json::from_str::<Value>(&ccflow_auth_server::ADMIN_OPENAPI).unwrap()
    );
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 8);
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let url = format!("{}{}", server.uri(), path.replace("{id}", "999"));
            let request = http().request(method.to_uppercase().parse().unwrap(), &url);
            let request = if method == "post" {
                request.json(&json!({"reset": true}))
            } else {
                request
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("no such admin endpoint") && status != 405,
                "{method} {path}: {status} {body}"
            );
        }
    }
}

/// Which server an admin case talks to.
enum Admin {
    /// The admin API open, as `server()` starts it.
    Open,
    /// Guarded by `ADMIN_TOKEN`.
    Guarded,
    /// Turned off.
    Off,
}

const ADMIN_TOKEN: &str = "admin-canary-token";

const CASES: &[(Admin, AdminCase)] = &[
    // Wrong methods are 405 with `Allow`; unknown admin paths are 404.
    (
        Admin::Open,
        AdminCase {
            name: "PUT on the clock",
            method: "PUT",
            path: "/_ccflow/clock",
            status: 405,
            allow: Some("GET, POST"),
            ..ADMIN_GET
        },
    ),
    (
        Admin::Open,
        AdminCase {
            name: "GET on one scenario",
            path: "/_ccflow/scenarios/7",
            status: 405,
            allow: Some("DELETE"),
            ..ADMIN_GET
        },
    ),
    (
        Admin::Open,
        AdminCase {
            name: "an unknown admin path",
            path: "/_ccflow/nothing",
            status: 404,
            ..ADMIN_GET
        },
    ),
    // An admin token is required when configured.
    (
        Admin::Guarded,
        AdminCase {
            name: "no admin token",
            path: "/_ccflow/clock",
            status: 401,
            challenge: Some("invalid_token"),
            ..ADMIN_GET
        },
    ),
    (
        Admin::Guarded,
        AdminCase {
            name: "a wrong admin token",
            path: "/_ccflow/clock",
            bearer: Some("nope"),
            status: 401,
            ..ADMIN_GET
        },
    ),
    (
        Admin::Guarded,
        AdminCase {
            name: "the admin token",
            path: "/_ccflow/clock",
            bearer: Some(ADMIN_TOKEN),
            status: 200,
            ..ADMIN_GET
        },
    ),
    // The admin API can be turned off.
    (
        Admin::Off,
        AdminCase {
            name: "the admin API turned off",
            path: "/_ccflow/clock",
            status: 404,
            ..ADMIN_GET
        },
    ),
];

async fn guarded_server() -> MockAuthServer {
    MockAuthServer::builder()
        .admin_token(ADMIN_TOKEN)
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_admin_request_gets_its_status_and_headers() {
    for (admin, case) in CASES {
        let server = match admin {
            Admin::Open => server().await,
            Admin::Guarded => guarded_server().await,
            Admin::Off => MockAuthServer::builder()
                .admin(false)
                .client(Client::new("svc", "secret"))
                .start()
                .await
                .unwrap(),
        };
        check_admin(&server, case).await;
    }
}

#[tokio::test]
async fn the_admin_token_is_not_in_the_servers_debug_output() {
    let server = guarded_server().await;
    assert!(!format!("{:?}", server).contains(ADMIN_TOKEN));
}
