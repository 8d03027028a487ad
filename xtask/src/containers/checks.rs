//! The container checks, one function each, run in order from the host: each starts its own
//! containers (named after the run's prefix, removed when it ends) and says what it saw.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use base64::Engine as _;
use serde_json::Value;

use super::docker::{Container, free_port};

mod issuer;
use crate::image::VERSION;

/// One check: given the run's name prefix, what it verified.
pub(crate) type Check = fn(&str) -> Result<String>;

/// Every check, in order.
pub(crate) const CHECKS: [(&str, Check); 7] = [
    (
        "auth server: health, token, JWKS, JSON logs, non-root",
        auth_server_alone,
    ),
    (
        "auth server: admin API refused without a token, open with one",
        admin_token,
    ),
    (
        "auth server: the whole config from CCFLOW_CONFIG_TOML",
        config_toml,
    ),
    (
        "issuer = the compose network name, token from the host",
        issuer::network_issuer,
    ),
    (
        "issuer = the host URL, API fetching keys by network name",
        issuer::host_issuer,
    ),
    (
        "issuer from each request (CCFLOW_ISSUER_FROM_REQUEST)",
        issuer::request_issuer,
    ),
    (
        "resource API: not ready while its issuer is unreachable",
        api_not_ready,
    ),
];

/// How long a container may take to become healthy (Docker runs the first probe one interval,
/// the image's 3 s, after the start).
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

/// A graceful stop must end within this (the issue: "within a second"), `docker stop`'s own
/// round trip included.
const STOPPED_WITHIN: Duration = Duration::from_secs(1);

fn image(name: &str) -> String {
    format!("{name}:{VERSION}")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// An HTTP answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.body).with_context(|| format!("not JSON: {}", self.body))
    }
}

/// One request from the host (never through a proxy).
fn request(
    method: reqwest::Method,
    url: &str,
    bearer: Option<&str>,
    basic: Option<(&str, &str)>,
    form: Option<&[(&str, &str)]>,
    headers: &[(&str, &str)],
) -> Result<Answer> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()?;
        let mut builder = client.request(method, url);
        if let Some(token) = bearer {
            builder = builder.bearer_auth(token);
        }
        if let Some((user, password)) = basic {
            builder = builder.basic_auth(user, Some(password));
        }
        if let Some(form) = form {
            builder = builder.form(form);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = builder
            .send()
            .await
            .with_context(|| format!("request to {url}"))?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        Ok(Answer { status, body })
    })
}

fn get(url: &str, bearer: Option<&str>) -> Result<Answer> {
    request(reqwest::Method::GET, url, bearer, None, None, &[])
}

/// A client-credentials token from the rfc profile's token endpoint (`client_secret_basic`).
fn token(base: &str, client: &str, secret: &str) -> Result<Answer> {
    token_with_headers(base, client, secret, &[])
}

/// [`token`], with more request headers (e.g. `X-Forwarded-Host`).
fn token_with_headers(
    base: &str,
    client: &str,
    secret: &str,
    headers: &[(&str, &str)],
) -> Result<Answer> {
    request(
        reqwest::Method::POST,
        &format!("{base}/oauth2/token"),
        None,
        Some((client, secret)),
        Some(&[("grant_type", "client_credentials")]),
        headers,
    )
}

fn access_token(base: &str, client: &str, secret: &str) -> Result<String> {
    access_token_with_headers(base, client, secret, &[])
}

fn access_token_with_headers(
    base: &str,
    client: &str,
    secret: &str,
    headers: &[(&str, &str)],
) -> Result<String> {
    let answer = token_with_headers(base, client, secret, headers)?;
    ensure!(
        answer.status == 200,
        "token: {} {}",
        answer.status,
        answer.body
    );
    answer.json()?["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token")
}

