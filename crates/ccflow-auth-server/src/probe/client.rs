//! `probe client`: the user's client command run against an embedded auth server with fault
//! scenarios and a stand-in API that counts uses, judged from the server's journal (on the
//! server's clock): one token for N uses, RFC 6749 §2.3.1 Basic encoding, no retry after
//! `invalid_client`, `Retry-After` honoured on 503 and 429, and recovery when the issuer's
//! keys rotate under a token in use.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ccflow_protocol::{ErrorCode, Fault, ScenarioSpec, When};

use super::ProbeError;
use super::report::{CaseResult, Report, Verdict};
use crate::{AuthServer, Client, Endpoint, JournalEntry, MockAuthServer};

/// The client the command authenticates as.
pub const PROBE_CLIENT_ID: &str = "ccflow-probe-client";
/// Its secret: `:`, `+`, `%`, a space and non-ASCII, where a raw `Basic` header and RFC 6749
/// §2.3.1's form-urlencoded one differ. A test secret the probe made up, so the report may name
/// what it holds.
const PROBE_CLIENT_SECRET: &str = "p:r+o%be s€cret";
/// The `Retry-After` the retry cases send, in seconds.
const RETRY_AFTER_SECS: u64 = 2;
/// How many times the command is asked to use its token (`CCFLOW_USES`).
pub const USES: u64 = 5;
/// How much earlier than `Retry-After` a retry may arrive and still count as honouring it: the
/// journal stamps requests on receipt, the client waits from its reading of the answer.
const RETRY_TOLERANCE: Duration = Duration::from_millis(100);

/// What `probe client` is told.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientProbe {
    /// The command, run with `sh -c`, once per case.
    pub run: String,
    /// How long one run may take before it is stopped (and the case judged on what it sent).
    pub timeout: Duration,
    /// Case ids marked not applicable.
    pub skip: Vec<String>,
}

/// Every client case id, in the order run.
pub const CLIENT_CASE_IDS: &[&str] = &[
    "token-reuse",
    "basic-encoding",
    "invalid-client-no-retry",
    "retry-after-503",
    "retry-after-429",
    "no-expires-in",
    // Last: it leaves the server on a new key.
    "key-rotation",
];

impl ClientProbe {
    /// A probe of `run`, 60 s per run.
    pub fn new(run: impl Into<String>) -> Self {
        Self {
            run: run.into(),
            timeout: Duration::from_secs(60),
            skip: Vec::new(),
        }
    }

    /// Runs every case; the report.
    pub async fn run(&self) -> Result<Report, ProbeError> {
        for id in &self.skip {
            if !CLIENT_CASE_IDS.contains(&id.as_str()) {
                return Err(ProbeError::Usage(format!(
                    "--skip {id}: no such case (cases: {})",
                    CLIENT_CASE_IDS.join(", ")
                )));
            }
        }
        let server = MockAuthServer::builder()
            .client(Client::new(PROBE_CLIENT_ID, PROBE_CLIENT_SECRET))
            .start()
            .await
            .map_err(|error| ProbeError::Usage(format!("cannot start the auth server: {error}")))?;
        let api = StandInApi::start(server.app().clone())?;
        let mut cases = Vec::new();
        for id in CLIENT_CASE_IDS {
            cases.push(self.case(&server, &api, id).await?);
        }
        api.handle.stop(false).await;
        Ok(Report {
            probe: "client",
            target: self.run.clone(),
            cases,
        })
    }

