//! DPoP at the resource server (RFC 9449 §7, §9, §11.1), framework-free: which schemes a route
//! accepts ([`TokenBinding`]), the API's nonces and the proof `jti`s it has seen. The proof
//! rules themselves are `ccflow_protocol::dpop::check_proof`, shared with the auth server.

use std::collections::{HashMap, VecDeque};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ccflow_protocol::crypto::SystemRandom;
use ccflow_protocol::dpop::NonceKey;
use jsonwebtoken::Algorithm;

use crate::error::{BuildError, DpopRejection};

/// The most proof `jti`s remembered at once (per validator). Only proofs that passed every
/// other check are remembered, so only holders of valid tokens fill it; when it is full of
/// proofs still in their window, DPoP requests are answered 503 until some leave it.
pub const MAX_DPOP_REPLAY_ENTRIES: usize = 100_000;
/// The default lifetime of the API's nonces (RFC 9449 §9 leaves it open; the auth server's
/// default too).
pub const DEFAULT_DPOP_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// How a route (or a whole API) accepts access tokens (RFC 9449 §7).
///
/// Whatever the binding, a DPoP-bound token (one with `cnf.jkt`) is never accepted as a Bearer
/// token (RFC 9449 §7.2).
///
/// As an actix middleware (`.wrap(TokenBinding::Dpop)`) or an axum layer, a route's own
/// binding: the route accepts only DPoP-bound tokens with their proof, whatever the validator's
/// [`token_binding`](crate::ValidatorBuilder::token_binding). Wrap it outermost (the last
/// `.wrap`), so it authenticates before the other policies, which then reuse its result; with
/// axum, `ValidatorLayer::token_binding` does the same for the routes a layer wraps.
#[cfg_attr(
    feature = "actix",
    doc = r#"
```
use actix_web::{App, HttpResponse, web};
use ccflow_resource_api::{RequireScope, TokenBinding};

let app = App::new().route(
    "/v1/payments",
    web::post()
        .to(HttpResponse::Created)
        .wrap(RequireScope::all(["payments:write"]))
        .wrap(TokenBinding::Dpop),
);
```
"#
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenBinding {
    /// `Authorization: Bearer` only (RFC 6750): the validator's default, so APIs built before
    /// DPoP answer exactly as they did. `Authorization: DPoP` counts as no credentials.
    #[default]
    Bearer,
    /// `Authorization: DPoP` with one `DPoP` proof header only; a Bearer token is refused with
    /// a `DPoP` challenge.
    Dpop,
    /// Either scheme: an unbound token as Bearer, a bound token with its proof. A request
    /// without credentials is answered with both challenges.
    Either,
}

impl TokenBinding {
    /// Whether a token presented with the Bearer scheme is acceptable here.
    pub fn accepts_bearer(self) -> bool {
        matches!(self, TokenBinding::Bearer | TokenBinding::Either)
    }

    /// Whether a token presented with the DPoP scheme is acceptable here.
    pub fn accepts_dpop(self) -> bool {
        matches!(self, TokenBinding::Dpop | TokenBinding::Either)
    }

    /// The name used in configuration: `bearer`, `dpop` or `either`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenBinding::Bearer => "bearer",
            TokenBinding::Dpop => "dpop",
            TokenBinding::Either => "either",
        }
    }
}

impl FromStr for TokenBinding {
    type Err = String;

    /// `bearer`, `dpop` or `either`, in any case.
    fn from_str(name: &str) -> Result<Self, String> {
        [
            TokenBinding::Bearer,
            TokenBinding::Dpop,
            TokenBinding::Either,
        ]
        .into_iter()
        .find(|binding| binding.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("`{name}` is not a token binding (bearer, dpop or either)"))
    }
}

impl std::fmt::Display for TokenBinding {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The DPoP settings of a validator, as the builder collects them.
#[derive(Debug, Clone)]
pub(crate) struct DpopSettings {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) iat_window: Duration,
    pub(crate) require_nonce: bool,
    pub(crate) nonce_lifetime: Duration,
    pub(crate) replay_capacity: usize,
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            algorithms: ccflow_protocol::dpop::DEFAULT_ALGORITHMS.to_vec(),
            iat_window: Duration::from_secs(ccflow_protocol::dpop::DEFAULT_IAT_WINDOW_SECS),
            require_nonce: false,
            nonce_lifetime: DEFAULT_DPOP_NONCE_LIFETIME,
            replay_capacity: MAX_DPOP_REPLAY_ENTRIES,
        }
    }
}

