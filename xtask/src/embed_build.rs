//! `cargo xtask embed-build`: what embedding `MockAuthServer` in a test costs at build time,
//! against wiremock's `MockServer` in the same test. Two minimal crates are generated in a
//! temporary directory, each cold-built (`cargo test --no-run`, fresh target directory) and run
//! once; the table gives both times (wall-clock and CPU), their ratios, the heaviest crates of
//! the ccflow build and the binary-only crates an embedder compiles. docs/performance.md,
//! "Embedder build time".

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::{Value, json};

/// Cold-builds a minimal crate embedding MockAuthServer, and the same with wiremock's MockServer
///
/// Generates, in a temporary directory, two crates whose only integration test starts a mock
/// authorization server and fetches a token with reqwest (TLS off, identical in both): one with
/// ccflow_auth_server::MockAuthServer (by path, from this workspace), one with wiremock's
/// MockServer answering a mocked token endpoint. Each gets this workspace's Cargo.lock (so the
/// same versions build, offline) and is cold-built with `cargo test --no-run` in a fresh target
/// directory (dev profile, -j the number of CPUs), timed in wall-clock and in CPU seconds (the
/// steadier figure on a shared machine), then its test runs once: a crate that does not build or
/// whose test fails is an error, not a number. Prints both times, the ratios, the heaviest crates of the ccflow build (cargo --timings) and which binary-only
/// crates (clap, anyhow, tracing-subscriber and what only they pull in) the embedder compiles.
/// Takes minutes and several GB of disk, removed at the end.
#[derive(Debug, clap::Args)]
pub(crate) struct Options {
    /// Also write every figure to FILE as JSON
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Parallel jobs of both builds [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// How many of the heaviest crates to list
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Keep the temporary crates and their target directories (several GB) and print where
    #[arg(long)]
    keep: bool,
}

/// The auth server's dependencies that only its binary needs: a test embedding the library
/// compiles them, and everything only they pull in, for nothing.
const BINARY_ONLY: [&str; 3] = ["clap", "anyhow", "tracing-subscriber"];

/// Crates worth naming in the report: the binary-only ones, the configuration file's parser and
/// the crypto backend (the heaviest single build of the tree).
const NOTABLE: [&str; 6] = [
    "clap",
    "anyhow",
    "tracing-subscriber",
    "toml",
    "aws-lc-sys",
    "rsa",
];

/// The two crates compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Embedder {
    Ccflow,
    Wiremock,
}

impl Embedder {
    const BOTH: [Self; 2] = [Self::Ccflow, Self::Wiremock];

    fn name(self) -> &'static str {
        match self {
            Self::Ccflow => "ccflow",
            Self::Wiremock => "wiremock",
        }
    }

    fn package(self) -> String {
        format!("embed-{}", self.name())
    }

    /// The generated crate's manifest. `versions` are the workspace's locked versions.
    fn manifest(self, root: &Path, versions: &Versions) -> String {
        let mock = match self {
            Self::Ccflow => format!(
                "ccflow-auth-server = {{ path = {} }}",
                toml_string(&root.join("crates/ccflow-auth-server").display().to_string())
            ),
            Self::Wiremock => format!("wiremock = \"{}\"", versions.wiremock),
        };
        format!(
            "[package]\n\
             name = \"{package}\"\n\
             version = \"0.0.0\"\n\
             edition = \"2024\"\n\
             publish = false\n\
             \n\
             [dev-dependencies]\n\
             {mock}\n\
             # The test's own HTTP client, the same in both crates: plain HTTP to 127.0.0.1.\n\
             reqwest = {{ version = \"{reqwest}\", default-features = false, features = [\"form\"] }}\n\
             tokio = {{ version = \"{tokio}\", features = [\"macros\", \"rt\"] }}\n\
             \n\
             # Its own workspace, wherever the temporary directory is.\n\
             [workspace]\n",
            package = self.package(),
            reqwest = versions.reqwest,
            tokio = versions.tokio,
        )
    }

    /// The one integration test: start the mock, fetch a token, check the answer.
    fn test_source(self) -> &'static str {
        match self {
            Self::Ccflow => CCFLOW_TEST,
            Self::Wiremock => WIREMOCK_TEST,
        }
    }
}

