//! The actix-web building blocks in an app of one's own: audience policies (SLB authorises by
//! audience), any-of scopes, nested middlewares, in-handler checks, `web::Data<Validator>`,
//! form bodies passed through intact, and a missing validator.

mod common;

use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use ccflow_resource_api::{
    Authenticated, MAX_FORM_BODY_BYTES, RequireAudience, RequireScope, RequireToken, Validator,
};
use common::*;
use serde_json::{Value, json};

const SLB_AUDIENCE: &str = "fwk-drillplan.slbservice.com";

async fn ok(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({"client_id": auth.client_id()}))
}

async fn admin(auth: Authenticated) -> Result<HttpResponse, actix_web::Error> {
    // An in-handler check, for rules a route table cannot express.
    if let Err(error) = auth.require_scopes(["admin:delete"]) {
        return Ok(HttpResponse::Forbidden().json(json!({"error": error.to_string()})));
    }
    Ok(HttpResponse::Ok().finish())
}

#[derive(serde::Deserialize)]
struct Form {
    name: String,
}

async fn form_echo(_auth: Authenticated, form: web::Form<Form>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"name": form.name}))
}

fn app_routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/slb")
                .route(web::get().to(ok).wrap(RequireAudience::any([SLB_AUDIENCE]))),
        )
        .service(
            web::scope("/admin")
                .wrap(RequireToken)
                .route(
                    "/any",
                    web::get().to(ok).wrap(RequireScope::any(["admin", "root"])),
                )
                .route("/delete", web::get().to(admin)),
        )
        .service(web::resource("/form").route(web::post().to(form_echo).wrap(RequireToken)));
}

async fn call(validator: &Validator, request: TestRequest) -> (u16, Option<String>, Value) {
    // Registered as web::Data this time; plain app_data works too (the sample API uses it).
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(validator.clone()))
            .configure(app_routes),
    )
    .await;
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = test::read_body(response).await;
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, challenge, body)
}

fn signed(changes: &Value) -> String {
    token_with_claims(&key_1(), &claims_with(changes))
}

#[actix_web::test]
async fn an_audience_policy_authorises_by_audience_as_slb_does() {
    let server = jwks_server(&[&key_1()], 1).await;
    let validator = validator_for(&server, &clock()).build().unwrap();
    let for_slb = signed(&json!({"aud": [AUDIENCE, SLB_AUDIENCE], "scope": null}));
    let (status, _, body) = call(&validator, get("/slb").insert_header(bearer(&for_slb))).await;
    assert_eq!((status, body), (200, json!({"client_id": "svc"})));
    let not_for_slb = signed(&json!({"aud": AUDIENCE}));
    let (status, challenge, body) =
        call(&validator, get("/slb").insert_header(bearer(&not_for_slb))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(
        challenge.as_deref(),
        Some(
            r#"Bearer realm="ccflow", error="insufficient_scope", error_description="the token's audience includes none of fwk-drillplan.slbservice.com", scope="fwk-drillplan.slbservice.com""#
        )
    );
}

#[actix_web::test]
async fn nested_policies_and_in_handler_checks_combine() {
    let server = jwks_server(&[&key_1()], 1).await;
    let validator = validator_for(&server, &clock()).build().unwrap();
    let root = signed(&json!({"scope": "root"}));
    let plain = signed(&json!({"scope": "items:read"}));
    let (status, _, _) = call(&validator, get("/admin/any").insert_header(bearer(&root))).await;
    assert_eq!(status, 200);
    let (status, challenge, _) =
        call(&validator, get("/admin/any").insert_header(bearer(&plain))).await;
    assert_eq!(status, 403);
    assert!(challenge.unwrap().ends_with(r#"scope="admin root""#));
    let (status, _, body) = call(
        &validator,
        get("/admin/delete").insert_header(bearer(&root)),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "the token lacks the scope admin:delete"})
        )
    );
    let (status, challenge, _) = call(&validator, get("/admin/any")).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some(r#"Bearer realm="ccflow""#))
    );
}

#[actix_web::test]
async fn form_bodies_reach_the_handler_intact() {
    let server = jwks_server(&[&key_1()], 1).await;
    let validator = validator_for(&server, &clock()).build().unwrap();
    let form = |body: String| {
        TestRequest::post()
            .uri("/form")
            .insert_header(bearer(&token(&key_1())))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body)
    };
    let (status, _, body) = call(&validator, form("name=bolt%20M6".to_owned())).await;
    assert_eq!((status, body), (200, json!({"name": "bolt M6"})));
    let oversized = format!("name={}", "x".repeat(MAX_FORM_BODY_BYTES));
    let (status, challenge, body) = call(&validator, form(oversized)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("invalid_request"))
    );
    assert!(
        challenge
            .unwrap()
            .contains("the form body is larger than 65536 bytes")
    );
}

#[actix_web::test]
async fn a_protected_route_without_a_validator_is_a_500_not_an_open_door() {
    let app = test::init_service(App::new().route("/extractor", web::get().to(ok)).route(
        "/middleware",
        web::get().to(HttpResponse::Ok).wrap(RequireToken),
    ))
    .await;
    for uri in ["/extractor", "/middleware"] {
        let response =
            test::call_service(&app, get(uri).insert_header(bearer("a.b.c")).to_request()).await;
        assert_eq!(response.status(), 500, "{uri}");
        let body: Value = test::read_body_json(response).await;
        assert_eq!(
            body,
            json!({"error": "server_error", "error_description": "internal server error"})
        );
    }
}

#[actix_web::test]
async fn a_custom_realm_appears_in_every_challenge() {
    let server = jwks_server(&[&key_1()], 0).await;
    let validator = validator_for(&server, &clock())
        .realm("orders")
        .build()
        .unwrap();
    let (status, challenge, _) = call(&validator, get("/slb")).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some(r#"Bearer realm="orders""#))
    );
}
