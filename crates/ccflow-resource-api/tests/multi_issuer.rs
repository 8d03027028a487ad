//! A validator and the sample API trusting several issuers (issue 20): three independent mock
//! authorization servers (`rfc`, `slb`, `cyberark`), the SDK getting a token from each, and an
//! API trusting `rfc` and `slb` only, on actix (the sample API) and on axum (the same routes
//! behind `ValidatorLayer`). Each case states the answer and how many JWKS fetches it
//! caused at each server: an untrusted `iss` must cause none, anywhere; each issuer's keys,
//! audiences and policy apply to its own tokens only. Then the binary, with repeated flags and
//! with a TOML `[[issuers]]` list. Last, the same three issuers hosted by one auth server process
//! (`[[issuers]]`'s builder form), which the SDK and the API reach under each issuer's prefix.

mod binary_process;
mod common;

use binary_process::{command, start};
use ccflow_auth_server::{Client, Endpoint, MockAuthServer, Profile, SigningKey};
use ccflow_client::TokenClient;
use ccflow_resource_api::sample_api::SampleApi;
use ccflow_resource_api::{IssuerSettings, Validator};
use common::{bearer, fixture, get, send};
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

const RFC_AUDIENCE: &str = "rfc-api";
const SLB_AUDIENCE: &str = "slb-api";
/// The challenge for an issuer this API does not trust; `{trusted}` is the world's `rfc` and
/// `slb` issuers (their ports change every run), which the description names.
const UNTRUSTED: &str = r#"Bearer realm="ccflow", error="invalid_token", error_description="the token's issuer (iss) is not one this API trusts (it trusts {trusted})""#;

/// [`UNTRUSTED`] for this world's trusted issuers, in configuration order (rfc, then slb).
fn untrusted(world: &World, challenge: Option<&str>) -> Option<String> {
    let trusted = format!("`{}`, `{}`", world.rfc.issuer(), world.slb.issuer());
    challenge.map(|challenge| challenge.replace("{trusted}", &trusted))
}

/// The three issuers, the SDK's tokens from each, and a stranger whose routes must never be
/// asked for anything.
struct World {
    rfc: MockAuthServer,
    slb: MockAuthServer,
    cyberark: MockAuthServer,
    stranger: MockServer,
    /// `rfc`'s writer: `items:read items:write`, audience `rfc-api`.
    rfc_writer: String,
    /// `rfc`'s token without scopes, audience `rfc-api`.
    rfc_bare: String,
    /// `slb`'s token for the `slb-api` audience (asked for through `scope`, SLB style).
    slb_token: String,
    cyberark_token: String,
}

async fn sdk_token(server: &MockAuthServer, profile: Profile, id: &str, slb_scope: bool) -> String {
    let mut builder = TokenClient::builder()
        .profile(profile)
        .base_url(server.uri())
        .app_id("app1")
        .credentials(id.to_owned(), format!("{id}-secret"));
    if slb_scope {
        builder = builder.scopes([SLB_AUDIENCE]);
    }
    builder
        .build()
        .unwrap()
        .token()
        .await
        .unwrap_or_else(|error| panic!("{profile} {id}: {error}"))
        .secret()
        .to_owned()
}

async fn world() -> World {
    let rfc = MockAuthServer::builder()
        .profile(Profile::Rfc)
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-1.pem")).unwrap())
        .client(
            Client::new("writer", "writer-secret")
                .scopes(["items:read", "items:write"])
                .audiences([RFC_AUDIENCE]),
        )
        .client(Client::new("bare", "bare-secret").audiences([RFC_AUDIENCE]))
        .start()
        .await
        .unwrap();
    let slb = MockAuthServer::builder()
        .profile(Profile::Slb)
        .signing_key(SigningKey::from_pem(&fixture("keys/rs256-2.pem")).unwrap())
        .client(Client::new("slb-caller", "slb-caller-secret"))
        .client(Client::new(SLB_AUDIENCE, "slb-api-secret"))
        .start()
        .await
        .unwrap();
    let cyberark = MockAuthServer::builder()
        .profile(Profile::CyberArk)
        .app_id("app1")
        .client(Client::new("ark", "ark-secret"))
        .start()
        .await
        .unwrap();
    let stranger = MockServer::builder().start().await;
    Mock::given(any())
        .respond_with(common::jwks_response(&[&common::key_1()]))
        .expect(0)
        .named("an untrusted issuer's routes")
        .mount(&stranger)
        .await;
    World {
        rfc_writer: sdk_token(&rfc, Profile::Rfc, "writer", false).await,
        rfc_bare: sdk_token(&rfc, Profile::Rfc, "bare", false).await,
        slb_token: sdk_token(&slb, Profile::Slb, "slb-caller", true).await,
        cyberark_token: sdk_token(&cyberark, Profile::CyberArk, "ark", false).await,
        rfc,
        slb,
        cyberark,
        stranger,
    }
}

