//! Tidy: the promises `docs/architecture.md` and the docs make about the tree, checked as tests
//! (as rust-analyzer's `xtask/src/tidy.rs` does): every link between the docs resolves, every
//! source file says what it is for, `ccflow-protocol` depends on no framework or I/O crate,
//! and no crate's modules import each other in a cycle.

#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn files(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "target") {
                files(&path, extension, found);
            }
        } else if path.extension().is_some_and(|ext| ext == extension) {
            found.push(path);
        }
    }
}

fn markdown() -> Vec<PathBuf> {
    let root = root();
    let mut docs = vec![root.join("README.md")];
    files(&root.join("docs"), "md", &mut docs);
    docs.sort();
    docs
}

/// GitHub's heading anchors: lower case, punctuation dropped except `-` and `_`, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut anchors = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            anchors.insert(slug(line.trim_start_matches('#')));
        }
    }
    anchors
}

/// `[text](target)` links outside code blocks and code spans.
fn links(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut links = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let outside_spans: String = line
            .split('`')
            .enumerate()
            .filter(|(index, _)| index % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = outside_spans.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            links.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    links
}

#[test]
fn every_link_between_the_docs_resolves() {
    let mut broken = Vec::new();
    for doc in markdown() {
        let text = std::fs::read_to_string(&doc).expect("readable doc");
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((link.as_str(), ""));
            let target = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("a folder").join(path)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", doc.display()));
                continue;
            }
            if !anchor.is_empty() && target.extension().is_some_and(|ext| ext == "md") {
                let text = std::fs::read_to_string(&target).expect("readable target");
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{}: {link} (no such heading)", doc.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

fn sources() -> Vec<PathBuf> {
    let root = root();
    let mut found = Vec::new();
    for dir in ["crates", "xtask/src", "fuzz/fuzz_targets"] {
        files(&root.join(dir), "rs", &mut found);
    }
    found.sort();
    found
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! line:\n{}",
        missing.join("\n")
    );
}

/// Issue 15's yardstick: no source file holds more than about 600 lines of code before its unit
/// tests (`#[cfg(test)]` at the top level). Test suites (`tests/` folders, `tests.rs` files) are
/// not counted. A file past it holds more than one idea: split it into a folder.
const MOST_LINES_OUTSIDE_TESTS: usize = 620;

fn lines_outside_tests(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

#[test]
fn the_line_counter_stops_at_the_unit_tests() {
    assert_eq!(lines_outside_tests("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
    assert_eq!(lines_outside_tests("a\n    #[cfg(test)]\nb\n"), 3);
}

#[test]
fn no_source_file_is_over_about_600_lines_outside_its_tests() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|path| {
            let in_tests = path.components().any(|part| part.as_os_str() == "tests")
                || path.file_name().is_some_and(|name| name == "tests.rs");
            !in_tests
        })
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines = lines_outside_tests(&text);
            (lines > MOST_LINES_OUTSIDE_TESTS).then(|| format!("{} ({lines})", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over {MOST_LINES_OUTSIDE_TESTS} lines outside their tests:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_protocol_crate_knows_no_framework_and_does_no_io() {
    let manifest = std::fs::read_to_string(root().join("crates/ccflow-protocol/Cargo.toml"))
        .expect("the protocol manifest");
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .map(|rest| rest.split("\n[").next().unwrap_or(rest))
        .unwrap_or_default();
    for forbidden in ["actix", "reqwest", "tokio", "hyper", "axum", "tower"] {
        assert!(
            !dependencies
                .lines()
                .any(|line| line.trim_start().starts_with(forbidden)),
            "ccflow-protocol depends on {forbidden}"
        );
    }
}

#[test]
fn an_embedding_test_does_not_compile_the_binary_s_command_line() {
    // `ccflow-auth-server = { default-features = false }` must leave these out (docs/embedding.md).
    let manifest = std::fs::read_to_string(root().join("crates/ccflow-auth-server/Cargo.toml"))
        .expect("the auth server's manifest");
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .map(|rest| rest.split("\n[").next().unwrap_or(rest))
        .unwrap_or_default();
    for binary_only in ["clap", "tracing-subscriber", "anyhow"] {
        if let Some(line) = dependencies
            .lines()
            .find(|line| line.trim_start().starts_with(binary_only))
        {
            assert!(
                line.contains("optional = true"),
                "{binary_only} must be optional (feature `cli`): {line}"
            );
        }
    }
}

/// Module import graph of one crate's `src/`, read from `crate::` paths (tests excluded):
/// each module (a file) to the modules it names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut paths = Vec::new();
    files(src, "rs", &mut paths);
    let module_of = |path: &Path| -> String {
        let relative = path.strip_prefix(src).expect("under src");
        let mut parts: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|last| last == "mod") {
            parts.pop();
        }
        if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
            return "crate".to_owned();
        }
        parts.join("::")
    };
    let modules: BTreeMap<String, PathBuf> = paths
        .iter()
        .map(|path| (module_of(path), path.clone()))
        .collect();
    let resolve = |path: &str| -> Option<String> {
        let segments: Vec<&str> = path.split("::").collect();
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|candidate| modules.contains_key(candidate))
    };
    let mut graph = BTreeMap::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let text = text.split("#[cfg(test)]").next().unwrap_or(&text);
        let mut targets = BTreeSet::new();
        for (index, _) in text.match_indices("crate::") {
            let tail = &text[index + "crate::".len()..];
            if let Some(group) = tail.strip_prefix('{') {
                // `use crate::{a::X, b};`
                let group = group.split('}').next().unwrap_or_default();
                for item in group.split(',') {
                    let item = item.trim().split("::{").next().unwrap_or_default();
                    if let Some(target) = resolve(item.trim()) {
                        targets.insert(target);
                    }
                }
            } else {
                let path: String = tail
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                if let Some(target) = resolve(path.trim_end_matches(':')) {
                    targets.insert(target);
                }
            }
        }
        targets.remove(module);
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A cycle through two or more modules, if any (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(position) = stack.iter().position(|on| on == node) {
            let mut cycle = stack[position..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            // The crate root declares every module; what it imports back is not a cycle of ideas.
            if next == "crate" {
                continue;
            }
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &[][..]),
    ]
    .into_iter()
    .map(|(node, edges)| {
        (
            node.to_owned(),
            edges.iter().map(|edge| (*edge).to_owned()).collect(),
        )
    })
    .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec![
            "a".to_owned(),
            "b".to_owned(),
            "c".to_owned(),
            "a".to_owned()
        ])
    );
}

#[test]
fn no_crate_has_a_module_import_cycle() {
    let root = root();
    let mut crates = vec![root.join("xtask/src")];
    for entry in std::fs::read_dir(root.join("crates"))
        .expect("crates/")
        .flatten()
    {
        crates.push(entry.path().join("src"));
    }
    let mut cycles = Vec::new();
    for src in crates {
        if let Some(cycle) = find_cycle(&module_graph(&src)) {
            cycles.push(format!("{}: {}", src.display(), cycle.join(" -> ")));
        }
    }
    assert!(
        cycles.is_empty(),
        "module import cycles:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn only_the_clock_reads_the_wall_clock() {
    // Latency measurements (`Instant`) are fine; wall-clock time goes through a `Clock`, so
    // tests can move it (docs/architecture.md, "Time comes from a Clock").
    let root = root();
    let mut readers = Vec::new();
    for path in sources() {
        let relative = path.strip_prefix(&root).unwrap_or(&path);
        let inside_tests = relative.components().any(|part| {
            matches!(
                part.as_os_str().to_str(),
                Some("tests" | "benches" | "examples")
            )
        });
        if relative.starts_with("xtask")
            || relative.starts_with("fuzz")
            || inside_tests
            || relative.ends_with("crates/ccflow-protocol/src/clock.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        if code.contains("SystemTime::now") {
            readers.push(relative.display().to_string());
        }
    }
    assert!(
        readers.is_empty(),
        "SystemTime::now outside ccflow-protocol's clock:\n{}",
        readers.join("\n")
    );
}
