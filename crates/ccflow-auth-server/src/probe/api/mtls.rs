//! The certificate cases of `probe api` that present a client certificate (`--mtls`, RFC 8705
//! §3): a token bound to a throw-away certificate (`cnf["x5t#S256"]`, minted by the auth
//! server's factory), sent over TLS with that certificate and with another one. The binding is a
//! thumbprint comparison (§3.1), independent of who issued the certificate; but an API, or the
//! proxy in front of it, may also require a chain to a CA it trusts (nginx's
//! `ssl_verify_client` with `ssl_client_certificate`), which is the auth server's when it has
//! one. So the two certificates come from the auth server's own CA when it has one (started
//! with `--tls` or `--https-bind`), and are self-signed, made with ccflow-tls, when it has none.

use std::time::Duration;

use ccflow_protocol::mtls::CNF_X5T_S256;
use ccflow_tls::{ClientSubject, IssuedCertificate};
use serde_json::json;

use super::catalogue::Expect;
use super::judge::{describe_sent, judge, shorten};
use super::{ApiProbe, ProbeError, Run};
use crate::probe::report::{CaseResult, Verdict};

/// Which certificate the case presents with the token bound to certificate A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presents {
    /// A, the bound one.
    Bound,
    /// B, another one.
    Other,
}

/// The common names of the two certificates.
const CLIENT_A: &str = "ccflow-probe-a";
const CLIENT_B: &str = "ccflow-probe-b";

/// Who issued the probe's certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The auth server's own CA (`POST /_ccflow/clients/{id}/certificate`).
    IssuerCa,
    /// Nobody: the auth server has no CA.
    SelfSigned,
}

impl Origin {
    fn describe(self) -> &'static str {
        match self {
            Self::IssuerCa => "issued by the auth server's CA",
            Self::SelfSigned => "self-signed: the auth server has no CA",
        }
    }
}

/// Certificates A and B, who issued them, and a token bound to A.
struct Certificates {
    a: IssuedCertificate,
    b: IssuedCertificate,
    origin: Origin,
    token: String,
}

/// One certificate case.
pub(super) struct MtlsCase {
    pub(super) id: &'static str,
    title: &'static str,
    rfc: &'static str,
    presents: Presents,
}

#[rustfmt::skip]
pub(super) const MTLS_CASES: &[MtlsCase] = &[
    MtlsCase { id: "certificate-bound-with-certificate", title: "a certificate-bound token presented over TLS with its certificate is accepted", rfc: "RFC 8705 §3", presents: Presents::Bound },
    MtlsCase { id: "certificate-bound-other-certificate", title: "a certificate-bound token presented with another client certificate is refused", rfc: "RFC 8705 §3, §3.1", presents: Presents::Other },
];

/// Why a certificate case got no answer, and what to try.
fn refused_connection_note(origin: Origin, why: &str) -> String {
    let hint = match origin {
        Origin::SelfSigned => {
            "; if the API (or its proxy) requires a client certificate chained to a CA, start the \
             auth server with --tls or --https-bind and trust its CA there: the probe's \
             certificates then come from that CA"
        }
        Origin::IssuerCa => "",
    };
    format!("the connection failed with this certificate: {why}{hint}")
}

