//! The attack catalogue (validators-and-attacks.md §C) as one table, run through every adapter
//! compiled (actix-web: the sample API; axum: the same routes behind `ValidatorLayer`): each
//! case is a request sent to a middleware-guarded route (`GET /v1/items`) and to an
//! extractor-guarded one (`GET /v1/whoami`), or to the one route it names, and every answer
//! must give the exact status, `error` and challenge; with both adapters, their refusals must
//! be identical (status, `WWW-Authenticate`, `DPoP-Nonce`, `Cache-Control`, `Content-Type`,
//! body bytes). Each case runs against an issuer of its own, whose JWKS mock counts the
//! fetches the case may make, beside an attacker's server that must never be asked for
//! anything.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_resource_api::{Algorithm, Validator};
use common::*;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::MockServer;
use wiremock::matchers::any;

/// How the validator under attack is set up.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// The issuer publishes `key_1()`; the validator has its defaults.
    Default,
    /// The issuer publishes `client_rsa_key()`, whose public half also exists as PEM text.
    PublishesPemKey,
    /// As `PublishesPemKey`, with HS256 allowed beside RS256 and a configured shared secret.
    HmacWithSharedSecret,
    /// The issuer publishes `key_1()`; a vendor profile accepting `typ: JWT` beside `at+jwt`.
    AcceptsTypJwt,
}

/// What the attacker sends.
enum Request {
    /// `GET` with `Authorization: Bearer <token>` to both guarded routes; the token is made
    /// knowing the attacker's server, for headers that point at it.
    Token(fn(&MockServer) -> String),
    /// The request built for each of both guarded routes.
    Both(fn(&str) -> Sent),
    /// One request, to the route it names.
    One(fn() -> Sent),
}

/// One attack.
struct Case {
    name: &'static str,
    setup: Setup,
    /// JWKS requests the case makes (the issuer's mock expects exactly this many).
    fetches: u64,
    request: Request,
}

/// What every route the case reaches must answer.
enum Expected {
    /// 200; with `client_id`, the `/v1/whoami` answer names that client.
    Accepted { client_id: Option<&'static str> },
    /// The refusal: status, the body's `error`, the exact `WWW-Authenticate`, and an
    /// `error_description` in the body.
    Refused {
        status: u16,
        error: Option<&'static str>,
        challenge: String,
    },
}

fn accepted() -> Expected {
    Expected::Accepted { client_id: None }
}

fn accepted_as(client_id: &'static str) -> Expected {
    Expected::Accepted {
        client_id: Some(client_id),
    }
}

fn refused(status: u16, error: &'static str, challenge: &str) -> Expected {
    Expected::Refused {
        status,
        error: Some(error),
        challenge: challenge.to_owned(),
    }
}

fn invalid_token(description: &str) -> Expected {
    Expected::Refused {
        status: 401,
        error: Some("invalid_token"),
        challenge: format!(
            r#"Bearer realm="ccflow", error="invalid_token", error_description="{description}""#
        ),
    }
}

fn invalid_request(description: &str) -> Expected {
    Expected::Refused {
        status: 400,
        error: Some("invalid_request"),
        challenge: format!(
            r#"Bearer realm="ccflow", error="invalid_request", error_description="{description}""#
        ),
    }
}

fn no_credentials() -> Expected {
    Expected::Refused {
        status: 401,
        error: None,
        challenge: r#"Bearer realm="ccflow""#.to_owned(),
    }
}

fn case(name: &'static str, fetches: u64, request: Request) -> Case {
    Case {
        name,
        setup: Setup::Default,
        fetches,
        request,
    }
}

fn case_with(setup: Setup, name: &'static str, fetches: u64, request: Request) -> Case {
    Case {
        setup,
        ..case(name, fetches, request)
    }
}

/// `key`'s usual header, changed, signed by `key`.
fn with_header(key: &TestKey, change: impl FnOnce(&mut Header)) -> String {
    let mut header = header(key);
    change(&mut header);
    sign_with(key, &header, &claims())
}

/// A valid token from `key_1()` with some claims replaced (or removed, for `null`).
fn key_1_claims(changes: &Value) -> String {
    token_with_claims(&key_1(), &claims_with(changes))
}

fn alg_none(alg: &str) -> String {
    let header = json!({"alg": alg, "typ": "at+jwt", "kid": key_1().kid()});
    craft(&header, &claims(), "")
}

/// HS256 over the usual claims, naming the PEM key's `kid`: the classic key confusion, where
/// the attacker HMACs with the issuer's public key.
fn hs256_with(secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".to_owned());
    header.kid = client_rsa_key().jwk.kid;
    jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret)).unwrap()
}

