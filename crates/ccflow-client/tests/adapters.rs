//! The SDK's three ways to call an API with a token run one table of API answers:
//! `AuthorizedClient`, `TokenMiddleware` in a reqwest-middleware chain behind reqwest-retry (alone
//! for a streamed body, which reqwest-retry refuses), and
//! `TokenService` over hyper-util's client. They differ only where the table says: the
//! middleware's chain retries a 503, and the tower service never sends a request twice.

mod common;

use std::time::Duration;

use bytes::Bytes;
use ccflow_client::{AuthorizedClient, TokenClient, TokenError, TokenMiddleware, TokenService};
use common::{Case, Harness, ok, token_json};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

/// What the API answers a token.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Ok,
    Created,
    /// `401` with `Bearer error="invalid_token"`.
    InvalidToken,
    /// `401` with a challenge of another scheme.
    OtherChallenge,
    /// `403` with `error="insufficient_scope"`.
    InsufficientScope,
    /// `503` once, then `200`.
    UnavailableOnce,
}

/// The request's body.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Body {
    /// A `GET`.
    None,
    /// A `POST` of bytes that can be cloned.
    Text,
    /// A `POST` of a stream that can be read once (reqwest); tower bodies are never cloned.
    Stream,
}

const PAYLOAD: &str = "{\"name\":\"x\"}";

/// What an adapter should see.
#[derive(Debug, PartialEq)]
struct Expect {
    /// The status of each request sent by the caller.
    statuses: &'static [u16],
    /// The tokens the API received, in order.
    tokens_sent: &'static [&'static str],
    token_requests: usize,
}

struct Row {
    name: &'static str,
    answers: &'static [(&'static str, Answer)],
    body: Body,
    requests: usize,
    authorized: Expect,
    middleware: Expect,
    tower: Expect,
}

const BEARER: Expect = Expect {
    statuses: &[200],
    tokens_sent: &["t1"],
    token_requests: 1,
};
const RETRIED_WITH_A_NEW_TOKEN: Expect = Expect {
    statuses: &[201],
    tokens_sent: &["t1", "t2"],
    token_requests: 2,
};
const REFUSED_THEN_NEW_TOKEN: Expect = Expect {
    statuses: &[401, 201],
    tokens_sent: &["t1", "t2"],
    token_requests: 2,
};
const REFUSED_TWICE: Expect = Expect {
    statuses: &[401],
    tokens_sent: &["t1", "t2"],
    token_requests: 2,
};
const REFUSED_ONCE: Expect = Expect {
    statuses: &[401],
    tokens_sent: &["t1"],
    token_requests: 1,
};
const FORBIDDEN: Expect = Expect {
    statuses: &[403],
    tokens_sent: &["t1"],
    token_requests: 1,
};
const UNAVAILABLE: Expect = Expect {
    statuses: &[503],
    tokens_sent: &["t1"],
    token_requests: 1,
};

const ROWS: &[Row] = &[
    Row {
        name: "sends the bearer token",
        answers: &[("t1", Answer::Ok)],
        body: Body::None,
        requests: 1,
        authorized: BEARER,
        middleware: BEARER,
        tower: BEARER,
    },
    Row {
        name: "an invalid_token 401 gets a new token and is sent again with its body",
        answers: &[("t1", Answer::InvalidToken), ("t2", Answer::Created)],
        body: Body::Text,
        requests: 1,
        authorized: RETRIED_WITH_A_NEW_TOKEN,
        middleware: RETRIED_WITH_A_NEW_TOKEN,
        // Not sent twice, but the refused token is gone (the next row).
        tower: REFUSED_ONCE,
    },
    Row {
        name: "a body that cannot be cloned is not sent again, and the refused token is dropped",
        answers: &[("t1", Answer::InvalidToken), ("t2", Answer::Created)],
        body: Body::Stream,
        requests: 2,
        authorized: REFUSED_THEN_NEW_TOKEN,
        middleware: REFUSED_THEN_NEW_TOKEN,
        tower: REFUSED_THEN_NEW_TOKEN,
    },
    Row {
        name: "a second 401 is returned, not retried again",
        answers: &[("t1", Answer::InvalidToken), ("t2", Answer::InvalidToken)],
        body: Body::None,
        requests: 1,
        authorized: REFUSED_TWICE,
        middleware: REFUSED_TWICE,
        tower: REFUSED_ONCE,
    },
    Row {
        name: "insufficient_scope is returned without a new token",
        answers: &[("t1", Answer::InsufficientScope)],
        body: Body::None,
        requests: 1,
        authorized: FORBIDDEN,
        middleware: FORBIDDEN,
        tower: FORBIDDEN,
    },
    Row {
        name: "a 401 without invalid_token is not retried",
        answers: &[("t1", Answer::OtherChallenge)],
        body: Body::None,
        requests: 1,
        authorized: REFUSED_ONCE,
        middleware: REFUSED_ONCE,
        tower: REFUSED_ONCE,
    },
    Row {
        name: "a 503 is retried by reqwest-retry, with the cached token",
        answers: &[("t1", Answer::UnavailableOnce)],
        body: Body::None,
        requests: 1,
        authorized: UNAVAILABLE,
        middleware: Expect {
            statuses: &[200],
            tokens_sent: &["t1", "t1"],
            token_requests: 1,
        },
        tower: UNAVAILABLE,
    },
];

