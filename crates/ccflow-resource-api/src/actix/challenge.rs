//! The actix rendering of every refusal: the framework-free [`Refusal`](crate::Refusal)
//! (status, RFC 6750 §3 / RFC 9449 §7.1 challenges, `DPoP-Nonce`, JSON body) copied into an
//! `HttpResponse`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};

use crate::dpop::TokenBinding;
use crate::error::AuthError;
#[cfg(test)]
use crate::refusal::{ChallengeContext, render};
use crate::refusal::{Refusal, refusal_for};
use crate::token::TokenScheme;
use crate::validator::Validator;

impl Validator {
    /// The RFC 6750 answer to an error, with this validator's realm, for a route with the
    /// validator's [`token_binding`](Validator::token_binding) and a Bearer request (see
    /// [`refusal`](Validator::refusal) for other routes and DPoP requests).
    pub fn error_response(&self, error: &AuthError) -> HttpResponse {
        to_response(&self.refusal(error, self.token_binding(), Some(TokenScheme::Bearer)))
    }
}

/// The answer to a refusal on a route that accepts tokens as `binding` says (the validator's
/// own binding when `None`) for a request presented with `scheme`, or the default realm's
/// Bearer answer when the route has no validator to ask.
pub(super) fn refusal(
    validator: Option<&Validator>,
    error: &AuthError,
    binding: Option<TokenBinding>,
    scheme: Option<TokenScheme>,
) -> HttpResponse {
    to_response(&refusal_for(validator, error, binding, scheme))
}

/// The Bearer-only answer with `realm`, for a route without a validator.
#[cfg(test)]
fn error_response(realm: &str, error: &AuthError) -> HttpResponse {
    to_response(&render(
        &ChallengeContext {
            realm,
            binding: TokenBinding::Bearer,
            dpop_request: false,
            algs: "",
            nonce: None,
        },
        error,
    ))
}

fn to_response(refusal: &Refusal) -> HttpResponse {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in &refusal.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.append_header((name, value));
        }
    }
    response.json(&refusal.body)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};

    use super::*;
    use crate::error::RequestRejection;

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
