//! The authorization server's state and endpoint logic, free of HTTP framework types. What
//! differs between vendors is read from the profile's `ProfileSpec`; the vendor-specific
//! shapes live in `shape`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{
    AccessToken, Audience, AuthMethod, ClaimStyle, ClientId, ErrorCode, ErrorDialect,
    ErrorResponse, FormParams, IntrospectionResponse, Profile, ProfileSpec, RequestError, Routes,
    Scope, ScopeSemantics, Scopes, ServerMetadata, TokenOperationRequest, TokenRequest,
    TokenResponse,
};
use jsonwebtoken::Validation;
use serde_json::{Map, Value, json};

use crate::control::journal::{Endpoint, Journal};
use crate::control::limits::Limits;
use crate::control::scenarios::{ScenarioBuilder, ScenarioStatus, Scenarios};
use crate::control::throttle::Throttle;
use crate::domain::assertion::{AssertionContext, ReplayCache};
use crate::domain::authentication::{AuthFailure, AuthFailureKind, Authenticated, authenticate};
use crate::domain::clients::{ASSERTION_ALGORITHMS, Client, ClientError, Registry};
use crate::domain::echo::truncate;
use crate::domain::ids::{random_bytes, random_uuid};
use crate::domain::keys::{KeyError, KeyPolicy, KeyRing, KeyRingError, SigningKey};
use crate::domain::urls::join_url;
use crate::settings::{AdminSettings, Prepared};
use crate::shape::{ClaimInput, ProfileSettings, ResponseStyle, ScopeReport};
use ccflow_protocol::{Clock, VirtualClock};

/// A request the server refused: the OAuth error and how to present it.
#[derive(Debug)]
pub(crate) struct EndpointError {
    pub(crate) response: ErrorResponse,
    /// The client tried HTTP Basic, so a 401 carries `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub(crate) basic_attempted: bool,
}

impl From<RequestError> for EndpointError {
    fn from(error: RequestError) -> Self {
        Self {
            basic_attempted: error.basic_attempted(),
            response: error.to_error_response(),
        }
    }
}

