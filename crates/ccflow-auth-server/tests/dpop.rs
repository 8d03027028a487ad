//! DPoP at the token endpoint (RFC 9449 §5, §8) over real HTTP: bound tokens, every refusal,
//! nonces, replay, per-client binding, introspection, discovery, the admin API and the
//! bad-proof factory. Proofs are made by ccflow's `DpopKey` and, independently, by
//! jsonwebtoken with a fixture key.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_auth_server::protocol::dpop::{DpopKey, jwk_thumbprint};
use ccflow_auth_server::{Client, DpopSettings, MockAuthServer};
use common::{T0, basic, builder, clock, fixture, form, http};
use serde_json::{Value, json};

/// What a case sends in `DPoP` headers.
enum Proofs {
    None,
    /// A good proof from the case's key for the token endpoint.
    Good,
    /// A good proof with the server nonce it got from a first answer.
    WithNonce,
    /// A proof for another URL.
    WrongUrl,
    /// A proof made an hour ago.
    Stale,
    /// Two good proofs.
    Two,
    /// A proof signed with HS256 by a jwk-less header (not a JWS DPoP accepts).
    Hmac,
}

struct Case {
    name: &'static str,
    settings: DpopSettings,
    client: (&'static str, &'static str),
    proofs: Proofs,
    /// Status, then `error` (or `token_type` on success).
    expected: (u16, &'static str),
    /// Whether the answer carries a `DPoP-Nonce` header.
    nonce_header: bool,
}

async fn server(settings: DpopSettings) -> MockAuthServer {
    let clock = clock();
    builder(&clock)
        .client(Client::new("bound-only", "bound-secret").dpop_bound_access_tokens(true))
        .dpop(settings)
        .start()
        .await
        .expect("server starts")
}

async fn post_token(
    server: &MockAuthServer,
    client: (&str, &str),
    proofs: &[String],
) -> reqwest::Response {
    let mut request = http()
        .post(server.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic(client.0, client.1))
        .body(form(&[("grant_type", "client_credentials")]));
    for proof in proofs {
        request = request.header("DPoP", proof);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn token_requests_with_and_without_proofs() {
    let nonce = || DpopSettings {
        require_nonce: true,
        ..DpopSettings::default()
    };
    let off = || DpopSettings {
        enabled: Some(false),
        ..DpopSettings::default()
    };
    let orders = ("orders-service", "orders-secret");
    let bound = ("bound-only", "bound-secret");
    let cases = [
        Case {
            name: "no proof: Bearer",
            settings: DpopSettings::default(),
            client: orders,
            proofs: Proofs::None,
            expected: (200, "Bearer"),
            nonce_header: false,
        },
        Case {
            name: "good proof: DPoP",
            settings: DpopSettings::default(),
            client: orders,
            proofs: Proofs::Good,
            expected: (200, "DPoP"),
            nonce_header: false,
        },
        Case {
            name: "proof for another URL",
            settings: DpopSettings::default(),
            client: orders,
            proofs: Proofs::WrongUrl,
            expected: (400, "invalid_dpop_proof"),
            nonce_header: false,
        },
        Case {
            name: "stale proof",
            settings: DpopSettings::default(),
            client: orders,
            proofs: Proofs::Stale,
            expected: (400, "invalid_dpop_proof"),
            nonce_header: false,
        },
        Case {
            name: "two proofs",
            settings: DpopSettings::default(),
            client: orders,
            proofs: Proofs::Two,
            expected: (400, "invalid_dpop_proof"),
            nonce_header: false,
        },
        Case {
            name: "HMAC proof",
            settings: DpopSettings::default(),
            client: orders,
            proofs: Proofs::Hmac,
            expected: (400, "invalid_dpop_proof"),
            nonce_header: false,
        },
        Case {
            name: "bad proof, bad client: the proof first",
            settings: DpopSettings::default(),
            client: ("orders-service", "wrong"),
            proofs: Proofs::WrongUrl,
            expected: (400, "invalid_dpop_proof"),
            nonce_header: false,
        },
        Case {
            name: "nonce required, none sent",
            settings: nonce(),
            client: orders,
            proofs: Proofs::Good,
            expected: (400, "use_dpop_nonce"),
            nonce_header: true,
        },
        Case {
            name: "nonce required and sent",
            settings: nonce(),
            client: orders,
            proofs: Proofs::WithNonce,
            expected: (200, "DPoP"),
            nonce_header: true,
        },
        Case {
            name: "bound client without proof",
            settings: DpopSettings::default(),
            client: bound,
            proofs: Proofs::None,
            expected: (400, "invalid_dpop_proof"),
            nonce_header: false,
        },
        Case {
            name: "bound client with proof",
            settings: DpopSettings::default(),
            client: bound,
            proofs: Proofs::Good,
            expected: (200, "DPoP"),
            nonce_header: false,
        },
        Case {
            name: "DPoP off: the header is ignored",
            settings: off(),
            client: orders,
            proofs: Proofs::WrongUrl,
            expected: (200, "Bearer"),
            nonce_header: false,
        },
        Case {
            name: "DPoP off, bound client",
            settings: off(),
            client: bound,
            proofs: Proofs::Good,
            expected: (400, "invalid_dpop_proof"),
            nonce_header: false,
        },
    ];
    for case in cases {
        check(case).await;
    }
}

async fn check(case: Case) {
    let name = case.name;
    let server = server(case.settings).await;
    let key = DpopKey::generate().unwrap();
    let url = server.token_url();
    let proof = |url: &str, iat: u64, nonce: Option<&str>| {
        key.proof("POST", url, iat, nonce, None).unwrap()
    };
    let proofs = match case.proofs {
        Proofs::None => vec![],
        Proofs::Good => vec![proof(&url, T0, None)],
        Proofs::WithNonce => {
            let first = post_token(&server, case.client, &[proof(&url, T0, None)]).await;
            assert_eq!(
                first.status(),
                400,
                "{name}: the first answer is a nonce challenge"
            );
            let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
            vec![proof(&url, T0, Some(&nonce))]
        }
        Proofs::WrongUrl => vec![proof(&format!("{url}/other"), T0, None)],
        Proofs::Stale => vec![proof(&url, T0 - 3600, None)],
        Proofs::Two => vec![proof(&url, T0, None), proof(&url, T0, None)],
        Proofs::Hmac => vec![hmac_proof(&url)],
    };
    let response = post_token(&server, case.client, &proofs).await;
    let status = response.status().as_u16();
    let nonce_header = response.headers().contains_key("dpop-nonce");
    let body: Value = response.json().await.unwrap();
    let (want_status, want) = case.expected;
    assert_eq!(status, want_status, "{name}: {body}");
    assert_eq!(nonce_header, case.nonce_header, "{name}: DPoP-Nonce header");
    if status == 200 {
        assert_eq!(body["token_type"], want, "{name}");
        let claims = claims_of(&body);
        let expected_cnf = (want == "DPoP").then(|| json!({"jkt": key.thumbprint()}));
        assert_eq!(claims.get("cnf").cloned(), expected_cnf, "{name}: cnf");
    } else {
        assert_eq!(body["error"], want, "{name}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name}"
        );
    }
}

/// A proof whose `alg` is HS256: never accepted (RFC 9449 §4.2).
fn hmac_proof(url: &str) -> String {
    let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}});
    let claims = json!({"jti": "h1", "htm": "POST", "htu": url, "iat": T0});
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.c2ln", encode(&header), encode(&claims))
}

