//! `probe api`: the resource-server catalogue run against the user's route, with tokens from the
//! running auth server's bad-token factory and its keys, clock and faults driven through the
//! admin API.

use std::net::SocketAddr;
use std::time::Duration;

use ccflow_protocol::{Fault, MintSpec, ScenarioSpec};
use serde_json::{Map, json};

mod attacker;
mod catalogue;
mod dpop;
mod judge;
mod mtls;

use super::admin::Admin;
use super::report::{CaseResult, Report, Verdict};
use super::{ProbeError, with_causes};

pub use catalogue::CASE_IDS;
use catalogue::*;
use judge::*;

/// How the probe lets time pass for the API (the JWKS cache cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// Real time: the probe sleeps and asks again (an API on the wall clock; the default).
    Real,
    /// The auth server's virtual clock: the probe advances it (`POST /_ccflow/clock`) instead
    /// of sleeping. Only for an API that reads the same clock (one embedded beside
    /// `MockAuthServer` in a test, with `.clock(server.clock())`).
    ServerClock,
}

/// What `probe api` is told.
#[derive(Clone)]
#[non_exhaustive]
pub struct ApiProbe {
    /// The issuer the API trusts (the auth server; its admin API is `/_ccflow` at its origin).
    pub issuer: String,
    /// The protected route, probed with `GET`.
    pub url: String,
    /// The audience the API accepts.
    pub audience: String,
    /// A scope the route requires (enables the `missing-scope` case).
    pub scope: Option<String>,
    /// The client the tokens name (`sub`, `client_id`).
    pub client_id: String,
    /// The auth server's admin token, when it was started with one.
    pub admin_token: Option<String>,
    /// Case ids marked not applicable.
    pub skip: Vec<String>,
    /// The API claims RFC 9068 (enables the `wrong-typ` case).
    pub rfc9068: bool,
    /// The API accepts DPoP-bound tokens (enables `dpop-bound-as-bearer` and the `dpop-*`
    /// proof cases).
    pub dpop: bool,
    /// The API says it detects replayed DPoP proofs (RFC 9449 §11.1): a replay it accepts then
    /// fails `dpop-replayed-jti` instead of being lenient.
    pub dpop_replay: bool,
    /// The API says it requires a nonce of its own in every DPoP proof (RFC 9449 §9; enables
    /// `dpop-nonce-missing` and `dpop-nonce-wrong`).
    pub dpop_nonce: bool,
    /// The API accepts certificate-bound tokens (RFC 8705; enables the
    /// `certificate-bound-without-certificate` case).
    pub mtls: bool,
    /// The CA certificate(s), PEM, the API's HTTPS server certificate chains to, when not a
    /// public one (`--api-ca-file`).
    pub api_ca_pem: Option<String>,
    /// Where the attacker's server of the `jku`/`x5u` cases listens (`--attacker-bind`;
    /// default `127.0.0.1:0`, an ephemeral port on loopback).
    pub attacker_bind: SocketAddr,
    /// The origin the `jku`/`x5u` URLs name, when the API reaches the probe under another name
    /// than the bound address (`--attacker-url`, e.g. `http://host.docker.internal:9700` for an
    /// API in a container); an `http`/`https` origin, no path.
    pub attacker_url: Option<String>,
    /// How long the API may cache the JWKS (default: the issuer's JWKS `max-age`).
    pub jwks_cache: Option<Duration>,
    /// How long the API may take to refetch the JWKS for a new key (its cooldown).
    pub refetch_wait: Duration,
    /// How time passes for the API.
    pub wait: Wait,
}

