//! actix-web integration: the `Authenticated` extractor, per-route policy middlewares
//! (`RequireScope`, `RequireAudience`, `RequireToken`) and the RFC 6750 error responses.

use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, web};
use ccflow_protocol::{BearerChallenge, ErrorCode, ErrorResponse};
use futures_util::StreamExt as _;

use crate::claims::Claims;
use crate::error::{AuthError, RequestRejection};
use crate::token;
use crate::validator::Validator;

/// The largest form body the middlewares read to look for an `access_token`
/// parameter; bigger form bodies on protected routes are refused with 413.
pub const MAX_FORM_BODY_BYTES: usize = 64 * 1024;

/// A request whose bearer token was validated; its claims are one `Deref` away.
///
/// As an extractor it validates the `Authorization` header (and refuses an
/// `access_token` in the query); behind one of the middlewares it reuses their
/// result, so a token is validated once per request. The [`Validator`] must be
/// registered with `App::app_data` (directly or as `web::Data<Validator>`).
///
/// ```
/// use actix_web::{HttpResponse, get};
/// use ccflow_resource_api::Authenticated;
///
/// #[get("/v1/whoami")]
/// async fn whoami(auth: Authenticated) -> HttpResponse {
///     HttpResponse::Ok().body(auth.client_id().unwrap_or("unknown").to_owned())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Authenticated {
    claims: Arc<Claims>,
}

impl Authenticated {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Fails with 403 `insufficient_scope` unless the token has every scope.
    pub fn require_scopes<I, S>(&self, scopes: I) -> Result<(), AuthError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Policy::AllScopes(scopes.into_iter().map(Into::into).collect()).check(&self.claims)
    }
}

impl Deref for Authenticated {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.claims
    }
}

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        if let Some(authenticated) = request.extensions().get::<Authenticated>() {
            let authenticated = authenticated.clone();
            return Box::pin(ready(Ok(authenticated)));
        }
        let request = request.clone();
        Box::pin(async move {
            let Some(validator) = validator_of(&request) else {
                return Err(rejection(None, &request, AuthError::NotConfigured));
            };
            match validator.authenticate(&request).await {
                Ok(authenticated) => {
                    request.extensions_mut().insert(authenticated.clone());
                    Ok(authenticated)
                }
                Err(error) => Err(rejection(Some(&validator), &request, error)),
            }
        })
    }
}

fn validator_of(request: &HttpRequest) -> Option<Validator> {
    request.app_data::<Validator>().cloned().or_else(|| {
        request
            .app_data::<web::Data<Validator>>()
            .map(|data| Validator::clone(data))
    })
}

/// Logs a refusal (never the token) and turns it into an actix error whose
/// response is the RFC 6750 answer.
fn rejection(
    validator: Option<&Validator>,
    request: &HttpRequest,
    error: AuthError,
) -> actix_web::Error {
    log_rejection(request, &error);
    let response = match validator {
        Some(validator) => validator.error_response(&error),
        None => error_response(crate::validator::DEFAULT_REALM, &error),
    };
    actix_web::error::InternalError::from_response(error, response).into()
}

fn log_rejection(request: &HttpRequest, error: &AuthError) {
    match error {
        AuthError::NotConfigured => tracing::error!(
            path = request.path(),
            "a protected route has no ccflow_resource_api::Validator in its app data"
        ),
        AuthError::KeysUnavailable { .. } => tracing::warn!(
            path = request.path(),
            %error,
            "refused a request: no signing keys"
        ),
        _ => tracing::debug!(
            target: "ccflow_resource_api::auth",
            method = %request.method(),
            path = request.path(),
            %error,
            "refused a request"
        ),
    }
}

impl Validator {
    /// Finds and validates the request's bearer token (header only; an
    /// `access_token` in the query is refused). This is what the extractor
    /// does; the middlewares also check form bodies.
    pub async fn authenticate(&self, request: &HttpRequest) -> Result<Authenticated, AuthError> {
        let token = token::bearer_token(request.headers(), request.query_string())?;
        let claims = self.validate(token).await?;
        Ok(Authenticated {
            claims: Arc::new(claims),
        })
    }

