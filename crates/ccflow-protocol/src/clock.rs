//! Injectable time: every timestamp ccflow issues or checks comes from a [`Clock`], so tests
//! can expire tokens without sleeping. Reading the clock is the only contact with the outside.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of "now": issuance (`iat`, `nbf`, `exp`), introspection, revocation and replay
/// checks on the server, token expiry in the SDK, `exp`/`nbf` checks in the validator.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time as a JWT NumericDate (RFC 7519 §2): whole seconds since the epoch.
    fn unix_seconds(&self) -> i64 {
        unix_seconds(self.now())
    }
}

/// Converts a [`SystemTime`] to whole seconds since the Unix epoch (negative before it).
pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use ccflow_protocol::{Clock, ManualClock};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.unix_seconds(), 1_700_000_060);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock stopped at `time`.
    pub fn at(time: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(time)),
        }
    }

    /// A clock stopped at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::at(SystemTime::now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `time`, forwards or backwards.
    pub fn set(&self, time: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = time;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(100));
        let other = clock.clone();
        clock.advance(Duration::from_secs(5));
        assert_eq!(other.unix_seconds(), 105);
        other.set(UNIX_EPOCH + Duration::from_secs(7));
        assert_eq!(clock.unix_seconds(), 7);
    }

    #[test]
    fn unix_seconds_handles_times_before_the_epoch() {
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(3)), -3);
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_millis(1999)), 1);
    }
}
