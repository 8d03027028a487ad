//! The tonic example (`examples/grpc_client.rs`) run as a test: a gRPC call through
//! `TokenLayer` carries a token the service accepts, the same call without it is refused, and
//! a refused (revoked) token is replaced for the next call.

#[path = "../examples/grpc_client.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "the example's `main` is not called here"
)]
mod example;

#[tokio::test]
async fn the_grpc_example_calls_its_service_with_a_token() {
    assert_eq!(
        example::run().await.unwrap(),
        "hello world, from orders-service"
    );
}

#[tokio::test]
async fn without_the_layer_the_service_refuses_the_call() {
    let (_auth, address) = example::start().await.unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = example::say_hello(channel, "world").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
}

#[tokio::test]
async fn a_refused_token_is_dropped_and_the_next_call_gets_a_new_one() {
    use tower_layer::Layer as _;
    let (auth, address) = example::start().await.unwrap();
    let tokens = ccflow_client::TokenClient::builder()
        .token_url(auth.token_url())
        .credentials("orders-service", "orders-secret")
        .build()
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let channel = ccflow_client::TokenLayer::new(tokens.clone()).layer(channel);
    example::say_hello(channel.clone(), "one").await.unwrap();
    // The token is revoked (RFC 7009): the service's introspection now says inactive.
    let revoked = tokens.token().await.unwrap();
    let answer = reqwest::Client::new()
        .post(auth.revocation_url().unwrap())
        .basic_auth("orders-service", Some("orders-secret"))
        .form(&[("token", revoked.secret())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let status = example::say_hello(channel.clone(), "two")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    // UNAUTHENTICATED dropped the cached token: this call fetches and sends a new one.
    assert_eq!(
        example::say_hello(channel, "three").await.unwrap(),
        "hello three, from orders-service"
    );
    assert!(!tokens.token().await.unwrap().same_token(&revoked));
    auth.assert_token_requests().exactly(2);
}
