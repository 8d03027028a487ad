//! The token endpoint over real HTTP: successful issuance, verified independently via the JWKS.

mod common;

use common::{SPECIAL_ID, SPECIAL_SECRET, T0, basic, form, post_form, start, token, verify};
use serde_json::json;

#[tokio::test]
async fn issues_a_verifiable_rfc9068_token_with_basic_auth() {
    let (server, _clock) = start().await;
    let body = token(&server, "orders-service", "orders-secret", &[]).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "orders.read orders.write");
    let access_token = body["access_token"].as_str().unwrap();

    let (header, claims) = verify(&server, access_token, "orders-api", T0).await;
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], server.app().keys().active().kid());
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["sub"], "orders-service");
    assert_eq!(claims["client_id"], "orders-service");
    assert_eq!(claims["aud"], json!(["orders-api", "billing-api"]));
    assert_eq!(claims["scope"], "orders.read orders.write");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["nbf"], T0);
    assert_eq!(claims["exp"], T0 + 3600);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 22, "128-bit base64url jti: {jti}");
    server.assert_token_requests().exactly(1);
}

#[tokio::test]
async fn issues_with_client_secret_post() {
    let (server, _clock) = start().await;
    let response = post_form(
        &server.token_url(),
        None,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "post-only"),
            ("client_secret", "post-secret"),
        ]),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    // A client with no audiences gets its own id as audience; no scopes means no `scope`.
    let (_, claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        "post-only",
        T0,
    )
    .await;
    assert_eq!(claims["aud"], "post-only");
    assert!(body.get("scope").is_none(), "{body}");
    assert!(claims.get("scope").is_none(), "{claims}");
}

#[tokio::test]
async fn token_responses_forbid_caching() {
    let (server, _clock) = start().await;
    let response = post_form(
        &server.token_url(),
        Some(&basic("orders-service", "orders-secret")),
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn grants_a_requested_subset_of_scopes() {
    let (server, _clock) = start().await;
    let body = token(
        &server,
        "orders-service",
        "orders-secret",
        &[("scope", "orders.write")],
    )
    .await;
    assert_eq!(body["scope"], "orders.write");
    let (_, claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        "orders-api",
        T0,
    )
    .await;
    assert_eq!(claims["scope"], "orders.write");
}

#[tokio::test]
async fn resource_parameters_pick_the_audience() {
    let (server, _clock) = start().await;
    let body = token(
        &server,
        "orders-service",
        "orders-secret",
        &[("resource", "billing-api")],
    )
    .await;
    let (_, claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        "billing-api",
        T0,
    )
    .await;
    assert_eq!(claims["aud"], "billing-api");

    // RFC 8707 lets `resource` repeat.
    let body = token(
        &server,
        "orders-service",
        "orders-secret",
        &[("resource", "billing-api"), ("resource", "orders-api")],
    )
    .await;
    let (_, claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        "orders-api",
        T0,
    )
    .await;
    assert_eq!(claims["aud"], json!(["billing-api", "orders-api"]));
}

#[tokio::test]
async fn credentials_with_reserved_and_non_ascii_characters_work_in_basic_and_post() {
    let (server, _clock) = start().await;
    let body = token(&server, SPECIAL_ID, SPECIAL_SECRET, &[]).await;
    assert_eq!(body["expires_in"], 120, "per-client lifetime");
    let (_, claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        SPECIAL_ID,
        T0,
    )
    .await;
    assert_eq!(claims["client_id"], SPECIAL_ID);
    assert_eq!(claims["exp"], T0 + 120);

    let response = post_form(
        &server.token_url(),
        None,
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SPECIAL_ID),
            ("client_secret", SPECIAL_SECRET),
        ]),
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn every_token_has_a_unique_jti() {
    let (server, _clock) = start().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let body = token(&server, "orders-service", "orders-secret", &[]).await;
        let (_, claims) = verify(
            &server,
            body["access_token"].as_str().unwrap(),
            "orders-api",
            T0,
        )
        .await;
        assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn the_token_lifetime_follows_the_injected_clock() {
    let (server, clock) = start().await;
    clock.advance(std::time::Duration::from_secs(1000));
    let body = token(&server, "orders-service", "orders-secret", &[]).await;
    let (_, claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        "orders-api",
        T0 + 1000,
    )
    .await;
    assert_eq!(claims["iat"], T0 + 1000);
    assert_eq!(claims["exp"], T0 + 1000 + 3600);
}

#[tokio::test]
async fn a_shut_down_server_refuses_connections() {
    let (server, _clock) = start().await;
    let url = server.token_url();
    server.shutdown().await;
    let error = common::http().post(&url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error}");
}

#[tokio::test]
async fn a_dropped_server_releases_its_port() {
    let (server, _clock) = start().await;
    let address = server.address();
    drop(server);
    std::net::TcpListener::bind(address).expect("the port is free again after drop");
}
