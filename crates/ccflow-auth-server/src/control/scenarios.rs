//! The fault-scenario engine: scenarios in insertion order; the first whose matcher matches a
//! request and whose `when` selects it supplies the fault. Counts are kept per scenario.

use std::cell::LazyCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use ccflow_protocol::{Clock, Fault, ScenarioSpec, When};

use crate::control::journal::Endpoint;

/// What a scenario's matcher looks at.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    pub(crate) client_id: Option<String>,
    pub(crate) grant_type: Option<String>,
    /// For the journal: the authentication method the request used.
    pub(crate) auth_method: Option<ccflow_protocol::AuthMethod>,
    /// For the journal: the parameters, secrets redacted.
    pub(crate) params: Vec<(String, String)>,
}

#[derive(Debug)]
struct Installed {
    id: u64,
    spec: ScenarioSpec,
    /// Matching requests so far.
    seen: u64,
    /// Requests the fault was applied to.
    hits: u64,
    /// State of the seeded generator of `When::Probability`.
    rng: u64,
    /// When it starts and stops matching on the server's clock (`after_secs`, `for_secs`
    /// counted from its installation); `None` without a window.
    window: Option<(SystemTime, Option<SystemTime>)>,
}

impl Installed {
    fn in_window(&self, now: SystemTime) -> bool {
        self.window
            .is_none_or(|(from, until)| now >= from && until.is_none_or(|until| now < until))
    }
}

/// A scenario as listed: its id, spec and counts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScenarioStatus {
    /// Its id (for removal).
    pub id: u64,
    /// What it matches and does.
    pub spec: ScenarioSpec,
    /// How many requests matched it.
    pub seen: u64,
    /// How many got its fault.
    pub hits: u64,
    /// With `after_secs`/`for_secs`: when it starts matching, on the server clock.
    pub starts_at: Option<SystemTime>,
    /// With `for_secs`: when it stops matching, on the server clock.
    pub ends_at: Option<SystemTime>,
}

#[derive(Debug, Default)]
pub(crate) struct Scenarios {
    installed: Mutex<Vec<Installed>>,
    /// How many are installed, readable without the lock: a server with no scenario (the
    /// usual case, and every benchmark) takes no lock for them on any request.
    count: AtomicUsize,
    next_id: AtomicU64,
}

/// SplitMix64: a tiny, good-enough seeded generator for reproducible probabilities.
fn next_random(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1_u64 << 53) as f64
}

