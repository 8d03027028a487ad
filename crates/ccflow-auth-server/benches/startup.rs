//! Embedded start-up cost: `start()` → first token received, with a fixture key; and, apart,
//! what generating a key would add (the reason tests use fixture keys).

use std::hint::black_box;
use std::time::Duration;

use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use criterion::{Criterion, criterion_group, criterion_main};

const FIXTURE_KEY: &str = include_str!("../../../fixtures/keys/rs256-1.pem");

fn start_to_first_token(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    c.bench_function("embedded start to first token (fixture key)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let server = MockAuthServer::builder()
                    .signing_key(SigningKey::from_pem(FIXTURE_KEY).unwrap())
                    .client(Client::new("bench", "bench-secret"))
                    .start()
                    .await
                    .unwrap();
                let response = http
                    .post(server.token_url())
                    .basic_auth("bench", Some("bench-secret"))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                black_box(response.bytes().await.unwrap());
                server.shutdown().await;
            });
        });
    });
}

fn key_generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("key generation");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("RSA 2048", |b| {
        b.iter(|| black_box(SigningKey::generate_rsa(2048).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, start_to_first_token, key_generation);
criterion_main!(benches);
