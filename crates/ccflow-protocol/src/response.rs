//! JSON documents the servers send: token responses, access token claims, server metadata and introspection results.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{AccessToken, Scopes};

/// A successful token response (RFC 6749 §5.1).
///
/// Serialize-only: clients read vendor responses leniently with their own
/// types. `Debug` shows neither token.
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    /// The issued token.
    pub access_token: AccessToken,
    /// The token type, `Bearer` for RFC 6750 tokens (RFC 6749 §7.1).
    pub token_type: String,
    /// Lifetime in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The granted scopes; RFC 6749 §5.1 requires it when they differ from
    /// the requested ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scopes>,
    /// A refresh token (never issued by RFC 6749 §4.4.3, but some vendors do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Further members, e.g. a vendor's extras.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TokenResponse {
    /// A `Bearer` token response (RFC 6750 §4) with a lifetime and, if given,
    /// the granted scopes.
    pub fn bearer(access_token: AccessToken, expires_in: u64, scope: Option<Scopes>) -> Self {
        TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: Some(expires_in),
            scope,
            refresh_token: None,
            extra: Map::new(),
        }
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("extra", &self.extra)
            .finish()
    }
}

/// The `aud` claim (RFC 7519 §4.1.3): one or more audiences, serialized as
/// a single string when there is one and as an array otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Audience(Vec<String>);

impl Audience {
    /// A single audience.
    pub fn one(audience: impl Into<String>) -> Audience {
        Audience(vec![audience.into()])
    }

    /// Several audiences, in order.
    pub fn many<I, S>(audiences: I) -> Audience
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Audience(audiences.into_iter().map(Into::into).collect())
    }

    /// Whether `audience` is one of them (exact, case-sensitive match, as
    /// RFC 7519 §4.1.3 compares StringOrURI values).
    pub fn contains(&self, audience: &str) -> bool {
        self.0.iter().any(|present| present == audience)
    }

    /// The audiences in order.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    /// The audiences as a slice.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The first audience, if any.
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }
}

impl<'a> IntoIterator for &'a Audience {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let [single] = self.0.as_slice() {
            return serializer.serialize_str(single);
        }
        let mut sequence = serializer.serialize_seq(Some(self.0.len()))?;
        for audience in &self.0 {
            sequence.serialize_element(audience)?;
        }
        sequence.end()
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;

        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, audience: &str) -> Result<Audience, E> {
                Ok(Audience::one(audience))
            }

            fn visit_string<E: de::Error>(self, audience: String) -> Result<Audience, E> {
                Ok(Audience(vec![audience]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Audience, A::Error> {
                let mut audiences = Vec::with_capacity(sequence.size_hint().unwrap_or(0).min(16));
                while let Some(audience) = sequence.next_element::<String>()? {
                    audiences.push(audience);
                }
                Ok(Audience(audiences))
            }
        }

        deserializer.deserialize_any(AudienceVisitor)
    }
}

/// The claims of a JWT access token (RFC 9068 §2.2). Times are NumericDate
/// seconds since the epoch (RFC 7519 §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer (RFC 7519 §4.1.1).
    pub iss: String,
    /// Subject: the client id for client credentials (RFC 9068 §2.2).
    pub sub: String,
    /// Audience (RFC 7519 §4.1.3).
    pub aud: Audience,
    /// Expiration time (RFC 7519 §4.1.4).
    pub exp: i64,
    /// Issued-at time (RFC 7519 §4.1.6).
    pub iat: i64,
    /// Not-before time (RFC 7519 §4.1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id (RFC 7519 §4.1.7).
    pub jti: String,
    /// The client the token was issued to (RFC 8693 §4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Granted scopes (RFC 8693 §4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scopes>,
    /// When the end user authenticated (RFC 9068 §2.2.1); absent for
    /// client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Further claims, e.g. a vendor's `scp` array.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Authorization server metadata (RFC 8414 §2), served at
