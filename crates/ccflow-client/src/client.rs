//! `TokenClient`: configuration, discovery, the cached and single-flight `token()`, and the
//! token request itself with retries.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use ccflow_protocol::{
    AuthMethod as WireAuthMethod, CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientId, ClientSecret, Clock,
    Profile, ProfileOptions, Scope, Scopes, ServerMetadata, SystemClock, basic_authorization,
    form_urlencode,
};
use reqwest::header::{self, HeaderValue};
use tracing::Instrument as _;
use url::Url;

use crate::auth::{AuthMethod, client_assertion};
use crate::cache::{Cached, Entry, Fingerprint, TokenCache};
use crate::error::TokenError;
use crate::retry::{RetryPolicy, Sleeper, TokioSleeper, parse_retry_after};
use crate::token::{AccessToken, ExpirySource, ParseContext, parse_token_response};

/// The lifetime assumed when a response has neither `expires_in` nor a JWT `exp`.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The largest default expiry skew (the default is min(30 s, 10 % of the lifetime)).
pub const MAX_DEFAULT_SKEW: Duration = Duration::from_secs(30);
/// The default timeout of one HTTP request to the token or discovery endpoint.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest token response read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Parameters the SDK sets itself and `extra_param` may not override.
const RESERVED_PARAMS: [&str; 8] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "scope",
    "resource",
    "audience",
];

/// Configures a [`TokenClient`]; [`build`](Self::build) checks everything and says what to fix.
#[must_use]
pub struct TokenClientBuilder {
    token_url: Option<String>,
    issuer: Option<String>,
    base_url: Option<String>,
    profile_options: ProfileOptions,
    client_id: Option<String>,
    secret: Option<ClientSecret>,
    auth_method: Option<AuthMethod>,
    scopes: Vec<String>,
    resources: Vec<String>,
    audiences: Vec<String>,
    extra: Vec<(String, String)>,
    profile: Profile,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    skew: Option<Duration>,
    default_lifetime: Duration,
    refresh_ahead: bool,
    request_timeout: Duration,
    cache: Option<TokenCache>,
    allow_insecure_http: bool,
}

impl fmt::Debug for TokenClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClientBuilder")
            .field("token_url", &self.token_url)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("auth_method", &self.auth_method)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Default for TokenClientBuilder {
    fn default() -> Self {
        Self {
            token_url: None,
            issuer: None,
            base_url: None,
            profile_options: ProfileOptions::default(),
            client_id: None,
            secret: None,
            auth_method: None,
            scopes: Vec::new(),
            resources: Vec::new(),
            audiences: Vec::new(),
            extra: Vec::new(),
            profile: Profile::default(),
            http: None,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            retry: RetryPolicy::default(),
            skew: None,
            default_lifetime: DEFAULT_LIFETIME,
            refresh_ahead: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            cache: None,
            allow_insecure_http: false,
        }
    }
}

