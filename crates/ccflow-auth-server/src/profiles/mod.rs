//! Vendor dialects: everything that differs between the vendors the mock imitates, one file per
//! vendor behind the [`Vendor`] trait (VENDORS.md; (I) marks inferred facts). The rest of the
//! server asks a [`Dialect`] and never branches on the profile; what the protocol's
//! `ProfileSpec` table holds as data (token type, `expires_in` rule, scope field, fixed
//! lifetimes, JSON bodies) is read here too.
//!
//! Adding a vendor: a row in `ccflow_protocol::Profile::spec`, one file here implementing
//! [`Vendor`] (every method but `claims` has the RFC behaviour as its default), and one arm in
//! [`vendor`].

mod cloudentity;
mod cyberark;
mod rfc;
mod slb;
mod userclouds;

use std::fmt;
use std::time::Duration;

use ccflow_protocol::crypto::SystemRandom;
use ccflow_protocol::{
    AccessToken, AuthMethod, BasicCredentials, ErrorResponse, ExpiresIn, FormParams, GrantType,
    Profile, ProfileOptions, ProfileSpec, RequestError, ScopeField, ScopeSemantics, Scopes,
    TokenRequest, TokenResponse,
};
use serde_json::{Map, Value, json};

use crate::domain::authentication::AuthFailure;
use crate::domain::clients::{RegisteredClient, Registry};
use crate::domain::endpoint::EndpointError;

/// UserClouds' two documented success shapes (VENDORS.md: the seed's is the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseStyle {
    /// The seed: `{"access_token","token_type":"bearer","expires_in":3600}`.
    #[default]
    Seed,
    /// The vendor's server code: `{"access_token","token_type":"Bearer","refresh_token"}`, no
    /// `expires_in`, a 24 h token.
    Server,
}

impl ResponseStyle {
    /// The style named `name` as the config file writes it (`seed`, `server`).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "seed" => Some(Self::Seed),
            "server" => Some(Self::Server),
            _ => None,
        }
    }
}

/// Profile options beyond the path parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProfileSettings {
    pub(crate) options: ProfileOptions,
    /// Cloudentity region (`au`, `eu`, `us`), shown in the banner; it does not change paths.
    pub(crate) region: Option<String>,
    /// SLB: audiences a client may name in `scope` besides other clients' ids.
    pub(crate) service_audiences: Vec<String>,
    /// UserClouds response style.
    pub(crate) response_style: ResponseStyle,
    /// UserClouds `organization_id` claim (default derived from the issuer).
    pub(crate) organization_id: Option<String>,
    /// How Basic credentials are read (default: the profile's `basic_credentials`).
    pub(crate) basic_credentials: Option<BasicCredentials>,
    /// The `typ` header of access tokens (default: the profile's `token_typ`).
    pub(crate) access_token_typ: Option<String>,
}

/// Everything the claims of one token are made from.
pub(crate) struct ClaimInput<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client: &'a RegisteredClient,
    pub(crate) settings: &'a ProfileSettings,
    pub(crate) now: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) granted: &'a Scopes,
    /// The audiences decided by the profile's scope semantics (without vendor decoration).
    pub(crate) audience: &'a [String],
}

/// A token request as the scope semantics see it: who asks, for what, among which clients.
pub(crate) struct GrantInput<'a> {
    pub(crate) client: &'a RegisteredClient,
    pub(crate) request: &'a TokenRequest,
    pub(crate) registry: &'a Registry,
    pub(crate) settings: &'a ProfileSettings,
}

/// A token exchange (RFC 8693) as the profile's target and scope rules see it.
pub(crate) struct ExchangeInput<'a> {
    /// The requesting client, its request (`resource`, `audience`, `scope`) and the registry.
    pub(crate) grant: GrantInput<'a>,
    /// The scopes the subject token carries: an exchange may narrow them, never widen them.
    pub(crate) subject_scopes: &'a Scopes,
}

/// What a token request is granted.
#[derive(Debug, Default)]
pub(crate) struct Grant {
    pub(crate) scopes: Scopes,
    pub(crate) audience: Vec<String>,
    /// SLB's report of the requested values (seed 001).
    pub(crate) report: ScopeReport,
}

/// SLB's report of requested scopes (seed 001).
#[derive(Debug, Default)]
pub(crate) struct ScopeReport {
    pub(crate) valid: Vec<String>,
    pub(crate) invalid: Vec<String>,
}

