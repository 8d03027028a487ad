//! The sample API's own behaviour behind valid tokens: the items lifecycle, input validation
//! (422 with field errors, 413, 415, 400), 404/405 answers, and `whoami`.

mod common;

use actix_web::test::TestRequest;
use ccflow_resource_api::sample_api::{MAX_ITEM_BODY_BYTES, SampleApi};
use common::*;
use serde_json::{Value, json};
use wiremock::MockServer;

async fn setup() -> (SampleApi, MockServer, String) {
    let server = jwks_server(&[&key_1()], 1).await;
    let api = SampleApi::new(validator_for(&server, &clock()).build().unwrap());
    (api, server, token(&key_1()))
}

fn post(token: &str) -> TestRequest {
    TestRequest::post()
        .uri("/v1/items")
        .insert_header(bearer(token))
}

#[actix_web::test]
async fn healthz_needs_no_token_and_loads_no_keys() {
    let server = jwks_server(&[&key_1()], 0).await;
    let api = SampleApi::new(validator_for(&server, &clock()).build().unwrap());
    let answer = send(&api, get("/healthz")).await;
    assert_eq!((answer.status, answer.body), (200, json!({"status": "ok"})));
}

#[actix_web::test]
async fn whoami_describes_the_token() {
    let (api, _jwks, _) = setup().await;
    let token = token_with_claims(
        &key_1(),
        &claims_with(
            &json!({"client_id": null, "azp": "slb-app", "aud": ["items-api", "x"], "scope": null, "scp": ["a", "b"]}),
        ),
    );
    let answer = send(&api, get("/v1/whoami").insert_header(bearer(&token))).await;
    assert_eq!(
        answer.body,
        json!({
            "client_id": "slb-app",
            "subject": "svc",
            "issuer": ISSUER,
            "scopes": ["a", "b"],
            "audiences": ["items-api", "x"],
            "expires_at": T0 + 7 * 24 * 3600,
        })
    );
}

#[actix_web::test]
async fn creates_lists_reads_and_deletes_items() {
    let (api, _jwks, token) = setup().await;
    let created = send(
        &api,
        post(&token).set_json(json!({"name": "  bolt ", "quantity": 3, "tags": ["m6"]})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        created.body,
        json!({"id": 1, "name": "bolt", "quantity": 3, "tags": ["m6"], "created_by": "svc"})
    );
    let second = send(
        &api,
        post(&token).set_json(json!({"name": "nut", "quantity": 0})),
    )
    .await;
    assert_eq!(second.body["id"], 2);
    let listed = send(&api, get("/v1/items").insert_header(bearer(&token))).await;
    let ids: Vec<&Value> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["id"])
        .collect();
    assert_eq!(ids, [&json!(1), &json!(2)]);
    let fetched = send(&api, get("/v1/items/1").insert_header(bearer(&token))).await;
    assert_eq!(fetched.body, created.body);
    let delete = || {
        TestRequest::delete()
            .uri("/v1/items/1")
            .insert_header(bearer(&token))
    };
    assert_eq!(send(&api, delete()).await.status, 204);
    let again = send(&api, delete()).await;
    assert_eq!((again.status, again.error()), (404, Some("not_found")));
    assert_eq!(api.store().len(), 1);
}

#[actix_web::test]
async fn answers_the_location_of_a_created_item() {
    let (api, _jwks, token) = setup().await;
    let app = actix_web::test::init_service(
        actix_web::App::new().configure(ccflow_resource_api::sample_api::configure(api.clone())),
    )
    .await;
    let request = post(&token)
        .set_json(json!({"name": "washer", "quantity": 9}))
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.headers().get("location").unwrap(), "/v1/items/1");
}

#[actix_web::test]
async fn refuses_invalid_items_with_every_field_error() {
    let (api, _jwks, token) = setup().await;
    let answer = send(
        &api,
        post(&token)
            .set_json(json!({"name": "", "quantity": "many", "tags": ["A"], "colour": "red"})),
    )
    .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body,
        json!({
            "error": "invalid_item",
            "error_description": "the item has invalid fields",
            "fields": {
                "colour": "unknown field",
                "name": "must not be blank",
                "quantity": "must be an integer from 0 to 1000000",
                "tags": "each tag must be 1 to 32 characters of a-z, 0-9 and -",
            }
        })
    );
    assert!(api.store().is_empty());
}

#[actix_web::test]
async fn refuses_bodies_over_64_kib_with_413() {
    let (api, _jwks, token) = setup().await;
    let name = "x".repeat(MAX_ITEM_BODY_BYTES);
    let answer = send(
        &api,
        post(&token).set_json(json!({"name": name, "quantity": 1})),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (413, Some("payload_too_large"))
    );
    // Exactly at the limit is read (and then judged on its fields).
    let padding = MAX_ITEM_BODY_BYTES - r#"{"name":"","quantity":1}"#.len();
    let at_limit = format!(r#"{{"name":"{}","quantity":1}}"#, "x".repeat(padding));
    assert_eq!(at_limit.len(), MAX_ITEM_BODY_BYTES);
    let answer = send(
        &api,
        post(&token)
            .insert_header(("content-type", "application/json"))
            .set_payload(at_limit),
    )
    .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body["fields"]["name"],
        "must be at most 100 characters"
    );
}

#[actix_web::test]
async fn refuses_other_media_types_and_malformed_json() {
    let (api, _jwks, token) = setup().await;
    let text = send(
        &api,
        post(&token)
            .insert_header(("content-type", "text/plain"))
            .set_payload("name=bolt"),
    )
    .await;
    assert_eq!(
        (text.status, text.error()),
        (415, Some("unsupported_media_type"))
    );
    let broken = send(
        &api,
        post(&token)
            .insert_header(("content-type", "application/json; charset=utf-8"))
            .set_payload("{\"name\": "),
    )
    .await;
    assert_eq!(
        (broken.status, broken.error()),
        (400, Some("malformed_json"))
    );
}

#[actix_web::test]
async fn answers_unknown_ids_routes_and_methods_in_json() {
    let (api, _jwks, token) = setup().await;
    for uri in [
        "/v1/items/99",
        "/v1/items/abc",
        "/v1/items/-1",
        "/v1/items/99999999999999999999999",
    ] {
        let answer = send(&api, get(uri).insert_header(bearer(&token))).await;
        assert_eq!(
            (answer.status, answer.error()),
            (404, Some("not_found")),
            "{uri}"
        );
    }
    let route = send(&api, get("/v2/nothing")).await;
    assert_eq!((route.status, route.error()), (404, Some("not_found")));
    let app = actix_web::test::init_service(
        actix_web::App::new().configure(ccflow_resource_api::sample_api::configure(api.clone())),
    )
    .await;
    let response =
        actix_web::test::call_service(&app, TestRequest::put().uri("/v1/items").to_request()).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers().get("allow").unwrap(), "GET, POST");
}
