//! A table of bad token requests: each gets the right status, OAuth error and headers, and none
//! issues a token or changes state.

mod common;

use ccflow_auth_server::{Endpoint, MockAuthServer};
use common::{SPECIAL_ID, SPECIAL_SECRET, basic, form, http, start};

const CC: (&str, &str) = ("grant_type", "client_credentials");
const FORM: &str = "application/x-www-form-urlencoded";

struct Case {
    name: &'static str,
    method: &'static str,
    path: Option<&'static str>,
    content_type: Option<&'static str>,
    authorization: Option<String>,
    body: Vec<u8>,
    status: u16,
    error: &'static str,
    /// Whether `WWW-Authenticate: Basic realm="ccflow"` must be present (else absent).
    challenge: bool,
}

fn case(name: &'static str, status: u16, error: &'static str) -> Case {
    Case {
        name,
        method: "POST",
        path: None,
        content_type: Some(FORM),
        authorization: None,
        body: Vec::new(),
        status,
        error,
        challenge: false,
    }
}

impl Case {
    fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.body = form(pairs).into_bytes();
        self
    }
    fn raw(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }
    fn basic(mut self, id: &str, secret: &str) -> Self {
        self.authorization = Some(basic(id, secret));
        self.challenge = self.status == 401;
        self
    }
    fn authorization(mut self, value: &str) -> Self {
        self.authorization = Some(value.to_owned());
        self.challenge = self.status == 401;
        self
    }
    fn content_type(mut self, value: Option<&'static str>) -> Self {
        self.content_type = value;
        self
    }
    fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }
    fn path(mut self, path: &'static str) -> Self {
        self.path = Some(path);
        self
    }
}

