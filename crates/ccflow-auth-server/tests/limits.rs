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
fn assert_oauth_error(status: u16, body: &Value, want_status: u16, mentions: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(mentions), "{description}");
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
        assert_oauth_error(response.status, &response.json(), 431, "at most 200");
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
async fn the_body_limit_passes_at_the_limit_and_answers_413_one_byte_over() {
    for (limits, max) in [
        (Limits::default(), ccflow_auth_server::MAX_BODY_BYTES),
        (Limits::default().max_body_bytes(300), 300),
    ] {
        let clock = common::clock();
        let server = common::builder(&clock)
            .limits(limits)
            .start()
            .await
            .expect("server starts");
        let auth = basic("orders-service", "orders-secret");
        let at = post_form(&server.token_url(), Some(&auth), body_of(max)).await;
        assert_eq!(at.status(), 200);
        let over = post_form(&server.token_url(), Some(&auth), body_of(max + 1)).await;
        let status = over.status().as_u16();
        let body: Value = over.json().await.expect("json");
        assert_oauth_error(status, &body, 413, &format!("exceeds {max} bytes"));
    }
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
    assert_oauth_error(response.status, &response.json(), 413, "exceeds 64 bytes");
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

#[tokio::test]
async fn the_parameter_count_limit_passes_at_the_limit_and_is_400_one_over() {
    for (limits, max) in [
        (Limits::default(), 64),
        (Limits::default().max_params(5), 5),
    ] {
        let clock = common::clock();
        let server = common::builder(&clock)
            .limits(limits)
            .start()
            .await
            .expect("server starts");
        let pads: Vec<String> = (0..max).map(|n| format!("pad{n}")).collect();
        let mut pairs = vec![
            CC,
            ("client_id", "orders-service"),
            ("client_secret", "orders-secret"),
        ];
        pairs.extend(pads.iter().take(max - 3).map(|name| (name.as_str(), "1")));
        let (status, body) = token_status(&server, None, &pairs).await;
        assert_eq!(status, 200, "{body}");
        pairs.push(("one-more", "1"));
        let (status, body) = token_status(&server, None, &pairs).await;
        assert_oauth_error(
            status,
            &body,
            400,
            &format!("{} parameters; at most {max}", max + 1),
        );
    }
}

#[tokio::test]
async fn repeated_resources_count_as_parameters() {
    let clock = common::clock();
    let server = common::builder(&clock)
        .limits(Limits::default().max_params(4))
        .start()
        .await
        .expect("server starts");
    let auth = basic("orders-service", "orders-secret");
    let three = [
        CC,
        ("resource", "orders-api"),
        ("resource", "billing-api"),
        ("resource", "orders-api"),
    ];
    assert_eq!(token_status(&server, Some(&auth), &three).await.0, 200);
    let mut four = three.to_vec();
    four.push(("resource", "billing-api"));
    let (status, body) = token_status(&server, Some(&auth), &four).await;
    assert_oauth_error(status, &body, 400, "5 parameters; at most 4");
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

#[tokio::test]
async fn the_scope_limits_pass_at_the_limit_and_are_400_one_over() {
    let by_count = scopes(65, 65 * 10 - 1);
    let by_length_at = scopes(32, 4096);
    let by_length_over = scopes(32, 4097);
    let clock = common::clock();
    let server = common::builder(&clock)
        .client(
            Client::new("many-scopes", "secret").scopes(
                by_count
                    .iter()
                    .chain(&by_length_at)
                    .chain(&by_length_over)
                    .cloned(),
            ),
        )
        .start()
        .await
        .expect("server starts");
    let auth = basic("many-scopes", "secret");
    let check = async |scopes: &[String]| {
        token_status(&server, Some(&auth), &[CC, ("scope", &scopes.join(" "))]).await
    };
    let (status, body) = check(&by_count[..64]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = check(&by_count).await;
    assert_oauth_error(status, &body, 400, "65 scopes; at most 64");
    let (status, body) = check(&by_length_at).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = check(&by_length_over).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "`scope` is 4097 bytes long; at most 4096",
    );
}

#[tokio::test]
async fn the_client_id_limit_applies_to_the_body_and_to_basic_before_any_lookup() {
    let at = "c".repeat(256);
    let over = "c".repeat(257);
    let clock = common::clock();
    let server = common::builder(&clock)
        .client(Client::new(at.as_str(), "secret"))
        .client(Client::new(over.as_str(), "secret"))
        .start()
        .await
        .expect("server starts");
    for id in [&at, &over] {
        let basic_auth = basic(id, "secret");
        let by_basic = token_status(&server, Some(&basic_auth), &[CC]).await;
        let by_post = token_status(
            &server,
            None,
            &[CC, ("client_id", id), ("client_secret", "secret")],
        )
        .await;
        for (status, body) in [by_basic, by_post] {
            if id.len() == 256 {
                assert_eq!(status, 200, "{body}");
            } else {
                // Registered, right secret: still refused, because the request is too big.
                assert_oauth_error(
                    status,
                    &body,
                    400,
                    "`client_id` is 257 bytes long; at most 256",
                );
            }
        }
    }
}

#[tokio::test]
async fn the_resource_and_audience_limits_pass_at_the_limit_and_are_400_one_over() {
    let at = format!("https://{}", "r".repeat(2048 - 8));
    let over = format!("{at}r");
    let clock = common::clock();
    let server = common::builder(&clock)
        .client(Client::new("long-audience", "secret").audiences([at.as_str(), over.as_str()]))
        .start()
        .await
        .expect("server starts");
    let auth = basic("long-audience", "secret");
    let (status, body) = token_status(&server, Some(&auth), &[CC, ("resource", &at)]).await;
    assert_eq!(status, 200, "{body}");
    for name in ["resource", "audience"] {
        let (status, body) = token_status(&server, Some(&auth), &[CC, (name, &over)]).await;
        assert_oauth_error(
            status,
            &body,
            400,
            &format!("`{name}` is 2049 bytes long; at most 2048"),
        );
    }
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

#[tokio::test]
async fn the_client_assertion_limit_passes_at_the_limit_and_is_400_one_over() {
    // A fixed issuer keeps the assertion's length independent of the port; a real assertion
    // is accepted by a limit of exactly its length and refused by one byte less.
    const ISSUER: &str = "http://ccflow.test";
    let valid = assertion("jti-at-limit", ISSUER);
    for (max, want) in [(valid.len(), 200), (valid.len() - 1, 400)] {
        let clock = common::clock();
        let server = common::builder(&clock)
            .issuer(ISSUER)
            .limits(Limits::default().max_client_assertion_length(max))
            .start()
            .await
            .expect("server starts");
        let url = format!("{}/oauth2/token", server.uri());
        let response = post_form(&url, None, form(&assertion_pairs(&valid))).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, want, "{body}");
    }
    // At the default: 8192 bytes reach authentication (and fail it), 8193 do not.
    let (server, _clock) = start().await;
    let (status, body) = token_status(&server, None, &assertion_pairs(&"a".repeat(8192))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = token_status(&server, None, &assertion_pairs(&"a".repeat(8193))).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "`client_assertion` is 8193 bytes long; at most 8192",
    );
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
    assert_oauth_error(status, &body, 400, "4 parameters; at most 3");
    // The assertion's jti was not consumed by the refused request.
    let (status, body) = token_status(&server, None, &assertion_pairs(&valid)).await;
    assert_eq!(status, 200, "{body}");
    server.assert_token_requests().successful().exactly(1);
}

#[tokio::test]
async fn introspection_and_revocation_have_the_parameter_limits() {
    let (server, _clock) = start().await;
    let long_id = "c".repeat(257);
    for url in [
        server.introspection_url().expect("rfc has introspection"),
        server.revocation_url().expect("rfc has revocation"),
    ] {
        let pairs = [
            ("token", "t"),
            ("client_id", long_id.as_str()),
            ("client_secret", "s"),
        ];
        let response = post_form(&url, None, form(&pairs)).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        assert_oauth_error(status, &body, 400, "`client_id` is 257 bytes long");
        let auth = basic(&long_id, "s");
        let response = post_form(&url, Some(&auth), form(&[("token", "t")])).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        assert_oauth_error(status, &body, 400, "`client_id` is 257 bytes long");
    }
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
