//! The actix-web layer: routes, body limits, response headers, per-request logs and journal.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use ccflow_protocol::{ClientId, ErrorCode, ErrorResponse, Fault};
use futures_util::StreamExt as _;
use serde::Serialize;

use crate::app::{AuthServer, EndpointError, Handled};
use crate::journal::{Endpoint, JournalEntry};
use crate::scenarios::Probe;

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
        if admin {
            crate::admin::configure(config);
        }
        for path in &routes.token {
            config.service(
                web::resource(pattern(path))
                    .route(web::post().to(token))
                    .default_service(web::to(method_not_allowed)),
            );
        }
        for path in &routes.discovery {
            config.service(
                web::resource(pattern(path))
                    .route(web::get().to(discovery))
                    .default_service(web::to(method_not_allowed)),
            );
        }
        config.service(
            web::resource(pattern(&routes.jwks))
                .route(web::get().to(jwks))
                .default_service(web::to(method_not_allowed)),
        );
        if let Some(path) = &routes.introspection {
            config.service(
                web::resource(pattern(path))
                    .route(web::post().to(introspect))
                    .default_service(web::to(method_not_allowed)),
            );
        }
        if let Some(path) = &routes.revocation {
            config.service(
                web::resource(pattern(path))
                    .route(web::post().to(revoke))
                    .default_service(web::to(method_not_allowed)),
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

fn path_matches(server: &AuthServer, route: &str, path: &str) -> bool {
    if server.spec().case_insensitive_paths {
        route.eq_ignore_ascii_case(path)
    } else {
        route == path
    }
}

/// What the handlers report about a request, for the log line and the journal.
struct Outcome {
    endpoint: Endpoint,
    client_id: Option<ClientId>,
    error: Option<ErrorCode>,
    auth_method: Option<&'static str>,
    params: Vec<(String, String)>,
}

impl Outcome {
    fn new(endpoint: Endpoint, client_id: Option<ClientId>, error: Option<ErrorCode>) -> Self {
        Self {
            endpoint,
            client_id,
            error,
            auth_method: None,
            params: Vec::new(),
        }
    }

    fn with_probe(mut self, probe: Probe) -> Self {
        self.auth_method = probe.auth_method;
        self.params = probe.params;
        self
    }
}

fn header_str(request: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Reads the body, refusing more than `max_bytes` with 413.
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    max_bytes: usize,
) -> Result<Vec<u8>, ErrorResponse> {
    let too_large = || {
        ErrorResponse::invalid_request(format!("request body exceeds {max_bytes} bytes"))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE.as_u16())
    };
    let declared =
        header_str(request, header::CONTENT_LENGTH).and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_bytes as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ErrorResponse::invalid_request("the request body could not be read"))?;
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Applies the headers every response of this profile carries: `Cache-Control: no-store`
/// (RFC 6749 §5.1, RFC 6750 §5.3; not for UserClouds, which sends none), `Pragma: no-cache` on
/// token-endpoint style responses, and the vendor's request id header.
fn builder(server: &AuthServer, status: StatusCode, pragma: bool) -> HttpResponseBuilder {
    let spec = server.spec();
    let mut builder = HttpResponse::build(status);
    if spec.cache_headers {
        builder.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if pragma {
            builder.insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
        }
    }
    if let Some(name) = spec.request_id_header {
        let id: String = crate::shape::random_bytes(&server.inner.rng)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        builder.insert_header((name, id));
    }
    builder
}

fn json<T: Serialize>(
    server: &AuthServer,
    status: StatusCode,
    pragma: bool,
    content_type: &'static str,
    body: &T,
) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => builder(server, status, pragma)
            .content_type(HeaderValue::from_static(content_type))
            .body(bytes),
        Err(error) => {
            tracing::error!(%error, "serialising a response failed");
            error_response(
                server,
                &EndpointError {
                    response: ErrorResponse::server_error(
                        "the server could not serialise its response",
                    ),
                    basic_attempted: false,
                },
            )
        }
    }
}

const JSON: &str = "application/json";

fn error_response(server: &AuthServer, error: &EndpointError) -> HttpResponse {
    let status = StatusCode::from_u16(error.response.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut builder = builder(server, status, true);
    // RFC 6749 §5.2: a 401 after a Basic attempt must carry a WWW-Authenticate challenge.
    if error.basic_attempted && status == StatusCode::UNAUTHORIZED {
        builder.insert_header((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ccflow\""),
        ));
    }
    let body = crate::shape::error_body(server.spec().errors, &error.response);
    let body =
        serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"server_error\"}".to_vec());
    builder
        .content_type(HeaderValue::from_static(JSON))
        .body(body)
}

