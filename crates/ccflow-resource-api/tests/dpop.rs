//! DPoP at the sample API (RFC 9449 §7): every way a DPoP request can be wrong, through the
//! validator, in one table run through the actix sample API and the same routes on axum (their
//! refusals compared whole); and the whole chain over real sockets: the mock auth server binds
//! the token, the SDK's `AuthorizedClient` (with `.dpop`) sends it with proofs, the API checks
//! them, nonce challenge included.

mod common;

use std::net::TcpListener;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpServer, test};
use ccflow_auth_server::{Client, MockAuthServer};
use ccflow_client::{AuthorizedClient, TokenClient};
use ccflow_protocol::dpop::{DpopKey, access_token_hash};
use ccflow_resource_api::sample_api::{self, SampleApi};
use ccflow_resource_api::{TokenBinding, Validator};
use common::{AUDIENCE, ISSUER, JWKS_PATH, T0, claims_with, clock, key_1, token_with_claims};
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const HOST: &str = "api.test";
const WHOAMI: &str = "/v1/whoami";
const DPOP_WHOAMI: &str = "/v1/dpop/whoami";

/// The keys and tokens of one case: `token` is bound to `key`.
struct Fixture {
    key: DpopKey,
    other: DpopKey,
    token: String,
    unbound: String,
}

impl Fixture {
    fn new() -> Self {
        let key = DpopKey::generate().unwrap();
        let token = token_with_claims(
            &key_1(),
            &claims_with(&json!({"cnf": {"jkt": key.thumbprint()}})),
        );
        Self {
            key,
            other: DpopKey::generate().unwrap(),
            token,
            unbound: common::token(&key_1()),
        }
    }

    /// A proof for `GET http://api.test{path}` at `T0` with the bound token's `ath`, changed by
    /// `change` (claims, header), signed by `key`.
    fn proof_by(
        &self,
        key: &DpopKey,
        path: &str,
        change: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
    ) -> String {
        let mut claims = Map::new();
        claims.insert("jti".into(), json!(format!("jti-{}", rand_suffix())));
        claims.insert("htm".into(), json!("GET"));
        claims.insert("htu".into(), json!(format!("http://{HOST}{path}")));
        claims.insert("iat".into(), json!(T0));
        claims.insert("ath".into(), json!(access_token_hash(&self.token)));
        let mut header = key.proof_header();
        change(&mut claims, &mut header);
        key.sign(&header, &Value::Object(claims)).unwrap()
    }

    fn proof(
        &self,
        path: &str,
        change: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
    ) -> String {
        self.proof_by(&self.key, path, change)
    }

    fn dpop(&self, path: &str) -> Headers {
        dpop_headers(&self.token, &[self.proof(path, |_, _| {})])
    }
}

fn rand_suffix() -> String {
    DpopKey::generate().unwrap().thumbprint()[..12].to_owned()
}

type Headers = Vec<(&'static str, String)>;

fn dpop_headers(token: &str, proofs: &[String]) -> Headers {
    let mut headers = vec![("authorization", format!("DPoP {token}"))];
    headers.extend(proofs.iter().map(|proof| ("dpop", proof.clone())));
    headers
}

/// What an answer is compared on.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    /// The `error` of the body (`-` when none).
    error: String,
    /// Every `WWW-Authenticate`, reduced to its scheme and `error` (`DPoP use_dpop_nonce`).
    challenges: Vec<String>,
    /// Whether a `DPoP-Nonce` came.
    nonce: bool,
}

