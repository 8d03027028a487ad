//! The attack catalogue (validators-and-attacks.md §C), one test per attack: each request goes
//! to a middleware-guarded route (`GET /v1/items`) and to an extractor-guarded one
//! (`GET /v1/whoami`), and both must give the exact status, `error` and challenge.

mod common;

use actix_web::test::TestRequest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_resource_api::sample_api::SampleApi;
use ccflow_resource_api::{Algorithm, Validator};
use common::*;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::MockServer;
use wiremock::matchers::any;

/// What every protected route must answer.
struct Expected {
    status: u16,
    error: Option<&'static str>,
    challenge: String,
}

fn invalid_token(description: &str) -> Expected {
    Expected {
        status: 401,
        error: Some("invalid_token"),
        challenge: format!(
            r#"Bearer realm="ccflow", error="invalid_token", error_description="{description}""#
        ),
    }
}

fn invalid_request(description: &str) -> Expected {
    Expected {
        status: 400,
        error: Some("invalid_request"),
        challenge: format!(
            r#"Bearer realm="ccflow", error="invalid_request", error_description="{description}""#
        ),
    }
}

fn no_credentials() -> Expected {
    Expected {
        status: 401,
        error: None,
        challenge: r#"Bearer realm="ccflow""#.to_owned(),
    }
}

#[track_caller]
fn check(answers: &[Answer], expected: &Expected) {
    for answer in answers {
        assert_eq!(answer.status, expected.status, "{answer:?}");
        assert_eq!(answer.error(), expected.error, "{answer:?}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(expected.challenge.as_str()),
            "{answer:?}"
        );
        // The body repeats the challenge's description for humans.
        assert!(
            answer
                .body
                .get("error_description")
                .is_some_and(Value::is_string),
            "{answer:?}"
        );
    }
}

/// The issuer publishes `key_1()`; the validator expects `fetches` JWKS requests.
async fn setup(fetches: u64) -> (SampleApi, MockServer) {
    let server = jwks_server(&[&key_1()], fetches).await;
    let validator = validator_for(&server, &clock()).build().unwrap();
    (SampleApi::new(validator), server)
}

/// The same request to both guarded routes.
async fn both(api: &SampleApi, request: impl Fn(&str) -> TestRequest) -> Vec<Answer> {
    let mut answers = Vec::new();
    for uri in ["/v1/items", "/v1/whoami"] {
        answers.push(send(api, request(uri)).await);
    }
    answers
}

async fn with_token(api: &SampleApi, token: &str) -> Vec<Answer> {
    both(api, |uri| get(uri).insert_header(bearer(token))).await
}

#[actix_web::test]
async fn a_valid_token_passes_both_routes() {
    let (api, _jwks) = setup(1).await;
    let answers = with_token(&api, &token(&key_1())).await;
    assert_eq!(answers[0].status, 200, "{:?}", answers[0]);
    assert_eq!(answers[1].status, 200, "{:?}", answers[1]);
    assert_eq!(answers[1].body["client_id"], "svc");
}

#[actix_web::test]
async fn refuses_alg_none_in_any_spelling() {
    // Refused from the header alone: no key is ever fetched.
    let (api, _jwks) = setup(0).await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": key_1().kid()});
        let answers = with_token(&api, &craft(&header, &claims(), "")).await;
        check(
            &answers,
            &invalid_token("unsigned tokens (alg none) are never accepted (RFC 8725 section 3.1)"),
        );
    }
}

#[actix_web::test]
async fn refuses_hs256_signed_with_the_rsa_public_key() {
    // The classic key confusion: the attacker HMACs with the issuer's public key.
    let issuer_key = client_rsa_key();
    let public_pem = fixture("keys/client-rs256.pub.pem");
    let server = jwks_server(&[&issuer_key], 0).await;
    let api = SampleApi::new(validator_for(&server, &clock()).build().unwrap());
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".to_owned());
    header.kid = issuer_key.jwk.kid.clone();
    for secret in [
        public_pem.as_bytes(),
        issuer_key.jwk.n.as_deref().unwrap().as_bytes(),
    ] {
        let forged =
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret)).unwrap();
        check(
            &with_token(&api, &forged).await,
            &invalid_token("the token's alg is not accepted here (accepted: RS256, PS256, ES256)"),
        );
    }

    // Even where HS256 is allowed, it is checked with the configured secret only.
    let hmac_api = SampleApi::new(
        validator_for(&server, &clock())
            .algorithms([Algorithm::RS256, Algorithm::HS256])
            .shared_secret(b"a-dedicated-secret-of-32-bytes!!".to_vec())
            .build()
            .unwrap(),
    );
    let forged = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    check(
        &with_token(&hmac_api, &forged).await,
        &invalid_token("the token's signature is invalid"),
    );
}