impl Scenarios {
    /// Installs a scenario at `now` (the server's clock), from which its window is counted.
    pub(crate) fn add(&self, spec: ScenarioSpec, now: SystemTime) -> Result<u64, String> {
        spec.validate()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let rng = match spec.when {
            When::Probability { seed, .. } => seed,
            _ => 0,
        };
        let window = (spec.after_secs.is_some() || spec.for_secs.is_some()).then(|| {
            let later = |from: SystemTime, secs: u64| {
                // Beyond what SystemTime holds is "never": the window never opens or closes.
                from.checked_add(Duration::from_secs(secs))
            };
            let from = later(now, spec.after_secs.unwrap_or(0));
            match from {
                Some(from) => (from, spec.for_secs.and_then(|secs| later(from, secs))),
                // Starts after the end of time: an empty window.
                None => (now, Some(now)),
            }
        });
        let mut installed = self.lock();
        installed.push(Installed {
            id,
            spec,
            seen: 0,
            hits: 0,
            rng,
            window,
        });
        self.count.store(installed.len(), Ordering::Release);
        Ok(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Installed>> {
        self.installed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn list(&self) -> Vec<ScenarioStatus> {
        self.lock()
            .iter()
            .map(|s| ScenarioStatus {
                id: s.id,
                spec: s.spec.clone(),
                seen: s.seen,
                hits: s.hits,
                starts_at: s.window.map(|(start, _)| start),
                ends_at: s.window.and_then(|(_, end)| end),
            })
            .collect()
    }

    pub(crate) fn status(&self, id: u64) -> Option<ScenarioStatus> {
        self.list().into_iter().find(|status| status.id == id)
    }

    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut installed = self.lock();
        let before = installed.len();
        installed.retain(|s| s.id != id);
        self.count.store(installed.len(), Ordering::Release);
        installed.len() != before
    }

    pub(crate) fn clear(&self) {
        let mut installed = self.lock();
        installed.clear();
        self.count.store(0, Ordering::Release);
    }

    /// The fault for this request, if a scenario selects it. Every matching scenario counts the
    /// request (so `nth` counts requests, not leftovers of earlier scenarios); the first one,
    /// in installation order, that selects it supplies the fault. `now` is read once, and only
    /// if a scenario with a time window is considered.
    pub(crate) fn take(
        &self,
        endpoint: Endpoint,
        probe: &Probe,
        now: impl FnOnce() -> SystemTime,
    ) -> Option<Fault> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut installed = self.lock();
        let mut chosen: Option<usize> = None;
        // Read once, and only if a scenario with a window gets that far.
        let now = LazyCell::new(now);
        for (index, scenario) in installed.iter_mut().enumerate() {
            let spec = &scenario.spec;
            let matches = spec.endpoint == endpoint.as_str()
                && spec
                    .client_id
                    .as_ref()
                    .is_none_or(|id| probe.client_id.as_ref() == Some(id))
                && spec
                    .grant_type
                    .as_ref()
                    .is_none_or(|grant| probe.grant_type.as_ref() == Some(grant));
            if !matches {
                continue;
            }
            if scenario.window.is_some() && !scenario.in_window(*now) {
                continue;
            }
            scenario.seen += 1;
            let seen = scenario.seen;
            let selected = match spec.when {
                When::Always => true,
                When::Nth(n) => seen == n,
                When::First(n) => seen <= n,
                When::Every(k) => seen % k == 0,
                When::Probability { p, .. } => next_random(&mut scenario.rng) < p,
                // A `when` this server version does not know selects nothing.
                _ => false,
            };
            if selected && chosen.is_none() {
                chosen = Some(index);
            }
        }
        let scenario = &mut installed[chosen?];
        scenario.hits += 1;
        Some(scenario.spec.fault.clone())
    }
}

/// Adds scenarios to a running server, wiremock style:
/// `server.on_token().for_client("svc-a").times(2).respond(Fault::status(503).retry_after(5))`.
#[derive(Debug)]
#[must_use = "a scenario is installed only by `respond`"]
pub struct ScenarioBuilder {
    scenarios: Arc<Scenarios>,
    /// The server's clock, from which a time window is counted.
    clock: Arc<dyn Clock>,
    spec: ScenarioSpec,
}

impl ScenarioBuilder {
    pub(crate) fn new(
        scenarios: Arc<Scenarios>,
        clock: Arc<dyn Clock>,
        endpoint: Endpoint,
    ) -> Self {
        Self {
            scenarios,
            clock,
            // The fault is set by `respond`.
            spec: ScenarioSpec::new(endpoint.as_str(), Fault::DropConnection),
        }
    }

    /// Only requests claiming this client id.
    pub fn for_client(mut self, client_id: impl Into<String>) -> Self {
        self.spec.client_id = Some(client_id.into());
        self
    }

    /// Only requests with this `grant_type`.
    pub fn for_grant_type(mut self, grant_type: impl Into<String>) -> Self {
        self.spec.grant_type = Some(grant_type.into());
        self
    }

    /// Only the first `n` matching requests.
    pub fn times(self, n: u64) -> Self {
        self.first(n)
    }

    /// Only the first `n` matching requests.
    pub fn first(mut self, n: u64) -> Self {
        self.spec.when = When::First(n);
        self
    }

    /// Only the `n`th matching request (1-based).
    pub fn nth(mut self, n: u64) -> Self {
        self.spec.when = When::Nth(n);
        self
    }

    /// Every `k`th matching request.
    pub fn every(mut self, k: u64) -> Self {
        self.spec.when = When::Every(k);
        self
    }

    /// Each matching request with probability `p`, from a seeded generator.
    pub fn with_probability(mut self, p: f64, seed: u64) -> Self {
        self.spec.when = When::Probability { p, seed };
        self
    }