/// The HTTP client of the probe: no redirects, a timeout, a new connection for every request,
/// the API's CA when it has one of its own (`--api-ca-file`), and a client certificate when
/// given (`identity_pem`: certificate and key).
///
/// No connection is kept for reuse: the probe's key cases wait seconds between requests, and a
/// server closes an idle kept-alive connection on a timer of its own (Node's after 5 s,
/// actix-web's after 5 s), so a reused one can close under the next request ("connection closed
/// before message completed"). Resending is no cure, as a resent DPoP proof is a replay; a few
/// dozen fresh connections cost nothing here.
pub(super) fn http_client(
    probe: &ApiProbe,
    identity_pem: Option<&str>,
) -> Result<reqwest::Client, ProbeError> {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10));
    if let Some(ca) = &probe.api_ca_pem {
        for certificate in reqwest::Certificate::from_pem_bundle(ca.as_bytes())
            .map_err(|error| ProbeError::Usage(format!("--api-ca-file: {error}")))?
        {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let Some(identity) = identity_pem {
        let identity = reqwest::Identity::from_pem(identity.as_bytes())
            .map_err(|error| ProbeError::Usage(format!("a client certificate: {error}")))?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|error| ProbeError::Usage(error.to_string()))
}

impl Run<'_> {
    /// Every certificate case, in order (skipped without `--mtls`, or for an `http://` URL).
    pub(super) async fn mtls_cases(&self) -> Result<Vec<CaseResult>, ProbeError> {
        let mut results = Vec::new();
        let mut made = None;
        for case in MTLS_CASES {
            let expect = match case.presents {
                Presents::Bound => Expect::Accept,
                Presents::Other => Expect::InvalidToken,
            };
            let mut result = CaseResult {
                id: case.id,
                title: case.title,
                rfc: case.rfc,
                sent: String::new(),
                expected: expect.describe().to_owned(),
                got: String::new(),
                verdict: Verdict::Skipped,
                note: String::new(),
            };
            if !self.probe.mtls {
                result.note =
                    "no --mtls given: the API does not take certificate-bound tokens".to_owned();
            } else if self.skipped(case.id) {
                result.note = "marked not applicable (--skip)".to_owned();
            } else if !self.probe.url.starts_with("https://") {
                result.note =
                    "the API is probed over http://: no TLS connection to present a certificate on"
                        .to_owned();
            } else {
                if made.is_none() {
                    made = Some(self.certificates().await?);
                }
                if let Some(made) = &made {
                    let presented = match case.presents {
                        Presents::Bound => &made.a,
                        Presents::Other => &made.b,
                    };
                    let http = http_client(self.probe, Some(&presented.identity_pem()))?;
                    let authorization = format!("Bearer {}", made.token);
                    result.sent = format!(
                        "{}, over TLS with client certificate x5t#S256={} ({}; the token's cnf: {})",
                        describe_sent(&self.probe.url, Some(&authorization)),
                        shorten(presented.thumbprint(), 12),
                        made.origin.describe(),
                        shorten(made.a.thumbprint(), 12),
                    );
                    match self.send_via(&http, Some(&authorization), None).await {
                        Ok(answer) => {
                            result.got = answer.describe();
                            (result.verdict, result.note) = judge(expect, &answer);
                        }
                        // The connection, not the API, refused: most often the TLS handshake,
                        // where a server that requires a chain to its CA refuses a certificate.
                        // The bound certificate must get through (a fail); another one kept
                        // out is refused, if not in RFC 6750's words (lenient).
                        Err(ProbeError::Target(why)) => {
                            result.got = "no answer".to_owned();
                            result.verdict = match expect {
                                Expect::Accept => Verdict::Fail,
                                _ => Verdict::Lenient,
                            };
                            result.note = refused_connection_note(made.origin, &why);
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            results.push(result);
        }
        Ok(results)
    }

    /// Certificates A and B, and a token bound to A.
    async fn certificates(&self) -> Result<Certificates, ProbeError> {
        let (a, b, origin) = match self.admin.issue_certificate(CLIENT_A).await? {
            Some(a) => {
                let b = self
                    .admin
                    .issue_certificate(CLIENT_B)
                    .await?
                    .ok_or_else(|| {
                        ProbeError::Admin(
                            "the auth server's CA issued one certificate, not two".into(),
                        )
                    })?;
                (a, b, Origin::IssuerCa)
            }
            None => {
                let make = |name: &str| {
                    IssuedCertificate::self_signed(&ClientSubject::new(name)).map_err(|error| {
                        ProbeError::Usage(format!("a client certificate: {error}"))
                    })
                };
                (make(CLIENT_A)?, make(CLIENT_B)?, Origin::SelfSigned)
            }
        };
        let mut spec = self.spec();
        spec.claims
            .insert("cnf".to_owned(), json!({ CNF_X5T_S256: a.thumbprint() }));
        let token = self.admin.mint(&spec).await?;
        Ok(Certificates {
            a,
            b,
            origin,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_says_why_and_hints_at_a_ca_only_for_self_signed_certificates() {
        let why = "GET https://127.0.0.1:1/items: error sending request";
        for (origin, hints) in [(Origin::SelfSigned, true), (Origin::IssuerCa, false)] {
            let note = refused_connection_note(origin, why);
            assert!(
                note.starts_with("the connection failed with this certificate: GET https://"),
                "{note}"
            );
            assert_eq!(note.contains("--https-bind"), hints, "{note}");
        }
    }
}
