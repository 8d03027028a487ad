//! `issuer_from_request`: the issuer named after each request's scheme and host (`Forwarded`,
//! `X-Forwarded-Proto`/`X-Forwarded-Host`, `Host`), as a container reached under two names
//! needs. Each name is its own issuer: discovery, `iss`, introspection and token exchange agree
//! with the name the request used.

mod common;

use ccflow_auth_server::protocol::Profile;
use ccflow_auth_server::{Client, MockAuthServer, MockAuthServerBuilder};
use common::{basic, clock, form, http, signing_key};
use serde_json::Value;

fn builder(profile: Profile) -> MockAuthServerBuilder {
    MockAuthServer::builder()
        .profile(profile)
        .signing_key(signing_key())
        .clock(clock())
        .client(Client::new("svc", "svc-secret"))
        .issuer_from_request(true)
}

/// GETs the discovery document with `headers`; its issuer and token endpoint.
async fn discovered(server: &MockAuthServer, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = http().get(server.discovery_url());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let document: Value = request.send().await.unwrap().json().await.unwrap();
    (
        document["issuer"].as_str().unwrap().to_owned(),
        document["token_endpoint"].as_str().unwrap().to_owned(),
    )
}

/// A token for `svc` requested with `headers`; its `iss`.
async fn token_iss(server: &MockAuthServer, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = http()
        .post(server.token_url())
        .header("authorization", basic("svc", "svc-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("grant_type", "client_credentials")]));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let claims: Value =
        jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&token).expect("a JWT");
    (token, claims["iss"].as_str().unwrap().to_owned())
}

async fn introspect_active(server: &MockAuthServer, token: &str, host: &str) -> bool {
    let response = http()
        .post(server.introspection_url().expect("rfc has introspection"))
        .header("host", host)
        .header("authorization", basic("svc", "svc-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["active"].as_bool().unwrap()
}

/// What the headers of one request make of the issuer: `PORT` stands for the server's port.
struct Case {
    profile: Profile,
    headers: &'static [(&'static str, &'static str)],
    issuer: &'static str,
    token_endpoint: &'static str,
}

async fn check(case: &Case) {
    let server = builder(case.profile).start().await.unwrap();
    let port = server.address().port().to_string();
    let expected_issuer = case.issuer.replace("PORT", &port);
    let expected_token = case.token_endpoint.replace("PORT", &port);
    let (issuer, token_endpoint) = discovered(&server, case.headers).await;
    assert_eq!(
        (issuer.as_str(), token_endpoint.as_str()),
        (expected_issuer.as_str(), expected_token.as_str()),
        "{:?} {:?}",
        case.profile,
        case.headers
    );
    let (_, iss) = token_iss(&server, case.headers).await;
    assert_eq!(
        iss, expected_issuer,
        "{:?} {:?}",
        case.profile, case.headers
    );
}

#[tokio::test]
async fn the_issuer_is_named_after_the_request() {
    let cases = [
        // No header of ours: the Host reqwest sends for the URL.
        Case {
            profile: Profile::Rfc,
            headers: &[],
            issuer: "http://127.0.0.1:PORT",
            token_endpoint: "http://127.0.0.1:PORT/oauth2/token",
        },
        // A compose network name.
        Case {
            profile: Profile::Rfc,
            headers: &[("host", "auth:8080")],
            issuer: "http://auth:8080",
            token_endpoint: "http://auth:8080/oauth2/token",
        },
        // A TLS-terminating proxy (X-Forwarded-*), default port dropped, host lower-cased.
        Case {
            profile: Profile::Rfc,
            headers: &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "Login.Example.COM:443"),
            ],
            issuer: "https://login.example.com",
            token_endpoint: "https://login.example.com/oauth2/token",
        },
        // RFC 7239 `Forwarded` wins over X-Forwarded-*.
        Case {
            profile: Profile::Rfc,
            headers: &[
                ("forwarded", "proto=https;host=id.example:8443"),
                ("x-forwarded-host", "other.example"),
            ],
            issuer: "https://id.example:8443",
            token_endpoint: "https://id.example:8443/oauth2/token",
        },
        // A host that cannot make an origin: the configured issuer answers.
        Case {
            profile: Profile::Rfc,
            headers: &[("x-forwarded-host", "evil.example/path")],
            issuer: "http://127.0.0.1:PORT",
            token_endpoint: "http://127.0.0.1:PORT/oauth2/token",
        },
        Case {
            profile: Profile::Rfc,
            headers: &[("x-forwarded-proto", "gopher"), ("host", "auth:8080")],
            issuer: "http://127.0.0.1:PORT",
            token_endpoint: "http://127.0.0.1:PORT/oauth2/token",
        },
        // A profile with an issuer path keeps it (SLB's `/v2`).
        Case {
            profile: Profile::Slb,
            headers: &[("host", "auth:8080")],
            issuer: "http://auth:8080/v2",
            token_endpoint: "http://auth:8080/v2/token",
        },
    ];
    for case in &cases {
        check(case).await;
    }
}

#[tokio::test]
async fn each_name_is_its_own_issuer_at_introspection() {
    let server = builder(Profile::Rfc).start().await.unwrap();
    let (token, iss) = token_iss(&server, &[("host", "auth:8080")]).await;
    assert_eq!(iss, "http://auth:8080");
    assert!(introspect_active(&server, &token, "auth:8080").await);
    assert!(!introspect_active(&server, &token, "localhost:8080").await);
}

#[tokio::test]
async fn without_the_setting_request_headers_change_nothing() {
    let server = MockAuthServer::builder()
        .signing_key(signing_key())
        .clock(clock())
        .client(Client::new("svc", "svc-secret"))
        .start()
        .await
        .unwrap();
    let headers = [("host", "auth:8080"), ("x-forwarded-proto", "https")];
    let (issuer, _) = discovered(&server, &headers).await;
    assert_eq!(issuer, server.issuer());
    let (_, iss) = token_iss(&server, &headers).await;
    assert_eq!(iss, server.issuer());
}

#[test]
fn a_fixed_issuer_and_issuer_from_request_exclude_each_other() {
    let from_builder = builder(Profile::Rfc)
        .issuer("http://auth:8080")
        .into_app("http://127.0.0.1:8080")
        .unwrap_err()
        .to_string();
    assert!(
        from_builder.contains("issuer_from_request"),
        "{from_builder}"
    );
    let from_file = MockAuthServerBuilder::from_config_str(
        "issuer = \"http://auth:8080\"\nissuer_from_request = true\n",
        ".",
    )
    .unwrap()
    .into_app("http://127.0.0.1:8080")
    .unwrap_err()
    .to_string();
    assert!(from_file.contains("issuer_from_request"), "{from_file}");
}
