//! `examples/axum_api.rs` served on 127.0.0.1:0 against the embedded `MockAuthServer`: a token
//! from the mock opens its routes as their scopes say, and a request without one gets 401 with
//! the bare challenge (RFC 6750 §3.1), over real HTTP.

#[allow(dead_code)]
#[path = "../examples/axum_api.rs"]
mod axum_api;

use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use ccflow_resource_api::Validator;
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
