//! The cached path of `token()` allocates nothing: it clones an `Arc` and returns.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

#[tokio::test]
async fn a_cached_token_costs_no_allocation() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600}),
        ))
        .mount(&server)
        .await;
    let client = ccflow_client::TokenClient::builder()
        .token_url(format!("{}/token", server.uri()))
        .credentials("svc", "secret")
        .build()
        .unwrap();
    client.token().await.unwrap();

    let mut context = Context::from_waker(Waker::noop());
    let mut calls = 0;
    let counts = allocation_counter::measure(|| {
        for _ in 0..1000 {
            let mut future = pin!(client.token());
            if let Poll::Ready(Ok(token)) = future.as_mut().poll(&mut context) {
                calls += usize::from(token.secret() == "t");
            }
        }
    });
    assert_eq!(
        calls, 1000,
        "every cached call completes at once with the token"
    );
    assert_eq!(
        counts.count_total, 0,
        "1,000 cached token() calls allocated: {counts:?}"
    );
}
