//! The JWKS cache: issuer keys fetched lazily, swapped whole behind an `Arc`, refreshed by one
//! shared, time-limited fetch at a time, and kept serving while the issuer is unreachable.
//!
//! Two locks, neither ever held across an `await`: `current` (a `RwLock` held only to clone
//! or replace the `Arc<KeySet>`) and `state` (a `Mutex` held only to decide whether a fetch
//! starts). The fetch itself runs in a spawned task; callers that need its result wait on a
//! `watch` channel with a deadline, so no request stalls longer than the fetch timeout.

use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{Clock, Jwk, ServerMetadata};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::{ACCEPT, AGE, CACHE_CONTROL, HeaderMap};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::{AuthError, JwksError, redact_url};

/// The largest JWKS or discovery document read; anything bigger is refused.
pub const MAX_JWKS_BYTES: usize = 512 * 1024;
/// The most keys kept from one JWKS; further keys are ignored (with a warning).
pub const MAX_KEYS: usize = 100;
/// How many keys a token without `kid` is tried against, so a kid-less
/// forgery cannot make one request cost a hundred signature checks.
pub const MAX_KIDLESS_CANDIDATES: usize = 8;
/// The smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
const MIN_RSA_BITS: usize = 2048;

/// The cache's timing rules. Defaults follow the surveyed validators: jose's
/// 30 s cooldown, a 5 min TTL like Spring's, keyfunc-style stale serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JwksSettings {
    /// Least time between two fetches triggered by unknown `kid`s.
    pub(crate) refresh_cooldown: Duration,
    /// Least time between two fetches after a failure (or when no keys are loaded).
    pub(crate) retry_interval: Duration,
    /// Deadline for discovery plus JWKS fetch.
    pub(crate) fetch_timeout: Duration,
    /// Freshness when the response has no `Cache-Control: max-age`.
    pub(crate) default_ttl: Duration,
    /// Bounds applied to `max-age`.
    pub(crate) min_ttl: Duration,
    /// Bounds applied to `max-age`.
    pub(crate) max_ttl: Duration,
    /// How long past freshness cached keys keep validating while refreshes fail.
    pub(crate) max_stale: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            refresh_cooldown: Duration::from_secs(30),
            retry_interval: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(3),
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            max_stale: Duration::from_secs(24 * 3600),
        }
    }
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum JwksSource {
    /// The issuer's metadata names `jwks_uri` (RFC 8414 §2).
    Discovery { issuer: String },
    /// A configured JWKS URL.
    Url(String),
}

/// The algorithm families a JWK can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    fn fits(self, algorithm: Algorithm) -> bool {
        use Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
        match self {
            KeyKind::Rsa => matches!(algorithm, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => algorithm == ES256,
            KeyKind::EcP384 => algorithm == ES384,
            KeyKind::Ed25519 => algorithm == EdDSA,
        }
    }
}