impl TokenClientBuilder {
    /// The token endpoint URL. Use this or [`issuer`](Self::issuer).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The issuer, for discovery (RFC 8414, then OpenID Connect). The metadata's `issuer`
    /// must equal it exactly.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The vendor's base URL (e.g. `https://csi.slb.com`): with [`profile`](Self::profile),
    /// the token endpoint is the profile's path under it (SLB `/v2/token`, Cloudentity
    /// `/{tenant}/{workspace}/oauth2/token`, CyberArk `/oauth2/token/{app_id}`, UserClouds
    /// `/oauth/token`). Use this, [`token_url`](Self::token_url) or [`issuer`](Self::issuer).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Cloudentity: the tenant id in the profile's paths.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.profile_options.tenant = tenant.into();
        self
    }

    /// Cloudentity: the workspace id in the profile's paths.
    pub fn workspace(mut self, workspace: impl Into<String>) -> Self {
        self.profile_options.workspace = workspace.into();
        self
    }

    /// CyberArk: the application id in the profile's paths.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.profile_options.app_id = app_id.into();
        self
    }

    /// The client id and secret.
    pub fn credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.secret = Some(ClientSecret::new(client_secret));
        self
    }

    /// The client id alone (with [`AuthMethod::PrivateKeyJwt`]).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// How to authenticate. Default: the profile's usual method with `base_url`, from
    /// discovery's `token_endpoint_auth_methods_supported` with `issuer`, else
    /// `client_secret_basic`.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// The scopes to request (none: the server's default for the client).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an RFC 8707 `resource` parameter (repeatable).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Adds an `audience` parameter (repeatable; Auth0/UserClouds style).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds another form parameter to every token request.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The vendor profile: with [`base_url`](Self::base_url) it sets the token path and the
    /// default auth method. Response parsing is lenient for every vendor anyway.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The reqwest client to use. Disable redirects on it: the SDK never follows them (a
    /// redirected token request could leak credentials), and treats a 3xx as an error.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The clock for expiry (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How the client waits between retries (default: tokio's timer). For tests.
    pub fn sleeper(mut self, sleeper: impl Sleeper) -> Self {
        self.sleeper = Arc::new(sleeper);
        self
    }

    /// The retry policy (default: 4 attempts, 200 ms doubling to 5 s, 30 s deadline).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// A fixed expiry skew: tokens are not served once less than this remains. Default
    /// min(30 s, 10 % of the lifetime).
    pub fn expiry_skew(mut self, skew: Duration) -> Self {
        self.skew = Some(skew);
        self
    }

    /// The lifetime assumed when the server gives neither `expires_in` nor a JWT `exp`
    /// (default 300 s, logged once).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// After 80 % of a token's lifetime, serve it while one background refresh runs.
    pub fn refresh_ahead(mut self, enabled: bool) -> Self {
        self.refresh_ahead = enabled;
        self
    }

    /// The timeout of one HTTP request (default 10 s; the retry deadline bounds the total).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Shares a token cache with other clients (default: one cache per client).
    pub fn cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Allows `http://` URLs to hosts other than loopback (never do this in production).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<TokenClient, TokenError> {
        crate::install_crypto_provider();
        let config = |message: String| TokenError::Config(message);
        let spec = self.profile.spec();
        let from_base = match &self.base_url {
            Some(base) => Some(format!(
                "{}/{}",
                self.checked_url("base_url", base)?
                    .as_str()
                    .trim_end_matches('/'),
                self.profile_options
                    .expand(spec.routes.token[0])
                    .trim_start_matches('/')
            )),
            None => None,
        };
        let token_url = match (&self.token_url, from_base) {
            (Some(_), Some(_)) => {
                return Err(config(
                    "set token_url(...) or base_url(...), not both".to_owned(),
                ));
            }
            (url, base) => url.clone().or(base),
        };
        let endpoint = match (&token_url, &self.issuer) {
            (Some(_), Some(_)) => {
                return Err(config(
                    "set token_url(...)/base_url(...) or issuer(...), not both".to_owned(),
                ));
            }
            (None, None) => {
                return Err(config(
                    "set token_url(...) (or CCFLOW_TOKEN_URL), base_url(...) with a profile, or issuer(...) (or CCFLOW_ISSUER)"
                        .to_owned(),
                ));
            }
            (Some(url), None) => {
                Endpoint::TokenUrl(self.checked_url("token_url", url)?.to_string())
            }
            (None, Some(issuer)) => Endpoint::Issuer {
                url: self.checked_url("issuer", issuer)?,
                text: issuer.clone(),
                metadata: Arc::default(),
            },
        };
        let client_id = match self.client_id {
            Some(id) if !id.is_empty() => ClientId::new(id),
            _ => return Err(config(
                "set credentials(client_id, secret) (or CCFLOW_CLIENT_ID and CCFLOW_CLIENT_SECRET)"
                    .to_owned(),
            )),
        };
        match &self.auth_method {
            Some(AuthMethod::PrivateKeyJwt { key, alg, .. }) => key.check_algorithm(*alg)?,
            _ if self.secret.is_none() => {
                return Err(config(format!(
                    "client `{client_id}` has no secret: set credentials(..) or auth_method(AuthMethod::PrivateKeyJwt {{ .. }})"
                )));
            }
            _ => {}
        }
        let mut scopes = Scopes::new();
        for scope in &self.scopes {
            let scope = Scope::new(scope.as_str())
                .map_err(|error| config(format!("scope `{scope}`: {error}")))?;
            scopes.insert(scope);
        }
        for (name, _) in &self.extra {
            if RESERVED_PARAMS.contains(&name.as_str()) || name.is_empty() {
                return Err(config(format!(
                    "extra_param `{name}` is set by the SDK itself; use the dedicated builder method"
                )));
            }
        }
        if self
            .resources
            .iter()
            .chain(&self.audiences)
            .any(String::is_empty)
        {
            return Err(config(
                "resource and audience values must not be empty".to_owned(),
            ));
        }
        if self.default_lifetime.is_zero() {
            return Err(config("default_lifetime must be more than zero".to_owned()));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|error| config(format!("cannot build the HTTP client: {error}")))?,
        };
        let inner = Arc::new(ClientInner {
            http,
            endpoint,
            client_id,
            secret: self.secret,
            auth_method: self.auth_method,
            scopes,
            resources: self.resources,
            audiences: self.audiences,
            extra: self.extra,
            profile: self.profile,
            clock: self.clock,
            sleeper: self.sleeper,
            retry: self.retry,
            skew: self.skew,
            default_lifetime: self.default_lifetime,
            refresh_ahead: self.refresh_ahead,
            request_timeout: self.request_timeout,
            cache: self.cache.unwrap_or_default(),
            entry: OnceLock::new(),
            warned_default_lifetime: AtomicBool::new(false),
        });
        if let Endpoint::TokenUrl(url) = &inner.endpoint {
            let method = inner
                .auth_method
                .clone()
                .unwrap_or(match spec.sdk_auth_method {
                    WireAuthMethod::ClientSecretPost => AuthMethod::ClientSecretPost,
                    _ => AuthMethod::ClientSecretBasic,
                });
            let entry = inner
                .cache
                .entry(inner.fingerprint(url, &method), inner.clock.now());
            let _ = inner.entry.set((entry, url.clone(), method));
        }
        Ok(TokenClient { inner })
    }

    fn checked_url(&self, what: &str, text: &str) -> Result<Url, TokenError> {
        let url = Url::parse(text).map_err(|error| {
            TokenError::Config(format!("{what} `{text}` is not a URL: {error}"))
        })?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_insecure_http || is_loopback(&url) => Ok(url),
            "http" => Err(TokenError::Config(format!(
                "{what} `{text}` is plain http to a non-loopback host: use https (or allow_insecure_http(true) for a test network)"
            ))),
            other => Err(TokenError::Config(format!(
                "{what} `{text}` has scheme `{other}`; use https"
            ))),
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Where the token endpoint comes from.
#[allow(
    clippy::large_enum_variant,
    reason = "one per client, never moved on a hot path"
)]
enum Endpoint {
    TokenUrl(String),
    Issuer {
        url: Url,
        text: String,
        /// Shared with clients derived by `with_scopes`, so discovery runs once for all.
        metadata: Arc<tokio::sync::OnceCell<ServerMetadata>>,
    },
}

