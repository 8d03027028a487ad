//! Validations per second with a warm JWKS cache, against the physical baseline (a raw aws-lc-rs
//! verification of the same token with the key parsed once; the target is at least 0.8 of it)
//! and against a careful direct use of `jsonwebtoken::decode`, in the same run.
//!
//! Run: `cargo bench -p ccflow-resource-api --bench validate`. The validator adds the
//! Authorization-free pipeline around the signature: JWS shape, header checks, key lookup,
//! claims decoding and checks.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

/// The public key as aws-lc-rs parses it once: PKCS#1 DER for RSA, the SEC1 point for EC.
fn raw_public_key(case: &Case) -> ParsedPublicKey {
    let (algorithm, der): (&'static dyn VerificationAlgorithm, Vec<u8>) = match case.algorithm {
        Algorithm::RS256 => {
            let pair = RsaKeyPair::from_der(
                EncodingKey::from_rsa_pem(&fixture("rs256-1.pem"))
                    .expect("RSA key")
                    .as_bytes(),
            )
            .expect("RSA key pair");
            (
                &RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref().to_vec(),
            )
        }
        _ => {
            let pair = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                EncodingKey::from_ec_pem(&fixture("client-es256.pem"))
                    .expect("EC key")
                    .as_bytes(),
            )
            .expect("EC key pair");
            (
                &ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref().to_vec(),
            )
        }
    };
    ParsedPublicKey::new(algorithm, der).expect("public key")
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
        let (signing_input, signature) = case.token.rsplit_once('.').expect("a JWS");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        let raw_key = raw_public_key(case);
        raw_key
            .verify_sig(signing_input.as_bytes(), &signature)
            .expect("the raw baseline verifies the token");
        group.bench_function(
            "baseline: raw aws-lc-rs verify, key parsed once",
            |bencher| {
                bencher.iter(|| {
                    raw_key
                        .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                        .expect("valid");
                });
            },
        );
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