/// A JWT's header or payload (part 0 or 1), decoded without verification.
fn jwt_part(token: &str, part: usize) -> Result<Value> {
    let segment = token.split('.').nth(part).context("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment)?;
    Ok(serde_json::from_slice(&bytes)?)
}

fn expect_status(answer: &Answer, status: u16, what: &str) -> Result<()> {
    ensure!(
        answer.status == status,
        "{what}: expected {status}, got {} {}",
        answer.status,
        answer.body
    );
    Ok(())
}

/// The auth server alone, as `docker run -p` gives it: issuer fixed to the host URL, JSON logs.
fn auth_server_alone(prefix: &str) -> Result<String> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let auth = Container::run(
        &format!("{prefix}-alone"),
        &strings(&[
            "-p",
            &format!("127.0.0.1:{port}:8080"),
            "-e",
            &format!("CCFLOW_ISSUER={base}"),
            "-e",
            "CCFLOW_LOG_FORMAT=json",
            &image("ccflow-auth-server"),
        ]),
    )?;
    auth.wait_healthy(HEALTHY_WITHIN)?;
    let user = super::docker::docker(&["inspect", "--format", "{{.Config.User}}", &auth.name])?;
    ensure!(
        user == "10001:10001",
        "runs as {user:?}, not the ccflow user"
    );
    for path in ["/_ccflow/health/live", "/_ccflow/health/ready"] {
        expect_status(&get(&format!("{base}{path}"), None)?, 200, path)?;
    }
    let discovery = get(
        &format!("{base}/.well-known/oauth-authorization-server"),
        None,
    )?
    .json()?;
    ensure!(
        discovery["issuer"] == base.as_str(),
        "discovery: {discovery}"
    );
    let jwks_uri = discovery["jwks_uri"].as_str().context("no jwks_uri")?;
    let token = access_token(&base, "demo-client", "demo-secret")?;
    let claims = jwt_part(&token, 1)?;
    ensure!(claims["iss"] == base.as_str(), "iss: {claims}");
    let kid = jwt_part(&token, 0)?["kid"].clone();
    let jwks = get(jwks_uri, None)?.json()?;
    ensure!(
        jwks["keys"]
            .as_array()
            .is_some_and(|keys| keys.iter().any(|key| key["kid"] == kid)),
        "the JWKS at {jwks_uri} lacks the token's kid {kid}"
    );
    let refused = token_refused(&base)?;
    let logs = auth.logs();
    ensure!(
        logs.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .any(|line| line.get("level").is_some()),
        "no JSON log line with CCFLOW_LOG_FORMAT=json:\n{logs}"
    );
    // (The embedded demo clients' secrets are printed on purpose, in the summary.)
    ensure!(!logs.contains(&token), "the token is in the logs");
    let stopped = graceful_stop(&auth)?;
    Ok(format!(
        "healthy, iss {base}, kid {kid} in the JWKS, {refused}, JSON logs, {stopped}"
    ))
}

/// A wrong secret is refused with the RFC 6749 §5.2 error.
fn token_refused(base: &str) -> Result<String> {
    let answer = token(base, "demo-client", "wrong-secret")?;
    expect_status(&answer, 401, "wrong secret")?;
    ensure!(
        answer.json()?["error"] == "invalid_client",
        "wrong secret: {}",
        answer.body
    );
    Ok("wrong secret 401 invalid_client".to_owned())
}

/// `docker stop` ends the server gracefully (exit 0, `shutting down` logged) within a second.
fn graceful_stop(container: &Container) -> Result<String> {
    let (elapsed, code) = container.stop(Duration::from_secs(10))?;
    ensure!(
        code == 0,
        "exit code {code} after SIGTERM (137 = killed after the grace period)"
    );
    ensure!(
        container.logs().contains("shutting down"),
        "no `shutting down` line after SIGTERM"
    );
    ensure!(
        elapsed <= STOPPED_WITHIN,
        "docker stop took {elapsed:?}, more than {STOPPED_WITHIN:?}"
    );
    Ok(format!("SIGTERM: exit 0 in {} ms", elapsed.as_millis()))
}

/// The admin API from the host: the bridge peer is not loopback, so without an admin token it
/// is refused (403); with `CCFLOW_ADMIN_TOKEN`, a call without the token is 401 and one with
/// it is answered. Health stays open to any peer either way.
fn admin_token(prefix: &str) -> Result<String> {
    let closed_port = free_port()?;
    let closed = Container::run(
        &format!("{prefix}-admin-closed"),
        &strings(&[
            "-p",
            &format!("127.0.0.1:{closed_port}:8080"),
            &image("ccflow-auth-server"),
        ]),
    )?;
    let open_port = free_port()?;
    let admin_secret = format!("ct-admin-{}", std::process::id());
    let open = Container::run(
        &format!("{prefix}-admin-open"),
        &strings(&[
            "-p",
            &format!("127.0.0.1:{open_port}:8080"),
            "-e",
            &format!("CCFLOW_ADMIN_TOKEN={admin_secret}"),
            &image("ccflow-auth-server"),
        ]),
    )?;
    closed.wait_healthy(HEALTHY_WITHIN)?;
    open.wait_healthy(HEALTHY_WITHIN)?;
    let clock = |port: u16, bearer: Option<&str>| {
        get(&format!("http://127.0.0.1:{port}/_ccflow/clock"), bearer)
    };
    expect_status(&clock(closed_port, None)?, 403, "no admin token configured")?;
    expect_status(
        &clock(closed_port, Some("guess"))?,
        403,
        "no admin token configured, a bearer sent anyway",
    )?;
    expect_status(
        &get(
            &format!("http://127.0.0.1:{closed_port}/_ccflow/health/ready"),
            None,
        )?,
        200,
        "readiness without the admin token",
    )?;
    expect_status(&clock(open_port, None)?, 401, "admin token set, none sent")?;
    expect_status(
        &clock(open_port, Some("wrong"))?,
        401,
        "admin token set, a wrong one sent",
    )?;
    let answer = clock(open_port, Some(&admin_secret))?;
    expect_status(&answer, 200, "admin token set and sent")?;
    ensure!(
        !open.logs().contains(&admin_secret),
        "the admin token is in the logs"
    );
    Ok("no token: 403 from the host; CCFLOW_ADMIN_TOKEN: 401 without, 200 with".to_owned())
}