    /// The RFC 6750 answer to an error, with this validator's realm.
    pub fn error_response(&self, error: &AuthError) -> HttpResponse {
        error_response(self.realm(), error)
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

/// What a route demands of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Policy {
    Token,
    AllScopes(Vec<String>),
    AnyScope(Vec<String>),
    AnyAudience(Vec<String>),
}

impl Policy {
    fn check(&self, claims: &Claims) -> Result<(), AuthError> {
        match self {
            Policy::Token => Ok(()),
            Policy::AllScopes(required) => {
                let missing: Vec<&String> = required
                    .iter()
                    .filter(|scope| !claims.has_scope(scope))
                    .collect();
                if missing.is_empty() {
                    return Ok(());
                }
                let missing: Vec<&str> = missing.iter().map(|scope| scope.as_str()).collect();
                Err(AuthError::InsufficientScope {
                    required: required.clone(),
                    description: format!("the token lacks the scope {}", missing.join(", ")),
                })
            }
            Policy::AnyScope(accepted) => {
                if accepted.is_empty() || accepted.iter().any(|scope| claims.has_scope(scope)) {
                    return Ok(());
                }
                Err(AuthError::InsufficientScope {
                    required: accepted.clone(),
                    description: format!(
                        "the token has none of the scopes {}",
                        accepted.join(", ")
                    ),
                })
            }
            Policy::AnyAudience(accepted) => {
                if accepted.is_empty()
                    || accepted
                        .iter()
                        .any(|audience| claims.audiences().contains(audience))
                {
                    return Ok(());
                }
                // SLB-style audiences are requested through the `scope`
                // parameter, so the challenge's `scope` names what to ask for.
                Err(AuthError::InsufficientScope {
                    required: accepted.clone(),
                    description: format!(
                        "the token's audience includes none of {}",
                        accepted.join(", ")
                    ),
                })
            }
        }
    }
}

/// Middleware: the route needs a valid token with scopes (403
/// `insufficient_scope` otherwise). Scopes are read from `scope` or `scp`.
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use ccflow_resource_api::RequireScope;
///
/// let app = App::new().service(
///     web::resource("/v1/items")
///         .route(web::get().to(HttpResponse::Ok).wrap(RequireScope::all(["items:read"])))
///         .route(web::post().to(HttpResponse::Created).wrap(RequireScope::all(["items:write"]))),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct RequireScope {
    policy: Arc<Policy>,
}

impl RequireScope {
    /// Every scope listed is required (an empty list requires none).
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            policy: Arc::new(Policy::AllScopes(
                scopes.into_iter().map(Into::into).collect(),
            )),
        }
    }

    /// Any one of the scopes listed is enough (an empty list requires none).
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            policy: Arc::new(Policy::AnyScope(
                scopes.into_iter().map(Into::into).collect(),
            )),
        }
    }
}

/// Middleware: the token's `aud` must include one of these audiences, beyond
/// the validator's own audience check. For issuers that authorise by
/// audience rather than scope, as SLB does (see VENDORS.md).
#[derive(Debug, Clone)]
pub struct RequireAudience {
    policy: Arc<Policy>,
}

impl RequireAudience {
    /// Any one of the audiences listed is enough (an empty list requires none).
    pub fn any<I, S>(audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            policy: Arc::new(Policy::AnyAudience(
                audiences.into_iter().map(Into::into).collect(),
            )),
        }
    }
}

/// Middleware: any valid token, for a whole scope of routes.
#[derive(Debug, Clone, Default)]
pub struct RequireToken;

impl RequireScope {
    fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
    }
}

impl RequireAudience {
    fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
    }
}

impl RequireToken {
    fn policy(&self) -> Arc<Policy> {
        Arc::new(Policy::Token)
    }
}

/// The three middlewares differ only in their policy; one `Transform` each,
/// all building the same service.
macro_rules! policy_transform {
    ($middleware:ty) => {
        impl<S, B> Transform<S, ServiceRequest> for $middleware
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
                + 'static,
            B: MessageBody + 'static,
        {
            type Response = ServiceResponse<EitherBody<B>>;
            type Error = actix_web::Error;
            type Transform = PolicyMiddleware<S>;
            type InitError = ();
            type Future = Ready<Result<Self::Transform, Self::InitError>>;

            fn new_transform(&self, service: S) -> Self::Future {
                ready(Ok(PolicyMiddleware {
                    service: Rc::new(service),
                    policy: self.policy(),
                }))
            }
        }
    };
}

policy_transform!(RequireScope);
policy_transform!(RequireAudience);
policy_transform!(RequireToken);

/// The service the policy middlewares wrap a route in.
#[derive(Debug)]
pub struct PolicyMiddleware<S> {
    service: Rc<S>,
    policy: Arc<Policy>,
}