struct Case {
    name: &'static str,
    route: &'static str,
    /// The request's headers (besides `Host`).
    headers: fn(&Fixture) -> Headers,
    /// How many times the same request is sent before the one compared.
    sent_before: usize,
    /// The API requires nonces.
    require_nonce: bool,
    public_url: Option<&'static str>,
    /// Status, body `error`, challenges, a fragment of `error_description`.
    expected: (u16, &'static str, &'static [&'static str], &'static str),
}

const CASE: Case = Case {
    name: "",
    route: WHOAMI,
    headers: |fixture| fixture.dpop(WHOAMI),
    sent_before: 0,
    require_nonce: false,
    public_url: None,
    expected: (200, "-", &[], ""),
};

const PROOF: &str = "DPoP invalid_dpop_proof";
const TOKEN: &str = "DPoP invalid_token";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a valid proof with its bound token passes (RFC 9449 §7.1)",
            ..CASE
        },
        Case {
            name: "a DPoP-only route takes a valid DPoP request",
            route: DPOP_WHOAMI,
            headers: |fixture| fixture.dpop(DPOP_WHOAMI),
            ..CASE
        },
        Case {
            name: "wrong htm (§4.3 check 8)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("htm".into(), json!("POST"));
                    })],
                )
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "htm does not match the request method GET",
            ),
            ..CASE
        },
        Case {
            name: "wrong htu (§4.3 check 9)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("htu".into(), json!("http://api.test/v1/items"));
                    })],
                )
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "htu does not match the request URL http://api.test/v1/whoami",
            ),
            ..CASE
        },
        Case {
            name: "a query or fragment in htu is ignored (§4.3 check 9)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("htu".into(), json!("HTTP://API.TEST:80/v1/whoami?x=1#y"));
                    })],
                )
            },
            ..CASE
        },
        Case {
            name: "stale iat (§4.3 check 11)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("iat".into(), json!(T0 - 61));
                    })],
                )
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "iat is more than 60 seconds",
            ),
            ..CASE
        },
        Case {
            name: "iat from the future (§4.3 check 11)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("iat".into(), json!(T0 + 61));
                    })],
                )
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "iat is more than 60 seconds",
            ),
            ..CASE
        },
        Case {
            name: "replayed jti (§11.1)",
            sent_before: 1,
            expected: (401, "invalid_dpop_proof", &[PROOF], "already used"),
            ..CASE
        },
        Case {
            name: "key mismatch: the proof's key is not the token's cnf.jkt (§7.1)",
            headers: |f| dpop_headers(&f.token, &[f.proof_by(&f.other, WHOAMI, |_, _| {})]),
            expected: (
                401,
                "invalid_token",
                &[TOKEN],
                "not the key the token is bound to",
            ),
            ..CASE
        },
        Case {
            name: "missing ath (§4.3 check 12)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.remove("ath");
                    })],
                )
            },
            expected: (401, "invalid_dpop_proof", &[PROOF], "no ath claim"),
            ..CASE
        },
        Case {
            name: "ath of another token (§4.3 check 12)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("ath".into(), json!(access_token_hash("other")));
                    })],
                )
            },
            expected: (401, "invalid_dpop_proof", &[PROOF], "ath does not match"),
            ..CASE
        },
        Case {
            name: "a bound token as Bearer (§7.2)",
            headers: |f| vec![("authorization", format!("Bearer {}", f.token))],
            expected: (
                401,
                "invalid_token",
                &["Bearer invalid_token", "DPoP -"],
                "the token is DPoP-bound",
            ),
            ..CASE
        },
        Case {
            name: "a bound token as Bearer, with its proof beside it (§7.2)",
            headers: |f| {
                let mut headers = f.dpop(WHOAMI);
                headers[0].1 = format!("Bearer {}", f.token);
                headers
            },
            expected: (
                401,
                "invalid_token",
                &["Bearer invalid_token", "DPoP -"],
                "the token is DPoP-bound",
            ),
            ..CASE
        },
        Case {
            name: "an unbound token with the DPoP scheme (§7.1)",
            headers: |f| {
                let proof = f.proof(WHOAMI, |c, _| {
                    c.insert("ath".into(), json!(access_token_hash(&f.unbound)));
                });
                dpop_headers(&f.unbound, &[proof])
            },
            expected: (401, "invalid_token", &[TOKEN], "not DPoP-bound"),
            ..CASE
        },
        Case {
            name: "the DPoP scheme without a proof (§7.1)",
            headers: |f| dpop_headers(&f.token, &[]),
            expected: (401, "invalid_dpop_proof", &[PROOF], "no DPoP proof header"),
            ..CASE
        },
        Case {
            name: "two proofs (§4.3 check 1)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |_, _| {}), f.proof(WHOAMI, |_, _| {})],
                )
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "more than one DPoP header",
            ),
            ..CASE
        },
        Case {
            name: "typ other than dpop+jwt (§4.3 check 4)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |_, h| {
                        h.insert("typ".into(), json!("JWT"));
                    })],
                )
            },
            expected: (401, "invalid_dpop_proof", &[PROOF], "typ must be dpop+jwt"),
            ..CASE
        },
        Case {
            name: "a MAC alg (§4.3 check 5)",
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |_, h| {
                        h.insert("alg".into(), json!("HS256"));
                    })],
                )
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "alg is not one of the accepted algorithms",
            ),
            ..CASE
        },
        Case {
            name: "a signature by another key than the embedded jwk (§4.3 check 7)",
            headers: |f| {
                let jwk = serde_json::to_value(f.other.public_jwk()).unwrap();
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |_, h| {
                        h.insert("jwk".into(), jwk);
                    })],
                )
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "signature does not verify",
            ),
            ..CASE
        },
        Case {
            name: "a Bearer token on the DPoP-only route (§7.1)",
            route: DPOP_WHOAMI,
            headers: |f| vec![("authorization", format!("Bearer {}", f.unbound))],
            expected: (
                401,
                "invalid_token",
                &[TOKEN],
                "accepts only DPoP-bound tokens",
            ),
            ..CASE
        },
        Case {
            name: "no credentials where either scheme is accepted: both challenges (§7.1)",
            headers: |_| vec![],
            expected: (401, "-", &["Bearer -", "DPoP -"], ""),
            ..CASE
        },
        Case {
            name: "no credentials on the DPoP-only route: the DPoP challenge",
            route: DPOP_WHOAMI,
            headers: |_| vec![],
            expected: (401, "-", &["DPoP -"], ""),
            ..CASE
        },
        Case {
            name: "a required nonce missing: use_dpop_nonce with a nonce (§9)",
            require_nonce: true,
            expected: (
                401,
                "use_dpop_nonce",
                &["DPoP use_dpop_nonce"],
                "requires a DPoP nonce",
            ),
            ..CASE
        },
        Case {
            name: "a nonce the API did not issue (§9)",
            require_nonce: true,
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("nonce".into(), json!(format!("{T0}.AAAA")));
                    })],
                )
            },
            expected: (
                401,
                "use_dpop_nonce",
                &["DPoP use_dpop_nonce"],
                "not one this API issued",
            ),
            ..CASE
        },
        Case {
            name: "behind a proxy, htu names the public URL (§4.3 check 9)",
            public_url: Some("https://api.example.com/gw/"),
            headers: |f| {
                dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("htu".into(), json!("https://api.example.com/gw/v1/whoami"));
                    })],
                )
            },
            ..CASE
        },
        Case {
            name: "behind a proxy, the URL the request arrived at is not the public one",
            public_url: Some("https://api.example.com/gw"),
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "htu does not match the request URL https://api.example.com/gw/v1/whoami",
            ),
            ..CASE
        },
        Case {
            name: "X-Forwarded-Host is not trusted for htu",
            headers: |f| {
                let mut headers = dpop_headers(
                    &f.token,
                    &[f.proof(WHOAMI, |c, _| {
                        c.insert("htu".into(), json!("http://evil.test/v1/whoami"));
                    })],
                );
                headers.push(("x-forwarded-host", "evil.test".to_owned()));
                headers.push(("forwarded", "host=evil.test".to_owned()));
                headers
            },
            expected: (
                401,
                "invalid_dpop_proof",
                &[PROOF],
                "http://api.test/v1/whoami",
            ),
            ..CASE
        },
    ]
}

