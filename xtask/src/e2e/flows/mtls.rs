//! The `mtls` flow (RFC 8705, docs/tls.md): mutual TLS end to end over HTTPS, with an auth
//! server and a sample API of its own (both `--tls`, each with its throw-away CA; the chain's
//! servers speak plain HTTP). A `tls_client_auth` client is registered through the admin API and
//! its certificate issued by the run's CA; its token is certificate-bound (`cnf["x5t#S256"]`,
//! the certificate's thumbprint) and introspects with that `cnf`; without the certificate the
//! client cannot authenticate; at the API the bound token passes with its certificate only.
//! Thumbprints change with every run's certificates: the snapshot records that they match.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use reqwest::{Certificate, Identity};
use serde_json::{Value, json};

use crate::e2e::Chain;
use crate::e2e::process::Server;
use crate::e2e::record::decode;

const CLIENT: &str = "e2e-mtls";
const OTHER: &str = "e2e-mtls-other";
const AUDIENCE: &str = "e2e-mtls-api";

/// An HTTPS client trusting `ca` (PEM), presenting `identity` when given; never a proxy.
fn https(ca: &[u8], identity: Option<&Identity>) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(Certificate::from_pem(ca)?);
    if let Some(identity) = identity {
        builder = builder.identity(identity.clone());
    }
    Ok(builder.build()?)
}

/// Status, `WWW-Authenticate` and JSON body of a request sent with `client`.
async fn answer(client: &reqwest::Client, request: reqwest::RequestBuilder) -> Result<Value> {
    let built = request.build()?;
    let line = format!("{} {}", built.method(), built.url().path());
    let response = client.execute(built).await.with_context(|| line.clone())?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok(json!({"request": line, "status": status, "www-authenticate": challenge, "body": body}))
}

