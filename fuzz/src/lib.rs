//! What the fuzz targets share: fixture keys and clients, a fixed clock, the servers and the
//! validator they drive, input splitting, and the checks every OAuth error answer must pass.
//!
//! Everything here is built once per process (the targets keep it in a `OnceLock` or a
//! thread-local) so an iteration costs only the code under test.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use ccflow_auth_server::protocol::{AuthMethod, BearerChallenge, ErrorCode, Jwk};
use ccflow_auth_server::{
    AuthServer, Client, Limits, ManualClock, MockAuthServer, Profile, SigningKey,
};
use ccflow_resource_api::{AuthError, Validator};
use serde_json::Value;

/// The fixed time every target runs at: 2026-01-01T00:00:00Z (as in the test suites).
pub const T0: u64 = 1_767_225_600;

/// The issuer the validator under fuzzing trusts: fixed (not the mock's random port) so seed
/// claims can name it.
pub const ISSUER: &str = "https://issuer.ccflow.test";

/// The audience the validator under fuzzing expects.
pub const AUDIENCE: &str = "orders-api";

/// The repository's `fixtures/` folder.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A fixture file's text; the fuzz targets cannot run without their fixtures.
pub fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read fixture {}: {error}", path.display()))
}

/// A clock stopped at [`T0`].
pub fn clock() -> ManualClock {
    ManualClock::at(UNIX_EPOCH + Duration::from_secs(T0))
}

/// The fixture signing key a profile signs with (ES256 for Cloudentity, RS256 otherwise).
pub fn signing_key(profile: Profile) -> SigningKey {
    let file = if profile == Profile::Cloudentity {
        "keys/es256-1.pem"
    } else {
        "keys/rs256-1.pem"
    };
    SigningKey::from_pem(&fixture(file)).expect("fixture key loads")
}

/// The public half of `fixtures/keys/client-es256.pem` as a JWK.
fn client_es256_jwk() -> Jwk {
    Jwk {
        kty: "EC".to_owned(),
        crv: Some("P-256".to_owned()),
        x: Some("cwVPcxL7JJX1kOW7oOUIsKcm7DpIe2evPBxKlmBOSPg".to_owned()),
        y: Some("S4nSzeBN5-pnATuzLU1mHF79qfWwNGEkGLCoXf-PEik".to_owned()),
        kid: Some("k1".to_owned()),
        ..Jwk::default()
    }
}

/// The clients of the server test suites (`crates/ccflow-auth-server/tests/common`), so the
/// seed corpus taken from `bad_requests.rs` reaches the same branches.
pub fn clients(profile: Profile) -> Vec<Client> {
    let mut clients = vec![
        Client::new("orders-service", "orders-secret")
            .scopes(["orders.read", "orders.write"])
            .audiences([AUDIENCE, "billing-api"]),
        Client::new("basic-only", "basic-secret").auth_methods([AuthMethod::ClientSecretBasic]),
        Client::new("post-only", "post-secret").auth_methods([AuthMethod::ClientSecretPost]),
        Client::new("svc \" %&+£€:@/ id", "sec \" %&+£€:@/ ret").scopes(["special"]),
    ];
    if profile != Profile::Cloudentity
        && profile
            .spec()
            .auth_methods
            .contains(&AuthMethod::PrivateKeyJwt)
    {
        // Cloudentity registers one method per client; the key clients would need theirs named.
        clients.push(
            Client::private_key_jwt("jwt-client")
                .public_key_pem(fixture("keys/client-rs256.pub.pem"))
                .scopes(["jobs.run"]),
        );
        clients.push(Client::private_key_jwt("jwk-client").public_jwk(client_es256_jwk()));
    }
    clients
}

/// Every profile, in a fixed order (the first input byte picks one).
pub const PROFILES: [Profile; 5] = [
    Profile::Rfc,
    Profile::Slb,
    Profile::Cloudentity,
    Profile::CyberArk,
    Profile::UserClouds,
];

/// A socketless server for `profile` (admin API off: only the token endpoint is under test).
pub fn auth_server(profile: Profile) -> AuthServer {
    MockAuthServer::builder()
        .profile(profile)
        .signing_key(signing_key(profile))
        .clock(clock())
        .admin(false)
        .clients(clients(profile))
        .into_app("http://127.0.0.1:8080")
        .unwrap_or_else(|error| panic!("the {profile:?} server builds: {error}"))
}

/// The rfc server with every request limit tight, so short inputs reach each limit's branch
/// (the defaults need kilobytes that libFuzzer's length control rarely builds).
pub fn tight_limits_server() -> AuthServer {
    MockAuthServer::builder()
        .signing_key(signing_key(Profile::Rfc))
        .clock(clock())
        .admin(false)
        .clients(clients(Profile::Rfc))
        .limits(
            Limits::default()
                .max_header_bytes(400)
                .max_body_bytes(300)
                .max_params(5)
                .max_scope_count(3)
                .max_scope_length(16)
                .max_client_id_length(24)
                .max_resource_length(40)
                .max_client_assertion_length(64),
        )
        .into_app("http://127.0.0.1:8080")
        .unwrap_or_else(|error| panic!("the tight-limits server builds: {error}"))
}

