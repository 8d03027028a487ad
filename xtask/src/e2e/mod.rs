//! `cargo xtask e2e`: builds the real binaries, starts per profile an auth server (from
//! `fixtures/e2e/<profile>.toml`) and the sample resource API as child processes on port 0, runs
//! the flows with the SDK and raw HTTP, and compares what each flow saw with the reviewed insta
//! snapshots in `xtask/snapshots/`.

mod canary;
pub(crate) mod docs;
mod flows;
pub(crate) mod process;
mod record;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ccflow_protocol::Profile;

use process::Server;

/// How long a binary may take to print its `listening on` line.
pub(crate) const START_DEADLINE: Duration = Duration::from_secs(30);

/// The whole chain against the real binaries, every profile, compared with reviewed snapshots
///
/// Builds and starts the real ccflow-auth-server and ccflow-resource-api per profile (child
/// processes on port 0), runs every flow through the SDK and raw HTTP, and compares what each
/// flow observed with its snapshot in xtask/snapshots/ (--accept writes them instead; CI never
/// does); then runs every curl session of the README and guides (the `docs` flow), and scans
/// everything the run produced for its canary secrets (docs/e2e.md).
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Options {
    /// Run only this profile (repeatable) [default: all]
    #[arg(long = "profile", value_name = "NAME", value_parser = profile_names())]
    profiles: Vec<Profile>,
    /// Run only this flow (repeatable); `docs` runs every curl session of the README and guides
    /// [default: all that apply]
    #[arg(long = "flow", value_name = "NAME", value_parser = flow_names())]
    flows: Vec<String>,
    /// Write the snapshots instead of comparing them (CI never does)
    #[arg(long)]
    accept: bool,
    /// Keep every process's output (and the run's configs) in DIR
    #[arg(long, value_name = "DIR")]
    keep_logs: Option<PathBuf>,
    /// Also write the results as JUnit XML to FILE (one testsuite per profile)
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the results as JSON to FILE
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Profile names as `--profile` takes them (and lists them in its help).
fn profile_names() -> impl clap::builder::TypedValueParser<Value = Profile> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Profile::ALL.iter().map(|profile| profile.as_str()))
        .try_map(|name| name.parse::<Profile>())
}

/// Flow names as `--flow` takes them: every flow, then `docs`.
fn flow_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(flows::NAMES.into_iter().chain(["docs"]))
}

impl Options {
    /// The profiles asked for, or every one.
    fn profiles(&self) -> &[Profile] {
        if self.profiles.is_empty() {
            Profile::ALL
        } else {
            &self.profiles
        }
    }

    fn wants(&self, flow: &str) -> bool {
        self.flows.is_empty() || self.flows.iter().any(|wanted| wanted == flow)
    }
}

/// One flow's result, for the summary table.
struct Outcome {
    profile: String,
    flow: &'static str,
    passed: bool,
    elapsed: Duration,
    detail: String,
}

/// The running chain for one profile.
pub(crate) struct Chain {
    pub(crate) profile: Profile,
    pub(crate) auth: Server,
    pub(crate) api: Server,
    /// The audience the API accepts (Cloudentity's depends on the auth server's port).
    pub(crate) api_audience: String,
    /// This run's canary secrets, which the auth server was configured with.
    pub(crate) canaries: Arc<canary::Canaries>,
    /// How the API was started (binary, arguments) and where logs go, so a flow can start
    /// a second API with other options (the `appkey` flow).
    pub(crate) api_binary: PathBuf,
    pub(crate) api_args: Vec<String>,
    pub(crate) logs: PathBuf,
}

