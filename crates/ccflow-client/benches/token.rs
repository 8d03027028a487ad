//! SDK costs: the cached `token()` path (polled directly, no executor overhead), and a full
//! fetch round trip against the embedded ccflow-auth-server beside a raw reqwest POST of the
//! same request (the baseline, measured in the same run).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use ccflow_client::TokenClient;
use criterion::{Criterion, criterion_group, criterion_main};

const FIXTURE_KEY: &str = include_str!("../../../fixtures/keys/rs256-1.pem");

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(async {
        MockAuthServer::builder()
            .signing_key(SigningKey::from_pem(FIXTURE_KEY).unwrap())
            .client(Client::new("bench", "bench-secret").scopes(["a"]))
            .start()
            .await
            .unwrap()
    });
    let client = TokenClient::builder()
        .token_url(server.token_url())
        .credentials("bench", "bench-secret")
        .build()
        .unwrap();
    runtime.block_on(client.token()).unwrap();

    c.bench_function("token() cached", |b| {
        let mut context = Context::from_waker(Waker::noop());
        b.iter(|| {
            let mut future = pin!(client.token());
            match future.as_mut().poll(&mut context) {
                Poll::Ready(result) => black_box(result.unwrap()),
                Poll::Pending => unreachable!("a cached token is returned at once"),
            };
        });
    });

    let mut group = c.benchmark_group("fetch round trip (embedded ccflow-auth-server)");
    let raw = reqwest::Client::new();
    group.bench_function("baseline: raw reqwest POST", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = raw
                    .post(server.token_url())
                    .basic_auth("bench", Some("bench-secret"))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                black_box(response.bytes().await.unwrap());
            });
        });
    });
    group.bench_function("ccflow-client token() after invalidate", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let token = client.token().await.unwrap();
                client.invalidate(&token);
                black_box(client.token().await.unwrap());
            });
        });
    });
    group.finish();
}

criterion_group!(token, benches);
criterion_main!(token);
