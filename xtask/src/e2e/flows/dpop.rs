//! The DPoP flows (RFC 9449), for profiles where DPoP is on. `dpop`, at the token endpoint: a
//! bound token, a replayed proof refused, a nonce challenge answered, and introspection of the
//! bound token. `dpop-api`, through the sample API: the SDK's calls, replay, the bound token as
//! Bearer, the API's own nonces, and proofs built by an independent library (Python's
//! jwcrypto). Proofs are made with the fixture key `fixtures/keys/dpop-es256.pem`, so `cnf.jkt`
//! is stable.

use anyhow::{Context as _, Result, ensure};
use ccflow_client::AuthorizedClient;
use ccflow_protocol::dpop::DpopKey;
use reqwest::Method;
use serde_json::{Value, json};

use super::support::{admin, exchange, http, options, token_url, vendor_builder};
use crate::e2e::Chain;
use crate::e2e::process::Server;

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

/// One API call, raw: status, every challenge, whether a `DPoP-Nonce` came, and the body.
async fn api_exchange(request: reqwest::RequestBuilder) -> Result<(Value, Option<String>)> {
    let built = request.build()?;
    let line = format!("{} {}", built.method(), built.url().path());
    let response = http().execute(built).await.with_context(|| line.clone())?;
    let status = response.status().as_u16();
    let challenges: Vec<String> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await?;
    let body = serde_json::from_str::<Value>(&text).unwrap_or(json!(text));
    let observed = json!({
        "request": line,
        "status": status,
        "www_authenticate": challenges,
        "dpop_nonce_header": nonce.is_some(),
        "body": body,
    });
    Ok((observed, nonce))
}

/// The API's clock, in Unix seconds.
async fn api_now(api: &str) -> Result<u64> {
    let clock: Value = http()
        .get(format!("{api}/_ccflow/clock"))
        .send()
        .await?
        .json()
        .await?;
    clock["now"]
        .as_u64()
        .context("GET /_ccflow/clock on the API has a numeric `now`")
}

