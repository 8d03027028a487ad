//! Certificate-bound access tokens at the validator (RFC 8705 §3): every rule in one table, run
//! through the actix sample API and the same routes on axum, their refusals compared whole.
//! Tokens are signed with the fixture key and carry `cnf["x5t#S256"]`; the client certificates
//! are made here with rcgen. A case's certificate reaches the validator as the server would
//! hand it over: actix from the connection (or, in process, the request's extensions), axum
//! from the request's extensions; behind a proxy, in a header from a peer address the
//! validator trusts (or not): actix's peer address, axum's `ConnectInfo<SocketAddr>`.
//! tests/nginx.rs runs the proxy mode behind a real nginx.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage as _, test};
use ccflow_protocol::dpop::{DpopKey, access_token_hash};
use ccflow_protocol::mtls::{CNF_X5T_S256, ClientCertificate};
use ccflow_resource_api::sample_api::{self, SampleApi};
use ccflow_resource_api::{ForwardedCertificateFormat, IpNetwork, TokenBinding, Validator};
use common::{AUDIENCE, ISSUER, JWKS_PATH, T0, claims_with, clock, key_1, token_with_claims};
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const HOST: &str = "api.test";
const WHOAMI: &str = "/v1/whoami";
const ITEMS: &str = "/v1/items";
const DPOP_WHOAMI: &str = "/v1/dpop/whoami";

/// A client certificate made for this run: its DER (as `ClientCertificate`) and its PEM.
struct Certificate {
    certificate: ClientCertificate,
    pem: String,
}

impl Certificate {
    fn new(name: &str) -> Self {
        let (certificate, pem, _) = common::self_signed_certificate(name);
        Self { certificate, pem }
    }

    /// The PEM as nginx's `$ssl_client_escaped_cert` writes it.
    fn escaped(&self) -> String {
        common::nginx_escaped(&self.pem)
    }

    /// The hex SHA-256 of the DER, as an XFCC element's `Hash`.
    fn hash(&self) -> String {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.certificate.der())
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    fn thumbprint(&self) -> &str {
        self.certificate.thumbprint()
    }
}

/// Two clients' certificates, made once per test binary.
static A: LazyLock<Certificate> = LazyLock::new(|| Certificate::new("client-a"));
static B: LazyLock<Certificate> = LazyLock::new(|| Certificate::new("client-b"));

/// The DPoP key of the cases that bind a token both ways.
static DPOP_KEY: LazyLock<DpopKey> = LazyLock::new(|| DpopKey::generate().unwrap());

/// A token bound by `cnf`.
fn token_with_cnf(cnf: &Value) -> String {
    token_with_claims(&key_1(), &claims_with(&json!({ "cnf": cnf })))
}

fn bound_to(certificate: &Certificate) -> String {
    token_with_cnf(&json!({ CNF_X5T_S256: certificate.thumbprint() }))
}

/// The SHA-256 of the certificate in standard base64 with padding: the encoding §3.1 does not use.
fn standard_base64_thumbprint(certificate: &Certificate) -> String {
    use base64::Engine as _;
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, certificate.certificate.der());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn swap_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn unbound() -> String {
    common::token(&key_1())
}

/// A token bound to `DPOP_KEY` and to certificate A.
fn bound_both_ways() -> String {
    token_with_cnf(&json!({ "jkt": DPOP_KEY.thumbprint(), CNF_X5T_S256: A.thumbprint() }))
}

/// A proof of `DPOP_KEY` for `GET http://api.test{route}` with `token`'s `ath`.
fn proof(route: &str, token: &str) -> String {
    let mut claims = Map::new();
    let jti = DpopKey::generate().unwrap().thumbprint()[..16].to_owned();
    claims.insert("jti".into(), json!(jti));
    claims.insert("htm".into(), json!("GET"));
    claims.insert("htu".into(), json!(format!("http://{HOST}{route}")));
    claims.insert("iat".into(), json!(T0));
    claims.insert("ath".into(), json!(access_token_hash(token)));
    DPOP_KEY
        .sign(&DPOP_KEY.proof_header(), &Value::Object(claims))
        .unwrap()
}