const CCFLOW_TEST: &str = r#"//! The minimal embedding: start ccflow's mock, fetch a token.

use ccflow_auth_server::{Client, MockAuthServer};

#[tokio::test]
async fn fetches_a_token_from_the_mock() {
    let server = MockAuthServer::builder()
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(server.token_url())
        .basic_auth("svc", Some("secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("\"access_token\""));
}
"#;

const WIREMOCK_TEST: &str = r##"//! The same test with wiremock: a mocked token endpoint, fetch a token.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn fetches_a_token_from_the_mock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let response = reqwest::Client::new()
        .post(format!("{}/token", server.uri()))
        .basic_auth("svc", Some("secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("\"access_token\""));
}
"##;

/// The versions the generated manifests ask for: those of the workspace's Cargo.lock.
#[derive(Debug)]
struct Versions {
    wiremock: String,
    reqwest: String,
    tokio: String,
}

impl Versions {
    fn from_lock(lock: &str) -> Result<Self> {
        let version = |name: &str| {
            locked_version(lock, name)
                .with_context(|| format!("{name} is not in the workspace's Cargo.lock"))
        };
        Ok(Self {
            wiremock: version("wiremock")?,
            reqwest: version("reqwest")?,
            tokio: version("tokio")?,
        })
    }
}

/// The highest version of `name` in a Cargo.lock (entries are sorted by name, then version).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = {}", toml_string(name));
    let mut lines = lock.lines();
    let mut found = None;
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            found = lines
                .next()
                .and_then(|next| next.trim().strip_prefix("version = "))
                .map(|version| version.trim_matches('"').to_owned());
        }
    }
    found
}

/// A TOML basic string (paths may hold backslashes or quotes).
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// One crate's figures.
#[derive(Debug, Clone, PartialEq)]
struct Measured {
    embedder: &'static str,
    /// Wall-clock seconds of the cold `cargo test --no-run`.
    build_seconds: f64,
    /// CPU seconds (user + system) of that build, every compiler and build script included:
    /// what the build costs, less moved than wall-clock by other work on a shared machine.
    build_cpu_seconds: f64,
    /// Wall-clock seconds of `cargo test` afterwards (build already done: the test run).
    test_seconds: f64,
    /// Packages compiled (the crate itself included), from `cargo metadata`.
    packages: usize,
    /// Every crate built, heaviest first: (name, seconds summed over its units) from
    /// `--timings`.
    crates: Vec<(String, f64)>,
    /// The load average (1 minute) before and after the build.
    load_before: f64,
    load_after: f64,
}