/// Logs one line for the request and records it in the journal.
fn finish(
    server: &AuthServer,
    request: &HttpRequest,
    started: Instant,
    outcome: Outcome,
    response: HttpResponse,
) -> HttpResponse {
    let status = response.status().as_u16();
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let client_id = outcome.client_id.as_ref().map_or("-", ClientId::as_str);
    let result = outcome.error.as_ref().map_or("ok", ErrorCode::as_str);
    tracing::info!(
        target: "ccflow_auth_server::request",
        method = %request.method(),
        path = request.path(),
        endpoint = outcome.endpoint.as_str(),
        client_id,
        outcome = result,
        status,
        latency_us,
        "request"
    );
    server.journal().record(JournalEntry {
        received_at: server.inner.clock.now(),
        endpoint: outcome.endpoint,
        method: request.method().to_string(),
        path: request.path().to_owned(),
        client_id: outcome.client_id,
        status,
        error: outcome.error,
        latency_us,
        auth_method: outcome.auth_method.map(str::to_owned),
        params: outcome.params,
    });
    response
}

/// What a fault scenario's matcher sees of a request, read leniently (a malformed request can
/// still be selected by a scenario without a client filter).
fn probe(request: &HttpRequest, body: &[u8]) -> Probe {
    let mut probe = Probe::default();
    let params = match header_str(request, header::CONTENT_TYPE) {
        Some(ct)
            if ct
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json") =>
        {
            ccflow_protocol::FormParams::from_json_body(body, &["resource", "audience"]).ok()
        }
        _ => std::str::from_utf8(body)
            .ok()
            .and_then(|text| ccflow_protocol::FormParams::parse(text).ok()),
    };
    if let Some(params) = &params {
        probe.client_id = params.get("client_id").map(str::to_owned);
        probe.grant_type = params.get("grant_type").map(str::to_owned);
        probe.params = crate::journal::redacted_params(params);
        if params.get("client_assertion").is_some() {
            probe.auth_method = Some("private_key_jwt");
        } else if params.get("client_secret").is_some() {
            probe.auth_method = Some("client_secret_post");
        }
    }
    if header_str(request, header::AUTHORIZATION)
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("basic"))
    {
        probe.auth_method = Some("client_secret_basic");
    }
    if let Some(Ok((id, _))) =
        header_str(request, header::AUTHORIZATION).map(ccflow_protocol::parse_basic_authorization)
    {
        probe.client_id = Some(id.as_str().to_owned());
    }
    probe
}

/// The answer of a fault that replaces the endpoint's own.
fn fault_response(
    server: &AuthServer,
    request: &HttpRequest,
    fault: &Fault,
) -> (HttpResponse, Option<ErrorCode>) {
    match fault {
        Fault::OauthError { error, description, status } => {
            let code = ErrorCode::from(error.as_str());
            let mut response = ErrorResponse::new(code.clone(), description.as_deref().unwrap_or("injected by a ccflow scenario"));
            if let Some(status) = status {
                response = response.with_status(*status);
            }
            let basic_attempted = header_str(request, header::AUTHORIZATION)
                .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("basic"));
            (error_response(server, &EndpointError { response, basic_attempted }), Some(code))
        }
        Fault::Status { status, body, content_type, retry_after_secs } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut builder = builder(server, status, true);
            if let Some(seconds) = retry_after_secs {
                builder.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            if let Some(content_type) = content_type {
                builder.insert_header((header::CONTENT_TYPE, content_type.as_str()));
            }
            (builder.body(body.clone().unwrap_or_default()), None)
        }
        Fault::HtmlErrorPage => (
            builder(server, StatusCode::BAD_GATEWAY, false)
                .content_type("text/html; charset=utf-8")
                .body("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"),
            None,
        ),
        // Headers go out, then the body stream fails: the connection is cut mid-response.
        _ => (
            HttpResponse::Ok().content_type(JSON).streaming(futures_util::stream::once(async {
                Err::<web::Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "connection dropped by a ccflow scenario",
                ))
            })),
            None,
        ),
    }
}

