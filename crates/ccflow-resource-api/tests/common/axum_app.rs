//! The sample API's guarded routes on axum, for the tests that run one table through both
//! adapters: `/v1/items` behind `ValidatorLayer` with a `RequireScope` layer per method,
//! `/v1/whoami` guarded by the `Authenticated` extractor alone, `/v1/dpop/whoami` by a
//! `TokenBinding::Dpop` layer (the validator as an `Extension` for both), as the sample API
//! guards them on actix.

use axum::body::Body;
use axum::handler::Handler as _;
use axum::routing::get;
use axum::{Extension, Json, Router};
use ccflow_resource_api::{Authenticated, RequireScope, TokenBinding, Validator, ValidatorLayer};
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn list_items() -> Json<Value> {
    Json(json!({ "items": [] }))
}

async fn create_item() -> (http::StatusCode, Json<Value>) {
    (http::StatusCode::CREATED, Json(json!({ "id": 1 })))
}

async fn whoami(auth: Authenticated) -> Json<Value> {
    Json(json!({ "client_id": auth.client_id() }))
}

async fn dpop_whoami(auth: Authenticated) -> Json<Value> {
    Json(json!({ "client_id": auth.client_id(), "jkt": auth.dpop_thumbprint() }))
}

pub fn app(validator: &Validator) -> Router {
    Router::new()
        .route(
            "/v1/items",
            get(list_items.layer(RequireScope::all(["items:read"])))
                .post(create_item.layer(RequireScope::all(["items:write"]))),
        )
        .route_layer(ValidatorLayer::new(validator.clone()))
        .route("/v1/whoami", get(whoami))
        .route(
            "/v1/dpop/whoami",
            get(dpop_whoami.layer(TokenBinding::Dpop)),
        )
        .layer(Extension(validator.clone()))
}

/// One request to [`app`]: status, headers, body bytes.
pub async fn send(
    validator: &Validator,
    request: http::Request<Body>,
) -> (u16, http::HeaderMap, Vec<u8>) {
    let response = app(validator).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}