    async fn case(
        &self,
        server: &MockAuthServer,
        api: &StandInApi,
        id: &'static str,
    ) -> Result<CaseResult, ProbeError> {
        let (title, rfc, fault, expected) = match id {
            "token-reuse" => (
                "a token is reused while it is valid: one token request for all uses",
                "RFC 6749 §5.1 (expires_in), RFC 6750 §2.1",
                None,
                "1 token request, at least 5 uses of the token",
            ),
            "basic-encoding" => (
                "a secret with `:`, `+`, `%`, a space and non-ASCII authenticates",
                "RFC 6749 §2.3.1",
                None,
                "a token request answered 200",
            ),
            "invalid-client-no-retry" => (
                "after invalid_client the client stops: one token request",
                "RFC 6749 §5.2",
                Some(Fault::oauth_error(ErrorCode::InvalidClient)),
                "exactly 1 token request",
            ),
            "retry-after-503" => (
                "after 503 with Retry-After the client waits that long before it retries",
                "RFC 9110 §10.2.3, §15.6.4",
                Some(Fault::status(503).retry_after(RETRY_AFTER_SECS)),
                "a 2nd token request at least 2 s after the 1st",
            ),
            "no-expires-in" => (
                "a token response without expires_in still gives a usable token",
                "RFC 6749 §5.1",
                Some(Fault::MissingExpiresIn),
                "at least 5 uses of the token; one token request",
            ),
            "key-rotation" => (
                "after the issuer's keys rotate and the API refuses the token (401 invalid_token), the client gets a new one and goes on",
                "RFC 6750 §3.1, RFC 7517 §5",
                None,
                "a 2nd token request after the refusal, and a use of the new token accepted",
            ),
            _ => (
                "after 429 with Retry-After the client waits that long before it retries",
                "RFC 6585 §4, RFC 9110 §10.2.3",
                Some(Fault::status(429).retry_after(RETRY_AFTER_SECS)),
                "a 2nd token request at least 2 s after the 1st",
            ),
        };
        let mut result = CaseResult {
            id,
            title,
            rfc,
            sent: String::new(),
            expected: expected.to_owned(),
            got: String::new(),
            verdict: Verdict::Skipped,
            note: String::new(),
        };
        if self.skip.iter().any(|skip| skip == id) {
            result.note = "marked not applicable (--skip)".to_owned();
            return Ok(result);
        }
        server.clear_scenarios();
        server.app().journal().clear();
        api.uses.store(0, Ordering::SeqCst);
        api.rotation.refusals.store(0, Ordering::SeqCst);
        api.rotation
            .armed
            .store(id == "key-rotation", Ordering::SeqCst);
        if let Some(fault) = &fault {
            let mut spec = ScenarioSpec::new("token", fault.clone());
            if id.starts_with("retry-after") {
                spec.when = When::First(1);
            }
            server.app().add_scenario(spec).map_err(ProbeError::Usage)?;
        }
        result.sent = format!(
            "sh -c {:?} with CCFLOW_TOKEN_URL={}, CCFLOW_CLIENT_ID={PROBE_CLIENT_ID}, CCFLOW_CLIENT_SECRET={PROBE_CLIENT_SECRET:?}{}",
            self.run,
            server.token_url(),
            match &fault {
                None if id == "key-rotation" => "; after the token's first accepted use, the issuer rotates its keys and withdraws the token's key, and the API refuses that key's tokens with 401 invalid_token".to_owned(),
                None => String::new(),
                Some(_) if id.starts_with("retry-after") => format!(
                    "; the 1st token request answered {} with Retry-After: {RETRY_AFTER_SECS}",
                    if id.ends_with("503") { 503 } else { 429 }
                ),
                Some(Fault::MissingExpiresIn) => "; token responses without expires_in".to_owned(),
                Some(_) => "; every token request answered 401 invalid_client".to_owned(),
            }
        );
        let exit =
            run_command(&self.run, server.token_url(), api.url.clone(), self.timeout).await?;
        let uses = api.uses.load(Ordering::SeqCst);
        let requests: Vec<JournalEntry> = server
            .app()
            .journal()
            .entries()
            .into_iter()
            .filter(|entry| entry.endpoint == Endpoint::Token)
            .collect();
        result.got = format!("{}; {uses} use(s) of a token", describe(&requests, &exit));
        let refusals = api.rotation.refusals.load(Ordering::SeqCst);
        api.rotation.armed.store(false, Ordering::SeqCst);
        let (verdict, note) = if id == "key-rotation" {
            result.got = format!("{}; {refusals} refused for the withdrawn key", result.got);
            judge_rotation(&requests, uses, refusals)
        } else if id == "token-reuse" {
            judge_reuse(&requests, uses)
        } else if id == "no-expires-in" {
            judge_no_expires_in(&requests, uses)
        } else {
            judge(id, &requests)
        };
        result.verdict = verdict;
        result.note = note;
        server.clear_scenarios();
        Ok(result)
    }
}

