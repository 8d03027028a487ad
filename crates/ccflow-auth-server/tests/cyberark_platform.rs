//! CyberArk Identity Security Platform service users (VENDORS.md, D): `POST
//! /oauth2/platformtoken` with the service user's login name and password in the form body
//! answers exactly as the profile's token endpoint does; bad credentials get its errors.

mod common;

use ccflow_auth_server::{Client, MockAuthServer, Profile};
use common::{basic, clock, form, post_form, signing_key};
use serde_json::{Map, Value};

const LOGIN: &str = "svc@cyberark.cloud.9344";
const PASSWORD: &str = "p@ss:+/%w=rd";

async fn server() -> MockAuthServer {
    MockAuthServer::builder()
        .profile(Profile::CyberArk)
        .app_id("app1")
        .signing_key(signing_key())
        .clock(clock())
        .client(
            Client::new(LOGIN, PASSWORD)
                .scopes(["myscope"])
                .subject("3f1c5a6e-0d7b-4e8a-9c2f-5b6d7e8f9a0b"),
        )
        .start()
        .await
        .unwrap()
}

fn claims(token: &str) -> Map<String, Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A token response with the token replaced by its claims, `jti`-free, to compare shapes.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let mut body: Value = response.json().await.unwrap();
    if let Some(token) = body.get("access_token").and_then(Value::as_str) {
        let mut claims = claims(token);
        claims.remove("jti");
        body["access_token"] = Value::Object(claims);
    }
    (status, body)
}

#[tokio::test]
async fn platform_token_answers_like_the_profile_token_endpoint() {
    let server = server().await;
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_id", LOGIN),
        ("client_secret", PASSWORD),
    ];
    let platform = answer(
        post_form(
            &format!("{}/oauth2/platformtoken", server.uri()),
            None,
            form(&pairs),
        )
        .await,
    )
    .await;
    let profile = answer(post_form(&server.token_url(), None, form(&pairs)).await).await;
    assert_eq!(platform.0, 200, "{}", platform.1);
    assert_eq!(platform, profile);
    assert_eq!(platform.1["expires_in"], 18_000);
    assert_eq!(platform.1["access_token"]["unique_name"], LOGIN);
    assert_eq!(platform.1["access_token"]["aud"], LOGIN);
}

#[tokio::test]
async fn platform_token_takes_basic_and_mixed_case_and_refuses_bad_credentials() {
    let server = server().await;
    #[track_caller]
    fn check(case: &str, (status, body): (u16, Value), expected: (u16, Option<&str>)) {
        assert_eq!((status, body["error"].as_str()), expected, "{case}: {body}");
    }
    let cc = ("grant_type", "client_credentials");
    let url = |path: &str| format!("{}{path}", server.uri());
    let ok = (200, None);
    /// Name, path, `Authorization`, form, expected status and error.
    type Row<'a> = (
        &'a str,
        &'a str,
        Option<String>,
        Vec<(&'a str, &'a str)>,
        (u16, Option<&'a str>),
    );
    let cases: Vec<Row<'_>> = vec![
        (
            "basic",
            "/oauth2/platformtoken",
            Some(basic(LOGIN, PASSWORD)),
            vec![cc],
            ok,
        ),
        (
            "mixed-case path",
            "/OAuth2/PlatformToken",
            None,
            vec![cc, ("client_id", LOGIN), ("client_secret", PASSWORD)],
            ok,
        ),
        (
            "wrong password",
            "/oauth2/platformtoken",
            None,
            vec![cc, ("client_id", LOGIN), ("client_secret", "wrong")],
            (401, Some("invalid_client")),
        ),
        (
            "unknown login name",
            "/oauth2/platformtoken",
            None,
            vec![
                cc,
                ("client_id", "nobody@cyberark.cloud.9344"),
                ("client_secret", PASSWORD),
            ],
            (401, Some("invalid_client")),
        ),
        (
            "no grant type",
            "/oauth2/platformtoken",
            None,
            vec![("client_id", LOGIN), ("client_secret", PASSWORD)],
            (400, Some("invalid_request")),
        ),
    ];
    for (case, path, authorization, pairs, expected) in cases {
        let response = post_form(&url(path), authorization.as_deref(), form(&pairs)).await;
        check(case, answer(response).await, expected);
    }
    // Only POST is served there.
    let response = common::http()
        .get(url("/oauth2/platformtoken"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}
