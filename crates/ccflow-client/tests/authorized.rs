//! `AuthorizedClient`: bearer header, one retry on `invalid_token`, no retry otherwise.

mod common;

use common::{Harness, ok, token_json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

async fn harness_with_tokens(tokens: &[&str]) -> Harness {
    let h = Harness::start().await;
    for (index, token) in tokens.iter().enumerate() {
        let mock = Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ok(token_json(token, 3600)));
        let mock = if index + 1 < tokens.len() {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.expect(1).mount(&h.server).await;
    }
    h
}

fn invalid_token() -> ResponseTemplate {
    ResponseTemplate::new(401).insert_header(
        "www-authenticate",
        r#"Bearer realm="api", error="invalid_token", error_description="expired""#,
    )
}

#[tokio::test]
async fn sends_the_bearer_token() {
    let h = harness_with_tokens(&["t1"]).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&h.server)
        .await;
    let api = ccflow_client::AuthorizedClient::new(h.client());
    for _ in 0..2 {
        let response = api
            .send(api.get(format!("{}/api", h.server.uri())))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn an_invalid_token_401_refreshes_and_retries_once_with_the_body() {
    let h = harness_with_tokens(&["t1", "t2"]).await;
    Mock::given(method("POST"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(invalid_token())
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t2"))
        .and(wiremock::matchers::body_string("{\"name\":\"x\"}"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&h.server)
        .await;
    let api = ccflow_client::AuthorizedClient::new(h.client());
    let request = api
        .post(format!("{}/api", h.server.uri()))
        .body("{\"name\":\"x\"}");
    assert_eq!(api.send(request).await.unwrap().status(), 201);
}

#[tokio::test]
async fn a_streamed_body_is_not_resent_but_the_refused_token_is_dropped() {
    let h = harness_with_tokens(&["t1", "t2"]).await;
    Mock::given(method("POST"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(invalid_token())
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t2"))
        .and(wiremock::matchers::body_string("second"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&h.server)
        .await;
    let api = ccflow_client::AuthorizedClient::new(h.client());
    let streamed = |text: &'static str| {
        reqwest::Body::wrap_stream(futures_util::stream::iter([Ok::<_, std::io::Error>(
            text.as_bytes(),
        )]))
    };
    // A stream is read once: the request cannot be sent again, so the 401 is the answer...
    let request = api
        .post(format!("{}/api", h.server.uri()))
        .body(streamed("first"));
    assert_eq!(api.send(request).await.unwrap().status(), 401);
    // ...and the refused token is gone: the next request fetches and sends a new one.
    let request = api
        .post(format!("{}/api", h.server.uri()))
        .body(streamed("second"));
    assert_eq!(api.send(request).await.unwrap().status(), 201);
}

#[tokio::test]
async fn a_second_401_is_returned_not_retried_again() {
    let h = harness_with_tokens(&["t1", "t2"]).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(invalid_token())
        .expect(2)
        .mount(&h.server)
        .await;
    let api = ccflow_client::AuthorizedClient::new(h.client());
    let response = api
        .send(api.get(format!("{}/api", h.server.uri())))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn insufficient_scope_is_returned_without_a_new_token() {
    let h = harness_with_tokens(&["t1"]).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(403).insert_header(
            "www-authenticate",
            r#"Bearer error="insufficient_scope", scope="items:write""#,
        ))
        .expect(1)
        .mount(&h.server)
        .await;
    let api = ccflow_client::AuthorizedClient::new(h.client());
    assert_eq!(
        api.send(api.get(format!("{}/api", h.server.uri())))
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test]
async fn a_401_without_invalid_token_is_not_retried() {
    let h = harness_with_tokens(&["t1"]).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", r#"Basic realm="other""#),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let api = ccflow_client::AuthorizedClient::new(h.client());
    assert_eq!(
        api.send(api.get(format!("{}/api", h.server.uri())))
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_token_failure_is_reported_as_a_token_error() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(common::oauth_error(401, "invalid_client"))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&h.server)
        .await;
    let api = ccflow_client::AuthorizedClient::new(h.client());
    let error = api
        .send(api.get(format!("{}/api", h.server.uri())))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ccflow_client::ApiError::Token(_)),
        "{error:?}"
    );
}