/// How the command ended.
enum Exit {
    Status(Option<i32>),
    TimedOut,
}

async fn run_command(
    run: &str,
    token_url: String,
    api_url: String,
    timeout: Duration,
) -> Result<Exit, ProbeError> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(run)
        .env("CCFLOW_TOKEN_URL", token_url)
        .env("CCFLOW_CLIENT_ID", PROBE_CLIENT_ID)
        .env("CCFLOW_CLIENT_SECRET", PROBE_CLIENT_SECRET)
        .env("CCFLOW_API_URL", api_url)
        .env("CCFLOW_USES", USES.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The command talks to the server on this runtime: wait for it on a blocking thread.
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .spawn()
            .map_err(|error| ProbeError::Target(format!("cannot run sh -c: {error}")))?;
        let started = std::time::Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(Exit::Status(status.code())),
                Ok(None) if started.elapsed() >= timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(Exit::TimedOut);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(error) => return Err(ProbeError::Target(error.to_string())),
            }
        }
    })
    .await
    .map_err(|error| ProbeError::Target(error.to_string()))?
}

fn describe(requests: &[JournalEntry], exit: &Exit) -> String {
    let first = requests.first();
    let statuses: Vec<String> = requests
        .iter()
        .map(|entry| entry.status.to_string())
        .collect();
    let gap = gap_between_first_two(requests)
        .map(|gap| format!(", 2nd {:.2} s after the 1st", gap.as_secs_f64()))
        .unwrap_or_default();
    let exit = match exit {
        Exit::Status(Some(code)) => format!("exit {code}"),
        Exit::Status(None) => "killed by a signal".to_owned(),
        Exit::TimedOut => "stopped at the timeout".to_owned(),
    };
    format!(
        "{} token request(s) [{}]{gap}{}; {exit}",
        requests.len(),
        statuses.join(", "),
        first
            .and_then(|entry| entry.auth_method.as_deref())
            .map(|method| format!(", {method}"))
            .unwrap_or_default()
    )
}

/// One token request (answered 200) for at least [`USES`] uses on the stand-in API.
fn judge_reuse(requests: &[JournalEntry], uses: u64) -> (Verdict, String) {
    let tokens = requests.iter().filter(|entry| entry.status == 200).count();
    if tokens == 0 && !requests.is_empty() {
        // Not judgeable, and not a second failure for what basic-encoding reports.
        return (
            Verdict::Skipped,
            "no token was issued to reuse: every token request was refused (see basic-encoding)"
                .to_owned(),
        );
    }
    if uses < USES {
        return (
            Verdict::Fail,
            format!(
                "{uses} use(s) of an issued token: the command must call CCFLOW_API_URL CCFLOW_USES ({USES}) times"
            ),
        );
    }
    match (requests.len(), tokens) {
        (1, 1) => (Verdict::Pass, String::new()),
        (n, _) => (
            Verdict::Fail,
            format!(
                "{n} token requests for {uses} uses: a token is valid until it expires, reuse it (cache it)"
            ),
        ),
    }
}

