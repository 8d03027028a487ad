//! The e2e flows: each drives the running chain through the SDK and raw HTTP and returns what
//! it observed (redacted by `record`), which is then compared with its snapshot.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use ccflow_client::{AuthMethod, AuthorizedClient, RetryPolicy, Sleeper, TokenClient};
use ccflow_protocol::{AuthMethod as WireAuthMethod, Profile, ProfileOptions};
use serde_json::{Value, json};

use super::Chain;
use super::record::{decode, redact};

/// Every flow, in the order they run (the last one stops the auth server).
pub(crate) const NAMES: [&str; 10] = [
    "discovery",
    "token",
    "cached-reuse",
    "resource-api",
    "expiry",
    "errors",
    "revocation",
    "retries",
    "rotation",
    "auth-server-down",
];

/// Whether a flow applies to a profile (revocation needs introspection to observe it).
pub(crate) fn applies(flow: &str, profile: Profile) -> bool {
    match flow {
        "revocation" => {
            profile.spec().routes.introspection.is_some()
                && profile.spec().routes.revocation.is_some()
        }
        _ => true,
    }
}

pub(crate) async fn run(flow: &str, chain: &mut Chain) -> Result<Value> {
    let mut observed = match flow {
        "discovery" => discovery(chain).await,
        "token" => token(chain).await,
        "cached-reuse" => cached_reuse(chain).await,
        "resource-api" => resource_api(chain).await,
        "expiry" => expiry(chain).await,
        "errors" => errors(chain).await,
        "revocation" => revocation(chain).await,
        "retries" => retries(chain).await,
        "rotation" => rotation(chain).await,
        "auth-server-down" => auth_server_down(chain).await,
        other => bail!("unknown flow {other}"),
    }?;
    // Scanned as observed, before redaction could hide anything.
    chain.canaries.scan_text(
        &format!("{} {flow} (observed)", chain.profile.as_str()),
        &serde_json::to_string_pretty(&observed)?,
    );
    let hosts = vec![
        (chain.auth.uri(), "http://[auth-server]".to_owned()),
        (chain.api.uri(), "http://[resource-api]".to_owned()),
        (chain.auth.address.clone(), "[auth-server]".to_owned()),
    ];
    redact(&mut observed, &hosts)?;
    Ok(observed)
}

