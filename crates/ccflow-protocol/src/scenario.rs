//! Fault scenarios for the mock server: which requests (a matcher) get which fault (an action).
//! One model for the Rust API, the `/_ccflow/scenarios` admin API (JSON) and the config file
//! (TOML `[[scenarios]]`).

use serde::{Deserialize, Serialize};

/// A scenario: a matcher and the fault applied to the requests it selects.
///
/// ```json
/// {"endpoint": "token", "client_id": "svc-a", "when": {"first": 2},
///  "fault": {"kind": "status", "status": 503, "retry_after_secs": 5}}
/// ```
///
/// A request matches when the endpoint, client id and grant type fit and, if the scenario has
/// a time window (`after_secs`, `for_secs`), the server's clock is inside it; `when` then
/// counts only matching requests.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ScenarioSpec {
    /// The endpoint: `token` (default), `introspection`, `revocation`, `discovery`, `jwks`.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Only requests claiming this client id (from Basic, the body or an assertion's `iss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Only requests with this `grant_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Which of the matching requests (default: all).
    #[serde(default)]
    pub when: When,
    /// Matches only from this many seconds after the scenario was installed, on the server's
    /// clock (default: at once). A scenario from the config file is installed at start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_secs: Option<u64>,
    /// Matches only for this many seconds from when it starts matching (default: for ever).
    /// With a virtual clock, advancing it past the window ends the scenario without waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_secs: Option<u64>,
    /// What happens to them.
    pub fault: Fault,
}

fn default_endpoint() -> String {
    "token".to_owned()
}

/// Which of the requests a scenario's matcher selects get the fault, counted per scenario.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum When {
    /// Every matching request.
    #[default]
    Always,
    /// Only the nth matching request (1-based).
    Nth(u64),
    /// The first n matching requests.
    First(u64),
    /// Every kth matching request (the kth, 2kth, …).
    Every(u64),
    /// Each matching request with this probability, from a seeded generator (reproducible).
    Probability {
        /// Between 0 and 1.
        p: f64,
        /// The generator's seed.
        seed: u64,
    },
}

/// What a scenario does to a selected request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Fault {
    /// An OAuth error with its usual status (RFC 6749 §5.2); `invalid_client` after a Basic
    /// attempt carries `WWW-Authenticate`.
    OauthError {
        /// The `error` code.
        error: String,
        /// The `error_description`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// A status other than the code's usual one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// Any status and body (e.g. 503 with `Retry-After`).
    Status {
        /// The status.
        status: u16,
        /// The body (default empty).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        /// Its content type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        /// A `Retry-After` header, in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// Waits this long, then answers normally.
    Delay {
        /// Milliseconds.
        millis: u64,
    },
    /// Starts a response and drops the connection before it is complete.
    DropConnection,
    /// A normal token response cut in the middle of its JSON.
    TruncatedJson,
    /// A normal status with a body that is not JSON at all.
    MalformedJson,
    /// A normal token response labelled `text/plain`.
    WrongContentType,
    /// A 502 HTML page, as a proxy in front of the server would send.
    HtmlErrorPage,
    /// A normal token response whose `expires_in` is this (0 or negative to test clients).
    ExpiresIn {
        /// Seconds.
        seconds: i64,
    },
    /// A normal token response without `token_type`.
    MissingTokenType,
    /// A normal token response without `expires_in` (RECOMMENDED only, RFC 6749 §5.1).
    MissingExpiresIn,
    /// A token signed by a key that is not in the JWKS.
    UnknownKey,
}

impl Fault {
    /// Whether the fault answers instead of the endpoint (rather than reshaping its answer).
    pub fn replaces_response(&self) -> bool {
        matches!(
            self,
            Fault::OauthError { .. }
                | Fault::Status { .. }
                | Fault::DropConnection
                | Fault::HtmlErrorPage
        )
    }

    /// Whether the fault only makes sense on a successful token response.
    pub fn reshapes_token(&self) -> bool {
        matches!(
            self,
            Fault::TruncatedJson
                | Fault::MalformedJson
                | Fault::WrongContentType
                | Fault::ExpiresIn { .. }
                | Fault::MissingTokenType
                | Fault::MissingExpiresIn
                | Fault::UnknownKey
        )
    }
}

impl ScenarioSpec {
    /// Every request to `endpoint` (`token`, `introspection`, `revocation`, `discovery`,
    /// `jwks`) gets `fault`: any client, any grant, at any time. Narrow it through the fields.
    pub fn new(endpoint: impl Into<String>, fault: Fault) -> Self {
        Self {
            endpoint: endpoint.into(),
            client_id: None,
            grant_type: None,
            when: When::Always,
            after_secs: None,
            for_secs: None,
            fault,
        }
    }

    /// Checks the spec, saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        const ENDPOINTS: [&str; 5] = ["token", "introspection", "revocation", "discovery", "jwks"];
        if !ENDPOINTS.contains(&self.endpoint.as_str()) {
            return Err(format!("endpoint must be one of {}", ENDPOINTS.join(", ")));
        }
        if self.fault.reshapes_token() && self.endpoint != "token" {
            return Err(
                "this fault reshapes a token response: use it on the token endpoint".to_owned(),
            );
        }
        if self.for_secs == Some(0) {
            return Err("for_secs must be at least 1 (a window of 0 s matches nothing)".to_owned());
        }
        match self.when {
            When::Nth(0) | When::Every(0) => return Err("nth and every count from 1".to_owned()),
            When::Probability { p, .. } if !(0.0..=1.0).contains(&p) => {
                return Err("probability p must be between 0 and 1".to_owned());
            }
            _ => {}
        }
        match &self.fault {
            Fault::Status { status, .. } if !(100..=599).contains(status) => {
                Err("status must be 100..=599".to_owned())
            }
            Fault::OauthError {
                status: Some(status),
                ..
            } if !(400..=599).contains(status) => {
                Err("an error status must be 400..=599".to_owned())
            }
            Fault::OauthError { error, .. } if error.is_empty() => {
                Err("error must not be empty".to_owned())
            }
            Fault::Delay { millis } if *millis > 600_000 => {
                Err("delay is at most 600000 ms".to_owned())
            }
            _ => Ok(()),
        }
    }
}