#[actix_web::test]
async fn refuses_an_unknown_kid() {
    // One fetch to load the keys; the unknown kid's refetch is within the cooldown.
    let (api, _jwks) = setup(1).await;
    let attacker = key_2();
    let forged = sign_with(&attacker, &header(&attacker), &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token("no key published by the issuer matches the token's kid"),
    );
}

#[actix_web::test]
async fn refuses_a_path_traversal_kid() {
    let (api, _jwks) = setup(1).await;
    let mut header = header(&key_1());
    header.kid = Some(format!("../../../{}", key_1().kid()));
    let forged = sign_with(&key_1(), &header, &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token("no key published by the issuer matches the token's kid"),
    );
}

#[actix_web::test]
async fn refuses_a_very_long_kid_without_looking_it_up() {
    let (api, _jwks) = setup(0).await;
    let mut header = header(&key_1());
    header.kid = Some("k".repeat(2000));
    let forged = sign_with(&key_1(), &header, &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token("the token's kid is longer than 256 bytes"),
    );
}

/// An attacker's JWKS that must never be fetched.
async fn attacker_server() -> MockServer {
    let server = mock_server().await;
    wiremock::Mock::given(any())
        .respond_with(jwks_response(&[&key_2()]))
        .expect(0)
        .named("attacker's JWKS")
        .mount(&server)
        .await;
    server
}

#[actix_web::test]
async fn ignores_a_jku_header_pointing_elsewhere() {
    let (api, _jwks) = setup(1).await;
    let attacker = attacker_server().await;
    let mut header = header(&key_2());
    header.jku = Some(jwks_url(&attacker));
    let forged = sign_with(&key_2(), &header, &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token("no key published by the issuer matches the token's kid"),
    );
}

#[actix_web::test]
async fn ignores_an_x5u_header_pointing_elsewhere() {
    let (api, _jwks) = setup(1).await;
    let attacker = attacker_server().await;
    let mut header = header(&key_2());
    header.x5u = Some(format!("{}/cert.pem", attacker.uri()));
    let forged = sign_with(&key_2(), &header, &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token("no key published by the issuer matches the token's kid"),
    );
}

#[actix_web::test]
async fn ignores_an_embedded_jwk() {
    // No kid: the validator tries the issuer's own keys, and the signature fails.
    let (api, _jwks) = setup(1).await;
    let attacker = key_2();
    let mut header = header(&attacker);
    header.kid = None;
    header.jwk = Some(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker.encoding, Algorithm::RS256).unwrap(),
    );
    let forged = sign_with(&attacker, &header, &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token("the token's signature is invalid"),
    );
}

#[actix_web::test]
async fn refuses_an_expired_token() {
    let (api, _jwks) = setup(1).await;
    // 31 s past exp: beyond the 30 s leeway.
    let expired = token_with_claims(&key_1(), &claims_with(&json!({"exp": T0 - 31})));
    check(
        &with_token(&api, &expired).await,
        &invalid_token("the token expired"),
    );
    let within_leeway = token_with_claims(&key_1(), &claims_with(&json!({"exp": T0 - 29})));
    assert!(
        with_token(&api, &within_leeway)
            .await
            .iter()
            .all(|answer| answer.status == 200)
    );
}

