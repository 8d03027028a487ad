//! `probe api`: the resource-server catalogue run against the user's route, with tokens from the
//! running auth server's bad-token factory and its keys, clock and faults driven through the
//! admin API.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{BearerChallenge, Defect, ErrorCode, Fault, MintSpec, ScenarioSpec};
use serde_json::{Map, Value, json};

use super::ProbeError;
use super::admin::Admin;
use super::report::{CaseResult, Report, Verdict};

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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| ProbeError::Usage(error.to_string()))?;
        let admin = Admin::new(http.clone(), &self.issuer, self.admin_token.clone())?;
        let run = Run {
            probe: self,
            admin,
            http,
        };
        let mut cases = Vec::new();
        for case in STATIC_CASES {
            cases.push(run.static_case(case).await?);
        }
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

/// What the API must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 2xx.
    Accept,
    /// 401 with a Bearer challenge carrying no error code (RFC 6750 §3.1).
    BareChallenge,
    /// 400 `invalid_request`; a 401 is lenient.
    InvalidRequest,
    /// 401 `invalid_token`.
    InvalidToken,
    /// 403 `insufficient_scope`.
    InsufficientScope,
}

impl Expect {
    fn describe(self) -> &'static str {
        match self {
            Expect::Accept => "2xx",
            Expect::BareChallenge => "401, WWW-Authenticate: Bearer",
            Expect::InvalidRequest => "400, WWW-Authenticate: Bearer error=\"invalid_request\"",
            Expect::InvalidToken => "401, WWW-Authenticate: Bearer error=\"invalid_token\"",
            Expect::InsufficientScope => {
                "403, WWW-Authenticate: Bearer error=\"insufficient_scope\""
            }
        }
    }
}

