//! `ccflow-auth-server probe api` (issue 23) against APIs whose answers we know: ccflow's own
//! sample API (every case passes), an API written here with jsonwebtoken that does every check
//! (nothing flagged), and the same API with one hole each — no `aud` check, `alg: none`
//! accepted, a DPoP proof taken unread, a DPoP replay let through, a token's `jku` fetched —
//! where the probe must flag exactly that case (or those cases) and nothing else. Each API reads
//! the auth server's virtual clock, so the probe lets time pass by advancing it
//! (`Wait::ServerClock`).

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_auth_server::probe::{ApiProbe, Report, Verdict, Wait};
use ccflow_auth_server::{Clock as _, MockAuthServer, SystemClock, VirtualClock};
use ccflow_protocol::dpop::{DEFAULT_ALGORITHMS, ProofCheck, check_proof};
use ccflow_protocol::mtls::ClientCertificate;
use ccflow_resource_api::sample_api::{SampleApi, configure};
use ccflow_resource_api::{TokenBinding, Validator};
use ccflow_tls::{CertificateAuthority, ClientCertificateRoots};
use serde_json::Value;

const AUDIENCE: &str = "items-api";
const SCOPE: &str = "items:read";

/// An API on a real port, stopped when dropped.
struct Api {
    url: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Api {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The TLS of the sample API's `--tls`: a certificate of `ca` for 127.0.0.1, and any client
/// certificate asked for and taken.
fn any_client_certificate(ca: &CertificateAuthority) -> rustls::ServerConfig {
    let identity = ca
        .server_identity("localhost", vec!["127.0.0.1".to_owned()])
        .unwrap();
    ccflow_tls::server_config(identity, ccflow_tls::ClientCertificates::Request).unwrap()
}

/// A TLS set-up that refuses, at the handshake, a client certificate that does not chain to
/// `client_ca` (rustls's `WebPkiClientVerifier`, as Go's `VerifyClientCertIfGiven` does); a
/// client without one gets through. Its server certificate is signed by a CA of its own: the
/// returned PEM, for the probe to trust.
fn chain_checked_at_handshake(client_ca: &CertificateAuthority) -> (rustls::ServerConfig, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let server_ca =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &server_ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca.certificate_der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let server_ca_pem = pem::encode(&pem::Pem::new("CERTIFICATE", server_ca.der().to_vec()));
    (config, server_ca_pem)
}

/// Serves `app`, over HTTPS with `tls` when given; the API's URL is `route` on it.
fn serve<F>(app: F, route: &str, tls: Option<rustls::ServerConfig>) -> Api
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}{route}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || App::new().configure(app.clone()))
        .workers(1)
        .disable_signals()
        .on_connect(ccflow_tls::on_connect);
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config),
        None => server.listen(listener),
    };
    let server = server.unwrap().run();
    let handle = server.handle();
    tokio::spawn(server);
    Api { url, handle }
}

/// ccflow's sample API, its validator on the auth server's clock (default JWKS settings), over
/// HTTPS with a certificate of `ca`.
fn sample_api(
    server: &MockAuthServer,
    clock: &VirtualClock,
    ca: &CertificateAuthority,
    nonces: bool,
) -> Api {
    serve(
        sample(server, clock, nonces),
        "/v1/items",
        Some(any_client_certificate(ca)),
    )
}

/// The sample API's routes, its validator trusting `server` on `clock`, Bearer and DPoP alike,
/// requiring a nonce of its own in DPoP proofs when `nonces` says.
fn sample(
    server: &MockAuthServer,
    clock: &VirtualClock,
    nonces: bool,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience(AUDIENCE)
        .clock(clock.clone())
        .token_binding(TokenBinding::Either)
        .dpop_require_nonce(nonces)
        .build()
        .unwrap();
    configure(SampleApi::new(validator))
}

