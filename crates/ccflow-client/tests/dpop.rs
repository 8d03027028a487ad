//! The SDK's DPoP at the token endpoint (RFC 9449) against the real ccflow-auth-server: bound
//! tokens, the nonce challenge retried once with the server's nonce, a fresh proof per request,
//! tokens cached per key, and what a server without DPoP answers.

use ccflow_auth_server::{Client, DpopSettings, MockAuthServer, Profile};
use ccflow_client::protocol::dpop::DpopKey;
use ccflow_client::{ManualClock, TokenClient};

async fn server(clock: &ManualClock, dpop: DpopSettings) -> MockAuthServer {
    MockAuthServer::builder()
        .clock(clock.clone())
        .client(Client::new("orders-service", "orders-secret").scopes(["orders.read"]))
        .client(Client::new("bound-only", "bound-secret").dpop_bound_access_tokens(true))
        .dpop(dpop)
        .start()
        .await
        .unwrap()
}

fn client(
    server: &MockAuthServer,
    clock: &ManualClock,
    id: &str,
    secret: &str,
    key: Option<DpopKey>,
) -> TokenClient {
    let mut builder = TokenClient::builder()
        .token_url(server.token_url())
        .credentials(id, secret)
        .clock(clock.clone());
    if let Some(key) = key {
        builder = builder.dpop(key);
    }
    builder.build().unwrap()
}

