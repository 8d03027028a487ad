//! Several issuers in one process: each issuer's routes, admin API, console and journal under
//! its own scope `/{name}`, and at the root only what belongs to the process (the health
//! probes, the list of issuers `GET /_ccflow/issuers`, the journal of every issuer
//! `GET /_ccflow/requests` and the console that picks among them).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::{ErrorCode, ErrorResponse};
use serde_json::json;

use super::health;
use crate::domain::auth_server::AuthServer;

/// The issuers of the process, in configuration order (`None`: the one issuer at the root).
pub(crate) struct IssuerList(pub(crate) Vec<(Option<String>, AuthServer)>);

/// The path prefix of the issuer a request was routed to (request data of its scope).
struct PathPrefix(String);

/// The request's path below its issuer's prefix: what the profile's routes name (all of the
/// path for the issuer at the root).
pub(crate) fn local_path(request: &HttpRequest) -> &str {
    let path = request.path();
    match request.app_data::<PathPrefix>() {
        Some(PathPrefix(prefix)) => path.strip_prefix(prefix.as_str()).unwrap_or(path),
        None => path,
    }
}

/// Mounts several named issuers, each under `/{name}` with all its routes and its own admin
/// API, plus the process's routes at the root.
pub(crate) fn configure_issuers(
    issuers: Vec<(String, AuthServer)>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        let list = IssuerList(
            issuers
                .iter()
                .map(|(name, server)| (Some(name.clone()), server.clone()))
                .collect(),
        );
        config.app_data(web::Data::new(list));
        for (name, server) in issuers.iter().cloned() {
            let prefix = format!("/{name}");
            config.service(
                web::scope(&prefix)
                    .app_data(PathPrefix(prefix.clone()))
                    .configure(super::mount(server, &prefix))
                    .default_service(web::to(super::not_found)),
            );
        }
        config
            .service(web::resource(health::LIVE).route(web::get().to(health::live)))
            .service(web::resource(health::READY).route(web::get().to(ready)));
        // The root's admin API is the list of issuers and the journal of them all, and the
        // console, which picks an issuer from the list; all behind the same guard, which reads
        // the admin settings, which every issuer shares (they are process-wide), from the
        // first issuer's server. The console first: the admin scope would take its path.
        if let Some((_, first)) = issuers.first()
            && first.inner.admin.enabled
        {
            config.service(super::console::scope("").app_data(web::Data::new(first.clone())));
            config.service(
                web::scope(super::admin::ADMIN_PREFIX)
                    .app_data(web::Data::new(first.clone()))
                    .configure(super::admin::configure_list),
            );
        }
    }
}

/// Ready when every issuer is (`http::health`).
async fn ready(list: web::Data<IssuerList>) -> HttpResponse {
    let unready: Vec<&str> = list
        .0
        .iter()
        .filter(|(_, server)| server.keys().jwks().keys.is_empty())
        .filter_map(|(name, _)| name.as_deref())
        .collect();
    if unready.is_empty() {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "status": format!("no signing key published by {}", unready.join(", "))
        }))
    }
}

/// A path under no issuer: 404, in no issuer's journal.
pub(crate) async fn root_not_found() -> HttpResponse {
    let body = ErrorResponse::new(
        ErrorCode::Other("not_found".to_owned()),
        "no such endpoint: every issuer is served under /{name} (GET /_ccflow/issuers lists them)",
    )
    .with_status(StatusCode::NOT_FOUND.as_u16());
    HttpResponse::NotFound()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body)
}
