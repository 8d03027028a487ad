//! Fault drills for the whole chain: the real embedded auth server, the client SDK and the
//! validator, each on an injected `ManualClock`, with faults from the server's scenario API.
//! Nothing here waits for a server by sleeping: servers are ready when `start` returns, time
//! moves by the clocks, and the SDK's retry waits go to a recording sleeper.
//!
//! - the auth server restarts on the same port with the same key;
//! - the JWKS endpoint is slow, failing or dropping connections;
//! - clocks jump forward and back;
//! - a client is deleted while its token is cached.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ccflow_auth_server::{
    Client, Defect, Endpoint, Fault, ManualClock, MockAuthServer, SigningKey,
};
use ccflow_client::{RetryPolicy, Sleeper, TokenClient};
use ccflow_resource_api::sample_api::SampleApi;
use ccflow_resource_api::{AuthError, Clock as _, JwksError, TokenRejection, Validator};
use common::{bearer, clock, fixture, get, send};
use tokio::task::JoinSet;

const AUDIENCE: &str = "items-api";
const WRITER: (&str, &str) = ("writer", "writer-secret");
/// The server's token lifetime in these drills.
const TOKEN_TTL: Duration = Duration::from_secs(600);
/// The validator's JWKS freshness when the issuer sends no `max-age` (its default).
const JWKS_TTL: Duration = Duration::from_secs(300);

/// Records each wait the SDK asks for and returns at once.
#[derive(Debug, Clone, Default)]
struct RecordingSleeper(Arc<Mutex<Vec<Duration>>>);

