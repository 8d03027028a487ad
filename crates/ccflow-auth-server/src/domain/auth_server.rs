//! The authorization server's state: its clients, keys, clock, journal and scenarios, and the
//! operations on them (key rotation, client registration). Endpoint logic lives beside it
//! (`issuance`, `introspection`, `metadata`); what differs between vendors is the
//! [`Dialect`]'s.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ccflow_protocol::crypto::SystemRandom;
use ccflow_protocol::{ClientId, Clock, Profile, ProfileSpec, Routes, VirtualClock};
use serde_json::{Map, Value};

use crate::control::journal::{Endpoint, Journal};
use crate::control::limits::Limits;
use crate::control::scenarios::{ScenarioBuilder, ScenarioStatus, Scenarios};
use crate::control::throttle::Throttle;
use crate::domain::assertion::ReplayCache;
use crate::domain::clients::{Client, ClientError, Registry};
use crate::domain::dpop::DpopState;
use crate::domain::keys::{KeyError, KeyPolicy, KeyRing, KeyRingError, SigningKey};
use crate::domain::site::Site;
use crate::profiles::Dialect;
use crate::settings::{AdminSettings, Prepared};

/// An authorization server without a socket: its clients, keys, clock and state.
///
/// Cheap to clone (one `Arc`). Build one with
/// [`MockAuthServerBuilder::into_app`](crate::MockAuthServerBuilder::into_app) and mount it in
/// an actix-web `App` with [`configure`](crate::configure), or let
/// [`MockAuthServer`](crate::MockAuthServer) serve it.
#[derive(Clone)]
pub struct AuthServer {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServer")
            .field("issuer", &self.inner.site.issuer)
            .field("profile", &self.inner.profile)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    /// The issuer and its URLs as configured (or derived from the bound address).
    pub(crate) site: Site,
    /// Whether each request's own scheme and host name the issuer (`issuer_from_request`).
    pub(crate) issuer_from_request: bool,
    pub(crate) profile: Profile,
    /// The profile's table row, settings and vendor code.
    pub(super) dialect: Dialect,
    pub(crate) routes: Routes,
    /// Swapped whole when a client is added or removed, so the token path only clones an `Arc`
    /// under a briefly held read lock.
    registry: RwLock<Arc<Registry>>,
    /// Identities (client ids and token subjects) of removed clients, with the Unix second of
    /// removal: their tokens issued until then introspect inactive.
    removed_clients: Mutex<HashMap<String, i64>>,
    keys: RwLock<Arc<KeyRing>>,
    pub(crate) key_policy: KeyPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    /// The controllable clock behind `clock`, unless the embedding test injected its own.
    pub(crate) virtual_clock: Option<VirtualClock>,
    pub(crate) admin: AdminSettings,
    pub(crate) token_ttl: Option<Duration>,
    /// Revoked access tokens: `jti` → `exp`, forgotten once expired.
    pub(super) revoked: Mutex<HashMap<String, i64>>,
    pub(super) replay_cache: ReplayCache,
    /// How far ahead a `private_key_jwt` assertion's `exp` may lie.
    pub(super) client_assertion_max_lifetime: Duration,
    pub(crate) journal: Journal,
    pub(crate) scenarios: Arc<Scenarios>,
    pub(crate) rng: SystemRandom,
    /// Request size limits (always on).
    pub(crate) limits: Limits,
    /// Failed-authentication throttling, when configured.
    pub(crate) throttle: Option<Throttle>,
    /// DPoP at the token endpoint: policy, nonces, seen proofs.
    pub(crate) dpop: DpopState,
    /// Mutual TLS (RFC 8705), when the server serves HTTPS: the CAs trusted for
    /// `tls_client_auth`. `None` over plain HTTP only.
    pub(crate) mtls: Option<crate::domain::mtls::MtlsTrust>,
    /// The HTTPS base URL when HTTP and HTTPS are served side by side, for RFC 8705 §5's
    /// `mtls_endpoint_aliases`.
    pub(crate) mtls_base_url: Option<String>,
    /// The bad-proof factory's keys, made on first use (`None` if the RNG failed).
    pub(crate) proof_keys: std::sync::OnceLock<Option<crate::domain::dpop::FactoryKeys>>,
}

