//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3) over real HTTP.

mod common;

use common::{T0, fixture, form, post_form, start, verify};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(fixture("keys/client-rs256.pem").as_bytes()).unwrap()
}

fn sign(claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    encode(&Header::new(alg), claims, key).unwrap()
}

fn claims(client_id: &str, audience: &str, jti: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": T0,
        "exp": T0 + 60,
        "jti": jti,
    })
}

async fn token_with(url: &str, client_id: Option<&str>, assertion: &str) -> (u16, Value) {
    let mut pairs = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    if let Some(client_id) = client_id {
        pairs.push(("client_id", client_id));
    }
    let response = post_form(url, None, form(&pairs)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn an_rs256_assertion_authenticates_the_client() {
    let (server, _clock) = start().await;
    let assertion = sign(
        &claims("jwt-client", &server.token_url(), "jti-1"),
        &rsa_key(),
        Algorithm::RS256,
    );
    let (status, body) = token_with(&server.token_url(), Some("jwt-client"), &assertion).await;
    assert_eq!(status, 200, "{body}");
    let (_, token_claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        "jwt-client",
        T0,
    )
    .await;
    assert_eq!(token_claims["client_id"], "jwt-client");
    assert_eq!(token_claims["scope"], "jobs.run");
}

#[tokio::test]
async fn the_client_can_be_named_by_the_assertion_alone_and_aud_may_be_the_issuer() {
    let (server, _clock) = start().await;
    let assertion = sign(
        &claims("jwt-client", server.issuer(), "jti-2"),
        &rsa_key(),
        Algorithm::PS256,
    );
    let (status, body) = token_with(&server.token_url(), None, &assertion).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_es256_assertion_authenticates_the_client() {
    let (server, _clock) = start().await;
    let key = EncodingKey::from_ec_pem(fixture("keys/client-es256.pem").as_bytes()).unwrap();
    let assertion = sign(
        &claims("jwt-ec-client", &server.token_url(), "jti-3"),
        &key,
        Algorithm::ES256,
    );
    let (status, body) = token_with(&server.token_url(), Some("jwt-ec-client"), &assertion).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_jwk_registered_key_is_chosen_by_kid() {
    let (server, _clock) = start().await;
    let key = EncodingKey::from_ec_pem(fixture("keys/client-es256.pem").as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".to_owned());
    let assertion = encode(
        &header,
        &claims("jwk-client", &server.token_url(), "k-1"),
        &key,
    )
    .unwrap();
    let (status, body) = token_with(&server.token_url(), Some("jwk-client"), &assertion).await;
    assert_eq!(status, 200, "{body}");

    header.kid = Some("k2".to_owned());
    let assertion = encode(
        &header,
        &claims("jwk-client", &server.token_url(), "k-2"),
        &key,
    )
    .unwrap();
    let (status, body) = token_with(&server.token_url(), Some("jwk-client"), &assertion).await;
    expect_rejection("unknown kid", status, &body, "kid");
}

#[tokio::test]
async fn a_replayed_assertion_is_rejected() {
    let (server, _clock) = start().await;
    let assertion = sign(
        &claims("jwt-client", &server.token_url(), "jti-once"),
        &rsa_key(),
        Algorithm::RS256,
    );
    let (status, _) = token_with(&server.token_url(), Some("jwt-client"), &assertion).await;
    assert_eq!(status, 200);
    let (status, body) = token_with(&server.token_url(), Some("jwt-client"), &assertion).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"].as_str().unwrap().contains("jti"),
        "{body}"
    );
}

#[tokio::test]
async fn a_rejected_request_does_not_consume_the_jti() {
    let (server, _clock) = start().await;
    let assertion = sign(
        &claims("jwt-client", &server.token_url(), "jti-keep"),
        &rsa_key(),
        Algorithm::RS256,
    );
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
        ("scope", "not-allowed"),
    ];
    let response = post_form(&server.token_url(), None, form(&pairs)).await;
    assert_eq!(response.status(), 400);
    let (status, body) = token_with(&server.token_url(), Some("jwt-client"), &assertion).await;
    assert_eq!(status, 200, "{body}");
}

#[track_caller]
fn expect_rejection(name: &str, status: u16, body: &Value, mentions: &str) {
    assert_eq!(status, 401, "{name}: {body}");
    assert_eq!(body["error"], "invalid_client", "{name}: {body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(mentions),
        "{name}: `{description}` should mention `{mentions}`"
    );
}

#[tokio::test]
async fn each_failed_check_is_invalid_client_saying_which() {
    let (server, _clock) = start().await;
    let url = server.token_url();
    let other_key = EncodingKey::from_rsa_pem(fixture("keys/rs256-2.pem").as_bytes()).unwrap();
    let mut cases: Vec<(&str, Value, EncodingKey, Algorithm, &str)> = Vec::new();
    let base = claims("jwt-client", &url, "x");
    let with = |field: &str, value: Value| {
        let mut claims = base.clone();
        claims[field] = value;
        claims
    };
    let without = |field: &str| {
        let mut claims = base.clone();
        claims.as_object_mut().unwrap().remove(field);
        claims
    };
    cases.push((
        "signed by another key",
        with("jti", json!("a")),
        other_key,
        Algorithm::RS256,
        "signature",
    ));
    cases.push((
        "iss is not the client",
        with("iss", json!("someone")),
        rsa_key(),
        Algorithm::RS256,
        "iss",
    ));
    cases.push((
        "sub is not the client",
        with("sub", json!("someone")),
        rsa_key(),
        Algorithm::RS256,
        "sub",
    ));
    cases.push((
        "aud is elsewhere",
        with("aud", json!("https://elsewhere")),
        rsa_key(),
        Algorithm::RS256,
        "aud",
    ));
    cases.push(("no aud", without("aud"), rsa_key(), Algorithm::RS256, "aud"));
    cases.push(("no exp", without("exp"), rsa_key(), Algorithm::RS256, "exp"));
    cases.push((
        "exp too far ahead",
        with("exp", json!(T0 + 3600 + 31)),
        rsa_key(),
        Algorithm::RS256,
        "exp",
    ));
    cases.push((
        "expired",
        with("exp", json!(T0 - 31)),
        rsa_key(),
        Algorithm::RS256,
        "expired",
    ));
    cases.push((
        "exp as a string",
        with("exp", json!((T0 + 60).to_string())),
        rsa_key(),
        Algorithm::RS256,
        "numeric",
    ));
    cases.push((
        "nbf in the future",
        with("nbf", json!(T0 + 120)),
        rsa_key(),
        Algorithm::RS256,
        "nbf",
    ));
    cases.push(("no jti", without("jti"), rsa_key(), Algorithm::RS256, "jti"));
    for (name, claims, key, alg, mentions) in cases {
        let assertion = sign(&claims, &key, alg);
        let (status, body) = token_with(&url, Some("jwt-client"), &assertion).await;
        expect_rejection(name, status, &body, mentions);
    }
    // An HMAC assertion keyed with anything is refused outright.
    let hmac = sign(
        &claims("jwt-client", &url, "h"),
        &EncodingKey::from_secret(b"shared"),
        Algorithm::HS256,
    );
    let (status, body) = token_with(&url, Some("jwt-client"), &hmac).await;
    expect_rejection("HMAC", status, &body, "HMAC");
    // A secret-based client cannot use an assertion.
    let assertion = sign(
        &claims("orders-service", &url, "o"),
        &rsa_key(),
        Algorithm::RS256,
    );
    let (status, body) = token_with(&url, Some("orders-service"), &assertion).await;
    expect_rejection(
        "secret client",
        status,
        &body,
        "may not authenticate with private_key_jwt",
    );
    // The body client_id must be the assertion's.
    let assertion = sign(
        &claims("jwt-client", &url, "m"),
        &rsa_key(),
        Algorithm::RS256,
    );
    let (status, body) = token_with(&url, Some("jwt-ec-client"), &assertion).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        server
            .received_requests()
            .iter()
            .all(|entry| entry.status != 200)
    );
}

/// A library's default client assertion, written out field by field from its source.
struct LibraryAssertion {
    library: &'static str,
    header: Header,
    claims: Value,
    /// Whether the library sends `client_id` beside the assertion.
    sends_client_id: bool,
}

/// authlib (`authlib/oauth2/rfc7523/assertion.py`, `PrivateKeyJWT`): header `{"alg":"RS256",
/// "typ":"JWT"}` (its JWT encoder adds `typ`), claims in its order `iss`, `aud` (the token
/// endpoint, a string), `sub`, `iat`, `exp = iat + 3600`, `jti` (`generate_token(36)`); the
/// form carries only the assertion and its type.
fn authlib_default(token_url: &str, jti: &str) -> LibraryAssertion {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".to_owned());
    LibraryAssertion {
        library: "authlib",
        header,
        claims: json!({
            "iss": "jwt-client",
            "aud": token_url,
            "sub": "jwt-client",
            "iat": T0,
            "exp": T0 + 3600,
            "jti": jti,
        }),
        sends_client_id: false,
    }
}

/// openid-client (`lib/helpers/client.js`, `authFor`): header `{alg, kid}` without `typ`,
/// claims `iat`, `exp = iat + 60`, `jti` (`random()`, 43 base64url characters), `iss`, `sub`,
/// `aud` = [issuer, token endpoint]; the form also carries `client_id`.
fn openid_client_default(issuer: &str, token_url: &str, jti: &str) -> LibraryAssertion {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = None;
    header.kid = Some("client-key-1".to_owned());
    LibraryAssertion {
        library: "openid-client",
        header,
        claims: json!({
            "iat": T0,
            "exp": T0 + 60,
            "jti": jti,
            "iss": "jwt-client",
            "sub": "jwt-client",
            "aud": [issuer, token_url],
        }),
        sends_client_id: true,
    }
}

#[tokio::test]
async fn popular_libraries_default_assertions_authenticate_and_are_not_replayable() {
    let (server, clock) = start().await;
    let url = server.token_url();
    let libraries = [
        authlib_default(&url, "Qx7bV0cN2mR5tY8wZ1aD4fG6hJ9kL3pS7uXe"),
        openid_client_default(
            server.issuer(),
            &url,
            "3q2-7wEjRzVRn0cS8BVmYl4Y7WqfdY6n2o0r5X5Xh0c",
        ),
    ];
    for case in &libraries {
        clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(T0));
        let name = case.library;
        let assertion = encode(&case.header, &case.claims, &rsa_key()).unwrap();
        let client_id = case.sends_client_id.then_some("jwt-client");
        let (status, body) = token_with(&url, client_id, &assertion).await;
        assert_eq!(status, 200, "{name}: {body}");
        // The jti is remembered until this assertion's own `exp`, however long it is.
        let exp = case.claims["exp"].as_u64().unwrap();
        clock.advance(std::time::Duration::from_secs(exp - T0 - 1));
        let (status, body) = token_with(&url, client_id, &assertion).await;
        expect_rejection(name, status, &body, "jti");
    }
}

#[tokio::test]
async fn the_assertion_lifetime_bound_is_a_setting() {
    let clock = common::clock();
    let server = common::builder(&clock)
        .client_assertion_max_lifetime(std::time::Duration::from_secs(300))
        .start()
        .await
        .unwrap();
    let url = server.token_url();
    let authlib = authlib_default(&url, "authlib-under-a-5-minute-bound");
    let assertion = encode(&authlib.header, &authlib.claims, &rsa_key()).unwrap();
    let (status, body) = token_with(&url, None, &assertion).await;
    expect_rejection(
        "authlib under 300 s",
        status,
        &body,
        "more than 300 s ahead",
    );

    let toml = "client_assertion_max_lifetime_secs = 0";
    let error = ccflow_auth_server::MockAuthServerBuilder::from_config_str(toml, ".").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("client_assertion_max_lifetime_secs"),
        "{error}"
    );
}
