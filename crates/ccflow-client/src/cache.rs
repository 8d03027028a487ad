//! The token cache: one entry per request fingerprint, a lock-free-in-practice read path, and
//! single-flight fetching in a spawned task shared by every waiter.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use tokio::sync::watch;

use crate::error::TokenError;
use crate::token::AccessToken;

/// How many fingerprints a cache holds before it evicts (expired entries first).
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// A process-wide token cache that several [`TokenClient`](crate::TokenClient)s can share.
///
/// Entries are keyed by the full request fingerprint (token endpoint, client id, auth method,
/// sorted scopes, resources, audiences and extra parameters), so a token obtained for one
/// scope set is never served for another. Cloning shares the cache.
#[derive(Clone)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<Fingerprint, Arc<Entry>>>>,
    capacity: usize,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.entries.lock().map_or(0, |entries| entries.len());
        f.debug_struct("TokenCache")
            .field("entries", &len)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CACHE_CAPACITY)
    }
}

impl TokenCache {
    /// An empty cache holding at most `capacity` fingerprints.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// How many fingerprints it holds.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every cached token (in-flight fetches still complete for their waiters).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn entry(&self, fingerprint: Fingerprint, now: SystemTime) -> Arc<Entry> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(&fingerprint) {
            return entry.clone();
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, entry| !entry.is_idle_and_stale(now));
            if entries.len() >= self.capacity {
                // Still full of live tokens: drop idle ones (their clients keep their handle).
                let victim = entries
                    .iter()
                    .find(|(_, entry)| entry.is_idle())
                    .map(|(key, _)| key.clone());
                if let Some(victim) = victim {
                    entries.remove(&victim);
                }
            }
        }
        let entry = Arc::new(Entry::default());
        entries.insert(fingerprint, entry.clone());
        entry
    }
}

/// The canonical identity of a token request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint(String);

impl Fingerprint {
    pub(crate) fn new(parts: &serde_json::Value) -> Self {
        Self(parts.to_string())
    }

    /// The fingerprint as the JSON text it was made from, to nest it in another.
    pub(crate) fn as_json(&self) -> &str {
        &self.0
    }
}

/// A cached token and when it stops being served.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub(crate) token: AccessToken,
    /// `expires_at − skew`: from here on it is never handed out.
    pub(crate) stale_at: SystemTime,
    /// With refresh-ahead: from here on one background refresh starts.
    pub(crate) refresh_at: Option<SystemTime>,
}

type Shared = Option<Result<AccessToken, TokenError>>;

/// One fingerprint's token and its in-flight fetch.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    token: RwLock<Option<Cached>>,
    flight: Mutex<Option<watch::Receiver<Shared>>>,
}

/// What a cache read found.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A fresh token.
    Hit,
    /// A fresh token; a background refresh was started or is running.
    RefreshAhead,
    /// This caller started the fetch.
    Miss,
    /// This caller joined a fetch another caller started.
    Joined,
}

impl Entry {
    fn is_idle(&self) -> bool {
        self.flight.lock().is_ok_and(|flight| flight.is_none())
    }

    fn is_idle_and_stale(&self, now: SystemTime) -> bool {
        let stale = self.token.read().map_or(true, |token| {
            token.as_ref().is_none_or(|cached| now >= cached.stale_at)
        });
        stale && self.is_idle()
    }

    /// The fresh cached token, if any, and whether a refresh-ahead is due.
    pub(crate) fn fresh(&self, now: SystemTime) -> Option<(AccessToken, bool)> {
        let token = self.token.read().unwrap_or_else(PoisonError::into_inner);
        let cached = token.as_ref()?;
        (now < cached.stale_at).then(|| {
            let refresh_due = cached.refresh_at.is_some_and(|at| now >= at);
            (cached.token.clone(), refresh_due)
        })
    }

    /// Drops the cached token only if it is still `token` (compare-and-swap), so a late 401
    /// for an old token never evicts a newer one. Returns whether it dropped it.
    pub(crate) fn invalidate(&self, token: &AccessToken) -> bool {
        let mut current = self.token.write().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|cached| cached.token.same_token(token))
        {
            *current = None;
            true
        } else {
            false
        }
    }

    /// Returns a fresh token, fetching it with `fetch` unless a fetch is already running, in
    /// which case this caller waits for that one. The fetch runs in a spawned task: a caller
    /// that gives up does not cancel it for the others.
    pub(crate) async fn get<F, Fut>(
        self: &Arc<Self>,
        now: SystemTime,
        fetch: F,
    ) -> (Result<AccessToken, TokenError>, Outcome)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Cached, TokenError>> + Send + 'static,
    {
        if let Some((token, refresh_due)) = self.fresh(now) {
            if refresh_due {
                // Serve the still-valid token; at most one background refresh runs.
                drop(self.join_or_start(now, fetch, true));
                return (Ok(token), Outcome::RefreshAhead);
            }
            return (Ok(token), Outcome::Hit);
        }
        let (mut receiver, outcome) = match self.join_or_start(now, fetch, false) {
            Ok(joined) => joined,
            Err(token) => return (Ok(token), Outcome::Hit),
        };
        let result = match receiver.wait_for(Option::is_some).await {
            Ok(shared) => shared.clone().unwrap_or_else(|| Err(TokenError::Config("the token fetch ended without a result".to_owned()))),
            Err(_) => Err(TokenError::Config("the token fetch task ended without a result (panicked or cancelled with the runtime)".to_owned())),
        };
        (result, outcome)
    }

    /// Under the flight lock: a token stored meanwhile wins (`Err(token)`); a running fetch is
    /// joined; otherwise this caller starts one.
    fn join_or_start<F, Fut>(
        self: &Arc<Self>,
        now: SystemTime,
        fetch: F,
        background: bool,
    ) -> Result<(watch::Receiver<Shared>, Outcome), AccessToken>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Cached, TokenError>> + Send + 'static,
    {
        let mut flight = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(receiver) = flight.as_ref() {
            return Ok((receiver.clone(), Outcome::Joined));
        }
        if !background {
            // The fetch that just finished stored its token before clearing the flight.
            if let Some((token, _)) = self.fresh(now) {
                return Err(token);
            }
        }
        let (sender, receiver) = watch::channel(None);
        *flight = Some(receiver.clone());
        drop(flight);
        let entry = Arc::clone(self);
        let future = fetch();
        tokio::spawn(async move {
            // Clears the flight even if the fetch panics, so the entry never stays stuck.
            let guard = FlightGuard(&entry);
            let result = future.await.map(|cached| {
                let token = cached.token.clone();
                *entry.token.write().unwrap_or_else(PoisonError::into_inner) = Some(cached);
                token
            });
            drop(guard);
            let _ = sender.send(Some(result));
        });
        Ok((receiver, Outcome::Miss))
    }
}

struct FlightGuard<'a>(&'a Entry);

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        *self.0.flight.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
