//! What one token signature costs: raw aws-lc-rs with the key parsed once (the physical
//! baseline), jsonwebtoken's default aws-lc provider (re-parses the key per token), and ccflow's
//! provider (parsed key cached). Same key, same signing input, same run.

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use ccflow_auth_server::SigningKey;
use ccflow_auth_server::bench_support::{
    cached_provider_sign, default_provider_sign, encoding_key,
};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;

const RSA: &str = include_str!("../../../fixtures/keys/rs256-1.pem");
const EC: &str = include_str!("../../../fixtures/keys/es256-1.pem");
/// A typical signing input: base64url(header) "." base64url(claims).
const MESSAGE: &[u8] = b"eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJSUzI1NiIsImtpZCI6IlJMMzNFYnBudGlJT0t3ZERaNkw1VWJsTU56RDVudDJma3NlVU5WLTF2Z0kifQ.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjgwODAiLCJzdWIiOiJkZW1vLWNsaWVudCIsImF1ZCI6ImRlbW8tYXBpIiwiZXhwIjoxNzk1NTM5NDEzLCJpYXQiOjE3OTU1MzU4MTMsIm5iZiI6MTc5NTUzNTgxMywianRpIjoiT1UxRnYxSG03a09GQWhiSjRCRENrUSIsImNsaWVudF9pZCI6ImRlbW8tY2xpZW50Iiwic2NvcGUiOiJkZW1vLnJlYWQgZGVtby53cml0ZSJ9";

fn signing(c: &mut Criterion) {
    let rsa = SigningKey::from_pem(RSA).unwrap();
    let ec = SigningKey::from_pem(EC).unwrap();
    let raw = RsaKeyPair::from_der(encoding_key(&rsa).as_bytes()).unwrap();
    let rng = SystemRandom::new();
    let mut group = c.benchmark_group("RS256 signature");
    group.bench_function("baseline: raw aws-lc-rs, key parsed once", |b| {
        let mut signature = vec![0; raw.public_modulus_len()];
        b.iter(|| {
            raw.sign(&RSA_PKCS1_SHA256, &rng, black_box(MESSAGE), &mut signature)
                .unwrap()
        });
    });
    group.bench_function("jsonwebtoken default aws-lc provider", |b| {
        b.iter(|| default_provider_sign(Algorithm::RS256, encoding_key(&rsa), black_box(MESSAGE)));
    });
    group.bench_function("ccflow provider (parsed key cached)", |b| {
        b.iter(|| cached_provider_sign(Algorithm::RS256, encoding_key(&rsa), black_box(MESSAGE)));
    });
    group.finish();
    let mut group = c.benchmark_group("ES256 signature");
    group.bench_function("jsonwebtoken default aws-lc provider", |b| {
        b.iter(|| default_provider_sign(Algorithm::ES256, encoding_key(&ec), black_box(MESSAGE)));
    });
    group.bench_function("ccflow provider (parsed key cached)", |b| {
        b.iter(|| cached_provider_sign(Algorithm::ES256, encoding_key(&ec), black_box(MESSAGE)));
    });
    group.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
