//! The sample API's optional TOML file (keys documented in docs/resource-api.md), read into
//! [`Settings`] that the binary then overrides with environment variables and flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{Algorithm, ForwardedCertificateFormat, IpNetwork, TokenBinding, ValidatorBuilder};

/// Why a configuration file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", file.as_ref().map(|file| format!("{}: ", file.display())).unwrap_or_default())]
pub struct ConfigError {
    /// The file, when read from one.
    pub file: Option<PathBuf>,
    /// What is wrong, naming the key.
    pub message: String,
}

/// The JWKS cache settings of the file's `[jwks]` table; unset ones keep the
/// validator's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksFileSettings {
    /// `refresh_cooldown_secs`.
    pub refresh_cooldown: Option<Duration>,
    /// `retry_interval_secs`.
    pub retry_interval: Option<Duration>,
    /// `fetch_timeout_ms`.
    pub fetch_timeout: Option<Duration>,
    /// `default_ttl_secs`.
    pub default_ttl: Option<Duration>,
    /// `min_ttl_secs`.
    pub min_ttl: Option<Duration>,
    /// `max_ttl_secs`.
    pub max_ttl: Option<Duration>,
    /// `max_stale_secs`.
    pub max_stale: Option<Duration>,
}

/// The DPoP settings of the file's `[dpop]` table (RFC 9449); unset ones keep the validator's
/// defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopFileSettings {
    /// `require_nonce`: every proof must carry a nonce this API issued.
    pub require_nonce: Option<bool>,
    /// `nonce_lifetime_secs`.
    pub nonce_lifetime: Option<Duration>,
    /// `iat_window_secs`.
    pub iat_window: Option<Duration>,
    /// `algorithms`: accepted proof algorithms.
    pub algorithms: Option<Vec<Algorithm>>,
}

/// One `[[issuers]]` table: an issuer the API trusts besides (or instead of) the top-level
/// `issuer`, with its own audiences, profile and key source. What it leaves unset comes from
/// the top level (`audiences`, `algorithms`, `accepted_typ`), as
/// [`IssuerSettings`](crate::IssuerSettings) inherits from the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerFileSettings {
    /// `issuer`: what `iss` equals for this issuer's tokens.
    pub issuer: String,
    /// `audiences`: this issuer's (default: the top-level `audiences`).
    pub audiences: Vec<String>,
    /// `profile`: whose resource defaults apply (`typ`, scope claim, audience-only
    /// authorisation).
    pub profile: Option<ccflow_protocol::Profile>,
    /// `jwks_url`: to skip this issuer's discovery.
    pub jwks_url: Option<String>,
    /// `algorithms`: this issuer's allow-list.
    pub algorithms: Option<Vec<Algorithm>>,
    /// `accepted_typ`: this issuer's accepted `typ` values.
    pub accepted_typ: Option<Vec<String>>,
    /// `scope_claim`: `scope` or `scp`, the one claim scopes are read from.
    pub scope_claim: Option<&'static str>,
    /// `authorize_by_audience`: whether this issuer's tokens need no scopes (default: the
    /// profile's).
    pub authorize_by_audience: Option<bool>,
}

impl IssuerFileSettings {
    /// An issuer with nothing else set.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: Vec::new(),
            profile: None,
            jwks_url: None,
            algorithms: None,
            accepted_typ: None,
            scope_claim: None,
            authorize_by_audience: None,
        }
    }

    /// The validator's settings for this issuer.
    pub fn issuer_settings(&self) -> crate::IssuerSettings {
        let mut settings = crate::IssuerSettings::new(self.issuer.clone())
            .audiences(self.audiences.iter().cloned());
        if let Some(profile) = self.profile {
            settings = settings.profile(profile);
        }
        if let Some(url) = &self.jwks_url {
            settings = settings.jwks_url(url.clone());
        }
        if let Some(algorithms) = &self.algorithms {
            settings = settings.algorithms(algorithms.iter().copied());
        }
        if let Some(accepted) = &self.accepted_typ {
            settings = settings.require_typ(accepted);
        }
        if let Some(claim) = self.scope_claim {
            settings = settings.scope_claim(claim);
        }
        if let Some(enabled) = self.authorize_by_audience {
            settings = settings.authorize_by_audience(enabled);
        }
        settings
    }
}

