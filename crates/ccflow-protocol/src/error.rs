//! OAuth error codes and the JSON error body of RFC 6749 §5.2.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth error code, closed over the registered values with an escape
/// hatch for anything else a peer sends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6749 §5.2): missing, repeated or malformed
    /// parameter, or more than one authentication method.
    InvalidRequest,
    /// `invalid_client` (RFC 6749 §5.2): client authentication failed.
    InvalidClient,
    /// `invalid_grant` (RFC 6749 §5.2).
    InvalidGrant,
    /// `unauthorized_client` (RFC 6749 §5.2): this client may not use this
    /// grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// `invalid_scope` (RFC 6749 §5.2).
    InvalidScope,
    /// `invalid_target` (RFC 8707 §2): a `resource` the server refuses.
    InvalidTarget,
    /// `unsupported_token_type` (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// `invalid_token` (RFC 6750 §3.1): expired, revoked or malformed token.
    InvalidToken,
    /// `insufficient_scope` (RFC 6750 §3.1).
    InsufficientScope,
    /// `server_error` (RFC 6749 §4.1.2.1), used as a JSON body for 500s.
    ServerError,
    /// `temporarily_unavailable` (RFC 6749 §4.1.2.1), used for 503s.
    TemporarilyUnavailable,
    /// `invalid_dpop_proof` (RFC 9449 §5, §7.1): the DPoP proof is missing or invalid.
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8, §9): retry with the server's `DPoP-Nonce`.
    UseDpopNonce,
    /// Any other code, kept verbatim.
    Other(String),
}

impl ErrorCode {
    /// The wire value, e.g. `invalid_client`.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::Other(other) => other,
        }
    }

    /// The HTTP status this code is answered with unless a profile says
    /// otherwise: 401 for `invalid_client` (RFC 6749 §5.2) and
    /// `invalid_token`, 403 for `insufficient_scope` (RFC 6750 §3.1), 500 for
    /// `server_error`, 503 for `temporarily_unavailable`, 400 otherwise.
    pub fn default_status(&self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        match code {
            "invalid_request" => ErrorCode::InvalidRequest,
            "invalid_client" => ErrorCode::InvalidClient,
            "invalid_grant" => ErrorCode::InvalidGrant,
            "unauthorized_client" => ErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => ErrorCode::UnsupportedGrantType,
            "invalid_scope" => ErrorCode::InvalidScope,
            "invalid_target" => ErrorCode::InvalidTarget,
            "unsupported_token_type" => ErrorCode::UnsupportedTokenType,
            "invalid_token" => ErrorCode::InvalidToken,
            "insufficient_scope" => ErrorCode::InsufficientScope,
            "server_error" => ErrorCode::ServerError,
            "temporarily_unavailable" => ErrorCode::TemporarilyUnavailable,
            "invalid_dpop_proof" => ErrorCode::InvalidDpopProof,
            "use_dpop_nonce" => ErrorCode::UseDpopNonce,
            other => ErrorCode::Other(other.to_owned()),
        }
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        match ErrorCode::from(code.as_str()) {
            ErrorCode::Other(_) => ErrorCode::Other(code),
            known => known,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(ErrorCode::from)
    }
}

/// Replaces every character outside `%x20-21 / %x23-5B / %x5D-7E` (the
/// `error_description` grammar of RFC 6749 §5.2 and RFC 6750 §3): `"`
/// becomes `'`, anything else (`\`, control characters, non-ASCII) `?`.
pub(crate) fn sanitize_description(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '"' => '\'',
            '\x20' | '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E' => character,
            _ => '?',
        })
        .collect()
}

/// Replaces every character outside `%x21 / %x23-5B / %x5D-7E` (the
/// `error_uri` grammar of RFC 6749 §5.2) with `?`.
pub(crate) fn sanitize_uri(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E' => character,
            _ => '?',
        })
        .collect()
}

fn serialize_description<S: Serializer>(
    description: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    // The fields are public, so sanitize again here: whatever a caller put
    // in, what goes on the wire matches the grammar.
    match description {
        Some(description) => serializer.serialize_str(&sanitize_description(description)),
        None => serializer.serialize_none(),
    }
}

