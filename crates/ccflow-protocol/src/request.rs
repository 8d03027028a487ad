//! Token, introspection and revocation requests, parsed strictly, with client authentication per RFC 6749 §2.3.

use std::fmt;

use crate::basic::parse_basic_authorization_as;
use crate::{
    AuthMethod, BasicCredentials, CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientId, ClientSecret,
    ErrorCode, ErrorResponse, FormParams, GrantType, ScopeError, Scopes, truncate_for_echo,
};

/// Why a request to the token, introspection or revocation endpoint was
/// rejected before any client lookup.
///
/// Each variant maps to one [`ErrorCode`] and one description; none carries
/// a secret, and echoed values are truncated to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The `Content-Type` is missing, not form-urlencoded, or not UTF-8.
    #[error(
        "the request body must be application/x-www-form-urlencoded in UTF-8 (RFC 6749 Appendix B)"
    )]
    UnsupportedContentType,
    /// The body is not UTF-8.
    #[error("the request body is not valid UTF-8 (RFC 6749 Appendix B)")]
    BodyNotUtf8,
    /// The body is not valid form-urlencoding; the reason says why.
    #[error(
        "the request body is not valid application/x-www-form-urlencoded: {0} (RFC 6749 Appendix B)"
    )]
    MalformedBody(&'static str),
    /// A parameter appeared more than once (RFC 6749 §3.2).
    #[error("parameter `{}` is repeated (RFC 6749 section 3.2)", truncate_for_echo(.0))]
    DuplicateParameter(String),
    /// A required parameter is missing.
    #[error("parameter `{0}` is missing")]
    MissingParameter(&'static str),
    /// `grant_type` is missing (RFC 6749 §4.4.2).
    #[error("parameter `grant_type` is missing (RFC 6749 section 4.4.2)")]
    MissingGrantType,
    /// `grant_type` is something other than `client_credentials`.
    #[error(
        "grant type `{}` is not supported; use `client_credentials` (RFC 6749 section 4.4.2)",
        truncate_for_echo(.0)
    )]
    UnsupportedGrantType(String),
    /// The client used more than one authentication method (RFC 6749 §2.3).
    #[error("the client used more than one authentication method (RFC 6749 section 2.3)")]
    MultipleAuthMethods,
    /// The `Authorization: Basic` header is malformed; the reason says why.
    #[error("malformed HTTP Basic credentials: {0} (RFC 6749 section 2.3.1)")]
    MalformedBasic(&'static str),
    /// The `Authorization` header uses a scheme other than Basic.
    #[error("the Authorization header must use the Basic scheme (RFC 6749 section 2.3.1)")]
    UnsupportedAuthScheme,
    /// The body `client_id` differs from the one in the Basic header.
    #[error("parameter `client_id` does not match the client authenticated by HTTP Basic")]
    ClientIdMismatch,
    /// `client_secret` was sent without `client_id` (RFC 6749 §2.3.1).
    #[error("parameter `client_secret` requires `client_id` (RFC 6749 section 2.3.1)")]
    SecretWithoutClientId,
    /// `client_assertion` was sent without `client_assertion_type`
    /// (RFC 7521 §4.2).
    #[error("parameter `client_assertion_type` is missing (RFC 7521 section 4.2)")]
    MissingAssertionType,
    /// `client_assertion_type` is not the JWT bearer type (RFC 7523 §2.2).
    #[error(
        "parameter `client_assertion_type` must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer (RFC 7523 section 2.2)"
    )]
    UnsupportedAssertionType,
    /// `scope` does not follow RFC 6749 §3.3.
    #[error("parameter `scope` is invalid: {0} (RFC 6749 section 3.3)")]
    InvalidScope(ScopeError),
    /// A parameter that must not appear here did (RFC 8693 §2.1: `actor_token_type` without
    /// `actor_token`).
    #[error("parameter `{0}` must not be sent here (RFC 8693 section 2.1)")]
    UnexpectedParameter(&'static str),
    /// A token type parameter names a type ccflow does not handle (RFC 8693 §2.1, §3).
    #[error(
        "parameter `{parameter}` value `{value}` is not supported; use urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:jwt (RFC 8693 section 3)"
    )]
    UnsupportedTokenType {
        /// The parameter, e.g. `subject_token_type`.
        parameter: &'static str,
        /// The value sent, truncated.
        value: String,
    },
}

