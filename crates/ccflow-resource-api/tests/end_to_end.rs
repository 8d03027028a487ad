//! End to end with the embedded ccflow-auth-server: real tokens from its token endpoint, keys
//! found through its discovery document, every sample API route called with right and wrong
//! scopes, audiences and times.

mod common;

use std::time::Duration;

use actix_web::test::TestRequest;
use ccflow_auth_server::{Client, Endpoint, MockAuthServer, SigningKey};
use ccflow_resource_api::sample_api::SampleApi;
use ccflow_resource_api::{ManualClock, Validator};
use common::{Answer, T0, bearer, clock, fixture, get, send};
use serde_json::{Value, json};

struct World {
    server: MockAuthServer,
    api: SampleApi,
    clock: ManualClock,
}

async fn world() -> World {
    let clock = clock();
    let client = |id: &str, scopes: &[&str], audiences: &[&str]| {
        Client::new(id, format!("{id}-secret"))
            .scopes(scopes.iter().copied())
            .audiences(audiences.iter().copied())
    };
    let server = MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .clock(clock.clone())
        .client(client(
            "writer",
            &["items:read", "items:write"],
            &["items-api"],
        ))
        .client(client("reader", &["items:read"], &["items-api"]))
        .client(client("no-items", &["profile"], &["items-api"]))
        .client(client(
            "elsewhere",
            &["items:read", "items:write"],
            &["billing-api"],
        ))
        .start()
        .await
        .expect("the auth server starts");
    // Discovery from the issuer: no JWKS URL configured.
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience("items-api")
        .clock(clock.clone())
        .build()
        .unwrap();
    World {
        server,
        api: SampleApi::new(validator),
        clock,
    }
}

async fn token_for(server: &MockAuthServer, client_id: &str) -> String {
    let response: Value = reqwest::Client::new()
        .post(server.token_url())
        .basic_auth(client_id, Some(format!("{client_id}-secret")))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token for {client_id}: {response}"))
        .to_owned()
}

fn with(token: &str, request: TestRequest) -> TestRequest {
    request.insert_header(bearer(token))
}

fn post_item(token: &str, body: Value) -> TestRequest {
    with(token, TestRequest::post().uri("/v1/items").set_json(body))
}

#[track_caller]
fn check(answer: &Answer, status: u16, error: Option<&str>) {
    assert_eq!(
        (answer.status, answer.error()),
        (status, error),
        "{answer:?}"
    );
}

#[actix_web::test]
async fn a_writer_token_reaches_every_route() {
    let World { server, api, .. } = world().await;
    let token = token_for(&server, "writer").await;

    let whoami = send(&api, with(&token, get("/v1/whoami"))).await;
    check(&whoami, 200, None);
    assert_eq!(
        whoami.body,
        json!({
            "client_id": "writer",
            "subject": "writer",
            "issuer": server.issuer(),
            "scopes": ["items:read", "items:write"],
            "audiences": ["items-api"],
            "expires_at": T0 + 3600,
        })
    );
    check(&send(&api, with(&token, get("/v1/items"))).await, 200, None);
    let created = send(
        &api,
        post_item(&token, json!({"name": "bolt", "quantity": 3})),
    )
    .await;
    check(&created, 201, None);
    assert_eq!(created.body["created_by"], "writer");
    let id = created.body["id"].as_u64().unwrap();
    let fetched = send(&api, with(&token, get(&format!("/v1/items/{id}")))).await;
    assert_eq!(fetched.body, created.body);
    let listed = send(&api, with(&token, get("/v1/items"))).await;
    assert_eq!(listed.body["items"], json!([created.body]));
    let deleted = send(
        &api,
        with(
            &token,
            TestRequest::delete().uri(&format!("/v1/items/{id}")),
        ),
    )
    .await;
    check(&deleted, 204, None);
    check(
        &send(&api, with(&token, get(&format!("/v1/items/{id}")))).await,
        404,
        Some("not_found"),
    );
    check(&send(&api, get("/healthz")).await, 200, None);

    // Keys were found through discovery, once.
    let count = |endpoint: Endpoint| {
        server
            .received_requests()
            .iter()
            .filter(|entry| entry.endpoint == endpoint)
            .count()
    };
    assert_eq!((count(Endpoint::Discovery), count(Endpoint::Jwks)), (1, 1));
}

