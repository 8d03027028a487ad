//! Each vendor profile's exact wire behaviour, snapshotted: discovery, JWKS, a token per
//! accepted auth method (with the decoded token), and the profile's characteristic failures.
//! Keys and time are fixed, so only the port, `jti`s, tokens and trace ids are redacted (after
//! their shape is checked, `common::snapshot_settings`).

mod common;

use std::time::Duration;

use base64::Engine as _;
use ccflow_auth_server::protocol::AuthMethod;
use ccflow_auth_server::{
    Client, MockAuthServer, MockAuthServerBuilder, Profile, ResponseStyle, SigningKey,
};
use common::{basic, clock, fixture, http};
use serde_json::{Map, Value, json};

enum Body {
    None,
    Form(&'static [(&'static str, &'static str)]),
    Json(Value),
}

struct Call {
    method: &'static str,
    path: String,
    basic: Option<(&'static str, &'static str)>,
    body: Body,
}

fn get(path: impl Into<String>) -> Call {
    Call {
        method: "GET",
        path: path.into(),
        basic: None,
        body: Body::None,
    }
}

fn post(
    path: impl Into<String>,
    basic: Option<(&'static str, &'static str)>,
    form: &'static [(&'static str, &'static str)],
) -> Call {
    Call {
        method: "POST",
        path: path.into(),
        basic,
        body: Body::Form(form),
    }
}

const HEADERS: [&str; 6] = [
    "content-type",
    "cache-control",
    "pragma",
    "www-authenticate",
    "x-trace-id",
    "x-request-id",
];

fn decode_segment(segment: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .expect("base64url segment");
    serde_json::from_slice(&bytes).expect("JSON segment")
}

async fn exchange(server: &MockAuthServer, call: Call) -> Value {
    let url = format!("{}{}", server.uri(), call.path);
    let mut request = http().request(call.method.parse().unwrap(), &url);
    if let Some((id, secret)) = call.basic {
        request = request.header("authorization", basic(id, secret));
    }
    request = match &call.body {
        Body::None => request,
        Body::Form(pairs) => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(common::form(pairs)),
        Body::Json(json) => request
            .header("content-type", "application/json")
            .body(json.to_string()),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for name in HEADERS {
        if let Some(value) = response.headers().get(name) {
            headers.insert(name.to_owned(), json!(value.to_str().unwrap()));
        }
    }
    let text = response.text().await.unwrap();
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    let mut record = json!({
        "request": format!("{} {}", call.method, call.path),
        "status": status,
        "headers": headers,
    });
    if let Some(token) = body
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWS compact token");
        record["token_header"] = decode_segment(parts[0]);
        record["token_claims"] = decode_segment(parts[1]);
    }
    record["body"] = body;
    record
}

async fn run(name: &str, server: MockAuthServer, calls: Vec<Call>) {
    let mut exchanges = Vec::new();
    for call in calls {
        exchanges.push(exchange(&server, call).await);
    }
    let uri = server.uri();
    let address = server.address().to_string();
    common::snapshot_settings(&[(&uri, "http://[host]"), (&address, "[host]")])
        .bind(|| insta::assert_json_snapshot!(name, exchanges));
}

fn builder(profile: Profile) -> MockAuthServerBuilder {
    let key = match profile {
        Profile::Cloudentity => fixture("keys/es256-1.pem"),
        _ => fixture("keys/rs256-1.pem"),
    };
    MockAuthServer::builder()
        .profile(profile)
        .signing_key(SigningKey::from_pem(&key).unwrap())
        .clock(clock())
}

const CC: (&str, &str) = ("grant_type", "client_credentials");

#[tokio::test]
async fn slb_profile() {
    let server = builder(Profile::Slb)
        .service_audiences(["fwk-drillplan.slbservice.com"])
        .client(Client::new("svc-a", "secret-a"))
        .client(Client::new("svc-b", "secret-b"))
        .start()
        .await
        .unwrap();
    run(
        "slb",
        server,
        vec![
            get("/v2/.well-known/openid-configuration"),
            get("/v2/certs"),
            post("/v2/token", Some(("svc-a", "secret-a")), &[CC]),
            post(
                "/v2/token",
                Some(("svc-a", "secret-a")),
                &[CC, ("scope", "svc-b fwk-drillplan.slbservice.com")],
            ),
            post(
                "/v2/token",
                Some(("svc-a", "secret-a")),
                &[CC, ("scope", "svc-b no-such-client")],
            ),
            post(
                "/v2/token",
                None,
                &[
                    CC,
                    ("client_id", "svc-b"),
                    ("client_secret", "secret-b"),
                    ("scope", "svc-a"),
                ],
            ),
            post("/v2/token", Some(("svc-a", "wrong")), &[CC]),
            post("/oauth2/token", Some(("svc-a", "secret-a")), &[CC]),
        ],
    )
    .await;
}

#[tokio::test]
async fn cloudentity_profile() {
    let server = builder(Profile::Cloudentity)
        .tenant("acme")
        .workspace("prod")
        .client(
            Client::new("basic-app", "secret-1")
                .scopes(["read", "write"])
                .audiences(["orders"]),
        )
        .client(
            Client::new("post-app", "secret-2")
                .scopes(["read"])
                .auth_methods([AuthMethod::ClientSecretPost]),
        )
        .start()
        .await
        .unwrap();
    run(
        "cloudentity",
        server,
        vec![
            get("/acme/prod/.well-known/openid-configuration"),
            get("/acme/prod/.well-known/jwks.json"),
            post(
                "/acme/prod/oauth2/token",
                Some(("basic-app", "secret-1")),
                &[CC],
            ),
            post(
                "/acme/prod/oauth2/token",
                None,
                &[
                    CC,
                    ("client_id", "post-app"),
                    ("client_secret", "secret-2"),
                    ("scope", "read"),
                ],
            ),
            // Each client is registered for one method: post-app may not use Basic.
            post(
                "/acme/prod/oauth2/token",
                Some(("post-app", "secret-2")),
                &[CC],
            ),
            post(
                "/acme/prod/oauth2/token",
                Some(("basic-app", "secret-1")),
                &[CC, ("scope", "admin")],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn cyberark_profile() {
    let server = builder(Profile::CyberArk)
        .app_id("app1")
        .client(
            Client::new("svc@cyberark.cloud.9344", "s3cret:+/@")
                .scopes(["myscope", "other"])
                .subject("3f1c5a6e-0d7b-4e8a-9c2f-5b6d7e8f9a0b"),
        )
        .start()
        .await
        .unwrap();
    let json_body = json!({"grant_type": "client_credentials", "scope": "myscope"});
    run(
        "cyberark",
        server,
        vec![
            get("/app1/.well-known/openid-configuration"),
            get("/OAuth2/Keys/app1"),
            post(
                "/oauth2/token/app1",
                Some(("svc@cyberark.cloud.9344", "s3cret:+/@")),
                &[CC, ("scope", "myscope")],
            ),
            // CyberArk's SDK writes the path in mixed case.
            post(
                "/Oauth2/Token/app1",
                Some(("svc@cyberark.cloud.9344", "s3cret:+/@")),
                &[CC],
            ),
            // The seed shows a JSON body.
            Call {
                method: "POST",
                path: "/oauth2/token/app1".to_owned(),
                basic: Some(("svc@cyberark.cloud.9344", "s3cret:+/@")),
                body: Body::Json(json_body),
            },
            post(
                "/oauth2/token/app1",
                None,
                &[
                    CC,
                    ("client_id", "svc@cyberark.cloud.9344"),
                    ("client_secret", "s3cret:+/@"),
                ],
            ),
            post("/oauth2/revoke/app1", None, &[("token", "anything")]),
            post(
                "/oauth2/token/app1",
                Some(("svc@cyberark.cloud.9344", "wrong")),
                &[CC],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn userclouds_profile() {
    let server = builder(Profile::UserClouds)
        .client(Client::new("uc-app", "uc-secret").subject("7d9e8f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a"))
        .organization_id("1ee5a6b7-0000-4000-8000-000000000001")
        .start()
        .await
        .unwrap();
    run(
        "userclouds",
        server,
        vec![
            get("/.well-known/openid-configuration"),
            get("/.well-known/jwks.json"),
            post(
                "/oauth/token",
                Some(("uc-app", "uc-secret")),
                &[
                    CC,
                    ("audience", "https://api-1"),
                    ("audience", "https://api-2"),
                ],
            ),
            post(
                "/oidc/token",
                None,
                &[
                    CC,
                    ("client_id", "uc-app"),
                    ("client_secret", "uc-secret"),
                    ("scope", "ignored"),
                ],
            ),
            post(
                "/oauth/token",
                Some(("uc-app", "uc-secret")),
                &[("scope", "x")],
            ),
            post(
                "/oauth/token",
                None,
                &[CC, ("client_id", "nobody"), ("client_secret", "x")],
            ),
            post(
                "/oauth/token",
                None,
                &[CC, ("client_id", "uc-app"), ("client_secret", "wrong")],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn userclouds_server_style_has_a_refresh_token_and_no_expires_in() {
    let server = builder(Profile::UserClouds)
        .response_style(ResponseStyle::Server)
        .client(Client::new("uc-app", "uc-secret").subject("7d9e8f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a"))
        .organization_id("1ee5a6b7-0000-4000-8000-000000000001")
        .start()
        .await
        .unwrap();
    run(
        "userclouds_server_style",
        server,
        vec![post("/oidc/token", Some(("uc-app", "uc-secret")), &[CC])],
    )
    .await;
}

#[tokio::test]
async fn rfc_profile() {
    let server = builder(Profile::Rfc)
        .client(
            Client::new("orders-service", "orders-secret")
                .scopes(["orders.read", "orders.write"])
                .audiences(["orders-api"]),
        )
        .start()
        .await
        .unwrap();
    run(
        "rfc",
        server,
        vec![
            post(
                "/oauth2/token",
                Some(("orders-service", "orders-secret")),
                &[CC, ("scope", "orders.read")],
            ),
            post(
                "/oauth2/token",
                None,
                &[
                    CC,
                    ("client_id", "orders-service"),
                    ("client_secret", "orders-secret"),
                ],
            ),
            post(
                "/oauth2/token",
                Some(("orders-service", "orders-secret")),
                &[CC, ("scope", "admin")],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn every_profile_issues_tokens_its_own_jwks_verifies() {
    for profile in Profile::ALL {
        let clock = clock();
        let server = builder(*profile)
            .clock(clock.clone())
            .client(Client::new("svc", "secret").scopes(["a"]))
            .start()
            .await
            .unwrap();
        let url = server.token_url();
        let response =
            common::post_form(&url, Some(&basic("svc", "secret")), common::form(&[CC])).await;
        assert_eq!(response.status(), 200, "{profile}");
        let body: Value = response.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = http()
            .get(server.jwks_url())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let key =
            jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
                .unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[server.issuer()]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["iss"], server.issuer(), "{profile}");
        let expected_issuer = match profile {
            Profile::Slb => format!("{}/v2", server.uri()),
            Profile::Cloudentity => format!("{}/demo/default", server.uri()),
            Profile::CyberArk => format!("{}/ccflow/", server.uri()),
            _ => server.uri(),
        };
        assert_eq!(server.issuer(), expected_issuer, "{profile}");
        let metadata: Value = http()
            .get(server.discovery_url())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(metadata["issuer"], expected_issuer, "{profile}");
        assert_eq!(metadata["token_endpoint"], url, "{profile}");
        clock.advance(Duration::from_secs(1));
    }
}