/// The sample API's settings, from a file or built up by the binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// Address to listen on.
    pub bind: Option<SocketAddr>,
    /// `https_bind`: a second address, serving HTTPS while `bind` serves HTTP.
    pub https_bind: Option<SocketAddr>,
    /// The issuer `iss` must equal; its metadata names the JWKS.
    pub issuer: Option<String>,
    /// `[[issuers]]`: more trusted issuers, each with its own audiences, profile and keys (the
    /// top-level `issuer`, if any, is trusted first).
    pub issuers: Vec<IssuerFileSettings>,
    /// The API's audiences.
    pub audiences: Vec<String>,
    /// A JWKS URL, to skip discovery.
    pub jwks_url: Option<String>,
    /// The algorithm allow-list.
    pub algorithms: Option<Vec<Algorithm>>,
    /// The vendor profile whose validation defaults apply (see `ProfileSpec::resource`).
    pub profile: Option<ccflow_protocol::Profile>,
    /// Accepted `typ` values.
    pub accepted_typ: Option<Vec<String>>,
    /// Leeway on `exp`/`nbf`/`iat`.
    pub leeway: Option<Duration>,
    /// Challenge realm.
    pub realm: Option<String>,
    /// HTTP worker threads.
    pub workers: Option<usize>,
    /// The `[jwks]` table.
    pub jwks: JwksFileSettings,
    /// `appkeys`: the keys SLB's `appkey` header may hold; empty means no such policy. They
    /// are secrets: `Debug` redacts them.
    pub appkeys: Vec<ccflow_protocol::ClientSecret>,
    /// `token_binding`: `bearer`, `dpop` or `either` (the sample API's default: `either`).
    pub token_binding: Option<TokenBinding>,
    /// `public_url`: the URL clients reach the API at behind a proxy, which DPoP proofs' `htu`
    /// name.
    pub public_url: Option<String>,
    /// The `[dpop]` table.
    pub dpop: DpopFileSettings,
    /// `client_cert_header`: behind a TLS-terminating proxy, the header it forwards the client
    /// certificate in (RFC 8705 §3 checks then use it on requests from `trusted_proxies`).
    pub client_cert_header: Option<String>,
    /// `client_cert_header_format`: `xfcc` or `pem`; default `xfcc` for
    /// `X-Forwarded-Client-Cert`, else `pem`.
    pub client_cert_header_format: Option<ForwardedCertificateFormat>,
    /// `trusted_proxies`: the addresses or CIDR blocks whose requests may carry the header.
    pub trusted_proxies: Vec<IpNetwork>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    bind: Option<String>,
    https_bind: Option<String>,
    issuer: Option<String>,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
    #[serde(default)]
    audiences: Vec<String>,
    jwks_url: Option<String>,
    algorithms: Option<Vec<String>>,
    profile: Option<ccflow_protocol::Profile>,
    accepted_typ: Option<Vec<String>>,
    leeway_secs: Option<u64>,
    realm: Option<String>,
    workers: Option<usize>,
    #[serde(default)]
    jwks: RawJwks,
    #[serde(default)]
    appkeys: Vec<String>,
    token_binding: Option<String>,
    public_url: Option<String>,
    #[serde(default)]
    dpop: RawDpop,
    client_cert_header: Option<String>,
    client_cert_header_format: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    #[serde(default)]
    audiences: Vec<String>,
    profile: Option<ccflow_protocol::Profile>,
    jwks_url: Option<String>,
    algorithms: Option<Vec<String>>,
    accepted_typ: Option<Vec<String>>,
    scope_claim: Option<String>,
    authorize_by_audience: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDpop {
    require_nonce: Option<bool>,
    nonce_lifetime_secs: Option<u64>,
    iat_window_secs: Option<u64>,
    algorithms: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawJwks {
    refresh_cooldown_secs: Option<u64>,
    retry_interval_secs: Option<u64>,
    fetch_timeout_ms: Option<u64>,
    default_ttl_secs: Option<u64>,
    min_ttl_secs: Option<u64>,
    max_ttl_secs: Option<u64>,
    max_stale_secs: Option<u64>,
}

impl Settings {
    /// Reads a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Settings, ConfigError> {
        let path = path.as_ref();
        let in_file = |message: String| ConfigError {
            file: Some(path.to_path_buf()),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|error| in_file(format!("cannot read the file: {error}")))?;
        Settings::from_toml(&text).map_err(|error| in_file(error.message))
    }

    /// Parses TOML text. Unknown keys are errors, so a typo cannot silently
    /// leave a check at its default.
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let error = |message: String| ConfigError {
            file: None,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|error_| error(error_.to_string()))?;
        let address = |key: &str, value: Option<String>| {
            value
                .map(|value| {
                    value
                        .parse()
                        .map_err(|_| error(format!("{key}: `{value}` is not an IP:port address")))
                })
                .transpose()
        };
        let bind = address("bind", raw.bind)?;
        let https_bind = address("https_bind", raw.https_bind)?;
        let parse_algorithms = |key: &str, names: Option<Vec<String>>| {
            names
                .map(|names| {
                    names
                        .iter()
                        .map(|name| {
                            name.parse::<Algorithm>().map_err(|_| {
                                error(format!("{key}: `{name}` is not a JWS algorithm"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
        };
        let algorithms = parse_algorithms("algorithms", raw.algorithms)?;
        let mut issuers = Vec::with_capacity(raw.issuers.len());
        for (index, issuer) in raw.issuers.into_iter().enumerate() {
            let scope_claim = match issuer.scope_claim.as_deref() {
                None => None,
                Some("scope") => Some("scope"),
                Some("scp") => Some("scp"),
                Some(other) => {
                    return Err(error(format!(
                        "issuers[{index}].scope_claim: `{other}` is not scope or scp"
                    )));
                }
            };
            issuers.push(IssuerFileSettings {
                issuer: issuer.issuer,
                audiences: issuer.audiences,
                profile: issuer.profile,
                jwks_url: issuer.jwks_url,
                algorithms: parse_algorithms(
                    &format!("issuers[{index}].algorithms"),
                    issuer.algorithms,
                )?,
                accepted_typ: issuer.accepted_typ,
                scope_claim,
                authorize_by_audience: issuer.authorize_by_audience,
            });
        }
        let token_binding = raw
            .token_binding
            .map(|name| {
                name.parse::<TokenBinding>()
                    .map_err(|why| error(format!("token_binding: {why}")))
            })
            .transpose()?;
        let client_cert_header_format = raw
            .client_cert_header_format
            .map(|name| {
                name.parse::<ForwardedCertificateFormat>()
                    .map_err(|why| error(format!("client_cert_header_format: {why}")))
            })
            .transpose()?;
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|proxy| {
                proxy
                    .parse::<IpNetwork>()
                    .map_err(|why| error(format!("trusted_proxies: {why}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if raw.appkeys.iter().any(String::is_empty) {
            return Err(error("appkeys: a key must not be empty".to_owned()));
        }
        let seconds = |value: Option<u64>| value.map(Duration::from_secs);
        Ok(Settings {
            bind,
            https_bind,
            issuer: raw.issuer,
            issuers,
            audiences: raw.audiences,
            jwks_url: raw.jwks_url,
            algorithms,
            profile: raw.profile,
            accepted_typ: raw.accepted_typ,
            leeway: seconds(raw.leeway_secs),
            realm: raw.realm,
            workers: raw.workers,
            jwks: JwksFileSettings {
                refresh_cooldown: seconds(raw.jwks.refresh_cooldown_secs),
                retry_interval: seconds(raw.jwks.retry_interval_secs),
                fetch_timeout: raw.jwks.fetch_timeout_ms.map(Duration::from_millis),
                default_ttl: seconds(raw.jwks.default_ttl_secs),
                min_ttl: seconds(raw.jwks.min_ttl_secs),
                max_ttl: seconds(raw.jwks.max_ttl_secs),
                max_stale: seconds(raw.jwks.max_stale_secs),
            },
            appkeys: raw
                .appkeys
                .into_iter()
                .map(ccflow_protocol::ClientSecret::new)
                .collect(),
            token_binding,
            public_url: raw.public_url,
            dpop: DpopFileSettings {
                require_nonce: raw.dpop.require_nonce,
                nonce_lifetime: seconds(raw.dpop.nonce_lifetime_secs),
                iat_window: seconds(raw.dpop.iat_window_secs),
                algorithms: parse_algorithms("dpop.algorithms", raw.dpop.algorithms)?,
            },
            client_cert_header: raw.client_cert_header,
            client_cert_header_format,
            trusted_proxies,
        })
    }

    /// Whether the sample API authorises every token by audience alone: for one issuer whose
    /// profile does (SLB, UserClouds). With `[[issuers]]`, each issuer's own setting applies
    /// instead, to its tokens only.
    pub fn authorize_by_audience(&self) -> bool {
        self.issuers.is_empty()
            && self
                .profile
                .is_some_and(|profile| profile.spec().resource.authorize_by_audience)
    }

    /// A validator builder with every setting given here applied; the token binding is
    /// `either` unless set (the sample API takes Bearer and DPoP tokens). The top-level
    /// `audiences`, `algorithms` and `accepted_typ` are every issuer's defaults; with
    /// `[[issuers]]`, the top-level `profile` and `jwks_url` are the top-level issuer's only.
    pub fn validator_builder(&self) -> ValidatorBuilder {
        let mut builder = crate::Validator::builder()
            .audiences(self.audiences.iter().cloned())
            .token_binding(self.token_binding.unwrap_or(TokenBinding::Either));
        if let Some(url) = &self.public_url {
            builder = builder.public_url(url.clone());
        }
        let dpop = &self.dpop;
        if let Some(require) = dpop.require_nonce {
            builder = builder.dpop_require_nonce(require);
        }
        if let Some(lifetime) = dpop.nonce_lifetime {
            builder = builder.dpop_nonce_lifetime(lifetime);
        }
        if let Some(window) = dpop.iat_window {
            builder = builder.dpop_iat_window(window);
        }
        if let Some(algorithms) = &dpop.algorithms {
            builder = builder.dpop_algorithms(algorithms.iter().copied());
        }
        if let Some(header) = &self.client_cert_header {
            let format = self
                .client_cert_header_format
                .unwrap_or_else(|| ForwardedCertificateFormat::default_for(header));
            builder = builder.forwarded_client_certificate(header.clone(), format);
        }
        builder = builder.trusted_proxies(self.trusted_proxies.iter().copied());
        if let Some(algorithms) = &self.algorithms {
            builder = builder.algorithms(algorithms.iter().copied());
        }
        if self.issuers.is_empty() {
            // One issuer, configured on the builder as it always was.
            if let Some(issuer) = &self.issuer {
                builder = builder.issuer(issuer.clone());
            }
            if let Some(url) = &self.jwks_url {
                builder = builder.jwks_url(url.clone());
            }
            if let Some(profile) = self.profile {
                builder = builder.profile(profile);
            }
        } else {
            // Several: the top-level issuer (with the top-level profile and JWKS URL) is
            // trusted first, then each `[[issuers]]` table, each with its own profile.
            match &self.issuer {
                Some(issuer) => {
                    let mut top = IssuerFileSettings::new(issuer.clone());
                    top.profile = self.profile;
                    top.jwks_url.clone_from(&self.jwks_url);
                    builder = builder.trust(top.issuer_settings());
                }
                // Refused by the builder, which says the JWKS URL belongs to an issuer.
                None => {
                    if let Some(url) = &self.jwks_url {
                        builder = builder.jwks_url(url.clone());
                    }
                }
            }
            for issuer in &self.issuers {
                builder = builder.trust(issuer.issuer_settings());
            }
        }
        if let Some(accepted) = &self.accepted_typ {
            builder = builder.require_typ(accepted);
        }
        if let Some(leeway) = self.leeway {
            builder = builder.leeway(leeway);
        }
        if let Some(realm) = &self.realm {
            builder = builder.realm(realm.clone());
        }
        let jwks = &self.jwks;
        if let Some(value) = jwks.refresh_cooldown {
            builder = builder.jwks_refresh_cooldown(value);
        }
        if let Some(value) = jwks.retry_interval {
            builder = builder.jwks_retry_interval(value);
        }
        if let Some(value) = jwks.fetch_timeout {
            builder = builder.jwks_fetch_timeout(value);
        }
        if let Some(value) = jwks.default_ttl {
            builder = builder.jwks_default_ttl(value);
        }
        if jwks.min_ttl.is_some() || jwks.max_ttl.is_some() {
            let defaults = crate::jwks::JwksSettings::default();
            builder = builder.jwks_ttl_bounds(
                jwks.min_ttl.unwrap_or(defaults.min_ttl),
                jwks.max_ttl.unwrap_or(defaults.max_ttl),
            );
        }
        if let Some(value) = jwks.max_stale {
            builder = builder.jwks_max_stale(value);
        }
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first TOML example after `heading` in docs/resource-api.md, so the guide cannot
    /// drift from the parser.
    fn documented_toml(heading: &str) -> String {
        let guide = include_str!("../../../../docs/resource-api.md");
        let section = guide.find(heading).expect("the guide has the section");
        let start = section
            + guide[section..]
                .find("```toml\n")
                .expect("the section has a TOML example")
            + "```toml\n".len();
        let length = guide[start..].find("```").expect("the TOML block ends");
        guide[start..start + length].to_owned()
    }

    fn documented_example() -> String {
        documented_toml("\n### Configuration\n")
    }

    #[test]
    fn reads_the_documented_issuers_list() {
        let settings = Settings::from_toml(&documented_toml("\n## Several issuers\n")).unwrap();
        assert_eq!(settings.issuer, None);
        let issuers: Vec<(&str, Option<ccflow_protocol::Profile>)> = settings
            .issuers
            .iter()
            .map(|issuer| (issuer.issuer.as_str(), issuer.profile))
            .collect();
        assert_eq!(
            issuers,
            [
                ("http://127.0.0.1:8080", Some(ccflow_protocol::Profile::Rfc)),
                (
                    "http://127.0.0.1:9090/v2",
                    Some(ccflow_protocol::Profile::Slb)
                ),
            ]
        );
        let validator = settings.validator_builder().build().unwrap();
        let trusted: Vec<(&str, &[String], bool)> = validator
            .trusted_issuers()
            .map(|trusted| {
                (
                    trusted.issuer(),
                    trusted.audiences(),
                    trusted.authorizes_by_audience(),
                )
            })
            .collect();
        let items = ["items-api".to_owned()];
        let slb = ["items-api-slb".to_owned()];
        assert_eq!(
            trusted,
            [
                ("http://127.0.0.1:8080", &items[..], false),
                ("http://127.0.0.1:9090/v2", &slb[..], true),
            ]
        );
        // Each issuer's own tokens: the profile's `typ`s and scope claim.
        let slb = validator
            .trusted_issuer("http://127.0.0.1:9090/v2")
            .unwrap();
        assert_eq!(slb.scope_claim(), Some("scope"));
        assert!(
            !settings.authorize_by_audience(),
            "no API-wide audience policy"
        );
    }

    /// A top-level issuer beside `[[issuers]]` is trusted first, with the top-level profile;
    /// bad list entries are refused naming the entry and the key.
    #[test]
    fn mixes_the_top_level_issuer_with_the_list() {
        let settings = Settings::from_toml(
            "issuer = \"https://a.test\"\nprofile = \"slb\"\naudiences = [\"api\"]\n[[issuers]]\nissuer = \"https://b.test\"\nscope_claim = \"scp\"\nalgorithms = [\"ES256\"]\n",
        )
        .unwrap();
        let validator = settings.validator_builder().build().unwrap();
        let a = validator.trusted_issuer("https://a.test").unwrap();
        let b = validator.trusted_issuer("https://b.test").unwrap();
        assert_eq!(validator.issuer(), "https://a.test");
        assert!(a.authorizes_by_audience() && !b.authorizes_by_audience());
        assert_eq!(
            (b.audiences(), b.algorithms()),
            (&["api".to_owned()][..], &[Algorithm::ES256][..])
        );
        assert_eq!(b.scope_claim(), Some("scp"));
        #[track_caller]
        fn refused(toml: &str, expected: &str) {
            let error = Settings::from_toml(toml).unwrap_err();
            assert!(error.message.contains(expected), "{error}");
        }
        refused(
            "[[issuers]]\nissuer = \"https://b.test\"\nscope_claim = \"roles\"",
            "issuers[0].scope_claim: `roles` is not scope or scp",
        );
        refused(
            "[[issuers]]\nissuer = \"https://b.test\"\n[[issuers]]\nissuer = \"https://c.test\"\nalgorithms = [\"none\"]",
            "issuers[1].algorithms: `none` is not a JWS algorithm",
        );
        refused("[[issuers]]\naudiences = [\"a\"]", "missing field `issuer`");
    }

    #[test]
    fn reads_the_documented_example() {
        let settings = Settings::from_toml(&documented_example()).unwrap();
        assert_eq!(settings.bind, Some("127.0.0.1:8081".parse().unwrap()));
        assert_eq!(settings.issuer.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(settings.audiences, ["items-api"]);
        assert_eq!(
            settings.algorithms,
            Some(vec![Algorithm::RS256, Algorithm::PS256, Algorithm::ES256])
        );
        assert_eq!(settings.jwks.fetch_timeout, Some(Duration::from_secs(3)));
        assert_eq!(settings.jwks.max_stale, Some(Duration::from_secs(86_400)));
        assert_eq!(settings.token_binding, Some(TokenBinding::Either));
        assert_eq!(settings.dpop.require_nonce, Some(false));
        assert_eq!(settings.dpop.iat_window, Some(Duration::from_secs(60)));
        assert_eq!(settings.dpop.algorithms.as_ref().map(Vec::len), Some(4));
        let validator = settings.validator_builder().build().unwrap();
        assert_eq!(validator.audiences(), ["items-api"]);
        assert_eq!(validator.token_binding(), TokenBinding::Either);
    }

    /// `token_binding`, `public_url` and `[dpop]` reach the validator; the sample API takes
    /// either scheme when the file does not say.
    #[test]
    fn dpop_settings_reach_the_validator() {
        #[track_caller]
        fn check(toml: &str, binding: TokenBinding, public_url: Option<&str>) {
            let text = format!("issuer = \"https://issuer.test\"\naudiences = [\"api\"]\n{toml}");
            let validator = Settings::from_toml(&text)
                .unwrap()
                .validator_builder()
                .build()
                .unwrap();
            assert_eq!(validator.token_binding(), binding, "{toml}");
            assert_eq!(validator.public_url(), public_url, "{toml}");
        }
        check("", TokenBinding::Either, None);
        check("token_binding = \"bearer\"", TokenBinding::Bearer, None);
        check(
            "token_binding = \"DPoP\"\npublic_url = \"https://api.example.com/gw/\"",
            TokenBinding::Dpop,
            Some("https://api.example.com/gw"),
        );
        let refused = Settings::from_toml(
            "issuer = \"https://issuer.test\"\naudiences = [\"api\"]\npublic_url = \"api.example.com\"",
        )
        .unwrap()
        .validator_builder()
        .build()
        .unwrap_err();
        assert_eq!(refused, crate::BuildError::InvalidPublicUrl);
        let only_ed25519 = Settings::from_toml(
            "issuer = \"https://issuer.test\"\naudiences = [\"api\"]\n[dpop]\nalgorithms = [\"EdDSA\"]\nrequire_nonce = true",
        )
        .unwrap()
        .validator_builder()
        .build()
        .unwrap();
        assert_eq!(only_ed25519.dpop_algorithms(), [Algorithm::EdDSA]);
    }

    /// `client_cert_header`, its format and `trusted_proxies` reach the validator; each needs
    /// the other.
    #[test]
    fn forwarded_certificate_settings_reach_the_validator() {
        let base = "issuer = \"https://issuer.test\"\naudiences = [\"api\"]\n";
        #[track_caller]
        fn check(
            toml: &str,
            header: Option<&str>,
            format: Option<ForwardedCertificateFormat>,
            proxies: &[&str],
        ) {
            let validator = Settings::from_toml(toml)
                .unwrap()
                .validator_builder()
                .build()
                .unwrap();
            assert_eq!(validator.forwarded_certificate_header(), header, "{toml}");
            assert_eq!(validator.forwarded_certificate_format(), format, "{toml}");
            let trusted: Vec<String> = validator
                .trusted_proxies()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(trusted, proxies, "{toml}");
        }
        check(base, None, None, &[]);
        check(
            &format!(
                "{base}client_cert_header = \"X-SSL-Client-Cert\"\ntrusted_proxies = [\"127.0.0.3\", \"10.0.0.0/8\"]"
            ),
            Some("x-ssl-client-cert"),
            Some(ForwardedCertificateFormat::EscapedPem),
            &["127.0.0.3/32", "10.0.0.0/8"],
        );
        check(
            &format!(
                "{base}client_cert_header = \"X-Forwarded-Client-Cert\"\ntrusted_proxies = [\"::1\"]"
            ),
            Some("x-forwarded-client-cert"),
            Some(ForwardedCertificateFormat::Xfcc),
            &["::1/128"],
        );
        check(
            &format!(
                "{base}client_cert_header = \"X-Client-Cert\"\nclient_cert_header_format = \"xfcc\"\ntrusted_proxies = [\"10.0.0.1\"]"
            ),
            Some("x-client-cert"),
            Some(ForwardedCertificateFormat::Xfcc),
            &["10.0.0.1/32"],
        );
        #[track_caller]
        fn refused(toml: &str, expected: &str) {
            let error = Settings::from_toml(toml)
                .unwrap()
                .validator_builder()
                .build()
                .unwrap_err();
            assert!(error.to_string().contains(expected), "{toml}: {error}");
        }
        refused(
            &format!("{base}client_cert_header = \"X-SSL-Client-Cert\""),
            "read only from trusted proxies",
        );
        refused(
            &format!("{base}trusted_proxies = [\"10.0.0.1\"]"),
            "trusted proxies without a forwarded client certificate header",
        );
        refused(
            &format!("{base}client_cert_header = \"X SSL\"\ntrusted_proxies = [\"10.0.0.1\"]"),
            "not an HTTP field name",
        );
    }

    #[test]
    fn reads_an_empty_file_as_defaults() {
        assert_eq!(Settings::from_toml("").unwrap(), Settings::default());
    }

    #[test]
    fn refuses_bad_values_naming_the_key() {
        #[track_caller]
        fn check(toml: &str, expected: &str) {
            let error = Settings::from_toml(toml).unwrap_err();
            assert!(error.message.contains(expected), "{error}");
        }
        check(
            "bind = \"localhost\"",
            "bind: `localhost` is not an IP:port address",
        );
        check(
            "https_bind = \"localhost:8443\"",
            "https_bind: `localhost:8443` is not an IP:port address",
        );
        check(
            "algorithms = [\"none\"]",
            "algorithms: `none` is not a JWS algorithm",
        );
        check("audience = [\"typo\"]", "unknown field `audience`");
        check(
            "[jwks]\nfetch_timeout_secs = 3",
            "unknown field `fetch_timeout_secs`",
        );
        check("leeway_secs = -1", "leeway_secs");
        check(
            "token_binding = \"both\"",
            "token_binding: `both` is not a token binding (bearer, dpop or either)",
        );
        check(
            "[dpop]\nalgorithms = [\"ES999\"]",
            "dpop.algorithms: `ES999` is not a JWS algorithm",
        );
        check("[dpop]\nnonce = true", "unknown field `nonce`");
        check(
            "trusted_proxies = [\"10.0.0.0/33\"]",
            "trusted_proxies: `10.0.0.0/33` is not an IP address or CIDR block",
        );
        check(
            "client_cert_header_format = \"der\"",
            "client_cert_header_format: `der` is not a client certificate header format",
        );
    }

    #[test]
    fn names_the_file_in_errors() {
        let error = Settings::from_file("/nonexistent/ccflow-resource.toml").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/ccflow-resource.toml: cannot read"),
            "{error}"
        );
    }
}
