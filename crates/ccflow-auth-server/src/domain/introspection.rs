//! Introspection (RFC 7662) and revocation (RFC 7009), and the check both rest on: is this a
//! token the server issued and that is active now.

use std::sync::PoisonError;

use ccflow_protocol::mtls::ClientCertificate;
use ccflow_protocol::{
    Audience, ClientId, ErrorCode, ErrorResponse, FormParams, IntrospectionResponse, Scope, Scopes,
    TokenOperationRequest,
};
use jsonwebtoken::Validation;
use serde_json::{Map, Value};

use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::{EndpointError, Handled};
use crate::domain::site::Site;

impl AuthServer {
    /// Introspection (RFC 7662 §2): any authenticated client may ask.
    pub(crate) fn introspect(
        &self,
        site: &Site,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
        certificate: Option<&ClientCertificate>,
    ) -> Handled<IntrospectionResponse> {
        self.token_operation(
            site,
            content_type,
            authorization,
            body,
            certificate,
            |server, _caller, token, now| {
                Ok(match server.verify(site, token, now) {
                    Some(claims) => introspection_response(&claims),
                    None => IntrospectionResponse::inactive(),
                })
            },
        )
    }

    /// Revocation (RFC 7009 §2): a client may revoke its own tokens; unknown, invalid or expired
    /// tokens are answered 200 like revoked ones (§2.2).
    pub(crate) fn revoke(
        &self,
        site: &Site,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
        certificate: Option<&ClientCertificate>,
    ) -> Handled<()> {
        if self.inner.dialect.answers_every_revocation() {
            return Handled {
                result: Ok(()),
                client_id: None,
            };
        }
        self.token_operation(
            site,
            content_type,
            authorization,
            body,
            certificate,
            |server, caller, token, now| {
                let Some(claims) = server.verify(site, token, now) else {
                    return Ok(());
                };
                let owner = ["client_id", "azp", "sub"]
                    .iter()
                    .find_map(|name| claims.get(*name).and_then(Value::as_str))
                    .unwrap_or_default();
                if owner != caller.as_str() {
                    // RFC 7009 §2.1: the token must have been issued to the client revoking it.
                    return Err(ErrorResponse::new(
                        ErrorCode::UnauthorizedClient,
                        "the token was not issued to this client",
                    ));
                }
                let (Some(jti), Some(exp)) = (
                    claims.get("jti").and_then(Value::as_str),
                    claims.get("exp").and_then(Value::as_i64),
                ) else {
                    return Ok(());
                };
                let mut revoked = server
                    .inner
                    .revoked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                revoked.retain(|_, expiry| *expiry > now);
                revoked.insert(jti.to_owned(), exp);
                Ok(())
            },
        )
    }

    /// Parses an introspection or revocation request, then the size limits.
    fn parse_token_operation(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenOperationRequest, EndpointError> {
        let params = FormParams::from_request(content_type, body, &[])?;
        self.inner
            .limits
            .check_params(&params)
            .map_err(EndpointError::plain)?;
        let request = TokenOperationRequest::from_params_with(
            self.dialect().basic_credentials(),
            &params,
            authorization,
        )?;
        self.check_basic_client_id(&request.client_auth)?;
        Ok(request)
    }

    fn token_operation<T>(
        &self,
        site: &Site,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
        certificate: Option<&ClientCertificate>,
        operate: impl FnOnce(&Self, &ClientId, &str, i64) -> Result<T, ErrorResponse>,
    ) -> Handled<T> {
        let request = match self.parse_token_operation(content_type, authorization, body) {
            Ok(request) => request,
            Err(error) => {
                return Handled {
                    result: Err(error),
                    client_id: None,
                };
            }
        };
        let now = self.inner.clock.unix_seconds();
        let mut client_id = request.client_auth.client_id().cloned();
        let registry = self.registry();
        let result = self
            .authenticate(site, &registry, &request.client_auth, certificate, now)
            .and_then(|authenticated| {
                client_id = Some(authenticated.client.id.clone());
                let value = operate(self, &authenticated.client.id, &request.token, now)
                    .map_err(EndpointError::plain)?;
                self.consume_assertion(&authenticated, now)?;
                Ok(value)
            });
        Handled { result, client_id }
    }

    /// The claims of a token this server issued and that is active now: signed by a published
    /// key with its algorithm, the profile's `typ`, our issuer, numeric `exp` in the future,
    /// `nbf` (if any) passed, not revoked.
    pub(crate) fn verify(&self, site: &Site, token: &str, now: i64) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some(self.dialect().token_typ()) {
            return None;
        }
        let keys = self.keys();
        let key = keys.find(header.kid.as_deref()?)?;
        if header.alg != key.algorithm() {
            return None;
        }
        let mut validation = Validation::new(key.algorithm());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims =
            jsonwebtoken::decode::<Map<String, Value>>(token, key.decoding_key(), &validation)
                .ok()?
                .claims;
        let exp = claims.get("exp").and_then(Value::as_i64)?;
        let nbf_ok = match claims.get("nbf") {
            None => true,
            Some(nbf) => nbf.as_i64().is_some_and(|nbf| nbf <= now),
        };
        let revoked = claims
            .get("jti")
            .and_then(Value::as_str)
            .is_some_and(|jti| {
                self.inner
                    .revoked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains_key(jti)
            });
        let active = claims.get("iss").and_then(Value::as_str) == Some(site.issuer.as_str())
            && exp > now
            && nbf_ok
            && !revoked
            && !self.issued_to_removed_client(&claims);
        active.then_some(claims)
    }
}

/// The RFC 7662 §2.2 answer for an active token, from whatever claim style it carries.
fn introspection_response(claims: &Map<String, Value>) -> IntrospectionResponse {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let scope = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(scope)), _) => Scopes::parse(scope).ok(),
        (_, Some(Value::Array(items))) => items
            .iter()
            .map(|item| item.as_str().and_then(|s| Scope::new(s).ok()))
            .collect::<Option<Scopes>>()
            .filter(|scopes| !scopes.is_empty()),
        _ => None,
    };
    let aud = match claims.get("aud") {
        Some(Value::String(aud)) => Some(Audience::one(aud.clone())),
        Some(Value::Array(items)) => Some(Audience::many(
            items.iter().filter_map(Value::as_str).map(str::to_owned),
        )),
        _ => None,
    };
    IntrospectionResponse {
        active: true,
        scope,
        client_id: text("client_id")
            .or_else(|| text("azp"))
            .or_else(|| text("sub")),
        // RFC 9449 §6.2: a DPoP-bound token introspects as DPoP with its confirmation; a
        // certificate-bound one stays Bearer (RFC 8705 §3.2 returns its `cnf` only).
        token_type: Some(
            if claims
                .get("cnf")
                .is_some_and(|cnf| cnf.get("jkt").is_some())
            {
                "DPoP"
            } else {
                "Bearer"
            }
            .to_owned(),
        ),
        exp: number("exp"),
        iat: number("iat"),
        nbf: number("nbf"),
        sub: text("sub"),
        aud,
        iss: text("iss"),
        jti: text("jti"),
        extra: claims
            .get("cnf")
            .map(|cnf| Map::from_iter([("cnf".to_owned(), cnf.clone())]))
            .unwrap_or_default(),
        ..IntrospectionResponse::inactive()
    }
}
