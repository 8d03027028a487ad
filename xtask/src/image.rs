//! `cargo xtask image`: the two container images, `ccflow-auth-server` and `ccflow-resource-api`,
//! `FROM scratch` with the stripped release binaries and exactly the shared libraries `ldd`
//! lists for them (nothing is pulled from a registry). Tagged with the workspace version and
//! `latest`; their sizes are printed (docs/docker.md records them).
//!
//! Two images rather than one with both binaries: each has its own `EXPOSE`, `HEALTHCHECK`
//! and entry point, so `docker run ccflow-auth-server:…` needs no command; both come from the
//! one repository `Dockerfile` and share its base layer (libraries and users), which Docker
//! stores once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail, ensure};

/// The images, as (Dockerfile target and repository, binary).
pub(crate) const IMAGES: [&str; 2] = ["ccflow-auth-server", "ccflow-resource-api"];

/// The CA bundle copied into the images, at the same path (Debian's, which rustls finds).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The workspace version: every image's tag.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `cargo xtask image` options.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Options {
    /// Use the release binaries already in target/release instead of building them.
    #[arg(long)]
    pub(crate) no_build: bool,
}

/// Builds the release binaries (unless told not to) and both images.
pub(crate) fn run(root: &Path, options: &Options) -> Result<()> {
    let target = crate::bench::target_dir(root);
    if !options.no_build {
        let started = Instant::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        say("image: building ccflow-auth-server and ccflow-resource-api in release");
        let mut command = Command::new(&cargo);
        command.args(["build", "--release"]).current_dir(root);
        for image in IMAGES {
            command.args(["-p", image]);
        }
        // The very package set `cargo xtask bench` and `soak` build in release: the same feature
        // unification, so in .ci/run, after the bench, this build has nothing left to do.
        command.args(["-p", "xtask"]);
        let status = command
            .status()
            .with_context(|| format!("cannot run {cargo}"))?;
        ensure!(status.success(), "the release build failed");
        say(&format!(
            "image: release build took {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }
    let context = target.join("image-context");
    assemble(&target.join("release"), &context)?;
    let started = Instant::now();
    for image in IMAGES {
        let status = Command::new("docker")
            .arg("build")
            .args(["--file", &root.join("Dockerfile").display().to_string()])
            .args(["--target", image])
            .args(["--tag", &format!("{image}:{VERSION}")])
            .args(["--tag", &format!("{image}:latest")])
            .arg("--quiet")
            .arg(&context)
            .status()
            .context("cannot run docker")?;
        ensure!(status.success(), "docker build of {image} failed");
    }
    say(&format!(
        "image: docker build of both images took {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    for image in IMAGES {
        let size = image_size(&format!("{image}:{VERSION}"))?;
        say(&format!(
            "image: {image}:{VERSION} {:.1} MB ({size} bytes)",
            size as f64 / 1e6
        ));
    }
    Ok(())
}

/// The image's size in bytes, as `docker image inspect` reports it (what `docker image ls`
/// shows, in bytes).
pub(crate) fn image_size(reference: &str) -> Result<u64> {
    let output = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Size}}", reference])
        .output()
        .context("cannot run docker")?;
    ensure!(output.status.success(), "no image {reference}");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .with_context(|| format!("the size of {reference}"))
}

/// Lays out the build context the Dockerfile expects: `bin/` (stripped copies of the
/// binaries) and `rootfs/` (their shared libraries at the paths `ldd` names, the user files).
fn assemble(release: &Path, context: &Path) -> Result<()> {
    if context.exists() {
        std::fs::remove_dir_all(context)
            .with_context(|| format!("cannot empty {}", context.display()))?;
    }
    let bin = context.join("bin");
    let rootfs = context.join("rootfs");
    std::fs::create_dir_all(&bin)?;
    std::fs::create_dir_all(rootfs.join("etc"))?;
    let mut libraries = BTreeSet::new();
    for image in IMAGES {
        let binary = release.join(image);
        ensure!(
            binary.is_file(),
            "{} is missing: build it first (without --no-build)",
            binary.display()
        );
        let stripped = bin.join(image);
        let status = Command::new("strip")
            .arg("-o")
            .arg(&stripped)
            .arg(&binary)
            .status()
            .context("cannot run strip (binutils)")?;
        ensure!(status.success(), "strip {} failed", binary.display());
        libraries.extend(shared_libraries(&binary)?);
    }
    for library in &libraries {
        let relative = library.strip_prefix("/").unwrap_or(library);
        let destination = rootfs.join(relative);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // The file itself, not a symlink into a directory the image does not have.
        std::fs::copy(library, &destination)
            .with_context(|| format!("cannot copy {}", library.display()))?;
    }
    // A non-root user for `USER 10001:10001`; glibc's resolver reads hosts before DNS, so a
    // compose service name resolves through Docker's embedded DNS.
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/:/sbin/nologin\nccflow:x:10001:10001:ccflow:/:/sbin/nologin\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nccflow:x:10001:\n")?;
    std::fs::write(rootfs.join("etc/nsswitch.conf"), "hosts: files dns\n")?;
    // The resource API's HTTP client (rustls with the platform's roots) will not even build
    // without a CA bundle; with it, an https issuer works too.
    let bundle = Path::new(CA_BUNDLE);
    ensure!(
        bundle.is_file(),
        "{CA_BUNDLE} is missing: install the CA certificates (apt-get install ca-certificates)"
    );
    std::fs::create_dir_all(rootfs.join("etc/ssl/certs"))?;
    std::fs::copy(bundle, rootfs.join(CA_BUNDLE.trim_start_matches('/')))
        .with_context(|| format!("cannot copy {CA_BUNDLE}"))?;
    Ok(())
}

/// The shared libraries `ldd` lists for `binary`, as absolute paths (the dynamic loader
/// included; the kernel's vDSO is no file).
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .context("cannot run ldd")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // `not a dynamic executable`: a static binary needs no library.
        if text.contains("not a dynamic executable")
            || String::from_utf8_lossy(&output.stderr).contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        bail!("ldd {} failed", binary.display());
    }
    parse_ldd(&text)
}

/// The library paths in `ldd` output: `name => /path (0x…)` and `/path (0x…)` lines.
fn parse_ldd(text: &str) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        ensure!(!line.contains("not found"), "a library is missing: {line}");
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split_whitespace().next().unwrap_or_default();
        if path.starts_with('/') {
            paths.push(PathBuf::from(path));
        }
    }
    Ok(paths)
}

#[allow(clippy::print_stdout, reason = "xtask reports progress on stdout")]
fn say(line: &str) {
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_names_every_library_file() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd2b1f4000)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f1)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f3)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
        assert!(parse_ldd("\tlibssl.so.3 => not found\n").is_err());
    }
}
