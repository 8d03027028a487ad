//! The `ccflow-auth-server` binary as scripts use it: the `listening on` line, flags, config
//! errors, and graceful shutdown on SIGTERM.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, ChildStdout, Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_ccflow-auth-server");

/// Kills the child on drop, so a failing test leaves no process behind.
struct Running {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("CCFLOW_CONFIG")
        .env_remove("CCFLOW_CONFIG_TOML")
        .env_remove("CCFLOW_ADMIN_TOKEN")
        .env_remove("CCFLOW_BIND")
        .env_remove("CCFLOW_ISSUER")
        .env_remove("CCFLOW_ISSUER_FROM_REQUEST")
        .env_remove("CCFLOW_TLS")
        .env_remove("CCFLOW_TLS_NAMES")
        .env_remove("CCFLOW_TLS_CA_FILE")
        .env_remove("CCFLOW_TLS_CERT")
        .env_remove("CCFLOW_TLS_KEY")
        .env_remove("CCFLOW_HTTPS_BIND")
        .env_remove("CCFLOW_PROFILE")
        .env_remove("CCFLOW_THROTTLE")
        .env_remove("CCFLOW_URL")
        .env_remove("CCFLOW_CACERT")
        .env_remove("CCFLOW_TLS_CLIENT_CA_FILE")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

fn spawn(args: &[&str]) -> (Running, String) {
    spawn_command(command(args))
}

/// Starts `command` and reads its first stdout line.
fn spawn_command(mut command: Command) -> (Running, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first stdout line");
    (
        Running {
            child,
            stdout: Some(stdout),
        },
        first,
    )
}

fn address_of(first_line: &str) -> String {
    let address = first_line
        .trim_end()
        .strip_prefix("ccflow-auth-server listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first_line:?}"));
    assert!(
        !address.ends_with(":0"),
        "the real port is printed: {address}"
    );
    address.to_owned()
}

fn rest_of_output(running: &mut Running) -> String {
    // SIGTERM, then everything else it printed until it exited.
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    if let Some(stdout) = running.stdout.as_mut() {
        stdout.read_to_string(&mut rest).unwrap();
    }
    let exit = running.child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    rest
}

