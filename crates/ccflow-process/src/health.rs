//! The `healthcheck` subcommand's probe: one HTTP/1.1 `GET` to the server's own port over a TCP
//! socket (over TLS when the port speaks HTTPS: `tls`), healthy on a `200`. No HTTP client
//! library, no shell: it runs inside an image that holds nothing but the binary (Docker's
//! `HEALTHCHECK CMD ["…", "healthcheck"]`).

mod tls;

pub use tls::Trust;

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// The most a probe waits to connect, and then for the answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The most of an answer a probe reads (health answers are a few dozen bytes).
const MAX_ANSWER: u64 = 16 * 1024;

/// Why a probe found the server unhealthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// Nothing answered on the port.
    #[error("cannot connect to {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    /// The connection broke before a full status line.
    #[error("no answer: {0}")]
    Io(#[from] std::io::Error),
    /// An answer that is not HTTP.
    #[error("the answer is not HTTP")]
    NotHttp,
    /// An HTTP answer other than 200.
    #[error("answered {0}")]
    Status(u16),
    /// What the HTTPS probe should trust cannot be read.
    #[error("cannot read the certificate to trust: {0}")]
    Trust(String),
    /// The TLS handshake failed (e.g. the server's certificate is not the trusted one).
    #[error("TLS: {0}")]
    Tls(String),
}

/// How the probe reaches the port: what the server serves there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP.
    #[default]
    Http,
    /// HTTPS, trusting what [`Trust`] says.
    Https(Trust),
}

impl Transport {
    /// What a server serves on its bound port, from its TLS settings: with `generated_ca_file`
    /// (`--tls`: the CA file it wrote) HTTPS trusting that CA; with `tls_cert` (`--tls-cert`)
    /// HTTPS pinning that chain's leaf; else plain HTTP.
    pub fn of_bound_port(
        generated_ca_file: Option<&std::path::Path>,
        tls_cert: Option<&std::path::Path>,
    ) -> Result<Self, HealthError> {
        match (generated_ca_file, tls_cert) {
            (Some(ca_file), _) => Ok(Self::Https(Trust::roots_from_pem_file(ca_file)?)),
            (None, Some(cert)) => Ok(Self::Https(Trust::leaf_from_pem_file(cert)?)),
            (None, None) => Ok(Self::Http),
        }
    }
}

/// Where to probe a server bound to `bind`: a wildcard address (`0.0.0.0`, `::`, what a
/// container binds) is reached through the loopback address of its family.
pub fn probe_address(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// `GET path` on `address` over plain HTTP; `Ok` on a `200` status.
pub fn probe(address: SocketAddr, path: &str) -> Result<(), HealthError> {
    probe_over(address, path, &Transport::Http)
}

/// `GET path` on `address` over `transport`; `Ok` on a `200` status.
pub fn probe_over(
    address: SocketAddr,
    path: &str,
    transport: &Transport,
) -> Result<(), HealthError> {
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|error| HealthError::Connect(address, error))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    // One write: `write!` on an unbuffered stream sends each formatted piece on its own.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nUser-Agent: ccflow-healthcheck\r\n\r\n"
    );
    let answer = match transport {
        Transport::Http => {
            stream.write_all(request.as_bytes())?;
            stream.flush()?;
            let mut answer = Vec::new();
            stream.take(MAX_ANSWER).read_to_end(&mut answer)?;
            answer
        }
        Transport::Https(trust) => tls::exchange(stream, address, trust, request.as_bytes())?,
    };
    match status(&answer) {
        Some(200) => Ok(()),
        Some(code) => Err(HealthError::Status(code)),
        None => Err(HealthError::NotHttp),
    }
}

/// [`probe`] until it succeeds or `wait` has passed (then the last failure), trying every
/// 100 ms: for scripts that start a server and must wait for it (`healthcheck --wait 30`).
pub fn probe_within(address: SocketAddr, path: &str, wait: Duration) -> Result<(), HealthError> {
    probe_within_over(address, path, wait, &Transport::Http)
}

/// [`probe_within`] over `transport`.
pub fn probe_within_over(
    address: SocketAddr,
    path: &str,
    wait: Duration,
    transport: &Transport,
) -> Result<(), HealthError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match probe_over(address, path, transport) {
            Ok(()) => return Ok(()),
            Err(error) if std::time::Instant::now() >= deadline => return Err(error),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// What the `healthcheck` subcommand of both binaries takes.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct HealthcheckArgs {
    /// Probe liveness (the process answers HTTP) instead of readiness.
    #[arg(long)]
    pub live: bool,
    /// Keep probing for up to this many seconds until healthy [default: one probe].
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
}

impl HealthcheckArgs {
    /// Probes `live_path` or `ready_path` on the server bound to `bind`, as asked.
    pub fn run(
        &self,
        bind: SocketAddr,
        live_path: &str,
        ready_path: &str,
    ) -> Result<(), HealthError> {
        self.run_over(bind, live_path, ready_path, &Transport::Http)
    }

    /// [`run`](Self::run) over `transport` (HTTPS for a server whose port speaks TLS).
    pub fn run_over(
        &self,
        bind: SocketAddr,
        live_path: &str,
        ready_path: &str,
        transport: &Transport,
    ) -> Result<(), HealthError> {
        let address = probe_address(bind);
        let path = if self.live { live_path } else { ready_path };
        probe_within_over(
            address,
            path,
            Duration::from_secs(self.wait.unwrap_or(0)),
            transport,
        )
    }
}

/// The status code of an HTTP/1.x answer's status line (RFC 9112 §4).
fn status(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|byte| *byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.trim_end_matches('\r').splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server that answers `answer` to the first connection.
    fn answering(answer: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The whole request head, so that closing leaves nothing unread (which would
            // reset the connection before the client reads the answer).
            let mut request = Vec::new();
            let mut byte = [0_u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                request.push(byte[0]);
            }
            let _ = stream.write_all(answer);
        });
        address
    }

    #[test]
    fn probes_judge_the_status_line() {
        fn check(answer: &'static [u8], expected: Result<(), &str>) {
            let result = probe(answering(answer), "/health").map_err(|error| error.to_string());
            assert_eq!(result, expected.map_err(str::to_owned), "{answer:?}");
        }
        let cases: [(&[u8], Result<(), &str>); 5] = [
            (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", Ok(())),
            (b"HTTP/1.0 200 OK\r\n\r\n", Ok(())),
            (
                b"HTTP/1.1 503 Service Unavailable\r\n\r\n",
                Err("answered 503"),
            ),
            (b"SSH-2.0-OpenSSH\r\n", Err("the answer is not HTTP")),
            (b"", Err("the answer is not HTTP")),
        ];
        for (answer, expected) in cases {
            check(answer, expected);
        }
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(matches!(probe(address, "/"), Err(HealthError::Connect(..))));
    }

    #[test]
    fn wildcard_binds_are_probed_on_loopback() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:8081", "[::1]:8081"),
            ("10.1.2.3:80", "10.1.2.3:80"),
        ];
        for (bind, expected) in cases {
            assert_eq!(probe_address(bind.parse().unwrap()).to_string(), expected);
        }
    }
}