struct ClientInner {
    http: reqwest::Client,
    endpoint: Endpoint,
    client_id: ClientId,
    secret: Option<ClientSecret>,
    auth_method: Option<AuthMethod>,
    scopes: Scopes,
    resources: Vec<String>,
    audiences: Vec<String>,
    extra: Vec<(String, String)>,
    profile: Profile,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    skew: Option<Duration>,
    default_lifetime: Duration,
    refresh_ahead: bool,
    request_timeout: Duration,
    cache: TokenCache,
    /// This client's cache entry, token endpoint and auth method, once known.
    entry: OnceLock<(Arc<Entry>, String, AuthMethod)>,
    warned_default_lifetime: AtomicBool,
}

/// Gets, caches and refreshes client-credentials access tokens. Cheap to clone (one `Arc`);
/// clones share the cache and in-flight requests.
///
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct TokenClient {
    inner: Arc<ClientInner>,
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let endpoint = match &inner.endpoint {
            Endpoint::TokenUrl(url) => url.as_str(),
            Endpoint::Issuer { text, .. } => text.as_str(),
        };
        f.debug_struct("TokenClient")
            .field("endpoint", &endpoint)
            .field("client_id", &inner.client_id)
            .field("secret", &inner.secret)
            .field("scopes", &inner.scopes)
            .field("profile", &inner.profile)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// Starts configuring a client.
    pub fn builder() -> TokenClientBuilder {
        TokenClientBuilder::default()
    }

    /// A builder filled from the environment (see [`TokenClient::from_env`]), to adjust further.
    pub fn builder_from_env() -> Result<TokenClientBuilder, TokenError> {
        builder_from_vars(|name| std::env::var(name).ok())
    }

    /// A client configured from the environment:
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `CCFLOW_TOKEN_URL` or `CCFLOW_ISSUER` | the token endpoint, or the issuer to discover it from |
    /// | `CCFLOW_CLIENT_ID` | the client id |
    /// | `CCFLOW_CLIENT_SECRET` or `CCFLOW_CLIENT_SECRET_FILE` | the secret, or a file holding it (one trailing newline is ignored) |
    /// | `CCFLOW_SCOPE` | space-separated scopes (optional) |
    /// | `CCFLOW_RESOURCE`, `CCFLOW_AUDIENCE` | space-separated resource / audience values (optional) |
    /// | `CCFLOW_AUTH_METHOD` | `client_secret_basic` or `client_secret_post` (optional) |
    pub fn from_env() -> Result<Self, TokenError> {
        Self::builder_from_env()?.build()
    }

    /// A client for the same server and credentials requesting other scopes. It shares this
    /// client's cache, under its own fingerprint.
    pub fn with_scopes<I, S>(&self, scopes: I) -> Result<Self, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = Scopes::new();
        for scope in scopes {
            let scope: String = scope.into();
            set.insert(
                Scope::new(scope.as_str())
                    .map_err(|error| TokenError::Config(format!("scope `{scope}`: {error}")))?,
            );
        }
        let inner = &*self.inner;
        let endpoint = match &inner.endpoint {
            Endpoint::TokenUrl(url) => Endpoint::TokenUrl(url.clone()),
            Endpoint::Issuer {
                url,
                text,
                metadata,
            } => Endpoint::Issuer {
                url: url.clone(),
                text: text.clone(),
                metadata: metadata.clone(),
            },
        };
        let derived = Arc::new(ClientInner {
            http: inner.http.clone(),
            endpoint,
            client_id: inner.client_id.clone(),
            secret: inner.secret.clone(),
            auth_method: inner.auth_method.clone(),
            scopes: set,
            resources: inner.resources.clone(),
            audiences: inner.audiences.clone(),
            extra: inner.extra.clone(),
            profile: inner.profile,
            clock: inner.clock.clone(),
            sleeper: inner.sleeper.clone(),
            retry: inner.retry.clone(),
            skew: inner.skew,
            default_lifetime: inner.default_lifetime,
            refresh_ahead: inner.refresh_ahead,
            request_timeout: inner.request_timeout,
            cache: inner.cache.clone(),
            entry: OnceLock::new(),
            warned_default_lifetime: AtomicBool::new(false),
        });
        if let Some((_, url, method)) = inner.entry.get() {
            let entry = derived
                .cache
                .entry(derived.fingerprint(url, method), derived.clock.now());
            let _ = derived.entry.set((entry, url.clone(), method.clone()));
        }
        Ok(Self { inner: derived })
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.client_id
    }

    /// The cache this client uses.
    pub fn cache(&self) -> &TokenCache {
        &self.inner.cache
    }

    /// A valid access token: the cached one while it is fresh, else a new one. Concurrent
    /// callers share one request; a caller that gives up does not cancel it for the others.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let (entry, endpoint, method) = match self.inner.entry.get() {
            Some(resolved) => resolved,
            None => self.resolve().await?,
        };
        let now = self.inner.clock.now();
        if let Some((token, false)) = entry.fresh(now) {
            return Ok(token);
        }
        let started = Instant::now();
        let inner = Arc::clone(&self.inner);
        let endpoint_owned = endpoint.clone();
        let method_owned = method.clone();
        let (result, outcome) = entry
            .get(now, move || async move {
                inner.fetch(&endpoint_owned, &method_owned).await
            })
            .await;
        tracing::debug!(
            target: "ccflow_client::cache",
            client_id = %self.inner.client_id,
            outcome = ?outcome,
            waited_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            ok = result.is_ok(),
            "token"
        );
        result
    }

    /// Forgets the cached token if it is still `token` (compare-and-swap): call it when an API
    /// rejected `token`; a newer token fetched meanwhile is kept. Returns whether it forgot it.
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.inner
            .entry
            .get()
            .is_some_and(|(entry, _, _)| entry.invalidate(token))
    }

    /// Discovers the token endpoint (once; failures are not cached) and picks the auth method.
    async fn resolve(&self) -> Result<&(Arc<Entry>, String, AuthMethod), TokenError> {
        let inner = &*self.inner;
        let Endpoint::Issuer {
            url,
            text,
            metadata,
        } = &inner.endpoint
        else {
            unreachable!("clients with a token_url resolve their entry at build()");
        };
        let metadata = metadata
            .get_or_try_init(|| {
                crate::discovery::discover(&inner.http, url, text, inner.request_timeout)
            })
            .await?;
        let token_url = metadata.token_endpoint.clone().unwrap_or_default();
        Url::parse(&token_url).map_err(|_| TokenError::Discovery {
            issuer: text.clone(),
            reason: format!("token_endpoint `{token_url}` is not a URL"),
        })?;
        let method = match &inner.auth_method {
            Some(method) => method.clone(),
            None => choose_auth_method(metadata.token_endpoint_auth_methods_supported.as_deref())
                .map_err(|reason| TokenError::Discovery {
                issuer: text.clone(),
                reason,
            })?,
        };
        let entry = inner
            .cache
            .entry(inner.fingerprint(&token_url, &method), inner.clock.now());
        let _ = inner.entry.set((entry, token_url, method));
        Ok(inner.entry.get().expect("the entry was just set"))
    }
}

