//! The validator against the mock's test control: key rotation picked up through the JWKS
//! cache, and every minted bad token refused with RFC 6750's `invalid_token`.

use ccflow_auth_server::{Client, Defect, MockAuthServer, SigningKey};
use ccflow_resource_api::{AuthError, Validator};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn setup() -> (MockAuthServer, Validator) {
    let server = MockAuthServer::builder()
        .signing_key(SigningKey::from_pem(&fixture("rs256-1.pem")).unwrap())
        .client(Client::new("svc", "secret").audiences(["items-api"]))
        .start()
        .await
        .unwrap();
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience("items-api")
        // Let the unknown-kid refetch happen at once in the test.
        .jwks_refresh_cooldown(std::time::Duration::ZERO)
        .build()
        .unwrap();
    (server, validator)
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_the_previous_key_keeps_working() {
    let (server, validator) = setup().await;
    let before = server.mint().client("svc").sign().unwrap();
    validator.validate(&before).await.unwrap();
    server
        .app()
        .rotate_keys_to(SigningKey::from_pem(&fixture("rs256-2.pem")).unwrap());
    let after = server.mint().client("svc").sign().unwrap();
    validator
        .validate(&after)
        .await
        .expect("the new kid triggers one JWKS refresh");
    validator
        .validate(&before)
        .await
        .expect("the previous key is still published");
}

#[tokio::test]
async fn every_minted_defect_is_refused() {
    let (server, validator) = setup().await;
    for defect in [
        Defect::Expired,
        Defect::NotYetValid,
        Defect::AlgNone,
        Defect::Hs256WithPublicKey,
        Defect::StringExp,
        Defect::UnknownKid,
        Defect::WrongTyp,
        Defect::StrippedSignature,
        Defect::Oversized,
    ] {
        let token = server.mint().client("svc").defect(defect).sign().unwrap();
        let error = validator
            .validate(&token)
            .await
            .expect_err("a defect never validates");
        assert!(
            matches!(error, AuthError::InvalidToken(_)),
            "{defect:?}: {error:?}"
        );
    }
    let foreign = server.mint().client("svc").foreign_key().sign().unwrap();
    assert!(validator.validate(&foreign).await.is_err());
    let wrong_audience = server
        .mint()
        .client("svc")
        .claim("aud", "other-api")
        .sign()
        .unwrap();
    assert!(validator.validate(&wrong_audience).await.is_err());
}

#[actix_web::test]
async fn the_sample_api_clock_expires_tokens_on_the_api_side() {
    use actix_web::test::{TestRequest, call_service, init_service};
    use ccflow_resource_api::sample_api::{SampleApi, configure};
    let (server, _) = setup().await;
    let clock = ccflow_protocol::VirtualClock::new();
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience("items-api")
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = init_service(actix_web::App::new().configure(configure(
        SampleApi::new(validator).with_clock_control(clock),
    )))
    .await;
    let loopback: std::net::SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let token = server.mint().client("svc").sign().unwrap();
    let whoami = || {
        TestRequest::get()
            .uri("/v1/whoami")
            .peer_addr(loopback)
            .insert_header(("authorization", format!("Bearer {token}")))
    };
    assert_eq!(
        call_service(&app, whoami().to_request()).await.status(),
        200
    );
    let advance = TestRequest::post()
        .uri("/_ccflow/clock")
        .peer_addr(loopback)
        .set_payload(r#"{"advance_secs": 7200}"#)
        .to_request();
    assert_eq!(call_service(&app, advance).await.status(), 200);
    assert_eq!(
        call_service(&app, whoami().to_request()).await.status(),
        401,
        "expired by the API's clock"
    );
    let remote = TestRequest::post()
        .uri("/_ccflow/clock")
        .peer_addr("192.0.2.1:50000".parse().unwrap())
        .set_payload(r#"{"reset": true}"#)
        .to_request();
    assert_eq!(
        call_service(&app, remote).await.status(),
        403,
        "loopback only"
    );
}
