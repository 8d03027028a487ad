//! SLB's `appkey` policy on the sample API: a table of requests with and without the header,
//! answered before the bearer token is looked at, and the setting's file and Debug forms.

mod common;

use ccflow_resource_api::sample_api::{SampleApi, Settings};
use common::*;

const KEYS: [&str; 2] = ["k3y-+/=%Primary", "second-key"];

struct Case {
    name: &'static str,
    /// Whether the API requires the keys above.
    policy: bool,
    method: &'static str,
    path: &'static str,
    appkey: Option<&'static str>,
    /// Whether a valid bearer token is sent.
    token: bool,
    status: u16,
    /// The gateway's `errorcode`, for a refusal by the policy.
    errorcode: Option<&'static str>,
}

const BASE: Case = Case {
    name: "",
    policy: true,
    method: "GET",
    path: "/v1/whoami",
    appkey: Some(KEYS[0]),
    token: true,
    status: 200,
    errorcode: None,
};

const MISSING: Option<&str> = Some("steps.oauth.v2.FailedToResolveAPIKey");
const INVALID: Option<&str> = Some("oauth.v2.InvalidApiKey");

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "the first key",
            ..BASE
        },
        Case {
            name: "the second key",
            appkey: Some(KEYS[1]),
            ..BASE
        },
        Case {
            name: "no appkey header",
            appkey: None,
            status: 401,
            errorcode: MISSING,
            ..BASE
        },
        Case {
            name: "an unknown key",
            appkey: Some("nope"),
            status: 401,
            errorcode: INVALID,
            ..BASE
        },
        Case {
            name: "keys are case-sensitive",
            appkey: Some("SECOND-KEY"),
            status: 401,
            errorcode: INVALID,
            ..BASE
        },
        Case {
            name: "an empty key",
            appkey: Some(""),
            status: 401,
            errorcode: INVALID,
            ..BASE
        },
        Case {
            name: "a key that only starts like one",
            appkey: Some("second-key2"),
            status: 401,
            errorcode: INVALID,
            ..BASE
        },
        // The gateway answers first: no token and no key is the key's refusal.
        Case {
            name: "no key and no token",
            appkey: None,
            token: false,
            status: 401,
            errorcode: MISSING,
            ..BASE
        },
        // A good key does not stand in for the token.
        Case {
            name: "a key without a token",
            token: false,
            status: 401,
            ..BASE
        },
        Case {
            name: "items need the key too",
            path: "/v1/items",
            appkey: None,
            status: 401,
            errorcode: MISSING,
            ..BASE
        },
        Case {
            name: "an item by id needs the key too",
            method: "DELETE",
            path: "/v1/items/1",
            appkey: Some("nope"),
            status: 401,
            errorcode: INVALID,
            ..BASE
        },
        Case {
            name: "healthz needs no key",
            path: "/healthz",
            appkey: None,
            token: false,
            ..BASE
        },
        Case {
            name: "without the policy no key is needed",
            policy: false,
            appkey: None,
            ..BASE
        },
    ]
}

#[actix_web::test]
async fn appkey_policy_answers_before_the_token() {
    // One validator for every case: its keys are fetched once, by the first case that gets
    // past the policy, so a refused request provably never loaded keys.
    let server = jwks_server(&[&key_1()], 1).await;
    let validator = validator_for(&server, &clock()).build().unwrap();
    let token = token(&key_1());
    for case in cases() {
        let name = case.name;
        let mut api = SampleApi::new(validator.clone());
        if case.policy {
            api = api.require_appkeys(KEYS);
        }
        assert_eq!(api.requires_appkey(), case.policy, "{name}");
        let mut request = actix_web::test::TestRequest::default()
            .method(case.method.parse().unwrap())
            .uri(case.path);
        if let Some(key) = case.appkey {
            request = request.insert_header(("appkey", key));
        }
        if case.token {
            request = request.insert_header(bearer(&token));
        }
        let answer = send(&api, request).await;
        assert_eq!(answer.status, case.status, "{name}: {}", answer.body);
        match case.errorcode {
            Some(code) => {
                assert_eq!(answer.body["fault"]["detail"]["errorcode"], code, "{name}");
                assert!(answer.body["fault"]["faultstring"].is_string(), "{name}");
                assert!(answer.challenge.is_none(), "{name}: no bearer challenge");
                assert!(!answer.body.to_string().contains("nope"), "{name}: echo");
            }
            None => assert!(answer.body.get("fault").is_none(), "{name}"),
        }
    }
}

#[test]
fn appkeys_come_from_the_file_and_never_print() {
    let settings = Settings::from_toml(
        "issuer = \"https://issuer.test\"\naudiences = [\"items-api\"]\nappkeys = [\"file-key-canary\", \"two\"]\n",
    )
    .unwrap();
    assert_eq!(settings.appkeys.len(), 2);
    assert_eq!(settings.appkeys[0].expose_secret(), "file-key-canary");
    assert!(!format!("{settings:?}").contains("file-key-canary"));
    let empty = Settings::from_toml("appkeys = [\"\"]\n").unwrap_err();
    assert!(empty.message.contains("appkeys"), "{empty}");
}
