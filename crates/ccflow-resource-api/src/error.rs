//! Every way a request, a token, a key fetch or a builder can fail, each with one fixed meaning.
//!
//! Descriptions never echo a token, a header value, a `kid` or any other text a caller
//! chooses, so they are safe to send to clients and to log. The one exception by design is a
//! signed claim that names the wrong party (`aud`): it is read only after the signature
//! verified against the issuer's key, so it is the issuer's text, and naming the expected and
//! the received value is what tells a team its API and its tokens disagree (bounded in
//! length, and sanitised again by the RFC 6750 challenge). An `iss` is looked up before the
//! signature (it picks the keys), so an untrusted one is refused without being repeated.

use std::time::Duration;

/// Why a request's credentials were refused before any token was looked at
/// (RFC 6750 §3.1 `invalid_request`, answered with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestRejection {
    /// More than one `Authorization` header.
    #[error("the request has more than one Authorization header")]
    MultipleAuthorizationHeaders,
    /// An `access_token` query parameter. RFC 6750 §2.3 discourages the query
    /// transport (tokens end up in logs and `Referer`), so it is not supported.
    #[error(
        "access tokens are accepted only in the Authorization header, not in the query string (RFC 6750 section 2.3)"
    )]
    TokenInQuery,
    /// An `access_token` form-body parameter (RFC 6750 §2.2), which this API
    /// does not support.
    #[error(
        "access tokens are accepted only in the Authorization header, not in a form body (RFC 6750 section 2.2)"
    )]
    TokenInBody,
    /// A token in the header and in the query or body: RFC 6750 §2 says
    /// clients MUST NOT use more than one method.
    #[error("the request carries an access token in more than one place (RFC 6750 section 2)")]
    MultipleTransports,
    /// `Authorization: Bearer` whose credentials are not `1*SP b64token`
    /// (RFC 6750 §2.1), or a header value that is not visible ASCII.
    #[error("the Authorization header is not `Bearer <token>` (RFC 6750 section 2.1)")]
    MalformedAuthorization,
    /// A form body that broke off while being checked for an `access_token` parameter.
    #[error("the request body could not be read")]
    UnreadableBody,
    /// A form body too large to be checked for an `access_token` parameter.
    #[error("the form body is larger than {limit} bytes")]
    FormBodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// `Authorization: DPoP` whose credentials are not one token68 (RFC 9449 §7.1).
    #[error("the Authorization header is not `DPoP <token>` (RFC 9449 section 7.1)")]
    MalformedDpopAuthorization,
}

