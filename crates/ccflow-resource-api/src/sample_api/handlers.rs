//! The sample API's routes: who am I, and a small items resource with strict input checks.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use actix_web::middleware::from_fn;
use actix_web::web::{self, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::appkey;
use super::items::{ItemStore, NewItem};
use super::{MAX_ITEM_BODY_BYTES, READ_SCOPE, SampleApi, WRITE_SCOPE};
use crate::{Authenticated, RequireScope, TokenBinding};

pub(super) fn mount(config: &mut web::ServiceConfig, api: &SampleApi) {
    // SLB authorises by audience: the validator's audience check is the whole policy.
    let scope = |scope: &str| {
        if api.authorizes_by_audience() {
            RequireScope::all(Vec::<String>::new())
        } else {
            RequireScope::all([scope])
        }
    };
    if let Some(clock) = api.clock_control() {
        config.app_data(web::Data::new(clock.clone())).service(
            web::resource("/_ccflow/clock")
                .route(web::get().to(get_clock))
                .route(web::post().to(post_clock)),
        );
    }
    // The `appkey` policy (off unless keys are configured) wraps each `/v1` resource, so it
    // answers before the token extractor and the scope checks.
    config
        .app_data(api.validator().clone())
        .app_data(web::Data::new(api.store().clone()))
        .app_data(web::Data::new(api.appkeys().clone()))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .service(
            web::resource("/v1/whoami")
                // The extractor alone guards this route: any valid token.
                .route(web::get().to(whoami))
                .default_service(web::to(|| method_not_allowed("GET")))
                .wrap(from_fn(appkey::check)),
        )
        .service(
            web::resource(super::DPOP_WHOAMI_PATH)
                // DPoP-bound tokens with their proof only, whatever the API's binding.
                .route(web::get().to(dpop_whoami).wrap(TokenBinding::Dpop))
                .default_service(web::to(|| method_not_allowed("GET")))
                .wrap(from_fn(appkey::check)),
        )
        .service(
            web::resource("/v1/items")
                .route(web::get().to(list_items).wrap(scope(READ_SCOPE)))
                .route(web::post().to(create_item).wrap(scope(WRITE_SCOPE)))
                .default_service(web::to(|| method_not_allowed("GET, POST")))
                .wrap(from_fn(appkey::check)),
        )
        .service(
            web::resource("/v1/items/{id}")
                .route(web::get().to(get_item).wrap(scope(READ_SCOPE)))
                .route(web::delete().to(delete_item).wrap(scope(WRITE_SCOPE)))
                .default_service(web::to(|| method_not_allowed("GET, DELETE")))
                .wrap(from_fn(appkey::check)),
        )
        .default_service(web::to(not_found));
}

/// Clock control answers loopback peers only: it is for tests on this machine.
fn loopback_only(request: &actix_web::HttpRequest) -> Option<HttpResponse> {
    let local = request
        .peer_addr()
        .is_some_and(|peer| peer.ip().is_loopback());
    (!local).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "clock control answers loopback peers only",
        )
    })
}

async fn get_clock(
    clock: web::Data<ccflow_protocol::VirtualClock>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    loopback_only(&request).unwrap_or_else(|| HttpResponse::Ok().json(clock.state()))
}

async fn post_clock(
    clock: web::Data<ccflow_protocol::VirtualClock>,
    request: actix_web::HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(refused) = loopback_only(&request) {
        return refused;
    }
    let applied = serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|_| "the body is not JSON")
        .and_then(|command| clock.apply_command(&command));
    match applied {
        Ok(()) => HttpResponse::Ok().json(clock.state()),
        Err(why) => error(StatusCode::BAD_REQUEST, "invalid_request", why),
    }
}

fn error(status: StatusCode, code: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": code, "error_description": description}))
}

