//! Token exchange (RFC 8693): what a [`TokenClient::exchange`](crate::TokenClient::exchange)
//! call asks for, its form parameters and its identity in the cache (the subject token is
//! hashed, never kept as a key or printed).

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{
    GRANT_TYPE_TOKEN_EXCHANGE, Scope, Scopes, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
};
use url::form_urlencoded::Serializer;

use crate::client::settings::parse_scopes;
use crate::error::TokenError;

/// What a token exchange asks for besides the subject token (RFC 8693 §2.1): the targets
/// (`resource`, `audience`, both repeatable), a narrower `scope`, an actor and the requested
/// token type. The default asks for the subject token's own scopes and the client's default
/// audience.
///
/// `Debug` never shows the actor token.
///
/// ```
/// let target = ccflow_client::TokenExchange::new()
///     .resource("billing-api")
///     .scopes(["orders.read"])
///     .unwrap();
/// assert_eq!(target.resources(), ["billing-api"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenExchange {
    resources: Vec<String>,
    audiences: Vec<String>,
    scopes: Scopes,
    actor_token: Option<String>,
    jwt_type: bool,
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("resources", &self.resources)
            .field("audiences", &self.audiences)
            .field("scopes", &self.scopes)
            .field(
                "actor_token",
                &self.actor_token.as_ref().map(|_| "[redacted]"),
            )
            .field("jwt_type", &self.jwt_type)
            .finish()
    }
}

impl TokenExchange {
    /// An exchange with no target, scope or actor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `resource` (RFC 8693 §2.1, RFC 8707): an absolute URI of the target service.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Adds an `audience` (RFC 8693 §2.1): the logical name of a target service.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The scopes to ask for (at most the subject token's); an invalid name is a
    /// configuration error.
    pub fn scopes<I, S>(mut self, scopes: I) -> Result<Self, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = parse_scopes(scopes.into_iter().map(Into::<String>::into))?;
        Ok(self)
    }

    /// An actor token (sent as an access token): the new token names its subject in `act`
    /// (RFC 8693 §4.1).
    #[must_use]
    pub fn actor_token(mut self, token: impl Into<String>) -> Self {
        self.actor_token = Some(token.into());
        self
    }

    /// Sends the tokens as `urn:ietf:params:oauth:token-type:jwt` and asks for that type,
    /// instead of `…:access_token` (both name ccflow's JWT access tokens, RFC 8693 §3).
    #[must_use]
    pub fn jwt_token_type(mut self) -> Self {
        self.jwt_type = true;
        self
    }

    /// The `resource` values, in order.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The `audience` values, in order.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The requested scopes.
    pub(crate) fn requested_scopes(&self) -> &Scopes {
        &self.scopes
    }

    fn token_type(&self) -> &'static str {
        if self.jwt_type {
            TOKEN_TYPE_JWT
        } else {
            TOKEN_TYPE_ACCESS_TOKEN
        }
    }
}

/// One exchange as the request and the cache see it: the subject token and the target.
#[derive(Clone)]
pub(crate) struct ExchangeForm {
    pub(crate) subject_token: String,
    pub(crate) target: TokenExchange,
}

impl fmt::Debug for ExchangeForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeForm")
            .field("subject_token", &"[redacted]")
            .field("target", &self.target)
            .finish()
    }
}

impl ExchangeForm {
    /// Appends the RFC 8693 §2.1 parameters (the grant type included).
    pub(crate) fn append_to(&self, form: &mut Serializer<'_, String>) {
        let target = &self.target;
        let token_type = target.token_type();
        form.append_pair("grant_type", GRANT_TYPE_TOKEN_EXCHANGE);
        form.append_pair("subject_token", &self.subject_token);
        form.append_pair("subject_token_type", token_type);
        if let Some(actor) = &target.actor_token {
            form.append_pair("actor_token", actor);
            form.append_pair("actor_token_type", token_type);
        }
        if target.jwt_type {
            form.append_pair("requested_token_type", TOKEN_TYPE_JWT);
        }
        if !target.scopes.is_empty() {
            form.append_pair("scope", &target.scopes.to_string());
        }
        for resource in &target.resources {
            form.append_pair("resource", resource);
        }
        for audience in &target.audiences {
            form.append_pair("audience", audience);
        }
    }

    /// What identifies this exchange in the cache: digests of the tokens (never the tokens)
    /// and the target with order-insensitive lists sorted.
    pub(crate) fn fingerprint_part(&self) -> serde_json::Value {
        let hash = |token: &str| URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()));
        let sorted = |values: &[String]| {
            let mut values = values.to_vec();
            values.sort();
            values.dedup();
            values
        };
        let target = &self.target;
        let mut scopes: Vec<&str> = target.scopes.iter().map(Scope::as_str).collect();
        scopes.sort_unstable();
        serde_json::json!({
            "grant": GRANT_TYPE_TOKEN_EXCHANGE,
            "subject": hash(&self.subject_token),
            "actor": target.actor_token.as_deref().map(hash),
            "jwt": target.jwt_type,
            "scopes": scopes,
            "resources": sorted(&target.resources),
            "audiences": sorted(&target.audiences),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(exchange: &ExchangeForm) -> String {
        let mut serializer = Serializer::new(String::new());
        exchange.append_to(&mut serializer);
        serializer.finish()
    }

    #[test]
    fn the_form_carries_the_rfc_8693_parameters() {
        let exchange = ExchangeForm {
            subject_token: "subject.jwt".to_owned(),
            target: TokenExchange::new()
                .resource("https://billing")
                .audience("orders-api")
                .actor_token("actor.jwt")
                .scopes(["a", "b"])
                .unwrap(),
        };
        assert_eq!(
            form(&exchange),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &subject_token=subject.jwt\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
             &actor_token=actor.jwt\
             &actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
             &scope=a+b&resource=https%3A%2F%2Fbilling&audience=orders-api"
        );
        let jwt = ExchangeForm {
            subject_token: "s".to_owned(),
            target: TokenExchange::new().jwt_token_type(),
        };
        assert!(
            form(&jwt)
                .contains("subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt")
        );
        assert!(
            form(&jwt)
                .contains("requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt")
        );
    }

    #[test]
    fn the_fingerprint_hides_the_tokens_and_ignores_target_order() {
        let one = ExchangeForm {
            subject_token: "secret-subject-token".to_owned(),
            target: TokenExchange::new()
                .resource("a")
                .resource("b")
                .actor_token("secret-actor"),
        };
        let two = ExchangeForm {
            target: TokenExchange::new()
                .resource("b")
                .resource("a")
                .actor_token("secret-actor"),
            ..one.clone()
        };
        let part = one.fingerprint_part().to_string();
        assert!(!part.contains("secret-"), "{part}");
        assert_eq!(part, two.fingerprint_part().to_string());
        let other_subject = ExchangeForm {
            subject_token: "another".to_owned(),
            ..one.clone()
        };
        assert_ne!(part, other_subject.fingerprint_part().to_string());
        assert!(!format!("{one:?}").contains("secret-"));
    }
}
