//! The TOML configuration file and the embedded demo defaults.
//!
//! Relative paths in a file (`signing_key_pem`, `public_key_pem`) are resolved against the
//! directory of that file, so a config works whatever the current directory is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ccflow_protocol::{AuthMethod, Jwks, Profile};
use serde::Deserialize;

use crate::clients::Client;
use crate::keys::SigningKey;
use crate::server::MockAuthServerBuilder;
use crate::shape::ResponseStyle;

/// A configuration mistake: which file, which field, and why. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        write!(f, "{}: {}", self.field, self.why)
    }
}

impl std::error::Error for ConfigError {}

/// The file format (see `docs/configuration.md`). Unknown keys are errors, to catch typos.
/// No `Debug`: it holds client secrets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    issuer: Option<String>,
    profile: Option<String>,
    bind: Option<String>,
    token_ttl_secs: Option<u64>,
    signing_key_pem: Option<PathBuf>,
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
    /// Bearer token required on the /_ccflow admin API.
    admin_token: Option<String>,
    /// Serve the /_ccflow admin API (default true).
    admin: Option<bool>,
    /// SLB audiences requestable besides client ids.
    #[serde(default)]
    service_audiences: Vec<String>,
    #[serde(default)]
    clients: Vec<FileClient>,
    /// Fault scenarios installed at start (the same model as POST /_ccflow/scenarios).
    #[serde(default)]
    scenarios: Vec<ccflow_protocol::ScenarioSpec>,
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
    jwks: Option<Jwks>,
}

/// What a configuration file sets, applied onto a [`MockAuthServerBuilder`].
#[derive(Debug)]
pub(crate) struct LoadedConfig {
    pub(crate) builder: MockAuthServerBuilder,
    pub(crate) bind: Option<String>,
}

/// Reads and validates a configuration file.
pub(crate) fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::field("(file)", format!("cannot read: {error}")).in_file(path)
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse(&text, base).map_err(|error| error.in_file(path))
}

fn parse(text: &str, base: &Path) -> Result<LoadedConfig, ConfigError> {
    let file: FileConfig = toml::from_str(text).map_err(|error| {
        let why = error.message().to_owned();
        let field = match error.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                format!("(line {line})")
            }
            None => "(syntax)".to_owned(),
        };
        ConfigError::field(field, why)
    })?;
    let mut builder = MockAuthServerBuilder::default();
    if let Some(issuer) = file.issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(profile) = file.profile {
        let profile: Profile = profile
            .parse()
            .map_err(|e| ConfigError::field("profile", format!("{e}")))?;
        builder = builder.profile(profile);
    }
    if let Some(ttl) = file.token_ttl_secs {
        if ttl == 0 {
            return Err(ConfigError::field("token_ttl_secs", "must be at least 1"));
        }
        builder = builder.token_ttl(Duration::from_secs(ttl));
    }
    if let Some(pem) = file.signing_key_pem {
        let path = base.join(pem);
        let key = SigningKey::from_pem_file(&path)
            .map_err(|e| ConfigError::field("signing_key_pem", e.to_string()))?;
        builder = builder.signing_key(key);
    }
    if let Some(tenant) = file.tenant {
        builder = builder.tenant(tenant);
    }
    if let Some(workspace) = file.workspace {
        builder = builder.workspace(workspace);
    }
    if let Some(region) = file.region {
        builder = builder.region(region);
    }
    if let Some(app_id) = file.app_id {
        builder = builder.app_id(app_id);
    }
    if let Some(style) = file.response_style {
        builder = builder.response_style(match style.as_str() {
            "seed" => ResponseStyle::Seed,
            "server" => ResponseStyle::Server,
            other => {
                return Err(ConfigError::field(
                    "response_style",
                    format!("`{other}`: use `seed` or `server`"),
                ));
            }
        });
    }
    if let Some(organization_id) = file.organization_id {
        builder = builder.organization_id(organization_id);
    }
    if let Some(token) = file.admin_token {
        builder = builder.admin_token(token);
    }
    if let Some(enabled) = file.admin {
        builder = builder.admin(enabled);
    }
    if !file.service_audiences.is_empty() {
        builder = builder.service_audiences(file.service_audiences);
    }
    for (index, scenario) in file.scenarios.into_iter().enumerate() {
        scenario
            .validate()
            .map_err(|why| ConfigError::field(format!("scenarios[{index}]"), why))?;
        builder = builder.scenario(scenario);
    }
    for (index, entry) in file.clients.into_iter().enumerate() {
        builder = builder.client(client_from_file(entry, index, base)?);
    }
    Ok(LoadedConfig {
        builder,
        bind: file.bind,
    })
}

fn client_from_file(entry: FileClient, index: usize, base: &Path) -> Result<Client, ConfigError> {
    let field = |name: &str| format!("clients[{index}].{name}");
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
        (None, None) if entry.jwks.is_some() => Client::private_key_jwt(entry.client_id),
        (None, None) => {
            return Err(ConfigError::field(
                field("client_secret"),
                "give client_secret, or public_key_pem / jwks for private_key_jwt",
            ));
        }
    };
    for jwk in entry.jwks.into_iter().flat_map(|jwks| jwks.keys) {
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
    Ok(client.scopes(entry.scopes).audiences(entry.audiences))
}

fn read_pem(base: &Path, pem: &Path, field: &str) -> Result<String, ConfigError> {
    let path = base.join(pem);
    std::fs::read_to_string(&path).map_err(|error| {
        ConfigError::field(field, format!("cannot read {}: {error}", path.display()))
    })
}

/// The embedded defaults: the strict profile and two demo clients whose secrets are printed.
pub(crate) fn demo_clients() -> Vec<Client> {
    vec![
        Client::new("demo-client", "demo-secret")
            .scopes(["demo.read", "demo.write"])
            .audiences(["demo-api"])
            .demo(),
        Client::new("demo-reporting", "reporting-secret")
            .scopes(["demo.read"])
            .audiences(["demo-api"])
            .token_ttl(Duration::from_secs(600))
            .demo(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let app = loaded.builder.into_app("http://localhost").unwrap();
        assert_eq!(app.registry().iter().count(), 3);
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let error = parse(
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"hunter2-secret\"\nscopes = [\"bad scope\"]",
            Path::new("."),
        )
        .and_then(|loaded| {
            loaded
                .builder
                .into_app("http://localhost")
                .map(|_| ())
                .map_err(|e| ConfigError::field("x", e.to_string()))
        })
        .unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
