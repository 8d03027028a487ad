//! `TokenClientBuilder`: every setting with its default, and `build()`, which checks them all
//! and says what to fix.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ccflow_protocol::{ClientId, ClientSecret, Clock, Profile, ProfileOptions};
use url::Url;

use crate::auth::AuthMethod;
use crate::cache::TokenCache;
use crate::client::request::RESERVED_PARAMS;
use crate::client::settings::{Endpoint, Options, Settings, parse_scopes};
use crate::client::token_client::TokenClient;
use crate::error::TokenError;
use crate::retry::{RetryPolicy, Sleeper};

/// Configures a [`TokenClient`]; [`build`](Self::build) checks everything and says what to fix.
#[must_use]
#[derive(Default)]
pub struct TokenClientBuilder {
    token_url: Option<String>,
    issuer: Option<String>,
    base_url: Option<String>,
    profile_options: ProfileOptions,
    client_id: Option<String>,
    scopes: Vec<String>,
    http: Option<reqwest::Client>,
    /// Certificate and key PEM for mutual TLS (a secret: never in `Debug`).
    identity_pem: Option<Redacted>,
    /// Extra trusted root certificates, PEM.
    root_certificate_pems: Vec<String>,
    cache: Option<TokenCache>,
    allow_insecure_http: bool,
    /// A token path that replaces the profile's with `base_url` (CyberArk's platform token).
    token_path: Option<&'static str>,
    /// Everything `build()` passes on unchanged.
    options: Options,
}

