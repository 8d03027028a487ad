//! The browser console at `/_ccflow/console`: static HTML, CSS and JavaScript modules compiled
//! into the binary (no build step, no CDN), behind the admin API's access guard. The page talks
//! to the admin API and nothing else; its Content-Security-Policy allows only its own files
//! (no inline script or style) and fetches to its own origin.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use ccflow_protocol::{ErrorCode, ErrorResponse};

use super::admin::CONSOLE_PATH;

/// The console's Content-Security-Policy: scripts, styles and images from the console's own
/// origin only (so no inline script, `eval` or injected markup runs), fetches to the same
/// origin only, no plugins, forms, `<base>` or framing.
pub(crate) const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Every file of the console: name under [`CONSOLE_PATH`], media type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/dom.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/chart.js"),
    ),
    (
        "journal.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/journal.js"),
    ),
    (
        "tokens.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/tokens.js"),
    ),
    (
        "clients.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/clients.js"),
    ),
    (
        "keys.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/keys.js"),
    ),
    (
        "faults.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/faults.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_str!("../../console/icon.svg"),
    ),
];

const INDEX: &str = include_str!("../../console/index.html");

/// Mounts the console, behind the admin guard. Call before the admin scope, which would
/// otherwise take `/_ccflow/console`.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope(CONSOLE_PATH)
            .wrap(from_fn(super::admin::guard))
            .service(web::resource("").route(web::get().to(index)))
            .service(web::resource("/").route(web::get().to(index)))
            .service(web::resource("/{file}").route(web::get().to(asset)))
            .default_service(web::to(missing)),
    );
}

async fn index() -> HttpResponse {
    respond("text/html; charset=utf-8", INDEX)
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, media_type, content)) => respond(media_type, content),
        None => missing().await,
    }
}

/// No such console file: a plain 404, not journaled (the journal is the OAuth endpoints').
async fn missing() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ErrorResponse::new(
            ErrorCode::Other("not_found".to_owned()),
            "no such console file",
        ))
}

/// A console file with the headers that keep it inert on another site and out of caches
/// (it changes with the binary).
fn respond(media_type: &'static str, content: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(media_type)))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONSOLE_CSP),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(content)
}