fn serialize_uri<S: Serializer>(uri: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match uri {
        Some(uri) => serializer.serialize_str(&sanitize_uri(uri)),
        None => serializer.serialize_none(),
    }
}

fn bad_request() -> u16 {
    400
}

/// The JSON error body of RFC 6749 §5.2, plus the HTTP status it goes with.
///
/// The status is not part of the body: it is skipped when serializing and
/// defaults to 400 when deserializing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code.
    pub error: ErrorCode,
    /// Human-readable text for the developer, restricted by RFC 6749 §5.2 to
    /// printable ASCII without `"` and `\` (enforced when serializing).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_description"
    )]
    pub error_description: Option<String>,
    /// A URI of a page about the error (RFC 6749 §5.2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_uri"
    )]
    pub error_uri: Option<String>,
    #[serde(skip, default = "bad_request")]
    status: u16,
}

impl ErrorResponse {
    /// An error with a description, answered with the code's
    /// [`ErrorCode::default_status`]. The description is sanitized to the
    /// RFC 6749 §5.2 character set; an empty one is left out, since the
    /// grammar asks for at least one character.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let description = description.into();
        let status = code.default_status();
        ErrorResponse {
            error: code,
            error_description: (!description.is_empty())
                .then(|| sanitize_description(&description)),
            error_uri: None,
            status,
        }
    }

    /// Overrides the HTTP status, e.g. for a vendor profile that answers
    /// `invalid_client` with 400.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds an `error_uri`, sanitized to the RFC 6749 §5.2 character set.
    pub fn with_error_uri(mut self, uri: impl Into<String>) -> Self {
        self.error_uri = Some(sanitize_uri(&uri.into()));
        self
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// `invalid_request`, 400.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        ErrorResponse::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client`, 401.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        ErrorResponse::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_scope`, 400.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        ErrorResponse::new(ErrorCode::InvalidScope, description)
    }

    /// `invalid_target` (RFC 8707 §2), 400.
    pub fn invalid_target(description: impl Into<String>) -> Self {
        ErrorResponse::new(ErrorCode::InvalidTarget, description)
    }

    /// `unsupported_grant_type`, 400.
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        ErrorResponse::new(ErrorCode::UnsupportedGrantType, description)
    }

    /// `unauthorized_client`, 400.
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        ErrorResponse::new(ErrorCode::UnauthorizedClient, description)
    }

    /// `server_error`, 500. Keep the description opaque and log the cause.
    pub fn server_error(description: impl Into<String>) -> Self {
        ErrorResponse::new(ErrorCode::ServerError, description)
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(description) => write!(formatter, "{}: {description}", self.error),
            None => write!(formatter, "{}", self.error),
        }
    }
}

