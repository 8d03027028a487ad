//! Issuance: the token endpoint (RFC 6749 §4.4.2, §5). Parse, check limits, authenticate, let
//! the profile grant scopes and audiences, mint and sign an access token, answer in the
//! profile's shape.

use std::time::Duration;

use ccflow_protocol::mtls::{CNF_X5T_S256, ClientCertificate};
use ccflow_protocol::{
    AccessToken, ClientId, ErrorCode, ErrorResponse, FormParams, GrantType, TokenExchangeParams,
    TokenRequest, TokenRequestOptions, TokenResponse,
};
use serde_json::{Map, Value, json};

use crate::domain::auth_server::AuthServer;
use crate::domain::endpoint::{EndpointError, Handled};
use crate::domain::site::Site;
use crate::profiles::ClaimInput;

/// What a token request carried for DPoP (RFC 9449 §4): its `DPoP` header values and the URL
/// it was sent to, as the server is reached (the proof's `htu` must name it).
#[derive(Debug, Default)]
pub(crate) struct DpopRequest<'a> {
    pub(crate) proofs: Vec<&'a str>,
    pub(crate) url: String,
}

impl AuthServer {
    /// Parses a token request (a form body, or JSON where the profile accepts it), then the
    /// size limits, before any client lookup; for a token exchange (where the profile has
    /// it), its RFC 8693 §2.1 parameters too.
    fn parse_token_request(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<(TokenRequest, Option<TokenExchangeParams>), EndpointError> {
        let dialect = &self.inner.dialect;
        let params = dialect.token_params(content_type, body)?;
        self.inner
            .limits
            .check_params(&params)
            .map_err(EndpointError::plain)?;
        let options = TokenRequestOptions {
            basic: dialect.basic_credentials(),
            token_exchange: dialect.token_exchange(),
        };
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
            TokenRequest::from_params_with(visible, authorization, options)
                .map(|request| TokenRequest { params, ..request })
        } else {
            TokenRequest::from_params_with(params, authorization, options)
        }
        .map_err(|error| dialect.word_request_error(error))?;
        self.check_basic_client_id(&request.client_auth)?;
        let exchange = match request.grant_type {
            GrantType::TokenExchange => Some(
                TokenExchangeParams::from_params(&request.params)
                    .map_err(|error| dialect.word_request_error(error))?,
            ),
            _ => None,
        };
        Ok((request, exchange))
    }

    /// The token endpoint (RFC 6749 §4.4.2, §5), shaped by the profile; `dpop` is what the
    /// request carried for RFC 9449, `certificate` the connection's for RFC 8705.
    pub(crate) fn token(
        &self,
        site: &Site,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
        dpop: &DpopRequest<'_>,
        certificate: Option<&ClientCertificate>,
    ) -> Handled<TokenResponse> {
        let (request, exchange) = match self.parse_token_request(content_type, authorization, body)
        {
            Ok(parsed) => parsed,
            Err(error) => {
                return Handled {
                    result: Err(error),
                    client_id: None,
                };
            }
        };
        let client_id = request.client_auth.client_id().cloned();
        let result = self.issue(site, &request, exchange.as_ref(), dpop, certificate);
        let client_id = client_id.or_else(|| result.as_ref().ok().map(|(_, id)| id.clone()));
        Handled {
            result: result.map(|(response, _)| response),
            client_id,
        }
    }

