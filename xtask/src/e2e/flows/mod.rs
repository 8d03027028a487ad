//! The e2e flows: each drives the running chain through the SDK and raw HTTP and returns what
//! it observed (redacted by `record`), which is then compared with its snapshot. One room per
//! family: `issuer` (what the auth server answers), `api` (the resource API validating what it
//! issued), `dpop` (sender-constrained tokens, RFC 9449, at the token endpoint and the API),
//! `mtls` (mutual TLS and certificate-bound tokens, RFC 8705, over HTTPS end to end),
//! `resilience` (faults, key rotation, an outage), `extensions` (vendor flows beyond client
//! credentials: token exchange, CyberArk's platform token, SLB's `appkey`), `probe`
//! (`ccflow-auth-server probe api` against APIs over PyJWT and jose), `several` (one process
//! hosting three issuers, an API trusting two); `support` holds the HTTP and SDK
//! helpers they share.

mod api;
mod dpop;
mod extensions;
mod issuer;
mod mtls;
mod probe;
mod resilience;
mod several;
mod support;

use anyhow::{Result, bail};
use ccflow_protocol::Profile;
use serde_json::Value;

use super::Chain;
use super::record::redact;

/// Every flow, in the order they run (the last one stops the auth server).
pub(crate) const NAMES: [&str; 19] = [
    "discovery",
    "token",
    "cached-reuse",
    "resource-api",
    "expiry",
    "errors",
    "revocation",
    "token-exchange",
    "platform-token",
    "appkey",
    "dpop",
    "dpop-api",
    "mtls",
    "probe-pyjwt",
    "probe-jose",
    "several-issuers",
    "retries",
    "rotation",
    "auth-server-down",
];

/// Whether a flow applies to a profile (revocation needs introspection to observe it; the
/// vendor flows need their vendor).
pub(crate) fn applies(flow: &str, profile: Profile) -> bool {
    match flow {
        "token-exchange" => matches!(profile, Profile::Rfc | Profile::Slb),
        "platform-token" => profile == Profile::CyberArk,
        "appkey" => profile == Profile::Slb,
        "revocation" => {
            profile.spec().routes.introspection.is_some()
                && profile.spec().routes.revocation.is_some()
        }
        // DPoP is on by default for the RFC profile only (the vendors document none).
        "dpop" | "dpop-api" => profile == Profile::Rfc,
        // Mutual TLS is the strict RFC profile's only (no vendor documents it); the flow runs
        // servers of its own over HTTPS.
        "mtls" => profile == Profile::Rfc,
        // The probe runs its own auth server; one profile shows what it says of PyJWT.
        "probe-pyjwt" | "probe-jose" => profile == Profile::Rfc,
        // One process hosting three profiles' issuers: a flow of its own servers, run once.
        "several-issuers" => profile == Profile::Rfc,
        _ => true,
    }
}

pub(crate) async fn run(flow: &str, chain: &mut Chain) -> Result<Value> {
    let mut observed = match flow {
        "discovery" => issuer::discovery(chain).await,
        "token" => issuer::token(chain).await,
        "cached-reuse" => issuer::cached_reuse(chain).await,
        "resource-api" => api::resource_api(chain).await,
        "expiry" => api::expiry(chain).await,
        "errors" => issuer::errors(chain).await,
        "revocation" => issuer::revocation(chain).await,
        "token-exchange" => extensions::token_exchange(chain).await,
        "platform-token" => extensions::platform_token(chain).await,
        "appkey" => extensions::appkey(chain).await,
        "dpop" => dpop::dpop(chain).await,
        "dpop-api" => dpop::dpop_api(chain).await,
        "mtls" => mtls::mtls(chain).await,
        "probe-pyjwt" => probe::probe_pyjwt(chain).await,
        "probe-jose" => probe::probe_jose(chain).await,
        "several-issuers" => several::several_issuers(chain).await,
        "retries" => resilience::retries(chain).await,
        "rotation" => resilience::rotation(chain).await,
        "auth-server-down" => resilience::auth_server_down(chain).await,
        other => bail!("unknown flow {other}"),
    }?;
    // Scanned as observed, before redaction could hide anything.
    chain.canaries.scan_text(
        &format!("{} {flow} (observed)", chain.profile.as_str()),
        &serde_json::to_string_pretty(&observed)?,
    );
    let hosts = vec![
        (chain.auth.uri(), "http://[auth-server]".to_owned()),
        (chain.api.uri(), "http://[resource-api]".to_owned()),
        (chain.auth.address.clone(), "[auth-server]".to_owned()),
    ];
    redact(&mut observed, &hosts)?;
    Ok(observed)
}