/// `CCFLOW_CONFIG_TOML` replaces the embedded defaults: its client gets a token, the demo
/// client does not exist; a broken text stops the container with exit status 2.
fn config_toml(prefix: &str) -> Result<String> {
    let port = free_port()?;
    let config = "profile = \"rfc\"\n\
                  [[clients]]\n\
                  client_id = \"ct-orders\"\n\
                  client_secret = \"ct-orders-secret\"\n\
                  scopes = [\"orders:read\"]\n\
                  audiences = [\"orders-api\"]\n";
    let auth = Container::run(
        &format!("{prefix}-toml"),
        &strings(&[
            "-p",
            &format!("127.0.0.1:{port}:8080"),
            "-e",
            &format!("CCFLOW_CONFIG_TOML={config}"),
            &image("ccflow-auth-server"),
        ]),
    )?;
    auth.wait_healthy(HEALTHY_WITHIN)?;
    let base = format!("http://127.0.0.1:{port}");
    let orders = access_token(&base, "ct-orders", "ct-orders-secret")?;
    let claims = jwt_part(&orders, 1)?;
    ensure!(claims["aud"] == "orders-api", "aud: {claims}");
    let demo = token(&base, "demo-client", "demo-secret")?;
    expect_status(&demo, 401, "the demo client under a config")?;
    let broken = Container::run(
        &format!("{prefix}-toml-broken"),
        &strings(&[
            "-e",
            "CCFLOW_CONFIG_TOML=[[clients]]\nclient_id = 7\n",
            &image("ccflow-auth-server"),
        ]),
    )?;
    let code = super::docker::docker(&["wait", &broken.name])?;
    ensure!(
        code == "2",
        "a broken CCFLOW_CONFIG_TOML exited {code}, not 2"
    );
    let logs = broken.logs();
    ensure!(
        logs.contains("$CCFLOW_CONFIG_TOML"),
        "the error does not name the variable: {logs}"
    );
    Ok(
        "its client gets a token (aud orders-api), demo-client 401, a broken text exits 2"
            .to_owned(),
    )
}

/// Readiness means keys: an API whose issuer does not answer is live but not ready, its
/// HEALTHCHECK fails, and it still stops gracefully.
fn api_not_ready(prefix: &str) -> Result<String> {
    let port = free_port()?;
    let api = Container::run(
        &format!("{prefix}-lonely-api"),
        &strings(&[
            "-p",
            &format!("127.0.0.1:{port}:8081"),
            "-e",
            "CCFLOW_RESOURCE_ISSUER=http://127.0.0.1:9",
            "-e",
            "CCFLOW_RESOURCE_AUDIENCE=demo-api",
            &image("ccflow-resource-api"),
        ]),
    )?;
    // `healthcheck --wait`: the liveness route answers once the API listens.
    let live = api.exec(&[
        "ccflow-resource-api",
        "healthcheck",
        "--live",
        "--wait",
        "30",
    ])?;
    ensure!(live == 0, "liveness probe exited {live}");
    let base = format!("http://127.0.0.1:{port}");
    expect_status(&get(&format!("{base}/healthz"), None)?, 200, "liveness")?;
    let ready = get(&format!("{base}/readyz"), None)?;
    expect_status(&ready, 503, "readiness without keys")?;
    let probe = api.exec(&["ccflow-resource-api", "healthcheck"])?;
    ensure!(probe == 1, "the readiness probe exited {probe}, not 1");
    let stopped = graceful_stop(&api)?;
    Ok(format!(
        "live 200, ready 503 ({}), healthcheck exit 1, {stopped}",
        ready.body
    ))
}