/// What a request sends.
#[derive(Debug, Clone, Copy)]
enum Send {
    /// No `Authorization` header.
    Nothing,
    /// This `Authorization` value as is.
    Raw(&'static str),
    /// A token from the factory.
    Token(Mint),
}

/// Which token.
#[derive(Debug, Clone, Copy)]
enum Mint {
    Valid,
    Defect(Defect),
    Claim(&'static str, &'static str),
    WithoutClaim(&'static str),
    Crit,
    ForeignWithHeader(&'static str, &'static str),
    OtherScope,
}

/// One case of the static catalogue.
struct Case {
    id: &'static str,
    title: &'static str,
    rfc: &'static str,
    send: Send,
    expect: Expect,
}

const fn case(
    id: &'static str,
    title: &'static str,
    rfc: &'static str,
    send: Send,
    expect: Expect,
) -> Case {
    Case {
        id,
        title,
        rfc,
        send,
        expect,
    }
}

/// The wrong issuer and audience the probe names.
const WRONG_ISSUER: &str = "https://wrong-issuer.ccflow.invalid";
const WRONG_AUDIENCE: &str = "ccflow-probe-another-api";
/// A scope no route requires.
const OTHER_SCOPE: &str = "ccflow-probe:unrelated";
/// The extension the `crit` case marks critical: nobody understands it.
const CRIT_EXTENSION: &str = "urn:ccflow:probe:critical";

#[rustfmt::skip]
const STATIC_CASES: &[Case] = &[
    case("valid", "a valid token for the audience (and scope) is accepted", "RFC 6750 §2.1", Send::Token(Mint::Valid), Expect::Accept),
    case("no-token", "a request without credentials gets a bare challenge", "RFC 6750 §3.1", Send::Nothing, Expect::BareChallenge),
    case("other-scheme", "credentials of another scheme (Basic) get a bare challenge", "RFC 6750 §3.1", Send::Raw("Basic Y2NmbG93LXByb2JlOm5vdC1hLXNlY3JldA=="), Expect::BareChallenge),
    case("malformed-header", "`Authorization: Bearer` without a token is a malformed request", "RFC 6750 §3.1", Send::Raw("Bearer"), Expect::InvalidRequest),
    case("expired", "an expired token is refused", "RFC 7519 §4.1.4", Send::Token(Mint::Defect(Defect::Expired)), Expect::InvalidToken),
    case("not-yet-valid", "a token before its nbf is refused", "RFC 7519 §4.1.5", Send::Token(Mint::Defect(Defect::NotYetValid)), Expect::InvalidToken),
    case("wrong-iss", "a token of another issuer is refused", "RFC 9068 §4", Send::Token(Mint::Claim("iss", WRONG_ISSUER)), Expect::InvalidToken),
    case("wrong-aud", "a token for another audience is refused", "RFC 9068 §4, RFC 8725 §3.9", Send::Token(Mint::Claim("aud", WRONG_AUDIENCE)), Expect::InvalidToken),
    case("missing-exp", "a token without exp is refused", "RFC 9068 §2.2", Send::Token(Mint::WithoutClaim("exp")), Expect::InvalidToken),
    case("alg-none", "an unsigned token (alg none) is refused", "RFC 8725 §3.1", Send::Token(Mint::Defect(Defect::AlgNone)), Expect::InvalidToken),
    case("hs256-public-key", "HS256 keyed with the issuer's public key is refused", "RFC 8725 §3.1", Send::Token(Mint::Defect(Defect::Hs256WithPublicKey)), Expect::InvalidToken),
    case("unknown-kid", "a kid in no JWKS is refused", "RFC 7515 §4.1.4", Send::Token(Mint::Defect(Defect::UnknownKid)), Expect::InvalidToken),
    case("tampered-payload", "claims changed after signing are refused", "RFC 7515 §5.2", Send::Token(Mint::Defect(Defect::TamperedPayload)), Expect::InvalidToken),
    case("crit-header", "a crit header naming an unknown extension is refused", "RFC 7515 §4.1.11", Send::Token(Mint::Crit), Expect::InvalidToken),
    case("jku-elsewhere", "a foreign key announced by jku is not fetched or trusted", "RFC 8725 §3.10", Send::Token(Mint::ForeignWithHeader("jku", "https://attacker.ccflow.invalid/jwks.json")), Expect::InvalidToken),
    case("x5u-elsewhere", "a foreign key announced by x5u is not fetched or trusted", "RFC 8725 §3.10", Send::Token(Mint::ForeignWithHeader("x5u", "https://attacker.ccflow.invalid/cert.pem")), Expect::InvalidToken),
    case("embedded-jwk", "a foreign key embedded as jwk is not trusted", "RFC 7515 §4.1.3, RFC 8725 §3.10", Send::Token(Mint::Defect(Defect::EmbeddedJwk)), Expect::InvalidToken),
    case("wrong-typ", "a JWT that is not typed at+jwt is refused", "RFC 9068 §4", Send::Token(Mint::Defect(Defect::WrongTyp)), Expect::InvalidToken),
    case("missing-scope", "a valid token without the route's scope is forbidden", "RFC 6750 §3.1", Send::Token(Mint::OtherScope), Expect::InsufficientScope),
];

/// The cases that need keys changed or time to pass, run after the static ones.
#[derive(Debug, Clone, Copy)]
enum Timed {
    KeyRotation,
    IssuerDown,
    KeyRemoved,
}

impl Timed {
    fn id(self) -> &'static str {
        match self {
            Timed::KeyRotation => "key-rotation",
            Timed::IssuerDown => "issuer-down",
            Timed::KeyRemoved => "key-removed",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Timed::KeyRotation => {
                "a token of a newly activated key is accepted once the API refetches the JWKS"
            }
            Timed::IssuerDown => {
                "with the issuer's JWKS and discovery down, cached keys keep working past the cache's freshness"
            }
            Timed::KeyRemoved => {
                "a token of a key withdrawn from the JWKS is refused once the API's cache may have expired"
            }
        }
    }
    fn rfc(self) -> &'static str {
        match self {
            Timed::KeyRotation => "RFC 7517 §4.5, OIDC Core §10.1.1",
            Timed::IssuerDown => "RFC 9111 §4.2.4",
            Timed::KeyRemoved => "RFC 7517 §5, RFC 9111 §5.2.2.1",
        }
    }
}

/// Every case id, in the order run (what `--skip` accepts).
pub const CASE_IDS: &[&str] = &[
    "valid",
    "no-token",
    "other-scheme",
    "malformed-header",
    "expired",
    "not-yet-valid",
    "wrong-iss",
    "wrong-aud",
    "missing-exp",
    "alg-none",
    "hs256-public-key",
    "unknown-kid",
    "tampered-payload",
    "crit-header",
    "jku-elsewhere",
    "x5u-elsewhere",
    "embedded-jwk",
    "wrong-typ",
    "missing-scope",
    "key-rotation",
    "issuer-down",
    "key-removed",
];

/// What came back from the API.
struct Answer {
    status: u16,
    challenge: Option<String>,
}

impl Answer {
    fn describe(&self) -> String {
        match &self.challenge {
            Some(challenge) => format!(
                "{}, WWW-Authenticate: {}",
                self.status,
                shorten(challenge, 200)
            ),
            None => format!("{} (no WWW-Authenticate)", self.status),
        }
    }
}

