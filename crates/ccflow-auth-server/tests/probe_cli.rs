//! `ccflow-auth-server probe api` as CI runs it: the flags the issue names, the report files,
//! and the exit status (0 no fail, 1 a fail, 2 the probe could not run), against an embedded
//! auth server and an API that accepts everything.

use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, web};
use ccflow_auth_server::MockAuthServer;
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_ccflow-auth-server");

/// The key cases wait for a JWKS cache; an API that fetches no keys has none to wait for.
const SKIP_KEY_CASES: &str = "key-rotation,issuer-down,key-removed";

/// An API that answers 200 to any request: every case that must be refused fails.
fn accepts_everything() -> (String, actix_web::dev::ServerHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/items", listener.local_addr().unwrap());
    let server = HttpServer::new(|| App::new().default_service(web::to(HttpResponse::Ok)))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle)
}

struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    json: Option<Value>,
    junit: Option<String>,
}

async fn probe(args: Vec<String>) -> Outcome {
    let dir = std::env::temp_dir().join(format!("ccflow-probe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join(format!("{}.json", args.len()));
    let junit_path = dir.join(format!("{}.xml", args.len()));
    let _ = std::fs::remove_file(&json_path);
    let _ = std::fs::remove_file(&junit_path);
    let mut command = std::process::Command::new(BINARY);
    command
        .args(["probe", "api"])
        .args(&args)
        .arg("--json")
        .arg(&json_path)
        .arg("--junit")
        .arg(&junit_path)
        .env_remove("CCFLOW_ADMIN_TOKEN");
    // The child talks to servers on this test's runtime: wait for it off the runtime.
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    Outcome {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        json: std::fs::read(&json_path)
            .ok()
            .map(|bytes| serde_json::from_slice(&bytes).unwrap()),
        junit: std::fs::read_to_string(&junit_path).ok(),
    }
}

enum Expected {
    /// Exit 1, reports written, exactly these cases fail.
    Fails(&'static [&'static str]),
    /// Exit 2, no report, stderr says this.
    CannotRun(&'static str),
}

#[track_caller]
fn check(name: &str, outcome: &Outcome, expected: &Expected) {
    match expected {
        Expected::Fails(ids) => {
            assert_eq!(outcome.status, Some(1), "{name}: {}", outcome.stderr);
            let json = outcome.json.as_ref().expect("the JSON report is written");
            assert_eq!(json["passed"], false, "{name}");
            let failed: Vec<&str> = json["cases"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|case| case["verdict"] == "fail")
                .map(|case| case["id"].as_str().unwrap())
                .collect();
            assert_eq!(&failed, ids, "{name}\n{}", outcome.stdout);
            let junit = outcome
                .junit
                .as_deref()
                .expect("the JUnit report is written");
            assert!(
                junit.contains(&format!("failures=\"{}\"", ids.len())),
                "{name}: {junit}"
            );
            assert!(
                outcome.stdout.contains(" fail, "),
                "{name}: {}",
                outcome.stdout
            );
            // A token is described, never printed whole: no report holds a full JWT.
            for text in [&outcome.stdout, junit, &json.to_string()] {
                assert!(
                    !text
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .any(|word| { word.split('.').count() == 3 && word.len() > 200 }),
                    "{name}: a whole token in a report"
                );
            }
        }
        Expected::CannotRun(why) => {
            assert_eq!(outcome.status, Some(2), "{name}: {}", outcome.stdout);
            assert!(outcome.stderr.contains(why), "{name}: {}", outcome.stderr);
            assert!(
                outcome.json.is_none(),
                "{name}: no report when the probe cannot run"
            );
        }
    }
}

#[tokio::test]
async fn probe_api_reports_and_exits_as_ci_needs() {
    let server = MockAuthServer::start().await;
    let (api, handle) = accepts_everything();
    let issuer = server.issuer().to_owned();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "--issuer",
            &issuer,
            "--url",
            &api,
            "--audience",
            "items-api",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    };
    #[rustfmt::skip]
    let cases = [
        ("an API that accepts everything fails every refusal case",
         base(&["--scope", "items:read", "--typ-rfc9068", "--dpop", "--skip", SKIP_KEY_CASES]),
         Expected::Fails(&["no-token", "other-scheme", "malformed-header", "expired", "not-yet-valid", "wrong-iss", "wrong-aud", "missing-exp", "alg-none", "hs256-public-key", "unknown-kid", "tampered-payload", "crit-header", "jku-elsewhere", "x5u-elsewhere", "embedded-jwk", "wrong-typ", "missing-scope", "dpop-bound-as-bearer", "dpop-wrong-htm", "dpop-wrong-htu", "dpop-other-key", "dpop-stale-iat", "dpop-missing-ath"])),
        ("without --scope, --typ-rfc9068 and --dpop their cases are skipped, not failed",
         base(&["--skip", SKIP_KEY_CASES]),
         Expected::Fails(&["no-token", "other-scheme", "malformed-header", "expired", "not-yet-valid", "wrong-iss", "wrong-aud", "missing-exp", "alg-none", "hs256-public-key", "unknown-kid", "tampered-payload", "crit-header", "jku-elsewhere", "x5u-elsewhere", "embedded-jwk"])),
        ("an unknown case to skip", base(&["--skip", "no-such-case"]), Expected::CannotRun("no such case")),
        ("an issuer nobody serves",
         vec!["--issuer".into(), "http://127.0.0.1:9".into(), "--url".into(), api.clone(), "--audience".into(), "a".into()],
         Expected::CannotRun("admin API")),
    ];
    for (name, args, expected) in &cases {
        let outcome = probe(args.clone()).await;
        check(name, &outcome, expected);
    }
    handle.stop(false).await;
}

/// Form-urlencodes id and secret (jq's `@uri`), as RFC 6749 §2.3.1 asks before Basic.
const ENCODE: &str = r#"ID=$(printf %s "$CCFLOW_CLIENT_ID" | jq -sRr @uri); SECRET=$(printf %s "$CCFLOW_CLIENT_SECRET" | jq -sRr @uri)"#;
/// Uses `$TOKEN` `$CCFLOW_USES` times on the stand-in API; after a 401 with a token in hand,
/// gets a new one (the client's `get`) and tries that use again.
const USE_IT: &str = r#"for i in $(seq "$CCFLOW_USES"); do [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$CCFLOW_API_URL")" = 401 ] && [ -n "$TOKEN" ] && get && curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$CCFLOW_API_URL"; done"#;
/// Uses `$TOKEN` `$CCFLOW_USES` times, whatever the API answers.
const USE_IT_BLINDLY: &str = r#"for i in $(seq "$CCFLOW_USES"); do curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$CCFLOW_API_URL"; done"#;

/// A token request with these curl options and credentials, its `access_token` in `$TOKEN`.
fn fetch(options: &str, credentials: &str) -> String {
    format!(
        r#"TOKEN=$(curl -s {options} -u "{credentials}" -d grant_type=client_credentials "$CCFLOW_TOKEN_URL" | jq -r '.access_token // empty')"#
    )
}

/// Encodes, lets curl's `--retry` wait as `Retry-After` says (it never retries a 401), fetches
/// once and uses the token five times.
fn good_client() -> String {
    format!(
        "{ENCODE}; get() {{ {}; }}; get; {USE_IT}",
        fetch("--retry 2", "$ID:$SECRET")
    )
}

/// As the good client, but it goes on with its token when the API refuses it.
fn never_renewing_client() -> String {
    format!(
        "{ENCODE}; {}; {USE_IT_BLINDLY}",
        fetch("--retry 2", "$ID:$SECRET")
    )
}

/// As the good client, but what it sends is not the token it was given: the signature's last
/// character changed (still three dot-separated parts, the shape of a JWS).
fn tampering_client() -> String {
    format!(
        "{ENCODE}; get() {{ {}; [ -n \"$TOKEN\" ] && TOKEN=\"${{TOKEN%?}}$([ \"${{TOKEN#\"${{TOKEN%?}}\"}}\" = A ] && echo B || echo A)\"; }}; get; {USE_IT_BLINDLY}",
        fetch("--retry 2", "$ID:$SECRET")
    )
}

/// As the good client, with the raw secret in Basic (curl -u as given).
fn raw_basic_client() -> String {
    format!(
        "get() {{ {}; }}; get; {USE_IT}",
        fetch("--retry 2", "$CCFLOW_CLIENT_ID:$CCFLOW_CLIENT_SECRET")
    )
}

/// Encodes, then asks again at once after any error: retries `invalid_client`, ignores
/// `Retry-After`.
fn impatient_client() -> String {
    format!(
        r#"{ENCODE}; get() {{ for i in 1 2 3; do RESPONSE=$(curl -sf -u "$ID:$SECRET" -d grant_type=client_credentials "$CCFLOW_TOKEN_URL") && break; done; TOKEN=$(printf %s "$RESPONSE" | jq -r '.access_token // empty'); }}; get; {USE_IT}"#
    )
}

/// As the good client, but it gives up on a token response without `expires_in`.
fn strict_lifetime_client() -> String {
    format!(
        r#"{ENCODE}; get() {{ RESPONSE=$(curl -s --retry 2 -u "$ID:$SECRET" -d grant_type=client_credentials "$CCFLOW_TOKEN_URL"); printf %s "$RESPONSE" | jq -e .expires_in >/dev/null || exit 1; TOKEN=$(printf %s "$RESPONSE" | jq -r '.access_token // empty'); }}; get; {USE_IT}"#
    )
}

/// Encodes, waits, stops when refused, but fetches a new token for every use.
fn forgetful_client() -> String {
    format!(
        r#"{ENCODE}; for i in $(seq "$CCFLOW_USES"); do {}; [ -n "$TOKEN" ] || break; curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$CCFLOW_API_URL"; done"#,
        fetch("--retry 2", "$ID:$SECRET")
    )
}

#[tokio::test]
async fn probe_client_flags_exactly_what_each_client_gets_wrong() {
    // (name, command, the cases that fail, the cases that are lenient)
    #[rustfmt::skip]
    let cases: [(&str, String, &[&str], &[&str]); 7] = [
        ("a client that encodes, waits, reuses its token and renews it when refused", good_client(), &[], &[]),
        ("a client that never renews a refused token", never_renewing_client(), &["key-rotation"], &[]),
        // It never gets a token, so token-reuse and no-expires-in are skipped, not failed again.
        ("a client sending the raw secret in Basic", raw_basic_client(), &["basic-encoding"], &[]),
        ("a client that retries at once", impatient_client(), &["invalid-client-no-retry", "retry-after-503", "retry-after-429"], &[]),
        ("a client that fetches a token per use", forgetful_client(), &["token-reuse"], &["no-expires-in"]),
        ("a client that needs expires_in", strict_lifetime_client(), &["no-expires-in"], &[]),
        // Its token is never accepted: no use to count, no rotation to follow (skipped).
        ("a client that sends a token it altered", tampering_client(), &["token-reuse", "no-expires-in"], &[]),
    ];
    for (name, run, failed, lenient) in cases {
        let dir = std::env::temp_dir().join(format!("ccflow-probe-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json_path = dir.join("client.json");
        let _ = std::fs::remove_file(&json_path);
        let output = std::process::Command::new(BINARY)
            .args(["probe", "client", "--run", &run, "--json"])
            .arg(&json_path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let json: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
        let verdict_of = |verdict: &str| -> Vec<String> {
            json["cases"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|case| case["verdict"] == verdict)
                .map(|case| case["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(verdict_of("fail"), failed, "{name}\n{stdout}");
        assert_eq!(verdict_of("lenient"), lenient, "{name}\n{stdout}");
        assert_eq!(
            verdict_of("pass").len() + verdict_of("skipped").len() + failed.len() + lenient.len(),
            ccflow_auth_server::probe::CLIENT_CASE_IDS.len(),
            "{name}\n{stdout}"
        );
        let expected_status = if failed.is_empty() { 0 } else { 1 };
        assert_eq!(
            output.status.code(),
            Some(expected_status),
            "{name}\n{stdout}"
        );
    }
}
