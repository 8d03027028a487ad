//! The two generated crates of `cargo xtask embed-build`: their manifests, at the versions of
//! the workspace's Cargo.lock, and their one test each.

use std::path::Path;

use anyhow::{Context as _, Result};

/// The two crates compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Embedder {
    Ccflow,
    Wiremock,
}

impl Embedder {
    pub(super) const BOTH: [Self; 2] = [Self::Ccflow, Self::Wiremock];

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Ccflow => "ccflow",
            Self::Wiremock => "wiremock",
        }
    }

    pub(super) fn package(self) -> String {
        format!("embed-{}", self.name())
    }

    /// The generated crate's manifest. `versions` are the workspace's locked versions;
    /// `features` the auth server's (the ccflow crate only).
    fn manifest(self, root: &Path, versions: &Versions, features: &[String]) -> String {
        let mock = match self {
            // As docs/embedding.md tells test-only users: without the binary's `cli` feature,
            // naming the crypto backend.
            Self::Ccflow => format!(
                "ccflow-auth-server = {{ path = {}, default-features = false, features = [{}] }}",
                toml_string(&root.join("crates/ccflow-auth-server").display().to_string()),
                features
                    .iter()
                    .map(|feature| toml_string(feature))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Wiremock => format!("wiremock = \"{}\"", versions.wiremock),
        };
        format!(
            "[package]\n\
             name = \"{package}\"\n\
             version = \"0.0.0\"\n\
             edition = \"2024\"\n\
             publish = false\n\
             \n\
             [dev-dependencies]\n\
             {mock}\n\
             # The test's own HTTP client, the same in both crates: plain HTTP to 127.0.0.1.\n\
             reqwest = {{ version = \"{reqwest}\", default-features = false, features = [\"form\"] }}\n\
             tokio = {{ version = \"{tokio}\", features = [\"macros\", \"rt\"] }}\n\
             \n\
             # Its own workspace, wherever the temporary directory is.\n\
             [workspace]\n",
            package = self.package(),
            reqwest = versions.reqwest,
            tokio = versions.tokio,
        )
    }

    /// The one integration test: start the mock, fetch a token, check the answer.
    fn test_source(self) -> &'static str {
        match self {
            Self::Ccflow => CCFLOW_TEST,
            Self::Wiremock => WIREMOCK_TEST,
        }
    }
}

const CCFLOW_TEST: &str = r#"//! The minimal embedding: start ccflow's mock, fetch a token.

use ccflow_auth_server::{Client, MockAuthServer};

#[tokio::test]
async fn fetches_a_token_from_the_mock() {
    let server = MockAuthServer::builder()
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(server.token_url())
        .basic_auth("svc", Some("secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("\"access_token\""));
}
"#;

const WIREMOCK_TEST: &str = r##"//! The same test with wiremock: a mocked token endpoint, fetch a token.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn fetches_a_token_from_the_mock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let response = reqwest::Client::new()
        .post(format!("{}/token", server.uri()))
        .basic_auth("svc", Some("secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("\"access_token\""));
}
"##;

/// The versions the generated manifests ask for: those of the workspace's Cargo.lock.
#[derive(Debug)]
pub(super) struct Versions {
    wiremock: String,
    reqwest: String,
    tokio: String,
}

impl Versions {
    pub(super) fn from_lock(lock: &str) -> Result<Self> {
        let version = |name: &str| {
            locked_version(lock, name)
                .with_context(|| format!("{name} is not in the workspace's Cargo.lock"))
        };
        Ok(Self {
            wiremock: version("wiremock")?,
            reqwest: version("reqwest")?,
            tokio: version("tokio")?,
        })
    }
}

/// The highest version of `name` in a Cargo.lock (entries are sorted by name, then version).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = {}", toml_string(name));
    let mut lines = lock.lines();
    let mut found = None;
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            found = lines
                .next()
                .and_then(|next| next.trim().strip_prefix("version = "))
                .map(|version| version.trim_matches('"').to_owned());
        }
    }
    found
}

