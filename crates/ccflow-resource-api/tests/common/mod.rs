//! Shared fixtures for the integration tests: fixture keys, token minting (signed with
//! jsonwebtoken, or crafted by hand), a wiremock JWKS, and one-call requests to the sample API.

#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "axum")]
pub mod axum_app;

use std::time::{Duration, UNIX_EPOCH};

#[cfg(feature = "actix")]
use actix_web::http::header::{HeaderName, HeaderValue};
#[cfg(feature = "actix")]
use actix_web::{App, test};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_auth_server::SigningKey;
use ccflow_protocol::Jwk;
#[cfg(feature = "actix")]
use ccflow_resource_api::sample_api::{self, SampleApi};
use ccflow_resource_api::{Algorithm, ManualClock, Validator, ValidatorBuilder};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Fixed time for deterministic tests: 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;
pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "items-api";
pub const JWKS_PATH: &str = "/jwks.json";

pub fn fixture(name: &str) -> String {
    let full = format!("{}/../../fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("cannot read {full}: {error}"))
}

pub fn clock() -> ManualClock {
    ManualClock::at(UNIX_EPOCH + Duration::from_secs(T0))
}

/// A key the tests sign with, and its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub encoding: EncodingKey,
    pub jwk: Jwk,
    pub algorithm: Algorithm,
}

impl TestKey {
    pub fn kid(&self) -> &str {
        self.jwk.kid.as_deref().unwrap_or_default()
    }

    /// The same key published without a `kid`.
    pub fn without_kid(&self) -> TestKey {
        let mut key = self.clone();
        key.jwk.kid = None;
        key
    }

    /// The same key with other JWK members (`alg`, `use`...).
    pub fn with_jwk(&self, change: impl FnOnce(&mut Jwk)) -> TestKey {
        let mut key = self.clone();
        change(&mut key.jwk);
        key
    }
}

fn rsa_key(pem_file: &str) -> TestKey {
    let pem = fixture(pem_file);
    let signing = SigningKey::from_pem(&pem).expect("fixture key loads");
    TestKey {
        encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("fixture key loads"),
        jwk: signing.public_jwk().clone(),
        algorithm: Algorithm::RS256,
    }
}

/// The issuer's key in most tests (`fixtures/keys/rs256-1.pem`).
pub fn key_1() -> TestKey {
    rsa_key("keys/rs256-1.pem")
}

/// A second RSA key: the rotation target, or an attacker's key.
pub fn key_2() -> TestKey {
    rsa_key("keys/rs256-2.pem")
}

/// `fixtures/keys/client-rs256.pem`, whose public half also exists as PEM text.
pub fn client_rsa_key() -> TestKey {
    rsa_key("keys/client-rs256.pem")
}

/// `fixtures/keys/client-es256.pem` (P-256).
pub fn es256_key() -> TestKey {
    TestKey {
        encoding: EncodingKey::from_ec_pem(fixture("keys/client-es256.pem").as_bytes())
            .expect("fixture key loads"),
        jwk: Jwk {
            kty: "EC".to_owned(),
            crv: Some("P-256".to_owned()),
            x: Some("cwVPcxL7JJX1kOW7oOUIsKcm7DpIe2evPBxKlmBOSPg".to_owned()),
            y: Some("S4nSzeBN5-pnATuzLU1mHF79qfWwNGEkGLCoXf-PEik".to_owned()),
            kid: Some("es-1".to_owned()),
            use_: Some("sig".to_owned()),
            ..Jwk::default()
        },
        algorithm: Algorithm::ES256,
    }
}

/// Claims of a valid access token at `T0`, for `AUDIENCE`, with both scopes.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "svc",
        "client_id": "svc",
        "aud": AUDIENCE,
        "iat": T0,
        "nbf": T0,
        "exp": T0 + 7 * 24 * 3600,
        "jti": "jti-1",
        "scope": "items:read items:write",
    })
}

