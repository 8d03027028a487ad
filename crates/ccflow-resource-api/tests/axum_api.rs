//! `examples/axum_api.rs` served on 127.0.0.1:0 against the embedded `MockAuthServer`: a token
//! from the mock opens its routes as their scopes say, and a request without one gets 401 with
//! the bare challenge (RFC 6750 §3.1), over real HTTP. Behind a TLS-terminating proxy, a
//! certificate-bound token (RFC 8705 §3) passes with the proxy's certificate header only from
//! the trusted proxy's address, which axum knows from `ConnectInfo<SocketAddr>`.

#[allow(dead_code)]
#[path = "../examples/axum_api.rs"]
mod axum_api;
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use ccflow_resource_api::{ForwardedCertificateFormat, IpNetwork, Validator};
use serde_json::{Value, json};

const NO_TOKEN: &str = "this resource needs an access token: send `Authorization: Bearer <token>` (RFC 6750 section 2.1)";

/// What a call is expected to get: status, `WWW-Authenticate`, body.
struct Expected {
    status: u16,
    challenge: Option<&'static str>,
    body: Value,
}

#[track_caller]
fn check(name: &str, answer: (u16, Option<String>, Value), expected: &Expected) {
    let (status, challenge, body) = answer;
    assert_eq!(status, expected.status, "{name}: {body}");
    assert_eq!(challenge.as_deref(), expected.challenge, "{name}");
    assert_eq!(body, expected.body, "{name}");
}

