//! The TOML configuration file and the embedded demo defaults.
//!
//! Relative paths in a file (`signing_key_pem`, `public_key_pem`) are resolved against the
//! directory of that file, so a config works whatever the current directory is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ccflow_protocol::{AuthMethod, BasicCredentials, ClientSecret, Jwks};
use serde::Deserialize;

use crate::control::limits::{Limits, LimitsError};
use crate::control::throttle::{AuthThrottle, ThrottleError};
use crate::domain::clients::{Client, ClientError};
use crate::domain::keys::{KeyRing, SigningKey};
use crate::profiles::ResponseStyle;
use crate::settings::{NamedIssuer, Settings};

/// A configuration mistake: which file, which field, and why. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {why}", file_prefix(.file.as_deref()))]
pub struct ConfigError {
    /// The file, when the configuration came from one.
    pub file: Option<PathBuf>,
    /// The field, e.g. `clients[1].scopes`.
    pub field: String,
    /// What is wrong and, where possible, how to fix it.
    pub why: String,
}

impl ConfigError {
    pub(crate) fn field(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            file: None,
            field: field.into(),
            why: why.into(),
        }
    }

    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

/// `path: ` when the configuration came from a file.
fn file_prefix(file: Option<&Path>) -> String {
    file.map(|file| format!("{}: ", file.display()))
        .unwrap_or_default()
}

impl From<ClientError> for ConfigError {
    fn from(error: ClientError) -> Self {
        Self::field(error.field, error.why)
    }
}

impl From<LimitsError> for ConfigError {
    fn from(error: LimitsError) -> Self {
        Self::field(error.field, error.why)
    }
}

impl From<ThrottleError> for ConfigError {
    fn from(error: ThrottleError) -> Self {
        Self::field(error.field, error.why)
    }
}

/// The file format (see `docs/configuration.md`). Unknown keys are errors, to catch typos.
/// No `Debug`: it holds client secrets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    issuer: Option<String>,
    /// Name the issuer after each request's scheme and host.
    issuer_from_request: Option<bool>,
    profile: Option<String>,
    bind: Option<String>,
    token_ttl_secs: Option<u64>,
    /// How far ahead a `private_key_jwt` assertion's `exp` may lie.
    client_assertion_max_lifetime_secs: Option<u64>,
    signing_key_pem: Option<PathBuf>,
    /// More CAs (PEM) trusted for `tls_client_auth` client certificates (RFC 8705 §2.1):
    /// `--tls-client-ca-file`'s key.
    tls_client_ca_file: Option<PathBuf>,
    /// Cloudentity tenant id.
    tenant: Option<String>,
    /// Cloudentity workspace id.
    workspace: Option<String>,
    /// Cloudentity region (informational).
    region: Option<String>,
    /// CyberArk application id.
    app_id: Option<String>,
    /// UserClouds: `seed` (default) or `server`.
    response_style: Option<String>,
    /// UserClouds `organization_id` claim.
    organization_id: Option<String>,
    /// How Basic credentials are read: `raw`, `rfc6749` or `either`.
    basic_credentials: Option<String>,
    /// The `typ` header of access tokens.
    access_token_typ: Option<String>,
    /// Bearer token required on the /_ccflow admin API.
    admin_token: Option<String>,
    /// Serve the /_ccflow admin API (default true).
    admin: Option<bool>,
    /// More `Host` names the /_ccflow admin API and console answer to.
    #[serde(default)]
    admin_hosts: Vec<String>,
    /// SLB audiences requestable besides client ids.
    #[serde(default)]
    service_audiences: Vec<String>,
    #[serde(default)]
    clients: Vec<FileClient>,
    /// Fault scenarios installed at start (the same model as POST /_ccflow/scenarios).
    #[serde(default)]
    scenarios: Vec<ccflow_protocol::ScenarioSpec>,
    /// Request size limits (docs/security.md); each key optional.
    limits: Option<FileLimits>,
    /// Failed-authentication throttling (docs/security.md); on when the section is present.
    throttle: Option<FileThrottle>,
    /// DPoP (RFC 9449) at the token endpoint: `enabled`, `require_nonce`, `nonce_lifetime_secs`,
    /// `algorithms`, `iat_window_secs` (docs/dpop.md).
    dpop: Option<crate::domain::dpop::DpopSettings>,
    /// Several issuers in one process (docs/multi-issuer.md): each table is `name` plus the
    /// issuer-level keys of this file, with `[[issuers.clients]]`.
    #[serde(default)]
    issuers: Vec<toml::Table>,
}

