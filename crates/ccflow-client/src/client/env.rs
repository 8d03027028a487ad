//! Configuration from `CCFLOW_*` environment variables: `TokenClient::from_env` and
//! `TokenClient::builder_from_env`.

use crate::auth::AuthMethod;
use crate::client::builder::TokenClientBuilder;
use crate::client::token_client::TokenClient;
use crate::error::TokenError;

impl TokenClient {
    /// A builder filled from the environment (see [`TokenClient::from_env`]), to adjust further.
    pub fn builder_from_env() -> Result<TokenClientBuilder, TokenError> {
        builder_from_vars(|name| std::env::var(name).ok())
    }

    /// A client configured from the environment:
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `CCFLOW_TOKEN_URL` or `CCFLOW_ISSUER` | the token endpoint, or the issuer to discover it from |
    /// | `CCFLOW_CLIENT_ID` | the client id |
    /// | `CCFLOW_CLIENT_SECRET` or `CCFLOW_CLIENT_SECRET_FILE` | the secret, or a file holding it (one trailing newline is ignored) |
    /// | `CCFLOW_SCOPE` | space-separated scopes (optional) |
    /// | `CCFLOW_RESOURCE`, `CCFLOW_AUDIENCE` | space-separated resource / audience values (optional) |
    /// | `CCFLOW_AUTH_METHOD` | `client_secret_basic`, `client_secret_post`, `tls_client_auth` or `self_signed_tls_client_auth` (optional; the last two need no secret) |
    /// | `CCFLOW_CLIENT_CERT`, `CCFLOW_CLIENT_KEY` | PEM files of the client certificate and its private key, for mutual TLS (optional, together) |
    /// | `CCFLOW_CA_CERT` | a PEM file of root certificates to trust besides the system's, e.g. a test server's `tls ca:` file (optional) |
    pub fn from_env() -> Result<Self, TokenError> {
        Self::builder_from_env()?.build()
    }
}