impl std::error::Error for ErrorResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_wire_names_and_statuses() {
        #[track_caller]
        fn check(code: &ErrorCode, wire: &str, status: u16) {
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.to_string(), wire);
            assert_eq!(code.default_status(), status);
            assert_eq!(&ErrorCode::from(wire), code);
            assert_eq!(&ErrorCode::from(wire.to_owned()), code);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{wire}\""));
            assert_eq!(&serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        check(&ErrorCode::InvalidRequest, "invalid_request", 400);
        check(&ErrorCode::InvalidClient, "invalid_client", 401);
        check(&ErrorCode::InvalidGrant, "invalid_grant", 400);
        check(&ErrorCode::UnauthorizedClient, "unauthorized_client", 400);
        check(
            &ErrorCode::UnsupportedGrantType,
            "unsupported_grant_type",
            400,
        );
        check(&ErrorCode::InvalidScope, "invalid_scope", 400);
        check(&ErrorCode::InvalidTarget, "invalid_target", 400);
        check(
            &ErrorCode::UnsupportedTokenType,
            "unsupported_token_type",
            400,
        );
        check(&ErrorCode::InvalidToken, "invalid_token", 401);
        check(&ErrorCode::InsufficientScope, "insufficient_scope", 403);
        check(&ErrorCode::ServerError, "server_error", 500);
        check(
            &ErrorCode::TemporarilyUnavailable,
            "temporarily_unavailable",
            503,
        );
        // 400 at the token endpoint (RFC 9449 §5, §8); a resource server answers 401.
        check(&ErrorCode::InvalidDpopProof, "invalid_dpop_proof", 400);
        check(&ErrorCode::UseDpopNonce, "use_dpop_nonce", 400);
        check(&ErrorCode::Other("slow_down".to_owned()), "slow_down", 400);
    }

    #[test]
    fn serializes_without_status_or_absent_fields() {
        let response = ErrorResponse::invalid_client("unknown client");
        assert_eq!(response.status(), 401);
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"error":"invalid_client","error_description":"unknown client"}"#
        );
        let bare = ErrorResponse::invalid_request("");
        assert_eq!(bare.error_description, None);
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"error":"invalid_request"}"#
        );
        let with_uri = ErrorResponse::server_error("oops").with_error_uri("https://x.test/e");
        assert_eq!(
            serde_json::to_string(&with_uri).unwrap(),
            r#"{"error":"server_error","error_description":"oops","error_uri":"https://x.test/e"}"#
        );
    }

    #[test]
    fn deserializes_with_a_default_status_of_400() {
        let response: ErrorResponse = serde_json::from_str(
            r#"{"error":"invalid_client","error_description":"nope","extra":1}"#,
        )
        .unwrap();
        assert_eq!(response.error, ErrorCode::InvalidClient);
        assert_eq!(response.error_description.as_deref(), Some("nope"));
        assert_eq!(response.error_uri, None);
        assert_eq!(response.status(), 400);
    }

    #[test]
    fn convenience_constructors_pick_code_and_status() {
        #[track_caller]
        fn check(response: &ErrorResponse, code: &ErrorCode, status: u16) {
            let description = response.error_description.as_deref();
            assert_eq!(
                (&response.error, response.status(), description),
                (code, status, Some("why"))
            );
        }
        check(
            &ErrorResponse::invalid_request("why"),
            &ErrorCode::InvalidRequest,
            400,
        );
        check(
            &ErrorResponse::invalid_client("why"),
            &ErrorCode::InvalidClient,
            401,
        );
        check(
            &ErrorResponse::invalid_scope("why"),
            &ErrorCode::InvalidScope,
            400,
        );
        check(
            &ErrorResponse::invalid_target("why"),
            &ErrorCode::InvalidTarget,
            400,
        );
        check(
            &ErrorResponse::unsupported_grant_type("why"),
            &ErrorCode::UnsupportedGrantType,
            400,
        );
        check(
            &ErrorResponse::unauthorized_client("why"),
            &ErrorCode::UnauthorizedClient,
            400,
        );
        check(
            &ErrorResponse::server_error("why"),
            &ErrorCode::ServerError,
            500,
        );
        check(
            &ErrorResponse::invalid_client("why").with_status(400),
            &ErrorCode::InvalidClient,
            400,
        );
    }

    #[test]
    fn sanitizes_descriptions_to_the_rfc_6749_character_set() {
        #[track_caller]
        fn check(input: &str, expected: &str) {
            let response = ErrorResponse::invalid_request(input);
            assert_eq!(response.error_description.as_deref(), Some(expected));
            let allowed =
                |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
            assert!(expected.chars().all(allowed));
        }
        check(
            "plain text: ok (see RFC 6749 section 5.2)",
            "plain text: ok (see RFC 6749 section 5.2)",
        );
        check(r#"say "hi""#, "say 'hi'");
        check(r"back\slash", "back?slash");
        check("line\nbreak\ttab\r", "line?break?tab?");
        check("caf\u{e9} \u{20ac}", "caf? ?");
        check("\u{7f}\u{0}", "??");
    }

    #[test]
    fn sanitizes_public_fields_when_serializing() {
        let mut response = ErrorResponse::invalid_request("x");
        response.error_description = Some("a\"b\\c\u{e9}".to_owned());
        response.error_uri = Some("https://x.test/a b".to_owned());
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"error":"invalid_request","error_description":"a'b?c?","error_uri":"https://x.test/a?b"}"#
        );
    }

    #[test]
    fn displays_code_and_description() {
        assert_eq!(
            ErrorResponse::invalid_client("description").to_string(),
            "invalid_client: description"
        );
        assert_eq!(
            ErrorResponse::invalid_client("").to_string(),
            "invalid_client"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(ErrorResponse::server_error("x"));
        assert_eq!(boxed.to_string(), "server_error: x");
    }
}
