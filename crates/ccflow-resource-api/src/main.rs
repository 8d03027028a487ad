//! The `ccflow-resource-api` binary: the sample protected API on a real port.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use actix_web::dev::Service as _;
use actix_web::{App, HttpMessage as _, HttpServer};
use anyhow::Context as _;
use ccflow_process::ShutdownSignals;
use ccflow_resource_api::sample_api::{self, SampleApi, Settings};
use ccflow_resource_api::{Authenticated, Validator};
use clap::Parser as _;

mod cli;

use cli::{Cli, Command, DEFAULT_BIND, settings};

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
    let by_audience = settings.authorize_by_audience();
    let appkeys: Vec<String> = settings
        .appkeys
        .iter()
        .map(|key| key.expose_secret().to_owned())
        .collect();
    let https_bind = cli.https_bind.or(settings.https_bind);
    let tls = if let (Some(cert), Some(key)) = (cli.tls_cert, cli.tls_key) {
        Some(TlsSource::Files { cert, key })
    } else if cli.tls || https_bind.is_some() {
        // A second, HTTPS port without certificate files gets a throw-away CA, as
        // `ccflow-auth-server --https-bind` does.
        Some(TlsSource::Generated {
            names: cli.tls_names,
            ca_file: cli.tls_ca_file,
        })
    } else {
        None
    };
    let serving = Serving {
        bind,
        https_bind,
        workers,
        tls,
    };
    match system.block_on(serve(validator, by_audience, appkeys, clock, serving)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            fatal(&error);
            ExitCode::FAILURE
        }
    }
}

/// `ccflow-resource-api healthcheck`: the readiness route of the API this configuration binds,
/// exit 0 when it answers 200.
fn healthcheck(cli: &Cli, args: ccflow_process::HealthcheckArgs) -> ExitCode {
    // Only the addresses matter: no issuer or audience is needed to probe.
    let configured = match (&cli.config, &cli.config_toml) {
        (Some(path), _) => Settings::from_file(path),
        (None, Some(text)) => Settings::from_toml(text),
        (None, None) => Ok(Settings::default()),
    };
    let (bind, https_bind) = match configured {
        Ok(settings) => (
            cli.bind.or(settings.bind).unwrap_or(DEFAULT_BIND),
            cli.https_bind.or(settings.https_bind),
        ),
        Err(error) => {
            fatal(&anyhow::Error::new(error));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let transport = match probe_transport(cli, bind.port(), https_bind.is_some()) {
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

/// How the healthcheck reaches `--bind`: over HTTPS when the API serves it there (`--tls`,
/// trusting the CA file it wrote; `--tls-cert`, pinning that leaf), else plain HTTP, as with
/// `--https-bind`, which keeps `--bind` plain.
fn probe_transport(
    cli: &Cli,
    port: u16,
    https_bind: bool,
) -> Result<ccflow_process::Transport, ccflow_process::HealthError> {
    if https_bind {
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

/// How the API is served: address, workers, and HTTPS when asked for (on `bind`, or on
/// `https_bind` beside plain HTTP on `bind`).
struct Serving {
    bind: SocketAddr,
    https_bind: Option<SocketAddr>,
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
    let Serving {
        bind,
        https_bind,
        workers,
        tls,
    } = serving;
    let listen = |bind: SocketAddr| -> anyhow::Result<(TcpListener, SocketAddr)> {
        let listener =
            TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
        let address = listener
            .local_addr()
            .context("cannot read the bound address")?;
        Ok((listener, address))
    };
    let (listener, address) = listen(bind)?;
    let second = https_bind.map(listen).transpose()?;
    // The certificate names the address HTTPS is served on.
    let tls_address = second.as_ref().map_or(address, |(_, https)| *https);
    let tls = tls
        .as_ref()
        .map(|source| tls_identity(source, tls_address))
        .transpose()?;
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
    let mut listening = Vec::new();
    let (server, ca_file) = match tls {
        Some((identity, ca_file)) => {
            // Clients are asked for a certificate, none is required: a direct TLS connection's
            // certificate is what bound tokens are checked against (RFC 8705 §3), and unbound
            // tokens need none.
            let config =
                ccflow_tls::server_config(identity, ccflow_tls::ClientCertificates::Request)?;
            let server = match second {
                Some((https_listener, https_address)) => {
                    listening.extend([
                        format!("http://{address}"),
                        format!("https://{https_address}"),
                    ]);
                    server
                        .listen(listener)
                        .with_context(|| format!("cannot serve on {address}"))?
                        .listen_rustls_0_23(https_listener, config)
                        .with_context(|| format!("cannot serve on {https_address}"))?
                }
                None => {
                    listening.push(format!("https://{address}"));
                    server
                        .listen_rustls_0_23(listener, config)
                        .with_context(|| format!("cannot serve on {address}"))?
                }
            };
            (server, ca_file)
        }
        None => {
            listening.push(format!("http://{address}"));
            let server = server
                .listen(listener)
                .with_context(|| format!("cannot serve on {address}"))?;
            (server, None)
        }
    };
    let server = server.run();
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);
    // Handlers go in before the announcement: a script that reads the line and
    // sends SIGTERM at once must get a graceful shutdown, not the default kill.
    let shutdown = ShutdownSignals::register().wait();
    announce(&listening, ca_file.as_deref(), &validator, requires_appkey)
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
    listening: &[String],
    ca_file: Option<&std::path::Path>,
    validator: &Validator,
    appkey: bool,
) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    // The plain or only address first, then (with --https-bind) the HTTPS one, as
    // ccflow-auth-server prints them.
    for url in listening {
        writeln!(stdout, "ccflow-resource-api listening on {url}")?;
    }
    if let Some(path) = ca_file {
        // The second contract line with --tls, as ccflow-auth-server prints it: the CA
        // certificate clients must trust.
        writeln!(stdout, "tls ca: {}", path.display())?;
    }
    stdout.flush()?;
    // Only the first line is essential: a reader that takes it and closes the pipe must
    // not bring the API down, so a failure to print the summary is only logged.
    // One `issuer:` and `audiences:` pair per trusted issuer, in trust order.
    let summary = validator
        .trusted_issuers()
        .try_for_each(|trusted| {
            writeln!(stdout, "  issuer:     {}", trusted.issuer())?;
            writeln!(stdout, "  audiences:  {}", trusted.audiences().join(", "))
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