/// Applies a token-reshaping fault to a successful token response body.
fn reshape_token(server: &AuthServer, fault: &Fault, mut body: serde_json::Value) -> HttpResponse {
    let content_type = server.spec().content_type;
    match fault {
        Fault::ExpiresIn { seconds } => body["expires_in"] = serde_json::json!(seconds),
        Fault::MissingTokenType => {
            if let Some(object) = body.as_object_mut() {
                object.remove("token_type");
            }
        }
        Fault::UnknownKey => {
            if let Some(token) = body["access_token"]
                .as_str()
                .and_then(|token| server.resign_with_unknown_key(token))
            {
                body["access_token"] = serde_json::json!(token);
            }
        }
        Fault::TruncatedJson => {
            let text = body.to_string();
            let cut = text.len() / 2;
            return builder(server, StatusCode::OK, true)
                .content_type(content_type)
                .body(text[..cut].to_owned());
        }
        Fault::MalformedJson => {
            return builder(server, StatusCode::OK, true)
                .content_type(content_type)
                .body("{\"access_token\": this is not JSON");
        }
        Fault::WrongContentType => {
            return builder(server, StatusCode::OK, true)
                .content_type("text/plain")
                .body(body.to_string());
        }
        _ => {}
    }
    json(server, StatusCode::OK, true, content_type, &body)
}

async fn post_endpoint<T: Serialize>(
    server: &AuthServer,
    request: &HttpRequest,
    payload: web::Payload,
    endpoint: Endpoint,
    handle: impl FnOnce(&AuthServer, Option<&str>, Option<&str>, &[u8]) -> Handled<T>,
    success: impl FnOnce(T, Option<&Fault>) -> HttpResponse,
) -> HttpResponse {
    let started = Instant::now();
    let limits = &server.inner.limits;
    let body = match limits.check_headers(request.headers()) {
        Ok(()) => read_body(request, payload, limits.max_body_bytes).await,
        Err(response) => Err(response),
    };
    let body = match body {
        Ok(body) => body,
        Err(response) => return refuse(server, request, started, endpoint, response),
    };
    let probe = probe(request, &body);
    // Failed-authentication throttling: checked before anything can change state (fault
    // counts, assertion `jti`s, tokens), keyed by the client id the request names, whether
    // or not it is registered, and by the peer address (never a forwarded-for header).
    let peer = request.peer_addr().map(|address| address.ip());
    if let Some(throttle) = &server.inner.throttle
        && let Some(retry_after) = throttle.retry_after(probe.client_id.as_deref(), peer, || {
            server.inner.clock.unix_seconds()
        })
    {
        let error = EndpointError {
            response: crate::throttle::throttled(retry_after),
            basic_attempted: false,
        };
        let mut response = error_response(server, &error);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        let client_id = probe.client_id.clone().map(ClientId::new);
        let outcome =
            Outcome::new(endpoint, client_id, Some(error.response.error)).with_probe(probe);
        return finish(server, request, started, outcome, response);
    }
    let fault = server
        .inner
        .scenarios
        .take(endpoint, &probe, || server.inner.clock.now());
    if let Some(Fault::Delay { millis }) = &fault {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(*millis)).await;
    }
    if let Some(fault) = fault.as_ref().filter(|fault| fault.replaces_response()) {
        let (response, error) = fault_response(server, request, fault);
        let client_id = probe.client_id.clone().map(ccflow_protocol::ClientId::new);
        return finish(
            server,
            request,
            started,
            Outcome::new(endpoint, client_id, error).with_probe(probe),
            response,
        );
    }
    let handled = handle(
        server,
        header_str(request, header::CONTENT_TYPE),
        // A non-ASCII Authorization header is treated as malformed Basic by the parser.
        request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or("\u{fffd}")),
        &body,
    );
    if let (Some(throttle), Err(error)) = (&server.inner.throttle, &handled.result)
        && is_authentication_failure(error)
    {
        throttle.record_failure(
            probe.client_id.as_deref(),
            peer,
            server.inner.clock.unix_seconds(),
        );
    }
    let (response, error) = match handled.result {
        Ok(value) => (success(value, fault.as_ref()), None),
        Err(error) => (
            error_response(server, &error),
            Some(error.response.error.clone()),
        ),
    };
    let outcome = Outcome::new(endpoint, handled.client_id, error).with_probe(probe);
    finish(server, request, started, outcome, response)
}

/// Whether an endpoint error is a failed client authentication, as the throttle counts them:
/// every `invalid_client`, and any other 401 (UserClouds words a wrong secret
/// `invalid_grant` with 401).
fn is_authentication_failure(error: &EndpointError) -> bool {
    error.response.error == ErrorCode::InvalidClient || error.response.status() == 401
}

