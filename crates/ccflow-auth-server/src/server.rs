//! The embeddable server: a builder, and a handle that serves on its own thread until dropped.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use ccflow_protocol::{Profile, ScenarioSpec, SigningAlgorithm};

use crate::config::ConfigError;
use crate::control::expect::{Expectations, RequestAssertion, RequestExpectation};
use crate::control::journal::{Endpoint, JournalEntry};
use crate::control::limits::Limits;
use crate::control::scenarios::ScenarioBuilder;
use crate::control::throttle::AuthThrottle;
use crate::domain::auth_server::AuthServer;
use crate::domain::clients::{Client, ClientError, Registry};
use crate::domain::keys::{KeyError, KeyPolicy, KeyRing, SigningKey};
use crate::profiles::ResponseStyle;
use crate::settings::{Prepared, Settings};
use ccflow_protocol::{Clock, VirtualClock};

/// Why a server could not be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The signing key could not be loaded or generated.
    #[error("signing key: {0}")]
    Key(#[from] KeyError),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server thread failed to start.
    #[error("the server failed to start: {0}")]
    Start(String),
}

/// Configures a [`MockAuthServer`]: clients, profile, key, issuer, clock, address. Every
/// setter writes into one [`Settings`] value, validated once when the server is built.
#[derive(Debug, Default)]
#[must_use]
pub struct MockAuthServerBuilder {
    settings: Settings,
}

