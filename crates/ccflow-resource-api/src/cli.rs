//! The `ccflow-resource-api` binary's command line: its flags and subcommand, and how they,
//! the environment and the TOML file make one `Settings` (file < environment < flags).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use ccflow_process::LogFormat;
use ccflow_resource_api::sample_api::{self, Settings};
use clap::{Parser, Subcommand};

/// Sample API protected by ccflow's bearer-token validator.
///
/// Start-up never contacts the issuer: keys are fetched in the background and on first use.
/// The first stdout line is `ccflow-resource-api listening on http://ADDR` (`https://` with
/// --tls or --tls-cert, then `tls ca: PATH` with --tls); with --https-bind, the first stays
/// `http://` and `ccflow-resource-api listening on https://ADDR` follows it.
/// Settings come from the TOML file, then the environment, then flags.
#[derive(Debug, Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// TOML configuration file (keys in docs/resource-api.md).
    #[arg(long, env = "CCFLOW_RESOURCE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The whole TOML configuration as text (the format of --config), for containers without
    /// a mounted file.
    #[arg(long, env = "CCFLOW_RESOURCE_CONFIG_TOML", conflicts_with = "config")]
    pub(crate) config_toml: Option<String>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8081].
    #[arg(long, env = "CCFLOW_RESOURCE_BIND")]
    pub(crate) bind: Option<SocketAddr>,
    /// The issuer tokens must come from (exact `iss`); its metadata names the JWKS. Repeat to
    /// trust several issuers: --audience, --profile and --jwks-url then pair with them (given
    /// once: for every issuer; given once per --issuer: by position; otherwise an error).
    /// Replaces the file's `issuer` and `[[issuers]]`. Comma-separated in the environment
    /// (`CCFLOW_RESOURCE_ISSUER=URL,URL`), paired with the other lists in the same way; an
    /// issuer whose URL holds a comma goes in the file.
    #[arg(long = "issuer", env = "CCFLOW_RESOURCE_ISSUER", value_delimiter = ',')]
    pub(crate) issuers: Vec<String>,
    /// An audience this API accepts; repeat for several (comma-separated in the environment).
    /// With several --issuer: once for every issuer, or once per issuer, by position (several
    /// audiences for one of several issuers: `[[issuers]]` in the file).
    #[arg(
        long = "audience",
        env = "CCFLOW_RESOURCE_AUDIENCE",
        value_delimiter = ','
    )]
    pub(crate) audiences: Vec<String>,
    /// JWKS URL, to skip discovery. With several --issuer: none, or once per issuer, by position
    /// (comma-separated in the environment).
    #[arg(
        long = "jwks-url",
        env = "CCFLOW_RESOURCE_JWKS_URL",
        value_delimiter = ','
    )]
    pub(crate) jwks_urls: Vec<String>,
    /// Trust this CA certificate (PEM) for the issuer's discovery and JWKS over HTTPS, besides
    /// the system's roots: e.g. the file `ccflow-auth-server --tls` prints as `tls ca: PATH`.
    #[arg(long, env = "CCFLOW_RESOURCE_ISSUER_CA_FILE")]
    pub(crate) issuer_ca_file: Option<PathBuf>,
    /// Vendor profile whose validation defaults apply (typ; SLB authorises by audience). Without
    /// --issuer and --audience, it also pairs the API with `ccflow-auth-server --profile <same>`
    /// on its embedded defaults (that issuer on 127.0.0.1:8080, its demo tokens' audience).
    /// With several --issuer: once for every issuer, or once per issuer, by position.
    #[arg(
        long = "profile",
        env = "CCFLOW_RESOURCE_PROFILE",
        value_delimiter = ','
    )]
    pub(crate) profiles: Vec<ccflow_protocol::Profile>,
    /// Require SLB's `appkey` header with this key on every /v1 route (repeat for several keys;
    /// comma-separated in the environment); a missing or unknown key is answered 401 with the
    /// gateway's `fault` body. Replaces the file's `appkeys`.
    #[arg(
        long = "appkey",
        env = "CCFLOW_RESOURCE_APPKEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub(crate) appkeys: Vec<String>,
    /// How the /v1 routes accept tokens: bearer, dpop or either [default: either]. Whatever
    /// this says, GET /v1/dpop/whoami wants DPoP and a DPoP-bound token is never taken as Bearer.
    #[arg(long, env = "CCFLOW_RESOURCE_TOKEN_BINDING")]
    pub(crate) token_binding: Option<ccflow_resource_api::TokenBinding>,
    /// The URL clients reach the API at behind a proxy (e.g. https://api.example.com): DPoP
    /// proofs' htu must be it followed by the request path. Without it, the request's own URL
    /// (the Host header); X-Forwarded-* headers are never trusted.
    #[arg(long, env = "CCFLOW_RESOURCE_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Require a DPoP nonce issued by this API in every proof (RFC 9449 section 9).
    #[arg(long, env = "CCFLOW_RESOURCE_DPOP_REQUIRE_NONCE")]
    pub(crate) dpop_require_nonce: Option<bool>,
    /// Behind a TLS-terminating proxy: the header it forwards the client's certificate in (e.g.
    /// X-Forwarded-Client-Cert for Envoy, X-SSL-Client-Cert for nginx's
    /// $ssl_client_escaped_cert). Read only from --trusted-proxy addresses, for certificate-bound
    /// tokens (RFC 8705 section 3).
    #[arg(long, env = "CCFLOW_RESOURCE_CLIENT_CERT_HEADER")]
    pub(crate) client_cert_header: Option<String>,
    /// How the header holds the certificate: xfcc (Envoy's X-Forwarded-Client-Cert, its last
    /// element's Cert) or pem (URL-encoded PEM) [default: xfcc for X-Forwarded-Client-Cert,
    /// else pem].
    #[arg(long, env = "CCFLOW_RESOURCE_CLIENT_CERT_HEADER_FORMAT")]
    pub(crate) client_cert_header_format: Option<ccflow_resource_api::ForwardedCertificateFormat>,
    /// A proxy address or CIDR block (127.0.0.1, 10.0.0.0/8) trusted to send
    /// --client-cert-header; repeat for several (comma-separated in the environment). From any
    /// other address the header is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "CCFLOW_RESOURCE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub(crate) trusted_proxies: Vec<ccflow_resource_api::IpNetwork>,
    /// Serve HTTPS with a throw-away CA made at start-up (its certificate is written to
    /// --tls-ca-file, printed as `tls ca: PATH`); the certificate names localhost, 127.0.0.1,
    /// ::1, the bound address and every --tls-name. Clients are asked for a certificate (not
    /// required), which certificate-bound tokens must match (RFC 8705 section 3).
    #[arg(
        long,
        env = "CCFLOW_RESOURCE_TLS",
        value_parser = clap::builder::BoolishValueParser::new(),
        conflicts_with = "tls_cert"
    )]
    pub(crate) tls: bool,
    /// Another DNS name or IP address for the generated certificate (repeatable;
    /// comma-separated in the env).
    #[arg(
        long = "tls-name",
        env = "CCFLOW_RESOURCE_TLS_NAMES",
        value_delimiter = ','
    )]
    pub(crate) tls_names: Vec<String>,
    /// Where --tls writes the CA certificate [default: ccflow-resource-api-PORT-ca.pem in the
    /// temporary directory].
    #[arg(long, env = "CCFLOW_RESOURCE_TLS_CA_FILE")]
    pub(crate) tls_ca_file: Option<PathBuf>,
    /// Also serve HTTPS on this address (HTTP stays on --bind, where the healthcheck probes),
    /// with --tls-cert/--tls-key or else a throw-away CA (as --tls makes); its line
    /// `ccflow-resource-api listening on https://ADDR` follows the first.
    #[arg(long, env = "CCFLOW_RESOURCE_HTTPS_BIND")]
    pub(crate) https_bind: Option<SocketAddr>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. Clients are
    /// asked for a certificate, as with --tls.
    #[arg(long, env = "CCFLOW_RESOURCE_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "CCFLOW_RESOURCE_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Worker threads [default: the number of CPUs].
    #[arg(long, env = "CCFLOW_RESOURCE_WORKERS")]
    pub(crate) workers: Option<usize>,
    /// Log format on stderr.
    #[arg(long, env = "CCFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Probe the API this configuration describes (GET /readyz on its bind address, a wildcard
    /// one on loopback): exit 0 once it has its issuer's keys, 1 otherwise. For a container's
    /// HEALTHCHECK, which has no shell or curl.
    Healthcheck(ccflow_process::HealthcheckArgs),
}

