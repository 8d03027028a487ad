//! Shared helpers: a manual clock, a sleeper that moves it, token responses, and a client
//! builder pointed at a wiremock server.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use ccflow_client::{ManualClock, RetryPolicy, Sleeper, TokenClient, TokenClientBuilder};
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

pub const T0: u64 = 1_767_225_600;

pub fn clock() -> ManualClock {
    ManualClock::at(UNIX_EPOCH + Duration::from_secs(T0))
}

/// Records each requested delay and moves the manual clock by it, instead of sleeping.
#[derive(Debug, Clone)]
pub struct RecordingSleeper {
    pub clock: ManualClock,
    pub delays: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    pub fn new(clock: &ManualClock) -> Self {
        Self {
            clock: clock.clone(),
            delays: Arc::default(),
        }
    }
    pub fn delays(&self) -> Vec<Duration> {
        self.delays.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.delays.lock().unwrap().push(duration);
        self.clock.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

pub fn token_json(token: &str, expires_in: u64) -> Value {
    json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})
}

pub fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

pub fn oauth_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": code, "error_description": format!("{code} from the test")}))
}

pub struct Harness {
    pub server: MockServer,
    pub clock: ManualClock,
    pub sleeper: RecordingSleeper,
}

impl Harness {
    pub async fn start() -> Self {
        let clock = clock();
        Self {
            server: MockServer::start().await,
            sleeper: RecordingSleeper::new(&clock),
            clock,
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.uri())
    }

    /// A client for `/token` with credentials, the manual clock, the recording sleeper and a
    /// fast retry policy (4 attempts, 100 ms doubling, 30 s deadline).
    pub fn builder(&self) -> TokenClientBuilder {
        TokenClient::builder()
            .token_url(self.token_url())
            .credentials("svc", "svc-secret")
            .clock(self.clock.clone())
            .sleeper(self.sleeper.clone())
            .retry(RetryPolicy::new(
                4,
                Duration::from_millis(100),
                Duration::from_secs(2),
                Duration::from_secs(30),
            ))
    }

    pub fn client(&self) -> TokenClient {
        self.builder().build().expect("client builds")
    }
}

/// RFC 6749 §2.3.1 Basic credentials, computed here independently of the SDK.
pub fn expected_basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(id),
            encode(secret)
        ))
    )
}

/// Names the table case a failure came from: hold it for the case's duration, and a panic
/// (an assertion, or wiremock's verification on drop) prints the name while unwinding.
pub struct Case(pub &'static str);

impl Drop for Case {
    #[allow(
        clippy::print_stderr,
        reason = "test output, printed only when a case fails"
    )]
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("failing case: {}", self.0);
        }
    }
}
