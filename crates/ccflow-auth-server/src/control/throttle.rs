//! Failed-authentication throttling: failed client authentications are counted per client id
//! and per peer address in a fixed window; past the threshold, the key is answered `429` until
//! its window closes. See `docs/security.md`.
//!
//! Cost on the success path: one atomic load (is anyone blocked right now?). The tables behind
//! the mutex are touched only when someone is blocked or an authentication failed, and never
//! across anything slow.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ccflow_protocol::{ErrorCode, ErrorResponse};

/// A throttle setting out of range: which key (`throttle.window_secs`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
#[non_exhaustive]
pub struct ThrottleError {
    /// The key, as the config file names it, e.g. `throttle.window_secs`.
    pub field: String,
    /// What is wrong.
    pub why: String,
}

/// Failed-authentication throttling settings: how many failed client authentications a client
/// id, and a peer address, may have in a window before the token, introspection and
/// revocation endpoints answer `429` with `Retry-After` until the window closes.
///
/// Off unless given to
/// [`MockAuthServerBuilder::auth_throttle`](crate::MockAuthServerBuilder::auth_throttle) (or
/// `[throttle]` in the TOML file); [`AuthThrottle::default`] holds the values it then uses.
///
/// ```
/// use std::time::Duration;
/// use ccflow_auth_server::{AuthThrottle, MockAuthServer};
///
/// let builder = MockAuthServer::builder().auth_throttle(
///     AuthThrottle::default()
///         .max_failures_per_client(3)
///         .window(Duration::from_secs(30)),
/// );
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AuthThrottle {
    max_failures_per_client: u32,
    max_failures_per_ip: u32,
    window: Duration,
    max_tracked: usize,
}

impl Default for AuthThrottle {
    fn default() -> Self {
        Self {
            max_failures_per_client: 5,
            max_failures_per_ip: 20,
            window: Duration::from_secs(60),
            max_tracked: 10_000,
        }
    }
}

impl AuthThrottle {
    /// The settings with the config file's names: failures per client id and per address,
    /// the window in seconds, and how many keys are tracked.
    pub(crate) fn as_config(&self) -> (u32, u32, u64, usize) {
        (
            self.max_failures_per_client,
            self.max_failures_per_ip,
            self.window.as_secs(),
            self.max_tracked,
        )
    }

    /// Failures one client id may have in a window; the next request naming it is throttled.
    /// Unknown ids are counted the same way. Default 5.
    pub fn max_failures_per_client(mut self, failures: u32) -> Self {
        self.max_failures_per_client = failures;
        self
    }

    /// Failures one peer address (an IPv6 address by its /64) may have in a window, whatever
    /// client ids it names. Default 20.
    pub fn max_failures_per_ip(mut self, failures: u32) -> Self {
        self.max_failures_per_ip = failures;
        self
    }

    /// The window, opened by a key's first failure; whole seconds, by the server's clock.
    /// Default 60 s.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How many client ids, and separately how many addresses, are tracked at most; past it
    /// the oldest window is forgotten, so random ids cannot grow memory. Default 10,000.
    pub fn max_tracked(mut self, entries: usize) -> Self {
        self.max_tracked = entries;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ThrottleError> {
        let fields = [
            (
                "max_failures_per_client",
                u64::from(self.max_failures_per_client),
            ),
            ("max_failures_per_ip", u64::from(self.max_failures_per_ip)),
            ("window_secs", self.window.as_secs()),
            ("max_tracked", self.max_tracked as u64),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(ThrottleError {
                    field: format!("throttle.{name}"),
                    why: "must be at least 1".to_owned(),
                });
            }
        }
        Ok(())
    }

    fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX)
    }
}

/// The throttle's state: two bounded tables and the lock-free "anyone blocked?" mark.
pub(crate) struct Throttle {
    settings: AuthThrottle,
    /// No key is blocked at or after this instant (unix seconds); only ever raised.
    blocked_until: AtomicI64,
    tables: Mutex<Tables>,
    /// Client ids are kept as keyed 64-bit hashes: constant memory per entry whatever the id's
    /// length, and collisions cannot be aimed at without the per-process key.
    hasher: RandomState,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Tables {
    clients: Table<u64>,
    ips: Table<IpAddr>,
}

impl Throttle {
    pub(crate) fn new(settings: AuthThrottle) -> Self {
        Self {
            settings,
            blocked_until: AtomicI64::new(i64::MIN),
            tables: Mutex::default(),
            hasher: RandomState::new(),
        }
    }