impl AuthServer {
    /// The server made of validated settings, its issuer and the URL its routes hang under.
    pub(crate) fn new(prepared: Prepared, issuer: String, base_url: String) -> Self {
        let Prepared {
            settings,
            registry,
            keys,
            key_policy,
            clock,
            mtls,
            mtls_base_url,
        } = prepared;
        let dialect = Dialect::new(settings.profile, settings.profile_settings);
        let rng = SystemRandom::new();
        let dpop = DpopState::new(settings.dpop, dialect.dpop_by_default());
        let routes = dialect.spec().routes.expand(&dialect.settings().options);
        let site = Site::new(issuer, base_url, &routes.token[0]);
        let scenarios = Scenarios::default();
        for scenario in settings.scenarios {
            // Validated with the settings.
            let _ = scenarios.add(scenario, clock.now());
        }
        Self {
            inner: Arc::new(Inner {
                site,
                issuer_from_request: settings.issuer_from_request,
                routes,
                dialect,
                profile: settings.profile,
                registry: RwLock::new(Arc::new(registry)),
                removed_clients: Mutex::default(),
                keys: RwLock::new(Arc::new(keys)),
                key_policy,
                clock,
                virtual_clock: settings.virtual_clock,
                admin: settings.admin,
                token_ttl: settings.token_ttl,
                revoked: Mutex::default(),
                replay_cache: ReplayCache::default(),
                client_assertion_max_lifetime: settings.client_assertion_max_lifetime,
                journal: Journal::with_capacity(settings.journal_capacity),
                scenarios: Arc::new(scenarios),
                rng,
                dpop,
                proof_keys: std::sync::OnceLock::new(),
                mtls,
                mtls_base_url,
                limits: settings.limits,
                throttle: settings.auth_throttle.map(Throttle::new),
            }),
        }
    }

    /// The issuer identifier (`iss` of every token, `issuer` in discovery).
    pub fn issuer(&self) -> &str {
        &self.inner.site.issuer
    }

    /// The configured site: the issuer and its URLs when no request names another.
    pub(crate) fn site(&self) -> &Site {
        &self.inner.site
    }

    /// The profile the server speaks.
    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    /// The absolute URL of a server path (routes hang under the base URL, which is the issuer
    /// without the profile's issuer path, e.g. without SLB's `/v2`).
    pub fn url(&self, path: &str) -> String {
        self.inner.site.url(path)
    }