impl DpopSettings {
    /// Checks the settings; the algorithms deduplicated.
    pub(crate) fn validated(mut self) -> Result<Self, BuildError> {
        let mut algorithms = Vec::new();
        for algorithm in self.algorithms {
            // RFC 9449 §4.2: never `none` (not an `Algorithm` here) nor a MAC.
            if matches!(
                algorithm,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                return Err(BuildError::InvalidSetting {
                    setting: "dpop_algorithms",
                    why: "DPoP proofs are signed with asymmetric keys: HMAC is not allowed",
                });
            }
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        if algorithms.is_empty() {
            return Err(BuildError::InvalidSetting {
                setting: "dpop_algorithms",
                why: "at least one algorithm is needed",
            });
        }
        self.algorithms = algorithms;
        if self.iat_window < Duration::from_secs(1) {
            return Err(BuildError::InvalidSetting {
                setting: "dpop_iat_window",
                why: "must be at least one second",
            });
        }
        if self.nonce_lifetime < Duration::from_secs(1) {
            return Err(BuildError::InvalidSetting {
                setting: "dpop_nonce_lifetime",
                why: "must be at least one second",
            });
        }
        Ok(self)
    }
}

/// The API's DPoP state: settings, the nonce key and the replay cache.
pub(crate) struct DpopState {
    pub(crate) settings: DpopSettings,
    /// The accepted algorithms, space-separated, as `algs` wants them (RFC 9449 §7.1).
    pub(crate) algs: String,
    /// Nonces are `{issued_at}.{mac}` (as at the auth server): stateless, checked by MAC and
    /// by age on the validator's clock.
    nonce_key: NonceKey,
    seen: Mutex<ReplayCache>,
}

impl std::fmt::Debug for DpopState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DpopState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl DpopState {
    pub(crate) fn new(settings: DpopSettings) -> Result<Self, BuildError> {
        let algs = ccflow_protocol::dpop::algorithm_names(&settings.algorithms);
        let nonce_key =
            NonceKey::generate(&SystemRandom::new()).map_err(|_| BuildError::InvalidSetting {
                setting: "dpop",
                why: "the random number generator failed",
            })?;
        Ok(Self {
            seen: Mutex::new(ReplayCache::new(settings.replay_capacity)),
            settings,
            algs,
            nonce_key,
        })
    }

    /// A fresh nonce (RFC 9449 §9): unpredictable to clients, valid for the nonce lifetime.
    pub(crate) fn fresh_nonce(&self, now: u64) -> String {
        self.nonce_key.fresh(now)
    }

    /// Checks the proof's nonce when this API requires one.
    pub(crate) fn check_nonce(&self, nonce: Option<&str>, now: u64) -> Result<(), DpopRejection> {
        if !self.settings.require_nonce {
            return Ok(());
        }
        let nonce = nonce.ok_or(DpopRejection::NonceMissing)?;
        if self
            .nonce_key
            .is_fresh(nonce, now, self.settings.nonce_lifetime.as_secs())
        {
            Ok(())
        } else {
            Err(DpopRejection::NonceStale)
        }
    }