    /// Seconds until a request naming `client_id` from `peer` is accepted again, or `None` when
    /// it is not throttled. `now` is read only when some key is blocked.
    pub(crate) fn retry_after(
        &self,
        client_id: Option<&str>,
        peer: Option<IpAddr>,
        now: impl FnOnce() -> i64,
    ) -> Option<u64> {
        let blocked_until = self.blocked_until.load(Ordering::Relaxed);
        if blocked_until == i64::MIN {
            return None;
        }
        let now = now();
        if now >= blocked_until {
            return None;
        }
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let client = client_id.and_then(|id| {
            tables.clients.blocked_until(
                &self.hasher.hash_one(id),
                now,
                self.settings.max_failures_per_client,
            )
        });
        let ip = peer.and_then(|peer| {
            tables
                .ips
                .blocked_until(&ip_key(peer), now, self.settings.max_failures_per_ip)
        });
        // Accepted again once every block on the request has ended.
        let until = client.into_iter().chain(ip).max()?;
        Some(u64::try_from(until.saturating_sub(now)).unwrap_or(1).max(1))
    }

    /// Counts one failed client authentication against the client id (as the request named
    /// it, registered or not) and the peer address.
    pub(crate) fn record_failure(&self, client_id: Option<&str>, peer: Option<IpAddr>, now: i64) {
        let settings = &self.settings;
        let window = settings.window_secs();
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = client_id {
            let (failures, ends_at) =
                tables
                    .clients
                    .record(self.hasher.hash_one(id), now, window, settings.max_tracked);
            if failures >= settings.max_failures_per_client {
                self.blocked_until.fetch_max(ends_at, Ordering::Relaxed);
                if failures == settings.max_failures_per_client {
                    tracing::warn!(
                        target: "ccflow_auth_server::throttle",
                        client_id = %crate::domain::echo::truncate(id),
                        failures,
                        retry_after_secs = ends_at.saturating_sub(now),
                        "client id throttled after failed authentications"
                    );
                }
            }
        }
        if let Some(peer) = peer {
            let (failures, ends_at) =
                tables
                    .ips
                    .record(ip_key(peer), now, window, settings.max_tracked);
            if failures >= settings.max_failures_per_ip {
                self.blocked_until.fetch_max(ends_at, Ordering::Relaxed);
                if failures == settings.max_failures_per_ip {
                    tracing::warn!(
                        target: "ccflow_auth_server::throttle",
                        peer = %peer,
                        failures,
                        retry_after_secs = ends_at.saturating_sub(now),
                        "peer address throttled after failed authentications"
                    );
                }
            }
        }
    }

    /// Forgets every failure.
    pub(crate) fn clear(&self) {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        *tables = Tables::default();
        self.blocked_until.store(i64::MIN, Ordering::Relaxed);
    }

    /// The settings it runs with.
    pub(crate) fn settings(&self) -> &AuthThrottle {
        &self.settings
    }

