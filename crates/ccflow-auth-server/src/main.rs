//! The `ccflow-auth-server` binary: the mock authorization server on a real port.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod cert;

use ccflow_auth_server::{MockAuthServer, MockAuthServerBuilder, Profile};
use ccflow_process::{LogFormat, ShutdownSignals};
use clap::{Parser, Subcommand};

// No `Debug` on `Cli`: it may hold the admin token.

/// Mock OAuth 2.0 authorization server for the Client Credentials grant.
///
/// Without --config it runs on embedded defaults: the strict `rfc` profile (or --profile),
/// two demo clients (demo-client / demo-secret, demo-reporting / reporting-secret) and a
/// test-only signing key that stays the same across restarts. It listens on 127.0.0.1:8080
/// unless --bind, CCFLOW_BIND or the file's `bind` says otherwise. Its first stdout line is
/// `ccflow-auth-server listening on http://ADDR`; a summary with a curl to paste follows.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, env = "CCFLOW_CONFIG")]
    config: Option<PathBuf>,
    /// The whole TOML configuration as text, for containers without a mounted file (the
    /// format of --config; relative key paths resolve against the working directory).
    #[arg(
        long,
        env = "CCFLOW_CONFIG_TOML",
        hide_env_values = true,
        conflicts_with = "config"
    )]
    config_toml: Option<String>,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8080].
    #[arg(long, env = "CCFLOW_BIND")]
    bind: Option<SocketAddr>,
    /// Public issuer URL [default: http://<bound address>].
    #[arg(long, env = "CCFLOW_ISSUER")]
    issuer: Option<String>,
    /// Name the issuer after each request's scheme and host (Forwarded, X-Forwarded-Proto/Host,
    /// Host) instead of one fixed URL; conflicts with --issuer.
    #[arg(
        long,
        env = "CCFLOW_ISSUER_FROM_REQUEST",
        value_parser = clap::builder::BoolishValueParser::new(),
        conflicts_with = "issuer"
    )]
    issuer_from_request: bool,
    /// Vendor profile to emulate (docs/profiles.md).
    #[arg(long, env = "CCFLOW_PROFILE", value_parser = profile_parser())]
    profile: Option<Profile>,
    /// Log format on stderr.
    #[arg(long, env = "CCFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Require this bearer token on the /_ccflow admin API (then reachable from any peer).
    #[arg(long, env = "CCFLOW_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Another Host name the /_ccflow admin API and console answer to, besides the loopback
    /// names, the bound address and the issuer's host (repeatable; comma-separated in the env).
    #[arg(long = "admin-host", env = "CCFLOW_ADMIN_HOSTS", value_delimiter = ',')]
    admin_hosts: Vec<String>,
    /// Do not serve the /_ccflow admin API at all.
    #[arg(long)]
    no_admin: bool,
    /// Worker threads [default: the number of CPUs].
    #[arg(long, env = "CCFLOW_WORKERS")]
    workers: Option<usize>,
    /// Throttle failed client authentications (429 with Retry-After past the threshold), with
    /// the config file's [throttle] settings, else the defaults.
    #[arg(long, env = "CCFLOW_THROTTLE")]
    throttle: bool,
    /// Sign with a key generated for this run instead of the stable test-only default key
    /// (embedded defaults only; a config file's key always wins).
    #[arg(long)]
    fresh_key: bool,
    /// Serve HTTPS with a throw-away CA made at start-up (its certificate is written to
    /// --tls-ca-file, printed as `tls ca: PATH`); the certificate names localhost, 127.0.0.1,
    /// ::1, the bound address, the issuer's host and every --tls-name.
    #[arg(
        long,
        env = "CCFLOW_TLS",
        value_parser = clap::builder::BoolishValueParser::new(),
        conflicts_with = "tls_cert"
    )]
    tls: bool,
    /// Another DNS name or IP address for the generated certificate (repeatable;
    /// comma-separated in the env).
    #[arg(long = "tls-name", env = "CCFLOW_TLS_NAMES", value_delimiter = ',')]
    tls_names: Vec<String>,
    /// Where --tls writes the CA certificate [default: ccflow-auth-server-PORT-ca.pem in the
    /// temporary directory].
    #[arg(long, env = "CCFLOW_TLS_CA_FILE")]
    tls_ca_file: Option<std::path::PathBuf>,
    /// Also serve HTTPS on this address (HTTP stays on --bind, where the healthcheck probes),
    /// with --tls-cert/--tls-key or else a throw-away CA; its line `listening on https://ADDR`
    /// follows the first.
    #[arg(long, env = "CCFLOW_HTTPS_BIND")]
    https_bind: Option<SocketAddr>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, env = "CCFLOW_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "CCFLOW_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Also trust these CAs (PEM) for `tls_client_auth` client certificates (RFC 8705 §2.1),
    /// beside the CA --tls generates.
    #[arg(long, env = "CCFLOW_TLS_CLIENT_CA_FILE")]
    tls_client_ca_file: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Probe the server this configuration describes (GET /_ccflow/health/ready on its bind
    /// address, a wildcard one on loopback): exit 0 when ready, 1 otherwise. For a container's
    /// HEALTHCHECK, which has no shell or curl.
    Healthcheck(ccflow_process::HealthcheckArgs),
    /// Get a client certificate and key for mutual TLS (RFC 8705) from a running server's
    /// generated CA (POST /_ccflow/clients/{id}/certificate) and write them to PEM files:
    /// subject CN=CLIENT_ID, for a client registered with tls_client_auth_subject_dn.
    Cert(cert::CertArgs),
    /// Probe your own service against this auth server: `probe api --issuer URL --url URL
    /// --audience AUD` runs the resource-server catalogue (docs/probe.md).
    #[command(subcommand)]
    Probe(Box<ccflow_auth_server::probe::ProbeCommand>),
}