async fn not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not support that method",
    );
    response.headers_mut().insert(
        ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    response
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the validator holds usable keys from every issuer it trusts (or needs none: HMAC
/// only), so a valid token of any of them is accepted without a fetch. Before that, 503 with
/// why, naming the first issuer without keys and its last fetch error, if one failed (the
/// error names the URL, never a token).
async fn readyz(request: HttpRequest) -> HttpResponse {
    let Some(validator) = request.app_data::<crate::Validator>() else {
        return HttpResponse::Ok().json(json!({"status": "ready"}));
    };
    let several = validator.trusted_issuers().len() > 1;
    let waiting = validator.trusted_issuers().find_map(|trusted| {
        let status = trusted.jwks_status()?;
        (status.keys == 0).then(|| (trusted.issuer(), status.last_error))
    });
    match waiting {
        Some((issuer, last_error)) => {
            // One issuer: the sentence it always was; several: which one.
            let whose = if several {
                format!("the keys of {issuer}")
            } else {
                "the issuer's keys".to_owned()
            };
            let why = last_error.map_or_else(
                || format!("{whose} are not loaded yet"),
                |error| format!("{whose} are not loaded: {error}"),
            );
            HttpResponse::ServiceUnavailable().json(json!({"status": "not_ready", "reason": why}))
        }
        None => HttpResponse::Ok().json(json!({"status": "ready"})),
    }
}

async fn whoami(auth: Authenticated) -> HttpResponse {
    let scopes: Vec<&str> = auth.scopes().iter().map(|scope| scope.as_str()).collect();
    HttpResponse::Ok().json(json!({
        "client_id": auth.client_id(),
        "subject": auth.subject(),
        "issuer": auth.issuer(),
        "scopes": scopes,
        "audiences": auth.audiences().as_slice(),
        "expires_at": auth.expires_at(),
    }))
}

/// `whoami` for a DPoP request: also the key the caller proved it holds.
async fn dpop_whoami(auth: Authenticated) -> HttpResponse {
    let scopes: Vec<&str> = auth.scopes().iter().map(|scope| scope.as_str()).collect();
    HttpResponse::Ok().json(json!({
        "client_id": auth.client_id(),
        "token_type": "DPoP",
        "jkt": auth.dpop_thumbprint(),
        "scopes": scopes,
        "expires_at": auth.expires_at(),
    }))
}

async fn list_items(store: web::Data<ItemStore>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"items": store.list()}))
}

/// Ids are decimal `u64`; anything else names no item.
fn parse_id(request: &HttpRequest) -> Option<u64> {
    let id = request.match_info().get("id")?;
    if id.is_empty() || !id.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

fn no_such_item() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "not_found", "no item with this id")
}

async fn get_item(request: HttpRequest, store: web::Data<ItemStore>) -> HttpResponse {
    match parse_id(&request).and_then(|id| store.get(id)) {
        Some(item) => HttpResponse::Ok().json(item),
        None => no_such_item(),
    }
}

async fn delete_item(request: HttpRequest, store: web::Data<ItemStore>) -> HttpResponse {
    match parse_id(&request) {
        Some(id) if store.remove(id) => HttpResponse::NoContent().finish(),
        _ => no_such_item(),
    }
}

async fn create_item(
    auth: Authenticated,
    request: HttpRequest,
    payload: web::Payload,
    store: web::Data<ItemStore>,
) -> HttpResponse {
    let body = match read_json_body(&request, payload).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let new_item = match validate_new_item(&body) {
        Ok(new_item) => new_item,
        Err(fields) => {
            return HttpResponse::UnprocessableEntity().json(json!({
                "error": "invalid_item",
                "error_description": "the item has invalid fields",
                "fields": fields,
            }));
        }
    };
    let created_by = auth.client_id().unwrap_or_default().to_owned();
    match store.insert(new_item, created_by) {
        Ok(item) => HttpResponse::Created()
            .insert_header((LOCATION, format!("/v1/items/{}", item.id)))
            .json(item),
        Err(full) => error(
            StatusCode::INSUFFICIENT_STORAGE,
            "store_full",
            &full.to_string(),
        ),
    }
}

/// Reads a JSON body: 415 unless `application/json` (or `+json`), 413 over
/// [`MAX_ITEM_BODY_BYTES`] (by `Content-Length` first, then as it streams),
/// 400 unless it parses.
async fn read_json_body(
    request: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Value, HttpResponse> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media_type| media_type.trim().to_ascii_lowercase())
        .is_some_and(|media_type| {
            media_type == "application/json" || media_type.ends_with("+json")
        });
    if !is_json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the item as application/json",
        ));
    }
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than 65536 bytes",
        )
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_ITEM_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                "the body could not be read",
            )
        })?;
        if body.len() + chunk.len() > MAX_ITEM_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not valid JSON",
        )
    })
}

