//! The SDK against the real ccflow-auth-server, embedded: fetch, reuse, expiry on a shared
//! manual clock, introspection of the fetched token, every auth method.

use std::time::Duration;

use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use ccflow_client::{AuthMethod, ManualClock, TokenClient};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn server(clock: &ManualClock) -> MockAuthServer {
    MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("rs256-1.pem")).unwrap())
        .clock(clock.clone())
        .client(
            Client::new("orders-service", "orders £€:@/ secret")
                .scopes(["orders.read", "orders.write"])
                .audiences(["orders-api"]),
        )
        .client(
            Client::private_key_jwt("jwt-client")
                .public_key_pem(fixture("client-rs256.pub.pem"))
                .scopes(["jobs.run"]),
        )
        .start()
        .await
        .unwrap()
}

async fn introspect(server: &MockAuthServer, token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(server.introspection_url().unwrap())
        .basic_auth("orders-service", Some("orders £€:@/ secret"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn fetches_reuses_and_refetches_after_expiry_on_the_shared_clock() {
    let clock = ManualClock::starting_now();
    let server = server(&clock).await;
    let client = TokenClient::builder()
        .token_url(server.token_url())
        .credentials("orders-service", "orders £€:@/ secret")
        .scopes(["orders.read"])
        .clock(clock.clone())
        .build()
        .unwrap();
    let first = client.token().await.unwrap();
    assert_eq!(first.scopes().to_string(), "orders.read");
    assert_eq!(first.lifetime(), Duration::from_secs(3600));
    client.token().await.unwrap();
    server.assert_token_requests().exactly(1);

    let claims = introspect(&server, first.secret()).await;
    assert_eq!(claims["active"], true, "{claims}");
    assert_eq!(claims["client_id"], "orders-service");
    assert_eq!(claims["scope"], "orders.read");

    // 30 s skew on a one-hour token: still served at 3569 s, replaced at 3570 s.
    clock.advance(Duration::from_secs(3569));
    assert!(client.token().await.unwrap().same_token(&first));
    clock.advance(Duration::from_secs(1));
    let second = client.token().await.unwrap();
    assert!(!second.same_token(&first));
    server.assert_token_requests().exactly(2);
    assert_eq!(introspect(&server, second.secret()).await["active"], true);
}

#[tokio::test]
async fn discovers_the_mock_and_uses_client_secret_post_when_told() {
    let clock = ManualClock::starting_now();
    let server = server(&clock).await;
    let client = TokenClient::builder()
        .issuer(server.issuer())
        .credentials("orders-service", "orders £€:@/ secret")
        .auth_method(AuthMethod::ClientSecretPost)
        .clock(clock)
        .build()
        .unwrap();
    let token = client.token().await.unwrap();
    assert_eq!(token.scopes().to_string(), "orders.read orders.write");
}

#[tokio::test]
async fn private_key_jwt_is_accepted_by_the_mock() {
    let clock = ManualClock::starting_now();
    let server = server(&clock).await;
    let client = TokenClient::builder()
        .token_url(server.token_url())
        .client_id("jwt-client")
        .auth_method(AuthMethod::private_key_jwt_pem(&fixture("client-rs256.pem"), None).unwrap())
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        client.token().await.unwrap().scopes().to_string(),
        "jobs.run"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_a_final_invalid_client() {
    let clock = ManualClock::starting_now();
    let server = server(&clock).await;
    let client = TokenClient::builder()
        .token_url(server.token_url())
        .credentials("orders-service", "wrong")
        .build()
        .unwrap();
    let error = client.token().await.unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ccflow_client::protocol::ErrorCode::InvalidClient)
    );
    server.assert_token_requests().exactly(1);
}

/// Moves the shared manual clock instead of sleeping, recording each wait.
#[derive(Debug, Clone)]
struct ClockSleeper(ManualClock, std::sync::Arc<std::sync::Mutex<Vec<Duration>>>);

impl ccflow_client::Sleeper for ClockSleeper {
    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        self.1.lock().unwrap().push(duration);
        self.0.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

#[tokio::test]
async fn retries_absorb_real_503s_with_retry_after() {
    use ccflow_auth_server::Fault;
    let clock = ManualClock::starting_now();
    let server = server(&clock).await;
    let scenario = server
        .on_token()
        .times(2)
        .respond(Fault::status(503).retry_after(3));
    let waits = std::sync::Arc::default();
    let client = TokenClient::builder()
        .token_url(server.token_url())
        .credentials("orders-service", "orders £€:@/ secret")
        .clock(clock.clone())
        .sleeper(ClockSleeper(clock.clone(), std::sync::Arc::clone(&waits)))
        .build()
        .unwrap();
    client.token().await.unwrap();
    assert_eq!(scenario.hits(), 2);
    server.assert_token_requests().exactly(3);
    assert_eq!(
        *waits.lock().unwrap(),
        [Duration::from_secs(3), Duration::from_secs(3)]
    );
}

#[tokio::test]
async fn the_sdk_survives_the_mocks_broken_responses() {
    use ccflow_auth_server::Fault;
    use ccflow_client::{RetryPolicy, TokenError};
    let clock = ManualClock::starting_now();
    let server = server(&clock).await;
    let client = TokenClient::builder()
        .token_url(server.token_url())
        .credentials("orders-service", "orders £€:@/ secret")
        .clock(clock.clone())
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    // expires_in 0: returned, never cached.
    let zero = server.on_token().times(2).respond(Fault::expires_in(0));
    client.token().await.unwrap();
    client.token().await.unwrap();
    assert_eq!(zero.hits(), 2);
    zero.remove();
    // A missing token_type is read as Bearer.
    server.on_token().times(1).respond(Fault::MissingTokenType);
    assert_eq!(client.token().await.unwrap().token_type(), "Bearer");
    client.invalidate(&client.token().await.unwrap());
    server.clear_scenarios();
    for (fault, expected) in [
        (Fault::TruncatedJson, "not JSON"),
        (Fault::MalformedJson, "not JSON"),
        (Fault::HtmlErrorPage, "HTML"),
    ] {
        let scenario = server.on_token().times(1).respond(fault);
        let error = client
            .with_scopes(["orders.read"])
            .unwrap()
            .token()
            .await
            .unwrap_err();
        assert!(
            matches!(error, TokenError::InvalidResponse { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(expected), "{error}");
        scenario.remove();
    }
    server.on_token().times(1).respond(Fault::DropConnection);
    let error = client
        .with_scopes(["orders.write"])
        .unwrap()
        .token()
        .await
        .unwrap_err();
    assert!(matches!(error, TokenError::Transport { .. }), "{error:?}");
}