    /// Remembers a proof that passed every check until it leaves its `iat` window; refuses it
    /// if its `jti` (for this key) was seen (RFC 9449 §11.1).
    pub(crate) fn record(
        &self,
        jkt: &str,
        jti: &str,
        iat: u64,
        now: u64,
    ) -> Result<(), DpopRejection> {
        let until = iat
            .saturating_add(self.settings.iat_window.as_secs())
            .max(now);
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(format!("{jkt}.{jti}"), until, now)
    }
}

/// The proofs seen: key → the Unix second after which it may be forgotten, and the keys in the
/// order they came, so expired ones are dropped from the front without a scan. Bounded by
/// `capacity`.
#[derive(Debug)]
struct ReplayCache {
    until: HashMap<String, u64>,
    order: VecDeque<(u64, String)>,
    capacity: usize,
}

impl ReplayCache {
    fn new(capacity: usize) -> Self {
        Self {
            until: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn insert(&mut self, key: String, until: u64, now: u64) -> Result<(), DpopRejection> {
        // Windows are all the same length, so entries leave roughly in arrival order; one that
        // came later but expires earlier waits behind the front one, which only delays
        // forgetting it.
        while let Some((front_until, _)) = self.order.front() {
            if *front_until >= now {
                break;
            }
            if let Some((_, front)) = self.order.pop_front() {
                self.until.remove(&front);
            }
        }
        if self.until.get(&key).is_some_and(|&seen| seen >= now) {
            return Err(DpopRejection::Replayed);
        }
        if self.until.len() >= self.capacity {
            return Err(DpopRejection::ReplayCacheFull);
        }
        self.until.insert(key.clone(), until);
        self.order.push_back((until, key));
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn state(change: impl FnOnce(&mut DpopSettings)) -> DpopState {
        let mut settings = DpopSettings::default();
        change(&mut settings);
        DpopState::new(settings.validated().unwrap()).unwrap()
    }

    #[test]
    fn bindings_parse_from_their_names_and_say_what_they_accept() {
        #[track_caller]
        fn check(name: &str, expected: Result<(TokenBinding, bool, bool), ()>) {
            let got = name
                .parse::<TokenBinding>()
                .map(|binding| (binding, binding.accepts_bearer(), binding.accepts_dpop()))
                .map_err(|_| ());
            assert_eq!(got, expected, "{name}");
        }
        check("bearer", Ok((TokenBinding::Bearer, true, false)));
        check("DPoP", Ok((TokenBinding::Dpop, false, true)));
        check("either", Ok((TokenBinding::Either, true, true)));
        check("both", Err(()));
        check("", Err(()));
        assert_eq!(TokenBinding::default(), TokenBinding::Bearer);
        assert_eq!(TokenBinding::Either.to_string(), "either");
    }

    #[test]
    fn settings_refuse_hmac_and_empty_lists() {
        #[track_caller]
        fn check(change: impl FnOnce(&mut DpopSettings), expected: Result<(), &str>) {
            let mut settings = DpopSettings::default();
            change(&mut settings);
            let got = settings
                .validated()
                .map(|_| ())
                .map_err(|error| match error {
                    BuildError::InvalidSetting { setting, .. } => setting,
                    other => panic!("{other:?}"),
                });
            assert_eq!(got, expected);
        }
        check(|_| {}, Ok(()));
        check(
            |settings| settings.algorithms = vec![Algorithm::ES256, Algorithm::HS256],
            Err("dpop_algorithms"),
        );
        check(
            |settings| settings.algorithms.clear(),
            Err("dpop_algorithms"),
        );
        check(
            |settings| settings.iat_window = Duration::ZERO,
            Err("dpop_iat_window"),
        );
        check(
            |settings| settings.nonce_lifetime = Duration::from_millis(10),
            Err("dpop_nonce_lifetime"),
        );
    }

    /// RFC 9449 §9: the API's nonces are its own, and they age on its clock.
    #[test]
    fn nonces_are_the_apis_own_and_expire() {
        let state = state(|settings| settings.require_nonce = true);
        let nonce = state.fresh_nonce(NOW);
        let lifetime = DEFAULT_DPOP_NONCE_LIFETIME.as_secs();
        #[track_caller]
        fn check(
            state: &DpopState,
            nonce: Option<&str>,
            now: u64,
            expected: impl Into<Result<(), DpopRejection>>,
        ) {
            let expected = expected.into();
            assert_eq!(
                state.check_nonce(nonce, now),
                expected,
                "{nonce:?} at {now}"
            );
        }
        check(&state, Some(&nonce), NOW, Ok(()));
        check(&state, Some(&nonce), NOW + lifetime, Ok(()));
        check(
            &state,
            Some(&nonce),
            NOW + lifetime + 1,
            Err(DpopRejection::NonceStale),
        );
        check(
            &state,
            Some(&nonce),
            NOW - 1,
            Err(DpopRejection::NonceStale),
        );
        check(&state, None, NOW, Err(DpopRejection::NonceMissing));
        let other = self::state(|settings| settings.require_nonce = true).fresh_nonce(NOW);
        check(&state, Some(&other), NOW, Err(DpopRejection::NonceStale));
        let forged = format!("{}.{}", NOW + 10, nonce.split_once('.').unwrap().1);
        check(
            &state,
            Some(&forged),
            NOW + 10,
            Err(DpopRejection::NonceStale),
        );
        check(&state, Some("garbage"), NOW, Err(DpopRejection::NonceStale));
        // Without require_nonce, whatever nonce a proof carries is not looked at.
        check(&self::state(|_| {}), None, NOW, Ok(()));
    }

    /// RFC 9449 §11.1: a `jti` is refused again while its proof is in its window, remembered
    /// per key, forgotten after, and the cache never holds more than its capacity.
    #[test]
    fn the_replay_cache_is_windowed_and_bounded() {
        let state = state(|settings| settings.replay_capacity = 2);
        let window = state.settings.iat_window.as_secs();
        assert_eq!(state.record("k1", "a", NOW, NOW), Ok(()));
        assert_eq!(
            state.record("k1", "a", NOW, NOW + 1),
            Err(DpopRejection::Replayed)
        );
        assert_eq!(
            state.record("k2", "a", NOW, NOW + 1),
            Ok(()),
            "another key's jti"
        );
        assert_eq!(
            state.record("k3", "b", NOW, NOW + 1),
            Err(DpopRejection::ReplayCacheFull)
        );
        assert_eq!(
            state.record("k1", "a", NOW, NOW + window + 1),
            Ok(()),
            "out of its window, the proof is stale anyway and the entry is forgotten"
        );
        assert_eq!(state.seen.lock().unwrap().len(), 1);
    }
}
