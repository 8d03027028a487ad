//! The result of authenticating a request: the validated token's claims and how the token was
//! presented (Bearer, or DPoP with the proven key). Framework-free; the extractors of the same
//! name are `actix::extractor`'s `FromRequest` and `axum`'s `FromRequestParts` impls.

use std::ops::Deref;
use std::sync::Arc;

use crate::claims::Claims;
use crate::dpop::TokenBinding;
use crate::error::{AuthError, TokenRejection};
use crate::policy::{Policy, owned};
use crate::validator::TrustedIssuer;

/// A request whose bearer token was validated; its claims are one `Deref` away.
///
/// As an extractor (actix-web or axum) it validates the `Authorization` header (and refuses an
/// `access_token` in the query); behind one of the middlewares or layers it reuses their
/// result, so a token is validated once per request. With actix the
/// [`Validator`](crate::Validator) must be registered with `App::app_data` (directly or as
/// `web::Data<Validator>`); with axum, a `ValidatorLayer` (or an
/// `Extension(validator)`) must be around the route.
#[cfg_attr(
    feature = "actix",
    doc = r#"
```
use actix_web::{HttpResponse, get};
use ccflow_resource_api::Authenticated;

#[get("/v1/whoami")]
async fn whoami(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().body(auth.client_id().unwrap_or("unknown").to_owned())
}
```
"#
)]
#[derive(Debug, Clone)]
pub struct Authenticated {
    claims: Arc<Claims>,
    issuer: Arc<TrustedIssuer>,
    dpop_jkt: Option<Arc<str>>,
    certificate_thumbprint: Option<Arc<str>>,
}

impl Authenticated {
    pub(crate) fn new(
        (claims, issuer): (Claims, Arc<TrustedIssuer>),
        dpop_jkt: Option<String>,
        certificate_thumbprint: Option<String>,
    ) -> Self {
        Self {
            claims: Arc::new(claims),
            issuer,
            dpop_jkt: dpop_jkt.map(Arc::from),
            certificate_thumbprint: certificate_thumbprint.map(Arc::from),
        }
    }

    /// For a certificate-bound token (RFC 8705 §3), the `x5t#S256` thumbprint of the client
    /// certificate the request presented, which matched the token's `cnf`; `None` for a token
    /// that is not certificate-bound.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.certificate_thumbprint.as_deref()
    }

    /// Whether the token came as `Authorization: DPoP` with a valid proof of its key
    /// (RFC 9449 §7.1); `false` for a Bearer token.
    pub fn is_dpop(&self) -> bool {
        self.dpop_jkt.is_some()
    }

    /// The RFC 7638 thumbprint of the key the request proved it holds (the token's `cnf.jkt`),
    /// for a DPoP request.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// The trusted issuer whose keys verified the token (its `iss`): with a validator trusting
    /// several issuers, which one matched, and its settings.
    pub fn trusted_issuer(&self) -> &TrustedIssuer {
        &self.issuer
    }

    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// For a route with its own `binding`, a request an outer policy already authenticated:
    /// how the token came must be one the binding accepts.
    pub(crate) fn check_binding(&self, binding: TokenBinding) -> Result<(), AuthError> {
        if self.is_dpop() && !binding.accepts_dpop() {
            // For this binding `Authorization: DPoP` is not a scheme it knows.
            return Err(AuthError::MissingToken);
        }
        if !self.is_dpop() && !binding.accepts_bearer() {
            return Err(TokenRejection::DpopRequired.into());
        }
        Ok(())
    }

    /// Fails with 403 `insufficient_scope` unless the token has every scope (or its issuer
    /// authorises by audience alone).
    pub fn require_scopes<I, S>(&self, scopes: I) -> Result<(), AuthError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Policy::AllScopes(owned(scopes)).check(&self.claims, self.issuer.authorizes_by_audience())
    }
}

impl Deref for Authenticated {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.claims
    }
}

/// The order both adapters follow: a request an outer layer authenticated keeps that
/// result (a route binding then checks how its token came); otherwise `authenticate` runs
/// with the route's binding, else `default_binding`; then the policy's own check.
pub(crate) async fn authorize(
    policy: &Policy,
    known: Option<Authenticated>,
    default_binding: TokenBinding,
    authenticate: impl AsyncFnOnce(TokenBinding) -> Result<Authenticated, AuthError>,
) -> Result<Authenticated, AuthError> {
    let route_binding = match policy {
        Policy::Binding(binding) => Some(*binding),
        _ => None,
    };
    let authenticated = match known {
        Some(authenticated) => {
            if let Some(binding) = route_binding {
                authenticated.check_binding(binding)?;
            }
            authenticated
        }
        None => authenticate(route_binding.unwrap_or(default_binding)).await?,
    };
    policy.check(
        authenticated.claims(),
        authenticated.trusted_issuer().authorizes_by_audience(),
    )?;
    Ok(authenticated)
}
