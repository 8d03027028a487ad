//! Issuance: the token endpoint (RFC 6749 §4.4.2, §5). Parse, check limits, authenticate, let
//! the profile grant scopes and audiences, mint and sign an access token, answer in the
//! profile's shape.

use std::time::Duration;

use ccflow_protocol::{
    AccessToken, ClientId, ErrorResponse, FormParams, TokenRequest, TokenResponse,
};
use serde_json::{Map, Value};

use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::{EndpointError, Handled};
use crate::profiles::ClaimInput;

impl AuthServer {
    /// Parses a token request (a form body, or JSON where the profile accepts it), then the
    /// size limits, before any client lookup.
    fn parse_token_request(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenRequest, EndpointError> {
        let dialect = &self.inner.dialect;
        let params = dialect.token_params(content_type, body)?;
        self.inner
            .limits
            .check_params(&params)
            .map_err(EndpointError::plain)?;
        // Parameters the strict parser must not see; `params` keeps them for the profile.
        let mut hidden: Vec<&str> = Vec::new();
        if dialect.scope_is_free_text() {
            // SLB (seed 001): `scope` is never refused for its content, so RFC 6749 §3.3's
            // syntax is not applied; the profile reads the raw value from `params`.
            hidden.push("scope");
        }
        if authorization.is_some() && dialect.basic_wins_over_body() {
            // UserClouds (its server code): HTTP Basic wins, body credentials are ignored
            // instead of RFC 6749 §2.3's "more than one method" error.
            hidden.extend(["client_id", "client_secret"]);
        }
        let request = if !hidden.is_empty() {
            let visible: FormParams = params
                .iter()
                .filter(|(name, _)| !hidden.contains(name))
                .collect();
            TokenRequest::from_params_with(dialect.basic_credentials(), visible, authorization)
                .map(|request| TokenRequest { params, ..request })
        } else {
            TokenRequest::from_params_with(dialect.basic_credentials(), params, authorization)
        }
        .map_err(|error| dialect.word_request_error(error))?;
        self.check_basic_client_id(&request.client_auth)?;
        Ok(request)
    }

    /// The token endpoint (RFC 6749 §4.4.2, §5), shaped by the profile.
    pub(crate) fn token(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Handled<TokenResponse> {
        let request = match self.parse_token_request(content_type, authorization, body) {
            Ok(request) => request,
            Err(error) => {
                return Handled {
                    result: Err(error),
                    client_id: None,
                };
            }
        };
        let client_id = request.client_auth.client_id().cloned();
        let result = self.issue(&request);
        let client_id = client_id.or_else(|| result.as_ref().ok().map(|(_, id)| id.clone()));
        Handled {
            result: result.map(|(response, _)| response),
            client_id,
        }
    }

    fn issue(&self, request: &TokenRequest) -> Result<(TokenResponse, ClientId), EndpointError> {
        let inner = &*self.inner;
        let dialect = &inner.dialect;
        let now = inner.clock.unix_seconds();
        let registry = self.registry();
        let authenticated = self.authenticate(&registry, &request.client_auth, now)?;
        let client = authenticated.client;
        let grant = dialect.grant(client, request, &registry)?;
        let lifetime = dialect.lifetime(client.token_ttl, inner.token_ttl);
        let lifetime_secs = lifetime.as_secs().max(1);
        let claims = dialect.claims(&ClaimInput {
            issuer: &inner.issuer,
            client,
            settings: dialect.settings(),
            now,
            exp: now.saturating_add(i64::try_from(lifetime_secs).unwrap_or(i64::MAX)),
            jti: dialect.jti(&inner.rng),
            granted: &grant.scopes,
            audience: &grant.audience,
        });
        let token = self.sign(&claims).map_err(EndpointError::plain)?;
        self.consume_assertion(&authenticated, now)?;
        let response = dialect.token_response(
            AccessToken::new(token),
            Duration::from_secs(lifetime_secs),
            &grant,
            &inner.rng,
        );
        Ok((response, client.id.clone()))
    }

    fn sign(&self, claims: &Map<String, Value>) -> Result<String, ErrorResponse> {
        let keys = self.keys();
        keys.active()
            .sign_token(self.dialect().token_typ(), claims)
            .map_err(|error| {
                tracing::error!(%error, "signing an access token failed");
                ErrorResponse::server_error("the server could not sign the token")
            })
    }
}