async fn validator_for_case(case: &Case) -> (Validator, wiremock::MockServer) {
    let jwks = common::mock_server().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(common::jwks_body(&[&key_1()])))
        .mount(&jwks)
        .await;
    let mut builder = Validator::builder()
        .issuer(ISSUER)
        .jwks_url(common::jwks_url(&jwks))
        .audience(AUDIENCE)
        .clock(clock())
        .token_binding(TokenBinding::Either)
        .dpop_require_nonce(case.require_nonce);
    if let Some(url) = case.public_url {
        builder = builder.public_url(url);
    }
    (builder.build().unwrap(), jwks)
}

/// The adapters the table runs through: the sample API on actix, and the same routes on axum
/// (`common::axum_app`), each with a validator of its own (a replay cache of its own).
#[derive(Debug, Clone, Copy)]
enum Adapter {
    Actix,
    #[cfg(feature = "axum")]
    Axum,
}

const ADAPTERS: &[Adapter] = &[
    Adapter::Actix,
    #[cfg(feature = "axum")]
    Adapter::Axum,
];

/// A reply whole: status, every `WWW-Authenticate`, whether a `DPoP-Nonce` came (its value is
/// each validator's own), the body bytes.
type Reply = (u16, Vec<String>, bool, Vec<u8>);

