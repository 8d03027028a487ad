//! Several issuers in one process: the names (each one URL path segment, `/{name}` the issuer's
//! prefix), which settings are process-wide and which belong to an issuer, and the split of one
//! `Settings` value into the mounts the server serves.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, PoisonError};

use ccflow_protocol::{Profile, SigningAlgorithm};

use super::error::StartError;
use super::prepare::prepare;
use crate::config::ConfigError;
use crate::domain::keys::{KeyRing, SigningKey};
use crate::settings::{NamedIssuer, Prepared, Settings};

/// First path segments the root keeps for itself (the admin API and health routes under
/// `/_ccflow`, RFC 8615 well-known URIs, and the usual probe paths), so no issuer may be named
/// so. Compared ignoring ASCII case.
pub(crate) const RESERVED_NAMES: [&str; 4] = ["_ccflow", ".well-known", "healthz", "readyz"];

/// One issuer as the server serves it: its path prefix (empty for the one issuer at the root,
/// else `/{name}`), its name, and its validated settings.
pub(super) struct Mount {
    pub(super) prefix: String,
    pub(super) name: Option<String>,
    pub(super) prepared: Prepared,
}

/// Validates the settings and splits them into what the server mounts: the settings
/// themselves at the root, or each `[[issuers]]` entry under `/{name}` (with the process-wide
/// admin settings copied in). The caller has read the process-wide ones (bind, TLS, workers).
pub(super) fn mounts(mut outer: Settings) -> Result<Vec<Mount>, StartError> {
    if outer.issuers.is_empty() {
        return Ok(vec![Mount {
            prefix: String::new(),
            name: None,
            prepared: prepare(outer)?,
        }]);
    }
    let config_file = outer.config_file.clone();
    let in_file = |error: ConfigError| match &config_file {
        Some(file) if error.file.is_none() => error.in_file(file),
        _ => error,
    };
    if let Some(key) = issuer_level_setting(&outer) {
        return Err(in_file(ConfigError::field(
            key,
            "is an issuer setting: with [[issuers]] it goes inside each [[issuers]] table (only bind, TLS, workers, the admin settings and the public root URL `issuer` are process-wide)",
        ))
        .into());
    }
    let mut seen = HashSet::new();
    let mut mounts = Vec::new();
    for (index, NamedIssuer { name, mut settings }) in
        std::mem::take(&mut outer.issuers).into_iter().enumerate()
    {
        let field = |key: &str| format!("issuers[{index}].{key}");
        validate_name(&name).map_err(|why| in_file(ConfigError::field(field("name"), why)))?;
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(in_file(ConfigError::field(
                field("name"),
                format!("`{name}` names another issuer already: names must be unique"),
            ))
            .into());
        }
        if settings.issuer_from_request {
            return Err(in_file(ConfigError::field(
                field("issuer_from_request"),
                "is not supported with [[issuers]]: an issuer named after each request would lose its /{name} prefix; set `issuer` to its public URL instead",
            ))
            .into());
        }
        if let Some(key) = process_wide_setting(&settings) {
            return Err(in_file(ConfigError::field(
                field(key),
                "is process-wide: set it outside [[issuers]] (it applies to every issuer)",
            ))
            .into());
        }
        own_key(&name, &mut settings)?;
        settings.admin = outer.admin.clone();
        settings.config_file = None;
        let prepared = prepare(settings).map_err(|error| match error {
            StartError::Config(mut error) => {
                error.field = field(&error.field);
                StartError::Config(in_file(error))
            }
            error => error,
        })?;
        mounts.push(Mount {
            prefix: format!("/{name}"),
            name: Some(name),
            prepared,
        });
    }
    Ok(mounts)
}

/// Each issuer signs with keys of its own: without a key or seed, one generated from a seed
/// derived from its name (the same keys and `kid`s on every start, as the binary's default key,
/// so a validator that cached a JWKS keeps working across restarts), rotations going on from
/// the next seed. RSA keys so made are kept for the process: generating one takes about a
/// second in a debug build, and a test suite starts the same issuers again and again.
fn own_key(name: &str, settings: &mut Settings) -> Result<(), StartError> {
    static RSA_KEYS: Mutex<BTreeMap<(u64, usize), SigningKey>> = Mutex::new(BTreeMap::new());
    if settings.keys.is_some() || settings.key_seed.is_some() {
        return Ok(());
    }
    let seed = name_seed(name);
    let bits = settings.rsa_key_bits.unwrap_or(2048);
    let key = match settings.profile.spec().default_signing_algorithm {
        SigningAlgorithm::Es256 => SigningKey::seeded_es256(seed)?,
        // Any other size is refused by validation, which this leaves to.
        _ if bits != 2048 && bits != 3072 => {
            settings.key_seed = Some(seed);
            return Ok(());
        }
        _ => {
            let mut keys = RSA_KEYS.lock().unwrap_or_else(PoisonError::into_inner);
            match keys.get(&(seed, bits)) {
                Some(key) => key.clone(),
                None => {
                    let key = SigningKey::seeded_rsa(seed, bits)?;
                    keys.insert((seed, bits), key.clone());
                    key
                }
            }
        }
    };
    settings.keys = Some(KeyRing::new(key));
    settings.key_seed = Some(seed.wrapping_add(1));
    Ok(())
}