pub(crate) const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8081);

/// File < environment < flags; clap has already merged the last two.
pub(crate) fn settings(cli: &Cli) -> anyhow::Result<(Settings, SocketAddr, usize)> {
    let mut settings = match (&cli.config, &cli.config_toml) {
        (Some(path), _) => Settings::from_file(path)?,
        (None, Some(text)) => Settings::from_toml(text).context("$CCFLOW_RESOURCE_CONFIG_TOML")?,
        (None, None) => Settings::default(),
    };
    match cli.issuers.as_slice() {
        [] => {
            if !cli.audiences.is_empty() {
                settings.audiences.clone_from(&cli.audiences);
            }
            settings.jwks_url = one("--jwks-url", &cli.jwks_urls)?.or(settings.jwks_url);
            settings.profile = one("--profile", &cli.profiles)?.or(settings.profile);
        }
        [issuer] => {
            settings.issuer = Some(issuer.clone());
            settings.issuers.clear();
            if !cli.audiences.is_empty() {
                settings.audiences.clone_from(&cli.audiences);
            }
            settings.jwks_url = one("--jwks-url", &cli.jwks_urls)?.or(settings.jwks_url);
            settings.profile = one("--profile", &cli.profiles)?.or(settings.profile);
        }
        issuers => {
            settings.issuer = None;
            settings.jwks_url = None;
            settings.profile = None;
            settings.issuers = several_issuers(cli, issuers)?;
        }
    }
    if let Some(binding) = cli.token_binding {
        settings.token_binding = Some(binding);
    }
    if let Some(url) = &cli.public_url {
        settings.public_url = Some(url.clone());
    }
    if let Some(header) = &cli.client_cert_header {
        settings.client_cert_header = Some(header.clone());
    }
    if let Some(format) = cli.client_cert_header_format {
        settings.client_cert_header_format = Some(format);
    }
    if !cli.trusted_proxies.is_empty() {
        settings.trusted_proxies.clone_from(&cli.trusted_proxies);
    }
    if let Some(require) = cli.dpop_require_nonce {
        settings.dpop.require_nonce = Some(require);
    }
    if !cli.appkeys.is_empty() {
        if cli.appkeys.iter().any(String::is_empty) {
            anyhow::bail!("--appkey: a key must not be empty");
        }
        settings.appkeys = cli
            .appkeys
            .iter()
            .map(ccflow_protocol::ClientSecret::new)
            .collect();
    }
    if let Some(profile) = settings.profile
        && settings.issuers.is_empty()
    {
        // `--profile` alone pairs the API with `ccflow-auth-server --profile <same>` on its
        // embedded defaults: that server's issuer, and the audience its demo tokens carry.
        let (issuer, audiences) = pairing(profile);
        settings.issuer.get_or_insert(issuer);
        if settings.audiences.is_empty() {
            settings.audiences = audiences;
        }
    }
    if settings.issuer.is_none() && settings.issuers.is_empty() {
        anyhow::bail!(
            "an issuer is required: --issuer, CCFLOW_RESOURCE_ISSUER or `issuer` in the file"
        );
    }
    // With several issuers each may have its own: the validator names one without any.
    if settings.audiences.is_empty() && settings.issuers.is_empty() {
        anyhow::bail!(
            "at least one audience is required: --audience, CCFLOW_RESOURCE_AUDIENCE or `audiences` in the file"
        );
    }
    let bind = cli.bind.or(settings.bind).unwrap_or(DEFAULT_BIND);
    let workers = cli
        .workers
        .or(settings.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    Ok((settings, bind, workers))
}

/// The value of a flag that takes one value when --issuer is given at most once.
fn one<T: Clone>(flag: &str, values: &[T]) -> anyhow::Result<Option<T>> {
    match values {
        [] => Ok(None),
        [value] => Ok(Some(value.clone())),
        _ => anyhow::bail!(
            "{flag} is given {} times for one issuer: give it once, or give --issuer once per value",
            values.len()
        ),
    }
}

/// Several --issuer flags: each one's --audience, --profile and --jwks-url, paired by the rule
/// the flags' help states (once: every issuer's; once per issuer: by position).
fn several_issuers(
    cli: &Cli,
    issuers: &[String],
) -> anyhow::Result<Vec<sample_api::IssuerFileSettings>> {
    let count = issuers.len();
    let pair = |flag: &str, given: usize, once_for_all: bool| -> anyhow::Result<()> {
        if given == 0 || given == count || (given == 1 && once_for_all) {
            return Ok(());
        }
        let once = if once_for_all {
            "once (for every issuer), "
        } else {
            ""
        };
        anyhow::bail!(
            "{count} --issuer flags and {given} {flag} flags: give {flag} {once}once per --issuer (paired by position), or not at all"
        )
    };
    pair("--audience", cli.audiences.len(), true)?;
    pair("--profile", cli.profiles.len(), true)?;
    pair("--jwks-url", cli.jwks_urls.len(), false)?;
    let nth = |values: &[String], index: usize| match values {
        [] => None,
        [value] => Some(value.clone()),
        _ => Some(values[index].clone()),
    };
    Ok(issuers
        .iter()
        .enumerate()
        .map(|(index, issuer)| {
            let mut settings = sample_api::IssuerFileSettings::new(issuer.clone());
            // No --audience: the file's top-level `audiences` are every issuer's default.
            settings.audiences = nth(&cli.audiences, index).into_iter().collect();
            settings.profile = match cli.profiles.as_slice() {
                [] => None,
                [profile] => Some(*profile),
                profiles => Some(profiles[index]),
            };
            settings.jwks_url = nth(&cli.jwks_urls, index);
            settings
        })
        .collect())
}

/// Where `ccflow-auth-server --profile <profile>` runs on its embedded defaults.
const PAIRED_AUTH_SERVER: &str = "http://127.0.0.1:8080";

/// The issuer and the audiences of tokens from `ccflow-auth-server --profile <profile>` on its
/// embedded defaults, whose demo clients ask for the `demo-api` audience where the profile has
/// one (docs/profiles.md, "Each profile on embedded defaults").
fn pairing(profile: ccflow_protocol::Profile) -> (String, Vec<String>) {
    use ccflow_protocol::{Profile, ProfileOptions};
    let options = ProfileOptions::default();
    let issuer = profile.issuer(PAIRED_AUTH_SERVER, &options);
    let audiences = match profile {
        // `aud` = [client id, spiffe://{host}/{tenant}/{workspace}/{audience}] (seed 002).
        Profile::Cloudentity => vec![format!(
            "spiffe://{}/{}/{}/demo-api",
            PAIRED_AUTH_SERVER.trim_start_matches("http://"),
            options.tenant,
            options.workspace
        )],
        // `aud` = the caller's own client id, as a string (seed 003).
        Profile::CyberArk => vec!["demo-client".to_owned(), "demo-reporting".to_owned()],
        // `aud` = [audience parameters…, tenant URL] (seed 004): the tenant URL is always there.
        Profile::UserClouds => vec![issuer.clone()],
        _ => vec!["demo-api".to_owned()],
    };
    (issuer, audiences)
}
