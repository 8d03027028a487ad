//! The issuer checks: which name a token's `iss` carries when the auth server is reached as
//! `http://auth:8080` inside a compose network and as `http://127.0.0.1:PORT` from the host
//! (docs/docker.md, "The issuer"), and whether the API in the network accepts it.

use anyhow::{Context as _, Result, ensure};

use super::{
    HEALTHY_WITHIN, access_token, access_token_with_headers, expect_status, get, graceful_stop,
    image, jwt_part, strings,
};
use crate::containers::docker::{Container, Network, free_port};

/// Compose's view: the issuer is `http://auth:8080` (the network name), the API in the same
/// network expects it and discovers keys there; the host fetches a token through the
/// published port and calls the API.
pub(super) fn network_issuer(prefix: &str) -> Result<String> {
    let pair = auth_and_api(
        &format!("{prefix}-a"),
        &["CCFLOW_ISSUER=http://auth:8080"],
        &[
            "CCFLOW_RESOURCE_ISSUER=http://auth:8080",
            "CCFLOW_RESOURCE_AUDIENCE=demo-api",
        ],
    )?;
    let token = access_token(&pair.auth_base, "demo-client", "demo-secret")?;
    ensure!(
        jwt_part(&token, 1)?["iss"] == "http://auth:8080",
        "the token's iss is not the network name"
    );
    let whoami = format!("{}/v1/whoami", pair.api_base);
    let answer = get(&whoami, Some(&token))?;
    expect_status(&answer, 200, "whoami with the token")?;
    ensure!(
        answer.json()?["issuer"] == "http://auth:8080",
        "whoami: {}",
        answer.body
    );
    expect_status(&get(&whoami, None)?, 401, "whoami without a token")?;
    let stopped = graceful_stop(&pair.api)?;
    Ok(format!(
        "iss http://auth:8080, whoami 200 with the token, 401 without; API {stopped}"
    ))
}

/// The auth server (network alias `auth`) and the resource API in a fresh network, each
/// published on a free loopback port of the host and healthy. Dropped API first, network last.
struct AuthAndApi {
    api: Container,
    _auth: Container,
    _network: Network,
    /// The auth server as the host reaches it.
    auth_base: String,
    /// The API as the host reaches it.
    api_base: String,
}

/// Starts an [`AuthAndApi`] named after `prefix`, with `KEY=VALUE` environments.
fn auth_and_api(prefix: &str, auth_env: &[&str], api_env: &[&str]) -> Result<AuthAndApi> {
    let network = Network::create(&format!("{prefix}-net"))?;
    let env = |pairs: &[&str]| -> Vec<String> {
        pairs
            .iter()
            .flat_map(|pair| ["-e".to_owned(), (*pair).to_owned()])
            .collect()
    };
    let auth_port = free_port()?;
    let mut args = strings(&[
        "--network",
        &network.name,
        "--network-alias",
        "auth",
        "-p",
        &format!("127.0.0.1:{auth_port}:8080"),
    ]);
    args.extend(env(auth_env));
    args.push(image("ccflow-auth-server"));
    let auth = Container::run(&format!("{prefix}-auth"), &args)?;
    auth.wait_healthy(HEALTHY_WITHIN)?;
    let api_port = free_port()?;
    let mut args = strings(&[
        "--network",
        &network.name,
        "-p",
        &format!("127.0.0.1:{api_port}:8081"),
    ]);
    args.extend(env(api_env));
    args.push(image("ccflow-resource-api"));
    let api = Container::run(&format!("{prefix}-api"), &args)?;
    api.wait_healthy(HEALTHY_WITHIN)?;
    Ok(AuthAndApi {
        api,
        _auth: auth,
        _network: network,
        auth_base: format!("http://127.0.0.1:{auth_port}"),
        api_base: format!("http://127.0.0.1:{api_port}"),
    })
}

