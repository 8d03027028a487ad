//! Per-profile shaping: the claims of a token, the token response, and error bodies, each as
//! `ccflow_protocol::ProfileSpec` says for the vendor (VENDORS.md; (I) marks inferred facts).

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use ccflow_protocol::{
    AccessToken, ClaimStyle, ErrorCode, ErrorDialect, ErrorResponse, ExpiresIn, ProfileOptions,
    ProfileSpec, ScopeField, Scopes, TokenResponse,
};
use serde_json::{Map, Value, json};

use crate::domain::clients::RegisteredClient;
use crate::domain::ids::{name_uuid, random_bytes};

/// UserClouds' two documented success shapes (VENDORS.md: the seed's is the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseStyle {
    /// The seed: `{"access_token","token_type":"bearer","expires_in":3600}`.
    #[default]
    Seed,
    /// The vendor's server code: `{"access_token","token_type":"Bearer","refresh_token"}`, no
    /// `expires_in`, a 24 h token.
    Server,
}

/// Profile options beyond the path parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProfileSettings {
    pub(crate) options: ProfileOptions,
    /// Cloudentity region (`au`, `eu`, `us`), shown in the banner; it does not change paths.
    pub(crate) region: Option<String>,
    /// SLB: audiences a client may name in `scope` besides other clients' ids.
    pub(crate) service_audiences: Vec<String>,
    /// UserClouds response style.
    pub(crate) response_style: ResponseStyle,
    /// UserClouds `organization_id` claim (default derived from the issuer).
    pub(crate) organization_id: Option<String>,
}

/// Everything the claims of one token are made from.
pub(crate) struct ClaimInput<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client: &'a RegisteredClient,
    pub(crate) settings: &'a ProfileSettings,
    pub(crate) now: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) granted: &'a Scopes,
    /// The audiences decided by the profile's scope semantics (without vendor decoration).
    pub(crate) audience: &'a [String],
}

fn one_or_many(values: &[String]) -> Value {
    match values {
        [one] => Value::String(one.clone()),
        many => json!(many),
    }
}

pub(crate) fn subject(client: &RegisteredClient) -> String {
    client
        .subject
        .clone()
        .unwrap_or_else(|| name_uuid(&format!("ccflow-subject:{}", client.id)))
}

