//! Every refusal as data, framework-free: one status, the `WWW-Authenticate` challenges (RFC
//! 6750 §3 `Bearer`, RFC 9449 §7.1 `DPoP` with `algs`), a `DPoP-Nonce` where the API requires
//! one (§9), and the same code and description as a JSON body. Adapters copy it into their
//! response type.

use std::time::Duration;

use ccflow_protocol::dpop::NONCE_HEADER;
use ccflow_protocol::{BearerChallenge, ErrorCode, ErrorResponse};

use crate::dpop::TokenBinding;
use crate::error::{AuthError, DpopRejection, RequestRejection, TokenRejection};
use crate::token::TokenScheme;
use crate::validator::Validator;

/// The answer to a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status code.
    pub status: u16,
    /// Headers, in order; `WWW-Authenticate` may come twice (a Bearer and a DPoP challenge).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body: `error` (except for a request without credentials) and
    /// `error_description`.
    pub body: serde_json::Value,
}

/// What a refusal's challenges depend on besides the error.
pub(crate) struct ChallengeContext<'a> {
    pub(crate) realm: &'a str,
    /// The route's binding.
    pub(crate) binding: TokenBinding,
    /// Whether the request came with `Authorization: DPoP`.
    pub(crate) dpop_request: bool,
    /// The DPoP algorithms, space-separated.
    pub(crate) algs: &'a str,
    /// A fresh nonce, when the API requires them.
    pub(crate) nonce: Option<String>,
}

impl Validator {
    /// The answer to `error` for a request to a route that accepts tokens as `binding` says,
    /// presented with `scheme` (see [`RequestCredentials::scheme`](crate::RequestCredentials::scheme)):
    /// the challenge is in the scheme the request used, and a request without credentials gets
    /// one challenge per scheme the route accepts.
    pub fn refusal(
        &self,
        error: &AuthError,
        binding: TokenBinding,
        scheme: Option<TokenScheme>,
    ) -> Refusal {
        let nonce = self
            .dpop_state()
            .settings
            .require_nonce
            .then(|| self.dpop_state().fresh_nonce(self.unix_now()));
        render(
            &ChallengeContext {
                realm: self.realm(),
                binding,
                // Only a route that accepts DPoP gets past "no credentials" with it, so every
                // other refusal of a DPoP request comes from such a route, even when an outer
                // route binding let it in.
                dpop_request: scheme == Some(TokenScheme::Dpop),
                algs: &self.dpop_state().algs,
                nonce,
            },
            error,
        )
    }
}

/// What every adapter answers a refusal with: the validator's answer for a route that accepts
/// tokens as `binding` says (the validator's own binding when `None`) and a request presented
/// with `scheme`, or the default realm's Bearer answer when the route has no validator to ask.
pub(crate) fn refusal_for(
    validator: Option<&Validator>,
    error: &AuthError,
    binding: Option<TokenBinding>,
    scheme: Option<TokenScheme>,
) -> Refusal {
    match validator {
        Some(validator) => validator.refusal(
            error,
            binding.unwrap_or_else(|| validator.token_binding()),
            scheme,
        ),
        None => render(
            &ChallengeContext {
                realm: crate::validator::DEFAULT_REALM,
                binding: TokenBinding::Bearer,
                dpop_request: false,
                algs: "",
                nonce: None,
            },
            error,
        ),
    }
}

