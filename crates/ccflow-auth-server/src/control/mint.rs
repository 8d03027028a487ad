//! The bad-token factory: tokens like the server issues, or deliberately broken, for testing
//! resource servers (what no other mock ships).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{Defect, MintSpec};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::domain::auth_server::AuthServer;
use crate::domain::keys::SigningKey;
use crate::domain::site::Site;

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The `key` names no key of the ring.
    #[error("no key with kid `{0}` in the ring (use `active`, `foreign` or a listed kid)")]
    UnknownKey(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl AuthServer {
    /// Starts a token from the bad-token factory (see [`MintBuilder`]).
    pub fn mint(&self) -> MintBuilder {
        MintBuilder::new(self.clone())
    }

    /// Mints a token from its data form (as `POST /_ccflow/mint` takes it).
    pub fn mint_spec(&self, spec: &MintSpec) -> Result<String, MintError> {
        mint(self, self.site(), spec)
    }

    /// Mints a token from its data form, issued by `site` (the admin route's request site).
    pub(crate) fn mint_spec_at(&self, site: &Site, spec: &MintSpec) -> Result<String, MintError> {
        mint(self, site, spec)
    }

    /// The token re-signed by a key that is in no JWKS (the `unknown_key` fault).
    pub(crate) fn resign_with_unknown_key(&self, token: &str) -> Option<String> {
        let key = foreign_key()?;
        let claims: serde_json::Map<String, Value> =
            jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
        let mut header = jsonwebtoken::Header::new(key.algorithm());
        header.typ = Some(self.dialect().token_typ().to_owned());
        header.kid = Some(key.kid().to_owned());
        jsonwebtoken::encode(&header, &claims, key.encoding_key()).ok()
    }
}

/// Builds a token with `server.mint()`; see [`MintSpec`] for the data form.
#[derive(Debug)]
#[must_use = "call `sign` to get the token"]
pub struct MintBuilder {
    server: AuthServer,
    spec: MintSpec,
}

impl MintBuilder {
    fn new(server: AuthServer) -> Self {
        Self {
            server,
            spec: MintSpec::default(),
        }
    }

    /// The client the token is for.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.spec.client_id = Some(client_id.into());
        self
    }

    /// Sets or overrides a claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.spec.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: impl Into<String>) -> Self {
        self.spec.remove_claims.push(name.into());
        self
    }

    /// Sets or overrides a header member.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.spec.header.insert(name.into(), value.into());
        self
    }

    /// Signs with the ring's key `kid` (staged or retired included).
    pub fn key(mut self, kid: impl Into<String>) -> Self {
        self.spec.key = Some(kid.into());
        self
    }

    /// Signs with a key that is in no JWKS.
    pub fn foreign_key(mut self) -> Self {
        self.spec.key = Some("foreign".to_owned());
        self
    }

    /// Applies a ready-made defect.
    pub fn defect(mut self, defect: Defect) -> Self {
        self.spec.defect = Some(defect);
        self
    }

    /// The token.
    pub fn sign(self) -> Result<String, MintError> {
        mint(&self.server, self.server.site(), &self.spec)
    }
}

fn encode_segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A key in no JWKS, shared by the `unknown_key` fault and foreign mints.
fn foreign_key() -> Option<&'static SigningKey> {
    use std::sync::OnceLock;
    static FOREIGN: OnceLock<Option<SigningKey>> = OnceLock::new();
    FOREIGN
        .get_or_init(|| SigningKey::generate_es256().ok())
        .as_ref()
}