/// One public key from the JWKS, parsed once when the set is loaded.
pub(crate) struct VerificationKey {
    kid: Option<String>,
    kind: KeyKind,
    /// The JWK's own `alg`, which the token's must equal (RFC 7517 §4.4).
    alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// Parses a JWK into a verification key, or says why it is skipped.
    /// Symmetric (`oct`) keys are always skipped: HMAC keys never come from a
    /// JWKS, so a published secret cannot be turned against us.
    fn from_jwk(jwk: &Jwk) -> Result<VerificationKey, &'static str> {
        if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
            return Err("its `use` is not `sig`");
        }
        if jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            return Err("its `key_ops` do not include `verify`");
        }
        let decode = |value: Option<&String>| -> Result<Vec<u8>, &'static str> {
            let value = value.ok_or("a key member is missing")?;
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| "a key member is not base64url")
        };
        let (kind, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let n = decode(jwk.n.as_ref())?;
                let e = decode(jwk.e.as_ref())?;
                let significant = n.iter().skip_while(|&&byte| byte == 0).count();
                if significant * 8 < MIN_RSA_BITS {
                    return Err("its RSA modulus is shorter than 2048 bits");
                }
                if e.is_empty() {
                    return Err("its RSA exponent is empty");
                }
                (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
            }
            ("EC", Some(curve @ ("P-256" | "P-384"))) => {
                let (kind, size) = if curve == "P-256" {
                    (KeyKind::EcP256, 32)
                } else {
                    (KeyKind::EcP384, 48)
                };
                let x = decode(jwk.x.as_ref())?;
                let y = decode(jwk.y.as_ref())?;
                if x.len() != size || y.len() != size {
                    return Err("its EC coordinates have the wrong length");
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (kind, DecodingKey::from_ec_der(&point))
            }
            ("OKP", Some("Ed25519")) => {
                let x = decode(jwk.x.as_ref())?;
                if x.len() != 32 {
                    return Err("its Ed25519 key has the wrong length");
                }
                (KeyKind::Ed25519, DecodingKey::from_ed_der(&x))
            }
            ("oct", _) => return Err("symmetric keys are never taken from a JWKS"),
            _ => return Err("its key type or curve is not supported"),
        };
        let alg = match jwk.alg.as_deref() {
            None => None,
            Some(alg) => {
                let alg =
                    Algorithm::from_str(alg).map_err(|_| "its `alg` is not a JWS algorithm")?;
                if !kind.fits(alg) {
                    return Err("its `alg` does not match its key type");
                }
                Some(alg)
            }
        };
        Ok(VerificationKey {
            kid: jwk.kid.clone(),
            kind,
            alg,
            key,
        })
    }

    /// Whether this key may verify a token signed with `algorithm`: the key
    /// type must fit, and a JWK `alg`, when given, must be the same.
    fn fits(&self, algorithm: Algorithm) -> bool {
        self.kind.fits(algorithm) && self.alg.is_none_or(|alg| alg == algorithm)
    }
}

/// What a key lookup found.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    /// Keys to try, in JWKS order.
    Found(Vec<&'a VerificationKey>),
    /// Keys with this `kid` exist, but none fits the token's `alg`.
    Mismatch,
    /// No key with this `kid` (or, without a `kid`, none fitting the `alg`).
    Unknown,
}

/// One loaded JWKS. Immutable: a refresh builds a new one and swaps the `Arc`,
/// so a key removed from the JWKS is gone after the next refresh.
#[derive(Debug)]
pub(crate) struct KeySet {
    keys: Vec<VerificationKey>,
    generation: u64,
    fetched_at: SystemTime,
    fresh_until: SystemTime,
}

