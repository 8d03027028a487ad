//! Fetches a token from a running ccflow-auth-server and prints what it says about itself.
//!
//! ```sh
//! cargo run -p ccflow-auth-server &                  # demo clients on 127.0.0.1:8080
//! cargo run -p ccflow-client --example fetch_token
//! ```
//!
//! Configure with the SDK's environment variables (`CCFLOW_TOKEN_URL` or `CCFLOW_ISSUER`,
//! `CCFLOW_CLIENT_ID`, `CCFLOW_CLIENT_SECRET`, `CCFLOW_SCOPE`); without them it uses the demo
//! server's defaults.

use anyhow::Context as _;
use base64::Engine as _;
use ccflow_client::TokenClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = configured_client()?;
    let token = client.token().await.context("get a token")?;
    let claims = token
        .secret()
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
    let mut out = String::new();
    out.push_str(&format!("token type: {}\n", token.token_type()));
    out.push_str(&format!("scopes:     {}\n", token.scopes()));
    out.push_str(&format!("lifetime:   {} s\n", token.lifetime().as_secs()));
    match claims {
        Some(claims) => out.push_str(&format!(
            "claims:     {}\n",
            serde_json::to_string_pretty(&claims)?
        )),
        None => out.push_str("claims:     (not a JWT)\n"),
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
    Ok(())
}

/// From the environment when it names a server, else the demo server's defaults.
fn configured_client() -> anyhow::Result<TokenClient> {
    let builder = if std::env::var_os("CCFLOW_TOKEN_URL").is_some()
        || std::env::var_os("CCFLOW_ISSUER").is_some()
    {
        TokenClient::builder_from_env()?
    } else {
        TokenClient::builder()
            .token_url("http://127.0.0.1:8080/oauth2/token")
            .credentials("demo-client", "demo-secret")
    };
    builder.build().context("configure the client")
}