/// The claims of an access token in the profile's style.
pub(crate) fn claims(style: ClaimStyle, input: &ClaimInput<'_>) -> Map<String, Value> {
    let client_id = input.client.id.as_str();
    let scope = || (!input.granted.is_empty()).then(|| input.granted.to_string());
    let value = match style {
        ClaimStyle::Slb => json!({
            "iss": input.issuer,
            "sub": client_id,
            "azp": client_id,
            "aud": input.audience,
            "iat": input.now,
            "exp": input.exp,
            "jti": input.jti,
        }),
        ClaimStyle::Cloudentity => {
            let host = url_host(input.issuer);
            let options = &input.settings.options;
            let mut aud = vec![client_id.to_owned()];
            aud.extend(
                input
                    .audience
                    .iter()
                    .filter(|audience| audience.as_str() != client_id)
                    .map(|resource| {
                        format!(
                            "spiffe://{host}/{}/{}/{resource}",
                            options.tenant, options.workspace
                        )
                    }),
            );
            json!({
                "tid": options.tenant,
                "aid": options.workspace,
                "sub": client_id,
                "aud": aud,
                "scp": input.granted.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "st": "public",
                "idp": "",
                "amr": [],
                "jti": input.jti,
                "iat": input.now,
                "nbf": input.now,
                "exp": input.exp,
                "iss": input.issuer,
            })
        }
        ClaimStyle::CyberArk => {
            let mut claims = json!({
                "iss": input.issuer,
                "aud": client_id,
                "sub": subject(input.client),
                "unique_name": client_id,
                "iat": input.now,
                "exp": input.exp,
                "auth_time": input.now,
            });
            if let Some(scope) = scope() {
                claims["scope"] = json!(scope);
            }
            claims
        }
        ClaimStyle::UserClouds => {
            let mut aud: Vec<String> = input.audience.to_vec();
            aud.push(input.issuer.to_owned());
            let organization = input
                .settings
                .organization_id
                .clone()
                .unwrap_or_else(|| name_uuid(&format!("ccflow-organization:{}", input.issuer)));
            json!({
                "iss": input.issuer,
                "sub": subject(input.client),
                "aud": aud,
                "iat": input.now,
                "exp": input.exp,
                "jti": input.jti,
                "subject_type": "_login_app",
                "organization_id": organization,
            })
        }
        _ => {
            let mut claims = json!({
                "iss": input.issuer,
                "sub": client_id,
                "aud": one_or_many(input.audience),
                "exp": input.exp,
                "iat": input.now,
                "nbf": input.now,
                "jti": input.jti,
                "client_id": client_id,
            });
            if let Some(scope) = scope() {
                claims["scope"] = json!(scope);
            }
            claims
        }
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// SLB's report of requested scopes (seed 001).
#[derive(Debug, Default)]
pub(crate) struct ScopeReport {
    pub(crate) valid: Vec<String>,
    pub(crate) invalid: Vec<String>,
}

/// The token response in the profile's shape.
pub(crate) fn token_response(
    spec: &ProfileSpec,
    settings: &ProfileSettings,
    token: AccessToken,
    lifetime: Duration,
    granted: &Scopes,
    report: &ScopeReport,
    rng: &SystemRandom,
) -> TokenResponse {
    let lifetime = lifetime.as_secs();
    let expires_in = match spec.expires_in {
        ExpiresIn::LifetimeMinusOne => lifetime.saturating_sub(1),
        _ => lifetime,
    };
    let mut response = TokenResponse::bearer(token, expires_in, None);
    response.token_type = spec.token_type.to_owned();
    match spec.scope_field {
        ScopeField::String if !granted.is_empty() => response.scope = Some(granted.clone()),
        ScopeField::SlbObjectWhenInvalid if !report.invalid.is_empty() => {
            response.extra.insert(
                "scope".to_owned(),
                json!({"valid": report.valid, "invalid": report.invalid}),
            );
        }
        _ => {}
    }
    if spec.claims == ClaimStyle::UserClouds && settings.response_style == ResponseStyle::Server {
        use base64::Engine as _;
        response.token_type = "Bearer".to_owned();
        response.expires_in = None;
        response.refresh_token =
            Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(rng)));
    }
    response
}

/// The error body in the profile's dialect.
pub(crate) fn error_body(dialect: ErrorDialect, error: &ErrorResponse) -> Value {
    let mut body = serde_json::to_value(error).unwrap_or_else(|_| json!({"error": "server_error"}));
    if dialect == ErrorDialect::Cloudentity {
        // Cloudentity's shape (D): RFC 6749 plus error_hint, cause and status_code (strings I).
        body["error_hint"] = json!(error.error_description.clone().unwrap_or_default());
        body["cause"] = json!(cause(&error.error));
        body["status_code"] = json!(error.status());
    }
    body
}

fn cause(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidClient => "client authentication failed",
        ErrorCode::InvalidRequest => "the request is missing a parameter or is malformed",
        ErrorCode::InvalidScope => "the requested scope is invalid, unknown or malformed",
        ErrorCode::UnsupportedGrantType => "the grant type is not supported",
        ErrorCode::UnauthorizedClient => "the client is not authorized for this request",
        ErrorCode::InvalidTarget => "the requested resource is invalid",
        _ => "the request failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudentity_errors_carry_hint_cause_and_status() {
        let error = ErrorResponse::invalid_client("client must use client_secret_post");
        let body = error_body(ErrorDialect::Cloudentity, &error);
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_hint"], "client must use client_secret_post");
        assert_eq!(body["status_code"], 401);
        assert!(body["cause"].is_string());
        assert!(
            error_body(ErrorDialect::Rfc6749, &error)
                .get("cause")
                .is_none()
        );
    }
}
