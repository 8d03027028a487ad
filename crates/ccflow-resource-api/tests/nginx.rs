//! Certificate-bound tokens behind a real TLS-terminating proxy (RFC 8705 §3): Debian's nginx
//! terminates TLS, asks for a client certificate without judging it (`ssl_verify_client
//! optional_no_ca`) and forwards it URL-encoded (`$ssl_client_escaped_cert`) in
//! `X-SSL-Client-Cert` to the sample API, which trusts that header only from nginx's address
//! (nginx connects from 127.0.0.3, `proxy_bind`). curl is the TLS client. The harness writes
//! nginx.conf into a directory of its own (ephemeral port on 127.0.0.1; pid, logs and temp
//! files inside it), runs nginx in the foreground, polls its port with a deadline and kills it
//! when done.
//!
//! Without nginx (or curl) the test says so loudly and returns, except under `CI=true`, where
//! it fails: `.ci/run` installs both.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use actix_web::{App, HttpServer};
use ccflow_protocol::mtls::{CNF_X5T_S256, ClientCertificate};
use ccflow_resource_api::sample_api::{self, SampleApi};
use ccflow_resource_api::{ForwardedCertificateFormat, IpNetwork, Validator};
use common::{AUDIENCE, ISSUER, JWKS_PATH, claims_with, clock, key_1, token_with_claims};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// The address nginx connects to the API from: the one address the API trusts.
const NGINX_SOURCE: &str = "127.0.0.3";
const HEADER: &str = "X-SSL-Client-Cert";

/// A directory of this test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("ccflow-nginx-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
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

/// A client certificate (self-signed, as RFC 8705 §2.2 allows) and its key, as files.
#[derive(Clone)]
struct ClientIdentity {
    certificate: ClientCertificate,
    pem: String,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl ClientIdentity {
    fn new(dir: &TempDir, name: &str) -> Self {
        let (certificate, certificate_pem, key_pem) = common::self_signed_certificate(name);
        Self {
            certificate,
            cert_file: dir.write(&format!("{name}.pem"), &certificate_pem),
            key_file: dir.write(&format!("{name}.key"), &key_pem),
            pem: certificate_pem,
        }
    }

    /// The certificate as nginx's `$ssl_client_escaped_cert` writes it.
    fn escaped(&self) -> String {
        common::nginx_escaped(&self.pem)
    }
}

/// A throw-away CA and nginx's certificate for 127.0.0.1, signed by it; returns the CA file.
fn server_certificate(dir: &TempDir) -> PathBuf {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "nginx test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "nginx");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = params.signed_by(&key, &ca).unwrap();
    dir.write("server.pem", &pem("CERTIFICATE", leaf.der()));
    dir.write("server.key", &pem("PRIVATE KEY", &key.serialize_der()));
    dir.write("ca.pem", &pem("CERTIFICATE", ca.der()))
}

/// Where a program is: on `PATH`, or (nginx, for users without `/usr/sbin` on theirs) in
/// Debian's place for it.
fn find(program: &str, fallback: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from(fallback)).filter(|file| file.is_file()))
}

/// The tools this test needs, or why it cannot run: under CI that is a failure.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let nginx = find("nginx", "/usr/sbin/nginx");
    let curl = find("curl", "/usr/bin/curl");
    match (nginx, curl) {
        (Some(nginx), Some(curl)) => Some((nginx, curl)),
        (nginx, curl) => {
            let missing = [("nginx", nginx.is_none()), ("curl", curl.is_none())]
                .into_iter()
                .filter_map(|(name, missing)| missing.then_some(name))
                .collect::<Vec<_>>()
                .join(" and ");
            let message = format!(
                "tests/nginx.rs: {missing} not installed: the real-proxy test of certificate-bound tokens DID NOT RUN (apt-get install nginx curl; .ci/run installs them)"
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{message}, and CI=true requires it"
            );
            #[allow(clippy::print_stderr, reason = "a skipped test says so loudly")]
            {
                eprintln!("\n==== SKIPPED: {message} ====\n");
            }
            None
        }
    }
}

/// nginx in the foreground, killed when dropped.
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_conf(dir: &Path, port: u16, api: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        ssl_verify_client optional_no_ca;
        location / {{
            proxy_pass http://{api};
            proxy_bind {NGINX_SOURCE};
            proxy_set_header {HEADER} $ssl_client_escaped_cert;
        }}
    }}
}}
"#
    )
}

/// Starts nginx on a free port in front of `api`, returning once it accepts connections. The
/// port is found by binding 127.0.0.1:0 and letting it go; should another process take it
/// first, nginx exits and the next port is tried.
fn start_nginx(binary: &Path, dir: &TempDir, api: SocketAddr) -> Nginx {
    for _attempt in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.write("nginx.conf", &nginx_conf(&dir.0, port, api));
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.0.join("error.log"))
            .args(["-g", "daemon off; master_process off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Nginx { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            if nginx.child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen within 15 s: {}",
                std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default();
        assert!(
            log.contains("Address already in use"),
            "nginx exited: {log}"
        );
    }
    panic!("nginx found no free port in 5 attempts");
}

