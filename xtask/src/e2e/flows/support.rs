//! What the flows share: raw HTTP exchanges as recorded values, the admin API, the journal, and
//! the SDK configured the way a user of each vendor would.

use anyhow::{Context as _, Result, ensure};
use ccflow_client::{AuthMethod, TokenClient, TokenClientBuilder};
use ccflow_protocol::{Profile, ProfileOptions};
use serde_json::{Value, json};

use crate::e2e::Chain;
use crate::e2e::record::decode;

pub(super) fn options() -> ProfileOptions {
    ProfileOptions {
        tenant: "acme".to_owned(),
        workspace: "prod".to_owned(),
        app_id: "app1".to_owned(),
    }
}

pub(super) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// A raw exchange: request line, status, selected headers, JSON (or text) body.
pub(super) async fn exchange(request: reqwest::RequestBuilder) -> Result<Value> {
    let built = request.build()?;
    let line = format!("{} {}", built.method(), built.url().path());
    let response = http().execute(built).await.with_context(|| line.clone())?;
    let status = response.status().as_u16();
    let mut headers = serde_json::Map::new();
    for name in [
        "content-type",
        "cache-control",
        "www-authenticate",
        "retry-after",
        "x-trace-id",
        "x-request-id",
    ] {
        if let Some(value) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.insert(name.to_owned(), json!(value));
        }
    }
    let text = response.text().await?;
    let mut body = serde_json::from_str::<Value>(&text).unwrap_or(json!(text));
    if let Some(token) = body
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        body["access_token_decoded"] = decode(&token);
    }
    Ok(json!({"request": line, "status": status, "headers": headers, "body": body}))
}

pub(super) fn token_url(chain: &Chain) -> String {
    format!(
        "{}{}",
        chain.auth.uri(),
        options().expand(chain.profile.spec().routes.token[0])
    )
}

/// A call to the auth server's admin API, with the run's (canary) admin token.
pub(super) fn admin(chain: &Chain, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http()
        .request(method, format!("{}/_ccflow{path}", chain.auth.uri()))
        .bearer_auth(&chain.canaries.admin_token)
}

/// The SDK's builder as a user of this vendor starts it: profile, base URL, the values of the
/// profile's path placeholders, credentials.
pub(super) fn vendor_builder(chain: &Chain, id: &str, secret: &str) -> TokenClientBuilder {
    TokenClient::builder()
        .profile(chain.profile)
        .base_url(chain.auth.uri())
        .tenant("acme")
        .workspace("prod")
        .app_id("app1")
        .credentials(id, secret)
}

/// The SDK, configured the way a user of this vendor would: profile, base URL, credentials.
pub(super) fn client(
    chain: &Chain,
    id: &str,
    secret: &str,
    method: Option<AuthMethod>,
) -> Result<TokenClient> {
    let mut builder = vendor_builder(chain, id, secret);
    builder = match chain.profile {
        // SLB: the audiences wanted are requested as scopes (other clients' ids).
        Profile::Slb => builder.scopes(["items-api"]),
        Profile::UserClouds => builder.audience("items-api"),
        _ => builder,
    };
    if let Some(method) = method {
        builder = builder.auth_method(method);
    }
    Ok(builder.build()?)
}

pub(super) fn writer(chain: &Chain) -> Result<TokenClient> {
    client(chain, "e2e-writer", &chain.canaries.writer_secret, None)
}

pub(super) fn reader(chain: &Chain) -> Result<TokenClient> {
    // Cloudentity registers one method per client: the reader is the post client.
    let method = (chain.profile == Profile::Cloudentity).then_some(AuthMethod::ClientSecretPost);
    client(chain, "e2e-reader", &chain.canaries.reader_secret, method)
}

pub(super) async fn journal_count(chain: &Chain, client_id: &str) -> Result<usize> {
    let body: Value = admin(
        chain,
        reqwest::Method::GET,
        &format!("/requests?endpoint=token&client_id={client_id}"),
    )
    .send()
    .await?
    .json()
    .await?;
    Ok(body["requests"].as_array().map_or(0, Vec::len))
}

pub(super) async fn clear_journal(chain: &Chain) -> Result<()> {
    let status = admin(chain, reqwest::Method::DELETE, "/requests")
        .send()
        .await?
        .status();
    ensure!(status == 204, "DELETE /_ccflow/requests answered {status}");
    Ok(())
}