/// The profile names, listed in `--help` and in the error for an unknown one.
fn profile_parser() -> impl clap::builder::TypedValueParser<Value = Profile> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Profile::ALL.iter().map(|profile| profile.as_str()))
        .map(|name| {
            name.parse::<Profile>()
                .unwrap_or_else(|_| unreachable!("every listed name is a profile"))
        })
}

/// The seed of the default signing key: the same key and `kid` on every start, so a validator
/// that cached the JWKS keeps working across restarts. Test-only by construction: the seed is
/// public, so anyone can derive the private key.
const DEFAULT_KEY_SEED: u64 = 0x0ccf_10ff_7e57_0001;

const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

fn main() -> ExitCode {
    // aws-lc seeds its random generator from CPU jitter once per process, which takes tens of
    // milliseconds (measured by `cargo xtask bench`, docs/performance.md). Started now, on its
    // own thread, it overlaps start-up instead of delaying the first token.
    std::thread::spawn(|| {
        let _ = ccflow_protocol::crypto::SystemRandom::new().fill(&mut [0_u8; 16]);
    });
    let mut cli = Cli::parse();
    match cli.command.take() {
        Some(Command::Healthcheck(args)) => return healthcheck(&cli, args),
        Some(Command::Cert(args)) => return certificate(&args, cli.admin_token.as_deref()),
        Some(Command::Probe(probe)) => return run_probe(*probe),
        None => {}
    }
    // actix-server's start-up lines (workers, runtime) would come before the `listening on`
    // line on a terminal and say nothing the summary does not: warnings only, by default.
    ccflow_process::init_logging(cli.log_format, "info,actix_server=warn");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

/// `probe …`: its own runtime, no server started.
fn run_probe(probe: ccflow_auth_server::probe::ProbeCommand) -> ExitCode {
    ccflow_process::init_logging(LogFormat::Text, "warn");
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(probe.run()),
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    let signals = ShutdownSignals::register();
    let embedded_defaults = !has_config(&cli);
    let mut builder = match configured(&cli) {
        Ok(builder) => builder,
        Err(error) => {
            fatal(&error);
            return ExitCode::from(2);
        }
    };
    if let Some(issuer) = cli.issuer {
        builder = builder.issuer(issuer);
    }
    if cli.issuer_from_request {
        builder = builder.issuer_from_request(true);
    }
    if let Some(profile) = cli.profile {
        builder = builder.profile(profile);
    }
    if embedded_defaults {
        // After the profile: the demo set-up depends on it (SLB's scopes are audiences).
        builder = builder.demo_clients();
    }
    if let Some(token) = cli.admin_token {
        builder = builder.admin_token(token);
    }
    for name in cli.admin_hosts {
        builder = builder.admin_host(name);
    }
    if cli.no_admin {
        builder = builder.admin(false);
    }
    if cli.throttle {
        builder = builder.enable_auth_throttle();
    }
    if cli.tls {
        builder = builder.tls(cli.tls_names.iter().cloned());
    }
    if let Some(path) = &cli.tls_client_ca_file {
        builder = builder.tls_client_ca_file(path);
    }
    if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
        builder = builder.tls_files(cert, key);
    }
    if let Some(address) = cli.https_bind {
        builder = builder.https_bind(address);
    }
    let workers = cli
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let server = match builder.workers(workers).start().await {
        Ok(server) => server,
        Err(error @ ccflow_auth_server::StartError::Config(_)) => {
            fatal(&error);
            return ExitCode::from(2);
        }
        Err(error) => {
            fatal(&error);
            return ExitCode::FAILURE;
        }
    };
    let ca_file = match server.tls_ca_pem() {
        Some(pem) => {
            let path = cli
                .tls_ca_file
                .clone()
                .unwrap_or_else(|| default_ca_file(server.address().port()));
            if let Err(error) = std::fs::write(&path, pem) {
                fatal(&format_args!(
                    "cannot write the TLS CA certificate to {}: {error}",
                    path.display()
                ));
                return ExitCode::FAILURE;
            }
            Some(path)
        }
        None => None,
    };
    if let Err(error) = announce(&server, ca_file.as_deref()) {
        tracing::error!(%error, "cannot write to stdout");
        return ExitCode::FAILURE;
    }
    signals.wait().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// Whether a configuration file or text was given (else: embedded defaults).
fn has_config(cli: &Cli) -> bool {
    cli.config.is_some() || cli.config_toml.is_some()
}

/// The configuration's builder with the bind address settled. Precedence: file (or
/// `CCFLOW_CONFIG_TOML`) < environment < flags (clap merges the last two).
fn configured(cli: &Cli) -> Result<MockAuthServerBuilder, ccflow_auth_server::ConfigError> {
    let mut builder = if let Some(path) = &cli.config {
        MockAuthServerBuilder::from_config_file(path)?
    } else if let Some(text) = &cli.config_toml {
        MockAuthServerBuilder::from_config_str(text, ".").map_err(|mut error| {
            error.file = Some(PathBuf::from("$CCFLOW_CONFIG_TOML"));
            error
        })?
    } else if cli.fresh_key {
        MockAuthServer::builder()
    } else {
        MockAuthServer::builder().key_seed(DEFAULT_KEY_SEED)
    };
    if let Some(bind) = cli.bind {
        builder = builder.bind(bind);
    }
    if builder.configured_bind().is_none() {
        builder = builder.bind(DEFAULT_BIND);
    }
    Ok(builder)
}

/// `ccflow-auth-server healthcheck`: the readiness route of the server this configuration
/// binds, exit 0 when it answers 200.
fn healthcheck(cli: &Cli, args: ccflow_process::HealthcheckArgs) -> ExitCode {
    let bind = match configured(cli) {
        Ok(builder) => builder.configured_bind().unwrap_or(DEFAULT_BIND),
        Err(error) => {
            fatal(&error);
            return ExitCode::from(2);
        }
    };
    let transport = match probe_transport(cli, bind.port()) {
        Ok(transport) => transport,
        Err(error) => {
            fatal(&format_args!("unhealthy: {error}"));
            return ExitCode::FAILURE;
        }
    };
    match args.run_over(
        bind,
        "/_ccflow/health/live",
        "/_ccflow/health/ready",
        &transport,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fatal(&format_args!("unhealthy: {error}"));
            ExitCode::FAILURE
        }
    }
}

