//! Secret hygiene, end to end: the e2e run gives its clients and admin API canary secrets,
//! fresh per run and written into temporary copies of `fixtures/e2e/*.toml`, then scans every
//! captured log line of every child process, every flow's output and error message, and every
//! snapshot in `xtask/snapshots/` for them: raw, percent-encoded, and inside the base64 of an
//! HTTP Basic value. The private halves of the fixture keys the run uses are canaries too
//! (each line of their PEM bodies). Any hit fails the run, naming where it was found and which
//! canary, never the secret itself.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ccflow_protocol::{Profile, form_urlencode};

/// The private keys the e2e servers and clients load (fixtures/keys/).
const PRIVATE_KEYS: [&str; 3] = ["rs256-1.pem", "es256-1.pem", "client-rs256.pem"];

/// This run's canaries and what the scan has seen so far.
pub(crate) struct Canaries {
    pub(crate) writer_secret: String,
    pub(crate) reader_secret: String,
    pub(crate) api_secret: String,
    pub(crate) admin_token: String,
    /// (what it is, the exact text to look for).
    needles: Vec<(String, String)>,
    lines: AtomicUsize,
    files: AtomicUsize,
    hits: Mutex<Vec<String>>,
}

/// A random hex word, different every run (std's hasher keys are seeded from the OS).
fn random_word() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

impl Canaries {
    /// Fresh canaries. Each secret has characters that change under percent-encoding (`+`,
    /// `/`), so the encoded forms are distinct needles.
    pub(crate) fn new(root: &Path) -> Result<Self> {
        let word = random_word();
        let secret = |role: &str| format!("ccflow-canary-{role}-{word}+s/");
        let mut canaries = Self {
            writer_secret: secret("writer"),
            reader_secret: secret("reader"),
            api_secret: secret("api"),
            admin_token: format!("ccflow-canary-admin-{word}"),
            needles: Vec::new(),
            lines: AtomicUsize::new(0),
            files: AtomicUsize::new(0),
            hits: Mutex::new(Vec::new()),
        };
        for (id, secret, role) in [
            (
                "e2e-writer",
                canaries.writer_secret.clone(),
                "writer secret",
            ),
            (
                "e2e-reader",
                canaries.reader_secret.clone(),
                "reader secret",
            ),
            ("items-api", canaries.api_secret.clone(), "api secret"),
        ] {
            canaries.add_secret(role, id, &secret);
        }
        let admin = canaries.admin_token.clone();
        canaries.add("admin token", &admin);
        for key in PRIVATE_KEYS {
            let path = root.join("fixtures/keys").join(key);
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            for (index, line) in pem
                .lines()
                .filter(|line| !line.starts_with("-----") && line.len() >= 40)
                .enumerate()
            {
                canaries.add(&format!("private key {key}, line {}", index + 1), line);
            }
        }
        Ok(canaries)
    }

    fn add(&mut self, what: &str, needle: &str) {
        if !self.needles.iter().any(|(_, known)| known == needle) {
            self.needles.push((what.to_owned(), needle.to_owned()));
        }
    }

    /// A client secret raw, percent-encoded (upper and lower case hex), and as the base64 of
    /// the Basic credentials both raw (as curl sends them) and form-encoded (RFC 6749 §2.3.1).
    fn add_secret(&mut self, role: &str, id: &str, secret: &str) {
        let encoded = form_urlencode(secret);
        self.add(role, secret);
        self.add(&format!("{role} (percent-encoded)"), &encoded);
        self.add(
            &format!("{role} (percent-encoded, lower case)"),
            &lower_hex_escapes(&encoded),
        );
        for pair in [
            format!("{id}:{secret}"),
            format!("{}:{encoded}", form_urlencode(id)),
        ] {
            self.add(&format!("{role} (base64 Basic)"), &STANDARD.encode(&pair));
            self.add(
                &format!("{role} (base64url Basic)"),
                &URL_SAFE_NO_PAD.encode(&pair),
            );
        }
    }

