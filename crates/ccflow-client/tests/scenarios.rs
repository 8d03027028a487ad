//! The SDK against scripted servers (wiremock): exact requests, request counts, caching,
//! expiry, retries, parsing and errors. Runs of similar behaviours are tables, each case with
//! its name, read by one `check` per table; behaviours unlike the others keep their own test.

mod common;

use std::time::Duration;

use ccflow_client::protocol::ErrorCode;
use ccflow_client::{
    AuthMethod, RetryPolicy, TokenCache, TokenClient, TokenClientBuilder, TokenError,
};
use common::{Case, Harness, T0, expected_basic, oauth_error, ok, token_json};
use serde_json::json;
use wiremock::matchers::{body_string, header, header_exists, method, path};
use wiremock::{Mock, ResponseTemplate};

fn token_mock() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path("/token"))
}

// ---------------------------------------------------------------- client authentication

/// What one configuration sends: the request must carry `headers` and, if given, exactly
/// `body`; the server sees exactly one such request.
struct Wire {
    name: &'static str,
    configure: fn(TokenClientBuilder) -> TokenClientBuilder,
    headers: Vec<(&'static str, String)>,
    body: Option<&'static str>,
    /// The request has no `Authorization` header.
    no_authorization: bool,
    /// The token the client returns (checked where given).
    token: Option<&'static str>,
}

/// The id and secret of the Basic case: every character RFC 6749 §2.3.1 makes encode.
const AWKWARD_ID: &str = "svc \" %&+£€:@/ id";
const AWKWARD_SECRET: &str = "sec \" %&+£€:@/ ret";

#[tokio::test]
async fn each_auth_method_and_parameter_goes_on_the_wire_exactly() {
    let cases = vec![
        Wire {
            name: "basic auth form-encodes id and secret before base64",
            configure: |builder| builder.credentials(AWKWARD_ID, AWKWARD_SECRET),
            headers: vec![
                ("authorization", expected_basic(AWKWARD_ID, AWKWARD_SECRET)),
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("accept", "application/json".to_owned()),
            ],
            body: Some("grant_type=client_credentials"),
            no_authorization: false,
            token: Some("t"),
        },
        Wire {
            name: "basic auth matches the RFC test vector",
            configure: |builder| builder.credentials("a b", "c+d"),
            headers: vec![("authorization", "Basic YStiOmMlMkJk".to_owned())],
            body: None,
            no_authorization: false,
            token: None,
        },
        Wire {
            name: "client_secret_post puts the credentials in the body and sends no Authorization",
            configure: |builder| {
                builder
                    .credentials("svc @x", "p+w=d!")
                    .auth_method(AuthMethod::ClientSecretPost)
            },
            headers: vec![],
            body: Some(
                "grant_type=client_credentials&client_id=svc+%40x&client_secret=p%2Bw%3Dd%21",
            ),
            no_authorization: true,
            token: None,
        },
        Wire {
            name: "request parameters are sent exactly",
            configure: |builder| {
                builder
                    .scopes(["orders.read", "orders.write"])
                    .resource("https://api.example")
                    .audience("aud-1")
                    .audience("aud-2")
                    .extra_param("tenant", "t 1")
            },
            headers: vec![],
            body: Some(
                "grant_type=client_credentials&scope=orders.read+orders.write&resource=https%3A%2F%2Fapi.example&audience=aud-1&audience=aud-2&tenant=t+1",
            ),
            no_authorization: false,
            token: None,
        },
    ];
    for case in cases {
        check_wire(case).await;
    }
}

async fn check_wire(case: Wire) {
    let _case = Case(case.name);
    let h = Harness::start().await;
    let mut mock = token_mock();
    for (name, value) in &case.headers {
        mock = mock.and(header(*name, value.as_str()));
    }
    if let Some(body) = case.body {
        mock = mock.and(body_string(body));
    }
    mock.respond_with(ok(token_json("t", 3600)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = (case.configure)(h.builder()).build().unwrap();
    let token = client.token().await.unwrap();
    if let Some(expected) = case.token {
        assert_eq!(token.secret(), expected);
    }
    if case.no_authorization {
        let requests = h.server.received_requests().await.unwrap();
        assert!(requests[0].headers.get("authorization").is_none());
    }
}

/// A `private_key_jwt` client: its key pair under `fixtures/keys/` and the algorithm it signs
/// with. Two calls must carry two fresh, valid assertions.
struct PrivateKeyJwt {
    name: &'static str,
    private: &'static str,
    public: &'static str,
    alg: jsonwebtoken::Algorithm,
}

#[tokio::test]
async fn private_key_jwt_signs_a_fresh_assertion_per_attempt() {
    let cases = [
        PrivateKeyJwt {
            name: "RS256 with an RSA key",
            private: "client-rs256.pem",
            public: "client-rs256.pub.pem",
            alg: jsonwebtoken::Algorithm::RS256,
        },
        PrivateKeyJwt {
            name: "ES256 with an EC key",
            private: "client-es256.pem",
            public: "client-es256.pub.pem",
            alg: jsonwebtoken::Algorithm::ES256,
        },
    ];
    for case in &cases {
        check_private_key_jwt(case).await;
    }
}

fn assertion_claims(
    body: &[u8],
    public_pem: &str,
    alg: jsonwebtoken::Algorithm,
    aud: &str,
) -> serde_json::Value {
    let body = std::str::from_utf8(body).unwrap();
    let params: Vec<(String, String)> = body
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (
                k.to_owned(),
                ccflow_client::protocol::FormParams::parse(&format!("v={v}"))
                    .unwrap()
                    .get("v")
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(
        get("client_assertion_type"),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(get("client_id"), "jwt-svc");
    let key = match alg {
        jsonwebtoken::Algorithm::ES256 => {
            jsonwebtoken::DecodingKey::from_ec_pem(public_pem.as_bytes()).unwrap()
        }
        _ => jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&[aud]);
    validation.validate_exp = false;
    let data =
        jsonwebtoken::decode::<serde_json::Value>(&get("client_assertion"), &key, &validation)
            .unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("client-key-1"));
    data.claims
}

async fn check_private_key_jwt(case: &PrivateKeyJwt) {
    let PrivateKeyJwt {
        name,
        private,
        public,
        alg,
    } = *case;
    let _case = Case(name);
    let h = Harness::start().await;
    token_mock()
        .and(wiremock::matchers::body_string_contains(
            "client_assertion=",
        ))
        .respond_with(ok(token_json("t", 0)))
        .expect(2)
        .mount(&h.server)
        .await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/keys/");
    let private = std::fs::read_to_string(format!("{fixtures}{private}")).unwrap();
    let public = std::fs::read_to_string(format!("{fixtures}{public}")).unwrap();
    let client = ccflow_client::TokenClient::builder()
        .token_url(h.token_url())
        .client_id("jwt-svc")
        .auth_method(
            AuthMethod::private_key_jwt_pem(&private, Some("client-key-1".to_owned())).unwrap(),
        )
        .clock(h.clock.clone())
        .build()
        .unwrap();
    // expires_in 0 is never cached, so each call signs a new assertion.
    client.token().await.unwrap();
    h.clock.advance(Duration::from_secs(5));
    client.token().await.unwrap();
    let requests = h.server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
    let first = assertion_claims(&requests[0].body, &public, alg, &h.token_url());
    let second = assertion_claims(&requests[1].body, &public, alg, &h.token_url());
    for claims in [&first, &second] {
        assert_eq!(claims["iss"], "jwt-svc");
        assert_eq!(claims["sub"], "jwt-svc");
        assert_eq!(claims["aud"], h.token_url());
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!((1..=60).contains(&lifetime), "{claims}");
    }
    assert_eq!(first["iat"], T0);
    assert_eq!(second["iat"], T0 + 5, "fresh iat per attempt");
    assert_ne!(first["jti"], second["jti"], "fresh jti per attempt");
}

// ---------------------------------------------------------------- cache and expiry

#[tokio::test]
async fn a_fresh_token_is_reused() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(token_json("t", 3600)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.client();
    let first = client.token().await.unwrap();
    let second = client.clone().token().await.unwrap();
    assert!(first.same_token(&second));
    assert_eq!(
        first.expires_at(),
        std::time::UNIX_EPOCH + Duration::from_secs(T0 + 3600)
    );
}

#[tokio::test]
async fn each_scope_set_has_its_own_cache_entry() {
    let h = Harness::start().await;
    token_mock()
        .and(body_string("grant_type=client_credentials&scope=a"))
        .respond_with(ok(json!({"access_token": "token-a", "token_type": "Bearer", "expires_in": 3600, "scope": "a"})))
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .and(body_string("grant_type=client_credentials&scope=b"))
        .respond_with(ok(json!({"access_token": "token-b", "token_type": "Bearer", "expires_in": 3600, "scope": "b"})))
        .expect(1)
        .mount(&h.server)
        .await;
    let a = h.builder().scopes(["a"]).build().unwrap();
    let b = a.with_scopes(["b"]).unwrap();
    for _ in 0..3 {
        assert_eq!(a.token().await.unwrap().secret(), "token-a");
        assert_eq!(b.token().await.unwrap().secret(), "token-b");
    }
    assert_eq!(a.cache().len(), 2, "one shared cache, two fingerprints");
}

#[tokio::test]
async fn clients_sharing_a_cache_share_a_token_only_for_the_same_request() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(token_json("t", 3600)))
        .expect(2)
        .mount(&h.server)
        .await;
    let cache = TokenCache::default();
    let one = h
        .builder()
        .scopes(["x", "y"])
        .cache(cache.clone())
        .build()
        .unwrap();
    let same = h
        .builder()
        .scopes(["y", "x"])
        .cache(cache.clone())
        .build()
        .unwrap();
    let other_audience = h
        .builder()
        .scopes(["x", "y"])
        .audience("a")
        .cache(cache.clone())
        .build()
        .unwrap();
    one.token().await.unwrap();
    same.token().await.unwrap();
    other_audience.token().await.unwrap();
    assert_eq!(cache.len(), 2);
}

/// A token living `expires_in` seconds, with the client's skew if set, is served from the
/// cache until `stale_after` seconds, then fetched again: two requests in all.
#[tokio::test]
async fn a_token_is_refetched_exactly_when_the_skew_says() {
    #[rustfmt::skip]
    let cases = [
        // name                                             expires_in  skew       stale_after
        ("default skew is ten percent of a short lifetime", 100,        None,      90),
        ("default skew is at most thirty seconds",          3600,       None,      3570),
        ("a configured skew replaces the default",          3600,       Some(300), 3300),
    ];
    for (name, expires_in, skew, stale_after) in cases {
        check_staleness(name, expires_in, skew.map(Duration::from_secs), stale_after).await;
    }
}

async fn check_staleness(
    name: &'static str,
    expires_in: u64,
    skew: Option<Duration>,
    stale_after: u64,
) {
    let _case = Case(name);
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(token_json("t", expires_in)))
        .expect(2)
        .mount(&h.server)
        .await;
    let mut builder = h.builder();
    if let Some(skew) = skew {
        builder = builder.expiry_skew(skew);
    }
    let client = builder.build().unwrap();
    client.token().await.unwrap();
    h.clock.advance(Duration::from_secs(stale_after - 1));
    client.token().await.unwrap();
    assert_eq!(
        h.server.received_requests().await.unwrap().len(),
        1,
        "still fresh 1 s before the skew"
    );
    h.clock.advance(Duration::from_secs(1));
    client.token().await.unwrap();
}

/// A success response the lenient parser must understand, and what the token then says
/// (each `Some` is checked).
struct Parsed {
    name: &'static str,
    response: ResponseTemplate,
    lifetime: Option<Duration>,
    scopes: Option<&'static str>,
    extra_member: Option<&'static str>,
}

#[tokio::test]
async fn vendor_response_variants_are_understood() {
    use base64::Engine as _;
    let jwt_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"exp": T0 + 86_400}).to_string());
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{jwt_payload}.c2ln");
    let cases = [
        Parsed {
            name: "a missing expires_in uses the default lifetime for opaque tokens",
            response: ok(json!({"access_token": "opaque", "token_type": "bearer"})),
            lifetime: Some(Duration::from_secs(300)),
            scopes: None,
            extra_member: None,
        },
        Parsed {
            name: "a missing expires_in uses the JWT exp",
            response: ok(
                json!({"access_token": jwt, "token_type": "Bearer", "refresh_token": "r"}),
            ),
            lifetime: Some(Duration::from_secs(86_400)),
            scopes: None,
            extra_member: Some("refresh_token"),
        },
        Parsed {
            name: "a string expires_in and lower-case bearer are understood",
            response: ok(
                json!({"access_token": "t", "token_type": "bearer", "expires_in": "3599", "scope": "a b"}),
            ),
            lifetime: Some(Duration::from_secs(3599)),
            scopes: Some("a b"),
            extra_member: None,
        },
        Parsed {
            name: "an SLB scope object yields the valid scopes",
            response: ResponseTemplate::new(200)
                .insert_header("content-type", "application/json;charset=UTF-8")
                .set_body_string(r#"{"access_token":"t","token_type":"Bearer","expires_in":3600,"scope":{"valid":["svc-a"],"invalid":["nope"]}}"#),
            lifetime: None,
            scopes: Some("svc-a"),
            extra_member: None,
        },
        Parsed {
            name: "any 2xx status is a success",
            response: ResponseTemplate::new(201).set_body_json(token_json("t", 60)),
            lifetime: None,
            scopes: None,
            extra_member: None,
        },
    ];
    for case in cases {
        check_parsed(case).await;
    }
}

