//! The browser console at `/_ccflow/console`: static HTML, CSS and JavaScript modules compiled
//! into the binary (no build step, no CDN), behind the admin API's access guard. The page talks
//! to the admin API and nothing else; its Content-Security-Policy allows only its own files
//! (no inline script or style) and fetches to its own origin. With several issuers it is served
//! under each issuer's prefix (`/{name}/_ccflow/console`, talking to that issuer's admin API)
//! and at the root, where it picks an issuer from `GET /_ccflow/issuers`.

use actix_web::body::MessageBody;
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

/// The console's page for a console served below `prefix` (`/{name}`, or `""` at the root): its
/// links to its own files name the prefix. The scripts need no such help: they find the admin
/// API from their own URL (`console/api.js`).
fn index_page(prefix: &str) -> String {
    INDEX.replace(
        &format!("=\"{CONSOLE_PATH}/"),
        &format!("=\"{prefix}{CONSOLE_PATH}/"),
    )
}

/// The console under `prefix` (`/{name}` for an issuer's, `""` at the root), behind the admin
/// guard, for the caller to register before the admin scope, which would otherwise take
/// `/_ccflow/console`. The guard reads the admin settings from the `AuthServer` in the app data
/// of the scope the console is mounted in, or of the returned scope (the guard sits on an
/// inner scope, so that data given to the returned one is there before it runs).
pub(crate) fn scope(prefix: &str) -> actix_web::Scope {
    web::scope(CONSOLE_PATH)
        .app_data(web::Data::new(IndexPage(web::Bytes::from(index_page(
            prefix,
        )))))
        .service(
            web::scope("")
                .wrap(from_fn(super::admin::guard))
                .service(web::resource("").route(web::get().to(index)))
                .service(web::resource("/").route(web::get().to(index)))
                .service(web::resource("/{file}").route(web::get().to(asset)))
                .default_service(web::to(missing)),
        )
}

/// The page as this mount serves it ([`index_page`]), made once per mount; each answer shares
/// its bytes instead of copying them.
struct IndexPage(web::Bytes);

async fn index(page: web::Data<IndexPage>) -> HttpResponse {
    respond("text/html; charset=utf-8", page.0.clone())
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, media_type, content)) => respond(media_type, *content),
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
fn respond(media_type: &'static str, content: impl MessageBody + 'static) -> HttpResponse {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Under an issuer's prefix the page links to that prefix's files, and nothing else of the
    /// page changes; at the root it is the file as written.
    #[test]
    fn the_page_links_to_its_files_under_its_prefix() {
        assert_eq!(index_page(""), INDEX);
        let page = index_page("/slb");
        let links = [
            r#"href="/slb/_ccflow/console/icon.svg""#,
            r#"href="/slb/_ccflow/console/console.css""#,
            r#"src="/slb/_ccflow/console/app.js""#,
        ];
        for link in links {
            assert!(page.contains(link), "{link}");
        }
        assert!(!page.contains(r#"="/_ccflow/console/"#));
        assert_eq!(
            page.replace("/slb/_ccflow/console/", "/_ccflow/console/"),
            INDEX
        );
    }
}