/// RFC 8414 §2: an absent list means `client_secret_basic`.
fn choose_auth_method(supported: Option<&[String]>) -> Result<AuthMethod, String> {
    let Some(supported) = supported else {
        return Ok(AuthMethod::ClientSecretBasic);
    };
    let has = |method: WireAuthMethod| supported.iter().any(|m| m == method.as_str());
    if has(WireAuthMethod::ClientSecretBasic) {
        Ok(AuthMethod::ClientSecretBasic)
    } else if has(WireAuthMethod::ClientSecretPost) {
        Ok(AuthMethod::ClientSecretPost)
    } else {
        Err(format!(
            "the server supports none of client_secret_basic, client_secret_post (it lists: {}); configure auth_method(...)",
            supported.join(", ")
        ))
    }
}

impl ClientInner {
    fn fingerprint(&self, token_url: &str, method: &AuthMethod) -> Fingerprint {
        let sorted = |values: &[String]| {
            let mut values = values.to_vec();
            values.sort();
            values.dedup();
            values
        };
        let mut scopes: Vec<&str> = self.scopes.iter().map(Scope::as_str).collect();
        scopes.sort_unstable();
        let mut extra = self.extra.clone();
        extra.sort();
        Fingerprint::new(&serde_json::json!([
            token_url,
            self.client_id.as_str(),
            method.as_str(),
            scopes,
            sorted(&self.resources),
            sorted(&self.audiences),
            extra,
        ]))
    }