#[allow(clippy::print_stdout, reason = "xtask reports progress on stdout")]
pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("e2e: building ccflow-auth-server and ccflow-resource-api");
    let status = std::process::Command::new(&cargo)
        .args([
            "build",
            "-p",
            "ccflow-auth-server",
            "-p",
            "ccflow-resource-api",
        ])
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("building the binaries failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binaries = (
        target.join("debug/ccflow-auth-server"),
        target.join("debug/ccflow-resource-api"),
    );
    let logs = match &options.keep_logs {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("ccflow-e2e-{}", std::process::id())),
    };
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    // Snapshots are compared, and written only with --accept (CI never passes it).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Ctrl-C: kill the children, then leave.
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            process::kill_all();
            std::process::exit(130);
        }
    });
    let started = Instant::now();
    let canaries = Arc::new(canary::Canaries::new(root)?);
    let mut outcomes = Vec::new();
    for profile in options.profiles() {
        let mut chain = match start_chain(root, &binaries, *profile, &logs, &canaries) {
            Ok(chain) => chain,
            Err(error) => {
                println!(
                    "  {profile:<12} {:<18} ✗ could not start: {error:#}",
                    "(start)"
                );
                outcomes.push(Outcome {
                    profile: profile.as_str().to_owned(),
                    flow: "(start)",
                    passed: false,
                    elapsed: Duration::ZERO,
                    detail: format!("{error:#}"),
                });
                continue;
            }
        };
        for flow in flows::NAMES {
            if !options.wants(flow) || !flows::applies(flow, *profile) {
                continue;
            }
            let flow_started = Instant::now();
            let result = runtime.block_on(flows::run(flow, &mut chain));
            let result = result.and_then(|observed| {
                record::compare(root, *profile, flow, &observed, options.accept)
            });
            let elapsed = flow_started.elapsed();
            let (passed, detail) = match result {
                Ok(compared) => (true, compared),
                Err(error) => (
                    false,
                    format!(
                        "{error:#}\n(logs: {} and {})",
                        chain.auth.log.display(),
                        chain.api.log.display()
                    ),
                ),
            };
            // One line per flow, with what it compared; a failure's detail comes once, at the end.
            println!(
                "  {:<12} {flow:<22} {} {:>6} ms  {}",
                profile.as_str(),
                if passed { "✓" } else { "✗" },
                elapsed.as_millis(),
                if passed {
                    detail.as_str()
                } else {
                    "failed (details below)"
                }
            );
            outcomes.push(Outcome {
                profile: profile.as_str().to_owned(),
                flow,
                passed,
                elapsed,
                detail,
            });
        }
    }
    if options.wants("docs") {
        // The docs say `cargo run -p …`, one package at a time: build each the same way first,
        // so the documented command finds it built (features can differ from a joint build).
        for package in ["ccflow-auth-server", "ccflow-resource-api"] {
            let status = std::process::Command::new(&cargo)
                .args(["build", "-p", package])
                .current_dir(root)
                .status()
                .with_context(|| format!("cannot run {cargo}"))?;
            if !status.success() {
                bail!("building {package} failed");
            }
        }
        let documents = docs::DOCUMENTS.iter().map(|document| (*document, false));
        for (document, mutants) in documents.chain([("README.md (mutants)", true)]) {
            let flow_started = Instant::now();
            let (passed, detail) = if mutants {
                match docs::run_mutants(root, &logs) {
                    Ok(refused) => (true, refused),
                    Err(error) => (false, format!("{error:#}")),
                }
            } else {
                match docs::run(root, &logs, document) {
                    Ok(tally) => (
                        true,
                        format!(
                            "{} commands run as written, {} answers compared",
                            tally.commands, tally.compared
                        ),
                    ),
                    Err(error) => (false, format!("{error:#}")),
                }
            };
            let elapsed = flow_started.elapsed();
            println!(
                "  {:<12} {:<22} {} {:>6} ms  {}",
                "docs",
                document,
                if passed { "✓" } else { "✗" },
                elapsed.as_millis(),
                if passed {
                    detail.as_str()
                } else {
                    "failed (details below)"
                }
            );
            outcomes.push(Outcome {
                profile: "docs".to_owned(),
                flow: document,
                passed,
                elapsed,
                detail,
            });
        }
    }
    // Every child has stopped (and its log is complete): scan what the run produced.
    for outcome in &outcomes {
        canaries.scan_text(
            &format!("{} {} (result)", outcome.profile, outcome.flow),
            &outcome.detail,
        );
    }
    canaries.scan_dir(&logs, &[".log"])?;
    canaries.scan_dir(&root.join("xtask/snapshots"), &[".snap", ".snap.new"])?;
    let (scan_summary, hits) = canaries.report();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|outcome| !outcome.passed).collect();
    let total = started.elapsed();
    println!(
        "\nsummary: {} flows, {} passed, {} failed, {:.1} s",
        outcomes.len(),
        outcomes.len() - failed.len(),
        failed.len(),
        total.as_secs_f64()
    );
    println!("{scan_summary}");
    for hit in &hits {
        println!("  secret found: {hit}");
    }
    let rows: Vec<report::Row<'_>> = outcomes
        .iter()
        .map(|outcome| report::Row {
            profile: &outcome.profile,
            flow: outcome.flow,
            passed: outcome.passed,
            elapsed: outcome.elapsed,
            detail: &outcome.detail,
        })
        .collect();
    if let Some(path) = &options.junit {
        report::write(path, &report::junit(&rows, total))?;
        println!("junit report: {}", path.display());
    }
    if let Some(path) = &options.json {
        report::write(path, &report::json(&rows, total, &scan_summary))?;
        println!("json report: {}", path.display());
    }
    // The logs are kept when asked for, or when something failed (they explain it).
    if options.keep_logs.is_none() && failed.is_empty() && hits.is_empty() {
        let _ = std::fs::remove_dir_all(&logs);
    } else {
        println!("logs: {}", logs.display());
    }
    if !failed.is_empty() {
        for outcome in &failed {
            println!(
                "\n✗ {} {}:\n{}",
                outcome.profile.as_str(),
                outcome.flow,
                outcome.detail
            );
        }
        bail!("{} e2e flow(s) failed", failed.len());
    }
    if !hits.is_empty() {
        bail!(
            "the secret scan found {} canary hit(s); see the list above",
            hits.len()
        );
    }
    Ok(())
}

