//! Registered clients and client authentication (RFC 6749 §2.3, RFC 7523 §2.2).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use ccflow_protocol::{
    AuthMethod, ClientId, ClientSecret, ErrorResponse, Jwk, ProfileSpec, Scope, Scopes,
};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::domain::echo::truncate;
use crate::domain::ids::name_uuid;
use crate::domain::mtls::{MtlsFields, MtlsRegistration};

/// Why a client cannot be registered: which field and why. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
#[non_exhaustive]
pub struct ClientError {
    /// The field, e.g. `clients[1].scopes` or `client.client_id`.
    pub field: String,
    /// What is wrong and, where possible, how to fix it.
    pub why: String,
}

impl ClientError {
    pub(crate) fn field(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            why: why.into(),
        }
    }
}

/// A client to register with the mock: builder-style, validated when the server is built.
///
/// ```
/// use ccflow_auth_server::Client;
///
/// let client = Client::new("orders-service", "orders-secret")
///     .scopes(["orders.read", "orders.write"])
///     .audiences(["orders-api"]);
/// assert_eq!(client.id(), "orders-service");
/// ```
#[derive(Clone)]
pub struct Client {
    id: String,
    secret: Option<ClientSecret>,
    auth_methods: Option<Vec<AuthMethod>>,
    scopes: Vec<String>,
    audiences: Vec<String>,
    token_ttl: Option<Duration>,
    keys: Vec<KeySource>,
    subject: Option<String>,
    dpop_bound: bool,
    mtls: MtlsFields,
    certificate_bound: bool,
    is_demo: bool,
}

#[derive(Clone)]
pub(crate) enum KeySource {
    Pem(String),
    Jwk(Box<Jwk>),
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .field("auth_methods", &self.auth_methods)
            .field("scopes", &self.scopes)
            .field("audiences", &self.audiences)
            .field("token_ttl", &self.token_ttl)
            .field("n_public_keys", &self.keys.len())
            .field("mtls", &self.mtls)
            .field("certificate_bound", &self.certificate_bound)
            .finish()
    }
}