/// What a discovery document is made from: the server's URLs and what it accepts.
pub(crate) struct MetadataInput<'a> {
    pub(crate) issuer: &'a str,
    /// Where the routes hang (the issuer without the profile's issuer path).
    pub(crate) base_url: &'a str,
    pub(crate) token_endpoint: &'a str,
    pub(crate) jwks_uri: String,
    pub(crate) introspection_endpoint: Option<String>,
    pub(crate) revocation_endpoint: Option<String>,
    /// Every scope some client may request.
    pub(crate) scopes: Vec<String>,
    /// The active key's algorithm, e.g. `RS256`.
    pub(crate) signing_algorithm: String,
    pub(crate) auth_methods: &'a [AuthMethod],
    /// The profile's path parameters (CyberArk's `{app_id}` in its OpenID paths).
    pub(crate) options: &'a ProfileOptions,
    /// The `grant_type` values the token endpoint accepts.
    pub(crate) grant_types: Vec<String>,
}

/// One vendor's behaviour. The defaults are the strict RFC profile's.
pub(crate) trait Vendor: Sync + fmt::Debug {
    /// The claims of an access token.
    fn claims(&self, input: &ClaimInput<'_>) -> Map<String, Value>;

    /// What the request is granted: the scope semantics.
    fn grant(&self, input: &GrantInput<'_>) -> Result<Grant, EndpointError> {
        rfc::grant(input)
    }

    /// Whether the token endpoint accepts RFC 8693 token exchange (`rfc`: the RFC; SLB: its
    /// "secondary token exchange"); the others answer `unsupported_grant_type`.
    fn token_exchange(&self) -> bool {
        true
    }

    /// What a token exchange is granted: scopes within the subject token's, audiences on the
    /// requesting client's allow-list (RFC 8693 §2.1, §2.2.2).
    fn exchange_grant(&self, input: &ExchangeInput<'_>) -> Result<Grant, EndpointError> {
        rfc::exchange_grant(input)
    }

    /// A lifetime that overrides the configured ones (not the table's fixed lifetimes).
    fn fixed_lifetime(&self, _settings: &ProfileSettings) -> Option<Duration> {
        None
    }

    /// A token id.
    fn jti(&self, rng: &SystemRandom) -> String {
        rfc::jti(rng)
    }

    /// Last touches to a success response built from the table.
    fn finish_response(
        &self,
        _response: &mut TokenResponse,
        _settings: &ProfileSettings,
        _rng: &SystemRandom,
    ) {
    }

    /// Members an error body carries besides RFC 6749 §5.2's.
    fn decorate_error(&self, _body: &mut Value, _error: &ErrorResponse) {}

    /// An authentication failure in the vendor's words.
    fn word_auth_failure(&self, failure: AuthFailure) -> ErrorResponse {
        failure.response
    }

    /// A malformed token request in the vendor's words.
    fn word_request_error(&self, error: RequestError) -> EndpointError {
        error.into()
    }

    /// Whether HTTP Basic credentials win over `client_id`/`client_secret` in the body, which
    /// are then ignored (RFC 6749 §2.3 makes two methods an error: the default).
    fn basic_wins_over_body(&self) -> bool {
        false
    }

    /// The discovery document.
    fn metadata(&self, input: &MetadataInput<'_>) -> Value {
        rfc::metadata(input)
    }

    /// The start-up summary's `region:` line, if the vendor has regions.
    fn banner_region(&self, settings: &ProfileSettings) -> Option<String> {
        settings.region.clone()
    }

    /// What the start-up summary says a client may ask for in `scope`.
    fn banner_scope(&self, client: &RegisteredClient) -> String {
        rfc::banner_scope(client)
    }

    /// Extra parameters of the summary's ready-to-paste curl, so that it gets a useful token.
    fn try_parameters(&self, _settings: &ProfileSettings) -> String {
        String::new()
    }

    /// What the built-in demo clients need besides themselves (the binary's embedded defaults).
    fn demo_setup(&self, _settings: &mut ProfileSettings) {}

    /// Whether the token endpoint honours DPoP proofs unless configured otherwise. No vendor
    /// documents DPoP, so off (I); the `rfc` profile speaks RFC 9449.
    fn dpop_by_default(&self) -> bool {
        false
    }
}

/// The demo set-up of `profile` (see [`Vendor::demo_setup`]).
pub(crate) fn demo_setup(profile: Profile, settings: &mut ProfileSettings) {
    vendor(profile).demo_setup(settings);
}

/// The file that implements `profile`.
fn vendor(profile: Profile) -> &'static dyn Vendor {
    match profile {
        Profile::Slb => &slb::Slb,
        Profile::Cloudentity => &cloudentity::Cloudentity,
        Profile::CyberArk => &cyberark::CyberArk,
        Profile::UserClouds => &userclouds::UserClouds,
        _ => &rfc::Rfc,
    }
}

