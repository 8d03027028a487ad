//! The refresh state machine: issuer keys fetched lazily, swapped whole behind an `Arc`,
//! refreshed by one shared, time-limited fetch at a time, and kept serving while the issuer is
//! unreachable.
//!
//! Two locks, neither ever held across an `await`: `current` (a `RwLock` held only to clone
//! or replace the `Arc<KeySet>`) and `state` (a `Mutex` held only to decide whether a fetch
//! starts). The fetch itself runs in a spawned task; callers that need its result wait on a
//! `watch` channel with a deadline, so no request stalls longer than the fetch timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use ccflow_protocol::Clock;
use jsonwebtoken::Algorithm;
use tokio::sync::watch;

use crate::error::{AuthError, JwksError};
use crate::jwks::fetch::{Fetched, Fetcher, JwksSource};
use crate::jwks::keys::{KeySet, Lookup};
use crate::jwks::settings::JwksSettings;

/// A snapshot of the cache, for health checks and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksStatus {
    /// Usable keys in the current set (0 before the first successful fetch).
    pub keys: usize,
    /// Fetches started since the validator was built.
    pub fetches: u64,
    /// Fetches that failed.
    pub failures: u64,
    /// When the current set was fetched.
    pub fetched_at: Option<SystemTime>,
    /// Until when it is fresh; after that the next request refreshes it.
    pub fresh_until: Option<SystemTime>,
    /// Why the last fetch failed, if it did.
    pub last_error: Option<JwksError>,
}

type RefreshResult = Result<Arc<KeySet>, JwksError>;

/// The refresh bookkeeping, behind `JwksCache::state`.
#[derive(Debug, Default)]
struct RefreshState {
    /// The fetch in progress, if any: waiters clone the receiver.
    in_flight: Option<watch::Receiver<Option<RefreshResult>>>,
    /// When the last fetch started (the cooldown and retry clocks).
    last_attempt: Option<SystemTime>,
    last_error: Option<JwksError>,
    /// The `jwks_uri` learned from discovery, kept once known.
    discovered_jwks_uri: Option<String>,
    generation: u64,
}

/// Why a refresh is wanted; each has its own rate limit.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// No usable keys at all: callers wait for the fetch.
    Missing,
    /// The set is past its freshness: the caller that starts the fetch waits
    /// for it, everyone else keeps using the current keys.
    Expired { seen: u64 },
    /// A token names a key the set does not have (RFC 7517 rotation; OIDC
    /// Core §10.1.1 says to re-retrieve the JWKS then), rate-limited by the cooldown.
    UnknownKey { seen: u64 },
    /// An explicit `refresh_keys()`: no rate limit, still single-flight.
    Manual,
}

/// What a refresh request came to.
#[derive(Debug)]
enum Outcome {
    Fresh(Arc<KeySet>),
    KeepCurrent,
    Denied {
        retry_after: Duration,
    },
    Failed {
        error: JwksError,
        retry_after: Duration,
    },
}

enum Decision {
    Wait(watch::Receiver<Option<RefreshResult>>),
    Done(Outcome),
}