impl Client {
    /// A confidential client authenticating with a shared secret (`client_secret_basic` or
    /// `client_secret_post` unless [`Client::auth_methods`] narrows it).
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            id: client_id.into(),
            secret: Some(ClientSecret::new(client_secret)),
            auth_methods: None,
            scopes: Vec::new(),
            audiences: Vec::new(),
            token_ttl: None,
            keys: Vec::new(),
            subject: None,
            dpop_bound: false,
            mtls: MtlsFields::default(),
            certificate_bound: false,
            is_demo: false,
        }
    }

    /// A client authenticating with `private_key_jwt` (RFC 7523), verified against the public
    /// keys added with [`Client::public_key_pem`] or [`Client::public_jwk`].
    pub fn private_key_jwt(client_id: impl Into<String>) -> Self {
        Self {
            id: client_id.into(),
            secret: None,
            auth_methods: None,
            scopes: Vec::new(),
            audiences: Vec::new(),
            token_ttl: None,
            keys: Vec::new(),
            subject: None,
            dpop_bound: false,
            mtls: MtlsFields::default(),
            certificate_bound: false,
            is_demo: false,
        }
    }

    /// A client authenticating with `tls_client_auth` (RFC 8705 §2.1): a certificate from a
    /// CA the server trusts (its generated CA, or a configured client CA file) whose subject
    /// or DNS name is registered with [`Client::tls_client_auth_subject_dn`] or
    /// [`Client::tls_client_auth_san_dns`] (exactly one, §2.1.2).
    pub fn tls_client_auth(client_id: impl Into<String>) -> Self {
        Self::private_key_jwt(client_id).auth_methods([AuthMethod::TlsClientAuth])
    }

    /// A client authenticating with `self_signed_tls_client_auth` (RFC 8705 §2.2): a
    /// certificate registered with [`Client::tls_client_certificate_pem`], or as the `x5c` of a
    /// key added with [`Client::public_jwk`] (§2.2's `jwks`).
    pub fn self_signed_tls_client_auth(client_id: impl Into<String>) -> Self {
        Self::private_key_jwt(client_id).auth_methods([AuthMethod::SelfSignedTlsClientAuth])
    }

    /// The subject DN (RFC 4514, e.g. `CN=orders-service`) its `tls_client_auth` certificate
    /// carries (RFC 8705 §2.1.2 `tls_client_auth_subject_dn`).
    #[must_use]
    pub fn tls_client_auth_subject_dn(mut self, subject_dn: impl Into<String>) -> Self {
        self.mtls.subject_dn = Some(subject_dn.into());
        self
    }

    /// A DNS name its `tls_client_auth` certificate carries as a subject alternative name
    /// (RFC 8705 §2.1.2 `tls_client_auth_san_dns`).
    #[must_use]
    pub fn tls_client_auth_san_dns(mut self, dns_name: impl Into<String>) -> Self {
        self.mtls.san_dns = Some(dns_name.into());
        self
    }

    /// Registers its self-signed certificate (PEM) for `self_signed_tls_client_auth`
    /// (RFC 8705 §2.2); may be called more than once.
    #[must_use]
    pub fn tls_client_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.mtls.certificate_pems.push(pem.into());
        self
    }

    /// Binds every token of this client to the certificate of the connection it was requested
    /// over (`cnf["x5t#S256"]`, RFC 8705 §3), whatever its authentication method; a token
    /// request without a client certificate is then `invalid_client`.
    #[must_use]
    pub fn tls_client_certificate_bound_access_tokens(mut self, bound: bool) -> Self {
        self.certificate_bound = bound;
        self
    }

    /// Adds a public key in JWK form for `private_key_jwt`. For
    /// `self_signed_tls_client_auth` its `x5c[0]` (base64 DER, RFC 7517 §4.7) is a registered
    /// certificate as well (RFC 8705 §2.2: certificates registered as `jwks`).
    #[must_use]
    pub fn public_jwk(mut self, jwk: Jwk) -> Self {
        self.keys.push(KeySource::Jwk(Box::new(jwk)));
        self
    }

    /// Adds a public key in PEM form (`PUBLIC KEY`, RSA or EC P-256/P-384) for `private_key_jwt`.
    #[must_use]
    pub fn public_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.keys.push(KeySource::Pem(pem.into()));
        self
    }

    /// The scopes this client may request; requesting none grants all of them.
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The audiences (`aud`) of its tokens; an RFC 8707 `resource` parameter picks among them.
    #[must_use]
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// The client authentication methods this client may use.
    #[must_use]
    pub fn auth_methods(mut self, methods: impl IntoIterator<Item = AuthMethod>) -> Self {
        self.auth_methods = Some(methods.into_iter().collect());
        self
    }

    /// The lifetime of this client's tokens, overriding the server default.
    #[must_use]
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = Some(ttl);
        self
    }

    /// The token `sub` where the profile uses a subject id rather than the client id
    /// (CyberArk's service-user UUID, UserClouds' app UUID). Default: a UUID derived from the
    /// client id, stable across runs.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Requires a DPoP proof on every token request of this client, so that all its tokens are
    /// bound (RFC 9449 §5.2 `dpop_bound_access_tokens`).
    #[must_use]
    pub fn dpop_bound_access_tokens(mut self, required: bool) -> Self {
        self.dpop_bound = required;
        self
    }

    /// Marks a built-in demo client, whose secret the binary prints at start-up.
    #[must_use]
    pub(crate) fn demo(mut self) -> Self {
        self.is_demo = true;
        self
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A client from its data form (as `POST /_ccflow/clients` takes it); the profile's rules
    /// are checked when it is registered.
    pub fn from_registration(
        registration: ccflow_protocol::ClientRegistration,
    ) -> Result<Self, ClientError> {
        let mut client = match registration.client_secret {
            Some(secret) => Self::new(registration.client_id, secret.expose_secret()),
            None if registration.jwks.is_some()
                || registration.tls_client_auth_subject_dn.is_some()
                || registration.tls_client_auth_san_dns.is_some()
                || registration.tls_client_certificate_pem.is_some() =>
            {
                Self::private_key_jwt(registration.client_id)
            }
            None => {
                return Err(ClientError::field(
                    "client_secret",
                    "give client_secret, jwks for private_key_jwt, or a tls_client_auth_* / tls_client_certificate_pem for mutual TLS",
                ));
            }
        };
        client.mtls = MtlsFields {
            subject_dn: registration.tls_client_auth_subject_dn,
            san_dns: registration.tls_client_auth_san_dns,
            certificate_pems: registration
                .tls_client_certificate_pem
                .into_iter()
                .collect(),
        };
        client.certificate_bound = registration.tls_client_certificate_bound_access_tokens;
        for jwk in registration.jwks.into_iter().flat_map(|jwks| jwks.keys) {
            client = client.public_jwk(jwk);
        }
        if let Some(methods) = registration.auth_methods {
            client = client.auth_methods(methods);
        }
        if let Some(ttl) = registration.token_ttl_secs {
            if ttl == 0 {
                return Err(ClientError::field("token_ttl_secs", "must be at least 1"));
            }
            client = client.token_ttl(Duration::from_secs(ttl));
        }
        if let Some(subject) = registration.subject {
            client = client.subject(subject);
        }
        client = client.dpop_bound_access_tokens(registration.dpop_bound_access_tokens);
        Ok(client
            .scopes(registration.scopes)
            .audiences(registration.audiences))
    }
}

