//! Vendor flows beyond client credentials: RFC 8693 token exchange (rfc, slb) with the
//! exchanged token used at the API, CyberArk's Identity Security Platform service-user token,
//! and SLB's `appkey` policy on a second sample API started with `--appkey`.

use anyhow::{Context as _, Result, ensure};
use ccflow_client::{TokenClient, TokenExchange};
use ccflow_protocol::{Profile, basic_authorization, form_urlencode};
use serde_json::{Value, json};

use super::support::{
    admin, clear_journal, exchange, http, reader, token_url, vendor_builder, writer,
};
use crate::e2e::Chain;
use crate::e2e::process::Server;
use crate::e2e::record::decode;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_urlencode(name), form_urlencode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A GET of `path` on the API with `token` (and `appkey`, if any): status, challenge, body.
async fn api_get(
    api: &str,
    path: &str,
    token: Option<&str>,
    appkey: Option<&str>,
) -> Result<Value> {
    let mut request = http().get(format!("{api}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = appkey {
        request = request.header("appkey", key);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await?;
    let body = serde_json::from_str::<Value>(&text).unwrap_or(json!(text));
    Ok(
        json!({"request": format!("GET {path}"), "status": status, "www_authenticate": challenge, "body": body}),
    )
}

/// The items of a fresh API (its store is empty, so the answer does not depend on other flows).
async fn items(api: &str, token: Option<&str>, appkey: Option<&str>) -> Result<Value> {
    api_get(api, "/v1/items", token, appkey).await
}

/// The reader exchanges the writer's token (SDK, cached), the writer exchanges it with the
/// reader as actor, the exchanged token works at the API; then the wire answer and its errors.
pub(super) async fn token_exchange(chain: &Chain) -> Result<Value> {
    let writer = writer(chain)?;
    let reader = reader(chain)?;
    let subject = writer.token().await?;
    let target = match chain.profile {
        // SLB's scope names audiences; a narrower scope is an OAuth notion.
        Profile::Slb => TokenExchange::new().resource("items-api"),
        _ => TokenExchange::new()
            .resource("items-api")
            .scopes(["items:read"])?,
    };
    let exchanged = reader.exchange(subject.secret(), &target).await?;
    let again = reader.exchange(subject.secret(), &target).await?;
    ensure!(
        again.same_token(&exchanged),
        "the same exchange is served from the SDK's cache"
    );
    let actor = reader.token().await?;
    let delegated = writer
        .exchange(
            subject.secret(),
            &TokenExchange::new()
                .resource("items-api")
                .actor_token(actor.secret()),
        )
        .await?;
    let api = chain.api.uri();
    // whoami: what the API makes of the exchanged token (the items depend on earlier flows).
    let mut at_the_api = vec![api_get(&api, "/v1/whoami", Some(exchanged.secret()), None).await?];
    if chain.profile == Profile::Rfc {
        // The narrowed token may read, not write.
        let response = http()
            .post(format!("{api}/v1/items"))
            .bearer_auth(exchanged.secret())
            .json(&json!({"name": "widget", "quantity": 1, "tags": []}))
            .send()
            .await?;
        at_the_api.push(json!({"request": "POST /v1/items", "status": response.status().as_u16()}));
    }

    let url = token_url(chain);
    let basic = basic_authorization("e2e-reader", &chain.canaries.reader_secret);
    let post = |pairs: &[(&str, &str)]| {
        http()
            .post(&url)
            .header("authorization", basic.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
    };
    let grant = ("grant_type", EXCHANGE);
    let subject_pair = ("subject_token", subject.secret());
    let typed = ("subject_token_type", ACCESS_TOKEN);
    let mut wire = vec![
        exchange(post(&[
            grant,
            subject_pair,
            typed,
            ("resource", "items-api"),
        ]))
        .await?,
        exchange(post(&[grant, ("subject_token", "not-a-token"), typed])).await?,
        exchange(post(&[
            grant,
            subject_pair,
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ]))
        .await?,
        exchange(post(&[
            grant,
            subject_pair,
            typed,
            ("resource", "elsewhere"),
        ]))
        .await?,
    ];
    if chain.profile == Profile::Rfc {
        wire.push(
            exchange(post(&[
                grant,
                subject_pair,
                typed,
                ("scope", "items:admin"),
            ]))
            .await?,
        );
    }
    // The exchanged token never outlives the subject token, so `expires_in` is what remains
    // of the subject's hour: 3600 or a second less, by when the clock ticks.
    let expires_in = &mut wire[0]["body"]["expires_in"];
    ensure!(
        expires_in
            .as_u64()
            .is_some_and(|secs| (3590..=3600).contains(&secs)),
        "expires_in of the exchanged token: {expires_in}"
    );
    *expires_in = json!("[the subject token's remaining lifetime, at most 3600]");
    Ok(json!({
        "sdk": {
            "exchanged": {
                "issued_token_type": exchanged.extra().get("issued_token_type"),
                "scopes": exchanged.scopes().to_string(),
                "token": decode(exchanged.secret()),
            },
            "delegated": decode(delegated.secret()),
        },
        "api": at_the_api,
        "wire": wire,
    }))
}

/// CyberArk's Identity Security Platform service user: the SDK preset posts the login name
/// and password to `/oauth2/platformtoken` (the journal shows the path); the wire answer.
pub(super) async fn platform_token(chain: &Chain) -> Result<Value> {
    clear_journal(chain).await?;
    let client = TokenClient::builder()
        .cyberark_service_user("e2e-writer", &chain.canaries.writer_secret)
        .base_url(chain.auth.uri())
        .build()?;
    let token = client.token().await?;
    let journal: Value = admin(
        chain,
        reqwest::Method::GET,
        "/requests?endpoint=token&client_id=e2e-writer",
    )
    .send()
    .await?
    .json()
    .await?;
    let paths: Vec<Value> = journal["requests"]
        .as_array()
        .context("the journal lists requests")?
        .iter()
        .map(|entry| json!({"path": entry["path"], "auth_method": entry["auth_method"], "status": entry["status"]}))
        .collect();
    let wire = exchange(
        http()
            .post(format!("{}/oauth2/platformtoken", chain.auth.uri()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "e2e-writer"),
                ("client_secret", &chain.canaries.writer_secret),
            ])),
    )
    .await?;
    let wrong = exchange(
        http()
            .post(format!("{}/oauth2/platformtoken", chain.auth.uri()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "e2e-writer"),
                ("client_secret", "wrong"),
            ])),
    )
    .await?;
    Ok(json!({
        "sdk": {
            "token_type": token.token_type(),
            "lifetime_secs": token.lifetime().as_secs(),
            "scopes": token.scopes().to_string(),
            "token": decode(token.secret()),
        },
        "journal": paths,
        "wire": [wire, wrong],
    }))
}