/// Fluent constructors, for the Rust API (`server.on_token().respond(Fault::status(503).retry_after(5))`).
impl Fault {
    /// Any status with an empty body.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            body: None,
            content_type: None,
            retry_after_secs: None,
        }
    }

    /// Adds `Retry-After: seconds` to a [`Fault::Status`] (other faults are unchanged).
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        if let Fault::Status {
            retry_after_secs, ..
        } = &mut self
        {
            *retry_after_secs = Some(seconds);
        }
        self
    }

    /// Sets the body (and its content type) of a [`Fault::Status`].
    #[must_use]
    pub fn body(mut self, text: impl Into<String>, media_type: impl Into<String>) -> Self {
        if let Fault::Status {
            body, content_type, ..
        } = &mut self
        {
            *body = Some(text.into());
            *content_type = Some(media_type.into());
        }
        self
    }

    /// An OAuth error with its usual status.
    pub fn oauth_error(code: crate::ErrorCode) -> Self {
        let error = match code {
            crate::ErrorCode::Other(other) => other,
            known => known.as_str().to_owned(),
        };
        Fault::OauthError {
            error,
            description: None,
            status: None,
        }
    }

    /// A delay before the normal answer.
    pub fn delay(duration: std::time::Duration) -> Self {
        Fault::Delay {
            millis: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// `expires_in` replaced by `seconds` in an otherwise normal token response.
    pub fn expires_in(seconds: i64) -> Self {
        Fault::ExpiresIn { seconds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_model_round_trips() {
        let json = r#"{"endpoint":"token","client_id":"svc-a","when":{"first":2},"fault":{"kind":"status","status":503,"retry_after_secs":5}}"#;
        let spec: ScenarioSpec = serde_json::from_str(json).unwrap();
        assert_eq!(spec.when, When::First(2));
        assert_eq!(serde_json::to_string(&spec).unwrap(), json);
        let minimal: ScenarioSpec =
            serde_json::from_str(r#"{"fault":{"kind":"drop_connection"}}"#).unwrap();
        assert_eq!(
            (minimal.endpoint.as_str(), minimal.when),
            ("token", When::Always)
        );
        let probability: ScenarioSpec = serde_json::from_str(
            r#"{"when":{"probability":{"p":0.5,"seed":7}},"fault":{"kind":"unknown_key"}}"#,
        )
        .unwrap();
        assert_eq!(probability.when, When::Probability { p: 0.5, seed: 7 });
    }

    #[test]
    fn invalid_specs_say_why() {
        let check = |json: &str, why: &str| {
            let error = serde_json::from_str::<ScenarioSpec>(json)
                .map_err(|e| e.to_string())
                .and_then(|spec| spec.validate());
            assert!(
                error.as_ref().is_err_and(|e| e.contains(why)),
                "{json}: {error:?}"
            );
        };
        check(
            r#"{"endpoint":"nope","fault":{"kind":"drop_connection"}}"#,
            "endpoint must be",
        );
        check(
            r#"{"endpoint":"jwks","fault":{"kind":"missing_token_type"}}"#,
            "token endpoint",
        );
        check(
            r#"{"when":{"nth":0},"fault":{"kind":"drop_connection"}}"#,
            "count from 1",
        );
        check(
            r#"{"when":{"probability":{"p":2,"seed":1}},"fault":{"kind":"drop_connection"}}"#,
            "between 0 and 1",
        );
        check(r#"{"fault":{"kind":"status","status":999}}"#, "100..=599");
        check(r#"{"fault":{"kind":"teleport"}}"#, "unknown variant");
        check(
            r#"{"fault":{"kind":"drop_connection"},"extra":1}"#,
            "unknown field",
        );
    }
}

/// What to mint with the mock's bad-token factory (`MockAuthServer::mint`, `POST /_ccflow/mint`):
/// a token like the server issues, then changed as asked. For resource-server tests.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintSpec {
    /// The client the token is for (`sub`, `client_id`; default `ccflow-test-client`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Claims to set or override (any JSON value, so `exp` can be a string).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Claims to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_claims: Vec<String>,
    /// Header members to set or override (e.g. `typ`, `kid`, `jku`, `crit`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub header: serde_json::Map<String, serde_json::Value>,
    /// Which key signs: `active` (default), `foreign` (in no JWKS), or a `kid` of the ring
    /// (staged or retired keys included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A ready-made defect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defect: Option<Defect>,
}

/// The classic broken tokens a resource server must refuse.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Defect {
    /// Expired an hour ago.
    Expired,
    /// Valid only from an hour from now.
    NotYetValid,
    /// `alg: none`, no signature.
    AlgNone,
    /// HS256 keyed with the RSA public key (PEM): the key-confusion attack.
    Hs256WithPublicKey,
    /// `exp` as a string.
    StringExp,
    /// A `kid` no JWKS has, signed by the active key.
    UnknownKid,
    /// `typ: JWT` instead of the access-token type.
    WrongTyp,
    /// The signature part removed.
    StrippedSignature,
    /// Padded to more than 100 KiB.
    Oversized,
    /// Signed, then its payload changed (`sub` and `scope` rewritten) and the original signature
    /// kept: the signature no longer covers the claims (RFC 7515 §5.2).
    TamperedPayload,
    /// Signed by a key in no JWKS whose public JWK rides in the header's `jwk` member: a
    /// verifier that trusts an embedded key accepts anything (RFC 7515 §4.1.3, RFC 8725 §3.10).
    EmbeddedJwk,
}

/// A client to register at run time (`POST /_ccflow/clients`): the same fields as a
/// `[[clients]]` table of the config file, with public keys as a JWK Set since the server
/// reads no files for the admin API. Deserialize only: the secret is never written back.
///
/// ```json
/// {"client_id": "svc-b", "client_secret": "b-secret", "scopes": ["items:read"],
///  "audiences": ["items-api"], "auth_methods": ["client_secret_basic"]}
/// ```
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    /// The client id (RFC 6749 §2.2).
    pub client_id: String,
    /// The shared secret for `client_secret_basic`/`client_secret_post` (redacted in `Debug`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub client_secret: Option<crate::ClientSecret>,
    /// The methods it may authenticate with (default: the profile's secret methods, or
    /// `private_key_jwt` when only keys are given).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub auth_methods: Option<Vec<crate::AuthMethod>>,
    /// The scopes it may request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The audiences of its tokens.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The lifetime of its tokens, overriding the server default.
    #[serde(default)]
    pub token_ttl_secs: Option<u64>,
    /// The token `sub` for profiles that use a subject id (CyberArk, UserClouds).
    #[serde(default)]
    pub subject: Option<String>,
    /// Public keys for `private_key_jwt` (RFC 7517 JWK Set).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<crate::Jwks>,
    /// Token requests must carry a DPoP proof (RFC 9449 §5.2).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// `tls_client_auth`'s expected subject DN, RFC 4514 (RFC 8705 §2.1.2).
    #[serde(default)]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth`'s expected DNS subject alternative name (RFC 8705 §2.1.2).
    #[serde(default)]
    pub tls_client_auth_san_dns: Option<String>,
    /// `self_signed_tls_client_auth`'s certificate, PEM text (RFC 8705 §2.2).
    #[serde(default)]
    pub tls_client_certificate_pem: Option<String>,
    /// Every token is bound to the client certificate (RFC 8705 §3).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
}
