//! CyberArk Identity (seed 003): `/oauth2/token/{app_id}` (case-insensitive), a JSON body
//! accepted, 5 h tokens, a subject UUID, and 200 for every revocation (the table says so; the
//! claims are this file's).

use serde_json::{Map, Value, json};

use super::{ClaimInput, Vendor, into_map};

/// CyberArk Identity.
#[derive(Debug)]
pub(super) struct CyberArk;

impl Vendor for CyberArk {
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
