//! Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::error::TokenError;

/// How the client proves its identity to the token endpoint.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `client_secret_basic`: `Authorization: Basic` with the id and secret each
    /// form-url-encoded before base64 (RFC 6749 §2.3.1). The default with a secret.
    ClientSecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// `private_key_jwt` (RFC 7523): a fresh signed assertion per attempt.
    PrivateKeyJwt {
        /// The client's private key.
        key: PrivateKey,
        /// The JWS algorithm (RS256, PS256 for RSA keys; ES256 for P-256 keys).
        alg: Algorithm,
        /// The `kid` header, if the server selects keys by id.
        kid: Option<String>,
    },
    /// `tls_client_auth` (RFC 8705 §2.1): the client certificate of
    /// [`client_identity_pem`](crate::TokenClientBuilder::client_identity_pem), from a CA the
    /// server trusts; the body carries `client_id` and no secret (§2).
    TlsClientAuth,
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): a self-signed client certificate the
    /// server has registered; `client_id` in the body, no secret.
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// `private_key_jwt` with a PEM private key (PKCS#8, or PKCS#1 for RSA), signing with RS256
    /// for RSA keys and ES256 for EC keys.
    pub fn private_key_jwt_pem(pem: &str, kid: Option<String>) -> Result<Self, TokenError> {
        let key = PrivateKey::from_pem(pem)?;
        let alg = key.default_algorithm();
        Ok(Self::PrivateKeyJwt { key, alg, kid })
    }

    /// The RFC 8414 name of the method.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }
}

/// A client's private key for `private_key_jwt`. `Debug` shows only its kind.
#[derive(Clone)]
pub struct PrivateKey {
    key: Arc<EncodingKey>,
    is_rsa: bool,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_rsa {
            "PrivateKey(RSA, [redacted])"
        } else {
            "PrivateKey(EC, [redacted])"
        })
    }
}

impl PrivateKey {
    /// Reads an RSA or EC (P-256) private key from PEM.
    pub fn from_pem(pem: &str) -> Result<Self, TokenError> {
        crate::install_crypto_provider();
        if let Ok(key) = EncodingKey::from_rsa_pem(pem.as_bytes()) {
            return Ok(Self {
                key: Arc::new(key),
                is_rsa: true,
            });
        }
        EncodingKey::from_ec_pem(pem.as_bytes())
            .map(|key| Self {
                key: Arc::new(key),
                is_rsa: false,
            })
            .map_err(|_| {
                TokenError::Config(
                    "the private key is not an RSA or EC private key in PEM form".to_owned(),
                )
            })
    }

    fn default_algorithm(&self) -> Algorithm {
        if self.is_rsa {
            Algorithm::RS256
        } else {
            Algorithm::ES256
        }
    }

    pub(crate) fn check_algorithm(&self, alg: Algorithm) -> Result<(), TokenError> {
        let fits = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => self.is_rsa,
            Algorithm::ES256 | Algorithm::ES384 => !self.is_rsa,
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(TokenError::Config(format!(
                "private_key_jwt algorithm {alg:?} does not fit the {} key",
                if self.is_rsa { "RSA" } else { "EC" }
            )))
        }
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// Assertions live 60 s: long enough for clock skew, short enough to limit replay.
pub(crate) const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// Signs a client assertion for one attempt: `iss` = `sub` = client id, `aud` = the token
/// endpoint, fresh `iat` and `jti` (RFC 7523 §3).
pub(crate) fn client_assertion(
    key: &PrivateKey,
    alg: Algorithm,
    kid: Option<&str>,
    client_id: &str,
    token_endpoint: &str,
    now: SystemTime,
) -> Result<String, TokenError> {
    let iat = ccflow_protocol::unix_seconds(now);
    let mut jti = [0_u8; 16];
    SystemRandom::new().fill(&mut jti).map_err(|_| {
        TokenError::Config("the operating system's random number generator failed".to_owned())
    })?;
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: token_endpoint,
        iat,
        exp: iat + ASSERTION_LIFETIME.as_secs() as i64,
        jti: URL_SAFE_NO_PAD.encode(jti),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, &key.key).map_err(|error| {
        TokenError::Config(format!("signing the client assertion failed: {error}"))
    })
}
