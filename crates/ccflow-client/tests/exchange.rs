//! `TokenClient::exchange` (RFC 8693): the form it sends and its cache per subject token and
//! target, against wiremock; then the real embedded server (`rfc` and `slb`).

mod common;

use std::time::Duration;

use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use ccflow_client::protocol::ErrorCode;
use ccflow_client::{Profile, TokenClient, TokenError, TokenExchange};
use common::{Case, Harness, expected_basic, oauth_error, ok, token_json};
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, Request};

const EXCHANGE_FORM_START: &str =
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=";

/// The body of an exchange request as this test writes it, independently of the SDK.
fn expected_body(subject: &str, tail: &str) -> String {
    format!(
        "{EXCHANGE_FORM_START}{subject}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token{tail}"
    )
}

#[tokio::test]
async fn sends_the_rfc_8693_form_with_client_authentication() {
    struct Row {
        name: &'static str,
        target: TokenExchange,
        tail: &'static str,
    }
    let rows = [
        Row {
            name: "no target",
            target: TokenExchange::new(),
            tail: "",
        },
        Row {
            name: "scope, resource and audience",
            target: TokenExchange::new()
                .resource("https://billing.example/")
                .audience("orders-api")
                .audience("inventory-api")
                .scopes(["orders.read"])
                .unwrap(),
            tail: "&scope=orders.read&resource=https%3A%2F%2Fbilling.example%2F&audience=orders-api&audience=inventory-api",
        },
        Row {
            name: "an actor",
            target: TokenExchange::new().actor_token("actor.jwt"),
            tail: "&actor_token=actor.jwt&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
        },
    ];
    for row in rows {
        let _case = Case(row.name);
        let harness = Harness::start().await;
        let _mock = Mock::given(method("POST"))
            .and(path("/token"))
            .and(header("authorization", expected_basic("svc", "svc-secret")))
            .and(body_string(expected_body("subject.jwt", row.tail)))
            .respond_with(ok(token_json("exchanged", 3600)))
            .expect(1)
            .mount_as_scoped(&harness.server)
            .await;
        let client = harness.client();
        let token = client.exchange("subject.jwt", &row.target).await.unwrap();
        assert_eq!(token.secret(), "exchanged", "{}", row.name);
    }
}

#[tokio::test]
async fn caches_per_subject_token_and_target() {
    let harness = Harness::start().await;
    // Answers with a token naming what was asked, so each cache entry is recognisable.
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|request: &Request| {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let name = format!("t{}", body.len());
            ok(token_json(&name, 3600))
        })
        .expect(4)
        .mount(&harness.server)
        .await;
    let client = harness.client();
    let billing = TokenExchange::new().resource("billing");
    let first = client.exchange("subject-1", &billing).await.unwrap();
    let again = client.exchange("subject-1", &billing).await.unwrap();
    assert!(
        first.same_token(&again),
        "the same exchange is served from the cache"
    );
    let other_subject = client.exchange("subject-22", &billing).await.unwrap();
    assert!(!first.same_token(&other_subject));
    let other_target = client
        .exchange("subject-1", &TokenExchange::new().resource("orders"))
        .await
        .unwrap();
    assert!(!first.same_token(&other_target));
    // Reordering a target's lists is the same exchange (the fourth and last request).
    let two = TokenExchange::new().audience("a").audience("b");
    let swapped = TokenExchange::new().audience("b").audience("a");
    let ordered = client.exchange("subject-1", &two).await.unwrap();
    let reordered = client.exchange("subject-1", &swapped).await.unwrap();
    assert!(ordered.same_token(&reordered));
    harness.clock.advance(Duration::from_secs(1));
    let cached = client.exchange("subject-22", &billing).await.unwrap();
    assert!(cached.same_token(&other_subject));
}

#[tokio::test]
async fn refetches_once_the_exchanged_token_is_stale() {
    let harness = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok(token_json("short", 60)))
        .expect(2)
        .mount(&harness.server)
        .await;
    let client = harness.client();
    let target = TokenExchange::new();
    client.exchange("s", &target).await.unwrap();
    harness.clock.advance(Duration::from_secs(61));
    client.exchange("s", &target).await.unwrap();
}