struct Run<'a> {
    probe: &'a ApiProbe,
    admin: Admin,
    http: reqwest::Client,
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
            Mint::ForeignWithHeader(name, value) => {
                spec.key = Some("foreign".to_owned());
                spec.header.insert(name.to_owned(), json!(value));
            }
            Mint::OtherScope => {
                spec.claims.insert("scope".to_owned(), json!(OTHER_SCOPE));
            }
        }
        spec
    }

    async fn send(&self, authorization: Option<&str>) -> Result<Answer, ProbeError> {
        let mut request = self.http.get(&self.probe.url);
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request
            .send()
            .await
            .map_err(|error| ProbeError::Target(format!("GET {}: {error}", self.probe.url)))?;
        let challenge = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Answer {
            status: response.status().as_u16(),
            challenge: (!challenge.is_empty()).then_some(challenge),
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
        };
        result.sent = describe_sent(&self.probe.url, authorization.as_deref());
        let answer = self.send(authorization.as_deref()).await?;
        result.got = answer.describe();
        let (verdict, note) = judge(case.expect, &answer);
        result.verdict = verdict;
        result.note = note;
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

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The verdict of an answer: the RFC's answer passes; a refusal in other words is lenient; an
/// acceptance of what must be refused, a refusal of what must pass, or a 5xx fails.
fn judge(expect: Expect, answer: &Answer) -> (Verdict, String) {
    let challenge = answer.challenge.as_deref().and_then(BearerChallenge::parse);
    let error = challenge
        .as_ref()
        .and_then(|challenge| challenge.error.clone());
    let status = answer.status;
    if expect == Expect::Accept {
        return if is_success(status) {
            (Verdict::Pass, String::new())
        } else {
            (Verdict::Fail, "a valid request was refused".to_owned())
        };
    }
    if is_success(status) {
        return (
            Verdict::Fail,
            "accepted: the API must refuse this".to_owned(),
        );
    }
    if status >= 500 {
        return (
            Verdict::Fail,
            "a server error, not a refusal (RFC 6750 §3)".to_owned(),
        );
    }
    if !(400..500).contains(&status) {
        return (Verdict::Fail, "neither accepted nor refused".to_owned());
    }
    let (want_status, want_error) = match expect {
        Expect::Accept => unreachable!("handled above"),
        Expect::BareChallenge => (401, None),
        Expect::InvalidRequest => (400, Some(ErrorCode::InvalidRequest)),
        Expect::InvalidToken => (401, Some(ErrorCode::InvalidToken)),
        Expect::InsufficientScope => (403, Some(ErrorCode::InsufficientScope)),
    };
    let error_word = error.as_ref().map(ErrorCode::as_str);
    let want_word = want_error.as_ref().map(ErrorCode::as_str);
    if challenge.is_none() && (status == 401 || want_status == 401) {
        // RFC 6750 §3: a 401 MUST carry a WWW-Authenticate challenge.
        return (
            Verdict::Lenient,
            "refused, but without a Bearer WWW-Authenticate challenge (RFC 6750 §3)".to_owned(),
        );
    }
    if status == want_status && error_word == want_word {
        return (Verdict::Pass, String::new());
    }
    if expect == Expect::InvalidRequest && status == 401 {
        return (Verdict::Lenient, "refused as unauthenticated; RFC 6750 §3.1 says 400 invalid_request for a malformed request".to_owned());
    }
    (
        Verdict::Lenient,
        format!(
            "refused, but not in RFC 6750's words: status {status} (want {want_status}), error {} (want {})",
            error_word.unwrap_or("none"),
            want_word.unwrap_or("none")
        ),
    )
}

/// What was sent, tokens shortened: `GET URL, Authorization: Bearer <JWT alg=RS256 kid=… typ=…,
/// 812 bytes, eyJhbGciOi…>`.
fn describe_sent(url: &str, authorization: Option<&str>) -> String {
    match authorization {
        None => format!("GET {url}, no Authorization header"),
        Some(value) => match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                format!("GET {url}, Authorization: Bearer {}", describe_token(token))
            }
            // The probe's own constants (Basic of a made-up client), never a user's secret.
            _ => format!("GET {url}, Authorization: {}", shorten(value, 24)),
        },
    }
}

/// A token as the report shows it: its header's `alg`, `kid`, `typ` and extra members, its
/// length and first characters; never the whole token.
fn describe_token(token: &str) -> String {
    let header: Option<Map<String, Value>> = token
        .split('.')
        .next()
        .and_then(|segment| URL_SAFE_NO_PAD.decode(segment).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let mut parts = Vec::new();
    if let Some(header) = header {
        for (name, value) in &header {
            let text = match value {
                Value::String(text) => shorten(text, 16),
                Value::Object(_) => "{…}".to_owned(),
                other => shorten(&other.to_string(), 24),
            };
            parts.push(format!("{name}={text}"));
        }
    }
    format!(
        "<JWT {}, {} bytes, {}>",
        parts.join(" "),
        token.len(),
        shorten(token, 10)
    )
}

fn shorten(text: &str, keep: usize) -> String {
    if text.chars().count() > keep {
        format!("{}…", text.chars().take(keep).collect::<String>())
    } else {
        text.to_owned()
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
    fn every_case_id_is_listed_once() {
        let mut ids: Vec<&str> = STATIC_CASES.iter().map(|case| case.id).collect();
        ids.extend([Timed::KeyRotation, Timed::IssuerDown, Timed::KeyRemoved].map(Timed::id));
        assert_eq!(ids, CASE_IDS);
    }
}
