//! `MockAuthServerBuilder`: every setter writes into one `Settings` value; `into_app` and
//! `start` validate it once. Also `MockAuthServer::builder()` and the one-call
//! `MockAuthServer::start()`.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ccflow_protocol::{BasicCredentials, Clock, Profile, ScenarioSpec, VirtualClock};

use super::error::StartError;
use super::prepare::{build_app, prepare};
use super::running::{MockAuthServer, launch};
use crate::config::ConfigError;
use crate::control::limits::Limits;
use crate::control::throttle::AuthThrottle;
use crate::domain::auth_server::AuthServer;
use crate::domain::clients::Client;
use crate::domain::keys::{KeyRing, SigningKey};
use crate::profiles::ResponseStyle;
use crate::settings::Settings;

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
    ///
    /// Under `slb`, whose `scope` names the audiences a token is for (seed 001), `demo-api` also
    /// becomes a service audience, so `scope=demo-api` is granted: call this after
    /// [`profile`](Self::profile).
    pub fn demo_clients(mut self) -> Self {
        self.settings.clients.extend(crate::config::demo_clients());
        crate::profiles::demo_setup(self.settings.profile, &mut self.settings.profile_settings);
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

    /// Adds an issuer served under `/{name}`, configured by `issuer` on a fresh builder (its
    /// profile, clients, keys, token lifetime, limits, scenarios, clock, DPoP…): one process
    /// then hosts every issuer so added, each its own, as `[[issuers]]` tables do. Its issuer
    /// is `<base>/{name}` plus its profile's issuer path; [`MockAuthServer::issuer_at`] gives
    /// its URLs. Process-wide settings (bind, TLS, workers, the admin API) stay on this
    /// builder; setting them inside, or issuer settings such as clients on this builder too,
    /// fails at start with a [`ConfigError`] naming the setting. `name` must be one URL path
    /// segment (letters, digits, `-._~`), unique, and none of `_ccflow`, `.well-known`,
    /// `healthz`, `readyz`.
    pub fn issuer_named(
        mut self,
        name: impl Into<String>,
        issuer: impl FnOnce(MockAuthServerBuilder) -> MockAuthServerBuilder,
    ) -> Self {
        let settings = issuer(Self::default()).settings;
        self.settings.issuers.push(crate::settings::NamedIssuer {
            name: name.into(),
            settings,
        });
        self
    }

    /// The vendor profile to speak (default: the strict `rfc` profile).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.settings.profile = profile;
        self
    }

    /// The key that signs tokens. Without one, the crate's public test-only default key
    /// ([`SigningKey::process_default`]; ES256 profiles: a P-256 key generated once per process).
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

    /// The public issuer URL (default: `http://<bound address>`). Beside
    /// [`issuer_named`](Self::issuer_named), the public root URL of the process instead: each
    /// issuer without an `issuer` of its own is this, then `/{name}`, then its profile's issuer
    /// path.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.settings.issuer = Some(issuer.into());
        self
    }

    /// Name the issuer after each request instead of one fixed URL: a request that reached the
    /// server as `http://auth:8080` gets tokens with `iss` `http://auth:8080` (plus the
    /// profile's issuer path) and discovery URLs under it, read from `Forwarded` (RFC 7239),
    /// `X-Forwarded-Proto`/`X-Forwarded-Host`, then `Host`. Each name is its own issuer:
    /// introspection and token exchange accept only tokens whose `iss` is the one the request
    /// reached. Off by default; cannot be combined with [`issuer`](Self::issuer).
    pub fn issuer_from_request(mut self, on: bool) -> Self {
        self.settings.issuer_from_request = on;
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

    /// DPoP at the token endpoint (RFC 9449): on/off (default: on for the `rfc` profile, off for
    /// the vendors'), nonces, accepted algorithms, the `iat` window.
    pub fn dpop(mut self, dpop: crate::DpopSettings) -> Self {
        self.settings.dpop = dpop;
        self
    }

    /// Requires `Authorization: Bearer <token>` on the `/_ccflow` admin API. Without a token the
    /// admin API answers only loopback peers.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.settings.admin.token = Some(ccflow_protocol::ClientSecret::new(token));
        self
    }

    /// Another host name the `/_ccflow` admin API and console answer to. By default they answer
    /// only requests whose `Host` is a loopback name (`localhost`, `127.0.0.1`, `[::1]`), the
    /// address the connection arrived on, or the issuer's host: a page on another site whose
    /// name resolves to this server (DNS rebinding) is refused. Requests carrying the admin
    /// token as a bearer token are not checked (no page can send it without knowing it).
    pub fn admin_host(mut self, name: impl Into<String>) -> Self {
        self.settings.admin.hosts.push(name.into());
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

    /// How far ahead of now a `private_key_jwt` assertion's `exp` may lie (default one hour,
    /// as authlib's default assertions need; 30 s of clock-skew leeway on top). Each used
    /// `jti` is refused again until its own assertion's `exp`.
    pub fn client_assertion_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.client_assertion_max_lifetime = lifetime;
        self
    }

    /// The `typ` header of minted access tokens. Default: the profile's — RFC 9068's `at+jwt`
    /// under `rfc`, `JWT` under the vendor profiles (UserClouds documents it; SLB, Cloudentity
    /// and CyberArk show no `at+jwt` anywhere, so `JWT` is inferred).
    pub fn access_token_typ(mut self, typ: impl Into<String>) -> Self {
        self.settings.profile_settings.access_token_typ = Some(typ.into());
        self
    }

    /// How the id and secret inside `Authorization: Basic` are read: `Raw` (as SLB and CyberArk
    /// document them), `Rfc6749` (form-urldecoded, RFC 6749 §2.3.1) or `Either` (raw first,
    /// then the RFC form; both compared in constant time). Default: the profile's (`rfc` and
    /// `userclouds` RFC 6749, the other vendors either).
    pub fn basic_credentials(mut self, form: BasicCredentials) -> Self {
        self.settings.profile_settings.basic_credentials = Some(form);
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

    /// Serve HTTPS: a throw-away certificate authority made at start-up signs a certificate for
    /// `localhost`, `127.0.0.1`, `::1`, the bound address, the issuer's host and `names`; the
    /// running server hands out the CA certificate ([`MockAuthServer::tls_ca_pem`]) for clients
    /// to trust. The base URL and default issuer become `https://…`.
    #[cfg(feature = "tls")]
    pub fn tls<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.tls = Some(crate::settings::TlsSource::Generated {
            names: names.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Serve HTTPS with a certificate chain (leaf first) and its private key from PEM files.
    #[cfg(feature = "tls")]
    pub fn tls_files(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.settings.tls = Some(crate::settings::TlsSource::Files {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Serve HTTPS on `address` as well, with HTTP staying on [`bind`](Self::bind): what a
    /// client moving to HTTPS, or a health probe that speaks plain HTTP, needs. The certificate
    /// is [`tls`](Self::tls)'s or [`tls_files`](Self::tls_files)' (a throw-away CA when neither
    /// was set); the issuer stays the HTTP one unless [`issuer`](Self::issuer) or
    /// [`issuer_from_request`](Self::issuer_from_request) says otherwise (the latter names an
    /// `https://` issuer on the HTTPS port).
    #[cfg(feature = "tls")]
    pub fn https_bind(mut self, address: SocketAddr) -> Self {
        self.settings.https_bind = Some(address);
        self
    }

    /// Also trust the CAs in this PEM file for `tls_client_auth` client certificates (RFC 8705
    /// §2.1), beside the server's generated CA (list intermediate CAs here too: the server
    /// checks the client's end-entity certificate alone).
    #[cfg(feature = "tls")]
    pub fn tls_client_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.settings.tls_client_ca_file = Some(path.into());
        self
    }

    /// The address [`start`](Self::start) will bind.
    pub fn bind_address(&self) -> SocketAddr {
        self.settings.bind_address()
    }

    /// The address set by [`bind`](Self::bind) or by the configuration file's `bind`, if any
    /// (the binary listens on `127.0.0.1:8080` when neither says).
    pub fn configured_bind(&self) -> Option<SocketAddr> {
        self.settings.bind
    }

    /// Builds the server without a socket, for [`configure`](crate::configure) and
    /// `actix_web::test`. `base_url` is where the routes are served (e.g.
    /// `http://localhost:8080`); the issuer is that plus the profile's issuer path, unless
    /// [`issuer`](Self::issuer) was set.
    pub fn into_app(self, base_url: &str) -> Result<AuthServer, StartError> {
        if !self.settings.issuers.is_empty() {
            return Err(ConfigError::field(
                "issuers",
                "an app has one issuer: start a server to serve several",
            )
            .into());
        }
        build_app(prepare(self.settings)?, base_url)
    }

    /// Validates the configuration, binds, starts serving on a background thread, and returns
    /// once connections are accepted.
    pub async fn start(mut self) -> Result<MockAuthServer, StartError> {
        // Beside several issuers, `issuer` is the process's public root URL: each issuer that
        // sets none of its own is `{root}/{name}` plus its profile's issuer path (a compose
        // network name, a published port other than the bound one, a proxy's URL).
        let public_root = if self.settings.issuers.is_empty() {
            None
        } else {
            self.settings.issuer.take()
        };
        if let Some(root) = &public_root {
            super::prepare::validate_issuer(root)?;
        }
        let address = self.settings.bind_address();
        let workers = self.settings.workers;
        let https_bind = self.settings.https_bind;
        // A second, HTTPS port without a certificate source gets a throw-away CA.
        let tls_source = self.settings.tls.clone().or_else(|| {
            https_bind.map(|_| crate::settings::TlsSource::Generated { names: Vec::new() })
        });
        #[cfg(not(feature = "tls"))]
        if tls_source.is_some() {
            return Err(StartError::Start(
                "TLS needs ccflow-auth-server's `tls` feature".to_owned(),
            ));
        }
        #[cfg(feature = "tls")]
        let tls_client_ca_file = self.settings.tls_client_ca_file.clone();
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut mounts = super::issuers::mounts(self.settings)?;
        let (listener, address) = bind_listener(address)?;
        let https = https_bind.map(bind_listener).transpose()?;
        #[cfg(feature = "tls")]
        let tls = match &tls_source {
            Some(source) => {
                // The certificate names the (first) issuer's host; several issuers share it.
                let issuer_host = mounts
                    .first()
                    .and_then(|mount| mount.prepared.settings.issuer.as_deref())
                    .or(public_root.as_deref())
                    .and_then(|issuer| url::Url::parse(issuer).ok())
                    .and_then(|url| url.host_str().map(str::to_owned));
                let tls_address = https.as_ref().map_or(address, |(_, https)| *https);
                let tls = super::tls::ServerTls::new(
                    source,
                    tls_address,
                    issuer_host.as_deref(),
                    tls_client_ca_file.as_deref(),
                )?;
                for mount in &mut mounts {
                    mount.prepared.mtls = Some(tls.mtls_trust());
                    mount.prepared.mtls_base_url = https
                        .as_ref()
                        .map(|(_, https)| default_base_url("https", *https) + &mount.prefix);
                }
                Some(tls)
            }
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let tls: Option<super::running::Tls> = None;
        // With two ports the routes hang under the HTTP one; with one, under its scheme.
        let scheme = if tls.is_some() && https.is_none() {
            "https"
        } else {
            "http"
        };
        let root = match public_root {
            Some(root) => root.trim_end_matches('/').to_owned(),
            None => default_base_url(scheme, address),
        };
        let apps = mounts
            .into_iter()
            .map(|mount| {
                let app = build_app(mount.prepared, &format!("{root}{}", mount.prefix))?;
                Ok((mount.name, app))
            })
            .collect::<Result<Vec<_>, StartError>>()?;
        launch(apps, (listener, address), https, workers, tls).await
    }
}

/// Binds `address`; the listener and the address it got (a real port for port 0).
fn bind_listener(address: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let listener =
        TcpListener::bind(address).map_err(|source| StartError::Bind { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartError::Bind { address, source })?;
    Ok((listener, bound))
}

/// The server's own root URL when no issuer is configured: `http://<bound address>`, except
/// that a wildcard address (`0.0.0.0`, `::`, what a container binds) is no place a client can
/// reach, so the loopback address of its family stands in: `http://127.0.0.1:8080` is what the
/// host sees through `docker run -p 8080:8080`, and what `ccflow-resource-api --profile …`
/// expects. Anything else (a compose network name, another port) needs `--issuer`.
fn default_base_url(scheme: &str, address: SocketAddr) -> String {
    let ip = match address.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, address.port()))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_defaults_the_issuer_to_loopback() {
        let cases = [
            ("0.0.0.0:8080", "http://127.0.0.1:8080"),
            ("[::]:8080", "http://[::1]:8080"),
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("192.0.2.7:9000", "http://192.0.2.7:9000"),
        ];
        for (bind, expected) in cases {
            assert_eq!(
                default_base_url("http", bind.parse().unwrap()),
                expected,
                "{bind}"
            );
        }
    }
}
