//! The parameters of an RFC 8693 token exchange request (§2.1), read strictly from a token
//! request's parameters; who may exchange what is the server's business.

use std::fmt;

use crate::{FormParams, RequestError, truncate_for_echo};

/// `urn:ietf:params:oauth:token-type:access_token` (RFC 8693 §3).
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// `urn:ietf:params:oauth:token-type:jwt` (RFC 8693 §3).
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The token types ccflow accepts and issues: its tokens are JWT access tokens, so either
/// name describes them (RFC 8693 §3).
const SUPPORTED_TOKEN_TYPES: [&str; 2] = [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT];

/// The token-exchange parameters of a token request (RFC 8693 §2.1); `resource`, `audience`
/// and `scope` stay on the [`TokenRequest`](crate::TokenRequest).
///
/// `Debug` redacts both tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenExchangeParams {
    /// `subject_token`: the token that represents the party on whose behalf the request is made.
    pub subject_token: String,
    /// `subject_token_type`, one of the supported token types.
    pub subject_token_type: String,
    /// `actor_token`: the acting party's token, if any.
    pub actor_token: Option<String>,
    /// `actor_token_type`, present exactly when `actor_token` is.
    pub actor_token_type: Option<String>,
    /// `requested_token_type`, if the client named one; the issued type otherwise.
    pub requested_token_type: Option<String>,
}

impl TokenExchangeParams {
    /// Reads the RFC 8693 §2.1 parameters: `subject_token` and `subject_token_type` are
    /// required; `actor_token_type` is required with `actor_token` and must not appear
    /// without it; each token type must be one ccflow handles (JWT access tokens), else
    /// `invalid_request` (§2.2.2: "the request itself is not valid").
    pub fn from_params(params: &FormParams) -> Result<TokenExchangeParams, RequestError> {
        let required = |name: &'static str| {
            params
                .get(name)
                .filter(|value| !value.is_empty())
                .ok_or(RequestError::MissingParameter(name))
        };
        let subject_token = required("subject_token")?.to_owned();
        let subject_token_type = supported("subject_token_type", required("subject_token_type")?)?;
        let actor_token = params.get("actor_token").filter(|value| !value.is_empty());
        let actor_token_type = params.get("actor_token_type");
        let actor_token_type = match (actor_token, actor_token_type) {
            (Some(_), None) => return Err(RequestError::MissingParameter("actor_token_type")),
            (None, Some(_)) => return Err(RequestError::UnexpectedParameter("actor_token_type")),
            (Some(_), Some(kind)) => Some(supported("actor_token_type", kind)?),
            (None, None) => None,
        };
        let requested_token_type = params
            .get("requested_token_type")
            .map(|kind| supported("requested_token_type", kind))
            .transpose()?;
        Ok(TokenExchangeParams {
            subject_token,
            subject_token_type,
            actor_token: actor_token.map(str::to_owned),
            actor_token_type,
            requested_token_type,
        })
    }

    /// The `issued_token_type` of the answer (RFC 8693 §2.2.1): the requested type, else
    /// an access token.
    pub fn issued_token_type(&self) -> &str {
        self.requested_token_type
            .as_deref()
            .unwrap_or(TOKEN_TYPE_ACCESS_TOKEN)
    }
}

fn supported(parameter: &'static str, value: &str) -> Result<String, RequestError> {
    if SUPPORTED_TOKEN_TYPES.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(RequestError::UnsupportedTokenType {
            parameter,
            value: truncate_for_echo(value),
        })
    }
}

impl fmt::Debug for TokenExchangeParams {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenExchangeParams")
            .field("subject_token", &"[redacted]")
            .field("subject_token_type", &self.subject_token_type)
            .field(
                "actor_token",
                &self.actor_token.as_ref().map(|_| "[redacted]"),
            )
            .field("actor_token_type", &self.actor_token_type)
            .field("requested_token_type", &self.requested_token_type)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    const AT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token";
    const JWT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt";

    fn parse(body: &str) -> Result<TokenExchangeParams, RequestError> {
        TokenExchangeParams::from_params(&FormParams::parse(body).unwrap())
    }

    #[test]
    fn reads_the_rfc_8693_parameters() {
        let params = parse(&format!(
            "subject_token=s.t.x&subject_token_type={AT}&actor_token=a.t.x&actor_token_type={JWT}&requested_token_type={JWT}"
        ))
        .unwrap();
        assert_eq!(params.subject_token, "s.t.x");
        assert_eq!(params.subject_token_type, TOKEN_TYPE_ACCESS_TOKEN);
        assert_eq!(params.actor_token.as_deref(), Some("a.t.x"));
        assert_eq!(params.actor_token_type.as_deref(), Some(TOKEN_TYPE_JWT));
        assert_eq!(params.issued_token_type(), TOKEN_TYPE_JWT);
        let plain = parse(&format!("subject_token=s&subject_token_type={JWT}")).unwrap();
        assert_eq!(plain.issued_token_type(), TOKEN_TYPE_ACCESS_TOKEN);
    }

    #[test]
    fn refuses_what_rfc_8693_section_2_1_forbids_as_invalid_request() {
        #[track_caller]
        fn check(body: &str, expected: &RequestError) {
            let error = parse(body).unwrap_err();
            assert_eq!(&error, expected, "body {body:?}");
            assert_eq!(error.error_code(), ErrorCode::InvalidRequest);
        }
        let missing = RequestError::MissingParameter;
        check(
            &format!("subject_token_type={AT}"),
            &missing("subject_token"),
        );
        check(
            &format!("subject_token=&subject_token_type={AT}"),
            &missing("subject_token"),
        );
        check("subject_token=s", &missing("subject_token_type"));
        check(
            &format!("subject_token=s&subject_token_type={AT}&actor_token=a"),
            &missing("actor_token_type"),
        );
        check(
            &format!("subject_token=s&subject_token_type={AT}&actor_token_type={AT}"),
            &RequestError::UnexpectedParameter("actor_token_type"),
        );
        let unsupported = |parameter, value: &str| RequestError::UnsupportedTokenType {
            parameter,
            value: value.to_owned(),
        };
        check(
            "subject_token=s&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token",
            &unsupported(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        );
        check(
            &format!("subject_token=s&subject_token_type={AT}&actor_token=a&actor_token_type=x"),
            &unsupported("actor_token_type", "x"),
        );
        check(
            &format!(
                "subject_token=s&subject_token_type={AT}&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token"
            ),
            &unsupported(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            ),
        );
    }

    #[test]
    fn debug_redacts_both_tokens() {
        let params = parse(&format!(
            "subject_token=secret-subject&subject_token_type={AT}&actor_token=secret-actor&actor_token_type={AT}"
        ))
        .unwrap();
        let debug = format!("{params:?}");
        assert!(!debug.contains("secret-"), "{debug}");
    }
}