async fn check_parsed(case: Parsed) {
    let _case = Case(case.name);
    let h = Harness::start().await;
    token_mock()
        .respond_with(case.response)
        .expect(1)
        .mount(&h.server)
        .await;
    let token = h.client().token().await.unwrap();
    if let Some(lifetime) = case.lifetime {
        assert_eq!(token.lifetime(), lifetime);
    }
    if let Some(scopes) = case.scopes {
        assert_eq!(token.scopes().to_string(), scopes);
    }
    if let Some(member) = case.extra_member {
        assert!(token.extra().contains_key(member));
    }
}

#[tokio::test]
async fn a_zero_lifetime_token_is_returned_but_never_cached() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(token_json("t", 0)))
        .expect(2)
        .mount(&h.server)
        .await;
    let client = h.client();
    client.token().await.unwrap();
    client.token().await.unwrap();
}

// ---------------------------------------------------------------- retries and failures

/// The waits the client asked its sleeper for.
#[derive(Clone, Copy)]
enum Waits {
    /// Jittered backoff: one wait per `(min, max)` pair, in milliseconds, bounds included.
    Backoff(&'static [(u64, u64)]),
    /// Exactly these waits, in seconds (none: never retried).
    Exactly(&'static [u64]),
    /// Not checked by this case.
    NotChecked,
}

#[track_caller]
fn assert_waits(delays: &[Duration], expected: Waits) {
    match expected {
        Waits::Backoff(bounds) => {
            assert_eq!(delays.len(), bounds.len(), "{delays:?}");
            for (delay, (min, max)) in delays.iter().zip(bounds) {
                assert!(
                    *delay >= Duration::from_millis(*min) && *delay <= Duration::from_millis(*max),
                    "{delays:?}"
                );
            }
        }
        Waits::Exactly(seconds) => {
            let expected: Vec<Duration> =
                seconds.iter().copied().map(Duration::from_secs).collect();
            assert_eq!(delays, expected);
        }
        Waits::NotChecked => {}
    }
}

/// `failures` answers of `failure`, then a token: the client retries into the token, waiting
/// as `waits` says.
#[tokio::test]
async fn transient_failures_are_retried_into_a_token() {
    const TWO_BACKOFFS: Waits = Waits::Backoff(&[(50, 100), (100, 200)]);
    let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(T0 + 12));
    #[rustfmt::skip]
    let cases = [
        // name, failure answer, how many, waits
        ("500 with bounded backoff", ResponseTemplate::new(500), 2, TWO_BACKOFFS),
        ("502 with bounded backoff", ResponseTemplate::new(502), 2, TWO_BACKOFFS),
        ("503 with bounded backoff", ResponseTemplate::new(503), 2, TWO_BACKOFFS),
        ("504 with bounded backoff", ResponseTemplate::new(504), 2, TWO_BACKOFFS),
        ("Retry-After seconds is honoured on 429",
            ResponseTemplate::new(429).insert_header("retry-after", "7"), 1, Waits::Exactly(&[7])),
        ("Retry-After as an HTTP date is honoured against the clock",
            oauth_error(503, "temporarily_unavailable").insert_header("retry-after", date.as_str()),
            1, Waits::Exactly(&[12])),
        ("temporarily_unavailable is retried whatever its status",
            oauth_error(400, "temporarily_unavailable"), 1, Waits::NotChecked),
    ];
    for (name, failure, failures, waits) in cases {
        check_retried(name, failure, failures, waits).await;
    }
}

async fn check_retried(name: &'static str, failure: ResponseTemplate, failures: u64, waits: Waits) {
    let _case = Case(name);
    let h = Harness::start().await;
    token_mock()
        .respond_with(failure)
        .up_to_n_times(failures)
        .expect(failures)
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.client().token().await.unwrap();
    assert_waits(&h.sleeper.delays(), waits);
}

/// How a failed `token()` must fail.
enum Fails {
    /// `TokenError::InvalidResponse` with this status.
    InvalidResponse(u16),
    /// `TokenError::OAuth` with this status and code, and the description `oauth_error` sends.
    OAuth(u16, &'static str),
    /// An error whose `oauth_code()` is this.
    OAuthCode(ErrorCode),
    /// An error whose message mentions this.
    Mentions(&'static str),
    /// An error the policy would retry (it ran out of attempts).
    Retryable,
}

/// The server answers `response` (`requests` times in all) and `token()` fails as `fails`
/// says, after `waits`.
struct Failure {
    name: &'static str,
    response: ResponseTemplate,
    requests: u64,
    fails: Fails,
    waits: Waits,
}

const NEVER_RETRIED: Waits = Waits::Exactly(&[]);

#[tokio::test]
async fn unusable_answers_fail_with_the_right_error() {
    let mut cases = vec![
        Failure {
            name: "a Retry-After beyond the deadline ends the retries at once",
            response: ResponseTemplate::new(503).insert_header("retry-after", "120"),
            requests: 1,
            fails: Fails::InvalidResponse(503),
            waits: NEVER_RETRIED,
        },
        Failure {
            name: "retries stop after max attempts",
            response: ResponseTemplate::new(500),
            requests: 4,
            fails: Fails::Retryable,
            waits: Waits::NotChecked,
        },
        Failure {
            name: "malformed JSON is an invalid response",
            response: ResponseTemplate::new(200).set_body_string("{\"access_token\": \"t\""),
            requests: 1,
            fails: Fails::InvalidResponse(200),
            waits: Waits::NotChecked,
        },
        Failure {
            name: "an HTML page is an invalid response and not retried on 404",
            response: ResponseTemplate::new(404)
                .set_body_raw("<html><h1>Not Found</h1></html>", "text/html"),
            requests: 1,
            fails: Fails::Mentions("HTML"),
            waits: NEVER_RETRIED,
        },
        Failure {
            name: "an error in a 200 is an OAuth error",
            response: oauth_error(200, "invalid_client"),
            requests: 1,
            fails: Fails::OAuthCode(ErrorCode::InvalidClient),
            waits: Waits::NotChecked,
        },
    ];
    // Final OAuth errors are never retried.
    for (status, code) in [
        (401, "invalid_client"),
        (400, "invalid_grant"),
        (400, "unauthorized_client"),
        (400, "invalid_scope"),
        (400, "invalid_request"),
        (400, "unsupported_grant_type"),
        (403, "access_denied"),
    ] {
        cases.push(Failure {
            name: code,
            response: oauth_error(status, code),
            requests: 1,
            fails: Fails::OAuth(status, code),
            waits: NEVER_RETRIED,
        });
    }
    for case in cases {
        check_failure(case).await;
    }
}

async fn check_failure(case: Failure) {
    let _case = Case(case.name);
    let h = Harness::start().await;
    token_mock()
        .respond_with(case.response)
        .expect(case.requests)
        .mount(&h.server)
        .await;
    let error = h.client().token().await.unwrap_err();
    match case.fails {
        Fails::InvalidResponse(status) => assert!(
            matches!(error, TokenError::InvalidResponse { status: got, .. } if got == status),
            "{error:?}"
        ),
        Fails::OAuth(status, code) => match &error {
            TokenError::OAuth {
                status: got,
                code: got_code,
                description,
                ..
            } => {
                assert_eq!((*got, got_code.as_str()), (status, code));
                assert_eq!(
                    description.as_deref(),
                    Some(format!("{code} from the test").as_str())
                );
            }
            other => panic!("{code}: {other:?}"),
        },
        Fails::OAuthCode(code) => assert_eq!(error.oauth_code(), Some(&code)),
        Fails::Mentions(text) => assert!(error.to_string().contains(text), "{error}"),
        Fails::Retryable => assert!(error.is_retryable(), "{error}"),
    }
    assert_waits(&h.sleeper.delays(), case.waits);
}

#[tokio::test]
async fn retries_stop_when_the_deadline_is_spent() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "8"))
        .expect(3)
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .retry(RetryPolicy::new(
            10,
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(20),
        ))
        .build()
        .unwrap();
    client.token().await.unwrap_err();
    assert_eq!(
        h.sleeper.delays(),
        [Duration::from_secs(8), Duration::from_secs(8)],
        "a third wait would pass 20 s"
    );
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported_as_transport_errors() {
    let h = Harness::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let client = h.builder().token_url(url).build().unwrap();
    let error = client.token().await.unwrap_err();
    assert!(matches!(error, TokenError::Transport { .. }), "{error:?}");
    assert_eq!(h.sleeper.delays().len(), 3, "4 attempts");
    assert!(
        error
            .to_string()
            .contains("could not reach the token endpoint"),
        "{error}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out_and_is_retried() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(token_json("t", 60)).set_delay(Duration::from_millis(500)))
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .request_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    assert_eq!(client.token().await.unwrap().secret(), "t");
    assert_eq!(h.sleeper.delays().len(), 1);
}

#[tokio::test]
async fn a_timeout_without_retries_is_a_timeout_error() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(token_json("t", 60)).set_delay(Duration::from_millis(500)))
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .request_timeout(Duration::from_millis(100))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let error = client.token().await.unwrap_err();
    assert!(matches!(error, TokenError::Timeout { .. }), "{error:?}");
}

