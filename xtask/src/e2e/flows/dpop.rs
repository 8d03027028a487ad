//! The DPoP flow (RFC 9449) at the token endpoint, for profiles where DPoP is on: a bound token,
//! a replayed proof refused, a nonce challenge answered, and introspection of the bound token.
//! Proofs are made with the fixture key `fixtures/keys/dpop-es256.pem`, so `cnf.jkt` is stable.

use anyhow::{Context as _, Result, ensure};
use ccflow_protocol::dpop::DpopKey;
use reqwest::Method;
use serde_json::{Value, json};

use super::support::{admin, exchange, http, options, token_url};
use crate::e2e::Chain;

const KEY_PEM: &str = include_str!("../../../../fixtures/keys/dpop-es256.pem");

/// The server's clock (earlier flows may have moved it), in Unix seconds.
async fn server_now(chain: &Chain) -> Result<u64> {
    let clock: Value = admin(chain, Method::GET, "/clock")
        .send()
        .await?
        .json()
        .await?;
    clock["now"]
        .as_u64()
        .context("GET /_ccflow/clock has a numeric `now`")
}

pub(super) async fn dpop(chain: &Chain) -> Result<Value> {
    let key = DpopKey::from_pem(KEY_PEM)?;
    let url = token_url(chain);
    let basic = ccflow_protocol::basic_authorization("e2e-writer", &chain.canaries.writer_secret);
    let request = |proof: &str| {
        http()
            .post(&url)
            .header("authorization", basic.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("DPoP", proof)
            .body("grant_type=client_credentials")
    };
    let now = server_now(chain).await?;
    let proof = key.proof("POST", &url, now, None, None)?;
    let bound = exchange(request(&proof)).await?;
    ensure!(
        bound["body"]["access_token_decoded"]["claims"]["cnf"]["jkt"] == key.thumbprint(),
        "the token is bound to the proof key: {bound}"
    );
    let replayed = exchange(request(&proof)).await?;

    // The server asks for nonces: the first proof is challenged, the retry with the nonce passes.
    let settings = |require_nonce: bool| {
        admin(chain, Method::PUT, "/dpop").json(&json!({ "require_nonce": require_nonce }))
    };
    ensure!(
        settings(true).send().await?.status() == 200,
        "PUT /_ccflow/dpop"
    );
    let challenged = http()
        .execute(request(&key.proof("POST", &url, now, None, None)?).build()?)
        .await?;
    let nonce = challenged
        .headers()
        .get("dpop-nonce")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let challenge = json!({
        "status": challenged.status().as_u16(),
        "dpop_nonce_header": nonce.is_some(),
        "body": challenged.json::<Value>().await?,
    });
    let nonce = nonce.context("a use_dpop_nonce answer carries DPoP-Nonce")?;
    let with_nonce = exchange(request(&key.proof(
        "POST",
        &url,
        now,
        Some(&nonce),
        None,
    )?))
    .await?;
    ensure!(
        settings(false).send().await?.status() == 200,
        "PUT /_ccflow/dpop"
    );

    let routes = chain.profile.routes().expand(&options());
    let introspection = match routes.introspection.as_deref() {
        Some(path) => {
            let token = access_token(&bound)?;
            let answer = exchange(
                http()
                    .post(format!("{}{path}", chain.auth.uri()))
                    .header("authorization", basic.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("token={token}")),
            )
            .await?;
            Some(answer)
        }
        None => None,
    };
    Ok(json!({
        "bound token": bound,
        "the same proof again": replayed,
        "nonce required, none sent": challenge,
        "retried with the nonce": with_nonce,
        "introspection of the bound token": introspection,
    }))
}

/// The raw token of an exchange (flows record it raw; `run` redacts it afterwards).
fn access_token(exchange: &Value) -> Result<String> {
    exchange["body"]["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the exchange has an access_token")
}