/// The RFC 6750 §3 / RFC 9449 §7.1 answer, `Cache-Control: no-store` on every refusal.
pub(crate) fn render(context: &ChallengeContext<'_>, error: &AuthError) -> Refusal {
    let description = error.to_string();
    let realm = context.realm;
    let scheme = if context.dpop_request {
        TokenScheme::Dpop
    } else {
        TokenScheme::Bearer
    };
    let with_error = |code: ErrorCode| {
        BearerChallenge::new()
            .realm(realm)
            .error(code, description.clone())
    };
    let mut challenges: Vec<(TokenScheme, BearerChallenge)> = Vec::new();
    let mut retry_after = None;
    let (status, body) = match error {
        // RFC 6750 §3.1: no error code when the request had no credentials; one challenge per
        // scheme the route accepts (RFC 9449 §7.1).
        AuthError::MissingToken => {
            if context.binding.accepts_bearer() {
                challenges.push((TokenScheme::Bearer, BearerChallenge::new().realm(realm)));
            }
            if context.binding.accepts_dpop() {
                challenges.push((TokenScheme::Dpop, BearerChallenge::new().realm(realm)));
            }
            (
                401,
                serde_json::json!({ "error_description": missing_token_description(context.binding) }),
            )
        }
        AuthError::InvalidRequest(rejection) => {
            let status = match rejection {
                RequestRejection::FormBodyTooLarge { .. } => 413,
                _ => 400,
            };
            challenges.push((scheme, with_error(ErrorCode::InvalidRequest)));
            (status, body(ErrorCode::InvalidRequest, &description))
        }
        AuthError::InvalidToken(rejection) => {
            match rejection {
                // The route wants DPoP: say so in its scheme.
                TokenRejection::DpopRequired => {
                    challenges.push((TokenScheme::Dpop, with_error(ErrorCode::InvalidToken)));
                }
                // A bound token as Bearer: refused in the scheme used, and the scheme to use
                // offered when the route takes it.
                TokenRejection::DpopBoundAsBearer => {
                    challenges.push((TokenScheme::Bearer, with_error(ErrorCode::InvalidToken)));
                    if context.binding.accepts_dpop() {
                        challenges.push((TokenScheme::Dpop, BearerChallenge::new().realm(realm)));
                    }
                }
                _ => challenges.push((scheme, with_error(ErrorCode::InvalidToken))),
            }
            (401, body(ErrorCode::InvalidToken, &description))
        }
        AuthError::InsufficientScope { required, .. } => {
            let mut challenge = with_error(ErrorCode::InsufficientScope);
            if !required.is_empty() {
                challenge = challenge.scope(required.join(" "));
            }
            challenges.push((scheme, challenge));
            (403, body(ErrorCode::InsufficientScope, &description))
        }
        AuthError::InvalidDpopProof(DpopRejection::ReplayCacheFull) => {
            retry_after = Some(Duration::from_secs(1));
            (503, body(ErrorCode::TemporarilyUnavailable, &description))
        }
        AuthError::InvalidDpopProof(rejection) => {
            challenges.push((TokenScheme::Dpop, with_error(rejection.code())));
            (401, body(rejection.code(), &description))
        }
        AuthError::KeysUnavailable { retry_after: after } => {
            retry_after = Some(*after);
            (503, body(ErrorCode::TemporarilyUnavailable, &description))
        }
        // Opaque on the wire; the cause is logged.
        AuthError::NotConfigured => (500, body(ErrorCode::ServerError, "internal server error")),
    };
    let mut headers = vec![("cache-control", "no-store".to_owned())];
    let mut has_dpop_challenge = false;
    for (scheme, challenge) in challenges {
        let value = challenge.to_header_value();
        let value = match scheme {
            TokenScheme::Bearer => value,
            TokenScheme::Dpop => {
                has_dpop_challenge = true;
                dpop_challenge(&value, context.algs)
            }
        };
        headers.push(("www-authenticate", value));
    }
    if has_dpop_challenge && let Some(nonce) = &context.nonce {
        headers.push((NONCE_HEADER, nonce.clone()));
    }
    if let Some(after) = retry_after {
        // Whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3).
        let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        headers.push(("retry-after", seconds.max(1).to_string()));
    }
    Refusal {
        status,
        headers,
        body,
    }
}

/// A Bearer challenge's parameters under the `DPoP` scheme, with `algs` last (RFC 9449 §7.1:
/// the same parameters as RFC 6750 §3, plus `algs`). The values are already sanitised.
fn dpop_challenge(bearer: &str, algs: &str) -> String {
    let params = bearer
        .strip_prefix("Bearer")
        .unwrap_or_default()
        .trim_start();
    if params.is_empty() {
        format!("DPoP algs=\"{algs}\"")
    } else {
        format!("DPoP {params}, algs=\"{algs}\"")
    }
}

fn missing_token_description(binding: TokenBinding) -> &'static str {
    match binding {
        TokenBinding::Bearer => {
            "this resource needs an access token: send `Authorization: Bearer <token>` (RFC 6750 section 2.1)"
        }
        TokenBinding::Dpop => {
            "this resource needs a DPoP-bound access token: send `Authorization: DPoP <token>` and a `DPoP` proof header (RFC 9449 section 7.1)"
        }
        TokenBinding::Either => {
            "this resource needs an access token: send `Authorization: Bearer <token>`, or `Authorization: DPoP <token>` and a `DPoP` proof header (RFC 6750 section 2.1, RFC 9449 section 7.1)"
        }
    }
}