#[derive(Debug, Clone, Copy)]
enum Adapter {
    Authorized,
    Middleware,
    Tower,
}

impl Adapter {
    /// Sends one request to `url` through this adapter; its status.
    async fn send(self, tokens: &TokenClient, url: &str, body: Body) -> u16 {
        let method = if body == Body::None {
            reqwest::Method::GET
        } else {
            reqwest::Method::POST
        };
        let reqwest_body = || match body {
            Body::None => None,
            Body::Text => Some(reqwest::Body::from(PAYLOAD)),
            Body::Stream => Some(reqwest::Body::wrap_stream(futures_util::stream::iter([
                Ok::<_, std::io::Error>(PAYLOAD.as_bytes()),
            ]))),
        };
        match self {
            Self::Authorized => {
                let api = AuthorizedClient::new(tokens.clone());
                let mut request = api.request(method, url);
                if let Some(body) = reqwest_body() {
                    request = request.body(body);
                }
                api.send(request).await.unwrap().status().as_u16()
            }
            Self::Middleware => {
                let policy = ExponentialBackoff::builder()
                    .retry_bounds(Duration::from_millis(1), Duration::from_millis(1))
                    .build_with_max_retries(2);
                let mut chain = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
                // reqwest-retry refuses a body it cannot clone itself ("not cloneable"): a
                // streamed body goes through the token middleware alone.
                if body != Body::Stream {
                    chain = chain.with(RetryTransientMiddleware::new_with_policy(policy));
                }
                let client = chain.with(TokenMiddleware::new(tokens.clone())).build();
                let mut request = client.request(method, url);
                if let Some(body) = reqwest_body() {
                    request = request.body(body);
                }
                request.send().await.unwrap().status().as_u16()
            }
            Self::Tower => {
                let bytes = if body == Body::None { "" } else { PAYLOAD };
                let request = http::Request::builder()
                    .method(method)
                    .uri(url)
                    .body(Full::new(Bytes::from_static(bytes.as_bytes())))
                    .unwrap();
                let response = call(&mut tower_client(tokens), request).await.unwrap();
                let status = response.status().as_u16();
                response.into_body().collect().await.unwrap();
                status
            }
        }
    }
}

type Hyper = HyperClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn tower_client(tokens: &TokenClient) -> TokenService<Hyper> {
    TokenService::new(
        tokens.clone(),
        HyperClient::builder(TokioExecutor::new()).build_http(),
    )
}

/// `ServiceExt::oneshot` without tower's utilities: ready, then call.
async fn call<S, R>(service: &mut S, request: R) -> Result<S::Response, S::Error>
where
    S: tower_service::Service<R>,
{
    std::future::poll_fn(|context| service.poll_ready(context)).await?;
    service.call(request).await
}