impl<S, B> Service<ServiceRequest> for PolicyMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let validator = validator_of(request.request());
            let outcome = match &validator {
                Some(validator) => authorize(validator, &mut request, &policy).await,
                None => Err(AuthError::NotConfigured),
            };
            match outcome {
                Ok(authenticated) => {
                    request.extensions_mut().insert(authenticated);
                    service
                        .call(request)
                        .await
                        .map(ServiceResponse::map_into_left_body)
                }
                Err(error) => {
                    log_rejection(request.request(), &error);
                    let response = match &validator {
                        Some(validator) => validator.error_response(&error),
                        None => error_response(crate::validator::DEFAULT_REALM, &error),
                    };
                    Ok(request.into_response(response).map_into_right_body())
                }
            }
        })
    }
}

/// Authenticates once per request (an outer middleware's result is reused),
/// checks the form-body transport, then the policy.
async fn authorize(
    validator: &Validator,
    request: &mut ServiceRequest,
    policy: &Policy,
) -> Result<Authenticated, AuthError> {
    let known = request.extensions().get::<Authenticated>().cloned();
    let authenticated = match known {
        Some(authenticated) => authenticated,
        None => {
            check_form_body(request).await?;
            validator.authenticate(request.request()).await?
        }
    };
    policy.check(&authenticated.claims)?;
    Ok(authenticated)
}

/// RFC 6750 §2.2's form-body transport is not supported, and a token there
/// besides the header breaks §2's one-method rule: either way 400. The body is
/// read (up to [`MAX_FORM_BODY_BYTES`]) and put back for the handler.
async fn check_form_body(request: &mut ServiceRequest) -> Result<(), AuthError> {
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Ok(());
    }
    let too_large = RequestRejection::FormBodyTooLarge {
        limit: MAX_FORM_BODY_BYTES,
    };
    let mut payload = request.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        // Never hand the handler a silently truncated body.
        let chunk = chunk.map_err(|_| RequestRejection::UnreadableBody)?;
        if body.len() + chunk.len() > MAX_FORM_BODY_BYTES {
            return Err(too_large.into());
        }
        body.extend_from_slice(&chunk);
    }
    let body: Bytes = body.freeze();
    let has_token = token::form_has_access_token(&body);
    request.set_payload(Payload::from(body));
    if has_token {
        let in_header = request
            .headers()
            .contains_key(actix_web::http::header::AUTHORIZATION);
        return Err(if in_header {
            RequestRejection::MultipleTransports
        } else {
            RequestRejection::TokenInBody
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ccflow_protocol::Audience;
    use serde_json::json;

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

    fn claims(scope: &str, aud: &[&str]) -> Claims {
        let all = json!({
            "iss": "https://i.test", "aud": aud, "exp": 4_000_000_000_u64, "scope": scope
        });
        let serde_json::Value::Object(all) = all else {
            unreachable!()
        };
        let audiences: Vec<String> = aud.iter().map(|a| (*a).to_owned()).collect();
        let rules = crate::claims::ClaimRules {
            issuer: "https://i.test",
            audiences: &audiences,
            leeway: std::time::Duration::ZERO,
            now: std::time::UNIX_EPOCH,
        };
        Claims::check(all, &rules, jsonwebtoken::Algorithm::RS256, None).unwrap()
    }

    #[test]
    fn policies_check_scopes_and_audiences() {
        #[track_caller]
        fn check(policy: &Policy, claims: &Claims, expected: Result<(), (&[&str], &str)>) {
            let expected =
                expected.map_err(|(required, description)| AuthError::InsufficientScope {
                    required: required.iter().map(|s| (*s).to_owned()).collect(),
                    description: description.to_owned(),
                });
            assert_eq!(policy.check(claims), expected, "{policy:?}");
        }
        let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let token = claims("items:read other", &["api", "slb-svc"]);
        assert_eq!(token.audiences(), &Audience::many(["api", "slb-svc"]));
        check(&Policy::Token, &token, Ok(()));
        check(&Policy::AllScopes(scopes(&["items:read"])), &token, Ok(()));
        check(&Policy::AllScopes(vec![]), &token, Ok(()));
        check(
            &Policy::AllScopes(scopes(&["items:read", "items:write"])),
            &token,
            Err((
                &["items:read", "items:write"],
                "the token lacks the scope items:write",
            )),
        );
        check(&Policy::AnyScope(scopes(&["x", "other"])), &token, Ok(()));
        check(
            &Policy::AnyScope(scopes(&["x", "y"])),
            &token,
            Err((&["x", "y"], "the token has none of the scopes x, y")),
        );
        check(&Policy::AnyAudience(scopes(&["slb-svc"])), &token, Ok(()));
        check(
            &Policy::AnyAudience(scopes(&["delfi"])),
            &token,
            Err((&["delfi"], "the token's audience includes none of delfi")),
        );
    }
}
