//! SLB Authenticator (seeds 000, 001): `scope` names other clients (or service audiences) that
//! go into `aud`; unknown values are reported, never an error.

use ccflow_protocol::{ClientId, Scope, Scopes};
use serde_json::{Map, Value, json};

use super::{
    ClaimInput, Grant, GrantInput, MetadataInput, ProfileSettings, ScopeReport, Vendor, into_map,
};
use crate::domain::clients::RegisteredClient;
use crate::domain::endpoint::EndpointError;

/// SLB Authenticator.
#[derive(Debug)]
pub(super) struct Slb;

impl Vendor for Slb {
    /// The audiences the client may name in `scope` (its `audiences`, or any registered client
    /// or service audience).
    fn banner_scope(&self, client: &RegisteredClient) -> String {
        let reachable = if client.audiences.is_empty() {
            "any registered client or service audience".to_owned()
        } else {
            client.audiences.join(" ")
        };
        format!("scope (audiences): [{reachable}]")
    }

    /// An audience is granted only when `scope` asks for it (seed 001).
    fn try_parameters(&self, settings: &ProfileSettings) -> String {
        settings
            .service_audiences
            .first()
            .map(|audience| format!(" -d scope={audience}"))
            .unwrap_or_default()
    }

    /// The demo clients' audience is a service audience, so `scope=demo-api` is granted.
    fn demo_setup(&self, settings: &mut ProfileSettings) {
        let demo = crate::config::DEMO_AUDIENCE;
        if !settings
            .service_audiences
            .iter()
            .any(|audience| audience == demo)
        {
            settings.service_audiences.push(demo.to_owned());
        }
    }

    /// SLB Authenticator publishes a full OpenID document (VENDORS.md); its authorization and
    /// userinfo endpoints are `{issuer}/auth` and `{issuer}/userinfo` (I), not served here.
    fn metadata(&self, input: &MetadataInput<'_>) -> Value {
        super::rfc::openid_metadata(
            input,
            &format!("{}/auth", input.issuer),
            &format!("{}/userinfo", input.issuer),
        )
    }

    /// `iss`, `sub`, `azp`, `aud` = [own id, valid scopes…], `iat`, `exp`, `jti` (I).
    fn claims(&self, input: &ClaimInput<'_>) -> Map<String, Value> {
        let client_id = input.client.id.as_str();
        into_map(json!({
            "iss": input.issuer,
            "sub": client_id,
            "azp": client_id,
            "aud": input.audience,
            "iat": input.now,
            "exp": input.exp,
            "jti": input.jti,
        }))
    }

    /// Each requested value that names a registered client or a service audience (and, if
    /// the client lists `audiences`, is on that list, I) goes into `aud`; the others are
    /// reported (seed 001).
    fn grant(&self, input: &GrantInput<'_>) -> Result<Grant, EndpointError> {
        let client = input.client;
        let mut report = ScopeReport::default();
        let mut audience = vec![client.id.as_str().to_owned()];
        // `scope` is a space-delimited list (seed 001); any run of whitespace separates, and
        // nothing in it is an error: what names no reachable audience is reported invalid.
        let requested = input.request.params.get("scope").unwrap_or_default();
        for value in requested.split_whitespace() {
            if report
                .valid
                .iter()
                .chain(&report.invalid)
                .any(|seen| seen == value)
            {
                continue;
            }
            let known = input.registry.get(&ClientId::new(value)).is_some()
                || input
                    .settings
                    .service_audiences
                    .iter()
                    .any(|aud| aud == value);
            let allowed =
                client.audiences.is_empty() || client.audiences.iter().any(|aud| aud == value);
            if known && allowed {
                report.valid.push(value.to_owned());
                if !audience.iter().any(|aud| aud == value) {
                    audience.push(value.to_owned());
                }
            } else {
                report.invalid.push(value.to_owned());
            }
        }
        let scopes: Scopes = report
            .valid
            .iter()
            .filter_map(|v| Scope::new(v.as_str()).ok())
            .collect();
        Ok(Grant {
            scopes,
            audience,
            report,
        })
    }
}