/// DPoP through the sample API (RFC 9449 §7): the SDK's `AuthorizedClient` with a DPoP key on
/// the DPoP-only route and an either route; a raw call and the same proof again (replay); the
/// bound token as Bearer; a second API that requires nonces (challenge, then the retry, raw and
/// through the SDK); and the independent check, proofs built by Python's jwcrypto.
pub(super) async fn dpop_api(chain: &Chain) -> Result<Value> {
    let api = chain.api.uri();
    let tokens = vendor_builder(chain, "e2e-writer", &chain.canaries.writer_secret)
        .dpop(DpopKey::from_pem(KEY_PEM)?)
        .build()?;
    let sdk = AuthorizedClient::new(tokens.clone());
    let status_and_body = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await?;
        Ok::<Value, anyhow::Error>(json!({"status": status, "body": body}))
    };
    let whoami = format!("{api}/v1/dpop/whoami");
    let sdk_whoami = status_and_body(sdk.send(sdk.get(&whoami)).await?).await?;
    let sdk_items = sdk
        .send(sdk.get(format!("{api}/v1/items")))
        .await?
        .status()
        .as_u16();

    let token = tokens.token().await?;
    ensure!(token.is_dpop_bound(), "the SDK's token is DPoP-bound");
    let key = DpopKey::from_pem(KEY_PEM)?;
    let now = api_now(&api).await?;
    let proof = key.proof("GET", &whoami, now, None, Some(token.secret()))?;
    let raw = |proof: &str, url: &str| {
        http()
            .get(url)
            .header("authorization", format!("DPoP {}", token.secret()))
            .header("DPoP", proof)
    };
    let (first, _) = api_exchange(raw(&proof, &whoami)).await?;
    let (again, _) = api_exchange(raw(&proof, &whoami)).await?;
    let (as_bearer, _) = api_exchange(
        http()
            .get(format!("{api}/v1/items"))
            .bearer_auth(token.secret()),
    )
    .await?;
    let (no_credentials, _) = api_exchange(http().get(format!("{api}/v1/items"))).await?;

    // A second API that requires its own nonces.
    let mut args = chain.api_args.clone();
    args.extend(["--dpop-require-nonce".to_owned(), "true".to_owned()]);
    let mut nonce_api = Server::start(
        &chain.api_binary,
        &args,
        chain.logs.join("rfc-resource-api-dpop-nonce.log"),
        crate::e2e::START_DEADLINE,
    )?;
    let nonce_uri = nonce_api.uri();
    let items = format!("{nonce_uri}/v1/items");
    let (challenged, nonce) = api_exchange(raw(
        &key.proof("GET", &items, now, None, Some(token.secret()))?,
        &items,
    ))
    .await?;
    let nonce = nonce.context("a use_dpop_nonce answer carries DPoP-Nonce")?;
    let (with_nonce, _) = api_exchange(raw(
        &key.proof("GET", &items, now, Some(&nonce), Some(token.secret()))?,
        &items,
    ))
    .await?;
    let fresh_sdk = AuthorizedClient::new(
        vendor_builder(chain, "e2e-writer", &chain.canaries.writer_secret)
            .dpop(DpopKey::from_pem(KEY_PEM)?)
            .build()?,
    );
    let sdk_nonce = fresh_sdk
        .send(fresh_sdk.get(&items))
        .await?
        .status()
        .as_u16();
    let python = jwcrypto(chain, &api, &nonce_uri).await;
    nonce_api.stop();
    let python = python?;

    Ok(json!({
        "SDK (AuthorizedClient with .dpop): GET /v1/dpop/whoami": sdk_whoami,
        "SDK: GET /v1/items (either scheme)": sdk_items,
        "a DPoP call": first,
        "the same proof again": again,
        "the bound token as Bearer": as_bearer,
        "no credentials (either scheme accepted)": no_credentials,
        "API requiring nonces, none sent": challenged,
        "API requiring nonces, retried with its nonce": with_nonce,
        "API requiring nonces, through the SDK": sdk_nonce,
        "proofs built by Python's jwcrypto (examples/dpop-python)": python,
    }))
}

const PYTHON_EXAMPLE: &str = "examples/dpop-python";

/// The independent check: `examples/dpop-python`'s unittest, proofs by jwcrypto, in a virtual
/// environment under target/ with the pinned requirements from PyPI (made once, then reused; pip
/// leaves a satisfied requirement alone, as for the Testcontainers example).
async fn jwcrypto(chain: &Chain, api: &str, nonce_api: &str) -> Result<String> {
    let root = crate::root();
    let auth_now = server_now(chain).await?;
    let api_now = api_now(api).await?;
    let token_url = token_url(chain);
    let secret = chain.canaries.writer_secret.clone();
    let api = api.to_owned();
    let nonce_api = nonce_api.to_owned();
    tokio::task::spawn_blocking(move || {
        let python = crate::python::venv(&root, "python-dpop", PYTHON_EXAMPLE)?;
        let output = std::process::Command::new(&python)
            .args(["-m", "unittest", "-v", "test_dpop.py"])
            .current_dir(root.join(PYTHON_EXAMPLE))
            .env("CCFLOW_TOKEN_URL", token_url)
            .env("CCFLOW_API_URL", api)
            .env("CCFLOW_NONCE_API_URL", nonce_api)
            .env("CCFLOW_CLIENT_ID", "e2e-writer")
            .env("CCFLOW_CLIENT_SECRET", secret)
            .env("CCFLOW_AUTH_NOW", auth_now.to_string())
            .env("CCFLOW_API_NOW", api_now.to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .context("cannot run examples/dpop-python")?;
        let report = String::from_utf8_lossy(&output.stderr);
        ensure!(
            output.status.success(),
            "the jwcrypto check failed:\n{report}"
        );
        let ran = report
            .lines()
            .find(|line| line.starts_with("Ran "))
            .unwrap_or("ran")
            .split(" in ")
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(format!("{ran}, OK"))
    })
    .await?
}
