//! Retrying the token endpoint: bounded exponential backoff with jitter, `Retry-After`, a
//! total deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

/// When and how often a failed token request is tried again.
///
/// Only retryable failures are retried (see [`TokenError::is_retryable`](crate::TokenError::is_retryable)).
/// The delay before retry *n* (1-based) is `Retry-After` when the server sent one, else a
/// random value in `[base/2, base]` with `base = min(initial_backoff × 2^(n-1), max_backoff)`.
/// No retry starts if it could not finish its delay before `deadline` (measured from the first
/// attempt by the client's clock).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The largest backoff (not applied to `Retry-After`, which the deadline bounds instead).
    pub max_backoff: Duration,
    /// The total time budget for one token fetch, retries included.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// A policy with the given number of attempts and backoff bounds.
    pub fn new(
        max_attempts: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
        deadline: Duration,
    ) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff,
            deadline,
        }
    }

    /// The delay before retry `retry` (1-based): `Retry-After` if given, else jittered backoff.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(delay) = retry_after {
            return delay;
        }
        let exponent = retry.saturating_sub(1).min(31);
        let base = self
            .initial_backoff
            .saturating_mul(1_u32 << exponent)
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(random_unit())
    }
}

/// A uniform random number in `[0, 1)`.
fn random_unit() -> f64 {
    let mut bytes = [0_u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1_u64 << 53) as f64
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

/// Waits between retries. The default uses `tokio::time::sleep`; tests inject one that moves
/// a manual clock instead, so backoff is deterministic and instant.
pub trait Sleeper: Send + Sync + fmt::Debug + 'static {
    /// Returns a future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Sleeps with tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds_and_caps() {
        let policy = RetryPolicy::new(
            10,
            Duration::from_millis(100),
            Duration::from_millis(700),
            Duration::from_secs(30),
        );
        for (retry, base_ms) in [(1, 100), (2, 200), (3, 400), (4, 700), (9, 700)] {
            for _ in 0..50 {
                let delay = policy.delay(retry, None);
                let base = Duration::from_millis(base_ms);
                assert!(
                    delay >= base / 2 && delay <= base,
                    "retry {retry}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn parses_retry_after_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO),
            "past dates mean now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
