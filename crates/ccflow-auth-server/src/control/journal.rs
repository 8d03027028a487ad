//! The request journal: what the server received and how it answered, without secrets.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use ccflow_protocol::{ClientId, ErrorCode};

/// How many entries the journal keeps by default before it drops the oldest.
pub const JOURNAL_CAPACITY: usize = 10_000;

/// Which endpoint a request was routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// The token endpoint (RFC 6749 §3.2).
    Token,
    /// Introspection (RFC 7662).
    Introspection,
    /// Revocation (RFC 7009).
    Revocation,
    /// Discovery metadata (RFC 8414 / OpenID Connect Discovery).
    Discovery,
    /// The JWKS (RFC 7517).
    Jwks,
    /// Anything else (404).
    Unknown,
}

impl Endpoint {
    /// A short lower-case name, used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Introspection => "introspection",
            Self::Revocation => "revocation",
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Unknown => "unknown",
        }
    }

    /// The endpoint named `name` (as [`Endpoint::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Token,
            Self::Introspection,
            Self::Revocation,
            Self::Discovery,
            Self::Jwks,
            Self::Unknown,
        ]
        .into_iter()
        .find(|endpoint| endpoint.as_str() == name)
    }
}

/// One request as the server saw it. Holds no secret, token or `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalEntry {
    /// When it arrived, by the server's clock.
    pub received_at: SystemTime,
    /// When it arrived, by the machine's monotonic clock: what orders the journals of several
    /// issuers into one, since each issuer's own clock can be frozen or shifted by its tests.
    pub(crate) arrived: Instant,
    /// The endpoint it was routed to.
    pub endpoint: Endpoint,
    /// HTTP method.
    pub method: String,
    /// Request path (no query string).
    pub path: String,
    /// The client that authenticated or claimed to be calling, if any.
    pub client_id: Option<ClientId>,
    /// The response status.
    pub status: u16,
    /// The OAuth error code of an error response.
    pub error: Option<ErrorCode>,
    /// Time from receiving the request to the response, in microseconds.
    pub latency_us: u64,
    /// The client authentication method the request used, if any.
    pub auth_method: Option<String>,
    /// The form (or JSON) parameters, with secrets, assertions and tokens replaced by
    /// `[redacted]`.
    pub params: Vec<(String, String)>,
}

/// Parameters whose values never enter the journal.
const SECRET_PARAMS: [&str; 8] = [
    "client_secret",
    "client_assertion",
    "token",
    // RFC 8693 §2.1: both are bearer tokens.
    "subject_token",
    "actor_token",
    "refresh_token",
    "password",
    "assertion",
];

/// A request's parameters as the journal keeps them: secrets redacted.
pub(crate) fn redacted_params(params: &ccflow_protocol::FormParams) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(name, value)| {
            let value = if SECRET_PARAMS.contains(&name) {
                "[redacted]".to_owned()
            } else {
                value.to_owned()
            };
            (name.to_owned(), value)
        })
        .collect()
}

impl fmt::Display for JournalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.method, self.path, self.status)?;
        if let Some(error) = &self.error {
            write!(f, " {error}")?;
        }
        if let Some(client_id) = &self.client_id {
            write!(f, " (client_id {client_id})")?;
        }
        Ok(())
    }
}

/// A bounded, thread-safe log of requests (a ring buffer: the oldest go first).
#[derive(Debug)]
pub struct Journal {
    entries: Mutex<VecDeque<JournalEntry>>,
    capacity: usize,
}

impl Default for Journal {
    fn default() -> Self {
        Self::with_capacity(JOURNAL_CAPACITY)
    }
}

impl Journal {
    /// A journal keeping the last `capacity` requests (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// How many entries it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn record(&self, entry: JournalEntry) {
        let mut evicted = Vec::new();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        while entries.len() >= self.capacity {
            evicted.extend(entries.pop_front());
        }
        entries.push_back(entry);
        drop(entries);
        // Every request records an entry and, once the journal is full, evicts one: its
        // strings are freed after the lock is released, not while other workers wait on it.
        drop(evicted);
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.iter().cloned().collect()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