async fn token(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let content_type = server.spec().content_type;
    post_endpoint(
        &server,
        &request,
        payload,
        Endpoint::Token,
        AuthServer::token,
        |response, fault| match fault {
            Some(fault) if fault.reshapes_token() => match serde_json::to_value(&response) {
                Ok(body) => reshape_token(&server, fault, body),
                Err(_) => json(&server, StatusCode::OK, true, content_type, &response),
            },
            _ => json(&server, StatusCode::OK, true, content_type, &response),
        },
    )
    .await
}

async fn introspect(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    post_endpoint(
        &server,
        &request,
        payload,
        Endpoint::Introspection,
        AuthServer::introspect,
        |response, _| json(&server, StatusCode::OK, true, JSON, &response),
    )
    .await
}

async fn revoke(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    post_endpoint(
        &server,
        &request,
        payload,
        Endpoint::Revocation,
        AuthServer::revoke,
        |(), _| {
            // RFC 7009 §2.2: 200 with an empty body.
            builder(&server, StatusCode::OK, true).finish()
        },
    )
    .await
}

/// A request refused before it was parsed (a size limit): the error, journaled as any other.
fn refuse(
    server: &AuthServer,
    request: &HttpRequest,
    started: Instant,
    endpoint: Endpoint,
    response: ErrorResponse,
) -> HttpResponse {
    let error = EndpointError {
        response,
        basic_attempted: false,
    };
    let outcome = Outcome::new(endpoint, None, Some(error.response.error.clone()));
    finish(
        server,
        request,
        started,
        outcome,
        error_response(server, &error),
    )
}

/// A GET endpoint (discovery, JWKS), with fault scenarios applied.
async fn get_endpoint(
    server: &AuthServer,
    request: &HttpRequest,
    endpoint: Endpoint,
    body: impl FnOnce() -> serde_json::Value,
) -> HttpResponse {
    let started = Instant::now();
    if let Err(response) = server.inner.limits.check_headers(request.headers()) {
        return refuse(server, request, started, endpoint, response);
    }
    let fault = server
        .inner
        .scenarios
        .take(endpoint, &Probe::default(), || server.inner.clock.now());
    if let Some(Fault::Delay { millis }) = &fault {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(*millis)).await;
    }
    let (response, error) = match fault.as_ref().filter(|fault| fault.replaces_response()) {
        Some(fault) => fault_response(server, request, fault),
        None => (json(server, StatusCode::OK, false, JSON, &body()), None),
    };
    finish(
        server,
        request,
        started,
        Outcome::new(endpoint, None, error),
        response,
    )
}

async fn discovery(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    get_endpoint(&server, &request, Endpoint::Discovery, || server.metadata()).await
}

async fn jwks(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    get_endpoint(&server, &request, Endpoint::Jwks, || {
        serde_json::to_value(server.keys().jwks()).unwrap_or_default()
    })
    .await
}

fn endpoint_of(server: &AuthServer, path: &str) -> Endpoint {
    let routes = server.routes();
    let matches = |route: &str| path_matches(server, route, path);
    if routes.token.iter().any(|route| matches(route)) {
        Endpoint::Token
    } else if routes.introspection.as_deref().is_some_and(matches) {
        Endpoint::Introspection
    } else if routes.revocation.as_deref().is_some_and(matches) {
        Endpoint::Revocation
    } else if matches(&routes.jwks) {
        Endpoint::Jwks
    } else if routes.discovery.iter().any(|route| matches(route)) {
        Endpoint::Discovery
    } else {
        Endpoint::Unknown
    }
}

/// 405 with `Allow` for a known path used with the wrong method.
async fn method_not_allowed(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let endpoint = endpoint_of(&server, request.path());
    let allowed: &'static str = match endpoint {
        Endpoint::Discovery | Endpoint::Jwks => "GET",
        _ => "POST",
    };
    let error = EndpointError {
        response: ErrorResponse::invalid_request(format!("use {allowed} on {}", request.path()))
            .with_status(StatusCode::METHOD_NOT_ALLOWED.as_u16()),
        basic_attempted: false,
    };
    let mut response = error_response(&server, &error);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    let outcome = Outcome::new(endpoint, None, Some(error.response.error));
    finish(&server, &request, started, outcome, response)
}

/// 404 JSON for paths the server does not serve.
pub(crate) async fn not_found(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let error = EndpointError {
        response: ErrorResponse::new(ErrorCode::Other("not_found".to_owned()), "no such endpoint")
            .with_status(StatusCode::NOT_FOUND.as_u16()),
        basic_attempted: false,
    };
    let response = error_response(&server, &error);
    let outcome = Outcome::new(Endpoint::Unknown, None, Some(error.response.error));
    finish(&server, &request, started, outcome, response)
}
