//! Token exchange (RFC 8693) on the `rfc` and `slb` profiles over real HTTP: one table of
//! exchanges that succeed (claims checked against the JWKS independently), one table of every
//! bad input with the RFC's error and no state change, and the profiles that do not offer it.

mod common;

use std::time::Duration;

use ccflow_auth_server::protocol::Profile;
use ccflow_auth_server::{Client, Defect, MockAuthServer, SigningKey};
use common::{T0, basic, builder, clock, form, http, post_form, token, verify};
use serde_json::{Value, json};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The `rfc` server of the other suites plus a gateway that exchanges other clients' tokens
/// and a service that acts for them.
async fn rfc_server() -> (MockAuthServer, ccflow_auth_server::ManualClock) {
    let clock = clock();
    let server = builder(&clock)
        .client(
            Client::new("gateway", "gateway-secret")
                .scopes(["gateway.call"])
                .audiences(["inventory-api", "orders-api"]),
        )
        .client(Client::new("actor-service", "actor-secret"))
        .start()
        .await
        .expect("server starts");
    (server, clock)
}

/// Where a case's subject or actor token comes from.
#[derive(Clone, Copy)]
enum Source {
    /// A client credentials token of this client (Basic, no parameters).
    Issued(&'static str, &'static str),
    /// A token of this client exchanged once already with `actor-service` as actor.
    Delegated(&'static str, &'static str),
}