/// Without `expires_in` the lifetime is unknown (RFC 6749 §5.1 leaves it to the server's
/// documentation): the token must still be used; fetching one per use is safe but lenient.
fn judge_no_expires_in(requests: &[JournalEntry], uses: u64) -> (Verdict, String) {
    if requests.iter().all(|entry| entry.status != 200) {
        return (
            Verdict::Skipped,
            "no token was issued (see basic-encoding)".to_owned(),
        );
    }
    if uses < USES {
        return (
            Verdict::Fail,
            format!("{uses} use(s): the client could not use a token answered without expires_in"),
        );
    }
    if requests.len() > 1 {
        return (
            Verdict::Lenient,
            format!(
                "{} token requests for {uses} uses: without expires_in the client took the lifetime as zero",
                requests.len()
            ),
        );
    }
    (Verdict::Pass, String::new())
}

/// After a key rotation, the client must notice the API's 401 `invalid_token`, fetch a new
/// token and use it: passes when a token was issued again and the uses went on (one accepted
/// before the rotation, at least one after).
fn judge_rotation(requests: &[JournalEntry], uses: u64, refusals: u64) -> (Verdict, String) {
    let tokens = requests.iter().filter(|entry| entry.status == 200).count();
    if tokens == 0 || uses == 0 {
        return (
            Verdict::Skipped,
            "the token was never used, so the keys were never rotated under it (see basic-encoding, token-reuse)".to_owned(),
        );
    }
    match (tokens, uses) {
        (2.., 2..) => (Verdict::Pass, String::new()),
        (1, _) => (
            Verdict::Fail,
            format!(
                "no new token after the API refused the old one {refusals} time(s): a 401 invalid_token means get a new token (once) and try again"
            ),
        ),
        _ => (
            Verdict::Fail,
            "a new token was fetched but never used successfully".to_owned(),
        ),
    }
}

/// What the stand-in API does for the `key-rotation` case.
#[derive(Default)]
struct Rotation {
    /// Rotate at the next accepted use.
    armed: AtomicBool,
    /// The withdrawn key, whose tokens are refused.
    withdrawn: Mutex<Option<String>>,
    /// How many uses were refused for it.
    refusals: AtomicU64,
}

impl Rotation {
    /// Whether a token of `kid` is one of the withdrawn key's, counted as refused.
    fn refuses(&self, kid: Option<&str>) -> bool {
        let withdrawn = self.withdrawn.lock().unwrap_or_else(|e| e.into_inner());
        let refused = kid.is_some() && withdrawn.as_deref() == kid;
        if refused {
            self.refusals.fetch_add(1, Ordering::SeqCst);
        }
        refused
    }

    /// After an accepted use: when armed, rotates the issuer's keys now and withdraws the
    /// previous key from the JWKS.
    fn after_accepted_use(&self, app: &AuthServer) {
        if self.armed.swap(false, Ordering::SeqCst) {
            let old = app.keys().active().kid().to_owned();
            if app.rotate_keys().is_ok() && app.retire_key(&old).is_ok() {
                *self.withdrawn.lock().unwrap_or_else(|e| e.into_inner()) = Some(old);
            }
        }
    }
}

/// The stand-in API's answer to one request.
fn stand_in_answer(
    app: &AuthServer,
    rotation: &Rotation,
    uses: &AtomicU64,
    authorization: Option<&str>,
) -> actix_web::HttpResponse {
    let refuse = |description: &str| {
        actix_web::HttpResponse::Unauthorized()
            .insert_header((
                "WWW-Authenticate",
                format!(r#"Bearer error="invalid_token", error_description="{description}""#),
            ))
            .finish()
    };
    let token = authorization
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token);
    let Some(token) = token else {
        return actix_web::HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer"))
            .finish();
    };
    if rotation.refuses(kid_of(token).as_deref()) {
        return refuse("the token's signing key was withdrawn");
    }
    // As a validator would: signed by a published key of this issuer, typed, unexpired, not
    // revoked, on the server's own clock (the same check as its introspection, RFC 7662 §2.2).
    let now = i64::try_from(app.now_secs()).unwrap_or(i64::MAX);
    if app.verify(app.site(), token, now).is_none() {
        return refuse("not an active token of this issuer");
    }
    rotation.after_accepted_use(app);
    uses.fetch_add(1, Ordering::SeqCst);
    actix_web::HttpResponse::Ok().finish()
}

