//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3) and its `jti` replay cache.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ccflow_protocol::{AuthMethod, ClientId, ErrorResponse};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::domain::clients::{Registry, method_not_allowed};
use crate::domain::echo::truncate;

/// How far ahead an assertion's `exp` may lie unless configured (RFC 7523 §3 lets the server
/// bound it): one hour, because authlib signs assertions with `exp = iat + 3600` by default
/// (`authlib/oauth2/rfc7523/assertion.py`); openid-client uses 60 s.
pub(crate) const DEFAULT_MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: i64 = 30;

/// What an assertion must be addressed to and checked against.
#[derive(Debug)]
pub(crate) struct AssertionContext<'a> {
    /// Acceptable `aud` values: the issuer and the token endpoint URL (RFC 7523 §3, point 3).
    pub(crate) audiences: [&'a str; 2],
    pub(crate) now: i64,
    /// How far ahead `exp` may lie (plus the leeway).
    pub(crate) max_lifetime: Duration,
    pub(crate) replay_cache: &'a ReplayCache,
}

/// A verified assertion whose `jti` is recorded only when the request succeeds.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedAssertion {
    pub(crate) client_id: ClientId,
    pub(crate) jti: String,
    pub(crate) exp: i64,
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<ccflow_protocol::Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
}

/// The claims read before the signature is checked, only to find the client.
#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}

fn reject(why: impl Into<String>) -> ErrorResponse {
    ErrorResponse::invalid_client(format!("client_assertion rejected: {}", why.into()))
}

/// Verifies a client assertion against the registered keys of the client it names.
pub(crate) fn verify(
    registry: &Registry,
    body_client_id: Option<&ClientId>,
    assertion: &str,
    context: &AssertionContext<'_>,
) -> Result<VerifiedAssertion, ErrorResponse> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| reject("not a signed JWT with a supported `alg`"))?;
    // The client is named by `client_id` (RFC 7521 §4.2) or else by the assertion's `iss`.
    let client_id = match body_client_id {
        Some(id) => id.clone(),
        None => {
            let claims: UnverifiedIssuer =
                jsonwebtoken::dangerous::insecure_decode_claims(assertion)
                    .map_err(|_| reject("claims are not a JSON object"))?;
            ClientId::new(
                claims
                    .iss
                    .ok_or_else(|| reject("no `iss` claim and no client_id parameter"))?,
            )
        }
    };
    let client = registry.get(&client_id).ok_or_else(|| {
        ErrorResponse::invalid_client(format!("unknown client `{}`", truncate(client_id.as_str())))
    })?;
    if !client.auth_methods.contains(&AuthMethod::PrivateKeyJwt) {
        return Err(method_not_allowed(client, AuthMethod::PrivateKeyJwt));
    }
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(reject("HMAC `alg` is not accepted for private_key_jwt"));
    }
    let candidates: Vec<_> = client
        .keys
        .iter()
        .filter(|key| key.algorithms.contains(&header.alg))
        .filter(|key| match (&header.kid, &key.kid) {
            (Some(wanted), Some(have)) => wanted == have,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(reject(format!(
            "no registered key of this client fits `alg` {:?} and the `kid`",
            header.alg
        )));
    }
    let mut validation = Validation::new(header.alg);
    // Time and audience are checked below against the server's clock and endpoints.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut claims = None;
    let mut malformed = false;
    for key in &candidates {
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &key.key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            // The signature verified but the claims did not parse (e.g. a string `exp`).
            Err(error) if matches!(error.kind(), jsonwebtoken::errors::ErrorKind::Json(_)) => {
                malformed = true
            }
            Err(_) => {}
        }
    }
    let claims = match claims {
        Some(claims) => claims,
        None if malformed => {
            return Err(reject(
                "claims are malformed (`exp`, `nbf`, `iat` must be numeric, `aud` a string or array)",
            ));
        }
        None => {
            return Err(reject(
                "signature does not verify with the client's registered key",
            ));
        }
    };

    let id = client_id.as_str();
    if claims.iss.as_deref() != Some(id) {
        return Err(reject("`iss` must be the client_id"));
    }
    if claims.sub.as_deref() != Some(id) {
        return Err(reject("`sub` must be the client_id"));
    }
    let aud_ok = claims
        .aud
        .as_ref()
        .is_some_and(|aud| context.audiences.iter().any(|wanted| aud.contains(wanted)));
    if !aud_ok {
        return Err(reject(format!(
            "`aud` must contain the token endpoint URL or the issuer ({} or {})",
            context.audiences[1], context.audiences[0]
        )));
    }
    let exp = claims.exp.ok_or_else(|| reject("`exp` is required"))?;
    if exp + LEEWAY_SECS <= context.now {
        return Err(reject("expired (`exp` is in the past)"));
    }
    let max_lifetime_secs = i64::try_from(context.max_lifetime.as_secs()).unwrap_or(i64::MAX);
    if exp
        > context
            .now
            .saturating_add(max_lifetime_secs)
            .saturating_add(LEEWAY_SECS)
    {
        return Err(reject(format!(
            "`exp` is more than {max_lifetime_secs} s ahead"
        )));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > context.now + LEEWAY_SECS)
    {
        return Err(reject("not yet valid (`nbf` is in the future)"));
    }
    if claims
        .iat
        .is_some_and(|iat| iat > context.now + LEEWAY_SECS)
    {
        return Err(reject("`iat` is in the future"));
    }
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty())
        .ok_or_else(|| reject("`jti` is required (replay protection)"))?;
    if context.replay_cache.contains(&client_id, &jti, context.now) {
        return Err(reject("`jti` was already used (replayed assertion)"));
    }
    Ok(VerifiedAssertion {
        client_id,
        jti,
        exp,
    })
}

/// Remembers used assertion `jti`s per client until their assertion expires: each for its own
/// `exp` (plus the leeway), so an hour-long assertion stays refused for the whole hour.
#[derive(Debug, Default)]
pub(crate) struct ReplayCache {
    used: Mutex<HashMap<(ClientId, String), i64>>,
}

impl ReplayCache {
    fn contains(&self, client_id: &ClientId, jti: &str, now: i64) -> bool {
        let used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.get(&(client_id.clone(), jti.to_owned()))
            .is_some_and(|&exp| exp + LEEWAY_SECS > now)
    }

    /// Records a used assertion; `false` if a concurrent request recorded it first.
    pub(crate) fn record(&self, assertion: &VerifiedAssertion, now: i64) -> bool {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.retain(|_, exp| *exp + LEEWAY_SECS > now);
        let key = (assertion.client_id.clone(), assertion.jti.clone());
        if used.contains_key(&key) {
            return false;
        }
        used.insert(key, assertion.exp);
        true
    }
}
