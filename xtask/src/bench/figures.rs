//! What a load run yields once the server's readings are added: rates and latencies, server
//! CPU and memory around the measured window, one table row and one JSON object per run.

use anyhow::Result;
use serde_json::{Value, json};

use super::load::{self, LoadReport, LoadSpec, Window};
use super::procfs;

pub(crate) const LOAD_HEADER: &str = "  what                          conns       req/s    p50 ms    p90 ms    p99 ms    max ms  errors  srv CPU/req  srv cores  peak RSS";

/// One load run and the server readings around its measured window.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadFigures {
    pub(crate) load: LoadReport,
    /// Server CPU seconds inside the window (None without a pid).
    pub(crate) server_cpu_seconds: Option<f64>,
    pub(crate) generator_cpu_seconds: f64,
    pub(crate) peak_rss_mib: Option<f64>,
    pub(crate) rss_mib: Option<f64>,
}

impl LoadFigures {
    pub(crate) fn cpu_per_request_us(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss, reason = "request counts are small")]
        self.server_cpu_seconds
            .filter(|_| self.load.ok > 0)
            .map(|cpu| cpu * 1e6 / self.load.ok as f64)
    }

    pub(crate) fn server_cores(&self) -> Option<f64> {
        self.server_cpu_seconds.map(|cpu| cpu / self.load.seconds)
    }

    pub(crate) fn row(&self, what: &str) -> String {
        let optional = |value: Option<f64>, unit: &str, width: usize| {
            value.map_or_else(
                || format!("{:>width$}", "-"),
                |value| format!("{:>width$}", format!("{value:.0}{unit}")),
            )
        };
        format!(
            "  {what:<28} {:>6} {:>11.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7} {} {} {}",
            self.load.connections,
            self.load.per_second,
            self.load.p50_ms,
            self.load.p90_ms,
            self.load.p99_ms,
            self.load.max_ms,
            self.load.errors,
            optional(self.cpu_per_request_us(), " µs", 12),
            self.server_cores()
                .map_or_else(|| format!("{:>10}", "-"), |cores| format!("{cores:>10.2}")),
            optional(self.peak_rss_mib, " MiB", 9),
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "connections": self.load.connections,
            "seconds": self.load.seconds,
            "requests_ok": self.load.ok,
            "errors": self.load.errors,
            "error_samples": self.load.error_samples,
            "requests_per_second": self.load.per_second,
            "latency_ms": {
                "p50": self.load.p50_ms,
                "p90": self.load.p90_ms,
                "p99": self.load.p99_ms,
                "max": self.load.max_ms,
            },
            "server_cpu_seconds": self.server_cpu_seconds,
            "server_cpu_per_request_us": self.cpu_per_request_us(),
            "server_cores_used": self.server_cores(),
            "generator_cpu_seconds": self.generator_cpu_seconds,
            "server_peak_rss_mib": self.peak_rss_mib,
            "server_rss_mib": self.rss_mib,
        })
    }
}

/// CPU readings of the server (if known) and of the generator at the window's edges.
struct Readings {
    pid: Option<u32>,
    server: [f64; 2],
    own: [f64; 2],
}

impl Window for Readings {
    fn started(&mut self) {
        if let Some(pid) = self.pid {
            self.server[0] = procfs::cpu_seconds(pid).unwrap_or(f64::NAN);
        }
        self.own[0] = procfs::own_cpu_seconds().unwrap_or(f64::NAN);
    }

    fn ended(&mut self) {
        if let Some(pid) = self.pid {
            self.server[1] = procfs::cpu_seconds(pid).unwrap_or(f64::NAN);
        }
        self.own[1] = procfs::own_cpu_seconds().unwrap_or(f64::NAN);
    }
}

/// Runs `spec`, reading the server's CPU and memory if its pid is known.
pub(crate) fn load_with_readings(spec: &LoadSpec, pid: Option<u32>) -> Result<LoadFigures> {
    let mut readings = Readings {
        pid,
        server: [0.0; 2],
        own: [0.0; 2],
    };
    let report = load::run(spec, &mut readings)?;
    let memory = pid.map(procfs::memory_mib).transpose()?;
    Ok(LoadFigures {
        load: report,
        server_cpu_seconds: pid.map(|_| readings.server[1] - readings.server[0]),
        generator_cpu_seconds: readings.own[1] - readings.own[0],
        peak_rss_mib: memory.map(|(_, peak)| peak),
        rss_mib: memory.map(|(now, _)| now),
    })
}

/// The middle value (the upper one of an even count); NaN for none.
pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