fn options() -> ProfileOptions {
    ProfileOptions {
        tenant: "acme".to_owned(),
        workspace: "prod".to_owned(),
        app_id: "app1".to_owned(),
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// A raw exchange: request line, status, selected headers, JSON (or text) body.
async fn exchange(request: reqwest::RequestBuilder) -> Result<Value> {
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

fn token_url(chain: &Chain) -> String {
    format!(
        "{}{}",
        chain.auth.uri(),
        options().expand(chain.profile.spec().routes.token[0])
    )
}

/// A call to the auth server's admin API, with the run's (canary) admin token.
fn admin(chain: &Chain, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http()
        .request(method, format!("{}/_ccflow{path}", chain.auth.uri()))
        .bearer_auth(&chain.canaries.admin_token)
}

/// The SDK, configured the way a user of this vendor would: profile, base URL, credentials.
fn client(
    chain: &Chain,
    id: &str,
    secret: &str,
    method: Option<AuthMethod>,
) -> Result<TokenClient> {
    let mut builder = TokenClient::builder()
        .profile(chain.profile)
        .base_url(chain.auth.uri())
        .tenant("acme")
        .workspace("prod")
        .app_id("app1")
        .credentials(id, secret);
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

fn writer(chain: &Chain) -> Result<TokenClient> {
    client(chain, "e2e-writer", &chain.canaries.writer_secret, None)
}

fn reader(chain: &Chain) -> Result<TokenClient> {
    // Cloudentity registers one method per client: the reader is the post client.
    let method = (chain.profile == Profile::Cloudentity).then_some(AuthMethod::ClientSecretPost);
    client(chain, "e2e-reader", &chain.canaries.reader_secret, method)
}

async fn journal_count(chain: &Chain, client_id: &str) -> Result<usize> {
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

async fn clear_journal(chain: &Chain) -> Result<()> {
    let status = admin(chain, reqwest::Method::DELETE, "/requests")
        .send()
        .await?
        .status();
    ensure!(status == 204, "DELETE /_ccflow/requests answered {status}");
    Ok(())
}

/// Discovery and JWKS: the documents a resource server and a discovering client read.
async fn discovery(chain: &Chain) -> Result<Value> {
    let routes = chain.profile.routes().expand(&options());
    let mut exchanges = Vec::new();
    for path in routes.discovery.iter().chain(std::iter::once(&routes.jwks)) {
        exchanges.push(exchange(http().get(format!("{}{path}", chain.auth.uri()))).await?);
    }
    Ok(json!(exchanges))
}

/// A token with each auth method the profile accepts, through the SDK.
async fn token(chain: &Chain) -> Result<Value> {
    let mut observed = Vec::new();
    for method in chain.profile.spec().auth_methods {
        let client = match method {
            WireAuthMethod::ClientSecretBasic => client(
                chain,
                "e2e-writer",
                &chain.canaries.writer_secret,
                Some(AuthMethod::ClientSecretBasic),
            )?,
            WireAuthMethod::ClientSecretPost => client(
                chain,
                "e2e-reader",
                &chain.canaries.reader_secret,
                Some(AuthMethod::ClientSecretPost),
            )?,
            WireAuthMethod::PrivateKeyJwt => {
                let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
                let pem = std::fs::read_to_string(root.join("fixtures/keys/client-rs256.pem"))?;
                TokenClient::builder()
                    .token_url(token_url(chain))
                    .client_id("e2e-jwt")
                    .auth_method(AuthMethod::private_key_jwt_pem(&pem, None)?)
                    .build()?
            }
            _ => continue,
        };
        let token = client
            .token()
            .await
            .with_context(|| format!("{} token", method.as_str()))?;
        observed.push(json!({
            "auth_method": method.as_str(),
            "token_type": token.token_type(),
            "lifetime_secs": token.lifetime().as_secs(),
            "scopes": token.scopes().to_string(),
            "rejected_scopes": token.rejected_scopes(),
            "token": decode(token.secret()),
        }));
    }
    Ok(json!(observed))
}

/// Many calls, concurrent and sequential, one token request (as the journal shows).
async fn cached_reuse(chain: &Chain) -> Result<Value> {
    clear_journal(chain).await?;
    let client = writer(chain)?;
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.token().await })
        })
        .collect();
    for call in calls {
        call.await??;
    }
    for _ in 0..5 {
        client.token().await?;
    }
    let requests = journal_count(chain, "e2e-writer").await?;
    ensure!(
        requests == 1,
        "25 token() calls made {requests} token requests"
    );
    Ok(json!({"token_calls": 25, "token_requests": requests}))
}

async fn api_call(client: &AuthorizedClient, request: reqwest::RequestBuilder) -> Result<Value> {
    let built = request.try_clone().context("a clonable request")?.build()?;
    let line = format!("{} {}", built.method(), built.url().path());
    let response = client.send(request).await?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await?;
    let mut body = serde_json::from_str::<Value>(&text).unwrap_or(json!(text));
    // Item ids are assigned by the store: keep their presence, not their value.
    if body.get("id").is_some() {
        body["id"] = json!("[item id]");
    }
    if let Some(items) = body.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            if item.get("id").is_some() {
                item["id"] = json!("[item id]");
            }
        }
    }
    Ok(json!({"request": line, "status": status, "www_authenticate": challenge, "body": body}))
}

/// The sample API with the right and the wrong scope (or audience, for SLB).
async fn resource_api(chain: &Chain) -> Result<Value> {
    let api = chain.api.uri();
    let item = json!({"name": "widget", "quantity": 3, "tags": ["e2e"]});
    let writer = AuthorizedClient::new(writer(chain)?);
    let reader = AuthorizedClient::new(reader(chain)?);
    let mut observed = vec![
        api_call(&writer, writer.get(format!("{api}/v1/whoami"))).await?,
        api_call(&writer, writer.post(format!("{api}/v1/items")).json(&item)).await?,
        api_call(&writer, writer.get(format!("{api}/v1/items"))).await?,
        api_call(&reader, reader.get(format!("{api}/v1/items"))).await?,
        api_call(&reader, reader.post(format!("{api}/v1/items")).json(&item)).await?,
    ];
    if chain.profile == Profile::Slb {
        // SLB authorises by audience: a token for another audience is refused.
        let elsewhere = AuthorizedClient::new(
            TokenClient::builder()
                .profile(Profile::Slb)
                .base_url(chain.auth.uri())
                .credentials("e2e-reader", &chain.canaries.reader_secret)
                .scopes(["no-such-api"])
                .build()?,
        );
        observed.push(api_call(&elsewhere, elsewhere.get(format!("{api}/v1/items"))).await?);
    }
    Ok(json!({"api_audience": chain.api_audience, "calls": observed}))
}