/// Why a token was refused (RFC 6750 §3.1 `invalid_token`, answered with 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRejection {
    /// The token (or the `Authorization` header) is over the size cap.
    #[error("the token is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Not three base64url parts separated by dots (RFC 7515 §7.1).
    #[error("the token is not a JWS in compact serialization (three base64url parts)")]
    NotAJws,
    /// The JOSE header is not base64url JSON with a string `alg`, or repeats a member.
    #[error("the token's JOSE header is not a JSON object with a string alg")]
    MalformedHeader,
    /// `alg: none`: an unsigned token (RFC 8725 §3.1).
    #[error("unsigned tokens (alg none) are never accepted (RFC 8725 section 3.1)")]
    AlgNone,
    /// An `alg` outside the configured allow-list.
    #[error("the token's alg is not accepted here (accepted: {accepted})")]
    AlgNotAllowed {
        /// The accepted algorithms, comma-separated.
        accepted: String,
    },
    /// A `typ` other than the accepted ones, or none (RFC 9068 §2.1, RFC 8725 §3.11).
    #[error("the token's typ is not accepted (expected: {expected}; RFC 9068 section 2.1)")]
    TypNotAccepted {
        /// The accepted values, comma-separated.
        expected: String,
    },
    /// A `crit` header: this validator understands no JWS extensions, so
    /// RFC 7515 §4.1.11 requires rejecting the token.
    #[error(
        "the token has a crit header, and this API understands no JWS extensions (RFC 7515 section 4.1.11)"
    )]
    CriticalHeader,
    /// A `kid` over the length cap, refused before any key lookup.
    #[error("the token's kid is longer than {limit} bytes")]
    KidTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// No published key has the token's `kid` (or, without a `kid`, no key fits its `alg`).
    #[error("no key published by the issuer matches the token's kid")]
    UnknownKey,
    /// The key with this `kid` is of another type or declares another `alg`.
    #[error("the issuer's key for this kid is not for the token's alg")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The payload is not valid JSON, not an object, or repeats a claim name (RFC 7519 §4).
    #[error("the token's claims are not a valid JSON object")]
    MalformedClaims,
    /// A required claim is absent.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim of the wrong JSON type, e.g. a string `exp` (CVE-2026-25537).
    #[error("the token's {0} claim has the wrong type")]
    ClaimType(&'static str),
    /// `iss` is not exactly the configured issuer (a trailing slash counts).
    #[error(
        "the token was issued by another issuer: iss is {}, this API trusts {}",
        Bounded(received),
        Bounded(expected)
    )]
    WrongIssuer {
        /// The issuer this API trusts.
        expected: String,
        /// The token's `iss`.
        received: String,
    },
    /// `iss` names none of the issuers this API trusts. Read before the signature is checked
    /// (the issuer decides which keys check it), so the description does not repeat it; it
    /// names what this API trusts (its configuration), so a caller can see a trailing slash or
    /// another host at a glance.
    #[error(
        "the token's issuer (iss) is not one this API trusts (it trusts {})",
        BoundedList(trusted)
    )]
    UntrustedIssuer {
        /// The issuers this API trusts, in configuration order.
        trusted: Vec<String>,
    },
    /// `aud` names none of this API's audiences.
    #[error(
        "the token is not meant for this API: aud is {}, this API accepts {}",
        BoundedList(received),
        BoundedList(expected)
    )]
    WrongAudience {
        /// The audiences this API accepts.
        expected: Vec<String>,
        /// The token's `aud`, in order.
        received: Vec<String>,
    },
    /// `exp` has passed, leeway included.
    #[error("the token expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    #[error("the token was issued in the future (iat)")]
    IssuedInFuture,
    /// A DPoP-bound token (it has `cnf.jkt`) sent as a Bearer token: without its proof it
    /// proves nothing (RFC 9449 §7.2).
    #[error(
        "the token is DPoP-bound (cnf.jkt): send it as `Authorization: DPoP` with a DPoP proof (RFC 9449 section 7.2)"
    )]
    DpopBoundAsBearer,
    /// `Authorization: DPoP` with a token that is not bound to a key (no `cnf.jkt`).
    #[error(
        "the token is not DPoP-bound (no cnf.jkt claim) and cannot be sent with the DPoP scheme (RFC 9449 section 7.1)"
    )]
    NotDpopBound,
    /// The proof's key is not the key the token is bound to (RFC 9449 §7.1, whose example
    /// answers this with `invalid_token`).
    #[error(
        "the DPoP proof's key is not the key the token is bound to (cnf.jkt; RFC 9449 section 7.1)"
    )]
    DpopKeyMismatch,
    /// A Bearer token where the route accepts DPoP-bound tokens only.
    #[error(
        "this resource accepts only DPoP-bound tokens, sent as `Authorization: DPoP` with a DPoP proof (RFC 9449 section 7.1)"
    )]
    DpopRequired,
    /// A certificate-bound token (it has `cnf["x5t#S256"]`) on a request that presented no
    /// client certificate: neither on its TLS connection nor, from a trusted proxy, in the
    /// configured header (RFC 8705 §3).
    #[error(
        "the token is certificate-bound (cnf x5t#S256) and the request presented no client certificate: send it over mutual TLS with the certificate it is bound to (RFC 8705 section 3)"
    )]
    CertificateMissing,
    /// A certificate-bound token on a request whose client certificate is another one
    /// (RFC 8705 §3: the thumbprints must match).
    #[error(
        "the client certificate presented does not match the certificate the token is bound to (cnf x5t#S256; RFC 8705 section 3)"
    )]
    CertificateMismatch,
    /// A certificate-bound token on a request from a trusted proxy whose forwarded-certificate
    /// header cannot be read: nothing confirms the binding (RFC 8705 §3). The reason is logged,
    /// never sent (it is about the proxy's configuration, not the client's request).
    #[error(
        "the token is certificate-bound (cnf x5t#S256) and the client certificate forwarded by the TLS-terminating proxy cannot be read (RFC 8705 section 3)"
    )]
    ForwardedCertificateUnreadable,
}