/// ccflow's sample API behind what nginx does with `ssl_verify_client optional` and
/// `ssl_client_certificate` naming the auth server's CA: a client certificate that does not
/// chain to that CA is answered `400` before the API sees the request (nginx's "The SSL
/// certificate error"); a request without one goes through.
fn sample_api_checking_chains(
    server: &MockAuthServer,
    clock: &VirtualClock,
    ca: &CertificateAuthority,
) -> Api {
    let auth_ca = server
        .tls_ca_pem()
        .expect("https_bind makes the server a CA");
    let auth_ca = pem::parse(auth_ca).unwrap().into_contents();
    let roots = web::Data::new(ClientCertificateRoots::new(vec![auth_ca.into()]).unwrap());
    let sample = sample(server, clock, false);
    let app = move |config: &mut web::ServiceConfig| {
        config.service(
            web::scope("")
                .app_data(roots.clone())
                .wrap(from_fn(refuse_foreign_chains))
                .configure(sample.clone()),
        );
    };
    serve(app, "/v1/items", Some(any_client_certificate(ca)))
}

async fn refuse_foreign_chains(
    roots: web::Data<ClientCertificateRoots>,
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse, actix_web::Error> {
    let presented = request.conn_data::<ClientCertificate>().cloned();
    if let Some(certificate) = presented
        && roots
            .verify(certificate.der(), SystemClock.unix_seconds().unsigned_abs())
            .is_err()
    {
        let refused = HttpResponse::BadRequest().body("The SSL certificate error");
        return Ok(request.into_response(refused));
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// The holes a hand-written API may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hole {
    None,
    /// Never compares `aud` with its own name.
    SkipsAudience,
    /// Takes an unsigned token's claims as they are.
    AcceptsAlgNone,
    /// Takes a DPoP-bound token with any `DPoP` header, or none as Bearer: never checks the
    /// proof nor the binding.
    IgnoresDpopProof,
    /// Checks DPoP proofs but remembers no `jti` (RFC 9449 §11.1).
    NoDpopReplayCache,
    /// Fetches the URL a token's `jku` names (and then, finding the `kid` in the issuer's set
    /// nowhere, still refuses the token).
    FetchesJku,
}

/// A resource server as someone might write it over jsonwebtoken: the JWKS fetched on every
/// request (the last good one kept when the issuer is down), then the RFC 9068 checks — unless
/// `hole` says otherwise.
#[derive(Clone)]
struct HandWritten {
    hole: Hole,
    issuer: String,
    jwks_url: String,
    clock: VirtualClock,
    http: reqwest::Client,
    last_good: Arc<Mutex<Option<jsonwebtoken::jwk::JwkSet>>>,
    /// The DPoP proofs' `jti`s seen (RFC 9449 §11.1).
    seen_jtis: Arc<Mutex<HashSet<String>>>,
}

fn challenge(status: u16, params: &str) -> HttpResponse {
    let value = if params.is_empty() {
        r#"Bearer realm="hand""#.to_owned()
    } else {
        format!(r#"Bearer realm="hand", {params}"#)
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("WWW-Authenticate", value))
        .finish()
}

fn invalid_token() -> HttpResponse {
    challenge(401, r#"error="invalid_token""#)
}

fn segment(token: &str, index: usize) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(index)?).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl HandWritten {
    async fn keys(&self) -> Option<jsonwebtoken::jwk::JwkSet> {
        let fetched = async {
            let response = self.http.get(&self.jwks_url).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.json::<jsonwebtoken::jwk::JwkSet>().await.ok()
        }
        .await;
        let mut last_good = self.last_good.lock().unwrap();
        if let Some(keys) = fetched {
            *last_good = Some(keys);
        }
        last_good.clone()
    }

    async fn handle(&self, request: HttpRequest) -> HttpResponse {
        let Some(authorization) = request.headers().get("authorization") else {
            return challenge(401, "");
        };
        let authorization = authorization.to_str().unwrap_or_default();
        let Some((scheme, rest)) = authorization.split_once(' ').or(Some((authorization, "")))
        else {
            return challenge(401, "");
        };
        let token = rest.trim();
        let mut proof_jkt = None;
        if scheme.eq_ignore_ascii_case("dpop") {
            match self.check_dpop(&request, token) {
                Ok(jkt) => proof_jkt = Some(jkt),
                Err(refusal) => return refusal,
            }
        } else if !scheme.eq_ignore_ascii_case("bearer") {
            return challenge(401, "");
        }
        if token.is_empty() || token.contains(' ') {
            return challenge(400, r#"error="invalid_request""#);
        }
        let (Some(header), Some(claims)) = (segment(token, 0), segment(token, 1)) else {
            return invalid_token();
        };
        if header["alg"] == "none" && self.hole == Hole::AcceptsAlgNone {
            return self.authorize(&claims);
        }
        if header.get("crit").is_some() {
            return invalid_token();
        }
        if let (Hole::FetchesJku, Some(jku)) = (self.hole, header["jku"].as_str()) {
            drop(self.http.get(jku).send().await);
        }
        if !header["typ"]
            .as_str()
            .is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt"))
        {
            return invalid_token();
        }
        let Some(keys) = self.keys().await else {
            return invalid_token();
        };
        let Some(kid) = header["kid"].as_str() else {
            return invalid_token();
        };
        let Some(jwk) = keys.find(kid) else {
            return invalid_token();
        };
        let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else {
            return invalid_token();
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        // Time is checked below, on the auth server's clock the test shares.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[&self.issuer]);
        if self.hole == Hole::SkipsAudience {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&[AUDIENCE]);
        }
        let Ok(verified) = jsonwebtoken::decode::<Value>(token, &key, &validation) else {
            return invalid_token();
        };
        // RFC 9449 §7.1: a bound token only with a proof of its key; §7.2: never as Bearer.
        let jkt = verified.claims["cnf"]["jkt"].as_str();
        if jkt.is_some() && jkt != proof_jkt.as_deref() && self.hole != Hole::IgnoresDpopProof {
            return invalid_token();
        }
        self.authorize(&verified.claims)
    }

    /// The proof of a DPoP request, checked (unless the hole says otherwise): its key's
    /// thumbprint, or the refusal.
    #[allow(
        clippy::result_large_err,
        reason = "the refusal is the answer, sent at once"
    )]
    fn check_dpop(&self, request: &HttpRequest, token: &str) -> Result<String, HttpResponse> {
        let dpop_refusal = || {
            HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", r#"DPoP error="invalid_dpop_proof""#))
                .finish()
        };
        let proof = request
            .headers()
            .get("dpop")
            .and_then(|value| value.to_str().ok())
            .ok_or_else(dpop_refusal)?;
        if self.hole == Hole::IgnoresDpopProof {
            return Ok(String::new());
        }
        let info = request.connection_info();
        let url = format!("{}://{}{}", info.scheme(), info.host(), request.path());
        let now = ccflow_auth_server::unix_seconds(self.clock.now());
        let check = ProofCheck {
            method: request.method().as_str(),
            url: &url,
            now: u64::try_from(now).unwrap_or_default(),
            iat_window: 60,
            algorithms: &DEFAULT_ALGORITHMS,
            access_token: Some(token),
        };
        let verified = check_proof(proof, &check).map_err(|_| dpop_refusal())?;
        if self.hole != Hole::NoDpopReplayCache
            && !self.seen_jtis.lock().unwrap().insert(verified.jti)
        {
            return Err(dpop_refusal());
        }
        Ok(verified.jkt)
    }

    fn authorize(&self, claims: &Value) -> HttpResponse {
        let now = ccflow_auth_server::unix_seconds(self.clock.now());
        let Some(exp) = claims["exp"].as_i64() else {
            return invalid_token();
        };
        if exp <= now || claims["nbf"].as_i64().is_some_and(|nbf| nbf > now) {
            return invalid_token();
        }
        let scopes = claims["scope"].as_str().unwrap_or_default();
        if !scopes.split(' ').any(|scope| scope == SCOPE) {
            return challenge(
                403,
                &format!(r#"error="insufficient_scope", scope="{SCOPE}""#),
            );
        }
        HttpResponse::Ok().json(serde_json::json!({"items": []}))
    }
}

fn hand_written(
    server: &MockAuthServer,
    clock: &VirtualClock,
    hole: Hole,
    tls: Option<&CertificateAuthority>,
) -> Api {
    let api = HandWritten {
        hole,
        issuer: server.issuer().to_owned(),
        jwks_url: server.jwks_url(),
        clock: clock.clone(),
        http: reqwest::Client::new(),
        last_good: Arc::new(Mutex::new(None)),
        seen_jtis: Arc::new(Mutex::new(HashSet::new())),
    };
    serve(
        move |config: &mut web::ServiceConfig| {
            let api = api.clone();
            config.route(
                "/items",
                web::get().to(move |request: HttpRequest| {
                    let api = api.clone();
                    async move { api.handle(request).await }
                }),
            );
        },
        "/items",
        tls.map(any_client_certificate),
    )
}

#[derive(Debug, Clone, Copy)]
enum Target {
    SampleApi,
    HandWritten(Hole),
    /// The hand-written API, over HTTPS, claimed to take certificate-bound tokens (`--mtls`),
    /// which it does not look at.
    HandWrittenClaimingMtls,
    /// The hand-written API (with this hole) told `--dpop`, and `--dpop-replay` when it says.
    HandWrittenDpop(Hole, bool),
    /// The sample API behind a check that client certificates chain to the auth server's CA,
    /// which the auth server has (`https_bind`).
    SampleApiCheckingChains,
    /// The sample API requiring DPoP nonces, told `--dpop-nonce`.
    SampleApiRequiringNonces,
    /// The sample API, which does not require DPoP nonces, told `--dpop-nonce` all the same.
    SampleApiClaimingNonces,
}

/// What the report must say: exactly these cases fail, are lenient, are skipped; every other
/// case passes (the probe is told the scope and RFC 9068; DPoP where the API takes it).
struct Expected {
    fail: &'static [&'static str],
    lenient: &'static [&'static str],
    skipped: &'static [&'static str],
}