/// Both crates' figures and what the ccflow tree holds that the wiremock one does not.
#[derive(Debug)]
struct Report {
    jobs: u32,
    /// How many of the heaviest crates the table lists.
    top: usize,
    ccflow: Measured,
    wiremock: Measured,
    /// `NOTABLE` crates: (name, in the ccflow tree, in the wiremock tree).
    notable: Vec<(&'static str, bool, bool)>,
    /// Packages compiled only because the auth server depends on `BINARY_ONLY`.
    binary_only: Vec<String>,
    /// Packages of the ccflow tree absent from the wiremock tree.
    only_ccflow: usize,
}

#[allow(clippy::print_stdout, reason = "xtask is a command-line tool")]
fn say(line: &str) {
    println!("{line}");
}

pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    let jobs = match options.jobs {
        Some(jobs) => jobs,
        None => std::thread::available_parallelism()
            .map_or(1, |cpus| u32::try_from(cpus.get()).unwrap_or(u32::MAX)),
    };
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .context("cannot read the workspace's Cargo.lock")?;
    let versions = Versions::from_lock(&lock)?;
    let scratch = std::env::temp_dir().join(format!("ccflow-embed-build-{}", std::process::id()));
    let _cleanup = Cleanup {
        path: scratch.clone(),
        keep: options.keep,
    };
    let mut measured = Vec::new();
    let mut trees = Vec::new();
    for embedder in Embedder::BOTH {
        let dir = scratch.join(embedder.package());
        generate(&dir, root, embedder, &versions, &lock)?;
        let graph = Graph::load(&dir)?;
        say(&format!(
            "embed-build: {}: cold `cargo test --no-run -j {jobs}` of {} packages…",
            embedder.name(),
            graph.compiled().len()
        ));
        measured.push(measure(&dir, embedder, jobs, graph.compiled().len())?);
        trees.push(graph);
    }
    let (Some(wiremock), Some(ccflow)) = (measured.pop(), measured.pop()) else {
        bail!("two measurements expected");
    };
    let [ccflow_tree, wiremock_tree] = &trees[..] else {
        bail!("two dependency trees expected");
    };
    let ccflow_names = ccflow_tree.compiled();
    let wiremock_names = wiremock_tree.compiled();
    let report = Report {
        jobs,
        top: options.top,
        notable: NOTABLE
            .iter()
            .map(|name| {
                (
                    *name,
                    ccflow_names.contains(*name),
                    wiremock_names.contains(*name),
                )
            })
            .collect(),
        binary_only: ccflow_tree
            .only_through("ccflow-auth-server", &BINARY_ONLY)
            .into_iter()
            .collect(),
        only_ccflow: ccflow_names.difference(&wiremock_names).count(),
        ccflow,
        wiremock,
    };
    say(&table(&report));
    if let Some(path) = &options.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&to_json(&report))? + "\n",
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        say(&format!("figures written to {}", path.display()));
    }
    if options.keep {
        say(&format!("kept {}", scratch.display()));
    }
    Ok(())
}

/// Removes the temporary directory (multi-GB target directories) however the run ends.
struct Cleanup {
    path: PathBuf,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.keep && self.path.exists() {
            // Best effort: nothing useful to do if the directory cannot be removed.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Writes the crate: manifest, an empty library, the test, and the workspace's Cargo.lock.
fn generate(
    dir: &Path,
    root: &Path,
    embedder: Embedder,
    versions: &Versions,
    lock: &str,
) -> Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(dir.join("Cargo.toml"), embedder.manifest(root, versions))?;
    std::fs::write(
        dir.join("src/lib.rs"),
        "//! Nothing: the crate exists for its test.\n",
    )?;
    std::fs::write(dir.join("tests/embed.rs"), embedder.test_source())?;
    // Cargo keeps the locked versions it can and drops the rest, so both crates build the
    // versions the workspace builds, from the local registry cache.
    std::fs::write(dir.join("Cargo.lock"), lock)?;
    Ok(())
}

/// The cargo that runs us, without a compiler wrapper (a cache would make the build warm).
fn cargo(dir: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .env_remove("CARGO_INCREMENTAL")
        .env("CARGO_TARGET_DIR", dir.join("target"));
    command
}

/// Runs a command to completion; its output is shown only if it fails.
fn checked(mut command: Command, what: &str) -> Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

fn measure(dir: &Path, embedder: Embedder, jobs: u32, packages: usize) -> Result<Measured> {
    let jobs_text = jobs.to_string();
    let load_before = load_average()?;
    let mut build = cargo(dir);
    build.args([
        "test",
        "--offline",
        "--no-run",
        "--timings",
        "-j",
        &jobs_text,
    ]);
    let cpu_before = children_cpu_seconds()?;
    let started = Instant::now();
    checked(build, &format!("{}: cargo test --no-run", embedder.name()))?;
    let build_seconds = started.elapsed().as_secs_f64();
    let build_cpu_seconds = children_cpu_seconds()? - cpu_before;
    let load_after = load_average()?;
    let mut test = cargo(dir);
    test.args(["test", "--offline", "-j", &jobs_text]);
    let started = Instant::now();
    let output = checked(test, &format!("{}: cargo test", embedder.name()))?;
    let test_seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        stdout.contains("test fetches_a_token_from_the_mock ... ok"),
        "{}: the test did not run:\n{stdout}",
        embedder.name()
    );
    let timings = dir.join("target/cargo-timings/cargo-timing.html");
    let html = std::fs::read_to_string(&timings)
        .with_context(|| format!("cannot read {}", timings.display()))?;
    let crates = crates_by_build_time(&html)?;
    say(&format!(
        "embed-build: {}: built in {build_seconds:.1} s ({build_cpu_seconds:.1} CPU s), test passed in {test_seconds:.1} s",
        embedder.name()
    ));
    Ok(Measured {
        embedder: embedder.name(),
        build_seconds,
        build_cpu_seconds,
        test_seconds,
        packages,
        crates,
        load_before,
        load_after,
    })
}