/// Why a DPoP proof was refused at this API (RFC 9449 §7.1): `invalid_dpop_proof`, or
/// `use_dpop_nonce` when the API wants one of its nonces (§9). Descriptions never repeat the
/// proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopRejection {
    /// `Authorization: DPoP` without a `DPoP` header.
    #[error("the request has no DPoP proof header (RFC 9449 section 7.1)")]
    MissingProof,
    /// More than one `DPoP` header (RFC 9449 §4.3 check 1).
    #[error("the request has more than one DPoP header (RFC 9449 section 4.3)")]
    MultipleProofs,
    /// The proof fails one of the checks of RFC 9449 §4.3 (the protocol's `check_proof`).
    #[error("{0}")]
    Proof(ccflow_protocol::dpop::ProofError),
    /// The proof's `jti` was seen within its window (RFC 9449 §11.1).
    #[error("the DPoP proof was already used (its jti was seen; RFC 9449 section 11.1)")]
    Replayed,
    /// This API requires a nonce and the proof has none (RFC 9449 §9).
    #[error(
        "this API requires a DPoP nonce: retry with the DPoP-Nonce header's value (RFC 9449 section 9)"
    )]
    NonceMissing,
    /// The proof's nonce is not one this API issued, or it expired.
    #[error("the DPoP nonce is not one this API issued, or it has expired (RFC 9449 section 9)")]
    NonceStale,
    /// The replay cache is full of proofs still in their window: 503, retry shortly.
    #[error("too many DPoP proofs in the replay window; retry shortly")]
    ReplayCacheFull,
}

impl DpopRejection {
    /// The error code the challenge carries.
    pub fn code(&self) -> ccflow_protocol::ErrorCode {
        match self {
            DpopRejection::NonceMissing | DpopRejection::NonceStale => {
                ccflow_protocol::ErrorCode::UseDpopNonce
            }
            DpopRejection::ReplayCacheFull => ccflow_protocol::ErrorCode::TemporarilyUnavailable,
            _ => ccflow_protocol::ErrorCode::InvalidDpopProof,
        }
    }
}

/// Longest claim value a description repeats, in characters.
const DESCRIBED_VALUE_CHARS: usize = 80;
/// Most values of a list a description repeats.
const DESCRIBED_VALUES: usize = 5;

/// A claim value in a description: at most [`DESCRIBED_VALUE_CHARS`] characters, each one an
/// RFC 6750 §3 `error_description` character (others, `"` and `\` among them, become `?`), so
/// the description needs no escaping anywhere.
struct Bounded<'a>(&'a str);

impl std::fmt::Display for Bounded<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut chars = self.0.chars();
        formatter.write_str("`")?;
        for c in chars.by_ref().take(DESCRIBED_VALUE_CHARS) {
            let allowed = matches!(c, ' '..='~') && c != '"' && c != '\\';
            std::fmt::Write::write_char(formatter, if allowed { c } else { '?' })?;
        }
        if chars.next().is_some() {
            formatter.write_str("...")?;
        }
        formatter.write_str("`")
    }
}

/// A list of claim values in a description: at most [`DESCRIBED_VALUES`] of them.
struct BoundedList<'a>(&'a [String]);

impl std::fmt::Display for BoundedList<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return formatter.write_str("empty");
        }
        for (index, value) in self.0.iter().take(DESCRIBED_VALUES).enumerate() {
            if index > 0 {
                formatter.write_str(", ")?;
            }
            write!(formatter, "{}", Bounded(value))?;
        }
        if self.0.len() > DESCRIBED_VALUES {
            write!(formatter, " and {} more", self.0.len() - DESCRIBED_VALUES)?;
        }
        Ok(())
    }
}

/// Why a request was not let through. Each variant maps to one status and
/// RFC 6750 challenge; see [`Validator::refusal`](crate::Validator::refusal) (the answer as
/// data, which the actix and axum adapters both write out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer credentials at all (or another scheme): 401 with a bare
    /// challenge, as RFC 6750 §3.1 asks.
    #[error("the request carries no bearer token")]
    MissingToken,
    /// Malformed credentials: 400 `invalid_request`.
    #[error("{0}")]
    InvalidRequest(RequestRejection),
    /// The token was refused: 401 `invalid_token`.
    #[error("{0}")]
    InvalidToken(TokenRejection),
    /// A valid token without the privileges the route needs: 403
    /// `insufficient_scope` (RFC 6750 §3.1).
    #[error("{description}")]
    InsufficientScope {
        /// What to ask the authorization server for: scopes, or (for
        /// audience policies) audiences. Sent as the challenge's `scope`.
        required: Vec<String>,
        /// A sentence saying what was missing.
        description: String,
    },
    /// The DPoP proof was refused: 401 with a `DPoP` challenge whose error is
    /// `invalid_dpop_proof`, or `use_dpop_nonce` and a fresh `DPoP-Nonce` (RFC 9449 §7.1, §9).
    #[error("{0}")]
    InvalidDpopProof(DpopRejection),
    /// No signing keys could ever be loaded (or the cached ones are too
    /// stale to trust): 503 with `Retry-After`.
    #[error("the issuer's signing keys are unavailable; retry in {} s", retry_after.as_secs())]
    KeysUnavailable {
        /// When a new attempt to fetch keys will be allowed.
        retry_after: Duration,
    },
    /// The route is protected but no [`Validator`](crate::Validator) was
    /// registered with `App::app_data`: a programming error, answered 500.
    #[error("no ccflow_resource_api::Validator is registered as app data")]
    NotConfigured,
}

