//! Liveness and readiness for container runtimes and orchestrators: `GET /_ccflow/health/live`
//! and `GET /_ccflow/health/ready`, documented in the admin API's OpenAPI document but outside
//! its access guard (a probe comes from the kubelet's or Docker's address, never with the admin
//! token) and served even with `--no-admin`. They reveal nothing but `{"status": …}`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::auth_server::AuthServer;

/// The liveness route.
pub(crate) const LIVE: &str = "/_ccflow/health/live";
/// The readiness route.
pub(crate) const READY: &str = "/_ccflow/health/ready";

/// Mounts both routes; call it before the `/_ccflow` admin scope, which would take them.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::resource(LIVE).route(web::get().to(live)))
        .service(web::resource(READY).route(web::get().to(ready)));
}

/// The two routes' OpenAPI operations, for the admin API's document (`http::admin`).
pub(crate) fn documented() -> utoipa::openapi::path::Paths {
    let mut paths = utoipa_actix_web::OpenApiFactory::paths(&__path_live);
    paths.merge(utoipa_actix_web::OpenApiFactory::paths(&__path_ready));
    paths
}

/// The process answers HTTP.
#[utoipa::path(
    get,
    path = LIVE,
    summary = "Liveness: the process answers HTTP (no guard, served even with --no-admin)",
    security(()),
    responses((status = OK, description = "{\"status\": \"ok\"}", body = Object))
)]
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The server can issue tokens: its key ring has an active key that its JWKS publishes. Keys
/// are loaded before the port is bound, so today this holds from the first request on; a
/// ring that publishes no key (which rotation never leaves) would answer 503.
#[utoipa::path(
    get,
    path = READY,
    summary = "Readiness: the key ring publishes an active key (no guard, served even with --no-admin)",
    security(()),
    responses(
        (status = OK, description = "{\"status\": \"ready\"}", body = Object),
        (status = SERVICE_UNAVAILABLE, description = "no signing key published", body = Object),
    )
)]
async fn ready(server: web::Data<AuthServer>) -> HttpResponse {
    let keys = server.keys();
    if keys.jwks().keys.is_empty() {
        HttpResponse::ServiceUnavailable().json(json!({"status": "no signing key published"}))
    } else {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    }
}
