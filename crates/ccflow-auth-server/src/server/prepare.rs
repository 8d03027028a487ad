//! Validation: `Settings` become `Prepared` (client registry, first key ring, clock) before
//! any socket is opened, then an `AuthServer` once the root URL is known.

use std::sync::Arc;

use ccflow_protocol::{SigningAlgorithm, VirtualClock};

use super::error::StartError;
use crate::config::ConfigError;
use crate::domain::auth_server::AuthServer;
use crate::domain::clients::Registry;
use crate::domain::keys::{KeyPolicy, KeyRing, SigningKey};
use crate::settings::{Prepared, Settings};

/// Validates everything that does not depend on the bound address, so a bad configuration
/// fails before any socket is opened. Errors name the config file the settings came from.
pub(super) fn prepare(settings: Settings) -> Result<Prepared, StartError> {
    let config_file = settings.config_file.clone();
    validate(settings).map_err(|error| match (error, config_file) {
        (StartError::Config(error), Some(file)) if error.file.is_none() => {
            StartError::Config(error.in_file(&file))
        }
        (error, _) => error,
    })
}

fn validate(mut settings: Settings) -> Result<Prepared, StartError> {
    ccflow_protocol::jwt::install_provider();
    if let Some(issuer) = &settings.issuer {
        validate_issuer(issuer)?;
        if settings.issuer_from_request {
            return Err(ConfigError::field(
                "issuer_from_request",
                "cannot be combined with a fixed `issuer`: choose one (docs/docker.md, \"The issuer\")",
            )
            .into());
        }
    }
    if settings.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
        return Err(ConfigError::field("token_ttl_secs", "must be at least 1").into());
    }
    let spec = settings.profile.spec();
    let options = &settings.profile_settings.options;
    for (name, value) in [
        ("tenant", &options.tenant),
        ("workspace", &options.workspace),
        ("app_id", &options.app_id),
    ] {
        if value.is_empty()
            || !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~@".contains(c))
        {
            return Err(ConfigError::field(
                name,
                format!("`{value}` must be a non-empty URL path segment (letters, digits, -._~@)"),
            )
            .into());
        }
    }
    settings.limits.validate().map_err(ConfigError::from)?;
    settings
        .dpop
        .validate()
        .map_err(|why| ConfigError::field("dpop", why))?;
    if let Some(throttle) = &settings.auth_throttle {
        throttle.validate().map_err(ConfigError::from)?;
    }
    for (index, scenario) in settings.scenarios.iter().enumerate() {
        scenario
            .validate()
            .map_err(|why| ConfigError::field(format!("scenarios[{index}]"), why))?;
    }
    let registry =
        Registry::new(std::mem::take(&mut settings.clients), spec).map_err(ConfigError::from)?;
    // The default clock is virtual, so the admin API and `MockAuthServer::clock` control it.
    if settings.clock.is_none() {
        settings.virtual_clock = Some(VirtualClock::new());
    }
    if settings
        .rsa_key_bits
        .is_some_and(|bits| bits != 2048 && bits != 3072)
    {
        return Err(ConfigError::field("rsa_key_bits", "must be 2048 or 3072").into());
    }
    let key_policy = KeyPolicy {
        seed: settings.key_seed,
        rsa_bits: settings.rsa_key_bits,
        ..KeyPolicy::default()
    };
    let keys = match (settings.keys.take(), spec.default_signing_algorithm) {
        (Some(keys), _) => keys,
        (None, SigningAlgorithm::Es256) if settings.key_seed.is_some() => {
            KeyRing::new(key_policy.next_key(jsonwebtoken::Algorithm::ES256)?)
        }
        (None, SigningAlgorithm::Es256) => KeyRing::new(SigningKey::process_default_es256()?),
        (None, _) if settings.key_seed.is_some() || settings.rsa_key_bits.is_some() => {
            KeyRing::new(key_policy.next_key(jsonwebtoken::Algorithm::RS256)?)
        }
        (None, _) => KeyRing::new(SigningKey::process_default()?),
    };
    let clock = match (&settings.clock, &settings.virtual_clock) {
        (Some(clock), _) => Arc::clone(clock),
        (None, virtual_clock) => Arc::new(virtual_clock.clone().unwrap_or_default()),
    };
    Ok(Prepared {
        settings,
        registry,
        keys,
        key_policy,
        clock,
        mtls: None,
        mtls_base_url: None,
    })
}

/// The server itself, once its root URL is known. `default_base` is the server's own root URL
/// (`http://<bound address>`): the issuer is that plus the profile's issuer path, unless an
/// issuer was configured, in which case routes hang under the issuer minus that path.
pub(super) fn build_app(
    mut prepared: Prepared,
    default_base: &str,
) -> Result<AuthServer, StartError> {
    let settings = &prepared.settings;
    let issuer_path = settings
        .profile_settings
        .options
        .expand(settings.profile.spec().issuer_path);
    let (issuer, base_url) = match prepared.settings.issuer.take() {
        Some(issuer) => {
            let base = issuer
                .strip_suffix(issuer_path.as_str())
                .filter(|_| !issuer_path.is_empty())
                .unwrap_or(&issuer)
                .to_owned();
            (issuer, base)
        }
        None => (
            prepared
                .settings
                .profile
                .issuer(default_base, &prepared.settings.profile_settings.options),
            default_base.to_owned(),
        ),
    };
    validate_issuer(&issuer)?;
    Ok(AuthServer::new(prepared, issuer, base_url))
}

pub(super) fn validate_issuer(issuer: &str) -> Result<(), ConfigError> {
    // RFC 8414 §2: an https (or, for a local mock, http) URL with no query or fragment.
    let scheme_ok = issuer.starts_with("http://") || issuer.starts_with("https://");
    let host_ok = issuer
        .split("://")
        .nth(1)
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !scheme_ok || !host_ok || issuer.contains(['?', '#']) || issuer.contains(char::is_whitespace)
    {
        return Err(ConfigError::field(
            "issuer",
            format!(
                "`{issuer}` must be an http(s) URL with a host and no query or fragment (RFC 8414 section 2)"
            ),
        ));
    }
    Ok(())
}
