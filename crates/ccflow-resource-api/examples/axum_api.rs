//! An axum 0.8 service protected by ccflow's validator: `GET /orders` needs the `orders.read`
//! scope, `POST /orders` `orders.write`, `GET /whoami` any valid token; every route answers
//! refusals as RFC 6750 says (docs/resource-api.md "Protecting an axum app"). Run it against a
//! local authorization server:
//!
//! ```text
//! cargo run -p ccflow-auth-server
//! ISSUER=http://127.0.0.1:8080 AUDIENCE=demo-api \
//!     cargo run -p ccflow-resource-api --no-default-features --features axum --example axum_api
//! ```
//!
//! `tests/axum_api.rs` runs this service against the embedded mock.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use ccflow_resource_api::{Authenticated, RequireScope, Validator, ValidatorLayer};
use serde_json::{Value, json};

/// The service: the scopes per route as layers, and every route behind one `ValidatorLayer`.
pub(crate) fn app(validator: Validator) -> Router {
    Router::new()
        .route(
            "/orders",
            get(list_orders)
                .route_layer(RequireScope::all(["orders.read"]))
                .merge(
                    axum::routing::post(create_order)
                        .route_layer(RequireScope::all(["orders.write"])),
                ),
        )
        .route("/whoami", get(whoami))
        .layer(ValidatorLayer::new(validator))
}

async fn list_orders(auth: Authenticated) -> Json<Value> {
    // `auth` derefs to the verified claims.
    Json(json!({ "orders": [], "client": auth.client_id() }))
}

async fn create_order() -> StatusCode {
    StatusCode::CREATED
}

async fn whoami(auth: Authenticated) -> Json<Value> {
    let scopes: Vec<&str> = auth.scopes().iter().map(|scope| scope.as_str()).collect();
    Json(json!({ "client_id": auth.client_id(), "scopes": scopes }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned());
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "demo-api".to_owned());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8081".to_owned());
    let validator = Validator::builder()
        .issuer(issuer)
        .audience(audience)
        .build()?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, app(validator)).await?;
    Ok(())
}