// By hand: the admin token is a secret.
impl std::fmt::Debug for ApiProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiProbe")
            .field("issuer", &self.issuer)
            .field("url", &self.url)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("skip", &self.skip)
            .field("rfc9068", &self.rfc9068)
            .field("dpop", &self.dpop)
            .field("dpop_replay", &self.dpop_replay)
            .field("dpop_nonce", &self.dpop_nonce)
            .field("mtls", &self.mtls)
            .field("attacker_bind", &self.attacker_bind)
            .field("attacker_url", &self.attacker_url)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl ApiProbe {
    /// A probe of `url`, an API trusting `issuer` and accepting `audience`; the other options
    /// at their defaults (no scope, client `ccflow-probe`, 60 s refetch wait, real time).
    pub fn new(
        issuer: impl Into<String>,
        url: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            url: url.into(),
            audience: audience.into(),
            scope: None,
            client_id: "ccflow-probe".to_owned(),
            admin_token: None,
            skip: Vec::new(),
            rfc9068: false,
            dpop: false,
            dpop_replay: false,
            dpop_nonce: false,
            mtls: false,
            api_ca_pem: None,
            attacker_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            attacker_url: None,
            jwks_cache: None,
            refetch_wait: Duration::from_secs(60),
            wait: Wait::Real,
        }
    }

    /// Runs the catalogue; the report (a failing case is in the report, not an error).
    pub async fn run(&self) -> Result<Report, ProbeError> {
        for id in &self.skip {
            if !CASE_IDS.contains(&id.as_str()) {
                return Err(ProbeError::Usage(format!(
                    "--skip {id}: no such case (cases: {})",
                    CASE_IDS.join(", ")
                )));
            }
        }
        let attacker_origin = self.attacker_origin()?;
        let http = mtls::http_client(self, None)?;
        let admin = Admin::new(http.clone(), &self.issuer, self.admin_token.clone())?;
        let run = Run {
            probe: self,
            admin,
            http,
            attacker: attacker::Attacker::start(self.attacker_bind, attacker_origin.as_ref())
                .await?,
        };
        let mut cases = Vec::new();
        for case in STATIC_CASES {
            cases.push(run.static_case(case).await?);
        }
        cases.extend(run.dpop_cases().await?);
        cases.extend(run.mtls_cases().await?);
        let mut previous_kid = None;
        for timed in [Timed::KeyRotation, Timed::IssuerDown, Timed::KeyRemoved] {
            cases.push(run.timed_case(timed, &mut previous_kid).await?);
        }
        Ok(Report {
            probe: "api",
            target: self.url.clone(),
            cases,
        })
    }
}

impl ApiProbe {
    /// `attacker_url` checked: an `http`/`https` origin (no path, query or fragment).
    fn attacker_origin(&self) -> Result<Option<url::Url>, ProbeError> {
        let Some(text) = &self.attacker_url else {
            return Ok(None);
        };
        let bad = |why: &str| ProbeError::Usage(format!("--attacker-url {text}: {why}"));
        let url = url::Url::parse(text).map_err(|error| bad(&error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(bad("not an http:// or https:// URL"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("an origin only (scheme, host, port), no path"));
        }
        Ok(Some(url))
    }

    /// Why a `jku`/`x5u` fetch may go unseen: the attacker's URLs name a loopback address
    /// (nothing set by `--attacker-url`) while the API is elsewhere, where they lead nowhere.
    fn attacker_out_of_reach(&self) -> Option<String> {
        let api = url::Url::parse(&self.url).ok()?;
        let api_host = api.host()?;
        (self.attacker_url.is_none()
            && self.attacker_bind.ip().is_loopback()
            && !ccflow_protocol::is_loopback(&api))
        .then(|| {
            format!(
                "the API at {api_host} cannot reach the probe's attacker server on {}, so a fetch \
                 would not be seen: give --attacker-bind and --attacker-url",
                self.attacker_bind.ip()
            )
        })
    }
}

struct Run<'a> {
    probe: &'a ApiProbe,
    admin: Admin,
    http: reqwest::Client,
    /// The attacker's key and server of the `jku`/`x5u` cases.
    attacker: attacker::Attacker,
}

impl Run<'_> {
    fn skipped(&self, id: &str) -> bool {
        self.probe.skip.iter().any(|skip| skip == id)
    }

    fn spec(&self) -> MintSpec {
        let mut claims = Map::new();
        claims.insert("aud".to_owned(), json!(self.probe.audience));
        if let Some(scope) = &self.probe.scope {
            claims.insert("scope".to_owned(), json!(scope));
        }
        MintSpec {
            client_id: Some(self.probe.client_id.clone()),
            claims,
            ..MintSpec::default()
        }
    }

