//! Several issuers in one process (issue 20): each issuer's endpoints under `/{name}` are its
//! profile's, its tokens, keys, faults, clock and journal are its own, the TOML and builder
//! forms agree, and bad `[[issuers]]` configurations are refused naming the field.

mod common;

use ccflow_auth_server::{
    Client, Fault, Limits, MockAuthServer, MockAuthServerBuilder, Profile, StartError,
};
use common::{basic, claims_of, form, get_json, http, json_of, post_form};
use serde_json::{Value, json};

/// The three issuers of the issue's proof, plus a second `rfc` one with the same client: the
/// closest neighbour a token could leak to.
fn three_issuers() -> MockAuthServerBuilder {
    let svc = || Client::new("svc", "secret").scopes(["read"]);
    MockAuthServer::builder()
        .issuer_named("rfc", |i| i.client(svc()))
        .issuer_named("slb", |i| i.profile(Profile::Slb).client(svc()))
        .issuer_named("cyberark", |i| i.profile(Profile::CyberArk).client(svc()))
        .issuer_named("rfc-b", |i| i.client(svc()))
}

/// The same process as a configuration file.
const CONFIG: &str = r#"
bind = "127.0.0.1:0"

[[issuers]]
name = "rfc"
[[issuers.clients]]
client_id = "svc"
client_secret = "secret"
scopes = ["read"]

[[issuers]]
name = "slb"
profile = "slb"
[[issuers.clients]]
client_id = "svc"
client_secret = "secret"
scopes = ["read"]

[[issuers]]
name = "cyberark"
profile = "cyberark"
[[issuers.clients]]
client_id = "svc"
client_secret = "secret"
scopes = ["read"]

[[issuers]]
name = "rfc-b"
[[issuers.clients]]
client_id = "svc"
client_secret = "secret"
scopes = ["read"]
"#;

/// (name, issuer, token endpoint, JWKS, discovery), below the server's base URI.
const ENDPOINTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "rfc",
        "/rfc",
        "/rfc/oauth2/token",
        "/rfc/jwks.json",
        "/rfc/.well-known/oauth-authorization-server",
    ),
    (
        "slb",
        "/slb/v2",
        "/slb/v2/token",
        "/slb/v2/certs",
        "/slb/v2/.well-known/openid-configuration",
    ),
    (
        "cyberark",
        "/cyberark/ccflow/",
        "/cyberark/oauth2/token/ccflow",
        "/cyberark/OAuth2/Keys/ccflow",
        "/cyberark/ccflow/.well-known/openid-configuration",
    ),
];

