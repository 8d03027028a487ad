//! The issuers a validator trusts: [`IssuerSettings`] (what the builder is told about each),
//! [`TrustedIssuer`] (what the validator keeps: key source and cache, audiences, algorithms,
//! `typ`, scope claim, audience-only policy) and the lookup of a token's `iss` among them,
//! which runs before any key is fetched.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use ccflow_protocol::Profile;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use ccflow_protocol::Clock;

use super::builder::{is_hmac, is_http_url, min_secret_len};
use crate::error::{BuildError, JwksError, TokenRejection};
use crate::jwks::{JwksCache, JwksSettings, JwksSource, JwksStatus};
use crate::token;

/// One issuer a multi-issuer [`Validator`](crate::Validator) trusts, given to
/// [`ValidatorBuilder::trust`](crate::ValidatorBuilder::trust).
///
/// Each trusted issuer has its own key source (its discovery document, or
/// [`jwks_url`](Self::jwks_url)) and key cache, audiences, algorithms, accepted `typ`s, scope
/// claim and policy. What is not set here is taken from the builder: its
/// [`audiences`](crate::ValidatorBuilder::audiences),
/// [`algorithms`](crate::ValidatorBuilder::algorithms) and
/// [`require_typ`](crate::ValidatorBuilder::require_typ) are defaults for every issuer. A
/// shared secret is never inherited: it is one issuer's key.
///
/// ```
/// use ccflow_resource_api::{IssuerSettings, Validator};
/// use ccflow_protocol::Profile;
///
/// let validator = Validator::builder()
///     .trust(IssuerSettings::new("https://login.rfc.example").audience("items-api"))
///     .trust(
///         IssuerSettings::new("https://auth.slb.example/v2")
///             .audience("slb-items")
///             .profile(Profile::Slb),
///     )
///     .build()
///     .unwrap();
/// assert_eq!(validator.trusted_issuers().len(), 2);
/// ```
#[must_use]
#[derive(Clone)]
pub struct IssuerSettings {
    pub(super) issuer: String,
    pub(super) jwks_url: Option<String>,
    pub(super) audiences: Vec<String>,
    pub(super) algorithms: Option<Vec<Algorithm>>,
    pub(super) shared_secret: Option<Vec<u8>>,
    /// `None`: the builder's; `Some(None)`: any `typ`; `Some(Some(list))`: these.
    pub(super) accepted_typ: Option<Option<Vec<String>>>,
    pub(super) scope_claim: Option<&'static str>,
    pub(super) authorize_by_audience: bool,
    pub(super) profile: Option<Profile>,
}

impl fmt::Debug for IssuerSettings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("IssuerSettings")
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks_url)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field(
                "shared_secret",
                &self.shared_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("accepted_typ", &self.accepted_typ)
            .field("scope_claim", &self.scope_claim)
            .field("authorize_by_audience", &self.authorize_by_audience)
            .field("profile", &self.profile)
            .finish()
    }
}