async fn probe(target: Target) -> Report {
    probe_with(target, |_| {}).await
}

/// [`probe`] with the probe's options changed by `change` before it runs.
async fn probe_with(target: Target, change: impl FnOnce(&mut ApiProbe)) -> Report {
    let mut builder = MockAuthServer::builder();
    if matches!(target, Target::SampleApiCheckingChains) {
        builder = builder.https_bind("127.0.0.1:0".parse().unwrap());
    }
    let server = builder.start().await.unwrap();
    let clock = server
        .clock()
        .expect("the default clock is virtual")
        .clone();
    let ca = CertificateAuthority::generate().unwrap();
    let api = match target {
        Target::SampleApi | Target::SampleApiClaimingNonces => {
            sample_api(&server, &clock, &ca, false)
        }
        Target::SampleApiRequiringNonces => sample_api(&server, &clock, &ca, true),
        Target::HandWritten(hole) => hand_written(&server, &clock, hole, None),
        Target::HandWrittenClaimingMtls => hand_written(&server, &clock, Hole::None, Some(&ca)),
        Target::HandWrittenDpop(hole, _) => hand_written(&server, &clock, hole, None),
        Target::SampleApiCheckingChains => sample_api_checking_chains(&server, &clock, &ca),
    };
    let mut probe = ApiProbe::new(server.issuer(), api.url.clone(), AUDIENCE);
    probe.scope = Some(SCOPE.to_owned());
    probe.rfc9068 = true;
    probe.wait = Wait::ServerClock;
    let sample = matches!(
        target,
        Target::SampleApi
            | Target::SampleApiCheckingChains
            | Target::SampleApiRequiringNonces
            | Target::SampleApiClaimingNonces
    );
    probe.dpop = sample || matches!(target, Target::HandWrittenDpop(..));
    probe.dpop_replay = sample || matches!(target, Target::HandWrittenDpop(_, true));
    probe.dpop_nonce = matches!(
        target,
        Target::SampleApiRequiringNonces | Target::SampleApiClaimingNonces
    );
    probe.mtls = sample || matches!(target, Target::HandWrittenClaimingMtls);
    probe.api_ca_pem = Some(ca.certificate_pem().to_owned());
    change(&mut probe);
    probe.run().await.expect("the probe runs")
}