/// The top-level keys that stay process-wide beside `[[issuers]]`; any other top-level key is
/// an issuer setting and must go inside each `[[issuers]]` table.
const PROCESS_WIDE_KEYS: [&str; 7] = [
    "bind",
    // The public root URL of every issuer that sets no `issuer` of its own (`{issuer}/{name}`
    // plus its profile's issuer path); see `MockAuthServerBuilder::start`.
    "issuer",
    "admin",
    "admin_token",
    "admin_hosts",
    "tls_client_ca_file",
    "issuers",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_header_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
    max_params: Option<usize>,
    max_scope_count: Option<usize>,
    max_scope_length: Option<usize>,
    max_client_id_length: Option<usize>,
    max_resource_length: Option<usize>,
    max_client_assertion_length: Option<usize>,
}

impl FileLimits {
    fn apply(self, mut limits: Limits) -> Limits {
        type Setter = fn(Limits, usize) -> Limits;
        let setters: [(Option<usize>, Setter); 8] = [
            (self.max_header_bytes, Limits::max_header_bytes),
            (self.max_body_bytes, Limits::max_body_bytes),
            (self.max_params, Limits::max_params),
            (self.max_scope_count, Limits::max_scope_count),
            (self.max_scope_length, Limits::max_scope_length),
            (self.max_client_id_length, Limits::max_client_id_length),
            (self.max_resource_length, Limits::max_resource_length),
            (
                self.max_client_assertion_length,
                Limits::max_client_assertion_length,
            ),
        ];
        for (value, set) in setters {
            if let Some(value) = value {
                limits = set(limits, value);
            }
        }
        limits
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileThrottle {
    /// Default true: writing the section turns throttling on; `false` keeps it off.
    enabled: Option<bool>,
    max_failures_per_client: Option<u32>,
    max_failures_per_ip: Option<u32>,
    window_secs: Option<u64>,
    max_tracked: Option<usize>,
}

impl FileThrottle {
    /// The settings, and whether the section turns throttling on.
    fn settings(self) -> (AuthThrottle, bool) {
        let enabled = self.enabled != Some(false);
        let mut throttle = AuthThrottle::default();
        if let Some(failures) = self.max_failures_per_client {
            throttle = throttle.max_failures_per_client(failures);
        }
        if let Some(failures) = self.max_failures_per_ip {
            throttle = throttle.max_failures_per_ip(failures);
        }
        if let Some(secs) = self.window_secs {
            throttle = throttle.window(Duration::from_secs(secs));
        }
        if let Some(entries) = self.max_tracked {
            throttle = throttle.max_tracked(entries);
        }
        (throttle, enabled)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    client_id: String,
    client_secret: Option<String>,
    auth_methods: Option<Vec<String>>,
    /// One method (Cloudentity registers exactly one per client).
    auth_method: Option<String>,
    /// `sub` for profiles that use a subject id (CyberArk, UserClouds).
    subject: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    audiences: Vec<String>,
    token_ttl_secs: Option<u64>,
    public_key_pem: Option<PathBuf>,
    /// The client's JWK Set: a TOML table (`[clients.jwks]`), or its JSON text
    /// (`jwks = '{"keys": […]}'`). Keys for `private_key_jwt`; with `x5c`, certificates for
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2).
    jwks: Option<toml::Value>,
    /// A JSON file holding the client's JWK Set, instead of `jwks`.
    jwks_file: Option<PathBuf>,
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
    #[serde(default)]
    dpop_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2: `tls_client_auth`'s expected subject DN (RFC 4514).
    tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2: `tls_client_auth`'s expected DNS subject alternative name.
    tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.2: a PEM file with `self_signed_tls_client_auth`'s certificate.
    tls_client_certificate_pem: Option<PathBuf>,
    /// RFC 8705 §3: every token is bound to the client's certificate.
    #[serde(default)]
    tls_client_certificate_bound_access_tokens: bool,
}

/// Reads and validates a configuration file.
pub(crate) fn load_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::field("(file)", format!("cannot read: {error}")).in_file(path)
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut settings = parse(&text, base).map_err(|error| error.in_file(path))?;
    settings.config_file = Some(path.to_path_buf());
    Ok(settings)
}

/// Parses and validates configuration text; relative paths are resolved against `base`.
pub(crate) fn parse(text: &str, base: &Path) -> Result<Settings, ConfigError> {
    let file: FileConfig = toml::from_str(text).map_err(|error| {
        let why = error.message().to_owned();
        let field = match error.span() {
            Some(span) => {
                // Lines before the error start, plus one (`lines()` would miss a trailing newline).
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("(line {line})")
            }
            None => "(syntax)".to_owned(),
        };
        ConfigError::field(field, why)
    })?;
    if !file.issuers.is_empty() {
        let table: toml::Table = toml::from_str(text)
            .map_err(|error| ConfigError::field("(syntax)", error.message().to_owned()))?;
        if let Some(key) = table
            .keys()
            .find(|key| !PROCESS_WIDE_KEYS.contains(&key.as_str()))
        {
            return Err(ConfigError::field(
                key.as_str(),
                "is an issuer setting: with [[issuers]] it goes inside each [[issuers]] table (only bind, tls_client_ca_file, the admin settings and the public root URL `issuer` are process-wide)",
            ));
        }
    }
    settings_of(file, base)
}

/// One `[[issuers]]` table: its `name`, and its keys read as a file of their own.
fn named_issuer(
    index: usize,
    mut table: toml::Table,
    base: &Path,
) -> Result<NamedIssuer, ConfigError> {
    let at = |field: &str| format!("issuers[{index}].{field}");
    let name = match table.remove("name") {
        Some(toml::Value::String(name)) => name,
        Some(_) => return Err(ConfigError::field(at("name"), "must be a string")),
        None => {
            return Err(ConfigError::field(
                at("name"),
                "missing: every issuer needs a name, its path prefix `/{name}`",
            ));
        }
    };
    let file: FileConfig =
        toml::Value::Table(table)
            .try_into()
            .map_err(|error: toml::de::Error| {
                ConfigError::field(format!("issuers[{index}]"), error.message().to_owned())
            })?;
    let settings = settings_of(file, base).map_err(|mut error| {
        error.field = at(&error.field);
        error
    })?;
    Ok(NamedIssuer { name, settings })
}

/// The settings a parsed file describes.
fn settings_of(file: FileConfig, base: &Path) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    if let Some(issuer) = file.issuer {
        settings.issuer = Some(issuer);
    }
    if let Some(from_request) = file.issuer_from_request {
        settings.issuer_from_request = from_request;
    }
    if let Some(profile) = file.profile {
        settings.profile = profile
            .parse()
            .map_err(|e| ConfigError::field("profile", format!("{e}")))?;
    }
    if let Some(ttl) = file.token_ttl_secs {
        if ttl == 0 {
            return Err(ConfigError::field("token_ttl_secs", "must be at least 1"));
        }
        settings.token_ttl = Some(Duration::from_secs(ttl));
    }
    if let Some(secs) = file.client_assertion_max_lifetime_secs {
        if secs == 0 {
            return Err(ConfigError::field(
                "client_assertion_max_lifetime_secs",
                "must be at least 1",
            ));
        }
        settings.client_assertion_max_lifetime = Duration::from_secs(secs);
    }
    if let Some(pem) = file.signing_key_pem {
        let path = base.join(pem);
        let key = SigningKey::from_pem_file(&path)
            .map_err(|e| ConfigError::field("signing_key_pem", e.to_string()))?;
        settings.keys = Some(KeyRing::new(key));
    }
    if let Some(path) = file.tls_client_ca_file {
        // Read when the server starts (a missing file stops it, naming the file).
        settings.tls_client_ca_file = Some(base.join(path));
    }
    let profile = &mut settings.profile_settings;
    if let Some(tenant) = file.tenant {
        profile.options.tenant = tenant;
    }
    if let Some(workspace) = file.workspace {
        profile.options.workspace = workspace;
    }
    if let Some(region) = file.region {
        profile.region = Some(region);
    }
    if let Some(app_id) = file.app_id {
        profile.options.app_id = app_id;
    }
    if let Some(style) = file.response_style {
        profile.response_style = ResponseStyle::from_name(&style).ok_or_else(|| {
            ConfigError::field(
                "response_style",
                format!("`{style}`: use `seed` or `server`"),
            )
        })?;
    }
    if let Some(organization_id) = file.organization_id {
        profile.organization_id = Some(organization_id);
    }
    if let Some(typ) = file.access_token_typ {
        if typ.is_empty() || !typ.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ConfigError::field(
                "access_token_typ",
                "must be a media type such as `JWT` or `at+jwt` (printable ASCII, no spaces)",
            ));
        }
        profile.access_token_typ = Some(typ);
    }
    if let Some(form) = file.basic_credentials {
        profile.basic_credentials = Some(BasicCredentials::from_name(&form).ok_or_else(|| {
            ConfigError::field(
                "basic_credentials",
                format!("`{form}`: use `raw`, `rfc6749` or `either`"),
            )
        })?);
    }
    if !file.service_audiences.is_empty() {
        profile.service_audiences = file.service_audiences;
    }
    if let Some(token) = file.admin_token {
        settings.admin.token = Some(ClientSecret::new(token));
    }
    if let Some(enabled) = file.admin {
        settings.admin.enabled = enabled;
    }
    settings.admin.hosts.extend(file.admin_hosts);
    if let Some(dpop) = file.dpop {
        dpop.validate()
            .map_err(|why| ConfigError::field("dpop", why))?;
        settings.dpop = dpop;
    }
    if let Some(limits) = file.limits {
        let limits = limits.apply(Limits::default());
        limits.validate()?;
        settings.limits = limits;
    }
    if let Some((throttle, enabled)) = file.throttle.map(FileThrottle::settings) {
        throttle.validate()?;
        settings.auth_throttle = Some(throttle);
        if !enabled {
            // Off but configured: `--throttle` turns it on with these settings.
            settings.idle_auth_throttle();
        }
    }
    for (index, scenario) in file.scenarios.into_iter().enumerate() {
        scenario
            .validate()
            .map_err(|why| ConfigError::field(format!("scenarios[{index}]"), why))?;
        settings.scenarios.push(scenario);
    }
    for (index, entry) in file.clients.into_iter().enumerate() {
        settings.clients.push(client_from_file(entry, index, base)?);
    }
    for (index, table) in file.issuers.into_iter().enumerate() {
        settings.issuers.push(named_issuer(index, table, base)?);
    }
    if let Some(bind) = file.bind {
        settings.bind = Some(bind.parse().map_err(|_| {
            ConfigError::field("bind", format!("`{bind}` is not an IP:port address"))
        })?);
    }
    Ok(settings)
}

