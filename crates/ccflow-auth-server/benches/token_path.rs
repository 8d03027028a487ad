//! What the server adds around a token's signature: one `POST /oauth2/token` through the whole
//! actix application (routing, limits, Basic authentication, form parsing, claims, signing,
//! the response JSON, the journal), in process and without a socket, against the raw aws-lc-rs
//! signature of a token of the same size with the same key, in the same run.
//!
//! Run: `cargo bench -p ccflow-auth-server --bench token_path`. The difference between the two
//! medians is the server's own cost per token; `cargo xtask bench` adds the HTTP/1.1 codec and
//! the kernel's TCP on top of it.

use std::hint::black_box;

use actix_web::http::header;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, rt::System};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RsaKeyPair;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ccflow_auth_server::bench_support::encoding_key;
use ccflow_auth_server::{Client, MockAuthServer, SigningKey, configure};
use criterion::{Criterion, criterion_group, criterion_main};

const RSA: &str = include_str!("../../../fixtures/keys/rs256-1.pem");
const EC: &str = include_str!("../../../fixtures/keys/es256-1.pem");

fn token_path(c: &mut Criterion) {
    for (name, pem) in [("RS256", RSA), ("ES256", EC)] {
        let key = SigningKey::from_pem(pem).expect("fixture key");
        let server = MockAuthServer::builder()
            .signing_key(key.clone())
            .client(
                Client::new("bench", "bench-secret")
                    .scopes(["items:read", "items:write"])
                    .audiences(["items-api"]),
            )
            .into_app("http://127.0.0.1:8080")
            .expect("the server builds");
        let system = System::new();
        let app = system.block_on(init_service(App::new().configure(configure(server))));
        let authorization = format!("Basic {}", STANDARD.encode("bench:bench-secret"));
        let request = || {
            TestRequest::post()
                .uri("/oauth2/token")
                .insert_header((header::AUTHORIZATION, authorization.as_str()))
                .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload("grant_type=client_credentials")
                .to_request()
        };
        // One real answer first: the bench must measure tokens, not refusals.
        let body = system.block_on(async {
            let response = call_service(&app, request()).await;
            assert_eq!(response.status(), 200);
            read_body(response).await
        });
        let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let token = answer["access_token"].as_str().expect("a token").to_owned();
        let signing_input = token.rsplit_once('.').expect("a JWS").0.as_bytes().to_vec();

        let mut group = c.benchmark_group(format!("token path {name}"));
        let rng = SystemRandom::new();
        let der = encoding_key(&key).as_bytes();
        if name == "RS256" {
            let pair = RsaKeyPair::from_der(der).expect("RSA key");
            let mut signature = vec![0; pair.public_modulus_len()];
            group.bench_function("baseline: raw aws-lc-rs signature", |b| {
                b.iter(|| {
                    pair.sign(
                        &RSA_PKCS1_SHA256,
                        &rng,
                        black_box(&signing_input),
                        &mut signature,
                    )
                    .expect("signs");
                });
            });
        } else {
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).expect("EC key");
            group.bench_function("baseline: raw aws-lc-rs signature", |b| {
                b.iter(|| pair.sign(&rng, black_box(&signing_input)).expect("signs"));
            });
        }
        group.bench_function("POST /oauth2/token through the actix app", |b| {
            b.iter(|| {
                system.block_on(async {
                    let response = call_service(&app, request()).await;
                    assert_eq!(response.status(), 200);
                    black_box(read_body(response).await)
                })
            });
        });
        group.finish();
    }
}

criterion_group!(benches, token_path);
criterion_main!(benches);