impl IssuerSettings {
    /// An issuer: `iss` must equal it exactly, trailing slash included (RFC 9068 §4). Unless
    /// [`jwks_url`](Self::jwks_url) is set, its metadata names its JWKS.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: None,
            audiences: Vec::new(),
            algorithms: None,
            shared_secret: None,
            accepted_typ: None,
            scope_claim: None,
            authorize_by_audience: false,
            profile: None,
        }
    }

    /// Fetch this issuer's keys from this JWKS URL instead of discovering it.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Adds an audience this issuer's tokens may be for (replacing the builder's audiences for
    /// this issuer).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds several audiences.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// This issuer's algorithm allow-list (default: the builder's).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// This issuer's HMAC secret, for HS256/384/512 on its
    /// [`algorithms`](Self::algorithms) list.
    pub fn shared_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.shared_secret = Some(secret.into());
        self
    }

    /// The `typ` values accepted from this issuer (default: the builder's).
    pub fn require_typ<I, S>(mut self, accepted: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.accepted_typ = Some(Some(
            accepted
                .into_iter()
                .map(|typ| token::normalize_typ(typ.as_ref()))
                .collect(),
        ));
        self
    }

    /// Accepts any `typ` from this issuer, or none (RFC 8725 §3.11: only for issuers that send
    /// no `typ` at all).
    pub fn skip_typ_check(mut self) -> Self {
        self.accepted_typ = Some(None);
        self
    }

    /// Reads this issuer's scopes from this claim only (`scope`, a space-delimited string as
    /// RFC 9068 §2.2.3 has it, or `scp`, an array, as Cloudentity sends). Default: `scope` and
    /// `scp`, merged.
    pub fn scope_claim(mut self, claim: &'static str) -> Self {
        self.scope_claim = Some(claim);
        self
    }

    /// Authorises this issuer's tokens by audience alone, as SLB APIs do (VENDORS.md): for its
    /// tokens, whose `aud` the validator has checked, [`RequireScope`](crate::RequireScope)
    /// policies and `require_scopes` pass without scopes. Tokens of other issuers still need
    /// their scopes.
    pub fn authorize_by_audience(mut self, enabled: bool) -> Self {
        self.authorize_by_audience = enabled;
        self
    }

    /// Applies a vendor profile's resource defaults (`ProfileSpec::resource`) to this issuer:
    /// the accepted `typ`s, the scope claim and audience-only authorisation (SLB, UserClouds).
    /// Later calls of [`require_typ`](Self::require_typ), [`scope_claim`](Self::scope_claim)
    /// or [`authorize_by_audience`](Self::authorize_by_audience) override them.
    /// ([`ValidatorBuilder::profile`](crate::ValidatorBuilder::profile), for a single issuer,
    /// applies the `typ`s only, as it always has.)
    pub fn profile(self, profile: Profile) -> Self {
        let defaults = profile.spec().resource;
        let mut settings = self
            .require_typ(defaults.accepted_typ.iter().copied())
            .scope_claim(defaults.scope_claim)
            .authorize_by_audience(defaults.authorize_by_audience);
        settings.profile = Some(profile);
        settings
    }
}

/// An issuer the validator trusts, as built: see [`Validator::trusted_issuers`] and
/// [`Authenticated::trusted_issuer`](crate::Authenticated::trusted_issuer).
///
/// [`Validator::trusted_issuers`]: crate::Validator::trusted_issuers
pub struct TrustedIssuer {
    pub(super) issuer: String,
    pub(super) audiences: Vec<String>,
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) accepted_algorithms: String,
    pub(super) hmac_key: Option<DecodingKey>,
    pub(super) accepted_typ: Option<Vec<String>>,
    pub(super) expected_typ: String,
    pub(super) scope_claim: Option<&'static str>,
    pub(super) authorize_by_audience: bool,
    pub(super) profile: Option<Profile>,
    pub(super) jwks: Option<Arc<JwksCache>>,
}

impl fmt::Debug for TrustedIssuer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TrustedIssuer")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field(
                "shared_secret",
                &self.hmac_key.as_ref().map(|_| "[redacted]"),
            )
            .field("accepted_typ", &self.accepted_typ)
            .field("scope_claim", &self.scope_claim)
            .field("authorize_by_audience", &self.authorize_by_audience)
            .field("profile", &self.profile)
            .field("jwks", &self.jwks)
            .finish()
    }
}

impl TrustedIssuer {
    /// The issuer `iss` equals for this issuer's tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audiences this issuer's tokens may be for.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// This issuer's algorithm allow-list.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The vendor profile whose defaults apply, if one was given.
    pub fn profile(&self) -> Option<Profile> {
        self.profile
    }