/// CPU seconds (user + system) of this process's children that have been waited for, their
/// own waited-for children included: cargo's rustc and build-script processes count. Fields 16
/// and 17 of `/proc/self/stat`, in clock ticks (100 per second on Linux).
fn children_cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("cannot read /proc/self/stat")?;
    children_cpu_seconds_of(&stat).context("unexpected /proc/self/stat")
}

fn children_cpu_seconds_of(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
    Some((ticks(13)? + ticks(14)?) / 100.0)
}

/// The 1-minute load average (the machine is shared: a busy host stretches both builds).
fn load_average() -> Result<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").context("cannot read /proc/loadavg")?;
    text.split_whitespace()
        .next()
        .and_then(|first| first.parse().ok())
        .context("unexpected /proc/loadavg")
}

/// Crates by build time, heaviest first, from cargo's `--timings` HTML report: the units of a
/// crate (build script, its run, the library) summed, in seconds.
fn crates_by_build_time(html: &str) -> Result<Vec<(String, f64)>> {
    const START: &str = "const UNIT_DATA = ";
    let start = html
        .find(START)
        .context("no UNIT_DATA in cargo's timings report")?
        + START.len();
    let end = html[start..]
        .find("];")
        .context("UNIT_DATA is not closed in cargo's timings report")?
        + start
        + 1;
    let units: Vec<Value> = serde_json::from_str(&html[start..end])
        .context("cannot parse UNIT_DATA in cargo's timings report")?;
    let mut by_crate: BTreeMap<String, f64> = BTreeMap::new();
    for unit in &units {
        let (Some(name), Some(duration)) = (unit["name"].as_str(), unit["duration"].as_f64())
        else {
            bail!("a unit without name or duration in cargo's timings report: {unit}");
        };
        *by_crate.entry(name.to_owned()).or_default() += duration;
    }
    let mut sorted: Vec<(String, f64)> = by_crate.into_iter().collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(sorted)
}

/// The resolved dependency graph of a generated crate, for the host platform.
#[derive(Debug)]
struct Graph {
    root: String,
    /// Package id → its name.
    names: BTreeMap<String, String>,
    /// Package id → (dependency id, is a dev-only edge).
    edges: BTreeMap<String, Vec<(String, bool)>>,
}

