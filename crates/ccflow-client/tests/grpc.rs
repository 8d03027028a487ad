//! The tonic example (`examples/grpc_client.rs`) run as a test: a gRPC call through
//! `TokenLayer` carries a token the service accepts, and the same call without it is refused.

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