    /// The one claim scopes are read from, or `None` for `scope` and `scp` merged.
    pub fn scope_claim(&self) -> Option<&'static str> {
        self.scope_claim
    }

    /// Whether this issuer's tokens are authorised by audience alone.
    pub fn authorizes_by_audience(&self) -> bool {
        self.authorize_by_audience
    }

    /// This issuer's key cache, or `None` when only HMAC tokens are accepted from it.
    pub fn jwks_status(&self) -> Option<JwksStatus> {
        self.jwks.as_ref().map(|jwks| jwks.status())
    }

    pub(super) async fn refresh_keys(&self) -> Result<(), JwksError> {
        match &self.jwks {
            Some(jwks) => jwks.refresh_now().await,
            None => Ok(()),
        }
    }

    pub(super) fn check_algorithm(&self, alg: &str) -> Result<Algorithm, TokenRejection> {
        if alg.eq_ignore_ascii_case("none") {
            return Err(TokenRejection::AlgNone);
        }
        let not_allowed = || TokenRejection::AlgNotAllowed {
            accepted: self.accepted_algorithms.clone(),
        };
        let algorithm: Algorithm = alg.parse().map_err(|_| not_allowed())?;
        if self.algorithms.contains(&algorithm) {
            Ok(algorithm)
        } else {
            Err(not_allowed())
        }
    }

    pub(super) fn check_typ(&self, typ: Option<&str>) -> Result<(), TokenRejection> {
        let Some(accepted) = &self.accepted_typ else {
            return Ok(());
        };
        let fits = typ.is_some_and(|typ| {
            accepted
                .iter()
                .any(|accepted| token::typ_matches(typ, accepted))
        });
        if fits {
            Ok(())
        } else {
            Err(TokenRejection::TypNotAccepted {
                expected: self.expected_typ.clone(),
            })
        }
    }
}

/// The trusted issuers, in the order they were given, and an index by `iss`.
pub(super) struct Issuers {
    list: Vec<Arc<TrustedIssuer>>,
    by_issuer: HashMap<String, usize>,
}

impl Issuers {
    /// Refuses an issuer given twice.
    pub(super) fn new(list: Vec<TrustedIssuer>) -> Result<Self, BuildError> {
        let mut by_issuer = HashMap::with_capacity(list.len());
        for (index, trusted) in list.iter().enumerate() {
            if by_issuer.insert(trusted.issuer.clone(), index).is_some() {
                return Err(BuildError::DuplicateIssuer(trusted.issuer.clone()));
            }
        }
        Ok(Self {
            list: list.into_iter().map(Arc::new).collect(),
            by_issuer,
        })
    }

    pub(super) fn all(&self) -> &[Arc<TrustedIssuer>] {
        &self.list
    }

    /// The first issuer given: the only one of a single-issuer validator.
    pub(super) fn first(&self) -> &TrustedIssuer {
        &self.list[0]
    }

    pub(super) fn get(&self, issuer: &str) -> Option<&Arc<TrustedIssuer>> {
        self.by_issuer.get(issuer).map(|index| &self.list[*index])
    }

    /// The issuer a token's (not yet verified) `iss` claim names. Nothing else is read, and an
    /// unknown `iss` is refused here, before any key of any issuer is looked up or fetched:
    /// the token chooses among configured issuers only, never a URL (no SSRF, and no key
    /// cache is touched). The description names the trusted issuers, never the unverified `iss`.
    pub(super) fn for_issuer_claim(
        &self,
        iss: Option<&Value>,
    ) -> Result<&Arc<TrustedIssuer>, TokenRejection> {
        match iss {
            None => Err(TokenRejection::MissingClaim("iss")),
            Some(Value::String(issuer)) => {
                self.get(issuer)
                    .ok_or_else(|| TokenRejection::UntrustedIssuer {
                        trusted: self
                            .list
                            .iter()
                            .map(|trusted| trusted.issuer.clone())
                            .collect(),
                    })
            }
            Some(_) => Err(TokenRejection::ClaimType("iss")),
        }
    }
}

/// What trusted issuers take from the builder when their settings do not say.
pub(super) struct Defaults {
    pub(super) audiences: Vec<String>,
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) accepted_typ: Option<Vec<String>>,
}

/// What every issuer's key cache is made with: one HTTP client (built on first need), the
/// timing rules and the clock.
pub(super) struct KeySources {
    pub(super) http: Option<reqwest::Client>,
    pub(super) root_certificates: Vec<Vec<u8>>,
    pub(super) settings: JwksSettings,
    pub(super) clock: Arc<dyn Clock>,
}

