//! The JWKS cache's promises (validators-and-attacks.md §D), each counted with wiremock's
//! `.expect(n)`: lazy loading, single-flight refetch on unknown `kid` under a cooldown,
//! rotation, removal, stale-while-error, 503 without keys, fetch timeouts, `max-age` bounds,
//! discovery, and key matching by `alg`/`kty`/`use`.

mod common;

use std::time::Duration;

use ccflow_resource_api::sample_api::SampleApi;
use ccflow_resource_api::{Algorithm, AuthError, JwksError, TokenRejection, Validator};
use common::*;
use jsonwebtoken::EncodingKey;
use serde_json::json;
use tokio::task::JoinSet;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn jwks_mock() -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(JWKS_PATH))
}

/// Mounts `response` at the JWKS path for the first `times` requests, at `priority`.
async fn mount_jwks(
    server: &MockServer,
    response: ResponseTemplate,
    priority: u8,
    times: Option<u64>,
    expected: u64,
) {
    let mut mock = jwks_mock()
        .respond_with(response)
        .with_priority(priority)
        .expect(expected);
    if let Some(times) = times {
        mock = mock.up_to_n_times(times);
    }
    mock.mount(server).await;
}

fn unknown_kid(message: &AuthError) -> bool {
    *message == AuthError::InvalidToken(TokenRejection::UnknownKey)
}

#[tokio::test]
async fn fetches_once_on_first_use_and_never_for_a_cached_kid() {
    let server = jwks_server(&[&key_1()], 1).await;
    let clock = clock();
    let validator = validator_for(&server, &clock).build().unwrap();
    assert_eq!(
        validator.jwks_status().unwrap().fetches,
        0,
        "nothing at build"
    );
    let token = token(&key_1());
    for _ in 0..5 {
        let claims = validator.validate(&token).await.unwrap();
        assert_eq!(claims.key_id(), Some(key_1().kid()));
        clock.advance(Duration::from_secs(10));
    }
    let status = validator.jwks_status().unwrap();
    assert_eq!((status.fetches, status.keys, status.failures), (1, 1, 0));
}

#[tokio::test]
async fn a_burst_of_1000_unknown_kids_triggers_exactly_one_refetch() {
    // The issuer has just published key 2: the refetch finds it.
    let server = mock_server().await;
    mount_jwks(&server, jwks_response(&[&key_1()]), 1, Some(1), 1).await;
    mount_jwks(&server, jwks_response(&[&key_1(), &key_2()]), 2, None, 1).await;
    let clock = clock();
    let validator = validator_for(&server, &clock).build().unwrap();
    validator.validate(&token(&key_1())).await.unwrap();
    clock.advance(Duration::from_secs(31));
    let rotated = token(&key_2());
    let mut burst = JoinSet::new();
    for n in 0..1000 {
        let validator = validator.clone();
        // Half carry the new key's kid; half random kids, which need no key
        // to forge since the kid is looked up before the signature is checked.
        let token = if n % 2 == 0 {
            rotated.clone()
        } else {
            let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("random-kid-{n}")});
            craft(&header, &claims(), "c2lnbmF0dXJl")
        };
        burst.spawn(async move { (n, validator.validate(&token).await) });
    }
    let results = burst.join_all().await;
    assert_eq!(results.len(), 1000);
    for (n, result) in results {
        if n % 2 == 0 {
            // Every request waited for the one shared fetch instead of failing early.
            assert_eq!(result.unwrap().key_id(), Some(key_2().kid()));
        } else {
            assert!(result.is_err_and(|e| unknown_kid(&e)));
        }
    }
    assert_eq!(validator.jwks_status().unwrap().fetches, 2);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_cooldown() {
    let server = jwks_server(&[&key_1()], 2).await;
    let clock = clock();
    let validator = validator_for(&server, &clock).build().unwrap();
    let forged = token(&key_2());
    // The first load happens for this very token: no second fetch right after it.
    assert!(
        validator
            .validate(&forged)
            .await
            .is_err_and(|e| unknown_kid(&e))
    );
    for seconds in [10, 19] {
        clock.advance(Duration::from_secs(seconds));
        assert!(
            validator
                .validate(&forged)
                .await
                .is_err_and(|e| unknown_kid(&e))
        );
    }
    assert_eq!(
        validator.jwks_status().unwrap().fetches,
        1,
        "within the cooldown"
    );
    clock.advance(Duration::from_secs(1));
    assert!(
        validator
            .validate(&forged)
            .await
            .is_err_and(|e| unknown_kid(&e))
    );
    clock.advance(Duration::from_secs(9));
    assert!(
        validator
            .validate(&forged)
            .await
            .is_err_and(|e| unknown_kid(&e))
    );
    assert_eq!(
        validator.jwks_status().unwrap().fetches,
        2,
        "one per cooldown"
    );
}