/// Fills a builder from environment-like variables.
fn builder_from_vars(
    var: impl Fn(&str) -> Option<String>,
) -> Result<TokenClientBuilder, TokenError> {
    let config = |message: String| TokenError::Config(message);
    let non_empty = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    let mut builder = TokenClient::builder();
    match (non_empty("CCFLOW_TOKEN_URL"), non_empty("CCFLOW_ISSUER")) {
        (Some(_), Some(_)) => {
            return Err(config(
                "set CCFLOW_TOKEN_URL or CCFLOW_ISSUER, not both".to_owned(),
            ));
        }
        (Some(url), None) => builder = builder.token_url(url.trim()),
        (None, Some(issuer)) => builder = builder.issuer(issuer.trim()),
        (None, None) => return Err(config("set CCFLOW_TOKEN_URL or CCFLOW_ISSUER".to_owned())),
    }
    let client_id =
        non_empty("CCFLOW_CLIENT_ID").ok_or_else(|| config("set CCFLOW_CLIENT_ID".to_owned()))?;
    let mutual_tls = non_empty("CCFLOW_AUTH_METHOD").is_some_and(|method| {
        matches!(
            method.trim(),
            "tls_client_auth" | "self_signed_tls_client_auth"
        )
    });
    let secret = match (
        var("CCFLOW_CLIENT_SECRET"),
        non_empty("CCFLOW_CLIENT_SECRET_FILE"),
    ) {
        (Some(_), Some(_)) => {
            return Err(config(
                "set CCFLOW_CLIENT_SECRET or CCFLOW_CLIENT_SECRET_FILE, not both".to_owned(),
            ));
        }
        (Some(secret), None) => secret,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|error| {
                config(format!(
                    "CCFLOW_CLIENT_SECRET_FILE `{path}` cannot be read: {error}"
                ))
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            text.strip_suffix('\r').unwrap_or(text).to_owned()
        }
        (None, None) if mutual_tls => String::new(),
        (None, None) => {
            return Err(config(
                "set CCFLOW_CLIENT_SECRET or CCFLOW_CLIENT_SECRET_FILE".to_owned(),
            ));
        }
    };
    builder = if secret.is_empty() && mutual_tls {
        builder.client_id(client_id)
    } else {
        builder.credentials(client_id, secret)
    };
    let read = |name: &str, path: &str| {
        std::fs::read_to_string(path)
            .map_err(|error| config(format!("{name} `{path}` cannot be read: {error}")))
    };
    match (
        non_empty("CCFLOW_CLIENT_CERT"),
        non_empty("CCFLOW_CLIENT_KEY"),
    ) {
        (Some(cert), Some(key)) => {
            let identity = format!(
                "{}\n{}",
                read("CCFLOW_CLIENT_CERT", &cert)?,
                read("CCFLOW_CLIENT_KEY", &key)?
            );
            builder = builder.client_identity_pem(identity);
        }
        (None, None) => {}
        _ => {
            return Err(config(
                "set CCFLOW_CLIENT_CERT and CCFLOW_CLIENT_KEY together".to_owned(),
            ));
        }
    }
    if let Some(path) = non_empty("CCFLOW_CA_CERT") {
        builder = builder.add_root_certificate_pem(read("CCFLOW_CA_CERT", &path)?);
    }
    if let Some(scope) = non_empty("CCFLOW_SCOPE") {
        builder = builder.scopes(scope.split_whitespace().map(str::to_owned));
    }
    for resource in non_empty("CCFLOW_RESOURCE")
        .iter()
        .flat_map(|value| value.split_whitespace())
    {
        builder = builder.resource(resource);
    }
    for audience in non_empty("CCFLOW_AUDIENCE")
        .iter()
        .flat_map(|value| value.split_whitespace())
    {
        builder = builder.audience(audience);
    }
    if let Some(method) = non_empty("CCFLOW_AUTH_METHOD") {
        builder = builder.auth_method(match method.trim() {
            "client_secret_basic" => AuthMethod::ClientSecretBasic,
            "client_secret_post" => AuthMethod::ClientSecretPost,
            "tls_client_auth" => AuthMethod::TlsClientAuth,
            "self_signed_tls_client_auth" => AuthMethod::SelfSignedTlsClientAuth,
            other => {
                return Err(config(format!(
                    "CCFLOW_AUTH_METHOD `{other}`: use client_secret_basic, client_secret_post, tls_client_auth or self_signed_tls_client_auth"
                )));
            }
        });
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from_vars(vars: &[(&str, &str)]) -> Result<TokenClient, TokenError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        builder_from_vars(|name| map.get(name).cloned())?.build()
    }

    #[test]
    fn from_env_reads_the_documented_variables() {
        let client = from_vars(&[
            ("CCFLOW_TOKEN_URL", "https://as.example/token"),
            ("CCFLOW_CLIENT_ID", "svc"),
            ("CCFLOW_CLIENT_SECRET", "s"),
            ("CCFLOW_SCOPE", "a  b"),
            ("CCFLOW_AUDIENCE", "api-1 api-2"),
        ])
        .unwrap();
        assert_eq!(client.client_id().as_str(), "svc");
        assert_eq!(client.settings().scopes.to_string(), "a b");
        assert_eq!(client.settings().options.audiences, ["api-1", "api-2"]);
    }

    #[test]
    fn from_env_reads_the_secret_from_a_file_without_its_newline() {
        let path = std::env::temp_dir().join(format!("ccflow-secret-{}", std::process::id()));
        std::fs::write(&path, "file-secret\n").unwrap();
        let client = from_vars(&[
            ("CCFLOW_ISSUER", "https://as.example"),
            ("CCFLOW_CLIENT_ID", "svc"),
            ("CCFLOW_CLIENT_SECRET_FILE", path.to_str().unwrap()),
        ])
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            client
                .settings()
                .options
                .secret
                .as_ref()
                .unwrap()
                .expose_secret(),
            "file-secret"
        );
    }

    #[test]
    fn from_env_reads_a_mutual_tls_identity_and_roots_without_a_secret() {
        let issued =
            ccflow_tls::IssuedCertificate::self_signed(&ccflow_tls::ClientSubject::new("svc"))
                .unwrap();
        let directory =
            std::env::temp_dir().join(format!("ccflow-env-mtls-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let cert = directory.join("svc.pem");
        let key = directory.join("svc-key.pem");
        std::fs::write(&cert, issued.certificate_pem()).unwrap();
        std::fs::write(&key, issued.private_key_pem()).unwrap();
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        let base = [
            ("CCFLOW_TOKEN_URL", "https://as.example/token"),
            ("CCFLOW_CLIENT_ID", "svc"),
            ("CCFLOW_AUTH_METHOD", "self_signed_tls_client_auth"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut vars: Vec<(&str, &str)> = base.to_vec();
            vars.extend_from_slice(extra);
            from_vars(&vars)
        };
        /// Extra variables.
        type Vars<'a> = Vec<(&'a str, &'a str)>;
        // (extra variables, the error expected, if any)
        let cases: [(Vars<'_>, Option<&str>); 4] = [
            (
                vec![
                    ("CCFLOW_CLIENT_CERT", cert),
                    ("CCFLOW_CLIENT_KEY", key),
                    ("CCFLOW_CA_CERT", cert),
                ],
                None,
            ),
            (vec![], Some("CCFLOW_CLIENT_CERT and CCFLOW_CLIENT_KEY")),
            (vec![("CCFLOW_CLIENT_CERT", cert)], Some("together")),
            (
                vec![
                    ("CCFLOW_CLIENT_CERT", cert),
                    ("CCFLOW_CLIENT_KEY", "/nonexistent/key.pem"),
                ],
                Some("CCFLOW_CLIENT_KEY `/nonexistent/key.pem` cannot be read"),
            ),
        ];
        for (extra, expected) in cases {
            match (with(&extra), expected) {
                (Ok(client), None) => {
                    assert!(client.settings().options.secret.is_none());
                    assert!(client.settings().api_http.is_some());
                }
                (Err(error), Some(expected)) => {
                    let error = error.to_string();
                    assert!(error.contains(expected), "{error}");
                    assert!(!error.contains("PRIVATE"), "{error}");
                }
                (result, expected) => panic!("{extra:?}: {result:?}, expected {expected:?}"),
            }
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn from_env_explains_what_is_missing() {
        let error = |vars: &[(&str, &str)]| from_vars(vars).unwrap_err().to_string();
        assert!(error(&[]).contains("CCFLOW_TOKEN_URL or CCFLOW_ISSUER"));
        assert!(error(&[("CCFLOW_TOKEN_URL", "https://a/t")]).contains("CCFLOW_CLIENT_ID"));
        assert!(
            error(&[
                ("CCFLOW_TOKEN_URL", "https://a/t"),
                ("CCFLOW_CLIENT_ID", "x")
            ])
            .contains("CCFLOW_CLIENT_SECRET")
        );
        let unreadable = error(&[
            ("CCFLOW_TOKEN_URL", "https://a/t"),
            ("CCFLOW_CLIENT_ID", "x"),
            ("CCFLOW_CLIENT_SECRET_FILE", "/nonexistent/ccflow-secret"),
        ]);
        assert!(unreadable.contains("cannot be read"), "{unreadable}");
        assert!(
            error(&[
                ("CCFLOW_TOKEN_URL", "https://a/t"),
                ("CCFLOW_ISSUER", "https://a")
            ])
            .contains("not both")
        );
    }
}
