//! Vendor profiles as data: which vendor's token endpoint the mock imitates, where it routes
//! each endpoint, and how it shapes requests, responses, tokens and errors.
//!
//! Every fact comes from `VENDORS.md` beside the repository: (D) facts are documented by the
//! vendor, (I) facts are inferred defaults. The server and the SDK both read [`ProfileSpec`];
//! adding a vendor is one new entry in [`Profile::spec`] (see `docs/profiles.md`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{AuthMethod, BasicCredentials, truncate_for_echo};

/// The dialect an authorization server speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Profile {
    /// Strict RFC 6749 / RFC 9068 behaviour, the default.
    #[default]
    Rfc,
    /// SLB Authenticator (seeds 000, 001).
    Slb,
    /// SecureAuth / Cloudentity (seed 002).
    Cloudentity,
    /// CyberArk Identity (seed 003).
    #[serde(rename = "cyberark")]
    CyberArk,
    /// UserClouds (seed 004).
    #[serde(rename = "userclouds")]
    UserClouds,
}

/// Path templates of a profile's endpoints, relative to the server's root. `{tenant}`,
/// `{workspace}` and `{app_id}` are filled from [`ProfileOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileRoutes {
    /// Token endpoints (RFC 6749 §3.2); the first is the one advertised.
    pub token: &'static [&'static str],
    /// The JWK Set (RFC 7517 §5).
    pub jwks: &'static str,
    /// The introspection endpoint (RFC 7662 §2), if the vendor has one.
    pub introspection: Option<&'static str>,
    /// The revocation endpoint (RFC 7009 §2), if the vendor has one.
    pub revocation: Option<&'static str>,
    /// Where the metadata document is served.
    pub discovery: &'static [&'static str],
}

/// A profile's routes with their parameters filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    /// Token endpoints; the first is the one advertised.
    pub token: Vec<String>,
    /// The JWK Set.
    pub jwks: String,
    /// The introspection endpoint, if any.
    pub introspection: Option<String>,
    /// The revocation endpoint, if any.
    pub revocation: Option<String>,
    /// The metadata documents.
    pub discovery: Vec<String>,
}

/// The values filling a profile's path parameters and issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileOptions {
    /// Cloudentity tenant id (default `demo`).
    pub tenant: String,
    /// Cloudentity workspace id (default `default`).
    pub workspace: String,
    /// CyberArk application id (default `ccflow`).
    pub app_id: String,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            tenant: "demo".to_owned(),
            workspace: "default".to_owned(),
            app_id: "ccflow".to_owned(),
        }
    }
}

impl ProfileOptions {
    /// Fills `{tenant}`, `{workspace}` and `{app_id}` in `template`.
    pub fn expand(&self, template: &str) -> String {
        template
            .replace("{tenant}", &self.tenant)
            .replace("{workspace}", &self.workspace)
            .replace("{app_id}", &self.app_id)
    }
}

impl ProfileRoutes {
    /// The routes with their parameters filled in.
    pub fn expand(&self, options: &ProfileOptions) -> Routes {
        Routes {
            token: self.token.iter().map(|path| options.expand(path)).collect(),
            jwks: options.expand(self.jwks),
            introspection: self.introspection.map(|path| options.expand(path)),
            revocation: self.revocation.map(|path| options.expand(path)),
            discovery: self
                .discovery
                .iter()
                .map(|path| options.expand(path))
                .collect(),
        }
    }
}

/// What the `scope` parameter means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeSemantics {
    /// OAuth scopes from the client's allow-list; an unknown one is `invalid_scope`
    /// (RFC 6749 §3.3); none requested grants all.
    OAuth,
    /// SLB: other clients' ids (or service audiences) that go into `aud`; unknown ones are
    /// reported, never an error (seed 001).
    AudienceByClientId,
    /// UserClouds: ignored; `audience` parameters go into `aud` (VENDORS.md, D).
    Ignored,
}

/// How `expires_in` relates to the token's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpiresIn {
    /// The lifetime in seconds.
    Lifetime,
    /// One second less (Cloudentity's sample answers 3599 for a one-hour token).
    LifetimeMinusOne,
}

/// How the response reports the granted scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeField {
    /// A space-delimited string (RFC 6749 §5.1), when any scope was granted.
    String,
    /// SLB: `{"valid": [..], "invalid": [..]}` only when some requested value was invalid.
    SlbObjectWhenInvalid,
    /// Never.
    Omitted,
}

