//! One crypto backend per build (docs/embedding.md "A lighter crypto backend"): the dependency
//! graph of each feature set, read with `cargo tree`, has its backend's crates and not the
//! other's; and this test binary runs on the backend its own features chose.

#[path = "../../test-support/cargo_tree.rs"]
mod cargo_tree;

/// The crates of `cargo tree -p ccflow-auth-server -e normal` with `features` (`None`: the
/// defaults; `Some(list)`: `--no-default-features --features list`).
fn crates(features: Option<&str>) -> Vec<String> {
    cargo_tree::crates(
        env!("CARGO_MANIFEST_DIR"),
        "ccflow-auth-server",
        features,
        false,
    )
}

/// The C (and assembly) crypto libraries: what `rust-crypto` exists to leave out.
const C_CRYPTO: [&str; 4] = ["aws-lc-rs", "aws-lc-sys", "ring", "openssl-sys"];
/// What only the RustCrypto backend compiles (sha2 and rsa are in both graphs: rsa generates
/// keys on either backend).
const RUST_CRYPTO_ONLY: [&str; 4] = ["p256", "p384", "ed25519-dalek", "hmac"];

#[track_caller]
fn check(features: Option<&str>, present: &[&str], absent: &[&str]) {
    let all = crates(features);
    for name in present {
        assert!(
            all.iter().any(|found| found == name),
            "{features:?} compiles {name}: {all:?}"
        );
    }
    for name in absent {
        assert!(
            !all.iter().any(|found| found == name),
            "{features:?} must not compile {name}"
        );
    }
}

#[test]
fn each_feature_set_compiles_exactly_one_crypto_backend() {
    // The embedder's lighter build: no C crypto at all.
    check(Some("rust-crypto"), &RUST_CRYPTO_ONLY, &C_CRYPTO);
    // The embedder's build as before, naming its backend.
    check(
        Some("aws-lc-rs"),
        &["aws-lc-rs", "aws-lc-sys"],
        &RUST_CRYPTO_ONLY,
    );
    // The binary's (the defaults) is unchanged: aws-lc-rs only.
    check(None, &["aws-lc-rs", "clap", "rustls"], &RUST_CRYPTO_ONLY);
    // HTTPS is rustls on aws-lc-rs whatever signs the tokens.
    check(Some("rust-crypto,tls"), &["aws-lc-rs", "p256"], &["ring"]);
}

/// Guards the `--no-default-features --features rust-crypto` test run (.ci/run): if a
/// dependency of the test build (a dev-dependency turning ccflow-client's or ccflow-tls's
/// default features back on) enabled aws-lc-rs, every other test here would silently run on
/// aws-lc-rs instead of RustCrypto.
#[test]
fn this_test_build_runs_on_the_backend_its_features_chose() {
    let expected = if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "rust-crypto"
    };
    assert_eq!(ccflow_auth_server::protocol::crypto::BACKEND, expected);
}