/// The outcome of one endpoint call plus what the journal and logs need to know.
#[derive(Debug)]
pub(crate) struct Handled<T> {
    pub(crate) result: Result<T, EndpointError>,
    pub(crate) client_id: Option<ClientId>,
}

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
            .field("issuer", &self.inner.issuer)
            .field("profile", &self.inner.profile)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) issuer: String,
    /// Where the routes hang: the issuer without the profile's issuer path.
    base_url: String,
    pub(crate) profile: Profile,
    pub(crate) spec: &'static ProfileSpec,
    pub(crate) settings: ProfileSettings,
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
    revoked: Mutex<HashMap<String, i64>>,
    replay_cache: ReplayCache,
    pub(crate) journal: Journal,
    pub(crate) scenarios: Arc<Scenarios>,
    token_url: String,
    pub(crate) rng: SystemRandom,
    /// Request size limits (always on).
    pub(crate) limits: Limits,
    /// Failed-authentication throttling, when configured.
    pub(crate) throttle: Option<Throttle>,
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
        } = prepared;
        let spec = settings.profile.spec();
        let routes = spec.routes.expand(&settings.profile_settings.options);
        let token_url = join_url(&base_url, &routes.token[0]);
        let scenarios = Scenarios::default();
        for scenario in settings.scenarios {
            // Validated with the settings.
            let _ = scenarios.add(scenario, clock.now());
        }
        Self {
            inner: Arc::new(Inner {
                token_url,
                routes,
                spec,
                issuer,
                base_url,
                profile: settings.profile,
                settings: settings.profile_settings,
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
                journal: Journal::with_capacity(settings.journal_capacity),
                scenarios: Arc::new(scenarios),
                rng: SystemRandom::new(),
                limits: settings.limits,
                throttle: settings.auth_throttle.map(Throttle::new),
            }),
        }
    }

    /// The issuer identifier (`iss` of every token, `issuer` in discovery).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The profile the server speaks.
    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    /// The absolute URL of a server path (routes hang under the base URL, which is the issuer
    /// without the profile's issuer path, e.g. without SLB's `/v2`).
    pub fn url(&self, path: &str) -> String {
        join_url(&self.inner.base_url, path)
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> &str {
        &self.inner.token_url
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

    /// The throttle's state for the admin API: whether it is on, its settings, and how many
    /// client ids and addresses have failures counted (ids are kept only as keyed hashes, so
    /// they cannot be listed).
    pub(crate) fn throttle_json(&self) -> Value {
        match &self.inner.throttle {
            None => json!({ "enabled": false }),
            Some(throttle) => {
                let (client_ids, addresses) = throttle.tracked();
                json!({
                    "enabled": true,
                    "settings": throttle.settings().to_json(),
                    "tracked_client_ids": client_ids,
                    "tracked_addresses": addresses,
                })
            }
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
        let spec = self.inner.spec;
        let server = self
            .inner
            .token_ttl
            .unwrap_or(Duration::from_secs(spec.default_token_ttl_secs));
        let clients = self
            .registry()
            .iter()
            .filter_map(|client| client.token_ttl)
            .max()
            .unwrap_or_default();
        let fixed = Duration::from_secs(spec.default_token_ttl_secs);
        let longest = if spec.fixed_ttl {
            fixed
        } else {
            server.max(clients)
        };
        if spec.claims == ClaimStyle::UserClouds
            && self.inner.settings.response_style == ResponseStyle::Server
        {
            longest.max(Duration::from_secs(24 * 3600))
        } else {
            longest
        }
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
        self.inner.spec
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
        registry.insert(client, self.inner.spec)?;
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
            gone.insert(crate::shape::subject(&removed), now);
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
    fn issued_to_removed_client(&self, claims: &Map<String, Value>) -> bool {
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

    fn authenticate<'a>(
        &self,
        registry: &'a Registry,
        auth: &ccflow_protocol::ClientAuthentication,
        now: i64,
    ) -> Result<Authenticated<'a>, EndpointError> {
        let inner = &*self.inner;
        let context = AssertionContext {
            audiences: [inner.issuer.as_str(), inner.token_url.as_str()],
            now,
            replay_cache: &inner.replay_cache,
        };
        authenticate(registry, auth, &context).map_err(|failure| EndpointError {
            response: self.word_auth_failure(failure),
            basic_attempted: auth.used_basic(),
        })
    }

    /// Words an authentication failure in the profile's dialect.
    fn word_auth_failure(&self, failure: AuthFailure) -> ErrorResponse {
        if self.inner.spec.errors != ErrorDialect::UserClouds {
            return failure.response;
        }
        // UserClouds (D): its own messages, and invalid_grant (401) for a wrong secret.
        match failure.kind {
            AuthFailureKind::UnknownClient(id) => ErrorResponse::invalid_client(format!(
                "no plex app with Plex client ID '{}' found",
                truncate(id.as_str())
            )),
            AuthFailureKind::WrongSecret => {
                ErrorResponse::new(ErrorCode::InvalidGrant, "invalid client secret")
                    .with_status(401)
            }
            AuthFailureKind::Other => failure.response,
        }
    }

    /// Words a request error in the profile's dialect.
    fn word_request_error(&self, error: RequestError) -> EndpointError {
        if self.inner.spec.errors == ErrorDialect::UserClouds {
            // UserClouds checks the grant type first and words it its own way (D).
            let grant = match &error {
                RequestError::MissingGrantType => Some("not specified".to_owned()),
                RequestError::UnsupportedGrantType(grant) => Some(truncate(grant)),
                _ => None,
            };
            if let Some(grant) = grant {
                return EndpointError {
                    response: ErrorResponse::unsupported_grant_type(format!(
                        "unsupported `grant_type` specified: {grant}"
                    )),
                    basic_attempted: false,
                };
            }
        }
        error.into()
    }

    /// Records a `private_key_jwt` assertion as used, once the request has succeeded.
    fn consume_assertion(
        &self,
        authenticated: &Authenticated<'_>,
        now: i64,
    ) -> Result<(), EndpointError> {
        match &authenticated.assertion {
            Some(assertion) if !self.inner.replay_cache.record(assertion, now) => {
                Err(EndpointError {
                    response: ErrorResponse::invalid_client(
                        "client_assertion rejected: `jti` was already used (replayed assertion)",
                    ),
                    basic_attempted: false,
                })
            }
            _ => Ok(()),
        }
    }

    /// Parses a token request: a form body, or a JSON object where the profile accepts one;
    /// then the size limits, before any client lookup.
    fn parse_token_request(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenRequest, EndpointError> {
        const REPEATABLE: [&str; 2] = ["resource", "audience"];
        let is_json = content_type.is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
        });
        let params = if is_json && self.inner.spec.accepts_json_body {
            // CyberArk's seed shows the token request as a JSON object.
            FormParams::from_json_body(body, &REPEATABLE)
        } else {
            FormParams::from_request(content_type, body, &REPEATABLE)
        }
        .map_err(|error| self.word_request_error(error))?;
        self.inner.limits.check_params(&params).map_err(plain)?;
        let request = TokenRequest::from_params(params, authorization)
            .map_err(|error| self.word_request_error(error))?;
        self.check_basic_client_id(&request.client_auth)?;
        Ok(request)
    }

    /// The `client_id` length limit for an id from HTTP Basic (body ids were checked with the
    /// other parameters).
    fn check_basic_client_id(
        &self,
        auth: &ccflow_protocol::ClientAuthentication,
    ) -> Result<(), EndpointError> {
        match auth {
            ccflow_protocol::ClientAuthentication::Basic { client_id, .. } => self
                .inner
                .limits
                .check_client_id(client_id.as_str())
                .map_err(plain),
            _ => Ok(()),
        }
    }

    /// The token endpoint (RFC 6749 §4.4.2, §5), shaped by the profile.
    pub(crate) fn token(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Handled<TokenResponse> {
        let request = match self.parse_token_request(content_type, authorization, body) {
            Ok(request) => request,
            Err(error) => {
                return Handled {
                    result: Err(error),
                    client_id: None,
                };
            }
        };
        let client_id = request.client_auth.client_id().cloned();
        let result = self.issue(&request);
        let client_id = client_id.or_else(|| result.as_ref().ok().map(|(_, id)| id.clone()));
        Handled {
            result: result.map(|(response, _)| response),
            client_id,
        }
    }

    fn issue(&self, request: &TokenRequest) -> Result<(TokenResponse, ClientId), EndpointError> {
        let inner = &*self.inner;
        let spec = inner.spec;
        let now = inner.clock.unix_seconds();
        let registry = self.registry();
        let authenticated = self.authenticate(&registry, &request.client_auth, now)?;
        let client = authenticated.client;
        let mut report = ScopeReport::default();
        let (granted, audience) = match spec.scopes {
            ScopeSemantics::AudienceByClientId => {
                // SLB (seed 001): each requested value that names a registered client or a
                // service audience (and, if the client lists `audiences`, is on that list, I)
                // goes into `aud`; the others are reported, never an error.
                let mut audience = vec![client.id.as_str().to_owned()];
                for value in request
                    .scope
                    .iter()
                    .flat_map(Scopes::iter)
                    .map(Scope::as_str)
                {
                    let known = registry.get(&ClientId::new(value)).is_some()
                        || inner
                            .settings
                            .service_audiences
                            .iter()
                            .any(|aud| aud == value);
                    let allowed = client.audiences.is_empty()
                        || client.audiences.iter().any(|aud| aud == value);
                    if known && allowed {
                        report.valid.push(value.to_owned());
                        if !audience.iter().any(|aud| aud == value) {
                            audience.push(value.to_owned());
                        }
                    } else {
                        report.invalid.push(value.to_owned());
                    }
                }
                let granted: Scopes = report
                    .valid
                    .iter()
                    .filter_map(|v| Scope::new(v.as_str()).ok())
                    .collect();
                (granted, audience)
            }
            ScopeSemantics::Ignored => {
                // UserClouds (D): scope is ignored; `audience` parameters go into `aud`.
                (Scopes::new(), request.audiences.clone())
            }
            _ => (
                self.oauth_scopes(client, request)?,
                self.oauth_audience(client, request)?,
            ),
        };
        let lifetime = if spec.fixed_ttl {
            Duration::from_secs(spec.default_token_ttl_secs)
        } else if spec.claims == ClaimStyle::UserClouds
            && inner.settings.response_style == ResponseStyle::Server
        {
            // The vendor's server issues 24 h tokens without expires_in (VENDORS.md, D).
            Duration::from_secs(24 * 3600)
        } else {
            client
                .token_ttl
                .or(inner.token_ttl)
                .unwrap_or(Duration::from_secs(spec.default_token_ttl_secs))
        };
        let lifetime_secs = lifetime.as_secs().max(1);
        let jti = match spec.claims {
            ClaimStyle::Cloudentity | ClaimStyle::UserClouds => random_uuid(&inner.rng),
            _ => URL_SAFE_NO_PAD.encode(random_bytes(&inner.rng)),
        };
        let claims = crate::shape::claims(
            spec.claims,
            &ClaimInput {
                issuer: &inner.issuer,
                client,
                settings: &inner.settings,
                now,
                exp: now.saturating_add(i64::try_from(lifetime_secs).unwrap_or(i64::MAX)),
                jti,
                granted: &granted,
                audience: &audience,
            },
        );
        let token = self.sign(&claims).map_err(plain)?;
        self.consume_assertion(&authenticated, now)?;
        let response = crate::shape::token_response(
            spec,
            &inner.settings,
            AccessToken::new(token),
            Duration::from_secs(lifetime_secs),
            &granted,
            &report,
            &inner.rng,
        );
        Ok((response, client.id.clone()))
    }

    /// RFC 6749 §3.3: requested scopes must be allowed; none requested grants the default set.
    fn oauth_scopes(
        &self,
        client: &crate::domain::clients::RegisteredClient,
        request: &TokenRequest,
    ) -> Result<Scopes, EndpointError> {
        match &request.scope {
            None => Ok(client.scopes.clone()),
            Some(requested) => {
                if let Some(denied) = requested
                    .iter()
                    .find(|scope| !client.scopes.contains(scope.as_str()))
                {
                    return Err(EndpointError {
                        response: ErrorResponse::invalid_scope(format!(
                            "scope `{}` is not allowed for client `{}`",
                            truncate(denied.as_str()),
                            truncate(client.id.as_str())
                        )),
                        basic_attempted: false,
                    });
                }
                Ok(requested.clone())
            }
        }
    }

    /// RFC 8707 §2: each `resource` must be one of the client's audiences; none requested
    /// means all of them (or the client id when none are configured).
    fn oauth_audience(
        &self,
        client: &crate::domain::clients::RegisteredClient,
        request: &TokenRequest,
    ) -> Result<Vec<String>, EndpointError> {
        if request.resources.is_empty() {
            return Ok(if client.audiences.is_empty() {
                vec![client.id.as_str().to_owned()]
            } else {
                client.audiences.clone()
            });
        }
        let mut picked: Vec<String> = Vec::new();
        for resource in &request.resources {
            if !client.audiences.iter().any(|aud| aud == resource) {
                return Err(EndpointError {
                    response: ErrorResponse::invalid_target(format!(
                        "resource `{}` is not an audience of client `{}`",
                        truncate(resource),
                        truncate(client.id.as_str())
                    )),
                    basic_attempted: false,
                });
            }
            if !picked.contains(resource) {
                picked.push(resource.clone());
            }
        }
        Ok(picked)
    }

    fn sign(&self, claims: &Map<String, Value>) -> Result<String, ErrorResponse> {
        let keys = self.keys();
        keys.active()
            .sign_token(self.inner.spec.token_typ, claims)
            .map_err(|error| {
                tracing::error!(%error, "signing an access token failed");
                ErrorResponse::server_error("the server could not sign the token")
            })
    }

    /// Introspection (RFC 7662 §2): any authenticated client may ask.
    pub(crate) fn introspect(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Handled<IntrospectionResponse> {
        self.token_operation(
            content_type,
            authorization,
            body,
            |server, _caller, token, now| {
                Ok(match server.verify(token, now) {
                    Some(claims) => introspection_response(&claims),
                    None => IntrospectionResponse::inactive(),
                })
            },
        )
    }

    /// Revocation (RFC 7009 §2): a client may revoke its own tokens; unknown, invalid or expired
    /// tokens are answered 200 like revoked ones (§2.2).
    pub(crate) fn revoke(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Handled<()> {
        if self.inner.spec.revocation_always_ok {
            // CyberArk answers 200 to every revocation request (D).
            return Handled {
                result: Ok(()),
                client_id: None,
            };
        }
        self.token_operation(
            content_type,
            authorization,
            body,
            |server, caller, token, now| {
                let Some(claims) = server.verify(token, now) else {
                    return Ok(());
                };
                let owner = ["client_id", "azp", "sub"]
                    .iter()
                    .find_map(|name| claims.get(*name).and_then(Value::as_str))
                    .unwrap_or_default();
                if owner != caller.as_str() {
                    // RFC 7009 §2.1: the token must have been issued to the client revoking it.
                    return Err(ErrorResponse::new(
                        ErrorCode::UnauthorizedClient,
                        "the token was not issued to this client",
                    ));
                }
                let (Some(jti), Some(exp)) = (
                    claims.get("jti").and_then(Value::as_str),
                    claims.get("exp").and_then(Value::as_i64),
                ) else {
                    return Ok(());
                };
                let mut revoked = server
                    .inner
                    .revoked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                revoked.retain(|_, expiry| *expiry > now);
                revoked.insert(jti.to_owned(), exp);
                Ok(())
            },
        )
    }

    /// Parses an introspection or revocation request, then the size limits.
    fn parse_token_operation(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenOperationRequest, EndpointError> {
        let params = FormParams::from_request(content_type, body, &[])?;
        self.inner.limits.check_params(&params).map_err(plain)?;
        let request = TokenOperationRequest::from_params(&params, authorization)?;
        self.check_basic_client_id(&request.client_auth)?;
        Ok(request)
    }

    fn token_operation<T>(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
        operate: impl FnOnce(&Self, &ClientId, &str, i64) -> Result<T, ErrorResponse>,
    ) -> Handled<T> {
        let request = match self.parse_token_operation(content_type, authorization, body) {
            Ok(request) => request,
            Err(error) => {
                return Handled {
                    result: Err(error),
                    client_id: None,
                };
            }
        };
        let now = self.inner.clock.unix_seconds();
        let mut client_id = request.client_auth.client_id().cloned();
        let registry = self.registry();
        let result =
            self.authenticate(&registry, &request.client_auth, now)
                .and_then(|authenticated| {
                    client_id = Some(authenticated.client.id.clone());
                    let value = operate(self, &authenticated.client.id, &request.token, now)
                        .map_err(|response| EndpointError {
                            response,
                            basic_attempted: false,
                        })?;
                    self.consume_assertion(&authenticated, now)?;
                    Ok(value)
                });
        Handled { result, client_id }
    }

    /// The claims of a token this server issued and that is active now: signed by a published
    /// key with its algorithm, the profile's `typ`, our issuer, numeric `exp` in the future,
    /// `nbf` (if any) passed, not revoked.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some(self.inner.spec.token_typ) {
            return None;
        }
        let keys = self.keys();
        let key = keys.find(header.kid.as_deref()?)?;
        if header.alg != key.algorithm() {
            return None;
        }
        let mut validation = Validation::new(key.algorithm());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims =
            jsonwebtoken::decode::<Map<String, Value>>(token, key.decoding_key(), &validation)
                .ok()?
                .claims;
        let exp = claims.get("exp").and_then(Value::as_i64)?;
        let nbf_ok = match claims.get("nbf") {
            None => true,
            Some(nbf) => nbf.as_i64().is_some_and(|nbf| nbf <= now),
        };
        let revoked = claims
            .get("jti")
            .and_then(Value::as_str)
            .is_some_and(|jti| {
                self.inner
                    .revoked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains_key(jti)
            });
        let active = claims.get("iss").and_then(Value::as_str) == Some(self.inner.issuer.as_str())
            && exp > now
            && nbf_ok
            && !revoked
            && !self.issued_to_removed_client(&claims);
        active.then_some(claims)
    }

    /// The discovery document (RFC 8414 §2 / OpenID Connect Discovery), with `*_supported`
    /// lists that match what the server really accepts. UserClouds publishes exactly its
    /// documented field set.
    pub(crate) fn metadata(&self) -> Value {
        let spec = self.inner.spec;
        let routes = self.routes();
        let algorithm = format!("{:?}", self.keys().active().algorithm());
        let mut scopes = Scopes::new();
        for client in self.registry().iter() {
            for scope in &client.scopes {
                scopes.insert(scope.clone());
            }
        }
        let scopes: Vec<String> = scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect();
        if spec.claims == ClaimStyle::UserClouds {
            // VENDORS.md (D): exactly these fields. The authorization and userinfo endpoints
            // are the vendor's paths; the mock does not serve them.
            return json!({
                "issuer": self.inner.issuer,
                "authorization_endpoint": self.url("/oidc/authorize"),
                "token_endpoint": self.inner.token_url,
                "jwks_uri": self.url(&routes.jwks),
                "userinfo_endpoint": self.url("/oidc/userinfo"),
                "id_token_signing_alg_values_supported": [algorithm],
                "subject_types_supported": ["public"],
                "scopes_supported": ["openid", "profile", "email"],
                "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", "subject_type", "organization_id"],
                "response_types_supported": ["code"],
            });
        }
        let methods: Vec<String> = spec
            .auth_methods
            .iter()
            .map(|method| method.as_str().to_owned())
            .collect();
        let algorithms: Vec<String> = ASSERTION_ALGORITHMS
            .iter()
            .map(|&alg| alg.to_owned())
            .collect();
        let jwt_methods = spec.auth_methods.contains(&AuthMethod::PrivateKeyJwt);
        let metadata = ServerMetadata {
            issuer: self.inner.issuer.clone(),
            token_endpoint: Some(self.inner.token_url.clone()),
            jwks_uri: Some(self.url(&routes.jwks)),
            introspection_endpoint: routes.introspection.as_deref().map(|path| self.url(path)),
            revocation_endpoint: routes.revocation.as_deref().map(|path| self.url(path)),
            scopes_supported: Some(scopes),
            // No authorization endpoint: no response types (RFC 8414 §2 requires the member).
            response_types_supported: Vec::new(),
            grant_types_supported: Some(vec!["client_credentials".to_owned()]),
            token_endpoint_auth_methods_supported: Some(methods.clone()),
            token_endpoint_auth_signing_alg_values_supported: jwt_methods
                .then(|| algorithms.clone()),
            introspection_endpoint_auth_methods_supported: routes
                .introspection
                .as_ref()
                .map(|_| methods.clone()),
            introspection_endpoint_auth_signing_alg_values_supported: routes
                .introspection
                .as_ref()
                .filter(|_| jwt_methods)
                .map(|_| algorithms.clone()),
            revocation_endpoint_auth_methods_supported: routes
                .revocation
                .as_ref()
                .map(|_| methods.clone()),
            revocation_endpoint_auth_signing_alg_values_supported: routes
                .revocation
                .as_ref()
                .filter(|_| jwt_methods)
                .map(|_| algorithms.clone()),
            ..ServerMetadata::new(self.inner.issuer.clone())
        };
        serde_json::to_value(metadata).unwrap_or_else(|_| json!({"issuer": self.inner.issuer}))
    }

    /// The start-up summary the binary prints after its `listening on` line: endpoints, clients
    /// (ids and scopes; secrets only for the built-in demo clients) and a ready-to-paste curl.
    pub fn banner(&self) -> String {
        use std::fmt::Write as _;
        let routes = self.routes();
        let mut text = String::new();
        let _ = writeln!(text, "issuer:         {}", self.issuer());
        let _ = writeln!(
            text,
            "profile:        {} ({})",
            self.profile(),
            self.spec().vendor
        );
        if let Some(region) = &self.inner.settings.region {
            let _ = writeln!(text, "region:         {region}");
        }
        for path in &routes.token {
            let _ = writeln!(text, "token endpoint: {}", self.url(path));
        }
        let _ = writeln!(text, "jwks:           {}", self.url(&routes.jwks));
        for path in &routes.discovery {
            let _ = writeln!(text, "discovery:      {}", self.url(path));
        }
        if let Some(path) = &routes.introspection {
            let _ = writeln!(text, "introspection:  {}", self.url(path));
        }
        if let Some(path) = &routes.revocation {
            let _ = writeln!(text, "revocation:     {}", self.url(path));
        }
        let keys = self.keys();
        let key = keys.active();
        let _ = writeln!(
            text,
            "signing key:    {:?}, kid {}",
            key.algorithm(),
            key.kid()
        );
        let _ = writeln!(text, "clients:");
        let mut example = None;
        let registry = self.registry();
        for client in registry.iter() {
            let methods: Vec<&str> = client.auth_methods.iter().map(|m| m.as_str()).collect();
            let _ = write!(
                text,
                "  {}  scopes: [{}]  auth: {}",
                client.id,
                client.scopes,
                methods.join(",")
            );
            if let (Some(secret), true) = (&client.secret, client.is_demo) {
                let _ = write!(
                    text,
                    "  secret: {} (built-in demo client)",
                    secret.expose_secret()
                );
                example.get_or_insert((client.id.as_str(), secret.expose_secret()));
            }
            text.push('\n');
        }
        if registry.iter().next().is_none() {
            let _ = writeln!(text, "  (none)");
        }
        if let Some((id, secret)) = example {
            let _ = writeln!(text, "try:");
            let _ = writeln!(
                text,
                "  curl -s -u '{id}:{secret}' -d grant_type=client_credentials {}",
                self.token_url()
            );
        }
        text
    }
}

/// The RFC 7662 §2.2 answer for an active token, from whatever claim style it carries.
fn introspection_response(claims: &Map<String, Value>) -> IntrospectionResponse {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let scope = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(scope)), _) => Scopes::parse(scope).ok(),
        (_, Some(Value::Array(items))) => items
            .iter()
            .map(|item| item.as_str().and_then(|s| Scope::new(s).ok()))
            .collect::<Option<Scopes>>()
            .filter(|scopes| !scopes.is_empty()),
        _ => None,
    };
    let aud = match claims.get("aud") {
        Some(Value::String(aud)) => Some(Audience::one(aud.clone())),
        Some(Value::Array(items)) => Some(Audience::many(
            items.iter().filter_map(Value::as_str).map(str::to_owned),
        )),
        _ => None,
    };
    IntrospectionResponse {
        active: true,
        scope,
        client_id: text("client_id")
            .or_else(|| text("azp"))
            .or_else(|| text("sub")),
        token_type: Some("Bearer".to_owned()),
        exp: number("exp"),
        iat: number("iat"),
        nbf: number("nbf"),
        sub: text("sub"),
        aud,
        iss: text("iss"),
        jti: text("jti"),
        ..IntrospectionResponse::inactive()
    }
}

/// An error answered as is, without a Basic challenge.
fn plain(response: ErrorResponse) -> EndpointError {
    EndpointError {
        response,
        basic_attempted: false,
    }
}
