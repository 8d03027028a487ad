//! `ccflow-auth-server cert CLIENT_ID`: asks a running server for a client certificate from its
//! generated CA (`POST /_ccflow/clients/{id}/certificate`) and writes the certificate and its
//! key to PEM files, so a mutual TLS client (RFC 8705) needs no openssl, also from the container
//! image (no curl there). One HTTP/1.1 request over rustls (aws-lc-rs), trusting only `--cacert`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use rustls::pki_types::ServerName;
use serde_json::Value;

/// The `cert` subcommand's arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct CertArgs {
    /// The client id: the certificate's subject is `CN=<CLIENT_ID>`.
    client_id: String,
    /// The running server's base URL.
    #[arg(long, env = "CCFLOW_URL", default_value = "https://127.0.0.1:8080")]
    url: url::Url,
    /// The CA certificate to trust for an https URL (the file of the server's `tls ca:` line).
    #[arg(long, env = "CCFLOW_CACERT")]
    cacert: Option<PathBuf>,
    /// Also put this DNS name in the certificate (for `tls_client_auth_san_dns`).
    #[arg(long)]
    dns_name: Option<String>,
    /// Where to write the certificate [default: CLIENT_ID.pem].
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Where to write the private key, readable by its owner only [default: CLIENT_ID-key.pem].
    #[arg(long)]
    key_out: Option<PathBuf>,
}

/// Runs the subcommand; `admin_token` is `--admin-token` if the server needs it. Prints the
/// files written, the subject and the thumbprint; never the key.
pub(crate) fn run(args: &CertArgs, admin_token: Option<&str>) -> Result<String> {
    let host = args
        .url
        .host_str()
        .ok_or_else(|| anyhow!("--url {} has no host", args.url))?
        .to_owned();
    let port = args
        .url
        .port_or_known_default()
        .ok_or_else(|| anyhow!("--url {} has no port", args.url))?;
    let mut path = args.url.clone();
    path.path_segments_mut()
        .map_err(|()| anyhow!("--url {} cannot have a path", args.url))?
        .pop_if_empty()
        .extend(["_ccflow", "clients", &args.client_id, "certificate"]);
    let body = match &args.dns_name {
        Some(name) => serde_json::json!({ "dns_name": name }).to_string(),
        None => String::new(),
    };
    let authority = match args.url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let mut request = format!(
        "POST {} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        path.path(),
        body.len()
    );
    if let Some(token) = admin_token {
        request.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);

    let socket = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
        .with_context(|| format!("cannot connect to {authority}"))?;
    socket.set_read_timeout(Some(Duration::from_secs(30)))?;
    let answer = match args.url.scheme() {
        "https" => {
            let cacert = args.cacert.as_deref().ok_or_else(|| {
                anyhow!("an https URL needs --cacert (the file the server printed as `tls ca:`)")
            })?;
            exchange_tls(socket, &host, cacert, request.as_bytes())?
        }
        "http" => exchange(socket, request.as_bytes())?,
        other => bail!("--url must be http or https, not {other}"),
    };
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("the server's answer is not HTTP"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("the server's answer has no status"))?;
    let json: Value = serde_json::from_str(body)
        .with_context(|| format!("the server answered {status} without JSON"))?;
    if status != 201 {
        bail!(
            "the server answered {status}: {}",
            json["error_description"]
                .as_str()
                .unwrap_or("(no description)")
        );
    }
    let field = |name: &str| {
        json[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the answer has no `{name}`"))
    };
    let cert_out = args
        .cert_out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.pem", args.client_id)));
    let key_out = args
        .key_out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-key.pem", args.client_id)));
    std::fs::write(&cert_out, field("certificate_pem")?)
        .with_context(|| format!("cannot write {}", cert_out.display()))?;
    write_private(&key_out, field("private_key_pem")?.as_bytes())?;
    Ok(format!(
        "certificate: {}\nkey: {}\nsubject: {}\nx5t#S256: {}\n",
        cert_out.display(),
        key_out.display(),
        field("subject_dn")?,
        field("x5t#S256")?
    ))
}

/// Writes the key readable by its owner only (on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn exchange(mut socket: TcpStream, request: &[u8]) -> Result<Vec<u8>> {
    socket.write_all(request)?;
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer)?;
    Ok(answer)
}

fn exchange_tls(socket: TcpStream, host: &str, cacert: &Path, request: &[u8]) -> Result<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in ccflow_tls::load_certificates(cacert)? {
        roots
            .add(certificate)
            .with_context(|| format!("{} is not a usable CA", cacert.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .with_context(|| format!("{host} is not a server name"))?;
    let connection = rustls::ClientConnection::new(Arc::new(config), name)?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    stream.write_all(request)?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Ok(answer),
        // A server that closes without close_notify has still sent its whole answer.
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {
            Ok(answer)
        }
        Err(error) => Err(error.into()),
    }
}
