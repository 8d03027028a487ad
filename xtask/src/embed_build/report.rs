//! `cargo xtask embed-build`'s figures: cargo's timings report read, the Markdown tables and
//! the JSON.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

/// The auth server's dependencies that only its binary needs: a test embedding the library
/// compiles them, and everything only they pull in, for nothing.
pub(super) const BINARY_ONLY: [&str; 3] = ["clap", "anyhow", "tracing-subscriber"];

/// One crate's figures.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Measured {
    pub(super) embedder: &'static str,
    /// Wall-clock seconds of the cold `cargo test --no-run`.
    pub(super) build_seconds: f64,
    /// CPU seconds (user + system) of that build, every compiler and build script included:
    /// what the build costs, less moved than wall-clock by other work on a shared machine.
    pub(super) build_cpu_seconds: f64,
    /// Wall-clock seconds of `cargo test` afterwards (build already done: the test run).
    pub(super) test_seconds: f64,
    /// Packages compiled (the crate itself included), from `cargo metadata`.
    pub(super) packages: usize,
    /// Every crate built, heaviest first: (name, seconds summed over its units) from
    /// `--timings`.
    pub(super) crates: Vec<(String, f64)>,
    /// The load average (1 minute) before and after the build.
    pub(super) load_before: f64,
    pub(super) load_after: f64,
}

/// Both crates' figures and what the ccflow tree holds that the wiremock one does not.
#[derive(Debug)]
pub(super) struct Report {
    pub(super) jobs: u32,
    /// The auth server's features in the ccflow crate (`--features`).
    pub(super) features: Vec<String>,
    /// How many of the heaviest crates the table lists.
    pub(super) top: usize,
    pub(super) ccflow: Measured,
    pub(super) wiremock: Measured,
    /// `NOTABLE` crates: (name, in the ccflow tree, in the wiremock tree).
    pub(super) notable: Vec<(&'static str, bool, bool)>,
    /// Packages compiled only because the auth server depends on `BINARY_ONLY`.
    pub(super) binary_only: Vec<String>,
    /// Packages of the ccflow tree absent from the wiremock tree.
    pub(super) only_ccflow: usize,
}
impl Report {
    /// The unit seconds of the ccflow build's binary-only crates.
    fn binary_only_unit_seconds(&self) -> f64 {
        unit_seconds(&self.ccflow.crates, |name| {
            self.binary_only
                .iter()
                .any(|binary_only| binary_only == name)
        })
    }
}

/// Crates by build time, heaviest first, from cargo's `--timings` HTML report: the units of a
/// crate (build script, its run, the library) summed, in seconds.
pub(super) fn crates_by_build_time(html: &str) -> Result<Vec<(String, f64)>> {
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
pub(super) fn table(report: &Report) -> String {
    let mut out = format!(
        "\n| cold `cargo test --no-run -j {}` | wall-clock s | CPU s | packages | test run | load avg before → after |\n\
         | --- | --- | --- | --- | --- | --- |\n",
        report.jobs
    );
    for measured in [&report.ccflow, &report.wiremock] {
        let features = format!(" ({})", report.features.join(", "));
        out += &format!(
            "| {}{} | {:.1} | {:.1} | {} | {:.1} s | {:.2} → {:.2} |\n",
            measured.embedder,
            if measured.embedder == "ccflow" {
                features.as_str()
            } else {
                ""
            },
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
    let binary_only_units = report.binary_only_unit_seconds();
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

pub(super) fn to_json(report: &Report) -> Value {
    let measured = |m: &Measured| {
        json!({
            "build_seconds": m.build_seconds,
            "build_cpu_seconds": m.build_cpu_seconds,
            "test_seconds": m.test_seconds,
            "packages": m.packages,
            "load_average_before": m.load_before,
            "load_average_after": m.load_after,
            "unit_seconds": unit_seconds(&m.crates, |_| true),
            "crates": m.crates.iter().map(|(name, seconds)| json!({"crate": name, "seconds": seconds}))
                .collect::<Vec<_>>(),
        })
    };
    let notable: Vec<Value> = report
        .notable
        .iter()
        .map(|(name, ccflow, wiremock)| json!({"crate": name, "ccflow": ccflow, "wiremock": wiremock}))
        .collect();
    json!({
        "jobs": report.jobs,
        "ccflow_features": report.features,
        "ccflow": measured(&report.ccflow),
        "wiremock": measured(&report.wiremock),
        "ratio": report.ccflow.build_seconds / report.wiremock.build_seconds,
        "cpu_ratio": report.ccflow.build_cpu_seconds / report.wiremock.build_cpu_seconds,
        "only_in_ccflow_tree": report.only_ccflow,
        "binary_only": report.binary_only,
        "binary_only_unit_seconds": report.binary_only_unit_seconds(),
        "notable": notable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ratios_have_two_decimals_and_survive_a_zero() {
        assert_eq!(ratio(130.0, 66.0), "1.97×");
        assert_eq!(ratio(1.0, 0.0), "—");
    }

    #[test]
    fn the_table_gives_both_times_the_ratio_and_the_binary_only_crates() {
        let report = Report {
            jobs: 2,
            features: vec!["rust-crypto".to_owned()],
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
            "| ccflow (rust-crypto) | 130.0 | 195.0 | 200 | 0.5 s | 2.00 → 3.50 |",
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
        assert_eq!(json["ccflow_features"], json!(["rust-crypto"]));
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
