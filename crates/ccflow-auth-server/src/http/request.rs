//! Reading a request: header values, the body under its size limit, and what a fault
//! scenario's matcher sees of it (the probe, also the journal's view of the parameters).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use ccflow_protocol::ErrorResponse;
use futures_util::StreamExt as _;

use crate::control::scenarios::Probe;

pub(super) fn header_str(request: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Reads the body, refusing more than `max_bytes` with 413.
pub(super) async fn read_body(
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

/// What a fault scenario's matcher sees of a request, read leniently (a malformed request can
/// still be selected by a scenario without a client filter).
pub(super) fn probe(
    request: &HttpRequest,
    body: &[u8],
    basic: ccflow_protocol::BasicCredentials,
) -> Probe {
    let mut probe = Probe::default();
    let params = match header_str(request, header::CONTENT_TYPE) {
        Some(ct) if ccflow_protocol::media::is_json(ct) => {
            ccflow_protocol::FormParams::from_json_body(body, &["resource", "audience"]).ok()
        }
        _ => std::str::from_utf8(body)
            .ok()
            .and_then(|text| ccflow_protocol::FormParams::parse(text).ok()),
    };
    if let Some(params) = &params {
        probe.client_id = params.get("client_id").map(str::to_owned);
        probe.grant_type = params.get("grant_type").map(str::to_owned);
        probe.params = crate::control::journal::redacted_params(params);
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
    if let Some(Ok(decoded)) = header_str(request, header::AUTHORIZATION)
        .map(|value| ccflow_protocol::parse_basic_authorization_as(basic, value))
    {
        probe.client_id = Some(decoded.client_id.as_str().to_owned());
    }
    probe
}