#[actix_web::test]
async fn refuses_nbf_in_the_future_beyond_the_leeway() {
    let (api, _jwks) = setup(1).await;
    let early = token_with_claims(&key_1(), &claims_with(&json!({"nbf": T0 + 31})));
    check(
        &with_token(&api, &early).await,
        &invalid_token("the token is not valid yet (nbf)"),
    );
    let within_leeway = token_with_claims(&key_1(), &claims_with(&json!({"nbf": T0 + 30})));
    assert!(
        with_token(&api, &within_leeway)
            .await
            .iter()
            .all(|answer| answer.status == 200)
    );
}

#[actix_web::test]
async fn refuses_a_string_typed_exp() {
    // CVE-2026-25537: a string time must not be read as "absent".
    let (api, _jwks) = setup(1).await;
    let forged = token_with_claims(
        &key_1(),
        &claims_with(&json!({"exp": (T0 + 3600).to_string()})),
    );
    check(
        &with_token(&api, &forged).await,
        &invalid_token("the token's exp claim has the wrong type"),
    );
    let string_nbf = token_with_claims(&key_1(), &claims_with(&json!({"nbf": "0"})));
    check(
        &with_token(&api, &string_nbf).await,
        &invalid_token("the token's nbf claim has the wrong type"),
    );
}

#[actix_web::test]
async fn refuses_a_wrong_issuer_including_a_trailing_slash_mismatch() {
    let (api, _jwks) = setup(1).await;
    for issuer in [
        "https://evil.test",
        "https://issuer.test/",
        "https://ISSUER.test",
    ] {
        let forged = token_with_claims(&key_1(), &claims_with(&json!({"iss": issuer})));
        check(
            &with_token(&api, &forged).await,
            &invalid_token(&format!(
                "the token was issued by another issuer: iss is `{issuer}`, this API trusts `https://issuer.test`"
            )),
        );
    }
}

#[actix_web::test]
async fn refuses_a_wrong_audience() {
    let (api, _jwks) = setup(1).await;
    for (audience, named) in [
        (json!("other-api"), "`other-api`"),
        (json!(["other-api", "billing"]), "`other-api`, `billing`"),
        (json!([]), "empty"),
    ] {
        let forged = token_with_claims(&key_1(), &claims_with(&json!({"aud": audience})));
        check(
            &with_token(&api, &forged).await,
            &invalid_token(&format!(
                "the token is not meant for this API: aud is {named}, this API accepts `items-api`"
            )),
        );
    }
}

#[actix_web::test]
async fn refuses_a_token_without_exp() {
    let (api, _jwks) = setup(1).await;
    let forged = token_with_claims(&key_1(), &claims_with(&json!({"exp": null})));
    check(
        &with_token(&api, &forged).await,
        &invalid_token("the token has no exp claim"),
    );
}

#[actix_web::test]
async fn refuses_a_token_without_aud() {
    let (api, _jwks) = setup(1).await;
    let forged = token_with_claims(&key_1(), &claims_with(&json!({"aud": null})));
    check(
        &with_token(&api, &forged).await,
        &invalid_token("the token has no aud claim"),
    );
}

#[actix_web::test]
async fn refuses_a_token_without_iss() {
    let (api, _jwks) = setup(1).await;
    let forged = token_with_claims(&key_1(), &claims_with(&json!({"iss": null})));
    check(
        &with_token(&api, &forged).await,
        &invalid_token("the token has no iss claim"),
    );
}

#[actix_web::test]
async fn refuses_typ_jwt_where_at_jwt_is_required() {
    // Refused from the header: only the second validator, below, fetches keys.
    let (api, jwks) = setup(1).await;
    let mut jwt_header = header(&key_1());
    jwt_header.typ = Some("JWT".to_owned());
    let id_token_like = sign_with(&key_1(), &jwt_header, &claims());
    check(
        &with_token(&api, &id_token_like).await,
        &invalid_token("the token's typ is not accepted (expected: at+jwt; RFC 9068 section 2.1)"),
    );
    let mut no_typ = header(&key_1());
    no_typ.typ = None;
    check(
        &with_token(&api, &sign_with(&key_1(), &no_typ, &claims())).await,
        &invalid_token("the token's typ is not accepted (expected: at+jwt; RFC 9068 section 2.1)"),
    );

    // A profile for vendors that mint access tokens as `typ: JWT`.
    let vendor_api = SampleApi::new(
        validator_for(&jwks, &clock())
            .require_typ(["at+jwt", "JWT"])
            .build()
            .unwrap(),
    );
    let answers = with_token(&vendor_api, &id_token_like).await;
    assert!(
        answers.iter().all(|answer| answer.status == 200),
        "{answers:?}"
    );
}