/// The key seed of the issuer `name`: FNV-1a (64 bits) of the name, stable across releases.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// An issuer's name: one non-empty URL path segment of unreserved characters (RFC 3986
/// §2.3), not `.` or `..`, and none of [`RESERVED_NAMES`].
pub(crate) fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty: it is the issuer's path prefix `/{name}`".to_owned());
    }
    if name == "."
        || name == ".."
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    {
        return Err(format!(
            "`{name}` must be one URL path segment of letters, digits, `-`, `.`, `_` or `~` (RFC 3986 section 2.3)"
        ));
    }
    if let Some(reserved) = RESERVED_NAMES
        .iter()
        .find(|reserved| reserved.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "`{name}` is reserved: `/{reserved}` is served at the root of the process"
        ));
    }
    Ok(())
}

/// The first issuer-level setting made on settings that also have `[[issuers]]`, by its
/// configuration key.
fn issuer_level_setting(settings: &Settings) -> Option<&'static str> {
    let default = Settings::default();
    let set = [
        ("clients", !settings.clients.is_empty()),
        ("profile", settings.profile != Profile::default()),
        ("signing_key_pem", settings.keys.is_some()),
        ("key_seed", settings.key_seed.is_some()),
        ("rsa_key_bits", settings.rsa_key_bits.is_some()),
        ("issuer_from_request", settings.issuer_from_request),
        ("token_ttl_secs", settings.token_ttl.is_some()),
        ("scenarios", !settings.scenarios.is_empty()),
        (
            "throttle",
            settings.auth_throttle.is_some() || settings.idle_throttle.is_some(),
        ),
        ("clock", settings.clock.is_some()),
        // Made on the outer builder, these would otherwise be dropped without a word: each
        // issuer's own settings are what its server runs with.
        ("limits", settings.limits != default.limits),
        ("dpop", settings.dpop != default.dpop),
        (
            "journal_capacity",
            settings.journal_capacity != default.journal_capacity,
        ),
        (
            "client_assertion_max_lifetime",
            settings.client_assertion_max_lifetime != default.client_assertion_max_lifetime,
        ),
        (
            "profile options (tenant, workspace, region, app_id, service_audiences, …)",
            settings.profile_settings != default.profile_settings,
        ),
    ];
    set.into_iter().find(|(_, set)| *set).map(|(key, _)| key)
}

/// The first process-wide setting made on one issuer's settings, by its configuration key.
fn process_wide_setting(settings: &Settings) -> Option<&'static str> {
    let admin = &settings.admin;
    let set = [
        ("bind", settings.bind.is_some()),
        ("https_bind", settings.https_bind.is_some()),
        ("tls", settings.tls.is_some()),
        ("tls_client_ca_file", settings.tls_client_ca_file.is_some()),
        ("workers", settings.workers != 1),
        ("admin", !admin.enabled),
        ("admin_token", admin.token.is_some()),
        ("admin_hosts", !admin.hosts.is_empty()),
        ("issuers", !settings.issuers.is_empty()),
    ];
    set.into_iter().find(|(_, set)| *set).map(|(key, _)| key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_unreserved_path_segment() {
        let cases = [
            ("slb", None),
            ("tenant-1.eu_x~", None),
            ("", Some("must not be empty")),
            ("a/b", Some("one URL path segment")),
            ("a b", Some("one URL path segment")),
            ("..", Some("one URL path segment")),
            ("%41", Some("one URL path segment")),
            ("_ccflow", Some("reserved")),
            (".WELL-KNOWN", Some("reserved")),
            ("healthz", Some("reserved")),
            ("readyz", Some("reserved")),
        ];
        for (name, expected) in cases {
            let result = validate_name(name);
            match expected {
                None => assert_eq!(result, Ok(()), "{name}"),
                Some(why) => assert!(
                    result.as_ref().is_err_and(|error| error.contains(why)),
                    "{name}: {result:?}"
                ),
            }
        }
    }
}