/// A validator trusting `rfc` (audience `rfc-api`) and `slb` (audience `slb-api`, SLB's
/// profile: audience-only authorisation), each with its discovery and key cache.
fn validator(world: &World) -> Validator {
    Validator::builder()
        .trust(
            IssuerSettings::new(world.rfc.issuer())
                .audience(RFC_AUDIENCE)
                .profile(Profile::Rfc),
        )
        .trust(
            IssuerSettings::new(world.slb.issuer())
                .audience(SLB_AUDIENCE)
                .profile(Profile::Slb),
        )
        .build()
        .unwrap()
}

fn jwks_fetches(world: &World) -> [usize; 3] {
    [&world.rfc, &world.slb, &world.cyberark]
        .map(|server| server.assert_requests(Some(Endpoint::Jwks)).count())
}

struct Case {
    name: &'static str,
    path: &'static str,
    token: fn(&World) -> String,
}

struct Expected {
    status: u16,
    /// The exact `WWW-Authenticate`, for a refusal.
    challenge: Option<String>,
    /// For an accepted token: the `iss` `/v1/whoami` reports and the validator matched.
    issuer: Option<fn(&World) -> String>,
    /// JWKS fetches the case caused at `rfc`, `slb` and `cyberark`.
    fetches: [usize; 3],
}

fn accepted(issuer: fn(&World) -> String, fetches: [usize; 3]) -> Expected {
    Expected {
        status: 200,
        challenge: None,
        issuer: Some(issuer),
        fetches,
    }
}

fn refused(status: u16, challenge: &str, fetches: [usize; 3]) -> Expected {
    Expected {
        status,
        challenge: Some(challenge.to_owned()),
        issuer: None,
        fetches,
    }
}

fn invalid_token(description: &str, fetches: [usize; 3]) -> Expected {
    refused(
        401,
        &format!(
            r#"Bearer realm="ccflow", error="invalid_token", error_description="{description}""#
        ),
        fetches,
    )
}

/// Each case gets a fresh validator (empty key caches), so its fetches are its own.
async fn check(world: &World, case: &Case, expected: &Expected) {
    let name = case.name;
    let validator = validator(world);
    let api = SampleApi::new(validator.clone());
    let before = jwks_fetches(world);
    let token = (case.token)(world);
    let answer = send(&api, get(case.path).insert_header(bearer(&token))).await;
    assert_eq!(answer.status, expected.status, "{name}: {answer:?}");
    let expected_challenge = untrusted(world, expected.challenge.as_deref());
    assert_eq!(answer.challenge, expected_challenge, "{name}");
    // The axum adapter, same validator (its caches now warm): the same answer.
    let request = http::Request::get(case.path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, headers, _) = common::axum_app::send(&validator, request).await;
    let challenge = headers
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    assert_eq!(
        (status, challenge),
        (expected.status, expected_challenge),
        "{name}: axum"
    );
    if let Some(issuer) = expected.issuer {
        let issuer = issuer(world);
        if case.path == "/v1/whoami" {
            assert_eq!(answer.body["issuer"], json!(issuer), "{name}");
        }
        // The adapter's `Authenticated` names the issuer that matched.
        let authenticated = validator
            .authenticate_credentials(
                &ccflow_resource_api::RequestCredentials {
                    method: "GET",
                    url: "http://127.0.0.1/v1/whoami",
                    authorization: &[format!("Bearer {token}").as_bytes()],
                    ..Default::default()
                },
                ccflow_resource_api::TokenBinding::Bearer,
            )
            .await
            .unwrap();
        assert_eq!(authenticated.trusted_issuer().issuer(), issuer, "{name}");
    }
    let after = jwks_fetches(world);
    let caused = [0, 1, 2].map(|index| after[index] - before[index]);
    assert_eq!(
        caused, expected.fetches,
        "{name}: JWKS fetches at rfc, slb, cyberark"
    );
}

