//! Key rotation: the new key signs, the previous one stays published until the longest token it
//! signed has expired (by the server's virtual clock), then leaves the JWKS.

mod common;

use std::time::Duration;

use ccflow_auth_server::{Client, KeyState, MockAuthServer, SigningKey, VirtualClock};
use common::{fixture, get_json, http, introspect, json_of};
use serde_json::{Value, json};

async fn token(server: &MockAuthServer) -> String {
    common::token(server, "svc", "secret", &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn jwks_kids(server: &MockAuthServer) -> Vec<String> {
    let jwks: Value = get_json(server.jwks_url()).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn active(server: &MockAuthServer, token: &str) -> bool {
    introspect(server, "svc", "secret", token).await["active"] == true
}

#[tokio::test]
async fn rotation_keeps_the_previous_key_until_its_tokens_expire() {
    let clock = VirtualClock::new();
    clock.freeze();
    let server = MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .virtual_clock(clock.clone())
        .client(Client::new("svc", "secret").token_ttl(Duration::from_secs(600)))
        .start()
        .await
        .unwrap();
    let old_token = token(&server).await;
    let old_kid = kid_of(&old_token);
    let new_kid = server
        .app()
        .rotate_keys_to(SigningKey::from_pem(&fixture("keys/rs256-2.pem")).unwrap());
    assert_ne!(new_kid, old_kid);
    let new_token = token(&server).await;
    assert_eq!(kid_of(&new_token), new_kid, "the new key signs");
    assert_eq!(
        jwks_kids(&server).await,
        [new_kid.clone(), old_kid.clone()],
        "both published"
    );
    assert!(active(&server, &old_token).await, "old tokens still verify");

    // The longest token lifetime is 3600 s (the server default beats the client's 600 s).
    clock.advance(Duration::from_secs(3599));
    assert_eq!(jwks_kids(&server).await.len(), 2);
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        jwks_kids(&server).await,
        std::slice::from_ref(&new_kid),
        "the previous key is retired"
    );
    let states: Vec<KeyState> = server
        .app()
        .keys()
        .entries()
        .iter()
        .map(|entry| entry.state)
        .collect();
    assert_eq!(states, [KeyState::Retired, KeyState::Active]);
    assert!(
        !active(&server, &new_token).await,
        "its 600 s lifetime is over"
    );
    let fresh = token(&server).await;
    assert_eq!(kid_of(&fresh), new_kid);
    assert!(active(&server, &fresh).await);
}

#[tokio::test]
async fn staged_keys_are_published_then_activated_or_retired() {
    let server = MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    let staged = SigningKey::from_pem(&fixture("keys/rs256-2.pem")).unwrap();
    server.app().stage_key(staged.clone());
    assert_eq!(jwks_kids(&server).await.len(), 2);
    assert_ne!(
        kid_of(&token(&server).await),
        staged.kid(),
        "a staged key does not sign"
    );
    server.app().activate_key(staged.kid()).unwrap();
    assert_eq!(kid_of(&token(&server).await), staged.kid());
    assert!(
        server.app().retire_key(staged.kid()).is_err(),
        "the active key cannot be retired"
    );
    let previous = server.app().keys().entries()[0].key.kid().to_owned();
    server.app().retire_key(&previous).unwrap();
    assert_eq!(jwks_kids(&server).await, [staged.kid().to_owned()]);
}

#[tokio::test]
async fn seeded_servers_rotate_to_the_same_keys_over_http() {
    let mut kids = Vec::new();
    for _ in 0..2 {
        let server = MockAuthServer::builder()
            .key_seed(42)
            .client(Client::new("svc", "secret"))
            .start()
            .await
            .unwrap();
        let first = server.app().keys().active().kid().to_owned();
        let rotated: Value =
            json_of(http().post(format!("{}/_ccflow/keys/rotate", server.uri()))).await;
        let listed: Value = get_json(format!("{}/_ccflow/keys", server.uri())).await;
        assert_eq!(rotated["keys"], listed["keys"]);
        let states: Vec<&str> = listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["staged", "active"]);
        assert!(listed["keys"][0]["retire_at"].as_i64().is_some());
        assert_eq!(
            kid_of(&token(&server).await),
            rotated["active"].as_str().unwrap()
        );
        kids.push(json!([first, rotated["active"]]));
    }
    assert_eq!(
        kids[0], kids[1],
        "the same seed gives the same kids on every run"
    );
}

#[tokio::test]
async fn es256_servers_rotate_to_es256_keys() {
    let server = MockAuthServer::builder()
        .profile(ccflow_auth_server::Profile::Cloudentity)
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    let before = server.app().keys().active().kid().to_owned();
    let after = server.rotate_keys().unwrap();
    assert_ne!(before, after);
    assert_eq!(
        server.app().keys().active().algorithm(),
        jsonwebtoken::Algorithm::ES256
    );
}
