//! `ccflow-auth-server probe client` (issue 23, docs/probe.md) against the SDK's own example
//! `call_api`: every client case passes — the token cached for all uses, RFC 6749 §2.3.1
//! encoding, no retry after `invalid_client`, `Retry-After` honoured, a response without
//! `expires_in`, and a new token after the issuer's keys rotate.
//!
//! The example's source is compiled into this test binary (`#[path]`), and the probe runs this
//! binary again as its client command, asking only for the ignored test
//! `example_client_process`, which then runs the example's `call_api` (what its `main` runs)
//! with the probe's environment.
//! So the probe judges exactly the example's code, without a nested cargo build.

use ccflow_auth_server::probe::{ClientProbe, Verdict};

#[path = "../examples/call_api.rs"]
#[allow(dead_code, reason = "the example's own main is not called here")]
mod call_api;

/// Which example the client process runs (set in the command the probe runs).
const EXAMPLE_VARIABLE: &str = "CCFLOW_PROBE_EXAMPLE";

/// The client process: runs the example named by [`EXAMPLE_VARIABLE`], with the probe's
/// `CCFLOW_*` variables, and exits with its status. Not a test of its own.
#[test]
#[allow(
    clippy::print_stderr,
    reason = "the client process's error, for whoever runs it by hand"
)]
#[ignore = "the client process of probe_client_passes_every_case_for_the_sdk_examples"]
fn example_client_process() {
    let code = match std::env::var(EXAMPLE_VARIABLE).as_deref() {
        Ok("call_api") => match tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(call_api::call_api(None))
        {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("call_api: {error:#}");
                1
            }
        },
        _ => 2,
    };
    std::process::exit(code);
}

/// `sh -c` command running `example` as the probe's client.
fn command(example: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "{EXAMPLE_VARIABLE}={example} '{}' --ignored --exact example_client_process --nocapture",
        exe.display()
    )
}

#[track_caller]
fn check(example: &str, report: &ccflow_auth_server::probe::Report, failed: &[&str]) {
    let table = report.table();
    assert_eq!(
        report.with_verdict(Verdict::Fail),
        failed,
        "{example}\n{table}"
    );
    assert!(
        report.with_verdict(Verdict::Lenient).is_empty(),
        "{example}\n{table}"
    );
    assert!(
        report.with_verdict(Verdict::Skipped).is_empty(),
        "{example}\n{table}"
    );
    assert_eq!(
        report.with_verdict(Verdict::Pass).len(),
        ccflow_auth_server::probe::CLIENT_CASE_IDS.len() - failed.len(),
        "{example}\n{table}"
    );
}

#[tokio::test]
async fn probe_client_passes_every_case_for_the_sdk_examples() {
    // (example, the cases that fail)
    let cases: [(&str, &[&str]); 1] = [("call_api", &[])];
    for (example, failed) in cases {
        let report = ClientProbe::new(command(example))
            .run()
            .await
            .expect("the probe runs");
        check(example, &report, failed);
    }
}
