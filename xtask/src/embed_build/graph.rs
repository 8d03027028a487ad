//! The dependency graph of a generated crate (`cargo metadata`): what its tests compile, and
//! what they compile only because of a few edges.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::process::{cargo, checked};

/// The resolved dependency graph of a generated crate, for the host platform.
#[derive(Debug)]
pub(super) struct Graph {
    root: String,
    /// Package id → its name.
    names: BTreeMap<String, String>,
    /// Package id → (dependency id, is a dev-only edge).
    edges: BTreeMap<String, Vec<(String, bool)>>,
}

impl Graph {
    /// `cargo metadata`, offline: this also settles the lockfile, so the timed build does not
    /// resolve anything.
    pub(super) fn load(dir: &Path) -> Result<Self> {
        let host = host_triple()?;
        let mut command = cargo(dir);
        command.args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ]);
        let output = checked(command, "cargo metadata")?;
        let metadata: Value =
            serde_json::from_slice(&output.stdout).context("cannot parse cargo metadata")?;
        Self::from_metadata(&metadata)
    }

    fn from_metadata(metadata: &Value) -> Result<Self> {
        let root = metadata["resolve"]["root"]
            .as_str()
            .context("cargo metadata has no resolve root")?
            .to_owned();
        let names = metadata["packages"]
            .as_array()
            .context("cargo metadata has no packages")?
            .iter()
            .filter_map(|package| {
                Some((
                    package["id"].as_str()?.to_owned(),
                    package["name"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let mut edges = BTreeMap::new();
        for node in metadata["resolve"]["nodes"]
            .as_array()
            .context("cargo metadata has no resolve nodes")?
        {
            let id = node["id"].as_str().context("a node without id")?.to_owned();
            let mut out = Vec::new();
            for dep in node["deps"].as_array().into_iter().flatten() {
                let kinds: Vec<&str> = dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|kind| kind["kind"].as_str().unwrap_or("normal"))
                    .collect();
                let dev_only = !kinds.is_empty() && kinds.iter().all(|kind| *kind == "dev");
                let dep_id = dep["pkg"].as_str().context("a dependency without pkg")?;
                out.push((dep_id.to_owned(), dev_only));
            }
            edges.insert(id, out);
        }
        Ok(Self { root, names, edges })
    }

    /// The names of the packages a `cargo test` of the root compiles: its normal, dev and build
    /// dependencies, then the normal and build dependencies of those.
    pub(super) fn compiled(&self) -> BTreeSet<String> {
        self.reachable(|_, _| true)
            .into_iter()
            .filter_map(|id| self.names.get(&id).cloned())
            .collect()
    }

    /// The packages compiled only because `package` depends on one of `dependencies`: gone when
    /// those edges are cut.
    pub(super) fn only_through(&self, package: &str, dependencies: &[&str]) -> BTreeSet<String> {
        let all = self.compiled();
        let cut: BTreeSet<String> = self
            .reachable(|from, to| {
                !(self.names.get(from).is_some_and(|name| name == package)
                    && self.names.get(to).is_some_and(|name| {
                        dependencies.iter().any(|dependency| dependency == name)
                    }))
            })
            .into_iter()
            .filter_map(|id| self.names.get(&id).cloned())
            .collect();
        all.difference(&cut).cloned().collect()
    }

    /// Package ids reachable from the root along the edges `keep(from, to)` accepts (dev edges
    /// only from the root).
    fn reachable(&self, keep: impl Fn(&str, &str) -> bool) -> BTreeSet<String> {
        let mut seen = BTreeSet::from([self.root.clone()]);
        let mut queue = VecDeque::from([self.root.clone()]);
        while let Some(id) = queue.pop_front() {
            for (dep_id, dev_only) in self.edges.get(&id).into_iter().flatten() {
                if (*dev_only && id != self.root) || !keep(&id, dep_id) {
                    continue;
                }
                if seen.insert(dep_id.clone()) {
                    queue.push_back(dep_id.clone());
                }
            }
        }
        seen
    }
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let mut command = Command::new(&rustc);
    command.arg("-vV");
    let output = checked(command, "rustc -vV")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("no host line in `rustc -vV`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// root → (mock, client); mock → (clap → clap_builder, tokio); client → tokio; root dev→ x;
    /// mock dev→ insta (never compiled for the root's tests).
    fn graph() -> Graph {
        let packages: Vec<Value> = [
            "root",
            "mock",
            "client",
            "clap",
            "clap_builder",
            "tokio",
            "insta",
            "x",
        ]
        .iter()
        .map(|name| json!({"id": format!("{name}-id"), "name": name}))
        .collect();
        let metadata = json!({
            "packages": packages,
            "resolve": {
                "root": "root-id",
                "nodes": [
                    {"id": "root-id", "deps": [
                        {"pkg": "mock-id", "dep_kinds": [{"kind": "dev"}]},
                        {"pkg": "client-id", "dep_kinds": [{"kind": null}]},
                        {"pkg": "x-id", "dep_kinds": [{"kind": "dev"}]}]},
                    {"id": "mock-id", "deps": [
                        {"pkg": "clap-id", "dep_kinds": [{"kind": null}]},
                        {"pkg": "tokio-id", "dep_kinds": [{"kind": null}]},
                        {"pkg": "insta-id", "dep_kinds": [{"kind": "dev"}]}]},
                    {"id": "clap-id", "deps": [{"pkg": "clap_builder-id", "dep_kinds": [{"kind": null}]}]},
                    {"id": "client-id", "deps": [{"pkg": "tokio-id", "dep_kinds": [{"kind": "build"}]}]},
                ]
            }
        });
        Graph::from_metadata(&metadata).unwrap()
    }

    #[test]
    fn the_compiled_set_follows_dev_edges_only_from_the_root() {
        let names: Vec<String> = graph().compiled().into_iter().collect();
        assert_eq!(
            names,
            [
                "clap",
                "clap_builder",
                "client",
                "mock",
                "root",
                "tokio",
                "x"
            ]
        );
    }

    #[test]
    fn binary_only_crates_are_those_gone_when_the_edges_are_cut() {
        let gone: Vec<String> = graph()
            .only_through("mock", &["clap"])
            .into_iter()
            .collect();
        assert_eq!(gone, ["clap", "clap_builder"]);
        assert!(
            graph().only_through("mock", &["tokio"]).is_empty(),
            "tokio is also the client's"
        );
    }
}