#[tokio::test]
async fn a_rotated_key_validates_after_one_refresh() {
    let server = mock_server().await;
    mount_jwks(&server, jwks_response(&[&key_1()]), 1, Some(1), 1).await;
    mount_jwks(&server, jwks_response(&[&key_1(), &key_2()]), 2, None, 1).await;
    let clock = clock();
    let validator = validator_for(&server, &clock).build().unwrap();
    validator.validate(&token(&key_1())).await.unwrap();
    clock.advance(Duration::from_secs(31));
    let rotated = validator.validate(&token(&key_2())).await.unwrap();
    assert_eq!(rotated.key_id(), Some(key_2().kid()));
    // Both keys keep validating: rotation overlap (OIDC Core §10.1.1).
    validator.validate(&token(&key_1())).await.unwrap();
    validator.validate(&token(&key_2())).await.unwrap();
    assert_eq!(validator.jwks_status().unwrap().fetches, 2);
}

#[tokio::test]
async fn a_removed_key_stops_validating_after_the_next_refresh() {
    let server = mock_server().await;
    let max_age =
        |keys: &[&TestKey]| jwks_response(keys).insert_header("cache-control", "max-age=60");
    mount_jwks(&server, max_age(&[&key_1(), &key_2()]), 1, Some(1), 1).await;
    mount_jwks(&server, max_age(&[&key_2()]), 2, None, 1).await;
    let clock = clock();
    let validator = validator_for(&server, &clock).build().unwrap();
    validator.validate(&token(&key_1())).await.unwrap();
    validator.validate(&token(&key_2())).await.unwrap();
    clock.advance(Duration::from_secs(61));
    let removed = validator.validate(&token(&key_1())).await;
    assert!(removed.is_err_and(|e| unknown_kid(&e)));
    validator.validate(&token(&key_2())).await.unwrap();
    assert_eq!(validator.jwks_status().unwrap().keys, 1);
}

#[tokio::test]
async fn cached_keys_keep_validating_while_the_issuer_is_down_until_max_stale() {
    let server = mock_server().await;
    let fresh = jwks_response(&[&key_1()]).insert_header("cache-control", "max-age=60");
    mount_jwks(&server, fresh, 1, Some(1), 1).await;
    mount_jwks(&server, ResponseTemplate::new(500), 2, None, 3).await;
    let clock = clock();
    let validator = validator_for(&server, &clock).build().unwrap();
    let token = token(&key_1());
    validator.validate(&token).await.unwrap();

    clock.advance(Duration::from_secs(61));
    validator
        .validate(&token)
        .await
        .expect("stale keys still validate");
    let status = validator.jwks_status().unwrap();
    assert_eq!((status.fetches, status.failures), (2, 1));
    assert!(matches!(
        status.last_error,
        Some(JwksError::Status { status: 500, .. })
    ));

    // Within the retry interval: no new attempt.
    clock.advance(Duration::from_secs(2));
    validator.validate(&token).await.unwrap();
    assert_eq!(validator.jwks_status().unwrap().fetches, 2);
    clock.advance(Duration::from_secs(3));
    validator.validate(&token).await.unwrap();
    assert_eq!(validator.jwks_status().unwrap().fetches, 3);

    // Past freshness plus max-stale (24 h), stale keys are no longer trusted.
    clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        AuthError::KeysUnavailable {
            retry_after: Duration::from_secs(5)
        }
    );
}

