//! The `ccflow-resource-api` binary: the sample protected API on a real port.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use actix_web::dev::Service as _;
use actix_web::{App, HttpMessage as _, HttpServer};
use anyhow::Context as _;
use ccflow_process::{LogFormat, ShutdownSignals};
use ccflow_resource_api::sample_api::{self, SampleApi, Settings};
use ccflow_resource_api::{Authenticated, Validator};
use clap::{Parser, Subcommand};

/// Sample API protected by ccflow's bearer-token validator.
///
/// Start-up never contacts the issuer: keys are fetched in the background and on first use.
/// The first stdout line is `ccflow-resource-api listening on http://ADDR` (`https://` with
/// --tls or --tls-cert, then `tls ca: PATH` with --tls).
/// Settings come from the TOML file, then the environment, then flags.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML configuration file (keys in docs/resource-api.md).
    #[arg(long, env = "CCFLOW_RESOURCE_CONFIG")]
    config: Option<PathBuf>,
    /// The whole TOML configuration as text (the format of --config), for containers without
    /// a mounted file.
    #[arg(long, env = "CCFLOW_RESOURCE_CONFIG_TOML", conflicts_with = "config")]
    config_toml: Option<String>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8081].
    #[arg(long, env = "CCFLOW_RESOURCE_BIND")]
    bind: Option<SocketAddr>,
    /// The issuer tokens must come from (exact `iss`); its metadata names the JWKS.
    #[arg(long, env = "CCFLOW_RESOURCE_ISSUER")]
    issuer: Option<String>,
    /// An audience this API accepts; repeat for several (comma-separated in the environment).
    #[arg(
        long = "audience",
        env = "CCFLOW_RESOURCE_AUDIENCE",
        value_delimiter = ','
    )]
    audiences: Vec<String>,
    /// JWKS URL, to skip discovery.
    #[arg(long, env = "CCFLOW_RESOURCE_JWKS_URL")]
    jwks_url: Option<String>,
    /// Trust this CA certificate (PEM) for the issuer's discovery and JWKS over HTTPS, besides
    /// the system's roots: e.g. the file `ccflow-auth-server --tls` prints as `tls ca: PATH`.
    #[arg(long, env = "CCFLOW_RESOURCE_ISSUER_CA_FILE")]
    issuer_ca_file: Option<PathBuf>,
    /// Vendor profile whose validation defaults apply (typ; SLB authorises by audience). Without
    /// --issuer and --audience, it also pairs the API with `ccflow-auth-server --profile <same>`
    /// on its embedded defaults (that issuer on 127.0.0.1:8080, its demo tokens' audience).
    #[arg(long, env = "CCFLOW_RESOURCE_PROFILE")]
    profile: Option<ccflow_protocol::Profile>,
    /// Require SLB's `appkey` header with this key on every /v1 route (repeat for several keys;
    /// comma-separated in the environment); a missing or unknown key is answered 401 with the
    /// gateway's `fault` body. Replaces the file's `appkeys`.
    #[arg(
        long = "appkey",
        env = "CCFLOW_RESOURCE_APPKEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    appkeys: Vec<String>,
    /// How the /v1 routes accept tokens: bearer, dpop or either [default: either]. Whatever
    /// this says, GET /v1/dpop/whoami wants DPoP and a DPoP-bound token is never taken as Bearer.
    #[arg(long, env = "CCFLOW_RESOURCE_TOKEN_BINDING")]
    token_binding: Option<ccflow_resource_api::TokenBinding>,
    /// The URL clients reach the API at behind a proxy (e.g. https://api.example.com): DPoP
    /// proofs' htu must be it followed by the request path. Without it, the request's own URL
    /// (the Host header); X-Forwarded-* headers are never trusted.
    #[arg(long, env = "CCFLOW_RESOURCE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Require a DPoP nonce issued by this API in every proof (RFC 9449 section 9).
    #[arg(long, env = "CCFLOW_RESOURCE_DPOP_REQUIRE_NONCE")]
    dpop_require_nonce: Option<bool>,
    /// Behind a TLS-terminating proxy: the header it forwards the client's certificate in (e.g.
    /// X-Forwarded-Client-Cert for Envoy, X-SSL-Client-Cert for nginx's
    /// $ssl_client_escaped_cert). Read only from --trusted-proxy addresses, for certificate-bound
    /// tokens (RFC 8705 section 3).
    #[arg(long, env = "CCFLOW_RESOURCE_CLIENT_CERT_HEADER")]
    client_cert_header: Option<String>,
    /// How the header holds the certificate: xfcc (Envoy's X-Forwarded-Client-Cert, its last
    /// element's Cert) or pem (URL-encoded PEM) [default: xfcc for X-Forwarded-Client-Cert,
    /// else pem].
    #[arg(long, env = "CCFLOW_RESOURCE_CLIENT_CERT_HEADER_FORMAT")]
    client_cert_header_format: Option<ccflow_resource_api::ForwardedCertificateFormat>,
    /// A proxy address or CIDR block (127.0.0.1, 10.0.0.0/8) trusted to send
    /// --client-cert-header; repeat for several (comma-separated in the environment). From any
    /// other address the header is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "CCFLOW_RESOURCE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<ccflow_resource_api::IpNetwork>,
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
    tls: bool,
    /// Another DNS name or IP address for the generated certificate (repeatable;
    /// comma-separated in the env).
    #[arg(
        long = "tls-name",
        env = "CCFLOW_RESOURCE_TLS_NAMES",
        value_delimiter = ','
    )]
    tls_names: Vec<String>,
    /// Where --tls writes the CA certificate [default: ccflow-resource-api-PORT-ca.pem in the
    /// temporary directory].
    #[arg(long, env = "CCFLOW_RESOURCE_TLS_CA_FILE")]
    tls_ca_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. Clients are
    /// asked for a certificate, as with --tls.
    #[arg(long, env = "CCFLOW_RESOURCE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "CCFLOW_RESOURCE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Worker threads [default: the number of CPUs].
    #[arg(long, env = "CCFLOW_RESOURCE_WORKERS")]
    workers: Option<usize>,
    /// Log format on stderr.
    #[arg(long, env = "CCFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Probe the API this configuration describes (GET /readyz on its bind address, a wildcard
    /// one on loopback): exit 0 once it has its issuer's keys, 1 otherwise. For a container's
    /// HEALTHCHECK, which has no shell or curl.
    Healthcheck(ccflow_process::HealthcheckArgs),
}

