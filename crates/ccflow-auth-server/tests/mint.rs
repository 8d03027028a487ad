//! The bad-token factory: every defect, from Rust and over HTTP, judged by the server's own
//! introspection (which verifies like a strict resource server would).

mod common;

use ccflow_auth_server::{Client, Defect, MockAuthServer, SigningKey};
use common::{fixture, http, introspect, json_of};
use serde_json::{Value, json};

async fn server() -> MockAuthServer {
    MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .client(Client::new("svc", "secret").audiences(["items-api"]))
        .start()
        .await
        .unwrap()
}

async fn active(server: &MockAuthServer, token: &str) -> bool {
    introspect(server, "svc", "secret", token).await["active"] == true
}

fn parts(token: &str) -> (Value, Value, String) {
    use base64::Engine as _;
    let mut segments = token.split('.');
    let decode = |segment: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(segment)
                .unwrap(),
        )
        .unwrap()
    };
    let header = decode(segments.next().unwrap());
    let claims = decode(segments.next().unwrap());
    (header, claims, segments.next().unwrap().to_owned())
}

#[tokio::test]
async fn a_plain_mint_is_a_valid_token_for_the_client() {
    let server = server().await;
    let token = server
        .mint()
        .client("svc")
        .claim("scope", "items:read")
        .sign()
        .unwrap();
    assert!(active(&server, &token).await);
    let (header, claims, _) = parts(&token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["aud"], "items-api");
    assert_eq!(claims["scope"], "items:read");
}

#[tokio::test]
async fn every_defect_makes_the_token_unacceptable() {
    let server = server().await;
    for defect in [
        Defect::Expired,
        Defect::NotYetValid,
        Defect::AlgNone,
        Defect::Hs256WithPublicKey,
        Defect::StringExp,
        Defect::UnknownKid,
        Defect::WrongTyp,
        Defect::StrippedSignature,
        Defect::TamperedPayload,
        Defect::EmbeddedJwk,
    ] {
        let token = server.mint().client("svc").defect(defect).sign().unwrap();
        assert!(!active(&server, &token).await, "{defect:?} must not verify");
        let (header, claims, signature) = parts(&token);
        match defect {
            Defect::AlgNone => assert_eq!(
                (header["alg"].as_str(), signature.as_str()),
                (Some("none"), "")
            ),
            Defect::Hs256WithPublicKey => assert_eq!(header["alg"], "HS256"),
            Defect::StringExp => assert!(claims["exp"].is_string()),
            Defect::UnknownKid => assert_eq!(header["kid"], "ccflow-unknown-kid"),
            Defect::WrongTyp => assert_eq!(header["typ"], "JWT"),
            Defect::StrippedSignature => assert!(signature.is_empty()),
            Defect::TamperedPayload => assert_eq!(
                (claims["sub"].as_str(), claims["scope"].as_str()),
                (Some("ccflow-tampered-subject"), Some("admin"))
            ),
            Defect::EmbeddedJwk => {
                // The attack only works if the embedded key really verifies the token (what a
                // verifier trusting `jwk` checks) while the server's JWKS has no such key.
                let jwk: jsonwebtoken::jwk::Jwk =
                    serde_json::from_value(header["jwk"].clone()).unwrap();
                let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
                let algorithm: jsonwebtoken::Algorithm =
                    serde_json::from_value(header["alg"].clone()).unwrap();
                let mut validation = jsonwebtoken::Validation::new(algorithm);
                validation.validate_aud = false;
                jsonwebtoken::decode::<Value>(&token, &key, &validation)
                    .expect("the embedded key verifies the token");
                assert_ne!(header["kid"], server.app().keys().active().kid());
            }
            _ => {}
        }
    }
    let oversized = server
        .mint()
        .client("svc")
        .defect(Defect::Oversized)
        .sign()
        .unwrap();
    assert!(oversized.len() > 100 * 1024);
}

#[tokio::test]
async fn foreign_and_retired_keys_sign_unverifiable_tokens() {
    let server = server().await;
    let foreign = server.mint().client("svc").foreign_key().sign().unwrap();
    assert!(!active(&server, &foreign).await);
    let old_kid = server.app().keys().active().kid().to_owned();
    server
        .app()
        .rotate_keys_to(SigningKey::from_pem(&fixture("keys/rs256-2.pem")).unwrap());
    let by_previous = server
        .mint()
        .client("svc")
        .key(old_kid.clone())
        .sign()
        .unwrap();
    assert!(
        active(&server, &by_previous).await,
        "the previous key is still published"
    );
    server.app().retire_key(&old_kid).unwrap();
    let by_retired = server.mint().client("svc").key(old_kid).sign().unwrap();
    assert!(!active(&server, &by_retired).await);
    assert!(server.mint().key("no-such-kid").sign().is_err());
}

#[tokio::test]
async fn claims_and_headers_can_be_set_or_removed() {
    let server = server().await;
    let token = server
        .mint()
        .client("svc")
        .claim("iss", "https://elsewhere.example")
        .without_claim("exp")
        .header("jku", "https://attacker.example/jwks.json")
        .sign()
        .unwrap();
    let (header, claims, _) = parts(&token);
    assert_eq!(header["jku"], "https://attacker.example/jwks.json");
    assert_eq!(claims["iss"], "https://elsewhere.example");
    assert!(claims.get("exp").is_none());
    assert!(!active(&server, &token).await);
}

#[tokio::test]
async fn tokens_are_minted_over_http() {
    let server = server().await;
    let url = format!("{}/_ccflow/mint", server.uri());
    let good: Value = json_of(http().post(&url).json(&json!({"client_id": "svc"}))).await;
    assert!(active(&server, good["token"].as_str().unwrap()).await);
    let expired: Value = json_of(
        http()
            .post(&url)
            .json(&json!({"client_id": "svc", "defect": "expired"})),
    )
    .await;
    assert!(!active(&server, expired["token"].as_str().unwrap()).await);
    let bad = http()
        .post(&url)
        .json(&json!({"defect": "haunted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let unknown_key = http()
        .post(&url)
        .json(&json!({"key": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_key.status(), 400);
}