/// The cache itself; shared by every clone of a `Validator` and by the
/// refresh task, which holds an `Arc` to it until it finishes.
pub(crate) struct JwksCache {
    /// The issuer whose keys these are, for the logs of a validator trusting several.
    issuer: String,
    fetcher: Fetcher,
    settings: JwksSettings,
    clock: Arc<dyn Clock>,
    current: RwLock<Option<Arc<KeySet>>>,
    state: Mutex<RefreshState>,
    fetches: AtomicU64,
    failures: AtomicU64,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("JwksCache")
            .field("source", self.fetcher.source())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Time from `earlier` to `now`; a clock that stepped backwards counts as
/// "long ago", which at worst allows one fetch and resets the mark.
fn elapsed(earlier: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(earlier).unwrap_or(Duration::MAX)
}

impl JwksCache {
    pub(crate) fn new(
        issuer: String,
        source: JwksSource,
        http: reqwest::Client,
        settings: JwksSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            issuer,
            fetcher: Fetcher::new(source, http, settings),
            settings,
            clock,
            current: RwLock::new(None),
            state: Mutex::new(RefreshState::default()),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn status(&self) -> JwksStatus {
        let current = self.current();
        JwksStatus {
            keys: current.as_ref().map_or(0, |set| set.keys.len()),
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            fetched_at: current.as_ref().map(|set| set.fetched_at),
            fresh_until: current.as_ref().map(|set| set.fresh_until),
            last_error: lock(&self.state).last_error.clone(),
        }
    }

    /// The key set to look `kid` up in: the current one if fresh; otherwise
    /// refreshed (or, if that fails, the stale one while it is usable); and,
    /// when `kid` is unknown, refreshed once more if the cooldown allows.
    pub(crate) async fn keys_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<Arc<KeySet>, AuthError> {
        let now = self.clock.now();
        let keys = match self.current() {
            Some(keys) if keys.is_fresh(now) => keys,
            Some(keys) if keys.is_usable(now, self.settings.max_stale) => {
                let seen = keys.generation;
                match self.refresh(Trigger::Expired { seen }).await {
                    Outcome::Fresh(fresh) => fresh,
                    // Stale-while-error: the failure was logged by the refresh.
                    Outcome::KeepCurrent | Outcome::Denied { .. } | Outcome::Failed { .. } => keys,
                }
            }
            _ => match self.refresh(Trigger::Missing).await {
                Outcome::Fresh(fresh) => fresh,
                Outcome::Denied { retry_after } | Outcome::Failed { retry_after, .. } => {
                    return Err(AuthError::KeysUnavailable { retry_after });
                }
                Outcome::KeepCurrent => {
                    return Err(AuthError::KeysUnavailable {
                        retry_after: self.settings.retry_interval,
                    });
                }
            },
        };
        if !matches!(keys.lookup(kid, algorithm), Lookup::Unknown) {
            return Ok(keys);
        }
        let seen = keys.generation;
        match self.refresh(Trigger::UnknownKey { seen }).await {
            Outcome::Fresh(fresh) => Ok(fresh),
            Outcome::KeepCurrent | Outcome::Denied { .. } | Outcome::Failed { .. } => Ok(keys),
        }
    }

    /// Fetches now (joining a fetch already running), whatever the cooldown.
    pub(crate) async fn refresh_now(self: &Arc<Self>) -> Result<(), JwksError> {
        match self.refresh(Trigger::Manual).await {
            Outcome::Fresh(_) | Outcome::KeepCurrent | Outcome::Denied { .. } => Ok(()),
            Outcome::Failed { error, .. } => Err(error),
        }
    }

    async fn refresh(self: &Arc<Self>, trigger: Trigger) -> Outcome {
        let receiver = match self.decide(trigger) {
            Decision::Wait(receiver) => receiver,
            Decision::Done(outcome) => return outcome,
        };
        match self.wait(receiver).await {
            Ok(keys) => Outcome::Fresh(keys),
            Err(error) => Outcome::Failed {
                error,
                retry_after: self.settings.retry_interval,
            },
        }
    }

    /// The single-flight decision, under `state` and without awaiting.
    fn decide(self: &Arc<Self>, trigger: Trigger) -> Decision {
        let mut state = lock(&self.state);
        if let Some(receiver) = &state.in_flight {
            return match trigger {
                Trigger::Expired { .. } => Decision::Done(Outcome::KeepCurrent),
                _ => Decision::Wait(receiver.clone()),
            };
        }
        let now = self.clock.now();
        // Someone may have refreshed between the caller's look and now.
        if let Some(current) = self.current() {
            let newer = match trigger {
                Trigger::Expired { seen } | Trigger::UnknownKey { seen } => {
                    current.generation != seen
                }
                Trigger::Missing => current.is_usable(now, self.settings.max_stale),
                Trigger::Manual => false,
            };
            if newer {
                return Decision::Done(Outcome::Fresh(current));
            }
        }
        let min_gap = match trigger {
            Trigger::UnknownKey { .. } => self.settings.refresh_cooldown,
            Trigger::Missing | Trigger::Expired { .. } => self.settings.retry_interval,
            Trigger::Manual => Duration::ZERO,
        };
        if let Some(last_attempt) = state.last_attempt {
            let since = elapsed(last_attempt, now);
            if since < min_gap {
                return Decision::Done(Outcome::Denied {
                    retry_after: min_gap - since,
                });
            }
        }
        match self.start(&mut state, now) {
            Ok(receiver) => Decision::Wait(receiver),
            Err(error) => Decision::Done(Outcome::Failed {
                error,
                retry_after: self.settings.retry_interval,
            }),
        }
    }

    /// Spawns the fetch. It runs to completion (or its deadline) even if every
    /// waiter goes away, so a cancelled request cannot wedge the cache.
    fn start(
        self: &Arc<Self>,
        state: &mut RefreshState,
        now: SystemTime,
    ) -> Result<watch::Receiver<Option<RefreshResult>>, JwksError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| JwksError::NoRuntime)?;
        let (sender, receiver) = watch::channel(None);
        state.in_flight = Some(receiver.clone());
        state.last_attempt = Some(now);
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let known_jwks_uri = state.discovered_jwks_uri.clone();
        let cache = Arc::clone(self);
        runtime.spawn(async move {
            let mut guard = InFlightGuard {
                cache: &cache,
                finished: false,
            };
            let timeout = cache.settings.fetch_timeout;
            let fetched =
                match tokio::time::timeout(timeout, cache.fetcher.fetch(known_jwks_uri)).await {
                    Ok(fetched) => fetched,
                    Err(_) => Err(JwksError::Timeout { timeout }),
                };
            let result = cache.finish(fetched);
            guard.finished = true;
            drop(guard);
            // No receiver left is fine: the keys are installed either way.
            let _ = sender.send(Some(result));
        });
        Ok(receiver)
    }

