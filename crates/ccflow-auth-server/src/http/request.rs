//! Reading a request: header values, the body under its size limit, and what a fault
//! scenario's matcher sees of it (the probe, also the journal's view of the parameters).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use ccflow_protocol::{AuthMethod, ErrorResponse};
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
    }
    // The method as the endpoint will read it (the same parser): where the request's client
    // authentication cannot be read, only a broken Basic header still names a method.
    let authorization = header_str(request, header::AUTHORIZATION);
    let empty = ccflow_protocol::FormParams::default();
    match ccflow_protocol::ClientAuthentication::from_request_with(
        basic,
        authorization,
        params.as_ref().unwrap_or(&empty),
    ) {
        Ok(authentication) => {
            probe.auth_method =
                Some(authentication.method()).filter(|method| *method != AuthMethod::None);
            if let Some(client_id) = authentication.client_id() {
                probe.client_id = Some(client_id.as_str().to_owned());
            }
        }
        Err(error) => {
            probe.auth_method = error
                .basic_attempted()
                .then_some(AuthMethod::ClientSecretBasic);
            // Basic with a body secret or assertion is refused, yet names its client (the
            // throttle and client-filtered scenarios key on it).
            if let Some(Ok(decoded)) = authorization
                .map(|value| ccflow_protocol::parse_basic_authorization_as(basic, value))
            {
                probe.auth_method = Some(AuthMethod::ClientSecretBasic);
                probe.client_id = Some(decoded.client_id.as_str().to_owned());
            }
        }
    }
    probe
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use ccflow_protocol::{AuthMethod, BasicCredentials};

    use super::probe;

    /// `Basic svc:pw` in the RFC 6749 form.
    const BASIC_SVC: &str = "Basic c3ZjOnB3";

    /// The method and the client id the probe reads.
    type Read = (Option<AuthMethod>, Option<&'static str>);

    fn check(authorization: Option<&str>, body: &str, expected: Read) {
        let mut request = TestRequest::post()
            .insert_header(("content-type", "application/x-www-form-urlencoded"));
        if let Some(value) = authorization {
            request = request.insert_header(("authorization", value));
        }
        let probe = probe(
            &request.to_http_request(),
            body.as_bytes(),
            BasicCredentials::Rfc6749,
        );
        assert_eq!(
            (probe.auth_method, probe.client_id.as_deref()),
            expected,
            "{authorization:?} {body}"
        );
    }

    #[test]
    fn the_probe_names_the_method_the_endpoint_will_read() {
        let assertion = "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x.y.z";
        let cases: [(Option<&str>, String, Read); 8] = [
            (
                Some(BASIC_SVC),
                "grant_type=client_credentials".to_owned(),
                (Some(AuthMethod::ClientSecretBasic), Some("svc")),
            ),
            (
                None,
                "client_id=svc&client_secret=pw".to_owned(),
                (Some(AuthMethod::ClientSecretPost), Some("svc")),
            ),
            (
                None,
                format!("client_id=svc&{assertion}"),
                (Some(AuthMethod::PrivateKeyJwt), Some("svc")),
            ),
            (None, "client_id=svc".to_owned(), (None, Some("svc"))),
            // A broken Basic header still names the method (RFC 6749 §5.2 answers with Basic).
            (
                Some("Basic !!!"),
                String::new(),
                (Some(AuthMethod::ClientSecretBasic), None),
            ),
            // Basic and a body secret: refused (RFC 6749 §2.3), the header's client named.
            (
                Some(BASIC_SVC),
                "client_id=other&client_secret=pw".to_owned(),
                (Some(AuthMethod::ClientSecretBasic), Some("svc")),
            ),
            // A secret and an assertion: refused, no method can be read.
            (
                None,
                format!("client_id=svc&client_secret=pw&{assertion}"),
                (None, Some("svc")),
            ),
            // An assertion without its type: refused, no method.
            (
                None,
                "client_id=svc&client_assertion=x.y.z".to_owned(),
                (None, Some("svc")),
            ),
        ];
        for (authorization, body, expected) in cases {
            check(authorization, &body, expected);
        }
    }
}
