//! `POST /_ccflow/tokens/inspect`: a token taken apart by the server itself — header, claims,
//! whether its signature verifies against the key ring as it is now, its time to expiry by the
//! server's clock, its binding (`cnf`) — for the console's Tokens page and for scripts.
//!
//! The server does this, not the browser: WebCrypto (`crypto.subtle`) exists only in secure
//! contexts, so a console reached at `http://auth:8080` from another machine or container
//! could not verify anything; and the server's own verification (the key ring, the algorithm
//! pinned by the key, the virtual clock, revocation) is the one that matters.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use ccflow_protocol::ErrorCode;
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::respond::{ErrorBody, admin_error};
use crate::domain::auth_server::AuthServer;
use crate::domain::keys::KeyState;
use crate::http::site::site_of;
use utoipa::ToSchema;

/// The request body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InspectRequest {
    token: String,
}

// Members in alphabetical order, as the admin API's other answers.
/// What the server makes of a token.
#[derive(Serialize, ToSchema)]
struct InspectBody {
    /// What introspection would say of it now (RFC 7662 `active`): verified, our issuer, not
    /// expired, not yet valid or revoked.
    active: bool,
    claims: Map<String, Value>,
    /// The `cnf` claim (RFC 7800; `jkt` for DPoP, RFC 9449 §6), if any.
    cnf: Option<Value>,
    /// `exp` minus the server's `now`, when `exp` is a number.
    expires_in: Option<i64>,
    header: Map<String, Value>,
    /// The server clock, Unix seconds.
    now: i64,
    signature: SignatureBody,
}

/// Whether the signature verifies against the key ring.
#[derive(Serialize, ToSchema)]
struct SignatureBody {
    /// Why, in a sentence.
    detail: String,
    /// The header's `kid`.
    kid: Option<String>,
    /// The state of the ring's key with that `kid` (`staged`, `active`, `retired`), if any.
    key_state: Option<&'static str>,
    /// The signature matches a key that the JWKS publishes now.
    verified: bool,
}

/// `POST /_ccflow/tokens/inspect` with `{"token": "<jwt>"}`.
#[utoipa::path(
    post,
    path = "/tokens/inspect",
    summary = "Decode a token and say what this server makes of it",
    request_body = InspectRequest,
    responses(
        (status = OK, description = "the inspection", body = InspectBody),
        (status = BAD_REQUEST, description = "not {\"token\": \"<jwt>\"} or not a JWS", body = ErrorBody),
    )
)]
pub(super) async fn post_inspect(
    server: web::Data<AuthServer>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let bad = |description: &str| {
        admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    };
    let asked: InspectRequest = match serde_json::from_slice(&body) {
        Ok(asked) => asked,
        Err(_) => return bad(r#"the body must be {"token": "<a JWT>"}"#),
    };
    let token = asked.token.trim();
    let Some((header, claims)) = decode_parts(token) else {
        return bad("not a JWT: three base64url parts, header and claims JSON objects");
    };
    let now = i64::try_from(server.now_secs()).unwrap_or(i64::MAX);
    let expires_in = claims
        .get("exp")
        .and_then(Value::as_i64)
        .map(|exp| exp.saturating_sub(now));
    let body = InspectBody {
        active: server
            .verify(&site_of(&server, &request), token, now)
            .is_some(),
        cnf: claims.get("cnf").cloned(),
        expires_in,
        signature: check_signature(&server, token, &header),
        claims,
        header,
        now,
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The header and claims of a compact JWS, without verifying anything.
fn decode_parts(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = token.split('.');
    let (header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let object = |part: &str| -> Option<Map<String, Value>> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    };
    Some((object(header)?, object(claims)?))
}

/// Verifies the signature with the ring's key named by `kid`, whatever its state, and says
/// whether that key is published.
fn check_signature(server: &AuthServer, token: &str, header: &Map<String, Value>) -> SignatureBody {
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
    let refused = |kid: Option<String>, key_state, detail: &str| SignatureBody {
        detail: detail.to_owned(),
        kid,
        key_state,
        verified: false,
    };
    let Some(wanted) = kid.clone() else {
        return refused(None, None, "the header names no kid");
    };
    let keys = server.keys();
    let Some(entry) = keys
        .entries()
        .iter()
        .find(|entry| entry.key.kid() == wanted)
    else {
        return refused(
            kid,
            None,
            "no key of this server has this kid: it is not in the JWKS",
        );
    };
    let state = entry.state.as_str();
    let algorithm = entry.key.algorithm();
    if header.get("alg").and_then(Value::as_str) != Some(&format!("{algorithm:?}")) {
        return refused(
            kid,
            Some(state),
            &format!(
                "the header's alg is not {algorithm:?}, the algorithm of the key with this kid"
            ),
        );
    }
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    if jsonwebtoken::decode::<Map<String, Value>>(token, entry.key.decoding_key(), &validation)
        .is_err()
    {
        return refused(
            kid,
            Some(state),
            "the signature does not match the key with this kid",
        );
    }
    if entry.state == KeyState::Retired {
        return refused(
            kid,
            Some(state),
            "signed by a retired key, no longer in the JWKS",
        );
    }
    SignatureBody {
        detail: format!("signed by the {state} key, published in the JWKS"),
        kid,
        key_state: Some(state),
        verified: true,
    }
}
