//! The `probe` subcommand of the binary: its flags (a contract, issue 23) and the reports it
//! writes (terminal table, `--junit`, `--json`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{ApiProbe, Wait};

/// Probe your own service against this auth server (docs/probe.md).
#[derive(clap::Subcommand)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would change the public variant's type"
)]
pub enum ProbeCommand {
    /// Run the resource-server catalogue against a route of your API, which trusts a running
    /// ccflow auth server as its issuer: exit 0 only when no case fails.
    Api(ApiArgs),
    /// Run your client command against an embedded auth server with fault scenarios (token URL,
    /// client id and secret in CCFLOW_TOKEN_URL, CCFLOW_CLIENT_ID, CCFLOW_CLIENT_SECRET), judged
    /// from the server's journal: exit 0 only when no case fails.
    Client(ClientArgs),
}

/// `probe client`'s flags.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The command that gets a token and uses it, run with `sh -c` once per case.
    #[arg(long)]
    run: String,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Mark a case not applicable (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Stop one run of the command after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

// By hand: the arguments may hold the admin token.
impl std::fmt::Debug for ProbeCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeCommand::Api(args) => f.debug_tuple("Api").field(args).finish(),
            ProbeCommand::Client(args) => f.debug_tuple("Client").field(args).finish(),
        }
    }
}

impl std::fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiArgs")
            .field("issuer", &self.issuer)
            .field("url", &self.url)
            .field("audience", &self.audience)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// `probe api`'s flags (`Debug` redacts the admin token).
#[derive(clap::Args)]
pub struct ApiArgs {
    /// The running auth server's issuer URL, which your API trusts (its admin API is
    /// /_ccflow at the same origin).
    #[arg(long)]
    issuer: String,
    /// The protected route of your API, probed with GET.
    #[arg(long)]
    url: String,
    /// The audience your API accepts.
    #[arg(long)]
    audience: String,
    /// A scope the route requires (enables the missing-scope case).
    #[arg(long)]
    scope: Option<String>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The auth server's admin token, if it was started with one.
    #[arg(long, env = "CCFLOW_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The client id the tokens name (sub, client_id).
    #[arg(long, default_value = "ccflow-probe")]
    client_id: String,
    /// Mark a case not applicable (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Your API is an RFC 9068 validator: a token not typed at+jwt must be refused.
    #[arg(long)]
    typ_rfc9068: bool,
    /// Your API takes DPoP-bound tokens (RFC 9449): a bound token sent as Bearer must be
    /// refused, one with a proof of its key accepted, one with a wrong proof refused.
    #[arg(long)]
    dpop: bool,
    /// Your API detects replayed DPoP proofs (RFC 9449 §11.1): accepting a replay then fails
    /// dpop-replayed-jti instead of being lenient.
    #[arg(long)]
    dpop_replay: bool,
    /// Your API requires a nonce of its own in every DPoP proof (RFC 9449 §9): a proof without
    /// one, or with one it never issued, must be answered use_dpop_nonce with a fresh nonce.
    #[arg(long, requires = "dpop")]
    dpop_nonce: bool,
    /// Your API takes certificate-bound tokens (RFC 8705): a bound token presented without its
    /// client certificate, or with another, must be refused; with its own (over HTTPS),
    /// accepted.
    #[arg(long)]
    mtls: bool,
    /// The CA certificate (PEM) your API's HTTPS certificate chains to, when it is not a public
    /// one (e.g. the ca.pem the sample API's --tls writes).
    #[arg(long)]
    api_ca_file: Option<PathBuf>,
    /// Where the attacker's server of the jku-elsewhere and x5u-elsewhere cases listens, e.g.
    /// 0.0.0.0:9700 for an API in a container or on another host.
    #[arg(long, default_value = "127.0.0.1:0")]
    attacker_bind: SocketAddr,
    /// The origin your API reaches that server under, when not the bound address (e.g.
    /// http://host.docker.internal:9700): what the tokens' jku and x5u URLs name.
    #[arg(long)]
    attacker_url: Option<String>,
    /// How long your API may cache the JWKS [default: the issuer's JWKS max-age].
    #[arg(long)]
    jwks_cache_secs: Option<u64>,
    /// How long your API may take to fetch the JWKS again for a new or withdrawn key (its
    /// refetch cooldown).
    #[arg(long, default_value_t = 60)]
    refetch_wait_secs: u64,
    /// How time passes for your API in the key cases: `real` (the probe sleeps) or
    /// `server-clock` (the probe advances the auth server's virtual clock; only for an API
    /// reading that clock).
    #[arg(long, value_parser = ["real", "server-clock"], default_value = "real")]
    wait: String,
}