fn client_from_file(entry: FileClient, index: usize, base: &Path) -> Result<Client, ConfigError> {
    let field = |name: &str| format!("clients[{index}].{name}");
    let jwks = file_jwks(entry.jwks, entry.jwks_file.as_deref(), base, &field)?;
    let mut client = match (entry.client_secret, entry.public_key_pem) {
        (Some(secret), pem) => {
            let client = Client::new(entry.client_id, secret);
            match pem {
                Some(pem) => client.public_key_pem(read_pem(base, &pem, &field("public_key_pem"))?),
                None => client,
            }
        }
        (None, Some(pem)) => Client::private_key_jwt(entry.client_id).public_key_pem(read_pem(
            base,
            &pem,
            &field("public_key_pem"),
        )?),
        (None, None)
            if jwks.is_some()
                || entry.tls_client_auth_subject_dn.is_some()
                || entry.tls_client_auth_san_dns.is_some()
                || entry.tls_client_certificate_pem.is_some() =>
        {
            Client::private_key_jwt(entry.client_id)
        }
        (None, None) => {
            return Err(ConfigError::field(
                field("client_secret"),
                "give client_secret, public_key_pem / jwks / jwks_file for private_key_jwt, or tls_client_auth_subject_dn / tls_client_auth_san_dns / tls_client_certificate_pem / jwks with x5c for mutual TLS",
            ));
        }
    };
    if let Some(dn) = entry.tls_client_auth_subject_dn {
        client = client.tls_client_auth_subject_dn(dn);
    }
    if let Some(dns) = entry.tls_client_auth_san_dns {
        client = client.tls_client_auth_san_dns(dns);
    }
    if let Some(pem) = &entry.tls_client_certificate_pem {
        client = client.tls_client_certificate_pem(read_pem(
            base,
            pem,
            &field("tls_client_certificate_pem"),
        )?);
    }
    client = client.tls_client_certificate_bound_access_tokens(
        entry.tls_client_certificate_bound_access_tokens,
    );
    for jwk in jwks.into_iter().flat_map(|jwks| jwks.keys) {
        client = client.public_jwk(jwk);
    }
    let methods = match (entry.auth_methods, entry.auth_method) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::field(
                field("auth_method"),
                "give auth_method or auth_methods, not both",
            ));
        }
        (Some(methods), None) => Some(methods),
        (None, Some(method)) => Some(vec![method]),
        (None, None) => None,
    };
    if let Some(subject) = entry.subject {
        client = client.subject(subject);
    }
    if let Some(methods) = methods {
        let methods = methods
            .iter()
            .map(|m| m.parse::<AuthMethod>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::field(field("auth_methods"), e.to_string()))?;
        client = client.auth_methods(methods);
    }
    if let Some(ttl) = entry.token_ttl_secs {
        if ttl == 0 {
            return Err(ConfigError::field(
                field("token_ttl_secs"),
                "must be at least 1",
            ));
        }
        client = client.token_ttl(Duration::from_secs(ttl));
    }
    Ok(client
        .scopes(entry.scopes)
        .audiences(entry.audiences)
        .dpop_bound_access_tokens(entry.dpop_bound_access_tokens))
}