/// A secret PEM text (a client's private key) that `Debug` never shows.
#[derive(Clone, Default)]
struct Redacted(String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Debug for TokenClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClientBuilder")
            .field("token_url", &self.token_url)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("secret", &self.options.secret)
            .field("auth_method", &self.options.auth_method)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// Starts configuring a client.
    pub fn builder() -> TokenClientBuilder {
        TokenClientBuilder::default()
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
        self.options.secret = Some(ClientSecret::new(client_secret));
        self
    }

    /// CyberArk Identity Security Platform service user (VENDORS.md, D): the service user's
    /// login name (e.g. `svc@cyberark.cloud.9344`) and password, posted in the form body
    /// (`client_secret_post`) to `{base_url}/oauth2/platformtoken`. Sets the
    /// [`Profile::CyberArk`] profile; give the tenant URL with [`base_url`](Self::base_url)
    /// (or the endpoint itself with [`token_url`](Self::token_url)).
    ///
    /// ```
    /// let client = ccflow_client::TokenClient::builder()
    ///     .cyberark_service_user("svc@cyberark.cloud.9344", "password")
    ///     .base_url("https://tenant.id.cyberark.cloud")
    ///     .build()
    ///     .unwrap();
    /// # drop(client);
    /// ```
    pub fn cyberark_service_user(
        mut self,
        login_name: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.options.profile = Profile::CyberArk;
        self.options.auth_method = Some(AuthMethod::ClientSecretPost);
        self.token_path = Some(ccflow_protocol::CYBERARK_PLATFORM_TOKEN_PATH);
        self.credentials(login_name, password)
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
        self.options.auth_method = Some(method);
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
        self.options.resources.push(resource.into());
        self
    }

    /// Adds an `audience` parameter (repeatable; Auth0/UserClouds style).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.options.audiences.push(audience.into());
        self
    }

    /// Adds another form parameter to every token request.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.extra.push((name.into(), value.into()));
        self
    }

    /// The vendor profile: with [`base_url`](Self::base_url) it sets the token path and the
    /// default auth method. Response parsing is lenient for every vendor anyway.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.options.profile = profile;
        self.token_path = None;
        self
    }

    /// The client's TLS identity for mutual TLS (RFC 8705): its certificate and private key,
    /// PEM, in one text (certificate first, as `reqwest::Identity::from_pem` reads it; the
    /// auth server's `IssuedCertificate::identity_pem()`). Presented to the token endpoint and,
    /// through [`AuthorizedClient::new`](crate::AuthorizedClient::new), to the API, so a
    /// certificate-bound token (`cnf["x5t#S256"]`) goes with its certificate. Not with
    /// [`http_client`](Self::http_client): set it on your own client then.
    pub fn client_identity_pem(mut self, pem: impl Into<String>) -> Self {
        self.identity_pem = Some(Redacted(pem.into()));
        self
    }

    /// Also trust this root certificate (PEM), e.g. a test server's throw-away CA
    /// (`MockAuthServer::tls_ca_pem()`, the file of `tls ca: PATH`). Not with
    /// [`http_client`](Self::http_client).
    pub fn add_root_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.root_certificate_pems.push(pem.into());
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
        self.options.clock = Arc::new(clock);
        self
    }

    /// How the client waits between retries (default: tokio's timer). For tests.
    pub fn sleeper(mut self, sleeper: impl Sleeper) -> Self {
        self.options.sleeper = Arc::new(sleeper);
        self
    }

    /// The retry policy (default: 4 attempts, 200 ms doubling to 5 s, 30 s deadline).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// A fixed expiry skew: tokens are not served once less than this remains. Default
    /// min(30 s, 10 % of the lifetime).
    pub fn expiry_skew(mut self, skew: Duration) -> Self {
        self.options.skew = Some(skew);
        self
    }

    /// The lifetime assumed when the server gives neither `expires_in` nor a JWT `exp`
    /// (default 300 s, logged once).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.options.default_lifetime = lifetime;
        self
    }

    /// After 80 % of a token's lifetime, serve it while one background refresh runs.
    pub fn refresh_ahead(mut self, enabled: bool) -> Self {
        self.options.refresh_ahead = enabled;
        self
    }

    /// Sends a DPoP proof (RFC 9449) signed with `key` on every token request, so that the
    /// server binds the tokens to it (`token_type: DPoP`); a `use_dpop_nonce` answer is retried
    /// once with the server's nonce, and nonces are remembered per server. Tokens cached for
    /// this key are never served to a client with another key. Make a key with
    /// [`DpopKey::generate`](ccflow_protocol::dpop::DpopKey::generate) (ES256) or
    /// [`DpopKey::from_pem`](ccflow_protocol::dpop::DpopKey::from_pem).
    pub fn dpop(mut self, key: ccflow_protocol::dpop::DpopKey) -> Self {
        self.options.dpop = Some(crate::dpop::Dpop::new(key));
        self
    }

    /// The timeout of one HTTP request (default 10 s; the retry deadline bounds the total).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.request_timeout = timeout;
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
        let options = &self.options;
        let from_base = match &self.base_url {
            Some(base) => {
                let path = self.profile_options.expand(
                    self.token_path
                        .unwrap_or(options.profile.spec().routes.token[0]),
                );
                Some(path_under(self.checked_url("base_url", base)?, &path).to_string())
            }
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
        let mutual_tls = matches!(
            options.auth_method,
            Some(AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth)
        );
        if mutual_tls && self.identity_pem.is_none() && self.http.is_none() {
            return Err(config(format!(
                "client `{client_id}` authenticates with mutual TLS: set client_identity_pem(..) (or CCFLOW_CLIENT_CERT and CCFLOW_CLIENT_KEY)"
            )));
        }
        match &options.auth_method {
            Some(AuthMethod::PrivateKeyJwt { key, alg, .. }) => key.check_algorithm(*alg)?,
            _ if mutual_tls => {}
            _ if options.secret.is_none() => {
                return Err(config(format!(
                    "client `{client_id}` has no secret: set credentials(..) or auth_method(AuthMethod::PrivateKeyJwt {{ .. }})"
                )));
            }
            _ => {}
        }
        let scopes = parse_scopes(&self.scopes)?;
        for (name, _) in &options.extra {
            if RESERVED_PARAMS.contains(&name.as_str()) || name.is_empty() {
                return Err(config(format!(
                    "extra_param `{name}` is set by the SDK itself; use the dedicated builder method"
                )));
            }
        }
        if options
            .resources
            .iter()
            .chain(&options.audiences)
            .any(String::is_empty)
        {
            return Err(config(
                "resource and audience values must not be empty".to_owned(),
            ));
        }
        if options.default_lifetime.is_zero() {
            return Err(config("default_lifetime must be more than zero".to_owned()));
        }
        let tls_configured = self.identity_pem.is_some() || !self.root_certificate_pems.is_empty();
        if tls_configured && self.http.is_some() {
            return Err(config(
                "client_identity_pem / add_root_certificate_pem configure the SDK's own HTTP client: with http_client(..), set them on yours".to_owned(),
            ));
        }
        // The same TLS settings for the token endpoint (no redirects) and the API.
        let tls = |builder: reqwest::ClientBuilder| -> Result<reqwest::ClientBuilder, TokenError> {
            let mut builder = builder;
            if let Some(pem) = &self.identity_pem {
                // The error never quotes the PEM (a private key).
                let identity = reqwest::Identity::from_pem(pem.0.as_bytes()).map_err(|_| {
                    config(
                        "client_identity_pem is not a PEM certificate followed by its private key"
                            .to_owned(),
                    )
                })?;
                builder = builder.identity(identity);
            }
            for pem in &self.root_certificate_pems {
                let root = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|_| {
                    config("add_root_certificate_pem: not a PEM certificate".to_owned())
                })?;
                builder = builder.add_root_certificate(root);
            }
            Ok(builder)
        };
        let http = match &self.http {
            Some(http) => http.clone(),
            None => tls(reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()))?
                .build()
                .map_err(|error| config(format!("cannot build the HTTP client: {error}")))?,
        };
        let api_http = if tls_configured {
            Some(
                tls(reqwest::Client::builder())?
                    .build()
                    .map_err(|error| config(format!("cannot build the HTTP client: {error}")))?,
            )
        } else {
            None
        };
        Ok(TokenClient::new(Settings {
            http,
            api_http,
            endpoint,
            client_id,
            scopes,
            cache: self.cache.unwrap_or_default(),
            options: self.options,
        }))
    }

    fn checked_url(&self, what: &str, text: &str) -> Result<Url, TokenError> {
        let url = Url::parse(text).map_err(|error| {
            TokenError::Config(format!("{what} `{text}` is not a URL: {error}"))
        })?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_insecure_http || ccflow_protocol::is_loopback(&url) => Ok(url),
            "http" => Err(TokenError::Config(format!(
                "{what} `{text}` is plain http to a non-loopback host: use https (or allow_insecure_http(true) for a test network)"
            ))),
            other => Err(TokenError::Config(format!(
                "{what} `{text}` has scheme `{other}`; use https"
            ))),
        }
    }
}

