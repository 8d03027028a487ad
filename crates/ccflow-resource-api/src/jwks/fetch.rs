//! The network side of the JWKS cache: the issuer's discovery document (RFC 8414, OpenID
//! Discovery) for `jwks_uri`, then the JWK Set itself, each read with a size cap, and the
//! response's freshness.

use std::time::Duration;

use ccflow_protocol::ServerMetadata;
use reqwest::header::{ACCEPT, HeaderMap};

use crate::error::{JwksError, redact_url};
use crate::jwks::cache_control::freshness;
use crate::jwks::keys::{VerificationKey, parse_jwks};
use crate::jwks::settings::JwksSettings;

/// The largest JWKS or discovery document read; anything bigger is refused.
pub const MAX_JWKS_BYTES: usize = 512 * 1024;

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum JwksSource {
    /// The issuer's metadata names `jwks_uri` (RFC 8414 §2).
    Discovery { issuer: String },
    /// A configured JWKS URL.
    Url(String),
}

/// Fetches keys from one source; the refresh state machine decides when.
#[derive(Debug)]
pub(crate) struct Fetcher {
    source: JwksSource,
    http: reqwest::Client,
    settings: JwksSettings,
}

/// A successful fetch, before it becomes a `KeySet`.
pub(crate) struct Fetched {
    pub(crate) keys: Vec<VerificationKey>,
    pub(crate) ttl: Duration,
    pub(crate) discovered_jwks_uri: Option<String>,
}

impl Fetcher {
    pub(crate) fn new(source: JwksSource, http: reqwest::Client, settings: JwksSettings) -> Self {
        Self {
            source,
            http,
            settings,
        }
    }

    pub(crate) fn source(&self) -> &JwksSource {
        &self.source
    }

    /// Discovery (when needed) and the JWKS fetch: the work the timeout bounds.
    pub(crate) async fn fetch(&self, known_jwks_uri: Option<String>) -> Result<Fetched, JwksError> {
        let (jwks_uri, discovered) = match (&self.source, known_jwks_uri) {
            (JwksSource::Url(url), _) => (url.clone(), false),
            (JwksSource::Discovery { .. }, Some(known)) => (known, false),
            (JwksSource::Discovery { issuer }, None) => (self.discover(issuer).await?, true),
        };
        let (body, headers) = self.get(&jwks_uri).await?;
        let keys = parse_jwks(&body).map_err(|reason| JwksError::Malformed {
            url: redact_url(&jwks_uri),
            reason,
        })?;
        let ttl = freshness(&headers, &self.settings);
        Ok(Fetched {
            keys,
            ttl,
            discovered_jwks_uri: discovered.then_some(jwks_uri),
        })
    }

    /// Reads the issuer's metadata for `jwks_uri`: the OpenID form first (what
    /// most vendors serve), then RFC 8414 §3.1's.
    async fn discover(&self, issuer: &str) -> Result<String, JwksError> {
        let mut last_error = None;
        for url in discovery_urls(issuer) {
            let (body, _) = match self.get(&url).await {
                Ok(found) => found,
                // Try the other well-known location only when this one is missing.
                Err(error @ JwksError::Status { .. }) => {
                    last_error = Some(error);
                    continue;
                }
                Err(error) => return Err(error),
            };
            let metadata: ServerMetadata =
                serde_json::from_slice(&body).map_err(|_| JwksError::Malformed {
                    url: redact_url(&url),
                    reason: "not an authorization server metadata document".to_owned(),
                })?;
            // RFC 8414 §3.3: the issuer in the metadata MUST be identical.
            if metadata.issuer != issuer {
                return Err(JwksError::IssuerMismatch {
                    url: redact_url(&url),
                });
            }
            return metadata.jwks_uri.ok_or_else(|| JwksError::Malformed {
                url: redact_url(&url),
                reason: "the metadata has no jwks_uri".to_owned(),
            });
        }
        Err(last_error.unwrap_or(JwksError::Interrupted))
    }

    /// A GET whose body is read with a size cap.
    async fn get(&self, url: &str) -> Result<(Vec<u8>, HeaderMap), JwksError> {
        let printable = || redact_url(url);
        let mut response = self
            .http
            .get(url)
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|error| JwksError::Http {
                url: printable(),
                reason: error.without_url().to_string(),
            })?;
        if !response.status().is_success() {
            return Err(JwksError::Status {
                url: printable(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || JwksError::TooLarge {
            url: printable(),
            limit: MAX_JWKS_BYTES,
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err(too_large());
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| JwksError::Http {
            url: printable(),
            reason: error.without_url().to_string(),
        })? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, headers))
    }
}

/// The metadata locations of an issuer, in the order to try them
/// (`ccflow_protocol::metadata_urls`); none if the issuer is not a URL.
pub(crate) fn discovery_urls(issuer: &str) -> Vec<String> {
    url::Url::parse(issuer).map_or_else(
        |_| Vec::new(),
        |issuer| {
            ccflow_protocol::metadata_urls(&issuer)
                .map(String::from)
                .to_vec()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_tries_the_openid_then_the_rfc_8414_location() {
        assert_eq!(
            discovery_urls("http://127.0.0.1:8080"),
            [
                "http://127.0.0.1:8080/.well-known/openid-configuration",
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            discovery_urls("https://idp.test/app/"),
            [
                "https://idp.test/app/.well-known/openid-configuration",
                "https://idp.test/.well-known/oauth-authorization-server/app",
            ]
        );
    }
}
