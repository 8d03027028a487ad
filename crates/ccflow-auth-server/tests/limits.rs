//! Request limits at their boundaries: exactly at a limit passes, one over gets the documented
//! status and OAuth error, never a 5xx, and changes no state. Header tests speak raw HTTP/1.1
//! so every byte of the header block is known.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use ccflow_auth_server::{Client, Endpoint, Limits, MockAuthServer};
use common::{basic, fixture, form, post_form, start};
use serde_json::{Value, json};

const CC: (&str, &str) = ("grant_type", "client_credentials");

/// A response read off the wire.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `request` as is on a new connection and reads the response until the server closes
/// it (requests say `connection: close`). A read timeout bounds a hung server.
fn raw(server: &MockAuthServer, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(server.address()).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout set");
    stream.write_all(request).expect("request written");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("response read");
    let split = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}

/// A token request whose header block (`name: value\r\n` per field, as the server counts it)
/// is exactly `block_bytes` long, padded with an `x-pad` header.
fn token_request_with_header_block(server: &MockAuthServer, block_bytes: usize) -> Vec<u8> {
    let body = form(&[CC]);
    let mut headers = vec![
        ("host".to_owned(), server.address().to_string()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("content-length".to_owned(), body.len().to_string()),
        (
            "authorization".to_owned(),
            basic("orders-service", "orders-secret"),
        ),
        ("connection".to_owned(), "close".to_owned()),
    ];
    let used: usize = headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    let pad = block_bytes - used - "x-pad".len() - 4;
    headers.push(("x-pad".to_owned(), "p".repeat(pad)));
    let path = server
        .token_url()
        .trim_start_matches(&server.uri())
        .to_owned();
    let mut request = format!("POST {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    request.into_bytes()
}

#[track_caller]
fn assert_oauth_error(case: &str, status: u16, body: &Value, want_status: u16, mentions: &str) {
    assert_eq!(status, want_status, "{case}: {body}");
    assert_eq!(body["error"], "invalid_request", "{case}: {body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(mentions), "{case}: {description}");
}

#[tokio::test]
async fn the_header_block_limit_passes_at_the_limit_and_answers_431_one_byte_over() {
    for (limits, max) in [
        (Limits::default(), 16 * 1024),
        (Limits::default().max_header_bytes(600), 600),
    ] {
        let clock = common::clock();
        let server = common::builder(&clock)
            .limits(limits)
            .start()
            .await
            .expect("server starts");
        let at = raw(&server, &token_request_with_header_block(&server, max));
        assert_eq!(at.status, 200, "{}", at.json());
        assert!(at.json()["access_token"].is_string());
        let over = raw(&server, &token_request_with_header_block(&server, max + 1));
        assert_oauth_error(
            "header block one byte over",
            over.status,
            &over.json(),
            431,
            &format!("{} bytes; at most {max}", max + 1),
        );
        assert!(
            over.headers
                .iter()
                .any(|(name, value)| name == "content-type" && value == "application/json")
        );
        // Journaled like any other request, and nothing was issued for it.
        server.assert_token_requests().with_status(431).exactly(1);
        server.assert_token_requests().successful().exactly(1);
    }
}

#[tokio::test]
async fn discovery_and_jwks_have_the_header_limit_too() {
    let clock = common::clock();
    let server = common::builder(&clock)
        .limits(Limits::default().max_header_bytes(200))
        .start()
        .await
        .expect("server starts");
    for url in [server.discovery_url(), server.jwks_url()] {
        let path = url.trim_start_matches(&server.uri()).to_owned();
        let request = format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\nx-pad: {}\r\n\r\n",
            server.address(),
            "p".repeat(200)
        );
        let response = raw(&server, request.as_bytes());
        assert_oauth_error(&path, response.status, &response.json(), 431, "at most 200");
    }
    server
        .assert_requests(Some(Endpoint::Discovery))
        .with_status(431)
        .exactly(1);
}

#[tokio::test]
async fn actix_web_refuses_more_than_96_headers_and_heads_of_128_kib_itself() {
    let (server, _clock) = start().await;
    // 97 header fields, tiny: over actix-web's field count, under our byte limit.
    let mut request = format!(
        "GET /jwks.json HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
        server.address()
    );
    for n in 0..95 {
        request.push_str(&format!("x-{n}: 1\r\n"));
    }
    request.push_str("\r\n");
    let response = raw(&server, request.as_bytes());
    assert_eq!(response.status, 431);
    assert!(response.body.is_empty());
    // A head that is still incomplete at 128 KiB: answered 431 before any handler runs.
    let mut request = b"GET /jwks.json HTTP/1.1\r\nx-pad: ".to_vec();
    request.resize(131_072, b'p');
    let response = raw(&server, &request);
    assert_eq!(response.status, 431);
    // Neither reached the server's handlers, so neither is journaled.
    assert!(server.received_requests().is_empty());
    // 96 fields are fine.
    let mut request = format!(
        "GET /jwks.json HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
        server.address()
    );
    for n in 0..94 {
        request.push_str(&format!("x-{n}: 1\r\n"));
    }
    request.push_str("\r\n");
    assert_eq!(raw(&server, request.as_bytes()).status, 200);
}

/// A token request body of exactly `bytes` bytes, padded with an unknown (ignored) parameter.
fn body_of(bytes: usize) -> String {
    let base = form(&[CC, ("pad", "")]);
    format!("{base}{}", "p".repeat(bytes - base.len()))
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_too() {
    let clock = common::clock();
    let server = common::builder(&clock)
        .limits(Limits::default().max_body_bytes(64))
        .start()
        .await
        .expect("server starts");
    let body = body_of(65);
    let request = format!(
        "POST /oauth2/token HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\nauthorization: {}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        server.address(),
        basic("orders-service", "orders-secret"),
        body.len(),
    );
    let response = raw(&server, request.as_bytes());
    assert_oauth_error(
        "chunked body",
        response.status,
        &response.json(),
        413,
        "exceeds 64 bytes",
    );
}

async fn token_status(
    server: &MockAuthServer,
    auth: Option<&str>,
    pairs: &[(&str, &str)],
) -> (u16, Value) {
    let response = post_form(&server.token_url(), auth, form(pairs)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `count` scopes whose space-joined length is exactly `length`.
fn scopes(count: usize, length: usize) -> Vec<String> {
    let spaces = count - 1;
    let each = (length - spaces) / count;
    let mut scopes: Vec<String> = (0..count)
        .map(|n| format!("{n:03}{}", "s".repeat(each - 3)))
        .collect();
    let short = length - spaces - each * count;
    scopes[count - 1].push_str(&"s".repeat(short));
    assert_eq!(scopes.join(" ").len(), length);
    scopes
}

fn assertion(jti: &str, audience: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(fixture("keys/client-rs256.pem").as_bytes())
        .expect("fixture key");
    let now = common::T0;
    let claims = json!({
        "iss": "jwt-client", "sub": "jwt-client", "aud": audience,
        "iat": now, "exp": now + 120, "jti": jti,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .expect("assertion signs")
}

fn assertion_pairs(assertion: &str) -> Vec<(&str, &str)> {
    vec![
        CC,
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ]
}

/// A client-secret-post token request of exactly `count` parameters, padded with unknown
/// (ignored) ones, plus `one_more` when asked.
fn parameters(count: usize, one_more: bool) -> String {
    let pads: Vec<String> = (0..count).map(|n| format!("pad{n}")).collect();
    let mut pairs = vec![
        CC,
        ("client_id", "orders-service"),
        ("client_secret", "orders-secret"),
    ];
    pairs.extend(pads.iter().take(count - 3).map(|name| (name.as_str(), "1")));
    if one_more {
        pairs.push(("one-more", "1"));
    }
    form(&pairs)
}

/// Where a case sends its form.
enum Target {
    /// `MockAuthServer::token_url()`.
    Token,
    /// `/oauth2/token` on the server's socket, whatever its issuer says.
    TokenOnSocket,
    Introspection,
    Revocation,
}

/// What a case expects back.
enum Expect {
    /// This status.
    Status(u16),
    /// This status and OAuth `error`.
    Error(u16, &'static str),
    /// This status, `invalid_request`, and an `error_description` that mentions the text.
    Refused(u16, String),
}

fn refused(status: u16, mentions: impl Into<String>) -> Expect {
    Expect::Refused(status, mentions.into())
}

/// One POST to a server started for the case alone.
struct Case {
    name: String,
    limits: Limits,
    issuer: Option<&'static str>,
    clients: Vec<Client>,
    target: Target,
    authorization: Option<String>,
    body: String,
    expect: Expect,
}

fn case(name: impl Into<String>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        limits: Limits::default(),
        issuer: None,
        clients: Vec::new(),
        target: Target::Token,
        authorization: None,
        body: String::new(),
        expect,
    }
}

impl Case {
    fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    fn issuer(mut self, issuer: &'static str) -> Self {
        self.issuer = Some(issuer);
        self
    }
    fn client(mut self, client: Client) -> Self {
        self.clients.push(client);
        self
    }
    fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }
    fn basic(mut self, id: &str, secret: &str) -> Self {
        self.authorization = Some(basic(id, secret));
        self
    }
    fn body(mut self, body: String) -> Self {
        self.body = body;
        self
    }
    fn form(self, pairs: &[(&str, &str)]) -> Self {
        self.body(form(pairs))
    }
}

fn cases() -> Vec<Case> {
    use Expect::{Error, Status};
    use ccflow_auth_server::MAX_BODY_BYTES;
    let orders = |c: Case| c.basic("orders-service", "orders-secret");

    let by_count = scopes(65, 65 * 10 - 1);
    let by_length_at = scopes(32, 4096);
    let by_length_over = scopes(32, 4097);
    let many_scopes = |c: Case| {
        c.client(
            Client::new("many-scopes", "secret").scopes(
                by_count
                    .iter()
                    .chain(&by_length_at)
                    .chain(&by_length_over)
                    .cloned(),
            ),
        )
        .basic("many-scopes", "secret")
    };
    let scope = |scopes: &[String]| scopes.join(" ");

    let id_at = "c".repeat(256);
    let id_over = "c".repeat(257);
    let long_ids = |c: Case| {
        c.client(Client::new(id_at.as_str(), "secret"))
            .client(Client::new(id_over.as_str(), "secret"))
    };
    let id_over_257 = "`client_id` is 257 bytes long; at most 256";

    let resource_at = format!("https://{}", "r".repeat(2048 - 8));
    let resource_over = format!("{resource_at}r");
    let long_audience = |c: Case| {
        c.client(
            Client::new("long-audience", "secret")
                .audiences([resource_at.as_str(), resource_over.as_str()]),
        )
        .basic("long-audience", "secret")
    };

    // A fixed issuer keeps the assertion's length independent of the port; a real assertion
    // is accepted by a limit of exactly its length and refused by one byte less.
    const ISSUER: &str = "http://ccflow.test";
    let valid = assertion("jti-at-limit", ISSUER);
    let at_own_length = |c: Case, max: usize| {
        c.issuer(ISSUER)
            .limits(Limits::default().max_client_assertion_length(max))
            .target(Target::TokenOnSocket)
            .form(&assertion_pairs(&valid))
    };

    let id_in_body = |c: Case| {
        c.form(&[
            ("token", "t"),
            ("client_id", &id_over),
            ("client_secret", "s"),
        ])
    };
    let id_in_basic = |c: Case| c.basic(&id_over, "s").form(&[("token", "t")]);
    let too_long_id = || refused(400, "`client_id` is 257 bytes long");

    let three_resources = [
        CC,
        ("resource", "orders-api"),
        ("resource", "billing-api"),
        ("resource", "orders-api"),
    ];
    let four_resources = [&three_resources[..], &[("resource", "billing-api")]].concat();

    vec![
        // Body bytes.
        orders(case("body at the default limit", Status(200))).body(body_of(MAX_BODY_BYTES)),
        orders(case(
            "body one byte over the default limit",
            refused(413, format!("exceeds {MAX_BODY_BYTES} bytes")),
        ))
        .body(body_of(MAX_BODY_BYTES + 1)),
        orders(case("body at a limit of 300", Status(200)))
            .limits(Limits::default().max_body_bytes(300))
            .body(body_of(300)),
        orders(case(
            "body one byte over a limit of 300",
            refused(413, "exceeds 300 bytes"),
        ))
        .limits(Limits::default().max_body_bytes(300))
        .body(body_of(301)),
        // Parameter count.
        case("64 parameters at the default limit", Status(200)).body(parameters(64, false)),
        case(
            "65 parameters over the default limit",
            refused(400, "65 parameters; at most 64"),
        )
        .body(parameters(64, true)),
        case("5 parameters at a limit of 5", Status(200))
            .limits(Limits::default().max_params(5))
            .body(parameters(5, false)),
        case(
            "6 parameters over a limit of 5",
            refused(400, "6 parameters; at most 5"),
        )
        .limits(Limits::default().max_params(5))
        .body(parameters(5, true)),
        // Repeated resources count as parameters.
        orders(case("three resources at a limit of 4", Status(200)))
            .limits(Limits::default().max_params(4))
            .form(&three_resources),
        orders(case(
            "four resources over a limit of 4",
            refused(400, "5 parameters; at most 4"),
        ))
        .limits(Limits::default().max_params(4))
        .form(&four_resources),
        // Scope count and length.
        many_scopes(case("64 scopes", Status(200))).form(&[CC, ("scope", &scope(&by_count[..64]))]),
        many_scopes(case("65 scopes", refused(400, "65 scopes; at most 64")))
            .form(&[CC, ("scope", &scope(&by_count))]),
        many_scopes(case("a scope of 4096 bytes", Status(200)))
            .form(&[CC, ("scope", &scope(&by_length_at))]),
        many_scopes(case(
            "a scope of 4097 bytes",
            refused(400, "`scope` is 4097 bytes long; at most 4096"),
        ))
        .form(&[CC, ("scope", &scope(&by_length_over))]),
        // The client id, in Basic and in the body, before any lookup: the 257-byte one is
        // registered and has the right secret, and is still refused because it is too big.
        long_ids(case("client_id of 256 bytes in basic", Status(200)))
            .basic(&id_at, "secret")
            .form(&[CC]),
        long_ids(case("client_id of 256 bytes in the body", Status(200))).form(&[
            CC,
            ("client_id", &id_at),
            ("client_secret", "secret"),
        ]),
        long_ids(case(
            "client_id of 257 bytes in basic",
            refused(400, id_over_257),
        ))
        .basic(&id_over, "secret")
        .form(&[CC]),
        long_ids(case(
            "client_id of 257 bytes in the body",
            refused(400, id_over_257),
        ))
        .form(&[CC, ("client_id", &id_over), ("client_secret", "secret")]),
        // Resource and audience length.
        long_audience(case("resource of 2048 bytes", Status(200)))
            .form(&[CC, ("resource", &resource_at)]),
        long_audience(case(
            "resource of 2049 bytes",
            refused(400, "`resource` is 2049 bytes long; at most 2048"),
        ))
        .form(&[CC, ("resource", &resource_over)]),
        long_audience(case(
            "audience of 2049 bytes",
            refused(400, "`audience` is 2049 bytes long; at most 2048"),
        ))
        .form(&[CC, ("audience", &resource_over)]),
        // Client assertion length.
        at_own_length(
            case("assertion at a limit of its own length", Status(200)),
            valid.len(),
        ),
        at_own_length(
            case("assertion one byte over a limit", Status(400)),
            valid.len() - 1,
        ),
        // At the default: 8192 bytes reach authentication (and fail it), 8193 do not.
        case(
            "assertion of 8192 bytes at the default limit",
            Error(401, "invalid_client"),
        )
        .form(&assertion_pairs(&"a".repeat(8192))),
        case(
            "assertion of 8193 bytes over the default limit",
            refused(400, "`client_assertion` is 8193 bytes long; at most 8192"),
        )
        .form(&assertion_pairs(&"a".repeat(8193))),
        // Introspection and revocation have the parameter limits.
        id_in_body(case(
            "introspection, long client_id in the body",
            too_long_id(),
        ))
        .target(Target::Introspection),
        id_in_basic(case(
            "introspection, long client_id in basic",
            too_long_id(),
        ))
        .target(Target::Introspection),
        id_in_body(case(
            "revocation, long client_id in the body",
            too_long_id(),
        ))
        .target(Target::Revocation),
        id_in_basic(case("revocation, long client_id in basic", too_long_id()))
            .target(Target::Revocation),
    ]
}

/// Starts the case's server, sends its one request and checks the answer; failures name the
/// case (an async fn cannot be `#[track_caller]`).
async fn check(case: Case) {
    let clock = common::clock();
    let mut builder = common::builder(&clock).limits(case.limits);
    if let Some(issuer) = case.issuer {
        builder = builder.issuer(issuer);
    }
    for client in case.clients {
        builder = builder.client(client);
    }
    let server = builder.start().await.expect("server starts");
    let url = match case.target {
        Target::Token => server.token_url(),
        Target::TokenOnSocket => format!("{}/oauth2/token", server.uri()),
        Target::Introspection => server.introspection_url().expect("rfc has introspection"),
        Target::Revocation => server.revocation_url().expect("rfc has revocation"),
    };
    let response = post_form(&url, case.authorization.as_deref(), case.body).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let name = case.name;
    match case.expect {
        Expect::Status(want) => assert_eq!(status, want, "{name}: {body}"),
        Expect::Error(want, error) => assert_eq!(
            (status, body["error"].as_str()),
            (want, Some(error)),
            "{name}: {body}"
        ),
        Expect::Refused(want, mentions) => {
            assert_oauth_error(&name, status, &body, want, &mentions);
        }
    }
}

#[tokio::test]
async fn each_limit_passes_at_the_limit_and_refuses_one_over() {
    for case in cases() {
        check(case).await;
    }
}

#[tokio::test]
async fn a_request_over_a_limit_changes_no_state() {
    let clock = common::clock();
    let server = common::builder(&clock)
        .limits(Limits::default().max_params(3))
        .start()
        .await
        .expect("server starts");
    let valid = assertion("jti-once", &server.token_url());
    let mut pairs = assertion_pairs(&valid);
    pairs.push(("pad", "1"));
    let (status, body) = token_status(&server, None, &pairs).await;
    assert_oauth_error(
        "refused request",
        status,
        &body,
        400,
        "4 parameters; at most 3",
    );
    // The assertion's jti was not consumed by the refused request.
    let (status, body) = token_status(&server, None, &assertion_pairs(&valid)).await;
    assert_eq!(status, 200, "{body}");
    server.assert_token_requests().successful().exactly(1);
}

#[tokio::test]
async fn a_bad_limit_is_a_configuration_error() {
    let error = MockAuthServer::builder()
        .limits(Limits::default().max_scope_length(0))
        .start()
        .await
        .expect_err("zero is refused");
    assert!(
        error.to_string().contains("limits.max_scope_length"),
        "{error}"
    );
}
