//! The token endpoint over real HTTP: successful issuance, verified independently via the JWKS.

mod common;

use common::{SPECIAL_ID, SPECIAL_SECRET, T0, basic, form, post_form, start, token, verify};
use serde_json::{Value, json};

#[tokio::test]
async fn issues_a_verifiable_rfc9068_token_with_basic_auth() {
    let (server, _clock) = start().await;
    let body = token(&server, "orders-service", "orders-secret", &[]).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "orders.read orders.write");
    let access_token = body["access_token"].as_str().unwrap();

    let (header, claims) = verify(&server, access_token, "orders-api", T0).await;
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], server.app().keys().active().kid());
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["sub"], "orders-service");
    assert_eq!(claims["client_id"], "orders-service");
    assert_eq!(claims["aud"], json!(["orders-api", "billing-api"]));
    assert_eq!(claims["scope"], "orders.read orders.write");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["nbf"], T0);
    assert_eq!(claims["exp"], T0 + 3600);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 22, "128-bit base64url jti: {jti}");
    server.assert_token_requests().exactly(1);
}

#[tokio::test]
async fn token_responses_forbid_caching() {
    let (server, _clock) = start().await;
    let response = post_form(
        &server.token_url(),
        Some(&basic("orders-service", "orders-secret")),
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(response.headers()["content-type"], "application/json");
}

/// How a case authenticates its token request.
enum Auth {
    /// `Authorization: Basic`, through `common::token` (which asserts the 200).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// One successful token request and what its response and token say.
struct Case {
    name: &'static str,
    auth: Auth,
    client_id: &'static str,
    client_secret: &'static str,
    params: &'static [(&'static str, &'static str)],
    /// Members of the token response.
    body: Vec<(&'static str, Value)>,
    /// Members the token response must not have.
    body_absent: &'static [&'static str],
    /// The audience to verify the token for at `T0`; `None` checks the status only.
    verify_for: Option<&'static str>,
    /// Claims of the verified token.
    claims: Vec<(&'static str, Value)>,
    /// Claims the verified token must not have.
    claims_absent: &'static [&'static str],
}

/// The base row: `orders-service` over Basic, no parameters, nothing checked beyond the 200.
const BASE: Case = Case {
    name: "",
    auth: Auth::Basic,
    client_id: "orders-service",
    client_secret: "orders-secret",
    params: &[],
    body: Vec::new(),
    body_absent: &[],
    verify_for: None,
    claims: Vec::new(),
    claims_absent: &[],
};

fn cases() -> Vec<Case> {
    vec![
        // A client with no audiences gets its own id as audience; no scopes means no `scope`.
        Case {
            name: "client_secret_post",
            auth: Auth::Post,
            client_id: "post-only",
            client_secret: "post-secret",
            body_absent: &["scope"],
            verify_for: Some("post-only"),
            claims: vec![("aud", json!("post-only"))],
            claims_absent: &["scope"],
            ..BASE
        },
        Case {
            name: "a requested subset of scopes",
            params: &[("scope", "orders.write")],
            body: vec![("scope", json!("orders.write"))],
            verify_for: Some("orders-api"),
            claims: vec![("scope", json!("orders.write"))],
            ..BASE
        },
        Case {
            name: "a resource picks the audience",
            params: &[("resource", "billing-api")],
            verify_for: Some("billing-api"),
            claims: vec![("aud", json!("billing-api"))],
            ..BASE
        },
        // RFC 8707 lets `resource` repeat.
        Case {
            name: "repeated resources pick several audiences",
            params: &[("resource", "billing-api"), ("resource", "orders-api")],
            verify_for: Some("orders-api"),
            claims: vec![("aud", json!(["billing-api", "orders-api"]))],
            ..BASE
        },
        // Reserved and non-ASCII characters in the credentials, with a per-client lifetime.
        Case {
            name: "special characters in basic",
            client_id: SPECIAL_ID,
            client_secret: SPECIAL_SECRET,
            body: vec![("expires_in", json!(120))],
            verify_for: Some(SPECIAL_ID),
            claims: vec![("client_id", json!(SPECIAL_ID)), ("exp", json!(T0 + 120))],
            ..BASE
        },
        Case {
            name: "special characters in post",
            auth: Auth::Post,
            client_id: SPECIAL_ID,
            client_secret: SPECIAL_SECRET,
            ..BASE
        },
    ]
}

/// Requests a token from a fresh server as the case says and checks the response and the
/// verified token; failures name the case (an async fn cannot be `#[track_caller]`).
async fn check(case: &Case) {
    let (server, _clock) = start().await;
    let server = &server;
    let name = case.name;
    let body = match case.auth {
        Auth::Basic => token(server, case.client_id, case.client_secret, case.params).await,
        Auth::Post => {
            let mut pairs = vec![
                ("grant_type", "client_credentials"),
                ("client_id", case.client_id),
                ("client_secret", case.client_secret),
            ];
            pairs.extend_from_slice(case.params);
            let response = post_form(&server.token_url(), None, form(&pairs)).await;
            assert_eq!(response.status(), 200, "{name}: status");
            // A row that checks nothing more reads no body, as its old block did not.
            if case.verify_for.is_none() && case.body.is_empty() && case.body_absent.is_empty() {
                return;
            }
            response.json::<Value>().await.unwrap()
        }
    };
    for (member, want) in &case.body {
        assert_eq!(&body[*member], want, "{name}: `{member}` in {body}");
    }
    for member in case.body_absent {
        assert!(body.get(*member).is_none(), "{name}: `{member}` in {body}");
    }
    let Some(audience) = case.verify_for else {
        return;
    };
    let (_, claims) = verify(server, body["access_token"].as_str().unwrap(), audience, T0).await;
    for (claim, want) in &case.claims {
        assert_eq!(&claims[*claim], want, "{name}: `{claim}` in {claims}");
    }
    for claim in case.claims_absent {
        assert!(
            claims.get(*claim).is_none(),
            "{name}: `{claim}` in {claims}"
        );
    }
}

#[tokio::test]
async fn successful_token_requests_answer_as_the_table_says() {
    for case in &cases() {
        check(case).await;
    }
}

#[tokio::test]
async fn every_token_has_a_unique_jti() {
    let (server, _clock) = start().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let body = token(&server, "orders-service", "orders-secret", &[]).await;
        let (_, claims) = verify(
            &server,
            body["access_token"].as_str().unwrap(),
            "orders-api",
            T0,
        )
        .await;
        assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn the_token_lifetime_follows_the_injected_clock() {
    let (server, clock) = start().await;
    clock.advance(std::time::Duration::from_secs(1000));
    let body = token(&server, "orders-service", "orders-secret", &[]).await;
    let (_, claims) = verify(
        &server,
        body["access_token"].as_str().unwrap(),
        "orders-api",
        T0 + 1000,
    )
    .await;
    assert_eq!(claims["iat"], T0 + 1000);
    assert_eq!(claims["exp"], T0 + 1000 + 3600);
}

#[tokio::test]
async fn a_shut_down_server_refuses_connections() {
    let (server, _clock) = start().await;
    let url = server.token_url();
    server.shutdown().await;
    let error = common::http().post(&url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error}");
}

#[tokio::test]
async fn a_dropped_server_releases_its_port() {
    let (server, _clock) = start().await;
    let address = server.address();
    drop(server);
    std::net::TcpListener::bind(address).expect("the port is free again after drop");
}
