//! The promises `docs/architecture.md` makes about this crate's source tree, checked on the
//! text of `src/` (as rust-analyzer's `tidy` does): no import cycle between modules, vendor
//! branches only under `profiles/`, no actix-web in `domain/`, a `//!` line atop every file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, by module path (`http::admin`, `domain::keys`, `crate`).
fn modules() -> BTreeMap<String, (PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|last| last == "mod") {
                parts.pop();
            }
            let name = match parts.join("::").as_str() {
                "lib" => "crate".to_owned(),
                other => other.to_owned(),
            };
            let text = std::fs::read_to_string(&file).unwrap();
            (name, (file, text))
        })
        .collect()
}

/// The text without its `#[cfg(test)]` module (tests may import anything).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod ")
        .map_or(text, |at| &text[..at])
}

/// The modules `text` names through `crate::` paths: the longest known module prefix of each.
fn imports(text: &str, known: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut paths: Vec<String> = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::B, c::{D, E}};`: each item's leading path.
            let group = &group[..group.find("};").unwrap_or(group.len())];
            paths.extend(
                group
                    .split(',')
                    .map(|item| item.split("::{").next().unwrap_or("").trim().to_owned()),
            );
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            paths.push(rest[..end].trim_end_matches(':').to_owned());
        }
    }
    paths
        .iter()
        .filter_map(|path| {
            let segments: Vec<&str> = path.split("::").collect();
            (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|candidate| known.contains(candidate.as_str()))
        })
        .collect()
}

#[test]
fn modules_import_each_other_without_cycles() {
    let modules = modules();
    let known: BTreeSet<&str> = modules.keys().map(String::as_str).collect();
    let edges: BTreeMap<&str, BTreeSet<String>> = modules
        .iter()
        .map(|(name, (_, text))| {
            let mut targets = imports(without_tests(text), &known);
            targets.remove(name);
            targets.remove("crate");
            (name.as_str(), targets)
        })
        .collect();
    // Depth-first search for a back edge; the path to it is the cycle.
    fn visit<'a>(
        module: &'a str,
        edges: &'a BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|seen| *seen == module) {
            return Some(format!("{} -> {module}", path[start..].join(" -> ")));
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for target in edges.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(target, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        let cycle = visit(module, &edges, &mut Vec::new(), &mut done);
        assert_eq!(cycle, None, "an import cycle between modules of src/");
    }
}

#[test]
fn vendor_branches_live_only_under_profiles() {
    const VENDOR_CODE: [&str; 8] = [
        "Profile::Slb",
        "Profile::Cloudentity",
        "Profile::CyberArk",
        "Profile::UserClouds",
        "ClaimStyle::",
        "ErrorDialect::",
        "ScopeSemantics::",
        "ResponseStyle::Server",
    ];
    for (name, (file, text)) in modules() {
        if name.starts_with("profiles") {
            continue;
        }
        for needle in VENDOR_CODE {
            assert!(
                !without_tests(text.as_str()).contains(needle),
                "{} names `{needle}`: vendor-specific code belongs in src/profiles/",
                file.display()
            );
        }
    }
}

#[test]
fn the_domain_knows_no_http_framework() {
    for (name, (file, text)) in modules() {
        if name.starts_with("domain") {
            assert!(
                !text.contains("actix_web"),
                "{} uses actix-web: the domain is plain Rust",
                file.display()
            );
        }
    }
}

#[test]
fn every_source_file_says_what_it_is_for() {
    for (_, (file, text)) in modules() {
        assert!(
            text.starts_with("//!"),
            "{} must open with a `//!` line",
            file.display()
        );
    }
}
