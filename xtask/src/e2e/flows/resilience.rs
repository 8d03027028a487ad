//! Flows of the chain under trouble: the token endpoint failing (the SDK's retries), the
//! signing key rotating, and the auth server going away.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use ccflow_client::{RetryPolicy, Sleeper};
use serde_json::{Value, json};

use super::support::{admin, clear_journal, http, journal_count, vendor_builder, writer};
use crate::e2e::Chain;
use crate::e2e::record::decode;

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
pub(super) async fn retries(chain: &Chain) -> Result<Value> {
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
    let client = vendor_builder(chain, "e2e-writer", &chain.canaries.writer_secret)
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
pub(super) async fn rotation(chain: &Chain) -> Result<Value> {
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
pub(super) async fn auth_server_down(chain: &mut Chain) -> Result<Value> {
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