fn body(code: ErrorCode, description: &str) -> serde_json::Value {
    serde_json::to_value(ErrorResponse::new(code, description))
        .unwrap_or_else(|_| serde_json::json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(
        binding: TokenBinding,
        dpop_request: bool,
        nonce: Option<&str>,
    ) -> ChallengeContext<'static> {
        ChallengeContext {
            realm: "api",
            binding,
            dpop_request,
            algs: "ES256 EdDSA",
            nonce: nonce.map(str::to_owned),
        }
    }

    fn challenges(refusal: &Refusal) -> Vec<&str> {
        refusal
            .headers
            .iter()
            .filter(|(name, _)| *name == "www-authenticate")
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// RFC 9449 §7.1 and RFC 6750 §3: each refusal in the scheme the request used, `algs` on
    /// every DPoP challenge, both challenges for a request without credentials where both
    /// schemes are accepted, and a nonce on DPoP challenges when the API requires one (§9).
    #[test]
    fn renders_each_refusal_in_its_scheme() {
        #[track_caller]
        fn check(
            context: &ChallengeContext<'_>,
            error: impl Into<AuthError>,
            status: u16,
            expected: &[&str],
            nonce: Option<&str>,
        ) {
            let error = error.into();
            let refusal = render(context, &error);
            assert_eq!(refusal.status, status, "{error:?}");
            assert_eq!(challenges(&refusal), expected, "{error:?}");
            let got_nonce = refusal
                .headers
                .iter()
                .find(|(name, _)| *name == "DPoP-Nonce")
                .map(|(_, value)| value.as_str());
            assert_eq!(got_nonce, nonce, "{error:?}");
        }
        let either = context(TokenBinding::Either, false, Some("n-1"));
        check(
            &either,
            AuthError::MissingToken,
            401,
            &[
                r#"Bearer realm="api""#,
                r#"DPoP realm="api", algs="ES256 EdDSA""#,
            ],
            Some("n-1"),
        );
        check(
            &context(TokenBinding::Bearer, false, None),
            AuthError::MissingToken,
            401,
            &[r#"Bearer realm="api""#],
            None,
        );
        check(
            &context(TokenBinding::Dpop, false, None),
            AuthError::MissingToken,
            401,
            &[r#"DPoP realm="api", algs="ES256 EdDSA""#],
            None,
        );
        let dpop_request = context(TokenBinding::Either, true, Some("n-2"));
        check(
            &dpop_request,
            DpopRejection::Replayed,
            401,
            &[
                r#"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof was already used (its jti was seen; RFC 9449 section 11.1)", algs="ES256 EdDSA""#,
            ],
            Some("n-2"),
        );
        check(
            &dpop_request,
            DpopRejection::NonceMissing,
            401,
            &[
                r#"DPoP realm="api", error="use_dpop_nonce", error_description="this API requires a DPoP nonce: retry with the DPoP-Nonce header's value (RFC 9449 section 9)", algs="ES256 EdDSA""#,
            ],
            Some("n-2"),
        );
        check(
            &dpop_request,
            TokenRejection::DpopKeyMismatch,
            401,
            &[
                r#"DPoP realm="api", error="invalid_token", error_description="the DPoP proof's key is not the key the token is bound to (cnf.jkt; RFC 9449 section 7.1)", algs="ES256 EdDSA""#,
            ],
            Some("n-2"),
        );
        check(
            &dpop_request,
            TokenRejection::Expired,
            401,
            &[
                r#"DPoP realm="api", error="invalid_token", error_description="the token expired", algs="ES256 EdDSA""#,
            ],
            Some("n-2"),
        );
        check(
            &either,
            TokenRejection::DpopBoundAsBearer,
            401,
            &[
                r#"Bearer realm="api", error="invalid_token", error_description="the token is DPoP-bound (cnf.jkt): send it as `Authorization: DPoP` with a DPoP proof (RFC 9449 section 7.2)""#,
                r#"DPoP realm="api", algs="ES256 EdDSA""#,
            ],
            Some("n-1"),
        );
        check(
            &context(TokenBinding::Dpop, false, None),
            TokenRejection::DpopRequired,
            401,
            &[
                r#"DPoP realm="api", error="invalid_token", error_description="this resource accepts only DPoP-bound tokens, sent as `Authorization: DPoP` with a DPoP proof (RFC 9449 section 7.1)", algs="ES256 EdDSA""#,
            ],
            None,
        );
        check(
            &either,
            TokenRejection::Expired,
            401,
            &[
                r#"Bearer realm="api", error="invalid_token", error_description="the token expired""#,
            ],
            None,
        );
        check(
            &dpop_request,
            DpopRejection::ReplayCacheFull,
            503,
            &[],
            None,
        );
    }

    /// A DPoP request refused after authentication (a scope policy inside a route binding)
    /// is answered in the DPoP scheme, whatever the validator's own binding (RFC 9449 §7.1).
    #[test]
    fn a_dpop_request_is_answered_in_dpop_whatever_the_validators_binding() {
        let validator = Validator::builder()
            .issuer("https://issuer.test")
            .audience("api")
            .build()
            .unwrap();
        let error = AuthError::InsufficientScope {
            required: vec!["items:write".to_owned()],
            description: "the token lacks the scope items:write".to_owned(),
        };
        let refusal = validator.refusal(&error, TokenBinding::Bearer, Some(TokenScheme::Dpop));
        assert_eq!(refusal.status, 403);
        assert_eq!(
            challenges(&refusal),
            [
                r#"DPoP realm="ccflow", error="insufficient_scope", error_description="the token lacks the scope items:write", scope="items:write", algs="ES256 RS256 PS256 EdDSA""#
            ]
        );
    }
}
