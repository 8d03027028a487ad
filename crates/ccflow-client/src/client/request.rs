//! One token request (RFC 6749 §4.4.2): its form body, its client authentication (§2.3.1
//! Basic, `client_secret_post`, RFC 7523 assertion) and its identity in the cache.

use std::time::SystemTime;

use ccflow_protocol::{
    CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientSecret, Scope, basic_authorization_as,
};
use reqwest::header::HeaderValue;
use url::form_urlencoded;

use crate::auth::{AuthMethod, client_assertion};
use crate::cache::Fingerprint;
use crate::client::exchange::ExchangeForm;
use crate::client::settings::Settings;
use crate::error::TokenError;

/// Parameters the SDK sets itself and `extra_param` may not override.
pub(crate) const RESERVED_PARAMS: [&str; 13] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "scope",
    "resource",
    "audience",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
];

/// What goes on the wire for one attempt.
pub(crate) struct TokenRequest {
    /// `application/x-www-form-urlencoded`.
    pub(crate) body: String,
    /// The Basic credentials, marked sensitive, with `client_secret_basic`.
    pub(crate) authorization: Option<HeaderValue>,
}

/// Encodes one attempt's request: a client credentials grant, or with `exchange` a token
/// exchange (RFC 8693 §2.1, whose target replaces the client's scope, resources and
/// audiences). With `private_key_jwt` it signs a fresh assertion for `token_url` at `now`.
pub(crate) fn token_request(
    settings: &Settings,
    method: &AuthMethod,
    token_url: &str,
    now: SystemTime,
    exchange: Option<&ExchangeForm>,
) -> Result<TokenRequest, TokenError> {
    let options = &settings.options;
    let client_id = settings.client_id.as_str();
    let secret = options
        .secret
        .as_ref()
        .map(ClientSecret::expose_secret)
        .unwrap_or_default();
    let mut form = form_urlencoded::Serializer::new(String::new());
    if let Some(exchange) = exchange {
        exchange.append_to(&mut form);
    } else {
        form.append_pair("grant_type", "client_credentials");
        if !settings.scopes.is_empty() {
            form.append_pair("scope", &settings.scopes.to_string());
        }
        for resource in &options.resources {
            form.append_pair("resource", resource);
        }
        for audience in &options.audiences {
            form.append_pair("audience", audience);
        }
    }
    form.extend_pairs(&options.extra);
    let mut authorization = None;
    match method {
        AuthMethod::ClientSecretBasic => {
            // The form the vendor documents: raw for SLB and CyberArk (seeds 000, 001, 003),
            // RFC 6749 §2.3.1 otherwise.
            let form = options.profile.spec().sdk_basic_credentials;
            let mut value = HeaderValue::from_str(&basic_authorization_as(form, client_id, secret))
                .map_err(|_| {
                    TokenError::Config(
                        "the Basic credentials are not a valid header value".to_owned(),
                    )
                })?;
            value.set_sensitive(true);
            authorization = Some(value);
        }
        AuthMethod::ClientSecretPost => {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", secret);
        }
        AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth => {
            // RFC 8705 §2: the TLS connection's certificate authenticates; the body names the
            // client.
            form.append_pair("client_id", client_id);
        }
        AuthMethod::PrivateKeyJwt { key, alg, kid } => {
            let assertion = client_assertion(key, *alg, kid.as_deref(), client_id, token_url, now)?;
            form.append_pair("client_id", client_id);
            form.append_pair("client_assertion_type", CLIENT_ASSERTION_TYPE_JWT_BEARER);
            form.append_pair("client_assertion", &assertion);
        }
    }
    Ok(TokenRequest {
        body: form.finish(),
        authorization,
    })
}

/// The cache key: everything that makes two requests ask for different tokens, with
/// order-insensitive lists sorted.
pub(crate) fn fingerprint(
    settings: &Settings,
    token_url: &str,
    method: &AuthMethod,
) -> Fingerprint {
    let options = &settings.options;
    let sorted = |values: &[String]| {
        let mut values = values.to_vec();
        values.sort();
        values.dedup();
        values
    };
    let mut scopes: Vec<&str> = settings.scopes.iter().map(Scope::as_str).collect();
    scopes.sort_unstable();
    let mut extra = options.extra.clone();
    extra.sort();
    Fingerprint::new(&serde_json::json!([
        token_url,
        settings.client_id.as_str(),
        method.as_str(),
        scopes,
        sorted(&options.resources),
        sorted(&options.audiences),
        extra,
        // A DPoP-bound token is only good with its key (RFC 9449 §6).
        options.dpop.as_ref().map(|dpop| dpop.key.thumbprint()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes the hand-written encoder produced before `form_urlencoded` replaced it: only
    /// `A-Z a-z 0-9 * - . _` stay, a space is `+`, every other byte is `%XX` in upper case.
    #[test]
    fn form_values_encode_exactly_as_before() {
        let every_printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~£€";
        let encoded: String = form_urlencoded::byte_serialize(every_printable.as_bytes()).collect();
        assert_eq!(
            encoded,
            "+%21%22%23%24%25%26%27%28%29*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D%7E%C2%A3%E2%82%AC"
        );
    }
}
