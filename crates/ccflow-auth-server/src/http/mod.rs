//! The actix-web layer: routes per endpoint, body reading, response headers, fault
//! rendering, per-request logs and journal; the `/_ccflow` admin API under `admin`.

pub(crate) mod admin;
pub(crate) mod console;
mod documents;
mod fallback;
mod faults;
pub(crate) mod health;
mod issuers;
mod pipeline;
mod record;
mod request;
mod respond;
pub(crate) mod site;
mod token;
mod token_operations;

use actix_web::web;

use crate::domain::auth_server::AuthServer;

pub(crate) use fallback::not_found;
pub(crate) use issuers::{IssuerList, configure_issuers, local_path, root_not_found};

/// Mounts the server's routes (as its profile names them) in an actix-web app or scope.
///
/// Use it to embed the mock in your own `App` or with `actix_web::test::init_service`:
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use ccflow_auth_server::{Client, MockAuthServer, configure};
///
/// let server = MockAuthServer::builder()
///     .client(Client::new("svc", "secret"))
///     .into_app("http://localhost:8080")?;
/// let app = actix_web::test::init_service(actix_web::App::new().configure(configure(server))).await;
/// # Ok(()) }
/// ```
pub fn configure(server: AuthServer) -> impl FnOnce(&mut web::ServiceConfig) {
    mount(server, "")
}

/// Mounts the server's routes, in a scope at `prefix` (`/{name}` for one of several issuers,
/// `""` at the root): the console's page links to its files under the prefix.
fn mount(server: AuthServer, prefix: &str) -> impl FnOnce(&mut web::ServiceConfig) {
    let prefix = prefix.to_owned();
    move |config| {
        let routes = server.routes().clone();
        let case_insensitive = server.spec().case_insensitive_paths;
        let pattern = |path: &str| {
            if case_insensitive {
                case_insensitive_pattern(path)
            } else {
                path.to_owned()
            }
        };
        let admin = server.inner.admin.enabled;
        config.app_data(web::Data::new(server));
        // Before the admin scope, which would otherwise take `/_ccflow/health/…`.
        health::configure(config);
        if admin {
            config.service(console::scope(&prefix));
        }
        if admin {
            admin::configure(config);
        }
        for path in &routes.token {
            config.service(
                web::resource(pattern(path))
                    .route(web::post().to(token::token))
                    .default_service(web::to(fallback::method_not_allowed)),
            );
        }
        for path in &routes.discovery {
            config.service(
                web::resource(pattern(path))
                    .route(web::get().to(documents::discovery))
                    .default_service(web::to(fallback::method_not_allowed)),
            );
        }
        config.service(
            web::resource(pattern(&routes.jwks))
                .route(web::get().to(documents::jwks))
                .default_service(web::to(fallback::method_not_allowed)),
        );
        if let Some(path) = &routes.introspection {
            config.service(
                web::resource(pattern(path))
                    .route(web::post().to(token_operations::introspect))
                    .default_service(web::to(fallback::method_not_allowed)),
            );
        }
        if let Some(path) = &routes.revocation {
            config.service(
                web::resource(pattern(path))
                    .route(web::post().to(token_operations::revoke))
                    .default_service(web::to(fallback::method_not_allowed)),
            );
        }
    }
}

/// An actix route pattern matching `path` case-insensitively: every segment becomes a regex
/// segment with the `i` flag (CyberArk's own SDK writes `/Oauth2/Token/{app_id}`).
fn case_insensitive_pattern(path: &str) -> String {
    let mut pattern = String::new();
    for (index, segment) in path.split('/').enumerate().skip(1) {
        pattern.push('/');
        if segment.is_empty() {
            continue;
        }
        let escaped: String = segment
            .chars()
            .flat_map(|c| {
                let special = "\\.+*?()|[]{}^$#&-~".contains(c);
                special
                    .then_some('\\')
                    .into_iter()
                    .chain(std::iter::once(c))
            })
            .collect();
        pattern.push_str(&format!("{{ccflow_segment_{index}:(?i:{escaped})}}"));
    }
    pattern
}
