//! The probe's side of the `/_ccflow` admin API: minting, keys, clock and faults of the running
//! auth server, over HTTP as any test in any language would drive it (docs/test-control.md).

use std::time::Duration;

use ccflow_protocol::{MintSpec, ScenarioSpec};
use ccflow_tls::IssuedCertificate;
use serde_json::{Value, json};

use super::{ProbeError, with_causes};

/// A running auth server, driven through its admin API.
#[derive(Clone)]
pub(super) struct Admin {
    http: reqwest::Client,
    issuer: url::Url,
    admin: url::Url,
    admin_token: Option<String>,
}

// By hand: the admin token is a secret.
impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("issuer", &self.issuer.as_str())
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// The admin API of the server whose issuer is `issuer`: `/_ccflow` at the issuer's origin.
    pub(super) fn new(
        http: reqwest::Client,
        issuer: &str,
        admin_token: Option<String>,
    ) -> Result<Self, ProbeError> {
        let issuer = url::Url::parse(issuer)
            .map_err(|error| ProbeError::Usage(format!("--issuer is not a URL: {error}")))?;
        let admin = issuer
            .join("/_ccflow/")
            .map_err(|error| ProbeError::Usage(format!("--issuer: {error}")))?;
        Ok(Self {
            http,
            issuer,
            admin,
            admin_token,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ProbeError> {
        let (status, text) = self.send(method.clone(), path, body).await?;
        if !status.is_success() {
            // The admin API's error bodies are OAuth errors; they never echo a token.
            return Err(ProbeError::Admin(format!(
                "{method} /_ccflow/{path} answered {status}: {}",
                text.chars().take(300).collect::<String>()
            )));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|error| {
            ProbeError::Admin(format!("{method} /_ccflow/{path}: not JSON: {error}"))
        })
    }

    /// One admin request: the answer's status and body, whatever the status.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(reqwest::StatusCode, String), ProbeError> {
        let url = self
            .admin
            .join(path)
            .map_err(|error| ProbeError::Admin(format!("{path}: {error}")))?;
        let mut request = self.http.request(method.clone(), url);
        if let Some(token) = &self.admin_token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| {
            ProbeError::Admin(format!("{method} /_ccflow/{path}: {}", with_causes(&error)))
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Ok((status, text))
    }

    /// A client certificate and key for `client_id` from the auth server's own CA
    /// (`POST /_ccflow/clients/{id}/certificate`), or `None` when it has none (409: started
    /// without `--tls` or `--https-bind`, or with certificate files).
    pub(super) async fn issue_certificate(
        &self,
        client_id: &str,
    ) -> Result<Option<IssuedCertificate>, ProbeError> {
        let path = format!("clients/{client_id}/certificate");
        let (status, text) = self.send(reqwest::Method::POST, &path, None).await?;
        if status == reqwest::StatusCode::CONFLICT {
            return Ok(None);
        }
        // The answer holds a private key: no error below quotes the body.
        let answer: Value = match serde_json::from_str(&text) {
            Ok(answer) if status == reqwest::StatusCode::CREATED => answer,
            _ => {
                return Err(ProbeError::Admin(format!(
                    "POST /_ccflow/{path} answered {status}, not 201 with a certificate"
                )));
            }
        };
        let pem = |name: &str| answer[name].as_str().unwrap_or_default();
        IssuedCertificate::from_pem(pem("certificate_pem"), pem("private_key_pem"))
            .map(Some)
            .map_err(|error| ProbeError::Admin(format!("POST /_ccflow/{path}: {error}")))
    }

    /// A token from the bad-token factory (`POST /_ccflow/mint`).
    pub(super) async fn mint(&self, spec: &MintSpec) -> Result<String, ProbeError> {
        let body =
            serde_json::to_value(spec).map_err(|error| ProbeError::Admin(error.to_string()))?;
        let answer = self.call(reqwest::Method::POST, "mint", Some(body)).await?;
        answer["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ProbeError::Admin("POST /_ccflow/mint answered no token".to_owned()))
    }

    /// The `kid` of the key that signs now.
    pub(super) async fn active_kid(&self) -> Result<String, ProbeError> {
        let ring = self.call(reqwest::Method::GET, "keys", None).await?;
        ring["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|key| key["state"] == "active")
            .and_then(|key| key["kid"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| ProbeError::Admin("GET /_ccflow/keys names no active key".to_owned()))
    }

    /// Rotates the ring (`POST /_ccflow/keys/rotate`): the new active key's `kid`. The previous
    /// key stays published (staged) until it is retired.
    pub(super) async fn rotate(&self) -> Result<String, ProbeError> {
        let ring = self
            .call(reqwest::Method::POST, "keys/rotate", None)
            .await?;
        ring["active"].as_str().map(str::to_owned).ok_or_else(|| {
            ProbeError::Admin("POST /_ccflow/keys/rotate named no active key".to_owned())
        })
    }

    /// Withdraws a published, non-active key from the JWKS now.
    pub(super) async fn retire(&self, kid: &str) -> Result<(), ProbeError> {
        let path = format!("keys/{kid}/retire");
        self.call(reqwest::Method::POST, &path, None)
            .await
            .map(drop)
    }

    /// Moves the server's virtual clock forward.
    pub(super) async fn advance_clock(&self, by: Duration) -> Result<(), ProbeError> {
        let body = json!({"advance_secs": by.as_secs()});
        self.call(reqwest::Method::POST, "clock", Some(body))
            .await
            .map(drop)
    }

    /// The server's clock, Unix seconds: `GET /_ccflow/clock`, or the wall clock when the
    /// server runs on a clock its embedder injected (409) — the time an API on the same clock
    /// sees, for DPoP proofs' `iat`.
    pub(super) async fn now(&self) -> u64 {
        use ccflow_protocol::Clock as _;
        let wall = u64::try_from(ccflow_protocol::SystemClock.unix_seconds()).unwrap_or(0);
        match self.call(reqwest::Method::GET, "clock", None).await {
            Ok(state) => state["now"].as_u64().unwrap_or(wall),
            Err(_) => wall,
        }
    }

    /// Installs fault scenarios; their ids.
    pub(super) async fn add_scenarios(
        &self,
        specs: &[ScenarioSpec],
    ) -> Result<Vec<u64>, ProbeError> {
        let body =
            serde_json::to_value(specs).map_err(|error| ProbeError::Admin(error.to_string()))?;
        let answer = self
            .call(reqwest::Method::POST, "scenarios", Some(body))
            .await?;
        Ok(answer["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect())
    }

    /// Removes one scenario.
    pub(super) async fn remove_scenario(&self, id: u64) -> Result<(), ProbeError> {
        let path = format!("scenarios/{id}");
        self.call(reqwest::Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    /// How many JWKS requests the journal holds (the API's key fetches, as the server saw them).
    pub(super) async fn jwks_fetches(&self) -> Result<usize, ProbeError> {
        let answer = self
            .call(reqwest::Method::GET, "requests?endpoint=jwks", None)
            .await?;
        Ok(answer
            .as_array()
            .or_else(|| answer["requests"].as_array())
            .map_or(0, Vec::len))
    }

    /// The `max-age` the server puts on its JWKS (RFC 9111 §5.2.2.1): how long an API may keep
    /// a key the server has withdrawn. From discovery's `jwks_uri`.
    pub(super) async fn jwks_max_age(&self) -> Result<Option<Duration>, ProbeError> {
        let mut jwks_uri = None;
        for document in [
            ".well-known/oauth-authorization-server",
            ".well-known/openid-configuration",
        ] {
            let Ok(url) = self.issuer.join(&format!("/{document}")) else {
                continue;
            };
            let Ok(response) = self.http.get(url).send().await else {
                continue;
            };
            if !response.status().is_success() {
                continue;
            }
            if let Ok(metadata) = response.json::<Value>().await {
                jwks_uri = metadata["jwks_uri"].as_str().map(str::to_owned);
                if jwks_uri.is_some() {
                    break;
                }
            }
        }
        let Some(jwks_uri) = jwks_uri else {
            return Err(ProbeError::Admin(
                "the issuer's discovery document names no jwks_uri".to_owned(),
            ));
        };
        let response = self
            .http
            .get(&jwks_uri)
            .send()
            .await
            .map_err(|error| ProbeError::Admin(format!("GET {jwks_uri}: {error}")))?;
        Ok(response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age))
    }
}

/// The `max-age` directive of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| {
                value
                    .trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            })
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_a_directive_list() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("MAX-AGE=\"7\""), Some(Duration::from_secs(7)));
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