// ---------------------------------------------------------------- redirects and failed fetches

#[tokio::test]
async fn redirects_are_not_followed() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/elsewhere", h.server.uri()).as_str()),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ok(token_json("t", 60)))
        .expect(0)
        .mount(&h.server)
        .await;
    let error = h.client().token().await.unwrap_err();
    assert!(error.to_string().contains("redirect"), "{error}");
}

#[tokio::test]
async fn a_failed_fetch_does_not_poison_the_cache() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.builder().retry(RetryPolicy::never()).build().unwrap();
    client.token().await.unwrap_err();
    assert_eq!(client.token().await.unwrap().secret(), "t");
}

// ---------------------------------------------------------------- invalidation

#[tokio::test]
async fn invalidate_only_drops_the_token_it_is_given() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(token_json("old", 3600)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("new", 3600)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.client();
    let old = client.token().await.unwrap();
    assert!(client.invalidate(&old));
    let new = client.token().await.unwrap();
    assert_eq!(new.secret(), "new");
    assert!(
        !client.invalidate(&old),
        "a late invalidation of the old token is a no-op"
    );
    assert!(client.token().await.unwrap().same_token(&new));
}

// ---------------------------------------------------------------- discovery

fn metadata(server: &wiremock::MockServer, methods: Option<&[&str]>) -> serde_json::Value {
    let mut doc = json!({
        "issuer": server.uri(),
        "token_endpoint": format!("{}/token", server.uri()),
        "response_types_supported": [],
    });
    if let Some(methods) = methods {
        doc["token_endpoint_auth_methods_supported"] = json!(methods);
    }
    doc
}

