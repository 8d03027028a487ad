//! The load generator: C keep-alive HTTP/1.1 connections (hyper's client connection, no pool,
//! no per-request allocation beyond hyper's own), each sending one request after another for a
//! warm-up and then a fixed measured window. It records every measured latency and every
//! failure; nothing is sampled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const STOPPED: u8 = 2;

/// What to send, where, how hard and for how long.
#[derive(Clone, Debug)]
pub(crate) struct LoadSpec {
    pub(crate) url: url::Url,
    pub(crate) method: Method,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
    /// The statuses an answer may have; anything else counts as an error.
    pub(crate) expect: Vec<StatusCode>,
    pub(crate) connections: usize,
    pub(crate) threads: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
}

/// What one measured window produced.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadReport {
    pub(crate) connections: usize,
    pub(crate) seconds: f64,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    /// The first few distinct failures, for the report.
    pub(crate) error_samples: Vec<String>,
    pub(crate) per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// Every answer of the measured window by status (expected or not).
    pub(crate) statuses: std::collections::BTreeMap<u16, u64>,
}

/// Hooks run at the edges of the measured window (server CPU and memory readings).
pub(crate) trait Window {
    fn started(&mut self);
    fn ended(&mut self);
}

impl Window for () {
    fn started(&mut self) {}
    fn ended(&mut self) {}
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: std::collections::BTreeMap<u16, u64>,
    ok: u64,
    errors: u64,
    error_samples: Vec<String>,
}

impl Tally {
    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.error_samples.len() < 3 && !self.error_samples.contains(&what) {
            self.error_samples.push(what);
        }
    }
}

/// Runs the load on its own runtime of `spec.threads` threads (so that the generator's CPU
/// share is fixed and known), calling `window` when measuring starts and ends.
pub(crate) fn run(spec: &LoadSpec, window: &mut dyn Window) -> Result<LoadReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(spec.threads.max(1))
        .enable_all()
        .build()?;
    let address = resolve(&spec.url)?;
    let phase = Arc::new(AtomicU8::new(WARMING));
    let request = Arc::new(spec.clone());
    // Connect every connection first: connection set-up is not what is measured.
    let mut senders = Vec::with_capacity(spec.connections);
    for _ in 0..spec.connections {
        senders.push(runtime.block_on(connect(address))?);
    }
    let tasks: Vec<_> = senders
        .into_iter()
        .map(|sender| runtime.spawn(drive(sender, Arc::clone(&request), Arc::clone(&phase))))
        .collect();
    std::thread::sleep(spec.warmup);
    window.started();
    phase.store(MEASURING, Ordering::SeqCst);
    let started = Instant::now();
    std::thread::sleep(spec.duration);
    phase.store(STOPPED, Ordering::SeqCst);
    let seconds = started.elapsed().as_secs_f64();
    window.ended();
    let mut total = Tally::default();
    for task in tasks {
        let tally = runtime.block_on(task).context("a load task panicked")?;
        total.latencies_us.extend(tally.latencies_us);
        total.ok += tally.ok;
        total.errors += tally.errors;
        for (status, count) in tally.statuses {
            *total.statuses.entry(status).or_default() += count;
        }
        for sample in tally.error_samples {
            if total.error_samples.len() < 5 && !total.error_samples.contains(&sample) {
                total.error_samples.push(sample);
            }
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    total.latencies_us.sort_unstable();
    let quantile = |q: f64| quantile_ms(&total.latencies_us, q);
    #[allow(
        clippy::cast_precision_loss,
        reason = "request counts are far below 2^52"
    )]
    let per_second = total.ok as f64 / seconds;
    Ok(LoadReport {
        connections: spec.connections,
        seconds,
        ok: total.ok,
        errors: total.errors,
        error_samples: total.error_samples,
        per_second,
        p50_ms: quantile(0.50),
        p90_ms: quantile(0.90),
        p99_ms: quantile(0.99),
        max_ms: quantile(1.0),
        statuses: total.statuses,
    })
}