#[rustfmt::skip]
fn cases() -> Vec<(Case, Expected)> {
    let rfc = |world: &World| world.rfc.issuer().to_owned();
    let slb = |world: &World| world.slb.issuer().to_owned();
    vec![
        (Case { name: "an rfc token with its scopes", path: "/v1/items", token: |w| w.rfc_writer.clone() },
            accepted(rfc, [1, 0, 0])),
        (Case { name: "whoami names the rfc issuer", path: "/v1/whoami", token: |w| w.rfc_writer.clone() },
            accepted(rfc, [1, 0, 0])),
        // SLB's profile authorises by audience: its token needs no scope, for its issuer only.
        (Case { name: "an slb token without scopes", path: "/v1/items", token: |w| w.slb_token.clone() },
            accepted(slb, [0, 1, 0])),
        (Case { name: "whoami names the slb issuer", path: "/v1/whoami", token: |w| w.slb_token.clone() },
            accepted(slb, [0, 1, 0])),
        (Case { name: "an rfc token without scopes still needs them", path: "/v1/items", token: |w| w.rfc_bare.clone() },
            refused(403, r#"Bearer realm="ccflow", error="insufficient_scope", error_description="the token lacks the scope items:read", scope="items:read""#, [1, 0, 0])),
        // The third issuer is up and its token is genuine, but it is not trusted: refused
        // before any key is fetched, from it or from anyone.
        (Case { name: "a cyberark token", path: "/v1/whoami", token: |w| w.cyberark_token.clone() },
            refused(401, UNTRUSTED, [0, 0, 0])),
        (Case { name: "a cyberark token on a scoped route", path: "/v1/items", token: |w| w.cyberark_token.clone() },
            refused(401, UNTRUSTED, [0, 0, 0])),
        // A token naming a server nobody configured: its routes (whose mock expects no
        // request) are never asked for discovery or keys.
        (Case { name: "a token naming an unconfigured issuer", path: "/v1/whoami", token: |w| common::token_with_claims(&common::key_1(), &common::claims_with(&json!({"iss": w.stranger.uri()}))) },
            refused(401, UNTRUSTED, [0, 0, 0])),
        (Case { name: "an issuer differing by a trailing slash", path: "/v1/whoami", token: |w| w.rfc.mint().client("writer").claim("iss", format!("{}/", w.rfc.issuer())).sign().unwrap() },
            refused(401, UNTRUSTED, [0, 0, 0])),
        // Audiences are per issuer: slb's genuine token for rfc's audience is not for slb's API.
        (Case { name: "an slb token for rfc's audience", path: "/v1/whoami", token: |w| w.slb.mint().client("slb-caller").claim("aud", RFC_AUDIENCE).sign().unwrap() },
            invalid_token(&format!("the token is not meant for this API: aud is `{RFC_AUDIENCE}`, this API accepts `{SLB_AUDIENCE}`"), [0, 1, 0])),
        (Case { name: "an rfc token for slb's audience", path: "/v1/whoami", token: |w| w.rfc.mint().client("writer").claim("aud", SLB_AUDIENCE).sign().unwrap() },
            invalid_token(&format!("the token is not meant for this API: aud is `{SLB_AUDIENCE}`, this API accepts `{RFC_AUDIENCE}`"), [1, 0, 0])),
        // Key caches are per issuer: rfc's genuine key and kid do not sign for slb.
        (Case { name: "rfc's key and kid on a token claiming slb", path: "/v1/whoami", token: |w| w.rfc.mint().client("writer").claim("iss", w.slb.issuer()).claim("aud", SLB_AUDIENCE).sign().unwrap() },
            invalid_token("no key published by the issuer matches the token's kid", [0, 1, 0])),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_trusting_two_issuers_takes_theirs_and_refuses_the_third() {
    let world = world().await;
    for (case, expected) in &cases() {
        check(&world, case, expected).await;
    }
}

/// How the binary is told to trust `rfc` and `slb`.
enum Launch {
    Flags(fn(&World) -> Vec<String>),
    Toml(fn(&World) -> String),
    /// `CCFLOW_RESOURCE_*` variables, no flag.
    Env(fn(&World) -> Vec<(&'static str, String)>),
}

/// What the binary answers `GET /v1/items` with for rfc's writer, slb's and cyberark's
/// tokens; or, refusing to start (exit 2), what its error says.
enum BinaryExpected {
    Statuses([u16; 3]),
    Refuses(&'static str),
}

async fn check_binary(world: &World, name: &str, launch: &Launch, expected: &BinaryExpected) {
    let (args, variables): (Vec<String>, Vec<(&str, String)>) = match launch {
        Launch::Flags(args) => (args(world), Vec::new()),
        Launch::Toml(text) => (vec!["--config-toml".to_owned(), text(world)], Vec::new()),
        Launch::Env(variables) => (Vec::new(), variables(world)),
    };
    let mut all = vec!["--bind".to_owned(), "127.0.0.1:0".to_owned()];
    all.extend(args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let launched = || {
        let mut launched = command(&all);
        launched.envs(variables.iter().map(|(name, value)| (name, value)));
        launched
    };
    match expected {
        BinaryExpected::Refuses(message) => {
            let output = launched().output().unwrap();
            assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(message), "{name}: {stderr}");
        }
        BinaryExpected::Statuses(statuses) => {
            let running = start(launched());
            let http = reqwest::Client::new();
            let tokens = [&world.rfc_writer, &world.slb_token, &world.cyberark_token];
            for (index, (token, status)) in tokens.into_iter().zip(statuses).enumerate() {
                let answer = http
                    .get(format!("http://{}/v1/items", running.address))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status().as_u16(), *status, "{name}");
                // CyberArk's token: untrusted, whatever the flags.
                if index == 2 {
                    let challenge = answer.headers()["www-authenticate"].to_str().unwrap();
                    let expected = untrusted(world, Some(UNTRUSTED)).unwrap();
                    assert_eq!(challenge, expected, "{name}");
                }
            }
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_trusts_repeated_issuer_flags_and_an_issuers_list() {
    use BinaryExpected::{Refuses, Statuses};
    let world = world().await;
    #[rustfmt::skip]
    let cases: Vec<(&str, Launch, BinaryExpected)> = vec![
        ("flags paired by position", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.slb.issuer(),
            "--audience", RFC_AUDIENCE, "--audience", SLB_AUDIENCE,
            "--profile", "rfc", "--profile", "slb",
        ])), Statuses([200, 200, 401])),
        ("flags with JWKS URLs by position", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.slb.issuer(),
            "--audience", RFC_AUDIENCE, "--audience", SLB_AUDIENCE,
            "--profile", "rfc", "--profile", "slb",
            "--jwks-url", &w.rfc.jwks_url(), "--jwks-url", &w.slb.jwks_url(),
        ])), Statuses([200, 200, 401])),
        // One --profile for both: slb's reaches the second issuer too (its `JWT` tokens pass;
        // were it the first issuer's only, they would be refused for their typ).
        ("one profile for every issuer", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.slb.issuer(),
            "--audience", RFC_AUDIENCE, "--audience", SLB_AUDIENCE, "--profile", "slb",
        ])), Statuses([200, 200, 401])),
        // No --profile: RFC 9068's `at+jwt` only, so slb's `JWT` token is refused.
        ("no profile", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.slb.issuer(),
            "--audience", RFC_AUDIENCE, "--audience", SLB_AUDIENCE,
        ])), Statuses([200, 401, 401])),
        ("one audience for every issuer", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.slb.issuer(),
            "--audience", RFC_AUDIENCE, "--profile", "rfc", "--profile", "slb",
        ])), Statuses([200, 401, 401])),
        ("comma-separated lists in the environment, paired by position", Launch::Env(|w| vec![
            ("CCFLOW_RESOURCE_ISSUER", format!("{},{}", w.rfc.issuer(), w.slb.issuer())),
            ("CCFLOW_RESOURCE_AUDIENCE", format!("{RFC_AUDIENCE},{SLB_AUDIENCE}")),
            ("CCFLOW_RESOURCE_PROFILE", "rfc,slb".to_owned()),
            ("CCFLOW_RESOURCE_JWKS_URL", format!("{},{}", w.rfc.jwks_url(), w.slb.jwks_url())),
        ]), Statuses([200, 200, 401])),
        ("environment lists of different lengths", Launch::Env(|w| vec![
            ("CCFLOW_RESOURCE_ISSUER", format!("{},{},{}", w.rfc.issuer(), w.slb.issuer(), w.cyberark.issuer())),
            ("CCFLOW_RESOURCE_AUDIENCE", "a,b".to_owned()),
        ]), Refuses("3 --issuer flags and 2 --audience flags")),
        ("a TOML list", Launch::Toml(|w| format!(
            "[[issuers]]\nissuer = \"{}\"\naudiences = [\"{RFC_AUDIENCE}\"]\nprofile = \"rfc\"\n\n[[issuers]]\nissuer = \"{}\"\naudiences = [\"{SLB_AUDIENCE}\"]\nprofile = \"slb\"\njwks_url = \"{}\"\n",
            w.rfc.issuer(), w.slb.issuer(), w.slb.jwks_url(),
        )), Statuses([200, 200, 401])),
        ("the top-level issuer and a list", Launch::Toml(|w| format!(
            "issuer = \"{}\"\naudiences = [\"{RFC_AUDIENCE}\"]\n\n[[issuers]]\nissuer = \"{}\"\naudiences = [\"{SLB_AUDIENCE}\"]\nprofile = \"slb\"\n",
            w.rfc.issuer(), w.slb.issuer(),
        )), Statuses([200, 200, 401])),
        ("audiences neither once nor per issuer", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.slb.issuer(), "--issuer", w.cyberark.issuer(),
            "--audience", "a", "--audience", "b",
        ])), Refuses("3 --issuer flags and 2 --audience flags: give --audience once (for every issuer), once per --issuer (paired by position), or not at all")),
        ("one JWKS URL for two issuers", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.slb.issuer(), "--audience", "a",
            "--jwks-url", &w.rfc.jwks_url(),
        ])), Refuses("2 --issuer flags and 1 --jwks-url flags: give --jwks-url once per --issuer (paired by position), or not at all")),
        ("two profiles for one issuer", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--audience", "a", "--profile", "rfc", "--profile", "slb",
        ])), Refuses("--profile is given 2 times for one issuer")),
        ("the same issuer twice", Launch::Flags(|w| strings(&[
            "--issuer", w.rfc.issuer(), "--issuer", w.rfc.issuer(), "--audience", "a",
        ])), Refuses("is trusted twice")),
        ("a list entry without audiences", Launch::Toml(|w| format!(
            "[[issuers]]\nissuer = \"{}\"\n", w.rfc.issuer(),
        )), Refuses("at least one audience is required")),
        ("a list entry with an unknown key", Launch::Toml(|w| format!(
            "[[issuers]]\nissuer = \"{}\"\naudience = [\"a\"]\n", w.rfc.issuer(),
        )), Refuses("unknown field `audience`")),
    ];
    for (name, launch, expected) in &cases {
        check_binary(&world, name, launch, expected).await;
    }
}