fn b64(raw: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn cases() -> Vec<Case> {
    let ok_basic = |c: Case| c.basic("orders-service", "orders-secret");
    vec![
        ok_basic(case("missing grant_type", 400, "invalid_request"))
            .form(&[("scope", "orders.read")]),
        ok_basic(case("empty body", 400, "invalid_request")),
        ok_basic(case("empty grant_type is omitted", 400, "invalid_request"))
            .form(&[("grant_type", "")]),
        ok_basic(case("unknown grant_type", 400, "unsupported_grant_type"))
            .form(&[("grant_type", "magic")]),
        ok_basic(case(
            "authorization_code grant",
            400,
            "unsupported_grant_type",
        ))
        .form(&[("grant_type", "authorization_code"), ("code", "x")]),
        ok_basic(case("duplicate grant_type", 400, "invalid_request")).form(&[CC, CC]),
        ok_basic(case("duplicate scope", 400, "invalid_request")).form(&[
            CC,
            ("scope", "orders.read"),
            ("scope", "orders.write"),
        ]),
        case("duplicate client_id", 400, "invalid_request").form(&[
            CC,
            ("client_id", "post-only"),
            ("client_id", "post-only"),
            ("client_secret", "post-secret"),
        ]),
        case("unknown client with basic", 401, "invalid_client")
            .form(&[CC])
            .basic("nobody", "orders-secret"),
        case("unknown client with post", 401, "invalid_client").form(&[
            CC,
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ]),
        case("wrong secret with basic", 401, "invalid_client")
            .form(&[CC])
            .basic("orders-service", "wrong"),
        case("wrong secret with post", 401, "invalid_client").form(&[
            CC,
            ("client_id", "orders-service"),
            ("client_secret", "wrong"),
        ]),
        case("secret differing only in case", 401, "invalid_client")
            .form(&[CC])
            .basic("orders-service", "ORDERS-SECRET"),
        case(
            "basic-only client posting credentials",
            401,
            "invalid_client",
        )
        .form(&[
            CC,
            ("client_id", "basic-only"),
            ("client_secret", "basic-secret"),
        ]),
        case("post-only client using basic", 401, "invalid_client")
            .form(&[CC])
            .basic("post-only", "post-secret"),
        case(
            "private_key_jwt client guessing a secret",
            401,
            "invalid_client",
        )
        .form(&[CC])
        .basic("jwt-client", "guess"),
        case("basic and body secret at once", 400, "invalid_request")
            .form(&[
                CC,
                ("client_id", "orders-service"),
                ("client_secret", "orders-secret"),
            ])
            .basic("orders-service", "orders-secret"),
        case("basic and client_assertion at once", 400, "invalid_request")
            .form(&[
                CC,
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", "a.b.c"),
            ])
            .basic("orders-service", "orders-secret"),
        case(
            "basic with a different body client_id",
            400,
            "invalid_request",
        )
        .form(&[CC, ("client_id", "post-only")])
        .basic("orders-service", "orders-secret"),
        case("malformed basic: not base64", 401, "invalid_client")
            .form(&[CC])
            .authorization("Basic !!!not-base64!!!"),
        case("malformed basic: no colon", 401, "invalid_client")
            .form(&[CC])
            .authorization(&b64("orders-service")),
        case("malformed basic: empty client id", 401, "invalid_client")
            .form(&[CC])
            .authorization(&b64(":orders-secret")),
        case("malformed basic: no credentials", 401, "invalid_client")
            .form(&[CC])
            .authorization("Basic"),
        case("bearer scheme at the token endpoint", 401, "invalid_client")
            .form(&[CC])
            .authorization("Bearer abc"),
        case(
            "special characters not form-encoded before base64",
            401,
            "invalid_client",
        )
        .form(&[CC])
        .authorization(&b64(&format!("{SPECIAL_ID}:{SPECIAL_SECRET}"))),
        case("no client authentication", 401, "invalid_client").form(&[CC]),
        case("client_id without a secret", 401, "invalid_client")
            .form(&[CC, ("client_id", "orders-service")]),
        case("client_secret without client_id", 400, "invalid_request")
            .form(&[CC, ("client_secret", "orders-secret")]),
        case("client_assertion without its type", 400, "invalid_request").form(&[
            CC,
            ("client_id", "jwt-client"),
            ("client_assertion", "a.b.c"),
        ]),
        case("client_assertion of an unknown type", 401, "invalid_client").form(&[
            CC,
            ("client_id", "jwt-client"),
            ("client_assertion_type", "urn:example:saml"),
            ("client_assertion", "a.b.c"),
        ]),
        case("client_assertion that is not a JWT", 401, "invalid_client").form(&[
            CC,
            ("client_id", "jwt-client"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", "not-a-jwt"),
        ]),
        ok_basic(case(
            "scope not allowed for the client",
            400,
            "invalid_scope",
        ))
        .form(&[CC, ("scope", "admin")]),
        ok_basic(case(
            "one of several scopes not allowed",
            400,
            "invalid_scope",
        ))
        .form(&[CC, ("scope", "orders.read admin")]),
        ok_basic(case(
            "malformed scope: quote character",
            400,
            "invalid_scope",
        ))
        .form(&[CC, ("scope", "orders\"read")]),
        ok_basic(case("malformed scope: double space", 400, "invalid_scope"))
            .form(&[CC, ("scope", "orders.read  orders.write")]),
        ok_basic(case("unknown resource", 400, "invalid_target"))
            .form(&[CC, ("resource", "https://elsewhere.example")]),
        ok_basic(case("body over 16 KiB", 413, "invalid_request")).raw(
            format!(
                "grant_type=client_credentials&pad={}",
                "a".repeat(17 * 1024)
            )
            .as_bytes(),
        ),
        ok_basic(case("non-UTF-8 body", 400, "invalid_request"))
            .raw(b"grant_type=client_credentials&x=\xff\xfe"),
        ok_basic(case(
            "non-UTF-8 after percent-decoding",
            400,
            "invalid_request",
        ))
        .raw(b"grant_type=client_credentials&x=%FF"),
        ok_basic(case("malformed percent-encoding", 400, "invalid_request"))
            .raw(b"grant_type=client%ZZcredentials"),
        ok_basic(case("JSON content type", 400, "invalid_request"))
            .content_type(Some("application/json"))
            .raw(br#"{"grant_type":"client_credentials"}"#),
        ok_basic(case("missing content type", 400, "invalid_request"))
            .content_type(None)
            .form(&[CC]),
        ok_basic(case("text/plain content type", 400, "invalid_request"))
            .content_type(Some("text/plain"))
            .form(&[CC]),
        ok_basic(case("non-UTF-8 charset", 400, "invalid_request"))
            .content_type(Some(
                "application/x-www-form-urlencoded; charset=iso-8859-1",
            ))
            .form(&[CC]),
        ok_basic(case("GET on the token endpoint", 405, "invalid_request")).method("GET"),
        ok_basic(case("PUT on the token endpoint", 405, "invalid_request"))
            .method("PUT")
            .form(&[CC]),
        ok_basic(case("unknown path", 404, "not_found"))
            .path("/oauth2/tokens")
            .form(&[CC]),
    ]
}

/// Sends the case's request and checks the answer; failures name the case (an async fn cannot
/// be `#[track_caller]`).
async fn check(server: &MockAuthServer, client: &reqwest::Client, case: &Case) {
    let url = match case.path {
        Some(path) => format!("{}{path}", server.uri()),
        None => server.token_url(),
    };
    let mut request = client
        .request(case.method.parse().unwrap(), &url)
        .body(case.body.clone());
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(authorization) = &case.authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let name = case.name;
    assert_eq!(status, case.status, "{name}: status (body {text})");
    let body: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: body is not JSON: {text}"));
    assert_eq!(body["error"], case.error, "{name}: error code in {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{name}: description in {body}"
    );
    assert!(
        body.get("access_token").is_none(),
        "{name}: no token in {body}"
    );
    assert_eq!(
        headers["cache-control"], "no-store",
        "{name}: cache-control"
    );
    assert_eq!(
        headers["content-type"], "application/json",
        "{name}: content-type"
    );
    let challenge = headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    if case.challenge {
        assert_eq!(
            challenge.as_deref(),
            Some("Basic realm=\"ccflow\""),
            "{name}: WWW-Authenticate"
        );
    } else {
        assert_eq!(challenge, None, "{name}: no WWW-Authenticate expected");
    }
    if status == 405 {
        assert_eq!(headers["allow"], "POST", "{name}: Allow header");
    }
    // Error descriptions never echo a secret.
    for secret in [
        "orders-secret",
        "post-secret",
        "basic-secret",
        SPECIAL_SECRET,
    ] {
        assert!(
            !text.contains(secret),
            "{name}: body leaks a secret: {text}"
        );
    }
}

#[tokio::test]
async fn bad_requests_get_the_right_error_and_issue_nothing() {
    let (server, _clock) = start().await;
    let table = cases();
    assert!(table.len() >= 30, "the table must cover at least 30 cases");
    let client = http();
    for case in &table {
        check(&server, &client, case).await;
    }
    let entries = server.received_requests();
    assert_eq!(entries.len(), table.len(), "every request is journaled");
    assert!(
        entries.iter().all(|entry| entry.status != 200),
        "no request in the table may succeed: {entries:?}"
    );
    let tokens = entries
        .iter()
        .filter(|e| e.endpoint == Endpoint::Token)
        .count();
    assert_eq!(
        tokens,
        table.len() - 1,
        "all but the unknown path reached the token endpoint"
    );
}

#[tokio::test]
async fn a_failed_request_does_not_disturb_the_next_good_one() {
    let (server, _clock) = start().await;
    let response = common::post_form(
        &server.token_url(),
        Some(&basic("orders-service", "wrong")),
        form(&[CC]),
    )
    .await;
    assert_eq!(response.status(), 401);
    common::token(&server, "orders-service", "orders-secret", &[]).await;
}
