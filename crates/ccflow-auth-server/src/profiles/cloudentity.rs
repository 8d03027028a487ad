//! SecureAuth / Cloudentity (seed 002): tenant/workspace paths, `scp` and SPIFFE audiences in
//! the token, UUID `jti`s, and errors with `error_hint`, `cause` and `status_code`.

use ccflow_protocol::crypto::SystemRandom;
use ccflow_protocol::{ErrorCode, ErrorResponse};
use serde_json::{Map, Value, json};

use super::{ClaimInput, MetadataInput, ProfileSettings, Vendor, into_map};
use crate::domain::ids::random_uuid;

/// SecureAuth / Cloudentity.
#[derive(Debug)]
pub(super) struct Cloudentity;

impl Vendor for Cloudentity {
    /// No token exchange is documented for this vendor (VENDORS.md).
    fn token_exchange(&self) -> bool {
        false
    }

    /// The real host is `{tenant}.{region}.authz.cloudentity.io` (seed 002); older tenants have
    /// no region, which the summary says rather than printing nothing.
    fn banner_region(&self, settings: &ProfileSettings) -> Option<String> {
        Some(settings.region.clone().unwrap_or_else(|| {
            "none (an older tenant's host; set `region` to show one)".to_owned()
        }))
    }

    /// Cloudentity publishes a full OpenID document under the issuer; its authorization and
    /// userinfo endpoints are `{issuer}/oauth2/authorize` and `{issuer}/userinfo` (I), not
    /// served here.
    fn metadata(&self, input: &MetadataInput<'_>) -> Value {
        super::rfc::openid_metadata(
            input,
            &format!("{}/oauth2/authorize", input.issuer),
            &format!("{}/userinfo", input.issuer),
        )
    }

    /// `tid`, `aid`, `sub`, `aud` (client id + SPIFFE ids), `scp` array, `st`, `idp`, `amr`,
    /// `jti` (UUID), `iat`, `nbf`, `exp`, `iss` (D).
    fn claims(&self, input: &ClaimInput<'_>) -> Map<String, Value> {
        let client_id = input.client.id.as_str();
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
        into_map(json!({
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
        }))
    }

    fn jti(&self, rng: &SystemRandom) -> String {
        random_uuid(rng)
    }

    /// Cloudentity's shape (D): RFC 6749 plus `error_hint`, `cause` and `status_code`
    /// (strings I).
    fn decorate_error(&self, body: &mut Value, error: &ErrorResponse) {
        body["error_hint"] = json!(error.error_description.clone().unwrap_or_default());
        body["cause"] = json!(cause(&error.error));
        body["status_code"] = json!(error.status());
    }
}

fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
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
    use super::super::{Dialect, ProfileSettings};
    use ccflow_protocol::{ErrorResponse, Profile};

    #[test]
    fn cloudentity_errors_carry_hint_cause_and_status() {
        let error = ErrorResponse::invalid_client("client must use client_secret_post");
        let body =
            Dialect::new(Profile::Cloudentity, ProfileSettings::default()).error_body(&error);
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_hint"], "client must use client_secret_post");
        assert_eq!(body["status_code"], 401);
        assert!(body["cause"].is_string());
        assert!(
            Dialect::new(Profile::Rfc, ProfileSettings::default())
                .error_body(&error)
                .get("cause")
                .is_none()
        );
    }
}
