//! UserClouds (seed 004): `scope` ignored and `audience` parameters into `aud`, its own error
//! words, exactly its documented discovery fields, and two success shapes (the seed's, or the
//! vendor server's with a refresh token and a 24 h lifetime).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::crypto::SystemRandom;
use ccflow_protocol::{ErrorCode, ErrorResponse, RequestError, Scopes, TokenResponse};
use serde_json::{Map, Value, json};

use super::{
    ClaimInput, Grant, GrantInput, MetadataInput, ProfileSettings, ResponseStyle, Vendor, into_map,
};
use crate::domain::authentication::{AuthFailure, AuthFailureKind};
use crate::domain::clients::RegisteredClient;
use crate::domain::echo::truncate;
use crate::domain::endpoint::EndpointError;
use crate::domain::ids::{name_uuid, random_bytes, random_uuid};
use crate::domain::urls::join_url;

/// UserClouds.
#[derive(Debug)]
pub(super) struct UserClouds;

/// The vendor's server issues 24 h tokens without `expires_in` (VENDORS.md, D).
const SERVER_LIFETIME: Duration = Duration::from_secs(24 * 3600);

impl Vendor for UserClouds {
    /// No token exchange is documented for this vendor (VENDORS.md).
    fn token_exchange(&self) -> bool {
        false
    }

    /// UserClouds ignores `scope` (seed 004).
    fn banner_scope(&self, _client: &RegisteredClient) -> String {
        "scope: ignored; audience parameters go into aud".to_owned()
    }

    /// `iss`, `sub` (app UUID), `aud` = [audiences…, issuer], `iat`, `exp`, `jti`,
    /// `subject_type`, `organization_id` (D).
    fn claims(&self, input: &ClaimInput<'_>) -> Map<String, Value> {
        let mut aud: Vec<String> = input.audience.to_vec();
        aud.push(input.issuer.to_owned());
        let organization = input
            .settings
            .organization_id
            .clone()
            .unwrap_or_else(|| name_uuid(&format!("ccflow-organization:{}", input.issuer)));
        into_map(json!({
            "iss": input.issuer,
            "sub": input.client.subject(),
            "aud": aud,
            "iat": input.now,
            "exp": input.exp,
            "jti": input.jti,
            "subject_type": "_login_app",
            "organization_id": organization,
        }))
    }

    /// `scope` is ignored; `audience` parameters go into `aud` (D).
    fn grant(&self, input: &GrantInput<'_>) -> Result<Grant, EndpointError> {
        Ok(Grant {
            scopes: Scopes::new(),
            audience: input.request.audiences.clone(),
            ..Grant::default()
        })
    }

    fn fixed_lifetime(&self, settings: &ProfileSettings) -> Option<Duration> {
        (settings.response_style == ResponseStyle::Server).then_some(SERVER_LIFETIME)
    }

    fn jti(&self, rng: &SystemRandom) -> String {
        random_uuid(rng)
    }

    fn finish_response(
        &self,
        response: &mut TokenResponse,
        settings: &ProfileSettings,
        rng: &SystemRandom,
    ) {
        if settings.response_style == ResponseStyle::Server {
            response.token_type = "Bearer".to_owned();
            response.expires_in = None;
            response.refresh_token = Some(URL_SAFE_NO_PAD.encode(random_bytes(rng)));
        }
    }

    /// Its own messages, and `invalid_grant` (401) for a wrong secret (D).
    fn word_auth_failure(&self, failure: AuthFailure) -> ErrorResponse {
        match failure.kind {
            AuthFailureKind::UnknownClient(id) => ErrorResponse::invalid_client(format!(
                "no plex app with Plex client ID '{}' found",
                truncate(id.as_str())
            )),
            AuthFailureKind::WrongSecret => {
                ErrorResponse::new(ErrorCode::InvalidGrant, "invalid client secret")
                    .with_status(401)
            }
            AuthFailureKind::Other => failure.response,
        }
    }

    /// Its server reads client credentials with Go's `r.BasicAuth()` first and looks at the
    /// form only without them (VENDORS.md, D: `plex/internal/oidc`).
    fn basic_wins_over_body(&self) -> bool {
        true
    }

    /// It checks the grant type first and words it its own way (D). A body that is not a form
    /// has no `grant_type` for its server's form parser, so it is "not specified" too (D).
    fn word_request_error(&self, error: RequestError) -> EndpointError {
        let grant = match &error {
            RequestError::MissingGrantType | RequestError::UnsupportedContentType => {
                Some("not specified".to_owned())
            }
            RequestError::UnsupportedGrantType(grant) => Some(truncate(grant)),
            _ => None,
        };
        match grant {
            Some(grant) => EndpointError::plain(ErrorResponse::unsupported_grant_type(format!(
                "unsupported `grant_type` specified: {grant}"
            ))),
            None => error.into(),
        }
    }

    /// VENDORS.md (D): exactly these fields. The authorization and userinfo endpoints are the
    /// vendor's paths; the mock does not serve them.
    fn metadata(&self, input: &MetadataInput<'_>) -> Value {
        json!({
            "issuer": input.issuer,
            "authorization_endpoint": join_url(input.base_url, "/oidc/authorize"),
            "token_endpoint": input.token_endpoint,
            "jwks_uri": input.jwks_uri,
            "userinfo_endpoint": join_url(input.base_url, "/oidc/userinfo"),
            "id_token_signing_alg_values_supported": [input.signing_algorithm],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", "subject_type", "organization_id"],
            "response_types_supported": ["code"],
        })
    }
}