impl Graph {
    /// `cargo metadata`, offline: this also settles the lockfile, so the timed build does not
    /// resolve anything.
    fn load(dir: &Path) -> Result<Self> {
        let host = host_triple()?;
        let mut command = cargo(dir);
        command.args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ]);
        let output = checked(command, "cargo metadata")?;
        let metadata: Value =
            serde_json::from_slice(&output.stdout).context("cannot parse cargo metadata")?;
        Self::from_metadata(&metadata)
    }

    fn from_metadata(metadata: &Value) -> Result<Self> {
        let root = metadata["resolve"]["root"]
            .as_str()
            .context("cargo metadata has no resolve root")?
            .to_owned();
        let names = metadata["packages"]
            .as_array()
            .context("cargo metadata has no packages")?
            .iter()
            .filter_map(|package| {
                Some((
                    package["id"].as_str()?.to_owned(),
                    package["name"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let mut edges = BTreeMap::new();
        for node in metadata["resolve"]["nodes"]
            .as_array()
            .context("cargo metadata has no resolve nodes")?
        {
            let id = node["id"].as_str().context("a node without id")?.to_owned();
            let mut out = Vec::new();
            for dep in node["deps"].as_array().into_iter().flatten() {
                let kinds: Vec<&str> = dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|kind| kind["kind"].as_str().unwrap_or("normal"))
                    .collect();
                let dev_only = !kinds.is_empty() && kinds.iter().all(|kind| *kind == "dev");
                let dep_id = dep["pkg"].as_str().context("a dependency without pkg")?;
                out.push((dep_id.to_owned(), dev_only));
            }
            edges.insert(id, out);
        }
        Ok(Self { root, names, edges })
    }

    /// The names of the packages a `cargo test` of the root compiles: its normal, dev and build
    /// dependencies, then the normal and build dependencies of those.
    fn compiled(&self) -> BTreeSet<String> {
        self.reachable(|_, _| true)
            .into_iter()
            .filter_map(|id| self.names.get(&id).cloned())
            .collect()
    }

    /// The packages compiled only because `package` depends on one of `dependencies`: gone when
    /// those edges are cut.
    fn only_through(&self, package: &str, dependencies: &[&str]) -> BTreeSet<String> {
        let all = self.compiled();
        let cut: BTreeSet<String> = self
            .reachable(|from, to| {
                !(self.names.get(from).is_some_and(|name| name == package)
                    && self.names.get(to).is_some_and(|name| {
                        dependencies.iter().any(|dependency| dependency == name)
                    }))
            })
            .into_iter()
            .filter_map(|id| self.names.get(&id).cloned())
            .collect();
        all.difference(&cut).cloned().collect()
    }

    /// Package ids reachable from the root along the edges `keep(from, to)` accepts (dev edges
    /// only from the root).
    fn reachable(&self, keep: impl Fn(&str, &str) -> bool) -> BTreeSet<String> {
        let mut seen = BTreeSet::from([self.root.clone()]);
        let mut queue = VecDeque::from([self.root.clone()]);
        while let Some(id) = queue.pop_front() {
            for (dep_id, dev_only) in self.edges.get(&id).into_iter().flatten() {
                if (*dev_only && id != self.root) || !keep(&id, dep_id) {
                    continue;
                }
                if seen.insert(dep_id.clone()) {
                    queue.push_back(dep_id.clone());
                }
            }
        }
        seen
    }
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let mut command = Command::new(&rustc);
    command.arg("-vV");
    let output = checked(command, "rustc -vV")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("no host line in `rustc -vV`")
}

/// Seconds summed over the units of the crates `include` accepts.
fn unit_seconds(crates: &[(String, f64)], include: impl Fn(&str) -> bool) -> f64 {
    crates
        .iter()
        .filter(|(name, _)| include(name))
        .map(|(_, seconds)| seconds)
        .sum()
}

/// `a / b` as "1.97×".
fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "—".to_owned()
    }
}

fn yes_no(present: bool) -> &'static str {
    if present { "yes" } else { "no" }
}

/// The report as Markdown tables, ready for docs/performance.md.
fn table(report: &Report) -> String {
    let mut out = format!(
        "\n| cold `cargo test --no-run -j {}` | wall-clock s | CPU s | packages | test run | load avg before → after |\n\
         | --- | --- | --- | --- | --- | --- |\n",
        report.jobs
    );
    for measured in [&report.ccflow, &report.wiremock] {
        out += &format!(
            "| {} | {:.1} | {:.1} | {} | {:.1} s | {:.2} → {:.2} |\n",
            measured.embedder,
            measured.build_seconds,
            measured.build_cpu_seconds,
            measured.packages,
            measured.test_seconds,
            measured.load_before,
            measured.load_after
        );
    }
    out += &format!(
        "| ratio ccflow / wiremock | {} | {} | {} only in ccflow's tree | | |\n",
        ratio(report.ccflow.build_seconds, report.wiremock.build_seconds),
        ratio(
            report.ccflow.build_cpu_seconds,
            report.wiremock.build_cpu_seconds
        ),
        report.only_ccflow
    );
    let all_units = unit_seconds(&report.ccflow.crates, |_| true);
    out += &format!(
        "\n| heaviest crates of the ccflow build | seconds (units summed; all: {all_units:.1}) | binary-only |\n\
         | --- | --- | --- |\n"
    );
    for (name, seconds) in report.ccflow.crates.iter().take(report.top) {
        out += &format!(
            "| {name} | {seconds:.1} | {} |\n",
            if report.binary_only.contains(name) {
                "yes"
            } else {
                ""
            }
        );
    }
    out += "\n| crate | in the ccflow embedder's tree | in the wiremock embedder's tree |\n\
            | --- | --- | --- |\n";
    for (name, ccflow, wiremock) in &report.notable {
        out += &format!("| {name} | {} | {} |\n", yes_no(*ccflow), yes_no(*wiremock));
    }
    let binary_only_units = unit_seconds(&report.ccflow.crates, |name| {
        report
            .binary_only
            .iter()
            .any(|binary_only| binary_only == name)
    });
    out += &format!(
        "\nCompiled only for the auth server's binary ({} → {} packages, {binary_only_units:.1} s of \
         the {all_units:.1} s summed over all units, {:.0}%): {}\n",
        BINARY_ONLY.join(", "),
        report.binary_only.len(),
        100.0 * binary_only_units / all_units.max(f64::MIN_POSITIVE),
        if report.binary_only.is_empty() {
            "none".to_owned()
        } else {
            report.binary_only.join(", ")
        }
    );
    out
}