async fn move_clock(request: reqwest::RequestBuilder, command: Value) -> Result<Value> {
    let response = request.json(&command).send().await?;
    ensure!(
        response.status() == 200,
        "clock command answered {}",
        response.status()
    );
    Ok(response.json().await?)
}

/// Time passes (on the auth server, the API and the SDK alike): the SDK refreshes, and the API
/// refuses the old token but accepts the new one.
async fn expiry(chain: &Chain) -> Result<Value> {
    let api = chain.api.uri();
    let sdk_clock = ccflow_client::ManualClock::starting_now();
    let lifetime = {
        let client = client(chain, "e2e-writer", &chain.canaries.writer_secret, None)?;
        client.token().await?.lifetime()
    };
    let client = TokenClient::builder()
        .profile(chain.profile)
        .base_url(chain.auth.uri())
        .tenant("acme")
        .workspace("prod")
        .app_id("app1")
        .credentials("e2e-writer", &chain.canaries.writer_secret)
        .clock(sdk_clock.clone())
        .scopes(if chain.profile == Profile::Slb {
            vec!["items-api"]
        } else {
            Vec::new()
        });
    let client = match chain.profile {
        Profile::UserClouds => client.audience("items-api"),
        _ => client,
    }
    .build()?;
    let whoami = |token: String| {
        let url = format!("{api}/v1/whoami");
        async move {
            let response = http().get(url).bearer_auth(token).send().await?;
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok::<Value, anyhow::Error>(
                json!({"status": response.status().as_u16(), "www_authenticate": challenge}),
            )
        }
    };
    let old = client.token().await?;
    let before = whoami(old.secret().to_owned()).await?;
    let step = json!({"advance_secs": lifetime.as_secs() + 60});
    move_clock(admin(chain, reqwest::Method::POST, "/clock"), step.clone()).await?;
    move_clock(http().post(format!("{api}/_ccflow/clock")), step).await?;
    sdk_clock.advance(lifetime + Duration::from_secs(60));
    let new = client.token().await?;
    let refreshed = !new.same_token(&old);
    let old_after = whoami(old.secret().to_owned()).await?;
    let new_after = whoami(new.secret().to_owned()).await?;
    move_clock(
        admin(chain, reqwest::Method::POST, "/clock"),
        json!({"reset": true}),
    )
    .await?;
    move_clock(
        http().post(format!("{api}/_ccflow/clock")),
        json!({"reset": true}),
    )
    .await?;
    Ok(json!({
        "lifetime_secs": lifetime.as_secs(),
        "old_token_before": before,
        "sdk_refreshed": refreshed,
        "old_token_after": old_after,
        "new_token_after": new_after,
    }))
}

/// Bad secret, unknown client, and the profile's scope failure, on the wire.
async fn errors(chain: &Chain) -> Result<Value> {
    let url = token_url(chain);
    let form = |pairs: &[(&str, &str)]| {
        http()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            ccflow_protocol::form_urlencode(k),
                            ccflow_protocol::form_urlencode(v)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            )
    };
    let cc = ("grant_type", "client_credentials");
    let mut observed = vec![
        exchange(form(&[cc]).header(
            "authorization",
            ccflow_protocol::basic_authorization("e2e-writer", "wrong"),
        ))
        .await?,
        exchange(form(&[
            cc,
            ("client_id", "nobody"),
            ("client_secret", "nothing"),
        ]))
        .await?,
    ];
    let scope_case = match chain.profile {
        // SLB: partially invalid scopes are reported, not refused (seed 001).
        Profile::Slb => form(&[cc, ("scope", "items-api no-such-client")]),
        // UserClouds ignores scope; its characteristic failure is a missing grant type.
        Profile::UserClouds => form(&[
            ("client_id", "e2e-writer"),
            ("client_secret", &chain.canaries.writer_secret),
        ]),
        _ => form(&[cc, ("scope", "admin")]),
    };
    let scope_case = match chain.profile {
        Profile::UserClouds => scope_case,
        _ => scope_case.header(
            "authorization",
            ccflow_protocol::basic_authorization("e2e-writer", &chain.canaries.writer_secret),
        ),
    };
    observed.push(exchange(scope_case).await?);
    Ok(json!(observed))
}

