//! The admin API's one access check, as middleware on the `/_ccflow` scope and the console:
//! the admin API may be off, need the admin token, or answer loopback peers only; calls a
//! browser could be tricked into sending must name this server's `Host`, and state-changing
//! calls from another `Origin` are refused. Every call is logged, allowed or not (allowed reads
//! at debug level).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use std::net::IpAddr;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use ccflow_protocol::{BearerChallenge, ClientSecret, ErrorCode};
use url::Url;

use super::respond::admin_error;
use crate::domain::auth_server::AuthServer;

/// Lets an admin call through, or answers it with the refusal.
pub(crate) async fn guard<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    // Fails closed: a mount that gave the guard no server to read its settings from answers as
    // if the admin API were off.
    let refusal = match request.app_data::<web::Data<AuthServer>>() {
        Some(server) => authorize(server, request.request()).err(),
        None => Some(admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "the admin API is disabled",
        )),
    };
    match refusal {
        Some(response) => Ok(request.into_response(response).map_into_right_body()),
        None => next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

/// Where the browser console (`http::console`) is served, behind this guard: a refusal there
/// challenges with `Basic`, so that a browser prompts for the admin token.
pub(crate) const CONSOLE_PATH: &str = "/_ccflow/console";

/// How a call that got past the access check was authorized.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Authority {
    /// The admin token as `Authorization: Bearer`: a page on another site cannot send it
    /// without knowing it.
    BearerToken,
    /// Something a browser sends by itself: the peer's loopback address, or the admin token as
    /// the password of `Authorization: Basic` (remembered by the browser after its prompt on
    /// the console). Such calls must also come with this server's `Host` and `Origin`.
    Ambient,
}

/// Checks access and logs the call; `Err` is the answer to send instead.
#[allow(
    clippy::result_large_err,
    reason = "the `Err` is the HTTP answer itself, sent at once: boxing it buys nothing"
)]
fn authorize(server: &AuthServer, request: &HttpRequest) -> Result<(), HttpResponse> {
    let peer = request.peer_addr();
    let outcome = authority(server, request).and_then(|authority| {
        if authority == Authority::Ambient {
            same_host(server, request)?;
        }
        same_origin(request)
    });
    // Reads that were allowed at debug: the console reads several times a second and would
    // bury everything else; state changes and refusals stay at info.
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    if outcome.is_ok() && read {
        tracing::debug!(
            target: "ccflow_auth_server::admin",
            method = %request.method(),
            path = request.path(),
            peer = ?peer,
            allowed = true,
            "admin call"
        );
    } else {
        tracing::info!(
            target: "ccflow_auth_server::admin",
            method = %request.method(),
            path = request.path(),
            peer = ?peer,
            allowed = outcome.is_ok(),
            "admin call"
        );
    }
    outcome
}

/// Who may call at all: nobody (admin off), holders of the admin token, or loopback peers.
#[allow(
    clippy::result_large_err,
    reason = "the `Err` is the HTTP answer itself, sent at once: boxing it buys nothing"
)]
fn authority(server: &AuthServer, request: &HttpRequest) -> Result<Authority, HttpResponse> {
    let admin = &server.inner.admin;
    if !admin.enabled {
        return Err(admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "the admin API is disabled",
        ));
    }
    if let Some(token) = &admin.token {
        return match presented_token(request) {
            // Constant-time comparison, as for client secrets.
            Some((presented, authority)) if presented == *token => Ok(authority),
            _ => Err(token_needed(request)),
        };
    }
    if request
        .peer_addr()
        .is_some_and(|peer| peer.ip().is_loopback())
    {
        Ok(Authority::Ambient)
    } else {
        Err(admin_error(
            StatusCode::FORBIDDEN,
            ErrorCode::Other("forbidden".to_owned()),
            "the admin API answers loopback peers only; start the server with an admin token to use it remotely",
        ))
    }
}

/// The admin token as the request presents it: `Authorization: Bearer <token>`, or the
/// password of `Authorization: Basic` (any user name), which is how a browser sends it after
/// the console's prompt.
fn presented_token(request: &HttpRequest) -> Option<(ClientSecret, Authority)> {
    let (scheme, credentials) = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some((
            ClientSecret::new(credentials.trim()),
            Authority::BearerToken,
        ));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, password) = decoded.split_once(':')?;
        return Some((ClientSecret::new(password), Authority::Ambient));
    }
    None
}

