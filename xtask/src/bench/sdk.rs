//! The SDK measured: the cost of a cached `token()`, and how many token requests 10,000
//! concurrent callers on a cold cache cause (read from the server's journal).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, ensure};
use ccflow_client::TokenClient;
use serde_json::{Value, json};

use super::{Options, http, runtime};

pub(super) struct Sdk {
    pub(super) cached_ns: f64,
    cold_callers: usize,
    pub(super) cold_requests: usize,
}

impl Sdk {
    /// The report's line.
    pub(super) fn summary(&self) -> String {
        format!(
            "  cached token(): {:.0} ns/op; {} concurrent callers on a cold cache made {} token request(s)",
            self.cached_ns, self.cold_callers, self.cold_requests
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "cached_token_ns": self.cached_ns,
            "cold_callers": self.cold_callers,
            "cold_requests": self.cold_requests,
        })
    }
}

/// Cached `token()` cost, and how many requests 10,000 callers on a cold cache make.
pub(super) fn measure(token_url: &str, admin: &str, options: &Options) -> Result<Sdk> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let client = TokenClient::builder()
            .token_url(token_url)
            .credentials("bench-sdk", "bench-sdk-secret")
            .build()?;
        client.token().await?;
        let iterations: u32 = if options.quick { 100_000 } else { 2_000_000 };
        let started = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(client.token().await?);
        }
        let cached_ns = started.elapsed().as_secs_f64() * 1e9 / f64::from(iterations);

        let http = http()?;
        let status = http
            .delete(format!("{admin}/requests"))
            .send()
            .await?
            .status();
        ensure!(status == 204, "DELETE /_ccflow/requests answered {status}");
        let cold = Arc::new(
            TokenClient::builder()
                .token_url(token_url)
                .credentials("bench-sdk", "bench-sdk-secret")
                .build()?,
        );
        let callers = 10_000;
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let client = Arc::clone(&cold);
                tokio::spawn(async move { client.token().await })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        let journal: Value = http
            .get(format!(
                "{admin}/requests?endpoint=token&client_id=bench-sdk"
            ))
            .send()
            .await?
            .json()
            .await?;
        let cold_requests = journal["requests"].as_array().map_or(0, Vec::len);
        Ok(Sdk {
            cached_ns,
            cold_callers: callers,
            cold_requests,
        })
    })
}