impl ProbeCommand {
    /// Runs the probe: the table on stdout, the files asked for; 0 when no case failed, 1 when
    /// one did, 2 when the probe could not run.
    #[allow(
        clippy::print_stdout,
        clippy::print_stderr,
        reason = "the command's own output"
    )]
    pub async fn run(self) -> ExitCode {
        let args = match self {
            ProbeCommand::Api(args) => args,
            ProbeCommand::Client(args) => return run_client(args).await,
        };
        let mut probe = ApiProbe::new(args.issuer, args.url, args.audience);
        probe.scope = args.scope;
        probe.client_id = args.client_id;
        probe.admin_token = args.admin_token;
        probe.skip = args.skip;
        probe.rfc9068 = args.typ_rfc9068;
        probe.dpop = args.dpop;
        probe.dpop_replay = args.dpop_replay;
        probe.dpop_nonce = args.dpop_nonce;
        probe.mtls = args.mtls;
        probe.attacker_bind = args.attacker_bind;
        probe.attacker_url = args.attacker_url;
        if let Some(path) = &args.api_ca_file {
            match std::fs::read_to_string(path) {
                Ok(pem) => probe.api_ca_pem = Some(pem),
                Err(error) => {
                    eprintln!(
                        "ccflow-auth-server probe api: --api-ca-file {}: {error}",
                        path.display()
                    );
                    return ExitCode::from(2);
                }
            }
        }
        probe.jwks_cache = args.jwks_cache_secs.map(Duration::from_secs);
        probe.refetch_wait = Duration::from_secs(args.refetch_wait_secs);
        probe.wait = if args.wait == "server-clock" {
            Wait::ServerClock
        } else {
            Wait::Real
        };
        finish(
            "api",
            probe.run().await,
            args.junit.as_deref(),
            args.json.as_deref(),
        )
    }
}

async fn run_client(args: ClientArgs) -> ExitCode {
    let mut probe = super::ClientProbe::new(args.run);
    probe.skip = args.skip;
    probe.timeout = Duration::from_secs(args.timeout_secs);
    finish(
        "client",
        probe.run().await,
        args.junit.as_deref(),
        args.json.as_deref(),
    )
}

/// Prints the table, writes the files asked for; the exit status.
#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command's own output"
)]
fn finish(
    probe: &str,
    report: Result<super::Report, super::ProbeError>,
    junit: Option<&std::path::Path>,
    json: Option<&std::path::Path>,
) -> ExitCode {
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            eprintln!("ccflow-auth-server probe {probe}: {error}");
            return ExitCode::from(2);
        }
    };
    let mut written = Ok(());
    if let Some(path) = junit {
        written = written.and(std::fs::write(path, report.junit()).map_err(|e| (path, e)));
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report.json()).unwrap_or_default();
        written = written.and(std::fs::write(path, text + "\n").map_err(|e| (path, e)));
    }
    print!("{}", report.table());
    if let Err((path, error)) = written {
        eprintln!(
            "ccflow-auth-server probe {probe}: cannot write {}: {error}",
            path.display()
        );
        return ExitCode::from(2);
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