impl From<TokenRejection> for AuthError {
    fn from(rejection: TokenRejection) -> Self {
        AuthError::InvalidToken(rejection)
    }
}

impl From<DpopRejection> for AuthError {
    fn from(rejection: DpopRejection) -> Self {
        AuthError::InvalidDpopProof(rejection)
    }
}

impl From<RequestRejection> for AuthError {
    fn from(rejection: RequestRejection) -> Self {
        AuthError::InvalidRequest(rejection)
    }
}

/// Why a JWKS (or discovery) fetch failed. URLs are printed without userinfo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The request failed: connection refused, TLS, reset...
    #[error("GET {url} failed: {reason}")]
    Http {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A non-2xx answer.
    #[error("GET {url} answered HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is over the size cap.
    #[error("GET {url}: the body is larger than {limit} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not the expected JSON document.
    #[error("GET {url}: {reason}")]
    Malformed {
        /// The URL fetched.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The metadata names another issuer (RFC 8414 §3.3 requires them to be identical).
    #[error("the discovery document at {url} is for another issuer")]
    IssuerMismatch {
        /// The discovery URL.
        url: String,
    },
    /// Discovery and fetch together took longer than the fetch timeout.
    #[error("the key fetch timed out after {} ms", timeout.as_millis())]
    Timeout {
        /// The timeout.
        timeout: Duration,
    },
    /// The refresh task stopped before finishing (its runtime shut down).
    #[error("the key refresh was interrupted")]
    Interrupted,
    /// Called outside a Tokio runtime, where the refresh cannot run.
    #[error("the key refresh needs a Tokio runtime")]
    NoRuntime,
}

/// Why a [`ValidatorBuilder`](crate::ValidatorBuilder) could not build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No issuer was configured; `iss` must be checked (RFC 9068 §4).
    #[error("an issuer is required: it is what the iss claim must equal")]
    MissingIssuer,
    /// The issuer is not an http(s) URL.
    #[error("the issuer must be an http(s) URL without query or fragment (RFC 8414 section 2)")]
    InvalidIssuer,
    /// The JWKS URL is not an http(s) URL.
    #[error("the JWKS URL must be an http(s) URL")]
    InvalidJwksUrl,
    /// No audience was configured; `aud` must be checked (RFC 9068 §4, RFC 8725 §3.9).
    #[error("at least one audience is required: a token passes only if its aud names this API")]
    MissingAudience,
    /// The algorithm allow-list is empty.
    #[error("the algorithm allow-list is empty")]
    NoAlgorithms,
    /// An HMAC algorithm was allowed without a shared secret.
    #[error(
        "HS256/HS384/HS512 need a shared secret (shared_secret); JWKS keys are never used for HMAC"
    )]
    HmacWithoutSecret,
    /// A shared secret was configured but no HMAC algorithm allowed.
    #[error("a shared secret is configured but no HS256/HS384/HS512 algorithm is allowed")]
    SecretWithoutHmac,
    /// The shared secret is shorter than RFC 7518 §3.2 allows.
    #[error("the shared secret must be at least {min} bytes (RFC 7518 section 3.2)")]
    SecretTooShort {
        /// The minimum length, in bytes.
        min: usize,
    },
    /// The accepted `typ` list is empty.
    #[error("the accepted typ list is empty; use skip_typ_check() to accept any typ")]
    NoTyp,
    /// A duration setting is out of range (zero, or min above max).
    #[error("invalid setting {setting}: {why}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// Why.
        why: &'static str,
    },
    /// The public URL is not an http(s) URL without query and fragment.
    #[error("the public URL must be an http(s) URL without query or fragment")]
    InvalidPublicUrl,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The same issuer was trusted twice.
    #[error("the issuer {0} is trusted twice: give each issuer once")]
    DuplicateIssuer(String),
    /// One of several trusted issuers is misconfigured.
    #[error("trusted issuer {issuer}: {error}")]
    TrustedIssuer {
        /// The issuer, as given.
        issuer: String,
        /// What is wrong with its settings.
        error: Box<BuildError>,
    },
}

