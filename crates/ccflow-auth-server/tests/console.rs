//! The browser console's server side: its files and headers, who may load it and drive the
//! admin API from a browser (Host and Origin checks, the admin token as Basic), the token
//! inspection route it uses, and the key ring's single steps. The page itself is tested in a
//! real browser by `cargo xtask console`.

mod common;

use std::time::Duration;

use base64::Engine as _;
use ccflow_auth_server::{Client, Defect, MockAuthServer};
use common::{basic, form, http, post_form};
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "console-admin-token";

/// Which server a case talks to.
#[derive(Clone, Copy)]
enum Server {
    /// The admin API open to loopback peers.
    Open,
    /// Guarded by `ADMIN_TOKEN`.
    Guarded,
    /// Open, with the extra admin host `ccflow.test` and the issuer `http://auth.internal:8080`.
    Named,
    /// The admin API turned off.
    Off,
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    Bearer(&'static str),
    /// The admin token as a browser sends it after the prompt: the password of Basic.
    Basic(&'static str),
}

/// One request and the status it must get. `{port}` in `host` and `origin` is the server's.
struct Case {
    name: &'static str,
    server: Server,
    method: &'static str,
    path: &'static str,
    host: Option<&'static str>,
    origin: Option<&'static str>,
    auth: Auth,
    status: u16,
    /// How the `WWW-Authenticate` header must start, when the case checks it.
    challenge: Option<&'static str>,
}

const GET_CONSOLE: Case = Case {
    name: "",
    server: Server::Open,
    method: "GET",
    path: "/_ccflow/console",
    host: None,
    origin: None,
    auth: Auth::None,
    status: 200,
    challenge: None,
};

const CASES: &[Case] = &[
    Case {
        name: "the console from loopback",
        ..GET_CONSOLE
    },
    Case {
        name: "the console with a trailing slash",
        path: "/_ccflow/console/",
        ..GET_CONSOLE
    },
    Case {
        name: "one of its files",
        path: "/_ccflow/console/app.js",
        ..GET_CONSOLE
    },
    Case {
        name: "a file it does not have",
        path: "/_ccflow/console/secrets.js",
        status: 404,
        ..GET_CONSOLE
    },
    Case {
        name: "a POST to the console",
        method: "POST",
        status: 405,
        ..GET_CONSOLE
    },
    Case {
        name: "the console with the admin API off",
        server: Server::Off,
        status: 404,
        ..GET_CONSOLE
    },
    // DNS rebinding: the Host must be one of the server's names.
    Case {
        name: "the console under a foreign Host",
        host: Some("rebind.example:{port}"),
        status: 403,
        ..GET_CONSOLE
    },
    Case {
        name: "the admin API under a foreign Host",
        path: "/_ccflow/keys",
        host: Some("rebind.example:{port}"),
        status: 403,
        ..GET_CONSOLE
    },
    Case {
        name: "localhost",
        path: "/_ccflow/keys",
        host: Some("localhost:{port}"),
        ..GET_CONSOLE
    },
    Case {
        name: "another loopback address, another port",
        path: "/_ccflow/keys",
        host: Some("127.0.0.2:9"),
        ..GET_CONSOLE
    },
    Case {
        name: "IPv6 loopback",
        path: "/_ccflow/keys",
        host: Some("[::1]:{port}"),
        ..GET_CONSOLE
    },
    Case {
        name: "a configured admin host",
        server: Server::Named,
        path: "/_ccflow/keys",
        host: Some("CCFLOW.test"),
        ..GET_CONSOLE
    },
    Case {
        name: "the issuer's host",
        server: Server::Named,
        path: "/_ccflow/keys",
        host: Some("auth.internal:8080"),
        ..GET_CONSOLE
    },
    Case {
        name: "a host that is only configured elsewhere",
        path: "/_ccflow/keys",
        host: Some("ccflow.test"),
        status: 403,
        ..GET_CONSOLE
    },
    // Cross-site request forgery: state changes must come from the server's own origin.
    Case {
        name: "a state change from another origin",
        method: "POST",
        path: "/_ccflow/keys/stage",
        origin: Some("http://evil.example"),
        status: 403,
        ..GET_CONSOLE
    },
    Case {
        name: "a state change from an opaque origin",
        method: "DELETE",
        path: "/_ccflow/requests",
        origin: Some("null"),
        status: 403,
        ..GET_CONSOLE
    },
    Case {
        name: "a state change from the same host on another port",
        method: "DELETE",
        path: "/_ccflow/requests",
        origin: Some("http://127.0.0.1:1"),
        status: 403,
        ..GET_CONSOLE
    },
    Case {
        name: "a state change from the server's own origin",
        method: "DELETE",
        path: "/_ccflow/requests",
        origin: Some("http://127.0.0.1:{port}"),
        status: 204,
        ..GET_CONSOLE
    },
    Case {
        name: "a state change without Origin (curl, scripts)",
        method: "DELETE",
        path: "/_ccflow/requests",
        status: 204,
        ..GET_CONSOLE
    },
    Case {
        name: "a read from another origin (the browser keeps the answer from it: no CORS)",
        path: "/_ccflow/keys",
        origin: Some("http://evil.example"),
        ..GET_CONSOLE
    },
    // With an admin token: Basic for browsers, Bearer for scripts.
    Case {
        name: "the guarded console without the token asks a browser for it",
        server: Server::Guarded,
        status: 401,
        challenge: Some("Basic "),
        ..GET_CONSOLE
    },
    Case {
        name: "the guarded API without the token keeps its Bearer challenge",
        server: Server::Guarded,
        path: "/_ccflow/keys",
        status: 401,
        challenge: Some("Bearer "),
        ..GET_CONSOLE
    },
    Case {
        name: "the guarded console with the token as the Basic password",
        server: Server::Guarded,
        auth: Auth::Basic(ADMIN_TOKEN),
        ..GET_CONSOLE
    },
    Case {
        name: "the guarded API with the token as the Basic password",
        server: Server::Guarded,
        path: "/_ccflow/keys",
        auth: Auth::Basic(ADMIN_TOKEN),
        ..GET_CONSOLE
    },
    Case {
        name: "a wrong Basic password",
        server: Server::Guarded,
        auth: Auth::Basic("nope"),
        status: 401,
        challenge: Some("Basic "),
        ..GET_CONSOLE
    },
    Case {
        name: "Basic under a foreign Host (the browser sends it by itself)",
        server: Server::Guarded,
        path: "/_ccflow/keys",
        auth: Auth::Basic(ADMIN_TOKEN),
        host: Some("rebind.example:{port}"),
        status: 403,
        ..GET_CONSOLE
    },
    Case {
        name: "Bearer under another Host (no page can send it without knowing it)",
        server: Server::Guarded,
        path: "/_ccflow/keys",
        auth: Auth::Bearer(ADMIN_TOKEN),
        host: Some("ci-runner.example:{port}"),
        ..GET_CONSOLE
    },
    Case {
        name: "Bearer from another origin still may not change state",
        server: Server::Guarded,
        method: "POST",
        path: "/_ccflow/keys/stage",
        auth: Auth::Bearer(ADMIN_TOKEN),
        origin: Some("http://evil.example"),
        status: 403,
        ..GET_CONSOLE
    },
];

async fn server(kind: Server) -> MockAuthServer {
    let builder = MockAuthServer::builder().client(Client::new("svc", "secret"));
    match kind {
        Server::Open => builder,
        Server::Guarded => builder.admin_token(ADMIN_TOKEN),
        Server::Named => builder
            .admin_host("ccflow.test")
            .issuer("http://auth.internal:8080"),
        Server::Off => builder.admin(false),
    }
    .start()
    .await
    .unwrap()
}

async fn check(case: &Case) {
    let name = case.name;
    let server = server(case.server).await;
    let port = server.uri().rsplit(':').next().unwrap().to_owned();
    let fill = |text: &str| text.replace("{port}", &port);
    let url = format!("{}{}", server.uri(), case.path);
    let mut request = http().request(case.method.parse().unwrap(), &url);
    if let Some(host) = case.host {
        request = request.header("host", fill(host));
    }
    if let Some(origin) = case.origin {
        request = request.header("origin", fill(origin));
    }
    request = match case.auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Basic(password) => request.basic_auth("anyone", Some(password)),
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), case.status, "{name}: status");
    if let Some(start) = case.challenge {
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with(start),
            "{name}: WWW-Authenticate {challenge}"
        );
    }
}