/// Which claims an access token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimStyle {
    /// RFC 9068 §2.2: `iss`, `sub`, `client_id`, `aud`, `scope`, `iat`, `nbf`, `exp`, `jti`.
    Rfc9068,
    /// SLB (I): `iss`, `sub`, `azp`, `aud` = [own id, valid scopes…], `iat`, `exp`, `jti`.
    Slb,
    /// Cloudentity (D): `tid`, `aid`, `sub`, `aud` (client id + spiffe ids), `scp` array,
    /// `st`, `idp`, `amr`, `jti` (UUID), `iat`, `nbf`, `exp`, `iss`.
    Cloudentity,
    /// CyberArk (D): `iss`, `aud` (string), `sub` (service user UUID), `unique_name`,
    /// `scope`, `iat`, `exp`, `auth_time`.
    CyberArk,
    /// UserClouds (D): `iss`, `sub` (app UUID), `aud` = [audiences…, issuer], `iat`, `exp`,
    /// `jti`, `subject_type`, `organization_id`.
    UserClouds,
}

/// The JWS algorithm a profile signs with when no key is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

/// How errors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorDialect {
    /// RFC 6749 §5.2 `{error, error_description}`.
    Rfc6749,
    /// Cloudentity: RFC 6749 plus `error_hint`, `cause`, `status_code` (D shape, I strings).
    Cloudentity,
    /// UserClouds: its own messages, and `invalid_grant` for a wrong secret (D).
    UserClouds,
}

/// What a resource server validating this vendor's tokens should expect by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceDefaults {
    /// Accepted JWT `typ` header values.
    pub accepted_typ: &'static [&'static str],
    /// Authorise by audience instead of scopes (SLB).
    pub authorize_by_audience: bool,
    /// The claim holding the scopes (`scope` string or `scp` array).
    pub scope_claim: &'static str,
}

/// Everything a profile specifies: one entry per vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileSpec {
    /// The vendor's product name.
    pub vendor: &'static str,
    /// The seed documents it follows (file prefixes in `seeds/`).
    pub seeds: &'static str,
    /// Appended to the base URL to make the issuer; may hold path parameters.
    pub issuer_path: &'static str,
    /// Endpoint paths.
    pub routes: ProfileRoutes,
    /// Paths match case-insensitively (CyberArk's SDK writes `/Oauth2/Token/…`).
    pub case_insensitive_paths: bool,
    /// Token requests may be JSON objects (CyberArk's seed shows one).
    pub accepts_json_body: bool,
    /// Client authentication methods the server accepts.
    pub auth_methods: &'static [AuthMethod],
    /// Each client is registered for exactly one method (Cloudentity, I).
    pub one_auth_method_per_client: bool,
    /// The method the SDK uses by default with this profile.
    pub sdk_auth_method: AuthMethod,
    /// How the server reads Basic credentials unless configured (`basic_credentials`).
    pub basic_credentials: BasicCredentials,
    /// How the SDK encodes Basic credentials: what the vendor documents.
    pub sdk_basic_credentials: BasicCredentials,
    /// What `scope` means.
    pub scopes: ScopeSemantics,
    /// The token lifetime unless configured.
    pub default_token_ttl_secs: u64,
    /// The lifetime cannot be configured per client (SLB: fixed one hour, D).
    pub fixed_ttl: bool,
    /// `token_type` as sent.
    pub token_type: &'static str,
    /// How `expires_in` is computed.
    pub expires_in: ExpiresIn,
    /// How granted scopes are reported.
    pub scope_field: ScopeField,
    /// The success response's `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control: no-store` and `Pragma: no-cache` on token responses.
    pub cache_headers: bool,
    /// A per-response id header (`X-Trace-ID`, `X-Request-Id`).
    pub request_id_header: Option<&'static str>,
    /// The token's claims.
    pub claims: ClaimStyle,
    /// The default signing algorithm.
    pub default_signing_algorithm: SigningAlgorithm,
    /// The JWT `typ` header of access tokens unless configured (`access_token_typ`).
    pub token_typ: &'static str,
    /// The error dialect.
    pub errors: ErrorDialect,
    /// Revocation answers 200 to every request without checking anything (CyberArk, D).
    pub revocation_always_ok: bool,
    /// Validation defaults for resource servers.
    pub resource: ResourceDefaults,
}

const SECRET_METHODS: &[AuthMethod] =
    &[AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost];