/// A TOML basic string (paths may hold backslashes or quotes).
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}
/// Writes the crate: manifest, an empty library, the test, and the workspace's Cargo.lock.
pub(super) fn generate(
    dir: &Path,
    root: &Path,
    embedder: Embedder,
    versions: &Versions,
    features: &[String],
    lock: &str,
) -> Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        embedder.manifest(root, versions, features),
    )?;
    std::fs::write(
        dir.join("src/lib.rs"),
        "//! Nothing: the crate exists for its test.\n",
    )?;
    std::fs::write(dir.join("tests/embed.rs"), embedder.test_source())?;
    // Cargo keeps the locked versions it can and drops the rest, so both crates build the
    // versions the workspace builds, from the local registry cache.
    std::fs::write(dir.join("Cargo.lock"), lock)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions() -> Versions {
        Versions {
            wiremock: "0.6.5".to_owned(),
            reqwest: "0.13.1".to_owned(),
            tokio: "1.48.0".to_owned(),
        }
    }

    fn features(list: &str) -> Vec<String> {
        list.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn locked_versions_come_from_the_lockfile_highest_last() {
        let lock = "[[package]]\nname = \"tokio\"\nversion = \"1.47.0\"\n\n\
                    [[package]]\nname = \"tokio\"\nversion = \"1.48.0\"\n\n\
                    [[package]]\nname = \"tokio-util\"\nversion = \"0.7.0\"\n";
        assert_eq!(locked_version(lock, "tokio").as_deref(), Some("1.48.0"));
        assert_eq!(locked_version(lock, "wiremock"), None);
    }

    #[test]
    fn the_workspace_lock_has_every_version_the_manifests_need() {
        let lock = std::fs::read_to_string(crate::root().join("Cargo.lock")).unwrap();
        Versions::from_lock(&lock).unwrap();
    }

    #[test]
    fn the_ccflow_manifest_takes_the_auth_server_by_path_and_nothing_else_of_ours() {
        let manifest =
            Embedder::Ccflow.manifest(Path::new("/w/ccflow"), &versions(), &features("aws-lc-rs"));
        assert!(manifest.contains("name = \"embed-ccflow\""));
        assert!(manifest.contains(
            "[dev-dependencies]\nccflow-auth-server = { path = \"/w/ccflow/crates/ccflow-auth-server\", default-features = false, features = [\"aws-lc-rs\"] }\n"
        ));
        let rust_crypto =
            Embedder::Ccflow.manifest(Path::new("/w"), &versions(), &features("rust-crypto"));
        assert!(rust_crypto.contains(
            "ccflow-auth-server = { path = \"/w/crates/ccflow-auth-server\", default-features = false, features = [\"rust-crypto\"] }\n"
        ));
        assert!(manifest.contains(
            "reqwest = { version = \"0.13.1\", default-features = false, features = [\"form\"] }"
        ));
        assert!(
            manifest.contains("tokio = { version = \"1.48.0\", features = [\"macros\", \"rt\"] }")
        );
        assert!(manifest.ends_with("[workspace]\n"));
        assert!(!manifest.contains("wiremock"));
        assert!(!manifest.contains("ccflow-client"));
    }

    #[test]
    fn the_wiremock_manifest_has_the_same_shape_with_wiremock() {
        let ccflow =
            Embedder::Ccflow.manifest(Path::new("/w"), &versions(), &features("aws-lc-rs"));
        let wiremock =
            Embedder::Wiremock.manifest(Path::new("/w"), &versions(), &features("aws-lc-rs"));
        assert!(wiremock.contains("\nwiremock = \"0.6.5\"\n"));
        assert!(!wiremock.contains("ccflow-auth-server"));
        let differing: Vec<(&str, &str)> = ccflow
            .lines()
            .zip(wiremock.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            differing.len(),
            2,
            "only the name and the mock differ: {differing:?}"
        );
    }

    #[test]
    fn paths_are_quoted_as_toml_strings() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }

    #[test]
    fn both_tests_fetch_a_token_the_same_way() {
        for embedder in Embedder::BOTH {
            let source = embedder.test_source();
            assert!(source.starts_with("//! "), "{embedder:?}");
            assert!(source.contains("async fn fetches_a_token_from_the_mock()"));
            assert!(source.contains(".form(&[(\"grant_type\", \"client_credentials\")])"));
            assert!(source.contains("assert_eq!(response.status(), 200);"));
        }
        assert!(CCFLOW_TEST.contains("MockAuthServer::builder()"));
        assert!(WIREMOCK_TEST.contains("MockServer::start().await"));
    }
}