#[actix_web::test]
async fn a_reader_token_reads_but_cannot_write() {
    let World { server, api, .. } = world().await;
    let writer = token_for(&server, "writer").await;
    let reader = token_for(&server, "reader").await;
    let created = send(
        &api,
        post_item(&writer, json!({"name": "nut", "quantity": 1})),
    )
    .await;
    let id = created.body["id"].as_u64().unwrap();

    check(
        &send(&api, with(&reader, get("/v1/whoami"))).await,
        200,
        None,
    );
    check(
        &send(&api, with(&reader, get("/v1/items"))).await,
        200,
        None,
    );
    check(
        &send(&api, with(&reader, get(&format!("/v1/items/{id}")))).await,
        200,
        None,
    );
    let refused = send(
        &api,
        post_item(&reader, json!({"name": "x", "quantity": 1})),
    )
    .await;
    check(&refused, 403, Some("insufficient_scope"));
    assert_eq!(
        refused.challenge.as_deref(),
        Some(
            r#"Bearer realm="ccflow", error="insufficient_scope", error_description="the token lacks the scope items:write", scope="items:write""#
        )
    );
    let delete = TestRequest::delete().uri(&format!("/v1/items/{id}"));
    check(
        &send(&api, with(&reader, delete)).await,
        403,
        Some("insufficient_scope"),
    );
    assert_eq!(api.store().len(), 1, "nothing was deleted");
}

#[actix_web::test]
async fn a_token_without_item_scopes_only_reaches_whoami() {
    let World { server, api, .. } = world().await;
    let token = token_for(&server, "no-items").await;
    check(
        &send(&api, with(&token, get("/v1/whoami"))).await,
        200,
        None,
    );
    for request in [
        get("/v1/items"),
        get("/v1/items/1"),
        TestRequest::delete().uri("/v1/items/1"),
    ] {
        check(
            &send(&api, with(&token, request)).await,
            403,
            Some("insufficient_scope"),
        );
    }
    check(
        &send(&api, post_item(&token, json!({"name": "x", "quantity": 1}))).await,
        403,
        Some("insufficient_scope"),
    );
}

#[actix_web::test]
async fn a_token_for_another_audience_reaches_nothing() {
    let World { server, api, .. } = world().await;
    let token = token_for(&server, "elsewhere").await;
    for request in [
        get("/v1/whoami"),
        get("/v1/items"),
        get("/v1/items/1"),
        TestRequest::delete().uri("/v1/items/1"),
    ] {
        let answer = send(&api, with(&token, request)).await;
        check(&answer, 401, Some("invalid_token"));
        assert_eq!(
            answer.body["error_description"],
            "the token is not meant for this API: aud is `billing-api`, this API accepts `items-api`"
        );
    }
}

#[actix_web::test]
async fn tokens_stop_working_when_they_expire() {
    let World { server, api, clock } = world().await;
    let token = token_for(&server, "writer").await;
    check(&send(&api, with(&token, get("/v1/items"))).await, 200, None);
    // Lifetime 3600 s, leeway 30 s.
    clock.advance(Duration::from_secs(3600 + 29));
    check(&send(&api, with(&token, get("/v1/items"))).await, 200, None);
    clock.advance(Duration::from_secs(1));
    let expired = send(&api, with(&token, get("/v1/items"))).await;
    check(&expired, 401, Some("invalid_token"));
    assert_eq!(expired.body["error_description"], "the token expired");
}

#[actix_web::test]
async fn without_a_token_only_healthz_answers() {
    let World { api, .. } = world().await;
    check(&send(&api, get("/healthz")).await, 200, None);
    for request in [
        get("/v1/whoami"),
        get("/v1/items"),
        TestRequest::post().uri("/v1/items").set_json(json!({})),
        get("/v1/items/1"),
        TestRequest::delete().uri("/v1/items/1"),
    ] {
        let answer = send(&api, request).await;
        assert_eq!(answer.status, 401);
        assert_eq!(
            answer.challenge.as_deref(),
            Some(r#"Bearer realm="ccflow""#)
        );
    }
}
