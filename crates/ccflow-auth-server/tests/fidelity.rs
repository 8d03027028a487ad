//! Requests written the way each vendor's own document (the seeds) or a popular OAuth library
//! writes them, and the answer each profile must give (issue 16): one table per behaviour.

mod common;

use base64::Engine as _;
use ccflow_auth_server::{BasicCredentials, Client, MockAuthServer, Profile};
use common::{basic, form, http, post_form};
use serde_json::Value;

/// A console-generated secret: `+`, `/`, `=` and `%` read differently raw and form-urldecoded.
const CONSOLE_ID: &str = "svc-console";
const CONSOLE_SECRET: &str = "k7+Qz/w==%2B";

/// `Basic base64(CLIENT_ID:CLIENT_SECRET)` with nothing encoded first, as seeds 000, 001 and 003
/// write it.
fn raw_basic(id: &str, secret: &str) -> String {
    let credentials = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

async fn server(profile: Profile, form: Option<BasicCredentials>) -> MockAuthServer {
    let mut builder = MockAuthServer::builder()
        .profile(profile)
        .client(Client::new(CONSOLE_ID, CONSOLE_SECRET));
    if let Some(form) = form {
        builder = builder.basic_credentials(form);
    }
    builder.start().await.expect("server starts")
}

/// How a case writes its Basic credentials.
#[derive(Debug, Clone, Copy)]
enum Header {
    /// Raw, as the vendor seeds write it.
    Raw,
    /// Form-urlencoded first, RFC 6749 §2.3.1.
    Rfc6749,
    /// Raw, with a wrong secret.
    RawWrongSecret,
}

struct BasicCase {
    profile: Profile,
    setting: Option<BasicCredentials>,
    header: Header,
    status: u16,
    error: Option<&'static str>,
}

async fn check_basic(case: &BasicCase) {
    let server = server(case.profile, case.setting).await;
    let authorization = match case.header {
        Header::Raw => raw_basic(CONSOLE_ID, CONSOLE_SECRET),
        Header::Rfc6749 => basic(CONSOLE_ID, CONSOLE_SECRET),
        Header::RawWrongSecret => raw_basic(CONSOLE_ID, "k7+Qz/w==%2C"),
    };
    let response = post_form(
        &server.token_url(),
        Some(&authorization),
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    let name = format!("{} {:?} {:?}", case.profile, case.setting, case.header);
    assert_eq!(status, case.status, "{name}: {body}");
    assert_eq!(body["error"].as_str(), case.error, "{name}: {body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        !description.contains("k7"),
        "{name}: a secret leaked: {description}"
    );
}

#[tokio::test]
async fn basic_credentials_are_read_as_each_profile_says() {
    use BasicCredentials::{Either, Raw, Rfc6749};
    let ok = |profile, setting, header| BasicCase {
        profile,
        setting,
        header,
        status: 200,
        error: None,
    };
    let refused = |profile, setting, header, error| BasicCase {
        profile,
        setting,
        header,
        status: 401,
        error: Some(error),
    };
    let cases = [
        // The vendors document the raw form (seeds 000, 001, 003); the RFC form works too.
        ok(Profile::Slb, None, Header::Raw),
        ok(Profile::Slb, None, Header::Rfc6749),
        ok(Profile::CyberArk, None, Header::Raw),
        ok(Profile::CyberArk, None, Header::Rfc6749),
        ok(Profile::Cloudentity, None, Header::Raw),
        ok(Profile::Cloudentity, None, Header::Rfc6749),
        refused(Profile::Slb, None, Header::RawWrongSecret, "invalid_client"),
        refused(
            Profile::CyberArk,
            None,
            Header::RawWrongSecret,
            "invalid_client",
        ),
        // `rfc` stays strict; UserClouds URL-unescapes (VENDORS.md, D).
        ok(Profile::Rfc, None, Header::Rfc6749),
        refused(Profile::Rfc, None, Header::Raw, "invalid_client"),
        ok(Profile::UserClouds, None, Header::Rfc6749),
        refused(Profile::UserClouds, None, Header::Raw, "invalid_grant"),
        // The setting overrides the profile's default.
        ok(Profile::Rfc, Some(Either), Header::Raw),
        ok(Profile::Rfc, Some(Raw), Header::Raw),
        refused(Profile::Rfc, Some(Raw), Header::Rfc6749, "invalid_client"),
        refused(Profile::Slb, Some(Rfc6749), Header::Raw, "invalid_client"),
        ok(Profile::Slb, Some(Rfc6749), Header::Rfc6749),
    ];
    for case in &cases {
        check_basic(case).await;
    }
}

#[tokio::test]
async fn basic_credentials_setting_is_read_from_the_config_file() {
    let toml = format!(
        "profile = \"rfc\"\nbasic_credentials = \"raw\"\n[[clients]]\nclient_id = \"{CONSOLE_ID}\"\nclient_secret = \"{CONSOLE_SECRET}\"\n"
    );
    let server = ccflow_auth_server::MockAuthServerBuilder::from_config_str(&toml, ".")
        .unwrap()
        .start()
        .await
        .unwrap();
    let response = http()
        .post(server.token_url())
        .header("authorization", raw_basic(CONSOLE_ID, CONSOLE_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let error = ccflow_auth_server::MockAuthServerBuilder::from_config_str(
        "basic_credentials = \"plain\"",
        ".",
    )
    .unwrap_err();
    assert!(error.to_string().contains("basic_credentials"), "{error}");
}

/// What one endpoint's answer must say about caching.
struct CacheCase {
    profile: Profile,
    endpoint: &'static str,
    cache_control: Option<&'static str>,
    pragma: Option<&'static str>,
}

#[tokio::test]
async fn key_and_metadata_answers_are_cacheable_and_token_answers_are_not() {
    // One hour tokens: the overlap is an hour, so the cap of five minutes applies.
    const CACHEABLE: Option<&str> = Some("public, max-age=300");
    const NO_STORE: Option<&str> = Some("no-store");
    let case = |profile, endpoint, cache_control, pragma| CacheCase {
        profile,
        endpoint,
        cache_control,
        pragma,
    };
    let mut cases = Vec::new();
    for profile in Profile::ALL.iter().copied() {
        cases.push(case(profile, "discovery", CACHEABLE, None));
        cases.push(case(profile, "jwks", CACHEABLE, None));
        let (token, token_pragma) = match profile {
            // UserClouds sends no cache headers (VENDORS.md, D).
            Profile::UserClouds => (None, None),
            _ => (NO_STORE, Some("no-cache")),
        };
        cases.push(case(profile, "token", token, token_pragma));
    }
    cases.push(case(
        Profile::Rfc,
        "introspection",
        NO_STORE,
        Some("no-cache"),
    ));
    cases.push(case(Profile::Rfc, "revocation", NO_STORE, Some("no-cache")));
    cases.push(case(
        Profile::Cloudentity,
        "introspection",
        NO_STORE,
        Some("no-cache"),
    ));
    cases.push(case(
        Profile::Cloudentity,
        "revocation",
        NO_STORE,
        Some("no-cache"),
    ));
    cases.push(case(
        Profile::CyberArk,
        "revocation",
        NO_STORE,
        Some("no-cache"),
    ));
    for case in &cases {
        check_cache(case).await;
    }
}

async fn check_cache(case: &CacheCase) {
    let server = MockAuthServer::builder()
        .profile(case.profile)
        .client(Client::new("svc", "secret"))
        .start()
        .await
        .unwrap();
    let routes = server.app().routes().clone();
    let url = |path: &str| format!("{}{path}", server.uri());
    let basic = basic("svc", "secret");
    let operation = |path: &str| {
        http()
            .post(url(path))
            .header("authorization", &basic)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("token=not-a-token")
    };
    let request = match case.endpoint {
        "discovery" => http().get(url(&routes.discovery[0])),
        "jwks" => http().get(url(&routes.jwks)),
        "token" => http()
            .post(server.token_url())
            .header("authorization", &basic)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials"),
        "introspection" => operation(routes.introspection.as_deref().unwrap()),
        "revocation" => operation(routes.revocation.as_deref().unwrap()),
        other => panic!("no endpoint {other}"),
    };
    let response = request.send().await.unwrap();
    let name = format!("{} {}", case.profile, case.endpoint);
    assert_eq!(response.status(), 200, "{name}");
    let header = |header: &str| {
        response
            .headers()
            .get(header)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("cache-control").as_deref(),
        case.cache_control,
        "{name}: Cache-Control"
    );
    assert_eq!(header("pragma").as_deref(), case.pragma, "{name}: Pragma");
}

#[tokio::test]
async fn metadata_max_age_stays_below_a_short_rotation_overlap() {
    // Tokens of 60 s: a rotated-out key stays published 60 s, so caches keep the JWKS 30 s.
    let server = MockAuthServer::builder()
        .token_ttl(std::time::Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let response = http().get(server.jwks_url()).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "public, max-age=30");
}

/// The claims of a token, read without verification (the other suites verify signatures).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// SLB's `scope` (seed 001): any run of whitespace separates, nothing in it is refused, what
/// names no reachable audience is reported in `scope.invalid`; the size limits still apply.
#[tokio::test]
async fn slb_scope_is_split_on_whitespace_and_never_refused_for_its_content() {
    let server = MockAuthServer::builder()
        .profile(Profile::Slb)
        .service_audiences(["fwk-drillplan.slbservice.com"])
        .client(Client::new("svc-a", "secret-a"))
        .client(Client::new("svc-b", "secret-b"))
        .start()
        .await
        .unwrap();
    let many = vec!["svc-b"; 65].join(" ");
    // (scope, status, the response's `scope` member, the token's `aud`)
    let cases: [(&str, u16, Value, Value); 12] = [
        (
            "svc-b",
            200,
            Value::Null,
            serde_json::json!(["svc-a", "svc-b"]),
        ),
        (
            "svc-b  fwk-drillplan.slbservice.com",
            200,
            Value::Null,
            serde_json::json!(["svc-a", "svc-b", "fwk-drillplan.slbservice.com"]),
        ),
        (
            " svc-b",
            200,
            Value::Null,
            serde_json::json!(["svc-a", "svc-b"]),
        ),
        (
            "svc-b ",
            200,
            Value::Null,
            serde_json::json!(["svc-a", "svc-b"]),
        ),
        (
            "svc-b svc-b",
            200,
            Value::Null,
            serde_json::json!(["svc-a", "svc-b"]),
        ),
        (
            "svc-b\tnope\n",
            200,
            serde_json::json!({"valid": ["svc-b"], "invalid": ["nope"]}),
            serde_json::json!(["svc-a", "svc-b"]),
        ),
        (
            "svc-b \"quoted\\\"",
            200,
            serde_json::json!({"valid": ["svc-b"], "invalid": ["\"quoted\\\""]}),
            serde_json::json!(["svc-a", "svc-b"]),
        ),
        (
            "café",
            200,
            serde_json::json!({"valid": [], "invalid": ["café"]}),
            serde_json::json!(["svc-a"]),
        ),
        ("", 200, Value::Null, serde_json::json!(["svc-a"])),
        ("   ", 200, Value::Null, serde_json::json!(["svc-a"])),
        // Size limits still apply (docs/security.md): 65 values, at most 64.
        (&many, 400, Value::Null, Value::Null),
        (&"x".repeat(4097), 400, Value::Null, Value::Null),
    ];
    for (scope, status, scope_member, aud) in cases {
        let response = post_form(
            &server.token_url(),
            Some(&basic("svc-a", "secret-a")),
            form(&[("grant_type", "client_credentials"), ("scope", scope)]),
        )
        .await;
        let name = format!("scope {scope:?}");
        assert_eq!(response.status().as_u16(), status, "{name}");
        let body: Value = response.json().await.unwrap();
        if status != 200 {
            assert_eq!(body["error"], "invalid_request", "{name}: {body}");
            continue;
        }
        assert_eq!(body["scope"], scope_member, "{name}: {body}");
        let claims = claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(claims["aud"], aud, "{name}: {claims}");
    }
}

/// One token request to a UserClouds (or, for contrast, `rfc`) server.
struct UserCloudsCase {
    name: &'static str,
    profile: Profile,
    content_type: Option<&'static str>,
    basic: Option<(&'static str, &'static str)>,
    body: &'static str,
    status: u16,
    error: Option<(&'static str, &'static str)>,
}

/// UserClouds as its server code behaves (`plex/internal/oidc`): Basic wins over body
/// credentials, and a body that is not a form has no `grant_type`.
#[tokio::test]
async fn userclouds_basic_wins_and_a_non_form_body_has_no_grant_type() {
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const NOT_SPECIFIED: Option<(&str, &str)> = Some((
        "unsupported_grant_type",
        "unsupported `grant_type` specified: not specified",
    ));
    let base = UserCloudsCase {
        name: "",
        profile: Profile::UserClouds,
        content_type: FORM,
        basic: Some(("uc-app", "uc-secret")),
        body: "grant_type=client_credentials",
        status: 200,
        error: None,
    };
    let cases = [
        UserCloudsCase {
            name: "Basic and the same body credentials",
            body: "grant_type=client_credentials&client_id=uc-app&client_secret=uc-secret",
            ..base
        },
        UserCloudsCase {
            name: "Basic wins over a wrong body secret",
            body: "grant_type=client_credentials&client_id=uc-app&client_secret=wrong",
            ..base
        },
        UserCloudsCase {
            name: "Basic wins over another body client",
            body: "grant_type=client_credentials&client_id=other&client_secret=x",
            ..base
        },
        UserCloudsCase {
            name: "a wrong Basic secret is not rescued by the body",
            basic: Some(("uc-app", "wrong")),
            body: "grant_type=client_credentials&client_id=uc-app&client_secret=uc-secret",
            status: 401,
            error: Some(("invalid_grant", "invalid client secret")),
            ..base
        },
        UserCloudsCase {
            name: "a JSON body",
            content_type: Some("application/json"),
            body: r#"{"grant_type":"client_credentials"}"#,
            status: 400,
            error: NOT_SPECIFIED,
            ..base
        },
        UserCloudsCase {
            name: "a text body",
            content_type: Some("text/plain"),
            status: 400,
            error: NOT_SPECIFIED,
            ..base
        },
        UserCloudsCase {
            name: "no Content-Type",
            content_type: None,
            status: 400,
            error: NOT_SPECIFIED,
            ..base
        },
        UserCloudsCase {
            name: "rfc still refuses two methods (RFC 6749 section 2.3)",
            profile: Profile::Rfc,
            body: "grant_type=client_credentials&client_id=uc-app&client_secret=uc-secret",
            status: 400,
            error: Some((
                "invalid_request",
                "the client used more than one authentication method (RFC 6749 section 2.3)",
            )),
            ..base
        },
    ];
    for case in &cases {
        let server = MockAuthServer::builder()
            .profile(case.profile)
            .client(Client::new("uc-app", "uc-secret"))
            .start()
            .await
            .unwrap();
        let mut request = http().post(server.token_url()).body(case.body);
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some((id, secret)) = case.basic {
            request = request.header("authorization", basic(id, secret));
        }
        let response = request.send().await.unwrap();
        let name = case.name;
        assert_eq!(response.status().as_u16(), case.status, "{name}");
        let body: Value = response.json().await.unwrap();
        let error = body["error"].as_str().map(|error| {
            (
                error,
                body["error_description"].as_str().unwrap_or_default(),
            )
        });
        assert_eq!(error, case.error, "{name}: {body}");
    }
}

/// What a strict OpenID Connect client requires of a provider's discovery document (OpenID
/// Connect Discovery 1.0 §3 and §4.3; the required members of the `openidconnect` crate's
/// `ProviderMetadata`): missing members fail deserialisation, the rest is checked below.
#[derive(serde::Deserialize)]
struct StrictProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    response_types_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
}

/// SLB, Cloudentity and CyberArk publish full OpenID documents; so does the mock, with a
/// `jwks_uri` that answers (UserClouds' exact document is checked too).
#[tokio::test]
async fn vendor_discovery_documents_satisfy_a_strict_openid_client() {
    for profile in [
        Profile::Slb,
        Profile::Cloudentity,
        Profile::CyberArk,
        Profile::UserClouds,
    ] {
        let server = MockAuthServer::builder()
            .profile(profile)
            .client(Client::new("svc", "secret"))
            .start()
            .await
            .unwrap();
        let discovery_path = &server.app().routes().discovery[0];
        let discovery_url = format!("{}{discovery_path}", server.uri());
        let response = http().get(&discovery_url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{profile}");
        let text = response.text().await.unwrap();
        let document: StrictProviderMetadata =
            serde_json::from_str(&text).unwrap_or_else(|error| {
                panic!("{profile}: a strict OIDC client refuses it: {error}: {text}")
            });
        // §4.3: the issuer is the discovery URL without `/.well-known/openid-configuration`.
        assert_eq!(
            format!(
                "{}/.well-known/openid-configuration",
                document.issuer.trim_end_matches('/')
            ),
            discovery_url,
            "{profile}"
        );
        assert_eq!(document.token_endpoint, server.token_url(), "{profile}");
        for (member, url) in [
            ("authorization_endpoint", &document.authorization_endpoint),
            ("userinfo_endpoint", &document.userinfo_endpoint),
            ("jwks_uri", &document.jwks_uri),
        ] {
            assert!(
                url.starts_with(&server.uri()),
                "{profile}: {member} {url} is not an absolute URL of the server"
            );
        }
        for (member, values) in [
            (
                "response_types_supported",
                &document.response_types_supported,
            ),
            ("subject_types_supported", &document.subject_types_supported),
            (
                "id_token_signing_alg_values_supported",
                &document.id_token_signing_alg_values_supported,
            ),
        ] {
            assert!(!values.is_empty(), "{profile}: {member} is empty");
        }
        assert!(
            document
                .id_token_signing_alg_values_supported
                .iter()
                .any(|alg| alg == "RS256"),
            "{profile}: §3 requires RS256 among the id_token algorithms"
        );
        let jwks: Value = http()
            .get(&document.jwks_uri)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            jwks["keys"].as_array().is_some_and(|keys| !keys.is_empty()),
            "{profile}: jwks_uri answers no keys: {jwks}"
        );
    }
}