/// A token of issuer `name`, asked over plain HTTP with Basic credentials.
async fn token_of(server: &MockAuthServer, name: &str) -> String {
    let url = server.issuer_at(name).unwrap().token_url();
    let body = form(&[("grant_type", "client_credentials")]);
    let response = post_form(&url, Some(&basic("svc", "secret")), body).await;
    assert_eq!(response.status(), 200, "{name}");
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Whether issuer `at`'s introspection finds `token` active.
async fn active_at(server: &MockAuthServer, at: &str, token: &str) -> bool {
    let url = server.issuer_at(at).unwrap().introspection_url().unwrap();
    let response = post_form(
        &url,
        Some(&basic("svc", "secret")),
        form(&[("token", token)]),
    )
    .await;
    let body: Value = response.json().await.unwrap();
    body["active"] == true
}

async fn jwks_of(server: &MockAuthServer, name: &str) -> Value {
    get_json(server.issuer_at(name).unwrap().jwks_url()).await
}

#[tokio::test]
async fn each_issuer_serves_its_profiles_endpoints_under_its_prefix() {
    let server = three_issuers().start().await.unwrap();
    let uri = server.uri();
    for &(name, issuer, token, jwks, discovery) in ENDPOINTS {
        let at = server.issuer_at(name).unwrap();
        assert_eq!(at.issuer(), format!("{uri}{issuer}"), "{name}");
        assert_eq!(at.token_url(), format!("{uri}{token}"), "{name}");
        assert_eq!(at.jwks_url(), format!("{uri}{jwks}"), "{name}");
        assert_eq!(at.discovery_url(), format!("{uri}{discovery}"), "{name}");
        let metadata = get_json(at.discovery_url()).await;
        assert_eq!(metadata["issuer"], at.issuer(), "{name}");
        assert_eq!(metadata["token_endpoint"], at.token_url(), "{name}");
        assert_eq!(metadata["jwks_uri"], at.jwks_url(), "{name}");
        let keys = jwks_of(&server, name).await;
        assert_eq!(keys["keys"].as_array().map(Vec::len), Some(1), "{name}");
        let claims = claims_of(&token_of(&server, name).await);
        assert_eq!(claims["iss"], at.issuer(), "{name}");
    }
    // CyberArk's paths are case-insensitive (its own SDK writes them so), under the prefix too.
    let response = post_form(
        &format!("{uri}/cyberark/Oauth2/Token/ccflow"),
        Some(&basic("svc", "secret")),
        form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(response.status(), 200);
    // The single-issuer accessors address the first issuer.
    assert_eq!(server.token_url(), format!("{uri}/rfc/oauth2/token"));
    assert!(server.issuer_at("nope").is_none());
}

#[tokio::test]
async fn a_token_of_one_issuer_is_never_active_at_another() {
    let server = three_issuers().start().await.unwrap();
    let cases = [
        ("rfc", "rfc", true),
        ("rfc-b", "rfc", false),
        ("slb", "rfc", false),
        ("cyberark", "rfc", false),
        ("rfc", "rfc-b", false),
        ("rfc-b", "rfc-b", true),
    ];
    for (from, at, expected) in cases {
        let token = token_of(&server, from).await;
        assert_eq!(
            active_at(&server, at, &token).await,
            expected,
            "token of {from} at {at}"
        );
    }
    // Each issuer signs with keys of its own, even two of the same profile.
    let kids: Vec<Value> = [
        jwks_of(&server, "rfc").await,
        jwks_of(&server, "rfc-b").await,
    ]
    .iter()
    .map(|jwks| jwks["keys"][0]["kid"].clone())
    .collect();
    assert_ne!(kids[0], kids[1]);
}

#[tokio::test]
async fn rotating_one_issuers_keys_leaves_the_others_alone() {
    let server = three_issuers().start().await.unwrap();
    let names = ["rfc", "slb", "cyberark", "rfc-b"];
    let mut before = Vec::new();
    for name in names {
        before.push(jwks_of(&server, name).await);
    }
    // Once with the Rust API on `rfc`, once with `slb`'s own admin API.
    server.issuer_at("rfc").unwrap().rotate_keys().unwrap();
    let rotated = http()
        .post(format!("{}/slb/_ccflow/keys/rotate", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    for (name, before) in names.into_iter().zip(before) {
        let after = jwks_of(&server, name).await;
        let changed = matches!(name, "rfc" | "slb");
        assert_eq!(after != before, changed, "{name}: {before} -> {after}");
    }
}

#[tokio::test]
async fn a_fault_on_one_issuer_does_not_touch_the_others() {
    let server = three_issuers().start().await.unwrap();
    server
        .issuer_at("rfc")
        .unwrap()
        .on_token()
        .respond(Fault::status(503));
    // And one through `cyberark`'s own admin API.
    let installed = http()
        .post(format!("{}/cyberark/_ccflow/scenarios", server.uri()))
        .json(&json!({"endpoint": "token", "fault": {"kind": "status", "status": 500}}))
        .send()
        .await
        .unwrap();
    assert_eq!(installed.status(), 201, "{:?}", installed.text().await);
    for (name, status) in [
        ("rfc", 503),
        ("slb", 200),
        ("cyberark", 500),
        ("rfc-b", 200),
    ] {
        let url = server.issuer_at(name).unwrap().token_url();
        let body = form(&[("grant_type", "client_credentials")]);
        let response = post_form(&url, Some(&basic("svc", "secret")), body).await;
        assert_eq!(response.status(), status, "{name}");
    }
    // Each journal holds its own issuer's requests only.
    for name in ["rfc", "slb", "cyberark", "rfc-b"] {
        let journal = get_json(format!("{}/{name}/_ccflow/requests", server.uri())).await;
        let entries = journal["requests"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{name}: {journal}");
        let path = entries[0]["path"].as_str().unwrap();
        assert!(path.starts_with(&format!("/{name}/")), "{name}: {path}");
    }
    // Clocks too: moving `slb`'s leaves `rfc`'s.
    let slb = server.issuer_at("slb").unwrap().clock().unwrap();
    let rfc = server.issuer_at("rfc").unwrap().clock().unwrap();
    slb.freeze();
    rfc.freeze();
    let rfc_now = rfc.state()["now"].clone();
    slb.advance(std::time::Duration::from_secs(3600));
    assert_eq!(rfc.state()["now"], rfc_now);
}

/// The root: the list of issuers, health, and nothing of any one issuer.
#[tokio::test]
async fn the_root_lists_the_issuers_and_serves_nothing_else() {
    let server = three_issuers().start().await.unwrap();
    let uri = server.uri();
    let list = get_json(format!("{uri}/_ccflow/issuers")).await;
    let issuers = list["issuers"].as_array().unwrap();
    let names: Vec<&str> = issuers
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rfc", "slb", "cyberark", "rfc-b"]);
    for &(name, issuer, token, jwks, discovery) in ENDPOINTS {
        let entry = issuers.iter().find(|i| i["name"] == name).unwrap();
        assert_eq!(entry["issuer"], format!("{uri}{issuer}"));
        assert_eq!(entry["token_url"], format!("{uri}{token}"));
        assert_eq!(entry["jwks_url"], format!("{uri}{jwks}"));
        assert_eq!(entry["discovery_url"], format!("{uri}{discovery}"));
        assert_eq!(entry["admin_url"], format!("{uri}/{name}/_ccflow"));
        assert_eq!(entry["prefix"], format!("/{name}"));
    }
    let cases = [
        ("/_ccflow/health/ready", 200),
        ("/_ccflow/health/live", 200),
        ("/_ccflow/requests", 404),
        ("/_ccflow/keys", 404),
        ("/oauth2/token", 404),
        ("/.well-known/openid-configuration", 404),
        ("/rfc/.well-known/openid-configuration", 200),
        ("/rfc/no-such-path", 404),
        ("/rfc/_ccflow/keys", 200),
        ("/rfc/_ccflow/issuers", 200),
    ];
    for (path, status) in cases {
        let response = http().get(format!("{uri}{path}")).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
    // A wrong method on an issuer's route is that route's 405, in that issuer's journal.
    let response = http()
        .get(server.issuer_at("rfc").unwrap().token_url())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let response = http()
        .post(server.issuer_at("slb").unwrap().jwks_url())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    let response = http()
        .put(format!("{uri}/rfc/_ccflow/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
}

#[tokio::test]
async fn the_admin_guard_covers_the_root_list_and_every_issuer() {
    let server = three_issuers()
        .admin_token("admin-canary")
        .start()
        .await
        .unwrap();
    for path in [
        "/_ccflow/issuers",
        "/rfc/_ccflow/keys",
        "/slb/_ccflow/requests",
    ] {
        let url = format!("{}{path}", server.uri());
        let refused = http().get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{path}");
        let allowed = http().get(&url).bearer_auth("admin-canary").send().await;
        assert_eq!(allowed.unwrap().status(), 200, "{path}");
    }
    let server = three_issuers().admin(false).start().await.unwrap();
    for path in ["/_ccflow/issuers", "/rfc/_ccflow/keys"] {
        let response = http()
            .get(format!("{}{path}", server.uri()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn the_toml_form_and_the_builder_form_give_the_same_endpoints() {
    let from_toml = MockAuthServerBuilder::from_config_str(CONFIG, ".")
        .unwrap()
        .start()
        .await
        .unwrap();
    let from_builder = three_issuers().start().await.unwrap();
    let list = |server: &MockAuthServer| {
        let uri = server.uri();
        async move {
            let text = json_of(http().get(format!("{uri}/_ccflow/issuers"))).await;
            text.to_string().replace(&uri, "http://BASE")
        }
    };
    assert_eq!(list(&from_toml).await, list(&from_builder).await);
    // Same names, same keys: the key of an issuer follows from its name.
    for name in ["rfc", "slb", "cyberark", "rfc-b"] {
        assert_eq!(
            jwks_of(&from_toml, name).await,
            jwks_of(&from_builder, name).await,
            "{name}"
        );
    }
}

/// One issuer at the root, as always: listed with no name.
#[tokio::test]
async fn a_single_issuer_server_lists_itself() {
    let server = MockAuthServer::start().await;
    let list = get_json(format!("{}/_ccflow/issuers", server.uri())).await;
    assert_eq!(list["issuers"][0]["name"], Value::Null);
    assert_eq!(list["issuers"][0]["issuer"], server.uri());
    assert_eq!(list["issuers"][0]["token_url"], server.token_url());
    assert!(server.issuers().is_empty());
}

/// Bad configurations: (name, TOML, field, part of the reason).
const BAD_CONFIGS: &[(&str, &str, &str, &str)] = &[
    (
        "duplicate name",
        "[[issuers]]\nname = \"a\"\n[[issuers]]\nname = \"a\"\n",
        "issuers[1].name",
        "names another issuer",
    ),
    (
        "reserved name",
        "[[issuers]]\nname = \"_ccflow\"\n",
        "issuers[0].name",
        "reserved",
    ),
    (
        "name with a slash",
        "[[issuers]]\nname = \"a/b\"\n",
        "issuers[0].name",
        "one URL path segment",
    ),
    (
        "empty name",
        "[[issuers]]\nname = \"\"\n",
        "issuers[0].name",
        "must not be empty",
    ),
    (
        "no name",
        "[[issuers]]\nprofile = \"slb\"\n",
        "issuers[0].name",
        "missing",
    ),
    (
        "unknown profile",
        "[[issuers]]\nname = \"a\"\nprofile = \"okta\"\n",
        "issuers[0].profile",
        "okta",
    ),
    (
        "issuer-level key at the top level",
        "profile = \"slb\"\n[[issuers]]\nname = \"a\"\n",
        "profile",
        "goes inside each [[issuers]] table",
    ),
    (
        "top-level clients",
        "[[clients]]\nclient_id = \"x\"\nclient_secret = \"y\"\n[[issuers]]\nname = \"a\"\n",
        "clients",
        "goes inside each [[issuers]] table",
    ),
    (
        "process-wide key in an issuer",
        "[[issuers]]\nname = \"a\"\nbind = \"127.0.0.1:0\"\n",
        "issuers[0].bind",
        "process-wide",
    ),
    (
        "issuer_from_request in an issuer",
        "[[issuers]]\nname = \"a\"\nissuer_from_request = true\n",
        "issuers[0].issuer_from_request",
        "not supported with [[issuers]]",
    ),
    (
        "the client CA file in an issuer",
        "[[issuers]]\nname = \"a\"\ntls_client_ca_file = \"ca.pem\"\n",
        "issuers[0].tls_client_ca_file",
        "process-wide",
    ),
    (
        "unknown key in an issuer",
        "[[issuers]]\nname = \"a\"\ntoken_ttl = 5\n",
        "issuers[0]",
        "token_ttl",
    ),
    (
        "bad client in an issuer",
        "[[issuers]]\nname = \"a\"\n[[issuers.clients]]\nclient_id = \"x\"\n",
        "issuers[0].clients[0].client_secret",
        "give client_secret",
    ),
];

#[tokio::test]
async fn bad_issuer_configurations_name_the_field() {
    for &(case, toml, field, why) in BAD_CONFIGS {
        let error = match MockAuthServerBuilder::from_config_str(toml, ".") {
            Err(error) => error,
            Ok(builder) => match builder.start().await {
                Err(StartError::Config(error)) => error,
                other => panic!("{case}: {other:?}"),
            },
        };
        assert_eq!(error.field, field, "{case}: {error}");
        assert!(error.why.contains(why), "{case}: {error}");
    }
}

#[tokio::test]
async fn bad_builder_forms_name_the_setting() {
    let cases: [(&str, MockAuthServerBuilder, &str, &str); 6] = [
        (
            "limits outside the issuers",
            MockAuthServer::builder()
                .limits(Limits::default().max_body_bytes(1024))
                .issuer_named("a", |i| i),
            "limits",
            "goes inside",
        ),
        (
            "a journal capacity outside the issuers",
            MockAuthServer::builder()
                .journal_capacity(5)
                .issuer_named("a", |i| i),
            "journal_capacity",
            "goes inside",
        ),
        (
            "a profile option outside the issuers",
            MockAuthServer::builder()
                .tenant("acme")
                .issuer_named("a", |i| i),
            "profile options (tenant, workspace, region, app_id, service_audiences, …)",
            "goes inside",
        ),
        (
            "a client outside the issuers",
            MockAuthServer::builder()
                .client(Client::new("x", "y"))
                .issuer_named("a", |i| i),
            "clients",
            "goes inside",
        ),
        (
            "an admin token inside an issuer",
            MockAuthServer::builder().issuer_named("a", |i| i.admin_token("t")),
            "issuers[0].admin_token",
            "process-wide",
        ),
        (
            "a duplicate ignoring case",
            MockAuthServer::builder()
                .issuer_named("a", |i| i)
                .issuer_named("A", |i| i),
            "issuers[1].name",
            "names another issuer",
        ),
    ];
    for (case, builder, field, why) in cases {
        match builder.start().await {
            Err(StartError::Config(error)) => {
                assert_eq!(error.field, field, "{case}: {error}");
                assert!(error.why.contains(why), "{case}: {error}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

/// The binary on `fixtures/issuers.toml`: the `listening on` line first and unchanged, then
/// every issuer with its endpoints (no console line: the console is served at the root only).
/// The binary is built with `cli` only (not in `--no-default-features --features rust-crypto`).
#[cfg(feature = "cli")]
#[test]
fn the_binary_lists_every_issuer_after_its_listening_line() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_ccflow-auth-server"))
        .args([
            "--config",
            "../../fixtures/issuers.toml",
            "--bind",
            "127.0.0.1:0",
        ])
        .env_remove("CCFLOW_CONFIG")
        .env_remove("CCFLOW_CONFIG_TOML")
        .env_remove("CCFLOW_BIND")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let base = first
        .trim_end()
        .strip_prefix("ccflow-auth-server listening on ")
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_owned();
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let expected = [
        format!("issuers:        3 (GET {base}/_ccflow/issuers lists them)"),
        "issuer rfc:".to_owned(),
        format!("  issuer:         {base}/rfc"),
        format!("  token endpoint: {base}/rfc/oauth2/token"),
        "issuer slb:".to_owned(),
        format!("  jwks:           {base}/slb/v2/certs"),
        "issuer cyberark:".to_owned(),
        format!("  token endpoint: {base}/cyberark/oauth2/token/orders"),
        format!("  admin api:      {base}/cyberark/_ccflow (loopback peers only)"),
    ];
    let lines: Vec<&str> = rest.lines().collect();
    for line in &expected {
        assert!(lines.contains(&line.as_str()), "{line:?} in\n{rest}");
    }
    assert!(lines[0].starts_with("issuers:"), "{rest}");
    assert!(!rest.contains("admin console"), "{rest}");
}

/// The SDK gets a token from each issuer, both ways a caller points it at one: the vendor's
/// base URL (here `…/{name}`) with the profile, and the issuer URL with discovery (for `rfc`,
/// the RFC 8414 form is refused at the root and the OpenID Connect form under the prefix
/// answers).
#[tokio::test]
async fn the_sdk_gets_a_token_from_each_issuer() {
    let server = three_issuers().start().await.unwrap();
    let cases = [
        ("rfc", Profile::default(), false),
        ("rfc", Profile::default(), true),
        ("slb", "slb".parse().unwrap(), false),
        ("slb", "slb".parse().unwrap(), true),
        ("cyberark", "cyberark".parse().unwrap(), false),
        ("cyberark", "cyberark".parse().unwrap(), true),
    ];
    for (name, profile, discovery) in cases {
        let at = server.issuer_at(name).unwrap();
        let builder = ccflow_client::TokenClient::builder()
            .profile(profile)
            .credentials("svc", "secret");
        let builder = if discovery {
            builder.issuer(at.issuer())
        } else {
            builder.base_url(format!("{}/{name}", server.uri()))
        };
        let client = builder.build().unwrap();
        let token = client
            .token()
            .await
            .unwrap_or_else(|error| panic!("{name} (discovery: {discovery}): {error}"));
        let claims = claims_of(token.secret());
        assert_eq!(
            claims["iss"],
            at.issuer(),
            "{name} (discovery: {discovery})"
        );
    }
}

/// DPoP (RFC 9449 §4.3) under a prefix: a proof's `htu` must name the token endpoint as the
/// client reached it, prefix included; one naming the path without the prefix is refused.
#[tokio::test]
async fn dpop_proofs_name_the_token_endpoint_with_its_prefix() {
    use ccflow_auth_server::ProofSpec;

    let server = three_issuers().start().await.unwrap();
    let rfc = server.issuer_at("rfc").unwrap();
    let cases = [
        (rfc.token_url(), 200),
        (format!("{}/oauth2/token", server.uri()), 400),
        (server.issuer_at("rfc-b").unwrap().token_url(), 400),
    ];
    for (htu, status) in cases {
        let spec = ProofSpec {
            htm: Some("POST".to_owned()),
            htu: htu.clone(),
            ..ProofSpec::default()
        };
        let proof = rfc.app().factory_proof(&spec).unwrap().proof;
        let response = http()
            .post(rfc.token_url())
            .basic_auth("svc", Some("secret"))
            .header("dpop", proof)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "htu {htu}");
        if status == 200 {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["token_type"], "DPoP", "htu {htu}");
        }
    }
    // And the SDK with a DPoP key, which names the URL it posts to.
    let key = ccflow_auth_server::protocol::dpop::DpopKey::generate().unwrap();
    let client = ccflow_client::TokenClient::builder()
        .token_url(rfc.token_url())
        .credentials("svc", "secret")
        .dpop(key)
        .build()
        .unwrap();
    assert!(client.token().await.unwrap().is_dpop_bound());
}

#[test]
fn the_client_ca_file_stays_process_wide_beside_issuers() {
    // TLS belongs to the process: mutual TLS's extra CAs are one set for every issuer.
    let builder = MockAuthServerBuilder::from_config_str(
        "tls_client_ca_file = \"ca.pem\"\n[[issuers]]\nname = \"a\"\n",
        ".",
    );
    assert!(builder.is_ok(), "{:?}", builder.err());
}