/// The 401 for a missing or wrong admin token. The console's pages challenge with `Basic` so
/// that a browser prompts for the token (typed as the password); the API challenges with
/// `Bearer`, as before.
fn token_needed(request: &HttpRequest) -> HttpResponse {
    let mut response = admin_error(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidToken,
        "the admin API needs the admin token",
    );
    // Below its issuer's prefix for a console of one of several issuers.
    let challenge = if crate::http::local_path(request).starts_with(CONSOLE_PATH) {
        r#"Basic realm="ccflow-admin", charset="UTF-8""#.to_owned()
    } else {
        BearerChallenge::new()
            .realm("ccflow-admin")
            .error(
                ErrorCode::InvalidToken,
                "the admin API needs the admin token",
            )
            .to_header_value()
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// DNS rebinding: a page on `evil.example` whose name is made to resolve to 127.0.0.1 talks to
/// this server as its own origin, with `Host: evil.example`. Calls authorized by something the
/// browser sends by itself must name this server: a loopback name, the address the connection
/// arrived on (the bound address), the issuer's host, or a configured admin host. A request
/// without `Host` (HTTP/1.0) is not from a browser and passes.
#[allow(
    clippy::result_large_err,
    reason = "the `Err` is the HTTP answer itself, sent at once: boxing it buys nothing"
)]
fn same_host(server: &AuthServer, request: &HttpRequest) -> Result<(), HttpResponse> {
    let Some(host) = request.headers().get(header::HOST) else {
        return Ok(());
    };
    let known = host
        .to_str()
        .ok()
        .and_then(host_name)
        .is_some_and(|name| is_own_host(server, request, &name));
    if known {
        Ok(())
    } else {
        Err(admin_error(
            StatusCode::FORBIDDEN,
            ErrorCode::Other("forbidden".to_owned()),
            "the Host of this request is not a name of this server (DNS rebinding protection); \
             name it with --admin-host / admin_hosts, or send the admin token as a bearer token",
        ))
    }
}

/// The host name of a `Host` header value, lower case, without port, brackets or final dot.
fn host_name(value: &str) -> Option<String> {
    let value = value.trim();
    let name = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        inside
    } else {
        match value.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return None,
            None => value,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Whether `name` (from [`host_name`]) is one of this server's names.
fn is_own_host(server: &AuthServer, request: &HttpRequest, name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    if let Ok(address) = name.parse::<IpAddr>()
        && (address.is_loopback() || address == request.app_config().local_addr().ip())
    {
        return true;
    }
    let issuer_host = Url::parse(server.issuer())
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase));
    if issuer_host.is_some_and(|issuer| issuer.trim_matches(['[', ']']) == name) {
        return true;
    }
    server
        .inner
        .admin
        .hosts
        .iter()
        .any(|allowed| host_name(allowed).is_some_and(|allowed| allowed == name))
}

/// Cross-site request forgery: a state-changing call (anything but GET, HEAD, OPTIONS) that
/// names an `Origin` must name this server's own (`scheme://Host` of the request), whoever
/// authorized it. Browsers send `Origin` on every cross-origin request and on same-origin
/// ones other than GET/HEAD; tools such as curl send none and pass.
#[allow(
    clippy::result_large_err,
    reason = "the `Err` is the HTTP answer itself, sent at once: boxing it buys nothing"
)]
fn same_origin(request: &HttpRequest) -> Result<(), HttpResponse> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let scheme = if request.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let own = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| format!("{scheme}://{host}"));
    let same = match (origin.to_str(), own) {
        (Ok(origin), Some(own)) => origin.eq_ignore_ascii_case(&own),
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(admin_error(
            StatusCode::FORBIDDEN,
            ErrorCode::Other("forbidden".to_owned()),
            "a state-changing admin call from another origin is refused (cross-site request forgery protection)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn host_names_are_read_from_host_headers() {
        for (value, expected) in [
            ("localhost:8080", Some("localhost")),
            ("LocalHost", Some("localhost")),
            ("127.0.0.1:1", Some("127.0.0.1")),
            ("[::1]:8080", Some("::1")),
            ("[::1]", Some("::1")),
            ("auth.:80", Some("auth")),
            ("evil.example:8080", Some("evil.example")),
            ("[::1]x", None),
            ("host:port", None),
            (":8080", None),
            ("", None),
        ] {
            assert_eq!(host_name(value).as_deref(), expected, "{value:?}");
        }
    }
}