    /// How many client ids and addresses have failures counted.
    pub(crate) fn tracked(&self) -> (usize, usize) {
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        (tables.clients.entries.len(), tables.ips.entries.len())
    }
}

/// The answer to a throttled request.
///
/// Which `error`: RFC 6749 §5.2 has no token-endpoint code for "too many attempts".
/// `slow_down` is RFC 8628 §3.5's device-flow polling code, meaningless here; `invalid_client`
/// would tell the client its credentials are wrong (SDKs, ours included, never retry it) and
/// is not true of a correct secret arriving while its id is blocked. `temporarily_unavailable`
/// (RFC 6749 §4.1.2.1, in the IANA OAuth Extensions Error registry, and widely answered by
/// token endpoints) says "try again later", which is what `429` and `Retry-After`
/// (RFC 6585 §4, RFC 9110 §10.2.3) say too. The text is the same for every client id, known
/// or not.
pub(crate) fn throttled(retry_after_secs: u64) -> ErrorResponse {
    ErrorResponse::new(
        ErrorCode::TemporarilyUnavailable,
        format!(
            "too many failed client authentication attempts; retry after {retry_after_secs} seconds"
        ),
    )
    .with_status(429)
}

/// An address as the throttle counts it: IPv4 (also when IPv4-mapped), or an IPv6 /64, the
/// block one host usually holds.
fn ip_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Fixed windows per key, bounded: `order` lists windows oldest first (all windows have the
/// same length, so also by closing time), which makes expiry and eviction pop from the front.
/// A window replaced by a newer one for the same key leaves a stale `order` item, skipped by
/// its generation.
struct Table<K> {
    entries: HashMap<K, Window>,
    order: VecDeque<(K, u64)>,
    next_generation: u64,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    generation: u64,
    ends_at: i64,
    failures: u32,
}

impl<K: Hash + Eq + Copy> Table<K> {
    fn blocked_until(&self, key: &K, now: i64, max_failures: u32) -> Option<i64> {
        self.entries
            .get(key)
            .filter(|window| window.failures >= max_failures && now < window.ends_at)
            .map(|window| window.ends_at)
    }

    /// Counts a failure; returns the key's failures in its window and when the window closes.
    fn record(&mut self, key: K, now: i64, window_secs: i64, capacity: usize) -> (u32, i64) {
        self.expire(now);
        if let Some(window) = self.entries.get_mut(&key)
            && now < window.ends_at
        {
            window.failures = window.failures.saturating_add(1);
            return (window.failures, window.ends_at);
        }
        let window = Window {
            generation: self.next_generation,
            ends_at: now.saturating_add(window_secs),
            failures: 1,
        };
        self.next_generation += 1;
        self.entries.insert(key, window);
        self.order.push_back((key, window.generation));
        while self.entries.len() > capacity {
            self.pop_oldest();
        }
        if self.order.len() > 2 * capacity + 16 {
            let entries = &self.entries;
            self.order.retain(|(key, generation)| {
                entries
                    .get(key)
                    .is_some_and(|window| window.generation == *generation)
            });
        }
        (window.failures, window.ends_at)
    }

    /// Drops the windows that have closed (and stale order items) from the front.
    fn expire(&mut self, now: i64) {
        while let Some((key, generation)) = self.order.front() {
            match self.entries.get(key) {
                Some(window) if window.generation == *generation => {
                    if now < window.ends_at {
                        break;
                    }
                    self.entries.remove(key);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Forgets the oldest live window.
    fn pop_oldest(&mut self) {
        while let Some((key, generation)) = self.order.pop_front() {
            if self
                .entries
                .get(&key)
                .is_some_and(|window| window.generation == generation)
            {
                self.entries.remove(&key);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const T: i64 = 1_000;

    fn throttle(per_client: u32, per_ip: u32) -> Throttle {
        Throttle::new(
            AuthThrottle::default()
                .max_failures_per_client(per_client)
                .max_failures_per_ip(per_ip)
                .window(Duration::from_secs(60)),
        )
    }

    #[test]
    fn blocks_after_the_threshold_until_the_window_closes() {
        let throttle = throttle(3, 100);
        for _ in 0..2 {
            throttle.record_failure(Some("svc"), Some(PEER), T);
        }
        assert_eq!(throttle.retry_after(Some("svc"), Some(PEER), || T), None);
        throttle.record_failure(Some("svc"), Some(PEER), T + 10);
        assert_eq!(
            throttle.retry_after(Some("svc"), Some(PEER), || T + 10),
            Some(50)
        );
        assert_eq!(throttle.retry_after(Some("svc"), None, || T + 59), Some(1));
        assert_eq!(throttle.retry_after(Some("svc"), None, || T + 60), None);
        // Other ids from the same address are not blocked by the per-client count.
        assert_eq!(
            throttle.retry_after(Some("other"), Some(PEER), || T + 10),
            None
        );
        // A new window starts from scratch.
        throttle.record_failure(Some("svc"), Some(PEER), T + 60);
        assert_eq!(throttle.retry_after(Some("svc"), None, || T + 61), None);
    }

    #[test]
    fn the_address_count_spans_client_ids_and_ipv6_counts_by_its_64() {
        let throttle = throttle(100, 3);
        let a: IpAddr = "2001:db8:1:2::a".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::b".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::a".parse().unwrap();
        throttle.record_failure(Some("x"), Some(a), T);
        throttle.record_failure(Some("y"), Some(b), T);
        throttle.record_failure(None, Some(a), T);
        assert_eq!(throttle.retry_after(Some("z"), Some(b), || T), Some(60));
        assert_eq!(throttle.retry_after(Some("z"), Some(other), || T), None);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_key(mapped), PEER);
    }

    #[test]
    fn success_path_reads_no_clock_while_nobody_is_blocked() {
        let throttle = throttle(2, 100);
        throttle.record_failure(Some("svc"), Some(PEER), T);
        let no_clock = || -> i64 { panic!("the clock is read only when someone is blocked") };
        assert_eq!(
            throttle.retry_after(Some("svc"), Some(PEER), no_clock),
            None
        );
        throttle.record_failure(Some("svc"), Some(PEER), T);
        assert!(throttle.retry_after(Some("svc"), None, || T).is_some());
        throttle.clear();
        assert_eq!(throttle.retry_after(Some("svc"), None, no_clock), None);
    }

    #[test]
    fn tables_stay_bounded_under_random_ids() {
        let throttle = Throttle::new(AuthThrottle::default().max_tracked(100));
        for n in 0..10_000 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000_u32 + n));
            throttle.record_failure(Some(&format!("random-{n}")), Some(ip), T);
        }
        assert_eq!(throttle.tracked(), (100, 100));
        let tables = throttle.tables.lock().unwrap();
        assert!(tables.clients.order.len() <= 2 * 100 + 16);
    }

    fn keys(table: &Table<u64>) -> Vec<u64> {
        let mut keys: Vec<u64> = table.entries.keys().copied().collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn closed_windows_are_forgotten_from_the_front() {
        let mut table: Table<u64> = Table::default();
        assert_eq!(table.record(1, T, 60, 10), (1, T + 60));
        assert_eq!(table.record(2, T + 30, 60, 10), (1, T + 90));
        assert_eq!(table.record(2, T + 31, 60, 10), (2, T + 90));
        // Key 1's window has closed: a failure opens a new one.
        assert_eq!(table.record(1, T + 61, 60, 10), (1, T + 121));
        table.record(3, T + 95, 60, 10);
        assert_eq!(keys(&table), [1, 3]);
    }

    #[test]
    fn eviction_forgets_the_oldest_live_window_and_skips_stale_items() {
        let mut table: Table<u64> = Table::default();
        table.record(1, T, 60, 10);
        // The clock stepped back: key 2's window closes before key 1's but sits behind it, so
        // its replacement leaves a stale item in the middle of `order`.
        table.record(2, T - 100, 60, 10);
        table.record(2, T, 60, 10);
        table.record(3, T, 60, 2);
        assert_eq!(keys(&table), [2, 3]);
        table.record(4, T, 60, 2);
        assert_eq!(keys(&table), [3, 4]);
    }

    #[test]
    fn settings_are_validated_by_key() {
        assert!(AuthThrottle::default().validate().is_ok());
        let error = AuthThrottle::default()
            .window(Duration::from_millis(500))
            .validate()
            .unwrap_err();
        assert_eq!(error.field, "throttle.window_secs");
        let error = AuthThrottle::default()
            .max_failures_per_ip(0)
            .validate()
            .unwrap_err();
        assert_eq!(error.field, "throttle.max_failures_per_ip");
    }

    #[test]
    fn the_throttled_answer_is_429_temporarily_unavailable() {
        let response = throttled(42);
        assert_eq!(response.status(), 429);
        assert_eq!(response.error, ErrorCode::TemporarilyUnavailable);
        assert!(
            response
                .error_description
                .unwrap_or_default()
                .contains("retry after 42 seconds")
        );
    }
}