fn to_json(report: &Report) -> Value {
    let measured = |m: &Measured| {
        json!({
            "build_seconds": m.build_seconds,
            "build_cpu_seconds": m.build_cpu_seconds,
            "test_seconds": m.test_seconds,
            "packages": m.packages,
            "load_average_before": m.load_before,
            "load_average_after": m.load_after,
            "unit_seconds": unit_seconds(&m.crates, |_| true),
            "crates": m.crates.iter().map(|(name, seconds)| json!({"crate": name, "seconds": seconds})).collect::<Vec<_>>(),
        })
    };
    json!({
        "jobs": report.jobs,
        "ccflow": measured(&report.ccflow),
        "wiremock": measured(&report.wiremock),
        "ratio": report.ccflow.build_seconds / report.wiremock.build_seconds,
        "cpu_ratio": report.ccflow.build_cpu_seconds / report.wiremock.build_cpu_seconds,
        "only_in_ccflow_tree": report.only_ccflow,
        "binary_only": report.binary_only,
        "binary_only_unit_seconds": unit_seconds(&report.ccflow.crates, |name| report.binary_only.iter().any(|binary_only| binary_only == name)),
        "notable": report.notable.iter().map(|(name, ccflow, wiremock)| json!({"crate": name, "ccflow": ccflow, "wiremock": wiremock})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions() -> Versions {
        Versions {
            wiremock: "0.6.5".to_owned(),
            reqwest: "0.13.1".to_owned(),
            tokio: "1.48.0".to_owned(),
        }
    }

    #[test]
    fn locked_versions_come_from_the_lockfile_highest_last() {
        let lock = "[[package]]\nname = \"tokio\"\nversion = \"1.47.0\"\n\n\
                    [[package]]\nname = \"tokio\"\nversion = \"1.48.0\"\n\n\
                    [[package]]\nname = \"tokio-util\"\nversion = \"0.7.0\"\n";
        assert_eq!(locked_version(lock, "tokio").as_deref(), Some("1.48.0"));
        assert_eq!(locked_version(lock, "wiremock"), None);
    }

    #[test]
    fn the_workspace_lock_has_every_version_the_manifests_need() {
        let lock = std::fs::read_to_string(crate::root().join("Cargo.lock")).unwrap();
        Versions::from_lock(&lock).unwrap();
    }

    #[test]
    fn the_ccflow_manifest_takes_the_auth_server_by_path_and_nothing_else_of_ours() {
        let manifest = Embedder::Ccflow.manifest(Path::new("/w/ccflow"), &versions());
        assert!(manifest.contains("name = \"embed-ccflow\""));
        assert!(manifest.contains(
            "[dev-dependencies]\nccflow-auth-server = { path = \"/w/ccflow/crates/ccflow-auth-server\" }\n"
        ));
        assert!(manifest.contains(
            "reqwest = { version = \"0.13.1\", default-features = false, features = [\"form\"] }"
        ));
        assert!(
            manifest.contains("tokio = { version = \"1.48.0\", features = [\"macros\", \"rt\"] }")
        );
        assert!(manifest.ends_with("[workspace]\n"));
        assert!(!manifest.contains("wiremock"));
        assert!(!manifest.contains("ccflow-client"));
    }

    #[test]
    fn the_wiremock_manifest_has_the_same_shape_with_wiremock() {
        let ccflow = Embedder::Ccflow.manifest(Path::new("/w"), &versions());
        let wiremock = Embedder::Wiremock.manifest(Path::new("/w"), &versions());
        assert!(wiremock.contains("\nwiremock = \"0.6.5\"\n"));
        assert!(!wiremock.contains("ccflow-auth-server"));
        let differing: Vec<(&str, &str)> = ccflow
            .lines()
            .zip(wiremock.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            differing.len(),
            2,
            "only the name and the mock differ: {differing:?}"
        );
    }

    #[test]
    fn paths_are_quoted_as_toml_strings() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }

    #[test]
    fn both_tests_fetch_a_token_the_same_way() {
        for embedder in Embedder::BOTH {
            let source = embedder.test_source();
            assert!(source.starts_with("//! "), "{embedder:?}");
            assert!(source.contains("async fn fetches_a_token_from_the_mock()"));
            assert!(source.contains(".form(&[(\"grant_type\", \"client_credentials\")])"));
            assert!(source.contains("assert_eq!(response.status(), 200);"));
        }
        assert!(CCFLOW_TEST.contains("MockAuthServer::builder()"));
        assert!(WIREMOCK_TEST.contains("MockServer::start().await"));
    }

    #[test]
    fn heaviest_crates_sum_units_from_the_timings_report() {
        let html = r#"<script>
DURATION = 3;
const UNIT_DATA = [
  {"i": 0, "name": "aws-lc-sys", "version": "0.1.0", "target": " build-script", "duration": 2.0},
  {"i": 1, "name": "aws-lc-sys", "version": "0.1.0", "target": " build-script (run)", "duration": 50.5},
  {"i": 2, "name": "clap", "version": "4.0.0", "target": "", "duration": 3.25},
  {"i": 3, "name": "anyhow", "version": "1.0.0", "target": "", "duration": 3.25}
];
const CONCURRENCY_DATA = [];
</script>"#;
        assert_eq!(
            crates_by_build_time(html).unwrap(),
            vec![
                ("aws-lc-sys".to_owned(), 52.5),
                ("anyhow".to_owned(), 3.25),
                ("clap".to_owned(), 3.25),
            ]
        );
        assert!(crates_by_build_time("<html></html>").is_err());
    }

    /// root → (mock, client); mock → (clap → clap_builder, tokio); client → tokio; root dev→ x;
    /// mock dev→ insta (never compiled for the root's tests).
    fn graph() -> Graph {
        let packages: Vec<Value> = [
            "root",
            "mock",
            "client",
            "clap",
            "clap_builder",
            "tokio",
            "insta",
            "x",
        ]
        .iter()
        .map(|name| json!({"id": format!("{name}-id"), "name": name}))
        .collect();
        let metadata = json!({
            "packages": packages,
            "resolve": {
                "root": "root-id",
                "nodes": [
                    {"id": "root-id", "deps": [
                        {"pkg": "mock-id", "dep_kinds": [{"kind": "dev"}]},
                        {"pkg": "client-id", "dep_kinds": [{"kind": null}]},
                        {"pkg": "x-id", "dep_kinds": [{"kind": "dev"}]}]},
                    {"id": "mock-id", "deps": [
                        {"pkg": "clap-id", "dep_kinds": [{"kind": null}]},
                        {"pkg": "tokio-id", "dep_kinds": [{"kind": null}]},
                        {"pkg": "insta-id", "dep_kinds": [{"kind": "dev"}]}]},
                    {"id": "clap-id", "deps": [{"pkg": "clap_builder-id", "dep_kinds": [{"kind": null}]}]},
                    {"id": "client-id", "deps": [{"pkg": "tokio-id", "dep_kinds": [{"kind": "build"}]}]},
                ]
            }
        });
        Graph::from_metadata(&metadata).unwrap()
    }

    #[test]
    fn the_compiled_set_follows_dev_edges_only_from_the_root() {
        let names: Vec<String> = graph().compiled().into_iter().collect();
        assert_eq!(
            names,
            [
                "clap",
                "clap_builder",
                "client",
                "mock",
                "root",
                "tokio",
                "x"
            ]
        );
    }

    #[test]
    fn binary_only_crates_are_those_gone_when_the_edges_are_cut() {
        let gone: Vec<String> = graph()
            .only_through("mock", &["clap"])
            .into_iter()
            .collect();
        assert_eq!(gone, ["clap", "clap_builder"]);
        assert!(
            graph().only_through("mock", &["tokio"]).is_empty(),
            "tokio is also the client's"
        );
    }

    fn measured(embedder: &'static str, build_seconds: f64) -> Measured {
        Measured {
            embedder,
            build_seconds,
            build_cpu_seconds: build_seconds * 1.5,
            test_seconds: 0.5,
            packages: 200,
            crates: vec![
                ("aws-lc-sys".to_owned(), 57.0),
                ("clap_builder".to_owned(), 9.5),
                ("clap".to_owned(), 3.5),
            ],
            load_before: 2.0,
            load_after: 3.5,
        }
    }

    #[test]
    fn children_cpu_time_is_read_after_the_command_name() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 250 75 0 0";
        assert_eq!(children_cpu_seconds_of(stat), Some(3.25));
        assert_eq!(children_cpu_seconds_of("42 (x) S 1"), None);
        assert!(children_cpu_seconds().is_ok());
    }

    #[test]
    fn ratios_have_two_decimals_and_survive_a_zero() {
        assert_eq!(ratio(130.0, 66.0), "1.97×");
        assert_eq!(ratio(1.0, 0.0), "—");
    }

    #[test]
    fn the_table_gives_both_times_the_ratio_and_the_binary_only_crates() {
        let report = Report {
            jobs: 2,
            top: 2,
            ccflow: measured("ccflow", 130.0),
            wiremock: measured("wiremock", 66.0),
            notable: vec![("clap", true, false), ("aws-lc-sys", true, true)],
            binary_only: vec!["clap".to_owned(), "clap_builder".to_owned()],
            only_ccflow: 80,
        };
        let text = table(&report);
        for line in [
            "| cold `cargo test --no-run -j 2` | wall-clock s | CPU s | packages | test run | load avg before → after |",
            "| ccflow | 130.0 | 195.0 | 200 | 0.5 s | 2.00 → 3.50 |",
            "| wiremock | 66.0 | 99.0 | 200 | 0.5 s | 2.00 → 3.50 |",
            "| ratio ccflow / wiremock | 1.97× | 1.97× | 80 only in ccflow's tree | | |",
            "| heaviest crates of the ccflow build | seconds (units summed; all: 70.0) | binary-only |",
            "| aws-lc-sys | 57.0 |  |",
            "| clap_builder | 9.5 | yes |",
            "| clap | yes | no |",
            "| aws-lc-sys | yes | yes |",
            "Compiled only for the auth server's binary (clap, anyhow, tracing-subscriber → 2 packages, \
             13.0 s of the 70.0 s summed over all units, 19%): clap, clap_builder",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        assert!(
            !text.contains("| clap | 3.5 |"),
            "only the top 2 are listed"
        );
        let json = to_json(&report);
        assert_eq!(json["binary_only_unit_seconds"], 13.0);
        assert_eq!(
            json["ccflow"]["crates"][2],
            json!({"crate": "clap", "seconds": 3.5})
        );
        assert_eq!(json["ccflow"]["build_seconds"], 130.0);
        assert_eq!(json["binary_only"], json!(["clap", "clap_builder"]));
        assert_eq!(
            json["notable"][0],
            json!({"crate": "clap", "ccflow": true, "wiremock": false})
        );
    }
}