/// `claims()` with members replaced (or removed, for `null`).
pub fn claims_with(changes: &Value) -> Value {
    let mut claims = claims();
    for (name, value) in changes.as_object().expect("changes are an object") {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// The header the authorization server sends: `typ: at+jwt`, the key's `alg` and `kid`.
pub fn header(key: &TestKey) -> Header {
    let mut header = Header::new(key.algorithm);
    header.typ = Some("at+jwt".to_owned());
    header.kid = key.jwk.kid.clone();
    header
}

pub fn sign_with(key: &TestKey, header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, &key.encoding).expect("token signs")
}

/// A valid token signed by `key`.
pub fn token(key: &TestKey) -> String {
    sign_with(key, &header(key), &claims())
}

/// A valid token signed by `key`, with other claims.
pub fn token_with_claims(key: &TestKey, claims: &Value) -> String {
    sign_with(key, &header(key), claims)
}

pub fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// A token made by hand: any header and claims, and a raw signature part.
pub fn craft(header: &Value, claims: &Value, signature: &str) -> String {
    format!("{}.{}.{signature}", b64(header), b64(claims))
}

/// Signs a hand-made header and claims with `key`'s algorithm (for headers
/// jsonwebtoken's `Header` cannot express, like `crit`).
pub fn craft_signed(key: &TestKey, header: &Value, claims: &Value) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.algorithm).unwrap();
    format!("{message}.{signature}")
}

pub fn jwks_body(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|key| &key.jwk).collect::<Vec<_>>()})
}

pub fn jwks_response(keys: &[&TestKey]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(jwks_body(keys))
}

/// A wiremock server of this test's own. Not the shared pool: a fetch that a
/// test abandons (the hanging-JWKS tests do) could otherwise reach the next
/// test's mocks.
pub async fn mock_server() -> MockServer {
    MockServer::builder().start().await
}

/// A JWKS server publishing `keys`, expecting exactly `fetches` requests.
pub async fn jwks_server(keys: &[&TestKey], fetches: u64) -> MockServer {
    let server = mock_server().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(jwks_response(keys))
        .expect(fetches)
        .named("JWKS")
        .mount(&server)
        .await;
    server
}

pub fn jwks_url(server: &MockServer) -> String {
    format!("{}{JWKS_PATH}", server.uri())
}

/// A validator for `ISSUER`/`AUDIENCE` reading keys from `server`, on `clock`.
pub fn validator_for(server: &MockServer, clock: &ManualClock) -> ValidatorBuilder {
    Validator::builder()
        .issuer(ISSUER)
        .jwks_url(jwks_url(server))
        .audience(AUDIENCE)
        .clock(clock.clone())
}

/// What a request got back, reduced to what the tests compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub challenge: Option<String>,
    pub body: Value,
    pub retry_after: Option<String>,
}

impl Answer {
    /// The body's `error` member, if any.
    pub fn error(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }
}

#[cfg(feature = "actix")]
/// Sends one request to the sample API (a fresh service; the validator's
/// cache is shared through its clones).
pub async fn send(api: &SampleApi, request: test::TestRequest) -> Answer {
    let app = test::init_service(App::new().configure(sample_api::configure(api.clone()))).await;
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(HeaderName::from_bytes(name.as_bytes()).unwrap())
            .map(|value: &HeaderValue| value.to_str().unwrap().to_owned())
    };
    let challenge = header("www-authenticate");
    let retry_after = header("retry-after");
    let bytes = test::read_body(response).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer {
        status,
        challenge,
        body,
        retry_after,
    }
}

#[cfg(feature = "actix")]
pub fn get(uri: &str) -> test::TestRequest {
    test::TestRequest::get().uri(uri)
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A self-signed client certificate for `name` (RFC 8705 §2.2 allows one): the certificate as
/// the validator sees it, its PEM, and its private key's PEM.
pub fn self_signed_certificate(
    name: &str,
) -> (ccflow_protocol::mtls::ClientCertificate, String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let signed = params.self_signed(&key).unwrap();
    (
        ccflow_protocol::mtls::ClientCertificate::from_der(signed.der().to_vec()),
        pem::encode(&pem::Pem::new("CERTIFICATE", signed.der().to_vec())),
        pem::encode(&pem::Pem::new("PRIVATE KEY", key.serialize_der())),
    )
}

/// `pem` URL-encoded as nginx's `$ssl_client_escaped_cert` writes it: every byte but the
/// unreserved ones as `%XX`.
pub fn nginx_escaped(pem: &str) -> String {
    pem.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