fn answer(template: Answer) -> ResponseTemplate {
    match template {
        Answer::Ok | Answer::UnavailableOnce => ResponseTemplate::new(200),
        Answer::Created => ResponseTemplate::new(201),
        Answer::InvalidToken => ResponseTemplate::new(401).insert_header(
            "www-authenticate",
            r#"Bearer realm="api", error="invalid_token", error_description="expired""#,
        ),
        Answer::OtherChallenge => {
            ResponseTemplate::new(401).insert_header("www-authenticate", r#"Basic realm="other""#)
        }
        Answer::InsufficientScope => ResponseTemplate::new(403).insert_header(
            "www-authenticate",
            r#"Bearer error="insufficient_scope", scope="items:write""#,
        ),
    }
}

async fn check(row: &Row, adapter: Adapter, expected: &Expect) {
    let _case = Case(row.name);
    let h = Harness::start().await;
    for (index, (token, _)) in row.answers.iter().enumerate() {
        let mock = Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ok(token_json(token, 3600)));
        let mock = if index + 1 < row.answers.len() {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.mount(&h.server).await;
    }
    for (token, kind) in row.answers {
        let given =
            || Mock::given(path("/api")).and(header("authorization", format!("Bearer {token}")));
        if let Answer::UnavailableOnce = kind {
            given()
                .respond_with(ResponseTemplate::new(503))
                .up_to_n_times(1)
                .mount(&h.server)
                .await;
        }
        given().respond_with(answer(*kind)).mount(&h.server).await;
    }
    let tokens = h.client();
    let url = format!("{}/api", h.server.uri());
    let mut statuses = Vec::new();
    for _ in 0..row.requests {
        statuses.push(adapter.send(&tokens, &url, row.body).await);
    }
    let received = h.server.received_requests().await.unwrap();
    let api: Vec<_> = received
        .iter()
        .filter(|request| request.url.path() == "/api")
        .collect();
    for request in &api {
        let expected_body = if row.body == Body::None { "" } else { PAYLOAD };
        assert_eq!(
            String::from_utf8_lossy(&request.body),
            expected_body,
            "{adapter:?}: every request the API receives carries the body"
        );
    }
    let tokens_sent: Vec<String> = api
        .iter()
        .map(|request| {
            let value = request
                .headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap();
            value.strip_prefix("Bearer ").unwrap().to_owned()
        })
        .collect();
    let token_requests = received
        .iter()
        .filter(|request| request.url.path() == "/token")
        .count();
    assert_eq!(
        (statuses.as_slice(), tokens_sent, token_requests),
        (
            expected.statuses,
            expected
                .tokens_sent
                .iter()
                .map(|token| (*token).to_owned())
                .collect(),
            expected.token_requests
        ),
        "{adapter:?}: (statuses, tokens the API received, token requests)"
    );
}

#[tokio::test]
async fn the_authorized_client_follows_the_table() {
    for row in ROWS {
        check(row, Adapter::Authorized, &row.authorized).await;
    }
}

#[tokio::test]
async fn the_middleware_behind_reqwest_retry_follows_the_table() {
    for row in ROWS {
        check(row, Adapter::Middleware, &row.middleware).await;
    }
}

#[tokio::test]
async fn the_tower_service_follows_the_table() {
    for row in ROWS {
        check(row, Adapter::Tower, &row.tower).await;
    }
}

#[tokio::test]
async fn a_token_failure_is_the_token_error_in_each_adapter() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(common::oauth_error(401, "invalid_client"))
        .mount(&h.server)
        .await;
    Mock::given(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&h.server)
        .await;
    let tokens = h.client();
    let url = format!("{}/api", h.server.uri());

    let middleware = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TokenMiddleware::new(tokens.clone()))
        .build();
    let error = middleware.get(&url).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("a token failure is a middleware error: {error:?}");
    };
    let code = error
        .downcast_ref::<TokenError>()
        .and_then(TokenError::oauth_code);
    assert_eq!(
        code.map(ToString::to_string).as_deref(),
        Some("invalid_client")
    );

    let request = http::Request::get(&url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let error = call(&mut tower_client(&tokens), request).await.unwrap_err();
    let code = error
        .downcast_ref::<TokenError>()
        .and_then(TokenError::oauth_code);
    assert_eq!(
        code.map(ToString::to_string).as_deref(),
        Some("invalid_client")
    );
}