async fn token(server: &MockAuthServer, client: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(server.token_url())
        .basic_auth(client, Some("s3cret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, challenge, body)
}

#[tokio::test]
async fn the_example_serves_tokens_from_the_mock_and_refuses_the_rest() {
    let server = MockAuthServer::builder()
        .signing_key(
            SigningKey::from_pem(include_str!("../../../fixtures/keys/rs256-1.pem")).unwrap(),
        )
        .client(
            Client::new("orders-service", "s3cret")
                .scopes(["orders.read", "orders.write"])
                .audiences(["orders-api"]),
        )
        .client(
            Client::new("orders-reader", "s3cret")
                .scopes(["orders.read"])
                .audiences(["orders-api"]),
        )
        .start()
        .await
        .unwrap();
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience("orders-api")
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum_api::app(validator)).await });

    let writer = token(&server, "orders-service").await;
    let reader = token(&server, "orders-reader").await;
    let orders = format!("{base}/orders");
    let whoami = format!("{base}/whoami");
    use reqwest::Method;
    let cases = [
        (
            "a token with the scope lists orders",
            call(Method::GET, &orders, Some(&writer)).await,
            Expected {
                status: 200,
                challenge: None,
                body: json!({"orders": [], "client": "orders-service"}),
            },
        ),
        (
            "no token: 401 with the bare challenge",
            call(Method::GET, &orders, None).await,
            Expected {
                status: 401,
                challenge: Some(r#"Bearer realm="ccflow""#),
                body: json!({"error_description": NO_TOKEN}),
            },
        ),
        (
            "a token with the scope creates an order",
            call(Method::POST, &orders, Some(&writer)).await,
            Expected {
                status: 201,
                challenge: None,
                body: Value::Null,
            },
        ),
        (
            "a reader's token cannot create one",
            call(Method::POST, &orders, Some(&reader)).await,
            Expected {
                status: 403,
                challenge: Some(
                    r#"Bearer realm="ccflow", error="insufficient_scope", error_description="the token lacks the scope orders.write", scope="orders.write""#,
                ),
                body: json!({"error": "insufficient_scope", "error_description": "the token lacks the scope orders.write"}),
            },
        ),
        (
            "whoami: any valid token",
            call(Method::GET, &whoami, Some(&reader)).await,
            Expected {
                status: 200,
                challenge: None,
                body: json!({"client_id": "orders-reader", "scopes": ["orders.read"]}),
            },
        ),
        (
            "whoami: no token",
            call(Method::GET, &whoami, None).await,
            Expected {
                status: 401,
                challenge: Some(r#"Bearer realm="ccflow""#),
                body: json!({"error_description": NO_TOKEN}),
            },
        ),
    ];
    for (name, answer, expected) in cases {
        check(name, answer, &expected);
    }
}

/// The address the "proxy" connects from: 127.0.0.2 (Linux routes all of 127.0.0.0/8 to the
/// loopback), the one address the validator trusts; the "client" connects from 127.0.0.1.
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const CERT_HEADER: &str = "x-ssl-client-cert";
const MISSING: &str = "the token is certificate-bound (cnf x5t#S256) and the request presented no client certificate: send it over mutual TLS with the certificate it is bound to (RFC 8705 section 3)";
const MISMATCH: &str = "the client certificate presented does not match the certificate the token is bound to (cnf x5t#S256; RFC 8705 section 3)";

#[tokio::test]
async fn a_certificate_bound_token_passes_only_with_the_trusted_proxy_s_header() {
    let server = MockAuthServer::builder()
        .signing_key(
            SigningKey::from_pem(include_str!("../../../fixtures/keys/rs256-1.pem")).unwrap(),
        )
        .client(
            Client::tls_client_auth("orders-service")
                .tls_client_auth_subject_dn("CN=orders-service")
                .tls_client_certificate_bound_access_tokens(true)
                .scopes(["orders.read"])
                .audiences(["orders-api"]),
        )
        .client(Client::new("orders-reader", "s3cret").audiences(["orders-api"]))
        .tls(Vec::<String>::new())
        .start()
        .await
        .unwrap();
    let ca = server.tls_ca_pem().unwrap().to_owned();
    let trust_ca = || reqwest::Certificate::from_pem(ca.as_bytes()).unwrap();
    let bound_certificate = server
        .issue_client_certificate("orders-service", None)
        .unwrap()
        .unwrap();
    let other_certificate = server
        .issue_client_certificate("someone-else", None)
        .unwrap()
        .unwrap();
    // The bound token, requested over mutual TLS (RFC 8705 §3: cnf x5t#S256).
    let answer: Value = reqwest::Client::builder()
        .tls_certs_only([trust_ca()])
        .identity(reqwest::Identity::from_pem(bound_certificate.identity_pem().as_bytes()).unwrap())
        .build()
        .unwrap()
        .post(server.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "orders-service"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bound = answer["access_token"].as_str().unwrap().to_owned();
    let unbound: Value = reqwest::Client::builder()
        .tls_certs_only([trust_ca()])
        .build()
        .unwrap()
        .post(server.token_url())
        .basic_auth("orders-reader", Some("s3cret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unbound = unbound["access_token"].as_str().unwrap().to_owned();

    let validator = Validator::builder()
        .issuer(server.issuer())
        .add_root_certificate_pem(ca)
        .audience("orders-api")
        .forwarded_client_certificate(CERT_HEADER, ForwardedCertificateFormat::EscapedPem)
        .trusted_proxies([IpNetwork::new(PROXY, 32).unwrap()])
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum_api::app(validator).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let whoami = format!("{base}/whoami");
    let escaped = |certificate: &ccflow_auth_server::IssuedCertificate| {
        common::nginx_escaped(certificate.certificate_pem())
    };
    // (rule, the address the request comes from, the token, the header's certificate, expected
    // status, and for a 401 its error_description)
    let cases = [
        (
            "the trusted proxy's header with the bound certificate",
            PROXY,
            &bound,
            Some(escaped(&bound_certificate)),
            200,
            None,
        ),
        (
            "the trusted proxy's header with another certificate",
            PROXY,
            &bound,
            Some(escaped(&other_certificate)),
            401,
            Some(MISMATCH),
        ),
        (
            "the trusted proxy without the header",
            PROXY,
            &bound,
            None,
            401,
            Some(MISSING),
        ),
        (
            "the same header straight from an untrusted address is ignored",
            CLIENT,
            &bound,
            Some(escaped(&bound_certificate)),
            401,
            Some(MISSING),
        ),
        (
            "an unbound token needs no certificate",
            CLIENT,
            &unbound,
            None,
            200,
            None,
        ),
    ];
    for (rule, from, token, header, status, description) in cases {
        let mut request = reqwest::Client::builder()
            .local_address(from)
            .build()
            .unwrap()
            .get(&whoami)
            .bearer_auth(token);
        if let Some(header) = header {
            request = request.header(CERT_HEADER, header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{rule}");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|value| value.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        match description {
            None => assert!(body["client_id"].is_string(), "{rule}: {body}"),
            Some(description) => {
                assert_eq!(
                    body,
                    json!({"error": "invalid_token", "error_description": description}),
                    "{rule}"
                );
                assert!(
                    challenge.unwrap().contains(r#"error="invalid_token""#),
                    "{rule}"
                );
            }
        }
    }
}
