//! The `several-issuers` flow (issue 20, docs/multi-issuer.md): one auth server process hosting
//! three issuers (`[[issuers]]`: `rfc`, `slb` and `cyberark`, each under its own path prefix),
//! and a sample API trusting two of them (`--issuer` twice). The SDK gets a token from each
//! issuer through that issuer's own discovery; the API accepts the two trusted issuers' tokens
//! and refuses the third's with RFC 6750's `invalid_token`; a token of one issuer is not active
//! at another's introspection; rotating one issuer's keys leaves the others' JWKS alone.

use anyhow::{Context as _, Result, ensure};
use ccflow_client::TokenClient;
use ccflow_protocol::Profile;
use serde_json::{Value, json};

use super::support::http;
use crate::e2e::Chain;
use crate::e2e::process::Server;
use crate::e2e::record::decode;

/// The auth server's configuration: three issuers, one client each. The process-wide keys
/// (bind, admin) stay at the top level; everything else belongs to an issuer.
const CONFIG: &str = r#"
[[issuers]]
name = "rfc"
[[issuers.clients]]
client_id = "orders"
client_secret = "orders-secret"
scopes = ["items:read"]
audiences = ["orders-api"]

[[issuers]]
name = "slb"
profile = "slb"
service_audiences = ["orders-api"]
[[issuers.clients]]
client_id = "svc-a"
client_secret = "secret-a"

[[issuers]]
name = "cyberark"
profile = "cyberark"
app_id = "orders"
[[issuers.clients]]
client_id = "svc-c"
client_secret = "secret-c"
"#;

/// One issuer of the process as `GET /_ccflow/issuers` lists it.
struct Listed {
    name: String,
    profile: Profile,
    issuer: String,
    jwks_url: String,
    introspection_url: Option<String>,
    admin_url: String,
}

fn listed(entry: &Value) -> Result<Listed> {
    let text = |member: &str| -> Result<String> {
        entry[member]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("`{member}` in {entry}"))
    };
    Ok(Listed {
        name: text("name")?,
        profile: text("profile")?.parse().map_err(anyhow::Error::msg)?,
        issuer: text("issuer")?,
        jwks_url: text("jwks_url")?,
        introspection_url: entry["introspection_url"].as_str().map(str::to_owned),
        admin_url: text("admin_url")?,
    })
}

/// The SDK as a user of `issuer`'s vendor sets it up: profile, issuer (discovery), credentials,
/// and what the token should be for.
fn sdk(issuer: &Listed, id: &str, secret: &str) -> Result<TokenClient> {
    let mut builder = TokenClient::builder()
        .profile(issuer.profile)
        .issuer(issuer.issuer.clone())
        .credentials(id, secret)
        .allow_insecure_http(true);
    builder = match issuer.profile {
        // SLB: the audiences wanted are asked for as scopes (seed 001).
        Profile::Slb => builder.scopes(["orders-api"]),
        Profile::CyberArk => builder.app_id("orders"),
        _ => builder,
    };
    Ok(builder.build()?)
}