impl RequestError {
    /// The RFC 6749 §5.2 error code: `invalid_client` for broken client
    /// credentials, `unsupported_grant_type` and `invalid_scope` for their
    /// parameters, `invalid_request` for everything else.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RequestError::MalformedBasic(_)
            | RequestError::UnsupportedAuthScheme
            | RequestError::UnsupportedAssertionType => ErrorCode::InvalidClient,
            RequestError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            RequestError::InvalidScope(_) => ErrorCode::InvalidScope,
            RequestError::UnsupportedContentType
            | RequestError::BodyNotUtf8
            | RequestError::MalformedBody(_)
            | RequestError::DuplicateParameter(_)
            | RequestError::MissingParameter(_)
            | RequestError::MissingGrantType
            | RequestError::MultipleAuthMethods
            | RequestError::ClientIdMismatch
            | RequestError::SecretWithoutClientId
            | RequestError::MissingAssertionType
            | RequestError::UnexpectedParameter(_)
            | RequestError::UnsupportedTokenType { .. } => ErrorCode::InvalidRequest,
        }
    }

    /// Whether the client tried HTTP Basic: RFC 6749 §5.2 then requires a
    /// 401 with a `WWW-Authenticate` header naming the Basic scheme.
    pub fn basic_attempted(&self) -> bool {
        matches!(
            self,
            RequestError::MalformedBasic(_) | RequestError::UnsupportedAuthScheme
        )
    }

    /// The RFC 6749 §5.2 body for this error, with the code's default status.
    pub fn to_error_response(&self) -> ErrorResponse {
        ErrorResponse::new(self.error_code(), self.to_string())
    }
}

impl From<ScopeError> for RequestError {
    fn from(error: ScopeError) -> Self {
        RequestError::InvalidScope(error)
    }
}

/// How the client authenticated (RFC 6749 §2.3), as read from the request;
/// nothing is verified yet.
///
/// `Debug` shows neither the secret nor the assertion.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// `client_secret_basic`: `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic {
        /// The client id from the header.
        client_id: ClientId,
        /// The client secret from the header.
        client_secret: ClientSecret,
        /// The credentials read the other way, under [`BasicCredentials::Either`] where the two
        /// forms differ: a server tries them after `client_id`/`client_secret`.
        alternative: Option<(ClientId, ClientSecret)>,
    },
    /// `client_secret_post`: credentials in the body (RFC 6749 §2.3.1).
    Post {
        /// The `client_id` parameter.
        client_id: ClientId,
        /// The `client_secret` parameter.
        client_secret: ClientSecret,
    },
    /// `private_key_jwt`: a JWT client assertion (RFC 7523 §2.2).
    Assertion {
        /// The `client_id` parameter, optional here (RFC 7523 §3 identifies
        /// the client by the assertion's `sub`).
        client_id: Option<ClientId>,
        /// The `client_assertion` JWT, unverified.
        assertion: String,
    },
    /// No client authentication, possibly with a `client_id` (RFC 6749
    /// §3.2.1 public clients).
    None {
        /// The `client_id` parameter, if sent.
        client_id: Option<ClientId>,
    },
}

impl ClientAuthentication {
    /// Reads client authentication from the `Authorization` header and the
    /// body parameters (RFC 6749 §2.3).
    ///
    /// A client "MUST NOT use more than one authentication method in each
    /// request" (RFC 6749 §2.3), so Basic together with `client_secret`,
    /// `client_assertion` or `client_assertion_type`, or `client_secret`
    /// together with either assertion parameter, is
    /// [`RequestError::MultipleAuthMethods`]. A body `client_id` next to
    /// Basic must name the same client.
    pub fn from_request(
        authorization: Option<&str>,
        params: &FormParams,
    ) -> Result<ClientAuthentication, RequestError> {
        Self::from_request_with(BasicCredentials::Rfc6749, authorization, params)
    }

