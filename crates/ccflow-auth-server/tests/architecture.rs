//! The promises `docs/architecture.md` makes about this crate's source tree, checked on the
//! text of `src/` (as rust-analyzer's `tidy` does): vendor branches only under `profiles/`, no
//! actix-web in `domain/`. What holds for every crate (no import cycle, a `//!` line atop every
//! file) is checked once for the workspace, by `xtask/src/tidy.rs`.

use std::collections::BTreeMap;
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