/// The issue's own proof in one suite: ONE auth server process hosting `rfc`, `slb` and
/// `cyberark` (`issuer_named`, each under its prefix), the SDK getting a token from each through
/// that issuer's discovery, and the sample API trusting two of them: their tokens pass and name
/// their issuer; the third's is refused with RFC 6750's answer naming the trusted issuers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_hosts_three_issuers_and_the_api_trusts_two() {
    let server = MockAuthServer::builder()
        .issuer_named("rfc", |issuer| {
            issuer
                .profile(Profile::Rfc)
                .client(Client::new("writer", "writer-secret").audiences([RFC_AUDIENCE]))
        })
        .issuer_named("slb", |issuer| {
            issuer
                .profile(Profile::Slb)
                .client(Client::new("slb-caller", "slb-caller-secret"))
                .client(Client::new(SLB_AUDIENCE, "slb-api-secret"))
        })
        .issuer_named("cyberark", |issuer| {
            issuer
                .profile(Profile::CyberArk)
                .app_id("app1")
                .client(Client::new("ark", "ark-secret"))
        })
        .start()
        .await
        .unwrap();
    let issuer = |name: &str| server.issuer_at(name).unwrap().issuer().to_owned();
    let validator = Validator::builder()
        .trust(
            IssuerSettings::new(issuer("rfc"))
                .audience(RFC_AUDIENCE)
                .profile(Profile::Rfc),
        )
        .trust(
            IssuerSettings::new(issuer("slb"))
                .audience(SLB_AUDIENCE)
                .profile(Profile::Slb),
        )
        .build()
        .unwrap();
    let api = SampleApi::new(validator);
    let untrusted = format!(
        r#"Bearer realm="ccflow", error="invalid_token", error_description="the token's issuer (iss) is not one this API trusts (it trusts `{}`, `{}`)""#,
        issuer("rfc"),
        issuer("slb")
    );
    // name, profile, client, status, the challenge of a refusal
    let cases = [
        ("rfc", Profile::Rfc, "writer", 200, None),
        ("slb", Profile::Slb, "slb-caller", 200, None),
        ("cyberark", Profile::CyberArk, "ark", 401, Some(untrusted)),
    ];
    for (name, profile, client, status, challenge) in cases {
        let mut sdk = TokenClient::builder()
            .profile(profile)
            .issuer(issuer(name))
            .app_id("app1")
            .credentials(client, format!("{client}-secret"));
        if profile == Profile::Slb {
            sdk = sdk.scopes([SLB_AUDIENCE]);
        }
        let token = sdk
            .build()
            .unwrap()
            .token()
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let answer = send(
            &api,
            get("/v1/whoami").insert_header(bearer(token.secret())),
        )
        .await;
        assert_eq!(answer.status, status, "{name}: {answer:?}");
        assert_eq!(answer.challenge, challenge, "{name}");
        if status == 200 {
            assert_eq!(answer.body["issuer"], json!(issuer(name)), "{name}");
        }
    }
}