#[tokio::test]
async fn discovery_finds_the_token_endpoint_once() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ok(metadata(&h.server, None)))
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .and(header_exists("authorization"))
        .respond_with(ok(token_json("t", 0)))
        .expect(2)
        .mount(&h.server)
        .await;
    let client = TokenClient::builder()
        .issuer(h.server.uri())
        .credentials("svc", "s")
        .clock(h.clock.clone())
        .build()
        .unwrap();
    client.token().await.unwrap();
    client.token().await.unwrap();
}

#[tokio::test]
async fn discovery_falls_back_to_rfc_8414_metadata_and_picks_post_when_basic_is_unsupported() {
    let h = Harness::start().await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ok(metadata(
            &h.server,
            Some(&["client_secret_post", "private_key_jwt"]),
        )))
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .and(body_string(
            "grant_type=client_credentials&client_id=svc&client_secret=s",
        ))
        .respond_with(ok(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = TokenClient::builder()
        .issuer(h.server.uri())
        .credentials("svc", "s")
        .build()
        .unwrap();
    client.token().await.unwrap();
}

#[tokio::test]
async fn discovery_rejects_metadata_for_another_issuer() {
    let h = Harness::start().await;
    let mut doc = metadata(&h.server, None);
    doc["issuer"] = json!(format!("{}/", h.server.uri()));
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ok(doc))
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("t", 60)))
        .expect(0)
        .mount(&h.server)
        .await;
    let client = TokenClient::builder()
        .issuer(h.server.uri())
        .credentials("svc", "s")
        .build()
        .unwrap();
    let error = client.token().await.unwrap_err();
    assert!(matches!(error, TokenError::Discovery { .. }), "{error:?}");
    assert!(error.to_string().contains("trailing slash"), "{error}");
}
