//! Shared fixtures for the integration tests: a server with fixture keys and known clients,
//! and token verification that does not use the server's own code.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, UNIX_EPOCH};

use ccflow_auth_server::protocol::AuthMethod;
use ccflow_auth_server::{Client, ManualClock, MockAuthServer, MockAuthServerBuilder, SigningKey};
use serde_json::Value;

pub const SPECIAL_ID: &str = "svc \" %&+£€:@/ id";
pub const SPECIAL_SECRET: &str = "sec \" %&+£€:@/ ret";
/// Fixed server time for deterministic tests: 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;

pub fn fixture(path: &str) -> String {
    let full = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("cannot read {full}: {error}"))
}

/// The public half of `fixtures/keys/client-es256.pem` as a JWK.
pub fn client_es256_jwk(kid: &str) -> ccflow_auth_server::protocol::Jwk {
    ccflow_auth_server::protocol::Jwk {
        kty: "EC".to_owned(),
        crv: Some("P-256".to_owned()),
        x: Some("cwVPcxL7JJX1kOW7oOUIsKcm7DpIe2evPBxKlmBOSPg".to_owned()),
        y: Some("S4nSzeBN5-pnATuzLU1mHF79qfWwNGEkGLCoXf-PEik".to_owned()),
        kid: Some(kid.to_owned()),
        ..Default::default()
    }
}

pub fn signing_key() -> SigningKey {
    SigningKey::from_pem(&fixture("keys/rs256-1.pem")).expect("fixture key loads")
}

pub fn clock() -> ManualClock {
    ManualClock::at(UNIX_EPOCH + Duration::from_secs(T0))
}

/// The clients every suite uses.
pub fn builder(clock: &ManualClock) -> MockAuthServerBuilder {
    MockAuthServer::builder()
        .signing_key(signing_key())
        .clock(clock.clone())
        .client(
            Client::new("orders-service", "orders-secret")
                .scopes(["orders.read", "orders.write"])
                .audiences(["orders-api", "billing-api"]),
        )
        .client(
            Client::new("basic-only", "basic-secret").auth_methods([AuthMethod::ClientSecretBasic]),
        )
        .client(
            Client::new("post-only", "post-secret").auth_methods([AuthMethod::ClientSecretPost]),
        )
        .client(
            Client::new(SPECIAL_ID, SPECIAL_SECRET)
                .scopes(["special"])
                .token_ttl(Duration::from_secs(120)),
        )
        .client(
            Client::private_key_jwt("jwt-client")
                .public_key_pem(fixture("keys/client-rs256.pub.pem"))
                .scopes(["jobs.run"]),
        )
        .client(
            Client::private_key_jwt("jwt-ec-client")
                .public_key_pem(fixture("keys/client-es256.pub.pem")),
        )
        .client(Client::private_key_jwt("jwk-client").public_jwk(client_es256_jwk("k1")))
}

pub async fn start() -> (MockAuthServer, ManualClock) {
    let clock = clock();
    let server = builder(&clock).start().await.expect("server starts");
    (server, clock)
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// `Basic` credentials per RFC 6749 §2.3.1, written here independently of ccflow-protocol.
pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let raw = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = String::new();
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            serializer.push('&');
        }
        serializer.push_str(&ccflow_auth_server::protocol::form_urlencode(name));
        serializer.push('=');
        serializer.push_str(&ccflow_auth_server::protocol::form_urlencode(value));
    }
    serializer
}

pub async fn post_form(url: &str, authorization: Option<&str>, body: String) -> reqwest::Response {
    let mut request = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.expect("request sent")
}

