//! Client management at run time: `MockAuthServer::add_client`/`remove_client` and the
//! `/_ccflow/clients` admin routes. A deleted client can no longer get tokens and its tokens
//! introspect inactive; bad registrations are 400 and change nothing.

mod common;

use std::time::Duration;

use ccflow_auth_server::{Client, MockAuthServer};
use common::{ADMIN_GET, AdminCase, basic, check_admin, form, http, post_form, start, token};
use serde_json::{Value, json};

const ORDERS: (&str, &str) = ("orders-service", "orders-secret");

async fn introspect(server: &MockAuthServer, token: &str) -> Value {
    let response = post_form(
        &server.introspection_url().unwrap(),
        Some(&basic(ORDERS.0, ORDERS.1)),
        form(&[("token", token)]),
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn list(server: &MockAuthServer) -> Value {
    let response = http()
        .get(format!("{}/_ccflow/clients", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn register(server: &MockAuthServer, body: &str) -> (u16, Value) {
    let response = http()
        .post(format!("{}/_ccflow/clients", server.uri()))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn delete(server: &MockAuthServer, id: &str) -> u16 {
    http()
        .delete(format!("{}/_ccflow/clients/{id}", server.uri()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn token_status(server: &MockAuthServer, id: &str, secret: &str) -> (u16, Value) {
    let response = post_form(
        &server.token_url(),
        Some(&basic(id, secret)),
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn clients_are_listed_with_public_metadata_only() {
    let (server, _clock) = start().await;
    let body = list(&server).await;
    let ids: Vec<&str> = body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|client| client["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, server.app().client_ids());
    assert_eq!(
        body["clients"][0],
        json!({
            "client_id": "orders-service",
            "auth_methods": ["client_secret_basic", "client_secret_post"],
            "scopes": ["orders.read", "orders.write"],
            "audiences": ["orders-api", "billing-api"],
            "token_ttl_secs": null,
            "n_public_keys": 0,
            "tls_client_auth_subject_dn": null,
            "tls_client_auth_san_dns": null,
            "tls_client_certificate_bound_access_tokens": false,
            "tls_client_certificates": [],
        })
    );
    let text = body.to_string();
    for secret in ["orders-secret", "basic-secret", "post-secret"] {
        assert!(!text.contains(secret), "{secret} listed: {text}");
    }
}

#[tokio::test]
async fn a_registered_client_gets_tokens_at_once() {
    let (server, _clock) = start().await;
    let (status, body) = register(
        &server,
        r#"{"client_id": "late-joiner", "client_secret": "late-secret", "scopes": ["items:read"], "audiences": ["items-api"], "token_ttl_secs": 300}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["client_id"], "late-joiner");
    assert_eq!(body["token_ttl_secs"], 300);
    assert!(!body.to_string().contains("late-secret"));
    let issued = token(&server, "late-joiner", "late-secret", &[]).await;
    assert_eq!(issued["scope"], "items:read");
    assert_eq!(issued["expires_in"], 300);
    assert_eq!(
        register(
            &server,
            r#"{"client_id": "late-joiner", "client_secret": "x"}"#
        )
        .await
        .0,
        409
    );
}

#[tokio::test]
async fn bad_registrations_are_400_and_change_nothing() {
    let (server, _clock) = start().await;
    let before = list(&server).await;
    let cases = [
        ("not json", "must be a JSON object"),
        (r#"["a"]"#, "must be a JSON object"),
        (r#"{"client_secret": "s"}"#, "missing field `client_id`"),
        (
            r#"{"client_id": "x", "secret": "s"}"#,
            "unknown field `secret`",
        ),
        (r#"{"client_id": "x"}"#, "client_secret"),
        (
            r#"{"client_id": "", "client_secret": "s"}"#,
            "must not be empty",
        ),
        (
            r#"{"client_id": "x", "client_secret": "s", "scopes": ["bad scope"]}"#,
            "scopes",
        ),
        (
            r#"{"client_id": "x", "client_secret": "s", "token_ttl_secs": 0}"#,
            "at least 1",
        ),
        (
            r#"{"client_id": "x", "client_secret": "s", "auth_methods": ["none"]}"#,
            "does not accept none",
        ),
        (
            r#"{"client_id": "x", "client_secret": "s", "auth_methods": ["telepathy"]}"#,
            "unknown variant",
        ),
        (
            r#"{"client_id": "x", "auth_methods": ["private_key_jwt"], "jwks": {"keys": [{"kty": "oct"}]}}"#,
            "kty",
        ),
        // A secret in the wrong member must not be echoed back.
        (
            r#"{"client_id": "x", "token_ttl_secs": "canary-s3cret"}"#,
            "wrong type",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = register(&server, body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"], "invalid_request", "{body}: {answer}");
        let description = answer["error_description"].as_str().unwrap();
        assert!(description.contains(expected), "{body}: {description}");
        assert!(!description.contains("canary-s3cret"), "{description}");
    }
    // A duplicate id is a conflict, not a replacement.
    let (status, answer) = register(
        &server,
        r#"{"client_id": "orders-service", "client_secret": "other"}"#,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("client_exists"))
    );
    assert_eq!(list(&server).await, before);
    token(&server, ORDERS.0, ORDERS.1, &[]).await;
}

#[tokio::test]
async fn a_deleted_client_gets_invalid_client_and_its_tokens_introspect_inactive() {
    let (server, _clock) = start().await;
    let doomed = token(&server, "basic-only", "basic-secret", &[]).await;
    let doomed = doomed["access_token"].as_str().unwrap();
    let survivor = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let survivor = survivor["access_token"].as_str().unwrap();
    assert_eq!(introspect(&server, doomed).await["active"], true);

    assert_eq!(delete(&server, "basic-only").await, 204);
    let (status, body) = token_status(&server, "basic-only", "basic-secret").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    // RFC 7662 §2.2: the still-unexpired token of a deleted client is no longer active.
    assert_eq!(introspect(&server, doomed).await, json!({"active": false}));
    assert_eq!(introspect(&server, survivor).await["active"], true);
    assert!(!server.app().client_ids().contains(&"basic-only".to_owned()));
    assert_eq!(delete(&server, "basic-only").await, 404);
    assert_eq!(delete(&server, "never-was").await, 404);
}

#[tokio::test]
async fn a_client_registered_again_gets_new_tokens_but_its_old_ones_stay_inactive() {
    let (server, clock) = start().await;
    let old = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let old = old["access_token"].as_str().unwrap().to_owned();
    assert!(server.remove_client(ORDERS.0));
    assert!(!server.remove_client(ORDERS.0));
    clock.advance(Duration::from_secs(1));
    server
        .add_client(Client::new(ORDERS.0, "rotated-secret").scopes(["orders.read"]))
        .unwrap();
    assert_eq!(token_status(&server, ORDERS.0, ORDERS.1).await.0, 401);
    let new = token(&server, ORDERS.0, "rotated-secret", &[]).await;
    let new = new["access_token"].as_str().unwrap();
    assert_eq!(
        introspect_as(&server, new, ORDERS.0, "rotated-secret").await["active"],
        true
    );
    assert_eq!(
        introspect_as(&server, &old, ORDERS.0, "rotated-secret").await["active"],
        false
    );
    // Validation is the builder's: a second registration of the same id is refused.
    let error = server
        .add_client(Client::new(ORDERS.0, "again"))
        .unwrap_err();
    assert!(error.to_string().contains("already registered"), "{error}");
}

async fn introspect_as(server: &MockAuthServer, token: &str, id: &str, secret: &str) -> Value {
    post_form(
        &server.introspection_url().unwrap(),
        Some(&basic(id, secret)),
        form(&[("token", token)]),
    )
    .await
    .json()
    .await
    .unwrap()
}

const WRONG_METHODS: &[AdminCase] = &[
    AdminCase {
        name: "PUT on the client list",
        method: "PUT",
        path: "/_ccflow/clients",
        status: 405,
        allow: Some("GET, POST"),
        ..ADMIN_GET
    },
    AdminCase {
        name: "GET on one client",
        path: "/_ccflow/clients/orders-service",
        status: 405,
        allow: Some("DELETE"),
        ..ADMIN_GET
    },
];

#[tokio::test]
async fn client_routes_answer_405_with_allow() {
    let (server, _clock) = start().await;
    for case in WRONG_METHODS {
        check_admin(&server, case).await;
    }
}

#[tokio::test]
async fn deleting_a_client_needs_the_admin_token_when_set() {
    let guarded = MockAuthServer::builder()
        .admin_token("admin-canary")
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    assert_eq!(delete(&guarded, "svc").await, 401);
    assert_eq!(guarded.app().client_ids(), ["svc"]);
    let response = http()
        .delete(format!("{}/_ccflow/clients/svc", guarded.uri()))
        .bearer_auth("admin-canary")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(guarded.app().client_ids().is_empty());
}
