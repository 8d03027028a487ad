//! The `/_ccflow` admin API: test control over HTTP for any language (the same model as the Rust
//! API of `MockAuthServer`). Served to loopback peers only, unless an admin token is set, in
//! which case every call needs `Authorization: Bearer <token>`; `--no-admin` turns it off. Every
//! admin call is logged. This is a test tool, not a production authorization server.

mod certificates;
mod clients;
mod clock;
mod document;
mod dpop;
mod guard;
mod inspect;
mod issuers;
mod key_ring;
mod keys;
mod requests;
mod respond;
mod route;
mod scenarios;
mod throttle;

use std::sync::LazyLock;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::ErrorCode;
use utoipa_actix_web::scope::Scope;

pub(crate) use guard::{CONSOLE_PATH, guard};
use respond::admin_error;
use route::route;

/// The admin API's path prefix.
pub const ADMIN_PREFIX: &str = "/_ccflow";

/// The admin API's OpenAPI 3 document as JSON (also served at `/_ccflow/openapi.json`),
/// generated from the registered handlers (`document`).
pub static ADMIN_OPENAPI: LazyLock<String> = LazyLock::new(|| document::DOCUMENT.json.clone());

/// Registers every admin route on `scope`, once. Each handler carries its operation — method,
/// path, typed request and response bodies (`#[utoipa::path]`, `ToSchema`) — and `route` serves
/// it there; utoipa-actix-web's `service` both mounts it and adds it to the OpenAPI document.
/// The same call feeds the server and the document, so a route cannot be served undocumented
/// or documented unserved. A new admin route is one annotated handler and one line here.
fn routes<T>(scope: Scope<T>) -> Scope<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    scope
        .service(route(clock::__path_get_clock, clock::get_clock))
        .service(route(clock::__path_post_clock, clock::post_clock))
        .service(route(requests::__path_get_requests, requests::get_requests))
        .service(route(
            requests::__path_delete_requests,
            requests::delete_requests,
        ))
        .service(route(keys::__path_get_keys, keys::get_keys))
        .service(route(keys::__path_rotate_keys, keys::rotate_keys))
        .service(route(key_ring::__path_stage_key, key_ring::stage_key))
        .service(route(key_ring::__path_activate_key, key_ring::activate_key))
        .service(route(key_ring::__path_retire_key, key_ring::retire_key))
        .service(route(
            scenarios::__path_get_scenarios,
            scenarios::get_scenarios,
        ))
        .service(route(
            scenarios::__path_post_scenarios,
            scenarios::post_scenarios,
        ))
        .service(route(
            scenarios::__path_delete_scenarios,
            scenarios::delete_scenarios,
        ))
        .service(route(
            scenarios::__path_delete_scenario,
            scenarios::delete_scenario,
        ))
        .service(route(scenarios::__path_post_mint, scenarios::post_mint))
        .service(route(clients::__path_get_clients, clients::get_clients))
        .service(route(clients::__path_post_clients, clients::post_clients))
        .service(route(clients::__path_delete_client, clients::delete_client))
        .service(route(
            certificates::__path_post_certificate,
            certificates::post_certificate,
        ))
        .service(route(throttle::__path_get_throttle, throttle::get_throttle))
        .service(route(
            throttle::__path_delete_throttle,
            throttle::delete_throttle,
        ))
        .service(route(dpop::__path_get_dpop, dpop::get_dpop))
        .service(route(dpop::__path_put_dpop, dpop::put_dpop))
        .service(route(dpop::__path_post_proof, dpop::post_proof))
        .service(route(inspect::__path_post_inspect, inspect::post_inspect))
        .service(route(issuers::__path_get_issuers, issuers::get_issuers))
}

/// Mounts the admin API: every route behind the one access guard (a call that gets past it is
/// logged as allowed, a refused one is answered by the guard and logged as refused).
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.service(
        routes(utoipa_actix_web::scope(ADMIN_PREFIX))
            // The document itself: in the document, but not one of the API's routes (a wrong
            // method here is 404, as for any path that is no admin route).
            .route(document::PATH, web::get().to(document::openapi))
            .wrap(from_fn(guard::guard))
            .default_service(web::to(admin_not_found)),
    );
}

/// The root's admin API in a process with several issuers, inside the `/_ccflow` scope: the
/// list of issuers and the journal of them all, behind the same guard (each issuer's own admin
/// API is under its prefix). Both are in the document: the same paths as an issuer's
/// (`GET /issuers`, `GET /requests`, whose operation names the root's `issuer` filter).
pub(crate) fn configure_list(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("")
            .wrap(from_fn(guard::guard))
            .route("/issuers", web::get().to(issuers::get_issuers))
            .service(
                web::resource("/requests")
                    .route(web::get().to(requests::get_all_requests))
                    .default_service(web::to(|| async {
                        let mut response = admin_error(
                            StatusCode::METHOD_NOT_ALLOWED,
                            ErrorCode::InvalidRequest,
                            "use GET on the root journal (each issuer's journal is cleared at /{name}/_ccflow/requests)",
                        );
                        response
                            .headers_mut()
                            .insert(header::ALLOW, HeaderValue::from_static("GET"));
                        response
                    })),
            )
            .default_service(web::to(|| async {
                admin_error(
                    StatusCode::NOT_FOUND,
                    ErrorCode::Other("not_found".to_owned()),
                    "no such admin endpoint at the root: each issuer's admin API is under /{name}/_ccflow (GET /_ccflow/issuers lists them)",
                )
            })),
    );
}

/// Whether `path` (below the prefix) is the route `pattern` (`{id}` matches one segment).
fn route_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    pattern.len() == path.len()
        && pattern
            .iter()
            .zip(&path)
            .all(|(want, have)| (want.starts_with('{') && !have.is_empty()) || want == have)
}

/// A known admin path with the wrong method is 405 with `Allow`; anything else is 404.
async fn admin_not_found(request: HttpRequest) -> HttpResponse {
    let path = crate::http::local_path(&request)
        .strip_prefix(ADMIN_PREFIX)
        .unwrap_or_default();
    let allowed: Vec<&str> = document::DOCUMENT
        .routes
        .iter()
        .filter(|(_, pattern)| route_matches(pattern, path))
        .map(|(method, _)| *method)
        .collect();
    if allowed.is_empty() {
        return admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "no such admin endpoint",
        );
    }
    let mut response = admin_error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidRequest,
        &format!("use {} on this admin endpoint", allowed.join(" or ")),
    );
    if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
