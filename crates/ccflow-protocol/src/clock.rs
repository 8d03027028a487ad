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

/// Real time moved by an offset, or frozen: the mock server's default clock, controllable at
/// run time (`advance`, `set`, `freeze`, `resume`) from Rust or the admin API. Clones share it.
///
/// ```
/// use ccflow_protocol::{Clock, VirtualClock};
/// use std::time::Duration;
///
/// let clock = VirtualClock::new();
/// clock.freeze();
/// let frozen = clock.now();
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now(), frozen + Duration::from_secs(3600));
/// clock.resume(); // runs again, one hour ahead of the wall clock
/// assert!(clock.offset() >= Duration::from_secs(3599).as_secs_f64());
/// ```
#[derive(Debug, Clone, Default)]
pub struct VirtualClock {
    state: Arc<Mutex<VirtualState>>,
}

#[derive(Debug, Clone, Copy)]
enum VirtualState {
    /// Wall clock plus this many seconds (may be negative).
    Running { offset: f64 },
    /// Stopped at this instant.
    Frozen { at: SystemTime },
}

impl Default for VirtualState {
    fn default() -> Self {
        Self::Running { offset: 0.0 }
    }
}

fn shift(time: SystemTime, seconds: f64) -> SystemTime {
    let by = Duration::from_secs_f64(seconds.abs());
    if seconds >= 0.0 {
        time.checked_add(by).unwrap_or(time)
    } else {
        time.checked_sub(by).unwrap_or(UNIX_EPOCH)
    }
}

fn seconds_between(later: SystemTime, earlier: SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

impl VirtualClock {
    /// A clock running with the wall clock.
    pub fn new() -> Self {
        Self::default()
    }

    fn update(&self, change: impl FnOnce(VirtualState, SystemTime) -> VirtualState) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = change(*state, SystemTime::now());
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        self.update(|state, _| match state {
            VirtualState::Running { offset } => VirtualState::Running {
                offset: offset + by.as_secs_f64(),
            },
            VirtualState::Frozen { at } => VirtualState::Frozen { at: at + by },
        });
    }

    /// Moves time backward (a clock stepping back, as after an NTP correction).
    pub fn rewind(&self, by: Duration) {
        self.update(|state, _| match state {
            VirtualState::Running { offset } => VirtualState::Running {
                offset: offset - by.as_secs_f64(),
            },
            VirtualState::Frozen { at } => VirtualState::Frozen {
                at: at.checked_sub(by).unwrap_or(UNIX_EPOCH),
            },
        });
    }

    /// Jumps to `time`; a running clock keeps running from there.
    pub fn set(&self, time: SystemTime) {
        self.update(|state, real| match state {
            VirtualState::Running { .. } => VirtualState::Running {
                offset: seconds_between(time, real),
            },
            VirtualState::Frozen { .. } => VirtualState::Frozen { at: time },
        });
    }

    /// Stops time where it is.
    pub fn freeze(&self) {
        self.update(|state, real| match state {
            VirtualState::Running { offset } => VirtualState::Frozen {
                at: shift(real, offset),
            },
            frozen => frozen,
        });
    }

    /// Lets a frozen clock run again from where it stopped.
    pub fn resume(&self) {
        self.update(|state, real| match state {
            VirtualState::Frozen { at } => VirtualState::Running {
                offset: seconds_between(at, real),
            },
            running => running,
        });
    }

    /// Back to the wall clock, running.
    pub fn reset(&self) {
        self.update(|_, _| VirtualState::default());
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(PoisonError::into_inner),
            VirtualState::Frozen { .. }
        )
    }

    /// How far it is from the wall clock, in seconds (negative when behind).
    pub fn offset(&self) -> f64 {
        seconds_between(self.now(), SystemTime::now())
    }
}

/// The JSON command model of the `/_ccflow/clock` admin endpoints (the mock server's and the
/// sample resource API's): exactly one of `advance_secs`, `rewind_secs`, `set` (Unix seconds),
/// `freeze`, `resume`, `reset` (the last three `true`).
impl VirtualClock {
    /// Applies one JSON command; `Err` says what is wrong and nothing changes.
    pub fn apply_command(&self, command: &serde_json::Value) -> Result<(), &'static str> {
        const USAGE: &str = "send a JSON object with exactly one of advance_secs, rewind_secs, set, freeze, resume, reset";
        let Some(command) = command.as_object().filter(|command| command.len() == 1) else {
            return Err(USAGE);
        };
        let seconds = |value: &serde_json::Value| {
            value
                .as_f64()
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0 && *seconds < 1e12)
                .map(Duration::from_secs_f64)
                .ok_or("the value must be a non-negative number of seconds")
        };
        let flag = |name: &str| command.get(name) == Some(&serde_json::Value::Bool(true));
        if let Some(value) = command.get("advance_secs") {
            self.advance(seconds(value)?);
        } else if let Some(value) = command.get("rewind_secs") {
            self.rewind(seconds(value)?);
        } else if let Some(value) = command.get("set") {
            self.set(UNIX_EPOCH + seconds(value)?);
        } else if flag("freeze") {
            self.freeze();
        } else if flag("resume") {
            self.resume();
        } else if flag("reset") {
            self.reset();
        } else {
            return Err(USAGE);
        }
        Ok(())
    }

    /// `{"now": unix_seconds, "frozen": bool, "offset_secs": f64}`.
    pub fn state(&self) -> serde_json::Value {
        serde_json::json!({
            "now": self.unix_seconds(),
            "frozen": self.is_frozen(),
            "offset_secs": (self.offset() * 1000.0).round() / 1000.0,
        })
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SystemTime {
        match *self.state.lock().unwrap_or_else(PoisonError::into_inner) {
            VirtualState::Running { offset } => shift(SystemTime::now(), offset),
            VirtualState::Frozen { at } => at,
        }
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
    fn virtual_clock_freezes_advances_rewinds_sets_and_resumes() {
        let clock = VirtualClock::new();
        assert!(clock.offset().abs() < 1.0);
        clock.freeze();
        assert!(clock.is_frozen());
        let frozen = clock.now();
        assert_eq!(clock.now(), frozen, "frozen time does not move");
        clock.advance(Duration::from_secs(100));
        assert_eq!(clock.now(), frozen + Duration::from_secs(100));
        clock.rewind(Duration::from_secs(40));
        assert_eq!(clock.now(), frozen + Duration::from_secs(60));
        let target = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        clock.set(target);
        assert_eq!(clock.now(), target);
        clock.resume();
        assert!(!clock.is_frozen());
        let running = clock.now();
        assert!(
            running >= target && running < target + Duration::from_secs(5),
            "resumes from where it was"
        );
        let shared = clock.clone();
        shared.reset();
        assert!(clock.offset().abs() < 1.0, "clones share the state");
        clock.freeze();
        clock.set(UNIX_EPOCH + Duration::from_secs(10));
        assert_eq!(clock.unix_seconds(), 10);
    }

    #[test]
    fn unix_seconds_handles_times_before_the_epoch() {
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(3)), -3);
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_millis(1999)), 1);
    }
}
