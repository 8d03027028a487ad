//! Calls a protected API with `AuthorizedClient`: the bearer token is fetched, cached, and
//! renewed once if the API answers `401 invalid_token`.
//!
//! ```sh
//! cargo run -p ccflow-auth-server &     # the token endpoint, demo clients
//! # any API that accepts its tokens, e.g. the sample API of ccflow-resource-api
//! cargo run -p ccflow-client --example call_api -- http://127.0.0.1:8081/v1/whoami
//! ```
//!
//! Without an argument it calls `CCFLOW_API_URL` (else the sample API's whoami), `CCFLOW_USES`
//! times (default once): the variables `ccflow-auth-server probe client` sets, so
//! `probe client --run "cargo run -p ccflow-client --example call_api"` probes the SDK
//! (crates/ccflow-client/tests/probe_examples.rs).

use anyhow::Context as _;
use ccflow_client::{AuthorizedClient, TokenClient};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    call_api(std::env::args().nth(1)).await
}

/// Calls `url` (else `CCFLOW_API_URL`, else the sample API's whoami) `CCFLOW_USES` times with
/// a token from the SDK's environment (else the demo client), printing each answer.
pub(crate) async fn call_api(url: Option<String>) -> anyhow::Result<()> {
    let url = url
        .or_else(|| std::env::var("CCFLOW_API_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8081/v1/whoami".to_owned());
    let uses: u32 = match std::env::var("CCFLOW_USES") {
        Ok(uses) => uses.parse().context("CCFLOW_USES is not a number")?,
        Err(_) => 1,
    };
    let tokens = if std::env::var_os("CCFLOW_TOKEN_URL").is_some()
        || std::env::var_os("CCFLOW_ISSUER").is_some()
    {
        TokenClient::from_env()?
    } else {
        TokenClient::builder()
            .token_url("http://127.0.0.1:8080/oauth2/token")
            .credentials("demo-client", "demo-secret")
            .build()?
    };
    let api = AuthorizedClient::new(tokens);
    for _ in 0..uses {
        let response = api
            .send(api.get(&url))
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let body = response.text().await?;
        std::io::Write::write_all(
            &mut std::io::stdout(),
            format!("{status}\n{body}\n").as_bytes(),
        )?;
    }
    Ok(())
}
