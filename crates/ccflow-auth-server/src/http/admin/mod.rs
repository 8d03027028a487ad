//! The `/_ccflow` admin API: test control over HTTP for any language (the same model as the Rust
//! API of `MockAuthServer`). Served to loopback peers only, unless an admin token is set, in
//! which case every call needs `Authorization: Bearer <token>`; `--no-admin` turns it off. Every
//! admin call is logged. This is a test tool, not a production authorization server.

// The `Err` of the access checks is the HTTP answer itself, sent at once: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::{BearerChallenge, ClientSecret, ErrorCode, ErrorResponse, VirtualClock};
use serde_json::{Value, json};

use crate::control::journal::{Endpoint, JournalEntry};
use crate::domain::auth_server::AuthServer;

/// The admin API's path prefix.
pub const ADMIN_PREFIX: &str = "/_ccflow";

/// The admin API's OpenAPI 3 document (also served at `/_ccflow/openapi.json`).
pub const ADMIN_OPENAPI: &str = include_str!("../../admin_openapi.json");

/// Every admin route as (method, path), in registration order; the OpenAPI document must list
/// exactly these (a test checks it).
pub(crate) const ROUTES: [(&str, &str); 16] = [
    ("GET", "/clock"),
    ("POST", "/clock"),
    ("GET", "/requests"),
    ("DELETE", "/requests"),
    ("GET", "/keys"),
    ("POST", "/keys/rotate"),
    ("GET", "/scenarios"),
    ("POST", "/scenarios"),
    ("DELETE", "/scenarios"),
    ("DELETE", "/scenarios/{id}"),
    ("POST", "/mint"),
    ("GET", "/clients"),
    ("POST", "/clients"),
    ("DELETE", "/clients/{id}"),
    ("GET", "/throttle"),
    ("DELETE", "/throttle"),
];

pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope(ADMIN_PREFIX)
            .service(
                web::resource("/clock")
                    .route(web::get().to(get_clock))
                    .route(web::post().to(post_clock)),
            )
            .service(
                web::resource("/requests")
                    .route(web::get().to(get_requests))
                    .route(web::delete().to(delete_requests)),
            )
            .service(web::resource("/keys").route(web::get().to(get_keys)))
            .service(web::resource("/keys/rotate").route(web::post().to(rotate_keys)))
            .service(
                web::resource("/scenarios")
                    .route(web::get().to(get_scenarios))
                    .route(web::post().to(post_scenarios))
                    .route(web::delete().to(delete_scenarios)),
            )
            .service(web::resource("/scenarios/{id}").route(web::delete().to(delete_scenario)))
            .service(web::resource("/mint").route(web::post().to(post_mint)))
            .service(
                web::resource("/clients")
                    .route(web::get().to(get_clients))
                    .route(web::post().to(post_clients)),
            )
            .service(web::resource("/clients/{id}").route(web::delete().to(delete_client)))
            .service(
                web::resource("/throttle")
                    .route(web::get().to(get_throttle))
                    .route(web::delete().to(delete_throttle)),
            )
            .service(web::resource("/openapi.json").route(web::get().to(openapi)))
            .default_service(web::to(admin_not_found)),
    );
}

fn admin_error(status: StatusCode, code: ErrorCode, description: &str) -> HttpResponse {
    let body = ErrorResponse::new(code, description).with_status(status.as_u16());
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}

/// Checks access and logs the call; `Err` is the answer to send instead.
fn authorize(server: &AuthServer, request: &HttpRequest) -> Result<(), HttpResponse> {
    let admin = &server.inner.admin;
    let peer = request.peer_addr();
    let outcome = if !admin.enabled {
        Err(admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "the admin API is disabled",
        ))
    } else if let Some(token) = &admin.token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| ClientSecret::new(token.trim()));
        match presented {
            // Constant-time comparison, as for client secrets.
            Some(presented) if presented == *token => Ok(()),
            _ => {
                let challenge = BearerChallenge::new().realm("ccflow-admin").error(
                    ErrorCode::InvalidToken,
                    "the admin API needs the admin token",
                );
                let mut response = admin_error(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidToken,
                    "the admin API needs the admin token",
                );
                if let Ok(value) = HeaderValue::from_str(&challenge.to_header_value()) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                Err(response)
            }
        }
    } else if peer.is_some_and(|peer| peer.ip().is_loopback()) {
        Ok(())
    } else {
        Err(admin_error(
            StatusCode::FORBIDDEN,
            ErrorCode::Other("forbidden".to_owned()),
            "the admin API answers loopback peers only; start the server with an admin token to use it remotely",
        ))
    };
    tracing::info!(
        target: "ccflow_auth_server::admin",
        method = %request.method(),
        path = request.path(),
        peer = ?peer,
        allowed = outcome.is_ok(),
        "admin call"
    );
    outcome
}