#[actix_web::test]
async fn without_keys_an_unreachable_issuer_means_503_with_retry_after() {
    let server = mock_server().await;
    mount_jwks(&server, ResponseTemplate::new(503), 1, Some(1), 1).await;
    mount_jwks(&server, jwks_response(&[&key_1()]), 2, None, 1).await;
    let clock = clock();
    let api = SampleApi::new(validator_for(&server, &clock).build().unwrap());
    let request = || get("/v1/items").insert_header(bearer(&token(&key_1())));

    let answer = send(&api, request()).await;
    assert_eq!(
        (answer.status, answer.retry_after.as_deref(), answer.error()),
        (503, Some("5"), Some("temporarily_unavailable")),
        "{answer:?}"
    );
    assert_eq!(answer.challenge, None);
    clock.advance(Duration::from_secs(2));
    let answer = send(&api, request()).await;
    assert_eq!(
        (answer.status, answer.retry_after.as_deref()),
        (503, Some("3"))
    );
    assert_eq!(
        api.validator().jwks_status().unwrap().fetches,
        1,
        "no retry storm"
    );

    clock.advance(Duration::from_secs(3));
    assert_eq!(send(&api, request()).await.status, 200, "recovers");
}

#[tokio::test]
async fn start_up_needs_no_issuer_and_a_refused_connection_is_a_503() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let validator = Validator::builder()
        .issuer(ISSUER)
        .jwks_url(format!("http://127.0.0.1:{closed_port}/jwks.json"))
        .audience(AUDIENCE)
        .clock(clock())
        .build()
        .expect("building never contacts the issuer");
    assert!(matches!(
        validator.refresh_keys().await,
        Err(JwksError::Http { .. })
    ));
    assert!(matches!(
        validator.validate(&token(&key_1())).await,
        Err(AuthError::KeysUnavailable { .. })
    ));
}

#[tokio::test]
async fn a_hanging_fetch_times_out_and_stalls_no_request_beyond_the_timeout() {
    let server = mock_server().await;
    let hanging = jwks_response(&[&key_1()]).set_delay(Duration::from_secs(600));
    // Whether the request reaches the server before virtual time runs out is
    // up to the scheduler; what matters is that no more than one was made.
    jwks_mock()
        .respond_with(hanging)
        .expect(0..=1)
        .mount(&server)
        .await;
    let validator = validator_for(&server, &clock())
        // A client without timeouts of its own: the validator's deadline must suffice.
        .http_client(reqwest::Client::new())
        .jwks_fetch_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let token = token(&key_1());
    let mut requests = JoinSet::new();
    for _ in 0..20 {
        let (validator, token) = (validator.clone(), token.clone());
        requests.spawn(async move { (validator.validate(&token).await, started.elapsed()) });
    }
    for (result, elapsed) in requests.join_all().await {
        assert_eq!(
            result.unwrap_err(),
            AuthError::KeysUnavailable {
                retry_after: Duration::from_secs(5)
            }
        );
        assert!(
            elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(4),
            "{elapsed:?}"
        );
    }
    let status = validator.jwks_status().unwrap();
    assert_eq!(status.fetches, 1);
    assert_eq!(
        status.last_error,
        Some(JwksError::Timeout {
            timeout: Duration::from_secs(3)
        })
    );
}

