//! The DPoP proof cases of `probe api` (`--dpop`, RFC 9449): a token bound to a key the probe
//! holds (`cnf.jkt`, minted by the auth server's factory), presented with `Authorization: DPoP`
//! and a proof made by `ccflow_protocol::dpop::DpopKey` — right once, then wrong in exactly one
//! way per case. A nonce the API asks for (`use_dpop_nonce`, §9) is put in and the request sent
//! again, so an API that requires nonces is judged on the case's own defect. The two nonce
//! cases (`--dpop-nonce`: the API says it requires nonces) are the exception: a proof without a
//! nonce, and one with a nonce the API never issued, each sent once, must be answered
//! `use_dpop_nonce` with a fresh nonce.

use ccflow_protocol::ErrorCode;
use ccflow_protocol::dpop::{DpopKey, access_token_hash};
use serde_json::json;

use super::catalogue::Expect;
use super::judge::{Answer, describe_token, is_success, judge};
use super::{ProbeError, Run};
use crate::probe::report::{CaseResult, Verdict};

/// The one way a case's proof is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Defect {
    /// None: the proof fits the request and the token.
    None,
    /// `htm` is `POST` for a `GET`.
    WrongMethod,
    /// `htu` names another URL.
    WrongUrl,
    /// Signed by a key other than the token's `cnf.jkt`.
    OtherKey,
    /// `iat` an hour in the past.
    StaleIat,
    /// The right proof, sent a second time.
    Replayed,
    /// No `ath`.
    MissingAth,
    /// No `nonce`, and the API's nonce challenge not followed.
    NoNonce,
    /// A `nonce` the API never issued ([`MADE_UP_NONCE`]).
    WrongNonce,
}

impl Defect {
    /// A nonce case: judged on the API's first answer, which must ask for a nonce.
    fn is_nonce(self) -> bool {
        matches!(self, Self::NoNonce | Self::WrongNonce)
    }
}

/// One DPoP case.
pub(super) struct DpopCase {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
    pub(super) rfc: &'static str,
    pub(super) defect: Defect,
}

const fn case(
    id: &'static str,
    title: &'static str,
    rfc: &'static str,
    defect: Defect,
) -> DpopCase {
    DpopCase {
        id,
        title,
        rfc,
        defect,
    }
}

/// The URL the `dpop-wrong-htu` proof names instead of the probed one.
const OTHER_HTU: &str = "https://another-api.ccflow.invalid/v1/items";
/// How far in the past the stale proof's `iat` is: far outside any window an API may allow
/// (RFC 9449 §11.1 leaves the window to the server; ccflow's is 60 s).
const STALE_SECS: u64 = 3600;
/// The nonce of `dpop-nonce-wrong`: the shape of a real one (URL-safe characters, RFC 9449 §8.1
/// `nonce` syntax), issued by nobody.
const MADE_UP_NONCE: &str = "ccflow-probe-nonce-issued-by-nobody";

#[rustfmt::skip]
pub(super) const DPOP_CASES: &[DpopCase] = &[
    case("dpop-valid", "a DPoP-bound token with a proof of its key for this request is accepted", "RFC 9449 §7.1", Defect::None),
    case("dpop-wrong-htm", "a proof for another method (htm) is refused", "RFC 9449 §4.3 (8), §7.1", Defect::WrongMethod),
    case("dpop-wrong-htu", "a proof for another URL (htu) is refused", "RFC 9449 §4.3 (9), §7.1", Defect::WrongUrl),
    case("dpop-other-key", "a proof signed by a key other than the token's cnf.jkt is refused", "RFC 9449 §4.3 (12), §7.1", Defect::OtherKey),
    case("dpop-stale-iat", "a proof whose iat is an hour old is refused", "RFC 9449 §4.3 (11), §11.1", Defect::StaleIat),
    case("dpop-replayed-jti", "a proof sent a second time (same jti) is refused", "RFC 9449 §11.1", Defect::Replayed),
    case("dpop-missing-ath", "a proof without ath, the hash of the token, is refused", "RFC 9449 §4.3 (12), §7.1", Defect::MissingAth),
    case("dpop-nonce-missing", "a proof without the nonce the API requires is answered use_dpop_nonce with a nonce", "RFC 9449 §9, §11.3", Defect::NoNonce),
    case("dpop-nonce-wrong", "a proof with a nonce the API never issued is answered use_dpop_nonce with a nonce", "RFC 9449 §9, §11.2", Defect::WrongNonce),
];