    /// Matches only from `secs` seconds after installation, on the server's clock.
    pub fn after_secs(mut self, secs: u64) -> Self {
        self.spec.after_secs = Some(secs);
        self
    }

    /// Matches only for `secs` seconds from when it starts matching, on the server's clock
    /// (advance a virtual clock past it to end the scenario without waiting).
    pub fn for_secs(mut self, secs: u64) -> Self {
        self.spec.for_secs = Some(secs);
        self
    }

    /// Installs the scenario. Panics with the reason if it is invalid (a test-setup mistake).
    #[track_caller]
    pub fn respond(mut self, fault: Fault) -> ScenarioHandle {
        self.spec.fault = fault;
        let now = self.clock.now();
        match self.scenarios.add(self.spec, now) {
            Ok(id) => ScenarioHandle {
                scenarios: self.scenarios,
                id,
            },
            Err(why) => panic!("invalid ccflow scenario: {why}"),
        }
    }
}

/// An installed scenario: its counts, and a way to remove it.
#[derive(Debug, Clone)]
pub struct ScenarioHandle {
    scenarios: Arc<Scenarios>,
    id: u64,
}

impl ScenarioHandle {
    /// Its id, as the admin API lists it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How many requests got its fault.
    pub fn hits(&self) -> u64 {
        self.scenarios
            .status(self.id)
            .map_or(0, |status| status.hits)
    }

    /// How many requests matched it.
    pub fn seen(&self) -> u64 {
        self.scenarios
            .status(self.id)
            .map_or(0, |status| status.seen)
    }

    /// Uninstalls it.
    pub fn remove(self) {
        self.scenarios.remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        T0 + Duration::from_secs(secs)
    }

