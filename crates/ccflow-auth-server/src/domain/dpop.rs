//! DPoP at the token endpoint (RFC 9449 §5, §8): the server's DPoP policy, its nonces and the
//! proof `jti`s it has seen. The proof rules themselves are `ccflow_protocol::dpop`'s, shared
//! with the validator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use ccflow_protocol::crypto::SystemRandom;
use ccflow_protocol::dpop::{self, DpopKey, NonceKey, ProofCheck, VerifiedProof};
use ccflow_protocol::{ErrorCode, ErrorResponse};
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

/// The most proof `jti`s remembered at once; past that, new proofs are refused until old ones
/// leave their window (a flood of proofs cannot grow the server without bound).
const MAX_SEEN_PROOFS: usize = 100_000;

/// The server's DPoP policy (RFC 9449): in TOML as `[dpop]`, on the builder as
/// [`MockAuthServerBuilder::dpop`](crate::MockAuthServerBuilder::dpop), and at
/// `GET/PUT /_ccflow/dpop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DpopSettings {
    /// Whether the token endpoint looks at `DPoP` headers. `None`: the profile's default (on
    /// for `rfc`; off for the vendor profiles, none of which documents DPoP — an (I) choice).
    /// A server with DPoP off ignores the header and issues Bearer tokens, as RFC 9449 §5
    /// expects of one that does not support it.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Whether every proof must carry a nonce this server issued (RFC 9449 §8).
    #[serde(default)]
    pub require_nonce: bool,
    /// How long a nonce stays valid, in seconds.
    #[serde(default = "default_nonce_lifetime")]
    pub nonce_lifetime_secs: u64,
    /// Accepted proof algorithms (RFC 9449 §5.1 `dpop_signing_alg_values_supported`).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// How far a proof's `iat` may be from the server clock, either way, in seconds.
    #[serde(default = "default_iat_window")]
    pub iat_window_secs: u64,
}

fn default_nonce_lifetime() -> u64 {
    300
}

fn default_algorithms() -> Vec<String> {
    dpop::DEFAULT_ALGORITHMS
        .iter()
        .map(|algorithm| format!("{algorithm:?}"))
        .collect()
}

fn default_iat_window() -> u64 {
    dpop::DEFAULT_IAT_WINDOW_SECS
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            enabled: None,
            require_nonce: false,
            nonce_lifetime_secs: default_nonce_lifetime(),
            algorithms: default_algorithms(),
            iat_window_secs: default_iat_window(),
        }
    }
}

impl DpopSettings {
    /// The accepted algorithms, parsed; an error names the first that is not an asymmetric JWS
    /// algorithm (RFC 9449 §4.2 forbids `none` and MACs).
    pub(crate) fn parsed_algorithms(&self) -> Result<Vec<Algorithm>, String> {
        if self.algorithms.is_empty() {
            return Err("at least one algorithm is needed".to_owned());
        }
        self.algorithms
            .iter()
            .map(|name| {
                name.parse::<Algorithm>()
                    .ok()
                    .filter(|algorithm| {
                        !matches!(
                            algorithm,
                            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
                        )
                    })
                    .ok_or_else(|| format!("`{name}` is not an asymmetric JWS algorithm"))
            })
            .collect()
    }