/// What the DPoP cases share: the token's key, another key, the bound token.
struct Bound {
    key: DpopKey,
    other: DpopKey,
    token: String,
}

impl Run<'_> {
    /// Every DPoP case, in order (skipped without `--dpop`).
    pub(super) async fn dpop_cases(&self) -> Result<Vec<CaseResult>, ProbeError> {
        let mut results = Vec::new();
        let mut bound = None;
        for case in DPOP_CASES {
            let mut result = CaseResult {
                id: case.id,
                title: case.title,
                rfc: case.rfc,
                sent: String::new(),
                expected: String::new(),
                got: String::new(),
                verdict: Verdict::Skipped,
                note: String::new(),
            };
            let expect = match case.defect {
                Defect::None => Expect::Accept,
                defect if defect.is_nonce() => Expect::UseDpopNonce,
                _ => Expect::InvalidDpopProof,
            };
            result.expected = expect.describe().to_owned();
            if !self.probe.dpop {
                result.note = "no --dpop given: the API does not take DPoP-bound tokens".to_owned();
            } else if case.defect.is_nonce() && !self.probe.dpop_nonce {
                result.note =
                    "no --dpop-nonce given: the API does not say it requires nonces".to_owned();
            } else if self.skipped(case.id) {
                result.note = "marked not applicable (--skip)".to_owned();
            } else {
                if bound.is_none() {
                    bound = Some(self.bound().await?);
                }
                if let Some(bound) = &bound {
                    self.dpop_case(case, expect, bound, &mut result).await?;
                }
            }
            results.push(result);
        }
        Ok(results)
    }

    async fn bound(&self) -> Result<Bound, ProbeError> {
        let key = DpopKey::generate().map_err(|error| ProbeError::Usage(error.to_string()))?;
        let other = DpopKey::generate().map_err(|error| ProbeError::Usage(error.to_string()))?;
        let mut spec = self.spec();
        spec.claims
            .insert("cnf".to_owned(), json!({"jkt": key.thumbprint()}));
        let token = self.admin.mint(&spec).await?;
        Ok(Bound { key, other, token })
    }

    /// A proof for this case's request, wrong as the case says.
    fn proof(
        &self,
        defect: Defect,
        bound: &Bound,
        now: u64,
        nonce: Option<&str>,
    ) -> Result<String, ProbeError> {
        let signer = if defect == Defect::OtherKey {
            &bound.other
        } else {
            &bound.key
        };
        let method = if defect == Defect::WrongMethod {
            "POST"
        } else {
            "GET"
        };
        let url = if defect == Defect::WrongUrl {
            OTHER_HTU
        } else {
            &self.probe.url
        };
        let iat = if defect == Defect::StaleIat {
            now.saturating_sub(STALE_SECS)
        } else {
            now
        };
        let ath = (defect != Defect::MissingAth).then_some(bound.token.as_str());
        let proof = signer.proof(method, url, iat, nonce, ath);
        proof.map_err(|error| ProbeError::Usage(error.to_string()))
    }

    /// Sends the case's request; when the API asks for a nonce, once more with it.
    async fn send_dpop(
        &self,
        defect: Defect,
        bound: &Bound,
        authorization: &str,
    ) -> Result<(Answer, String), ProbeError> {
        let now = self.admin.now().await;
        let nonce = (defect == Defect::WrongNonce).then_some(MADE_UP_NONCE);
        let proof = self.proof(defect, bound, now, nonce)?;
        let answer = self
            .send_with_proof(Some(authorization), Some(&proof))
            .await?;
        if defect.is_nonce() {
            return Ok((answer, proof));
        }
        match (&answer.nonce, asks_for_nonce(&answer)) {
            (Some(nonce), true) => {
                let proof = self.proof(defect, bound, now, Some(nonce))?;
                let again = self
                    .send_with_proof(Some(authorization), Some(&proof))
                    .await?;
                Ok((again, proof))
            }
            _ => Ok((answer, proof)),
        }
    }

    async fn dpop_case(
        &self,
        case: &DpopCase,
        expect: Expect,
        bound: &Bound,
        result: &mut CaseResult,
    ) -> Result<(), ProbeError> {
        let authorization = format!("DPoP {}", bound.token);
        let (first, proof) = self.send_dpop(case.defect, bound, &authorization).await?;
        let answer = if case.defect == Defect::Replayed {
            if !is_success(first.status) {
                result.got = first.describe();
                result.note =
                    "cannot judge: the proof's first use was refused already (see dpop-valid)"
                        .to_owned();
                return Ok(());
            }
            self.send_with_proof(Some(&authorization), Some(&proof))
                .await?
        } else {
            first
        };
        result.sent = format!(
            "GET {}, Authorization: DPoP {}, DPoP: {}{}",
            self.probe.url,
            describe_token(&bound.token),
            describe_proof(&proof, bound),
            if case.defect == Defect::Replayed {
                ", sent twice"
            } else {
                ""
            }
        );
        result.got = answer.describe();
        let (verdict, note) = judge(expect, &answer);
        (result.verdict, result.note) = match verdict {
            Verdict::Fail if case.defect == Defect::Replayed && !self.probe.dpop_replay => (
                Verdict::Lenient,
                "the replayed proof was accepted: RFC 9449 §11.1 replay detection (the API does not claim it: no --dpop-replay)".to_owned(),
            ),
            _ => (verdict, note),
        };
        Ok(())
    }
}

