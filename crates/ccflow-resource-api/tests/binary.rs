//! The `ccflow-resource-api` binary as scripts use it: the `listening on` line, the routes over
//! a real socket against an embedded auth server, start-up without the issuer, configuration
//! errors, graceful shutdown on SIGTERM, and HTTPS with certificate-bound tokens (curl as the
//! independent TLS client).

mod binary_process;
mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use binary_process::{Running, command, spawn};
use ccflow_auth_server::{Client, MockAuthServer, SigningKey};
use common::fixture;
use serde_json::{Value, json};
use tokio::task::JoinSet;

async fn auth_server() -> MockAuthServer {
    MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .client(
            Client::new("writer", "writer-secret")
                .scopes(["items:read", "items:write"])
                .audiences(["items-api"]),
        )
        .start()
        .await
        .unwrap()
}

async fn token(server: &MockAuthServer) -> String {
    let response: Value = reqwest::Client::new()
        .post(server.token_url())
        .basic_auth("writer", Some("writer-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn serves_the_sample_api_and_stops_on_sigterm() {
    let server = auth_server().await;
    let running = spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        server.issuer(),
        "--audience",
        "items-api",
        "--workers",
        "2",
    ]);
    let http = reqwest::Client::new();
    let token = token(&server).await;

    let health = http.get(running.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let anonymous = http.get(running.url("/v1/items")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        r#"Bearer realm="ccflow""#
    );
    let whoami: Value = http
        .get(running.url("/v1/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["client_id"], "writer");

    // Concurrent writers over a real socket and two workers: distinct ids.
    let mut writers = JoinSet::new();
    for n in 0..50 {
        let (http, url, token) = (http.clone(), running.url("/v1/items"), token.clone());
        writers.spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"name": format!("item {n}"), "quantity": n}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()["id"]
                .as_u64()
                .unwrap()
        });
    }
    let mut ids = writers.join_all().await;
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    let listed: Value = http
        .get(running.url("/v1/items"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 50);

    // A 100 KiB Authorization header over the wire: refused by the validator, not the parser.
    let huge = http
        .get(running.url("/v1/items"))
        .header(
            "authorization",
            format!("Bearer {}", "a".repeat(100 * 1024)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 401);

    let (exit, _rest) = running.terminate();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
}

#[tokio::test]
async fn starts_without_the_issuer_and_answers_503_until_keys_load() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{closed_port}");
    let running = spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        &issuer,
        "--audience",
        "items-api",
    ]);
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(running.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let refused = http
        .get(running.url("/v1/items"))
        .bearer_auth("aGVhZA.Ym9keQ.c2ln")
        .send()
        .await
        .unwrap();
    // The token's header does not parse, so this is a 401 before any key is needed...
    assert_eq!(refused.status(), 401);
    // ...while a well-formed token of the trusted issuer needs keys, which cannot be had: 503,
    // not 500.
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "k"});
    let token = common::craft(
        &header,
        &common::claims_with(&json!({"iss": issuer})),
        "c2ln",
    );
    let unavailable = http
        .get(running.url("/v1/items"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unavailable.status(), 503);
    assert!(unavailable.headers().contains_key("retry-after"));
    let body: Value = unavailable.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let (exit, _) = running.terminate();
    assert!(exit.success());
}

#[test]
fn refuses_to_start_without_issuer_or_audience() {
    #[track_caller]
    fn check(args: &[&str], stderr_contains: &str) {
        let output = command(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(stderr_contains), "{stderr}");
    }
    check(&["--audience", "items-api"], "an issuer is required");
    check(
        &["--issuer", "http://127.0.0.1:1"],
        "at least one audience is required",
    );
    check(
        &["--issuer", "ftp://x", "--audience", "a"],
        "the issuer must be an http(s) URL",
    );
    check(
        &["--config", "/nonexistent/resource.toml"],
        "/nonexistent/resource.toml: cannot read the file",
    );
    // A forwarded-certificate header needs the proxies trusted to send it, and the other way
    // round (RFC 8705 §3 behind a proxy).
    let api = ["--issuer", "http://127.0.0.1:1", "--audience", "a"];
    check(
        &[&api[..], &["--client-cert-header", "X-SSL-Client-Cert"]].concat(),
        "read only from trusted proxies",
    );
    check(
        &[&api[..], &["--trusted-proxy", "10.0.0.1"]].concat(),
        "trusted proxies without a forwarded client certificate header",
    );
    check(
        &[
            &api[..],
            &[
                "--client-cert-header",
                "x",
                "--trusted-proxy",
                "10.0.0.0/33",
            ],
        ]
        .concat(),
        "is not an IP address or CIDR block",
    );
    check(
        &[&api[..], &["--client-cert-header-format", "der"]].concat(),
        "is not a client certificate header format",
    );
}

