//! The backend's known answers (the same constants whichever backend a build has, so both give
//! byte-identical tokens), and with both features on, the two backends side by side.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey};

use super::*;

const RSA: &str = include_str!("../../../../fixtures/keys/rs256-1.pem");
const EC: &str = include_str!("../../../../fixtures/keys/es256-1.pem");

/// `openssl dgst -sha256 -sign fixtures/keys/rs256-1.pem` of `header.payload`, base64url:
/// RSASSA-PKCS1-v1_5 is deterministic, so every backend must give exactly these bytes.
const RS256_SIGNATURE: &str = "LjaixO0WaS8WhRX0q_63VHSqyP_K1magjjd68-TLWqKl6DW5LkZQjdURUv25E2NDgNCU76pWY65YCqOIy2UoJWZRQaYhTPiXLIBLKA4WpdXtfaaBvSCQbwqJzHk1sHjiLX1JILwv1cZbZ8H9hsXuURks9ICCI2O9OJt0zBEbzRkj9oN7BJcZ64q1pXhPo8APfRuqQ3v1P7dPjKnX4PJaisz_5KpxaNDfd82lf_a_Ud-0qsiexFs8FxV92JGc7UlkzmdpjbqutJTJT7Qf3F5z5OTFpwN0JpnR1AsiyjFZ5cCqzUpSFDadiTW6RZMcj7n-EHpm9P_yrxac03yE4CZbQQ";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn pkcs8(pem: &str) -> Vec<u8> {
    ::pem::parse(pem).unwrap().into_contents()
}

#[test]
fn the_backend_is_the_one_the_features_choose() {
    let expected = if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "rust-crypto"
    };
    assert_eq!(BACKEND, expected);
}

#[test]
fn digests_and_macs_give_the_known_answers() {
    // FIPS 180-4 example "abc"; the empty string.
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // Python: hmac.new(bytes(range(32)), b"1000", hashlib.sha256).hexdigest()
    let key: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let key = HmacSha256Key(backend::HmacSha256Key::new(&key));
    let tag = key.sign(b"1000");
    assert_eq!(
        hex(&tag),
        "b8e5bbbd0238f235e525358bc730349374bd6367af63af612f8af6b500ce5b96"
    );
    assert!(key.verify(b"1000", &tag));
    assert!(!key.verify(b"1001", &tag));
    assert!(!key.verify(b"1000", &tag[..31]));
}

#[test]
fn random_bytes_differ_and_fresh_hmac_keys_differ() {
    let rng = SystemRandom::new();
    let (mut a, mut b) = ([0_u8; 16], [0_u8; 16]);
    rng.fill(&mut a).unwrap();
    rng.fill(&mut b).unwrap();
    assert_ne!(a, b);
    let one = HmacSha256Key::generate(&rng).unwrap();
    let other = HmacSha256Key::generate(&rng).unwrap();
    assert_ne!(one.sign(b"m"), other.sign(b"m"));
}

#[test]
fn rs256_signatures_are_the_known_bytes_through_jsonwebtoken_and_dpop_keys() {
    crate::jwt::install_provider();
    let key = EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(b"header.payload", &key, Algorithm::RS256).unwrap();
    assert_eq!(signature, RS256_SIGNATURE);
    let private = PrivateKey::from_pkcs8(&pkcs8(RSA)).unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(private.sign(Algorithm::RS256, b"header.payload").unwrap()),
        RS256_SIGNATURE
    );
}

#[test]
fn a_p256_key_from_a_scalar_has_the_known_public_point_and_signs() {
    crate::jwt::install_provider();
    // `openssl ec -pubout` of the RFC 5915 key with scalar 01 02 .. 20.
    let point = "04515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f4536be3a50f318fbf9a5475902a221502bef0d57e08c53b2cc0a56f17d9f9354";
    let scalar: [u8; 32] = std::array::from_fn(|i| u8::try_from(i + 1).unwrap());
    let der = p256_pkcs8_from_scalar(&scalar).unwrap();
    let PublicMembers::P256 { x, y } = PrivateKey::from_pkcs8(&der).unwrap().public_members()
    else {
        panic!("a P-256 key")
    };
    assert_eq!(format!("04{}{}", hex(&x), hex(&y)), point);
    let key = EncodingKey::from_ec_der(&der);
    let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
        panic!("an EC JWK")
    };
    assert_eq!(URL_SAFE_NO_PAD.decode(&ec.x).unwrap(), x);
    let public = jsonwebtoken::DecodingKey::from_ec_components(&ec.x, &ec.y).unwrap();
    let signature = jsonwebtoken::crypto::sign(b"m", &key, Algorithm::ES256).unwrap();
    assert!(jsonwebtoken::crypto::verify(&signature, b"m", &public, Algorithm::ES256).unwrap());
    // Zero and the group order are not scalars.
    assert!(p256_pkcs8_from_scalar(&[0; 32]).is_none());
    assert!(p256_pkcs8_from_scalar(&[0xff; 32]).is_none());
    assert!(p256_generate_pkcs8().is_ok_and(|der| PrivateKey::from_pkcs8(&der).is_some()));
}

