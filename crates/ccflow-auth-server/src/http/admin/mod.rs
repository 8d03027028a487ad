//! The `/_ccflow` admin API: test control over HTTP for any language (the same model as the Rust
//! API of `MockAuthServer`). Served to loopback peers only, unless an admin token is set, in
//! which case every call needs `Authorization: Bearer <token>`; `--no-admin` turns it off. Every
//! admin call is logged. This is a test tool, not a production authorization server.

mod certificates;
mod clients;
mod clock;
mod dpop;
mod guard;
mod inspect;
mod key_ring;
mod keys;
mod requests;
mod respond;
mod scenarios;
mod throttle;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::ErrorCode;

pub(crate) use guard::{CONSOLE_PATH, guard};
use respond::admin_error;

/// The admin API's path prefix.
pub const ADMIN_PREFIX: &str = "/_ccflow";

/// The admin API's OpenAPI 3 document (also served at `/_ccflow/openapi.json`).
pub const ADMIN_OPENAPI: &str = include_str!("../../admin_openapi.json");

/// Every admin route as (method, path), in registration order; the OpenAPI document must list
/// exactly these (a test checks it).
pub(crate) const ROUTES: [(&str, &str); 24] = [
    ("GET", "/clock"),
    ("POST", "/clock"),
    ("GET", "/requests"),
    ("DELETE", "/requests"),
    ("GET", "/keys"),
    ("POST", "/keys/rotate"),
    ("POST", "/keys/stage"),
    ("POST", "/keys/{kid}/activate"),
    ("POST", "/keys/{kid}/retire"),
    ("GET", "/scenarios"),
    ("POST", "/scenarios"),
    ("DELETE", "/scenarios"),
    ("DELETE", "/scenarios/{id}"),
    ("POST", "/mint"),
    ("GET", "/clients"),
    ("POST", "/clients"),
    ("DELETE", "/clients/{id}"),
    ("POST", "/clients/{id}/certificate"),
    ("GET", "/throttle"),
    ("DELETE", "/throttle"),
    ("GET", "/dpop"),
    ("PUT", "/dpop"),
    ("POST", "/dpop/proof"),
    ("POST", "/tokens/inspect"),
];

/// Mounts the admin API: every route behind the one access guard (a call that gets past it is
/// logged as allowed, a refused one is answered by the guard and logged as refused).
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope(ADMIN_PREFIX)
            .wrap(from_fn(guard::guard))
            .service(
                web::resource("/clock")
                    .route(web::get().to(clock::get_clock))
                    .route(web::post().to(clock::post_clock)),
            )
            .service(
                web::resource("/requests")
                    .route(web::get().to(requests::get_requests))
                    .route(web::delete().to(requests::delete_requests)),
            )
            .service(web::resource("/keys").route(web::get().to(keys::get_keys)))
            .service(web::resource("/keys/rotate").route(web::post().to(keys::rotate_keys)))
            .service(web::resource("/keys/stage").route(web::post().to(key_ring::stage_key)))
            .service(
                web::resource("/keys/{kid}/activate").route(web::post().to(key_ring::activate_key)),
            )
            .service(
                web::resource("/keys/{kid}/retire").route(web::post().to(key_ring::retire_key)),
            )
            .service(
                web::resource("/scenarios")
                    .route(web::get().to(scenarios::get_scenarios))
                    .route(web::post().to(scenarios::post_scenarios))
                    .route(web::delete().to(scenarios::delete_scenarios)),
            )
            .service(
                web::resource("/scenarios/{id}")
                    .route(web::delete().to(scenarios::delete_scenario)),
            )
            .service(web::resource("/mint").route(web::post().to(scenarios::post_mint)))
            .service(
                web::resource("/clients")
                    .route(web::get().to(clients::get_clients))
                    .route(web::post().to(clients::post_clients)),
            )
            .service(web::resource("/clients/{id}").route(web::delete().to(clients::delete_client)))
            .service(
                web::resource("/clients/{id}/certificate")
                    .route(web::post().to(certificates::post_certificate)),
            )
            .service(
                web::resource("/throttle")
                    .route(web::get().to(throttle::get_throttle))
                    .route(web::delete().to(throttle::delete_throttle)),
            )
            .service(
                web::resource("/dpop")
                    .route(web::get().to(dpop::get_dpop))
                    .route(web::put().to(dpop::put_dpop)),
            )
            .service(web::resource("/dpop/proof").route(web::post().to(dpop::post_proof)))
            .service(web::resource("/tokens/inspect").route(web::post().to(inspect::post_inspect)))
            .service(web::resource("/openapi.json").route(web::get().to(openapi)))
            .default_service(web::to(admin_not_found)),
    );
}

/// `GET /_ccflow/openapi.json`.
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ADMIN_OPENAPI)
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
    let path = request
        .path()
        .strip_prefix(ADMIN_PREFIX)
        .unwrap_or_default();
    let allowed: Vec<&str> = ROUTES
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let document: Value = serde_json::from_str(ADMIN_OPENAPI).unwrap();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, operations) in document["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut expected: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(method, path)| ((*method).to_owned(), format!("{ADMIN_PREFIX}{path}")))
            .collect();
        expected.push(("GET".to_owned(), format!("{ADMIN_PREFIX}/openapi.json")));
        // Mounted beside the admin scope, outside its guard (`http::health`).
        for path in [crate::http::health::LIVE, crate::http::health::READY] {
            expected.push(("GET".to_owned(), path.to_owned()));
        }
        documented.sort();
        expected.sort();
        assert_eq!(documented, expected);
    }
}