const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8081);

/// Exit status for a configuration the binary refuses (as ccflow-auth-server does).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck(args)) = cli.command {
        return healthcheck(&cli, args);
    }
    ccflow_process::init_logging(cli.log_format, "info");
    let (settings, bind, workers) = match settings(&cli) {
        Ok(settings) => settings,
        Err(error) => {
            fatal(&error);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // A virtual clock the e2e run can move through loopback-only /_ccflow/clock.
    let clock = ccflow_protocol::VirtualClock::new();
    let mut builder = settings.validator_builder().clock(clock.clone());
    if let Some(path) = &cli.issuer_ca_file {
        match std::fs::read(path) {
            Ok(pem) => builder = builder.add_root_certificate_pem(pem),
            Err(error) => {
                fatal(&anyhow::anyhow!(
                    "--issuer-ca-file: cannot read {}: {error}",
                    path.display()
                ));
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    let validator = match builder.build() {
        Ok(validator) => validator,
        Err(error) => {
            fatal(&anyhow::Error::new(error).context("invalid validator settings"));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let system = actix_web::rt::System::new();
    let by_audience = settings
        .profile
        .is_some_and(|profile| profile.spec().resource.authorize_by_audience);
    let appkeys: Vec<String> = settings
        .appkeys
        .iter()
        .map(|key| key.expose_secret().to_owned())
        .collect();
    let tls = if cli.tls {
        Some(TlsSource::Generated {
            names: cli.tls_names,
            ca_file: cli.tls_ca_file,
        })
    } else if let (Some(cert), Some(key)) = (cli.tls_cert, cli.tls_key) {
        Some(TlsSource::Files { cert, key })
    } else {
        None
    };
    let serving = Serving { bind, workers, tls };
    match system.block_on(serve(validator, by_audience, appkeys, clock, serving)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fatal(&error);
            ExitCode::FAILURE
        }
    }
}

/// File < environment < flags; clap has already merged the last two.
fn settings(cli: &Cli) -> anyhow::Result<(Settings, SocketAddr, usize)> {
    let mut settings = match (&cli.config, &cli.config_toml) {
        (Some(path), _) => Settings::from_file(path)?,
        (None, Some(text)) => Settings::from_toml(text).context("$CCFLOW_RESOURCE_CONFIG_TOML")?,
        (None, None) => Settings::default(),
    };
    if let Some(issuer) = &cli.issuer {
        settings.issuer = Some(issuer.clone());
    }
    if !cli.audiences.is_empty() {
        settings.audiences.clone_from(&cli.audiences);
    }
    if let Some(jwks_url) = &cli.jwks_url {
        settings.jwks_url = Some(jwks_url.clone());
    }
    if let Some(profile) = cli.profile {
        settings.profile = Some(profile);
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
    if let Some(profile) = settings.profile {
        // `--profile` alone pairs the API with `ccflow-auth-server --profile <same>` on its
        // embedded defaults: that server's issuer, and the audience its demo tokens carry.
        let (issuer, audiences) = pairing(profile);
        settings.issuer.get_or_insert(issuer);
        if settings.audiences.is_empty() {
            settings.audiences = audiences;
        }
    }
    if settings.issuer.is_none() {
        anyhow::bail!(
            "an issuer is required: --issuer, CCFLOW_RESOURCE_ISSUER or `issuer` in the file"
        );
    }
    if settings.audiences.is_empty() {
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

/// `ccflow-resource-api healthcheck`: the readiness route of the API this configuration binds,
/// exit 0 when it answers 200.
fn healthcheck(cli: &Cli, args: ccflow_process::HealthcheckArgs) -> ExitCode {
    // Only the address matters: no issuer or audience is needed to probe.
    let configured = match (&cli.config, &cli.config_toml) {
        (Some(path), _) => Settings::from_file(path).map(|settings| settings.bind),
        (None, Some(text)) => Settings::from_toml(text).map(|settings| settings.bind),
        (None, None) => Ok(None),
    };
    let bind = match configured {
        Ok(bind) => cli.bind.or(bind).unwrap_or(DEFAULT_BIND),
        Err(error) => {
            fatal(&anyhow::Error::new(error));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let transport = match probe_transport(cli, bind.port()) {
        Ok(transport) => transport,
        Err(error) => {
            fatal(&anyhow::anyhow!("unhealthy: {error}"));
            return ExitCode::FAILURE;
        }
    };
    match args.run_over(bind, "/healthz", "/readyz", &transport) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fatal(&anyhow::anyhow!("unhealthy: {error}"));
            ExitCode::FAILURE
        }
    }
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

/// How the healthcheck reaches `--bind`: over HTTPS when the API serves it (`--tls`, trusting
/// the CA file it wrote; `--tls-cert`, pinning that leaf), else plain HTTP.
fn probe_transport(
    cli: &Cli,
    port: u16,
) -> Result<ccflow_process::Transport, ccflow_process::HealthError> {
    let generated_ca_file = cli.tls.then(|| {
        cli.tls_ca_file
            .clone()
            .unwrap_or_else(|| default_ca_file(port))
    });
    ccflow_process::Transport::of_bound_port(generated_ca_file.as_deref(), cli.tls_cert.as_deref())
}

/// Where `--tls` writes its CA certificate when `--tls-ca-file` does not say.
fn default_ca_file(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("ccflow-resource-api-{port}-ca.pem"))
}

/// Where HTTPS's certificate comes from.
enum TlsSource {
    /// A throw-away CA made now signs a certificate for these names (besides the defaults); its
    /// certificate goes to `ca_file` (default: in the temporary directory).
    Generated {
        names: Vec<String>,
        ca_file: Option<PathBuf>,
    },
    /// A chain and key from PEM files.
    Files { cert: PathBuf, key: PathBuf },
}

/// How the API is served: address, workers, and HTTPS when asked for.
struct Serving {
    bind: SocketAddr,
    workers: usize,
    tls: Option<TlsSource>,
}

/// The server's certificate and key for `source`, and the CA file written when the CA was made
/// here.
fn tls_identity(
    source: &TlsSource,
    address: SocketAddr,
) -> anyhow::Result<(ccflow_tls::Identity, Option<PathBuf>)> {
    let (identity, ca_file) = match source {
        TlsSource::Generated { names, ca_file } => {
            let authority = ccflow_tls::CertificateAuthority::generate()
                .context("cannot make the TLS certificates")?;
            let identity = authority
                .server_identity(
                    "ccflow-resource-api",
                    ccflow_tls::server_names(address, None, names),
                )
                .context("cannot make the TLS certificates")?;
            let path = ca_file
                .clone()
                .unwrap_or_else(|| default_ca_file(address.port()));
            std::fs::write(&path, authority.certificate_pem()).with_context(|| {
                format!("cannot write the TLS CA certificate to {}", path.display())
            })?;
            (identity, Some(path))
        }
        TlsSource::Files { cert, key } => (ccflow_tls::Identity::from_pem_files(cert, key)?, None),
    };
    Ok((identity, ca_file))
}

async fn serve(
    validator: Validator,
    by_audience: bool,
    appkeys: Vec<String>,
    clock: ccflow_protocol::VirtualClock,
    serving: Serving,
) -> anyhow::Result<()> {
    let Serving { bind, workers, tls } = serving;
    let listener = TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let tls = tls
        .as_ref()
        .map(|source| tls_identity(source, address))
        .transpose()?;
    let https = tls.is_some();
    let api = SampleApi::new(validator.clone())
        .authorize_by_audience(by_audience)
        .require_appkeys(appkeys)
        .with_clock_control(clock);
    let requires_appkey = api.requires_appkey();
    let server = HttpServer::new(move || {
        App::new()
            .wrap_fn(|request, service| {
                let started = Instant::now();
                let method = request.method().clone();
                let path = request.path().to_owned();
                let response = service.call(request);
                async move {
                    let response = response.await?;
                    log_request(&method, &path, &response, started);
                    Ok(response)
                }
            })
            .configure(sample_api::configure(api.clone()))
    })
    .workers(workers)
    // Signals are ours (below), so shutdown is the same on SIGINT and SIGTERM.
    .disable_signals()
    .shutdown_timeout(5)
    // A TLS client's certificate, stored for the validator (`conn_data::<ClientCertificate>`).
    .on_connect(ccflow_tls::on_connect);
    let (server, ca_file) = match tls {
        Some((identity, ca_file)) => {
            // Clients are asked for a certificate, none is required: a direct TLS connection's
            // certificate is what bound tokens are checked against (RFC 8705 §3), and unbound
            // tokens need none.
            let config =
                ccflow_tls::server_config(identity, ccflow_tls::ClientCertificates::Request)?;
            (server.listen_rustls_0_23(listener, config), ca_file)
        }
        None => (server.listen(listener), None),
    };
    let server = server
        .with_context(|| format!("cannot serve on {address}"))?
        .run();
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);
    // Handlers go in before the announcement: a script that reads the line and
    // sends SIGTERM at once must get a graceful shutdown, not the default kill.
    let shutdown = ShutdownSignals::register().wait();
    let scheme = if https { "https" } else { "http" };
    announce(
        address,
        scheme,
        ca_file.as_deref(),
        &validator,
        requires_appkey,
    )
    .context("cannot write to stdout")?;

    // Warm the key cache without making start-up depend on the issuer.
    let warm = validator.clone();
    actix_web::rt::spawn(async move {
        if let Err(error) = warm.refresh_keys().await {
            tracing::warn!(%error, "could not load the issuer's keys yet; retrying on first request");
        }
    });

    shutdown.await;
    tracing::info!("shutting down");
    handle.stop(true).await;
    running
        .await
        .context("the server task failed")?
        .context("the server stopped with an error")?;
    Ok(())
}

/// One line per request: never headers, so never a token.
fn log_request<B>(
    method: &actix_web::http::Method,
    path: &str,
    response: &actix_web::dev::ServiceResponse<B>,
    started: Instant,
) {
    let client_id = response
        .request()
        .extensions()
        .get::<Authenticated>()
        .and_then(|auth| auth.client_id().map(str::to_owned));
    tracing::info!(
        target: "ccflow_resource_api::request",
        %method,
        path,
        status = response.status().as_u16(),
        client_id = client_id.as_deref().unwrap_or("-"),
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
}

/// Prints the contract line scripts read, then a summary.
#[allow(clippy::print_stdout, reason = "the binary's announcement on stdout")]
fn announce(
    address: SocketAddr,
    scheme: &str,
    ca_file: Option<&std::path::Path>,
    validator: &Validator,
    appkey: bool,
) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "ccflow-resource-api listening on {scheme}://{address}"
    )?;
    if let Some(path) = ca_file {
        // The second contract line with --tls, as ccflow-auth-server prints it: the CA
        // certificate clients must trust.
        writeln!(stdout, "tls ca: {}", path.display())?;
    }
    stdout.flush()?;
    // Only the first line is essential: a reader that takes it and closes the pipe must
    // not bring the API down, so a failure to print the summary is only logged.
    let summary = writeln!(stdout, "  issuer:     {}", validator.issuer())
        .and_then(|()| {
            writeln!(stdout, "  audiences:  {}", validator.audiences().join(", "))
        })
        .and_then(|()| {
            writeln!(
                stdout,
                "  routes:     GET /healthz, GET /readyz, GET /v1/whoami, GET /v1/dpop/whoami, GET|POST /v1/items, GET|DELETE /v1/items/{{id}}"
            )
        })
        .and_then(|()| {
            writeln!(
                stdout,
                "  tokens:     {} (DPoP algs: {}){}",
                validator.token_binding(),
                ccflow_protocol::dpop::algorithm_names(validator.dpop_algorithms()),
                validator
                    .public_url()
                    .map(|url| format!(", public URL {url}"))
                    .unwrap_or_default()
            )
        })
        .and_then(|()| match validator.forwarded_certificate_header() {
            Some(header) => writeln!(
                stdout,
                "  client certificates: from the `{header}` header ({}) of {}, else the TLS connection",
                validator
                    .forwarded_certificate_format()
                    .map_or("", |format| format.as_str()),
                validator
                    .trusted_proxies()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => Ok(()),
        })
        .and_then(|()| {
            if appkey {
                writeln!(stdout, "  appkey:     required on /v1 routes (header `appkey`)")
            } else {
                Ok(())
            }
        })
        .and_then(|()| stdout.flush());
    if let Err(error) = summary {
        tracing::warn!(%error, "cannot print the start-up summary; serving anyway");
    }
    Ok(())
}

/// Reports why the binary cannot run, with every cause, on stderr.
#[allow(
    clippy::print_stderr,
    reason = "a binary reporting why it cannot start"
)]
fn fatal(error: &anyhow::Error) {
    eprintln!("ccflow-resource-api: error: {error:#}");
}
