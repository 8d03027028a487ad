//! The SDK against scripted servers (wiremock): exact requests, request counts, caching,
//! expiry, retries, parsing and errors — one test per behaviour.

mod common;

use std::time::Duration;

use ccflow_client::protocol::ErrorCode;
use ccflow_client::{AuthMethod, RetryPolicy, TokenCache, TokenClient, TokenError};
use common::{Harness, T0, expected_basic, oauth_error, ok, token_json};
use serde_json::json;
use wiremock::matchers::{body_string, header, header_exists, method, path};
use wiremock::{Mock, ResponseTemplate};

fn token_mock() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path("/token"))
}

// ---------------------------------------------------------------- client authentication

#[tokio::test]
async fn basic_auth_form_encodes_id_and_secret_before_base64() {
    let h = Harness::start().await;
    let (id, secret) = ("svc \" %&+£€:@/ id", "sec \" %&+£€:@/ ret");
    token_mock()
        .and(header("authorization", expected_basic(id, secret).as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .and(body_string("grant_type=client_credentials"))
        .respond_with(ok(token_json("t", 3600)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.builder().credentials(id, secret).build().unwrap();
    assert_eq!(client.token().await.unwrap().secret(), "t");
}

#[tokio::test]
async fn basic_auth_matches_the_rfc_test_vector() {
    let h = Harness::start().await;
    token_mock()
        .and(header("authorization", "Basic YStiOmMlMkJk"))
        .respond_with(ok(token_json("t", 3600)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.builder()
        .credentials("a b", "c+d")
        .build()
        .unwrap()
        .token()
        .await
        .unwrap();
}

#[tokio::test]
async fn client_secret_post_puts_credentials_in_the_body_and_sends_no_authorization() {
    let h = Harness::start().await;
    token_mock()
        .and(body_string(
            "grant_type=client_credentials&client_id=svc+%40x&client_secret=p%2Bw%3Dd%21",
        ))
        .respond_with(ok(token_json("t", 3600)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .credentials("svc @x", "p+w=d!")
        .auth_method(AuthMethod::ClientSecretPost)
        .build()
        .unwrap();
    client.token().await.unwrap();
    let requests = h.server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn request_parameters_are_sent_exactly() {
    let h = Harness::start().await;
    token_mock()
        .and(body_string(
            "grant_type=client_credentials&scope=orders.read+orders.write&resource=https%3A%2F%2Fapi.example&audience=aud-1&audience=aud-2&tenant=t+1",
        ))
        .respond_with(ok(token_json("t", 3600)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .scopes(["orders.read", "orders.write"])
        .resource("https://api.example")
        .audience("aud-1")
        .audience("aud-2")
        .extra_param("tenant", "t 1")
        .build()
        .unwrap();
    client.token().await.unwrap();
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

async fn private_key_jwt_case(private: &str, public: &str, alg: jsonwebtoken::Algorithm) {
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

#[tokio::test]
async fn private_key_jwt_signs_a_fresh_rs256_assertion_per_attempt() {
    private_key_jwt_case(
        "client-rs256.pem",
        "client-rs256.pub.pem",
        jsonwebtoken::Algorithm::RS256,
    )
    .await;
}

#[tokio::test]
async fn private_key_jwt_signs_es256_with_an_ec_key() {
    private_key_jwt_case(
        "client-es256.pem",
        "client-es256.pub.pem",
        jsonwebtoken::Algorithm::ES256,
    )
    .await;
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

async fn refetch_boundary(expires_in: u64, skew: Option<Duration>, stale_after: u64) {
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

#[tokio::test]
async fn default_skew_is_ten_percent_of_a_short_lifetime() {
    refetch_boundary(100, None, 90).await;
}

#[tokio::test]
async fn default_skew_is_at_most_thirty_seconds() {
    refetch_boundary(3600, None, 3570).await;
}

#[tokio::test]
async fn a_configured_skew_replaces_the_default() {
    refetch_boundary(3600, Some(Duration::from_secs(300)), 3300).await;
}

#[tokio::test]
async fn a_missing_expires_in_uses_the_default_lifetime_for_opaque_tokens() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(
            json!({"access_token": "opaque", "token_type": "bearer"}),
        ))
        .expect(1)
        .mount(&h.server)
        .await;
    let token = h.client().token().await.unwrap();
    assert_eq!(token.lifetime(), Duration::from_secs(300));
}

#[tokio::test]
async fn a_missing_expires_in_uses_the_jwt_exp() {
    use base64::Engine as _;
    let h = Harness::start().await;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"exp": T0 + 86_400}).to_string());
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
    token_mock()
        .respond_with(ok(
            json!({"access_token": jwt, "token_type": "Bearer", "refresh_token": "r"}),
        ))
        .expect(1)
        .mount(&h.server)
        .await;
    let token = h.client().token().await.unwrap();
    assert_eq!(token.lifetime(), Duration::from_secs(86_400));
    assert!(token.extra().contains_key("refresh_token"));
}

#[tokio::test]
async fn a_string_expires_in_and_lower_case_bearer_are_understood() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ok(json!({"access_token": "t", "token_type": "bearer", "expires_in": "3599", "scope": "a b"})))
        .expect(1)
        .mount(&h.server)
        .await;
    let token = h.client().token().await.unwrap();
    assert_eq!(token.lifetime(), Duration::from_secs(3599));
    assert_eq!(token.scopes().to_string(), "a b");
}

#[tokio::test]
async fn an_slb_scope_object_yields_the_valid_scopes() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json;charset=UTF-8")
                .set_body_string(r#"{"access_token":"t","token_type":"Bearer","expires_in":3600,"scope":{"valid":["svc-a"],"invalid":["nope"]}}"#),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    assert_eq!(
        h.client().token().await.unwrap().scopes().to_string(),
        "svc-a"
    );
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

#[tokio::test]
async fn any_2xx_status_is_a_success() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(201).set_body_json(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.client().token().await.unwrap();
}

// ---------------------------------------------------------------- retries

#[tokio::test]
async fn retryable_statuses_are_retried_with_bounded_backoff() {
    for status in [500, 502, 503, 504] {
        let h = Harness::start().await;
        token_mock()
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(2)
            .expect(2)
            .mount(&h.server)
            .await;
        token_mock()
            .respond_with(ok(token_json("t", 60)))
            .expect(1)
            .mount(&h.server)
            .await;
        h.client().token().await.unwrap();
        let delays = h.sleeper.delays();
        assert_eq!(delays.len(), 2, "status {status}");
        assert!(
            delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100),
            "{delays:?}"
        );
        assert!(
            delays[1] >= Duration::from_millis(100) && delays[1] <= Duration::from_millis(200),
            "{delays:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_seconds_is_honoured_on_429() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.client().token().await.unwrap();
    assert_eq!(h.sleeper.delays(), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn retry_after_http_date_is_honoured_against_the_clock() {
    let h = Harness::start().await;
    let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(T0 + 12));
    token_mock()
        .respond_with(
            oauth_error(503, "temporarily_unavailable").insert_header("retry-after", date.as_str()),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.client().token().await.unwrap();
    assert_eq!(h.sleeper.delays(), [Duration::from_secs(12)]);
}

#[tokio::test]
async fn temporarily_unavailable_is_retried_whatever_its_status() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(oauth_error(400, "temporarily_unavailable"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    token_mock()
        .respond_with(ok(token_json("t", 60)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.client().token().await.unwrap();
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_ends_the_retries_at_once() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "120"))
        .expect(1)
        .mount(&h.server)
        .await;
    let error = h.client().token().await.unwrap_err();
    assert!(
        matches!(error, TokenError::InvalidResponse { status: 503, .. }),
        "{error:?}"
    );
    assert!(h.sleeper.delays().is_empty());
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
async fn retries_stop_after_max_attempts() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(500))
        .expect(4)
        .mount(&h.server)
        .await;
    let error = h.client().token().await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
}

#[tokio::test]
async fn final_oauth_errors_are_never_retried() {
    for (status, code) in [
        (401, "invalid_client"),
        (400, "invalid_grant"),
        (400, "unauthorized_client"),
        (400, "invalid_scope"),
        (400, "invalid_request"),
        (400, "unsupported_grant_type"),
        (403, "access_denied"),
    ] {
        let h = Harness::start().await;
        token_mock()
            .respond_with(oauth_error(status, code))
            .expect(1)
            .mount(&h.server)
            .await;
        let error = h.client().token().await.unwrap_err();
        match &error {
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
        }
        assert!(h.sleeper.delays().is_empty(), "{code} was retried");
    }
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

// ---------------------------------------------------------------- unusable responses

#[tokio::test]
async fn malformed_json_is_an_invalid_response() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"access_token\": \"t\""))
        .expect(1)
        .mount(&h.server)
        .await;
    let error = h.client().token().await.unwrap_err();
    assert!(
        matches!(error, TokenError::InvalidResponse { status: 200, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_html_page_is_an_invalid_response_and_not_retried_on_404() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(
            ResponseTemplate::new(404).set_body_raw("<html><h1>Not Found</h1></html>", "text/html"),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let error = h.client().token().await.unwrap_err();
    assert!(error.to_string().contains("HTML"), "{error}");
    assert!(h.sleeper.delays().is_empty());
}

#[tokio::test]
async fn an_error_in_a_200_is_an_oauth_error() {
    let h = Harness::start().await;
    token_mock()
        .respond_with(oauth_error(200, "invalid_client"))
        .expect(1)
        .mount(&h.server)
        .await;
    let error = h.client().token().await.unwrap_err();
    assert_eq!(error.oauth_code(), Some(&ErrorCode::InvalidClient));
}

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
        .and(path("/.well-known/oauth-authorization-server"))
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
async fn discovery_falls_back_to_openid_configuration_and_picks_post_when_basic_is_unsupported() {
    let h = Harness::start().await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/.well-known/openid-configuration"))
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
    Mock::given(path("/.well-known/oauth-authorization-server"))
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