fn unix_seconds_f64(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

fn controllable(server: &AuthServer) -> Result<&VirtualClock, HttpResponse> {
    server.inner.virtual_clock.as_ref().ok_or_else(|| {
        admin_error(
            StatusCode::CONFLICT,
            ErrorCode::Other("clock_injected".to_owned()),
            "this server runs on a clock injected by the embedding test; control that clock instead",
        )
    })
}

async fn get_clock(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    match controllable(&server) {
        Ok(clock) => HttpResponse::Ok().json(clock.state()),
        Err(response) => response,
    }
}

/// `POST /_ccflow/clock` with one of `{"advance_secs": n}`, `{"rewind_secs": n}`,
/// `{"set": unix_seconds}`, `{"freeze": true}`, `{"resume": true}`, `{"reset": true}`.
async fn post_clock(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    let clock = match controllable(&server) {
        Ok(clock) => clock,
        Err(response) => return response,
    };
    let applied = serde_json::from_slice::<Value>(&body)
        .map_err(|_| "the body is not JSON")
        .and_then(|command| clock.apply_command(&command));
    match applied {
        Ok(()) => HttpResponse::Ok().json(clock.state()),
        Err(why) => admin_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, why),
    }
}

fn entry_json(entry: &JournalEntry) -> Value {
    json!({
        "received_at": unix_seconds_f64(entry.received_at),
        "endpoint": entry.endpoint.as_str(),
        "method": entry.method,
        "path": entry.path,
        "client_id": entry.client_id.as_ref().map(|id| id.as_str()),
        "status": entry.status,
        "error": entry.error.as_ref().map(|code| code.as_str()),
        "latency_us": entry.latency_us,
        "auth_method": entry.auth_method,
        "params": entry.params.iter().map(|(name, value)| json!([name, value])).collect::<Vec<_>>(),
    })
}

/// `GET /_ccflow/requests[?endpoint=token][&client_id=…]`: the journal, oldest first.
async fn get_requests(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    let query = match ccflow_protocol::FormParams::parse(request.query_string()) {
        Ok(query) => query,
        Err(_) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "malformed query string",
            );
        }
    };
    let endpoint = match query.get("endpoint") {
        Some(name) => match Endpoint::from_name(name) {
            Some(endpoint) => Some(endpoint),
            None => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    "endpoint must be token, introspection, revocation, discovery, jwks or unknown",
                );
            }
        },
        None => None,
    };
    let client_id = query.get("client_id");
    let entries: Vec<Value> = server
        .journal()
        .entries()
        .iter()
        .filter(|entry| endpoint.is_none_or(|wanted| entry.endpoint == wanted))
        .filter(|entry| {
            client_id.is_none_or(|wanted| {
                entry
                    .client_id
                    .as_ref()
                    .is_some_and(|id| id.as_str() == wanted)
            })
        })
        .map(entry_json)
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"requests": entries}))
}

/// `DELETE /_ccflow/requests`: empties the journal.
async fn delete_requests(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    server.journal().clear();
    HttpResponse::NoContent().finish()
}

/// `GET /_ccflow/throttle`: whether failed-authentication throttling is on, its settings, and
/// how many client ids and addresses it is counting.
async fn get_throttle(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(server.throttle_json())
}

/// `DELETE /_ccflow/throttle`: forgets every counted failure and lifts every block, so a test
/// that provoked throttling leaves none behind for the next.
async fn delete_throttle(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    server.clear_auth_failures();
    HttpResponse::NoContent().finish()
}

/// `GET /_ccflow/keys`: every key's public part and state (retired keys included).
async fn get_keys(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(keys_json(&server))
}

fn keys_json(server: &AuthServer) -> Value {
    let keys: Vec<Value> = server
        .keys()
        .entries()
        .iter()
        .map(|entry| {
            json!({
                "kid": entry.key.kid(),
                "alg": format!("{:?}", entry.key.algorithm()),
                "state": entry.state.as_str(),
                "retire_at": entry.retire_at.map(|at| unix_seconds_f64(at).round() as i64),
                "jwk": entry.key.public_jwk(),
            })
        })
        .collect();
    json!({"keys": keys})
}

/// `POST /_ccflow/keys/rotate`: a new key signs from now on; the previous one stays published
/// until the longest token it signed has expired. Answers the new ring.
async fn rotate_keys(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    let rotating = server.clone();
    // RSA generation is CPU work: keep it off the I/O threads.
    match web::block(move || rotating.rotate_keys()).await {
        Ok(Ok(kid)) => {
            let mut body = keys_json(&server);
            body["active"] = json!(kid);
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(body)
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "key rotation failed");
            admin_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                "key generation failed",
            )
        }
        Err(_) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "key generation was cancelled",
        ),
    }
}

fn scenarios_json(server: &AuthServer) -> Value {
    let scenarios: Vec<Value> = server
        .scenarios()
        .into_iter()
        .map(|status| json!({"id": status.id, "seen": status.seen, "hits": status.hits, "scenario": status.spec}))
        .collect();
    json!({"scenarios": scenarios})
}

/// `GET /_ccflow/scenarios`: every scenario with its hit counts.
async fn get_scenarios(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(scenarios_json(&server))
}

