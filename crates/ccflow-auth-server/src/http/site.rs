//! The site a request reached: the configured one, or — with `issuer_from_request` — the one
//! its scheme and host name, as actix reads them from `Forwarded` (RFC 7239), then
//! `X-Forwarded-Proto`/`X-Forwarded-Host`, then `Host`.

use std::borrow::Cow;

use actix_web::HttpRequest;

use crate::domain::auth_server::AuthServer;
use crate::domain::site::Site;

/// The issuer and URLs to answer `request` with. A request whose scheme or host cannot make an
/// http(s) origin is answered as the configured site.
pub(crate) fn site_of<'a>(server: &'a AuthServer, request: &HttpRequest) -> Cow<'a, Site> {
    if !server.inner.issuer_from_request {
        return Cow::Borrowed(server.site());
    }
    let info = request.connection_info();
    server
        .site()
        .reached_at(info.scheme(), info.host())
        .map_or(Cow::Borrowed(server.site()), Cow::Owned)
}