    /// [`from_request`](Self::from_request) with the Basic credentials read as `basic` says
    /// (vendors document the raw form; see [`BasicCredentials`]).
    pub fn from_request_with(
        basic: BasicCredentials,
        authorization: Option<&str>,
        params: &FormParams,
    ) -> Result<ClientAuthentication, RequestError> {
        let body_client_id = params.get("client_id");
        let client_secret = params.get("client_secret");
        let assertion = params.get("client_assertion");
        let assertion_type = params.get("client_assertion_type");
        let uses_assertion = assertion.is_some() || assertion_type.is_some();

        if let Some(authorization) = authorization {
            let decoded = parse_basic_authorization_as(basic, authorization)?;
            if client_secret.is_some() || uses_assertion {
                return Err(RequestError::MultipleAuthMethods);
            }
            let names_other_client = |body_id: &str| {
                body_id != decoded.client_id.as_str()
                    && decoded
                        .alternative
                        .as_ref()
                        .is_none_or(|(id, _)| body_id != id.as_str())
            };
            if body_client_id.is_some_and(names_other_client) {
                return Err(RequestError::ClientIdMismatch);
            }
            return Ok(ClientAuthentication::Basic {
                client_id: decoded.client_id,
                client_secret: decoded.client_secret,
                alternative: decoded.alternative,
            });
        }

        let client_id = body_client_id.map(ClientId::new);
        if client_secret.is_some() && uses_assertion {
            return Err(RequestError::MultipleAuthMethods);
        }
        if let Some(client_secret) = client_secret {
            let client_id = client_id.ok_or(RequestError::SecretWithoutClientId)?;
            return Ok(ClientAuthentication::Post {
                client_id,
                client_secret: ClientSecret::new(client_secret),
            });
        }
        match (assertion, assertion_type) {
            (Some(_), None) => Err(RequestError::MissingAssertionType),
            (Some(_), Some(kind)) if kind != CLIENT_ASSERTION_TYPE_JWT_BEARER => {
                Err(RequestError::UnsupportedAssertionType)
            }
            (Some(assertion), Some(_)) => Ok(ClientAuthentication::Assertion {
                client_id,
                assertion: assertion.to_owned(),
            }),
            (None, Some(_)) => Err(RequestError::MissingParameter("client_assertion")),
            (None, None) => Ok(ClientAuthentication::None { client_id }),
        }
    }

    /// The method used, as named in RFC 8414 metadata.
    pub fn method(&self) -> AuthMethod {
        match self {
            ClientAuthentication::Basic { .. } => AuthMethod::ClientSecretBasic,
            ClientAuthentication::Post { .. } => AuthMethod::ClientSecretPost,
            ClientAuthentication::Assertion { .. } => AuthMethod::PrivateKeyJwt,
            ClientAuthentication::None { .. } => AuthMethod::None,
        }
    }

    /// The client id the request names, if any (for an assertion without
    /// `client_id`, the JWT's `sub` names it once verified).
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            ClientAuthentication::Basic { client_id, .. }
            | ClientAuthentication::Post { client_id, .. } => Some(client_id),
            ClientAuthentication::Assertion { client_id, .. }
            | ClientAuthentication::None { client_id } => client_id.as_ref(),
        }
    }

    /// Whether the client used HTTP Basic, so a failure must answer with
    /// `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub fn used_basic(&self) -> bool {
        matches!(self, ClientAuthentication::Basic { .. })
    }
}

impl fmt::Debug for ClientAuthentication {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuthentication::Basic {
                client_id,
                client_secret,
                alternative,
            } => formatter
                .debug_struct("Basic")
                .field("client_id", client_id)
                .field("client_secret", client_secret)
                .field("alternative", alternative)
                .finish(),
            ClientAuthentication::Post {
                client_id,
                client_secret,
            } => formatter
                .debug_struct("Post")
                .field("client_id", client_id)
                .field("client_secret", client_secret)
                .finish(),
            ClientAuthentication::Assertion {
                client_id,
                assertion: _,
            } => formatter
                .debug_struct("Assertion")
                .field("client_id", client_id)
                .field("assertion", &"[redacted]")
                .finish(),
            ClientAuthentication::None { client_id } => formatter
                .debug_struct("None")
                .field("client_id", client_id)
                .finish(),
        }
    }
}

/// A client credentials token request (RFC 6749 §4.4.2), with the RFC 8707
/// `resource` and the common `audience` extension parameters.
///
/// `Debug` redacts credentials (see [`FormParams`] and
/// [`ClientAuthentication`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// [`GrantType::ClientCredentials`], or [`GrantType::TokenExchange`] where
    /// [`TokenRequest::from_params_with`] allowed it.
    pub grant_type: GrantType,
    /// The requested scopes, if any (RFC 6749 §3.3).
    pub scope: Option<Scopes>,
    /// Every `resource` value (RFC 8707 §2), in order.
    pub resources: Vec<String>,
    /// Every `audience` value, in order (a vendor extension, also in
    /// RFC 8693 §2.1).
    pub audiences: Vec<String>,
    /// How the client authenticated.
    pub client_auth: ClientAuthentication,
    /// Every parameter, for profile-specific extras.
    pub params: FormParams,
}