/// `--client-cert-header`, `--client-cert-header-format` and `CCFLOW_RESOURCE_TRUSTED_PROXIES`
/// reach the validator: the start-up summary names them.
#[test]
fn reads_the_forwarded_certificate_settings() {
    let mut child = command(&[
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        "http://127.0.0.1:1",
        "--audience",
        "a",
        "--client-cert-header",
        "X-Forwarded-Client-Cert",
    ])
    .env("CCFLOW_RESOURCE_TRUSTED_PROXIES", "127.0.0.3,10.0.0.0/8")
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..6 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line);
    }
    let running = Running {
        child,
        stdout,
        address: String::new(),
    };
    assert!(
        lines.iter().any(|line| line.trim()
            == "client certificates: from the `x-forwarded-client-cert` header (xfcc) of 127.0.0.3/32, 10.0.0.0/8, else the TLS connection"),
        "{lines:?}"
    );
    let (exit, _) = running.terminate();
    assert!(exit.success());
}

#[test]
fn reads_settings_from_a_config_file_and_the_environment() {
    let directory =
        std::env::temp_dir().join(format!("ccflow-resource-api-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("resource.toml");
    std::fs::write(
        &file,
        "bind = \"127.0.0.1:0\"\nissuer = \"http://127.0.0.1:1\"\naudiences = [\"from-file\"]\n",
    )
    .unwrap();
    let mut child = command(&["--config", file.to_str().unwrap()])
        .env("CCFLOW_RESOURCE_AUDIENCE", "from-env-1,from-env-2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line);
    }
    let running = Running {
        child,
        stdout,
        address: String::new(),
    };
    assert!(lines[0].starts_with("ccflow-resource-api listening on http://127.0.0.1:"));
    assert_eq!(lines[1].trim(), "issuer:     http://127.0.0.1:1");
    assert_eq!(lines[2].trim(), "audiences:  from-env-1, from-env-2");
    let (exit, _) = running.terminate();
    assert!(exit.success());
    let _ = std::fs::remove_dir_all(directory);
}

/// `ccflow-resource-api --bind ADDR healthcheck ARGS…`: its exit code (a container's
/// HEALTHCHECK runs it with the image's environment instead of `--bind`).
fn healthcheck(address: &str, args: &[&str]) -> Option<i32> {
    let mut all = vec!["--bind", address, "healthcheck"];
    all.extend_from_slice(args);
    command(&all).output().unwrap().status.code()
}

#[tokio::test]
async fn readiness_is_the_issuers_keys_and_the_healthcheck_subcommand_reports_it() {
    // An issuer that does not answer: live, not ready.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lonely = spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        &format!("http://127.0.0.1:{closed_port}"),
        "--audience",
        "items-api",
    ]);
    let http = reqwest::Client::new();
    let not_ready = http.get(lonely.url("/readyz")).send().await.unwrap();
    assert_eq!(not_ready.status(), 503);
    let body: Value = not_ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(healthcheck(&lonely.address, &[]), Some(1));
    assert_eq!(healthcheck(&lonely.address, &["--live"]), Some(0));
    let (exit, _) = lonely.terminate();
    assert!(exit.success());

    // An issuer that answers: ready once the keys are in (a validated token proves they are).
    let server = auth_server().await;
    let running = spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        server.issuer(),
        "--audience",
        "items-api",
    ]);
    let whoami = http
        .get(running.url("/v1/whoami"))
        .bearer_auth(token(&server).await)
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 200);
    let ready = http.get(running.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    assert_eq!(healthcheck(&running.address, &[]), Some(0));
    let (exit, _) = running.terminate();
    assert!(exit.success());

    // Nothing listening: unhealthy, also after --wait.
    let nowhere = format!("127.0.0.1:{closed_port}");
    assert_eq!(healthcheck(&nowhere, &["--live", "--wait", "1"]), Some(1));
}