/// A 401 `use_dpop_nonce` (RFC 9449 §9), in a `DPoP` or `Bearer` challenge.
fn asks_for_nonce(answer: &Answer) -> bool {
    answer.status == 401
        && answer.challenge.as_deref().is_some_and(|value| {
            [
                ccflow_protocol::BearerChallenge::parse_scheme(value, "DPoP"),
                ccflow_protocol::BearerChallenge::parse(value),
            ]
            .into_iter()
            .flatten()
            .any(|challenge| challenge.error == Some(ErrorCode::UseDpopNonce))
        })
}

/// A proof as the report shows it: its claims that matter, not its signature; `ath` only as
/// whether it is the token's hash.
fn describe_proof(proof: &str, bound: &Bound) -> String {
    use base64::Engine as _;
    let claims: serde_json::Value = proof
        .split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let header: serde_json::Value = proof
        .split('.')
        .next()
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let signer = match ccflow_protocol::dpop::jwk_thumbprint(
        &serde_json::from_value(header["jwk"].clone()).unwrap_or_default(),
    ) {
        Some(jkt) if jkt == bound.key.thumbprint() => "the token's key",
        _ => "another key",
    };
    let ath = match claims["ath"].as_str() {
        None => "none",
        Some(ath) if ath == access_token_hash(&bound.token) => "the token's",
        Some(_) => "another",
    };
    format!(
        "<proof htm={} htu={} iat={} ath={ath}{} signed by {signer}>",
        claims["htm"].as_str().unwrap_or("?"),
        claims["htu"].as_str().unwrap_or("?"),
        claims["iat"],
        match claims["nonce"].as_str() {
            Some(MADE_UP_NONCE) => " nonce=<issued by nobody>",
            Some(_) => " nonce=…",
            None => "",
        }
    )
}
