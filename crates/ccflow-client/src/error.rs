//! What can go wrong when getting a token, each case saying what to check.

use std::sync::Arc;
use std::time::Duration;

use ccflow_protocol::ErrorCode;

/// Why [`TokenClient::token`](crate::TokenClient::token) failed. Cheap to clone (concurrent
/// callers sharing one fetch all receive the same error). Never contains a secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The authorization server answered with an OAuth error (RFC 6749 §5.2).
    #[error(
        "the authorization server refused the token request: {code} (HTTP {status}){}{}",
        description_suffix(description),
        hint(code)
    )]
    OAuth {
        /// HTTP status (a 2xx when the server put `error` in a success response).
        status: u16,
        /// The `error` code.
        code: ErrorCode,
        /// The `error_description`, if any.
        description: Option<String>,
        /// The `error_uri`, if any.
        uri: Option<String>,
    },
    /// The request did not get a response: connection refused, reset, DNS, TLS.
    #[error(
        "could not reach the token endpoint {endpoint}: {message} (check the URL, the network and TLS)"
    )]
    Transport {
        /// The token endpoint (or discovery URL).
        endpoint: String,
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Arc<reqwest::Error>>,
    },
    /// No response within the request timeout, or the retry deadline ran out.
    #[error(
        "the token endpoint {endpoint} did not answer in time ({after:?}); raise the timeout or check the server"
    )]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// How long was waited.
        after: Duration,
    },
    /// A response that is not a usable token response (HTML page, malformed JSON, no
    /// `access_token`, a redirect…). The excerpt is truncated and redacted.
    #[error(
        "the token endpoint sent an unusable response (HTTP {status}): {reason}{}",
        excerpt_suffix(body_excerpt)
    )]
    InvalidResponse {
        /// HTTP status.
        status: u16,
        /// What is wrong with it.
        reason: String,
        /// The start of the body, with token values and the client secret removed.
        body_excerpt: String,
    },
    /// Discovery (RFC 8414 / OpenID Connect) failed.
    #[error("discovery for issuer {issuer} failed: {reason}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// The client is misconfigured.
    #[error("invalid ccflow-client configuration: {0}")]
    Config(String),
}

fn description_suffix(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

fn hint(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidClient => {
            " (check the client id, the secret or key, and the authentication method)"
        }
        ErrorCode::InvalidGrant => {
            " (some servers, e.g. UserClouds, say invalid_grant for a wrong client secret)"
        }
        ErrorCode::InvalidScope => " (request only scopes registered for this client)",
        ErrorCode::UnauthorizedClient => " (the client may not use the client_credentials grant)",
        ErrorCode::InvalidTarget => " (the resource/audience is not known for this client)",
        _ => "",
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!("; body starts: {excerpt}")
    }
}

impl TokenError {
    /// Whether trying again may help: transport failures, timeouts, 5xx, 429 and
    /// `temporarily_unavailable`. `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `invalid_scope` and other 4xx answers are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } => true,
            Self::OAuth { status, code, .. } => {
                *code == ErrorCode::TemporarilyUnavailable
                    || *status == 429
                    || (500..600).contains(status)
            }
            Self::InvalidResponse { status, .. } => *status == 429 || (500..600).contains(status),
            Self::Discovery { .. } | Self::Config(_) => false,
        }
    }

    /// The OAuth error code, for an [`OAuth`](Self::OAuth) error.
    pub fn oauth_code(&self) -> Option<&ErrorCode> {
        match self {
            Self::OAuth { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Why [`AuthorizedClient`](crate::AuthorizedClient) could not complete a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No token could be obtained.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The API request itself failed (not an HTTP error status: those are returned as responses).
    #[error("the API request failed: {0}")]
    Http(#[source] reqwest::Error),
}