/// Splits `data` at the first `count - 1` occurrences of `separator` (missing parts are empty).
pub fn split_parts(data: &[u8], separator: u8, count: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(count, |&byte| byte == separator).collect();
    parts.resize(count, &[]);
    parts
}

/// The `error` codes an authorization server may answer a token request with: RFC 6749 §5.2
/// and `invalid_target` (RFC 8707 §2).
pub const TOKEN_ERRORS: [&str; 7] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
];

/// Checks an RFC 6749 §5.2 error body: an object with a known `error` and, if present, a
/// string `error_description`. Panics (the fuzzer's crash) with the reason otherwise.
pub fn check_error_body(status: u16, body: &Value) {
    let error = body.get("error").and_then(Value::as_str);
    assert!(
        error.is_some_and(|error| TOKEN_ERRORS.contains(&error)),
        "status {status}: `error` is not an RFC 6749 section 5.2 code: {body}"
    );
    assert!(
        body.get("error_description")
            .is_none_or(|description| description.is_string()),
        "status {status}: error_description is not a string: {body}"
    );
    assert!(
        body.get("access_token").is_none(),
        "status {status}: an error answer carries a token: {body}"
    );
}

/// The validator under fuzzing and what it trusts: a real mock issuer on 127.0.0.1 (fixture
/// keys, clock stopped at [`T0`]) publishing `rs256-1` (active) and `es256-1` (staged), and
/// tokens it minted that the validator accepts.
pub struct ValidatorHarness {
    /// Drives the validator (and its one JWKS fetch) on the fuzzing thread.
    pub runtime: tokio::runtime::Runtime,
    /// The issuer; kept alive so the JWKS stays reachable.
    pub issuer: MockAuthServer,
    /// Issuer from `issuer`, audience [`AUDIENCE`], clock at [`T0`], default algorithms and `typ`.
    pub validator: Validator,
    /// Valid tokens: RS256 with `kid`, ES256 with `kid`.
    pub valid_tokens: Vec<String>,
    /// The private half of the published ES256 key, to sign fuzzer-made headers and claims.
    pub es256_key: jsonwebtoken::EncodingKey,
    /// Its `kid`.
    pub es256_kid: String,
}

impl ValidatorHarness {
    /// Starts the issuer, fetches its keys once, mints the valid tokens and checks that the
    /// validator accepts them (else the harness would only ever see rejections).
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let issuer = runtime
            .block_on(
                MockAuthServer::builder()
                    .issuer(ISSUER)
                    .signing_key(signing_key(Profile::Rfc))
                    .clock(clock())
                    .client(Client::new("svc", "svc-secret").audiences([AUDIENCE]))
                    .start(),
            )
            .expect("the issuer starts");
        let es256 = signing_key(Profile::Cloudentity);
        let es256_kid = es256.kid().to_owned();
        issuer.app().stage_key(es256);
        let validator = Validator::builder()
            .issuer(ISSUER)
            // The mock's own URL: its `jwks_url()` hangs under the public issuer we set.
            .jwks_url(format!("{}{}", issuer.uri(), issuer.app().routes().jwks))
            .audience(AUDIENCE)
            .clock(clock())
            // The clock never moves, so unknown kids never trigger a second fetch.
            .jwks_refresh_cooldown(Duration::from_secs(24 * 3600))
            .build()
            .expect("the validator builds");
        runtime
            .block_on(validator.refresh_keys())
            .expect("the JWKS loads");
        let mint = |kid: Option<&str>| {
            let builder = issuer.mint().client("svc").claim("aud", AUDIENCE);
            let builder = match kid {
                Some(kid) => builder.key(kid),
                None => builder,
            };
            builder.sign().expect("the issuer mints")
        };
        let valid_tokens = vec![mint(None), mint(Some(&es256_kid))];
        for token in &valid_tokens {
            if let Err(error) = runtime.block_on(validator.validate(token)) {
                panic!("the harness's own token is refused: {error}");
            }
        }
        let es256_key =
            jsonwebtoken::EncodingKey::from_ec_pem(fixture("keys/es256-1.pem").as_bytes())
                .expect("fixture key loads");
        Self {
            runtime,
            issuer,
            validator,
            valid_tokens,
            es256_key,
            es256_kid,
        }
    }

    /// Checks the RFC 6750 §3 answer to a refusal: 400 `invalid_request` or 401
    /// `invalid_token` (or a bare challenge for no credentials), a challenge that parses with
    /// this validator's realm and the same code, and a JSON body with a description.
    pub fn check_refusal(&self, error: &AuthError) {
        let response = self.validator.error_response(error);
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("{error}: status {status} without a readable challenge"));
        let parsed = BearerChallenge::parse(challenge)
            .unwrap_or_else(|| panic!("{error}: the challenge does not parse: {challenge:?}"));
        assert_eq!(parsed.realm.as_deref(), Some(self.validator.realm()));
        let code = parsed.error.as_ref().map(ErrorCode::as_str);
        match (status, code, error) {
            (401, None, AuthError::MissingToken)
            | (400, Some("invalid_request"), AuthError::InvalidRequest(_))
            | (401, Some("invalid_token"), AuthError::InvalidToken(_)) => {}
            _ => panic!("{error}: status {status} with error {code:?}"),
        }
    }
}

impl Default for ValidatorHarness {
    fn default() -> Self {
        Self::new()
    }
}