impl MockAuthServerBuilder {
    /// Reads a TOML configuration file (see `docs/configuration.md`) into a builder.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        crate::config::load_file(path.as_ref()).map(Self::from_settings)
    }

    /// Reads TOML configuration text (the format of
    /// [`from_config_file`](Self::from_config_file)) into a builder; relative key paths are
    /// resolved against `base_dir`. Every mistake is a [`ConfigError`], whatever the text.
    pub fn from_config_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        crate::config::parse(text, base_dir.as_ref()).map(Self::from_settings)
    }

    pub(crate) fn from_settings(settings: Settings) -> Self {
        Self { settings }
    }

    /// The built-in demo clients (`demo-client` / `demo-secret` and `demo-reporting` /
    /// `reporting-secret`), as the binary uses without a config file.
    pub fn demo_clients(mut self) -> Self {
        self.settings.clients.extend(crate::config::demo_clients());
        self
    }

    /// Registers a client.
    pub fn client(mut self, client: Client) -> Self {
        self.settings.clients.push(client);
        self
    }

    /// Registers several clients.
    pub fn clients(mut self, clients: impl IntoIterator<Item = Client>) -> Self {
        self.settings.clients.extend(clients);
        self
    }

    /// The vendor profile to speak (default: the strict `rfc` profile).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.settings.profile = profile;
        self
    }

    /// The key that signs tokens. Without one, a key generated once per process is used.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.settings.keys = Some(KeyRing::new(key));
        self
    }

    /// Generates keys deterministically from `seed`: the same seed gives the same keys and
    /// `kid`s on every run, for the first key when none is configured and for each rotation
    /// (RSA or, for ES256 profiles, P-256).
    pub fn key_seed(mut self, seed: u64) -> Self {
        self.settings.key_seed = Some(seed);
        self
    }

    /// The RSA modulus size of generated keys: 2048 (default) or 3072.
    pub fn rsa_key_bits(mut self, bits: usize) -> Self {
        self.settings.rsa_key_bits = Some(bits);
        self
    }

    /// A whole key ring (several published keys, one signing).
    pub fn key_ring(mut self, keys: KeyRing) -> Self {
        self.settings.keys = Some(keys);
        self
    }

    /// The public issuer URL (default: `http://<bound address>`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuer = Some(issuer.into());
        self
    }

    /// A clock of your own for issuance and checks (e.g. a `ManualClock` shared with the code
    /// under test). The admin API's `/_ccflow/clock` then answers 409: control it yourself.
    /// Default: a [`VirtualClock`] the server and its admin API control.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.settings.clock = Some(Arc::new(clock));
        self.settings.virtual_clock = None;
        self
    }

    /// A virtual clock shared with the test (the default is a fresh one; see
    /// [`MockAuthServer::clock`]).
    pub fn virtual_clock(mut self, clock: VirtualClock) -> Self {
        self.settings.clock = Some(Arc::new(clock.clone()));
        self.settings.virtual_clock = Some(clock);
        self
    }

    /// How many requests the journal keeps (default 10,000; the oldest go first).
    pub fn journal_capacity(mut self, capacity: usize) -> Self {
        self.settings.journal_capacity = capacity.max(1);
        self
    }

    /// Request size limits: header block, body, parameter count, scope count and length,
    /// `client_id`, `resource`/`audience` and `client_assertion` lengths (default
    /// [`Limits::default`]; see `docs/security.md`).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// Turns on failed-authentication throttling: past the threshold of failed client
    /// authentications per client id or per peer address in a window, the token,
    /// introspection and revocation endpoints answer `429` with `Retry-After` until the window
    /// closes. Off by default. Time is the server's clock, so tests advance it instead of
    /// sleeping; see `docs/security.md`.
    pub fn auth_throttle(mut self, throttle: AuthThrottle) -> Self {
        self.settings.auth_throttle = Some(throttle);
        self
    }

    /// Turns failed-authentication throttling on, keeping the settings given so far (e.g. a
    /// config file's `[throttle]` section with `enabled = false`), else the defaults. What the
    /// binary's `--throttle` does.
    pub fn enable_auth_throttle(mut self) -> Self {
        self.settings.enable_auth_throttle();
        self
    }

    /// Turns failed-authentication throttling off again (the default); its settings are kept
    /// for [`enable_auth_throttle`](Self::enable_auth_throttle).
    pub fn no_auth_throttle(mut self) -> Self {
        self.settings.idle_auth_throttle();
        self
    }

    /// A fault scenario installed from the start (as `[[scenarios]]` in the config file).
    pub fn scenario(mut self, spec: ScenarioSpec) -> Self {
        self.settings.scenarios.push(spec);
        self
    }

    /// Requires `Authorization: Bearer <token>` on the `/_ccflow` admin API. Without a token the
    /// admin API answers only loopback peers.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.settings.admin.token = Some(ccflow_protocol::ClientSecret::new(token));
        self
    }

    /// Serves the `/_ccflow` admin API or not (default: served, loopback only).
    pub fn admin(mut self, enabled: bool) -> Self {
        self.settings.admin.enabled = enabled;
        self
    }

    /// The default token lifetime (default: the profile's, one hour for most, 5 h for
    /// CyberArk); clients may override it. SLB's is fixed at one hour.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.settings.token_ttl = Some(ttl);
        self
    }

    /// Cloudentity: the tenant id in paths and the issuer (default `demo`).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.settings.profile_settings.options.tenant = tenant.into();
        self
    }

    /// Cloudentity: the workspace id in paths and the issuer (default `default`).
    pub fn workspace(mut self, workspace: impl Into<String>) -> Self {
        self.settings.profile_settings.options.workspace = workspace.into();
        self
    }

    /// Cloudentity: the region (`au`, `eu`, `us`); informational, paths do not change.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.settings.profile_settings.region = Some(region.into());
        self
    }

    /// CyberArk: the application id in paths and the issuer (default `ccflow`).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.settings.profile_settings.options.app_id = app_id.into();
        self
    }

    /// SLB: audiences a client may request in `scope` besides other clients' ids (e.g.
    /// `fwk-drillplan.slbservice.com`).
    pub fn service_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.profile_settings.service_audiences =
            audiences.into_iter().map(Into::into).collect();
        self
    }

    /// UserClouds: the seed's response (default) or the vendor server's.
    pub fn response_style(mut self, style: ResponseStyle) -> Self {
        self.settings.profile_settings.response_style = style;
        self
    }

    /// UserClouds: the `organization_id` claim (default: a UUID derived from the issuer).
    pub fn organization_id(mut self, organization_id: impl Into<String>) -> Self {
        self.settings.profile_settings.organization_id = Some(organization_id.into());
        self
    }

    /// The address to listen on (default `127.0.0.1:0`: a free port on loopback).
    pub fn bind(mut self, address: SocketAddr) -> Self {
        self.settings.bind = Some(address);
        self
    }

    /// How many worker threads serve requests (default 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.settings.workers = workers.max(1);
        self
    }

    /// The address [`start`](Self::start) will bind.
    pub fn bind_address(&self) -> SocketAddr {
        self.settings.bind_address()
    }

    /// Builds the server without a socket, for [`configure`](crate::configure) and
    /// `actix_web::test`. `base_url` is where the routes are served (e.g.
    /// `http://localhost:8080`); the issuer is that plus the profile's issuer path, unless
    /// [`issuer`](Self::issuer) was set.
    pub fn into_app(self, base_url: &str) -> Result<AuthServer, StartError> {
        into_app(prepare(self.settings)?, base_url)
    }

    /// Validates the configuration, binds, starts serving on a background thread, and returns
    /// once connections are accepted.
    pub async fn start(self) -> Result<MockAuthServer, StartError> {
        let address = self.settings.bind_address();
        let workers = self.settings.workers;
        let prepared = prepare(self.settings)?;
        let listener =
            TcpListener::bind(address).map_err(|source| StartError::Bind { address, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartError::Bind { address, source })?;
        let app = into_app(prepared, &format!("http://{address}"))?;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let thread_app = app.clone();
        let thread = std::thread::Builder::new()
            .name(format!("ccflow-auth-server-{}", address.port()))
            .spawn(move || serve(thread_app, listener, workers, ready_tx))
            .map_err(|error| StartError::Start(error.to_string()))?;
        match ready_rx.await {
            Ok(Ok(handle)) => Ok(MockAuthServer {
                app,
                expectations: Expectations::default(),
                address,
                handle,
                thread: Some(thread),
            }),
            Ok(Err(error)) => Err(StartError::Start(error)),
            Err(_) => Err(StartError::Start(
                "the server thread ended during start-up".to_owned(),
            )),
        }
    }
}

