//! The attacker of the `jku-elsewhere` and `x5u-elsewhere` cases (RFC 8725 §3.10): a key the
//! probe makes, its JWKS (`/jwks.json`) and certificate (`/cert.pem`) served by a tiny HTTP
//! server of the probe's own (on 127.0.0.1, an ephemeral port, unless `--attacker-bind` says
//! otherwise), and tokens signed by that key whose header's `jku`/`x5u` points there (at the
//! bound address, or at `--attacker-url`: the origin under which an API in a container or on
//! another host reaches the probe). The server counts the requests for each path: an
//! API that fetches a URL a token names has already lost (it lets the token choose where keys
//! come from), whatever it answers after.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::dpop::DpopKey;
use ccflow_tls::{ClientSubject, IssuedCertificate};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::ProbeError;

/// The `kid` of the attacker's key.
const ATTACKER_KID: &str = "ccflow-probe-attacker";
/// The paths served.
const JWKS_PATH: &str = "/jwks.json";
const CERT_PATH: &str = "/cert.pem";

/// Which header member points at the attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pointer {
    /// `jku`: a JWK Set URL (RFC 7515 §4.1.2).
    Jku,
    /// `x5u`: an X.509 certificate URL (RFC 7515 §4.1.5).
    X5u,
}

impl Pointer {
    pub(super) fn member(self) -> &'static str {
        match self {
            Pointer::Jku => "jku",
            Pointer::X5u => "x5u",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Pointer::Jku => JWKS_PATH,
            Pointer::X5u => CERT_PATH,
        }
    }
}

/// The attacker: its key, its server's address and hit counts. The server stops when dropped.
pub(super) struct Attacker {
    key: DpopKey,
    origin: String,
    jwks_hits: Arc<AtomicUsize>,
    cert_hits: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Attacker {
    /// A fresh P-256 key with a self-signed certificate, served on `bind`; the tokens name
    /// `origin` (`http://` and the bound address when `None`).
    pub(super) async fn start(
        bind: SocketAddr,
        origin: Option<&url::Url>,
    ) -> Result<Self, ProbeError> {
        let certificate = IssuedCertificate::self_signed(&ClientSubject::new(ATTACKER_KID))
            .map_err(|error| ProbeError::Usage(format!("the attacker's key: {error}")))?;
        let key = DpopKey::from_pem(certificate.private_key_pem())
            .map_err(|error| ProbeError::Usage(format!("the attacker's key: {error}")))?;
        let mut jwk = serde_json::to_value(key.public_jwk()).unwrap_or(Value::Null);
        jwk["kid"] = json!(ATTACKER_KID);
        jwk["alg"] = json!("ES256");
        jwk["use"] = json!("sig");
        let jwks = json!({ "keys": [jwk] }).to_string();
        let pem = certificate.certificate_pem().to_owned();
        let listener = TcpListener::bind(bind).await.map_err(|error| {
            ProbeError::Usage(format!(
                "--attacker-bind {bind}: the attacker's server: {error}"
            ))
        })?;
        let address = listener
            .local_addr()
            .map_err(|error| ProbeError::Usage(format!("the attacker's server: {error}")))?;
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let cert_hits = Arc::new(AtomicUsize::new(0));
        let counts = (Arc::clone(&jwks_hits), Arc::clone(&cert_hits));
        let server = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (jwks, pem) = (jwks.clone(), pem.clone());
                let counts = (Arc::clone(&counts.0), Arc::clone(&counts.1));
                tokio::spawn(async move {
                    let mut buffer = vec![0_u8; 8192];
                    let mut read = 0;
                    // The request head only: the attacker answers GETs.
                    while read < buffer.len() {
                        match stream.read(&mut buffer[read..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => read += n,
                        }
                        if buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    let head = String::from_utf8_lossy(&buffer[..read]);
                    let path = head.split(' ').nth(1).unwrap_or_default();
                    let path = path.split('?').next().unwrap_or_default();
                    let (status, media_type, body) = match path {
                        JWKS_PATH => {
                            counts.0.fetch_add(1, Ordering::SeqCst);
                            ("200 OK", "application/jwk-set+json", jwks)
                        }
                        CERT_PATH => {
                            counts.1.fetch_add(1, Ordering::SeqCst);
                            ("200 OK", "application/pem-certificate-chain", pem)
                        }
                        _ => ("404 Not Found", "text/plain", String::new()),
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    drop(stream.write_all(answer.as_bytes()).await);
                    drop(stream.shutdown().await);
                });
            }
        });
        let origin = match origin {
            // `Url` keeps a trailing `/` on a bare origin; the paths bring their own.
            Some(origin) => origin.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{address}"),
        };
        Ok(Self {
            key,
            origin,
            jwks_hits,
            cert_hits,
            server,
        })
    }

    /// The URL `pointer` names.
    pub(super) fn url(&self, pointer: Pointer) -> String {
        format!("{}{}", self.origin, pointer.path())
    }

    /// How many times the URL `pointer` names was fetched.
    pub(super) fn hits(&self, pointer: Pointer) -> usize {
        match pointer {
            Pointer::Jku => self.jwks_hits.load(Ordering::SeqCst),
            Pointer::X5u => self.cert_hits.load(Ordering::SeqCst),
        }
    }

    /// How many times the URL of an [`Attacker`](super::catalogue::Send::Attacker) case was
    /// fetched (0 for other cases).
    pub(super) fn hits_of(&self, send: super::catalogue::Send) -> usize {
        match send {
            super::catalogue::Send::Attacker(pointer) => self.hits(pointer),
            _ => 0,
        }
    }

    /// `valid` (a token of the issuer) re-signed by the attacker's key: the same claims, a
    /// header of `typ` from `valid`, ES256, the attacker's `kid`, and `pointer` at its URL.
    pub(super) fn token(&self, valid: &str, pointer: Pointer) -> Result<String, ProbeError> {
        let decode = |part: Option<&str>| -> Option<Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part?).ok()?).ok()
        };
        let mut parts = valid.split('.');
        let (Some(header), Some(claims)) = (decode(parts.next()), decode(parts.next())) else {
            return Err(ProbeError::Admin(
                "POST /_ccflow/mint answered a token that is not a JWS".to_owned(),
            ));
        };
        let mut attacker_header = Map::new();
        attacker_header.insert("alg".to_owned(), json!("ES256"));
        if let Some(typ) = header.get("typ") {
            attacker_header.insert("typ".to_owned(), typ.clone());
        }
        attacker_header.insert("kid".to_owned(), json!(ATTACKER_KID));
        attacker_header.insert(pointer.member().to_owned(), json!(self.url(pointer)));
        self.key
            .sign(&attacker_header, &claims)
            .map_err(|error| ProbeError::Usage(format!("the attacker's key: {error}")))
    }
}