/// A second sample API started with `--appkey` (twice): a missing or unknown key is refused
/// before the token is looked at, a configured one lets the token decide; the key never
/// reaches its log.
pub(super) async fn appkey(chain: &Chain) -> Result<Value> {
    const KEYS: [&str; 2] = ["e2e-appkey-1f9c", "e2e-appkey-77d0"];
    let mut args = chain.api_args.clone();
    for key in KEYS {
        args.extend(["--appkey".to_owned(), key.to_owned()]);
    }
    let log = chain.logs.join("slb-resource-api-appkey.log");
    let mut api = Server::start(
        &chain.api_binary,
        &args,
        log.clone(),
        crate::e2e::START_DEADLINE,
    )?;
    let token = vendor_builder(chain, "e2e-writer", &chain.canaries.writer_secret)
        .scopes(["items-api"])
        .build()?
        .token()
        .await?;
    let uri = api.uri();
    let calls = vec![
        json!({"case": "no appkey", "answer": items(&uri, Some(token.secret()), None).await?}),
        json!({"case": "an unknown appkey", "answer": items(&uri, Some(token.secret()), Some("nope")).await?}),
        json!({"case": "the second appkey", "answer": items(&uri, Some(token.secret()), Some(KEYS[1])).await?}),
        json!({"case": "an appkey without a token", "answer": items(&uri, None, Some(KEYS[0])).await?}),
    ];
    api.stop();
    let logged = std::fs::read_to_string(&log).with_context(|| log.display().to_string())?;
    ensure!(
        KEYS.iter().all(|key| !logged.contains(key)),
        "an appkey reached the API's log"
    );
    ensure!(
        logged.contains("appkey:     required"),
        "the start-up summary says the key is required"
    );
    Ok(json!(calls))
}
