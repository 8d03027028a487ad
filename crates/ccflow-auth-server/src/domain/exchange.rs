//! Token exchange (RFC 8693): what the subject and actor tokens contribute to the new token —
//! they must be active tokens of this issuer; the new token keeps the subject's `sub`, carries
//! `act` for an actor (§4.1), and never outlives the subject token.

use ccflow_protocol::{ErrorResponse, Scope, Scopes, TokenExchangeParams};
use serde_json::{Map, Value, json};

use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::EndpointError;
use crate::domain::site::Site;

/// What an exchange takes from its subject (and actor) token.
#[derive(Debug)]
pub(crate) struct Exchanged {
    /// The subject token's `sub`, kept by the new token.
    subject: Value,
    /// The subject token's `exp`: the new token expires no later (I).
    pub(crate) subject_exp: i64,
    /// The subject token's scopes, the most the new token may carry.
    pub(crate) subject_scopes: Scopes,
    /// The new token's `act` claim, if any.
    act: Option<Value>,
    /// The RFC 8693 §2.2.1 `issued_token_type`.
    pub(crate) issued_token_type: String,
}

impl AuthServer {
    /// Checks the subject token and the actor token (if any): each must be a token this issuer
    /// minted, signed by a key of its ring, not expired on the server clock, not revoked.
    /// Anything else is `invalid_request` — RFC 8693 §2.2.2: "If … either the subject_token or
    /// actor_token are invalid for any reason, … the invalid_request error … MUST be used."
    pub(crate) fn exchange_tokens(
        &self,
        site: &Site,
        params: &TokenExchangeParams,
        now: i64,
    ) -> Result<Exchanged, EndpointError> {
        let inactive = |parameter: &str| {
            EndpointError::plain(ErrorResponse::invalid_request(format!(
                "`{parameter}` is not an active token of this issuer (unknown signer, expired or revoked) (RFC 8693 section 2.2.2)"
            )))
        };
        let subject = self
            .verify(site, &params.subject_token, now)
            .ok_or_else(|| inactive("subject_token"))?;
        let actor = match &params.actor_token {
            Some(token) => Some(
                self.verify(site, token, now)
                    .ok_or_else(|| inactive("actor_token"))?,
            ),
            None => None,
        };
        let (Some(sub), Some(subject_exp)) = (
            subject.get("sub").filter(|sub| sub.is_string()),
            subject.get("exp").and_then(Value::as_i64),
        ) else {
            return Err(inactive("subject_token"));
        };
        // RFC 8693 §4.1: `act` names the current actor; a delegation chain nests the prior
        // actors (here: the subject token's own `act`) inside it. Without an actor token the
        // exchange is impersonation (§1.1): no new `act`, the subject token's `act` (if any)
        // is kept, and the requesting client is named by `client_id`/`azp` (§4.3).
        let prior_act = subject.get("act").cloned();
        let act = match actor {
            Some(actor) => {
                let actor_sub = actor.get("sub").cloned().unwrap_or(Value::Null);
                let mut act = json!({ "sub": actor_sub });
                if let Some(prior) = prior_act {
                    act["act"] = prior;
                }
                Some(act)
            }
            None => prior_act,
        };
        Ok(Exchanged {
            subject: sub.clone(),
            subject_exp,
            subject_scopes: claim_scopes(&subject),
            act,
            issued_token_type: params.issued_token_type().to_owned(),
        })
    }
}

impl Exchanged {
    /// Puts the subject's `sub` and the `act` claim into the new token's claims.
    pub(crate) fn apply(&self, claims: &mut Map<String, Value>) {
        claims.insert("sub".to_owned(), self.subject.clone());
        if let Some(act) = &self.act {
            claims.insert("act".to_owned(), act.clone());
        }
    }
}

/// The scopes a token carries, from a `scope` string (RFC 9068 §2.2.3) or a `scp` array.
pub(crate) fn claim_scopes(claims: &Map<String, Value>) -> Scopes {
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(scope)), _) => Scopes::parse(scope).unwrap_or_default(),
        (_, Some(Value::Array(items))) => items
            .iter()
            .filter_map(|item| item.as_str().and_then(|s| Scope::new(s).ok()))
            .collect(),
        _ => Scopes::new(),
    }
}
