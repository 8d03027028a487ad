//! The probe's report: one result per case (what was sent, expected, answered; the verdict; the
//! RFC section), written as a terminal table, JUnit XML and JSON.

use serde_json::{Value, json};

/// How a case came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The answer is the one the RFC asks for.
    Pass,
    /// The API accepted what it must refuse, refused what it must accept, or failed (5xx).
    Fail,
    /// Lenient but accepted: the API did the safe thing (it refused), not in the RFC's words
    /// (another 4xx status, or a challenge without the RFC 6750 §3 error code). Not a failure.
    Lenient,
    /// Not run: marked not applicable (`--skip`), or the API does not claim what it needs.
    Skipped,
}

impl Verdict {
    /// The word in every format: `pass`, `fail`, `lenient`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Lenient => "lenient",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaseResult {
    /// The case's stable name (what `--skip` takes), e.g. `wrong-aud`.
    pub id: &'static str,
    /// What the case checks, as a sentence.
    pub title: &'static str,
    /// The RFC section that says what the answer must be.
    pub rfc: &'static str,
    /// What was sent; tokens shortened to their first characters and length.
    pub sent: String,
    /// What was expected: status and `WWW-Authenticate`.
    pub expected: String,
    /// What came back: status and `WWW-Authenticate`.
    pub got: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why that verdict, when it is not plain.
    pub note: String,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The probe (`api`).
    pub probe: &'static str,
    /// The URL probed.
    pub target: String,
    /// Every case, in the order run.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Whether no case failed (the exit status is 0 exactly then).
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|case| case.verdict != Verdict::Fail)
    }

    /// The ids of the cases with this verdict.
    pub fn with_verdict(&self, verdict: Verdict) -> Vec<&'static str> {
        self.cases
            .iter()
            .filter(|case| case.verdict == verdict)
            .map(|case| case.id)
            .collect()
    }

    fn count(&self, verdict: Verdict) -> usize {
        self.with_verdict(verdict).len()
    }

    /// The summary line: `probe api of URL: N pass, N fail, N lenient, N skipped`.
    pub fn summary(&self) -> String {
        format!(
            "probe {} of {}: {} pass, {} fail, {} lenient, {} skipped",
            self.probe,
            self.target,
            self.count(Verdict::Pass),
            self.count(Verdict::Fail),
            self.count(Verdict::Lenient),
            self.count(Verdict::Skipped)
        )
    }

    /// The terminal table: one line per case (verdict, id, expected, got, RFC), then the
    /// details of every case that is not a plain pass, then the summary.
    pub fn table(&self) -> String {
        let id_width = self
            .cases
            .iter()
            .map(|case| case.id.len())
            .max()
            .unwrap_or(2)
            .max(4);
        let expected_width = self
            .cases
            .iter()
            .map(|case| brief(&case.expected).len())
            .max()
            .unwrap_or(8)
            .max(8);
        let got_width = self
            .cases
            .iter()
            .map(|case| brief(&case.got).len())
            .max()
            .unwrap_or(3)
            .max(3);
        let mut out = format!(
            "{:<8} {:<id_width$} {:<expected_width$} {:<got_width$} rfc\n",
            "verdict", "case", "expected", "got"
        );
        for case in &self.cases {
            out.push_str(&format!(
                "{:<8} {:<id_width$} {:<expected_width$} {:<got_width$} {}\n",
                case.verdict.as_str(),
                case.id,
                brief(&case.expected),
                brief(&case.got),
                case.rfc
            ));
        }
        for case in self
            .cases
            .iter()
            .filter(|case| case.verdict != Verdict::Pass)
        {
            out.push_str(&format!(
                "\n{} {}: {}\n  sent:     {}\n  expected: {}\n  got:      {}\n",
                case.verdict.as_str(),
                case.id,
                case.title,
                case.sent,
                case.expected,
                case.got
            ));
            if !case.note.is_empty() {
                out.push_str(&format!("  note:     {}\n", case.note));
            }
        }
        out.push('\n');
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The report as JSON: `{"probe", "target", "passed", "cases": [{id, title, rfc, sent,
    /// expected, got, verdict, note}]}`.
    pub fn json(&self) -> Value {
        json!({
            "probe": self.probe,
            "target": self.target,
            "passed": self.passed(),
            "cases": self.cases.iter().map(|case| json!({
                "id": case.id,
                "title": case.title,
                "rfc": case.rfc,
                "sent": case.sent,
                "expected": case.expected,
                "got": case.got,
                "verdict": case.verdict.as_str(),
                "note": case.note,
            })).collect::<Vec<_>>(),
        })
    }

    /// The report as JUnit XML: one `testcase` per case, a `failure` for a fail, `skipped` for
    /// a skip; a lenient case passes with its details in `system-out`.
    pub fn junit(&self) -> String {
        let failures = self.count(Verdict::Fail);
        let skipped = self.count(Verdict::Skipped);
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"ccflow probe\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
            self.cases.len()
        ));
        out.push_str(&format!(
            "  <testsuite name=\"probe {} {}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
            self.probe,
            xml(&self.target),
            self.cases.len()
        ));
        for case in &self.cases {
            out.push_str(&format!(
                "    <testcase classname=\"ccflow.probe.{}\" name=\"{}\">\n",
                self.probe, case.id
            ));
            let details = format!(
                "{} ({})\nsent: {}\nexpected: {}\ngot: {}{}",
                case.title,
                case.rfc,
                case.sent,
                case.expected,
                case.got,
                if case.note.is_empty() {
                    String::new()
                } else {
                    format!("\nnote: {}", case.note)
                }
            );
            match case.verdict {
                Verdict::Fail => out.push_str(&format!(
                    "      <failure message=\"{}\">{}</failure>\n",
                    xml(&format!("expected {}, got {}", case.expected, case.got)),
                    xml(&details)
                )),
                Verdict::Skipped => out.push_str(&format!(
                    "      <skipped message=\"{}\"/>\n",
                    xml(&case.note)
                )),
                Verdict::Pass | Verdict::Lenient => {
                    out.push_str(&format!(
                        "      <system-out>{}: {}</system-out>\n",
                        case.verdict.as_str(),
                        xml(&details)
                    ));
                }
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

/// A description as the table shows it: `401 invalid_token`, `401 Bearer` (a bare challenge),
/// `200`; other text shortened.
fn brief(text: &str) -> String {
    const MARKER: &str = "WWW-Authenticate: ";
    let status: String = text.chars().take_while(char::is_ascii_digit).collect();
    if status.len() != 3 {
        return short(text);
    }
    let Some(at) = text.find(MARKER) else {
        return status;
    };
    let challenge = &text[at + MARKER.len()..];
    // A `DPoP` challenge's error when the Bearer one has none (RFC 9449 §7.1).
    let parsed = match ccflow_protocol::BearerChallenge::parse(challenge) {
        Some(bearer) if bearer.error.is_some() => Some(bearer),
        bearer => ccflow_protocol::BearerChallenge::parse_scheme(challenge, "DPoP")
            .filter(|dpop| dpop.error.is_some())
            .or(bearer),
    };
    match parsed {
        Some(parsed) => match parsed.error {
            Some(error) => format!("{status} {}", error.as_str()),
            None => format!("{status} Bearer"),
        },
        None => format!("{status} {}", short(challenge)),
    }
}

/// The first line of a description, for the table.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 40 {
        format!("{}…", line.chars().take(39).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// Text escaped for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            ch if ch.is_control() && !matches!(ch, '\n' | '\t' | '\r') => out.push('?'),
            ch => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &'static str, verdict: Verdict) -> CaseResult {
        CaseResult {
            id,
            title: "a case",
            rfc: "RFC 6750 §3.1",
            sent: "GET <a&b>".to_owned(),
            expected: "401".to_owned(),
            got: "200".to_owned(),
            verdict,
            note: String::new(),
        }
    }

    #[test]
    fn one_fail_fails_the_report_and_every_format_says_so() {
        let report = Report {
            probe: "api",
            target: "http://127.0.0.1:1/v1".to_owned(),
            cases: vec![
                case("valid", Verdict::Pass),
                case("wrong-aud", Verdict::Fail),
                case("malformed-header", Verdict::Lenient),
                case("wrong-typ", Verdict::Skipped),
            ],
        };
        assert!(!report.passed());
        assert_eq!(report.json()["passed"], false);
        assert_eq!(report.json()["cases"][1]["verdict"], "fail");
        let junit = report.junit();
        assert!(
            junit.contains(r#"tests="4" failures="1" skipped="1""#),
            "{junit}"
        );
        assert!(junit.contains("GET &lt;a&amp;b&gt;"), "{junit}");
        assert!(
            report
                .table()
                .ends_with("1 pass, 1 fail, 1 lenient, 1 skipped\n")
        );
        let lenient_only = Report {
            cases: vec![case("valid", Verdict::Pass), case("x", Verdict::Lenient)],
            ..report
        };
        assert!(lenient_only.passed());
    }

    #[test]
    fn the_table_shows_status_and_error_code() {
        assert_eq!(
            brief(
                r#"401, WWW-Authenticate: Bearer realm="a", error="invalid_token", error_description="x, y""#
            ),
            "401 invalid_token"
        );
        assert_eq!(
            brief(r#"401, WWW-Authenticate: Bearer realm="a""#),
            "401 Bearer"
        );
        assert_eq!(
            brief(r#"401, WWW-Authenticate: DPoP realm="a", error="invalid_dpop_proof""#),
            "401 invalid_dpop_proof"
        );
        assert_eq!(
            brief(r#"401, WWW-Authenticate: Bearer realm="a", DPoP error="invalid_token""#),
            "401 invalid_token"
        );
        assert_eq!(brief("200 (no WWW-Authenticate) after 30 s"), "200");
        assert_eq!(brief("2xx"), "2xx");
    }
}
