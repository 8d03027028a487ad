//! Properties over generated input: no header value or token makes the validator panic, and
//! no token without the issuer's signature passes, however its header and claims are shaped.

mod common;

use ccflow_resource_api::{AuthError, Validator};
use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A validator with the issuer's keys already loaded, and the runtime to drive it.
fn warm_validator() -> (tokio::runtime::Runtime, Validator, wiremock::MockServer) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (validator, server) = runtime.block_on(async {
        let server = mock_server().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(jwks_response(&[&key_1(), &es256_key()]))
            .mount(&server)
            .await;
        let validator = validator_for(&server, &clock()).build().unwrap();
        validator.refresh_keys().await.unwrap();
        (validator, server)
    });
    (runtime, validator, server)
}

thread_local! {
    // One per test thread: starting a runtime and a JWKS server per case would dominate.
    static WARM: (tokio::runtime::Runtime, Validator, wiremock::MockServer) = warm_validator();
}

/// Validates on the thread's warm validator.
fn validate(token: &str) -> Result<ccflow_resource_api::Claims, AuthError> {
    WARM.with(|(runtime, validator, _server)| runtime.block_on(validator.validate(token)))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|number| json!(number)),
        ".{0,12}".prop_map(Value::from),
        Just(json!(ISSUER)),
        Just(json!(AUDIENCE)),
        Just(json!(T0 + 60)),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        Just("RS256".to_owned()),
        Just("ES256".to_owned()),
        Just("PS256".to_owned()),
        Just("HS256".to_owned()),
        Just("none".to_owned()),
        Just("RS512".to_owned()),
        ".{0,8}".prop_map(String::from)
    ];
    let typ = prop_oneof![Just(json!("at+jwt")), Just(json!("JWT")), json_value()];
    let kid = prop_oneof![
        Just(json!(key_1().kid())),
        Just(json!("es-1")),
        json_value()
    ];
    (alg, typ, kid, proptest::option::of(json_value())).prop_map(|(alg, typ, kid, crit)| {
        let mut header = json!({"alg": alg, "typ": typ, "kid": kid});
        if let Some(crit) = crit {
            header["crit"] = crit;
        }
        header
    })
}

fn claims() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("iss"),
        Just("aud"),
        Just("exp"),
        Just("nbf"),
        Just("iat"),
        Just("scope"),
        Just("scp"),
        Just("sub"),
        Just("client_id"),
    ];
    prop::collection::btree_map(names, json_value(), 0..9).prop_map(|map| {
        let mut claims = common::claims();
        for (name, value) in map {
            claims[name] = value;
        }
        claims
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn forged_tokens_never_pass(header in header(), claims in claims(), signature in "[A-Za-z0-9_-]{0,400}") {
        let result = validate(&craft(&header, &claims, &signature));
        prop_assert!(result.is_err(), "{header} {claims}");
        prop_assert!(!matches!(result, Err(AuthError::NotConfigured)));
    }

    #[test]
    fn arbitrary_tokens_never_panic(token in ".{0,600}") {
        prop_assert!(validate(&token).is_err());
    }
}