#[tokio::test]
async fn a_hanging_refresh_never_blocks_requests_served_from_the_cache() {
    let server = mock_server().await;
    let fresh = jwks_response(&[&key_1()]).insert_header("cache-control", "max-age=60");
    mount_jwks(&server, fresh, 1, Some(1), 1).await;
    let hanging = jwks_response(&[&key_1()]).set_delay(Duration::from_secs(600));
    jwks_mock()
        .respond_with(hanging)
        .with_priority(2)
        .expect(0..=1)
        .mount(&server)
        .await;
    let clock = clock();
    let validator = validator_for(&server, &clock)
        .http_client(reqwest::Client::new())
        .jwks_fetch_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let token = token(&key_1());
    validator.validate(&token).await.unwrap();
    clock.advance(Duration::from_secs(61));

    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let mut requests = JoinSet::new();
    for _ in 0..20 {
        let (validator, token) = (validator.clone(), token.clone());
        requests
            .spawn(async move { (validator.validate(&token).await.is_ok(), started.elapsed()) });
    }
    let results = requests.join_all().await;
    assert!(
        results.iter().all(|(ok, _)| *ok),
        "stale keys serve everyone"
    );
    // Only the request that started the refresh waited for it, and only until the timeout.
    let waited: Vec<_> = results
        .iter()
        .filter(|(_, elapsed)| !elapsed.is_zero())
        .collect();
    assert_eq!(waited.len(), 1, "{results:?}");
    assert!(waited[0].1 >= Duration::from_secs(3) && waited[0].1 < Duration::from_secs(4));
    assert_eq!(validator.jwks_status().unwrap().fetches, 2);
}

#[tokio::test]
async fn honours_cache_control_max_age_within_bounds() {
    let server = mock_server().await;
    let with_max_age = |seconds: u32| {
        jwks_response(&[&key_1()])
            .insert_header("cache-control", format!("public, max-age={seconds}"))
    };
    mount_jwks(&server, with_max_age(120), 1, Some(1), 1).await;
    // max-age=1 is raised to the 30 s minimum.
    mount_jwks(&server, with_max_age(1), 2, None, 2).await;
    let clock = clock();
    let validator = validator_for(&server, &clock).build().unwrap();
    let token = token(&key_1());
    let fetches_after = |seconds: u64| {
        clock.advance(Duration::from_secs(seconds));
        let validator = validator.clone();
        let token = token.clone();
        async move {
            validator.validate(&token).await.unwrap();
            validator.jwks_status().unwrap().fetches
        }
    };
    assert_eq!(fetches_after(0).await, 1);
    assert_eq!(fetches_after(119).await, 1, "fresh for max-age");
    assert_eq!(fetches_after(2).await, 2, "refreshed once stale");
    assert_eq!(fetches_after(29).await, 2, "max-age=1 counts as 30 s");
    assert_eq!(fetches_after(2).await, 3);
}

/// A discovery document served by `server` for `issuer`.
async fn mount_metadata(server: &MockServer, at: &str, issuer: &str, fetches: u64) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/keys", server.uri()),
            "response_types_supported": [],
        })))
        .expect(fetches)
        .named("metadata")
        .mount(server)
        .await;
}