    /// One token fetch with retries, as the spawned single-flight task runs it.
    async fn fetch(
        self: Arc<Self>,
        token_url: &str,
        method: &AuthMethod,
    ) -> Result<Cached, TokenError> {
        let host = Url::parse(token_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        let deadline = self.clock.now() + self.retry.deadline;
        let mut attempt = 1;
        loop {
            let span = tracing::info_span!("ccflow_client.fetch", client_id = %self.client_id, endpoint_host = %host, attempt);
            let started = Instant::now();
            let result = self
                .fetch_once(token_url, method, deadline)
                .instrument(span.clone())
                .await;
            let latency_ms = started.elapsed().as_secs_f64() * 1e3;
            let (error, retry_after) = match result {
                Ok(cached) => {
                    span.in_scope(|| tracing::debug!(latency_ms, "token fetched"));
                    return Ok(cached);
                }
                Err(failure) => failure,
            };
            span.in_scope(|| tracing::warn!(latency_ms, error = %error, retryable = error.is_retryable(), "token request failed"));
            if !error.is_retryable() || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let delay = self.retry.delay(attempt, retry_after);
            if self.clock.now() + delay > deadline {
                // Waiting would overrun the deadline: report the real failure now.
                return Err(error);
            }
            self.sleeper.sleep(delay).await;
            attempt += 1;
        }
    }

    /// One HTTP attempt; a failure comes with the server's `Retry-After`, if any.
    async fn fetch_once(
        &self,
        token_url: &str,
        method: &AuthMethod,
        deadline: SystemTime,
    ) -> Result<Cached, (TokenError, Option<Duration>)> {
        let now = self.clock.now();
        let remaining = deadline.duration_since(now).unwrap_or_default();
        let timeout = self
            .request_timeout
            .min(remaining.max(Duration::from_millis(1)));
        let mut body = String::from("grant_type=client_credentials");
        let mut push = |name: &str, value: &str| {
            body.push('&');
            body.push_str(name);
            body.push('=');
            body.push_str(&form_urlencode(value));
        };
        if !self.scopes.is_empty() {
            push("scope", &self.scopes.to_string());
        }
        for resource in &self.resources {
            push("resource", resource);
        }
        for audience in &self.audiences {
            push("audience", audience);
        }
        for (name, value) in &self.extra {
            body.push('&');
            body.push_str(&form_urlencode(name));
            body.push('=');
            body.push_str(&form_urlencode(value));
        }
        let secret = self.secret.as_ref().map(ClientSecret::expose_secret);
        let mut request = self
            .http
            .post(token_url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .timeout(timeout);
        match method {
            AuthMethod::ClientSecretBasic => {
                let mut value = HeaderValue::from_str(&basic_authorization(
                    self.client_id.as_str(),
                    secret.unwrap_or_default(),
                ))
                .map_err(|_| {
                    (
                        TokenError::Config(
                            "the Basic credentials are not a valid header value".to_owned(),
                        ),
                        None,
                    )
                })?;
                value.set_sensitive(true);
                request = request.header(header::AUTHORIZATION, value);
            }
            AuthMethod::ClientSecretPost => {
                body.push_str("&client_id=");
                body.push_str(&form_urlencode(self.client_id.as_str()));
                body.push_str("&client_secret=");
                body.push_str(&form_urlencode(secret.unwrap_or_default()));
            }
            AuthMethod::PrivateKeyJwt { key, alg, kid } => {
                let assertion = client_assertion(
                    key,
                    *alg,
                    kid.as_deref(),
                    self.client_id.as_str(),
                    token_url,
                    now,
                )
                .map_err(|error| (error, None))?;
                body.push_str("&client_id=");
                body.push_str(&form_urlencode(self.client_id.as_str()));
                body.push_str("&client_assertion_type=");
                body.push_str(&form_urlencode(CLIENT_ASSERTION_TYPE_JWT_BEARER));
                body.push_str("&client_assertion=");
                body.push_str(&assertion);
            }
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|error| (self.transport_error(token_url, error, timeout), None))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, now));
        let bytes = read_limited(response)
            .await
            .map_err(|error| (self.transport_error(token_url, error, timeout), retry_after))?;
        let received_at = self.clock.now();
        let context = ParseContext {
            status,
            content_type: content_type.as_deref(),
            now: received_at,
            requested_scopes: &self.scopes,
            default_lifetime: self.default_lifetime,
            client_secret: secret,
        };
        let (token, source) =
            parse_token_response(&bytes, &context).map_err(|error| (error, retry_after))?;
        if source == ExpirySource::Default
            && !self.warned_default_lifetime.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                client_id = %self.client_id,
                default_lifetime_secs = self.default_lifetime.as_secs(),
                "the token response has no expires_in and the token is not a JWT with exp: assuming the default lifetime (logged once)"
            );
        }
        Ok(self.schedule(token))
    }

    /// When a token stops being served (and, with refresh-ahead, when to refresh it).
    fn schedule(&self, token: AccessToken) -> Cached {
        let lifetime = token.lifetime();
        let skew = self
            .skew
            .unwrap_or_else(|| (lifetime / 10).min(MAX_DEFAULT_SKEW));
        let stale_at = token
            .expires_at()
            .checked_sub(skew)
            .unwrap_or(token.issued_at());
        let refresh_at = self
            .refresh_ahead
            .then(|| token.issued_at() + lifetime.mul_f64(0.8));
        Cached {
            token,
            stale_at,
            refresh_at,
        }
    }

    fn transport_error(
        &self,
        endpoint: &str,
        error: reqwest::Error,
        timeout: Duration,
    ) -> TokenError {
        if error.is_timeout() {
            TokenError::Timeout {
                endpoint: endpoint.to_owned(),
                after: timeout,
            }
        } else {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            TokenError::Transport {
                endpoint: endpoint.to_owned(),
                message,
                source: Some(Arc::new(error)),
            }
        }
    }
}