    /// Checks the settings as a whole.
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.parsed_algorithms()?;
        if self.nonce_lifetime_secs == 0 {
            return Err("nonce_lifetime_secs must be at least 1".to_owned());
        }
        if self.iat_window_secs == 0 {
            return Err("iat_window_secs must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// The DPoP policy in force: the settings with `enabled` resolved, and their algorithms parsed
/// once. Replaced whole (the admin API), so a request reads it by cloning an `Arc`.
#[derive(Debug)]
struct Policy {
    settings: DpopSettings,
    algorithms: Vec<Algorithm>,
}

impl Policy {
    /// Validated settings, `enabled` resolved against `enabled_default`.
    fn new(mut settings: DpopSettings, enabled_default: bool) -> Self {
        let algorithms = settings.parsed_algorithms().unwrap_or_default();
        settings.enabled = Some(settings.enabled.unwrap_or(enabled_default));
        Self {
            settings,
            algorithms,
        }
    }

    fn enabled(&self) -> bool {
        self.settings.enabled == Some(true)
    }
}

/// The token endpoint's DPoP state: the policy (changeable at run time), the key nonces are
/// authenticated with, and the proofs seen.
pub(crate) struct DpopState {
    policy: RwLock<Arc<Policy>>,
    /// Nonces are `{issued_at}.{mac}`: stateless, checked by MAC and age on the server clock,
    /// so a nonce survives nothing but this process and moving the clock ages it. Made on first
    /// use: the first random bytes of a process wait for aws-lc to seed its generator from CPU
    /// jitter (tens of milliseconds), which `main` starts on a thread of its own; a key made
    /// in `new` would hold up the listening line until that finished (docs/performance.md).
    nonce_key: OnceLock<NonceKey>,
    /// `jkt` + `jti` of proofs that obtained a token → the Unix second they may be forgotten.
    seen: Mutex<HashMap<(String, String), u64>>,
}

impl std::fmt::Debug for DpopState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DpopState")
            .field("settings", &self.policy().settings)
            .finish_non_exhaustive()
    }
}

/// A token request's DPoP outcome: the proof, if one was sent and it passed.
pub(crate) type ProofOutcome = Result<Option<VerifiedProof>, ErrorResponse>;

impl DpopState {
    /// The state for validated settings; `profile_default` is whether DPoP is on when the
    /// settings do not say.
    pub(crate) fn new(settings: DpopSettings, profile_default: bool) -> Self {
        Self {
            policy: RwLock::new(Arc::new(Policy::new(settings, profile_default))),
            nonce_key: OnceLock::new(),
            seen: Mutex::default(),
        }
    }

    fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The current settings, `enabled` resolved.
    pub(crate) fn settings(&self) -> DpopSettings {
        self.policy().settings.clone()
    }

    /// Replaces the settings (the admin API); `enabled: None` keeps the current state.
    pub(crate) fn replace(&self, settings: DpopSettings) -> Result<DpopSettings, String> {
        settings.validate()?;
        let mut guard = self.policy.write().unwrap_or_else(PoisonError::into_inner);
        let policy = Arc::new(Policy::new(settings, guard.enabled()));
        let answer = policy.settings.clone();
        *guard = policy;
        Ok(answer)
    }

    /// Whether the token endpoint looks at proofs.
    pub(crate) fn enabled(&self) -> bool {
        self.policy().enabled()
    }

    /// Whether a fresh nonce goes on every token endpoint answer.
    pub(crate) fn requires_nonce(&self) -> bool {
        let policy = self.policy();
        policy.enabled() && policy.settings.require_nonce
    }

    /// The accepted algorithms while DPoP is on (discovery's `dpop_signing_alg_values_supported`).
    pub(crate) fn advertised_algorithms(&self) -> Option<Vec<String>> {
        let policy = self.policy();
        policy.enabled().then(|| policy.settings.algorithms.clone())
    }

    /// A fresh nonce (RFC 9449 §8): unpredictable to clients, valid for the nonce lifetime.
    pub(crate) fn fresh_nonce(&self, now: u64) -> String {
        self.nonce_key().fresh(now)
    }

    fn nonce_is_fresh(&self, nonce: &str, now: u64, lifetime: u64) -> bool {
        self.nonce_key().is_fresh(nonce, now, lifetime)
    }

    fn nonce_key(&self) -> &NonceKey {
        self.nonce_key.get_or_init(|| {
            NonceKey::generate(&SystemRandom::new())
                .expect("the operating system's random number generator failed")
        })
    }

    /// Checks the `DPoP` headers of a token request (RFC 9449 §4.3, §8, §11.1). `Ok(None)`: no
    /// proof (or DPoP is off, and the header is ignored). Nothing is recorded here: a proof's
    /// `jti` is remembered only when it obtains a token ([`record`](Self::record)).
    pub(crate) fn check_token_request(&self, proofs: &[&str], url: &str, now: u64) -> ProofOutcome {
        // Most token requests carry no proof: they cost nothing here.
        if proofs.is_empty() {
            return Ok(None);
        }
        let policy = self.policy();
        if !policy.enabled() {
            return Ok(None);
        }
        let settings = &policy.settings;
        let proof = match proofs {
            [proof] => *proof,
            _ => {
                return Err(invalid_proof(
                    "more than one DPoP header (RFC 9449 section 4.3)",
                ));
            }
        };
        let verified = dpop::check_proof(
            proof,
            &ProofCheck {
                method: "POST",
                url,
                now,
                iat_window: settings.iat_window_secs,
                algorithms: &policy.algorithms,
                access_token: None,
            },
        )
        .map_err(|error| invalid_proof(error.to_string()))?;
        if settings.require_nonce {
            match &verified.nonce {
                None => {
                    return Err(use_nonce(
                        "this server requires a DPoP nonce: retry with the DPoP-Nonce header's value",
                    ));
                }
                Some(nonce) if !self.nonce_is_fresh(nonce, now, settings.nonce_lifetime_secs) => {
                    return Err(use_nonce(
                        "the DPoP nonce is not one this server issued, or it has expired",
                    ));
                }
                Some(_) => {}
            }
        }
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen
            .get(&(verified.jkt.clone(), verified.jti.clone()))
            .is_some_and(|&until| until >= now)
        {
            return Err(replayed());
        }
        Ok(Some(verified))
    }