fn cnf_jkt(token: &str) -> Option<String> {
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
    claims["cnf"]["jkt"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn with_a_key_the_token_is_bound_and_without_one_it_is_not() {
    #[track_caller]
    fn check(token: &ccflow_client::AccessToken, key: Option<&str>) {
        assert_eq!(token.is_dpop_bound(), key.is_some());
        assert_eq!(cnf_jkt(token.secret()).as_deref(), key);
    }
    let clock = ManualClock::starting_now();
    let server = server(&clock, DpopSettings::default()).await;
    let key = DpopKey::generate().unwrap();
    let jkt = key.thumbprint().to_owned();
    let bound = client(
        &server,
        &clock,
        "orders-service",
        "orders-secret",
        Some(key),
    );
    check(&bound.token().await.unwrap(), Some(&jkt));
    let plain = client(&server, &clock, "orders-service", "orders-secret", None);
    check(&plain.token().await.unwrap(), None);
    // A client that must bind gets a token only with a key.
    let required = client(&server, &clock, "bound-only", "bound-secret", None);
    let error = required.token().await.unwrap_err().to_string();
    assert!(error.contains("invalid_dpop_proof"), "{error}");
    let required = client(
        &server,
        &clock,
        "bound-only",
        "bound-secret",
        Some(DpopKey::generate().unwrap()),
    );
    assert!(required.token().await.unwrap().is_dpop_bound());
}

#[tokio::test]
async fn a_nonce_challenge_is_retried_once_and_the_nonce_is_remembered() {
    let clock = ManualClock::starting_now();
    let server = server(
        &clock,
        DpopSettings {
            require_nonce: true,
            ..DpopSettings::default()
        },
    )
    .await;
    let client = client(
        &server,
        &clock,
        "orders-service",
        "orders-secret",
        Some(DpopKey::generate().unwrap()),
    );
    assert!(client.token().await.unwrap().is_dpop_bound());
    // The challenge and the retry.
    server.assert_token_requests().exactly(2);
    // A client for other scopes shares the remembered nonce: no second challenge.
    let other = client.with_scopes(["orders.read"]).unwrap();
    assert!(other.token().await.unwrap().is_dpop_bound());
    server.assert_token_requests().exactly(3);
}

#[tokio::test]
async fn tokens_are_cached_per_key_and_each_request_has_a_fresh_proof() {
    let clock = ManualClock::starting_now();
    let server = server(&clock, DpopSettings::default()).await;
    let cache = ccflow_client::TokenCache::default();
    let build = |key: DpopKey| {
        TokenClient::builder()
            .token_url(server.token_url())
            .credentials("orders-service", "orders-secret")
            .clock(clock.clone())
            .cache(cache.clone())
            .dpop(key)
            .build()
            .unwrap()
    };
    let first = build(DpopKey::generate().unwrap());
    let second = build(DpopKey::generate().unwrap());
    let a = first.token().await.unwrap();
    let b = second.token().await.unwrap();
    assert!(
        !a.same_token(&b),
        "another key never gets the first key's token"
    );
    assert_ne!(cnf_jkt(a.secret()), cnf_jkt(b.secret()));
    assert!(
        first.token().await.unwrap().same_token(&a),
        "the same key reuses its token"
    );
    // Two fetches with the same key: two proofs, neither refused as a replay.
    first.invalidate(&a);
    assert!(first.token().await.unwrap().is_dpop_bound());
    server.assert_token_requests().exactly(3);
}

#[tokio::test]
async fn a_vendor_profile_without_dpop_issues_bearer_tokens() {
    let clock = ManualClock::starting_now();
    let server = MockAuthServer::builder()
        .profile(Profile::Slb)
        .clock(clock.clone())
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    let client = client(
        &server,
        &clock,
        "svc",
        "secret",
        Some(DpopKey::generate().unwrap()),
    );
    let token = client.token().await.unwrap();
    assert!(
        !token.is_dpop_bound(),
        "the header is ignored, the token is Bearer"
    );
    assert_eq!(cnf_jkt(token.secret()), None);
}

/// An API (wiremock) that checks DPoP as RFC 9449 §7 says, with ccflow-protocol's proof check:
/// the scheme, the proof for this method and URL with the token's `ath`, and its nonce `n-1`,
/// which it first hands out with a `use_dpop_nonce` challenge.
struct DpopApi {
    url: String,
}

impl wiremock::Respond for DpopApi {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        use ccflow_client::protocol::dpop::{DEFAULT_ALGORITHMS, ProofCheck, check_proof};
        let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        let Some(token) = header("authorization").and_then(|value| value.strip_prefix("DPoP "))
        else {
            return wiremock::ResponseTemplate::new(401)
                .insert_header("www-authenticate", "DPoP error=\"invalid_token\"");
        };
        let check = ProofCheck {
            method: request.method.as_str(),
            url: &self.url,
            now: ccflow_client::protocol::unix_seconds(std::time::SystemTime::now())
                .try_into()
                .unwrap(),
            iat_window: 600,
            algorithms: &DEFAULT_ALGORITHMS,
            access_token: Some(token),
        };
        match header("dpop").map(|proof| check_proof(proof, &check)) {
            Some(Ok(proof)) if proof.nonce.as_deref() == Some("n-1") => {
                let claims: serde_json::Value =
                    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
                assert_eq!(
                    claims["cnf"]["jkt"],
                    proof.jkt.as_str(),
                    "the proof key is the token's"
                );
                wiremock::ResponseTemplate::new(200)
            }
            Some(Ok(_)) => wiremock::ResponseTemplate::new(401)
                .insert_header(
                    "www-authenticate",
                    "DPoP error=\"use_dpop_nonce\", error_description=\"nonce\"",
                )
                .insert_header("dpop-nonce", "n-1"),
            other => panic!("a DPoP-bound token comes with a valid proof: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_authorized_client_sends_bound_tokens_with_proofs_and_answers_the_apis_nonce() {
    // The API checks proofs against the wall clock: the token server runs on it too.
    let clock = ManualClock::starting_now();
    let server = server(&clock, DpopSettings::default()).await;
    let api = wiremock::MockServer::start().await;
    let url = format!("{}/items?page=1", api.uri());
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(DpopApi { url: url.clone() })
        .expect(3)
        .mount(&api)
        .await;
    let tokens = client(
        &server,
        &clock,
        "orders-service",
        "orders-secret",
        Some(DpopKey::generate().unwrap()),
    );
    let client = ccflow_client::AuthorizedClient::new(tokens);
    // First call: the challenge, then the retry with the nonce. Second: the nonce is known.
    assert_eq!(client.send(client.get(&url)).await.unwrap().status(), 200);
    assert_eq!(client.send(client.get(&url)).await.unwrap().status(), 200);
    server.assert_token_requests().exactly(1);
}

#[tokio::test]
async fn the_middleware_sends_bound_tokens_with_proofs_and_answers_the_apis_nonce() {
    let clock = ManualClock::starting_now();
    let server = server(&clock, DpopSettings::default()).await;
    let api = wiremock::MockServer::start().await;
    let url = format!("{}/items?page=1", api.uri());
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(DpopApi { url: url.clone() })
        .expect(3)
        .mount(&api)
        .await;
    let tokens = client(
        &server,
        &clock,
        "orders-service",
        "orders-secret",
        Some(DpopKey::generate().unwrap()),
    );
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ccflow_client::TokenMiddleware::new(tokens))
        .build();
    // As the AuthorizedClient: the challenge and the retry with the nonce, then the known nonce.
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    server.assert_token_requests().exactly(1);
}

#[tokio::test]
async fn the_tower_service_proves_bound_tokens_for_absolute_uris_and_never_sends_them_as_bearer() {
    use http_body_util::Full;
    let clock = ManualClock::starting_now();
    let server = server(&clock, DpopSettings::default()).await;
    let api = wiremock::MockServer::start().await;
    let url = format!("{}/items?page=1", api.uri());
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(DpopApi { url: url.clone() })
        .expect(2)
        .mount(&api)
        .await;
    let tokens = client(
        &server,
        &clock,
        "orders-service",
        "orders-secret",
        Some(DpopKey::generate().unwrap()),
    );
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut service = ccflow_client::TokenService::new(tokens, hyper);
    let mut send = async |uri: &str| {
        let request = http::Request::get(uri)
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        std::future::poll_fn(|context| tower_service::Service::poll_ready(&mut service, context))
            .await
            .unwrap();
        tower_service::Service::call(&mut service, request)
            .await
            .map(|response| response.status())
    };
    // A tower body is sent once: the nonce challenge is the answer, and its nonce is remembered
    // for the next request.
    assert_eq!(send(&url).await.unwrap(), 401);
    assert_eq!(send(&url).await.unwrap(), 200);
    // Without the origin there is no `htu` to prove: an error, and nothing is sent.
    let error = send("/items?page=1").await.unwrap_err();
    let error = error.downcast_ref::<ccflow_client::TokenError>().unwrap();
    assert!(error.to_string().contains("absolute URL"), "{error}");
    server.assert_token_requests().exactly(1);
}
