//! CyberArk Identity (seed 003): `/oauth2/token/{app_id}` (case-insensitive), a JSON body
//! accepted, 5 h tokens, a subject UUID, and 200 for every revocation (the table says so; the
//! claims are this file's).

use serde_json::{Map, Value, json};

use super::{ClaimInput, MetadataInput, Vendor, into_map};
use crate::domain::urls::join_url;

/// CyberArk Identity.
#[derive(Debug)]
pub(super) struct CyberArk;

impl Vendor for CyberArk {
    /// CyberArk Identity publishes a full OpenID document per application; its authorization
    /// and userinfo endpoints are `/OAuth2/Authorize/{app_id}` and `/OAuth2/UserInfo/{app_id}`
    /// on the tenant host (I), not served here.
    fn metadata(&self, input: &MetadataInput<'_>) -> Value {
        let app_id = &input.options.app_id;
        super::rfc::openid_metadata(
            input,
            &join_url(input.base_url, &format!("/OAuth2/Authorize/{app_id}")),
            &join_url(input.base_url, &format!("/OAuth2/UserInfo/{app_id}")),
        )
    }

    /// No token exchange is documented for this vendor (VENDORS.md).
    fn token_exchange(&self) -> bool {
        false
    }

    /// `iss`, `aud` (string), `sub` (service user UUID), `unique_name`, `scope`, `iat`, `exp`,
    /// `auth_time` (D).
    fn claims(&self, input: &ClaimInput<'_>) -> Map<String, Value> {
        let client_id = input.client.id.as_str();
        let mut claims = json!({
            "iss": input.issuer,
            "aud": client_id,
            "sub": input.client.subject(),
            "unique_name": client_id,
            "iat": input.now,
            "exp": input.exp,
            "auth_time": input.now,
        });
        if !input.granted.is_empty() {
            claims["scope"] = json!(input.granted.to_string());
        }
        into_map(claims)
    }
}