    fn mint_spec(&self, mint: Mint) -> MintSpec {
        let mut spec = self.spec();
        match mint {
            Mint::Valid => {}
            Mint::Defect(defect) => spec.defect = Some(defect),
            Mint::Claim(name, value) => {
                spec.claims.insert(name.to_owned(), json!(value));
            }
            Mint::WithoutClaim(name) => spec.remove_claims.push(name.to_owned()),
            Mint::Crit => {
                spec.header
                    .insert("crit".to_owned(), json!([CRIT_EXTENSION]));
                spec.header.insert(CRIT_EXTENSION.to_owned(), json!(true));
            }
            Mint::OtherScope => {
                spec.claims.insert("scope".to_owned(), json!(OTHER_SCOPE));
            }
            Mint::DpopBound => {
                spec.claims
                    .insert("cnf".to_owned(), json!({"jkt": BOUND_JKT}));
            }
            Mint::CertificateBound => {
                spec.claims
                    .insert("cnf".to_owned(), json!({ "x5t#S256": BOUND_X5T }));
            }
        }
        spec
    }

    async fn send(&self, authorization: Option<&str>) -> Result<Answer, ProbeError> {
        self.send_with_proof(authorization, None).await
    }

    /// Sends `GET` with this `Authorization` and, for DPoP, this `DPoP` proof header.
    async fn send_with_proof(
        &self,
        authorization: Option<&str>,
        proof: Option<&str>,
    ) -> Result<Answer, ProbeError> {
        self.send_via(&self.http, authorization, proof).await
    }

    /// Sends as [`send_with_proof`](Self::send_with_proof) does, over `http` (a client
    /// presenting a certificate).
    async fn send_via(
        &self,
        http: &reqwest::Client,
        authorization: Option<&str>,
        proof: Option<&str>,
    ) -> Result<Answer, ProbeError> {
        let mut request = http.get(&self.probe.url);
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        if let Some(proof) = proof {
            request = request.header(ccflow_protocol::dpop::DPOP_HEADER, proof);
        }
        let response = request.send().await.map_err(|error| {
            ProbeError::Target(format!("GET {}: {}", self.probe.url, with_causes(&error)))
        })?;
        let challenge = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let nonce = response
            .headers()
            .get(ccflow_protocol::dpop::NONCE_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Answer {
            status: response.status().as_u16(),
            challenge: (!challenge.is_empty()).then_some(challenge),
            nonce,
        })
    }

    fn not_applicable(&self, case: &Case) -> Option<String> {
        if self.skipped(case.id) {
            return Some("marked not applicable (--skip)".to_owned());
        }
        match case.id {
            "wrong-typ" if !self.probe.rfc9068 => Some(
                "only for an API that says it is RFC 9068 (--typ-rfc9068): a plain JWT validator may accept any typ"
                    .to_owned(),
            ),
            "dpop-bound-as-bearer" if !self.probe.dpop => {
                Some("no --dpop given: the API does not take DPoP-bound tokens".to_owned())
            }
            "certificate-bound-without-certificate" if !self.probe.mtls => Some(
                "no --mtls given: the API does not take certificate-bound tokens".to_owned(),
            ),
            "missing-scope" if self.probe.scope.is_none() => {
                Some("no --scope given: the route requires none".to_owned())
            }
            _ => None,
        }
    }

