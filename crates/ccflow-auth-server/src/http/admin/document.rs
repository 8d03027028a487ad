//! The admin API's OpenAPI document, generated once from the same registration that mounts the
//! routes (`routes` in the parent module): the handlers' `#[utoipa::path]` operations and their
//! `ToSchema` types, plus the two documented routes that live outside the admin scope (the
//! document itself and the health probes, `http::health`).

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use utoipa::openapi::path::{PathItem, Paths};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};
use utoipa_actix_web::OpenApiFactory;
use utoipa_actix_web::scope::Scope;

use super::ADMIN_PREFIX;
use crate::http::health;

/// Where the document is served, below the admin prefix.
pub(super) const PATH: &str = "/openapi.json";

/// The document and what the admin scope registered.
pub(super) struct Document {
    /// Every admin route as (method, path below the prefix), as registered: what a wrong
    /// method is told it may use (`Allow`).
    pub(super) routes: Vec<(&'static str, String)>,
    /// The OpenAPI document as JSON.
    pub(super) json: String,
}

/// Built on first use: the registration runs once more, on a scope that is never served.
pub(super) static DOCUMENT: LazyLock<Document> = LazyLock::new(build);

/// `GET /_ccflow/openapi.json`.
#[utoipa::path(
    get,
    path = "/_ccflow/openapi.json",
    summary = "This document",
    responses((status = OK, description = "the admin API's OpenAPI document", body = Object))
)]
pub(super) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.json.as_str())
}

/// The methods a path item has operations for, in the order `Allow` has always listed them.
fn methods(item: &PathItem) -> impl Iterator<Item = &'static str> + '_ {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter(|(_, operation)| operation.is_some())
    .map(|(method, _)| method)
}

fn build() -> Document {
    // `Scope::from` an actix scope keeps the paths below the prefix, as the router sees them.
    let scope = super::routes(Scope::from(web::scope(ADMIN_PREFIX)));
    let registered = OpenApiFactory::paths(&scope);
    let mut schemas = Vec::new();
    OpenApiFactory::schemas(&scope, &mut schemas);

    let routes = registered
        .paths
        .iter()
        .flat_map(|(path, item)| methods(item).map(move |method| (method, path.clone())))
        .collect();

    let mut paths = Paths::new();
    for (path, item) in registered.paths {
        paths.paths.insert(format!("{ADMIN_PREFIX}{path}"), item);
    }
    paths.merge(OpenApiFactory::paths(&__path_openapi));
    paths.merge(health::documented());

    let description = "Test control for the ccflow mock authorization server, from any \
        language. Served under /_ccflow to loopback peers only, unless the server has an admin \
        token, which every call must then send as a bearer token. This is a test tool, not a \
        production authorization server.";
    let document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ccflow mock authorization server: test-control API")
                .version("1")
                .description(Some(description))
                .build(),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .schemas_from_iter(schemas)
                .security_scheme(
                    "adminToken",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .description(Some(
                                "Only when the server was started with --admin-token.",
                            ))
                            .build(),
                    ),
                )
                .build(),
        ))
        .security(Some([
            SecurityRequirement::default(),
            SecurityRequirement::new("adminToken", Vec::<String>::new()),
        ]))
        .build();
    Document {
        routes,
        json: document
            .to_json()
            .unwrap_or_else(|error| unreachable!("an OpenAPI document always serializes: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every route the admin scope registers is in the document with its method, and the
    /// document has nothing else but itself and the health probes: the document cannot drift
    /// from the routes. Fails if a handler is registered with actix's `route` (not collected)
    /// or documented with a method or path other than the one it is served at.
    #[test]
    fn the_document_lists_exactly_the_registered_routes() {
        let document: Value = serde_json::from_str(&DOCUMENT.json).unwrap();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, operations) in document["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut expected: Vec<(String, String)> = DOCUMENT
            .routes
            .iter()
            .map(|(method, path)| ((*method).to_owned(), format!("{ADMIN_PREFIX}{path}")))
            .collect();
        assert!(expected.len() >= 23, "the admin API's routes: {expected:?}");
        expected.push(("GET".to_owned(), format!("{ADMIN_PREFIX}{PATH}")));
        for path in [health::LIVE, health::READY] {
            expected.push(("GET".to_owned(), path.to_owned()));
        }
        documented.sort();
        expected.sort();
        assert_eq!(documented, expected);
    }

    /// The actix router answers each registered (method, path) with its handler, not with the
    /// admin scope's 404/405: what the document lists is what is served.
    #[actix_web::test]
    async fn every_registered_route_is_routed_to_a_handler() {
        use actix_web::test::{TestRequest, call_service, init_service};
        let app = init_service(
            actix_web::App::new().service(
                super::super::routes(utoipa_actix_web::scope(ADMIN_PREFIX))
                    .default_service(web::to(|| async { HttpResponse::ImATeapot().finish() })),
            ),
        )
        .await;
        for (method, path) in &DOCUMENT.routes {
            let path = path.replace("{kid}", "k").replace("{id}", "1");
            let request = TestRequest::default()
                .method(method.parse().unwrap())
                .uri(&format!("{ADMIN_PREFIX}{path}"))
                .to_request();
            let response = call_service(&app, request).await;
            assert_ne!(
                response.status().as_u16(),
                418,
                "{method} {path} is not routed"
            );
        }
    }
}
