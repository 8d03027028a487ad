//! Each integration feature compiles only what it needs (docs/client.md "Features"): the
//! dependency graph of each feature set, read with `cargo tree`, has its crates and none of the
//! others'.

#[path = "../../test-support/cargo_tree.rs"]
mod cargo_tree;

/// The crates of `cargo tree -p ccflow-client -e normal --no-default-features --features
/// <features>`, directly (`depth 1`) or anywhere below.
fn crates(features: &str, direct_only: bool) -> Vec<String> {
    cargo_tree::crates(
        env!("CARGO_MANIFEST_DIR"),
        "ccflow-client",
        Some(features),
        direct_only,
    )
}

#[track_caller]
fn check(features: &str, direct: &[&str], nowhere: &[&str]) {
    let direct_crates = crates(features, true);
    let all_crates = crates(features, false);
    for name in direct {
        assert!(
            direct_crates.iter().any(|found| found == name),
            "--features '{features}' depends on {name}: {direct_crates:?}"
        );
    }
    for name in nowhere {
        assert!(
            !all_crates.iter().any(|found| found == name),
            "--features '{features}' must not compile {name}"
        );
    }
}

#[test]
fn each_integration_compiles_only_its_own_crates() {
    // The integrations' own crates; the tower traits and `http` are in reqwest's tree anyway,
    // so for them only the direct dependency is checked.
    let middleware_only = ["reqwest-middleware", "async-trait"];
    let test_only = ["tonic", "reqwest-retry", "tokio-stream"];
    check("", &[], &[&middleware_only[..], &test_only[..]].concat());
    check("reqwest-middleware", &middleware_only, &test_only);
    check(
        "tower",
        &["tower-layer", "tower-service", "http"],
        &[&middleware_only[..], &test_only[..]].concat(),
    );
    let direct_default = crates("", true);
    for name in ["tower-layer", "tower-service", "http", "reqwest-middleware"] {
        assert!(
            !direct_default.iter().any(|found| found == name),
            "the default build does not depend on {name} itself"
        );
    }
}
