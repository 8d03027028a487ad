//! Validations per second with a warm JWKS cache, against raw `jsonwebtoken::decode` of the
//! same token in the same run (the issue's target: at least 0.8 of raw).
//!
//! Run: `cargo bench -p ccflow-resource-api --bench validate`. Both sides verify the same
//! signature with the same key representation (RSA `n`/`e`, EC point); the validator adds the
//! Authorization-free pipeline: JWS shape, header checks, key lookup, claim checks.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use ccflow_protocol::AccessTokenClaims;
use ccflow_resource_api::{Algorithm, Validator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk as JwtJwk};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "items-api";

fn fixture(name: &str) -> Vec<u8> {
    let full = format!("{}/../../fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|error| panic!("cannot read {full}: {error}"))
}

/// One signing setup: the token, the public JWK for the JWKS, the raw decoding key.
struct Case {
    name: &'static str,
    algorithm: Algorithm,
    token: String,
    jwk: serde_json::Value,
    decoding_key: DecodingKey,
}

fn case(name: &'static str, algorithm: Algorithm, encoding_key: &EncodingKey) -> Case {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let kid = format!("{name}-kid");
    let mut header = Header::new(algorithm);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(kid.clone());
    let claims = json!({
        "iss": ISSUER, "sub": "svc", "client_id": "svc", "aud": AUDIENCE,
        "iat": now, "nbf": now, "exp": now + 86_400, "jti": "bench",
        "scope": "items:read items:write",
    });
    let token = jsonwebtoken::encode(&header, &claims, encoding_key).expect("signs");
    let public = JwtJwk::from_encoding_key(encoding_key, algorithm).expect("public JWK");
    let (jwk, decoding_key) = match &public.algorithm {
        AlgorithmParameters::RSA(rsa) => (
            json!({"kty": "RSA", "kid": kid, "n": rsa.n, "e": rsa.e}),
            DecodingKey::from_rsa_components(&rsa.n, &rsa.e).expect("RSA key"),
        ),
        AlgorithmParameters::EllipticCurve(ec) => (
            json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": ec.x, "y": ec.y}),
            DecodingKey::from_ec_components(&ec.x, &ec.y).expect("EC key"),
        ),
        _ => panic!("unexpected key type"),
    };
    Case {
        name,
        algorithm,
        token,
        jwk,
        decoding_key,
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    // What a careful direct user of jsonwebtoken would write (DESIGN.md "Crypto").
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    validation
}

fn bench(criterion: &mut Criterion) {
    // The provider every ccflow crate installs (the validator builder does it too).
    ccflow_protocol::jwt::install_provider();
    let cases = [
        case(
            "RS256",
            Algorithm::RS256,
            &EncodingKey::from_rsa_pem(&fixture("rs256-1.pem")).expect("RSA key"),
        ),
        case(
            "ES256",
            Algorithm::ES256,
            &EncodingKey::from_ec_pem(&fixture("client-es256.pem")).expect("EC key"),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let jwks = json!({"keys": cases.iter().map(|case| &case.jwk).collect::<Vec<_>>()});
    let (server, validator) = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/jwks.json"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(&jwks)
                    .insert_header("cache-control", "max-age=3600"),
            )
            .mount(&server)
            .await;
        let validator = Validator::builder()
            .issuer(ISSUER)
            .jwks_url(format!("{}/jwks.json", server.uri()))
            .audience(AUDIENCE)
            .build()
            .expect("validator builds");
        validator.refresh_keys().await.expect("keys load");
        (server, validator)
    });

    for case in &cases {
        let raw_validation = validation(case.algorithm);
        // Both sides must accept the token, or the comparison means nothing.
        jsonwebtoken::decode::<AccessTokenClaims>(&case.token, &case.decoding_key, &raw_validation)
            .expect("raw decode accepts the token");
        validator
            .validate(&case.token)
            .now_or_never()
            .expect("a warm cache never waits")
            .expect("the validator accepts the token");

        let mut group = criterion.benchmark_group(format!("validate {}", case.name));
        group.throughput(Throughput::Elements(1));
        group.bench_function("ccflow validator, warm cache", |bencher| {
            bencher.iter(|| {
                // A warm cache completes on the first poll: no runtime in the measurement.
                validator
                    .validate(black_box(&case.token))
                    .now_or_never()
                    .expect("a warm cache never waits")
                    .expect("valid")
            });
        });
        group.bench_function("jsonwebtoken::decode, raw", |bencher| {
            bencher.iter(|| {
                jsonwebtoken::decode::<AccessTokenClaims>(
                    black_box(&case.token),
                    &case.decoding_key,
                    &raw_validation,
                )
                .expect("valid")
            });
        });
        group.finish();
    }
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
