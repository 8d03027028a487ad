//! The targets of docs/performance.md, defined once here: each a named limit that one figure
//! of the full run is checked against. The report lists the checks in the order the sections
//! measure them, marked ✓ or ✗; docs/performance.md records what was measured against them.

use serde_json::{Value, json};

/// A target: what is measured, its limit, which side of the limit the figure must stay on,
/// and the unit it is printed with.
#[derive(Clone, Copy, Debug)]
pub(super) struct Target {
    name: &'static str,
    limit: f64,
    /// `true`: measured must be ≤ limit; `false`: ≥.
    at_most: bool,
    unit: &'static str,
}

/// The connection counts the throughput and latency targets are set at.
pub(super) const HIGH_CONNECTIONS: usize = 64;
pub(super) const LOW_CONNECTIONS: usize = 16;

/// Server CPU per RS256 token at the largest connection count: one signature (206 µs on the
/// machine the targets were set on) plus what the server adds around it.
pub(super) const RS256_CPU_PER_TOKEN: Target = at_most("RS256 server CPU per token", 250.0, "µs");
/// Tokens/s ÷ (raw one-thread signs/s × cores the server used), at the largest connection
/// count: the share of the signing capacity of the server's cores that ends up as tokens.
pub(super) const RS256_SIGNING_RATIO: Target =
    at_least("RS256 tokens/s ÷ raw signing of the cores used", 0.8, "×");
/// Errors (any status but 200, any failed connection) in the largest RS256 load run.
pub(super) const RS256_ERRORS: Target = at_most("RS256 token endpoint errors", 0.0, "");
/// The auth server's peak resident memory (`VmHWM`) after the largest RS256 load run.
pub(super) const AUTH_SERVER_PEAK_RSS: Target = at_most("auth server peak RSS", 30.0, "MiB");
/// RS256 tokens/s at [`HIGH_CONNECTIONS`].
pub(super) const RS256_TOKENS_PER_SECOND_HIGH: Target =
    at_least("RS256 tokens/s at 64 connections", 7000.0, "/s");
/// RS256 p99 latency at [`HIGH_CONNECTIONS`].
pub(super) const RS256_P99_HIGH: Target = at_most("RS256 p99 at 64 connections", 12.0, "ms");
/// RS256 p99 latency at [`LOW_CONNECTIONS`].
pub(super) const RS256_P99_LOW: Target = at_most("RS256 p99 at 16 connections", 4.0, "ms");
/// Server CPU per ES256 token (its load run is at the largest connection count).
pub(super) const ES256_CPU_PER_TOKEN: Target = at_most("ES256 server CPU per token", 60.0, "µs");
/// `Validator::authenticate` ÷ raw verification of the same token, one thread (median of the
/// interleaved rounds' ratios).
pub(super) const VALIDATOR_RATIO: Target = at_least("validator ÷ raw verify", 0.8, "×");
/// A validator trusting ten issuers ÷ one trusting one, same token (median of the interleaved
/// rounds' ratios): the `iss` lookup must add no measurable time (issue 20).
pub(super) const TEN_ISSUERS_RATIO: Target = at_least("validator with 10 issuers ÷ 1", 0.95, "×");
/// The SDK's `token()` when the token is cached.
pub(super) const CACHED_TOKEN: Target = at_most("cached token()", 200.0, "ns");
/// Token requests that 10,000 concurrent callers on a cold cache cause.
pub(super) const COLD_CALLER_REQUESTS: Target =
    at_most("requests from 10,000 cold callers", 1.0, "");
/// Embedded `MockAuthServer::start()` → first token (median).
pub(super) const EMBEDDED_START: Target = at_most("embedded start() → first token", 10.0, "ms");
/// Process start → the `listening on` line (median).
pub(super) const PROCESS_START: Target = at_most("process start → ready", 50.0, "ms");

const fn at_most(name: &'static str, limit: f64, unit: &'static str) -> Target {
    Target {
        name,
        limit,
        at_most: true,
        unit,
    }
}

const fn at_least(name: &'static str, limit: f64, unit: &'static str) -> Target {
    Target {
        name,
        limit,
        at_most: false,
        unit,
    }
}

/// A target and the figure the run measured for it.
#[derive(Debug)]
pub(super) struct Check {
    target: Target,
    measured: f64,
}

impl Target {
    pub(super) fn check(self, measured: f64) -> Check {
        Check {
            target: self,
            measured,
        }
    }
}

impl Check {
    pub(super) fn met(&self) -> bool {
        if self.target.at_most {
            self.measured <= self.target.limit
        } else {
            self.measured >= self.target.limit
        }
    }

    /// The report's line for this target.
    pub(super) fn row(&self) -> String {
        format!(
            "  {} {:<48} {:>10.2} {:<3} (target {} {})",
            if self.met() { "✓" } else { "✗" },
            self.target.name,
            self.measured,
            self.target.unit,
            if self.target.at_most { "≤" } else { "≥" },
            self.target.limit
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "name": self.target.name,
            "measured": self.measured,
            "target": self.target.limit,
            "at_most": self.target.at_most,
            "unit": self.target.unit,
            "met": self.met(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_met_on_the_right_side_of_its_limit_and_prints_as_before() {
        assert!(CACHED_TOKEN.check(200.0).met());
        assert!(!CACHED_TOKEN.check(200.5).met());
        assert!(VALIDATOR_RATIO.check(0.8).met());
        assert!(!VALIDATOR_RATIO.check(0.79).met());
        assert_eq!(
            RS256_CPU_PER_TOKEN.check(274.0).row(),
            "  ✗ RS256 server CPU per token                           274.00 µs  (target ≤ 250)"
        );
        assert_eq!(
            RS256_SIGNING_RATIO.check(0.88).to_json(),
            json!({
                "name": "RS256 tokens/s ÷ raw signing of the cores used",
                "measured": 0.88,
                "target": 0.8,
                "at_most": false,
                "unit": "×",
                "met": true,
            })
        );
    }

    #[test]
    fn the_connection_counts_are_those_the_names_promise() {
        let name = |target: Target| target.name;
        assert!(name(RS256_TOKENS_PER_SECOND_HIGH).contains(&format!("at {HIGH_CONNECTIONS} ")));
        assert!(name(RS256_P99_HIGH).contains(&format!("at {HIGH_CONNECTIONS} ")));
        assert!(name(RS256_P99_LOW).contains(&format!("at {LOW_CONNECTIONS} ")));
    }
}