fn public_pem() -> String {
    fixture("keys/client-rs256.pub.pem")
}

fn public_modulus() -> String {
    client_rsa_key().jwk.n.unwrap()
}

fn path_traversal_kid() -> String {
    with_header(&key_1(), |header| {
        header.kid = Some(format!("../../../{}", key_1().kid()));
    })
}

/// The attacker's key, with a `jku` naming the attacker's JWKS.
fn jku_elsewhere(attacker: &MockServer) -> String {
    with_header(&key_2(), |header| header.jku = Some(jwks_url(attacker)))
}

/// The attacker's key, with an `x5u` naming the attacker's server.
fn x5u_elsewhere(attacker: &MockServer) -> String {
    with_header(&key_2(), |header| {
        header.x5u = Some(format!("{}/cert.pem", attacker.uri()));
    })
}

/// No kid: the validator tries the issuer's own keys, and the signature fails.
fn embedded_jwk() -> String {
    let attacker = key_2();
    with_header(&attacker, |header| {
        header.kid = None;
        header.jwk = Some(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker.encoding, Algorithm::RS256)
                .unwrap(),
        );
    })
}

fn unknown_crit() -> String {
    let header =
        json!({"alg": "RS256", "typ": "at+jwt", "kid": key_1().kid(), "crit": ["exp"], "exp": 1});
    craft_signed(&key_1(), &header, &claims())
}

fn stripped_signature() -> String {
    let signed = token(&key_1());
    signed[..=signed.rfind('.').unwrap()].to_owned()
}

/// A valid signature over other claims, spliced onto a forged payload.
fn spliced_payload() -> String {
    let genuine = token(&key_1());
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let payload = b64(&claims_with(&json!({"scope": "admin"})));
    parts[1] = &payload;
    parts.join(".")
}

fn huge_token() -> String {
    format!(
        "{}.{}.{}",
        "a".repeat(100 * 1024),
        "b".repeat(10),
        "c".repeat(10)
    )
}

/// RFC 7519 §4: a parser that kept the first `exp` would read this token as expired and one
/// that kept the last as valid for ever; the validator reads neither.
fn repeated_exp() -> String {
    let key = key_1();
    let header = serde_json::to_string(&header(&key)).unwrap();
    let claims = claims().to_string();
    let repeated = format!(
        r#"{},"exp":{}}}"#,
        claims.strip_suffix('}').unwrap(),
        T0 + 10 * 365 * 86_400
    );
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(repeated)
    );
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.algorithm).unwrap();
    format!("{message}.{signature}")
}

fn with_authorization(uri: &str, value: &str) -> Sent {
    get(uri).insert_header(("authorization", value.to_owned()))
}

fn with_scheme(uri: &str, scheme: &str) -> Sent {
    with_authorization(uri, &format!("{scheme} {}", token(&key_1())))
}

fn two_authorization_headers(uri: &str) -> Sent {
    let valid = token(&key_1());
    get(uri)
        .append_header(bearer(&valid))
        .append_header(bearer(&valid))
}

fn token_in_query(uri: &str) -> Sent {
    get(&format!("{uri}?access_token={}", token(&key_1())))
}

fn token_in_query_and_header(uri: &str) -> Sent {
    token_in_query(uri).insert_header(bearer(&token(&key_1())))
}

fn form_with_token(with_header: bool) -> Sent {
    let valid = token(&key_1());
    let request = post("/v1/items")
        .insert_header((
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        ))
        .set_payload(format!("name=x&access_token={valid}"));
    if with_header {
        request.insert_header(bearer(&valid))
    } else {
        request
    }
}

/// A valid token with a form body one byte over the 64 KiB the policies read.
fn huge_form() -> Sent {
    post("/v1/items")
        .insert_header(bearer(&token(&key_1())))
        .insert_header((
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        ))
        .set_payload(format!("name={}", "x".repeat(64 * 1024 - 4)))
}

/// A reader's token creating an item.
fn post_item_with_read_scope() -> Sent {
    post("/v1/items")
        .insert_header(bearer(&key_1_claims(&json!({"scope": "items:read"}))))
        .set_json(&json!({"name": "x", "quantity": 1}))
}