/// Validates everything that does not depend on the bound address, so a bad configuration
/// fails before any socket is opened. Errors name the config file the settings came from.
fn prepare(settings: Settings) -> Result<Prepared, StartError> {
    let config_file = settings.config_file.clone();
    validate(settings).map_err(|error| match (error, config_file) {
        (StartError::Config(error), Some(file)) if error.file.is_none() => {
            StartError::Config(error.in_file(&file))
        }
        (error, _) => error,
    })
}

fn validate(mut settings: Settings) -> Result<Prepared, StartError> {
    ccflow_protocol::jwt::install_provider();
    if let Some(issuer) = &settings.issuer {
        validate_issuer(issuer)?;
    }
    if settings.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
        return Err(ConfigError::field("token_ttl_secs", "must be at least 1").into());
    }
    let spec = settings.profile.spec();
    let options = &settings.profile_settings.options;
    for (name, value) in [
        ("tenant", &options.tenant),
        ("workspace", &options.workspace),
        ("app_id", &options.app_id),
    ] {
        if value.is_empty()
            || !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~@".contains(c))
        {
            return Err(ConfigError::field(
                name,
                format!("`{value}` must be a non-empty URL path segment (letters, digits, -._~@)"),
            )
            .into());
        }
    }
    settings.limits.validate().map_err(ConfigError::from)?;
    if let Some(throttle) = &settings.auth_throttle {
        throttle.validate().map_err(ConfigError::from)?;
    }
    for (index, scenario) in settings.scenarios.iter().enumerate() {
        scenario
            .validate()
            .map_err(|why| ConfigError::field(format!("scenarios[{index}]"), why))?;
    }
    let registry =
        Registry::new(std::mem::take(&mut settings.clients), spec).map_err(ConfigError::from)?;
    // The default clock is virtual, so the admin API and `MockAuthServer::clock` control it.
    if settings.clock.is_none() {
        settings.virtual_clock = Some(VirtualClock::new());
    }
    if settings
        .rsa_key_bits
        .is_some_and(|bits| bits != 2048 && bits != 3072)
    {
        return Err(ConfigError::field("rsa_key_bits", "must be 2048 or 3072").into());
    }
    let key_policy = KeyPolicy {
        seed: settings.key_seed,
        rsa_bits: settings.rsa_key_bits,
        ..KeyPolicy::default()
    };
    let keys = match (settings.keys.take(), spec.default_signing_algorithm) {
        (Some(keys), _) => keys,
        (None, SigningAlgorithm::Es256) if settings.key_seed.is_some() => {
            KeyRing::new(key_policy.next_key(jsonwebtoken::Algorithm::ES256)?)
        }
        (None, SigningAlgorithm::Es256) => KeyRing::new(SigningKey::process_default_es256()?),
        (None, _) if settings.key_seed.is_some() || settings.rsa_key_bits.is_some() => {
            KeyRing::new(key_policy.next_key(jsonwebtoken::Algorithm::RS256)?)
        }
        (None, _) => KeyRing::new(SigningKey::process_default()?),
    };
    let clock = match (&settings.clock, &settings.virtual_clock) {
        (Some(clock), _) => Arc::clone(clock),
        (None, virtual_clock) => Arc::new(virtual_clock.clone().unwrap_or_default()),
    };
    Ok(Prepared {
        settings,
        registry,
        keys,
        key_policy,
        clock,
    })
}

