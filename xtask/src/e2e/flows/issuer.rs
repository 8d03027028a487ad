//! Flows of the auth server's own answers: discovery documents, tokens per auth method, the
//! SDK's cache, error answers on the wire, and revocation seen through introspection.

use anyhow::{Context as _, Result, ensure};
use ccflow_client::{AuthMethod, TokenClient};
use ccflow_protocol::{AuthMethod as WireAuthMethod, Profile};
use serde_json::{Value, json};

use super::support::{
    clear_journal, client, exchange, http, journal_count, options, token_url, writer,
};
use crate::e2e::Chain;
use crate::e2e::record::decode;

/// Discovery and JWKS: the documents a resource server and a discovering client read.
pub(super) async fn discovery(chain: &Chain) -> Result<Value> {
    let routes = chain.profile.routes().expand(&options());
    let mut exchanges = Vec::new();
    for path in routes.discovery.iter().chain(std::iter::once(&routes.jwks)) {
        exchanges.push(exchange(http().get(format!("{}{path}", chain.auth.uri()))).await?);
    }
    Ok(json!(exchanges))
}

/// A token with each auth method the profile accepts, through the SDK.
pub(super) async fn token(chain: &Chain) -> Result<Value> {
    let mut observed = Vec::new();
    for method in chain.profile.spec().auth_methods {
        let client = match method {
            WireAuthMethod::ClientSecretBasic => client(
                chain,
                "e2e-writer",
                &chain.canaries.writer_secret,
                Some(AuthMethod::ClientSecretBasic),
            )?,
            WireAuthMethod::ClientSecretPost => client(
                chain,
                "e2e-reader",
                &chain.canaries.reader_secret,
                Some(AuthMethod::ClientSecretPost),
            )?,
            WireAuthMethod::PrivateKeyJwt => {
                let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
                let pem = std::fs::read_to_string(root.join("fixtures/keys/client-rs256.pem"))?;
                TokenClient::builder()
                    .token_url(token_url(chain))
                    .client_id("e2e-jwt")
                    .auth_method(AuthMethod::private_key_jwt_pem(&pem, None)?)
                    .build()?
            }
            _ => continue,
        };
        let token = client
            .token()
            .await
            .with_context(|| format!("{} token", method.as_str()))?;
        observed.push(json!({
            "auth_method": method.as_str(),
            "token_type": token.token_type(),
            "lifetime_secs": token.lifetime().as_secs(),
            "scopes": token.scopes().to_string(),
            "rejected_scopes": token.rejected_scopes(),
            "token": decode(token.secret()),
        }));
    }
    Ok(json!(observed))
}

/// Many calls, concurrent and sequential, one token request (as the journal shows).
pub(super) async fn cached_reuse(chain: &Chain) -> Result<Value> {
    clear_journal(chain).await?;
    let client = writer(chain)?;
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.token().await })
        })
        .collect();
    for call in calls {
        call.await??;
    }
    for _ in 0..5 {
        client.token().await?;
    }
    let requests = journal_count(chain, "e2e-writer").await?;
    ensure!(
        requests == 1,
        "25 token() calls made {requests} token requests"
    );
    Ok(json!({"token_calls": 25, "token_requests": requests}))
}

/// Bad secret, unknown client, and the profile's scope failure, on the wire.
pub(super) async fn errors(chain: &Chain) -> Result<Value> {
    let url = token_url(chain);
    let form = |pairs: &[(&str, &str)]| {
        http()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            ccflow_protocol::form_urlencode(k),
                            ccflow_protocol::form_urlencode(v)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            )
    };
    let cc = ("grant_type", "client_credentials");
    let mut observed = vec![
        exchange(form(&[cc]).header(
            "authorization",
            ccflow_protocol::basic_authorization("e2e-writer", "wrong"),
        ))
        .await?,
        exchange(form(&[
            cc,
            ("client_id", "nobody"),
            ("client_secret", "nothing"),
        ]))
        .await?,
    ];
    let scope_case = match chain.profile {
        // SLB: partially invalid scopes are reported, not refused (seed 001).
        Profile::Slb => form(&[cc, ("scope", "items-api no-such-client")]),
        // UserClouds ignores scope; its characteristic failure is a missing grant type.
        Profile::UserClouds => form(&[
            ("client_id", "e2e-writer"),
            ("client_secret", &chain.canaries.writer_secret),
        ]),
        _ => form(&[cc, ("scope", "admin")]),
    };
    let scope_case = match chain.profile {
        Profile::UserClouds => scope_case,
        _ => scope_case.header(
            "authorization",
            ccflow_protocol::basic_authorization("e2e-writer", &chain.canaries.writer_secret),
        ),
    };
    observed.push(exchange(scope_case).await?);
    Ok(json!(observed))
}

/// Revocation, then introspection says inactive.
pub(super) async fn revocation(chain: &Chain) -> Result<Value> {
    let routes = chain.profile.routes().expand(&options());
    let token = writer(chain)?.token().await?;
    let basic = ccflow_protocol::basic_authorization("e2e-writer", &chain.canaries.writer_secret);
    let post = |path: &str| {
        http()
            .post(format!("{}{path}", chain.auth.uri()))
            .header("authorization", basic.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={}", token.secret()))
    };
    let introspection = routes.introspection.as_deref().context("introspection")?;
    let before = exchange(post(introspection)).await?;
    let revoked = exchange(post(routes.revocation.as_deref().context("revocation")?)).await?;
    let after = exchange(post(introspection)).await?;
    ensure!(
        after["body"]["active"] == false,
        "a revoked token introspects inactive"
    );
    Ok(json!([before, revoked, after]))
}