#[tokio::test]
async fn runs_on_embedded_defaults_and_stops_on_sigterm() {
    let (mut running, first) = spawn(&["--bind", "127.0.0.1:0"]);
    let address = address_of(&first);
    let response = reqwest::Client::new()
        .post(format!("http://{address}/oauth2/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rest = rest_of_output(&mut running);
    assert!(rest.contains("demo-client"), "{rest}");
    assert!(
        rest.contains("demo-secret"),
        "demo secrets are printed: {rest}"
    );
    assert!(rest.contains(&format!("curl -s -u 'demo-client:demo-secret' -d grant_type=client_credentials http://{address}/oauth2/token")), "{rest}");
}

#[tokio::test]
async fn the_issuer_from_request_env_var_names_the_issuer_after_the_host() {
    let mut from_request = command(&["--bind", "127.0.0.1:0"]);
    from_request.env("CCFLOW_ISSUER_FROM_REQUEST", "true");
    let (mut running, first) = spawn_command(from_request);
    let address = address_of(&first);
    let client = reqwest::Client::new();
    let discovery = format!("http://{address}/.well-known/oauth-authorization-server");
    for (host, issuer) in [
        (None, format!("http://{address}")),
        (Some("auth:8080"), "http://auth:8080".to_owned()),
    ] {
        let mut request = client.get(&discovery);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let document: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
        assert_eq!(document["issuer"], issuer.as_str(), "Host {host:?}");
    }
    let rest = rest_of_output(&mut running);
    assert!(
        rest.contains("issuer:         from each request's scheme and host"),
        "{rest}"
    );
    // With a fixed issuer too, clap refuses the pair before anything starts.
    let output = command(&["--bind", "127.0.0.1:0", "--issuer", "http://auth:8080"])
        .env("CCFLOW_ISSUER_FROM_REQUEST", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn tls_prints_its_ca_and_curl_trusts_it() {
    let directory = std::env::temp_dir().join(format!("ccflow-binary-tls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let ca_file = directory.join("ca.pem");
    let (mut running, first) = spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--tls",
        "--tls-ca-file",
        ca_file.to_str().unwrap(),
    ]);
    let address = first
        .trim_end()
        .strip_prefix("ccflow-auth-server listening on https://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    let mut second = String::new();
    running
        .stdout
        .as_mut()
        .unwrap()
        .read_line(&mut second)
        .unwrap();
    assert_eq!(second.trim_end(), format!("tls ca: {}", ca_file.display()));
    let curl = |extra: &[&str]| {
        let mut command = Command::new("curl");
        command.args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]);
        command.args(extra);
        command.args([
            "-u",
            "demo-client:demo-secret",
            "-d",
            "grant_type=client_credentials",
            &format!("https://{address}/oauth2/token"),
        ]);
        let output = command.output().expect("curl runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    assert_eq!(
        curl(&["--cacert", ca_file.to_str().unwrap()]),
        (Some(0), "200".to_owned())
    );
    // Without the CA curl refuses the certificate (exit 60: peer certificate not verified).
    assert_eq!(curl(&[]).0, Some(60));
    let rest = rest_of_output(&mut running);
    assert!(rest.contains("token endpoint: https://"), "{rest}");
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn https_bind_adds_an_https_port_and_the_healthcheck_keeps_plain_http() {
    let (mut running, first) = spawn(&["--bind", "127.0.0.1:0", "--https-bind", "127.0.0.1:0"]);
    let http = address_of(&first);
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        running
            .stdout
            .as_mut()
            .unwrap()
            .read_line(&mut line)
            .unwrap();
        lines.push(line.trim_end().to_owned());
    }
    let https = lines[0]
        .strip_prefix("ccflow-auth-server listening on https://")
        .unwrap_or_else(|| panic!("second line: {:?}", lines[0]))
        .to_owned();
    let ca_file = lines[1]
        .strip_prefix("tls ca: ")
        .unwrap_or_else(|| panic!("third line: {:?}", lines[1]))
        .to_owned();
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            &ca_file,
        ])
        .args([
            "-u",
            "demo-client:demo-secret",
            "-d",
            "grant_type=client_credentials",
        ])
        .arg(format!("https://{https}/oauth2/token"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "200");
    let health = command(&["--bind", &http, "healthcheck"]).output().unwrap();
    assert!(health.status.success(), "{health:?}");
    rest_of_output(&mut running);
    let _ = std::fs::remove_file(&ca_file);
}

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files in `directory`.
fn certificate_files(directory: &std::path::Path, name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (
        directory.join(format!("{name}.pem")),
        directory.join(format!("{name}-key.pem")),
    );
    let pem = |label: &str, der: Vec<u8>| pem::encode(&pem::Pem::new(label, der));
    std::fs::write(&cert_path, pem("CERTIFICATE", certificate.der().to_vec())).unwrap();
    std::fs::write(&key_path, pem("PRIVATE KEY", key.serialize_der())).unwrap();
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

/// The healthcheck speaks HTTPS when `--bind` does, and verifies the server it reaches: the
/// CA file `--tls` wrote, or `--tls-cert`'s leaf pinned. A server that is not the trusted one,
/// or HTTP against an HTTPS port, is unhealthy (exit 1).
#[test]
fn the_healthcheck_speaks_https_when_the_port_does_and_verifies_it() {
    let directory =
        std::env::temp_dir().join(format!("ccflow-binary-health-tls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let ca_file = directory.join("ca.pem").display().to_string();
    let (served_cert, served_key) = certificate_files(&directory, "served");
    let (other_cert, other_key) = certificate_files(&directory, "other");
    let (generated, first) = spawn(&["--bind", "127.0.0.1:0", "--tls", "--tls-ca-file", &ca_file]);
    let generated_address = first
        .trim_end()
        .strip_prefix("ccflow-auth-server listening on https://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    let (files, first) = spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--tls-cert",
        &served_cert,
        "--tls-key",
        &served_key,
    ]);
    let files_address = first
        .trim_end()
        .strip_prefix("ccflow-auth-server listening on https://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    // (case, server address, flags before `healthcheck`, exit code)
    let cases: [(&str, &str, Vec<&str>, i32); 6] = [
        (
            "--tls: its CA file",
            &generated_address,
            vec!["--tls", "--tls-ca-file", &ca_file],
            0,
        ),
        (
            "plain HTTP to the --tls port",
            &generated_address,
            vec![],
            1,
        ),
        (
            "--tls with a CA file that is not the server's",
            &generated_address,
            vec!["--tls", "--tls-ca-file", &other_cert],
            1,
        ),
        (
            "--tls-cert: its leaf pinned",
            &files_address,
            vec!["--tls-cert", &served_cert, "--tls-key", &served_key],
            0,
        ),
        (
            "--tls-cert of another server",
            &files_address,
            vec!["--tls-cert", &other_cert, "--tls-key", &other_key],
            1,
        ),
        (
            "--tls with an unreadable CA file",
            &generated_address,
            vec!["--tls", "--tls-ca-file", "/nonexistent/ca.pem"],
            1,
        ),
    ];
    for (case, address, flags, expected) in cases {
        let mut args = vec!["--bind", address];
        args.extend(flags);
        args.push("healthcheck");
        let output = command(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(expected), "{case}: {output:?}");
    }
    drop((generated, files));
    std::fs::remove_dir_all(&directory).unwrap();
}

#[tokio::test]
async fn runs_a_config_file_and_never_prints_its_secrets() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/ccflow.toml");
    let (mut running, first) = spawn(&[
        "--config",
        config,
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        "http://issuer.test",
    ]);
    let address = address_of(&first);
    let metadata: serde_json::Value = reqwest::get(format!(
        "http://{address}/.well-known/oauth-authorization-server"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(metadata["issuer"], "http://issuer.test");
    let rest = rest_of_output(&mut running);
    assert!(rest.contains("orders-service"), "{rest}");
    assert!(
        !rest.contains("orders-secret"),
        "configured secrets are not printed: {rest}"
    );
    assert!(
        !rest.contains("curl"),
        "no curl with an unknown secret: {rest}"
    );
}

#[tokio::test]
async fn throttle_turns_throttling_on_by_flag_or_environment() {
    let throttle_state = |address: String| async move {
        reqwest::get(format!("http://{address}/_ccflow/throttle"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let (running, first) = spawn(&["--bind", "127.0.0.1:0"]);
    assert_eq!(throttle_state(address_of(&first)).await["enabled"], false);
    drop(running);

    let (running, first) = spawn(&["--bind", "127.0.0.1:0", "--throttle"]);
    let address = address_of(&first);
    let state = throttle_state(address.clone()).await;
    assert_eq!(state["enabled"], true, "{state}");
    assert_eq!(state["settings"]["max_failures_per_client"], 5, "{state}");
    // And it throttles: the sixth request after five failures is 429, whatever its secret.
    let client = reqwest::Client::new();
    let attempt = |secret: &'static str| {
        client
            .post(format!("http://{address}/oauth2/token"))
            .basic_auth("demo-client", Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong").await.unwrap().status(), 401);
    }
    assert_eq!(attempt("demo-secret").await.unwrap().status(), 429);
    drop(running);

    let mut with_variable = command(&["--bind", "127.0.0.1:0"]);
    with_variable.env("CCFLOW_THROTTLE", "true");
    let (running, first) = spawn_command(with_variable);
    assert_eq!(throttle_state(address_of(&first)).await["enabled"], true);
    drop(running);
}

#[test]
fn a_bad_config_names_file_and_field_and_exits_2_before_binding() {
    let dir = std::env::temp_dir().join(format!("ccflow-bad-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[[clients]]\nclient_id = \"a\"\nclient_secret = \"s3cret-value\"\nscopes = [\"bad scope\"]\n").unwrap();
    // Hold the port it is told to bind: a server that bound before validating would fail
    // with "cannot listen" (exit 1) instead of the configuration error.
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupied.local_addr().unwrap().to_string();
    let output = command(&["--config", file.to_str().unwrap(), "--bind", &address])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing is announced");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(stderr.contains("clients[0].scopes"), "{stderr}");
    assert!(!stderr.contains("s3cret-value"), "{stderr}");
}

/// `tls_client_ca_file` in the file < `CCFLOW_TLS_CLIENT_CA_FILE` < `--tls-client-ca-file`, as
/// every other setting (docs/configuration.md): the one that wins is the file the server
/// reads, so a missing file named by the winner stops the start, naming it.
#[test]
fn the_client_ca_file_comes_from_the_file_then_the_environment_then_the_flag() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("binary-client-ca");
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        ccflow_tls::CertificateAuthority::generate()
            .unwrap()
            .certificate_pem(),
    )
    .unwrap();
    let ca = ca.to_str().unwrap();
    let with_file = |file_ca: &str| {
        let config = dir.join(format!("{file_ca}.toml"));
        std::fs::write(&config, format!("tls_client_ca_file = \"{file_ca}\"\n")).unwrap();
        config.to_str().unwrap().to_owned()
    };
    // (case, the file's value, the environment's, the flag's, the file that is read or None
    // when the server starts)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: [Case<'_>; 5] = [
        (
            "the file's",
            "file-missing.pem",
            None,
            None,
            Some("file-missing.pem"),
        ),
        ("the file's, present", "ca.pem", None, None, None),
        (
            "the environment over the file",
            "ca.pem",
            Some("env-missing.pem"),
            None,
            Some("env-missing.pem"),
        ),
        (
            "the environment over a missing file",
            "file-missing.pem",
            Some(ca),
            None,
            None,
        ),
        (
            "the flag over both",
            "file-missing.pem",
            Some("env-missing.pem"),
            Some(ca),
            None,
        ),
    ];
    for (case, file_ca, env_ca, flag_ca, missing) in cases {
        let config = with_file(file_ca);
        let mut args = vec!["--config", &config, "--bind", "127.0.0.1:0", "--tls"];
        let ca_file = dir.join(format!("server-ca-{}.pem", case.len()));
        let ca_file = ca_file.to_str().unwrap().to_owned();
        args.extend(["--tls-ca-file", &ca_file]);
        if let Some(flag_ca) = flag_ca {
            args.extend(["--tls-client-ca-file", flag_ca]);
        }
        let mut command = command(&args);
        if let Some(env_ca) = env_ca {
            command.env("CCFLOW_TLS_CLIENT_CA_FILE", env_ca);
        }
        match missing {
            Some(missing) => {
                let output = command.output().unwrap();
                assert!(!output.status.success(), "{case}: {output:?}");
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(stderr.contains(missing), "{case}: {stderr}");
            }
            None => {
                let (mut running, first) = spawn_command(command);
                assert!(
                    first.starts_with("ccflow-auth-server listening on https://"),
                    "{case}: {first}"
                );
                rest_of_output(&mut running);
            }
        }
    }
}

#[test]
fn sigterm_right_after_the_listening_line_is_a_graceful_stop() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/ccflow.toml");
    for _ in 0..20 {
        // The fixture key: no key generation, so the race window is as small as it gets.
        let (mut running, first) = spawn(&["--config", config, "--bind", "127.0.0.1:0"]);
        address_of(&first);
        // No request, no pause: the signal races the rest of start-up.
        rest_of_output(&mut running);
    }
}

#[test]
fn an_unknown_profile_is_a_usage_error() {
    let output = command(&["--profile", "nope", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rfc"),
        "lists the available profiles: {stderr}"
    );
}

#[tokio::test]
async fn keeps_serving_when_the_reader_closes_stdout_after_the_first_line() {
    // `ccflow-auth-server | head -1`: the summary after the first line may hit a closed pipe.
    let (mut running, first) = spawn(&["--bind", "127.0.0.1:0"]);
    let address = address_of(&first);
    drop(running.stdout.take());
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let response = http
            .post(format!("http://{address}/oauth2/token"))
            .basic_auth("demo-client", Some("demo-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("the server still answers");
        assert_eq!(response.status(), 200);
    }
    assert!(
        running.child.try_wait().expect("status").is_none(),
        "the server is still running"
    );
}

/// Reads the start-up summary up to and including the line after `try:` (the curl to paste).
fn summary_until_curl(running: &mut Running) -> (String, String) {
    let stdout = running.stdout.as_mut().expect("stdout");
    let mut summary = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("summary line") > 0,
            "the summary ended without a curl: {summary}"
        );
        summary.push_str(&line);
        if line.trim() == "try:" {
            let mut curl = String::new();
            stdout.read_line(&mut curl).expect("the curl line");
            summary.push_str(&curl);
            return (summary, curl.trim().to_owned());
        }
    }
}

fn signing_kid(summary: &str) -> String {
    summary
        .lines()
        .find_map(|line| line.strip_prefix("signing key:"))
        .and_then(|line| line.split("kid ").nth(1))
        .unwrap_or_else(|| panic!("no signing key line: {summary}"))
        .trim()
        .to_owned()
}

#[test]
fn the_default_key_is_the_same_on_every_start_unless_a_fresh_one_is_asked_for() {
    let kid = |args: &[&str]| {
        let (mut running, _) = spawn(args);
        let (summary, _) = summary_until_curl(&mut running);
        signing_kid(&summary)
    };
    let first = kid(&["--bind", "127.0.0.1:0"]);
    assert_eq!(
        kid(&["--bind", "127.0.0.1:0"]),
        first,
        "stable across restarts"
    );
    assert_ne!(kid(&["--bind", "127.0.0.1:0", "--fresh-key"]), first);
}

/// Each profile on embedded defaults: the printed curl, run by the real `curl`, gets a token.
#[test]
fn every_profile_prints_a_curl_that_gets_a_token() {
    #[track_caller]
    fn check(profile: &str, expected_in_summary: &[&str]) {
        let (mut running, first) = spawn(&["--profile", profile, "--bind", "127.0.0.1:0"]);
        let address = address_of(&first);
        let (summary, curl) = summary_until_curl(&mut running);
        for expected in expected_in_summary {
            assert!(
                summary.contains(expected),
                "{profile}: {expected:?} in {summary}"
            );
        }
        assert!(
            curl.starts_with("curl -s -u 'demo-client:demo-secret'"),
            "{curl}"
        );
        assert!(curl.contains(&address), "{curl}");
        let output = Command::new("sh")
            .args(["-c", &curl])
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "{profile}: {curl} failed");
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{profile}: not JSON: {:?}", output.stdout));
        assert!(answer["access_token"].is_string(), "{profile}: {answer}");
        assert!(
            answer.get("scope").is_none_or(|scope| !scope.is_object()),
            "{profile}: nothing invalid: {answer}"
        );
    }
    let cases: &[(&str, &[&str])] = &[
        (
            "rfc",
            &[
                "scopes: [demo.read demo.write items:read items:write]  audiences: [demo-api]",
                "admin api:",
                "admin openapi:",
                "admin console:  http://127.0.0.1:",
            ],
        ),
        (
            "slb",
            &["scope (audiences): [demo-api]", "-d scope=demo-api"],
        ),
        (
            "cloudentity",
            &["region:         none", "/demo/default/oauth2/token"],
        ),
        ("cyberark", &["/oauth2/token/ccflow"]),
        ("userclouds", &["scope: ignored"]),
    ];
    for (profile, expected) in cases {
        check(profile, expected);
    }
}

#[test]
fn help_lists_the_profiles_and_the_defaults() {
    let output = command(&["--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("rfc, slb, cloudentity, cyberark, userclouds"),
        "{help}"
    );
    assert!(help.contains("127.0.0.1:8080"), "{help}");
    assert!(
        !help.contains("Debug"),
        "no code comments in --help: {help}"
    );
}

/// `ccflow-auth-server --bind ADDR healthcheck ARGS…`: its exit code (a container's
/// HEALTHCHECK runs it with the image's `CCFLOW_BIND` instead).
fn healthcheck(address: &str, args: &[&str]) -> Option<i32> {
    let mut all = vec!["--bind", address, "healthcheck"];
    all.extend_from_slice(args);
    command(&all).output().unwrap().status.code()
}

#[tokio::test]
async fn health_routes_answer_any_peer_even_without_the_admin_api_and_the_healthcheck_probes_them()
{
    let (running, first) = spawn(&["--bind", "127.0.0.1:0", "--no-admin"]);
    let address = address_of(&first);
    let http = reqwest::Client::new();
    for (path, status) in [
        ("/_ccflow/health/live", "ok"),
        ("/_ccflow/health/ready", "ready"),
    ] {
        let answer = http
            .get(format!("http://{address}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body, serde_json::json!({ "status": status }), "{path}");
    }
    let admin = http
        .get(format!("http://{address}/_ccflow/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 404, "--no-admin still hides the admin API");
    assert_eq!(healthcheck(&address, &[]), Some(0));
    assert_eq!(healthcheck(&address, &["--live"]), Some(0));
    drop(running);
    // Nothing listening any more: unhealthy, also after --wait.
    assert_eq!(healthcheck(&address, &[]), Some(1));
    assert_eq!(healthcheck(&address, &["--wait", "1"]), Some(1));
}

#[tokio::test]
async fn the_whole_config_comes_from_ccflow_config_toml() {
    let mut with_text = command(&[]);
    with_text.env(
        "CCFLOW_CONFIG_TOML",
        "bind = \"127.0.0.1:0\"\n[[clients]]\nclient_id = \"orders\"\nclient_secret = \"orders-secret\"\naudiences = [\"orders-api\"]\n",
    );
    let (mut running, first) = spawn_command(with_text);
    let address = address_of(&first);
    let token = |client: &'static str, secret: &'static str| {
        reqwest::Client::new()
            .post(format!("http://{address}/oauth2/token"))
            .basic_auth(client, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    assert_eq!(
        token("orders", "orders-secret").await.unwrap().status(),
        200
    );
    // A configuration replaces the embedded defaults: no demo client.
    assert_eq!(
        token("demo-client", "demo-secret").await.unwrap().status(),
        401
    );
    let rest = rest_of_output(&mut running);
    assert!(!rest.contains("orders-secret"), "{rest}");

    let broken = command(&["--bind", "127.0.0.1:0"])
        .env("CCFLOW_CONFIG_TOML", "[[clients]]\nclient_id = 7\n")
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(2), "{broken:?}");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("$CCFLOW_CONFIG_TOML"), "{stderr}");

    let both = command(&["--config", "x.toml", "--bind", "127.0.0.1:0"])
        .env("CCFLOW_CONFIG_TOML", "profile = \"rfc\"\n")
        .output()
        .unwrap();
    assert_eq!(
        both.status.code(),
        Some(2),
        "a file and a text conflict: {both:?}"
    );
}

/// The `cert` subcommand against a running `--tls` server, then curl as an independent mutual
/// TLS client (RFC 8705): its bound token's `cnf["x5t#S256"]` is openssl's SHA-256 fingerprint
/// of the certificate, base64url-encoded (§3.1).
#[test]
fn the_cert_subcommand_makes_a_certificate_curl_gets_a_bound_token_with() {
    use base64::Engine as _;

    let directory = std::env::temp_dir().join(format!("ccflow-binary-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = |name: &str| directory.join(name).to_str().unwrap().to_owned();
    let mut server = command(&[
        "--bind",
        "127.0.0.1:0",
        "--tls",
        "--tls-ca-file",
        &file("ca.pem"),
    ]);
    server.env(
        "CCFLOW_CONFIG_TOML",
        r#"
        [[clients]]
        client_id = "svc"
        auth_method = "tls_client_auth"
        tls_client_auth_subject_dn = "CN=svc"
        tls_client_certificate_bound_access_tokens = true
        "#,
    );
    let (_running, first) = spawn_command(server);
    let address = first
        .trim_end()
        .strip_prefix("ccflow-auth-server listening on https://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    let url = format!("https://{address}");
    let cert = command(&[
        "cert",
        "svc",
        "--url",
        &url,
        "--cacert",
        &file("ca.pem"),
        "--cert-out",
        &file("svc.pem"),
        "--key-out",
        &file("svc-key.pem"),
    ])
    .output()
    .unwrap();
    let printed = String::from_utf8_lossy(&cert.stdout);
    assert!(
        cert.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&cert.stderr)
    );
    assert!(printed.contains("subject: CN=svc"), "{printed}");
    assert!(!printed.contains("PRIVATE"), "{printed}");
    // Without --cacert an https URL is refused before anything is sent.
    let refused = command(&["cert", "svc", "--url", &url]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let curl = |extra: &[&str]| {
        let output = Command::new("curl")
            .args(["-s", "--cacert", &file("ca.pem")])
            .args(extra)
            .args(["-d", "grant_type=client_credentials", "-d", "client_id=svc"])
            .arg(format!("{url}/oauth2/token"))
            .output()
            .expect("curl runs");
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let token = curl(&["--cert", &file("svc.pem"), "--key", &file("svc-key.pem")]);
    let access_token = token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{token}"));
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let fingerprint = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            &file("svc.pem"),
        ])
        .output()
        .expect("openssl runs");
    let fingerprint = String::from_utf8_lossy(&fingerprint.stdout);
    let hex = fingerprint
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&hex[index..index + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes.len(), 32, "{fingerprint}");
    assert_eq!(
        claims["cnf"]["x5t#S256"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        "{claims}"
    );
    // The same request without the certificate: 401 invalid_client (RFC 8705 §2).
    let without = curl(&[]);
    assert_eq!(without["error"], "invalid_client", "{without}");
    std::fs::remove_dir_all(&directory).unwrap();
}
