//! `TokenClient`, the handle users hold: the cached, single-flight `token()`, invalidation,
//! and clients derived for other scopes.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ccflow_protocol::ClientId;

use crate::auth::AuthMethod;
use crate::cache::Fingerprint;
use crate::cache::{Entry, TokenCache};
use crate::client::exchange::{ExchangeForm, TokenExchange};
use crate::client::fetch::fetch;
use crate::client::request::fingerprint;
use crate::client::resolve::{configured_auth_method, discover_endpoint};
use crate::client::settings::{Endpoint, Settings, parse_scopes};
use crate::error::TokenError;
use crate::token::AccessToken;

/// This client's cache entry, token endpoint and auth method.
type Resolved = (Arc<Entry>, String, AuthMethod);

struct ClientInner {
    settings: Settings,
    /// Set once the token endpoint and auth method are known.
    entry: OnceLock<Resolved>,
    warned_default_lifetime: AtomicBool,
}

impl ClientInner {
    fn new(settings: Settings) -> Self {
        Self {
            settings,
            entry: OnceLock::new(),
            warned_default_lifetime: AtomicBool::new(false),
        }
    }

    /// Records the endpoint and method and takes their entry from the cache.
    fn bind(&self, token_url: String, method: AuthMethod) -> &Resolved {
        let settings = &self.settings;
        let entry = settings.cache.entry(
            fingerprint(settings, &token_url, &method),
            settings.options.clock.now(),
        );
        let _ = self.entry.set((entry, token_url, method));
        self.entry.get().expect("the entry was just set")
    }
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
        let settings = &self.inner.settings;
        f.debug_struct("TokenClient")
            .field("endpoint", &settings.endpoint.as_str())
            .field("client_id", &settings.client_id)
            .field("secret", &settings.options.secret)
            .field("scopes", &settings.scopes)
            .field("profile", &settings.options.profile)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// A client over checked settings; with a token URL its cache entry is bound at once.
    /// The HTTP client for API requests the builder made with a TLS identity or extra roots.
    pub(crate) fn api_http(&self) -> Option<reqwest::Client> {
        self.inner.settings.api_http.clone()
    }

    pub(crate) fn new(settings: Settings) -> Self {
        let inner = ClientInner::new(settings);
        if let Endpoint::TokenUrl(url) = &inner.settings.endpoint {
            let method = configured_auth_method(&inner.settings);
            inner.bind(url.clone(), method);
        }
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The settings, for tests inside the crate.
    #[cfg(test)]
    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// A client for the same server and credentials requesting other scopes. It shares this
    /// client's cache, under its own fingerprint.
    pub fn with_scopes<I, S>(&self, scopes: I) -> Result<Self, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set = parse_scopes(scopes.into_iter().map(Into::<String>::into))?;
        let derived = ClientInner::new(Settings {
            scopes: set,
            ..self.inner.settings.clone()
        });
        if let Some((_, url, method)) = self.inner.entry.get() {
            derived.bind(url.clone(), method.clone());
        }
        Ok(Self {
            inner: Arc::new(derived),
        })
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.settings.client_id
    }

    /// The DPoP key and nonces, when the client binds its tokens.
    pub(crate) fn dpop(&self) -> Option<&crate::dpop::Dpop> {
        self.inner.settings.options.dpop.as_ref()
    }

    /// The client's clock.
    pub(crate) fn now(&self) -> std::time::SystemTime {
        self.inner.settings.options.clock.now()
    }

    /// The cache this client uses.
    pub fn cache(&self) -> &TokenCache {
        &self.inner.settings.cache
    }

    /// A valid access token: the cached one while it is fresh, else a new one. Concurrent
    /// callers share one request; a caller that gives up does not cancel it for the others.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let (entry, endpoint, method) = match self.inner.entry.get() {
            Some(resolved) => resolved,
            None => self.resolve().await?,
        };
        let now = self.inner.settings.options.clock.now();
        if let Some((token, false)) = entry.fresh(now) {
            return Ok(token);
        }
        let started = Instant::now();
        let inner = Arc::clone(&self.inner);
        let endpoint_owned = endpoint.clone();
        let method_owned = method.clone();
        let (result, outcome) = entry
            .get(now, move || async move {
                fetch(
                    &inner.settings,
                    &inner.warned_default_lifetime,
                    &endpoint_owned,
                    &method_owned,
                    None,
                )
                .await
            })
            .await;
        tracing::debug!(
            target: "ccflow_client::cache",
            client_id = %self.inner.settings.client_id,
            outcome = ?outcome,
            waited_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            ok = result.is_ok(),
            "token"
        );
        result
    }

    /// Exchanges `subject_token` for a new token (RFC 8693 token exchange), authenticating
    /// as this client: the new token keeps the subject, is re-targeted to `target`'s
    /// resources and audiences and carries at most the subject token's scopes (where the
    /// server offers the grant: ccflow's `rfc` and `slb` profiles). Cached per subject token
    /// and target, with the same single flight and retries as [`token`](Self::token); a
    /// refused exchange is an [`TokenError::OAuth`] with the server's error (`invalid_request`
    /// for a bad subject token, `invalid_target`, `invalid_scope`).
    ///
    /// ```no_run
    /// # async fn run(client: ccflow_client::TokenClient, subject: &str) -> Result<(), ccflow_client::TokenError> {
    /// use ccflow_client::TokenExchange;
    /// let token = client
    ///     .exchange(subject, &TokenExchange::new().resource("billing-api"))
    ///     .await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub async fn exchange(
        &self,
        subject_token: &str,
        target: &TokenExchange,
    ) -> Result<AccessToken, TokenError> {
        let (_, endpoint, method) = match self.inner.entry.get() {
            Some(resolved) => resolved,
            None => self.resolve().await?,
        };
        let settings = &self.inner.settings;
        let form = ExchangeForm {
            subject_token: subject_token.to_owned(),
            target: target.clone(),
        };
        let key = Fingerprint::new(&serde_json::json!([
            fingerprint(settings, endpoint, method).as_json(),
            form.fingerprint_part(),
        ]));
        let now = settings.options.clock.now();
        let entry = settings.cache.entry(key, now);
        if let Some((token, false)) = entry.fresh(now) {
            return Ok(token);
        }
        let inner = Arc::clone(&self.inner);
        let endpoint_owned = endpoint.clone();
        let method_owned = method.clone();
        let (result, outcome) = entry
            .get(now, move || async move {
                fetch(
                    &inner.settings,
                    &inner.warned_default_lifetime,
                    &endpoint_owned,
                    &method_owned,
                    Some(&form),
                )
                .await
            })
            .await;
        tracing::debug!(
            target: "ccflow_client::cache",
            client_id = %settings.client_id,
            outcome = ?outcome,
            ok = result.is_ok(),
            "token exchange"
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

    /// Discovers the token endpoint and picks the auth method (the first caller binds them).
    async fn resolve(&self) -> Result<&Resolved, TokenError> {
        let (token_url, method) = discover_endpoint(&self.inner.settings).await?;
        Ok(self.inner.bind(token_url, method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let builder = TokenClient::builder()
            .token_url("https://as.example/token")
            .credentials("svc", "hunter2-canary");
        assert!(!format!("{builder:?}").contains("hunter2-canary"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("hunter2-canary"));
    }
}