#[tokio::test]
async fn a_refused_exchange_is_the_servers_oauth_error_and_is_not_retried() {
    for (status, code) in [
        (400, "invalid_request"),
        (400, "invalid_target"),
        (400, "invalid_scope"),
        (400, "unsupported_grant_type"),
    ] {
        let _case = Case(code);
        let harness = Harness::start().await;
        let _mock = Mock::given(method("POST"))
            .respond_with(oauth_error(status, code))
            .expect(1)
            .mount_as_scoped(&harness.server)
            .await;
        let error = harness
            .client()
            .exchange("subject", &TokenExchange::new())
            .await
            .unwrap_err();
        assert_eq!(error.oauth_code(), Some(&ErrorCode::from(code)), "{error}");
        assert!(!error.to_string().contains("subject"), "{error}");
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn exchanges_against_the_real_server() {
    let server = MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("rs256-1.pem")).unwrap())
        .client(
            Client::new("orders-service", "orders-secret")
                .scopes(["orders.read", "orders.write"])
                .audiences(["orders-api", "billing-api"]),
        )
        .client(Client::new("gateway", "gateway-secret").audiences(["inventory-api"]))
        .start()
        .await
        .unwrap();
    let orders = TokenClient::builder()
        .token_url(server.token_url())
        .credentials("orders-service", "orders-secret")
        .build()
        .unwrap();
    let subject = orders.token().await.unwrap();
    let narrowed = orders
        .exchange(
            subject.secret(),
            &TokenExchange::new()
                .resource("billing-api")
                .scopes(["orders.read"])
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        narrowed.extra()["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let narrowed_claims = claims(narrowed.secret());
    assert_eq!(narrowed_claims["aud"], "billing-api");
    assert_eq!(narrowed_claims["scope"], "orders.read");
    assert_eq!(narrowed_claims["sub"], "orders-service");

    let gateway = TokenClient::builder()
        .token_url(server.token_url())
        .credentials("gateway", "gateway-secret")
        .build()
        .unwrap();
    let actor = gateway.token().await.unwrap();
    let delegated = gateway
        .exchange(
            subject.secret(),
            &TokenExchange::new()
                .audience("inventory-api")
                .actor_token(actor.secret()),
        )
        .await
        .unwrap();
    let delegated_claims = claims(delegated.secret());
    assert_eq!(delegated_claims["sub"], "orders-service");
    assert_eq!(delegated_claims["client_id"], "gateway");
    assert_eq!(
        delegated_claims["act"],
        serde_json::json!({"sub": "gateway"})
    );

    let refused = gateway
        .exchange(
            subject.secret(),
            &TokenExchange::new().audience("billing-api"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TokenError::OAuth { code, .. } if *code == ErrorCode::InvalidTarget),
        "{refused}"
    );
    // Cached: the same exchange again sends nothing.
    let before = server.token_request_count();
    let again = orders
        .exchange(
            subject.secret(),
            &TokenExchange::new()
                .resource("billing-api")
                .scopes(["orders.read"])
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(again.same_token(&narrowed));
    assert_eq!(server.token_request_count(), before);
}

#[tokio::test]
async fn exchanges_against_the_real_slb_server() {
    let server = MockAuthServer::builder()
        .profile(Profile::Slb)
        .signing_key(SigningKey::from_pem(&fixture("rs256-1.pem")).unwrap())
        .client(Client::new("app-a", "secret-a"))
        .client(Client::new("app-b", "secret-b"))
        .start()
        .await
        .unwrap();
    let client = TokenClient::builder()
        .token_url(server.token_url())
        .profile(Profile::Slb)
        .credentials("app-a", "secret-a")
        .build()
        .unwrap();
    let subject = client.token().await.unwrap();
    let widened = client
        .exchange(subject.secret(), &TokenExchange::new().resource("app-b"))
        .await
        .unwrap();
    assert_eq!(
        claims(widened.secret())["aud"],
        serde_json::json!(["app-a", "app-b"])
    );
}