    async fn static_case(&self, case: &Case) -> Result<CaseResult, ProbeError> {
        let mut result = CaseResult {
            id: case.id,
            title: case.title,
            rfc: case.rfc,
            sent: String::new(),
            expected: case.expect.describe().to_owned(),
            got: String::new(),
            verdict: Verdict::Skipped,
            note: String::new(),
        };
        if let Some(why) = self.not_applicable(case) {
            result.note = why;
            return Ok(result);
        }
        let authorization = match case.send {
            Send::Nothing => None,
            Send::Raw(value) => Some(value.to_owned()),
            Send::Token(mint) => match self.admin.mint(&self.mint_spec(mint)).await {
                Ok(token) => Some(format!("Bearer {token}")),
                // E.g. HS256 with the public key when the active key is not RSA.
                Err(ProbeError::Admin(why)) if !matches!(mint, Mint::Valid) => {
                    result.note = format!("the factory cannot make this token here: {why}");
                    return Ok(result);
                }
                Err(error) => return Err(error),
            },
            Send::Attacker(pointer) => {
                let valid = self.admin.mint(&self.spec()).await?;
                let token = self.attacker.token(&valid, pointer)?;
                Some(format!("Bearer {token}"))
            }
        };
        result.sent = describe_sent(&self.probe.url, authorization.as_deref());
        let hits_before = self.attacker.hits_of(case.send);
        let answer = self.send(authorization.as_deref()).await?;
        result.got = answer.describe();
        let (verdict, note) = judge(case.expect, &answer);
        result.verdict = verdict;
        result.note = note;
        if let Send::Attacker(pointer) = case.send {
            result.sent = format!("{} ({})", result.sent, self.attacker.url(pointer));
            // RFC 8725 §3.10: a token must not choose where its keys come from; fetching the
            // URL is the hole, whatever the API answers after.
            let hits = self.attacker.hits_of(case.send) - hits_before;
            if hits > 0 {
                result.verdict = Verdict::Fail;
                result.note = format!(
                    "fetched the attacker's {} ({hits} request(s) for {})",
                    pointer.member(),
                    self.attacker.url(pointer)
                );
            } else if let Some(why) = self.probe.attacker_out_of_reach() {
                result.note = if result.note.is_empty() {
                    why
                } else {
                    format!("{}; {why}", result.note)
                };
            }
        }
        Ok(result)
    }

    /// Lets `by` pass for the API.
    async fn let_time_pass(&self, by: Duration) -> Result<(), ProbeError> {
        match self.probe.wait {
            Wait::Real => {
                tokio::time::sleep(by).await;
                Ok(())
            }
            Wait::ServerClock => self.admin.advance_clock(by).await,
        }
    }

    /// How long the API may keep a JWKS: `--jwks-cache-secs`, else the issuer's `max-age`,
    /// else five minutes (the common default of validators without one: jose, PyJWT, Spring).
    async fn jwks_cache(&self) -> Result<Duration, ProbeError> {
        if let Some(cache) = self.probe.jwks_cache {
            return Ok(cache);
        }
        Ok(self
            .admin
            .jwks_max_age()
            .await?
            .unwrap_or(Duration::from_secs(300)))
    }