/// The `q` quantile (0 to 1, nearest rank) of sorted latencies in µs, in ms; 0 when empty.
fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    let Some(last) = sorted_us.len().checked_sub(1) else {
        return 0.0;
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a vector of at most a few million latencies"
    )]
    let index = ((last as f64) * q).round() as usize;
    f64::from(sorted_us[index.min(last)]) / 1000.0
}

fn resolve(url: &url::Url) -> Result<SocketAddr> {
    if url.scheme() != "http" {
        bail!("the load generator speaks plain http:// only (got {url})");
    }
    url.socket_addrs(|| Some(80))?
        .into_iter()
        .next()
        .with_context(|| format!("cannot resolve {url}"))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(address: SocketAddr) -> Result<Sender> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to {address}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

fn build(spec: &LoadSpec) -> Result<Request<Full<Bytes>>> {
    let path = match spec.url.query() {
        Some(query) => format!("{}?{query}", spec.url.path()),
        None => spec.url.path().to_owned(),
    };
    let mut builder = Request::builder()
        .method(spec.method.clone())
        .uri(path)
        .header(
            hyper::header::HOST,
            spec.url[url::Position::BeforeHost..url::Position::AfterPort].to_owned(),
        );
    for (name, value) in &spec.headers {
        builder = builder.header(name, value);
    }
    Ok(builder.body(Full::new(spec.body.clone()))?)
}

/// One connection's loop. A failed connection is re-opened (and counted as an error), so a
/// server that closes connections shows up as errors rather than as a silent stall.
async fn drive(mut sender: Sender, spec: Arc<LoadSpec>, phase: Arc<AtomicU8>) -> Tally {
    let mut tally = Tally::default();
    let address = match resolve(&spec.url) {
        Ok(address) => address,
        Err(error) => {
            tally.error(format!("{error:#}"));
            return tally;
        }
    };
    loop {
        let before = phase.load(Ordering::Relaxed);
        if before == STOPPED {
            return tally;
        }
        let request = match build(&spec) {
            Ok(request) => request,
            Err(error) => {
                tally.error(format!("cannot build the request: {error:#}"));
                return tally;
            }
        };
        let started = Instant::now();
        let outcome = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        }
        .await;
        let elapsed = started.elapsed();
        // Only requests that both started and ended inside the window are counted.
        let measured = before == MEASURING && phase.load(Ordering::Relaxed) == MEASURING;
        if measured && let Ok((status, _)) = &outcome {
            *tally.statuses.entry(status.as_u16()).or_default() += 1;
        }
        match outcome {
            Ok((status, _)) if spec.expect.contains(&status) => {
                if measured {
                    tally.ok += 1;
                    tally
                        .latencies_us
                        .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                }
            }
            Ok((status, body)) => {
                if before != STOPPED {
                    let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                    tally.error(format!("HTTP {status}: {body}"));
                }
            }
            Err(error) => {
                tally.error(format!("connection: {error}"));
                match connect(address).await {
                    Ok(fresh) => sender = fresh,
                    Err(error) => {
                        tally.error(format!("{error:#}"));
                        return tally;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quantile_ms;

    #[test]
    fn quantiles_are_nearest_rank_in_milliseconds() {
        assert_eq!(quantile_ms(&[], 0.99), 0.0);
        assert_eq!(quantile_ms(&[2_500], 0.5), 2.5);
        // 1..=100 ms: the median rounds to the 51st value, p99 is the 99th, max the last.
        let latencies: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(quantile_ms(&latencies, 0.0), 1.0);
        assert_eq!(quantile_ms(&latencies, 0.5), 51.0);
        assert_eq!(quantile_ms(&latencies, 0.9), 90.0);
        assert_eq!(quantile_ms(&latencies, 0.99), 99.0);
        assert_eq!(quantile_ms(&latencies, 1.0), 100.0);
    }
}