/// The strict profile's methods: RFC 6749's and RFC 7523's, and RFC 8705's mutual TLS (only
/// advertised, and only usable, when the server serves HTTPS).
const RFC_METHODS: &[AuthMethod] = &[
    AuthMethod::ClientSecretBasic,
    AuthMethod::ClientSecretPost,
    AuthMethod::PrivateKeyJwt,
    AuthMethod::TlsClientAuth,
    AuthMethod::SelfSignedTlsClientAuth,
];
const AT_JWT: &[&str] = &["at+jwt", "application/at+jwt"];
/// What a validator configured "like the vendor" accepts: the vendor's documented or inferred
/// `JWT`, and RFC 9068's `at+jwt` (VENDORS.md, "`typ`").
const JWT_OR_AT_JWT: &[&str] = &["JWT", "at+jwt", "application/at+jwt"];

const RFC: ProfileSpec = ProfileSpec {
    vendor: "RFC 6749 / RFC 9068 (strict)",
    seeds: "-",
    issuer_path: "",
    routes: ProfileRoutes {
        token: &["/oauth2/token"],
        jwks: "/jwks.json",
        introspection: Some("/oauth2/introspect"),
        revocation: Some("/oauth2/revoke"),
        discovery: &[
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ],
    },
    case_insensitive_paths: false,
    accepts_json_body: false,
    auth_methods: RFC_METHODS,
    one_auth_method_per_client: false,
    sdk_auth_method: AuthMethod::ClientSecretBasic,
    basic_credentials: BasicCredentials::Rfc6749,
    sdk_basic_credentials: BasicCredentials::Rfc6749,
    scopes: ScopeSemantics::OAuth,
    default_token_ttl_secs: 3600,
    fixed_ttl: false,
    token_type: "Bearer",
    expires_in: ExpiresIn::Lifetime,
    scope_field: ScopeField::String,
    content_type: "application/json",
    cache_headers: true,
    request_id_header: None,
    claims: ClaimStyle::Rfc9068,
    default_signing_algorithm: SigningAlgorithm::Rs256,
    token_typ: "at+jwt",
    errors: ErrorDialect::Rfc6749,
    revocation_always_ok: false,
    resource: ResourceDefaults {
        accepted_typ: AT_JWT,
        authorize_by_audience: false,
        scope_claim: "scope",
    },
};

const SLB: ProfileSpec = ProfileSpec {
    vendor: "SLB Authenticator",
    seeds: "000, 001",
    issuer_path: "/v2",
    routes: ProfileRoutes {
        token: &["/v2/token"],
        jwks: "/v2/certs",
        introspection: None,
        revocation: None,
        discovery: &["/v2/.well-known/openid-configuration"],
    },
    auth_methods: SECRET_METHODS,
    // Seeds 000/001 write `Basic <base64 of CLIENT_ID:CLIENT_SECRET>`, nothing form-encoded
    // (D); the RFC form is accepted too where it differs (I).
    basic_credentials: BasicCredentials::Either,
    sdk_basic_credentials: BasicCredentials::Raw,
    scopes: ScopeSemantics::AudienceByClientId,
    fixed_ttl: true,
    scope_field: ScopeField::SlbObjectWhenInvalid,
    content_type: "application/json;charset=UTF-8",
    claims: ClaimStyle::Slb,
    // No SLB document shows `at+jwt` (VENDORS.md: `JWT`, I).
    token_typ: "JWT",
    resource: ResourceDefaults {
        accepted_typ: JWT_OR_AT_JWT,
        authorize_by_audience: true,
        scope_claim: "scope",
    },
    ..RFC
};

const CLOUDENTITY: ProfileSpec = ProfileSpec {
    vendor: "SecureAuth / Cloudentity",
    seeds: "002",
    issuer_path: "/{tenant}/{workspace}",
    routes: ProfileRoutes {
        token: &["/{tenant}/{workspace}/oauth2/token"],
        jwks: "/{tenant}/{workspace}/.well-known/jwks.json",
        introspection: Some("/{tenant}/{workspace}/oauth2/introspect"),
        revocation: Some("/{tenant}/{workspace}/oauth2/revoke"),
        discovery: &["/{tenant}/{workspace}/.well-known/openid-configuration"],
    },
    one_auth_method_per_client: true,
    sdk_auth_method: AuthMethod::ClientSecretBasic,
    // Seed 002 shows only client_secret_post; read Basic either way (I), send the RFC form (I).
    basic_credentials: BasicCredentials::Either,
    token_type: "bearer",
    expires_in: ExpiresIn::LifetimeMinusOne,
    request_id_header: Some("X-Trace-ID"),
    claims: ClaimStyle::Cloudentity,
    default_signing_algorithm: SigningAlgorithm::Es256,
    // The vendor's decoded sample token shows no `at+jwt` (VENDORS.md: `JWT`, I).
    token_typ: "JWT",
    errors: ErrorDialect::Cloudentity,
    resource: ResourceDefaults {
        accepted_typ: JWT_OR_AT_JWT,
        authorize_by_audience: false,
        scope_claim: "scp",
    },
    ..RFC
};