#[tokio::test]
async fn each_console_and_admin_request_gets_its_status() {
    for case in CASES {
        check(case).await;
    }
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_policy_and_no_inline_script() {
    let server = server(Server::Open).await;
    let response = http()
        .get(format!("{}/_ccflow/console", server.uri()))
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let page = response.text().await.unwrap();
    // Scripts only as files of the console: no inline code, no event-handler attributes.
    assert!(page.contains(r#"<script type="module" src="/_ccflow/console/app.js"></script>"#));
    assert_eq!(page.matches("<script").count(), 1, "one script tag");
    let handler = page.match_indices(" on").any(|(at, _)| {
        let name: String = page[at + 3..]
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        !name.is_empty() && page[at + 3 + name.len()..].starts_with('=')
    });
    assert!(!handler, "no event-handler attribute");
    assert!(!page.contains("style="), "no inline style");
}

#[test]
fn no_console_file_writes_markup_from_data() {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(
                !text.contains(sink),
                "{} uses {sink}: the console renders untrusted data as text only",
                path.display()
            );
        }
    }
}

async fn inspect(server: &MockAuthServer, token: &str) -> (u16, Value) {
    let response = http()
        .post(format!("{}/_ccflow/tokens/inspect", server.uri()))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn issued_token(server: &MockAuthServer) -> String {
    let body: Value = post_form(
        &server.token_url(),
        Some(&basic("orders-service", "orders-secret")),
        form(&[("grant_type", "client_credentials")]),
    )
    .await
    .json()
    .await
    .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// The token to inspect, made from a running server.
#[derive(Clone, Copy)]
enum Token {
    Issued,
    Minted(Defect),
    ForeignKey,
    WithCnf,
    /// An issued token after its key was rotated out and retired.
    OfRetiredKey,
    Garbage(&'static str),
}

/// What the inspection must say: status, then (when 200) `signature.verified`,
/// `signature.key_state`, `active`, `expires_in`, and a word the detail contains.
struct Expected {
    status: u16,
    verified: bool,
    key_state: Option<&'static str>,
    active: bool,
    expires_in: Option<i64>,
    detail: &'static str,
}

const INSPECTIONS: &[(&str, Token, Expected)] = &[
    (
        "an issued token",
        Token::Issued,
        Expected {
            status: 200,
            verified: true,
            key_state: Some("active"),
            active: true,
            expires_in: Some(3600),
            detail: "active key",
        },
    ),
    (
        "an expired token",
        Token::Minted(Defect::Expired),
        Expected {
            status: 200,
            verified: true,
            key_state: Some("active"),
            active: false,
            expires_in: Some(-3600),
            detail: "active key",
        },
    ),
    (
        "alg none",
        Token::Minted(Defect::AlgNone),
        Expected {
            status: 200,
            verified: false,
            key_state: None,
            active: false,
            expires_in: Some(3600),
            detail: "no kid",
        },
    ),
    (
        "HS256 signed with the public key",
        Token::Minted(Defect::Hs256WithPublicKey),
        Expected {
            status: 200,
            verified: false,
            key_state: Some("active"),
            active: false,
            expires_in: Some(3600),
            detail: "alg",
        },
    ),
    (
        "a stripped signature",
        Token::Minted(Defect::StrippedSignature),
        Expected {
            status: 200,
            verified: false,
            key_state: Some("active"),
            active: false,
            expires_in: Some(3600),
            detail: "does not match",
        },
    ),
    (
        "an unknown kid",
        Token::Minted(Defect::UnknownKid),
        Expected {
            status: 200,
            verified: false,
            key_state: None,
            active: false,
            expires_in: Some(3600),
            detail: "not in the JWKS",
        },
    ),
    (
        "a foreign key",
        Token::ForeignKey,
        Expected {
            status: 200,
            verified: false,
            key_state: None,
            active: false,
            expires_in: Some(3600),
            detail: "not in the JWKS",
        },
    ),
    (
        "a retired key",
        Token::OfRetiredKey,
        Expected {
            status: 200,
            verified: false,
            key_state: Some("retired"),
            active: false,
            expires_in: Some(3600),
            detail: "retired",
        },
    ),
    (
        "a bound token",
        Token::WithCnf,
        Expected {
            status: 200,
            verified: true,
            key_state: Some("active"),
            active: true,
            expires_in: Some(3600),
            detail: "active key",
        },
    ),
    (
        "not a JWT",
        Token::Garbage("not-a-token"),
        Expected {
            status: 400,
            verified: false,
            key_state: None,
            active: false,
            expires_in: None,
            detail: "",
        },
    ),
    (
        "four parts",
        Token::Garbage("e30.e30.e30.e30"),
        Expected {
            status: 400,
            verified: false,
            key_state: None,
            active: false,
            expires_in: None,
            detail: "",
        },
    ),
    (
        "a header that is not an object",
        Token::Garbage("WzFd.e30.sig"),
        Expected {
            status: 400,
            verified: false,
            key_state: None,
            active: false,
            expires_in: None,
            detail: "",
        },
    ),
];

#[tokio::test]
async fn tokens_are_inspected_against_the_ring_and_the_server_clock() {
    for (name, token, expected) in INSPECTIONS {
        let (server, clock) = common::start().await;
        let token = match token {
            Token::Issued => issued_token(&server).await,
            Token::Minted(defect) => server
                .mint()
                .client("orders-service")
                .defect(*defect)
                .sign()
                .unwrap(),
            Token::ForeignKey => server
                .mint()
                .client("orders-service")
                .foreign_key()
                .sign()
                .unwrap(),
            Token::WithCnf => server
                .mint()
                .client("orders-service")
                .claim(
                    "cnf",
                    json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
                )
                .sign()
                .unwrap(),
            Token::OfRetiredKey => {
                let token = issued_token(&server).await;
                let old = server.app().keys().active().kid().to_owned();
                server.rotate_keys().unwrap();
                server.app().retire_key(&old).unwrap();
                token
            }
            Token::Garbage(text) => (*text).to_owned(),
        };
        let (status, body) = inspect(&server, &token).await;
        assert_eq!(status, expected.status, "{name}: status, {body}");
        if status != 200 {
            assert_eq!(body["error"], "invalid_request", "{name}");
            continue;
        }
        let signature = &body["signature"];
        assert_eq!(signature["verified"], expected.verified, "{name}: {body}");
        assert_eq!(
            signature["key_state"].as_str(),
            expected.key_state,
            "{name}: {body}"
        );
        assert_eq!(body["active"], expected.active, "{name}: {body}");
        assert_eq!(
            body["now"].as_u64(),
            Some(common::T0),
            "{name}: the server clock"
        );
        assert_eq!(body["expires_in"].as_i64(), expected.expires_in, "{name}");
        assert!(
            signature["detail"]
                .as_str()
                .unwrap()
                .contains(expected.detail),
            "{name}: {body}"
        );
        assert_eq!(body["claims"]["sub"], "orders-service", "{name}");
        assert_eq!(body["cnf"], body["claims"]["cnf"].clone(), "{name}");
        // Claims come from the token itself, so the header does too.
        assert_eq!(
            body["header"],
            header_of(&token),
            "{name}: the header as sent"
        );
        drop(clock);
    }
}

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_time_to_expiry_follows_the_server_clock() {
    let (server, clock) = common::start().await;
    let token = issued_token(&server).await;
    clock.advance(Duration::from_secs(3601));
    let (_, body) = inspect(&server, &token).await;
    assert_eq!(body["expires_in"], -1);
    assert_eq!(body["active"], false);
    assert_eq!(body["signature"]["verified"], true);
}

#[tokio::test]
async fn bad_inspection_bodies_are_400() {
    let server = server(Server::Open).await;
    for body in [
        "",
        "{}",
        r#"{"token": 1}"#,
        r#"{"token": "a.b.c", "x": 1}"#,
        "[]",
    ] {
        let response = http()
            .post(format!("{}/_ccflow/tokens/inspect", server.uri()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
    }
}

async fn key_call(server: &MockAuthServer, path: &str) -> (u16, Value) {
    let response = http()
        .post(format!("{}/_ccflow/keys{path}", server.uri()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn states(ring: &Value) -> Vec<(String, String)> {
    ring["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            (
                key["kid"].as_str().unwrap().to_owned(),
                key["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn keys_are_staged_activated_and_retired_one_step_at_a_time() {
    let (server, _clock) = common::start().await;
    let first = server.app().keys().active().kid().to_owned();

    let (status, ring) = key_call(&server, "/stage").await;
    assert_eq!(status, 200);
    let ring = states(&ring);
    assert_eq!(ring.len(), 2);
    assert_eq!(ring[0], (first.clone(), "active".to_owned()));
    let (second, state) = ring[1].clone();
    assert_eq!(state, "staged");
    let jwks: Value = http()
        .get(server.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "staged: published"
    );

    let (status, body) = key_call(&server, &format!("/{first}/retire")).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("key_active")));

    let (status, ring) = key_call(&server, &format!("/{second}/activate")).await;
    assert_eq!(status, 200);
    assert_eq!(
        states(&ring),
        vec![
            (first.clone(), "staged".to_owned()),
            (second.clone(), "active".to_owned())
        ]
    );
    assert_eq!(server.app().keys().active().kid(), second);

    let (status, ring) = key_call(&server, &format!("/{first}/retire")).await;
    assert_eq!(status, 200);
    assert_eq!(states(&ring)[0], (first.clone(), "retired".to_owned()));

    for path in [
        format!("/{first}/activate"),
        format!("/{first}/retire"),
        "/no-such-kid/activate".to_owned(),
    ] {
        let (status, body) = key_call(&server, &path).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
}

/// The console is profile-independent (it calls only the admin API), and so is what it shows:
/// in every profile its page is served and a token minted there inspects as verified and active.
#[tokio::test]
async fn the_console_serves_every_profile() {
    for profile in ccflow_auth_server::protocol::Profile::ALL {
        let server = MockAuthServer::builder()
            .profile(*profile)
            .client(Client::new("svc", "svc-secret"))
            .start()
            .await
            .unwrap();
        let page = http()
            .get(format!("{}/_ccflow/console", server.uri()))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{profile}");
        let minted: Value = http()
            .post(format!("{}/_ccflow/mint", server.uri()))
            .json(&json!({ "client_id": "svc" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (status, inspected) = inspect(&server, minted["token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{profile}: {inspected}");
        assert_eq!(
            inspected["signature"]["verified"], true,
            "{profile}: {inspected}"
        );
        assert_eq!(inspected["active"], true, "{profile}: {inspected}");
    }
}