async fn get_json(url: &str) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

fn claims_of(body: &Value) -> serde_json::Map<String, Value> {
    jsonwebtoken::dangerous::insecure_decode_claims(body["access_token"].as_str().unwrap()).unwrap()
}

async fn admin(
    server: &MockAuthServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http().request(method, format!("{}/_ccflow{path}", server.uri()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_proof_obtains_one_token_and_a_refused_request_uses_none() {
    let server = server(DpopSettings::default()).await;
    let key = DpopKey::generate().unwrap();
    let proof = key
        .proof("POST", &server.token_url(), T0, None, None)
        .unwrap();
    // A request refused for its client leaves the proof unused ...
    let refused = post_token(
        &server,
        ("orders-service", "wrong"),
        std::slice::from_ref(&proof),
    )
    .await;
    assert_eq!(refused.status(), 401);
    // ... so it still obtains a token, once.
    let first = post_token(
        &server,
        ("orders-service", "orders-secret"),
        std::slice::from_ref(&proof),
    )
    .await;
    assert_eq!(first.status(), 200);
    let again = post_token(&server, ("orders-service", "orders-secret"), &[proof]).await;
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{body}"
    );
}

#[tokio::test]
async fn a_proof_made_by_another_jose_implementation_is_accepted() {
    // jsonwebtoken signs here, with the fixture client key: not ccflow's DpopKey.
    let server = server(DpopSettings::default()).await;
    let jwk = common::client_es256_jwk("unused");
    let jwk = ccflow_auth_server::protocol::Jwk { kid: None, ..jwk };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("dpop+jwt".to_owned());
    header.jwk = Some(serde_json::from_value(serde_json::to_value(&jwk).unwrap()).unwrap());
    let claims =
        json!({"jti": "independent-1", "htm": "POST", "htu": server.token_url(), "iat": T0});
    let key = jsonwebtoken::EncodingKey::from_ec_pem(fixture("keys/client-es256.pem").as_bytes())
        .unwrap();
    let proof = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let response = post_token(&server, ("orders-service", "orders-secret"), &[proof]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims_of(&body)["cnf"]["jkt"],
        jwk_thumbprint(&jwk).unwrap()
    );
}

#[tokio::test]
async fn bound_tokens_introspect_as_dpop_and_discovery_lists_the_algorithms() {
    let server = server(DpopSettings::default()).await;
    let key = DpopKey::generate().unwrap();
    let proof = key
        .proof("POST", &server.token_url(), T0, None, None)
        .unwrap();
    let body: Value = post_token(&server, ("orders-service", "orders-secret"), &[proof])
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let introspection: Value = http()
        .post(server.introspection_url().unwrap())
        .header("authorization", basic("orders-service", "orders-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["token_type"], "DPoP");
    assert_eq!(introspection["cnf"], json!({"jkt": key.thumbprint()}));
    let metadata = get_json(&server.discovery_url()).await;
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["ES256", "RS256", "PS256", "EdDSA"])
    );
    // A vendor profile has DPoP off by default (I), and says nothing of it.
    let slb = MockAuthServer::builder()
        .profile(ccflow_auth_server::Profile::Slb)
        .demo_clients()
        .start()
        .await
        .unwrap();
    let metadata = get_json(&slb.discovery_url()).await;
    assert!(
        metadata.get("dpop_signing_alg_values_supported").is_none(),
        "{metadata}"
    );
}

#[tokio::test]
async fn the_admin_api_reads_and_replaces_the_dpop_settings() {
    use reqwest::Method;
    let server = server(DpopSettings::default()).await;
    let defaults = json!({
        "enabled": true, "require_nonce": false, "nonce_lifetime_secs": 300,
        "algorithms": ["ES256", "RS256", "PS256", "EdDSA"], "iat_window_secs": 60
    });
    assert_eq!(
        admin(&server, Method::GET, "/dpop", None).await,
        (200, defaults.clone())
    );
    let (status, body) = admin(
        &server,
        Method::PUT,
        "/dpop",
        Some(json!({"algorithms": ["HS256"]})),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_request")),
        "{body}"
    );
    assert_eq!(
        admin(&server, Method::GET, "/dpop", None).await,
        (200, defaults),
        "unchanged"
    );
    let (status, body) = admin(
        &server,
        Method::PUT,
        "/dpop",
        Some(json!({"require_nonce": true, "algorithms": ["ES256"]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["require_nonce"], true);
    assert_eq!(
        body["enabled"], true,
        "an omitted `enabled` keeps the state"
    );
    // Now a proof without nonce is challenged.
    let key = DpopKey::generate().unwrap();
    let proof = key
        .proof("POST", &server.token_url(), T0, None, None)
        .unwrap();
    let response = post_token(&server, ("orders-service", "orders-secret"), &[proof]).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().contains_key("dpop-nonce"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");
}

#[tokio::test]
async fn the_bad_proof_factory_makes_proofs_wrong_in_one_way() {
    use reqwest::Method;
    let server = server(DpopSettings::default()).await;
    let url = server.token_url();
    let factory = |defect: Option<&str>| {
        let mut spec = json!({"htm": "POST", "htu": url});
        if let Some(defect) = defect {
            spec["defect"] = json!(defect);
        }
        spec
    };
    // A good factory proof obtains a token bound to the factory key.
    let (status, made) = admin(&server, Method::POST, "/dpop/proof", Some(factory(None))).await;
    assert_eq!(status, 200, "{made}");
    let response = post_token(
        &server,
        ("orders-service", "orders-secret"),
        &[made["proof"].as_str().unwrap().to_owned()],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP", "{body}");
    assert_eq!(claims_of(&body)["cnf"]["jkt"], made["jkt"]);
    // Each defect is refused by the token endpoint's own check.
    for defect in [
        "wrong_htm",
        "wrong_htu",
        "stale_iat",
        "bad_signature",
        "wrong_typ",
    ] {
        let (status, made) = admin(
            &server,
            Method::POST,
            "/dpop/proof",
            Some(factory(Some(defect))),
        )
        .await;
        assert_eq!(status, 200, "{defect}: {made}");
        let response = post_token(
            &server,
            ("orders-service", "orders-secret"),
            &[made["proof"].as_str().unwrap().to_owned()],
        )
        .await;
        assert_eq!(response.status(), 400, "{defect}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{defect}: {body}");
    }
    // Replayed: the second proof repeats the first's jti.
    let jti = |proof: &Value| -> Value {
        let claims = proof["proof"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()["jti"]
            .clone()
    };
    let first = admin(
        &server,
        Method::POST,
        "/dpop/proof",
        Some(factory(Some("replayed_jti"))),
    )
    .await
    .1;
    let second = admin(
        &server,
        Method::POST,
        "/dpop/proof",
        Some(factory(Some("replayed_jti"))),
    )
    .await
    .1;
    assert_eq!(jti(&first), jti(&second));
    assert_ne!(
        jti(&first),
        jti(
            &admin(&server, Method::POST, "/dpop/proof", Some(factory(None)))
                .await
                .1
        )
    );
    // A bad spec is refused.
    let (status, body) = admin(
        &server,
        Method::POST,
        "/dpop/proof",
        Some(json!({"htu": "not a url"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_request"))
    );
}