/// CyberArk Identity Security Platform service users' token endpoint (VENDORS.md, D: the
/// vendor's automation scripts post the service user's login name and password as
/// `client_id`/`client_secret` here); same token as `/oauth2/token/{app_id}`.
pub const CYBERARK_PLATFORM_TOKEN_PATH: &str = "/oauth2/platformtoken";

const CYBERARK: ProfileSpec = ProfileSpec {
    vendor: "CyberArk Identity",
    seeds: "003",
    issuer_path: "/{app_id}/",
    routes: ProfileRoutes {
        token: &["/oauth2/token/{app_id}", CYBERARK_PLATFORM_TOKEN_PATH],
        jwks: "/OAuth2/Keys/{app_id}",
        introspection: None,
        revocation: Some("/oauth2/revoke/{app_id}"),
        discovery: &["/{app_id}/.well-known/openid-configuration"],
    },
    case_insensitive_paths: true,
    accepts_json_body: true,
    auth_methods: SECRET_METHODS,
    // Seed 003: `Basic <base64 of CLIENT_ID:CLIENT_SECRET>`, raw (D); the RFC form too (I).
    basic_credentials: BasicCredentials::Either,
    sdk_basic_credentials: BasicCredentials::Raw,
    default_token_ttl_secs: 18_000,
    claims: ClaimStyle::CyberArk,
    // CyberArk's documented token shows no `typ` (VENDORS.md: `JWT`, I).
    token_typ: "JWT",
    revocation_always_ok: true,
    resource: ResourceDefaults {
        accepted_typ: JWT_OR_AT_JWT,
        authorize_by_audience: false,
        scope_claim: "scope",
    },
    ..RFC
};

const USERCLOUDS: ProfileSpec = ProfileSpec {
    vendor: "UserClouds",
    seeds: "004",
    issuer_path: "",
    routes: ProfileRoutes {
        token: &["/oauth/token", "/oidc/token"],
        jwks: "/.well-known/jwks.json",
        introspection: None,
        revocation: None,
        discovery: &["/.well-known/openid-configuration"],
    },
    auth_methods: SECRET_METHODS,
    // Its server URL-unescapes id and secret after base64 decoding (VENDORS.md, D): the RFC
    // form, whose encoder the SDK uses too.
    basic_credentials: BasicCredentials::Rfc6749,
    scopes: ScopeSemantics::Ignored,
    token_type: "bearer",
    scope_field: ScopeField::Omitted,
    cache_headers: false,
    request_id_header: Some("X-Request-Id"),
    claims: ClaimStyle::UserClouds,
    token_typ: "JWT",
    errors: ErrorDialect::UserClouds,
    resource: ResourceDefaults {
        accepted_typ: JWT_OR_AT_JWT,
        // UserClouds ignores `scope` (seed 004): its tokens carry none, so an API behind it can
        // only authorise by audience, as SLB's do.
        authorize_by_audience: true,
        scope_claim: "scope",
    },
    ..RFC
};