#[track_caller]
fn check(target: Target, report: &Report, expected: &Expected) {
    let table = report.table();
    assert_eq!(
        report.with_verdict(Verdict::Fail),
        expected.fail,
        "{target:?}\n{table}"
    );
    assert_eq!(
        report.with_verdict(Verdict::Lenient),
        expected.lenient,
        "{target:?}\n{table}"
    );
    assert_eq!(
        report.with_verdict(Verdict::Skipped),
        expected.skipped,
        "{target:?}\n{table}"
    );
    assert_eq!(report.passed(), expected.fail.is_empty(), "{target:?}");
    assert_eq!(
        report.cases.len(),
        ccflow_auth_server::probe::CASE_IDS.len()
    );
}

/// The cases of `--dpop`.
const DPOP: [&str; 10] = [
    "dpop-bound-as-bearer",
    "dpop-valid",
    "dpop-wrong-htm",
    "dpop-wrong-htu",
    "dpop-other-key",
    "dpop-stale-iat",
    "dpop-replayed-jti",
    "dpop-missing-ath",
    "dpop-nonce-missing",
    "dpop-nonce-wrong",
];
/// The cases of `--dpop-nonce`.
const NONCE: [&str; 2] = [DPOP[8], DPOP[9]];
/// Skipped with `--dpop` but without `--mtls` and `--dpop-nonce`, in the report's order.
const NO_MTLS_NO_NONCE: &[&str] = &[MTLS[0], DPOP[8], DPOP[9], MTLS[1], MTLS[2]];
/// The cases of `--mtls`.
const MTLS: [&str; 3] = [
    "certificate-bound-without-certificate",
    "certificate-bound-with-certificate",
    "certificate-bound-other-certificate",
];