    /// Remembers a proof that obtained a token, until it leaves its `iat` window. `Err` if a
    /// concurrent request used the same proof first, or if the cache is full.
    pub(crate) fn record(&self, proof: &VerifiedProof, now: u64) -> Result<(), ErrorResponse> {
        let window = self.policy().settings.iat_window_secs;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, until| *until >= now);
        if seen.len() >= MAX_SEEN_PROOFS {
            return Err(ErrorResponse::new(
                ErrorCode::TemporarilyUnavailable,
                "too many DPoP proofs in the replay window; retry shortly",
            ));
        }
        let key = (proof.jkt.clone(), proof.jti.clone());
        if seen.get(&key).is_some_and(|&until| until >= now) {
            return Err(replayed());
        }
        seen.insert(key, proof.iat.saturating_add(window).max(now));
        Ok(())
    }

    /// The nonce lifetime, for tests and the admin view.
    #[cfg(test)]
    fn nonce_lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.policy().settings.nonce_lifetime_secs)
    }
}

/// The two keys the bad-proof factory (test control) signs with: the one its proofs normally
/// use, and the other one of its `key_mismatch` defect. Held by the server, made on first use.
pub(crate) struct FactoryKeys {
    pub(crate) key: DpopKey,
    pub(crate) other: DpopKey,
}

impl FactoryKeys {
    pub(crate) fn generate() -> Option<Self> {
        Some(Self {
            key: DpopKey::generate().ok()?,
            other: DpopKey::generate().ok()?,
        })
    }
}

fn invalid_proof(description: impl Into<String>) -> ErrorResponse {
    ErrorResponse::new(ErrorCode::InvalidDpopProof, description)
}

fn use_nonce(description: &str) -> ErrorResponse {
    ErrorResponse::new(ErrorCode::UseDpopNonce, description)
}