    async fn timed_case(
        &self,
        timed: Timed,
        previous_kid: &mut Option<String>,
    ) -> Result<CaseResult, ProbeError> {
        let mut result = CaseResult {
            id: timed.id(),
            title: timed.title(),
            rfc: timed.rfc(),
            sent: String::new(),
            expected: String::new(),
            got: String::new(),
            verdict: Verdict::Skipped,
            note: String::new(),
        };
        if self.skipped(timed.id()) {
            result.note = "marked not applicable (--skip)".to_owned();
            return Ok(result);
        }
        let fetches_before = self.admin.jwks_fetches().await.ok();
        match timed {
            Timed::KeyRotation => {
                let old = self.admin.active_kid().await?;
                let new = self.admin.rotate().await?;
                *previous_kid = Some(old);
                let token = self.admin.mint(&self.spec()).await?;
                let authorization = format!("Bearer {token}");
                result.sent = format!(
                    "POST /_ccflow/keys/rotate (new active kid {}), then {}, again every {} s for up to {} s",
                    shorten(&new, 12),
                    describe_sent(&self.probe.url, Some(&authorization)),
                    self.step().as_secs(),
                    self.probe.refetch_wait.as_secs()
                );
                result.expected = format!("2xx within {} s", self.probe.refetch_wait.as_secs());
                let (answer, waited) = self
                    .until(self.probe.refetch_wait, &authorization, |answer| {
                        is_success(answer.status)
                    })
                    .await?;
                result.got = format!("{} after {} s", answer.describe(), waited.as_secs());
                if is_success(answer.status) {
                    result.verdict = Verdict::Pass;
                } else {
                    result.verdict = Verdict::Fail;
                    result.note = "the new key's tokens are still refused: the API does not refetch the JWKS for an unknown kid (or waits longer than --refetch-wait-secs)".to_owned();
                }
            }
            Timed::IssuerDown => {
                let cache = self.jwks_cache().await?;
                let down = [
                    ScenarioSpec::new("jwks", Fault::status(503)),
                    ScenarioSpec::new("discovery", Fault::status(503)),
                ];
                let ids = self.admin.add_scenarios(&down).await?;
                let token = self.admin.mint(&self.spec()).await;
                let outcome = async {
                    let authorization = format!("Bearer {}", token?);
                    self.let_time_pass(cache + Duration::from_secs(1)).await?;
                    let answer = self.send(Some(&authorization)).await?;
                    Ok::<_, ProbeError>((authorization, answer))
                }
                .await;
                for id in ids {
                    self.admin.remove_scenario(id).await?;
                }
                let (authorization, answer) = outcome?;
                result.sent = format!(
                    "JWKS and discovery answer 503 (POST /_ccflow/scenarios), {} s pass, then {}",
                    (cache + Duration::from_secs(1)).as_secs(),
                    describe_sent(&self.probe.url, Some(&authorization))
                );
                result.expected = "2xx".to_owned();
                result.got = answer.describe();
                if is_success(answer.status) {
                    result.verdict = Verdict::Pass;
                } else {
                    result.verdict = Verdict::Fail;
                    result.note = "a valid token was refused while the issuer was down: the API dropped keys it had, instead of serving them stale".to_owned();
                }
            }
            Timed::KeyRemoved => {
                let cache = self.jwks_cache().await?;
                let old = match previous_kid.take() {
                    Some(old) => old,
                    None => {
                        let old = self.admin.active_kid().await?;
                        self.admin.rotate().await?;
                        old
                    }
                };
                self.admin.retire(&old).await?;
                let spec = MintSpec {
                    key: Some(old.clone()),
                    ..self.spec()
                };
                let authorization = format!("Bearer {}", self.admin.mint(&spec).await?);
                let at_once = self.send(Some(&authorization)).await?;
                self.let_time_pass(cache + Duration::from_secs(1)).await?;
                let (answer, waited) = self
                    .until(self.probe.refetch_wait, &authorization, |answer| {
                        !is_success(answer.status)
                    })
                    .await?;
                result.sent = format!(
                    "POST /_ccflow/keys/{}/retire, then {} at once, after {} s, and every {} s for up to {} s more",
                    shorten(&old, 12),
                    describe_sent(&self.probe.url, Some(&authorization)),
                    (cache + Duration::from_secs(1)).as_secs(),
                    self.step().as_secs(),
                    self.probe.refetch_wait.as_secs()
                );
                result.expected = Expect::InvalidToken.describe().to_owned();
                result.got = answer.describe();
                let (verdict, note) = judge(Expect::InvalidToken, &answer);
                result.verdict = verdict;
                let timing = format!(
                    "at once (keys still cached): {}; {} s after the JWKS cache ({} s) may have expired: {}",
                    at_once.status,
                    waited.as_secs(),
                    cache.as_secs(),
                    answer.status
                );
                result.note = if note.is_empty() {
                    timing
                } else {
                    format!("{note}; {timing}")
                };
            }
        }
        if let (Some(before), Ok(after)) = (fetches_before, self.admin.jwks_fetches().await) {
            let fetched = after.saturating_sub(before);
            let sentence = format!("the issuer saw {fetched} JWKS request(s) during the case");
            result.note = if result.note.is_empty() {
                sentence
            } else {
                format!("{}; {sentence}", result.note)
            };
        }
        Ok(result)
    }

    /// The pause between two tries of a waiting case.
    fn step(&self) -> Duration {
        match self.probe.wait {
            Wait::Real => Duration::from_secs(1),
            Wait::ServerClock => Duration::from_secs(5),
        }
    }

