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
