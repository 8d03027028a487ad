//! Fault rendering: the answer of a scenario's fault that replaces the endpoint's own, and
//! the reshaping of a successful token response.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ccflow_protocol::{ErrorCode, ErrorResponse, Fault};

use super::request::header_str;
use super::respond::{JSON, builder, error_response, json};
use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::EndpointError;

/// The answer of a fault that replaces the endpoint's own.
pub(super) fn fault_response(
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
pub(super) fn reshape_token(
    server: &AuthServer,
    fault: &Fault,
    mut body: serde_json::Value,
) -> HttpResponse {
    let content_type = server.spec().content_type;
    match fault {
        Fault::ExpiresIn { seconds } => body["expires_in"] = serde_json::json!(seconds),
        Fault::MissingTokenType => {
            if let Some(object) = body.as_object_mut() {
                object.remove("token_type");
            }
        }
        Fault::MissingExpiresIn => {
            if let Some(object) = body.as_object_mut() {
                object.remove("expires_in");
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
