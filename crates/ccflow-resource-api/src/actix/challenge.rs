//! RFC 6750 §3 rendering: each refusal as one status, one `WWW-Authenticate` challenge and
//! the same error code and description as a JSON body.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use ccflow_protocol::{BearerChallenge, ErrorCode, ErrorResponse};

use crate::error::{AuthError, RequestRejection};
use crate::validator::{DEFAULT_REALM, Validator};

impl Validator {
    /// The RFC 6750 answer to an error, with this validator's realm.
    pub fn error_response(&self, error: &AuthError) -> HttpResponse {
        error_response(self.realm(), error)
    }
}

/// The answer to a refusal with the validator's realm, or the default realm when the route has
/// no validator to ask.
pub(super) fn refusal(validator: Option<&Validator>, error: &AuthError) -> HttpResponse {
    match validator {
        Some(validator) => validator.error_response(error),
        None => error_response(DEFAULT_REALM, error),
    }
}

/// The RFC 6750 §3 answer: the challenge in `WWW-Authenticate` and the same
/// code and description as JSON, `Cache-Control: no-store` on every refusal.
fn error_response(realm: &str, error: &AuthError) -> HttpResponse {
    let description = error.to_string();
    let (status, challenge, body) = match error {
        // RFC 6750 §3.1: no error code when the request had no credentials.
        AuthError::MissingToken => (
            StatusCode::UNAUTHORIZED,
            Some(BearerChallenge::new().realm(realm)),
            serde_json::json!({ "error_description": missing_token_description() }),
        ),
        AuthError::InvalidRequest(rejection) => {
            let status = match rejection {
                RequestRejection::FormBodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            (
                status,
                Some(
                    BearerChallenge::new()
                        .realm(realm)
                        .error(ErrorCode::InvalidRequest, description.clone()),
                ),
                body(ErrorCode::InvalidRequest, &description),
            )
        }
        AuthError::InvalidToken(_) => (
            StatusCode::UNAUTHORIZED,
            Some(
                BearerChallenge::new()
                    .realm(realm)
                    .error(ErrorCode::InvalidToken, description.clone()),
            ),
            body(ErrorCode::InvalidToken, &description),
        ),
        AuthError::InsufficientScope { required, .. } => {
            let mut challenge = BearerChallenge::new()
                .realm(realm)
                .error(ErrorCode::InsufficientScope, description.clone());
            if !required.is_empty() {
                challenge = challenge.scope(required.join(" "));
            }
            (
                StatusCode::FORBIDDEN,
                Some(challenge),
                body(ErrorCode::InsufficientScope, &description),
            )
        }
        AuthError::KeysUnavailable { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            body(ErrorCode::TemporarilyUnavailable, &description),
        ),
        AuthError::NotConfigured => (
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            // Opaque on the wire; the cause is logged.
            body(ErrorCode::ServerError, "internal server error"),
        ),
    };
    let mut response = HttpResponse::build(status);
    response.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if let Some(challenge) = challenge
        && let Ok(value) = HeaderValue::from_str(&challenge.to_header_value())
    {
        response.insert_header((WWW_AUTHENTICATE, value));
    }
    if let AuthError::KeysUnavailable { retry_after } = error {
        // Whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3).
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        response.insert_header((RETRY_AFTER, seconds.max(1).to_string()));
    }
    response.json(body)
}

fn missing_token_description() -> &'static str {
    "this resource needs an access token: send `Authorization: Bearer <token>` (RFC 6750 section 2.1)"
}

fn body(code: ErrorCode, description: &str) -> serde_json::Value {
    serde_json::to_value(ErrorResponse::new(code, description))
        .unwrap_or_else(|_| serde_json::json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_token_challenge_has_no_error_code() {
        let response = error_response("ccflow", &AuthError::MissingToken);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(WWW_AUTHENTICATE).unwrap(),
            r#"Bearer realm="ccflow""#
        );
        assert_eq!(response.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    }

    #[test]
    fn maps_each_error_to_one_status_and_challenge() {
        #[track_caller]
        fn check(error: impl Into<AuthError>, status: u16, challenge: Option<&str>) {
            let error = error.into();
            let response = error_response("api", &error);
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            let header = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .map(|value| value.to_str().unwrap().to_owned());
            assert_eq!(header.as_deref(), challenge, "{error:?}");
        }
        check(
            RequestRejection::TokenInQuery,
            400,
            Some(
                r#"Bearer realm="api", error="invalid_request", error_description="access tokens are accepted only in the Authorization header, not in the query string (RFC 6750 section 2.3)""#,
            ),
        );
        check(
            RequestRejection::FormBodyTooLarge { limit: 10 },
            413,
            Some(
                r#"Bearer realm="api", error="invalid_request", error_description="the form body is larger than 10 bytes""#,
            ),
        );
        check(
            crate::TokenRejection::Expired,
            401,
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="the token expired""#,
            ),
        );
        check(
            AuthError::InsufficientScope {
                required: vec!["a".to_owned(), "b".to_owned()],
                description: "the token lacks the scope b".to_owned(),
            },
            403,
            Some(
                r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scope b", scope="a b""#,
            ),
        );
        check(
            AuthError::KeysUnavailable {
                retry_after: std::time::Duration::from_millis(1500),
            },
            503,
            None,
        );
        check(AuthError::NotConfigured, 500, None);
    }

    #[test]
    fn rounds_retry_after_up_to_whole_seconds() {
        #[track_caller]
        fn check(millis: u64, expected: &str) {
            let response = error_response(
                "api",
                &AuthError::KeysUnavailable {
                    retry_after: std::time::Duration::from_millis(millis),
                },
            );
            assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), expected);
        }
        check(0, "1");
        check(1500, "2");
        check(5000, "5");
    }
}
