//! The authorization server's state and endpoint logic, free of HTTP framework types.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{
    AccessToken, AccessTokenClaims, Audience, AuthMethod, ClientId, ErrorCode, ErrorResponse,
    IntrospectionResponse, Profile, ProfileRoutes, RequestError, Scopes, ServerMetadata,
    TokenOperationRequest, TokenRequest, TokenResponse,
};
use jsonwebtoken::{Algorithm, Header, Validation};

use crate::assertion::{AssertionContext, ReplayCache};
use crate::clients::{ASSERTION_ALGORITHMS, Authenticated, Registry, truncate};
use crate::journal::Journal;
use crate::keys::KeyRing;
use ccflow_protocol::Clock;

/// The JWT `typ` of access tokens (RFC 9068 §2.1).
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A request the server refused: the OAuth error and how to present it.
#[derive(Debug)]
pub(crate) struct EndpointError {
    pub(crate) response: ErrorResponse,
    /// The client tried HTTP Basic, so a 401 carries `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub(crate) basic_attempted: bool,
}

impl From<RequestError> for EndpointError {
    fn from(error: RequestError) -> Self {
        Self {
            basic_attempted: error.basic_attempted(),
            response: error.to_error_response(),
        }
    }
}

/// The outcome of one endpoint call plus what the journal and logs need to know.
#[derive(Debug)]
pub(crate) struct Handled<T> {
    pub(crate) result: Result<T, EndpointError>,
    pub(crate) client_id: Option<ClientId>,
}

/// An authorization server without a socket: its clients, keys, clock and state.
///
/// Cheap to clone (one `Arc`). Build one with
/// [`MockAuthServerBuilder::into_app`](crate::MockAuthServerBuilder::into_app) and mount it in
/// an actix-web `App` with [`configure`](crate::configure), or let
/// [`MockAuthServer`](crate::MockAuthServer) serve it.
#[derive(Clone)]
pub struct AuthServer {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServer")
            .field("issuer", &self.inner.issuer)
            .field("profile", &self.inner.profile)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) issuer: String,
    pub(crate) profile: Profile,
    pub(crate) routes: ProfileRoutes,
    pub(crate) registry: Registry,
    pub(crate) keys: KeyRing,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) token_ttl: Duration,
    /// Revoked access tokens: `jti` → `exp`, forgotten once expired.
    revoked: Mutex<HashMap<String, i64>>,
    replay_cache: ReplayCache,
    pub(crate) journal: Journal,
    token_url: String,
    rng: SystemRandom,
}

/// Everything [`AuthServer::new`] needs, validated by the builder.
pub(crate) struct AppParts {
    pub(crate) issuer: String,
    pub(crate) profile: Profile,
    pub(crate) registry: Registry,
    pub(crate) keys: KeyRing,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) token_ttl: Duration,
}

impl AuthServer {
    pub(crate) fn new(parts: AppParts) -> Self {
        let routes = parts.profile.routes();
        let token_url = join_url(&parts.issuer, routes.token);
        Self {
            inner: Arc::new(Inner {
                token_url,
                routes,
                issuer: parts.issuer,
                profile: parts.profile,
                registry: parts.registry,
                keys: parts.keys,
                clock: parts.clock,
                token_ttl: parts.token_ttl,
                revoked: Mutex::default(),
                replay_cache: ReplayCache::default(),
                journal: Journal::default(),
                rng: SystemRandom::new(),
            }),
        }
    }