type Headers = Vec<(&'static str, String)>;

fn bearer(token: &str) -> Headers {
    vec![("authorization", format!("Bearer {token}"))]
}

/// A Bearer token and the proxy's certificate header.
fn bearer_with(token: &str, header: &'static str, value: String) -> Headers {
    let mut headers = bearer(token);
    headers.push((header, value));
    headers
}

const PEM_HEADER: &str = "x-ssl-client-cert";
const XFCC_HEADER: &str = "x-forwarded-client-cert";

fn dpop(route: &str, token: &str) -> Headers {
    vec![
        ("authorization", format!("DPoP {token}")),
        ("dpop", proof(route, token)),
    ]
}

/// Which certificate the request's TLS connection presented.
#[derive(Debug, Clone, Copy)]
enum Presented {
    None,
    A,
    B,
}

impl Presented {
    fn certificate(self) -> Option<ClientCertificate> {
        match self {
            Presented::None => None,
            Presented::A => Some(A.certificate.clone()),
            Presented::B => Some(B.certificate.clone()),
        }
    }
}

/// Which header the validator reads from its trusted proxies (10.0.0.0/8).
#[derive(Debug, Clone, Copy)]
enum Proxy {
    /// `X-SSL-Client-Cert`, a URL-encoded PEM (nginx).
    Pem,
    /// `X-Forwarded-Client-Cert` (Envoy).
    Xfcc,
}

struct Case {
    /// The rule, naming its section.
    name: &'static str,
    route: &'static str,
    headers: fn(&'static str) -> Headers,
    presented: Presented,
    /// The TCP peer's address (actix's `peer_addr`, axum's `ConnectInfo<SocketAddr>`).
    peer: &'static str,
    proxy: Proxy,
    expected: Expected,
}

/// A peer no validator here trusts.
const CLIENT: &str = "192.0.2.10";
/// A peer in the trusted 10.0.0.0/8.
const PROXY: &str = "10.0.0.5";

/// Status, the body's `error` (`-` for none), every `WWW-Authenticate` exactly, and for a 200
/// the `/v1/whoami` client.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    status: u16,
    error: &'static str,
    challenges: Vec<String>,
}

const ALGS: &str = r#"algs="ES256 RS256 PS256 EdDSA""#;
const MISSING: &str = "the token is certificate-bound (cnf x5t#S256) and the request presented no client certificate: send it over mutual TLS with the certificate it is bound to (RFC 8705 section 3)";
const UNREADABLE: &str = "the token is certificate-bound (cnf x5t#S256) and the client certificate forwarded by the TLS-terminating proxy cannot be read (RFC 8705 section 3)";
const MISMATCH: &str = "the client certificate presented does not match the certificate the token is bound to (cnf x5t#S256; RFC 8705 section 3)";
const DPOP_AS_BEARER: &str = "the token is DPoP-bound (cnf.jkt): send it as `Authorization: DPoP` with a DPoP proof (RFC 9449 section 7.2)";
const NOT_DPOP_BOUND: &str = "the token is not DPoP-bound (no cnf.jkt claim) and cannot be sent with the DPoP scheme (RFC 9449 section 7.1)";
const DPOP_REQUIRED: &str = "this resource accepts only DPoP-bound tokens, sent as `Authorization: DPoP` with a DPoP proof (RFC 9449 section 7.1)";

/// 401 `invalid_token` in the Bearer scheme.
fn bearer_invalid(description: &str) -> Expected {
    Expected {
        status: 401,
        error: "invalid_token",
        challenges: vec![format!(
            r#"Bearer realm="ccflow", error="invalid_token", error_description="{description}""#
        )],
    }
}

/// 401 `invalid_token` in the DPoP scheme.
fn dpop_invalid(description: &str) -> Expected {
    Expected {
        status: 401,
        error: "invalid_token",
        challenges: vec![format!(
            r#"DPoP realm="ccflow", error="invalid_token", error_description="{description}", {ALGS}"#
        )],
    }
}

const CASE: Case = Case {
    name: "",
    route: WHOAMI,
    headers: |_| bearer(&bound_to(&A)),
    presented: Presented::A,
    peer: CLIENT,
    proxy: Proxy::Pem,
    expected: Expected {
        status: 200,
        error: "-",
        challenges: Vec::new(),
    },
};

/// Each RFC 8705 §3 rule (and how it meets RFC 9449's) as a row.
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "§3: a bound token with the certificate it is bound to passes (extractor)",
            ..CASE
        },
        Case {
            name: "§3: a bound token with the certificate it is bound to passes (scope middleware)",
            route: ITEMS,
            ..CASE
        },
        Case {
            name: "§3: a bound token without a client certificate is refused, 401 invalid_token",
            presented: Presented::None,
            expected: bearer_invalid(MISSING),
            ..CASE
        },
        Case {
            name: "§3: the middleware refuses it the same",
            route: ITEMS,
            presented: Presented::None,
            expected: bearer_invalid(MISSING),
            ..CASE
        },
        Case {
            name: "§3: a bound token with another certificate is refused, 401 invalid_token",
            presented: Presented::B,
            expected: bearer_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "§3: the middleware refuses another certificate the same",
            route: ITEMS,
            presented: Presented::B,
            expected: bearer_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "§3: the token bound to B passes with B",
            headers: |_| bearer(&bound_to(&B)),
            presented: Presented::B,
            ..CASE
        },
        Case {
            name: "§3.1: the thumbprint is base64url without padding: standard base64 is another value",
            headers: |_| {
                bearer(&token_with_cnf(
                    &json!({ CNF_X5T_S256: standard_base64_thumbprint(&A) }),
                ))
            },
            expected: bearer_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "§3.1: the thumbprint is compared exactly: another case is another value",
            headers: |_| {
                bearer(&token_with_cnf(
                    &json!({ CNF_X5T_S256: swap_case(A.thumbprint()) }),
                ))
            },
            expected: bearer_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "§3.1: a thumbprint that is not a string binds to no certificate",
            headers: |_| bearer(&token_with_cnf(&json!({ CNF_X5T_S256: 42 }))),
            expected: bearer_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "§3.1: a non-string thumbprint without a certificate is still certificate-bound",
            headers: |_| bearer(&token_with_cnf(&json!({ CNF_X5T_S256: null }))),
            presented: Presented::None,
            expected: bearer_invalid(MISSING),
            ..CASE
        },
        Case {
            name: "§3: an unbound token passes with a client certificate (the certificate binds nothing)",
            headers: |_| bearer(&unbound()),
            ..CASE
        },
        Case {
            name: "§3: an unbound token passes without one, as before",
            headers: |_| bearer(&unbound()),
            presented: Presented::None,
            ..CASE
        },
        Case {
            name: "§3: a cnf with other members only is not certificate-bound",
            headers: |_| bearer(&token_with_cnf(&json!({ "x5t": A.thumbprint() }))),
            presented: Presented::None,
            ..CASE
        },
        Case {
            name: "RFC 9449 §7.1 + RFC 8705 §3: a token bound both ways passes with its proof and certificate",
            headers: |route| dpop(route, &bound_both_ways()),
            ..CASE
        },
        Case {
            name: "RFC 9449 §7.1 + RFC 8705 §3: ... on the DPoP-only route too",
            route: DPOP_WHOAMI,
            headers: |route| dpop(route, &bound_both_ways()),
            ..CASE
        },
        Case {
            name: "RFC 8705 §3: a token bound both ways with its proof but no certificate is refused in the DPoP scheme",
            headers: |route| dpop(route, &bound_both_ways()),
            presented: Presented::None,
            expected: dpop_invalid(MISSING),
            ..CASE
        },
        Case {
            name: "RFC 8705 §3: a token bound both ways with its proof and another certificate is refused",
            headers: |route| dpop(route, &bound_both_ways()),
            presented: Presented::B,
            expected: dpop_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "RFC 9449 §7.2: a token bound both ways as Bearer is refused even with its certificate",
            headers: |_| bearer(&bound_both_ways()),
            expected: Expected {
                status: 401,
                error: "invalid_token",
                challenges: vec![
                    format!(
                        r#"Bearer realm="ccflow", error="invalid_token", error_description="{DPOP_AS_BEARER}""#
                    ),
                    format!(r#"DPoP realm="ccflow", {ALGS}"#),
                ],
            },
            ..CASE
        },
        Case {
            name: "RFC 9449 §7.1: a certificate-bound token is not DPoP-bound: the DPoP scheme refuses it",
            headers: |route| dpop(route, &bound_to(&A)),
            expected: dpop_invalid(NOT_DPOP_BOUND),
            ..CASE
        },
        Case {
            name: "RFC 9449 §7.1: a certificate does not make a Bearer token DPoP-bound on a DPoP-only route",
            route: DPOP_WHOAMI,
            expected: dpop_invalid(DPOP_REQUIRED),
            ..CASE
        },
        // Behind a TLS-terminating proxy (RFC 8705 §3 with the certificate in a header).
        Case {
            name: "§3 behind a proxy: a trusted proxy's header with the bound certificate passes",
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, A.escaped()),
            presented: Presented::None,
            peer: PROXY,
            ..CASE
        },
        Case {
            name: "§3 behind a proxy: ... through the scope middleware too",
            route: ITEMS,
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, A.escaped()),
            presented: Presented::None,
            peer: PROXY,
            ..CASE
        },
        Case {
            name: "§3 behind a proxy: a trusted proxy's header with another certificate is refused",
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, B.escaped()),
            presented: Presented::None,
            peer: PROXY,
            expected: bearer_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "§3 behind a proxy: a trusted proxy without the header forwards no certificate",
            headers: |_| bearer(&bound_to(&A)),
            presented: Presented::None,
            peer: PROXY,
            expected: bearer_invalid(MISSING),
            ..CASE
        },
        Case {
            name: "the header from an untrusted peer is ignored: no certificate",
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, A.escaped()),
            presented: Presented::None,
            expected: bearer_invalid(MISSING),
            ..CASE
        },
        Case {
            name: "the header from an untrusted peer is ignored: its connection's certificate counts",
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, B.escaped()),
            ..CASE
        },
        Case {
            name: "from a trusted proxy the header counts, not the proxy's own connection certificate",
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, A.escaped()),
            presented: Presented::B,
            peer: PROXY,
            ..CASE
        },
        Case {
            name: "from a trusted proxy without the header, its connection certificate is not the client's",
            presented: Presented::A,
            peer: PROXY,
            expected: bearer_invalid(MISSING),
            ..CASE
        },
        Case {
            name: "an IPv4-mapped IPv6 peer is its IPv4 address: trusted",
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, A.escaped()),
            presented: Presented::None,
            peer: "::ffff:10.0.0.5",
            ..CASE
        },
        Case {
            name: "§3: a trusted proxy's header that is not a PEM certificate confirms nothing: 401",
            headers: |_| bearer_with(&bound_to(&A), PEM_HEADER, "not-a-certificate".to_owned()),
            presented: Presented::None,
            peer: PROXY,
            expected: bearer_invalid(UNREADABLE),
            ..CASE
        },
        Case {
            name: "§3: a trusted proxy's header sent twice is unreadable",
            headers: |_| {
                let mut headers = bearer_with(&bound_to(&A), PEM_HEADER, A.escaped());
                headers.push((PEM_HEADER, A.escaped()));
                headers
            },
            presented: Presented::None,
            peer: PROXY,
            expected: bearer_invalid(UNREADABLE),
            ..CASE
        },
        Case {
            name: "an unreadable header does not matter to an unbound token (it is not read)",
            headers: |_| bearer_with(&unbound(), PEM_HEADER, "%%%".to_owned()),
            presented: Presented::None,
            peer: PROXY,
            ..CASE
        },
        Case {
            name: "XFCC: the last element's Cert, checked against its Hash, passes",
            headers: |_| {
                bearer_with(
                    &bound_to(&A),
                    XFCC_HEADER,
                    format!(
                        "By=spiffe://api.test;Hash={};Cert=\"{}\";Subject=\"CN=client-a,O=Test;x\";URI=spiffe://client-a",
                        A.hash(),
                        A.escaped()
                    ),
                )
            },
            presented: Presented::None,
            peer: PROXY,
            proxy: Proxy::Xfcc,
            ..CASE
        },
        Case {
            name: "XFCC: an element the client wrote before the proxy's own is never read",
            headers: |_| {
                bearer_with(
                    &bound_to(&A),
                    XFCC_HEADER,
                    format!("Cert=\"{}\",Cert=\"{}\"", A.escaped(), B.escaped()),
                )
            },
            presented: Presented::None,
            peer: PROXY,
            proxy: Proxy::Xfcc,
            expected: bearer_invalid(MISMATCH),
            ..CASE
        },
        Case {
            name: "XFCC: an element without Cert is unreadable (the proxy must forward it)",
            headers: |_| bearer_with(&bound_to(&A), XFCC_HEADER, format!("Hash={}", A.hash())),
            presented: Presented::None,
            peer: PROXY,
            proxy: Proxy::Xfcc,
            expected: bearer_invalid(UNREADABLE),
            ..CASE
        },
        Case {
            name: "XFCC: a Hash that is not its Cert's is unreadable",
            headers: |_| {
                bearer_with(
                    &bound_to(&A),
                    XFCC_HEADER,
                    format!("Hash={};Cert=\"{}\"", B.hash(), A.escaped()),
                )
            },
            presented: Presented::None,
            peer: PROXY,
            proxy: Proxy::Xfcc,
            expected: bearer_invalid(UNREADABLE),
            ..CASE
        },
    ]
}