/// A verified public key of a `private_key_jwt` client.
#[derive(Clone)]
pub(crate) struct ClientKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) key: DecodingKey,
}

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// The JWS algorithms a `private_key_jwt` client may sign with, as advertised in discovery.
pub(crate) const ASSERTION_ALGORITHMS: [&str; 8] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
];

impl ClientKey {
    fn from_source(source: &KeySource) -> Result<Self, String> {
        match source {
            KeySource::Pem(pem) => {
                if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
                    return Ok(Self {
                        kid: None,
                        algorithms: RSA_ALGORITHMS.to_vec(),
                        key,
                    });
                }
                let key = DecodingKey::from_ec_pem(pem.as_bytes())
                    .map_err(|_| "not a PEM RSA or EC public key".to_owned())?;
                Ok(Self {
                    kid: None,
                    algorithms: vec![Algorithm::ES256, Algorithm::ES384],
                    key,
                })
            }
            KeySource::Jwk(jwk) => {
                let (key, mut algorithms) = match jwk.kty.as_str() {
                    "RSA" => {
                        let (Some(n), Some(e)) = (&jwk.n, &jwk.e) else {
                            return Err("RSA JWK needs `n` and `e`".to_owned());
                        };
                        let key = DecodingKey::from_rsa_components(n, e)
                            .map_err(|e| format!("bad RSA JWK: {e}"))?;
                        (key, RSA_ALGORITHMS.to_vec())
                    }
                    "EC" => {
                        let (Some(x), Some(y)) = (&jwk.x, &jwk.y) else {
                            return Err("EC JWK needs `x` and `y`".to_owned());
                        };
                        let algorithm = match jwk.crv.as_deref() {
                            Some("P-256") => Algorithm::ES256,
                            Some("P-384") => Algorithm::ES384,
                            _ => return Err("EC JWK `crv` must be P-256 or P-384".to_owned()),
                        };
                        let key = DecodingKey::from_ec_components(x, y)
                            .map_err(|e| format!("bad EC JWK: {e}"))?;
                        (key, vec![algorithm])
                    }
                    other => return Err(format!("unsupported JWK kty `{other}` (use RSA or EC)")),
                };
                if let Some(alg) = &jwk.alg {
                    let alg: Algorithm = alg
                        .parse()
                        .map_err(|_| format!("unsupported JWK alg `{alg}`"))?;
                    if !algorithms.contains(&alg) {
                        return Err(format!("JWK alg `{alg:?}` does not fit its kty"));
                    }
                    algorithms = vec![alg];
                }
                if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
                    return Err("JWK `use` must be `sig`".to_owned());
                }
                Ok(Self {
                    kid: jwk.kid.clone(),
                    algorithms,
                    key,
                })
            }
        }
    }
}