/// The host's view: the issuer is the published URL (what a test on the host, and the token's
/// `iss`, say), while the API in the network fetches the keys from `http://auth:8080`: the
/// expected issuer and the JWKS URL differ (`CCFLOW_RESOURCE_JWKS_URL`). The API expecting the
/// network name refuses these tokens.
pub(super) fn host_issuer(prefix: &str) -> Result<String> {
    let network = Network::create(&format!("{prefix}-net-b"))?;
    let auth_port = free_port()?;
    let base = format!("http://127.0.0.1:{auth_port}");
    let auth = Container::run(
        &format!("{prefix}-b-auth"),
        &strings(&[
            "--network",
            &network.name,
            "--network-alias",
            "auth",
            "-p",
            &format!("127.0.0.1:{auth_port}:8080"),
            "-e",
            &format!("CCFLOW_ISSUER={base}"),
            &image("ccflow-auth-server"),
        ]),
    )?;
    auth.wait_healthy(HEALTHY_WITHIN)?;
    let jwks_uri = get(
        &format!("{base}/.well-known/oauth-authorization-server"),
        None,
    )?
    .json()?["jwks_uri"]
        .as_str()
        .context("no jwks_uri")?
        .to_owned();
    let jwks_path = jwks_uri
        .strip_prefix(&base)
        .context("jwks_uri outside the issuer")?;
    let api_port = free_port()?;
    let api = Container::run(
        &format!("{prefix}-b-api"),
        &strings(&[
            "--network",
            &network.name,
            "-p",
            &format!("127.0.0.1:{api_port}:8081"),
            "-e",
            &format!("CCFLOW_RESOURCE_ISSUER={base}"),
            "-e",
            &format!("CCFLOW_RESOURCE_JWKS_URL=http://auth:8080{jwks_path}"),
            "-e",
            "CCFLOW_RESOURCE_AUDIENCE=demo-api",
            &image("ccflow-resource-api"),
        ]),
    )?;
    let strict_port = free_port()?;
    let strict = Container::run(
        &format!("{prefix}-b-strict"),
        &strings(&[
            "--network",
            &network.name,
            "-p",
            &format!("127.0.0.1:{strict_port}:8081"),
            "-e",
            "CCFLOW_RESOURCE_ISSUER=http://auth:8080",
            "-e",
            &format!("CCFLOW_RESOURCE_JWKS_URL=http://auth:8080{jwks_path}"),
            "-e",
            "CCFLOW_RESOURCE_AUDIENCE=demo-api",
            &image("ccflow-resource-api"),
        ]),
    )?;
    api.wait_healthy(HEALTHY_WITHIN)?;
    strict.wait_healthy(HEALTHY_WITHIN)?;
    let token = access_token(&base, "demo-client", "demo-secret")?;
    let answer = get(
        &format!("http://127.0.0.1:{api_port}/v1/whoami"),
        Some(&token),
    )?;
    expect_status(&answer, 200, "whoami, issuer = host URL")?;
    ensure!(
        answer.json()?["issuer"] == base.as_str(),
        "whoami: {}",
        answer.body
    );
    let refused = get(
        &format!("http://127.0.0.1:{strict_port}/v1/whoami"),
        Some(&token),
    )?;
    expect_status(&refused, 401, "an API expecting the network name")?;
    Ok(format!(
        "iss {base}, keys from http://auth:8080{jwks_path}: 200; an API expecting http://auth:8080: 401"
    ))
}

/// The issuer named after each request: the API in the network discovers `http://auth:8080`
/// (discovery answers with the name it was reached by, so the API becomes ready); from the host,
/// a token fetched as `127.0.0.1:PORT` names that issuer and the API refuses it, and one fetched
/// with `X-Forwarded-Host: auth:8080` (what a proxy in front would send) names the network
/// name and is accepted.
pub(super) fn request_issuer(prefix: &str) -> Result<String> {
    let pair = auth_and_api(
        &format!("{prefix}-r"),
        &["CCFLOW_ISSUER_FROM_REQUEST=true"],
        &[
            "CCFLOW_RESOURCE_ISSUER=http://auth:8080",
            "CCFLOW_RESOURCE_AUDIENCE=demo-api",
        ],
    )?;
    let base = &pair.auth_base;
    let discovery = get(
        &format!("{base}/.well-known/oauth-authorization-server"),
        None,
    )?;
    ensure!(
        discovery.json()?["issuer"] == base.as_str(),
        "discovery from the host names {}",
        discovery.body
    );
    let whoami = format!("{}/v1/whoami", pair.api_base);
    let host_token = access_token(base, "demo-client", "demo-secret")?;
    ensure!(
        jwt_part(&host_token, 1)?["iss"] == base.as_str(),
        "a token fetched as {base} does not name it"
    );
    expect_status(
        &get(&whoami, Some(&host_token))?,
        401,
        "whoami with the host-named token",
    )?;
    let forwarded = access_token_with_headers(
        base,
        "demo-client",
        "demo-secret",
        &[("x-forwarded-host", "auth:8080")],
    )?;
    ensure!(
        jwt_part(&forwarded, 1)?["iss"] == "http://auth:8080",
        "X-Forwarded-Host did not name the issuer"
    );
    expect_status(
        &get(&whoami, Some(&forwarded))?,
        200,
        "whoami with the network-named token",
    )?;
    Ok(format!(
        "API ready on http://auth:8080's discovery; iss {base} from the host → 401, iss http://auth:8080 with X-Forwarded-Host → 200"
    ))
}