async fn validator() -> (Validator, wiremock::MockServer) {
    validator_behind(Proxy::Pem).await
}

async fn validator_behind(proxy: Proxy) -> (Validator, wiremock::MockServer) {
    let jwks = common::mock_server().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(common::jwks_body(&[&key_1()])))
        .mount(&jwks)
        .await;
    let validator = Validator::builder()
        .issuer(ISSUER)
        .jwks_url(common::jwks_url(&jwks))
        .audience(AUDIENCE)
        .clock(clock())
        .token_binding(TokenBinding::Either)
        .forwarded_client_certificate(
            match proxy {
                Proxy::Pem => PEM_HEADER,
                Proxy::Xfcc => XFCC_HEADER,
            },
            match proxy {
                Proxy::Pem => ForwardedCertificateFormat::EscapedPem,
                Proxy::Xfcc => ForwardedCertificateFormat::Xfcc,
            },
        )
        .trusted_proxies(["10.0.0.0/8".parse::<IpNetwork>().unwrap()])
        .build()
        .unwrap();
    (validator, jwks)
}

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

/// A reply whole: status, every `WWW-Authenticate`, the body.
type Reply = (u16, Vec<String>, Value);

/// `GET route` with `Host: api.test`, `headers` and the presented certificate, through
/// `adapter`.
async fn send(
    adapter: Adapter,
    validator: &Validator,
    route: &str,
    headers: &Headers,
    certificate: Option<ClientCertificate>,
    peer: IpAddr,
) -> Reply {
    let (status, challenges, body) = match adapter {
        Adapter::Actix => {
            let api = SampleApi::new(validator.clone());
            let app = test::init_service(App::new().configure(sample_api::configure(api))).await;
            let mut request = test::TestRequest::get()
                .uri(route)
                .peer_addr(SocketAddr::new(peer, 40_000))
                .insert_header(("host", HOST));
            for (name, value) in headers {
                request = request.append_header((
                    HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                ));
            }
            let request = request.to_request();
            if let Some(certificate) = certificate {
                request.extensions_mut().insert(certificate);
            }
            let response = test::call_service(&app, request).await;
            let status = response.status().as_u16();
            let challenges = response
                .headers()
                .get_all("www-authenticate")
                .map(|value| value.to_str().unwrap().to_owned())
                .collect();
            (status, challenges, test::read_body(response).await.to_vec())
        }
        #[cfg(feature = "axum")]
        Adapter::Axum => {
            let mut request = http::Request::get(route).header("host", HOST);
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let mut request = request.body(axum::body::Body::empty()).unwrap();
            if let Some(certificate) = certificate {
                request.extensions_mut().insert(certificate);
            }
            // What `into_make_service_with_connect_info::<SocketAddr>()` puts there.
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(SocketAddr::new(peer, 40_000)));
            let (status, response_headers, body) = common::axum_app::send(validator, request).await;
            let challenges = response_headers
                .get_all("www-authenticate")
                .iter()
                .map(|value| value.to_str().unwrap().to_owned())
                .collect();
            (status, challenges, body)
        }
    };
    (status, challenges, serde_json::from_slice(&body).unwrap())
}