/// Mints a token as `spec` says.
fn mint(server: &AuthServer, site: &Site, spec: &MintSpec) -> Result<String, MintError> {
    let keys = server.keys();
    let key = match spec.key.as_deref() {
        // The embedded key is a foreign one: the attack needs a key the JWKS does not vouch for.
        _ if spec.defect == Some(Defect::EmbeddedJwk) => foreign_key()
            .cloned()
            .ok_or_else(|| MintError::Signing("no foreign key".to_owned()))?,
        None | Some("active") => keys.active().clone(),
        Some("foreign") => foreign_key()
            .cloned()
            .ok_or_else(|| MintError::Signing("no foreign key".to_owned()))?,
        Some(kid) => keys
            .entries()
            .iter()
            .find(|entry| entry.key.kid() == kid)
            .map(|entry| entry.key.clone())
            .ok_or_else(|| MintError::UnknownKey(kid.to_owned()))?,
    };
    let now = server.inner.clock.unix_seconds();
    let client_id = spec
        .client_id
        .clone()
        .unwrap_or_else(|| "ccflow-test-client".to_owned());
    let audiences: Vec<String> = server
        .registry()
        .get(&ccflow_protocol::ClientId::new(client_id.as_str()))
        .map(|client| client.audiences.clone())
        .filter(|audiences| !audiences.is_empty())
        .unwrap_or_else(|| vec![client_id.clone()]);
    let mut claims = json!({
        "iss": site.issuer,
        "sub": client_id,
        "client_id": client_id,
        "aud": if audiences.len() == 1 { json!(audiences[0]) } else { json!(audiences) },
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": URL_SAFE_NO_PAD.encode(crate::domain::ids::random_bytes(&server.inner.rng)),
    });
    let mut header = json!({"typ": server.dialect().token_typ(), "alg": format!("{:?}", key.algorithm()), "kid": key.kid()});
    match spec.defect {
        Some(Defect::Expired) => {
            claims["iat"] = json!(now - 7200);
            claims["nbf"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
        }
        Some(Defect::NotYetValid) => claims["nbf"] = json!(now + 3600),
        Some(Defect::StringExp) => claims["exp"] = json!((now + 3600).to_string()),
        Some(Defect::UnknownKid) => header["kid"] = json!("ccflow-unknown-kid"),
        Some(Defect::WrongTyp) => header["typ"] = json!("JWT"),
        Some(Defect::Oversized) => claims["padding"] = json!("x".repeat(101 * 1024)),
        _ => {}
    }
    let claims_map = claims.as_object_mut().expect("claims are an object");
    for (name, value) in &spec.claims {
        claims_map.insert(name.clone(), value.clone());
    }
    for name in &spec.remove_claims {
        claims_map.remove(name);
    }
    {
        let header_map = header.as_object_mut().expect("the header is an object");
        match spec.defect {
            Some(Defect::AlgNone) => {
                header_map.insert("alg".to_owned(), json!("none"));
                header_map.remove("kid");
            }
            Some(Defect::Hs256WithPublicKey) => {
                header_map.insert("alg".to_owned(), json!("HS256"));
            }
            Some(Defect::EmbeddedJwk) => {
                let jwk = serde_json::to_value(key.public_jwk())
                    .map_err(|e| MintError::Signing(e.to_string()))?;
                header_map.insert("jwk".to_owned(), jwk);
            }
            _ => {}
        }
        // Explicit header members win over the defect's.
        for (name, value) in &spec.header {
            header_map.insert(name.clone(), value.clone());
        }
    }
    let signing_input = format!("{}.{}", encode_segment(&header), encode_segment(&claims));
    let sign = |key: &EncodingKey, algorithm: Algorithm| {
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, algorithm)
            .map_err(|e| MintError::Signing(e.to_string()))
    };
    match spec.defect {
        Some(Defect::AlgNone | Defect::StrippedSignature) => Ok(format!("{signing_input}.")),
        Some(Defect::Hs256WithPublicKey) => {
            let secret = public_key_pem(&key)
                .ok_or_else(|| MintError::Signing("the key has no RSA public PEM".to_owned()))?;
            let signature = sign(
                &EncodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            )?;
            Ok(format!("{signing_input}.{signature}"))
        }
        Some(Defect::TamperedPayload) => {
            let signature = sign(key.encoding_key(), key.algorithm())?;
            claims["sub"] = json!("ccflow-tampered-subject");
            claims["scope"] = json!(tampered_scope(claims.get("scope")));
            Ok(format!(
                "{}.{}.{signature}",
                encode_segment(&header),
                encode_segment(&claims)
            ))
        }
        _ => {
            let signature = sign(key.encoding_key(), key.algorithm())?;
            Ok(format!("{signing_input}.{signature}"))
        }
    }
}

/// The scope a tampered token claims: the signed one plus `admin`, as an attacker would widen it.
fn tampered_scope(signed: Option<&Value>) -> String {
    match signed.and_then(Value::as_str) {
        Some(scope) if !scope.is_empty() => format!("{scope} admin"),
        _ => "admin".to_owned(),
    }
}

/// The SPKI PEM of an RSA key's public half (what a confused verifier uses as HMAC secret).
fn public_key_pem(key: &SigningKey) -> Option<String> {
    use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
    let jwk = key.public_jwk();
    let n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref()?).ok()?;
    let e = URL_SAFE_NO_PAD.decode(jwk.e.as_deref()?).ok()?;
    let public = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .ok()?;
    public.to_public_key_pem(LineEnding::LF).ok()
}