    async fn wait(&self, mut receiver: watch::Receiver<Option<RefreshResult>>) -> RefreshResult {
        // The task enforces the fetch timeout itself; this margin only guards
        // against a task that never got scheduled.
        let limit = self
            .settings
            .fetch_timeout
            .saturating_add(Duration::from_secs(1));
        match tokio::time::timeout(limit, receiver.wait_for(Option::is_some)).await {
            Ok(Ok(value)) => value.clone().unwrap_or(Err(JwksError::Interrupted)),
            Ok(Err(_closed)) => Err(JwksError::Interrupted),
            Err(_elapsed) => Err(JwksError::Timeout {
                timeout: self.settings.fetch_timeout,
            }),
        }
    }

    /// Installs a fetched set (or records the failure) and ends the flight.
    fn finish(&self, fetched: Result<Fetched, JwksError>) -> RefreshResult {
        let mut state = lock(&self.state);
        state.in_flight = None;
        match fetched {
            Ok(fetched) => {
                if fetched.discovered_jwks_uri.is_some() {
                    state.discovered_jwks_uri = fetched.discovered_jwks_uri;
                }
                state.generation += 1;
                state.last_error = None;
                let fetched_at = self.clock.now();
                let keys = Arc::new(KeySet {
                    keys: fetched.keys,
                    generation: state.generation,
                    fetched_at,
                    fresh_until: fetched_at.checked_add(fetched.ttl).unwrap_or(fetched_at),
                });
                tracing::info!(
                    issuer = %self.issuer,
                    keys = keys.keys.len(),
                    ttl_secs = fetched.ttl.as_secs(),
                    "loaded the issuer's signing keys"
                );
                *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::clone(&keys));
                Ok(keys)
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                state.last_error = Some(error.clone());
                if self.current().is_some() {
                    tracing::warn!(issuer = %self.issuer, %error, "JWKS refresh failed; cached keys keep validating");
                } else {
                    tracing::warn!(issuer = %self.issuer, %error, "JWKS fetch failed; no signing keys loaded yet, protected routes answer 503");
                }
                Err(error)
            }
        }
    }
}

/// Clears `in_flight` if the refresh task is dropped before it finishes (its
/// runtime shut down), so the next request can start a new fetch.
struct InFlightGuard<'a> {
    cache: &'a JwksCache,
    finished: bool,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.cache.state).in_flight = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_stepping_back_counts_as_long_ago() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(
            elapsed(now - Duration::from_secs(5), now),
            Duration::from_secs(5)
        );
        assert_eq!(elapsed(now + Duration::from_secs(5), now), Duration::MAX);
    }
}