/// Requests a token with Basic auth and returns the JSON body, asserting a 200.
pub async fn token(
    server: &MockAuthServer,
    id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> Value {
    let mut pairs = vec![("grant_type", "client_credentials")];
    pairs.extend_from_slice(extra);
    let response = post_form(&server.token_url(), Some(&basic(id, secret)), form(&pairs)).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json body");
    assert_eq!(status, 200, "token request failed: {body}");
    body
}

/// Decodes and verifies a token with the JWKS fetched over HTTP, using jsonwebtoken directly:
/// the expected issuer and audience, RS256 only, `exp` required, at the given time.
pub async fn verify(
    server: &MockAuthServer,
    token: &str,
    audience: &str,
    now: u64,
) -> (Value, Value) {
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(server.jwks_url())
        .send()
        .await
        .expect("jwks fetched")
        .json()
        .await
        .expect("jwks is a JWK set");
    let header = jsonwebtoken::decode_header(token).expect("token has a JWS header");
    let kid = header.kid.expect("token header has a kid");
    let jwk = jwks
        .find(&kid)
        .expect("the token's kid is published in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("JWK converts to a key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[server.issuer()]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat", "nbf"]);
    // Check time against the test clock, not the wall clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("token verifies");
    let claims = data.claims;
    let exp = claims["exp"].as_u64().expect("numeric exp");
    let nbf = claims["nbf"].as_u64().expect("numeric nbf");
    assert!(
        nbf <= now && now < exp,
        "token not valid at {now}: {claims}"
    );
    let header = serde_json::to_value(&data.header).expect("header serialises");
    assert_eq!(header["kid"], kid.as_str());
    (header, claims)
}

/// One request to the `/_ccflow` admin API and the answer it must get.
pub struct AdminCase {
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub bearer: Option<&'static str>,
    pub status: u16,
    /// The `Allow` header, when the case checks it.
    pub allow: Option<&'static str>,
    /// A fragment the `WWW-Authenticate` header must contain, when the case checks it.
    pub challenge: Option<&'static str>,
}

/// A `GET` with no token that expects a 200 and checks no header: the base for table rows.
pub const ADMIN_GET: AdminCase = AdminCase {
    name: "",
    method: "GET",
    path: "",
    bearer: None,
    status: 200,
    allow: None,
    challenge: None,
};

/// Sends the case's admin request to `server` and checks the answer; failures name the case
/// (an async fn cannot be `#[track_caller]`).
pub async fn check_admin(server: &MockAuthServer, case: &AdminCase) {
    let name = case.name;
    let url = format!("{}{}", server.uri(), case.path);
    let mut request = http().request(case.method.parse().expect("an HTTP method"), &url);
    if let Some(token) = case.bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    assert_eq!(response.status(), case.status, "{name}: status");
    if let Some(allow) = case.allow {
        assert_eq!(response.headers()["allow"], allow, "{name}: Allow");
    }
    if let Some(fragment) = case.challenge {
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(fragment),
            "{name}: WWW-Authenticate {challenge}"
        );
    }
}

/// The JSON body of a `GET url` (any status).
pub async fn get_json(url: impl reqwest::IntoUrl) -> Value {
    json_of(http().get(url)).await
}

/// Sends `request` and returns its JSON body (any status).
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON body")
}

/// The server's introspection answer (RFC 7662) for `token`, asked as `id`/`secret` with Basic.
pub async fn introspect(server: &MockAuthServer, id: &str, secret: &str, token: &str) -> Value {
    post_form(
        &server
            .introspection_url()
            .expect("the profile serves introspection"),
        Some(&basic(id, secret)),
        form(&[("token", token)]),
    )
    .await
    .json()
    .await
    .expect("a JSON body")
}

/// A JWT's claims, decoded without verification.
pub fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token).expect("a JWT")
}

/// The snapshots' redactions, defined once for every suite that snapshots answers (insta's
/// `redactions` and `filters`): what changes from run to run is replaced, after its shape is
/// checked. `hosts` maps this run's base URI and address to stable names (in that order).
/// Members are named by path, so a value elsewhere that happens to share a name stays visible.
pub fn snapshot_settings(hosts: &[(&str, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // `jti`s and refresh tokens: random ids.
    for selector in ["[].token_claims.jti", "[].body.refresh_token"] {
        settings.add_dynamic_redaction(selector, |value, path| {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("{path} is a string"));
            assert!(text.len() >= 16, "{path} looks random: {text}");
            "[random id]"
        });
    }
    // Trace and request ids: 16 random bytes in hex.
    for selector in ["[].headers[\"x-trace-id\"]", "[].headers[\"x-request-id\"]"] {
        settings.add_dynamic_redaction(selector, |value, path| {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("{path} is a string"));
            assert_eq!(text.len(), 32, "{path} is 16 random bytes in hex: {text}");
            "[random hex]"
        });
    }
    // An issued token: shown decoded beside the answer (`token_header`, `token_claims`).
    settings.add_dynamic_redaction("[].body.access_token", |value, path| match value.as_str() {
        Some(token) => {
            assert_eq!(token.split('.').count(), 3, "{path} is a JWS compact token");
            insta::internals::Content::from("[token]")
        }
        None => value,
    });
    for (from, to) in hosts {
        settings.add_filter(&regex::escape(from), *to);
    }
    settings
}