/// `GET route` with `Host: api.test` and `headers`, through `adapter`.
async fn send_through(
    adapter: Adapter,
    validator: &Validator,
    route: &str,
    headers: &Headers,
) -> Reply {
    match adapter {
        Adapter::Actix => {
            let api = SampleApi::new(validator.clone());
            let app = test::init_service(App::new().configure(sample_api::configure(api))).await;
            let mut request = test::TestRequest::get()
                .uri(route)
                .insert_header(("host", HOST));
            for (name, value) in headers {
                request = request.append_header((
                    HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                ));
            }
            let response = test::call_service(&app, request.to_request()).await;
            let status = response.status().as_u16();
            let challenges = response
                .headers()
                .get_all("www-authenticate")
                .map(|value| value.to_str().unwrap().to_owned())
                .collect();
            let nonce = response.headers().contains_key("dpop-nonce");
            let body = test::read_body(response).await.to_vec();
            (status, challenges, nonce, body)
        }
        #[cfg(feature = "axum")]
        Adapter::Axum => {
            let mut request = http::Request::get(route).header("host", HOST);
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let request = request.body(axum::body::Body::empty()).unwrap();
            let (status, response_headers, body) = common::axum_app::send(validator, request).await;
            let challenges = response_headers
                .get_all("www-authenticate")
                .iter()
                .map(|value| value.to_str().unwrap().to_owned())
                .collect();
            let nonce = response_headers.contains_key("dpop-nonce");
            (status, challenges, nonce, body)
        }
    }
}

