//! What a route demands of a valid token (any token, all or any of some scopes, one of some
//! audiences, a token binding), checked against its claims; the public policy types
//! (`RequireScope`, `RequireAudience`, `RequireToken`) that the actix middlewares and the axum
//! layers both are, and `require_scopes` share it.

use std::sync::Arc;

use crate::claims::Claims;
use crate::dpop::TokenBinding;
use crate::error::AuthError;

/// What a route demands of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Policy {
    Token,
    AllScopes(Vec<String>),
    AnyScope(Vec<String>),
    AnyAudience(Vec<String>),
    /// The route's own token binding: checked when authenticating, nothing to check after.
    Binding(crate::dpop::TokenBinding),
}

impl Policy {
    /// `authorize_by_audience`: the token's issuer authorises by audience alone
    /// ([`IssuerSettings::authorize_by_audience`](crate::IssuerSettings::authorize_by_audience)),
    /// so scope requirements pass; audience requirements still apply.
    pub(crate) fn check(
        &self,
        claims: &Claims,
        authorize_by_audience: bool,
    ) -> Result<(), AuthError> {
        match self {
            Policy::Token | Policy::Binding(_) => Ok(()),
            Policy::AllScopes(_) | Policy::AnyScope(_) if authorize_by_audience => Ok(()),
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

/// Middleware (actix) or layer (axum): the route needs a valid token with scopes (403
/// `insufficient_scope` otherwise). Scopes are read from `scope` or `scp` (or the one claim
/// its issuer's [`scope_claim`](crate::IssuerSettings::scope_claim) names); a token of an
/// issuer that [authorises by audience](crate::IssuerSettings::authorize_by_audience) needs
/// none.
///
/// As an actix middleware (`.wrap`); as an axum layer (`route_layer`), see `ValidatorLayer`.
#[cfg_attr(
    feature = "actix",
    doc = r#"
```
use actix_web::{App, HttpResponse, web};
use ccflow_resource_api::RequireScope;

let app = App::new().service(
    web::resource("/v1/items")
        .route(web::get().to(HttpResponse::Ok).wrap(RequireScope::all(["items:read"])))
        .route(web::post().to(HttpResponse::Created).wrap(RequireScope::all(["items:write"]))),
);
```
"#
)]
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
            policy: Arc::new(Policy::AllScopes(owned(scopes))),
        }
    }

    /// Any one of the scopes listed is enough (an empty list requires none).
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            policy: Arc::new(Policy::AnyScope(owned(scopes))),
        }
    }
}

/// Middleware (actix) or layer (axum): the token's `aud` must include one of these audiences, beyond
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
            policy: Arc::new(Policy::AnyAudience(owned(audiences))),
        }
    }
}

/// Middleware (actix) or layer (axum): any valid token, for a whole scope of routes.
#[derive(Debug, Clone, Default)]
pub struct RequireToken;

impl RequireScope {
    pub(crate) fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
    }
}

impl RequireAudience {
    pub(crate) fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
    }
}

impl RequireToken {
    pub(crate) fn policy(&self) -> Arc<Policy> {
        Arc::new(Policy::Token)
    }
}

impl TokenBinding {
    pub(crate) fn policy(&self) -> Arc<Policy> {
        Arc::new(Policy::Binding(*self))
    }
}

/// The owned list a policy keeps, from whatever list of strings the caller has.
pub(crate) fn owned<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use ccflow_protocol::Audience;
    use serde_json::json;

    use super::*;

    fn claims(scope: &str, aud: &[&str]) -> Claims {
        let all = json!({
            "iss": "https://i.test", "aud": aud, "exp": 4_000_000_000_u64, "scope": scope
        });
        let payload = crate::payload::Payload::parse(serde_json::to_vec(&all).unwrap()).unwrap();
        let audiences: Vec<String> = aud.iter().map(|a| (*a).to_owned()).collect();
        let rules = crate::claims::ClaimRules {
            issuer: "https://i.test",
            audiences: &audiences,
            scope_claim: None,
            leeway: std::time::Duration::ZERO,
            now: std::time::UNIX_EPOCH,
        };
        Claims::check(payload, &rules, jsonwebtoken::Algorithm::RS256, None).unwrap()
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
            assert_eq!(policy.check(claims, false), expected, "{policy:?}");
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
        // An issuer that authorises by audience: scope policies pass, audience ones still check.
        let by_audience = |policy: &Policy| policy.check(&token, true);
        assert_eq!(
            by_audience(&Policy::AllScopes(scopes(&["items:write"]))),
            Ok(())
        );
        assert_eq!(by_audience(&Policy::AnyScope(scopes(&["x"]))), Ok(()));
        assert!(by_audience(&Policy::AnyAudience(scopes(&["delfi"]))).is_err());
        check(
            &Policy::AnyAudience(scopes(&["delfi"])),
            &token,
            Err((&["delfi"], "the token's audience includes none of delfi")),
        );
    }
}