/// How a server reads token requests: its Basic credentials decoding and which grants beyond
/// `client_credentials` it takes. The default is RFC 6749's strict reading, no other grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenRequestOptions {
    /// How `Authorization: Basic` credentials are decoded.
    pub basic: BasicCredentials,
    /// Whether RFC 8693's token-exchange grant is accepted.
    pub token_exchange: bool,
}

impl TokenRequest {
    /// Parses a token request from the raw `Content-Type` and
    /// `Authorization` header values and the body.
    ///
    /// Checks run in a fixed order, so each request gets one predictable
    /// error: encoding and duplicates (only `resource` and `audience` may
    /// repeat), then `grant_type`, then client authentication, then `scope`.
    pub fn parse(
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenRequest, RequestError> {
        let params = FormParams::from_request(content_type, body, &["resource", "audience"])?;
        TokenRequest::from_params(params, authorization)
    }

    /// Builds a token request from already-decoded parameters (e.g. a JSON body, which
    /// CyberArk's seed shows), with the same checks as [`TokenRequest::parse`] after decoding.
    pub fn from_params(
        params: FormParams,
        authorization: Option<&str>,
    ) -> Result<TokenRequest, RequestError> {
        TokenRequest::from_params_with(params, authorization, TokenRequestOptions::default())
    }

    /// As [`TokenRequest::from_params`], with Basic credentials read as `options` says and,
    /// when `options.token_exchange` is true, RFC 8693's token-exchange grant accepted (its
    /// own parameters are read by
    /// [`TokenExchangeParams::from_params`](crate::TokenExchangeParams::from_params)).
    pub fn from_params_with(
        params: FormParams,
        authorization: Option<&str>,
        options: TokenRequestOptions,
    ) -> Result<TokenRequest, RequestError> {
        let grant_type = match params.get("grant_type") {
            None => return Err(RequestError::MissingGrantType),
            Some("client_credentials") => GrantType::ClientCredentials,
            Some(crate::GRANT_TYPE_TOKEN_EXCHANGE) if options.token_exchange => {
                GrantType::TokenExchange
            }
            Some(other) => {
                return Err(RequestError::UnsupportedGrantType(truncate_for_echo(other)));
            }
        };
        let client_auth =
            ClientAuthentication::from_request_with(options.basic, authorization, &params)?;
        let scope = params.get("scope").map(Scopes::parse).transpose()?;
        let resources = params.get_all("resource").map(str::to_owned).collect();
        let audiences = params.get_all("audience").map(str::to_owned).collect();
        Ok(TokenRequest {
            grant_type,
            scope,
            resources,
            audiences,
            client_auth,
            params,
        })
    }
}

/// A request naming one token, as the introspection (RFC 7662 §2.1) and
/// revocation (RFC 7009 §2.1) endpoints receive it.
///
/// `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenOperationRequest {
    /// The token to introspect or revoke.
    pub token: String,
    /// The `token_type_hint`, e.g. `access_token` (RFC 7009 §2.1).
    pub token_type_hint: Option<String>,
    /// How the calling client authenticated.
    pub client_auth: ClientAuthentication,
}

impl TokenOperationRequest {
    /// Parses an introspection or revocation request: a strict form body
    /// where nothing repeats, a required `token`, and client authentication
    /// as at the token endpoint.
    pub fn parse(
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenOperationRequest, RequestError> {
        let params = FormParams::from_request(content_type, body, &[])?;
        TokenOperationRequest::from_params(&params, authorization)
    }

    /// Builds an introspection or revocation request from already-decoded parameters, with
    /// the same checks as [`TokenOperationRequest::parse`] after decoding.
    pub fn from_params(
        params: &FormParams,
        authorization: Option<&str>,
    ) -> Result<TokenOperationRequest, RequestError> {
        Self::from_params_with(BasicCredentials::Rfc6749, params, authorization)
    }

    /// [`from_params`](Self::from_params) with Basic credentials read as `basic` says.
    pub fn from_params_with(
        basic: BasicCredentials,
        params: &FormParams,
        authorization: Option<&str>,
    ) -> Result<TokenOperationRequest, RequestError> {
        let token = params
            .get("token")
            .ok_or(RequestError::MissingParameter("token"))?
            .to_owned();
        let token_type_hint = params.get("token_type_hint").map(str::to_owned);
        let client_auth = ClientAuthentication::from_request_with(basic, authorization, params)?;
        Ok(TokenOperationRequest {
            token,
            token_type_hint,
            client_auth,
        })
    }
}

impl fmt::Debug for TokenOperationRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenOperationRequest")
            .field("token", &"[redacted]")
            .field("token_type_hint", &self.token_type_hint)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic_authorization;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JWT_BEARER: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