/// The `kid` of a JWS's header.
fn kid_of(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next()?)
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header["kid"].as_str().map(str::to_owned)
}

/// The API the command uses its token on: counts the requests whose Bearer token is an active
/// token of the issuer (its signature, `typ`, `iss`, `exp`, not revoked) and refuses the others
/// with 401 `invalid_token` (RFC 6750 §3.1); which token it is, the journal's token count
/// tells. In the `key-rotation` case it refuses the withdrawn key's tokens the same way.
struct StandInApi {
    url: String,
    uses: Arc<AtomicU64>,
    rotation: Arc<Rotation>,
    handle: actix_web::dev::ServerHandle,
}

impl StandInApi {
    fn start(app: AuthServer) -> Result<Self, ProbeError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|error| ProbeError::Usage(format!("cannot bind the stand-in API: {error}")))?;
        let url = format!(
            "http://{}/use",
            listener
                .local_addr()
                .map_err(|error| ProbeError::Usage(error.to_string()))?
        );
        let uses = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&uses);
        let rotation = Arc::new(Rotation::default());
        let rotating = Arc::clone(&rotation);
        let server = actix_web::HttpServer::new(move || {
            let counter = Arc::clone(&counter);
            let rotating = Arc::clone(&rotating);
            let app = app.clone();
            actix_web::App::new().default_service(actix_web::web::to(
                move |request: actix_web::HttpRequest| {
                    let counter = Arc::clone(&counter);
                    let rotating = Arc::clone(&rotating);
                    let app = app.clone();
                    async move {
                        let authorization = request
                            .headers()
                            .get("authorization")
                            .and_then(|value| value.to_str().ok());
                        stand_in_answer(&app, &rotating, &counter, authorization)
                    }
                },
            ))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .map_err(|error| ProbeError::Usage(format!("cannot start the stand-in API: {error}")))?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            url,
            uses,
            rotation,
            handle,
        })
    }
}

fn gap_between_first_two(requests: &[JournalEntry]) -> Option<Duration> {
    let [first, second, ..] = requests else {
        return None;
    };
    second.received_at.duration_since(first.received_at).ok()
}

fn judge(id: &str, requests: &[JournalEntry]) -> (Verdict, String) {
    if requests.is_empty() {
        return (
            Verdict::Fail,
            "the command made no token request".to_owned(),
        );
    }
    match id {
        "basic-encoding" => {
            if requests[0].status == 200 {
                (Verdict::Pass, String::new())
            } else {
                (
                    Verdict::Fail,
                    "the secret was refused: RFC 6749 §2.3.1 form-urlencodes id and secret before Basic (`+` as %2B, `%` as %25, a space as +)".to_owned(),
                )
            }
        }
        "invalid-client-no-retry" => match requests.len() {
            1 => (Verdict::Pass, String::new()),
            n => (
                Verdict::Fail,
                format!("{n} token requests: invalid_client will not change by asking again"),
            ),
        },
        _ => match gap_between_first_two(requests) {
            None => (
                Verdict::Lenient,
                "no retry: the client gave up (safe, but Retry-After invited one)".to_owned(),
            ),
            Some(gap) if gap + RETRY_TOLERANCE >= Duration::from_secs(RETRY_AFTER_SECS) => {
                (Verdict::Pass, String::new())
            }
            Some(gap) => (
                Verdict::Fail,
                format!(
                    "retried {:.2} s after the 1st request: Retry-After asked for {RETRY_AFTER_SECS} s",
                    gap.as_secs_f64()
                ),
            ),
        },
    }
}