/// An issuer over HTTPS with a throw-away CA (`ccflow-auth-server --tls`, here embedded): with
/// `--issuer-ca-file` naming that CA the API fetches the issuer's keys and accepts its token;
/// without it the API's TLS client refuses the issuer's certificate, so no key is ever trusted;
/// a file that cannot be read stops the start (exit 2).
#[tokio::test]
async fn an_https_issuer_is_trusted_through_issuer_ca_file() {
    let server = MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .client(
            Client::new("writer", "writer-secret")
                .scopes(["items:read"])
                .audiences(["items-api"]),
        )
        .tls(Vec::<String>::new())
        .start()
        .await
        .unwrap();
    let ca_pem = server.tls_ca_pem().unwrap().to_owned();
    let directory =
        std::env::temp_dir().join(format!("ccflow-issuer-ca-file-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let ca_file = directory.join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let ca_file = ca_file.display().to_string();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let response: Value = https
        .post(server.token_url())
        .basic_auth("writer", Some("writer-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = response["access_token"].as_str().unwrap().to_owned();
    assert!(
        server.issuer().starts_with("https://"),
        "{}",
        server.issuer()
    );
    let cases: [(&str, &[&str], u16); 2] = [
        (
            "--issuer-ca-file names the issuer's CA",
            &["--issuer-ca-file", &ca_file],
            200,
        ),
        ("no --issuer-ca-file", &[], 503),
    ];
    for (case, extra, expected) in cases {
        let mut args = vec![
            "--bind",
            "127.0.0.1:0",
            "--issuer",
            server.issuer(),
            "--audience",
            "items-api",
        ];
        args.extend_from_slice(extra);
        let running = spawn(&args);
        let whoami = reqwest::Client::new()
            .get(running.url("/v1/whoami"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(whoami.status(), expected, "{case}");
        let (exit, _) = running.terminate();
        assert!(exit.success(), "{case}");
    }
    let unreadable = command(&[
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        server.issuer(),
        "--audience",
        "items-api",
        "--issuer-ca-file",
        "/nonexistent/ca.pem",
    ])
    .output()
    .unwrap();
    assert_eq!(unreadable.status.code(), Some(2), "{unreadable:?}");
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn reads_the_whole_config_from_ccflow_resource_config_toml() {
    let mut child = command(&[])
        .env(
            "CCFLOW_RESOURCE_CONFIG_TOML",
            "bind = \"127.0.0.1:0\"\nissuer = \"http://127.0.0.1:1\"\naudiences = [\"from-toml\"]\n",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line);
    }
    let running = Running {
        child,
        stdout,
        address: String::new(),
    };
    assert!(lines[0].starts_with("ccflow-resource-api listening on http://127.0.0.1:"));
    assert_eq!(lines[1].trim(), "issuer:     http://127.0.0.1:1");
    assert_eq!(lines[2].trim(), "audiences:  from-toml");
    let (exit, _) = running.terminate();
    assert!(exit.success());

    let broken = command(&[])
        .env("CCFLOW_RESOURCE_CONFIG_TOML", "issuer = 7\n")
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(2), "{broken:?}");
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("$CCFLOW_RESOURCE_CONFIG_TOML"),
        "{broken:?}"
    );
}

/// A directory of a test's own, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ccflow-resource-api-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, content: &str) -> std::path::PathBuf {
        let file = self.0.join(name);
        std::fs::write(&file, content).unwrap();
        file
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

/// A self-signed certificate for `names` (files `NAME.pem` and `NAME.key`) and its thumbprint.
fn certificate(dir: &TempDir, file: &str, names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let signed = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    dir.write(&format!("{file}.pem"), &pem("CERTIFICATE", signed.der()));
    dir.write(
        &format!("{file}.key"),
        &pem("PRIVATE KEY", &key.serialize_der()),
    );
    let thumbprint = ccflow_protocol::mtls::x5t_s256(signed.der());
    (file.to_owned(), thumbprint)
}

/// curl, or why this test cannot run: under CI that is a failure.
fn curl_binary() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("curl"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let message = "tests/binary.rs: curl not installed: the HTTPS test with client certificates DID NOT RUN (.ci/run installs curl)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        #[allow(clippy::print_stderr, reason = "a skipped test says so loudly")]
        {
            eprintln!("\n==== SKIPPED: {message} ====\n");
        }
    }
    found
}

/// `GET url` by curl trusting `ca`, presenting `client` (files in `dir`) if given: the status
/// and the `WWW-Authenticate` value.
fn curl(
    curl: &std::path::Path,
    dir: &TempDir,
    url: &str,
    ca: &std::path::Path,
    client: Option<&str>,
    token: &str,
) -> (u16, String) {
    let mut command = Command::new(curl);
    command
        .args(["-sS", "-i", "--max-time", "20", "--cacert"])
        .arg(ca);
    if let Some(client) = client {
        command
            .arg("--cert")
            .arg(dir.0.join(format!("{client}.pem")))
            .arg("--key")
            .arg(dir.0.join(format!("{client}.key")));
    }
    // The token through a file, not the command line.
    let header = dir.write("authorization", &format!("Authorization: Bearer {token}"));
    let output = command
        .arg("-H")
        .arg(format!("@{}", header.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let challenge = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    (status, challenge)
}

/// The binary serving HTTPS: the URL from its first line and, with `--tls`, the CA file from
/// its second (`tls ca: PATH`), else `ca`.
fn spawn_https(
    command: &mut Command,
    ca: Option<std::path::PathBuf>,
) -> (Running, String, std::path::PathBuf) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let address = first
        .trim_end()
        .strip_prefix("ccflow-resource-api listening on https://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    let ca = ca.unwrap_or_else(|| {
        let mut second = String::new();
        stdout.read_line(&mut second).unwrap();
        std::path::PathBuf::from(
            second
                .trim_end()
                .strip_prefix("tls ca: ")
                .unwrap_or_else(|| panic!("unexpected second line: {second:?}")),
        )
    });
    let url = format!("https://{address}/v1/whoami");
    (
        Running {
            child,
            stdout,
            address,
        },
        url,
        ca,
    )
}

/// HTTPS as the auth server serves it: `--tls` (here through its environment variables) with a
/// throw-away CA whose file the second line names, or `--tls-cert/--tls-key`; either way clients
/// are asked for a certificate, not required to send one. curl presenting the certificate a
/// token is bound to gets 200; without a certificate, or with another, 401 `invalid_token`
/// (RFC 8705 §3); an unbound token passes without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_and_binds_tokens_to_the_connections_certificate() {
    let Some(curl_path) = curl_binary() else {
        return;
    };
    let dir = TempDir::new("https");
    let (a, a_thumbprint) = certificate(&dir, "client-a", &["client-a"]);
    let (b, _) = certificate(&dir, "client-b", &["client-b"]);
    let (server, _) = certificate(&dir, "server", &["127.0.0.1", "localhost"]);

    // The processes fetch the keys from this test's runtime while curl blocks one worker.
    let jwks = common::mock_server().await;
    wiremock::Mock::given(wiremock::matchers::path(common::JWKS_PATH))
        .respond_with(common::jwks_response(&[&common::key_1()]))
        .mount(&jwks)
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let times = json!({"iat": now, "nbf": now, "exp": now + 3600});
    let mut bound = common::claims_with(&times);
    bound["cnf"] = json!({ "x5t#S256": a_thumbprint });
    let bound = common::token_with_claims(&common::key_1(), &bound);
    let unbound = common::token_with_claims(&common::key_1(), &common::claims_with(&times));
    let api = [
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        common::ISSUER,
        "--audience",
        common::AUDIENCE,
        "--jwks-url",
        &common::jwks_url(&jwks),
    ];

    let generated_ca = dir.0.join("generated-ca.pem");
    let mut generated = command(&api);
    generated
        .env("CCFLOW_RESOURCE_TLS", "true")
        .env("CCFLOW_RESOURCE_TLS_CA_FILE", &generated_ca);
    let server_pem = dir.0.join(format!("{server}.pem"));
    let server_key = dir.0.join(format!("{server}.key"));
    let mut files = command(&api);
    files
        .arg("--tls-cert")
        .arg(&server_pem)
        .arg("--tls-key")
        .arg(&server_key);
    let (generated_ca_flag, server_pem_flag, server_key_flag) = (
        generated_ca.display().to_string(),
        server_pem.display().to_string(),
        server_key.display().to_string(),
    );
    for (name, mut server_command, ca, tls_flags) in [
        (
            "--tls",
            generated,
            None,
            ["--tls", "--tls-ca-file", &generated_ca_flag, ""],
        ),
        (
            "--tls-cert",
            files,
            Some(server_pem),
            [
                "--tls-cert",
                &server_pem_flag,
                "--tls-key",
                &server_key_flag,
            ],
        ),
    ] {
        let (running, url, ca) = spawn_https(&mut server_command, ca);
        if name == "--tls" {
            assert_eq!(ca, generated_ca, "the CA file is the one asked for");
        }
        let cases: [(&str, Option<&str>, &str, u16, &str); 4] = [
            ("the bound certificate", Some(&a), &bound, 200, ""),
            (
                "another certificate",
                Some(&b),
                &bound,
                401,
                "does not match the certificate the token is bound to",
            ),
            (
                "no certificate",
                None,
                &bound,
                401,
                "the request presented no client certificate",
            ),
            ("an unbound token, no certificate", None, &unbound, 200, ""),
        ];
        for (case, client, token, status, fragment) in cases {
            let (got, challenge) = curl(&curl_path, &dir, &url, &ca, client, token);
            assert_eq!(got, status, "{name}, {case}: {challenge}");
            assert!(
                challenge.contains(fragment)
                    && (status == 200 || challenge.contains(r#"error="invalid_token""#)),
                "{name}, {case}: {challenge}"
            );
        }
        // The healthcheck, given the same TLS flags, probes over HTTPS and verifies the server;
        // plain HTTP against the HTTPS port is unhealthy.
        let probe = |flags: &[&str]| {
            let mut all = vec!["--bind", running.address.as_str()];
            all.extend(flags.iter().filter(|flag| !flag.is_empty()));
            all.extend(["healthcheck", "--live"]);
            command(&all).output().unwrap().status.code()
        };
        assert_eq!(probe(&tls_flags), Some(0), "{name}: healthcheck over HTTPS");
        assert_eq!(probe(&[]), Some(1), "{name}: plain HTTP healthcheck");
        let (exit, _) = running.terminate();
        assert!(exit.success(), "{name}: graceful shutdown");
    }
}

/// HTTP and HTTPS at once (issue 19), as `ccflow-auth-server --https-bind` does it: HTTP stays
/// on --bind (the first line, and what the healthcheck probes), HTTPS with a throw-away CA on
/// the second address, whose line follows the first, then `tls ca: PATH`. Given as a flag, in
/// the environment and in the file; the same token passes on both ports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_http_and_https_at_once_with_https_bind() {
    let server = auth_server().await;
    let token = token(&server).await;
    let dir = TempDir::new("https-bind");
    let ca_path = dir.0.join("ca.pem");
    let ca = ca_path.display().to_string();
    let api = [
        "--bind",
        "127.0.0.1:0",
        "--issuer",
        server.issuer(),
        "--audience",
        "items-api",
        "--tls-ca-file",
        &ca,
    ];
    let toml = "https_bind = \"127.0.0.1:0\"".to_owned();
    let mut flag = command(&[&api[..], &["--https-bind", "127.0.0.1:0"]].concat());
    let mut env = command(&api);
    env.env("CCFLOW_RESOURCE_HTTPS_BIND", "127.0.0.1:0");
    let mut file = command(&[&api[..], &["--config-toml", &toml]].concat());
    for (name, launcher) in [("flag", &mut flag), ("env", &mut env), ("file", &mut file)] {
        let mut child = launcher
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = || {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            line.trim_end().to_owned()
        };
        let (first, second, third) = (line(), line(), line());
        let http = first
            .strip_prefix("ccflow-resource-api listening on http://")
            .unwrap_or_else(|| panic!("{name}: first line {first:?}"))
            .to_owned();
        let https = second
            .strip_prefix("ccflow-resource-api listening on https://")
            .unwrap_or_else(|| panic!("{name}: second line {second:?}"))
            .to_owned();
        assert_eq!(third, format!("tls ca: {ca}"), "{name}");
        assert_ne!(http, https, "{name}: two ports");
        let running = Running {
            child,
            stdout,
            address: http.clone(),
        };
        let root = reqwest::Certificate::from_pem(&std::fs::read(&ca_path).unwrap()).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(root)
            .build()
            .unwrap();
        for url in [
            format!("http://{http}/v1/items"),
            format!("https://{https}/v1/items"),
        ] {
            let answer = client.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{name}: {url}");
        }
        // Plain HTTP to the HTTPS port gets no HTTP answer.
        assert!(
            reqwest::get(format!("http://{https}/healthz"))
                .await
                .map_or(true, |answer| answer.status() != 200),
            "{name}"
        );
        // The healthcheck probes --bind over plain HTTP when --https-bind is set, even with
        // --tls (without --https-bind, --tls would make it try HTTPS there, and fail).
        let probe = |flags: &[&str]| {
            let mut all = vec!["--bind", http.as_str(), "--tls", "--tls-ca-file", &ca];
            all.extend_from_slice(flags);
            all.extend(["healthcheck", "--live"]);
            command(&all).output().unwrap().status.code()
        };
        assert_eq!(probe(&["--https-bind", &https]), Some(0), "{name}");
        assert_eq!(probe(&[]), Some(1), "{name}: HTTPS to the plain port");
        let (exit, _) = running.terminate();
        assert!(exit.success(), "{name}: graceful shutdown");
    }
}