    fn parse_token(authorization: Option<&str>, body: &str) -> Result<TokenRequest, RequestError> {
        TokenRequest::parse(FORM, authorization, body.as_bytes())
    }

    fn client_auth(
        authorization: Option<&str>,
        body: &str,
    ) -> Result<ClientAuthentication, RequestError> {
        ClientAuthentication::from_request(authorization, &FormParams::parse(body).unwrap())
    }

    fn basic_auth(client_id: &str, client_secret: &str) -> ClientAuthentication {
        ClientAuthentication::Basic {
            client_id: ClientId::new(client_id),
            client_secret: ClientSecret::new(client_secret),
            alternative: None,
        }
    }

    #[test]
    fn token_exchange_is_a_grant_only_where_the_caller_allows_it() {
        let body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange";
        let params = || FormParams::parse(body).unwrap();
        assert_eq!(
            TokenRequest::from_params(params(), None),
            Err(RequestError::UnsupportedGrantType(
                crate::GRANT_TYPE_TOKEN_EXCHANGE.to_owned()
            ))
        );
        let options = TokenRequestOptions {
            token_exchange: true,
            ..TokenRequestOptions::default()
        };
        let request = TokenRequest::from_params_with(params(), None, options).unwrap();
        assert_eq!(request.grant_type, GrantType::TokenExchange);
        assert_eq!(
            GrantType::from(crate::GRANT_TYPE_TOKEN_EXCHANGE),
            GrantType::TokenExchange
        );
    }

    #[test]
    fn reads_each_client_authentication_method() {
        #[track_caller]
        fn check(authorization: Option<&str>, body: &str, expected: ClientAuthentication) {
            assert_eq!(
                client_auth(authorization, body),
                Ok(expected),
                "body {body:?}"
            );
        }
        let basic = basic_authorization("svc", "s3cret");
        check(Some(&basic), "", basic_auth("svc", "s3cret"));
        check(Some(&basic), "client_id=svc", basic_auth("svc", "s3cret"));
        check(
            None,
            "client_id=svc&client_secret=s3cret",
            ClientAuthentication::Post {
                client_id: ClientId::new("svc"),
                client_secret: ClientSecret::new("s3cret"),
            },
        );
        check(
            None,
            &format!("client_assertion_type={JWT_BEARER}&client_assertion=eyJ.x.y"),
            ClientAuthentication::Assertion {
                client_id: None,
                assertion: "eyJ.x.y".to_owned(),
            },
        );
        check(
            None,
            &format!("client_id=svc&client_assertion_type={JWT_BEARER}&client_assertion=eyJ.x.y"),
            ClientAuthentication::Assertion {
                client_id: Some(ClientId::new("svc")),
                assertion: "eyJ.x.y".to_owned(),
            },
        );
        check(
            None,
            "client_id=svc",
            ClientAuthentication::None {
                client_id: Some(ClientId::new("svc")),
            },
        );
        check(None, "", ClientAuthentication::None { client_id: None });
        // An empty client_secret counts as omitted (RFC 6749 §3.1).
        check(
            None,
            "client_id=svc&client_secret=",
            ClientAuthentication::None {
                client_id: Some(ClientId::new("svc")),
            },
        );
    }