async fn issued(server: &MockAuthServer, id: &str, secret: &str) -> String {
    token(server, id, secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn obtain(server: &MockAuthServer, source: Source) -> String {
    match source {
        Source::Issued(id, secret) => issued(server, id, secret).await,
        Source::Delegated(id, secret) => {
            let subject = issued(server, id, secret).await;
            let actor = issued(server, "actor-service", "actor-secret").await;
            let body = exchange(
                server,
                id,
                secret,
                &[
                    ("subject_token", &subject),
                    ("subject_token_type", ACCESS_TOKEN),
                    ("actor_token", &actor),
                    ("actor_token_type", ACCESS_TOKEN),
                ],
            )
            .await;
            assert_eq!(body.0, 200, "first exchange: {}", body.1);
            body.1["access_token"].as_str().unwrap().to_owned()
        }
    }
}

/// Posts a token exchange with Basic credentials; status and JSON body.
async fn exchange(
    server: &MockAuthServer,
    id: &str,
    secret: &str,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let mut pairs = vec![("grant_type", EXCHANGE)];
    pairs.extend_from_slice(params);
    let response = post_form(&server.token_url(), Some(&basic(id, secret)), form(&pairs)).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

/// One exchange that succeeds.
struct Success {
    name: &'static str,
    /// The requesting client.
    client: (&'static str, &'static str),
    subject: Source,
    actor: Option<Source>,
    /// Parameters besides grant type, tokens and their types.
    params: &'static [(&'static str, &'static str)],
    /// Seconds the clock moves between getting the subject token and exchanging it.
    wait: u64,
    body: Vec<(&'static str, Value)>,
    body_absent: &'static [&'static str],
    verify_for: &'static str,
    claims: Vec<(&'static str, Value)>,
    claims_absent: &'static [&'static str],
}

const ORDERS: (&str, &str) = ("orders-service", "orders-secret");
const GATEWAY: (&str, &str) = ("gateway", "gateway-secret");

const BASE: Success = Success {
    name: "",
    client: ORDERS,
    subject: Source::Issued("orders-service", "orders-secret"),
    actor: None,
    params: &[],
    wait: 0,
    body: Vec::new(),
    body_absent: &[],
    verify_for: "orders-api",
    claims: Vec::new(),
    claims_absent: &[],
};

fn successes() -> Vec<Success> {
    vec![
        Success {
            name: "a client exchanges its own token unchanged",
            body: vec![
                ("issued_token_type", json!(ACCESS_TOKEN)),
                ("token_type", json!("Bearer")),
                ("expires_in", json!(3600)),
                ("scope", json!("orders.read orders.write")),
            ],
            claims: vec![
                ("sub", json!("orders-service")),
                ("client_id", json!("orders-service")),
                ("aud", json!(["orders-api", "billing-api"])),
                ("scope", json!("orders.read orders.write")),
                ("exp", json!(T0 + 3600)),
            ],
            claims_absent: &["act"],
            ..BASE
        },
        Success {
            name: "scope narrows and resource re-targets",
            params: &[("scope", "orders.read"), ("resource", "billing-api")],
            body: vec![("scope", json!("orders.read"))],
            verify_for: "billing-api",
            claims: vec![
                ("aud", json!("billing-api")),
                ("scope", json!("orders.read")),
            ],
            ..BASE
        },
        Success {
            name: "resource and audience together, several targets",
            params: &[("resource", "orders-api"), ("audience", "billing-api")],
            claims: vec![("aud", json!(["orders-api", "billing-api"]))],
            ..BASE
        },
        // RFC 8693 §4.3: `client_id` names the requesting client; `sub` stays the subject's.
        // Without an actor token there is no `act` (impersonation, §1.1).
        Success {
            name: "another client exchanges for its own audience",
            client: GATEWAY,
            params: &[("resource", "inventory-api")],
            verify_for: "inventory-api",
            claims: vec![
                ("sub", json!("orders-service")),
                ("client_id", json!("gateway")),
                ("aud", json!("inventory-api")),
                ("scope", json!("orders.read orders.write")),
            ],
            claims_absent: &["act"],
            ..BASE
        },
        Success {
            name: "an actor token puts act into the token",
            client: GATEWAY,
            actor: Some(Source::Issued("actor-service", "actor-secret")),
            verify_for: "inventory-api",
            claims: vec![
                ("sub", json!("orders-service")),
                ("act", json!({"sub": "actor-service"})),
            ],
            ..BASE
        },
        // RFC 8693 §4.1: prior actors nest inside the current one.
        Success {
            name: "a second delegation nests the prior act",
            client: GATEWAY,
            subject: Source::Delegated("orders-service", "orders-secret"),
            actor: Some(Source::Issued("gateway", "gateway-secret")),
            verify_for: "inventory-api",
            claims: vec![
                ("sub", json!("orders-service")),
                (
                    "act",
                    json!({"sub": "gateway", "act": {"sub": "actor-service"}}),
                ),
            ],
            ..BASE
        },
        Success {
            name: "without an actor token a delegated token keeps its act",
            subject: Source::Delegated("orders-service", "orders-secret"),
            claims: vec![("act", json!({"sub": "actor-service"}))],
            ..BASE
        },
        Success {
            name: "requested_token_type jwt is echoed as issued_token_type",
            params: &[("requested_token_type", JWT)],
            body: vec![("issued_token_type", json!(JWT))],
            ..BASE
        },
        Success {
            name: "the new token does not outlive the subject token",
            wait: 1000,
            body: vec![("expires_in", json!(2600))],
            claims: vec![("exp", json!(T0 + 3600)), ("iat", json!(T0 + 1000))],
            ..BASE
        },
    ]
}

async fn check_success(
    server: &MockAuthServer,
    clock: &ccflow_auth_server::ManualClock,
    case: &Success,
) {
    let name = case.name;
    clock.set(std::time::UNIX_EPOCH + Duration::from_secs(T0));
    let subject = obtain(server, case.subject).await;
    let actor = match case.actor {
        Some(source) => Some(obtain(server, source).await),
        None => None,
    };
    clock.advance(Duration::from_secs(case.wait));
    let mut params = vec![
        ("subject_token", subject.as_str()),
        ("subject_token_type", ACCESS_TOKEN),
    ];
    if let Some(actor) = &actor {
        params.push(("actor_token", actor));
        params.push(("actor_token_type", JWT));
    }
    params.extend_from_slice(case.params);
    let (status, body) = exchange(server, case.client.0, case.client.1, &params).await;
    assert_eq!(status, 200, "{name}: {body}");
    for (member, expected) in &case.body {
        assert_eq!(
            &body[member], expected,
            "{name}: response {member} in {body}"
        );
    }
    for member in case.body_absent {
        assert!(body.get(member).is_none(), "{name}: response has {member}");
    }
    let (_, claims) = verify(
        server,
        body["access_token"].as_str().unwrap(),
        case.verify_for,
        T0 + case.wait,
    )
    .await;
    for (claim, expected) in &case.claims {
        assert_eq!(
            &claims[claim], expected,
            "{name}: claim {claim} in {claims}"
        );
    }
    for claim in case.claims_absent {
        assert!(claims.get(claim).is_none(), "{name}: token has {claim}");
    }
}

#[tokio::test]
async fn rfc_exchanges_that_succeed() {
    let (server, clock) = rfc_server().await;
    for case in successes() {
        check_success(&server, &clock, &case).await;
    }
    // The journal keeps the exchanges' parameters, never their tokens.
    let exchanged: Vec<_> = server
        .received_requests()
        .into_iter()
        .flat_map(|entry| entry.params)
        .filter(|(name, _)| name == "subject_token" || name == "actor_token")
        .collect();
    assert!(!exchanged.is_empty());
    assert!(
        exchanged.iter().all(|(_, value)| value == "[redacted]"),
        "{exchanged:?}"
    );
}

/// A subject (or actor) token a bad case sends.
#[derive(Clone, Copy)]
enum Bad {
    /// A valid token of orders-service.
    Valid,
    /// Not a JWT at all.
    Garbage,
    /// Signed by a key the server does not publish.
    ForeignKey,
    /// Expired on the server clock (the mint's defect).
    Expired,
    /// Issued, then revoked by its client.
    Revoked,
    /// `alg: none`.
    AlgNone,
    /// The signature stripped.
    Unsigned,
}

/// One exchange that must fail.
struct Failure {
    name: &'static str,
    subject: Option<Bad>,
    subject_type: Option<&'static str>,
    actor: Option<(Bad, Option<&'static str>)>,
    params: &'static [(&'static str, &'static str)],
    /// Basic credentials (id, secret); `None` sends none.
    client: Option<(&'static str, &'static str)>,
    status: u16,
    error: &'static str,
}

const FAIL: Failure = Failure {
    name: "",
    subject: Some(Bad::Valid),
    subject_type: Some(ACCESS_TOKEN),
    actor: None,
    params: &[],
    client: Some(ORDERS),
    status: 400,
    error: "invalid_request",
};

fn failures() -> Vec<Failure> {
    vec![
        Failure {
            name: "no subject_token",
            subject: None,
            ..FAIL
        },
        Failure {
            name: "no subject_token_type",
            subject_type: None,
            ..FAIL
        },
        Failure {
            name: "an id_token subject_token_type",
            subject_type: Some("urn:ietf:params:oauth:token-type:id_token"),
            ..FAIL
        },
        Failure {
            name: "a made-up subject_token_type",
            subject_type: Some("access_token"),
            ..FAIL
        },
        Failure {
            name: "a refresh_token requested_token_type",
            params: &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )],
            ..FAIL
        },
        Failure {
            name: "actor_token without actor_token_type",
            actor: Some((Bad::Valid, None)),
            ..FAIL
        },
        Failure {
            name: "actor_token_type without actor_token",
            params: &[("actor_token_type", ACCESS_TOKEN)],
            ..FAIL
        },
        Failure {
            name: "a saml2 actor_token_type",
            actor: Some((Bad::Valid, Some("urn:ietf:params:oauth:token-type:saml2"))),
            ..FAIL
        },
        Failure {
            name: "a subject_token that is no JWT",
            subject: Some(Bad::Garbage),
            ..FAIL
        },
        Failure {
            name: "a subject_token signed by a foreign key",
            subject: Some(Bad::ForeignKey),
            ..FAIL
        },
        Failure {
            name: "an expired subject_token",
            subject: Some(Bad::Expired),
            ..FAIL
        },
        Failure {
            name: "a revoked subject_token",
            subject: Some(Bad::Revoked),
            ..FAIL
        },
        Failure {
            name: "an alg none subject_token",
            subject: Some(Bad::AlgNone),
            ..FAIL
        },
        Failure {
            name: "an unsigned subject_token",
            subject: Some(Bad::Unsigned),
            ..FAIL
        },
        Failure {
            name: "an expired actor_token",
            actor: Some((Bad::Expired, Some(ACCESS_TOKEN))),
            ..FAIL
        },
        Failure {
            name: "a foreign actor_token",
            actor: Some((Bad::ForeignKey, Some(JWT))),
            ..FAIL
        },
        Failure {
            name: "a repeated subject_token",
            params: &[("subject_token", "x")],
            ..FAIL
        },
        Failure {
            name: "a scope the subject token does not carry",
            params: &[("scope", "orders.read orders.delete")],
            error: "invalid_scope",
            ..FAIL
        },
        Failure {
            name: "a resource off the client's allow-list",
            params: &[("resource", "inventory-api")],
            error: "invalid_target",
            ..FAIL
        },
        Failure {
            name: "an audience off the client's allow-list",
            params: &[("audience", "orders-api"), ("audience", "payroll-api")],
            error: "invalid_target",
            ..FAIL
        },
        Failure {
            name: "no client authentication",
            client: None,
            status: 401,
            error: "invalid_client",
            ..FAIL
        },
        Failure {
            name: "a wrong client secret",
            client: Some(("orders-service", "wrong")),
            status: 401,
            error: "invalid_client",
            ..FAIL
        },
    ]
}

async fn bad_token(server: &MockAuthServer, bad: Bad) -> String {
    let mint = || server.mint().client("orders-service");
    match bad {
        Bad::Valid => obtain(server, Source::Issued("orders-service", "orders-secret")).await,
        Bad::Garbage => "not-a-jwt".to_owned(),
        Bad::ForeignKey => mint().foreign_key().sign().unwrap(),
        Bad::Expired => mint().defect(Defect::Expired).sign().unwrap(),
        Bad::AlgNone => mint().defect(Defect::AlgNone).sign().unwrap(),
        Bad::Unsigned => mint().defect(Defect::StrippedSignature).sign().unwrap(),
        Bad::Revoked => {
            let token = obtain(server, Source::Issued("orders-service", "orders-secret")).await;
            let response = post_form(
                &server.revocation_url().unwrap(),
                Some(&basic("orders-service", "orders-secret")),
                form(&[("token", &token)]),
            )
            .await;
            assert_eq!(response.status(), 200, "revocation");
            token
        }
    }
}

async fn check_failure(server: &MockAuthServer, case: &Failure) {
    let name = case.name;
    let mut owned: Vec<(&str, String)> = Vec::new();
    if let Some(bad) = case.subject {
        owned.push(("subject_token", bad_token(server, bad).await));
    }
    if let Some(kind) = case.subject_type {
        owned.push(("subject_token_type", kind.to_owned()));
    }
    if let Some((bad, kind)) = case.actor {
        owned.push(("actor_token", bad_token(server, bad).await));
        if let Some(kind) = kind {
            owned.push(("actor_token_type", kind.to_owned()));
        }
    }
    let mut pairs = vec![("grant_type", EXCHANGE)];
    pairs.extend(owned.iter().map(|(name, value)| (*name, value.as_str())));
    pairs.extend_from_slice(case.params);
    let tokens_before = server.token_request_count();
    let authorization = case.client.map(|(id, secret)| basic(id, secret));
    let response = post_form(&server.token_url(), authorization.as_deref(), form(&pairs)).await;
    let status = response.status().as_u16();
    let cache_control = response.headers()["cache-control"].clone();
    let body: Value = response.json().await.expect("json body");
    assert_eq!(status, case.status, "{name}: status of {body}");
    assert_eq!(body["error"], case.error, "{name}: error in {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{name}: description in {body}"
    );
    assert!(
        body.get("access_token").is_none(),
        "{name}: a token in {body}"
    );
    assert_eq!(cache_control, "no-store", "{name}: cache-control");
    for (parameter, value) in &owned {
        if parameter.ends_with("_token") && value.len() > 20 {
            assert!(
                !body.to_string().contains(value.as_str()),
                "{name}: the error echoes a token"
            );
        }
    }
    assert_eq!(
        server.token_request_count(),
        tokens_before + 1,
        "{name}: journal"
    );
}

#[tokio::test]
async fn rfc_exchanges_that_fail_get_the_rfc_8693_error() {
    let (server, _clock) = rfc_server().await;
    for case in failures() {
        check_failure(&server, &case).await;
    }
}

#[tokio::test]
async fn a_failed_exchange_changes_nothing() {
    let (server, _clock) = rfc_server().await;
    let subject = obtain(&server, Source::Issued("orders-service", "orders-secret")).await;
    let (status, _) = exchange(
        &server,
        "orders-service",
        "orders-secret",
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("resource", "inventory-api"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    // The subject token is still active, and a good exchange of it still works.
    let introspection: Value = post_form(
        &server.introspection_url().unwrap(),
        Some(&basic("orders-service", "orders-secret")),
        form(&[("token", &subject)]),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(introspection["active"], true);
    let (status, body) = exchange(
        &server,
        "orders-service",
        "orders-secret",
        &[("subject_token", &subject), ("subject_token_type", JWT)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_subject_token_from_another_issuer_is_refused() {
    let (server, _clock) = rfc_server().await;
    let (other, _) = rfc_server().await;
    // The same key signs both (the fixture key), so only `iss` tells them apart.
    let foreign = obtain(&other, Source::Issued("orders-service", "orders-secret")).await;
    let (status, body) = exchange(
        &server,
        "orders-service",
        "orders-secret",
        &[
            ("subject_token", &foreign),
            ("subject_token_type", ACCESS_TOKEN),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

/// The claims of an SLB token (which has no `nbf`, so `common::verify` does not apply; the
/// `rfc` cases verify signatures independently).
fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn slb_server() -> MockAuthServer {
    MockAuthServer::builder()
        .profile(Profile::Slb)
        .signing_key(common::signing_key())
        .clock(clock())
        .service_audiences(["fwk-drillplan.slbservice.com"])
        .client(Client::new("app-a", "secret-a"))
        .client(Client::new("app-b", "secret-b"))
        .client(Client::new("narrow", "secret-n").audiences(["app-b"]))
        .start()
        .await
        .expect("server starts")
}

/// SLB's "secondary token exchange" adds audiences at `/v2/token`; what it cannot grant is
/// `invalid_target`.
#[tokio::test]
async fn slb_exchange_adds_audiences() {
    let server = slb_server().await;
    assert!(server.token_url().ends_with("/v2/token"));
    let subject = token(&server, "app-a", "secret-a", &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = exchange(
        &server,
        "app-a",
        "secret-a",
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("resource", "app-b"),
            ("audience", "fwk-drillplan.slbservice.com"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert!(body.get("scope").is_none(), "{body}");
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["aud"],
        json!(["app-a", "app-b", "fwk-drillplan.slbservice.com"])
    );
    assert_eq!(claims["sub"], "app-a");
    assert_eq!(claims["azp"], "app-a");

    // Another client exchanging app-a's token: `sub` stays, `azp` names the requester.
    let (status, body) = exchange(
        &server,
        "narrow",
        "secret-n",
        &[
            ("subject_token", &subject),
            ("subject_token_type", JWT),
            ("scope", "app-b"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        (&claims["sub"], &claims["azp"]),
        (&json!("app-a"), &json!("narrow"))
    );

    #[track_caller]
    fn check(case: &str, (status, body): (u16, Value), error: &str) {
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{case}: {body}"
        );
    }
    /// Name, requesting client, parameters, expected error.
    type Row<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Row<'_>; 4] = [
        (
            "unknown audience",
            "app-a",
            vec![("resource", "nobody")],
            "invalid_target",
        ),
        (
            "audience off the allow-list",
            "narrow",
            vec![("resource", "app-a")],
            "invalid_target",
        ),
        (
            "scope off the allow-list",
            "narrow",
            vec![("scope", "fwk-drillplan.slbservice.com")],
            "invalid_target",
        ),
        (
            "bad subject type",
            "app-a",
            vec![("subject_token_type", "urn:x")],
            "invalid_request",
        ),
    ];
    for (case, client, extra, error) in cases {
        let secret = if client == "app-a" {
            "secret-a"
        } else {
            "secret-n"
        };
        let mut params = vec![("subject_token", subject.as_str())];
        if !extra.iter().any(|(name, _)| *name == "subject_token_type") {
            params.push(("subject_token_type", ACCESS_TOKEN));
        }
        params.extend(extra);
        check(
            case,
            exchange(&server, client, secret, &params).await,
            error,
        );
    }
}

/// The grant type is advertised exactly where it is served; elsewhere it is
/// `unsupported_grant_type`, in the vendor's words.
#[tokio::test]
async fn discovery_lists_token_exchange_only_where_it_is_served() {
    for profile in [
        Profile::Rfc,
        Profile::Slb,
        Profile::Cloudentity,
        Profile::CyberArk,
        Profile::UserClouds,
    ] {
        let key = match profile {
            Profile::Cloudentity => "keys/es256-1.pem",
            _ => "keys/rs256-1.pem",
        };
        let server = MockAuthServer::builder()
            .profile(profile)
            .signing_key(SigningKey::from_pem(&common::fixture(key)).unwrap())
            .client(Client::new("svc", "svc-secret"))
            .start()
            .await
            .expect("server starts");
        let metadata: Value = http()
            .get(server.discovery_url())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let served = matches!(profile, Profile::Rfc | Profile::Slb);
        let listed = metadata["grant_types_supported"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == EXCHANGE));
        assert_eq!(listed, served, "{profile:?}: {metadata}");
        if !served {
            let (status, body) = exchange(
                &server,
                "svc",
                "svc-secret",
                &[("subject_token", "x"), ("subject_token_type", ACCESS_TOKEN)],
            )
            .await;
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("unsupported_grant_type")),
                "{profile:?}: {body}"
            );
        }
    }
}

/// A refused exchange by a `private_key_jwt` client leaves its assertion unused: the same
/// assertion then authenticates a good exchange.
#[tokio::test]
async fn a_refused_exchange_does_not_consume_the_client_assertion() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let (server, _clock) = rfc_server().await;
    let key =
        EncodingKey::from_rsa_pem(common::fixture("keys/client-rs256.pem").as_bytes()).unwrap();
    let claims = json!({
        "iss": "jwt-client", "sub": "jwt-client", "aud": server.token_url(),
        "iat": T0, "exp": T0 + 60, "jti": "exchange-jti",
    });
    let assertion = encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    let subject = issued(&server, "orders-service", "orders-secret").await;
    let url = server.token_url();
    let post = |extra: (&'static str, &'static str)| {
        let pairs = vec![
            ("grant_type", EXCHANGE),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
            ("subject_token", subject.as_str()),
            ("subject_token_type", ACCESS_TOKEN),
            extra,
        ];
        post_form(&url, None, form(&pairs))
    };
    let refused = post(("resource", "payroll-api")).await;
    assert_eq!(refused.status(), 400);
    let accepted = post(("scope", "orders.read")).await;
    let status = accepted.status();
    let body: Value = accepted.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(
        (&claims["sub"], &claims["client_id"]),
        (&json!("orders-service"), &json!("jwt-client"))
    );
    // Now it is used: a replay is refused.
    let replayed = post(("scope", "orders.read")).await;
    assert_eq!(replayed.status(), 401);
}