const ALG_NONE: &str = "unsigned tokens (alg none) are never accepted (RFC 8725 section 3.1)";
const ALG_NOT_ACCEPTED: &str =
    "the token's alg is not accepted here (accepted: RS256, PS256, ES256)";
const NO_KEY_FOR_KID: &str = "no key published by the issuer matches the token's kid";
const BAD_SIGNATURE: &str = "the token's signature is invalid";
/// An `iss` this API does not trust is refused before any key is fetched, without repeating
/// it (it is not verified yet).
const OTHER_ISSUER: &str =
    "the token's issuer (iss) is not one this API trusts (it trusts `https://issuer.test`)";
const NOT_FOR_THIS_API: &str = "the token is not meant for this API: aud is ";
const TYP_REFUSED: &str =
    "the token's typ is not accepted (expected: at+jwt; RFC 9068 section 2.1)";
const CRIT: &str = "the token has a crit header, and this API understands no JWS extensions (RFC 7515 section 4.1.11)";
const IN_QUERY: &str = "access tokens are accepted only in the Authorization header, not in the query string (RFC 6750 section 2.3)";
const IN_FORM: &str = "access tokens are accepted only in the Authorization header, not in a form body (RFC 6750 section 2.2)";
const TWO_PLACES: &str =
    "the request carries an access token in more than one place (RFC 6750 section 2)";
const NOT_BEARER: &str = "the Authorization header is not `Bearer <token>` (RFC 6750 section 2.1)";
const NOT_A_JWS: &str = "the token is not a JWS in compact serialization (three base64url parts)";
const LACKS_WRITE: &str = r#"Bearer realm="ccflow", error="insufficient_scope", error_description="the token lacks the scope items:write", scope="items:write""#;