    /// Issues a token to an authenticated client: a client credentials grant, or a token
    /// exchange (RFC 8693) when `exchange` is given; bound to the DPoP proof's key when the
    /// request carried one (RFC 9449). Nothing changes on error.
    fn issue(
        &self,
        site: &Site,
        request: &TokenRequest,
        exchange: Option<&TokenExchangeParams>,
        dpop: &DpopRequest<'_>,
        certificate: Option<&ClientCertificate>,
    ) -> Result<(TokenResponse, ClientId), EndpointError> {
        let inner = &*self.inner;
        let dialect = &inner.dialect;
        let now = inner.clock.unix_seconds();
        let now_secs = u64::try_from(now).unwrap_or_default();
        // The proof is checked before the client: a bad proof is the same error whoever sends
        // it, and nothing is recorded until a token is issued.
        let proof = inner
            .dpop
            .check_token_request(&dpop.proofs, &dpop.url, now_secs)
            .map_err(EndpointError::plain)?;
        let registry = self.registry();
        let authenticated =
            self.authenticate(site, &registry, &request.client_auth, certificate, now)?;
        let client = authenticated.client;
        // RFC 8705 §3: the token of a client registered with
        // tls_client_certificate_bound_access_tokens is bound to the connection's certificate.
        // The RFC names no error for a request without one; `invalid_client` (I), as for a
        // mutual TLS client without its certificate (§2): the client did not present what its
        // registration requires.
        let bound_to = match (client.certificate_bound, certificate) {
            (true, None) => {
                return Err(EndpointError::plain(ErrorResponse::invalid_client(
                    "this client's tokens are bound to its certificate (tls_client_certificate_bound_access_tokens, RFC 8705 section 3): the request came without a client certificate",
                )));
            }
            (true, Some(certificate)) => Some(certificate),
            (false, _) => None,
        };
        if client.dpop_bound && proof.is_none() {
            // RFC 9449 §5.2 says to reject, not with which code: `invalid_dpop_proof` (I), as
            // Keycloak and node-oidc-provider answer a missing proof.
            let why = if inner.dpop.enabled() {
                "this client must send a DPoP proof with every token request (dpop_bound_access_tokens)"
            } else {
                "this client requires DPoP-bound tokens (dpop_bound_access_tokens) but DPoP is off on this server"
            };
            return Err(EndpointError::plain(ErrorResponse::new(
                ErrorCode::InvalidDpopProof,
                why,
            )));
        }
        let exchanged = exchange
            .map(|params| self.exchange_tokens(site, params, now))
            .transpose()?;
        let grant = match &exchanged {
            Some(exchanged) => {
                dialect.exchange_grant(client, request, &registry, &exchanged.subject_scopes)?
            }
            None => dialect.grant(client, request, &registry)?,
        };
        let mut lifetime_secs = dialect
            .lifetime(client.token_ttl, inner.token_ttl)
            .as_secs()
            .max(1);
        if let Some(exchanged) = &exchanged {
            // The new token never outlives the token it was exchanged for (I).
            let remaining = u64::try_from(exchanged.subject_exp.saturating_sub(now)).unwrap_or(1);
            lifetime_secs = lifetime_secs.min(remaining.max(1));
        }
        let mut claims = dialect.claims(&ClaimInput {
            issuer: &site.issuer,
            client,
            settings: dialect.settings(),
            now,
            exp: now.saturating_add(i64::try_from(lifetime_secs).unwrap_or(i64::MAX)),
            jti: dialect.jti(&inner.rng),
            granted: &grant.scopes,
            audience: &grant.audience,
        });
        if let Some(exchanged) = &exchanged {
            exchanged.apply(&mut claims);
        }
        if let Some(proof) = &proof {
            // RFC 9449 §6.1: the token names the proof key by its thumbprint.
            claims.insert("cnf".to_owned(), json!({ "jkt": proof.jkt }));
        }
        if let Some(certificate) = bound_to {
            // RFC 8705 §3.1: the certificate's SHA-256 thumbprint, beside any `jkt`.
            let cnf = claims.entry("cnf".to_owned()).or_insert_with(|| json!({}));
            if let Some(cnf) = cnf.as_object_mut() {
                cnf.insert(
                    CNF_X5T_S256.to_owned(),
                    Value::String(certificate.thumbprint().to_owned()),
                );
            }
        }
        let token = self.sign(&claims).map_err(EndpointError::plain)?;
        if let Some(proof) = &proof {
            inner
                .dpop
                .record(proof, now_secs)
                .map_err(EndpointError::plain)?;
        }
        self.consume_assertion(&authenticated, now)?;
        let mut response = dialect.token_response(
            AccessToken::new(token),
            Duration::from_secs(lifetime_secs),
            &grant,
            &inner.rng,
        );
        if let Some(exchanged) = &exchanged {
            // RFC 8693 §2.2.1: `issued_token_type` is required.
            response.extra.insert(
                "issued_token_type".to_owned(),
                Value::String(exchanged.issued_token_type.clone()),
            );
        }
        if proof.is_some() {
            // RFC 9449 §5: a bound token's type is DPoP, whatever the profile's Bearer spelling.
            "DPoP".clone_into(&mut response.token_type);
        }
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