    #[test]
    fn rejects_inconsistent_client_authentication() {
        #[track_caller]
        fn check(authorization: Option<&str>, body: &str, expected: RequestError) {
            assert_eq!(
                client_auth(authorization, body),
                Err(expected),
                "body {body:?}"
            );
        }
        let basic = basic_authorization("svc", "s3cret");
        let basic = Some(basic.as_str());
        check(basic, "client_secret=x", RequestError::MultipleAuthMethods);
        check(
            basic,
            "client_assertion=x",
            RequestError::MultipleAuthMethods,
        );
        check(
            basic,
            &format!("client_assertion_type={JWT_BEARER}"),
            RequestError::MultipleAuthMethods,
        );
        check(basic, "client_id=other", RequestError::ClientIdMismatch);
        check(
            None,
            "client_id=a&client_secret=x&client_assertion=y",
            RequestError::MultipleAuthMethods,
        );
        check(
            None,
            &format!("client_id=a&client_secret=x&client_assertion_type={JWT_BEARER}"),
            RequestError::MultipleAuthMethods,
        );
        check(None, "client_secret=x", RequestError::SecretWithoutClientId);
        check(
            None,
            "client_assertion=x",
            RequestError::MissingAssertionType,
        );
        check(
            None,
            "client_assertion=x&client_assertion_type=urn:example:saml",
            RequestError::UnsupportedAssertionType,
        );
        check(
            None,
            &format!("client_assertion_type={JWT_BEARER}"),
            RequestError::MissingParameter("client_assertion"),
        );
        check(Some("Bearer abc"), "", RequestError::UnsupportedAuthScheme);
        check(
            Some("Basic %%%"),
            "",
            RequestError::MalformedBasic("credentials are not valid base64"),
        );
    }

    #[test]
    fn reports_method_client_id_and_basic_use() {
        #[track_caller]
        fn check(
            auth: &ClientAuthentication,
            method: AuthMethod,
            client_id: Option<&str>,
            basic: bool,
        ) {
            assert_eq!(auth.method(), method);
            assert_eq!(auth.client_id().map(ClientId::as_str), client_id);
            assert_eq!(auth.used_basic(), basic);
        }
        check(
            &basic_auth("a", "s"),
            AuthMethod::ClientSecretBasic,
            Some("a"),
            true,
        );
        check(
            &ClientAuthentication::Post {
                client_id: ClientId::new("b"),
                client_secret: ClientSecret::new("s"),
            },
            AuthMethod::ClientSecretPost,
            Some("b"),
            false,
        );
        check(
            &ClientAuthentication::Assertion {
                client_id: None,
                assertion: "jwt".to_owned(),
            },
            AuthMethod::PrivateKeyJwt,
            None,
            false,
        );
        check(
            &ClientAuthentication::None {
                client_id: Some(ClientId::new("c")),
            },
            AuthMethod::None,
            Some("c"),
            false,
        );
    }

