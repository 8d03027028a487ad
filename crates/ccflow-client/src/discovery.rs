//! Authorization server discovery: RFC 8414 metadata, then OpenID Connect Discovery.

use std::time::Duration;

use ccflow_protocol::ServerMetadata;
use url::Url;

use crate::error::TokenError;

/// The metadata URLs to try for `issuer`, in order (RFC 8414 §3.1 inserts the well-known path
/// between the host and the issuer's path; OIDC Discovery §4 appends it). The issuer's query
/// and fragment are not part of either.
pub(crate) fn metadata_urls(issuer: &Url) -> [Url; 2] {
    let path = issuer.path().trim_end_matches('/');
    let at = |well_known_path: &str| {
        let mut url = issuer.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.set_path(well_known_path);
        url
    };
    [
        at(&format!("/.well-known/oauth-authorization-server{path}")),
        at(&format!("{path}/.well-known/openid-configuration")),
    ]
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_rfc8414_then_oidc() {
        let urls = |issuer: &str| metadata_urls(&Url::parse(issuer).unwrap()).map(String::from);
        assert_eq!(
            urls("https://as.example.com"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server",
                "https://as.example.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://as.example.com/tenant/ws/"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant/ws",
                "https://as.example.com/tenant/ws/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("http://127.0.0.1:8080/"),
            [
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
                "http://127.0.0.1:8080/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://as.example.com/tenant?x=1"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant",
                "https://as.example.com/tenant/.well-known/openid-configuration"
            ],
            "the query is not part of the metadata URLs"
        );
    }
}
