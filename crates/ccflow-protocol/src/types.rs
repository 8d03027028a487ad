//! Newtypes for the client identifier and the two secrets of the flow, so a secret can never be printed or compared carelessly.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// What secrets print instead of their value.
const REDACTED: &str = "[redacted]";

/// Compares two secrets without exiting early on the first differing byte.
///
/// The loop runs over the longer of the two inputs (missing bytes count as
/// zero) and folds the length comparison into the same [`subtle::Choice`], so
/// the running time depends only on the lengths: the length of a secret may
/// leak through timing, its content does not.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    let max_len = left.len().max(right.len());
    let mut equal = (left.len() as u64).ct_eq(&(right.len() as u64));
    for index in 0..max_len {
        let left_byte = left.get(index).copied().unwrap_or(0);
        let right_byte = right.get(index).copied().unwrap_or(0);
        equal &= left_byte.ct_eq(&right_byte);
    }
    bool::from(equal)
}

/// The client identifier (RFC 6749 §2.2): a public, unique string the
/// authorization server issued to the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Wraps a client identifier; RFC 6749 §2.2 puts no syntax on it.
    pub fn new(client_id: impl Into<String>) -> ClientId {
        ClientId(client_id.into())
    }

    /// The identifier as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl From<&str> for ClientId {
    fn from(client_id: &str) -> Self {
        ClientId::new(client_id)
    }
}

impl From<String> for ClientId {
    fn from(client_id: String) -> Self {
        ClientId(client_id)
    }
}

/// The client password of RFC 6749 §2.3.1.
///
/// It deserializes (clients are configured from files) but deliberately does
/// not serialize, prints as `[redacted]`, and compares in constant time
/// (only its length may leak through timing).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a client secret.
    pub fn new(client_secret: impl Into<String>) -> ClientSecret {
        ClientSecret(client_secret.into())
    }

    /// The secret itself; the name makes every use visible in review.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ClientSecret({REDACTED})")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl PartialEq for ClientSecret {
    /// Constant-time comparison: only the lengths may leak through timing.
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for ClientSecret {}

/// An access token (RFC 6749 §1.4), opaque to the client; ccflow issues
/// RFC 9068 JWTs.
///
/// It serializes because it is the `access_token` member of a token
/// response, but prints as `[redacted]` and compares in constant time.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps an access token.
    pub fn new(access_token: impl Into<String>) -> AccessToken {
        AccessToken(access_token.into())
    }

    /// The token itself, e.g. for an `Authorization: Bearer` header.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "AccessToken({REDACTED})")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl PartialEq for AccessToken {
    /// Constant-time comparison: only the lengths may leak through timing.
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for AccessToken {}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2-very-secret";

    #[test]
    fn client_secret_never_prints_its_value() {
        let secret = ClientSecret::new(SECRET);
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
        assert_eq!(format!("{secret:#?}"), "ClientSecret([redacted])");
        assert_eq!(secret.to_string(), "[redacted]");
        assert!(!format!("{:?}", Some(secret.clone())).contains(SECRET));
        assert_eq!(secret.expose_secret(), SECRET);
    }

    #[test]
    fn access_token_never_prints_its_value() {
        let token = AccessToken::new(SECRET);
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(token.to_string(), "[redacted]");
        assert_eq!(token.secret(), SECRET);
    }

    #[test]
    fn access_token_serializes_as_a_plain_string() {
        let token = AccessToken::new("abc");
        assert_eq!(serde_json::to_string(&token).unwrap(), r#""abc""#);
        let back: AccessToken = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(back, token);
    }

    #[test]
    fn client_secret_deserializes_from_a_plain_string() {
        let secret: ClientSecret = serde_json::from_str(r#""s3cret""#).unwrap();
        assert_eq!(secret.expose_secret(), "s3cret");
    }

    #[test]
    fn client_id_is_transparent_and_displays_itself() {
        let id = ClientId::from("orders-service");
        assert_eq!(id.to_string(), "orders-service");
        assert_eq!(id.as_str(), "orders-service");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""orders-service""#);
        let back: ClientId = serde_json::from_str(r#""orders-service""#).unwrap();
        assert_eq!(back, ClientId::from(String::from("orders-service")));
    }

    #[test]
    fn secrets_compare_by_value_including_length() {
        #[track_caller]
        fn check(left: &str, right: &str, expected: bool) {
            assert_eq!(
                constant_time_eq(left.as_bytes(), right.as_bytes()),
                expected
            );
            assert_eq!(
                ClientSecret::new(left) == ClientSecret::new(right),
                expected
            );
            assert_eq!(AccessToken::new(left) == AccessToken::new(right), expected);
        }
        check("", "", true);
        check("abc", "abc", true);
        check("abc", "abd", false);
        check("abc", "ab", false);
        check("ab", "abc", false);
        // Zero padding must not make a shorter secret equal a longer one.
        check("abc", "abc\0", false);
        check("", "\0", false);
    }
}