    /// A copy of `fixtures/e2e/<profile>.toml` with the canary secrets and admin token, its key
    /// paths made absolute, written into `dir`.
    pub(crate) fn config(&self, root: &Path, profile: Profile, dir: &Path) -> Result<PathBuf> {
        let source = root
            .join("fixtures/e2e")
            .join(format!("{}.toml", profile.as_str()));
        let text = std::fs::read_to_string(&source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        let keys = root.join("fixtures/keys");
        let mut rewritten = format!(
            "# {} with this run's canary secrets (cargo xtask e2e).\nadmin_token = \"{}\"\n",
            source.display(),
            self.admin_token
        );
        rewritten.push_str(
            &text
                .replace("\"writer-secret\"", &format!("\"{}\"", self.writer_secret))
                .replace("\"reader-secret\"", &format!("\"{}\"", self.reader_secret))
                .replace("\"api-secret\"", &format!("\"{}\"", self.api_secret))
                .replace("\"../keys/", &format!("\"{}/", keys.display())),
        );
        for fixture_secret in ["writer-secret", "reader-secret", "api-secret"] {
            anyhow::ensure!(
                !rewritten.contains(fixture_secret),
                "{}: `{fixture_secret}` was not replaced by a canary",
                source.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}-auth-server.toml", profile.as_str()));
        std::fs::write(&path, rewritten)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Scans `text`, naming its lines `place:N`.
    pub(crate) fn scan_text(&self, place: &str, text: &str) {
        let mut found = Vec::new();
        let mut n_lines = 0;
        for (number, line) in text.lines().enumerate() {
            n_lines += 1;
            // One hit per line is enough to fail; the first canary found names it.
            if let Some((what, _)) = self
                .needles
                .iter()
                .find(|(_, needle)| line.contains(needle.as_str()))
            {
                found.push(format!("{place}:{}: {what}", number + 1));
            }
        }
        self.lines.fetch_add(n_lines, Ordering::Relaxed);
        if !found.is_empty() {
            self.hits
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(found);
        }
    }

    /// Scans one file (lossily decoded, so binary noise cannot hide a hit).
    fn scan_file(&self, path: &Path) -> Result<()> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        self.files.fetch_add(1, Ordering::Relaxed);
        self.scan_text(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
        Ok(())
    }

    /// Scans every file in `dir` whose name ends with one of `suffixes`.
    pub(crate) fn scan_dir(&self, dir: &Path, suffixes: &[&str]) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| {
                path.is_file()
                    && path
                        .file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| suffixes.iter().any(|suffix| name.ends_with(suffix)))
            })
            .collect();
        paths.sort();
        for path in paths {
            self.scan_file(&path)?;
        }
        Ok(())
    }

    /// `secret scan: N lines, M files, K hits`, and every hit.
    pub(crate) fn report(&self) -> (String, Vec<String>) {
        let hits = self
            .hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let summary = format!(
            "secret scan: {} lines, {} files, {} canaries, {} hits",
            self.lines.load(Ordering::Relaxed),
            self.files.load(Ordering::Relaxed),
            self.needles.len(),
            hits.len()
        );
        (summary, hits)
    }
}

/// `%2B` → `%2b`: some encoders write lower-case hex.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(hex) = chars.next() {
                    out.push(hex.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canaries() -> Canaries {
        Canaries::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap()
    }

    #[test]
    fn finds_a_secret_in_every_form_and_names_it_without_printing_it() {
        let canaries = canaries();
        let secret = canaries.writer_secret.clone();
        let encoded = form_urlencode(&secret);
        let basic = STANDARD.encode(format!("e2e-writer:{encoded}"));
        let curl_basic = STANDARD.encode(format!("e2e-writer:{secret}"));
        canaries.scan_text(
            "log",
            &format!(
                "clean line\nraw {secret}\nform client_secret={encoded}\nlower {}\nAuthorization: Basic {basic}\ncurl {curl_basic}\nadmin Bearer {}\n",
                lower_hex_escapes(&encoded),
                canaries.admin_token
            ),
        );
        let (summary, hits) = canaries.report();
        assert!(summary.contains("7 lines"), "{summary}");
        let places: Vec<&str> = hits
            .iter()
            .map(|hit| hit.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            places,
            ["log:2", "log:3", "log:4", "log:5", "log:6", "log:7"],
            "{hits:?}"
        );
        assert!(hits.iter().all(|hit| !hit.contains(&secret)), "{hits:?}");
    }

    #[test]
    fn private_key_lines_are_canaries_and_fresh_secrets_differ_per_run() {
        let canaries = canaries();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let pem = std::fs::read_to_string(root.join("fixtures/keys/rs256-1.pem")).unwrap();
        let line = pem.lines().nth(3).unwrap();
        canaries.scan_text("snapshot", &format!("key material {line}"));
        assert_eq!(canaries.report().1.len(), 1);
        assert_ne!(
            canaries.writer_secret,
            Canaries::new(&root).unwrap().writer_secret
        );
    }

    #[test]
    fn the_config_copy_carries_only_canaries() {
        let canaries = canaries();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::temp_dir().join(format!("ccflow-canary-test-{}", std::process::id()));
        let path = canaries.config(&root, Profile::Slb, &dir).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(text.contains(&canaries.writer_secret));
        assert!(text.contains(&canaries.api_secret));
        assert!(text.contains(&format!("admin_token = \"{}\"", canaries.admin_token)));
        assert!(!text.contains("\"../keys/"), "{text}");
    }
}