fn discovering_validator(issuer: &str, clock: &ccflow_resource_api::ManualClock) -> Validator {
    Validator::builder()
        .issuer(issuer)
        .audience(AUDIENCE)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn token_from(issuer: &str) -> String {
    token_with_claims(&key_1(), &claims_with(&json!({"iss": issuer})))
}

#[tokio::test]
async fn discovers_the_jwks_uri_once_from_the_issuer_metadata() {
    let server = mock_server().await;
    let issuer = server.uri();
    mount_metadata(&server, "/.well-known/openid-configuration", &issuer, 1).await;
    Mock::given(method("GET"))
        .and(path("/keys"))
        .respond_with(jwks_response(&[&key_1()]).insert_header("cache-control", "max-age=60"))
        .expect(2)
        .mount(&server)
        .await;
    let clock = clock();
    let validator = discovering_validator(&issuer, &clock);
    validator.validate(&token_from(&issuer)).await.unwrap();
    clock.advance(Duration::from_secs(61));
    validator.validate(&token_from(&issuer)).await.unwrap();
}

#[tokio::test]
async fn falls_back_to_the_rfc_8414_metadata_location() {
    let server = mock_server().await;
    let issuer = format!("{}/tenant", server.uri());
    // Nothing at {issuer}/.well-known/openid-configuration: wiremock answers 404.
    mount_metadata(
        &server,
        "/.well-known/oauth-authorization-server/tenant",
        &issuer,
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/keys"))
        .respond_with(jwks_response(&[&key_1()]))
        .expect(1)
        .mount(&server)
        .await;
    let validator = discovering_validator(&issuer, &clock());
    validator.validate(&token_from(&issuer)).await.unwrap();
}

#[tokio::test]
async fn refuses_metadata_that_names_another_issuer() {
    let server = mock_server().await;
    mount_metadata(
        &server,
        "/.well-known/openid-configuration",
        "https://other.test",
        1,
    )
    .await;
    let issuer = server.uri();
    let validator = discovering_validator(&issuer, &clock());
    assert!(matches!(
        validator.validate(&token_from(&issuer)).await,
        Err(AuthError::KeysUnavailable { .. })
    ));
    assert!(matches!(
        validator.jwks_status().unwrap().last_error,
        Some(JwksError::IssuerMismatch { .. })
    ));
}

#[tokio::test]
async fn matches_keys_without_kid_by_algorithm_and_key_type() {
    let server = jwks_server(&[&key_1().without_kid(), &es256_key().without_kid()], 1).await;
    let validator = validator_for(&server, &clock()).build().unwrap();
    let kidless = |key: &TestKey| {
        let mut header = header(key);
        header.kid = None;
        sign_with(key, &header, &claims())
    };
    let rsa = validator.validate(&kidless(&key_1())).await.unwrap();
    assert_eq!((rsa.algorithm(), rsa.key_id()), (Algorithm::RS256, None));
    let ec = validator.validate(&kidless(&es256_key())).await.unwrap();
    assert_eq!(ec.algorithm(), Algorithm::ES256);
    assert_eq!(
        validator.validate(&kidless(&key_2())).await.unwrap_err(),
        AuthError::InvalidToken(TokenRejection::BadSignature)
    );
    assert!(
        validator
            .validate(&token(&key_1()))
            .await
            .is_err_and(|e| unknown_kid(&e))
    );
}

#[tokio::test]
async fn checks_the_jwk_alg_and_use_against_the_token() {
    let rs512_only = key_1().with_jwk(|jwk| jwk.alg = Some("RS512".to_owned()));
    let encryption = key_2().with_jwk(|jwk| jwk.use_ = Some("enc".to_owned()));
    let server = jwks_server(&[&rs512_only, &encryption], 1).await;
    let validator = validator_for(&server, &clock())
        .algorithms([Algorithm::RS256, Algorithm::RS512])
        .build()
        .unwrap();
    assert_eq!(
        validator.validate(&token(&key_1())).await.unwrap_err(),
        AuthError::InvalidToken(TokenRejection::KeyMismatch)
    );
    let mut rs512 = header(&key_1());
    rs512.alg = Algorithm::RS512;
    validator
        .validate(&sign_with(&key_1(), &rs512, &claims()))
        .await
        .expect("the JWK's own alg validates");
    // An encryption key is never loaded, so its kid is unknown.
    assert!(
        validator
            .validate(&token(&key_2()))
            .await
            .is_err_and(|e| unknown_kid(&e))
    );
}

#[tokio::test]
async fn hmac_tokens_are_checked_with_the_shared_secret_only() {
    let published_secret = b"a-secret-published-in-the-jwks!!";
    let server = mock_server().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [
            key_1().jwk,
            {"kty": "oct", "kid": "hmac", "k": b64_bytes(published_secret)},
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let configured_secret = b"the-dedicated-configured-secret!";
    let validator = validator_for(&server, &clock())
        .algorithms([Algorithm::RS256, Algorithm::HS256])
        .shared_secret(configured_secret.to_vec())
        .build()
        .unwrap();
    let hmac = |secret: &[u8]| {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some("hmac".to_owned());
        jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret)).unwrap()
    };
    validator.validate(&hmac(configured_secret)).await.unwrap();
    assert_eq!(
        validator
            .validate(&hmac(published_secret))
            .await
            .unwrap_err(),
        AuthError::InvalidToken(TokenRejection::BadSignature)
    );
    // The JWKS is consulted for RS256 only.
    validator.validate(&token(&key_1())).await.unwrap();
}

fn b64_bytes(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