/// Status, challenge and body of `GET {api}/v1/whoami` with `token`.
async fn whoami(api: &str, token: &str) -> Result<Value> {
    let response = http()
        .get(format!("{api}/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok(json!({"status": status, "www-authenticate": challenge, "body": body}))
}

async fn get_json(url: &str) -> Result<Value> {
    Ok(http()
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

pub(super) async fn several_issuers(chain: &Chain) -> Result<Value> {
    let auth_binary = chain.api_binary.with_file_name("ccflow-auth-server");
    let config = chain.logs.join("rfc-several-issuers.toml");
    std::fs::write(&config, CONFIG)?;
    let mut auth = Server::start(
        &auth_binary,
        &[
            "--config".to_owned(),
            config.display().to_string(),
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
        ],
        chain.logs.join("rfc-several-issuers-auth-server.log"),
        crate::e2e::START_DEADLINE,
    )?;
    let base = auth.uri();
    let list = get_json(&format!("{base}/_ccflow/issuers")).await?;
    let issuers = list["issuers"]
        .as_array()
        .context("`issuers` in GET /_ccflow/issuers")?
        .iter()
        .map(listed)
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<&str> = issuers.iter().map(|issuer| issuer.name.as_str()).collect();
    ensure!(
        names == ["rfc", "slb", "cyberark"],
        "the issuers in configuration order: {names:?}"
    );
    let by_name = |name: &str| issuers.iter().find(|issuer| issuer.name == name);
    let (rfc, slb, cyberark) = (
        by_name("rfc").context("rfc")?,
        by_name("slb").context("slb")?,
        by_name("cyberark").context("cyberark")?,
    );

    // A token from each issuer, through the SDK and that issuer's discovery.
    let mut tokens = Vec::new();
    let mut minted = serde_json::Map::new();
    for (issuer, id, secret) in [
        (rfc, "orders", "orders-secret"),
        (slb, "svc-a", "secret-a"),
        (cyberark, "svc-c", "secret-c"),
    ] {
        let token = sdk(issuer, id, secret)?.token().await?;
        let secret = token.secret().to_owned();
        let decoded = decode(&secret);
        ensure!(
            decoded["claims"]["iss"] == issuer.issuer.as_str(),
            "{}'s token names its own issuer: {decoded}",
            issuer.name
        );
        minted.insert(
            issuer.name.clone(),
            json!({"iss": decoded["claims"]["iss"], "aud": decoded["claims"]["aud"],
                   "kid": decoded["header"]["kid"].is_string()}),
        );
        tokens.push((issuer.name.clone(), secret));
    }

    // The sample API trusting rfc and slb (one audience for both, a profile each).
    let api_binary = &chain.api_binary;
    let mut api = Server::start(
        api_binary,
        &[
            "--bind",
            "127.0.0.1:0",
            "--issuer",
            &rfc.issuer,
            "--issuer",
            &slb.issuer,
            "--audience",
            "orders-api",
            "--profile",
            "rfc",
            "--profile",
            "slb",
        ]
        .map(str::to_owned),
        chain.logs.join("rfc-several-issuers-api.log"),
        crate::e2e::START_DEADLINE,
    )?;
    let api_uri = api.uri();
    let mut at_api = serde_json::Map::new();
    for (name, token) in &tokens {
        at_api.insert(name.clone(), whoami(&api_uri, token).await?);
    }

    // Isolation: rfc's token is not active at an issuer that did not issue it.
    let introspect = |url: &str, id: &str, secret: &str, token: &str| {
        http()
            .post(url)
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
    };
    let rfc_introspection = rfc
        .introspection_url
        .as_deref()
        .context("rfc introspects")?;
    let own: Value = introspect(rfc_introspection, "orders", "orders-secret", &tokens[0].1)
        .send()
        .await?
        .json()
        .await?;
    let foreign: Value = introspect(rfc_introspection, "orders", "orders-secret", &tokens[1].1)
        .send()
        .await?
        .json()
        .await?;

    // Rotating rfc's keys leaves slb's JWKS as it was.
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|key| key["kid"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let slb_before = kids(&get_json(&slb.jwks_url).await?);
    let rfc_before = kids(&get_json(&rfc.jwks_url).await?);
    let rotated = http()
        .post(format!("{}/keys/rotate", rfc.admin_url))
        .send()
        .await?
        .status()
        .as_u16();
    let slb_after = kids(&get_json(&slb.jwks_url).await?);
    let rfc_after = kids(&get_json(&rfc.jwks_url).await?);

    api.stop();
    auth.stop();
    let observed = json!({
        "issuers": list["issuers"],
        "tokens": minted,
        "api trusting rfc and slb": at_api,
        "rfc introspection": {"rfc's token": own["active"], "slb's token": foreign["active"]},
        "rotation of rfc's keys": {
            "status": rotated,
            "rfc's kids changed": rfc_before != rfc_after,
            "slb's kids unchanged": slb_before == slb_after,
        },
    });
    // This flow's own server, on a port of this run: a stable name in the snapshot.
    let text = serde_json::to_string(&observed)?.replace(&base, "http://[several-issuers]");
    Ok(serde_json::from_str(&text)?)
}