/// The profile a server speaks: its table row, its settings and its vendor's code. Every
/// profile-dependent decision of the server goes through here.
#[derive(Debug)]
pub(crate) struct Dialect {
    spec: &'static ProfileSpec,
    settings: ProfileSettings,
    vendor: &'static dyn Vendor,
}

impl Dialect {
    pub(crate) fn new(profile: Profile, settings: ProfileSettings) -> Self {
        Self {
            spec: profile.spec(),
            settings,
            vendor: vendor(profile),
        }
    }

    /// The profile's row of the protocol's table.
    pub(crate) fn spec(&self) -> &'static ProfileSpec {
        self.spec
    }

    pub(crate) fn settings(&self) -> &ProfileSettings {
        &self.settings
    }

    /// Whether HTTP Basic credentials win over body credentials (UserClouds' server code).
    pub(crate) fn basic_wins_over_body(&self) -> bool {
        self.vendor.basic_wins_over_body()
    }

    /// Whether `scope` is free text the profile reads itself, never refused for its content
    /// (SLB, seed 001), rather than RFC 6749 §3.3 scope-tokens.
    pub(crate) fn scope_is_free_text(&self) -> bool {
        self.spec.scopes == ScopeSemantics::AudienceByClientId
    }

    /// The `typ` header of access tokens: the setting, else the profile's evidence-based
    /// default (`at+jwt` for `rfc`, RFC 9068 §2.1; `JWT` for the vendors, VENDORS.md).
    pub(crate) fn token_typ(&self) -> &str {
        self.settings
            .access_token_typ
            .as_deref()
            .unwrap_or(self.spec.token_typ)
    }

    /// How Basic credentials are read: the setting, else the profile's default (raw first
    /// where the vendor documents raw credentials, seeds 000, 001, 003).
    pub(crate) fn basic_credentials(&self) -> BasicCredentials {
        self.settings
            .basic_credentials
            .unwrap_or(self.spec.basic_credentials)
    }

    /// Whether DPoP is on unless configured otherwise.
    pub(crate) fn dpop_by_default(&self) -> bool {
        self.vendor.dpop_by_default()
    }

    /// The start-up summary's `region:` line, if any.
    pub(crate) fn banner_region(&self) -> Option<String> {
        self.vendor.banner_region(&self.settings)
    }

    /// What the start-up summary says `client` may ask for in `scope`.
    pub(crate) fn banner_scope(&self, client: &RegisteredClient) -> String {
        self.vendor.banner_scope(client)
    }

    /// Extra parameters of the summary's ready-to-paste curl (leading space included).
    pub(crate) fn try_parameters(&self) -> String {
        self.vendor.try_parameters(&self.settings)
    }

    /// The parameters of a token request: a form body, or a JSON object where the profile
    /// accepts one (CyberArk's seed shows the token request as a JSON object).
    pub(crate) fn token_params(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<FormParams, EndpointError> {
        const REPEATABLE: [&str; 2] = ["resource", "audience"];
        let is_json = content_type.is_some_and(ccflow_protocol::media::is_json);
        if is_json && self.spec.accepts_json_body {
            FormParams::from_json_body(body, &REPEATABLE)
        } else {
            FormParams::from_request(content_type, body, &REPEATABLE)
        }
        .map_err(|error| self.word_request_error(error))
    }

    /// A malformed token request in the profile's words.
    pub(crate) fn word_request_error(&self, error: RequestError) -> EndpointError {
        self.vendor.word_request_error(error)
    }

    /// An authentication failure in the profile's words.
    pub(crate) fn word_auth_failure(&self, failure: AuthFailure) -> ErrorResponse {
        self.vendor.word_auth_failure(failure)
    }

    /// What `client` is granted for `request`.
    pub(crate) fn grant(
        &self,
        client: &RegisteredClient,
        request: &TokenRequest,
        registry: &Registry,
    ) -> Result<Grant, EndpointError> {
        self.vendor.grant(&GrantInput {
            client,
            request,
            registry,
            settings: &self.settings,
        })
    }

    /// Whether the token endpoint accepts RFC 8693 token exchange.
    pub(crate) fn token_exchange(&self) -> bool {
        self.vendor.token_exchange()
    }

    /// The `grant_type` values the token endpoint accepts, as discovery lists them.
    pub(crate) fn grant_types(&self) -> Vec<String> {
        let mut grant_types = vec![GrantType::ClientCredentials.to_string()];
        if self.token_exchange() {
            grant_types.push(GrantType::TokenExchange.to_string());
        }
        grant_types
    }

    /// What `client` is granted when it exchanges a token carrying `subject_scopes`.
    pub(crate) fn exchange_grant(
        &self,
        client: &RegisteredClient,
        request: &TokenRequest,
        registry: &Registry,
        subject_scopes: &Scopes,
    ) -> Result<Grant, EndpointError> {
        self.vendor.exchange_grant(&ExchangeInput {
            grant: GrantInput {
                client,
                request,
                registry,
                settings: &self.settings,
            },
            subject_scopes,
        })
    }

    fn default_lifetime(&self) -> Duration {
        Duration::from_secs(self.spec.default_token_ttl_secs)
    }

    /// A token's lifetime: the profile's fixed one, else the client's, else the server's,
    /// else the profile's default.
    pub(crate) fn lifetime(
        &self,
        client_ttl: Option<Duration>,
        server_ttl: Option<Duration>,
    ) -> Duration {
        if self.spec.fixed_ttl {
            self.default_lifetime()
        } else if let Some(fixed) = self.vendor.fixed_lifetime(&self.settings) {
            fixed
        } else {
            client_ttl
                .or(server_ttl)
                .unwrap_or_else(|| self.default_lifetime())
        }
    }

    /// The longest lifetime a token can have, given the server's and the clients' longest.
    pub(crate) fn longest_lifetime(
        &self,
        server_ttl: Option<Duration>,
        longest_client_ttl: Duration,
    ) -> Duration {
        let longest = if self.spec.fixed_ttl {
            self.default_lifetime()
        } else {
            server_ttl
                .unwrap_or_else(|| self.default_lifetime())
                .max(longest_client_ttl)
        };
        match self.vendor.fixed_lifetime(&self.settings) {
            Some(fixed) => longest.max(fixed),
            None => longest,
        }
    }

    /// A token id in the profile's form.
    pub(crate) fn jti(&self, rng: &SystemRandom) -> String {
        self.vendor.jti(rng)
    }

    /// The claims of an access token in the profile's style.
    pub(crate) fn claims(&self, input: &ClaimInput<'_>) -> Map<String, Value> {
        self.vendor.claims(input)
    }

    /// The token response in the profile's shape.
    pub(crate) fn token_response(
        &self,
        token: AccessToken,
        lifetime: Duration,
        grant: &Grant,
        rng: &SystemRandom,
    ) -> TokenResponse {
        let spec = self.spec;
        let lifetime = lifetime.as_secs();
        let expires_in = match spec.expires_in {
            ExpiresIn::LifetimeMinusOne => lifetime.saturating_sub(1),
            _ => lifetime,
        };
        let mut response = TokenResponse::bearer(token, expires_in, None);
        response.token_type = spec.token_type.to_owned();
        let report = &grant.report;
        match spec.scope_field {
            ScopeField::String if !grant.scopes.is_empty() => {
                response.scope = Some(grant.scopes.clone());
            }
            ScopeField::SlbObjectWhenInvalid if !report.invalid.is_empty() => {
                response.extra.insert(
                    "scope".to_owned(),
                    json!({"valid": report.valid, "invalid": report.invalid}),
                );
            }
            _ => {}
        }
        self.vendor
            .finish_response(&mut response, &self.settings, rng);
        response
    }

    /// The error body in the profile's dialect.
    pub(crate) fn error_body(&self, error: &ErrorResponse) -> Value {
        let mut body =
            serde_json::to_value(error).unwrap_or_else(|_| json!({"error": "server_error"}));
        self.vendor.decorate_error(&mut body, error);
        body
    }

    /// Whether every revocation request is answered 200 without a look at it (CyberArk, D).
    pub(crate) fn answers_every_revocation(&self) -> bool {
        self.spec.revocation_always_ok
    }

    /// The discovery document.
    pub(crate) fn metadata(&self, input: &MetadataInput<'_>) -> Value {
        self.vendor.metadata(input)
    }
}

/// `[one]` as `"one"`, several as an array (RFC 7519 §4.1.3 allows either for `aud`).
pub(crate) fn one_or_many(values: &[String]) -> Value {
    match values {
        [one] => Value::String(one.clone()),
        many => json!(many),
    }
}

/// A claims object from a JSON value built with `json!`.
fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