/// `POST /_ccflow/scenarios`: one scenario object or an array of them; all or nothing.
async fn post_scenarios(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    let bad = |description: String| {
        admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &description,
        )
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => return bad(format!("not JSON: {error}")),
    };
    let items = match value {
        Value::Array(items) => items,
        single => vec![single],
    };
    let mut specs = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let spec: ccflow_protocol::ScenarioSpec = match serde_json::from_value(item) {
            Ok(spec) => spec,
            Err(error) => return bad(format!("scenario {index}: {error}")),
        };
        if let Err(why) = spec.validate() {
            return bad(format!("scenario {index}: {why}"));
        }
        specs.push(spec);
    }
    let ids: Vec<u64> = specs
        .into_iter()
        .filter_map(|spec| server.add_scenario(spec).ok())
        .collect();
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"ids": ids}))
}

/// `DELETE /_ccflow/scenarios`: removes them all.
async fn delete_scenarios(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    server.clear_scenarios();
    HttpResponse::NoContent().finish()
}

/// `DELETE /_ccflow/scenarios/{id}`.
async fn delete_scenario(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    match id.parse::<u64>() {
        Ok(id) if server.inner.scenarios.remove(id) => HttpResponse::NoContent().finish(),
        _ => admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "no scenario with this id",
        ),
    }
}

/// `POST /_ccflow/mint`: a token from the bad-token factory (`MintSpec` as JSON).
async fn post_mint(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    let spec: ccflow_protocol::MintSpec =
        match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
            Ok(spec) => spec,
            Err(error) => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    &format!("not a mint spec: {error}"),
                );
            }
        };
    match server.mint_spec(&spec) {
        Ok(token) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"token": token})),
        Err(error) => admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &error.to_string(),
        ),
    }
}

/// A registered client's public metadata: never its secret, nor its keys beyond their count.
fn client_json(client: &crate::domain::clients::RegisteredClient) -> Value {
    json!({
        "client_id": client.id.as_str(),
        "auth_methods": client.auth_methods.iter().map(|method| method.as_str()).collect::<Vec<_>>(),
        "scopes": client.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>(),
        "audiences": client.audiences,
        "token_ttl_secs": client.token_ttl.map(|ttl| ttl.as_secs()),
        "n_public_keys": client.keys.len(),
    })
}

/// `GET /_ccflow/clients`: every registered client's id and public metadata, in registration
/// order.
async fn get_clients(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    let clients: Vec<Value> = server.registry().iter().map(client_json).collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"clients": clients}))
}

/// `POST /_ccflow/clients`: registers one client (`ClientRegistration` as JSON); a bad body
/// or a profile rule it breaks is 400, an id already registered 409, and neither changes
/// anything.
async fn post_clients(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    let bad = |description: String| {
        admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &description,
        )
    };
    let registration = match serde_json::from_slice::<Value>(&body) {
        Ok(object @ Value::Object(_)) => object,
        Ok(_) | Err(_) => return bad("the body must be a JSON object".to_owned()),
    };
    let registration: ccflow_protocol::ClientRegistration =
        match serde_json::from_value(registration) {
            Ok(registration) => registration,
            Err(error) => {
                return bad(format!("not a client registration: {}", json_error(&error)));
            }
        };
    let id = ccflow_protocol::ClientId::new(registration.client_id.as_str());
    if server.registry().get(&id).is_some() {
        return admin_error(
            StatusCode::CONFLICT,
            ErrorCode::Other("client_exists".to_owned()),
            "a client with this id is already registered; DELETE it first",
        );
    }
    let added =
        crate::Client::from_registration(registration).and_then(|client| server.add_client(client));
    match added {
        Ok(()) => match server.registry().get(&id) {
            Some(client) => HttpResponse::Created()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(client_json(client)),
            // Removed by a concurrent call in between; it was registered all the same.
            None => HttpResponse::Created().finish(),
        },
        // ClientError names the field and the rule, never the value (a secret, perhaps).
        Err(error) => admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &error.to_string(),
        ),
    }
}

/// Describes a JSON body error without echoing the values it holds (serde's "invalid type"
/// messages quote the value, which may be a secret given in the wrong member).
fn json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if ["unknown field", "missing field", "unknown variant"]
        .iter()
        .any(|start| message.starts_with(start))
    {
        message
    } else {
        "a member has the wrong type or value".to_owned()
    }
}

/// `DELETE /_ccflow/clients/{id}`: unregisters a client (see `AuthServer::remove_client`).
async fn delete_client(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
    if server.remove_client(&id) {
        HttpResponse::NoContent().finish()
    } else {
        admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "no client with this id",
        )
    }
}

/// `GET /_ccflow/openapi.json`.
async fn openapi(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
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
async fn admin_not_found(server: web::Data<AuthServer>, request: HttpRequest) -> HttpResponse {
    if let Err(response) = authorize(&server, &request) {
        return response;
    }
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
        documented.sort();
        expected.sort();
        assert_eq!(documented, expected);
    }
}
