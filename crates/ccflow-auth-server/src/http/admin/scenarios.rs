//! `/_ccflow/scenarios`: fault scenarios, and `/_ccflow/mint`: the bad-token factory.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde::Serialize;
use serde_json::Value;

use super::respond::{ErrorBody, admin_error};
use crate::domain::auth_server::AuthServer;
use utoipa::ToSchema;

// Members in alphabetical order, as the untyped JSON objects this replaced wrote them.
/// Every installed scenario.
#[derive(Serialize, ToSchema)]
struct ScenariosBody {
    scenarios: Vec<ScenarioBody>,
}

/// One installed scenario and its counts.
#[derive(Serialize, ToSchema)]
struct ScenarioBody {
    /// When a `for_secs` window closes (Unix seconds on the server clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<i64>,
    hits: u64,
    id: u64,
    // As a JSON value, so its members keep the order they had.
    /// The scenario as installed.
    #[schema(value_type = ccflow_protocol::ScenarioSpec)]
    scenario: Value,
    seen: u64,
    /// When an `after_secs`/`for_secs` window opens (Unix seconds on the server clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_at: Option<i64>,
}

/// `POST /_ccflow/scenarios`' answer: the new scenarios' ids.
#[derive(Serialize, ToSchema)]
struct IdsBody {
    ids: Vec<u64>,
}

/// `POST /_ccflow/mint`'s answer.
#[derive(Serialize, ToSchema)]
struct TokenBody {
    token: String,
}

fn scenarios_body(server: &AuthServer) -> ScenariosBody {
    let scenarios = server
        .scenarios()
        .into_iter()
        .map(|status| ScenarioBody {
            ends_at: status.ends_at.map(ccflow_protocol::unix_seconds),
            hits: status.hits,
            id: status.id,
            scenario: serde_json::to_value(&status.spec).unwrap_or_default(),
            seen: status.seen,
            starts_at: status.starts_at.map(ccflow_protocol::unix_seconds),
        })
        .collect();
    ScenariosBody { scenarios }
}

/// `GET /_ccflow/scenarios`: every scenario with its hit counts.
#[utoipa::path(
    get,
    path = "/scenarios",
    summary = "Every fault scenario with its hit counts",
    responses((status = OK, description = "the scenarios", body = ScenariosBody))
)]
pub(super) async fn get_scenarios(server: web::Data<AuthServer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(scenarios_body(&server))
}

/// `POST /_ccflow/scenarios`: one scenario object or an array of them; all or nothing.
#[utoipa::path(
    post,
    path = "/scenarios",
    summary = "Install one scenario or an array of them, all or nothing",
    request_body(
        content = Vec<ccflow_protocol::ScenarioSpec>,
        description = "one scenario, or an array of them"
    ),
    responses(
        (status = CREATED, description = "the new scenarios' ids", body = IdsBody),
        (status = BAD_REQUEST, description = "a bad scenario", body = ErrorBody),
    )
)]
pub(super) async fn post_scenarios(
    server: web::Data<AuthServer>,
    body: web::Bytes,
) -> HttpResponse {
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
        .json(IdsBody { ids })
}

/// `DELETE /_ccflow/scenarios`: removes them all.
#[utoipa::path(
    delete,
    path = "/scenarios",
    summary = "Remove every scenario",
    responses((status = NO_CONTENT, description = "removed"))
)]
pub(super) async fn delete_scenarios(server: web::Data<AuthServer>) -> HttpResponse {
    server.clear_scenarios();
    HttpResponse::NoContent().finish()
}

/// `DELETE /_ccflow/scenarios/{id}`.
#[utoipa::path(
    delete,
    path = "/scenarios/{id}",
    summary = "Remove one scenario",
    params(("id" = u64, Path, description = "the scenario's id")),
    responses(
        (status = NO_CONTENT, description = "removed"),
        (status = NOT_FOUND, description = "no such scenario", body = ErrorBody),
    )
)]
pub(super) async fn delete_scenario(
    server: web::Data<AuthServer>,
    id: web::Path<String>,
) -> HttpResponse {
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
#[utoipa::path(
    post,
    path = "/mint",
    summary = "A token from the bad-token factory",
    request_body(content = ccflow_protocol::MintSpec, description = "may be empty: the defaults"),
    responses(
        (status = OK, description = "the token", body = TokenBody),
        (status = BAD_REQUEST, description = "a bad spec", body = ErrorBody),
    )
)]
pub(super) async fn post_mint(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
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
    match server.mint_spec_at(&crate::http::site::site_of(&server, &request), &spec) {
        Ok(token) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(TokenBody { token }),
        Err(error) => admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &error.to_string(),
        ),
    }
}