#[actix_web::test]
async fn refuses_an_unknown_crit_header() {
    let (api, _jwks) = setup(0).await;
    let header =
        json!({"alg": "RS256", "typ": "at+jwt", "kid": key_1().kid(), "crit": ["exp"], "exp": 1});
    let forged = craft_signed(&key_1(), &header, &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token(
            "the token has a crit header, and this API understands no JWS extensions (RFC 7515 section 4.1.11)",
        ),
    );
}

#[actix_web::test]
async fn refuses_a_stripped_signature() {
    let (api, _jwks) = setup(1).await;
    let signed = token(&key_1());
    let stripped = &signed[..=signed.rfind('.').unwrap()];
    check(
        &with_token(&api, stripped).await,
        &invalid_token("the token's signature is invalid"),
    );
}

#[actix_web::test]
async fn refuses_a_signature_from_another_key() {
    let (api, _jwks) = setup(1).await;
    // The issuer's kid, the attacker's key.
    let forged = sign_with(&key_2(), &header(&key_1()), &claims());
    check(
        &with_token(&api, &forged).await,
        &invalid_token("the token's signature is invalid"),
    );
    // A valid signature over other claims, spliced onto a forged payload.
    let genuine = token(&key_1());
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let payload = b64(&claims_with(&json!({"scope": "admin"})));
    parts[1] = &payload;
    check(
        &with_token(&api, &parts.join(".")).await,
        &invalid_token("the token's signature is invalid"),
    );
}

#[actix_web::test]
async fn refuses_a_100_kib_token_before_decoding_it() {
    let (api, _jwks) = setup(0).await;
    let huge = format!(
        "{}.{}.{}",
        "a".repeat(100 * 1024),
        "b".repeat(10),
        "c".repeat(10)
    );
    check(
        &with_token(&api, &huge).await,
        &invalid_token("the token is larger than 8192 bytes"),
    );
}

#[actix_web::test]
async fn refuses_two_authorization_headers() {
    let (api, _jwks) = setup(0).await;
    let valid = token(&key_1());
    let answers = both(&api, |uri| {
        get(uri)
            .append_header(bearer(&valid))
            .append_header(bearer(&valid))
    })
    .await;
    check(
        &answers,
        &invalid_request("the request has more than one Authorization header"),
    );
}

#[actix_web::test]
async fn refuses_a_token_in_the_query_string() {
    let (api, _jwks) = setup(0).await;
    let valid = token(&key_1());
    let answers = both(&api, |uri| get(&format!("{uri}?access_token={valid}"))).await;
    check(
        &answers,
        &invalid_request(
            "access tokens are accepted only in the Authorization header, not in the query string (RFC 6750 section 2.3)",
        ),
    );
    let answers = both(&api, |uri| {
        get(&format!("{uri}?access_token={valid}")).insert_header(bearer(&valid))
    })
    .await;
    check(
        &answers,
        &invalid_request(
            "the request carries an access token in more than one place (RFC 6750 section 2)",
        ),
    );
}

#[actix_web::test]
async fn refuses_a_token_in_a_form_body() {
    let (api, _jwks) = setup(0).await;
    let valid = token(&key_1());
    let form = |with_header: bool| {
        let request = TestRequest::post()
            .uri("/v1/items")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(format!("name=x&access_token={valid}"));
        if with_header {
            request.insert_header(bearer(&valid))
        } else {
            request
        }
    };
    check(
        &[send(&api, form(true)).await],
        &invalid_request(
            "the request carries an access token in more than one place (RFC 6750 section 2)",
        ),
    );
    check(
        &[send(&api, form(false)).await],
        &invalid_request(
            "access tokens are accepted only in the Authorization header, not in a form body (RFC 6750 section 2.2)",
        ),
    );
}

