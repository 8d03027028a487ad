//! Flows through the sample resource API: the right and the wrong scope (or audience), and
//! expiry as time moves on the auth server, the API and the SDK alike.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use ccflow_client::{AuthorizedClient, TokenClient};
use ccflow_protocol::Profile;
use serde_json::{Value, json};

use super::support::{admin, client, http, reader, vendor_builder, writer};
use crate::e2e::Chain;

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
pub(super) async fn resource_api(chain: &Chain) -> Result<Value> {
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
pub(super) async fn expiry(chain: &Chain) -> Result<Value> {
    let api = chain.api.uri();
    let sdk_clock = ccflow_client::ManualClock::starting_now();
    let lifetime = {
        let client = client(chain, "e2e-writer", &chain.canaries.writer_secret, None)?;
        client.token().await?.lifetime()
    };
    let client = vendor_builder(chain, "e2e-writer", &chain.canaries.writer_secret)
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
