//! The SDK measured: the cost of a cached `token()`, how many token requests 10,000
//! concurrent callers on a cold cache cause (read from the server's journal), and what
//! `TokenMiddleware` costs over a plain reqwest call with a fixed header.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use ccflow_client::{TokenClient, TokenMiddleware};
use serde_json::{Value, json};

use super::figures::median;
use super::{Options, http, runtime};

pub(super) struct Sdk {
    pub(super) cached_ns: f64,
    cold_callers: usize,
    pub(super) cold_requests: usize,
    middleware: Middleware,
}

/// Sequential `GET`s per second through a reqwest-middleware chain with `TokenMiddleware`
/// against plain reqwest with the same `Authorization` header set by hand, in interleaved
/// rounds; the ratio is the median of the per-round ratios (as the validator's).
struct Middleware {
    plain: f64,
    middleware: f64,
    ratio: f64,
}

impl Middleware {
    /// What the middleware adds to one request.
    fn added_us(&self) -> f64 {
        1e6 / self.middleware - 1e6 / self.plain
    }
}

impl Sdk {
    /// The report's line.
    pub(super) fn summary(&self) -> String {
        format!(
            "  cached token(): {:.0} ns/op; {} concurrent callers on a cold cache made {} token request(s)\n  \
             TokenMiddleware {:>7.0} req/s vs plain reqwest with the header {:>7.0} req/s (GET jwks.json, interleaved rounds): ratio {:.2}, {:+.1} µs per request",
            self.cached_ns,
            self.cold_callers,
            self.cold_requests,
            self.middleware.middleware,
            self.middleware.plain,
            self.middleware.ratio,
            self.middleware.added_us()
        )
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "cached_token_ns": self.cached_ns,
            "cold_callers": self.cold_callers,
            "cold_requests": self.cold_requests,
            "middleware": {
                "requests_per_second": self.middleware.middleware,
                "plain_reqwest_requests_per_second": self.middleware.plain,
                "ratio": self.middleware.ratio,
                "ratio_method": "median of per-round ratios, TokenMiddleware and plain reqwest rounds interleaved",
                "added_us_per_request": self.middleware.added_us(),
            },
        })
    }
}

/// Cached `token()` cost, how many requests 10,000 callers on a cold cache make, and the
/// middleware's cost per request against `api_url`.
pub(super) fn measure(
    token_url: &str,
    admin: &str,
    api_url: &str,
    options: &Options,
) -> Result<Sdk> {
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
        let middleware = middleware_overhead(&client, api_url, options.micro()).await?;
        Ok(Sdk {
            cached_ns,
            cold_callers: callers,
            cold_requests,
            middleware,
        })
    })
}

/// `TokenMiddleware` against plain reqwest with the token's header set by hand, both on one
/// connection each, one request at a time, in interleaved rounds that alternate which goes first.
async fn middleware_overhead(
    tokens: &TokenClient,
    api_url: &str,
    duration: Duration,
) -> Result<Middleware> {
    let header = tokens.token().await?.authorization_header().clone();
    let plain = http()?;
    let chain = reqwest_middleware::ClientBuilder::new(http()?)
        .with(TokenMiddleware::new(tokens.clone()))
        .build();
    let plain_get = || async {
        let response = plain
            .get(api_url)
            .header(reqwest::header::AUTHORIZATION, header.clone())
            .send()
            .await?;
        ensure!(
            response.status() == 200,
            "GET {api_url}: {}",
            response.status()
        );
        response.bytes().await?;
        Ok(())
    };
    let middleware_get = || async {
        let response = chain.get(api_url).send().await?;
        ensure!(
            response.status() == 200,
            "GET {api_url}: {}",
            response.status()
        );
        response.bytes().await?;
        Ok(())
    };
    // Connections open, pages faulted in: not part of the rates.
    rate(duration / 10, plain_get).await?;
    rate(duration / 10, middleware_get).await?;
    const ROUNDS: u32 = 7;
    let round = duration / ROUNDS;
    let (mut plains, mut middlewares, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for index in 0..ROUNDS {
        let (plain_rate, middleware_rate) = if index % 2 == 0 {
            let plain_rate = rate(round, plain_get).await?;
            (plain_rate, rate(round, middleware_get).await?)
        } else {
            let middleware_rate = rate(round, middleware_get).await?;
            (rate(round, plain_get).await?, middleware_rate)
        };
        plains.push(plain_rate);
        middlewares.push(middleware_rate);
        ratios.push(middleware_rate / plain_rate);
    }
    Ok(Middleware {
        plain: median(plains),
        middleware: median(middlewares),
        ratio: median(ratios),
    })
}

/// Sequential calls of `request` per second over `duration`.
async fn rate<F, Fut>(duration: Duration, request: F) -> Result<f64>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let started = Instant::now();
    let mut done: u32 = 0;
    while started.elapsed() < duration {
        request().await?;
        done += 1;
    }
    Ok(f64::from(done) / started.elapsed().as_secs_f64())
}