/// Reads at most [`MAX_RESPONSE_BYTES`]; anything longer is cut (it is not a token response).
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(body)
}

/// Fills a builder from environment-like variables.
pub(crate) fn builder_from_vars(
    var: impl Fn(&str) -> Option<String>,
) -> Result<TokenClientBuilder, TokenError> {
    let config = |message: String| TokenError::Config(message);
    let non_empty = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    let mut builder = TokenClient::builder();
    match (non_empty("CCFLOW_TOKEN_URL"), non_empty("CCFLOW_ISSUER")) {
        (Some(_), Some(_)) => {
            return Err(config(
                "set CCFLOW_TOKEN_URL or CCFLOW_ISSUER, not both".to_owned(),
            ));
        }
        (Some(url), None) => builder = builder.token_url(url.trim()),
        (None, Some(issuer)) => builder = builder.issuer(issuer.trim()),
        (None, None) => return Err(config("set CCFLOW_TOKEN_URL or CCFLOW_ISSUER".to_owned())),
    }
    let client_id =
        non_empty("CCFLOW_CLIENT_ID").ok_or_else(|| config("set CCFLOW_CLIENT_ID".to_owned()))?;
    let secret = match (
        var("CCFLOW_CLIENT_SECRET"),
        non_empty("CCFLOW_CLIENT_SECRET_FILE"),
    ) {
        (Some(_), Some(_)) => {
            return Err(config(
                "set CCFLOW_CLIENT_SECRET or CCFLOW_CLIENT_SECRET_FILE, not both".to_owned(),
            ));
        }
        (Some(secret), None) => secret,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|error| {
                config(format!(
                    "CCFLOW_CLIENT_SECRET_FILE `{path}` cannot be read: {error}"
                ))
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            text.strip_suffix('\r').unwrap_or(text).to_owned()
        }
        (None, None) => {
            return Err(config(
                "set CCFLOW_CLIENT_SECRET or CCFLOW_CLIENT_SECRET_FILE".to_owned(),
            ));
        }
    };
    builder = builder.credentials(client_id, secret);
    if let Some(scope) = non_empty("CCFLOW_SCOPE") {
        builder = builder.scopes(scope.split_whitespace().map(str::to_owned));
    }
    for resource in non_empty("CCFLOW_RESOURCE")
        .iter()
        .flat_map(|value| value.split_whitespace())
    {
        builder = builder.resource(resource);
    }
    for audience in non_empty("CCFLOW_AUDIENCE")
        .iter()
        .flat_map(|value| value.split_whitespace())
    {
        builder = builder.audience(audience);
    }
    if let Some(method) = non_empty("CCFLOW_AUTH_METHOD") {
        builder = builder.auth_method(match method.trim() {
            "client_secret_basic" => AuthMethod::ClientSecretBasic,
            "client_secret_post" => AuthMethod::ClientSecretPost,
            other => {
                return Err(config(format!(
                    "CCFLOW_AUTH_METHOD `{other}`: use client_secret_basic or client_secret_post"
                )));
            }
        });
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[track_caller]
    fn config_error(builder: TokenClientBuilder, mentions: &str) {
        match builder.build() {
            Err(TokenError::Config(message)) => assert!(
                message.contains(mentions),
                "`{message}` should mention `{mentions}`"
            ),
            other => panic!("expected a Config error mentioning `{mentions}`, got {other:?}"),
        }
    }

    fn base() -> TokenClientBuilder {
        TokenClient::builder()
            .token_url("https://as.example/token")
            .credentials("svc", "secret")
    }

    #[test]
    fn build_says_what_to_fix() {
        config_error(TokenClient::builder().credentials("a", "b"), "token_url");
        config_error(base().base_url("https://as.example"), "not both");
        config_error(base().issuer("https://as.example"), "not both");
        config_error(
            TokenClient::builder().token_url("https://as.example/token"),
            "credentials",
        );
        config_error(
            TokenClient::builder()
                .token_url("https://as.example/token")
                .client_id("svc"),
            "no secret",
        );
        config_error(base().token_url("not a url"), "not a URL");
        config_error(base().token_url("http://as.example/token"), "plain http");
        config_error(base().token_url("ftp://as.example/token"), "scheme");
        config_error(base().scopes(["good", "bad scope"]), "scope `bad scope`");
        config_error(
            base().extra_param("client_secret", "x"),
            "extra_param `client_secret`",
        );
        config_error(base().resource(""), "must not be empty");
        config_error(base().default_lifetime(Duration::ZERO), "default_lifetime");
        let ec = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/keys/client-es256.pem"
        ))
        .unwrap();
        let key = crate::PrivateKey::from_pem(&ec).unwrap();
        config_error(
            base().auth_method(AuthMethod::PrivateKeyJwt {
                key,
                alg: jsonwebtoken::Algorithm::RS256,
                kid: None,
            }),
            "does not fit",
        );
    }

    #[test]
    fn loopback_http_is_allowed_and_other_http_only_when_asked() {
        for url in [
            "http://127.0.0.1:8080/token",
            "http://localhost/token",
            "http://[::1]:1/token",
        ] {
            base().token_url(url).build().unwrap();
        }
        base()
            .token_url("http://auth.test/token")
            .allow_insecure_http(true)
            .build()
            .unwrap();
    }

    fn from_vars(vars: &[(&str, &str)]) -> Result<TokenClient, TokenError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        builder_from_vars(|name| map.get(name).cloned())?.build()
    }

    #[test]
    fn from_env_reads_the_documented_variables() {
        let client = from_vars(&[
            ("CCFLOW_TOKEN_URL", "https://as.example/token"),
            ("CCFLOW_CLIENT_ID", "svc"),
            ("CCFLOW_CLIENT_SECRET", "s"),
            ("CCFLOW_SCOPE", "a  b"),
            ("CCFLOW_AUDIENCE", "api-1 api-2"),
        ])
        .unwrap();
        assert_eq!(client.client_id().as_str(), "svc");
        assert_eq!(client.inner.scopes.to_string(), "a b");
        assert_eq!(client.inner.audiences, ["api-1", "api-2"]);
    }

    #[test]
    fn from_env_reads_the_secret_from_a_file_without_its_newline() {
        let path = std::env::temp_dir().join(format!("ccflow-secret-{}", std::process::id()));
        std::fs::write(&path, "file-secret\n").unwrap();
        let client = from_vars(&[
            ("CCFLOW_ISSUER", "https://as.example"),
            ("CCFLOW_CLIENT_ID", "svc"),
            ("CCFLOW_CLIENT_SECRET_FILE", path.to_str().unwrap()),
        ])
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            client.inner.secret.as_ref().unwrap().expose_secret(),
            "file-secret"
        );
    }

    #[test]
    fn from_env_explains_what_is_missing() {
        let error = |vars: &[(&str, &str)]| from_vars(vars).unwrap_err().to_string();
        assert!(error(&[]).contains("CCFLOW_TOKEN_URL or CCFLOW_ISSUER"));
        assert!(error(&[("CCFLOW_TOKEN_URL", "https://a/t")]).contains("CCFLOW_CLIENT_ID"));
        assert!(
            error(&[
                ("CCFLOW_TOKEN_URL", "https://a/t"),
                ("CCFLOW_CLIENT_ID", "x")
            ])
            .contains("CCFLOW_CLIENT_SECRET")
        );
        let unreadable = error(&[
            ("CCFLOW_TOKEN_URL", "https://a/t"),
            ("CCFLOW_CLIENT_ID", "x"),
            ("CCFLOW_CLIENT_SECRET_FILE", "/nonexistent/ccflow-secret"),
        ]);
        assert!(unreadable.contains("cannot be read"), "{unreadable}");
        assert!(
            error(&[
                ("CCFLOW_TOKEN_URL", "https://a/t"),
                ("CCFLOW_ISSUER", "https://a")
            ])
            .contains("not both")
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let builder = base().credentials("svc", "hunter2-canary");
        assert!(!format!("{builder:?}").contains("hunter2-canary"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("hunter2-canary"));
    }

    #[test]
    fn auth_method_choice_follows_the_metadata() {
        let list = |methods: &[&str]| methods.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
        assert!(matches!(
            choose_auth_method(None),
            Ok(AuthMethod::ClientSecretBasic)
        ));
        assert!(matches!(
            choose_auth_method(Some(&list(&["client_secret_post"]))),
            Ok(AuthMethod::ClientSecretPost)
        ));
        assert!(matches!(
            choose_auth_method(Some(&list(&["client_secret_post", "client_secret_basic"]))),
            Ok(AuthMethod::ClientSecretBasic)
        ));
        assert!(
            choose_auth_method(Some(&list(&["tls_client_auth"])))
                .unwrap_err()
                .contains("tls_client_auth")
        );
    }
}
