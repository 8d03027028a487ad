//! Single flight under load: many concurrent callers, one token request.

mod common;

use std::time::Duration;

use ccflow_client::{AuthorizedClient, TokenError};
use common::{Case, Harness, oauth_error, ok, token_json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

const CALLERS: usize = 1000;

async fn concurrent_tokens(
    client: &ccflow_client::TokenClient,
) -> Vec<Result<ccflow_client::AccessToken, TokenError>> {
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.token().await })
        })
        .collect();
    let mut results = Vec::with_capacity(CALLERS);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// A token served once before the stampede, and how far the clock then moves.
struct Earlier {
    token: &'static str,
    expires_in: u64,
    advance: Duration,
}

/// What every one of the [`CALLERS`] gets.
enum EveryCaller {
    /// The token with this secret.
    Gets(&'static str),
    /// `TokenError::OAuth` with this status.
    FailsWithOAuth(u16),
}

/// [`CALLERS`] concurrent callers, after an `earlier` token if any, while the server takes
/// 200 ms to send `answer`: the server sees one request for them all.
struct Stampede {
    name: &'static str,
    earlier: Option<Earlier>,
    answer: ResponseTemplate,
    every_caller: EveryCaller,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_callers_cause_one_request() {
    let cases = [
        Stampede {
            name: "a cold cache",
            earlier: None,
            answer: ok(token_json("shared", 3600)),
            every_caller: EveryCaller::Gets("shared"),
        },
        Stampede {
            name: "an expired token",
            earlier: Some(Earlier {
                token: "first",
                expires_in: 100,
                advance: Duration::from_secs(95),
            }),
            answer: ok(token_json("second", 100)),
            every_caller: EveryCaller::Gets("second"),
        },
        Stampede {
            name: "every waiter gets the same error from one request",
            earlier: None,
            answer: oauth_error(401, "invalid_client"),
            every_caller: EveryCaller::FailsWithOAuth(401),
        },
    ];
    for case in cases {
        check_stampede(case).await;
    }
}

async fn check_stampede(case: Stampede) {
    let _case = Case(case.name);
    let h = Harness::start().await;
    if let Some(earlier) = &case.earlier {
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ok(token_json(earlier.token, earlier.expires_in)))
            .up_to_n_times(1)
            .expect(1)
            .mount(&h.server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(case.answer.set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.client();
    if let Some(earlier) = &case.earlier {
        client.token().await.unwrap();
        h.clock.advance(earlier.advance);
    }
    let results = concurrent_tokens(&client).await;
    match case.every_caller {
        EveryCaller::Gets(secret) => assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_ok_and(|t| t.secret() == secret))
        ),
        EveryCaller::FailsWithOAuth(status) => assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(TokenError::OAuth { status: got, .. }) if *got == status))
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_does_not_cancel_the_fetch_for_others() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok(token_json("t", 3600)).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.client();
    // The first caller starts the fetch and is cancelled long before the response.
    let impatient = tokio::time::timeout(Duration::from_millis(20), client.token()).await;
    assert!(impatient.is_err(), "the impatient caller timed out");
    // The fetch went on: this caller joins it (or finds its token) instead of starting another.
    assert_eq!(client.token().await.unwrap().secret(), "t");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_serves_the_old_token_while_one_background_refresh_runs() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok(token_json("old", 100)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok(token_json("new", 100)).set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.builder().refresh_ahead(true).build().unwrap();
    client.token().await.unwrap();
    h.clock.advance(Duration::from_secs(81));
    for _ in 0..50 {
        // Callers during the refresh get the still-valid token at once.
        assert_eq!(client.token().await.unwrap().secret(), "old");
    }
    // Wait for the background refresh by asking the server, not by sleeping blind.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while client.token().await.unwrap().secret() != "new" {
        assert!(
            std::time::Instant::now() < deadline,
            "the background refresh never landed"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_401s_for_one_stale_token_cause_one_new_token_request() {
    let h = Harness::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok(token_json("stale", 3600)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok(token_json("fresh", 3600)).set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer stale"))
        // Slow 401s: every caller sends with the stale token before the first rejection lands.
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header(
                    "www-authenticate",
                    r#"Bearer realm="api", error="invalid_token""#,
                )
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1..=CALLERS as u64)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer fresh"))
        .respond_with(ResponseTemplate::new(200))
        .expect(CALLERS as u64)
        .mount(&h.server)
        .await;
    let api = AuthorizedClient::new(h.client());
    api.token_client().token().await.unwrap();
    let url = format!("{}/api", h.server.uri());
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let api = api.clone();
            let url = url.clone();
            tokio::spawn(async move { api.send(api.get(url)).await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 200);
    }
    let stale_hits = h
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.headers
                .get("authorization")
                .is_some_and(|v| v == "Bearer stale")
        })
        .count();
    assert!(
        stale_hits > CALLERS / 2,
        "most callers raced on the stale token: {stale_hits}"
    );
}