#[actix_web::test]
async fn accepts_the_scheme_in_lower_case() {
    let (api, _jwks) = setup(1).await;
    let valid = token(&key_1());
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let answers = both(&api, |uri| {
            get(uri).insert_header(("authorization", format!("{scheme} {valid}")))
        })
        .await;
        assert!(
            answers.iter().all(|answer| answer.status == 200),
            "{answers:?}"
        );
    }
}

#[actix_web::test]
async fn answers_a_request_without_credentials_with_a_bare_challenge() {
    let (api, _jwks) = setup(0).await;
    check(&both(&api, get).await, &no_credentials());
    let basic = both(&api, |uri| {
        get(uri).insert_header(("authorization", "Basic c3ZjOnNlY3JldA=="))
    })
    .await;
    check(&basic, &no_credentials());
}

#[actix_web::test]
async fn refuses_malformed_bearer_credentials() {
    let (api, _jwks) = setup(0).await;
    for value in ["Bearer", "Bearer a b", "Bearer tok\"en"] {
        let answers = both(&api, |uri| get(uri).insert_header(("authorization", value))).await;
        check(
            &answers,
            &invalid_request(
                "the Authorization header is not `Bearer <token>` (RFC 6750 section 2.1)",
            ),
        );
    }
    let opaque = with_token(&api, "opaque-token-not-a-jwt").await;
    check(
        &opaque,
        &invalid_token("the token is not a JWS in compact serialization (three base64url parts)"),
    );
}

#[actix_web::test]
async fn answers_a_missing_scope_with_403_insufficient_scope() {
    let (api, _jwks) = setup(1).await;
    let reader = token_with_claims(&key_1(), &claims_with(&json!({"scope": "items:read"})));
    let answer = send(
        &api,
        TestRequest::post()
            .uri("/v1/items")
            .insert_header(bearer(&reader))
            .set_json(json!({"name": "x", "quantity": 1})),
    )
    .await;
    check(
        &[answer],
        &Expected {
            status: 403,
            error: Some("insufficient_scope"),
            challenge: r#"Bearer realm="ccflow", error="insufficient_scope", error_description="the token lacks the scope items:write", scope="items:write""#.to_owned(),
        },
    );
}

#[actix_web::test]
async fn refuses_a_token_signed_for_another_api_even_with_the_right_scope() {
    // Cross-audience substitution (RFC 8725 §3.9): right issuer, right scope, wrong aud.
    let (api, _jwks) = setup(1).await;
    let other = token_with_claims(&key_1(), &claims_with(&json!({"aud": "billing-api"})));
    check(
        &with_token(&api, &other).await,
        &invalid_token(
            "the token is not meant for this API: aud is `billing-api`, this API accepts `items-api`",
        ),
    );
}

#[actix_web::test]
async fn never_echoes_the_token_in_a_refusal() {
    let (api, _jwks) = setup(1).await;
    let expired = token_with_claims(&key_1(), &claims_with(&json!({"exp": T0 - 3600})));
    for answer in with_token(&api, &expired).await {
        let text = format!("{answer:?}");
        let signature = expired.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "{text}");
    }
    let _ = Validator::builder;
}

#[actix_web::test]
async fn refuses_a_repeated_claim_behind_a_valid_signature() {
    // RFC 7519 §4: a parser that kept the first `exp` would read this token as expired and one
    // that kept the last as valid for ever; the validator reads neither.
    let (api, _jwks) = setup(1).await;
    let key = key_1();
    let header = serde_json::to_string(&header(&key)).unwrap();
    let claims = claims().to_string();
    let repeated = format!(
        r#"{},"exp":{}}}"#,
        claims.strip_suffix('}').unwrap(),
        T0 + 10 * 365 * 86_400
    );
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(repeated)
    );
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.algorithm).unwrap();
    check(
        &with_token(&api, &format!("{message}.{signature}")).await,
        &invalid_token("the token's claims are not a valid JSON object"),
    );
    // The same claims without the repeat pass: only the repeat was refused.
    let answers = with_token(&api, &token(&key)).await;
    assert!(
        answers.iter().all(|answer| answer.status == 200),
        "{answers:?}"
    );
}