/// Skipped without `--dpop` and `--mtls`, in the report's order.
const NO_BINDING: &[&str] = &[
    DPOP[0], MTLS[0], DPOP[1], DPOP[2], DPOP[3], DPOP[4], DPOP[5], DPOP[6], DPOP[7], DPOP[8],
    DPOP[9], MTLS[1], MTLS[2],
];

#[tokio::test]
async fn the_probe_flags_exactly_what_each_api_gets_wrong() {
    #[rustfmt::skip]
    let cases = [
        (Target::SampleApi, Expected { fail: &[], lenient: &[], skipped: &NONCE }),
        (Target::SampleApiCheckingChains, Expected { fail: &[], lenient: &[], skipped: &NONCE }),
        (Target::SampleApiRequiringNonces, Expected { fail: &[], lenient: &[], skipped: &[] }),
        (Target::SampleApiClaimingNonces, Expected { fail: &NONCE, lenient: &[], skipped: &[] }),
        (Target::HandWritten(Hole::None), Expected { fail: &[], lenient: &[], skipped: NO_BINDING }),
        (Target::HandWritten(Hole::SkipsAudience), Expected { fail: &["wrong-aud"], lenient: &[], skipped: NO_BINDING }),
        (Target::HandWritten(Hole::AcceptsAlgNone), Expected { fail: &["alg-none"], lenient: &[], skipped: NO_BINDING }),
        (Target::HandWritten(Hole::FetchesJku), Expected { fail: &["jku-elsewhere"], lenient: &[], skipped: NO_BINDING }),
        (Target::HandWrittenClaimingMtls, Expected { fail: &[MTLS[0], MTLS[2]], lenient: &[], skipped: &DPOP }),
        (Target::HandWrittenDpop(Hole::None, true), Expected { fail: &[], lenient: &[], skipped: NO_MTLS_NO_NONCE }),
        (Target::HandWrittenDpop(Hole::IgnoresDpopProof, false), Expected { fail: &["dpop-bound-as-bearer", "dpop-wrong-htm", "dpop-wrong-htu", "dpop-other-key", "dpop-stale-iat", "dpop-missing-ath"], lenient: &["dpop-replayed-jti"], skipped: NO_MTLS_NO_NONCE }),
        (Target::HandWrittenDpop(Hole::NoDpopReplayCache, true), Expected { fail: &["dpop-replayed-jti"], lenient: &[], skipped: NO_MTLS_NO_NONCE }),
        (Target::HandWrittenDpop(Hole::NoDpopReplayCache, false), Expected { fail: &[], lenient: &["dpop-replayed-jti"], skipped: NO_MTLS_NO_NONCE }),
    ];
    for (target, expected) in cases {
        let report = probe(target).await;
        check(target, &report, &expected);
    }
}