/// The server itself, once its root URL is known. `default_base` is the server's own root URL
/// (`http://<bound address>`): the issuer is that plus the profile's issuer path, unless an
/// issuer was configured, in which case routes hang under the issuer minus that path.
fn into_app(mut prepared: Prepared, default_base: &str) -> Result<AuthServer, StartError> {
    let settings = &prepared.settings;
    let issuer_path = settings
        .profile_settings
        .options
        .expand(settings.profile.spec().issuer_path);
    let (issuer, base_url) = match prepared.settings.issuer.take() {
        Some(issuer) => {
            let base = issuer
                .strip_suffix(issuer_path.as_str())
                .filter(|_| !issuer_path.is_empty())
                .unwrap_or(&issuer)
                .to_owned();
            (issuer, base)
        }
        None => (
            prepared
                .settings
                .profile
                .issuer(default_base, &prepared.settings.profile_settings.options),
            default_base.to_owned(),
        ),
    };
    validate_issuer(&issuer)?;
    Ok(AuthServer::new(prepared, issuer, base_url))
}

fn validate_issuer(issuer: &str) -> Result<(), ConfigError> {
    // RFC 8414 §2: an https (or, for a local mock, http) URL with no query or fragment.
    let scheme_ok = issuer.starts_with("http://") || issuer.starts_with("https://");
    let host_ok = issuer
        .split("://")
        .nth(1)
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !scheme_ok || !host_ok || issuer.contains(['?', '#']) || issuer.contains(char::is_whitespace)
    {
        return Err(ConfigError::field(
            "issuer",
            format!(
                "`{issuer}` must be an http(s) URL with a host and no query or fragment (RFC 8414 section 2)"
            ),
        ));
    }
    Ok(())
}

/// Runs the actix system on the current (dedicated) thread until the server stops.
fn serve(
    app: AuthServer,
    listener: TcpListener,
    workers: usize,
    ready: tokio::sync::oneshot::Sender<Result<ServerHandle, String>>,
) {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let factory_app = app.clone();
        let server = HttpServer::new(move || {
            App::new()
                .configure(crate::http::configure(factory_app.clone()))
                .default_service(web::to(crate::http::not_found))
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener);
        let server = match server {
            Ok(server) => server.run(),
            Err(error) => {
                let _ = ready.send(Err(error.to_string()));
                return;
            }
        };
        let _ = ready.send(Ok(server.handle()));
        if let Err(error) = server.await {
            tracing::error!(%error, "the server stopped with an error");
        }
    });
}

/// A running mock authorization server. Stops when dropped or on [`shutdown`](Self::shutdown).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ccflow_auth_server::{Client, MockAuthServer};
///
/// let server = MockAuthServer::builder()
///     .client(Client::new("orders-service", "s3cret").scopes(["orders.read"]))
///     .start()
///     .await?;
/// assert!(server.token_url().ends_with("/oauth2/token"));
/// # Ok(()) }
/// ```
pub struct MockAuthServer {
    app: AuthServer,
    expectations: Expectations,
    address: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAuthServer")
            .field("address", &self.address)
            .field("issuer", &self.app.issuer())
            .finish_non_exhaustive()
    }
}

impl MockAuthServer {
    /// Starts configuring a server.
    pub fn builder() -> MockAuthServerBuilder {
        MockAuthServerBuilder::default()
    }

    /// Starts a server on the default settings (the strict `rfc` profile, no clients, a free
    /// port on loopback) and returns it once it accepts connections: the one-call form of
    /// `MockAuthServer::builder().start()`, as wiremock's `MockServer::start()`. Register
    /// clients while it runs with [`add_client`](Self::add_client).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use ccflow_auth_server::{Client, MockAuthServer};
    ///
    /// let server = MockAuthServer::start().await;
    /// server.add_client(Client::new("orders-service", "s3cret")).unwrap();
    /// assert!(server.token_url().starts_with("http://127.0.0.1:"));
    /// assert_eq!(server.app().client_ids(), ["orders-service"]);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the server cannot start (no port to bind, no signing key): a test set-up failure,
    /// reported where it happens. Use the builder to get a [`StartError`] instead.
    pub async fn start() -> Self {
        match Self::builder().start().await {
            Ok(server) => server,
            Err(error) => panic!("the ccflow mock authorization server did not start: {error}"),
        }
    }