/// Checks every field and reports all problems at once, keyed by field.
pub(super) fn validate_new_item(body: &Value) -> Result<NewItem, BTreeMap<String, String>> {
    let mut problems = BTreeMap::new();
    let Value::Object(fields) = body else {
        problems.insert("$".to_owned(), "must be a JSON object".to_owned());
        return Err(problems);
    };
    for name in fields.keys() {
        if !matches!(name.as_str(), "name" | "quantity" | "tags") {
            problems.insert(name.clone(), "unknown field".to_owned());
        }
    }
    let name = match fields.get("name") {
        None => Err("is required"),
        Some(Value::String(name)) => {
            let name = name.trim();
            if name.is_empty() {
                Err("must not be blank")
            } else if name.chars().count() > 100 {
                Err("must be at most 100 characters")
            } else if name.chars().any(char::is_control) {
                Err("must not contain control characters")
            } else {
                Ok(name.to_owned())
            }
        }
        Some(_) => Err("must be a string"),
    };
    let quantity = match fields.get("quantity") {
        None => Err("is required"),
        Some(Value::Number(number)) => match number.as_u64() {
            Some(quantity) if quantity <= 1_000_000 => Ok(u32::try_from(quantity).unwrap_or(0)),
            _ => Err("must be an integer from 0 to 1000000"),
        },
        Some(_) => Err("must be an integer from 0 to 1000000"),
    };
    let tags = match fields.get("tags") {
        None => Ok(Vec::new()),
        Some(Value::Array(tags)) if tags.len() > 10 => Err("must have at most 10 tags"),
        Some(Value::Array(tags)) => tags
            .iter()
            .map(|tag| match tag {
                Value::String(tag)
                    if (1..=32).contains(&tag.len())
                        && tag.bytes().all(|byte| {
                            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
                        }) =>
                {
                    Ok(tag.clone())
                }
                _ => Err("each tag must be 1 to 32 characters of a-z, 0-9 and -"),
            })
            .collect(),
        Some(_) => Err("must be an array of strings"),
    };
    for (field, result) in [
        ("name", name.as_ref().err()),
        ("quantity", quantity.as_ref().err()),
        ("tags", tags.as_ref().err()),
    ] {
        if let Some(problem) = result {
            problems.insert(field.to_owned(), (*problem).to_owned());
        }
    }
    match (name, quantity, tags) {
        (Ok(name), Ok(quantity), Ok(tags)) if problems.is_empty() => Ok(NewItem {
            name,
            quantity,
            tags,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'a> = Result<(&'a str, u32, &'a [&'a str]), &'a [(&'a str, &'a str)]>;

    #[test]
    fn validates_new_items_field_by_field() {
        #[track_caller]
        fn check(body: &Value, expected: Expected<'_>) {
            let expected = expected
                .map(|(name, quantity, tags)| NewItem {
                    name: name.to_owned(),
                    quantity,
                    tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
                })
                .map_err(|problems| {
                    problems
                        .iter()
                        .map(|(field, problem)| ((*field).to_owned(), (*problem).to_owned()))
                        .collect::<BTreeMap<_, _>>()
                });
            assert_eq!(validate_new_item(body), expected, "{body}");
        }
        check(
            &json!({"name": " bolt ", "quantity": 3}),
            Ok(("bolt", 3, &[])),
        );
        check(
            &json!({"name": "nut", "quantity": 0, "tags": ["m6", "steel-a2"]}),
            Ok(("nut", 0, &["m6", "steel-a2"])),
        );
        check(&json!([]), Err(&[("$", "must be a JSON object")]));
        check(
            &json!({}),
            Err(&[("name", "is required"), ("quantity", "is required")]),
        );
        check(
            &json!({"name": "  ", "quantity": -1, "extra": true}),
            Err(&[
                ("extra", "unknown field"),
                ("name", "must not be blank"),
                ("quantity", "must be an integer from 0 to 1000000"),
            ]),
        );
        check(
            &json!({"name": "x".repeat(101), "quantity": 1.5}),
            Err(&[
                ("name", "must be at most 100 characters"),
                ("quantity", "must be an integer from 0 to 1000000"),
            ]),
        );
        check(
            &json!({"name": "a\u{7}b", "quantity": "1", "tags": "x"}),
            Err(&[
                ("name", "must not contain control characters"),
                ("quantity", "must be an integer from 0 to 1000000"),
                ("tags", "must be an array of strings"),
            ]),
        );
        check(
            &json!({"name": 1, "quantity": 1_000_001, "tags": ["UPPER"]}),
            Err(&[
                ("name", "must be a string"),
                ("quantity", "must be an integer from 0 to 1000000"),
                (
                    "tags",
                    "each tag must be 1 to 32 characters of a-z, 0-9 and -",
                ),
            ]),
        );
        check(
            &json!({"name": "n", "quantity": 1, "tags": vec!["t"; 11]}),
            Err(&[("tags", "must have at most 10 tags")]),
        );
    }
}