/// A client as the server holds it after validation.
#[derive(Clone)]
pub(crate) struct RegisteredClient {
    pub(crate) id: ClientId,
    pub(crate) secret: Option<ClientSecret>,
    pub(crate) auth_methods: Vec<AuthMethod>,
    pub(crate) scopes: Scopes,
    pub(crate) audiences: Vec<String>,
    pub(crate) token_ttl: Option<Duration>,
    pub(crate) keys: Vec<ClientKey>,
    pub(crate) subject: Option<String>,
    /// Token requests must carry a DPoP proof (RFC 9449 §5.2).
    pub(crate) dpop_bound: bool,
    /// What it registered for mutual TLS (RFC 8705 §2).
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "read only with the `tls` feature")
    )]
    pub(crate) mtls: MtlsRegistration,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3).
    pub(crate) certificate_bound: bool,
    pub(crate) is_demo: bool,
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("id", &self.id)
            .field("auth_methods", &self.auth_methods)
            .field("scopes", &self.scopes)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl RegisteredClient {
    /// The token `sub` where the profile uses a subject id rather than the client id: the
    /// configured one, else a UUID derived from the client id, stable across runs.
    pub(crate) fn subject(&self) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| name_uuid(&format!("ccflow-subject:{}", self.id)))
    }

    /// Validates a [`Client`] for a profile; `field` prefixes error messages, e.g. `clients[1]`.
    pub(crate) fn from_client(
        client: Client,
        field: &str,
        spec: &ProfileSpec,
    ) -> Result<Self, ClientError> {
        let invalid = |name: &str, why: String| ClientError::field(format!("{field}.{name}"), why);
        if client.id.is_empty() {
            return Err(invalid("client_id", "must not be empty".to_owned()));
        }
        let mut scopes = Scopes::new();
        for scope in client.scopes {
            let scope = Scope::new(scope).map_err(|e| invalid("scopes", e.to_string()))?;
            scopes.insert(scope);
        }
        if client.audiences.iter().any(String::is_empty) {
            return Err(invalid(
                "audiences",
                "an audience must not be empty".to_owned(),
            ));
        }
        let keys = client
            .keys
            .iter()
            .map(ClientKey::from_source)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| invalid("public_key_pem", why))?;
        let auth_methods = match client.auth_methods {
            Some(methods) if methods.is_empty() => {
                return Err(invalid(
                    "auth_methods",
                    "must list at least one method".to_owned(),
                ));
            }
            Some(methods) => methods,
            // Cloudentity registers one method per client, client_secret_basic by default (D).
            None if client.secret.is_some() && spec.one_auth_method_per_client => {
                vec![AuthMethod::ClientSecretBasic]
            }
            None if client.secret.is_some() => {
                vec![AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost]
            }
            None => vec![
                client
                    .mtls
                    .implied_method()
                    .unwrap_or(AuthMethod::PrivateKeyJwt),
            ],
        };
        if spec.one_auth_method_per_client && auth_methods.len() > 1 {
            return Err(invalid(
                "auth_method",
                format!(
                    "{} registers exactly one authentication method per client",
                    spec.vendor
                ),
            ));
        }
        if let Some(method) = auth_methods
            .iter()
            .find(|method| !spec.auth_methods.contains(method))
        {
            return Err(invalid(
                "auth_methods",
                format!("{} does not accept {method}", spec.vendor),
            ));
        }
        for method in &auth_methods {
            match method {
                AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
                    if client.secret.is_none() =>
                {
                    return Err(invalid("client_secret", format!("required for {method}")));
                }
                AuthMethod::PrivateKeyJwt if keys.is_empty() => {
                    return Err(invalid(
                        "public_key_pem",
                        "required for private_key_jwt (or give `jwks`)".to_owned(),
                    ));
                }
                AuthMethod::None => {
                    return Err(invalid(
                        "auth_methods",
                        "`none` is not allowed: the client credentials grant is for confidential clients (RFC 6749 section 4.4)".to_owned(),
                    ));
                }
                _ => {}
            }
        }
        if client.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err(invalid("token_ttl_secs", "must be at least 1".to_owned()));
        }
        let jwks: Vec<&Jwk> = client
            .keys
            .iter()
            .filter_map(|source| match source {
                KeySource::Jwk(jwk) => Some(&**jwk),
                KeySource::Pem(_) => None,
            })
            .collect();
        let mtls = client
            .mtls
            .validate(&auth_methods, &jwks)
            .map_err(|(name, why)| invalid(name, why))?;
        Ok(Self {
            id: ClientId::new(client.id),
            secret: client.secret,
            auth_methods,
            scopes,
            audiences: client.audiences,
            token_ttl: client.token_ttl,
            keys,
            subject: client.subject,
            dpop_bound: client.dpop_bound,
            mtls,
            certificate_bound: client.certificate_bound,
            is_demo: client.is_demo,
        })
    }
}