async fn send(
    adapter: Adapter,
    validator: &Validator,
    route: &str,
    headers: &Headers,
) -> (Answer, String, Reply) {
    let reply = send_through(adapter, validator, route, headers).await;
    let (status, raw_challenges, nonce, bytes) = &reply;
    let status = *status;
    let nonce = *nonce;
    let challenges = raw_challenges
        .iter()
        .map(|value| {
            let value = value.as_str();
            let scheme = value.split(' ').next().unwrap_or_default();
            let error = ccflow_protocol::BearerChallenge::parse_scheme(value, scheme)
                .and_then(|challenge| challenge.error)
                .map_or_else(|| "-".to_owned(), |code| code.as_str().to_owned());
            if scheme == "DPoP" {
                assert!(
                    value.contains(r#"algs="ES256 RS256 PS256 EdDSA""#),
                    "{value}"
                );
            }
            format!("{scheme} {error}")
        })
        .collect();
    let body: Value = serde_json::from_slice(bytes).unwrap();
    let error = body["error"].as_str().unwrap_or("-").to_owned();
    let description = body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let answer = Answer {
        status,
        error,
        challenges,
        nonce,
    };
    (answer, description, reply)
}

#[track_caller]
fn check(case: &Case, adapter: Adapter, answer: &Answer, description: &str) {
    let (status, error, challenges, fragment) = case.expected;
    let expected = Answer {
        status,
        error: error.to_owned(),
        challenges: challenges.iter().map(|c| (*c).to_owned()).collect(),
        // A nonce comes with DPoP challenges exactly when the API requires them.
        nonce: case.require_nonce && challenges.iter().any(|c| c.starts_with("DPoP")),
    };
    assert_eq!(answer, &expected, "{}, {adapter:?}", case.name);
    assert!(
        description.contains(fragment),
        "{}, {adapter:?}: {description:?} lacks {fragment:?}",
        case.name
    );
}

#[actix_web::test]
async fn every_dpop_rule_is_enforced_by_the_validator() {
    for case in cases() {
        let fixture = Fixture::new();
        let headers = (case.headers)(&fixture);
        let mut refusals: Vec<(Adapter, Reply)> = Vec::new();
        for &adapter in ADAPTERS {
            let (validator, _jwks) = validator_for_case(&case).await;
            for _ in 0..case.sent_before {
                let (first, _, _) = send(adapter, &validator, case.route, &headers).await;
                assert_eq!(
                    first.status, 200,
                    "{}, {adapter:?}: the first send",
                    case.name
                );
            }
            let (answer, description, reply) =
                send(adapter, &validator, case.route, &headers).await;
            check(&case, adapter, &answer, &description);
            if answer.status != 200 {
                refusals.push((adapter, reply));
            }
        }
        // Both adapters translate the same refusal: the same status, challenges and body.
        if let [(first, expected), rest @ ..] = &refusals[..] {
            for (adapter, reply) in rest {
                assert_eq!(
                    reply, expected,
                    "{}: {first:?} and {adapter:?} differ",
                    case.name
                );
            }
        }
    }
}

/// The sample API on a real port, stopped when dropped.
struct Api {
    url: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Api {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn start_api(validator: Validator) -> Api {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = SampleApi::new(validator);
    let server = HttpServer::new(move || App::new().configure(sample_api::configure(api.clone())))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Api { url, handle }
}

/// Auth server ↔ SDK ↔ validator over real HTTP: the token is bound to the SDK's key, every API
/// call carries a fresh proof, and an API that requires nonces is answered after one retry.
#[tokio::test]
async fn the_sdk_calls_the_api_with_dpop_bound_tokens_over_http() {
    let auth = MockAuthServer::builder()
        .client(
            Client::new("writer", "writer-secret")
                .scopes(["items:read"])
                .audiences([AUDIENCE]),
        )
        .start()
        .await
        .unwrap();
    for require_nonce in [false, true] {
        let validator = Validator::builder()
            .issuer(auth.issuer())
            .audience(AUDIENCE)
            .token_binding(TokenBinding::Either)
            .dpop_require_nonce(require_nonce)
            .build()
            .unwrap();
        let api = start_api(validator);
        let key = DpopKey::generate().unwrap();
        let jkt = key.thumbprint().to_owned();
        let tokens = TokenClient::builder()
            .token_url(auth.token_url())
            .credentials("writer", "writer-secret")
            .dpop(key)
            .build()
            .unwrap();
        let client = AuthorizedClient::new(tokens);
        for (route, calls) in [(DPOP_WHOAMI, 2), ("/v1/items", 1)] {
            for _ in 0..calls {
                let response = client
                    .send(client.get(format!("{}{route}", api.url)))
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{route}, nonce {require_nonce}");
                if route == DPOP_WHOAMI {
                    let body: Value = response.json().await.unwrap();
                    assert_eq!(body["jkt"], json!(jkt));
                    assert_eq!(body["token_type"], "DPoP");
                }
            }
        }
        // Raw: the bound token without its proof is refused (RFC 9449 §7.2).
        let token = client.token_client().token().await.unwrap();
        assert!(token.is_dpop_bound());
        let refused = reqwest::Client::new()
            .get(format!("{}{WHOAMI}", api.url))
            .bearer_auth(token.secret())
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
}
