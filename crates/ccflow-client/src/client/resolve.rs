//! Which token endpoint and auth method a client uses: the configured ones, the profile's
//! usual method, or what discovery's metadata offers (RFC 8414 §2).

use ccflow_protocol::AuthMethod as WireAuthMethod;
use url::Url;

use crate::auth::AuthMethod;
use crate::client::settings::{Endpoint, Settings};
use crate::error::TokenError;

/// With a configured token URL: the configured method, else the profile's usual one.
pub(crate) fn configured_auth_method(settings: &Settings) -> AuthMethod {
    let options = &settings.options;
    options
        .auth_method
        .clone()
        .unwrap_or(match options.profile.spec().sdk_auth_method {
            WireAuthMethod::ClientSecretPost => AuthMethod::ClientSecretPost,
            _ => AuthMethod::ClientSecretBasic,
        })
}

/// With an issuer: discovers the token endpoint (once for all clients sharing the metadata
/// cell; failures are not cached) and picks the auth method.
pub(crate) async fn discover_endpoint(
    settings: &Settings,
) -> Result<(String, AuthMethod), TokenError> {
    let Endpoint::Issuer {
        url,
        text,
        metadata,
    } = &settings.endpoint
    else {
        unreachable!("clients with a token_url resolve their entry at build()");
    };
    let metadata = metadata
        .get_or_try_init(|| {
            crate::discovery::discover(&settings.http, url, text, settings.options.request_timeout)
        })
        .await?;
    let token_url = metadata.token_endpoint.clone().unwrap_or_default();
    Url::parse(&token_url).map_err(|_| TokenError::Discovery {
        issuer: text.clone(),
        reason: format!("token_endpoint `{token_url}` is not a URL"),
    })?;
    let method = match &settings.options.auth_method {
        Some(method) => method.clone(),
        None => choose_auth_method(metadata.token_endpoint_auth_methods_supported.as_deref())
            .map_err(|reason| TokenError::Discovery {
                issuer: text.clone(),
                reason,
            })?,
    };
    Ok((token_url, method))
}

/// RFC 8414 §2: an absent list means `client_secret_basic`.
fn choose_auth_method(supported: Option<&[String]>) -> Result<AuthMethod, String> {
    let Some(supported) = supported else {
        return Ok(AuthMethod::ClientSecretBasic);
    };
    let has = |method: WireAuthMethod| supported.iter().any(|m| m == method.as_str());
    if has(WireAuthMethod::ClientSecretBasic) {
        Ok(AuthMethod::ClientSecretBasic)
    } else if has(WireAuthMethod::ClientSecretPost) {
        Ok(AuthMethod::ClientSecretPost)
    } else {
        Err(format!(
            "the server supports none of client_secret_basic, client_secret_post (it lists: {}); configure auth_method(...)",
            supported.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_method_choice_follows_the_metadata() {
        let list = |methods: &[&str]| methods.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
        assert!(matches!(
            choose_auth_method(None),
            Ok(AuthMethod::ClientSecretBasic)
        ));
        assert!(matches!(
            choose_auth_method(Some(&list(&["client_secret_post"]))),
            Ok(AuthMethod::ClientSecretPost)
        ));
        assert!(matches!(
            choose_auth_method(Some(&list(&["client_secret_post", "client_secret_basic"]))),
            Ok(AuthMethod::ClientSecretBasic)
        ));
        assert!(
            choose_auth_method(Some(&list(&["tls_client_auth"])))
                .unwrap_err()
                .contains("tls_client_auth")
        );
    }
}