/// `ccflow-auth-server cert`: prints what it wrote, or the error, and exits 0 or 1.
#[allow(
    clippy::print_stdout,
    reason = "the subcommand's output is for the person or script that ran it"
)]
fn certificate(args: &cert::CertArgs, admin_token: Option<&str>) -> ExitCode {
    match cert::run(args, admin_token) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            fatal(&format_args!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}

/// How the healthcheck reaches `--bind`: HTTPS when the server serves it there (`--tls` or
/// `--tls-cert` without `--https-bind`, which moves HTTPS to a second port), trusting the CA
/// file `--tls` writes or pinning `--tls-cert`'s leaf; plain HTTP otherwise.
fn probe_transport(
    cli: &Cli,
    port: u16,
) -> Result<ccflow_process::Transport, ccflow_process::HealthError> {
    if cli.https_bind.is_some() {
        return Ok(ccflow_process::Transport::Http);
    }
    let generated_ca_file = cli.tls.then(|| {
        cli.tls_ca_file
            .clone()
            .unwrap_or_else(|| default_ca_file(port))
    });
    ccflow_process::Transport::of_bound_port(generated_ca_file.as_deref(), cli.tls_cert.as_deref())
}

/// Where `--tls` writes its CA certificate when `--tls-ca-file` does not say.
fn default_ca_file(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ccflow-auth-server-{port}-ca.pem"))
}

/// Prints the contract line scripts read (`listening on http://ADDR`), then the summary.
///
/// Only the first line is essential: a reader that takes it and closes the pipe (e.g.
/// `ccflow-auth-server | head -1`, or a harness that stops reading) must not bring the
/// server down, so a failure to print the summary is logged and otherwise ignored.
fn announce(server: &MockAuthServer, ca_file: Option<&std::path::Path>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ccflow-auth-server listening on {}", server.uri())?;
    if let Some(https) = server.https_uri().filter(|https| *https != server.uri()) {
        writeln!(stdout, "ccflow-auth-server listening on {https}")?;
    }
    if let Some(path) = ca_file {
        // The second contract line with --tls: the CA certificate clients must trust.
        writeln!(stdout, "tls ca: {}", path.display())?;
    }
    stdout.flush()?;
    if let Err(error) = write!(stdout, "{}", server.banner()).and_then(|()| stdout.flush()) {
        tracing::warn!(%error, "cannot print the start-up summary; serving anyway");
    }
    Ok(())
}

/// Reports a start-up failure on stderr, plainly, for whoever ran the command.
#[allow(
    clippy::print_stderr,
    reason = "a binary reporting why it cannot start"
)]
fn fatal(error: &dyn std::fmt::Display) {
    eprintln!("ccflow-auth-server: error: {error}");
}
