//! Authorization server discovery: the issuer's metadata (OpenID Connect Discovery's location,
//! then RFC 8414's; `ccflow_protocol::metadata_urls`), its `issuer` checked exactly.

use std::time::Duration;

use ccflow_protocol::{ServerMetadata, metadata_urls};
use url::Url;

use crate::error::TokenError;

/// Fetches the issuer's metadata, trying each well-known URL, and checks that its `issuer` is
/// exactly the configured one (RFC 8414 §3.3) and that it names a token endpoint.
pub(crate) async fn discover(
    http: &reqwest::Client,
    issuer: &Url,
    issuer_text: &str,
    timeout: Duration,
) -> Result<ServerMetadata, TokenError> {
    let failure = |reason: String| TokenError::Discovery {
        issuer: issuer_text.to_owned(),
        reason,
    };
    let mut reasons = Vec::new();
    for url in metadata_urls(issuer) {
        let response = match http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                reasons.push(format!(
                    "{url}: {}",
                    if error.is_timeout() {
                        "timed out".to_owned()
                    } else {
                        error.to_string()
                    }
                ));
                continue;
            }
        };
        let status = response.status();
        if !status.is_success() {
            reasons.push(format!("{url}: HTTP {}", status.as_u16()));
            continue;
        }
        let metadata: ServerMetadata = match response.json().await {
            Ok(metadata) => metadata,
            Err(_) => {
                reasons.push(format!("{url}: not a metadata JSON document"));
                continue;
            }
        };
        if metadata.issuer != issuer_text {
            return Err(failure(format!(
                "{url} names issuer `{}`, not the configured `{issuer_text}` (RFC 8414 section 3.3; mind trailing slashes)",
                metadata.issuer
            )));
        }
        if metadata.token_endpoint.is_none() {
            return Err(failure(format!("{url} has no token_endpoint")));
        }
        return Ok(metadata);
    }
    Err(failure(reasons.join("; ")))
}