    /// The socket address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The base URI, `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        self.app.issuer()
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        self.app.token_url().to_owned()
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        self.app.url(&self.app.routes().jwks)
    }

    /// The discovery document URL (RFC 8414 form where the profile serves it).
    pub fn discovery_url(&self) -> String {
        let routes = self.app.routes();
        self.app.url(
            routes
                .discovery
                .last()
                .map_or("/.well-known/openid-configuration", String::as_str),
        )
    }

    /// The introspection endpoint URL, if the profile has one.
    pub fn introspection_url(&self) -> Option<String> {
        self.app
            .routes()
            .introspection
            .as_deref()
            .map(|path| self.app.url(path))
    }

    /// The revocation endpoint URL, if the profile has one.
    pub fn revocation_url(&self) -> Option<String> {
        self.app
            .routes()
            .revocation
            .as_deref()
            .map(|path| self.app.url(path))
    }

    /// The server's virtual clock: `advance`, `set`, `freeze`, `resume`. `None` when the test
    /// injected a clock of its own with [`MockAuthServerBuilder::clock`].
    pub fn clock(&self) -> Option<&VirtualClock> {
        self.app.inner.virtual_clock.as_ref()
    }

    /// Rotates the signing key (see [`AuthServer::rotate_keys`]); returns the new `kid`.
    pub fn rotate_keys(&self) -> Result<String, KeyError> {
        self.app.rotate_keys()
    }

    /// Starts a fault scenario on the token endpoint, wiremock style:
    /// `server.on_token().for_client("svc-a").times(2).respond(Fault::status(503).retry_after(5))`.
    pub fn on_token(&self) -> ScenarioBuilder {
        self.app.on_token()
    }

    /// Starts a fault scenario on any endpoint (e.g. `Endpoint::Jwks`).
    pub fn on(&self, endpoint: Endpoint) -> ScenarioBuilder {
        self.app.on(endpoint)
    }

    /// Starts a token from the bad-token factory:
    /// `server.mint().client("svc").defect(Defect::Expired).sign()`.
    pub fn mint(&self) -> crate::MintBuilder {
        self.app.mint()
    }

    /// Removes every fault scenario.
    pub fn clear_scenarios(&self) {
        self.app.clear_scenarios();
    }

    /// Registers a client while the server runs (see [`AuthServer::add_client`]).
    pub fn add_client(&self, client: Client) -> Result<(), ClientError> {
        self.app.add_client(client)
    }

    /// Unregisters a client while the server runs: its token requests then fail with
    /// `invalid_client` and its tokens introspect inactive (see [`AuthServer::remove_client`]).
    pub fn remove_client(&self, client_id: &str) -> bool {
        self.app.remove_client(client_id)
    }

    /// The server's state (journal, keys).
    pub fn app(&self) -> &AuthServer {
        &self.app
    }

    /// Every request received so far, oldest first.
    pub fn received_requests(&self) -> Vec<JournalEntry> {
        self.app.journal().entries()
    }

    /// How many requests reached the token endpoint.
    pub fn token_request_count(&self) -> usize {
        self.assert_token_requests().count()
    }

    /// An assertion over the token requests received so far, with a failure message that lists
    /// every request: `server.assert_token_requests().for_client("svc-a").exactly(1)`.
    pub fn assert_token_requests(&self) -> RequestAssertion<'_> {
        RequestAssertion::new(self.app.journal(), Some(Endpoint::Token))
    }

    /// An assertion over the requests to `endpoint` (or all, with `None`).
    pub fn assert_requests(&self, endpoint: Option<Endpoint>) -> RequestAssertion<'_> {
        RequestAssertion::new(self.app.journal(), endpoint)
    }

    /// An expectation on token requests, checked when the server is dropped (or by
    /// [`verify`](Self::verify)): `server.expect_token_requests().for_client("svc").exactly(1)`.
    pub fn expect_token_requests(&self) -> RequestExpectation<'_> {
        RequestExpectation::new(&self.expectations, Some(Endpoint::Token))
    }

    /// An expectation on requests to `endpoint` (or all, with `None`).
    pub fn expect_requests(&self, endpoint: Option<Endpoint>) -> RequestExpectation<'_> {
        RequestExpectation::new(&self.expectations, endpoint)
    }

    /// Checks the registered expectations now (they are not checked again on drop).
    #[track_caller]
    pub fn verify(&self) {
        let failures = self.expectations.failures(self.app.journal());
        self.expectations.clear();
        if let Some(message) = failures {
            panic!("{message}");
        }
    }

    /// Stops accepting, lets in-flight requests finish (5 s at most), and waits for the thread.
    pub async fn shutdown(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            // The server has stopped, so the thread is finishing; don't block the executor.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for MockAuthServer {
    fn drop(&mut self) {
        // Expectations are checked first, and never while the test is already panicking (a
        // second panic would abort and hide the first failure).
        let failures = (!std::thread::panicking())
            .then(|| self.expectations.failures(self.app.journal()))
            .flatten();
        if let Some(thread) = self.thread.take() {
            // `stop` sends its command eagerly; the returned future only waits for completion.
            drop(self.handle.stop(false));
            let _ = thread.join();
        }
        if let Some(message) = failures {
            panic!("{message}");
        }
    }
}