/// `path` (a profile's route) under `base`'s path: `https://as.example/prefix/` and
/// `/v2/token` give `https://as.example/prefix/v2/token`.
fn path_under(mut base: Url, path: &str) -> Url {
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    base.set_path(&joined);
    base
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn base_url_puts_the_profile_token_path_under_it() {
        let token_url = |builder: TokenClientBuilder| {
            builder
                .credentials("svc", "secret")
                .build()
                .unwrap()
                .settings()
                .endpoint
                .as_str()
                .to_owned()
        };
        for (base, profile, expected) in [
            (
                "https://csi.slb.com",
                Profile::Slb,
                "https://csi.slb.com/v2/token",
            ),
            (
                "https://csi.slb.com/",
                Profile::Slb,
                "https://csi.slb.com/v2/token",
            ),
            (
                "https://as.example/prefix/",
                Profile::Rfc,
                "https://as.example/prefix/oauth2/token",
            ),
            (
                "https://as.example/prefix",
                Profile::Rfc,
                "https://as.example/prefix/oauth2/token",
            ),
            (
                "http://127.0.0.1:8080",
                Profile::UserClouds,
                "http://127.0.0.1:8080/oauth/token",
            ),
        ] {
            let builder = TokenClient::builder().base_url(base).profile(profile);
            assert_eq!(token_url(builder), expected, "{base} {profile:?}");
        }
        let cloudentity = TokenClient::builder()
            .base_url("https://acme.cloudentity.io")
            .profile(Profile::Cloudentity)
            .tenant("acme")
            .workspace("default");
        assert_eq!(
            token_url(cloudentity),
            "https://acme.cloudentity.io/acme/default/oauth2/token"
        );
        let cyberark = TokenClient::builder()
            .base_url("https://tenant.id.cyberark.cloud/")
            .profile(Profile::CyberArk)
            .app_id("ccflow");
        assert_eq!(
            token_url(cyberark),
            "https://tenant.id.cyberark.cloud/oauth2/token/ccflow"
        );
    }
}