impl KeySources {
    fn http(&mut self) -> Result<reqwest::Client, BuildError> {
        if let Some(http) = &self.http {
            return Ok(http.clone());
        }
        let timeout = self.settings.fetch_timeout;
        let mut client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A pooled connection belongs to the runtime that opened
            // it; fetches minutes apart gain nothing from keeping one.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("ccflow-resource-api/", env!("CARGO_PKG_VERSION")));
        for pem in &self.root_certificates {
            let roots = reqwest::Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|roots| !roots.is_empty())
                .ok_or(BuildError::InvalidSetting {
                    setting: "root_certificate",
                    why: "holds no PEM certificate",
                })?;
            for root in roots {
                client = client.add_root_certificate(root);
            }
        }
        let http = client
            .build()
            .map_err(|error| BuildError::HttpClient(error.without_url().to_string()))?;
        self.http = Some(http.clone());
        Ok(http)
    }
}

/// Checks one issuer's settings (with the builder's defaults) and makes its key cache.
pub(super) fn build_issuer(
    settings: IssuerSettings,
    defaults: &Defaults,
    keys: &mut KeySources,
) -> Result<TrustedIssuer, BuildError> {
    let issuer = settings.issuer;
    if !is_http_url(&issuer) || issuer.contains(['?', '#']) {
        return Err(BuildError::InvalidIssuer);
    }
    if let Some(url) = &settings.jwks_url
        && !is_http_url(url)
    {
        return Err(BuildError::InvalidJwksUrl);
    }
    let given_audiences = if settings.audiences.is_empty() {
        &defaults.audiences
    } else {
        &settings.audiences
    };
    let mut audiences = Vec::new();
    for audience in given_audiences {
        if !audience.is_empty() && !audiences.contains(audience) {
            audiences.push(audience.clone());
        }
    }
    if audiences.is_empty() {
        return Err(BuildError::MissingAudience);
    }
    let mut algorithms: Vec<Algorithm> = Vec::new();
    for algorithm in settings.algorithms.as_ref().unwrap_or(&defaults.algorithms) {
        if !algorithms.contains(algorithm) {
            algorithms.push(*algorithm);
        }
    }
    if algorithms.is_empty() {
        return Err(BuildError::NoAlgorithms);
    }
    let hmac_algorithms: Vec<Algorithm> =
        algorithms.iter().copied().filter(|a| is_hmac(*a)).collect();
    let hmac_key = match (&settings.shared_secret, hmac_algorithms.is_empty()) {
        (None, true) => None,
        (None, false) => return Err(BuildError::HmacWithoutSecret),
        (Some(_), true) => return Err(BuildError::SecretWithoutHmac),
        (Some(secret), false) => {
            let min = hmac_algorithms
                .iter()
                .map(|algorithm| min_secret_len(*algorithm))
                .max()
                .unwrap_or(32);
            if secret.len() < min {
                return Err(BuildError::SecretTooShort { min });
            }
            Some(DecodingKey::from_secret(secret))
        }
    };
    let accepted_typ = settings
        .accepted_typ
        .unwrap_or_else(|| defaults.accepted_typ.clone());
    if accepted_typ.as_ref().is_some_and(Vec::is_empty) {
        return Err(BuildError::NoTyp);
    }
    let jwks = if algorithms.iter().any(|algorithm| !is_hmac(*algorithm)) {
        let source = match settings.jwks_url {
            Some(url) => JwksSource::Url(url),
            None => JwksSource::Discovery {
                issuer: issuer.clone(),
            },
        };
        Some(Arc::new(JwksCache::new(
            issuer.clone(),
            source,
            keys.http()?,
            keys.settings,
            Arc::clone(&keys.clock),
        )))
    } else {
        None
    };
    let accepted_algorithms = algorithms
        .iter()
        .map(|algorithm| format!("{algorithm:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let expected_typ = accepted_typ
        .as_ref()
        .map(|accepted| accepted.join(", "))
        .unwrap_or_default();
    Ok(TrustedIssuer {
        issuer,
        audiences,
        algorithms,
        accepted_algorithms,
        hmac_key,
        accepted_typ,
        expected_typ,
        scope_claim: settings.scope_claim,
        authorize_by_audience: settings.authorize_by_audience,
        profile: settings.profile,
        jwks,
    })
}