/// `/.well-known/oauth-authorization-server` and, for OpenID-minded clients,
/// `/.well-known/openid-configuration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// The issuer identifier, an `https` URL without query or fragment.
    pub issuer: String,
    /// The token endpoint URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The JWK Set URL (RFC 7517 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The authorization endpoint URL (unused by client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// The introspection endpoint URL (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// The revocation endpoint URL (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// Scopes the server supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// `response_type` values; RFC 8414 §2 makes the member required, so it
    /// is always serialized, empty for a server without an authorization
    /// endpoint. A missing member deserializes as empty.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// Grant types the server supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    /// Client authentication methods at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// JWS algorithms for `private_key_jwt` assertions at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// Client authentication methods at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// JWS algorithms for `private_key_jwt` at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// Client authentication methods at the revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// JWS algorithms for `private_key_jwt` at the revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// Further members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerMetadata {
    /// Metadata naming only the issuer; fill in the rest field by field.
    pub fn new(issuer: impl Into<String>) -> ServerMetadata {
        ServerMetadata {
            issuer: issuer.into(),
            ..ServerMetadata::default()
        }
    }
}

/// An introspection response (RFC 7662 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    /// Whether the token is currently active; the only required member.
    pub active: bool,
    /// The token's scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scopes>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The resource owner's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The token type, e.g. `Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiration time, NumericDate seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued-at time, NumericDate seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not-before time, NumericDate seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The token's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The token's audiences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// The token's issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Further members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl IntrospectionResponse {
    /// The answer for an unknown, expired or revoked token: exactly
    /// `{"active":false}`, revealing nothing else (RFC 7662 §2.2).
    pub fn inactive() -> IntrospectionResponse {
        IntrospectionResponse::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bearer_token_response_serializes_minimal_members() {
        let response = TokenResponse::bearer(AccessToken::new("tok"), 3600, None);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        );
        let mut full = TokenResponse::bearer(
            AccessToken::new("tok"),
            60,
            Some(Scopes::parse("a b").unwrap()),
        );
        full.refresh_token = Some("refresh".to_owned());
        full.extra.insert("vendor".to_owned(), json!(1));
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            json!({
                "access_token": "tok", "token_type": "Bearer", "expires_in": 60,
                "scope": "a b", "refresh_token": "refresh", "vendor": 1
            })
        );
        full.expires_in = None;
        assert!(
            serde_json::to_value(&full)
                .unwrap()
                .get("expires_in")
                .is_none()
        );
    }

    #[test]
    fn token_response_debug_redacts_tokens() {
        let mut response = TokenResponse::bearer(AccessToken::new("access-secret"), 1, None);
        response.refresh_token = Some("refresh-secret".to_owned());
        let debug = format!("{response:?}");
        assert!(
            !debug.contains("access-secret") && !debug.contains("refresh-secret"),
            "{debug}"
        );
    }

    #[test]
    fn audience_is_a_string_when_single_and_an_array_otherwise() {
        #[track_caller]
        fn check(audience: &Audience, expected: Value) {
            assert_eq!(serde_json::to_value(audience).unwrap(), expected);
            assert_eq!(
                &serde_json::from_value::<Audience>(expected).unwrap(),
                audience
            );
        }
        check(&Audience::one("api"), json!("api"));
        check(&Audience::many(["a", "b"]), json!(["a", "b"]));
        check(&Audience::many(Vec::<String>::new()), json!([]));
        // A one-element array is read as one audience and written back as a string.
        assert_eq!(
            serde_json::from_value::<Audience>(json!(["a"])).unwrap(),
            Audience::one("a")
        );
        assert!(serde_json::from_value::<Audience>(json!(1)).is_err());
        assert!(serde_json::from_value::<Audience>(json!([1])).is_err());
    }

    #[test]
    fn audience_accessors() {
        let audience = Audience::many(["a".to_owned(), "b".to_owned()]);
        assert!(audience.contains("b"));
        assert!(!audience.contains("B"));
        assert_eq!(audience.first(), Some("a"));
        assert_eq!(audience.as_slice(), ["a", "b"]);
        assert_eq!(audience.iter().count(), 2);
        assert_eq!(
            (&audience).into_iter().last().map(String::as_str),
            Some("b")
        );
        assert_eq!(Audience::default().first(), None);
    }

    #[test]
    fn access_token_claims_round_trip() {
        let claims = json!({
            "iss": "https://issuer.test", "sub": "svc", "aud": "api", "exp": 2000, "iat": 1000,
            "nbf": 1000, "jti": "id-1", "client_id": "svc", "scope": "a b", "scp": ["a", "b"]
        });
        let parsed: AccessTokenClaims = serde_json::from_value(claims.clone()).unwrap();
        assert_eq!(parsed.aud, Audience::one("api"));
        assert_eq!(parsed.scope, Some(Scopes::parse("a b").unwrap()));
        assert_eq!(parsed.auth_time, None);
        assert_eq!(parsed.extra.get("scp"), Some(&json!(["a", "b"])));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), claims);
    }

    #[test]
    fn access_token_claims_require_numeric_dates() {
        #[track_caller]
        fn check(claims: Value) {
            let text = claims.to_string();
            assert!(
                serde_json::from_str::<AccessTokenClaims>(&text).is_err(),
                "{text}"
            );
            assert!(
                serde_json::from_value::<AccessTokenClaims>(claims).is_err(),
                "{text}"
            );
        }
        check(json!({"iss": "i", "sub": "s", "aud": "a", "exp": "2000", "iat": 1000, "jti": "j"}));
        check(json!({"iss": "i", "sub": "s", "aud": "a", "exp": 2000, "iat": "1000", "jti": "j"}));
        check(
            json!({"iss": "i", "sub": "s", "aud": "a", "exp": 2000, "iat": 1000, "nbf": "1", "jti": "j"}),
        );
        check(json!({"iss": "i", "sub": "s", "aud": "a", "iat": 1000, "jti": "j"}));
        check(
            json!({"iss": "i", "sub": "s", "aud": "a", "exp": 2000, "iat": 1000, "jti": "j", "scope": "a  b"}),
        );
    }

    #[test]
    fn server_metadata_skips_absent_members_but_not_response_types() {
        let mut metadata = ServerMetadata::new("https://issuer.test");
        metadata.token_endpoint = Some("https://issuer.test/oauth2/token".to_owned());
        metadata.grant_types_supported = Some(vec!["client_credentials".to_owned()]);
        let value = serde_json::to_value(&metadata).unwrap();
        assert_eq!(
            value,
            json!({
                "issuer": "https://issuer.test",
                "token_endpoint": "https://issuer.test/oauth2/token",
                "response_types_supported": [],
                "grant_types_supported": ["client_credentials"]
            })
        );
        assert_eq!(
            serde_json::from_value::<ServerMetadata>(value).unwrap(),
            metadata
        );
        let minimal: ServerMetadata =
            serde_json::from_value(json!({"issuer": "i", "x": true})).unwrap();
        assert!(minimal.response_types_supported.is_empty());
        assert_eq!(minimal.extra.get("x"), Some(&json!(true)));
    }

    #[test]
    fn inactive_introspection_is_exactly_active_false() {
        assert_eq!(
            serde_json::to_string(&IntrospectionResponse::inactive()).unwrap(),
            r#"{"active":false}"#
        );
    }

    #[test]
    fn active_introspection_round_trips() {
        let value = json!({
            "active": true, "scope": "a", "client_id": "svc", "token_type": "Bearer",
            "exp": 2, "iat": 1, "sub": "svc", "aud": ["x", "y"], "iss": "i", "jti": "j"
        });
        let parsed: IntrospectionResponse = serde_json::from_value(value.clone()).unwrap();
        assert!(parsed.active);
        assert_eq!(parsed.aud, Some(Audience::many(["x", "y"])));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), value);
    }
}