#[test]
fn pkcs8_keys_load_by_type_and_others_are_refused() {
    let cases: [(&[u8], Option<&str>); 4] = [
        (&pkcs8(RSA), Some("rsa")),
        (&pkcs8(EC), Some("p256")),
        (b"not a key", None),
        (&[0x30, 0x03, 0x02, 0x01, 0x00], None),
    ];
    for (der, expected) in cases {
        let kind = PrivateKey::from_pkcs8(der).map(|key| match key.public_members() {
            PublicMembers::P256 { .. } => "p256",
            PublicMembers::Ed25519 { .. } => "ed25519",
            PublicMembers::Rsa { .. } => "rsa",
        });
        assert_eq!(kind, expected);
    }
}

/// With both features (`cargo test -p ccflow-protocol --features aws-lc-rs,rust-crypto`), the
/// two backends side by side: equal digests, tags and RS256 signatures, and each one's
/// randomized signatures verified by the other's jsonwebtoken provider.
#[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
mod both_backends {
    use jsonwebtoken::crypto::CryptoProvider;
    use jsonwebtoken::{Algorithm, DecodingKey};

    use super::super::{PublicMembers, aws_lc, rust_crypto};
    use super::*;

    fn decoding(members: &PublicMembers) -> DecodingKey {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match members {
            PublicMembers::P256 { x, y } => DecodingKey::from_ec_components(&b64(x), &b64(y)),
            PublicMembers::Ed25519 { x } => DecodingKey::from_ed_components(&b64(x)),
            PublicMembers::Rsa { n, e } => DecodingKey::from_rsa_components(&b64(n), &b64(e)),
        }
        .unwrap()
    }

    fn verifies(
        provider: &CryptoProvider,
        algorithm: Algorithm,
        key: &DecodingKey,
        signature: &[u8],
    ) -> bool {
        (provider.verifier_factory)(&algorithm, key)
            .is_ok_and(|verifier| verifier.verify(b"message", &signature.to_vec()).is_ok())
    }

    #[test]
    fn digests_macs_and_rs256_signatures_are_equal() {
        for data in [&b""[..], b"abc", &[0xa5; 1000]] {
            assert_eq!(aws_lc::sha256(data), rust_crypto::sha256(data));
        }
        let key = [7_u8; 32];
        let (aws, rust) = (
            aws_lc::HmacSha256Key::new(&key),
            rust_crypto::HmacSha256Key::new(&key),
        );
        assert_eq!(aws.sign(b"1000"), rust.sign(b"1000"));
        assert!(aws.verify(b"1000", &rust.sign(b"1000")));
        assert!(rust.verify(b"1000", &aws.sign(b"1000")));
        let der = pkcs8(RSA);
        let (aws, rust) = (
            aws_lc::PrivateKey::from_pkcs8(&der).unwrap(),
            rust_crypto::PrivateKey::from_pkcs8(&der).unwrap(),
        );
        assert_eq!(aws.public_members(), rust.public_members());
        assert_eq!(
            aws.sign(Algorithm::RS256, b"message").unwrap(),
            rust.sign(Algorithm::RS256, b"message").unwrap()
        );
        let scalar = [0x42_u8; 32];
        let keys = [
            aws_lc::p256_pkcs8_from_scalar(&scalar).unwrap(),
            rust_crypto::p256_pkcs8_from_scalar(&scalar).unwrap(),
        ]
        .map(|der| {
            aws_lc::PrivateKey::from_pkcs8(&der)
                .unwrap()
                .public_members()
        });
        assert_eq!(keys[0], keys[1]);
    }

    #[test]
    fn each_backends_signatures_verify_with_the_other() {
        let rsa = pkcs8(RSA);
        let ec = pkcs8(EC);
        let cases: [(Algorithm, aws_lc::PrivateKey, rust_crypto::PrivateKey); 4] = [
            (
                Algorithm::PS256,
                aws_lc::PrivateKey::from_pkcs8(&rsa).unwrap(),
                rust_crypto::PrivateKey::from_pkcs8(&rsa).unwrap(),
            ),
            (
                Algorithm::ES256,
                aws_lc::PrivateKey::from_pkcs8(&ec).unwrap(),
                rust_crypto::PrivateKey::from_pkcs8(&ec).unwrap(),
            ),
            (
                Algorithm::ES256,
                aws_lc::PrivateKey::generate_p256().unwrap(),
                rust_crypto::PrivateKey::generate_p256().unwrap(),
            ),
            (
                Algorithm::EdDSA,
                aws_lc::PrivateKey::generate_ed25519().unwrap(),
                rust_crypto::PrivateKey::generate_ed25519().unwrap(),
            ),
        ];
        let aws_provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
        let rust_provider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
        for (algorithm, aws, rust) in cases {
            let aws_signature = aws.sign(algorithm, b"message").unwrap();
            let rust_signature = rust.sign(algorithm, b"message").unwrap();
            let aws_public = decoding(&aws.public_members());
            let rust_public = decoding(&rust.public_members());
            assert!(
                verifies(rust_provider, algorithm, &aws_public, &aws_signature),
                "{algorithm:?}"
            );
            assert!(
                verifies(aws_provider, algorithm, &rust_public, &rust_signature),
                "{algorithm:?}"
            );
            let mut tampered = rust_signature.clone();
            tampered[0] ^= 1;
            assert!(
                !verifies(aws_provider, algorithm, &rust_public, &tampered),
                "{algorithm:?}"
            );
        }
    }
}