    /// Sends `authorization` until `done` says so or `deadline` has passed for the API: the
    /// last answer and how long it took.
    async fn until(
        &self,
        deadline: Duration,
        authorization: &str,
        done: impl Fn(&Answer) -> bool,
    ) -> Result<(Answer, Duration), ProbeError> {
        let mut waited = Duration::ZERO;
        loop {
            let answer = self.send(Some(authorization)).await?;
            if done(&answer) || waited >= deadline {
                return Ok((answer, waited));
            }
            self.let_time_pass(self.step()).await?;
            waited += self.step();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(expect: Expect, status: u16, challenge: Option<&str>, verdict: Verdict) {
        let answer = Answer {
            status,
            challenge: challenge.map(str::to_owned),
            nonce: None,
        };
        assert_eq!(
            judge(expect, &answer).0,
            verdict,
            "{expect:?} {status} {challenge:?}"
        );
    }

    #[test]
    fn answers_are_judged_as_rfc_6750_says() {
        use Expect::*;
        use Verdict::*;
        check(Accept, 200, None, Pass);
        check(Accept, 401, Some("Bearer"), Fail);
        check(BareChallenge, 401, Some(r#"Bearer realm="api""#), Pass);
        check(
            BareChallenge,
            401,
            Some(r#"Bearer error="invalid_token""#),
            Lenient,
        );
        check(BareChallenge, 401, None, Lenient);
        check(BareChallenge, 200, None, Fail);
        check(
            InvalidRequest,
            400,
            Some(r#"Bearer error="invalid_request""#),
            Pass,
        );
        check(InvalidRequest, 401, Some("Bearer"), Lenient);
        check(
            InvalidToken,
            401,
            Some(r#"Bearer realm="x", error="invalid_token", error_description="expired""#),
            Pass,
        );
        check(
            InvalidToken,
            401,
            Some(r#"DPoP algs="ES256", Bearer error="invalid_token""#),
            Pass,
        );
        check(
            InvalidToken,
            403,
            Some(r#"Bearer error="invalid_token""#),
            Lenient,
        );
        check(InvalidToken, 401, Some("Bearer"), Lenient);
        check(InvalidToken, 200, None, Fail);
        check(InvalidToken, 500, None, Fail);
        check(
            InsufficientScope,
            403,
            Some(r#"Bearer error="insufficient_scope", scope="items:read""#),
            Pass,
        );
        check(
            InsufficientScope,
            401,
            Some(r#"Bearer error="invalid_token""#),
            Lenient,
        );
        check(InsufficientScope, 204, None, Fail);
        check(
            InvalidToken,
            401,
            Some(r#"DPoP algs="ES256", error="invalid_token""#),
            Pass,
        );
        check(
            InvalidToken,
            401,
            Some(r#"Bearer realm="x", DPoP error="invalid_token""#),
            Pass,
        );
        // RFC 9449 §7.1: a bad proof is `invalid_dpop_proof`; a proof of another key may be
        // refused as `invalid_token`.
        let dpop = r#"DPoP algs="ES256", error="invalid_dpop_proof""#;
        check(InvalidDpopProof, 401, Some(dpop), Pass);
        check(
            InvalidDpopProof,
            401,
            Some(r#"DPoP error="invalid_token""#),
            Pass,
        );
        check(InvalidDpopProof, 400, Some(dpop), Lenient);
        check(InvalidDpopProof, 401, Some(r#"DPoP algs="ES256""#), Lenient);
        check(InvalidDpopProof, 200, None, Fail);
    }

    #[test]
    fn a_nonce_challenge_passes_only_with_a_nonce_to_use() {
        use Expect::UseDpopNonce;
        use Verdict::*;
        #[rustfmt::skip]
        let cases = [
            (401, Some(r#"DPoP algs="ES256", error="use_dpop_nonce""#), Some("n-1"), Pass),
            (401, Some(r#"DPoP error="use_dpop_nonce""#), None, Lenient),
            (401, Some(r#"DPoP error="invalid_dpop_proof""#), Some("n-1"), Lenient),
            (400, Some(r#"DPoP error="use_dpop_nonce""#), Some("n-1"), Lenient),
            (401, None, Some("n-1"), Lenient),
            (200, None, Some("n-1"), Fail),
            (500, None, None, Fail),
        ];
        for (status, challenge, nonce, verdict) in cases {
            let answer = Answer {
                status,
                challenge: challenge.map(str::to_owned),
                nonce: nonce.map(str::to_owned),
            };
            assert_eq!(
                judge(UseDpopNonce, &answer).0,
                verdict,
                "{status} {challenge:?} {nonce:?}"
            );
        }
    }

    #[test]
    fn a_sent_token_is_never_shown_whole() {
        let token =
            "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        let shown = describe_sent("http://api/v1", Some(&format!("Bearer {token}")));
        assert!(!shown.contains(token), "{shown}");
        assert!(!shown.contains("c2lnbmF0dXJl"), "{shown}");
        assert!(shown.contains("alg=RS256 kid=k1"), "{shown}");
    }

    #[test]
    fn the_attacker_url_is_an_origin_and_a_loopback_attacker_is_flagged_for_a_remote_api() {
        #[rustfmt::skip]
        let origins = [
            (None, Ok(None)),
            (Some("http://host.docker.internal:9700"), Ok(Some("http://host.docker.internal:9700/"))),
            (Some("https://probe.test/"), Ok(Some("https://probe.test/"))),
            (Some("http://probe:9700/keys"), Err("--attacker-url http://probe:9700/keys: an origin only (scheme, host, port), no path")),
            (Some("http://probe:9700/?a=1"), Err("--attacker-url http://probe:9700/?a=1: an origin only (scheme, host, port), no path")),
            (Some("ftp://probe"), Err("--attacker-url ftp://probe: not an http:// or https:// URL")),
            (Some("probe:9700"), Err("--attacker-url probe:9700: not an http:// or https:// URL")),
            (Some("not a url"), Err("--attacker-url not a url: relative URL without a base")),
        ];
        for (given, expected) in origins {
            let mut probe = ApiProbe::new("http://127.0.0.1:8080", "http://127.0.0.1:8081/", "a");
            probe.attacker_url = given.map(str::to_owned);
            let got = probe
                .attacker_origin()
                .map(|url| url.map(String::from))
                .map_err(|error| error.to_string());
            let expected = expected
                .map(|url| url.map(str::to_owned))
                .map_err(str::to_owned);
            assert_eq!(got, expected, "{given:?}");
        }

        let everywhere = SocketAddr::from(([0, 0, 0, 0], 9700));
        #[rustfmt::skip]
        let reach = [
            ("http://127.0.0.1:8081/items", None, None, false),
            ("https://localhost:8081/items", None, None, false),
            ("http://[::1]:8081/items", None, None, false),
            ("http://10.0.0.5:8081/items", None, None, true),
            ("http://api:8081/items", None, None, true),
            ("http://api:8081/items", Some(everywhere), None, false),
            ("http://api:8081/items", None, Some("http://probe:9700"), false),
        ];
        for (api, bind, url, flagged) in reach {
            let mut probe = ApiProbe::new("http://127.0.0.1:8080", api, "a");
            if let Some(bind) = bind {
                probe.attacker_bind = bind;
            }
            probe.attacker_url = url.map(str::to_owned);
            let note = probe.attacker_out_of_reach();
            assert_eq!(note.is_some(), flagged, "{api} {bind:?} {url:?}: {note:?}");
        }
    }

    #[test]
    fn every_case_id_is_listed_once() {
        let mut ids: Vec<&str> = STATIC_CASES.iter().map(|case| case.id).collect();
        ids.extend(dpop::DPOP_CASES.iter().map(|case| case.id));
        ids.extend(mtls::MTLS_CASES.iter().map(|case| case.id));
        ids.extend([Timed::KeyRotation, Timed::IssuerDown, Timed::KeyRemoved].map(Timed::id));
        assert_eq!(ids, CASE_IDS);
    }
}
