//! A gRPC client whose calls carry `authorization` metadata from a `TokenClient`: a tonic channel
//! behind `ccflow_client::TokenLayer` (feature `tower`). Self-contained: it starts the mock
//! authorization server and a small tonic service on 127.0.0.1 (`greeter.Greeter/SayHello`,
//! which introspects the token it receives, RFC 7662), calls it and prints the answer.
//! No protoc and no generated code: the messages are UTF-8 strings with a four-line codec.
//! `tests/grpc.rs` runs it.
//!
//! ```sh
//! cargo run -p ccflow-client --example grpc_client
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use bytes::{Buf as _, BufMut as _};
use ccflow_auth_server::{Client, MockAuthServer};
use ccflow_client::{BoxError, TokenClient, TokenLayer};
use tonic::body::Body;
use tonic::client::{Grpc, GrpcService};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Request, Response, Status};
use tower_layer::Layer as _;

/// The method the example calls.
pub const SAY_HELLO: &str = "/greeter.Greeter/SayHello";

/// Starts the mock authorization server (with the caller `orders-service` and the greeter's own
/// client, for introspection) and the greeter; the greeter's address.
pub async fn start() -> anyhow::Result<(MockAuthServer, SocketAddr)> {
    let auth = MockAuthServer::builder()
        .client(Client::new("orders-service", "orders-secret"))
        .client(Client::new("greeter", "greeter-secret"))
        .start()
        .await?;
    let greeter = Greeter {
        introspection_url: auth
            .introspection_url()
            .context("the rfc profile has introspection")?,
        http: reqwest::Client::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(greeter, incoming));
    Ok((auth, address))
}

/// Calls `SayHello` with `name` over `channel`.
pub async fn say_hello<T>(channel: T, name: &str) -> Result<String, Status>
where
    T: GrpcService<Body>,
    T::ResponseBody: Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<BoxError>,
{
    let mut grpc = Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.into().to_string()))?;
    let path = http::uri::PathAndQuery::from_static(SAY_HELLO);
    let response = grpc
        .unary(Request::new(name.to_owned()), path, Utf8Codec)
        .await?;
    Ok(response.into_inner())
}

/// The example: a token client, a channel behind `TokenLayer`, one call.
pub async fn run() -> anyhow::Result<String> {
    let (auth, address) = start().await?;
    let tokens = TokenClient::builder()
        .token_url(auth.token_url())
        .credentials("orders-service", "orders-secret")
        .build()?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect()
        .await?;
    // Every call on this channel now carries `authorization: Bearer <token>`.
    let channel = TokenLayer::new(tokens).layer(channel);
    Ok(say_hello(channel, "world").await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let reply = run().await?;
    std::io::Write::write_all(&mut std::io::stdout(), format!("{reply}\n").as_bytes())?;
    Ok(())
}

/// The greeter service: answers `SayHello` to a caller whose bearer token introspects active.
#[derive(Debug, Clone)]
struct Greeter {
    introspection_url: String,
    http: reqwest::Client,
}

impl tonic::server::NamedService for Greeter {
    const NAME: &'static str = "greeter.Greeter";
}

impl tower_service::Service<http::Request<Body>> for Greeter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let greeter = self.clone();
        Box::pin(async move {
            if request.uri().path() != SAY_HELLO {
                return Ok(Status::unimplemented(request.uri().path().to_owned()).into_http());
            }
            Ok(tonic::server::Grpc::new(Utf8Codec)
                .unary(SayHello(greeter), request)
                .await)
        })
    }
}

struct SayHello(Greeter);

impl tonic::server::UnaryService<String> for SayHello {
    type Response = String;
    type Future = Pin<Box<dyn Future<Output = Result<Response<String>, Status>> + Send>>;

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let greeter = self.0.clone();
        Box::pin(async move {
            let token = request
                .metadata()
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .ok_or_else(|| Status::unauthenticated("a bearer token is required"))?;
            let caller = greeter.active_client(token).await?;
            Ok(Response::new(format!(
                "hello {}, from {caller}",
                request.get_ref()
            )))
        })
    }
}

impl Greeter {
    /// The client id of an active token, by introspection.
    async fn active_client(&self, token: &str) -> Result<String, Status> {
        let answer: serde_json::Value = self
            .http
            .post(&self.introspection_url)
            .basic_auth("greeter", Some("greeter-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| Status::unavailable(error.to_string()))?
            .json()
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        match (&answer["active"], answer["client_id"].as_str()) {
            (serde_json::Value::Bool(true), Some(client)) => Ok(client.to_owned()),
            _ => Err(Status::unauthenticated("the token is not active")),
        }
    }
}

/// Messages as UTF-8 strings, so the example needs no protobuf.
#[derive(Debug, Clone, Copy, Default)]
struct Utf8Codec;

impl Codec for Utf8Codec {
    type Encode = String;
    type Decode = String;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        Self
    }

    fn decoder(&mut self) -> Self {
        Self
    }
}

impl Encoder for Utf8Codec {
    type Item = String;
    type Error = Status;

    fn encode(&mut self, item: String, buffer: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buffer.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for Utf8Codec {
    type Item = String;
    type Error = Status;

    fn decode(&mut self, buffer: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = buffer.copy_to_bytes(buffer.remaining());
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Status::invalid_argument("the message is not UTF-8"))
    }
}