impl Profile {
    /// Every profile, in the order help texts list them.
    pub const ALL: &'static [Profile] = &[
        Profile::Rfc,
        Profile::Slb,
        Profile::Cloudentity,
        Profile::CyberArk,
        Profile::UserClouds,
    ];

    /// The profile's name, as used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Rfc => "rfc",
            Profile::Slb => "slb",
            Profile::Cloudentity => "cloudentity",
            Profile::CyberArk => "cyberark",
            Profile::UserClouds => "userclouds",
        }
    }

    /// The profile's specification: the one table every component reads.
    pub fn spec(self) -> &'static ProfileSpec {
        match self {
            Profile::Rfc => &RFC,
            Profile::Slb => &SLB,
            Profile::Cloudentity => &CLOUDENTITY,
            Profile::CyberArk => &CYBERARK,
            Profile::UserClouds => &USERCLOUDS,
        }
    }

    /// Where this profile serves each endpoint (templates).
    pub fn routes(self) -> ProfileRoutes {
        self.spec().routes
    }

    /// The issuer for a server whose root is `base` (no trailing slash needed), e.g.
    /// `https://csi.slb.com` → `https://csi.slb.com/v2` for SLB, `…/{app_id}/` for CyberArk.
    pub fn issuer(self, base: &str, options: &ProfileOptions) -> String {
        format!(
            "{}{}",
            base.trim_end_matches('/'),
            options.expand(self.spec().issuer_path)
        )
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A name that matches no [`Profile`]; the message lists the available ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "unknown profile `{}`; available profiles: ",
            truncate_for_echo(&self.0)
        )?;
        for (index, profile) in Profile::ALL.iter().enumerate() {
            if index > 0 {
                formatter.write_str(", ")?;
            }
            formatter.write_str(profile.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownProfile {}

impl FromStr for Profile {
    type Err = UnknownProfile;

    /// Parses a profile name exactly as [`Profile::as_str`] writes it.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .iter()
            .copied()
            .find(|profile| profile.as_str() == name)
            .ok_or_else(|| UnknownProfile(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_round_trips_by_name() {
        assert_eq!(Profile::default(), Profile::Rfc);
        for profile in Profile::ALL {
            assert_eq!(profile.as_str().parse::<Profile>(), Ok(*profile));
            assert_eq!(profile.to_string(), profile.as_str());
            let json = serde_json::to_string(profile).unwrap();
            assert_eq!(json, format!("\"{}\"", profile.as_str()));
            assert_eq!(serde_json::from_str::<Profile>(&json).unwrap(), *profile);
        }
        assert!(serde_json::from_str::<Profile>(r#""RFC""#).is_err());
    }

    #[test]
    fn unknown_profile_error_lists_available_names() {
        let error = "okta".parse::<Profile>().unwrap_err();
        assert_eq!(error, UnknownProfile("okta".to_owned()));
        assert_eq!(
            error.to_string(),
            "unknown profile `okta`; available profiles: rfc, slb, cloudentity, cyberark, userclouds"
        );
        let long = "x".repeat(1000).parse::<Profile>().unwrap_err().to_string();
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn rfc_routes_follow_design() {
        let routes = Profile::Rfc.routes().expand(&ProfileOptions::default());
        assert_eq!(routes.token, ["/oauth2/token"]);
        assert_eq!(routes.jwks, "/jwks.json");
        assert_eq!(routes.introspection.as_deref(), Some("/oauth2/introspect"));
        assert_eq!(routes.revocation.as_deref(), Some("/oauth2/revoke"));
        assert_eq!(
            routes.discovery,
            [
                "/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server"
            ]
        );
    }

    #[test]
    fn issuers_follow_vendors_md() {
        let options = ProfileOptions {
            tenant: "acme".to_owned(),
            workspace: "prod".to_owned(),
            app_id: "app1".to_owned(),
        };
        let base = "https://h.example";
        assert_eq!(Profile::Rfc.issuer(base, &options), "https://h.example");
        assert_eq!(Profile::Slb.issuer(base, &options), "https://h.example/v2");
        assert_eq!(
            Profile::Cloudentity.issuer(base, &options),
            "https://h.example/acme/prod"
        );
        assert_eq!(
            Profile::CyberArk.issuer("https://h.example/", &options),
            "https://h.example/app1/"
        );
        assert_eq!(
            Profile::UserClouds.issuer(base, &options),
            "https://h.example"
        );
        let cloudentity = Profile::Cloudentity.routes().expand(&options);
        assert_eq!(cloudentity.token, ["/acme/prod/oauth2/token"]);
        assert_eq!(cloudentity.jwks, "/acme/prod/.well-known/jwks.json");
        assert_eq!(
            Profile::UserClouds.routes().token,
            ["/oauth/token", "/oidc/token"]
        );
        assert_eq!(
            Profile::CyberArk.routes().expand(&options).jwks,
            "/OAuth2/Keys/app1"
        );
    }

    #[test]
    fn every_spec_is_self_consistent() {
        for profile in Profile::ALL {
            let spec = profile.spec();
            assert!(
                spec.auth_methods.contains(&spec.sdk_auth_method),
                "{profile}"
            );
            assert!(
                !spec.routes.token.is_empty() && !spec.routes.discovery.is_empty(),
                "{profile}"
            );
            assert!(spec.default_token_ttl_secs > 1, "{profile}");
            for path in spec
                .routes
                .token
                .iter()
                .chain(spec.routes.discovery)
                .chain([&spec.routes.jwks])
            {
                assert!(path.starts_with('/'), "{profile}: {path}");
            }
        }
    }
}