/// `--attacker-bind` and `--attacker-url`: the attacker's server listens where told, and the
/// tokens' `jku` names the origin given (here `localhost`, where the bind is `127.0.0.1`), which
/// the API that fetches it reaches: the fetch is seen under that name.
#[tokio::test]
async fn the_attacker_listens_where_told_and_the_tokens_name_the_origin_given() {
    // A free port for the attacker: bound, read, released (the probe binds it at once).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    let report = probe_with(Target::HandWritten(Hole::FetchesJku), |probe| {
        probe.attacker_bind = ([127, 0, 0, 1], port).into();
        probe.attacker_url = Some(origin.clone());
    })
    .await;
    let case = report
        .cases
        .iter()
        .find(|case| case.id == "jku-elsewhere")
        .unwrap();
    assert_eq!(case.verdict, Verdict::Fail, "{}", report.table());
    let jku = format!("{origin}/jwks.json");
    assert!(case.sent.contains(&jku), "{}", case.sent);
    assert!(
        case.note.contains(&format!("request(s) for {jku}")),
        "{}",
        case.note
    );
    assert_eq!(report.with_verdict(Verdict::Fail), ["jku-elsewhere"]);
}

/// A client certificate the API refuses at the TLS handshake (it requires a chain to a CA the
/// auth server is not: here the auth server has no CA, so the probe's certificates are
/// self-signed): the bound certificate's case fails, the other one's is lenient, both say the
/// connection failed and hint at a CA; the rest of the run goes on and passes.
#[tokio::test]
async fn a_certificate_refused_at_the_handshake_is_a_case_result_with_a_hint() {
    let client_ca = CertificateAuthority::generate().unwrap();
    let (tls, server_ca_pem) = chain_checked_at_handshake(&client_ca);
    let server = MockAuthServer::builder().start().await.unwrap();
    let clock = server.clock().unwrap().clone();
    let api = serve(sample(&server, &clock, false), "/v1/items", Some(tls));
    let mut probe = ApiProbe::new(server.issuer(), api.url.clone(), AUDIENCE);
    probe.scope = Some(SCOPE.to_owned());
    probe.rfc9068 = true;
    probe.wait = Wait::ServerClock;
    probe.dpop = true;
    probe.dpop_replay = true;
    probe.mtls = true;
    probe.api_ca_pem = Some(server_ca_pem);
    let report = probe.run().await.expect("the probe runs");
    let table = report.table();
    assert_eq!(report.with_verdict(Verdict::Fail), [MTLS[1]], "{table}");
    assert_eq!(report.with_verdict(Verdict::Lenient), [MTLS[2]], "{table}");
    assert_eq!(report.with_verdict(Verdict::Skipped), NONCE, "{table}");
    for id in [MTLS[1], MTLS[2]] {
        let case = report.cases.iter().find(|case| case.id == id).unwrap();
        assert_eq!(case.got, "no answer");
        assert!(
            case.sent
                .contains("(self-signed: the auth server has no CA;"),
            "{}",
            case.sent
        );
        assert!(
            case.note
                .starts_with("the connection failed with this certificate: GET https://127.0.0.1:")
                && case
                    .note
                    .contains("start the auth server with --tls or --https-bind"),
            "{}",
            case.note
        );
    }
}
