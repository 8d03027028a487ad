//! Log set-up: one line per event on stderr, as text or JSON (`--log-format`,
//! `CCFLOW_LOG_FORMAT`), filtered by `CCFLOW_LOG` (tracing's `EnvFilter` syntax).
//!
//! stderr, not stdout: stdout carries the binaries' `listening on` contract line and their
//! summary; a container runtime collects both streams (`docker logs` shows them together).

use clap::ValueEnum;

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber: `CCFLOW_LOG` if set and valid, else `default_filter`.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CCFLOW_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