    #[test]
    fn debug_never_shows_credentials() {
        let auths = [
            basic_auth("svc", "topsecret"),
            ClientAuthentication::Post {
                client_id: ClientId::new("svc"),
                client_secret: ClientSecret::new("topsecret"),
            },
            ClientAuthentication::Assertion {
                client_id: None,
                assertion: "topsecret".to_owned(),
            },
        ];
        for auth in auths {
            let debug = format!("{auth:?} {auth:#?}");
            assert!(!debug.contains("topsecret"), "{debug}");
            assert!(debug.contains("[redacted]"), "{debug}");
        }
        let request = parse_token(
            None,
            "grant_type=client_credentials&client_id=svc&client_secret=topsecret",
        )
        .unwrap();
        assert!(!format!("{request:?}").contains("topsecret"));
        let operation = TokenOperationRequest::parse(
            FORM,
            None,
            b"token=topsecret&client_id=svc&client_secret=topsecret",
        )
        .unwrap();
        let debug = format!("{operation:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
    }

    #[test]
    fn parses_a_full_token_request() {
        let request = parse_token(
            Some(&basic_authorization("svc", "s3cret")),
            "grant_type=client_credentials&scope=orders.read+orders.write&resource=https%3A%2F%2Fa.test&resource=https%3A%2F%2Fb.test&audience=x&audience=y&extra=1",
        )
        .unwrap();
        assert_eq!(request.grant_type, GrantType::ClientCredentials);
        assert_eq!(
            request.scope,
            Some(Scopes::parse("orders.read orders.write").unwrap())
        );
        assert_eq!(request.resources, ["https://a.test", "https://b.test"]);
        assert_eq!(request.audiences, ["x", "y"]);
        assert_eq!(request.client_auth, basic_auth("svc", "s3cret"));
        assert_eq!(request.params.get("extra"), Some("1"));
    }

    #[test]
    fn parses_a_minimal_token_request() {
        let request = parse_token(None, "grant_type=client_credentials&client_id=svc").unwrap();
        assert_eq!(request.scope, None);
        assert!(request.resources.is_empty());
        assert!(request.audiences.is_empty());
        assert_eq!(
            request.client_auth,
            ClientAuthentication::None {
                client_id: Some(ClientId::new("svc"))
            }
        );
    }

    #[test]
    fn rejects_bad_token_requests_in_a_fixed_order() {
        #[track_caller]
        fn check(
            content_type: Option<&str>,
            authorization: Option<&str>,
            body: &[u8],
            expected: RequestError,
        ) {
            assert_eq!(
                TokenRequest::parse(content_type, authorization, body),
                Err(expected),
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
        let cc = b"grant_type=client_credentials";
        check(
            Some("application/json"),
            None,
            cc,
            RequestError::UnsupportedContentType,
        );
        check(None, None, cc, RequestError::UnsupportedContentType);
        check(FORM, None, b"grant_type=\xff", RequestError::BodyNotUtf8);
        check(
            FORM,
            None,
            b"grant_type=client%credentials",
            RequestError::MalformedBody("`%` must be followed by two hexadecimal digits"),
        );
        check(
            FORM,
            None,
            b"grant_type=client_credentials&grant_type=client_credentials",
            RequestError::DuplicateParameter("grant_type".to_owned()),
        );
        check(
            FORM,
            None,
            b"scope=a&scope=b",
            RequestError::DuplicateParameter("scope".to_owned()),
        );
        check(FORM, None, b"client_id=a", RequestError::MissingGrantType);
        check(FORM, None, b"grant_type=", RequestError::MissingGrantType);
        check(
            FORM,
            None,
            b"grant_type=password",
            RequestError::UnsupportedGrantType("password".to_owned()),
        );
        check(
            FORM,
            None,
            b"grant_type=Client_Credentials",
            RequestError::UnsupportedGrantType("Client_Credentials".to_owned()),
        );
        // The grant type is checked before client authentication ...
        check(
            FORM,
            Some("Bearer x"),
            b"grant_type=password",
            RequestError::UnsupportedGrantType("password".to_owned()),
        );
        check(
            FORM,
            Some("Bearer x"),
            cc,
            RequestError::UnsupportedAuthScheme,
        );
        // ... and client authentication before scope.
        check(
            FORM,
            None,
            b"grant_type=client_credentials&client_secret=x&scope=a%20%20b",
            RequestError::SecretWithoutClientId,
        );
        check(
            FORM,
            None,
            b"grant_type=client_credentials&scope=a%20%20b",
            RequestError::InvalidScope(ScopeError::MisplacedSpace { position: 2 }),
        );
        check(
            FORM,
            None,
            b"grant_type=client_credentials&scope=a%22",
            RequestError::InvalidScope(ScopeError::InvalidCharacter {
                position: 1,
                code_point: 0x22,
            }),
        );
    }

    #[test]
    fn rejects_duplicate_grant_type() {
        let error =
            parse_token(None, "grant_type=client_credentials&grant_type=password").unwrap_err();
        assert_eq!(
            error,
            RequestError::DuplicateParameter("grant_type".to_owned())
        );
        let response = error.to_error_response();
        assert_eq!(response.error, ErrorCode::InvalidRequest);
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.error_description.as_deref(),
            Some("parameter `grant_type` is repeated (RFC 6749 section 3.2)")
        );
    }

    #[test]
    fn truncates_an_echoed_grant_type() {
        let long = "g".repeat(5_000);
        let error = parse_token(None, &format!("grant_type={long}")).unwrap_err();
        let description = error.to_error_response().error_description.unwrap();
        assert!(description.len() < 200, "{description}");
        // Even a hand-built variant with an unbounded value is truncated.
        let hand_built = RequestError::UnsupportedGrantType(long).to_string();
        assert!(hand_built.len() < 200, "{hand_built}");
    }

    #[test]
    fn parses_introspection_and_revocation_requests() {
        let request = TokenOperationRequest::parse(
            FORM,
            Some(&basic_authorization("rs", "pw")),
            b"token=abc&token_type_hint=access_token",
        )
        .unwrap();
        assert_eq!(request.token, "abc");
        assert_eq!(request.token_type_hint.as_deref(), Some("access_token"));
        assert_eq!(request.client_auth, basic_auth("rs", "pw"));

        #[track_caller]
        fn check(
            content_type: Option<&str>,
            authorization: Option<&str>,
            body: &str,
            expected: RequestError,
        ) {
            assert_eq!(
                TokenOperationRequest::parse(content_type, authorization, body.as_bytes()),
                Err(expected),
                "body {body:?}"
            );
        }
        check(
            Some("text/plain"),
            None,
            "token=abc",
            RequestError::UnsupportedContentType,
        );
        check(
            FORM,
            None,
            "token_type_hint=access_token",
            RequestError::MissingParameter("token"),
        );
        check(
            FORM,
            None,
            "token=",
            RequestError::MissingParameter("token"),
        );
        check(
            FORM,
            None,
            "token=a&token=b",
            RequestError::DuplicateParameter("token".to_owned()),
        );
        check(
            FORM,
            None,
            "token=a&resource=x&resource=y",
            RequestError::DuplicateParameter("resource".to_owned()),
        );
        check(
            FORM,
            None,
            "token=a&client_secret=x",
            RequestError::SecretWithoutClientId,
        );
    }

    #[test]
    fn maps_every_error_to_a_code_and_description() {
        #[track_caller]
        fn check(
            error: &RequestError,
            code: &ErrorCode,
            status: u16,
            basic: bool,
            description: &str,
        ) {
            assert_eq!(&error.error_code(), code, "{error:?}");
            assert_eq!(error.basic_attempted(), basic, "{error:?}");
            let response = error.to_error_response();
            assert_eq!(&response.error, code);
            assert_eq!(response.status(), status, "{error:?}");
            let text = response.error_description.unwrap();
            assert!(text.contains(description), "{error:?}: {text}");
            assert!(!text.contains('"') && !text.contains('\\'), "{text}");
        }
        use ErrorCode::*;
        check(
            &RequestError::UnsupportedContentType,
            &InvalidRequest,
            400,
            false,
            "application/x-www-form-urlencoded",
        );
        check(
            &RequestError::BodyNotUtf8,
            &InvalidRequest,
            400,
            false,
            "UTF-8",
        );
        check(
            &RequestError::MalformedBody("why"),
            &InvalidRequest,
            400,
            false,
            "why",
        );
        check(
            &RequestError::DuplicateParameter("scope".to_owned()),
            &InvalidRequest,
            400,
            false,
            "`scope` is repeated",
        );
        check(
            &RequestError::MissingParameter("token"),
            &InvalidRequest,
            400,
            false,
            "`token` is missing",
        );
        check(
            &RequestError::MissingGrantType,
            &InvalidRequest,
            400,
            false,
            "`grant_type` is missing",
        );
        check(
            &RequestError::UnsupportedGrantType("password".to_owned()),
            &UnsupportedGrantType,
            400,
            false,
            "`password` is not supported",
        );
        check(
            &RequestError::MultipleAuthMethods,
            &InvalidRequest,
            400,
            false,
            "more than one authentication method",
        );
        check(
            &RequestError::MalformedBasic("why"),
            &InvalidClient,
            401,
            true,
            "why",
        );
        check(
            &RequestError::UnsupportedAuthScheme,
            &InvalidClient,
            401,
            true,
            "Basic",
        );
        check(
            &RequestError::ClientIdMismatch,
            &InvalidRequest,
            400,
            false,
            "does not match",
        );
        check(
            &RequestError::SecretWithoutClientId,
            &InvalidRequest,
            400,
            false,
            "requires `client_id`",
        );
        check(
            &RequestError::MissingAssertionType,
            &InvalidRequest,
            400,
            false,
            "`client_assertion_type` is missing",
        );
        check(
            &RequestError::UnsupportedAssertionType,
            &InvalidClient,
            401,
            false,
            "jwt-bearer",
        );
        check(
            &RequestError::InvalidScope(ScopeError::Empty),
            &InvalidScope,
            400,
            false,
            "scope is empty",
        );
    }

    #[test]
    fn error_responses_never_contain_the_secret() {
        let bodies = [
            "grant_type=client_credentials&client_secret=topsecret",
            "grant_type=client_credentials&client_id=a&client_secret=topsecret&client_assertion=topsecret",
            "grant_type=client_credentials&client_secret=topsecret&client_secret=topsecret",
        ];
        for body in bodies {
            let error = parse_token(None, body).unwrap_err();
            let text = format!(
                "{error} {error:?} {}",
                serde_json::to_string(&error.to_error_response()).unwrap()
            );
            assert!(!text.contains("topsecret"), "{text}");
        }
    }
}
