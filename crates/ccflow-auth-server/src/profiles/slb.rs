//! SLB Authenticator (seeds 000, 001): `scope` names other clients (or service audiences) that
//! go into `aud`; unknown values are reported, never an error.

use ccflow_protocol::{ClientId, ErrorResponse, Scope, Scopes};
use serde_json::{Map, Value, json};

use super::{
    ClaimInput, ExchangeInput, Grant, GrantInput, MetadataInput, ProfileSettings, ScopeReport,
    Vendor, into_map,
};
use crate::domain::clients::RegisteredClient;
use crate::domain::echo::truncate;
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

    /// SLB's "secondary token exchange" adds audiences: every `resource`, `audience` and
    /// `scope` value (SLB's scope names audiences) must be one this client could get in its
    /// own token, else `invalid_target` (RFC 8693 §2.2.2 — an exchange answers in the RFC's
    /// words, not with the report, I); `aud` = [requesting client, targets…].
    fn exchange_grant(&self, input: &ExchangeInput<'_>) -> Result<Grant, EndpointError> {
        let grant = &input.grant;
        let client = grant.client;
        let mut audience = vec![client.id.as_str().to_owned()];
        // `scope` is free text under this profile (seed 001): the raw value, split on any run
        // of whitespace, as `grant` reads it.
        let requested_scopes = grant
            .request
            .params
            .get("scope")
            .unwrap_or_default()
            .split_whitespace();
        let targets = grant
            .request
            .resources
            .iter()
            .chain(&grant.request.audiences)
            .map(String::as_str)
            .chain(requested_scopes);
        for target in targets {
            if !reachable(grant, target) {
                return Err(EndpointError::plain(ErrorResponse::invalid_target(
                    format!(
                        "`{}` is not an audience client `{}` may reach",
                        truncate(target),
                        truncate(client.id.as_str())
                    ),
                )));
            }
            if !audience.iter().any(|aud| aud == target) {
                audience.push(target.to_owned());
            }
        }
        let scopes = audience[1..]
            .iter()
            .filter_map(|value| Scope::new(value.as_str()).ok())
            .collect();
        Ok(Grant {
            scopes,
            audience,
            report: ScopeReport::default(),
        })
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

/// Whether `value` names a registered client or a service audience that the client may reach
/// (its `audiences`, when it lists any, I) — the test `grant` applies to each scope value.
fn reachable(input: &GrantInput<'_>, value: &str) -> bool {
    let known = input.registry.get(&ClientId::new(value)).is_some()
        || input
            .settings
            .service_audiences
            .iter()
            .any(|aud| aud == value);
    let client = input.client;
    let allowed = client.audiences.is_empty() || client.audiences.iter().any(|aud| aud == value);
    known && allowed
}
