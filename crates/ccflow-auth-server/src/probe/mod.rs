//! Conformance probes (issue 23, docs/probe.md): the running auth server turned outward, its
//! bad-token factory, keys, clock and faults driven through the admin API against a resource
//! server the user wrote (`ccflow-auth-server probe api`), and an embedded one with fault
//! scenarios against the user's client command (`probe client`).

mod admin;
mod api;
mod client;
#[cfg(feature = "cli")]
mod command;
mod report;

pub use api::{ApiProbe, CASE_IDS, Wait};
pub use client::{CLIENT_CASE_IDS, ClientProbe, PROBE_CLIENT_ID, USES};
#[cfg(feature = "cli")]
pub use command::ProbeCommand;
pub use report::{CaseResult, Report, Verdict};

/// Why a probe could not run (a failing case is not an error: it is in the [`Report`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The options do not make sense.
    #[error("{0}")]
    Usage(String),
    /// The auth server's admin API refused or could not be reached.
    #[error("the auth server's admin API: {0}")]
    Admin(String),
    /// The API under test could not be reached.
    #[error("the API under test: {0}")]
    Target(String),
}

/// An error and its causes, `outer: cause: root`: reqwest's own text names the request, its
/// causes why it failed (a refused connection, a TLS alert). URLs and TLS alerts only: the
/// probe's requests carry no secret in what these errors print.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let line = error.to_string();
        if !text.ends_with(&line) {
            text = format!("{text}: {line}");
        }
        cause = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        cause: Option<Box<Layer>>,
    }

    fn layers(texts: &[&'static str]) -> Layer {
        let (last, rest) = texts.split_last().unwrap();
        let mut error = Layer {
            text: last,
            cause: None,
        };
        for text in rest.iter().rev() {
            error = Layer {
                text,
                cause: Some(Box::new(error)),
            };
        }
        error
    }

    #[test]
    fn an_error_shows_its_causes_once_each() {
        #[rustfmt::skip]
        let cases: [(&[&str], &str); 3] = [
            (&["error sending request"], "error sending request"),
            (&["error sending request", "client error (Connect)", "received fatal alert: CertificateUnknown"],
             "error sending request: client error (Connect): received fatal alert: CertificateUnknown"),
            (&["a: b", "b"], "a: b"),
        ];
        for (texts, expected) in cases {
            assert_eq!(with_causes(&layers(texts)), expected);
        }
    }
}
