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

/// The root: the list of issuers, the journal of them all, the console, health, and nothing
/// of any one issuer.
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
        ("/_ccflow/requests", 200),
        ("/_ccflow/console", 200),
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

/// Beside `[[issuers]]`, a top-level `issuer` (`--issuer`, `CCFLOW_ISSUER`, the builder's
/// `issuer`) is the process's public root URL, e.g. a compose network name: every issuer is
/// named below it, in its metadata and its tokens, while the server answers where it is bound.
#[tokio::test]
async fn a_public_root_url_names_every_issuer_below_it() {
    const ROOT: &str = "http://auth.example:9000";
    let from_toml = || {
        let config = format!("issuer = \"{ROOT}/\"\n{CONFIG}");
        MockAuthServerBuilder::from_config_str(&config, ".").unwrap()
    };
    let forms: [(&str, MockAuthServerBuilder); 2] = [
        ("builder", three_issuers().issuer(ROOT)),
        ("TOML, with a trailing slash", from_toml()),
    ];
    for (form_name, builder) in forms {
        let server = builder.start().await.unwrap();
        let uri = server.uri();
        for &(name, issuer, token, jwks, discovery) in ENDPOINTS {
            let case = format!("{form_name}: {name}");
            let at = server.issuer_at(name).unwrap();
            assert_eq!(at.issuer(), format!("{ROOT}{issuer}"), "{case}");
            assert_eq!(at.token_url(), format!("{ROOT}{token}"), "{case}");
            let metadata = get_json(format!("{uri}{discovery}")).await;
            assert_eq!(metadata["issuer"], at.issuer(), "{case}");
            assert_eq!(metadata["token_endpoint"], at.token_url(), "{case}");
            assert_eq!(metadata["jwks_uri"], format!("{ROOT}{jwks}"), "{case}");
            let response = post_form(
                &format!("{uri}{token}"),
                Some(&basic("svc", "secret")),
                form(&[("grant_type", "client_credentials")]),
            )
            .await;
            assert_eq!(response.status(), 200, "{case}");
            let body: Value = response.json().await.unwrap();
            let claims = claims_of(body["access_token"].as_str().unwrap());
            assert_eq!(claims["iss"], at.issuer(), "{case}");
        }
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
        "a public root URL with a query",
        "issuer = \"http://auth.example:9000/?x=1\"\n[[issuers]]\nname = \"a\"\n",
        "issuer",
        "RFC 8414 section 2",
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
/// every issuer with its endpoints and its console, and the root's console and journal.
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
        format!("  admin console:  {base}/cyberark/_ccflow/console"),
        format!("admin console:  {base}/_ccflow/console (every issuer, picked in its header)"),
        format!("admin journal:  {base}/_ccflow/requests (every issuer; ?issuer=NAME for one)"),
    ];
    let lines: Vec<&str> = rest.lines().collect();
    for line in &expected {
        assert!(lines.contains(&line.as_str()), "{line:?} in\n{rest}");
    }
    assert!(lines[0].starts_with("issuers:"), "{rest}");
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

/// The console's Content-Security-Policy, as docs/console.md states it.
const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// A console file: its path, status, media type, and a text its body must contain.
struct ConsoleCase {
    path: &'static str,
    status: u16,
    content_type: &'static str,
    contains: &'static str,
}

const CONSOLE_CASES: &[ConsoleCase] = &[
    // Each issuer's console links to its own files (and so talks to its own admin API: the
    // scripts find it from their URL).
    ConsoleCase {
        path: "/rfc/_ccflow/console",
        status: 200,
        content_type: "text/html; charset=utf-8",
        contains: r#"<script type="module" src="/rfc/_ccflow/console/app.js"></script>"#,
    },
    ConsoleCase {
        path: "/slb/_ccflow/console/",
        status: 200,
        content_type: "text/html; charset=utf-8",
        contains: r#"<link rel="stylesheet" href="/slb/_ccflow/console/console.css">"#,
    },
    ConsoleCase {
        path: "/slb/_ccflow/console/api.js",
        status: 200,
        content_type: "text/javascript; charset=utf-8",
        contains: "import.meta.url",
    },
    ConsoleCase {
        path: "/cyberark/_ccflow/console/console.css",
        status: 200,
        content_type: "text/css; charset=utf-8",
        contains: "[hidden]",
    },
    ConsoleCase {
        path: "/rfc-b/_ccflow/console/icon.svg",
        status: 200,
        content_type: "image/svg+xml",
        contains: "<svg",
    },
    // The root's console, which picks an issuer.
    ConsoleCase {
        path: "/_ccflow/console",
        status: 200,
        content_type: "text/html; charset=utf-8",
        contains: r#"<select id="issuer-picker">"#,
    },
    ConsoleCase {
        path: "/_ccflow/console/app.js",
        status: 200,
        content_type: "text/javascript; charset=utf-8",
        contains: "'/issuers'",
    },
    ConsoleCase {
        path: "/rfc/_ccflow/console/secrets.js",
        status: 404,
        content_type: "application/json",
        contains: "no such console file",
    },
];

#[track_caller]
fn check_console(
    case: &ConsoleCase,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) {
    let path = case.path;
    assert_eq!(status, case.status, "{path}: {body}");
    assert_eq!(headers["content-type"], case.content_type, "{path}");
    assert!(body.contains(case.contains), "{path}: {body}");
    if case.status == 200 {
        assert_eq!(headers["content-security-policy"], CONSOLE_CSP, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
}

/// With several issuers the console is served under each issuer's prefix and at the root, with
/// the same headers as the one-issuer console.
#[tokio::test]
async fn the_console_is_served_under_each_issuers_prefix_and_at_the_root() {
    let server = three_issuers().start().await.unwrap();
    for case in CONSOLE_CASES {
        let response = http()
            .get(format!("{}{}", server.uri(), case.path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        check_console(case, status, &headers, &body);
    }
}

/// A query of the root journal and what it answers: the (issuer, path) of each entry, in
/// order, or the status and a text of the error.
struct JournalCase {
    query: &'static str,
    expected: Result<&'static [(&'static str, &'static str)], (u16, &'static str)>,
}

/// The requests the journal test sends, in this order: (issuer, path).
const SENT: &[(&str, &str)] = &[
    ("slb", "/slb/v2/token"),
    ("rfc", "/rfc/oauth2/token"),
    ("slb", "/slb/v2/certs"),
    ("cyberark", "/cyberark/oauth2/token/ccflow"),
    ("rfc", "/rfc/jwks.json"),
];

const JOURNAL_CASES: &[JournalCase] = &[
    JournalCase {
        query: "",
        expected: Ok(SENT),
    },
    JournalCase {
        query: "?issuer=slb",
        expected: Ok(&[("slb", "/slb/v2/token"), ("slb", "/slb/v2/certs")]),
    },
    JournalCase {
        query: "?issuer=rfc&endpoint=jwks",
        expected: Ok(&[("rfc", "/rfc/jwks.json")]),
    },
    JournalCase {
        query: "?endpoint=token&client_id=svc",
        expected: Ok(&[
            ("slb", "/slb/v2/token"),
            ("rfc", "/rfc/oauth2/token"),
            ("cyberark", "/cyberark/oauth2/token/ccflow"),
        ]),
    },
    JournalCase {
        query: "?issuer=rfc-b",
        expected: Ok(&[]),
    },
    JournalCase {
        query: "?issuer=nope",
        expected: Err((
            400,
            "no issuer is named `nope`: the issuers are `rfc`, `slb`, `cyberark`, `rfc-b`",
        )),
    },
    // Names are matched exactly, as the path prefixes are.
    JournalCase {
        query: "?issuer=SLB",
        expected: Err((400, "no issuer is named `SLB`")),
    },
    // A parameter without a value is no parameter, as everywhere in ccflow (RFC 6749 §3.2).
    JournalCase {
        query: "?issuer=",
        expected: Ok(SENT),
    },
    JournalCase {
        query: "?endpoint=nope",
        expected: Err((400, "endpoint must be")),
    },
];

#[track_caller]
fn check_journal(case: &JournalCase, status: u16, body: &Value) {
    let query = case.query;
    match case.expected {
        Ok(expected) => {
            assert_eq!(status, 200, "{query}: {body}");
            let entries: Vec<(&str, &str)> = body["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|entry| {
                    (
                        entry["issuer"].as_str().unwrap(),
                        entry["path"].as_str().unwrap(),
                    )
                })
                .collect();
            assert_eq!(entries, expected, "{query}");
        }
        Err((expected_status, text)) => {
            assert_eq!(status, expected_status, "{query}: {body}");
            assert_eq!(body["error"], "invalid_request", "{query}");
            let description = body["error_description"].as_str().unwrap();
            assert!(description.contains(text), "{query}: {description}");
        }
    }
}

/// `GET /_ccflow/requests` at the root holds every issuer's requests, each naming its issuer,
/// in the order they arrived, whatever the issuers' clocks say: here `slb`'s runs an hour ahead
/// and `rfc`'s is frozen, so ordering by their times would put `slb` last.
#[tokio::test]
async fn the_root_journal_merges_every_issuer_in_arrival_order_and_filters_by_one() {
    let server = three_issuers().start().await.unwrap();
    let slb_clock = server.issuer_at("slb").unwrap().clock().unwrap();
    slb_clock.advance(std::time::Duration::from_secs(3600));
    server.issuer_at("rfc").unwrap().clock().unwrap().freeze();
    for (_, path) in SENT {
        let url = format!("{}{path}", server.uri());
        let response = if path.contains("token") {
            let body = form(&[("grant_type", "client_credentials")]);
            post_form(&url, Some(&basic("svc", "secret")), body).await
        } else {
            http().get(&url).send().await.unwrap()
        };
        assert_eq!(response.status(), 200, "{path}");
    }
    for case in JOURNAL_CASES {
        let response = http()
            .get(format!("{}/_ccflow/requests{}", server.uri(), case.query))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        check_journal(case, status, &body);
    }
    // Each issuer's own journal is as it was: its entries only, with no `issuer` member, and
    // it refuses the root's filter rather than ignore it.
    let own = get_json(format!("{}/slb/_ccflow/requests", server.uri())).await;
    let own = own["requests"].as_array().unwrap();
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|entry| entry.get("issuer").is_none()));
    let refused = http()
        .get(format!("{}/slb/_ccflow/requests?issuer=slb", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // The root journal is read-only: each issuer's is cleared under its prefix.
    let delete = http()
        .delete(format!("{}/_ccflow/requests", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);
    assert_eq!(delete.headers()["allow"], "GET");
    // The admin API's document names the root's filter.
    let document: Value = serde_json::from_str(&ccflow_auth_server::ADMIN_OPENAPI).unwrap();
    let parameters = document["paths"]["/_ccflow/requests"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(
        parameters.iter().any(|p| p["name"] == "issuer"),
        "{parameters:?}"
    );
}

/// The root journal and every console sit behind the admin guard; a console refuses with a
/// Basic challenge (so that a browser prompts for the admin token), the API with Bearer.
#[tokio::test]
async fn the_admin_guard_covers_the_consoles_and_the_root_journal() {
    let server = three_issuers()
        .admin_token("admin-canary")
        .start()
        .await
        .unwrap();
    for (path, challenge) in [
        ("/_ccflow/requests", "Bearer "),
        ("/_ccflow/requests?issuer=rfc", "Bearer "),
        ("/_ccflow/console", "Basic "),
        ("/_ccflow/console/app.js", "Basic "),
        ("/rfc/_ccflow/console", "Basic "),
        ("/slb/_ccflow/console/api.js", "Basic "),
    ] {
        let url = format!("{}{path}", server.uri());
        let refused = http().get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{path}");
        let offered = refused.headers()["www-authenticate"].to_str().unwrap();
        assert!(offered.starts_with(challenge), "{path}: {offered}");
        let allowed = http().get(&url).bearer_auth("admin-canary").send().await;
        assert_eq!(allowed.unwrap().status(), 200, "{path}");
        // As a browser sends it after the prompt: the token as Basic's password.
        let allowed = http()
            .get(&url)
            .basic_auth("anyone", Some("admin-canary"))
            .send()
            .await;
        assert_eq!(allowed.unwrap().status(), 200, "{path}");
    }
    // DNS rebinding: a foreign Host is refused at the root and under a prefix alike.
    for path in [
        "/_ccflow/console",
        "/rfc/_ccflow/console",
        "/_ccflow/requests",
    ] {
        let response = http()
            .get(format!("{}{path}", server.uri()))
            .basic_auth("anyone", Some("admin-canary"))
            .header("host", "rebind.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let server = three_issuers().admin(false).start().await.unwrap();
    for path in [
        "/_ccflow/requests",
        "/_ccflow/console",
        "/rfc/_ccflow/console",
    ] {
        let response = http()
            .get(format!("{}{path}", server.uri()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}