    /// The issuer identifier (`iss` of every token, `issuer` in discovery).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The profile the server speaks.
    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    /// The absolute URL of an endpoint path, under the issuer.
    pub fn url(&self, path: &str) -> String {
        join_url(&self.inner.issuer, path)
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> &str {
        &self.inner.token_url
    }

    /// The request journal.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    pub(crate) fn routes(&self) -> &ProfileRoutes {
        &self.inner.routes
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    fn authenticate<'a>(
        &'a self,
        auth: &ccflow_protocol::ClientAuthentication,
        now: i64,
    ) -> Result<Authenticated<'a>, EndpointError> {
        let inner = &*self.inner;
        let context = AssertionContext {
            audiences: [inner.issuer.as_str(), inner.token_url.as_str()],
            now,
            replay_cache: &inner.replay_cache,
        };
        inner
            .registry
            .authenticate(auth, &context)
            .map_err(|response| EndpointError {
                response,
                basic_attempted: auth.used_basic(),
            })
    }

    /// Records a `private_key_jwt` assertion as used, once the request has succeeded.
    fn consume_assertion(
        &self,
        authenticated: &Authenticated<'_>,
        now: i64,
    ) -> Result<(), EndpointError> {
        match &authenticated.assertion {
            Some(assertion) if !self.inner.replay_cache.record(assertion, now) => {
                Err(EndpointError {
                    response: ErrorResponse::invalid_client(
                        "client_assertion rejected: `jti` was already used (replayed assertion)",
                    ),
                    basic_attempted: false,
                })
            }
            _ => Ok(()),
        }
    }

    /// The token endpoint (RFC 6749 §4.4.2, §5).
    pub(crate) fn token(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Handled<TokenResponse> {
        let request = match TokenRequest::parse(content_type, authorization, body) {
            Ok(request) => request,
            Err(error) => {
                return Handled {
                    result: Err(error.into()),
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
        let now = self.inner.clock.unix_seconds();
        let authenticated = self.authenticate(&request.client_auth, now)?;
        let client = authenticated.client;
        let plain = |response| EndpointError {
            response,
            basic_attempted: false,
        };

        // RFC 6749 §3.3: requested scopes must be allowed; none requested grants the default set.
        let granted = match &request.scope {
            None => client.scopes.clone(),
            Some(requested) => {
                if let Some(denied) = requested
                    .iter()
                    .find(|scope| !client.scopes.contains(scope.as_str()))
                {
                    return Err(plain(ErrorResponse::invalid_scope(format!(
                        "scope `{}` is not allowed for client `{}`",
                        truncate(denied.as_str()),
                        truncate(client.id.as_str())
                    ))));
                }
                requested.clone()
            }
        };
        // RFC 8707 §2: each `resource` must be one of the client's audiences.
        let audience: Vec<String> = if request.resources.is_empty() {
            if client.audiences.is_empty() {
                vec![client.id.as_str().to_owned()]
            } else {
                client.audiences.clone()
            }
        } else {
            let mut picked: Vec<String> = Vec::new();
            for resource in &request.resources {
                if !client.audiences.iter().any(|aud| aud == resource) {
                    return Err(plain(ErrorResponse::invalid_target(format!(
                        "resource `{}` is not an audience of client `{}`",
                        truncate(resource),
                        truncate(client.id.as_str())
                    ))));
                }
                if !picked.contains(resource) {
                    picked.push(resource.clone());
                }
            }
            picked
        };
        let ttl = client.token_ttl.unwrap_or(self.inner.token_ttl);
        let ttl_secs = ttl.as_secs().max(1);
        let claims = AccessTokenClaims {
            iss: self.inner.issuer.clone(),
            sub: client.id.as_str().to_owned(),
            aud: Audience::many(audience),
            exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            iat: now,
            nbf: Some(now),
            jti: self.new_jti(),
            client_id: Some(client.id.as_str().to_owned()),
            scope: (!granted.is_empty()).then(|| granted.clone()),
            auth_time: None,
            extra: serde_json::Map::new(),
        };
        let token = self.sign(&claims).map_err(plain)?;
        self.consume_assertion(&authenticated, now)?;
        let response = TokenResponse::bearer(
            AccessToken::new(token),
            ttl_secs,
            (!granted.is_empty()).then_some(granted),
        );
        Ok((response, client.id.clone()))
    }

    fn sign(&self, claims: &AccessTokenClaims) -> Result<String, ErrorResponse> {
        let key = self.inner.keys.active();
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(key.kid().to_owned());
        jsonwebtoken::encode(&header, claims, key.encoding_key()).map_err(|error| {
            tracing::error!(%error, "signing an access token failed");
            ErrorResponse::server_error("the server could not sign the token")
        })
    }

    /// 128 random bits, base64url: unique without coordination.
    fn new_jti(&self) -> String {
        let mut bytes = [0_u8; 16];
        // SystemRandom only fails if the OS has no entropy source; a jti must never repeat.
        self.inner
            .rng
            .fill(&mut bytes)
            .expect("the operating system's random number generator failed");
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Introspection (RFC 7662 §2): any authenticated client may ask.
    pub(crate) fn introspect(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Handled<IntrospectionResponse> {
        self.token_operation(
            content_type,
            authorization,
            body,
            |server, _caller, token, now| {
                Ok(match server.verify(token, now) {
                    Some(claims) => IntrospectionResponse {
                        active: true,
                        scope: claims.scope,
                        client_id: claims.client_id,
                        token_type: Some("Bearer".to_owned()),
                        exp: Some(claims.exp),
                        iat: Some(claims.iat),
                        nbf: claims.nbf,
                        sub: Some(claims.sub),
                        aud: Some(claims.aud),
                        iss: Some(claims.iss),
                        jti: Some(claims.jti),
                        ..IntrospectionResponse::inactive()
                    },
                    None => IntrospectionResponse::inactive(),
                })
            },
        )
    }

    /// Revocation (RFC 7009 §2): a client may revoke its own tokens; unknown, invalid or expired
    /// tokens are answered 200 like revoked ones (§2.2).
    pub(crate) fn revoke(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Handled<()> {
        self.token_operation(
            content_type,
            authorization,
            body,
            |server, caller, token, now| {
                let Some(claims) = server.verify(token, now) else {
                    return Ok(());
                };
                let owner = claims.client_id.as_deref().unwrap_or(&claims.sub);
                if owner != caller.as_str() {
                    // RFC 7009 §2.1: the token must have been issued to the client revoking it.
                    return Err(ErrorResponse::new(
                        ErrorCode::UnauthorizedClient,
                        "the token was not issued to this client",
                    ));
                }
                let mut revoked = server
                    .inner
                    .revoked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                revoked.retain(|_, exp| *exp > now);
                revoked.insert(claims.jti, claims.exp);
                Ok(())
            },
        )
    }

    fn token_operation<T>(
        &self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
        operate: impl FnOnce(&Self, &ClientId, &str, i64) -> Result<T, ErrorResponse>,
    ) -> Handled<T> {
        let request = match TokenOperationRequest::parse(content_type, authorization, body) {
            Ok(request) => request,
            Err(error) => {
                return Handled {
                    result: Err(error.into()),
                    client_id: None,
                };
            }
        };
        let now = self.inner.clock.unix_seconds();
        let mut client_id = request.client_auth.client_id().cloned();
        let result =
            self.authenticate(&request.client_auth, now)
                .and_then(|authenticated| {
                    client_id = Some(authenticated.client.id.clone());
                    let value = operate(self, &authenticated.client.id, &request.token, now)
                        .map_err(|response| EndpointError {
                            response,
                            basic_attempted: false,
                        })?;
                    self.consume_assertion(&authenticated, now)?;
                    Ok(value)
                });
        Handled { result, client_id }
    }

    /// The claims of a token this server issued and that is active now: signed by a published
    /// key, `typ` `at+jwt`, our issuer, within `nbf`..`exp`, not revoked.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Option<AccessTokenClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return None;
        }
        let key = self.inner.keys.find(header.kid.as_deref()?)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims =
            jsonwebtoken::decode::<AccessTokenClaims>(token, key.decoding_key(), &validation)
                .ok()?
                .claims;
        let active = claims.iss == self.inner.issuer
            && claims.exp > now
            && claims.nbf.is_none_or(|nbf| nbf <= now)
            && !self
                .inner
                .revoked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&claims.jti);
        active.then_some(claims)
    }

    /// The discovery document (RFC 8414 §2), with `*_supported` lists that match what the
    /// server really accepts.
    pub(crate) fn metadata(&self) -> ServerMetadata {
        let routes = self.routes();
        let methods: Vec<String> = [
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::PrivateKeyJwt,
        ]
        .iter()
        .map(|method| method.as_str().to_owned())
        .collect();
        let algorithms: Vec<String> = ASSERTION_ALGORITHMS
            .iter()
            .map(|&alg| alg.to_owned())
            .collect();
        let mut scopes = Scopes::new();
        for client in self.registry().iter() {
            for scope in &client.scopes {
                scopes.insert(scope.clone());
            }
        }
        ServerMetadata {
            issuer: self.inner.issuer.clone(),
            token_endpoint: Some(self.inner.token_url.clone()),
            jwks_uri: Some(self.url(routes.jwks)),
            introspection_endpoint: routes.introspection.map(|path| self.url(path)),
            revocation_endpoint: routes.revocation.map(|path| self.url(path)),
            scopes_supported: Some(
                scopes
                    .iter()
                    .map(|scope| scope.as_str().to_owned())
                    .collect(),
            ),
            // No authorization endpoint: no response types (RFC 8414 §2 requires the member).
            response_types_supported: Vec::new(),
            grant_types_supported: Some(vec!["client_credentials".to_owned()]),
            token_endpoint_auth_methods_supported: Some(methods.clone()),
            token_endpoint_auth_signing_alg_values_supported: Some(algorithms.clone()),
            introspection_endpoint_auth_methods_supported: routes
                .introspection
                .map(|_| methods.clone()),
            introspection_endpoint_auth_signing_alg_values_supported: routes
                .introspection
                .map(|_| algorithms.clone()),
            revocation_endpoint_auth_methods_supported: routes.revocation.map(|_| methods.clone()),
            revocation_endpoint_auth_signing_alg_values_supported: routes
                .revocation
                .map(|_| algorithms.clone()),
            ..ServerMetadata::new(self.inner.issuer.clone())
        }
    }
}

/// `issuer` + `path`, with exactly one `/` between them.
pub(crate) fn join_url(issuer: &str, path: &str) -> String {
    format!(
        "{}/{}",
        issuer.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

impl AuthServer {
    /// The start-up summary the binary prints after its `listening on` line: endpoints, clients
    /// (ids and scopes; secrets only for the built-in demo clients) and a ready-to-paste curl.
    pub fn banner(&self) -> String {
        use std::fmt::Write as _;
        let routes = self.routes();
        let mut text = String::new();
        let _ = writeln!(text, "issuer:         {}", self.issuer());
        let _ = writeln!(text, "profile:        {}", self.profile());
        let _ = writeln!(text, "token endpoint: {}", self.token_url());
        let _ = writeln!(text, "jwks:           {}", self.url(routes.jwks));
        for path in routes.discovery {
            let _ = writeln!(text, "discovery:      {}", self.url(path));
        }
        let _ = writeln!(
            text,
            "signing key:    RS256, kid {}",
            self.keys().active().kid()
        );
        let _ = writeln!(text, "clients:");
        let mut example = None;
        for client in self.registry().iter() {
            let methods: Vec<&str> = client.auth_methods.iter().map(|m| m.as_str()).collect();
            let _ = write!(
                text,
                "  {}  scopes: [{}]  auth: {}",
                client.id,
                client.scopes,
                methods.join(",")
            );
            if let (Some(secret), true) = (&client.secret, client.is_demo) {
                let _ = write!(
                    text,
                    "  secret: {} (built-in demo client)",
                    secret.expose_secret()
                );
                example.get_or_insert((client.id.as_str(), secret.expose_secret()));
            }
            text.push('\n');
        }
        if self.registry().iter().next().is_none() {
            let _ = writeln!(text, "  (none)");
        }
        if let Some((id, secret)) = example {
            let _ = writeln!(text, "try:");
            let _ = writeln!(
                text,
                "  curl -s -u '{id}:{secret}' -d grant_type=client_credentials {}",
                self.token_url()
            );
        }
        text
    }
}
