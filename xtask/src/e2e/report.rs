//! Machine-readable reports of an e2e run, for CI: JUnit XML (which every CI system reads: one
//! `testsuite` per profile, one `testcase` per flow) and JSON (the same results, plus totals).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};

/// One flow's result as the reports need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub(crate) profile: &'a str,
    pub(crate) flow: &'a str,
    pub(crate) passed: bool,
    pub(crate) elapsed: Duration,
    /// What the flow compared (passed) or why it failed.
    pub(crate) detail: &'a str,
}

/// JUnit XML: suites in the order the profiles ran, cases in the order the flows ran.
pub(crate) fn junit(rows: &[Row<'_>], total: Duration) -> String {
    let mut suites: Vec<(&str, Vec<&Row<'_>>)> = Vec::new();
    for row in rows {
        match suites
            .iter_mut()
            .find(|(profile, _)| *profile == row.profile)
        {
            Some((_, cases)) => cases.push(row),
            None => suites.push((row.profile, vec![row])),
        }
    }
    let failures = rows.iter().filter(|row| !row.passed).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"ccflow e2e\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        rows.len(),
        total.as_secs_f64()
    );
    for (profile, cases) in suites {
        let suite_failures = cases.iter().filter(|row| !row.passed).count();
        let suite_time: Duration = cases.iter().map(|row| row.elapsed).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" time=\"{:.3}\">",
            escape(profile),
            cases.len(),
            suite_time.as_secs_f64()
        );
        for row in cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"e2e.{}\" name=\"{}\" time=\"{:.3}\"",
                escape(profile),
                escape(row.flow),
                row.elapsed.as_secs_f64()
            );
            if row.passed {
                let _ = writeln!(
                    xml,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(row.detail)
                );
            } else {
                let message = row.detail.lines().next().unwrap_or("failed");
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    escape(message),
                    escape(row.detail)
                );
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// The JSON report: totals, then every result.
pub(crate) fn json(rows: &[Row<'_>], total: Duration, secret_scan: &str) -> String {
    let results: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            serde_json::json!({
                "profile": row.profile,
                "flow": row.flow,
                "passed": row.passed,
                "ms": u64::try_from(row.elapsed.as_millis()).unwrap_or(u64::MAX),
                "detail": row.detail,
            })
        })
        .collect();
    let failed = rows.iter().filter(|row| !row.passed).count();
    let report = serde_json::json!({
        "flows": rows.len(),
        "passed": rows.len() - failed,
        "failed": failed,
        "seconds": total.as_secs_f64(),
        "secret_scan": secret_scan,
        "results": results,
    });
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

/// Writes `text` to `path`, creating its folder.
pub(crate) fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// XML text and attribute escaping; characters XML 1.0 cannot carry at all (most controls)
/// become U+FFFD, so a flow's output can never make the report unreadable.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => escaped.push('\u{fffd}'),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row<'static>> {
        vec![
            Row {
                profile: "rfc",
                flow: "token",
                passed: true,
                elapsed: Duration::from_millis(12),
                detail: "snapshot matched",
            },
            Row {
                profile: "docs",
                flow: "README.md",
                passed: false,
                elapsed: Duration::from_millis(1500),
                detail: "README.md:40: shown <\"a\" & 'b'>\u{1e}\nsecond line",
            },
        ]
    }

    #[test]
    fn junit_groups_by_profile_and_escapes_everything() {
        let xml = junit(&rows(), Duration::from_secs(2));
        assert!(
            xml.contains(r#"<testsuites name="ccflow e2e" tests="2" failures="1" time="2.000">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testsuite name="rfc" tests="1" failures="0" time="0.012">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase classname="e2e.docs" name="README.md" time="1.500">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="README.md:40: shown &lt;&quot;a&quot; &amp; &apos;b&apos;&gt;�">"#),
            "{xml}"
        );
        assert!(!xml.contains('\u{1e}'));
    }

    #[test]
    fn json_counts_and_lists_every_result() {
        let report: serde_json::Value =
            serde_json::from_str(&json(&rows(), Duration::from_secs(2), "0 hits")).unwrap();
        assert_eq!(report["flows"], 2);
        assert_eq!(report["failed"], 1);
        assert_eq!(report["results"][1]["flow"], "README.md");
        assert_eq!(report["results"][0]["ms"], 12);
        assert_eq!(report["secret_scan"], "0 hits");
    }
}