/// What curl got: the status and every `WWW-Authenticate` value.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: String,
}

/// `GET url` with `headers` (and a client certificate), by curl, trusting `ca`.
fn curl(
    curl: &Path,
    url: &str,
    ca: &Path,
    identity: Option<&ClientIdentity>,
    headers: &[String],
) -> Answer {
    let mut command = Command::new(curl);
    command
        .args(["-sS", "-i", "--max-time", "20", "--cacert"])
        .arg(ca);
    if let Some(identity) = identity {
        command
            .arg("--cert")
            .arg(&identity.cert_file)
            .arg("--key")
            .arg(&identity.key_file);
    }
    for header in headers {
        command.arg("-H").arg(header);
    }
    let output = command.arg(url).output().expect("curl runs");
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
        .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, value)| value.trim().to_owned())
        .collect::<Vec<_>>()
        .join(" | ");
    Answer { status, challenge }
}

/// The sample API on a real port, behind which nginx proxies; stopped when dropped.
struct Api {
    address: SocketAddr,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Api {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn start_api(validator: Validator) -> Api {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let api = SampleApi::new(validator);
    let server = HttpServer::new(move || App::new().configure(sample_api::configure(api.clone())))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Api { address, handle }
}

/// Name, URL, curl's client certificate, headers, status, a fragment of the challenge.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a ClientIdentity>,
    Vec<String>,
    u16,
    &'a str,
);

const NO_CERTIFICATE: &str = "the request presented no client certificate";
const NOT_THE_CERTIFICATE: &str =
    "the client certificate presented does not match the certificate the token is bound to";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_forwards_the_client_certificate_and_only_nginx_is_trusted() {
    let Some((nginx_binary, curl_binary)) = tools() else {
        return;
    };
    let dir = TempDir::new();
    let ca = server_certificate(&dir);
    let a = ClientIdentity::new(&dir, "client-a");
    let b = ClientIdentity::new(&dir, "client-b");

    let jwks = common::mock_server().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(common::jwks_body(&[&key_1()])))
        .mount(&jwks)
        .await;
    let validator = Validator::builder()
        .issuer(ISSUER)
        .jwks_url(common::jwks_url(&jwks))
        .audience(AUDIENCE)
        .clock(clock())
        .forwarded_client_certificate(HEADER, ForwardedCertificateFormat::EscapedPem)
        .trusted_proxies([NGINX_SOURCE.parse::<IpNetwork>().unwrap()])
        .build()
        .unwrap();
    let api = start_api(validator);
    let nginx = start_nginx(&nginx_binary, &dir, api.address);

    let bound_to_a = token_with_claims(
        &key_1(),
        &claims_with(&json!({ "cnf": { CNF_X5T_S256: a.certificate.thumbprint() } })),
    );
    let unbound = common::token(&key_1());
    let through_nginx = format!("https://127.0.0.1:{}/v1/whoami", nginx.port);
    let direct = format!("http://{}/v1/whoami", api.address);
    let bearer = |token: &str| format!("Authorization: Bearer {token}");
    let forged_a = format!("{HEADER}: {}", a.escaped());

    #[rustfmt::skip]
    let cases: Vec<Case<'_>> = vec![
        ("through nginx with the bound certificate: 200 (RFC 8705 §3)", &through_nginx, Some(&a), vec![bearer(&bound_to_a)], 200, ""),
        ("through nginx with another certificate: 401 (RFC 8705 §3)", &through_nginx, Some(&b), vec![bearer(&bound_to_a)], 401, NOT_THE_CERTIFICATE),
        ("through nginx without a certificate: 401 (RFC 8705 §3)", &through_nginx, None, vec![bearer(&bound_to_a)], 401, NO_CERTIFICATE),
        ("through nginx without a certificate, the header forged by the client: nginx replaces it, 401", &through_nginx, None, vec![bearer(&bound_to_a), forged_a.clone()], 401, NO_CERTIFICATE),
        ("through nginx, an unbound token without a certificate: 200 as ever", &through_nginx, None, vec![bearer(&unbound)], 200, ""),
        ("straight to the API from 127.0.0.1 (not trusted), the header sent: ignored, 401", &direct, None, vec![bearer(&bound_to_a), forged_a.clone()], 401, NO_CERTIFICATE),
    ];
    for (name, url, identity, headers, status, fragment) in cases {
        let url = url.to_owned();
        let ca = ca.clone();
        let curl_binary = curl_binary.clone();
        let identity = identity.cloned();
        let answer = tokio::task::spawn_blocking(move || {
            curl(&curl_binary, &url, &ca, identity.as_ref(), &headers)
        })
        .await
        .unwrap();
        assert_eq!(answer.status, status, "{name}: {answer:?}");
        if status == 401 {
            assert!(
                answer
                    .challenge
                    .starts_with(r#"Bearer realm="ccflow", error="invalid_token""#)
                    && answer.challenge.contains(fragment),
                "{name}: {answer:?}"
            );
        }
    }
    drop(nginx);
    drop(api);
}
