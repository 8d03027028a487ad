//! Runs the curl sessions of `docs/profiles.md` and `docs/test-control.md` and compares each
//! answer with the one the doc shows (`…` matches any value). A doc that drifts from the server
//! fails here.

use ccflow_auth_server::{MockAuthServer, MockAuthServerBuilder};
use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A fenced code block: its language and text.
fn blocks(doc: &str) -> Vec<(&str, String)> {
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(language) = line.strip_prefix("```").filter(|l| !l.is_empty()) {
            let mut text = String::new();
            for line in lines.by_ref() {
                if line.starts_with("```") {
                    break;
                }
                text.push_str(line);
                text.push('\n');
            }
            blocks.push((language, text));
        }
    }
    blocks
}

/// Splits a command line like a POSIX shell does for the quoting the doc uses.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (_, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Executes one documented curl command (`-s`, `-u`, `-d`, `-H`, `-X` and the URL).
async fn curl(server: &MockAuthServer, line: &str) -> Value {
    let words = words(line);
    assert_eq!(words[0], "curl");
    let (mut method, mut url, mut data, mut headers, mut basic) =
        (None, None, Vec::new(), Vec::new(), None);
    let mut args = words[1..].iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-s" => {}
            "-u" => basic = args.next().cloned(),
            "-d" => data.push(args.next().unwrap().clone()),
            "-H" => headers.push(args.next().unwrap().clone()),
            "-X" => method = args.next().cloned(),
            other if other.starts_with("http://127.0.0.1:8080") => {
                url = Some(other.replacen("http://127.0.0.1:8080", &server.uri(), 1));
            }
            other => panic!("the doc's curl uses an option this test does not know: {other}"),
        }
    }
    let method = method.unwrap_or_else(|| {
        if data.is_empty() {
            "GET".to_owned()
        } else {
            "POST".to_owned()
        }
    });
    let mut request = reqwest::Client::new().request(method.parse().unwrap(), url.expect("a URL"));
    let mut has_content_type = false;
    for header in &headers {
        let (name, value) = header.split_once(':').unwrap();
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        request = request.header(name.trim(), value.trim());
    }
    if !data.is_empty() {
        if !has_content_type {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        request = request.body(data.join("&"));
    }
    if let Some(basic) = basic {
        let (id, secret) = basic.split_once(':').unwrap();
        // curl -u sends id:secret as is (not form-encoded): base64 of the raw pair.
        request = request.basic_auth(id, Some(secret));
    }
    let text = request.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("`{line}` answered non-JSON: {text}"))
}

#[track_caller]
fn check(expected: &Value, actual: &Value, context: &str) {
    match (expected, actual) {
        (Value::String(wildcard), _) if wildcard == "…" => {}
        (Value::Object(expected), Value::Object(actual)) => {
            let mut expected_keys: Vec<_> = expected.keys().collect();
            let mut actual_keys: Vec<_> = actual.keys().collect();
            expected_keys.sort();
            actual_keys.sort();
            assert_eq!(expected_keys, actual_keys, "{context}: members differ");
            for (name, value) in expected {
                check(value, &actual[name], context);
            }
        }
        (Value::Array(expected), Value::Array(actual)) => {
            assert_eq!(
                expected.len(),
                actual.len(),
                "{context}: array lengths differ"
            );
            for (expected, actual) in expected.iter().zip(actual) {
                check(expected, actual, context);
            }
        }
        _ => assert_eq!(expected, actual, "{context}"),
    }
}

/// Runs every session of `doc`; returns how many answers were compared.
async fn run_doc(doc: &str) -> usize {
    let blocks = blocks(doc);
    let mut server: Option<MockAuthServer> = None;
    let mut pending: Option<(String, Value)> = None;
    let mut checked = 0;
    for (language, text) in blocks {
        match language {
            "sh" => {
                for line in text.lines() {
                    if let Some(config) =
                        line.strip_prefix("cargo run -p ccflow-auth-server -- --config ")
                    {
                        let builder =
                            MockAuthServerBuilder::from_config_file(format!("{ROOT}/{config}"))
                                .unwrap();
                        server = Some(
                            builder
                                .bind("127.0.0.1:0".parse().unwrap())
                                .start()
                                .await
                                .unwrap(),
                        );
                    } else if line.starts_with("curl ") {
                        assert!(pending.is_none(), "every curl is followed by its answer");
                        let server = server.as_ref().expect("a curl after a server start");
                        pending = Some((line.to_owned(), curl(server, line).await));
                    }
                }
            }
            "json" => {
                let (line, actual) = pending.take().expect("a json answer follows a curl");
                let expected: Value = serde_json::from_str(&text).unwrap();
                check(&expected, &actual, &line);
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(pending.is_none());
    checked
}

#[tokio::test]
async fn every_curl_session_in_profiles_md_answers_as_shown() {
    let checked = run_doc(include_str!("../../../docs/profiles.md")).await;
    assert!(
        checked >= 7,
        "the doc shows at least one session per vendor, {checked} found"
    );
}

#[tokio::test]
async fn every_curl_session_in_test_control_md_answers_as_shown() {
    let checked = run_doc(include_str!("../../../docs/test-control.md")).await;
    assert!(checked >= 7, "one session per feature, {checked} found");
}