/// Removes `user:password@` from a URL before it is printed.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://[redacted]@{}{path}", &authority[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_in_urls() {
        #[track_caller]
        fn check(url: &str, expected: &str) {
            assert_eq!(redact_url(url), expected);
        }
        check("https://idp.test/jwks", "https://idp.test/jwks");
        check(
            "https://user:pw@idp.test/jwks",
            "https://[redacted]@idp.test/jwks",
        );
        check("https://idp.test/a@b?c=d@e", "https://idp.test/a@b?c=d@e");
        check("not a url", "not a url");
    }

    #[test]
    fn descriptions_never_need_escaping_in_a_challenge() {
        // RFC 6750 §3 restricts error_description to %x20-21 / %x23-5B / %x5D-7E.
        let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
        let errors = [
            AuthError::from(RequestRejection::MultipleAuthorizationHeaders),
            AuthError::from(RequestRejection::TokenInQuery),
            AuthError::from(RequestRejection::TokenInBody),
            AuthError::from(RequestRejection::MultipleTransports),
            AuthError::from(RequestRejection::MalformedAuthorization),
            AuthError::from(RequestRejection::UnreadableBody),
            AuthError::from(RequestRejection::FormBodyTooLarge { limit: 1 }),
            AuthError::from(TokenRejection::TooLarge { limit: 1 }),
            AuthError::from(TokenRejection::NotAJws),
            AuthError::from(TokenRejection::MalformedHeader),
            AuthError::from(TokenRejection::AlgNone),
            AuthError::from(TokenRejection::AlgNotAllowed {
                accepted: "RS256".to_owned(),
            }),
            AuthError::from(TokenRejection::TypNotAccepted {
                expected: "at+jwt".to_owned(),
            }),
            AuthError::from(TokenRejection::CriticalHeader),
            AuthError::from(TokenRejection::KidTooLong { limit: 1 }),
            AuthError::from(TokenRejection::UnknownKey),
            AuthError::from(TokenRejection::KeyMismatch),
            AuthError::from(TokenRejection::BadSignature),
            AuthError::from(TokenRejection::MalformedClaims),
            AuthError::from(TokenRejection::MissingClaim("exp")),
            AuthError::from(TokenRejection::ClaimType("exp")),
            AuthError::from(TokenRejection::WrongIssuer {
                expected: "https://a.test".to_owned(),
                received: "https://a.test/\"\\".to_owned(),
            }),
            AuthError::from(TokenRejection::UntrustedIssuer {
                trusted: vec!["https://a.test".to_owned(); 9],
            }),
            AuthError::from(TokenRejection::WrongAudience {
                expected: vec!["api".to_owned()],
                received: vec!["x\"y".to_owned(); 9],
            }),
            AuthError::from(TokenRejection::Expired),
            AuthError::from(TokenRejection::NotYetValid),
            AuthError::from(TokenRejection::IssuedInFuture),
            AuthError::from(TokenRejection::DpopBoundAsBearer),
            AuthError::from(TokenRejection::NotDpopBound),
            AuthError::from(TokenRejection::DpopKeyMismatch),
            AuthError::from(TokenRejection::DpopRequired),
            AuthError::from(TokenRejection::CertificateMissing),
            AuthError::from(TokenRejection::CertificateMismatch),
            AuthError::from(TokenRejection::ForwardedCertificateUnreadable),
            AuthError::from(RequestRejection::MalformedDpopAuthorization),
            AuthError::from(DpopRejection::MissingProof),
            AuthError::from(DpopRejection::MultipleProofs),
            AuthError::from(DpopRejection::Proof(
                ccflow_protocol::dpop::ProofError::WrongUrl("https://api.test/x".to_owned()),
            )),
            AuthError::from(DpopRejection::Replayed),
            AuthError::from(DpopRejection::NonceMissing),
            AuthError::from(DpopRejection::NonceStale),
            AuthError::from(DpopRejection::ReplayCacheFull),
        ];
        for error in errors {
            let description = error.to_string();
            assert!(description.chars().all(allowed), "{description}");
        }
    }
}