fn replayed() -> ErrorResponse {
    invalid_proof("the DPoP proof was already used (its jti was seen; RFC 9449 section 11.1)")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:8080/oauth2/token";
    const NOW: u64 = 1_800_000_000;

    fn state(settings: DpopSettings) -> DpopState {
        DpopState::new(settings, true)
    }

    #[test]
    fn nonces_are_the_servers_and_age_on_its_clock() {
        let state = state(DpopSettings::default());
        let nonce = state.fresh_nonce(NOW);
        let lifetime = state.nonce_lifetime().as_secs();
        assert!(state.nonce_is_fresh(&nonce, NOW, lifetime));
        assert!(state.nonce_is_fresh(&nonce, NOW + lifetime, lifetime));
        assert!(!state.nonce_is_fresh(&nonce, NOW + lifetime + 1, lifetime));
        assert!(
            !state.nonce_is_fresh(&nonce, NOW - 1, lifetime),
            "issued in the future"
        );
        let other_server = self::state(DpopSettings::default()).fresh_nonce(NOW);
        assert!(!state.nonce_is_fresh(&other_server, NOW, lifetime));
        let forged = format!("{}.{}", NOW + 100, nonce.split_once('.').unwrap().1);
        assert!(!state.nonce_is_fresh(&forged, NOW + 100, lifetime));
        assert!(!state.nonce_is_fresh("garbage", NOW, lifetime));
        assert!(!state.nonce_is_fresh("1.***", NOW, lifetime));
    }

    #[test]
    fn token_request_outcomes() {
        let key = DpopKey::generate().unwrap();
        let nonce_state = state(DpopSettings {
            require_nonce: true,
            ..DpopSettings::default()
        });
        let nonce = nonce_state.fresh_nonce(NOW);
        #[track_caller]
        fn check(state: &DpopState, proofs: &[&str], expected: Result<bool, (&str, &str)>) {
            let got = state
                .check_token_request(proofs, URL, NOW)
                .map(|proof| proof.is_some())
                .map_err(|error| error.error.as_str().to_owned());
            match expected {
                Ok(bound) => assert_eq!(got, Ok(bound)),
                Err((code, _why)) => assert_eq!(got, Err(code.to_owned()), "{_why}"),
            }
        }
        let plain = state(DpopSettings::default());
        let proof = key.proof("POST", URL, NOW, None, None).unwrap();
        let with_nonce = key.proof("POST", URL, NOW, Some(&nonce), None).unwrap();
        let stale_nonce = key
            .proof(
                "POST",
                URL,
                NOW,
                Some(&nonce_state.fresh_nonce(NOW - 301)),
                None,
            )
            .unwrap();
        let wrong_url = key
            .proof("POST", "http://127.0.0.1:8080/other", NOW, None, None)
            .unwrap();
        check(&plain, &[], Ok(false));
        check(&plain, &[&proof], Ok(true));
        check(
            &plain,
            &[&proof, &proof],
            Err(("invalid_dpop_proof", "two headers")),
        );
        check(&plain, &[&wrong_url], Err(("invalid_dpop_proof", "htu")));
        check(&nonce_state, &[&proof], Err(("use_dpop_nonce", "no nonce")));
        check(
            &nonce_state,
            &[&stale_nonce],
            Err(("use_dpop_nonce", "stale nonce")),
        );
        check(&nonce_state, &[&with_nonce], Ok(true));
        let off = DpopState::new(DpopSettings::default(), false);
        check(&off, &[&wrong_url], Ok(false));
    }

    #[test]
    fn a_proof_obtains_one_token_only() {
        let state = state(DpopSettings::default());
        let key = DpopKey::generate().unwrap();
        let proof = key.proof("POST", URL, NOW, None, None).unwrap();
        let verified = state
            .check_token_request(&[&proof], URL, NOW)
            .unwrap()
            .unwrap();
        // Checking does not record: a refused request leaves no trace.
        assert!(state.check_token_request(&[&proof], URL, NOW).is_ok());
        state.record(&verified, NOW).unwrap();
        let again = state
            .check_token_request(&[&proof], URL, NOW + 1)
            .unwrap_err();
        assert_eq!(again.error, ErrorCode::InvalidDpopProof);
        assert_eq!(
            state.record(&verified, NOW).unwrap_err().error,
            ErrorCode::InvalidDpopProof
        );
        // Past its window the proof's iat is stale anyway, and the entry is forgotten.
        let later = NOW + DEFAULT_WINDOW + 1;
        assert!(
            state
                .record(&key_proof_at(&state, &key, later), later)
                .is_ok()
        );
        assert_eq!(state.seen.lock().unwrap().len(), 1);
    }

    const DEFAULT_WINDOW: u64 = dpop::DEFAULT_IAT_WINDOW_SECS;

    fn key_proof_at(state: &DpopState, key: &DpopKey, now: u64) -> VerifiedProof {
        let proof = key.proof("POST", URL, now, None, None).unwrap();
        state
            .check_token_request(&[&proof], URL, now)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn settings_are_validated() {
        #[track_caller]
        fn check(settings: &DpopSettings, expected: Result<(), &str>) {
            assert_eq!(settings.validate(), expected.map_err(str::to_owned));
        }
        check(&DpopSettings::default(), Ok(()));
        let with = |algorithms: &[&str]| DpopSettings {
            algorithms: algorithms.iter().map(|name| (*name).to_owned()).collect(),
            ..DpopSettings::default()
        };
        check(&with(&["ES256"]), Ok(()));
        check(&with(&[]), Err("at least one algorithm is needed"));
        check(
            &with(&["HS256"]),
            Err("`HS256` is not an asymmetric JWS algorithm"),
        );
        check(
            &with(&["none"]),
            Err("`none` is not an asymmetric JWS algorithm"),
        );
        check(
            &DpopSettings {
                nonce_lifetime_secs: 0,
                ..DpopSettings::default()
            },
            Err("nonce_lifetime_secs must be at least 1"),
        );
        check(
            &DpopSettings {
                iat_window_secs: 0,
                ..DpopSettings::default()
            },
            Err("iat_window_secs must be at least 1"),
        );
    }
}
