//! Each adapter feature compiles only its framework (docs/resource-api.md "Features"): the
//! dependency graph of each feature set, read with `cargo tree`, has its framework's crates and
//! none of the other's.

#[path = "../../test-support/cargo_tree.rs"]
mod cargo_tree;

/// The crates of `cargo tree -p ccflow-resource-api -e normal --no-default-features
/// --features <features>` (or the default features), directly (`depth 1`) or anywhere below.
fn crates(features: Option<&str>, direct_only: bool) -> Vec<String> {
    cargo_tree::crates(
        env!("CARGO_MANIFEST_DIR"),
        "ccflow-resource-api",
        features,
        direct_only,
    )
}

/// `features` (`None`: the defaults) depends on each of `direct` itself and compiles no crate
/// whose name starts with one of `nowhere`.
#[track_caller]
fn check(features: Option<&str>, direct: &[&str], nowhere: &[&str]) {
    let direct_crates = crates(features, true);
    let all_crates = crates(features, false);
    for name in direct {
        assert!(
            direct_crates.iter().any(|found| found == name),
            "{features:?} depends on {name}: {direct_crates:?}"
        );
    }
    for prefix in nowhere {
        let found: Vec<&String> = all_crates
            .iter()
            .filter(|found| found.starts_with(prefix))
            .collect();
        assert!(found.is_empty(), "{features:?} must not compile {found:?}");
    }
}

#[test]
fn each_adapter_compiles_only_its_own_framework() {
    // The axum adapter's own crates; tower's traits and `http` are in reqwest's tree anyway.
    let axum_only = ["axum", "matchit"];
    // Nor the sample API binary's command line and configuration file.
    let sample_api_only = ["actix", "clap", "toml", "ccflow-process"];
    check(
        Some("axum"),
        &["axum", "axum-core", "tower-layer", "tower-service", "http"],
        &sample_api_only,
    );
    check(Some("actix"), &["actix-web"], &axum_only);
    // The defaults are today's: the actix adapter and the sample API, no axum.
    check(None, &["actix-web", "clap"], &axum_only);
    check(
        Some(""),
        &[],
        &[&sample_api_only[..], &axum_only[..]].concat(),
    );
}
