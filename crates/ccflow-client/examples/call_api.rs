//! Calls a protected API with `AuthorizedClient`: the bearer token is fetched, cached, and
//! renewed once if the API answers `401 invalid_token`.
//!
//! ```sh
//! cargo run -p ccflow-auth-server &     # the token endpoint, demo clients
//! # any API that accepts its tokens, e.g. the sample API of ccflow-resource-api
//! cargo run -p ccflow-client --example call_api -- http://127.0.0.1:8081/v1/whoami
//! ```

use anyhow::Context as _;
use ccflow_client::{AuthorizedClient, TokenClient};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8081/v1/whoami".to_owned());
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
    Ok(())
}
