//! Everything a server is made from, as one value: the builder, the config file and the
//! binary's flags all fill a [`Settings`], and the server is built from it once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ccflow_protocol::{ClientSecret, Clock, Profile, ScenarioSpec, VirtualClock};

use crate::control::journal::JOURNAL_CAPACITY;
use crate::control::limits::Limits;
use crate::control::throttle::AuthThrottle;
use crate::domain::assertion::DEFAULT_MAX_ASSERTION_LIFETIME;
use crate::domain::clients::{Client, Registry};
use crate::domain::dpop::DpopSettings;
use crate::domain::keys::{KeyPolicy, KeyRing};
use crate::profiles::ProfileSettings;

/// Who may use the admin API.
#[derive(Debug, Clone)]
pub(crate) struct AdminSettings {
    pub(crate) enabled: bool,
    /// When set, required as a bearer token (and then non-loopback peers are allowed).
    pub(crate) token: Option<ClientSecret>,
    /// Host names the admin API and console answer to besides the loopback names, the address
    /// a connection arrived on and the issuer's host (DNS-rebinding protection, `http::admin`).
    pub(crate) hosts: Vec<String>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            token: None,
            hosts: Vec::new(),
        }
    }
}

/// The server's configuration, not yet validated.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) clients: Vec<Client>,
    pub(crate) profile: Profile,
    /// The key ring to start with; without one a key is generated (or the process default).
    pub(crate) keys: Option<KeyRing>,
    pub(crate) key_seed: Option<u64>,
    pub(crate) rsa_key_bits: Option<usize>,
    pub(crate) issuer: Option<String>,
    /// Name the issuer after each request's scheme and host (`issuer_from_request`).
    pub(crate) issuer_from_request: bool,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) virtual_clock: Option<VirtualClock>,
    pub(crate) admin: AdminSettings,
    pub(crate) token_ttl: Option<Duration>,
    /// How far ahead a `private_key_jwt` assertion's `exp` may lie.
    pub(crate) client_assertion_max_lifetime: Duration,
    pub(crate) profile_settings: ProfileSettings,
    pub(crate) scenarios: Vec<ScenarioSpec>,
    pub(crate) journal_capacity: usize,
    pub(crate) limits: Limits,
    pub(crate) auth_throttle: Option<AuthThrottle>,
    /// DPoP at the token endpoint (RFC 9449).
    pub(crate) dpop: DpopSettings,
    /// Throttle settings given while throttling is off (`[throttle] enabled = false`), used if
    /// it is turned on later (`--throttle`).
    pub(crate) idle_throttle: Option<AuthThrottle>,
    /// The address to listen on; `None` is [`Settings::DEFAULT_BIND`].
    pub(crate) bind: Option<SocketAddr>,
    /// Also serve HTTPS on this address (HTTP stays on `bind`).
    pub(crate) https_bind: Option<SocketAddr>,
    pub(crate) workers: usize,
    /// HTTPS instead of HTTP, and where the certificate comes from.
    pub(crate) tls: Option<TlsSource>,
    /// More CAs (PEM) trusted for `tls_client_auth` client certificates (RFC 8705 §2.1),
    /// beside the generated CA.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "read only with the `tls` feature")
    )]
    pub(crate) tls_client_ca_file: Option<PathBuf>,
    /// The file the settings came from, named in configuration errors.
    pub(crate) config_file: Option<PathBuf>,
    /// Several issuers in one process (`[[issuers]]`, `issuer_named`): each is served under
    /// `/{name}` with settings of its own; empty means one issuer at the root (these settings).
    pub(crate) issuers: Vec<NamedIssuer>,
}

/// One issuer of a several-issuer server: its name (the path prefix `/{name}`) and its own
/// settings (the process-wide ones, such as `bind` or the admin token, stay on the outer value).
#[derive(Debug)]
pub(crate) struct NamedIssuer {
    pub(crate) name: String,
    pub(crate) settings: Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            profile: Profile::default(),
            keys: None,
            key_seed: None,
            rsa_key_bits: None,
            issuer: None,
            issuer_from_request: false,
            clock: None,
            virtual_clock: None,
            admin: AdminSettings::default(),
            token_ttl: None,
            client_assertion_max_lifetime: DEFAULT_MAX_ASSERTION_LIFETIME,
            profile_settings: ProfileSettings::default(),
            scenarios: Vec::new(),
            journal_capacity: JOURNAL_CAPACITY,
            limits: Limits::default(),
            auth_throttle: None,
            dpop: DpopSettings::default(),
            idle_throttle: None,
            bind: None,
            https_bind: None,
            workers: 1,
            tls: None,
            tls_client_ca_file: None,
            config_file: None,
            issuers: Vec::new(),
        }
    }
}

impl Settings {
    /// A free port on loopback.
    pub(crate) const DEFAULT_BIND: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

    /// The address to listen on.
    pub(crate) fn bind_address(&self) -> SocketAddr {
        self.bind.unwrap_or(Self::DEFAULT_BIND)
    }

    /// Turns throttling off, keeping its settings for a later `--throttle`.
    pub(crate) fn idle_auth_throttle(&mut self) {
        if let Some(settings) = self.auth_throttle.take() {
            self.idle_throttle = Some(settings);
        }
    }

    /// Turns throttling on with the settings given so far, else the defaults.
    pub(crate) fn enable_auth_throttle(&mut self) {
        if self.auth_throttle.is_none() {
            self.auth_throttle = Some(self.idle_throttle.take().unwrap_or_default());
        }
    }
}

/// Validated settings, with what validation made of them: the client registry, the first key
/// ring and the clock. Waits only for its issuer, which may depend on the bound port.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The rest of the settings (their clients are in `registry`, their keys in `keys`).
    pub(crate) settings: Settings,
    pub(crate) registry: Registry,
    pub(crate) keys: KeyRing,
    pub(crate) key_policy: KeyPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    /// Mutual TLS trust, set once the server's TLS is made (`None` over plain HTTP).
    pub(crate) mtls: Option<crate::domain::mtls::MtlsTrust>,
    /// The HTTPS base URL when HTTP and HTTPS are served side by side (RFC 8705 §5 aliases).
    pub(crate) mtls_base_url: Option<String>,
}

/// Where the server's certificate comes from.
#[cfg_attr(
    not(feature = "tls"),
    allow(dead_code, reason = "built only with the `tls` feature")
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TlsSource {
    /// A throw-away CA made at start-up signs a certificate for `localhost`, the loopback
    /// addresses, the bound address, the issuer's host and `names`.
    Generated {
        /// More DNS names or IP addresses the certificate must name (e.g. `auth` in compose).
        names: Vec<String>,
    },
    /// A certificate chain (leaf first) and its private key, PEM files.
    Files {
        /// The certificate chain.
        cert: std::path::PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: std::path::PathBuf,
    },
}