/// The catalogue, one attack a line: name, JWKS fetches, request, expected answer. Where an old
/// test sent several tokens, each is a case of its own with the fetches it alone makes:
/// refusals decided from the header and the unverified claims' JSON alone (alg, kid length,
/// typ, crit, size, transport, a malformed payload, a missing or untrusted `iss`) fetch
/// nothing; the others load the keys once (an unknown `kid`'s refetch falls in the cooldown).
#[rustfmt::skip]
fn catalogue() -> Vec<(Case, Expected)> {
    use Request::{Both, One, Token};
    use Setup::{AcceptsTypJwt, HmacWithSharedSecret, PublishesPemKey};
    vec![
        (case("a valid token passes both routes", 1, Token(|_| token(&key_1()))), accepted_as("svc")),
        (case("alg none", 0, Token(|_| alg_none("none"))), invalid_token(ALG_NONE)),
        (case("alg None", 0, Token(|_| alg_none("None"))), invalid_token(ALG_NONE)),
        (case("alg NONE", 0, Token(|_| alg_none("NONE"))), invalid_token(ALG_NONE)),
        (case_with(PublishesPemKey, "HS256 keyed with the issuer's public key as PEM", 0, Token(|_| hs256_with(public_pem().as_bytes()))), invalid_token(ALG_NOT_ACCEPTED)),
        (case_with(PublishesPemKey, "HS256 keyed with the issuer's public modulus", 0, Token(|_| hs256_with(public_modulus().as_bytes()))), invalid_token(ALG_NOT_ACCEPTED)),
        // Even where HS256 is allowed, it is checked with the configured secret only.
        (case_with(HmacWithSharedSecret, "HS256 keyed with the public key where HS256 is allowed", 0, Token(|_| hs256_with(public_pem().as_bytes()))), invalid_token(BAD_SIGNATURE)),
        (case("an unknown kid", 1, Token(|_| token(&key_2()))), invalid_token(NO_KEY_FOR_KID)),
        (case("a path traversal kid", 1, Token(|_| path_traversal_kid())), invalid_token(NO_KEY_FOR_KID)),
        (case("a very long kid, refused without a lookup", 0, Token(|_| with_header(&key_1(), |header| header.kid = Some("k".repeat(2000))))), invalid_token("the token's kid is longer than 256 bytes")),
        (case("a jku header pointing elsewhere is ignored", 1, Token(jku_elsewhere)), invalid_token(NO_KEY_FOR_KID)),
        (case("an x5u header pointing elsewhere is ignored", 1, Token(x5u_elsewhere)), invalid_token(NO_KEY_FOR_KID)),
        (case("an embedded jwk is ignored", 1, Token(|_| embedded_jwk())), invalid_token(BAD_SIGNATURE)),
        // The leeway is 30 s either way.
        (case("expired 31 s ago", 1, Token(|_| key_1_claims(&json!({"exp": T0 - 31})))), invalid_token("the token expired")),
        (case("expired 29 s ago, within the leeway", 1, Token(|_| key_1_claims(&json!({"exp": T0 - 29})))), accepted()),
        (case("nbf 31 s ahead", 1, Token(|_| key_1_claims(&json!({"nbf": T0 + 31})))), invalid_token("the token is not valid yet (nbf)")),
        (case("nbf 30 s ahead, within the leeway", 1, Token(|_| key_1_claims(&json!({"nbf": T0 + 30})))), accepted()),
        // CVE-2026-25537: a string time must not be read as "absent".
        (case("a string-typed exp", 1, Token(|_| key_1_claims(&json!({"exp": (T0 + 3600).to_string()})))), invalid_token("the token's exp claim has the wrong type")),
        (case("a string-typed nbf", 1, Token(|_| key_1_claims(&json!({"nbf": "0"})))), invalid_token("the token's nbf claim has the wrong type")),
        (case("another issuer", 0, Token(|_| key_1_claims(&json!({"iss": "https://evil.test"})))), invalid_token(OTHER_ISSUER)),
        (case("the issuer with a trailing slash", 0, Token(|_| key_1_claims(&json!({"iss": "https://issuer.test/"})))), invalid_token(OTHER_ISSUER)),
        (case("the issuer in upper case", 0, Token(|_| key_1_claims(&json!({"iss": "https://ISSUER.test"})))), invalid_token(OTHER_ISSUER)),
        (case("the attacker's server as the issuer", 0, Token(|attacker| key_1_claims(&json!({"iss": attacker.uri()})))), invalid_token(OTHER_ISSUER)),
        (case("another audience", 1, Token(|_| key_1_claims(&json!({"aud": "other-api"})))), invalid_token(&format!("{NOT_FOR_THIS_API}`other-api`, this API accepts `items-api`"))),
        (case("other audiences", 1, Token(|_| key_1_claims(&json!({"aud": ["other-api", "billing"]})))), invalid_token(&format!("{NOT_FOR_THIS_API}`other-api`, `billing`, this API accepts `items-api`"))),
        (case("an empty audience list", 1, Token(|_| key_1_claims(&json!({"aud": []})))), invalid_token(&format!("{NOT_FOR_THIS_API}empty, this API accepts `items-api`"))),
        (case("no exp", 1, Token(|_| key_1_claims(&json!({"exp": null})))), invalid_token("the token has no exp claim")),
        (case("no aud", 1, Token(|_| key_1_claims(&json!({"aud": null})))), invalid_token("the token has no aud claim")),
        (case("no iss", 0, Token(|_| key_1_claims(&json!({"iss": null})))), invalid_token("the token has no iss claim")),
        (case("a numeric iss", 0, Token(|_| key_1_claims(&json!({"iss": 7})))), invalid_token("the token's iss claim has the wrong type")),
        (case("typ JWT where at+jwt is required", 0, Token(|_| with_header(&key_1(), |header| header.typ = Some("JWT".to_owned())))), invalid_token(TYP_REFUSED)),
        (case("no typ where at+jwt is required", 0, Token(|_| with_header(&key_1(), |header| header.typ = None))), invalid_token(TYP_REFUSED)),
        (case_with(AcceptsTypJwt, "typ JWT under a profile for vendors that mint it", 1, Token(|_| with_header(&key_1(), |header| header.typ = Some("JWT".to_owned())))), accepted()),
        (case("an unknown crit header", 0, Token(|_| unknown_crit())), invalid_token(CRIT)),
        (case("a stripped signature", 1, Token(|_| stripped_signature())), invalid_token(BAD_SIGNATURE)),
        (case("the issuer's kid on the attacker's signature", 1, Token(|_| sign_with(&key_2(), &header(&key_1()), &claims()))), invalid_token(BAD_SIGNATURE)),
        (case("a genuine signature spliced onto a forged payload", 1, Token(|_| spliced_payload())), invalid_token(BAD_SIGNATURE)),
        (case("a 100 KiB token, refused before decoding", 0, Token(|_| huge_token())), invalid_token("the token is larger than 8192 bytes")),
        (case("two Authorization headers", 0, Both(two_authorization_headers)), invalid_request("the request has more than one Authorization header")),
        (case("a token in the query string", 0, Both(token_in_query)), invalid_request(IN_QUERY)),
        (case("a token in the query string and the header", 0, Both(token_in_query_and_header)), invalid_request(TWO_PLACES)),
        (case("a token in a form body and the header", 0, One(|| form_with_token(true))), invalid_request(TWO_PLACES)),
        (case("a token in a form body", 0, One(|| form_with_token(false))), invalid_request(IN_FORM)),
        (case("a form body too large to check, refused before any token", 0, One(huge_form)), refused(413, "invalid_request", r#"Bearer realm="ccflow", error="invalid_request", error_description="the form body is larger than 65536 bytes""#)),
        (case("the scheme in lower case", 1, Both(|uri| with_scheme(uri, "bearer"))), accepted()),
        (case("the scheme in upper case", 1, Both(|uri| with_scheme(uri, "BEARER"))), accepted()),
        (case("the scheme in mixed case", 1, Both(|uri| with_scheme(uri, "BeArEr"))), accepted()),
        (case("no credentials: a bare challenge", 0, Both(get)), no_credentials()),
        (case("Basic credentials: a bare challenge", 0, Both(|uri| with_authorization(uri, "Basic c3ZjOnNlY3JldA=="))), no_credentials()),
        (case("Bearer without a token", 0, Both(|uri| with_authorization(uri, "Bearer"))), invalid_request(NOT_BEARER)),
        (case("Bearer with two tokens", 0, Both(|uri| with_authorization(uri, "Bearer a b"))), invalid_request(NOT_BEARER)),
        (case("Bearer with a quote in the token", 0, Both(|uri| with_authorization(uri, "Bearer tok\"en"))), invalid_request(NOT_BEARER)),
        (case("an opaque token", 0, Token(|_| "opaque-token-not-a-jwt".to_owned())), invalid_token(NOT_A_JWS)),
        (case("a missing scope", 1, One(post_item_with_read_scope)), refused(403, "insufficient_scope", LACKS_WRITE)),
        // Cross-audience substitution (RFC 8725 §3.9): right issuer, right scope, wrong aud.
        (case("a token for another API with the right scope", 1, Token(|_| key_1_claims(&json!({"aud": "billing-api"})))), invalid_token(&format!("{NOT_FOR_THIS_API}`billing-api`, this API accepts `items-api`"))),
        // Claims are parsed before any key is fetched (their `iss` picks the keys).
        (case("a repeated claim behind a valid signature", 0, Token(|_| repeated_exp())), invalid_token("the token's claims are not a valid JSON object")),
        // The control for the case above: the same claims without the repeat pass.
        (case("the same claims without the repeat", 1, Token(|_| token(&key_1()))), accepted()),
    ]
}

/// An attacker's server: it publishes `key_2()` and must never be asked for anything.
async fn attacker_server() -> MockServer {
    let server = mock_server().await;
    wiremock::Mock::given(any())
        .respond_with(jwks_response(&[&key_2()]))
        .expect(0)
        .named("attacker's JWKS")
        .mount(&server)
        .await;
    server
}

/// The issuer's JWKS server and a validator set up as `setup` says.
async fn validator_for_setup(setup: Setup, fetches: u64) -> (Validator, MockServer) {
    let published = match setup {
        Setup::Default | Setup::AcceptsTypJwt => key_1(),
        Setup::PublishesPemKey | Setup::HmacWithSharedSecret => client_rsa_key(),
    };
    let jwks = jwks_server(&[&published], fetches).await;
    let builder = validator_for(&jwks, &clock());
    let builder = match setup {
        Setup::Default | Setup::PublishesPemKey => builder,
        Setup::HmacWithSharedSecret => builder
            .algorithms([Algorithm::RS256, Algorithm::HS256])
            .shared_secret(b"a-dedicated-secret-of-32-bytes!!".to_vec()),
        Setup::AcceptsTypJwt => builder.require_typ(["at+jwt", "JWT"]),
    };
    (builder.build().unwrap(), jwks)
}

/// A request as data, built the same for every adapter.
#[derive(Debug, Clone)]
struct Sent {
    method: &'static str,
    uri: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn get(uri: &str) -> Sent {
    Sent {
        method: "GET",
        uri: uri.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn post(uri: &str) -> Sent {
    Sent {
        method: "POST",
        ..get(uri)
    }
}

impl Sent {
    /// Adds a header (these tests never replace one).
    fn insert_header(self, header: (&'static str, String)) -> Self {
        self.append_header(header)
    }

    fn append_header(mut self, header: (&'static str, String)) -> Self {
        self.headers.push(header);
        self
    }

    fn set_payload(mut self, body: String) -> Self {
        self.body = body.into_bytes();
        self
    }

    fn set_json(self, body: &Value) -> Self {
        self.insert_header(("content-type", "application/json".to_owned()))
            .set_payload(body.to_string())
    }
}

/// What an adapter answered, whole: the status, the headers a refusal sets, the body bytes.
#[derive(Debug, Clone, PartialEq)]
struct Reply {
    status: u16,
    /// `WWW-Authenticate` (every value, in order), `DPoP-Nonce`, `Cache-Control`,
    /// `Content-Type`, `Retry-After`, lower-case names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The headers a refusal's identity is made of.
const REFUSAL_HEADERS: [&str; 5] = [
    "www-authenticate",
    "dpop-nonce",
    "cache-control",
    "content-type",
    "retry-after",
];

impl Reply {
    fn answer(&self) -> Answer {
        let first = |name: &str| {
            self.headers
                .iter()
                .find(|(found, _)| found == name)
                .map(|(_, value)| value.clone())
        };
        let body = if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
        };
        Answer {
            status: self.status,
            challenge: first("www-authenticate"),
            body,
            retry_after: first("retry-after"),
        }
    }
}

/// The adapters compiled in: each only sends a request to the same routes, guarded by a clone
/// of the same validator (one key cache, so the JWKS counts hold for the whole case).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Adapter {
    #[cfg(feature = "actix")]
    Actix,
    #[cfg(feature = "axum")]
    Axum,
}

const ADAPTERS: &[Adapter] = &[
    #[cfg(feature = "actix")]
    Adapter::Actix,
    #[cfg(feature = "axum")]
    Adapter::Axum,
];

impl Adapter {
    async fn send(self, validator: &Validator, request: &Sent) -> Reply {
        match self {
            #[cfg(feature = "actix")]
            Adapter::Actix => actix_adapter::send(validator, request).await,
            #[cfg(feature = "axum")]
            Adapter::Axum => axum_adapter::send(validator, request).await,
        }
    }
}

/// The sample API (`ccflow_resource_api::sample_api`), called in process.
#[cfg(feature = "actix")]
mod actix_adapter {
    use actix_web::test::{self, TestRequest};
    use actix_web::{App, http::Method};
    use ccflow_resource_api::Validator;
    use ccflow_resource_api::sample_api::{self, SampleApi};

    use super::{REFUSAL_HEADERS, Reply, Sent};

    pub(super) async fn send(validator: &Validator, request: &Sent) -> Reply {
        let api = SampleApi::new(validator.clone());
        let app = test::init_service(App::new().configure(sample_api::configure(api))).await;
        let mut built = TestRequest::default()
            .method(Method::from_bytes(request.method.as_bytes()).unwrap())
            .uri(&request.uri);
        for (name, value) in &request.headers {
            built = built.append_header((*name, value.clone()));
        }
        let built = built.set_payload(request.body.clone()).to_request();
        let response = test::call_service(&app, built).await;
        let status = response.status().as_u16();
        let mut headers = Vec::new();
        for name in REFUSAL_HEADERS {
            for value in response.headers().get_all(name) {
                headers.push((name.to_owned(), value.to_str().unwrap().to_owned()));
            }
        }
        let body = test::read_body(response).await.to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// The same routes on axum (`common::axum_app`).
#[cfg(feature = "axum")]
mod axum_adapter {
    use axum::body::Body;
    use ccflow_resource_api::Validator;

    use super::{REFUSAL_HEADERS, Reply, Sent};
    use crate::common::axum_app;

    pub(super) async fn send(validator: &Validator, request: &Sent) -> Reply {
        let mut built = http::Request::builder()
            .method(request.method)
            .uri(&request.uri);
        for (name, value) in &request.headers {
            built = built.header(*name, value);
        }
        let built = built.body(Body::from(request.body.clone())).unwrap();
        let (status, response_headers, body) = axum_app::send(validator, built).await;
        let mut headers = Vec::new();
        for name in REFUSAL_HEADERS {
            for value in response_headers.get_all(name) {
                headers.push((name.to_owned(), value.to_str().unwrap().to_owned()));
            }
        }
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// The same request to both guarded routes, through one adapter.
async fn both(
    adapter: Adapter,
    validator: &Validator,
    request: impl Fn(&str) -> Sent,
) -> Vec<(&'static str, Reply)> {
    let mut replies = Vec::new();
    for uri in ["/v1/items", "/v1/whoami"] {
        replies.push((uri, adapter.send(validator, &request(uri)).await));
    }
    replies
}

/// The case's requests through one adapter.
async fn replies(
    adapter: Adapter,
    case: &Case,
    validator: &Validator,
    attacker: &MockServer,
) -> Vec<(&'static str, Reply)> {
    match &case.request {
        Request::Token(token) => {
            let token = token(attacker);
            both(adapter, validator, |uri| {
                get(uri).insert_header(bearer(&token))
            })
            .await
        }
        Request::Both(request) => both(adapter, validator, request).await,
        Request::One(request) => vec![("the one route", adapter.send(validator, &request()).await)],
    }
}

#[track_caller]
fn check_answer(name: &str, adapter: Adapter, route: &str, reply: &Reply, expected: &Expected) {
    let answer = reply.answer();
    match expected {
        Expected::Accepted { client_id } => {
            assert_eq!(
                answer.status, 200,
                "{name}, {adapter:?} {route}: {answer:?}"
            );
            if let Some(client_id) = client_id
                && route == "/v1/whoami"
            {
                assert_eq!(
                    answer.body["client_id"], *client_id,
                    "{name}, {adapter:?}: {answer:?}"
                );
            }
        }
        Expected::Refused {
            status,
            error,
            challenge,
        } => {
            assert_eq!(
                answer.status, *status,
                "{name}, {adapter:?} {route}: {answer:?}"
            );
            assert_eq!(
                answer.error(),
                *error,
                "{name}, {adapter:?} {route}: {answer:?}"
            );
            assert_eq!(
                answer.challenge.as_deref(),
                Some(challenge.as_str()),
                "{name}, {adapter:?} {route}: {answer:?}"
            );
            // The body repeats the challenge's description for humans.
            assert!(
                answer
                    .body
                    .get("error_description")
                    .is_some_and(Value::is_string),
                "{name}, {adapter:?} {route}: {answer:?}"
            );
        }
    }
}

async fn check(case: &Case, expected: &Expected) {
    let name = case.name;
    let (validator, jwks) = validator_for_setup(case.setup, case.fetches).await;
    let attacker = attacker_server().await;
    let mut first: Option<(Adapter, Vec<(&'static str, Reply)>)> = None;
    for &adapter in ADAPTERS {
        let replies = replies(adapter, case, &validator, &attacker).await;
        for (route, reply) in &replies {
            check_answer(name, adapter, route, reply, expected);
        }
        // Both adapters translate the same refusal: byte for byte the same answer.
        if let (Some((other, earlier)), Expected::Refused { .. }) = (&first, expected) {
            assert_eq!(
                earlier, &replies,
                "{name}: {other:?} and {adapter:?} differ"
            );
        }
        first.get_or_insert((adapter, replies));
    }
    // The mocks verify these counts on drop too; asked here, a failure names the case.
    let fetched = jwks.received_requests().await.unwrap_or_default().len();
    assert_eq!(fetched as u64, case.fetches, "{name}: JWKS fetches");
    let asked = attacker.received_requests().await.unwrap_or_default();
    assert!(asked.is_empty(), "{name}: the attacker's server was asked");
}

#[tokio::test]
async fn every_attack_gets_its_exact_answer() {
    for (case, expected) in catalogue() {
        check(&case, &expected).await;
    }
}

#[tokio::test]
async fn never_echoes_the_token_in_a_refusal() {
    let (validator, _jwks) = validator_for_setup(Setup::Default, 1).await;
    let expired = token_with_claims(&key_1(), &claims_with(&json!({"exp": T0 - 3600})));
    let signature = expired.rsplit('.').next().unwrap();
    for &adapter in ADAPTERS {
        for (_, reply) in both(adapter, &validator, |uri| {
            get(uri).insert_header(bearer(&expired))
        })
        .await
        {
            let text = format!(
                "{:?} {}",
                reply.headers,
                String::from_utf8_lossy(&reply.body)
            );
            assert!(!text.contains(signature), "{adapter:?}: {text}");
        }
    }
}