    /// The server clock in Unix seconds (0 before 1970).
    pub(crate) fn now_secs(&self) -> u64 {
        u64::try_from(self.inner.clock.unix_seconds()).unwrap_or_default()
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> &str {
        &self.inner.site.token_url
    }

    /// The JWKS URL.
    pub(crate) fn jwks_url(&self) -> String {
        self.url(&self.inner.routes.jwks)
    }

    /// The discovery document URL (the RFC 8414 form where the profile serves it).
    pub(crate) fn discovery_url(&self) -> String {
        self.url(
            self.inner
                .routes
                .discovery
                .last()
                .map_or("/.well-known/openid-configuration", String::as_str),
        )
    }

    /// The introspection endpoint URL, if the profile has one.
    pub(crate) fn introspection_url(&self) -> Option<String> {
        let path = self.inner.routes.introspection.as_deref()?;
        Some(self.url(path))
    }

    /// The revocation endpoint URL, if the profile has one.
    pub(crate) fn revocation_url(&self) -> Option<String> {
        let path = self.inner.routes.revocation.as_deref()?;
        Some(self.url(path))
    }

    /// The request journal.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// Starts a fault scenario on `endpoint` (see [`ScenarioBuilder`]).
    pub fn on(&self, endpoint: Endpoint) -> ScenarioBuilder {
        ScenarioBuilder::new(
            Arc::clone(&self.inner.scenarios),
            Arc::clone(&self.inner.clock),
            endpoint,
        )
    }

    /// Starts a fault scenario on the token endpoint:
    /// `server.on_token().for_client("svc-a").times(2).respond(Fault::status(503).retry_after(5))`.
    pub fn on_token(&self) -> ScenarioBuilder {
        self.on(Endpoint::Token)
    }

    /// Installs a scenario from its data form (as the admin API and the config file give it).
    pub fn add_scenario(&self, spec: ccflow_protocol::ScenarioSpec) -> Result<u64, String> {
        self.inner.scenarios.add(spec, self.inner.clock.now())
    }

    /// Every installed scenario with its counts.
    pub fn scenarios(&self) -> Vec<ScenarioStatus> {
        self.inner.scenarios.list()
    }

    /// Removes every scenario.
    pub fn clear_scenarios(&self) {
        self.inner.scenarios.clear();
    }

    /// Forgets every failed client authentication the throttle has counted, lifting every
    /// block (nothing to do when throttling is off).
    pub fn clear_auth_failures(&self) {
        if let Some(throttle) = &self.inner.throttle {
            throttle.clear();
        }
    }

    /// A snapshot of the signing keys, with any due retirement applied.
    pub fn keys(&self) -> Arc<KeyRing> {
        let now = self.inner.clock.now();
        let snapshot = Arc::clone(
            &self
                .inner
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if !snapshot.has_due(now) {
            return snapshot;
        }
        self.update_keys(|ring| {
            ring.retire_due(now);
            Ok(())
        })
        .unwrap_or(snapshot)
    }

    fn update_keys(
        &self,
        change: impl FnOnce(&mut KeyRing) -> Result<(), KeyRingError>,
    ) -> Result<Arc<KeyRing>, KeyRingError> {
        let mut current = self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut ring = KeyRing::clone(&current);
        change(&mut ring)?;
        *current = Arc::new(ring);
        Ok(Arc::clone(&current))
    }

    /// The longest lifetime any token of this server can have: how long a rotated-out key
    /// stays published.
    pub fn longest_token_ttl(&self) -> Duration {
        let clients = self
            .registry()
            .iter()
            .filter_map(|client| client.token_ttl)
            .max()
            .unwrap_or_default();
        self.inner
            .dialect
            .longest_lifetime(self.inner.token_ttl, clients)
    }

    /// How long caches may keep the JWKS and the discovery document (`Cache-Control: public,
    /// max-age`): five minutes, or half the key-rotation overlap when that is shorter.
    ///
    /// After a rotation the previous key stays published for the overlap, the longest token
    /// lifetime ([`rotate_keys_to`](Self::rotate_keys_to)). A JWKS cached just before a
    /// rotation is then refetched while both keys are still published, so a validator that only
    /// refreshes when its copy expires learns the new key before the previous one disappears,
    /// and tokens of either key verify throughout. Five minutes is the refresh interval most
    /// JWKS caches default to; longer would only delay a validator that misses an unknown `kid`.
    pub(crate) fn metadata_max_age(&self) -> Duration {
        const MAX: Duration = Duration::from_secs(300);
        MAX.min(self.longest_token_ttl() / 2)
    }

    /// Rotates to `key`: it signs from now on, the previous key stays published until the
    /// longest token it signed has expired. Returns the new `kid`.
    pub fn rotate_keys_to(&self, key: SigningKey) -> String {
        let kid = key.kid().to_owned();
        let retire_at = self.inner.clock.now() + self.longest_token_ttl();
        let _ = self.update_keys(|ring| {
            ring.rotate(key, retire_at);
            Ok(())
        });
        kid
    }

    /// Rotates to a new key of the active key's algorithm (seeded when the server has a key
    /// seed). RSA generation takes a moment in debug builds.
    pub fn rotate_keys(&self) -> Result<String, KeyError> {
        let key = self
            .inner
            .key_policy
            .next_key(self.keys().active().algorithm())?;
        Ok(self.rotate_keys_to(key))
    }

    /// Publishes `key` without letting it sign.
    pub fn stage_key(&self, key: SigningKey) {
        let _ = self.update_keys(|ring| {
            ring.stage(key);
            Ok(())
        });
    }

    /// Makes the staged key `kid` the signing key; the previous one stays published for the
    /// longest token lifetime.
    pub fn activate_key(&self, kid: &str) -> Result<(), KeyRingError> {
        let retire_at = self.inner.clock.now() + self.longest_token_ttl();
        self.update_keys(|ring| ring.activate(kid, retire_at))
            .map(drop)
    }

    /// Removes the staged key `kid` from the JWKS now.
    pub fn retire_key(&self, kid: &str) -> Result<(), KeyRingError> {
        self.update_keys(|ring| ring.retire(kid)).map(drop)
    }

    /// The profile's endpoint paths, parameters filled in.
    pub fn routes(&self) -> &Routes {
        &self.inner.routes
    }

    pub(crate) fn spec(&self) -> &'static ProfileSpec {
        self.inner.dialect.spec()
    }

    /// The profile's behaviour: everything that differs between vendors.
    pub(crate) fn dialect(&self) -> &Dialect {
        &self.inner.dialect
    }

    /// A snapshot of the registered clients (an `Arc` clone under a read lock held briefly).
    pub(crate) fn registry(&self) -> Arc<Registry> {
        Arc::clone(
            &self
                .inner
                .registry
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Registers a client at run time, validated as the builder validates its clients; the id
    /// must not be registered already. Nothing changes on error.
    pub fn add_client(&self, client: Client) -> Result<(), ClientError> {
        let mut current = self
            .inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut registry = Registry::clone(&current);
        registry.insert(client, self.spec())?;
        *current = Arc::new(registry);
        Ok(())
    }

    /// Unregisters a client: its token requests then fail with `invalid_client`, and its
    /// tokens issued so far introspect `{"active": false}` (RFC 7662 §2.2 lets the server
    /// decide a token is no longer active; a deleted client's tokens are not). Resource servers
    /// that validate the JWT themselves still accept them until `exp`. Returns whether the
    /// client was registered.
    pub fn remove_client(&self, client_id: &str) -> bool {
        let mut current = self
            .inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut registry = Registry::clone(&current);
        let Some(removed) = registry.remove(&ClientId::new(client_id)) else {
            return false;
        };
        let now = self.inner.clock.unix_seconds();
        {
            let mut gone = self
                .inner
                .removed_clients
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            gone.insert(removed.id.as_str().to_owned(), now);
            gone.insert(removed.subject(), now);
        }
        *current = Arc::new(registry);
        true
    }

    /// The ids of the registered clients, in registration order.
    pub fn client_ids(&self) -> Vec<String> {
        self.registry()
            .iter()
            .map(|client| client.id.as_str().to_owned())
            .collect()
    }

    /// Whether the token's client was removed after the token was issued (or the token has no
    /// `iat` to tell).
    pub(super) fn issued_to_removed_client(&self, claims: &Map<String, Value>) -> bool {
        let gone = self
            .inner
            .removed_clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if gone.is_empty() {
            return false;
        }
        let issued_at = claims.get("iat").and_then(Value::as_i64);
        ["client_id", "azp", "unique_name", "sub"]
            .iter()
            .filter_map(|name| claims.get(*name).and_then(Value::as_str))
            .filter_map(|identity| gone.get(identity))
            .any(|removed_at| issued_at.is_none_or(|iat| iat <= *removed_at))
    }
}
