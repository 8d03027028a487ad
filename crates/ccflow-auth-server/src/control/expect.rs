//! Assertions and expectations over the request journal, wiremock style: readable failures that
//! list what was received; expectations registered up front are checked when the server is
//! dropped (never while a test is already panicking).

use std::fmt::{self, Write as _};
use std::sync::{Mutex, PoisonError};

use crate::control::journal::{Endpoint, Journal, JournalEntry};

/// Which journal entries count.
#[derive(Debug, Clone, Default)]
struct Filter {
    endpoint: Option<Endpoint>,
    client_id: Option<String>,
    status: Option<u16>,
    successful: bool,
}

impl Filter {
    fn matches(&self, entry: &JournalEntry) -> bool {
        self.endpoint
            .is_none_or(|endpoint| entry.endpoint == endpoint)
            && self
                .client_id
                .as_ref()
                .is_none_or(|id| entry.client_id.as_ref().is_some_and(|c| c.as_str() == id))
            && self.status.is_none_or(|status| entry.status == status)
            && (!self.successful || (200..300).contains(&entry.status))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.endpoint {
            Some(endpoint) => write!(f, "{} request(s)", endpoint.as_str())?,
            None => f.write_str("request(s)")?,
        }
        if let Some(id) = &self.client_id {
            write!(f, " from client `{id}`")?;
        }
        if let Some(status) = self.status {
            write!(f, " answered {status}")?;
        }
        if self.successful {
            f.write_str(" answered 2xx")?;
        }
        Ok(())
    }
}

/// How many matching requests are expected.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Exactly(usize),
    AtLeast(usize),
    AtMost(usize),
}

impl Bound {
    fn holds(self, count: usize) -> bool {
        match self {
            Self::Exactly(n) => count == n,
            Self::AtLeast(n) => count >= n,
            Self::AtMost(n) => count <= n,
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exactly(n) => write!(f, "exactly {n}"),
            Self::AtLeast(n) => write!(f, "at least {n}"),
            Self::AtMost(n) => write!(f, "at most {n}"),
        }
    }
}

fn failure(filter: &Filter, bound: Bound, count: usize, entries: &[JournalEntry]) -> String {
    let mut message =
        format!("expected {bound} {filter}, received {count}. Every request received:\n");
    if entries.is_empty() {
        message.push_str("  (none)\n");
    }
    for entry in entries {
        let _ = writeln!(message, "  - {entry}");
    }
    message
}

/// An assertion over the requests received so far:
/// `server.assert_token_requests().for_client("svc-a").exactly(1)`.
#[derive(Debug)]
#[must_use = "an assertion checks nothing until `exactly`, `at_least`, `at_most` or `none`"]
pub struct RequestAssertion<'a> {
    journal: &'a Journal,
    filter: Filter,
}

macro_rules! filter_methods {
    () => {
        /// Only requests from this client.
        pub fn for_client(mut self, client_id: impl Into<String>) -> Self {
            self.filter.client_id = Some(client_id.into());
            self
        }

        /// Only requests answered with this status.
        pub fn with_status(mut self, status: u16) -> Self {
            self.filter.status = Some(status);
            self
        }

        /// Only requests answered with a 2xx status.
        pub fn successful(mut self) -> Self {
            self.filter.successful = true;
            self
        }
    };
}

impl<'a> RequestAssertion<'a> {
    pub(crate) fn new(journal: &'a Journal, endpoint: Option<Endpoint>) -> Self {
        Self {
            journal,
            filter: Filter {
                endpoint,
                ..Filter::default()
            },
        }
    }

    filter_methods!();

    /// How many matching requests were received.
    pub fn count(&self) -> usize {
        self.journal
            .entries()
            .iter()
            .filter(|entry| self.filter.matches(entry))
            .count()
    }

    #[track_caller]
    fn check(self, bound: Bound) {
        let entries = self.journal.entries();
        let count = entries
            .iter()
            .filter(|entry| self.filter.matches(entry))
            .count();
        assert!(
            bound.holds(count),
            "{}",
            failure(&self.filter, bound, count, &entries)
        );
    }

    /// Panics unless exactly `n` matching requests were received.
    #[track_caller]
    pub fn exactly(self, n: usize) {
        self.check(Bound::Exactly(n));
    }

    /// Panics unless at least `n` matching requests were received.
    #[track_caller]
    pub fn at_least(self, n: usize) {
        self.check(Bound::AtLeast(n));
    }

    /// Panics unless at most `n` matching requests were received.
    #[track_caller]
    pub fn at_most(self, n: usize) {
        self.check(Bound::AtMost(n));
    }

    /// Panics if any matching request was received.
    #[track_caller]
    pub fn none(self) {
        self.check(Bound::Exactly(0));
    }
}

/// An expectation checked when the server is dropped (or by `MockAuthServer::verify`):
/// `server.expect_token_requests().for_client("svc-a").exactly(1)`.
#[derive(Debug)]
#[must_use = "an expectation is registered only by `exactly`, `at_least`, `at_most` or `none`"]
pub struct RequestExpectation<'a> {
    expectations: &'a Expectations,
    filter: Filter,
}

impl<'a> RequestExpectation<'a> {
    pub(crate) fn new(expectations: &'a Expectations, endpoint: Option<Endpoint>) -> Self {
        Self {
            expectations,
            filter: Filter {
                endpoint,
                ..Filter::default()
            },
        }
    }

    filter_methods!();

    fn register(self, bound: Bound) {
        self.expectations
            .list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((self.filter, bound));
    }

    /// Expects exactly `n` matching requests by the end of the test.
    pub fn exactly(self, n: usize) {
        self.register(Bound::Exactly(n));
    }

    /// Expects at least `n` matching requests by the end of the test.
    pub fn at_least(self, n: usize) {
        self.register(Bound::AtLeast(n));
    }

    /// Expects at most `n` matching requests by the end of the test.
    pub fn at_most(self, n: usize) {
        self.register(Bound::AtMost(n));
    }

    /// Expects no matching request.
    pub fn none(self) {
        self.register(Bound::Exactly(0));
    }
}

/// The expectations registered on one server.
#[derive(Debug, Default)]
pub(crate) struct Expectations {
    list: Mutex<Vec<(Filter, Bound)>>,
}

impl Expectations {
    /// Every unmet expectation, described with the requests received.
    pub(crate) fn failures(&self, journal: &Journal) -> Option<String> {
        let entries = journal.entries();
        let list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        let unmet: Vec<String> = list
            .iter()
            .filter_map(|(filter, bound)| {
                let count = entries.iter().filter(|entry| filter.matches(entry)).count();
                (!bound.holds(count))
                    .then(|| format!("expected {bound} {filter}, received {count}"))
            })
            .collect();
        if unmet.is_empty() {
            return None;
        }
        let mut message = format!("{} ccflow expectation(s) not met:\n", unmet.len());
        for line in unmet {
            let _ = writeln!(message, "  - {line}");
        }
        message.push_str("Every request received:\n");
        for entry in &entries {
            let _ = writeln!(message, "  - {entry}");
        }
        Some(message)
    }

    /// Forgets them (after a verification, so drop does not report twice).
    pub(crate) fn clear(&self) {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