impl RecordingSleeper {
    fn waits(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// An auth server with the fixture key (so a restart publishes the same `kid`) on `clock`.
async fn auth_server(clock: &ManualClock, address: SocketAddr) -> MockAuthServer {
    MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .clock(clock.clone())
        .bind(address)
        .token_ttl(TOKEN_TTL)
        .client(
            Client::new(WRITER.0, WRITER.1)
                .scopes(["items:read", "items:write"])
                .audiences([AUDIENCE]),
        )
        .client(Client::new("auditor", "auditor-secret").audiences([AUDIENCE]))
        .start()
        .await
        .expect("the auth server starts")
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The SDK as a service would configure it, with three attempts per fetch.
fn sdk(server: &MockAuthServer, clock: &ManualClock, sleeper: &RecordingSleeper) -> TokenClient {
    TokenClient::builder()
        .token_url(server.token_url())
        .credentials(WRITER.0, WRITER.1)
        .clock(clock.clone())
        .sleeper(sleeper.clone())
        .retry(RetryPolicy::new(
            3,
            Duration::from_millis(100),
            Duration::from_secs(1),
            Duration::from_secs(30),
        ))
        .build()
        .unwrap()
}

/// A validator that finds the keys through the issuer's discovery document.
fn validator(server: &MockAuthServer, clock: &ManualClock) -> Validator {
    Validator::builder()
        .issuer(server.issuer())
        .audience(AUDIENCE)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// A validator reading the JWKS URL directly, with a short fetch timeout for the slow drill.
fn jwks_validator(server: &MockAuthServer, clock: &ManualClock) -> Validator {
    Validator::builder()
        .issuer(server.issuer())
        .jwks_url(server.jwks_url())
        .audience(AUDIENCE)
        .clock(clock.clone())
        .jwks_fetch_timeout(Duration::from_millis(200))
        .build()
        .unwrap()
}

fn jwks_requests(server: &MockAuthServer) -> usize {
    server.assert_requests(Some(Endpoint::Jwks)).count()
}

async fn introspect(server: &MockAuthServer, token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(server.introspection_url().unwrap())
        .basic_auth("auditor", Some("auditor-secret"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_restarted_auth_server_is_recovered_from_and_validation_never_stops() {
    let clock = clock();
    let first = auth_server(&clock, any_port()).await;
    let address = first.address();
    let sleeper = RecordingSleeper::default();
    let sdk = sdk(&first, &clock, &sleeper);
    let validator = validator(&first, &clock);
    let before = sdk.token().await.unwrap();
    validator.validate(before.secret()).await.unwrap();

    first.shutdown().await;
    // Down: the SDK serves its cached token and the validator its cached keys, even once they
    // are past their freshness and the refresh fails.
    assert!(sdk.token().await.unwrap().same_token(&before));
    clock.advance(JWKS_TTL + Duration::from_secs(1));
    validator
        .validate(before.secret())
        .await
        .expect("cached keys validate while the issuer is down");
    let status = validator.jwks_status().unwrap();
    assert_eq!((status.keys, status.failures), (1, 1), "{status:?}");
    assert!(
        matches!(status.last_error, Some(JwksError::Http { .. })),
        "{status:?}"
    );
    // Past the token's expiry the SDK must fetch: it fails after its bounded retries, with no
    // real waiting.
    clock.advance(TOKEN_TTL);
    let error = sdk.token().await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(sleeper.waits(), 2, "three attempts, two waits");
    assert!(!error.to_string().contains(WRITER.1), "{error}");

    // Restarted on the same port with the same key: the next fetch recovers.
    let second = auth_server(&clock, address).await;
    let after = sdk
        .token()
        .await
        .expect("the SDK recovers on its next fetch");
    assert!(!after.same_token(&before));
    second.assert_token_requests().successful().exactly(1);
    // The same kid: the cached key validates the new token, and the old one has expired.
    let claims = validator.validate(after.secret()).await.unwrap();
    assert_eq!(claims.subject(), Some(WRITER.0));
    assert_eq!(
        validator.validate(before.secret()).await.unwrap_err(),
        AuthError::InvalidToken(TokenRejection::Expired)
    );
}

#[tokio::test]
async fn a_slow_failing_or_dropping_jwks_endpoint_leaves_cached_keys_validating() {
    let clock = clock();
    let server = auth_server(&clock, any_port()).await;
    let validator = jwks_validator(&server, &clock);
    let sdk = sdk(&server, &clock, &RecordingSleeper::default());
    let token = sdk.token().await.unwrap();
    validator.validate(token.secret()).await.unwrap();
    assert_eq!(jwks_requests(&server), 1);

    // Slow: the refresh times out (200 ms against a 2 s delay), the stale keys still serve.
    let slow = server
        .on(Endpoint::Jwks)
        .times(1)
        .respond(Fault::delay(Duration::from_secs(2)));
    clock.advance(JWKS_TTL + Duration::from_secs(1));
    let started = std::time::Instant::now();
    validator
        .validate(token.secret())
        .await
        .expect("stale keys while the refresh times out");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the 200 ms fetch timeout bounds the wait, not the 2 s delay"
    );
    assert_eq!(slow.hits(), 1);
    // reqwest's own per-request timeout may fire first; either way the fetch failed.
    let status = validator.jwks_status().unwrap();
    assert!(
        matches!(
            status.last_error,
            Some(JwksError::Timeout { .. } | JwksError::Http { .. })
        ),
        "{status:?}"
    );

    // Failing (503) and dropping the connection: the same, one attempt per retry interval.
    for fault in [Fault::status(503), Fault::DropConnection] {
        let failing = server.on(Endpoint::Jwks).times(1).respond(fault.clone());
        clock.advance(Duration::from_secs(6));
        validator
            .validate(token.secret())
            .await
            .unwrap_or_else(|error| panic!("stale keys while the JWKS fails ({fault:?}): {error}"));
        validator.validate(token.secret()).await.unwrap();
        assert_eq!(
            failing.hits(),
            1,
            "{fault:?}: one attempt, not one per request"
        );
        assert!(validator.jwks_status().unwrap().last_error.is_some());
    }

    // The issuer answers again: the next refresh installs fresh keys.
    clock.advance(Duration::from_secs(6));
    validator.validate(token.secret()).await.unwrap();
    let status = validator.jwks_status().unwrap();
    // The slow request may still be in the server's journal-to-be, so count the validator's.
    assert_eq!((status.fetches, status.failures), (5, 3), "{status:?}");
    assert_eq!(status.last_error, None);
}

#[actix_web::test]
async fn with_no_keys_loaded_a_failing_jwks_endpoint_means_503_not_500() {
    let clock = clock();
    let server = auth_server(&clock, any_port()).await;
    let token = sdk(&server, &clock, &RecordingSleeper::default())
        .token()
        .await
        .unwrap();
    let api = SampleApi::new(jwks_validator(&server, &clock));
    let request = || get("/v1/items").insert_header(bearer(token.secret()));
    for fault in [
        Fault::status(503),
        Fault::DropConnection,
        Fault::status(500),
    ] {
        let failing = server.on(Endpoint::Jwks).times(1).respond(fault.clone());
        let answer = send(&api, request()).await;
        assert_eq!(
            (answer.status, answer.error(), answer.retry_after.as_deref()),
            (503, Some("temporarily_unavailable"), Some("5")),
            "{fault:?}: {answer:?}"
        );
        // Within the retry interval: answered at once, no second attempt.
        assert_eq!(send(&api, request()).await.status, 503);
        assert_eq!(failing.hits(), 1, "{fault:?}");
        clock.advance(Duration::from_secs(5));
    }
    assert_eq!(send(&api, request()).await.status, 200, "recovers");
    assert_eq!(api.validator().jwks_status().unwrap().fetches, 4);
}

#[tokio::test]
async fn unknown_kid_refetches_against_the_real_server_are_rate_limited() {
    let clock = clock();
    let server = auth_server(&clock, any_port()).await;
    let validator = jwks_validator(&server, &clock);
    let good = server.mint().client(WRITER.0).sign().unwrap();
    let unknown = server
        .mint()
        .client(WRITER.0)
        .defect(Defect::UnknownKid)
        .sign()
        .unwrap();
    validator.validate(&good).await.unwrap();
    let burst = |n: usize| {
        let mut set = JoinSet::new();
        for _ in 0..n {
            let validator = validator.clone();
            let unknown = unknown.clone();
            set.spawn(async move { validator.validate(&unknown).await });
        }
        set.join_all()
    };
    // Right after the first load, within the 30 s cooldown: no refetch at all.
    for result in burst(200).await {
        assert_eq!(
            result.unwrap_err(),
            AuthError::InvalidToken(TokenRejection::UnknownKey)
        );
    }
    assert_eq!(jwks_requests(&server), 1);
    // Past the cooldown: one refetch for the whole burst, then none until the next cooldown.
    clock.advance(Duration::from_secs(31));
    assert!(burst(200).await.iter().all(Result::is_err));
    assert_eq!(jwks_requests(&server), 2);
    clock.advance(Duration::from_secs(20));
    assert!(burst(50).await.iter().all(Result::is_err));
    assert_eq!(jwks_requests(&server), 2);
    validator.validate(&good).await.unwrap();
}

#[tokio::test]
async fn clocks_jumping_forward_refresh_and_expire_tokens() {
    // Three clocks, as on three machines: the issuer's, the SDK's, the resource server's.
    let (server_clock, sdk_clock, api_clock) = (clock(), clock(), clock());
    let server = auth_server(&server_clock, any_port()).await;
    let sleeper = RecordingSleeper::default();
    let sdk = sdk(&server, &sdk_clock, &sleeper);
    let validator = validator(&server, &api_clock);
    let old = sdk.token().await.unwrap();
    validator.validate(old.secret()).await.unwrap();

    // A jump of two hours everywhere: the SDK refreshes once, the validator refuses the old
    // token and takes the new one.
    for clock in [&server_clock, &sdk_clock, &api_clock] {
        clock.advance(Duration::from_secs(2 * 3600));
    }
    let new = sdk.token().await.unwrap();
    assert!(!new.same_token(&old));
    for _ in 0..10 {
        assert!(sdk.token().await.unwrap().same_token(&new));
    }
    server.assert_token_requests().exactly(2);
    assert_eq!(
        validator.validate(old.secret()).await.unwrap_err(),
        AuthError::InvalidToken(TokenRejection::Expired)
    );
    validator.validate(new.secret()).await.unwrap();

    // Only the resource server's clock jumps ahead: within the 30 s leeway the token is still
    // good, past `exp` plus leeway it is not.
    api_clock.advance(TOKEN_TTL + Duration::from_secs(20));
    validator.validate(new.secret()).await.unwrap();
    api_clock.advance(Duration::from_secs(11));
    assert_eq!(
        validator.validate(new.secret()).await.unwrap_err(),
        AuthError::InvalidToken(TokenRejection::Expired)
    );
    assert_eq!(sleeper.waits(), 0);
}

#[tokio::test]
async fn clocks_jumping_back_are_handled_per_leeway_without_hammering_the_server() {
    let (server_clock, sdk_clock, api_clock) = (clock(), clock(), clock());
    let server = auth_server(&server_clock, any_port()).await;
    let sleeper = RecordingSleeper::default();
    let sdk = sdk(&server, &sdk_clock, &sleeper);
    let validator = validator(&server, &api_clock);
    let start = api_clock.now();

    // The resource server's clock falls behind the issuer's: tokens look issued in the future
    // (iat/nbf ahead). Within the 30 s leeway they validate; beyond it they are refused.
    let token = sdk.token().await.unwrap();
    api_clock.set(start - Duration::from_secs(20));
    validator.validate(token.secret()).await.unwrap();
    api_clock.set(start - Duration::from_secs(10 * 60));
    let refused = validator.validate(token.secret()).await.unwrap_err();
    assert!(
        matches!(
            refused,
            AuthError::InvalidToken(TokenRejection::NotYetValid | TokenRejection::IssuedInFuture)
        ),
        "{refused:?}"
    );
    api_clock.set(start);
    validator.validate(token.secret()).await.unwrap();

    // The SDK's clock jumps back an hour: its cached token only looks younger; it is reused,
    // with no request to the server and no retry loop.
    sdk_clock.set(start - Duration::from_secs(3600));
    for _ in 0..50 {
        assert!(sdk.token().await.unwrap().same_token(&token));
    }
    server.assert_token_requests().exactly(1);
    // Back to the present and past expiry: exactly one refresh.
    sdk_clock.set(start + TOKEN_TTL);
    let fresh = sdk.token().await.unwrap();
    assert!(!fresh.same_token(&token));
    for _ in 0..10 {
        sdk.token().await.unwrap();
    }
    server.assert_token_requests().exactly(2);

    // The issuer's clock jumps back an hour: its new tokens are already an hour old to the
    // resource server (still valid for their lifetime minus that hour, here none left).
    server_clock.set(start - Duration::from_secs(3600));
    let behind = sdk
        .with_scopes(["items:read"])
        .unwrap()
        .token()
        .await
        .unwrap();
    server.assert_token_requests().exactly(3);
    assert_eq!(
        validator.validate(behind.secret()).await.unwrap_err(),
        AuthError::InvalidToken(TokenRejection::Expired)
    );
    assert_eq!(sleeper.waits(), 0, "no retries anywhere");
}

#[tokio::test]
async fn a_client_deleted_while_its_token_is_cached() {
    let clock = clock();
    let server = auth_server(&clock, any_port()).await;
    let sleeper = RecordingSleeper::default();
    let sdk = sdk(&server, &clock, &sleeper);
    let validator = validator(&server, &clock);
    let token = sdk.token().await.unwrap();
    assert_eq!(introspect(&server, token.secret()).await["active"], true);

    assert!(server.remove_client(WRITER.0));
    // The SDK does not know: it serves its cached token without asking.
    assert!(sdk.token().await.unwrap().same_token(&token));
    server.assert_token_requests().exactly(1);
    // Introspection says inactive at once (RFC 7662 §2.2) ...
    assert_eq!(
        introspect(&server, token.secret()).await,
        serde_json::json!({"active": false})
    );
    // ... while a validator of self-contained JWTs accepts the token until `exp` (RFC 9068:
    // nothing in the token or the JWKS changed). docs/test-control.md says so.
    clock.advance(TOKEN_TTL - Duration::from_secs(60));
    validator.validate(token.secret()).await.unwrap();

    // Past expiry the SDK asks again and gets invalid_client, which it never retries.
    clock.advance(Duration::from_secs(120));
    let error = sdk.token().await.unwrap_err();
    assert_eq!(
        error.oauth_code().map(|code| code.as_str()),
        Some("invalid_client"),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert_eq!(sleeper.waits(), 0);
    server
        .assert_token_requests()
        .for_client(WRITER.0)
        .with_status(401)
        .exactly(1);
    assert_eq!(
        validator.validate(token.secret()).await.unwrap_err(),
        AuthError::InvalidToken(TokenRejection::Expired)
    );
}