impl KeySet {
    pub(crate) fn lookup(&self, kid: Option<&str>, algorithm: Algorithm) -> Lookup<'_> {
        match kid {
            // Exact match only: a kid is an opaque string, never a path or a query.
            Some(kid) => {
                let mut named = false;
                let mut found = Vec::new();
                for key in self
                    .keys
                    .iter()
                    .filter(|key| key.kid.as_deref() == Some(kid))
                {
                    named = true;
                    if key.fits(algorithm) {
                        found.push(key);
                    }
                }
                match (found.is_empty(), named) {
                    (false, _) => Lookup::Found(found),
                    (true, true) => Lookup::Mismatch,
                    (true, false) => Lookup::Unknown,
                }
            }
            None => {
                let found: Vec<_> = self
                    .keys
                    .iter()
                    .filter(|key| key.fits(algorithm))
                    .take(MAX_KIDLESS_CANDIDATES)
                    .collect();
                if found.is_empty() {
                    Lookup::Unknown
                } else {
                    Lookup::Found(found)
                }
            }
        }
    }

    fn is_fresh(&self, now: SystemTime) -> bool {
        now < self.fresh_until
    }

    fn is_usable(&self, now: SystemTime, max_stale: Duration) -> bool {
        self.fresh_until
            .checked_add(max_stale)
            .is_none_or(|limit| now < limit)
    }
}

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
    source: JwksSource,
    http: reqwest::Client,
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
            .field("source", &self.source)
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
        source: JwksSource,
        http: reqwest::Client,
        settings: JwksSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            source,
            http,
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
            let fetched = match tokio::time::timeout(timeout, cache.fetch(known_jwks_uri)).await {
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
                    tracing::warn!(%error, "JWKS refresh failed; cached keys keep validating");
                } else {
                    tracing::warn!(%error, "JWKS fetch failed; no signing keys loaded yet, protected routes answer 503");
                }
                Err(error)
            }
        }
    }

    /// Discovery (when needed) and the JWKS fetch: the work the timeout bounds.
    async fn fetch(&self, known_jwks_uri: Option<String>) -> Result<Fetched, JwksError> {
        let (jwks_uri, discovered) = match (&self.source, known_jwks_uri) {
            (JwksSource::Url(url), _) => (url.clone(), false),
            (JwksSource::Discovery { .. }, Some(known)) => (known, false),
            (JwksSource::Discovery { issuer }, None) => (self.discover(issuer).await?, true),
        };
        let (body, headers) = self.get(&jwks_uri).await?;
        let keys = parse_jwks(&body).map_err(|reason| JwksError::Malformed {
            url: redact_url(&jwks_uri),
            reason,
        })?;
        let ttl = freshness(&headers, &self.settings);
        Ok(Fetched {
            keys,
            ttl,
            discovered_jwks_uri: discovered.then_some(jwks_uri),
        })
    }

    /// Reads the issuer's metadata for `jwks_uri`: the OpenID form first (what
    /// most vendors serve), then RFC 8414 §3.1's.
    async fn discover(&self, issuer: &str) -> Result<String, JwksError> {
        let mut last_error = None;
        for url in discovery_urls(issuer) {
            let (body, _) = match self.get(&url).await {
                Ok(found) => found,
                // Try the other well-known location only when this one is missing.
                Err(error @ JwksError::Status { .. }) => {
                    last_error = Some(error);
                    continue;
                }
                Err(error) => return Err(error),
            };
            let metadata: ServerMetadata =
                serde_json::from_slice(&body).map_err(|_| JwksError::Malformed {
                    url: redact_url(&url),
                    reason: "not an authorization server metadata document".to_owned(),
                })?;
            // RFC 8414 §3.3: the issuer in the metadata MUST be identical.
            if metadata.issuer != issuer {
                return Err(JwksError::IssuerMismatch {
                    url: redact_url(&url),
                });
            }
            return metadata.jwks_uri.ok_or_else(|| JwksError::Malformed {
                url: redact_url(&url),
                reason: "the metadata has no jwks_uri".to_owned(),
            });
        }
        Err(last_error.unwrap_or(JwksError::Interrupted))
    }

    /// A GET whose body is read with a size cap.
    async fn get(&self, url: &str) -> Result<(Vec<u8>, HeaderMap), JwksError> {
        let printable = || redact_url(url);
        let mut response = self
            .http
            .get(url)
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|error| JwksError::Http {
                url: printable(),
                reason: error.without_url().to_string(),
            })?;
        if !response.status().is_success() {
            return Err(JwksError::Status {
                url: printable(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || JwksError::TooLarge {
            url: printable(),
            limit: MAX_JWKS_BYTES,
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err(too_large());
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| JwksError::Http {
            url: printable(),
            reason: error.without_url().to_string(),
        })? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, headers))
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

/// A successful fetch, before it becomes a `KeySet`.
struct Fetched {
    keys: Vec<VerificationKey>,
    ttl: Duration,
    discovered_jwks_uri: Option<String>,
}

/// The metadata locations for an issuer: `{issuer}/.well-known/openid-configuration`
/// (OpenID Discovery §4) and RFC 8414 §3.1's, which inserts the well-known
/// segment between host and path (a terminating `/` removed).
pub(crate) fn discovery_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut urls = vec![format!("{trimmed}/.well-known/openid-configuration")];
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        urls.push(format!(
            "{scheme}://{host}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls
}

/// Parses a JWK Set (RFC 7517 §5), keeping every usable key. A key that cannot
/// be used is skipped with a warning instead of failing the whole set, so one
/// exotic key cannot take the others down.
fn parse_jwks(body: &[u8]) -> Result<Vec<VerificationKey>, String> {
    #[derive(Deserialize)]
    struct RawJwks {
        keys: Vec<Value>,
    }
    let raw: RawJwks = serde_json::from_slice(body)
        .map_err(|_| "not a JWK Set (a JSON object with a `keys` array)".to_owned())?;
    let mut keys = Vec::new();
    for (index, value) in raw.keys.into_iter().enumerate() {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            tracing::warn!(index, "skipping a JWKS entry that is not a JWK");
            continue;
        };
        match VerificationKey::from_jwk(&jwk) {
            Ok(_) if keys.len() == MAX_KEYS => {
                tracing::warn!(
                    limit = MAX_KEYS,
                    "the JWKS has too many keys; ignoring the rest"
                );
                break;
            }
            Ok(key) => keys.push(key),
            Err(why) => {
                let kid = jwk.kid.as_deref().unwrap_or("");
                tracing::warn!(index, kid, why, "skipping a JWKS key");
            }
        }
    }
    if keys.is_empty() {
        tracing::warn!("the JWKS has no usable key: every token will be refused");
    }
    Ok(keys)
}

/// How long a response stays fresh: `Cache-Control: max-age` minus `Age`
/// (RFC 9111 §4.2.1, §4.2.3), `no-store`/`no-cache` as zero, within the
/// configured bounds; the default when there is no `max-age`.
fn freshness(headers: &HeaderMap, settings: &JwksSettings) -> Duration {
    let mut max_age: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
            let seconds = match name.trim().to_ascii_lowercase().as_str() {
                "no-store" | "no-cache" => Some(0),
                "max-age" => argument.trim().trim_matches('"').parse::<u64>().ok(),
                _ => None,
            };
            // Conflicting directives: the most conservative wins.
            if let Some(seconds) = seconds {
                max_age = Some(max_age.map_or(seconds, |known| known.min(seconds)));
            }
        }
    }
    let Some(max_age) = max_age else {
        return settings.default_ttl;
    };
    let age = headers
        .get(AGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age)).clamp(settings.min_ttl, settings.max_ttl)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    /// The public half of `fixtures/keys/client-es256.pem`.
    const ES256_X: &str = "cwVPcxL7JJX1kOW7oOUIsKcm7DpIe2evPBxKlmBOSPg";
    const ES256_Y: &str = "S4nSzeBN5-pnATuzLU1mHF79qfWwNGEkGLCoXf-PEik";

    fn rsa_n(bits: usize) -> String {
        let mut n = vec![0xC5_u8; bits / 8];
        n.insert(0, 0);
        URL_SAFE_NO_PAD.encode(n)
    }

    fn jwk(value: Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn converts_usable_jwks_and_explains_the_rest() {
        #[track_caller]
        fn check(value: Value, expected: Result<KeyKind, &str>) {
            let result = VerificationKey::from_jwk(&jwk(value)).map(|key| key.kind);
            assert_eq!(result, expected);
        }
        let n = rsa_n(2048);
        check(json!({"kty": "RSA", "n": n, "e": "AQAB"}), Ok(KeyKind::Rsa));
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "use": "sig", "key_ops": ["verify"], "alg": "PS256"}),
            Ok(KeyKind::Rsa),
        );
        check(
            json!({"kty": "EC", "crv": "P-256", "x": ES256_X, "y": ES256_Y}),
            Ok(KeyKind::EcP256),
        );
        check(
            json!({"kty": "RSA", "n": rsa_n(1024), "e": "AQAB"}),
            Err("its RSA modulus is shorter than 2048 bits"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "use": "enc"}),
            Err("its `use` is not `sig`"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "key_ops": ["encrypt"]}),
            Err("its `key_ops` do not include `verify`"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "ES256"}),
            Err("its `alg` does not match its key type"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RSA-OAEP"}),
            Err("its `alg` is not a JWS algorithm"),
        );
        check(
            json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "HS256"}),
            Err("its `alg` does not match its key type"),
        );
        check(
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            Err("symmetric keys are never taken from a JWKS"),
        );
        check(
            json!({"kty": "EC", "crv": "P-521", "x": ES256_X, "y": ES256_Y}),
            Err("its key type or curve is not supported"),
        );
        check(
            json!({"kty": "EC", "crv": "P-384", "x": ES256_X, "y": ES256_Y}),
            Err("its EC coordinates have the wrong length"),
        );
        check(
            json!({"kty": "RSA", "e": "AQAB"}),
            Err("a key member is missing"),
        );
        check(
            json!({"kty": "RSA", "n": "!!", "e": "AQAB"}),
            Err("a key member is not base64url"),
        );
    }

    fn key_set(keys: Vec<Value>) -> KeySet {
        let now = SystemTime::UNIX_EPOCH;
        KeySet {
            keys: keys
                .into_iter()
                .map(|value| VerificationKey::from_jwk(&jwk(value)).unwrap())
                .collect(),
            generation: 1,
            fetched_at: now,
            fresh_until: now,
        }
    }

    #[test]
    fn looks_keys_up_by_exact_kid_then_by_algorithm() {
        let n = rsa_n(2048);
        let set = key_set(vec![
            json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "rsa"}),
            json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "rs512-only", "alg": "RS512"}),
            json!({"kty": "EC", "crv": "P-256", "x": ES256_X, "y": ES256_Y}),
        ]);
        #[track_caller]
        fn check(set: &KeySet, kid: Option<&str>, alg: Algorithm, expected: &str) {
            let found = match set.lookup(kid, alg) {
                Lookup::Found(keys) => format!("found {}", keys.len()),
                Lookup::Mismatch => "mismatch".to_owned(),
                Lookup::Unknown => "unknown".to_owned(),
            };
            assert_eq!(found, expected, "{kid:?} {alg:?}");
        }
        check(&set, Some("rsa"), Algorithm::RS256, "found 1");
        check(&set, Some("rsa"), Algorithm::PS256, "found 1");
        check(&set, Some("rsa"), Algorithm::ES256, "mismatch");
        check(&set, Some("rs512-only"), Algorithm::RS256, "mismatch");
        check(&set, Some("rs512-only"), Algorithm::RS512, "found 1");
        check(&set, Some("RSA"), Algorithm::RS256, "unknown");
        check(&set, Some("../../rsa"), Algorithm::RS256, "unknown");
        check(&set, None, Algorithm::RS256, "found 1");
        check(&set, None, Algorithm::RS512, "found 2");
        check(&set, None, Algorithm::ES256, "found 1");
        check(&set, None, Algorithm::ES384, "unknown");
    }

    #[test]
    fn caps_kidless_candidates() {
        let n = rsa_n(2048);
        let set = key_set(vec![json!({"kty": "RSA", "n": n, "e": "AQAB"}); 20]);
        match set.lookup(None, Algorithm::RS256) {
            Lookup::Found(keys) => assert_eq!(keys.len(), MAX_KIDLESS_CANDIDATES),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_jwks_skipping_unusable_keys() {
        let n = rsa_n(2048);
        let body = json!({"keys": [
            {"kty": "RSA", "n": n, "e": "AQAB", "kid": "a"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"no": "kty"},
            "not even an object",
            {"kty": "RSA", "n": n, "e": "AQAB", "kid": "b"}
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = keys.iter().map(|key| key.kid.as_deref()).collect();
        assert_eq!(kids, [Some("a"), Some("b")]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(br#"{"keys": []}"#).unwrap().is_empty());
        let many = json!({"keys": vec![json!({"kty": "RSA", "n": n, "e": "AQAB"}); MAX_KEYS + 5]});
        assert_eq!(
            parse_jwks(many.to_string().as_bytes()).unwrap().len(),
            MAX_KEYS
        );
    }

    #[test]
    fn honours_max_age_within_bounds() {
        #[track_caller]
        fn check(cache_control: &[&str], age: Option<&str>, expected_secs: u64) {
            let mut headers = HeaderMap::new();
            for value in cache_control {
                headers.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
            }
            if let Some(age) = age {
                headers.insert(AGE, HeaderValue::from_str(age).unwrap());
            }
            let ttl = freshness(&headers, &JwksSettings::default());
            assert_eq!(ttl, Duration::from_secs(expected_secs), "{cache_control:?}");
        }
        check(&[], None, 300);
        check(&["public, max-age=120"], None, 120);
        check(&["MAX-AGE=\"90\""], None, 90);
        check(&["max-age=120"], Some("100"), 30);
        check(&["max-age=600"], Some("100"), 500);
        check(&["max-age=5"], None, 30);
        check(&["max-age=999999"], None, 3600);
        check(&["no-store"], None, 30);
        check(&["max-age=600", "no-cache"], None, 30);
        check(&["max-age=600, max-age=120"], None, 120);
        check(&["max-age=soon"], None, 300);
        check(&["private"], None, 300);
    }

    #[test]
    fn discovery_tries_the_openid_then_the_rfc_8414_location() {
        assert_eq!(
            discovery_urls("http://127.0.0.1:8080"),
            [
                "http://127.0.0.1:8080/.well-known/openid-configuration",
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            discovery_urls("https://idp.test/app/"),
            [
                "https://idp.test/app/.well-known/openid-configuration",
                "https://idp.test/.well-known/oauth-authorization-server/app",
            ]
        );
    }

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