/// Revocation, then introspection says inactive.
async fn revocation(chain: &Chain) -> Result<Value> {
    let routes = chain.profile.routes().expand(&options());
    let token = writer(chain)?.token().await?;
    let basic = ccflow_protocol::basic_authorization("e2e-writer", &chain.canaries.writer_secret);
    let post = |path: &str| {
        http()
            .post(format!("{}{path}", chain.auth.uri()))
            .header("authorization", basic.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={}", token.secret()))
    };
    let introspection = routes.introspection.as_deref().context("introspection")?;
    let before = exchange(post(introspection)).await?;
    let revoked = exchange(post(routes.revocation.as_deref().context("revocation")?)).await?;
    let after = exchange(post(introspection)).await?;
    ensure!(
        after["body"]["active"] == false,
        "a revoked token introspects inactive"
    );
    Ok(json!([before, revoked, after]))
}

/// Waits nothing, records how long it was asked to wait.
#[derive(Debug, Clone, Default)]
struct RecordingSleeper(Arc<Mutex<Vec<Duration>>>);

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// The token endpoint fails twice with 503 + Retry-After; the SDK's retries absorb it.
async fn retries(chain: &Chain) -> Result<Value> {
    clear_journal(chain).await?;
    let scenario = json!({
        "client_id": "e2e-writer",
        "when": {"first": 2},
        "fault": {"kind": "status", "status": 503, "retry_after_secs": 2}
    });
    let created = admin(chain, reqwest::Method::POST, "/scenarios")
        .json(&scenario)
        .send()
        .await?
        .status();
    ensure!(created == 201, "POST /_ccflow/scenarios answered {created}");
    let sleeper = RecordingSleeper::default();
    let client = TokenClient::builder()
        .profile(chain.profile)
        .base_url(chain.auth.uri())
        .tenant("acme")
        .workspace("prod")
        .app_id("app1")
        .credentials("e2e-writer", &chain.canaries.writer_secret)
        .sleeper(sleeper.clone())
        .retry(RetryPolicy::new(
            4,
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(30),
        ))
        .build()?;
    let token = client.token().await;
    let scenarios: Value = admin(chain, reqwest::Method::GET, "/scenarios")
        .send()
        .await?
        .json()
        .await?;
    admin(chain, reqwest::Method::DELETE, "/scenarios")
        .send()
        .await?;
    let token = token?;
    let waits: Vec<u64> = sleeper
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(Duration::as_secs)
        .collect();
    Ok(json!({
        "token_type": token.token_type(),
        "token_requests": journal_count(chain, "e2e-writer").await?,
        "waits_secs": waits,
        "scenario_hits": scenarios["scenarios"][0]["hits"],
    }))
}

fn kid(token: &str) -> String {
    decode(token)["header"]["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Key rotation: the API picks up the new key; tokens of the previous key keep validating.
async fn rotation(chain: &Chain) -> Result<Value> {
    let api = chain.api.uri();
    let before = writer(chain)?.token().await?;
    let call = |token: String| {
        let url = format!("{api}/v1/whoami");
        async move {
            Ok::<u16, anyhow::Error>(
                http()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await?
                    .status()
                    .as_u16(),
            )
        }
    };
    let old_before = call(before.secret().to_owned()).await?;
    let rotated: Value = admin(chain, reqwest::Method::POST, "/keys/rotate")
        .send()
        .await?
        .json()
        .await?;
    let after = writer(chain)?.token().await?;
    ensure!(
        kid(after.secret()) != kid(before.secret()),
        "the new token is signed by the new key"
    );
    ensure!(
        rotated["active"].as_str() == Some(kid(after.secret()).as_str()),
        "the rotation answer names the new key"
    );
    let states: Vec<Value> = rotated["keys"]
        .as_array()
        .context("keys")?
        .iter()
        .map(|key| key["state"].clone())
        .collect();
    Ok(json!({
        "key_states_after_rotation": states,
        "old_token_before_rotation": old_before,
        "new_token": call(after.secret().to_owned()).await?,
        "old_token_after_rotation": call(before.secret().to_owned()).await?,
    }))
}

/// The auth server stops; the API keeps validating with its cached keys.
async fn auth_server_down(chain: &mut Chain) -> Result<Value> {
    let api = chain.api.uri();
    let token = writer(chain)?.token().await?;
    let call = || {
        http()
            .get(format!("{api}/v1/whoami"))
            .bearer_auth(token.secret())
            .send()
    };
    let before = call().await?.status().as_u16();
    chain.auth.stop();
    let refused = http()
        .get(format!(
            "{}/.well-known/openid-configuration",
            chain.auth.uri()
        ))
        .send()
        .await
        .is_err();
    ensure!(refused, "the auth server is down");
    let after = call().await?.status().as_u16();
    Ok(json!({"whoami_before": before, "auth_server_reachable": !refused, "whoami_after": after}))
}