#[track_caller]
fn check(case: &Case, adapter: Adapter, reply: &Reply) {
    let (status, challenges, body) = reply;
    let expected = &case.expected;
    let name = case.name;
    assert_eq!(*status, expected.status, "{name}, {adapter:?}: {body}");
    assert_eq!(
        body["error"].as_str().unwrap_or("-"),
        expected.error,
        "{name}, {adapter:?}"
    );
    assert_eq!(challenges, &expected.challenges, "{name}, {adapter:?}");
    if expected.status == 401 {
        // The body repeats the challenge's description.
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(
            expected.challenges[0].contains(&format!("error_description=\"{description}\"")),
            "{name}, {adapter:?}: {description}"
        );
    }
}

#[actix_web::test]
async fn every_certificate_binding_rule_is_enforced() {
    for case in cases() {
        let headers = (case.headers)(case.route);
        let mut refusals: Vec<(Adapter, Reply)> = Vec::new();
        for &adapter in ADAPTERS {
            let (validator, _jwks) = validator_behind(case.proxy).await;
            let reply = send(
                adapter,
                &validator,
                case.route,
                &headers,
                case.presented.certificate(),
                case.peer.parse().unwrap(),
            )
            .await;
            check(&case, adapter, &reply);
            if reply.0 == 200 && case.route == WHOAMI {
                assert_eq!(reply.2["client_id"], "svc", "{}", case.name);
            }
            if reply.0 != 200 {
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

/// `Authenticated::certificate_thumbprint` names the matched certificate for a bound token only,
/// and `Debug` of the credentials shows the thumbprint, never the token.
#[tokio::test]
async fn the_handler_sees_the_matched_thumbprint() {
    let (validator, _jwks) = validator().await;
    for (token, presented, expected) in [
        (bound_to(&A), Presented::A, Some(A.thumbprint())),
        (unbound(), Presented::A, None),
        (unbound(), Presented::None, None),
    ] {
        let authorization = format!("Bearer {token}");
        let authorization = [authorization.as_bytes()];
        let certificate = presented.certificate();
        let credentials = ccflow_resource_api::RequestCredentials {
            method: "GET",
            url: WHOAMI,
            authorization: &authorization,
            client_certificate: certificate.as_ref(),
            ..Default::default()
        };
        let debug = format!("{credentials:?}");
        assert!(!debug.contains(&token), "{debug}");
        if let Some(certificate) = &certificate {
            assert!(debug.contains(certificate.thumbprint()), "{debug}");
        }
        let authenticated = validator
            .authenticate_credentials(&credentials, TokenBinding::Bearer)
            .await
            .unwrap();
        assert_eq!(authenticated.certificate_thumbprint(), expected);
    }
}
