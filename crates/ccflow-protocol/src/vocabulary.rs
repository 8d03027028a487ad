//! Closed vocabularies of the token endpoint: grant types and client authentication methods.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::truncate_for_echo;

/// The `client_assertion_type` value for a JWT client assertion
/// (RFC 7523 §2.2), i.e. the `private_key_jwt` method.
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The RFC 8693 §2.1 `grant_type` of a token exchange.
pub const GRANT_TYPE_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A `grant_type` value (RFC 6749 §4), with an escape hatch for extension
/// grants (RFC 6749 §4.5). ccflow only serves
/// [`GrantType::ClientCredentials`]; the others exist so it can name what
/// it refuses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `password` (RFC 6749 §4.3).
    Password,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1).
    JwtBearer,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693 §2.1).
    TokenExchange,
    /// Any other grant type, kept verbatim.
    Other(String),
}

impl GrantType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            GrantType::TokenExchange => GRANT_TYPE_TOKEN_EXCHANGE,
            GrantType::Other(other) => other,
        }
    }
}

impl From<&str> for GrantType {
    /// Maps the registered values to their variants (case-sensitive, as
    /// RFC 6749 §3.2 parameter values are), anything else to `Other`.
    fn from(grant_type: &str) -> Self {
        match grant_type {
            "client_credentials" => GrantType::ClientCredentials,
            "authorization_code" => GrantType::AuthorizationCode,
            "refresh_token" => GrantType::RefreshToken,
            "password" => GrantType::Password,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => GrantType::JwtBearer,
            GRANT_TYPE_TOKEN_EXCHANGE => GrantType::TokenExchange,
            other => GrantType::Other(other.to_owned()),
        }
    }
}

impl From<String> for GrantType {
    fn from(grant_type: String) -> Self {
        match GrantType::from(grant_type.as_str()) {
            GrantType::Other(_) => GrantType::Other(grant_type),
            known => known,
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for GrantType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GrantType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(GrantType::from)
    }
}

/// A client authentication method at the token endpoint, named as in the
/// OAuth registry used by RFC 8414 `token_endpoint_auth_methods_supported`
/// (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// A public client that does not authenticate (RFC 7591 §2).
    None,
    /// Mutual TLS with a certificate from a trusted CA whose subject DN or SAN the client
    /// registered (RFC 8705 §2.1); the body carries `client_id` and no secret (§2).
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate the client registered (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// Every method, in the order error messages list them.
    pub const ALL: [AuthMethod; 6] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
        AuthMethod::TlsClientAuth,
        AuthMethod::SelfSignedTlsClientAuth,
    ];

    /// The registered name, e.g. `client_secret_basic`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Whether the method is mutual TLS (RFC 8705 §2): the client proves itself with the
    /// certificate of its TLS connection.
    pub fn is_mutual_tls(self) -> bool {
        matches!(
            self,
            AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
        )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A string that names no [`AuthMethod`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown client authentication method `{}`; expected one of client_secret_basic, client_secret_post, private_key_jwt, none, tls_client_auth, self_signed_tls_client_auth",
    truncate_for_echo(.0)
)]
pub struct UnknownAuthMethod(pub String);

impl FromStr for AuthMethod {
    type Err = UnknownAuthMethod;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        AuthMethod::ALL
            .into_iter()
            .find(|method| method.as_str() == name)
            .ok_or_else(|| UnknownAuthMethod(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_types_round_trip_through_their_wire_names() {
        #[track_caller]
        fn check(wire: &str, expected: &GrantType) {
            assert_eq!(&GrantType::from(wire), expected);
            assert_eq!(&GrantType::from(wire.to_owned()), expected);
            assert_eq!(expected.as_str(), wire);
            assert_eq!(expected.to_string(), wire);
            let json = serde_json::to_string(expected).unwrap();
            assert_eq!(json, format!("\"{wire}\""));
            assert_eq!(&serde_json::from_str::<GrantType>(&json).unwrap(), expected);
        }
        check("client_credentials", &GrantType::ClientCredentials);
        check("authorization_code", &GrantType::AuthorizationCode);
        check("refresh_token", &GrantType::RefreshToken);
        check("password", &GrantType::Password);
        check(
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            &GrantType::JwtBearer,
        );
        check(
            "Client_Credentials",
            &GrantType::Other("Client_Credentials".to_owned()),
        );
        check(
            "urn:example:custom",
            &GrantType::Other("urn:example:custom".to_owned()),
        );
    }

    #[test]
    fn auth_methods_round_trip_through_their_registered_names() {
        #[track_caller]
        fn check(wire: &str, expected: AuthMethod) {
            assert_eq!(wire.parse::<AuthMethod>(), Ok(expected));
            assert_eq!(expected.as_str(), wire);
            assert_eq!(expected.to_string(), wire);
            let json = serde_json::to_string(&expected).unwrap();
            assert_eq!(json, format!("\"{wire}\""));
            assert_eq!(serde_json::from_str::<AuthMethod>(&json).unwrap(), expected);
        }
        check("client_secret_basic", AuthMethod::ClientSecretBasic);
        check("client_secret_post", AuthMethod::ClientSecretPost);
        check("private_key_jwt", AuthMethod::PrivateKeyJwt);
        check("none", AuthMethod::None);
        check("tls_client_auth", AuthMethod::TlsClientAuth);
        check(
            "self_signed_tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth,
        );
    }

    #[test]
    fn unknown_auth_method_error_lists_the_allowed_names() {
        let error = "client_secret_jwt".parse::<AuthMethod>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`client_secret_jwt`"), "{message}");
        for method in AuthMethod::ALL {
            assert!(message.contains(method.as_str()), "{message}");
        }
        let long = "x"
            .repeat(500)
            .parse::<AuthMethod>()
            .unwrap_err()
            .to_string();
        assert!(long.len() < 250, "{long}");
    }
}
