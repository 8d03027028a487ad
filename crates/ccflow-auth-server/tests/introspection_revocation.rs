//! Introspection (RFC 7662) and revocation (RFC 7009) over real HTTP.

mod common;

use std::time::Duration;

use ccflow_auth_server::{MockAuthServer, SigningKey};
use common::{basic, fixture, form, post_form, start, token};
use serde_json::{Value, json};

async fn introspect(server: &MockAuthServer, caller: (&str, &str), token: &str) -> Value {
    let response = post_form(
        &server.introspection_url().unwrap(),
        Some(&basic(caller.0, caller.1)),
        form(&[("token", token)]),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn revoke(server: &MockAuthServer, caller: (&str, &str), token: &str) -> reqwest::Response {
    post_form(
        &server.revocation_url().unwrap(),
        Some(&basic(caller.0, caller.1)),
        form(&[("token", token), ("token_type_hint", "access_token")]),
    )
    .await
}

const ORDERS: (&str, &str) = ("orders-service", "orders-secret");
const OTHER: (&str, &str) = ("basic-only", "basic-secret");

#[tokio::test]
async fn an_active_token_introspects_with_its_claims() {
    let (server, _clock) = start().await;
    let issued = token(&server, ORDERS.0, ORDERS.1, &[("scope", "orders.read")]).await;
    let access_token = issued["access_token"].as_str().unwrap();
    let body = introspect(&server, OTHER, access_token).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], "orders-service");
    assert_eq!(body["sub"], "orders-service");
    assert_eq!(body["scope"], "orders.read");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["iss"], server.issuer());
    assert_eq!(body["aud"], json!(["orders-api", "billing-api"]));
    assert_eq!(body["exp"], common::T0 + 3600);
    assert!(body["jti"].is_string());
}

#[tokio::test]
async fn expired_tokens_introspect_inactive() {
    let (server, clock) = start().await;
    let issued = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let access_token = issued["access_token"].as_str().unwrap();
    clock.advance(Duration::from_secs(3599));
    assert_eq!(
        introspect(&server, ORDERS, access_token).await["active"],
        true
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        introspect(&server, ORDERS, access_token).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn malformed_and_foreign_tokens_introspect_inactive() {
    let (server, clock) = start().await;
    // Same claims shape, signed by a key the server does not publish.
    let foreign = MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-2.pem")).unwrap())
        .issuer(server.issuer())
        .clock(clock.clone())
        .client(ccflow_auth_server::Client::new(
            "orders-service",
            "orders-secret",
        ))
        .start()
        .await
        .unwrap();
    // The foreign server claims our issuer, so its advertised URLs point at us: use its socket.
    let response = post_form(
        &format!("{}/oauth2/token", foreign.uri()),
        Some(&basic(ORDERS.0, ORDERS.1)),
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let foreign_token: Value = response.json().await.unwrap();
    let own = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let own = own["access_token"].as_str().unwrap();
    let (head, rest) = own.split_once('.').unwrap();
    let tampered = format!("{head}.{}x", rest);
    for bad in [
        foreign_token["access_token"].as_str().unwrap(),
        "garbage",
        "a.b.c",
        tampered.as_str(),
        "",
    ] {
        if bad.is_empty() {
            continue;
        }
        assert_eq!(
            introspect(&server, ORDERS, bad).await,
            json!({"active": false}),
            "token {bad:.40}"
        );
    }
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    let (server, _clock) = start().await;
    let issued = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let access_token = issued["access_token"].as_str().unwrap();
    let url = server.introspection_url().unwrap();
    let response = post_form(&url, None, form(&[("token", access_token)])).await;
    assert_eq!(response.status(), 401);
    let response = post_form(
        &url,
        Some(&basic("orders-service", "nope")),
        form(&[("token", access_token)]),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"ccflow\""
    );
    let response = post_form(
        &url,
        Some(&basic(ORDERS.0, ORDERS.1)),
        form(&[("token_type_hint", "access_token")]),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn a_revoked_token_introspects_inactive() {
    let (server, _clock) = start().await;
    let issued = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let access_token = issued["access_token"].as_str().unwrap();
    let response = revoke(&server, ORDERS, access_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(
        introspect(&server, ORDERS, access_token).await,
        json!({"active": false})
    );
    // Other tokens of the same client stay active.
    let fresh = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    assert_eq!(
        introspect(&server, ORDERS, fresh["access_token"].as_str().unwrap()).await["active"],
        true
    );
}

#[tokio::test]
async fn revoking_an_unknown_token_is_ok() {
    let (server, _clock) = start().await;
    for unknown in ["never-issued", "a.b.c"] {
        let response = revoke(&server, ORDERS, unknown).await;
        assert_eq!(response.status(), 200, "{unknown}");
    }
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let (server, _clock) = start().await;
    let issued = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let access_token = issued["access_token"].as_str().unwrap();
    let response = revoke(&server, OTHER, access_token).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(
        introspect(&server, ORDERS, access_token).await["active"],
        true,
        "still active"
    );
}

#[tokio::test]
async fn revocation_requires_client_authentication() {
    let (server, _clock) = start().await;
    let issued = token(&server, ORDERS.0, ORDERS.1, &[]).await;
    let access_token = issued["access_token"].as_str().unwrap();
    let response = post_form(
        &server.revocation_url().unwrap(),
        None,
        form(&[("token", access_token)]),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        introspect(&server, ORDERS, access_token).await["active"],
        true,
        "not revoked"
    );
}

#[tokio::test]
async fn get_on_introspection_and_revocation_is_405() {
    let (server, _clock) = start().await;
    for url in [
        server.introspection_url().unwrap(),
        server.revocation_url().unwrap(),
    ] {
        let response = common::http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 405, "{url}");
        assert_eq!(response.headers()["allow"], "POST");
    }
}
