//! What a built `TokenClient` is configured with, as one value: `with_scopes` clones it and
//! swaps the scope set, so a field added here is carried over without anyone copying it.

use std::sync::Arc;
use std::time::Duration;

use ccflow_protocol::{
    ClientId, ClientSecret, Clock, Profile, Scope, Scopes, ServerMetadata, SystemClock,
};
use url::Url;

use crate::auth::AuthMethod;
use crate::cache::TokenCache;
use crate::error::TokenError;
use crate::retry::{RetryPolicy, Sleeper, TokioSleeper};

/// The lifetime assumed when a response has neither `expires_in` nor a JWT `exp`.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The largest default expiry skew (the default is min(30 s, 10 % of the lifetime)).
pub const MAX_DEFAULT_SKEW: Duration = Duration::from_secs(30);
/// The default timeout of one HTTP request to the token or discovery endpoint.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The builder's settings that `build()` checks but passes on unchanged.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) secret: Option<ClientSecret>,
    pub(crate) auth_method: Option<AuthMethod>,
    pub(crate) resources: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) extra: Vec<(String, String)>,
    pub(crate) profile: Profile,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    pub(crate) retry: RetryPolicy,
    pub(crate) skew: Option<Duration>,
    pub(crate) default_lifetime: Duration,
    pub(crate) refresh_ahead: bool,
    pub(crate) request_timeout: Duration,
    /// DPoP (RFC 9449): the proof key and the servers' nonces.
    pub(crate) dpop: Option<crate::dpop::Dpop>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            secret: None,
            auth_method: None,
            resources: Vec::new(),
            audiences: Vec::new(),
            extra: Vec::new(),
            profile: Profile::default(),
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            retry: RetryPolicy::default(),
            skew: None,
            default_lifetime: DEFAULT_LIFETIME,
            refresh_ahead: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            dpop: None,
        }
    }
}

/// A built client's whole configuration: the checked values `build()` derived, plus the
/// [`Options`] it passed through.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) http: reqwest::Client,
    /// The client for API requests when the builder made one with a client identity or extra
    /// roots (mutual TLS: `AuthorizedClient::new` presents the same certificate).
    pub(crate) api_http: Option<reqwest::Client>,
    pub(crate) endpoint: Endpoint,
    pub(crate) client_id: ClientId,
    pub(crate) scopes: Scopes,
    pub(crate) cache: TokenCache,
    pub(crate) options: Options,
}

/// Where the token endpoint comes from.
#[derive(Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per client, never moved on a hot path"
)]
pub(crate) enum Endpoint {
    TokenUrl(String),
    Issuer {
        url: Url,
        text: String,
        /// Shared with clients derived by `with_scopes`, so discovery runs once for all.
        metadata: Arc<tokio::sync::OnceCell<ServerMetadata>>,
    },
}

impl Endpoint {
    /// The configured URL, as the user wrote it (for `Debug`).
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::TokenUrl(url) => url,
            Self::Issuer { text, .. } => text,
        }
    }
}

/// Parses scope names (RFC 6749 §3.3); an invalid one is a configuration error naming it.
pub(crate) fn parse_scopes<S: AsRef<str>>(
    scopes: impl IntoIterator<Item = S>,
) -> Result<Scopes, TokenError> {
    let mut set = Scopes::new();
    for scope in scopes {
        let scope = scope.as_ref();
        set.insert(
            Scope::new(scope)
                .map_err(|error| TokenError::Config(format!("scope `{scope}`: {error}")))?,
        );
    }
    Ok(set)
}