/// A client certificate and key from the auth server's CA for `client_id`: the identity and
/// the thumbprint the server reports.
async fn certificate(
    admin: &reqwest::Client,
    auth: &str,
    client_id: &str,
) -> Result<(Identity, String)> {
    let issued: Value = admin
        .post(format!("{auth}/_ccflow/clients/{client_id}/certificate"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let pem = format!(
        "{}{}",
        issued["certificate_pem"]
            .as_str()
            .context("certificate_pem")?,
        issued["private_key_pem"]
            .as_str()
            .context("private_key_pem")?
    );
    let thumbprint = issued["x5t#S256"].as_str().context("x5t#S256")?.to_owned();
    Ok((Identity::from_pem(pem.as_bytes())?, thumbprint))
}

pub(super) async fn mtls(chain: &Chain) -> Result<Value> {
    let auth_binary = chain.api_binary.with_file_name("ccflow-auth-server");
    let ca_file = chain.logs.join("rfc-mtls-auth-ca.pem");
    let api_ca_file = chain.logs.join("rfc-mtls-api-ca.pem");
    let auth = Server::start(
        &auth_binary,
        &[
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--tls".to_owned(),
            "--tls-ca-file".to_owned(),
            ca_file.display().to_string(),
        ],
        chain.logs.join("rfc-mtls-auth-server.log"),
        crate::e2e::START_DEADLINE,
    )?;
    let issuer = auth.uri();
    ensure!(
        issuer.starts_with("https://"),
        "the auth server serves HTTPS: {issuer}"
    );
    let ca = std::fs::read(&ca_file).with_context(|| format!("{}", ca_file.display()))?;
    let anonymous = https(&ca, None)?;

    let register = |client_id: &str| {
        anonymous
            .post(format!("{issuer}/_ccflow/clients"))
            .json(&json!({
                "client_id": client_id,
                "auth_methods": ["tls_client_auth"],
                "tls_client_auth_subject_dn": format!("CN={client_id}"),
                "tls_client_certificate_bound_access_tokens": true,
                "scopes": ["items:read"],
                "audiences": [AUDIENCE],
            }))
    };
    let registered = answer(&anonymous, register(CLIENT)).await?;
    answer(&anonymous, register(OTHER)).await?;
    let (identity, thumbprint) = certificate(&anonymous, &issuer, CLIENT).await?;
    let (other_identity, other_thumbprint) = certificate(&anonymous, &issuer, OTHER).await?;
    ensure!(
        thumbprint != other_thumbprint,
        "two certificates, two thumbprints"
    );
    let with_certificate = https(&ca, Some(&identity))?;

    let discovery: Value = anonymous
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await?;
    let token_request = |client: &reqwest::Client| {
        client
            .post(format!("{issuer}/oauth2/token"))
            .form(&[("grant_type", "client_credentials"), ("client_id", CLIENT)])
    };
    let mut token = answer(&with_certificate, token_request(&with_certificate)).await?;
    let access_token = token["body"]["access_token"]
        .as_str()
        .context("a token with the certificate")?
        .to_owned();
    let claims = decode(&access_token);
    ensure!(
        claims["claims"]["cnf"]["x5t#S256"] == thumbprint.as_str(),
        "the token is bound to the certificate: {claims}"
    );
    token["body"] = json!({
        "token_type": token["body"]["token_type"],
        "cnf is the certificate's x5t#S256": true,
        "scope": token["body"]["scope"],
    });
    let without_certificate = answer(&anonymous, token_request(&anonymous)).await?;
    let introspection = answer(
        &with_certificate,
        with_certificate
            .post(format!("{issuer}/oauth2/introspect"))
            .form(&[("client_id", CLIENT), ("token", access_token.as_str())]),
    )
    .await?;
    ensure!(
        introspection["body"]["cnf"]["x5t#S256"] == thumbprint.as_str(),
        "introspection returns the cnf: {introspection}"
    );

    let api = Server::start(
        &chain.api_binary,
        &[
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--tls".to_owned(),
            "--tls-ca-file".to_owned(),
            api_ca_file.display().to_string(),
            "--issuer".to_owned(),
            issuer.clone(),
            "--issuer-ca-file".to_owned(),
            ca_file.display().to_string(),
            "--audience".to_owned(),
            AUDIENCE.to_owned(),
        ],
        chain.logs.join("rfc-mtls-resource-api.log"),
        crate::e2e::START_DEADLINE,
    )?;
    let api_ca =
        std::fs::read(&api_ca_file).with_context(|| format!("{}", api_ca_file.display()))?;
    let whoami = format!("{}/v1/whoami", api.uri());
    let at_api =
        |identity: Option<&Identity>| -> Result<(reqwest::Client, reqwest::RequestBuilder)> {
            let client = https(&api_ca, identity)?;
            let request = client
                .get(&whoami)
                .bearer_auth(&access_token)
                .timeout(Duration::from_secs(10));
            Ok((client, request))
        };
    let (client, request) = at_api(Some(&identity))?;
    let mut bound = answer(&client, request).await?;
    bound["body"] = json!({
        "client_id": bound["body"]["client_id"],
        "audiences": bound["body"]["audiences"],
    });
    let (client, request) = at_api(None)?;
    let no_certificate = answer(&client, request).await?;
    let (client, request) = at_api(Some(&other_identity))?;
    let other_certificate = answer(&client, request).await?;
    drop(api);
    drop(auth);

    Ok(json!({
        "registered (admin API)": registered["status"],
        "discovery": {
            "tls_client_certificate_bound_access_tokens": discovery["tls_client_certificate_bound_access_tokens"],
            "token_endpoint_auth_methods_supported": discovery["token_endpoint_auth_methods_supported"],
        },
        "token with the client certificate": token,
        "token without a certificate": without_certificate,
        "introspection": {
            "status": introspection["status"],
            "active": introspection["body"]["active"],
            "token_type": introspection["body"]["token_type"],
            "cnf is the certificate's x5t#S256": true,
        },
        "API, the bound certificate": bound,
        "API, no certificate": no_certificate,
        "API, another client's certificate": other_certificate,
    }))
}