/// Every registered client, by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry {
    clients: HashMap<ClientId, RegisteredClient>,
    /// Registration order, for start-up output.
    order: Vec<ClientId>,
}

impl Registry {
    pub(crate) fn new(clients: Vec<Client>, spec: &ProfileSpec) -> Result<Self, ClientError> {
        let mut registry = Self::default();
        for (index, client) in clients.into_iter().enumerate() {
            let client = RegisteredClient::from_client(client, &format!("clients[{index}]"), spec)?;
            if registry.clients.contains_key(&client.id) {
                return Err(ClientError::field(
                    format!("clients[{index}].client_id"),
                    format!("`{}` is registered twice", client.id),
                ));
            }
            registry.order.push(client.id.clone());
            registry.clients.insert(client.id.clone(), client);
        }
        Ok(registry)
    }

    /// Registers one more client (validated as the builder's are); the id must be new.
    pub(crate) fn insert(&mut self, client: Client, spec: &ProfileSpec) -> Result<(), ClientError> {
        let client = RegisteredClient::from_client(client, "client", spec)?;
        if self.clients.contains_key(&client.id) {
            return Err(ClientError::field(
                "client.client_id",
                format!("`{}` is already registered", truncate(client.id.as_str())),
            ));
        }
        self.order.push(client.id.clone());
        self.clients.insert(client.id.clone(), client);
        Ok(())
    }

    /// Unregisters a client; `None` if it was not registered.
    pub(crate) fn remove(&mut self, id: &ClientId) -> Option<RegisteredClient> {
        let removed = self.clients.remove(id)?;
        self.order.retain(|registered| registered != id);
        Some(removed)
    }

    pub(crate) fn get(&self, id: &ClientId) -> Option<&RegisteredClient> {
        self.clients.get(id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &RegisteredClient> {
        self.order.iter().filter_map(|id| self.clients.get(id))
    }
}

pub(crate) fn method_not_allowed(client: &RegisteredClient, method: AuthMethod) -> ErrorResponse {
    let allowed: Vec<&str> = client.auth_methods.iter().map(|m| m.as_str()).collect();
    ErrorResponse::invalid_client(format!(
        "client `{}` may not authenticate with {method}; registered: {}",
        truncate(client.id.as_str()),
        allowed.join(", ")
    ))
}
