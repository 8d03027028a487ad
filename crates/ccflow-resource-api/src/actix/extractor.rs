//! The `Authenticated` extractor: a handler argument that holds a validated token's claims,
//! validating the `Authorization` header itself unless a policy middleware already did.

use std::future::{Future, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};

use crate::actix::challenge::refusal;
use crate::actix::policy::{Policy, owned};
use crate::claims::Claims;
use crate::error::AuthError;
use crate::token;
use crate::validator::Validator;

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
        Policy::AllScopes(owned(scopes)).check(&self.claims)
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

pub(super) fn validator_of(request: &HttpRequest) -> Option<Validator> {
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
    let response = refusal(validator, &error);
    actix_web::error::InternalError::from_response(error, response).into()
}

pub(super) fn log_rejection(request: &HttpRequest, error: &AuthError) {
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
}