fn start_chain(
    root: &Path,
    binaries: &(PathBuf, PathBuf),
    profile: Profile,
    logs: &Path,
    canaries: &Arc<canary::Canaries>,
) -> Result<Chain> {
    let config = canaries.config(root, profile, &logs.join("configs"))?;
    let auth = Server::start(
        &binaries.0,
        &[
            "--config".to_owned(),
            config.display().to_string(),
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--workers".to_owned(),
            "2".to_owned(),
        ],
        logs.join(format!("{}-auth-server.log", profile.as_str())),
        START_DEADLINE,
    )?;
    let base = auth.uri();
    let issuer = profile.issuer(
        &base,
        &ccflow_protocol::ProfileOptions {
            tenant: "acme".to_owned(),
            workspace: "prod".to_owned(),
            app_id: "app1".to_owned(),
        },
    );
    let api_audience = match profile {
        Profile::Cloudentity => format!("spiffe://{}/acme/prod/items-api", auth.address),
        // CyberArk tokens carry the caller's own id as `aud`.
        Profile::CyberArk => "e2e-writer".to_owned(),
        _ => "items-api".to_owned(),
    };
    // The sample API refetches on unknown kids at once, so rotation is visible immediately.
    let api_config = logs.join(format!("{}-resource-api.toml", profile.as_str()));
    std::fs::write(&api_config, "[jwks]\nrefresh_cooldown_secs = 0\n")?;
    let mut args = vec![
        "--config".to_owned(),
        api_config.display().to_string(),
        "--bind".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--issuer".to_owned(),
        issuer,
        "--audience".to_owned(),
        api_audience.clone(),
        "--profile".to_owned(),
        profile.as_str().to_owned(),
    ];
    if profile == Profile::CyberArk {
        args.extend(["--audience".to_owned(), "e2e-reader".to_owned()]);
    }
    let api = Server::start(
        &binaries.1,
        &args,
        logs.join(format!("{}-resource-api.log", profile.as_str())),
        START_DEADLINE,
    )?;
    Ok(Chain {
        profile,
        auth,
        api,
        api_audience,
        canaries: Arc::clone(canaries),
        api_binary: binaries.1.clone(),
        api_args: args,
        logs: logs.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// `cargo xtask e2e ARGS`, through the real command line.
    fn parse(args: &[&str]) -> Result<Options> {
        match crate::Cli::try_parse_from(["xtask", "e2e"].iter().chain(args))?.command {
            Some(crate::Command::E2e(options)) => Ok(options),
            other => bail!("not an e2e command: {other:?}"),
        }
    }

    #[test]
    fn options_default_to_every_profile_and_every_flow() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.profiles(), Profile::ALL);
        assert!(flows::NAMES.iter().all(|flow| options.wants(flow)) && options.wants("docs"));
        assert!(!options.accept && options.keep_logs.is_none());
    }

    #[test]
    fn profiles_and_flows_repeat_and_narrow_the_run() {
        let options = parse(&[
            "--profile",
            "slb",
            "--flow",
            "resource-api",
            "--profile",
            "cyberark",
            "--flow",
            "docs",
            "--accept",
            "--keep-logs",
            "target/e2e-logs",
        ])
        .unwrap();
        assert_eq!(options.profiles(), [Profile::Slb, Profile::CyberArk]);
        assert!(options.wants("resource-api") && options.wants("docs"));
        assert!(!options.wants("token"));
        assert!(options.accept);
        assert_eq!(options.keep_logs, Some(PathBuf::from("target/e2e-logs")));
    }

    #[test]
    fn unknown_profiles_flows_and_options_are_refused() {
        for (args, says) in [
            (&["--profile", "okta"][..], "okta"),
            (&["--flow", "nope"], "nope"),
            (&["--flow"], "--flow"),
            (&["--fast"], "--fast"),
        ] {
            let error = parse(args).unwrap_err().to_string();
            assert!(error.contains(says), "{args:?}: {error}");
        }
    }
}