    /// A scenario installed at `T0 + 100 s` with a window, and whether requests at these
    /// seconds after `T0` get its fault (the `seen` count only counts those inside).
    fn windowed(after: Option<u64>, r#for: Option<u64>, when: When, seconds: &[u64]) -> String {
        let scenarios = Scenarios::default();
        let mut spec = ScenarioSpec::new("token", Fault::DropConnection);
        (spec.when, spec.after_secs, spec.for_secs) = (when, after, r#for);
        scenarios.add(spec, at(100)).unwrap();
        seconds
            .iter()
            .map(
                |&secs| match scenarios.take(Endpoint::Token, &Probe::default(), || at(secs)) {
                    Some(_) => 'x',
                    None => '.',
                },
            )
            .collect()
    }

    #[test]
    fn a_time_window_opens_and_closes_on_the_server_clock() {
        let times = [99, 100, 109, 110, 129, 130, 200];
        assert_eq!(windowed(None, None, When::Always, &times), "xxxxxxx");
        // for_secs: from installation, the end excluded.
        assert_eq!(windowed(None, Some(30), When::Always, &times), ".xxxx..");
        // after_secs: from installation + after, for ever.
        assert_eq!(windowed(Some(10), None, When::Always, &times), "...xxxx");
        // Both: [install + 10 s, install + 40 s).
        assert_eq!(
            windowed(Some(10), Some(30), When::Always, &[109, 110, 139, 140]),
            ".xx."
        );
        // A clock set back before the window leaves it closed.
        assert_eq!(windowed(Some(10), Some(30), When::Always, &[120, 0]), "x.");
        // `when` counts only requests inside the window.
        assert_eq!(
            windowed(Some(10), None, When::Nth(2), &[100, 105, 110, 111, 112]),
            "...x."
        );
        // Far beyond what SystemTime holds: never opens, and no panic.
        assert_eq!(
            windowed(Some(u64::MAX), None, When::Always, &times),
            "......."
        );
        assert_eq!(
            windowed(None, Some(u64::MAX), When::Always, &times),
            ".xxxxxx"
        );
    }

    #[test]
    fn removing_and_clearing_scenarios_stops_them_and_adding_starts_them_again() {
        let probe = Probe {
            client_id: Some("a".to_owned()),
            ..Probe::default()
        };
        let scenarios = scenarios(When::Always);
        let id = scenarios.list()[0].id;
        assert!(scenarios.take(Endpoint::Token, &probe, || T0).is_some());
        assert!(scenarios.remove(id));
        assert!(scenarios.take(Endpoint::Token, &probe, || T0).is_none());
        let spec = ScenarioSpec::new("token", Fault::DropConnection);
        scenarios.add(spec.clone(), T0).unwrap();
        scenarios.add(spec, T0).unwrap();
        assert!(scenarios.take(Endpoint::Token, &probe, || T0).is_some());
        scenarios.clear();
        assert!(scenarios.take(Endpoint::Token, &probe, || T0).is_none());
        assert!(scenarios.list().is_empty());
    }

    #[test]
    fn the_clock_is_read_only_for_scenarios_with_a_window() {
        let scenarios = scenarios(When::Always);
        let probe = Probe {
            client_id: Some("a".to_owned()),
            ..Probe::default()
        };
        assert!(
            scenarios
                .take(Endpoint::Token, &probe, || panic!("no window: no clock"))
                .is_some()
        );
    }

    fn scenarios(when: When) -> Scenarios {
        let scenarios = Scenarios::default();
        let mut spec = ScenarioSpec::new("token", Fault::DropConnection);
        (spec.client_id, spec.when) = (Some("a".to_owned()), when);
        scenarios.add(spec, T0).unwrap();
        scenarios
    }

    fn pattern(scenarios: &Scenarios, n: usize) -> String {
        let probe = Probe {
            client_id: Some("a".to_owned()),
            ..Probe::default()
        };
        (0..n)
            .map(|_| {
                if scenarios.take(Endpoint::Token, &probe, || T0).is_some() {
                    'x'
                } else {
                    '.'
                }
            })
            .collect()
    }

    #[test]
    fn when_selects_the_right_requests() {
        assert_eq!(pattern(&scenarios(When::Always), 4), "xxxx");
        assert_eq!(pattern(&scenarios(When::Nth(3)), 5), "..x..");
        assert_eq!(pattern(&scenarios(When::First(2)), 5), "xx...");
        assert_eq!(pattern(&scenarios(When::Every(2)), 6), ".x.x.x");
        let seeded = pattern(&scenarios(When::Probability { p: 0.5, seed: 7 }), 40);
        assert_eq!(
            seeded,
            pattern(&scenarios(When::Probability { p: 0.5, seed: 7 }), 40),
            "reproducible"
        );
        let hits = seeded.matches('x').count();
        assert!((8..=32).contains(&hits), "{seeded}");
        assert_eq!(
            pattern(&scenarios(When::Probability { p: 0.0, seed: 1 }), 10),
            ".........."
        );
    }

    #[test]
    fn matchers_filter_by_endpoint_and_client() {
        let scenarios = scenarios(When::Always);
        let other = Probe {
            client_id: Some("b".to_owned()),
            ..Probe::default()
        };
        assert!(scenarios.take(Endpoint::Token, &other, || T0).is_none());
        assert!(
            scenarios
                .take(
                    Endpoint::Jwks,
                    &Probe {
                        client_id: Some("a".to_owned()),
                        ..Probe::default()
                    },
                    || T0
                )
                .is_none()
        );
        assert_eq!(scenarios.list()[0].seen, 0);
    }

    #[test]
    fn every_matching_scenario_counts_every_request() {
        let scenarios = Scenarios::default();
        for n in 1..=3 {
            let mut spec = ScenarioSpec::new("token", Fault::expires_in(i64::try_from(n).unwrap()));
            spec.when = When::Nth(n);
            scenarios.add(spec, T0).unwrap();
        }
        let faults: Vec<_> = (0..4)
            .map(|_| scenarios.take(Endpoint::Token, &Probe::default(), || T0))
            .collect();
        assert_eq!(
            faults,
            [
                Some(Fault::expires_in(1)),
                Some(Fault::expires_in(2)),
                Some(Fault::expires_in(3)),
                None
            ]
        );
        let hits: Vec<u64> = scenarios.list().iter().map(|s| s.hits).collect();
        assert_eq!(hits, [1, 1, 1]);
    }
}