/// The client's JWK Set from `jwks` (a TOML table, or JSON text) or `jwks_file` (a JSON file
/// relative to `base`); at most one of them.
fn file_jwks(
    jwks: Option<toml::Value>,
    jwks_file: Option<&Path>,
    base: &Path,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<Jwks>, ConfigError> {
    let from_json = |text: &str, name: &str| {
        serde_json::from_str::<Jwks>(text).map_err(|error| {
            ConfigError::field(
                field(name),
                format!("not a JSON JWK Set (`{{\"keys\": [...]}}`, RFC 7517 section 5): {error}"),
            )
        })
    };
    match (jwks, jwks_file) {
        (Some(_), Some(_)) => Err(ConfigError::field(
            field("jwks_file"),
            "give jwks or jwks_file, not both",
        )),
        (Some(toml::Value::String(text)), None) => from_json(&text, "jwks").map(Some),
        (Some(table @ toml::Value::Table(_)), None) => table
            .try_into::<Jwks>()
            .map(Some)
            .map_err(|error| ConfigError::field(field("jwks"), error.message().to_owned())),
        (Some(_), None) => Err(ConfigError::field(
            field("jwks"),
            "must be a table with `keys`, or the JWK Set's JSON text",
        )),
        (None, Some(path)) => {
            let path = base.join(path);
            let text = std::fs::read_to_string(&path).map_err(|error| {
                ConfigError::field(
                    field("jwks_file"),
                    format!("cannot read {}: {error}", path.display()),
                )
            })?;
            from_json(&text, "jwks_file").map(Some)
        }
        (None, None) => Ok(None),
    }
}

fn read_pem(base: &Path, pem: &Path, field: &str) -> Result<String, ConfigError> {
    let path = base.join(pem);
    std::fs::read_to_string(&path).map_err(|error| {
        ConfigError::field(field, format!("cannot read {}: {error}", path.display()))
    })
}

/// The audience the demo clients' tokens are for, and the sample API's default audience.
pub(crate) const DEMO_AUDIENCE: &str = "demo-api";

/// The embedded defaults: two demo clients whose secrets are printed, able to call every route
/// of the sample API (`items:read`, `items:write`; docs/resource-api.md).
pub(crate) fn demo_clients() -> Vec<Client> {
    vec![
        Client::new("demo-client", "demo-secret")
            .scopes(["demo.read", "demo.write", "items:read", "items:write"])
            .audiences([DEMO_AUDIENCE])
            .demo(),
        Client::new("demo-reporting", "reporting-secret")
            .scopes(["demo.read", "items:read"])
            .audiences([DEMO_AUDIENCE])
            .token_ttl(Duration::from_secs(600))
            .demo(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::MockAuthServerBuilder;

    fn builder(settings: Settings) -> MockAuthServerBuilder {
        MockAuthServerBuilder::from_settings(settings)
    }

    #[track_caller]
    fn check_error(toml: &str, field: &str, why_contains: &str) {
        let error = parse(toml, Path::new(".")).unwrap_err();
        assert_eq!(error.field, field, "{error}");
        assert!(error.why.contains(why_contains), "{error}");
    }

    #[test]
    fn accepts_the_documented_schema() {
        let loaded = parse(
            r#"
            issuer = "http://127.0.0.1:8080"
            profile = "rfc"
            token_ttl_secs = 3600
            [[clients]]
            client_id = "orders-service"
            client_secret = "orders-secret"
            auth_methods = ["client_secret_basic", "client_secret_post"]
            scopes = ["orders.read", "orders.write"]
            audiences = ["orders-api"]
            token_ttl_secs = 600
            "#,
            Path::new("."),
        )
        .unwrap();
        assert!(loaded.bind.is_none());
    }

    #[test]
    fn rejects_bad_configs_naming_the_field() {
        check_error("isuer = \"x\"", "(line 1)", "unknown field `isuer`");
        check_error("profile = \"nope\"", "profile", "nope");
        check_error("token_ttl_secs = 0", "token_ttl_secs", "at least 1");
        check_error("token_ttl_secs = -5", "(line 1)", "");
        check_error(
            "[[clients]]\nclient_id = \"a\"",
            "clients[0].client_secret",
            "public_key_pem",
        );
        check_error(
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"s\"\nauth_methods = [\"client_secret_jwt\"]",
            "clients[0].auth_methods",
            "client_secret_jwt",
        );
        check_error(
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"s\"\npublic_key_pem = \"missing.pem\"",
            "clients[0].public_key_pem",
            "cannot read",
        );
        check_error(
            "[limits]\nmax_params = 0",
            "limits.max_params",
            "at least 1",
        );
        check_error(
            "[limits]\nmax_parms = 3",
            "(line 2)",
            "unknown field `max_parms`",
        );
        check_error(
            "[limits]\nmax_header_bytes = 200000",
            "limits.max_header_bytes",
            "actix-web",
        );
        check_error(
            "[throttle]\nwindow_secs = 0",
            "throttle.window_secs",
            "at least 1",
        );
        check_error(
            "[throttle]\nmax_failures = 3",
            "(line 2)",
            "unknown field `max_failures`",
        );
        check_error(
            "signing_key_pem = \"missing.pem\"",
            "signing_key_pem",
            "cannot read",
        );
    }

    #[test]
    fn the_documented_example_loads() {
        let doc = include_str!("../../../docs/configuration.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/configuration.md has a toml example");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let loaded = parse(example, &fixtures).unwrap_or_else(|e| panic!("{e}"));
        let app = builder(loaded).into_app("http://localhost").unwrap();
        assert_eq!(app.registry().iter().count(), 3);
    }

    #[test]
    fn admin_hosts_are_read_as_given() {
        let loaded = parse(
            r#"admin_hosts = ["auth", "ccflow.test:8080"]"#,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(loaded.admin.hosts, ["auth", "ccflow.test:8080"]);
        check_error("admin_hosts = \"auth\"", "(line 1)", "");
    }

    #[test]
    fn limits_and_throttle_sections_set_the_builder() {
        let loaded = parse(
            "[limits]\nmax_params = 7\nmax_scope_count = 3\n[throttle]\nmax_failures_per_client = 2\nwindow_secs = 30",
            Path::new("."),
        )
        .unwrap();
        let app = builder(loaded).into_app("http://localhost").unwrap();
        assert_eq!(
            app.inner.limits,
            Limits::default().max_params(7).max_scope_count(3)
        );
        assert!(app.inner.throttle.is_some());
        let off = builder(
            parse(
                "[throttle]\nenabled = false\nwindow_secs = 30",
                Path::new("."),
            )
            .unwrap(),
        )
        .into_app("http://localhost")
        .unwrap();
        assert!(off.inner.throttle.is_none());
        // `--throttle` turns an off section on with its own settings, and no section on with
        // the defaults.
        let on = |text: &str| {
            builder(parse(text, Path::new(".")).unwrap())
                .enable_auth_throttle()
                .into_app("http://localhost")
                .unwrap()
                .inner
                .throttle
                .as_ref()
                .map(|throttle| throttle.settings().clone())
        };
        assert_eq!(
            on("[throttle]\nenabled = false\nwindow_secs = 30"),
            Some(AuthThrottle::default().window(Duration::from_secs(30)))
        );
        assert_eq!(on(""), Some(AuthThrottle::default()));
        assert_eq!(
            on("[throttle]\nmax_failures_per_ip = 3"),
            Some(AuthThrottle::default().max_failures_per_ip(3))
        );
        let default = builder(parse("", Path::new(".")).unwrap())
            .into_app("http://localhost")
            .unwrap();
        assert!(default.inner.throttle.is_none());
        assert_eq!(default.inner.limits, Limits::default());
    }

    #[test]
    fn the_builder_loads_configuration_text() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let text = std::fs::read_to_string(fixtures.join("ccflow.toml")).unwrap();
        let builder = MockAuthServerBuilder::from_config_str(&text, &fixtures)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(builder.into_app("http://localhost").is_ok());
        let error = MockAuthServerBuilder::from_config_str("bind = \"nowhere\"", ".").unwrap_err();
        assert_eq!((error.file, error.field.as_str()), (None, "bind"));
        let error = MockAuthServerBuilder::from_config_str("bind = ", ".").unwrap_err();
        assert_eq!(error.field, "(line 1)");
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let error = parse(
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"hunter2-secret\"\nscopes = [\"bad scope\"]",
            Path::new("."),
        )
        .and_then(|loaded| {
            builder(loaded)
                .into_app("http://localhost")
                .map(|_| ())
                .map_err(|e| ConfigError::field("x", e.to_string()))
        })
        .unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
