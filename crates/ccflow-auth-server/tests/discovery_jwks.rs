//! Discovery metadata (RFC 8414) and the JWKS (RFC 7517), snapshotted with the port redacted.

mod common;

use common::{http, start};
use serde_json::Value;

async fn get_json(url: &str) -> (reqwest::header::HeaderMap, Value) {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

#[tokio::test]
async fn both_discovery_documents_describe_the_server() {
    let (server, _clock) = start().await;
    let (headers, oidc) = get_json(&format!(
        "{}/.well-known/openid-configuration",
        server.uri()
    ))
    .await;
    let (_, oauth) = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.uri()
    ))
    .await;
    assert_eq!(oidc, oauth);
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(oidc["issuer"], server.issuer());
    assert_eq!(oidc["token_endpoint"], server.token_url());
    assert_eq!(oidc["jwks_uri"], server.jwks_url());
    // The random port is redacted, after checking the metadata uses the server's own base URI.
    let uri = server.uri();
    let text = serde_json::to_string(&oidc).unwrap();
    assert!(
        text.contains(&uri),
        "metadata must use the server's own base URI {uri}: {text}"
    );
    common::snapshot_settings(&[(&uri, "http://127.0.0.1:[port]")])
        .bind(|| insta::assert_json_snapshot!("discovery", oidc));
}

#[tokio::test]
async fn the_jwks_publishes_the_signing_key() {
    let (server, _clock) = start().await;
    let (headers, jwks) = get_json(&server.jwks_url()).await;
    assert_eq!(headers["content-type"], "application/json");
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kid"], server.app().keys().active().kid());
    // Only public members: no private exponent or primes.
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "JWKS leaks `{private}`");
    }
    // Fixture key: the whole document is stable.
    insta::assert_json_snapshot!("jwks", jwks);
}

#[tokio::test]
async fn the_issuer_setting_drives_every_advertised_url() {
    let clock = common::clock();
    let server = common::builder(&clock)
        .issuer("https://auth.example.test/tenant-a/")
        .start()
        .await
        .unwrap();
    let (_, metadata) = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.uri()
    ))
    .await;
    assert_eq!(metadata["issuer"], "https://auth.example.test/tenant-a/");
    assert_eq!(
        metadata["token_endpoint"],
        "https://auth.example.test/tenant-a/oauth2/token"
    );
    assert_eq!(
        metadata["jwks_uri"],
        "https://auth.example.test/tenant-a/jwks.json"
    );
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let (server, _clock) = start().await;
    let response = http()
        .get(format!("{}/nope", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn post_on_discovery_is_405_with_allow_get() {
    let (server, _clock) = start().await;
    let response = http().post(server.jwks_url()).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
}
