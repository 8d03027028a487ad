//! Per vendor profile, the whole chain over real sockets: the SDK (profile preset) gets a token
//! from the embedded mock speaking that profile, and calls the sample API, whose validator uses
//! the profile's defaults.

use std::net::TcpListener;

use actix_web::{App, HttpServer};
use ccflow_auth_server::{Client, MockAuthServer, Profile};
use ccflow_client::{AuthorizedClient, TokenClient};
use ccflow_resource_api::Validator;
use ccflow_resource_api::sample_api::{SampleApi, configure};
use serde_json::Value;

/// The sample API on a real port, stopped when dropped.
struct Api {
    url: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Api {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn start_api(validator: Validator, by_audience: bool) -> Api {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = SampleApi::new(validator).authorize_by_audience(by_audience);
    let server = HttpServer::new(move || App::new().configure(configure(api.clone())))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Api { url, handle }
}

struct Case {
    profile: Profile,
    /// What the API's validator takes as its audience, given the auth server.
    audience: fn(&MockAuthServer) -> String,
    /// Items routes expected status for a token of `writer` (scopes items:read items:write).
    items_status: u16,
}

async fn round_trip(case: &Case) {
    let profile = case.profile;
    let auth = MockAuthServer::builder()
        .profile(profile)
        .tenant("acme")
        .workspace("prod")
        .app_id("app1")
        .client(
            Client::new("writer", "writer-secret")
                .scopes(["items:read", "items:write"])
                .audiences(["items-api"]),
        )
        .client(Client::new("items-api", "api-secret"))
        .start()
        .await
        .unwrap();
    let audience = (case.audience)(&auth);
    let validator = Validator::builder()
        .issuer(auth.issuer())
        .audience(audience.clone())
        .profile(profile)
        .build()
        .unwrap();
    let api = start_api(validator, profile.spec().resource.authorize_by_audience);
    let mut tokens = TokenClient::builder()
        .profile(profile)
        .base_url(auth.uri())
        .tenant("acme")
        .workspace("prod")
        .app_id("app1")
        .credentials("writer", "writer-secret");
    tokens = match profile {
        // SLB: the audiences wanted are requested as scopes (other clients' ids).
        Profile::Slb => tokens.scopes(["items-api"]),
        Profile::UserClouds => tokens.audience("items-api"),
        _ => tokens,
    };
    let client = AuthorizedClient::new(tokens.build().unwrap());
    let whoami = client
        .send(client.get(format!("{}/v1/whoami", api.url)))
        .await
        .unwrap();
    assert_eq!(whoami.status(), 200, "{profile}: whoami");
    let body: Value = whoami.json().await.unwrap();
    assert!(
        body["audiences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == audience.as_str()),
        "{profile}: {body}"
    );
    let create = client
        .send(
            client
                .post(format!("{}/v1/items", api.url))
                .json(&serde_json::json!({"name": "widget", "quantity": 3, "tags": ["demo"]})),
        )
        .await
        .unwrap();
    assert_eq!(
        create.status().as_u16(),
        case.items_status,
        "{profile}: POST /v1/items"
    );
    let list = client
        .send(client.get(format!("{}/v1/items", api.url)))
        .await
        .unwrap();
    let list_status = if case.items_status == 201 {
        200
    } else {
        case.items_status
    };
    assert_eq!(
        list.status().as_u16(),
        list_status,
        "{profile}: GET /v1/items"
    );
    // One token for all those calls.
    auth.assert_token_requests().exactly(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_round_trips_sdk_token_and_resource_api() {
    let cases = [
        Case {
            profile: Profile::Rfc,
            audience: |_| "items-api".to_owned(),
            items_status: 201,
        },
        // SLB authorises by audience: the API's own client id in `aud` is enough.
        Case {
            profile: Profile::Slb,
            audience: |_| "items-api".to_owned(),
            items_status: 201,
        },
        // Cloudentity: scopes in `scp`, the resource as a spiffe audience.
        Case {
            profile: Profile::Cloudentity,
            audience: |auth| format!("spiffe://{}/acme/prod/items-api", auth.address()),
            items_status: 201,
        },
        // CyberArk: `aud` is the calling client's id, as a string; the issuer ends with `/`.
        Case {
            profile: Profile::CyberArk,
            audience: |_| "writer".to_owned(),
            items_status: 201,
        },
        // UserClouds: `typ: JWT`, `aud` from the audience parameter; its tokens carry no scopes,
        // so the profile authorises the item routes by audience.
        Case {
            profile: Profile::UserClouds,
            audience: |_| "items-api".to_owned(),
            items_status: 201,
        },
    ];
    for case in &cases {
        round_trip(case).await;
    }
}

/// One profile's minted `typ`, and which validators take its tokens.
struct TypCase {
    profile: Profile,
    /// The auth server's `access_token_typ` setting, if any.
    setting: Option<&'static str>,
    minted: &'static str,
    /// Whether a validator on the defaults (RFC 9068's `at+jwt` only) accepts the token.
    strict_accepts: bool,
}

/// The `typ` a profile mints (`at+jwt` for `rfc`; `JWT` for the vendors, VENDORS.md), and the
/// validator configured "like the vendor" (`.profile(..)`) accepting both.
async fn check_typ(case: &TypCase) {
    let profile = case.profile;
    let mut builder = MockAuthServer::builder()
        .profile(profile)
        .client(Client::new("writer", "writer-secret"));
    if let Some(typ) = case.setting {
        builder = builder.access_token_typ(typ);
    }
    let auth = builder.start().await.unwrap();
    let audience = match profile {
        Profile::UserClouds => auth.issuer().to_owned(),
        _ => "writer".to_owned(),
    };
    let validator = |vendor: bool| {
        let mut builder = Validator::builder()
            .issuer(auth.issuer())
            .audience(audience.clone())
            .algorithms([
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::Algorithm::ES256,
            ]);
        if vendor {
            builder = builder.profile(profile);
        }
        builder.build().unwrap()
    };
    let token = TokenClient::builder()
        .profile(profile)
        .base_url(auth.uri())
        .credentials("writer", "writer-secret")
        .build()
        .unwrap()
        .token()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token.secret()).unwrap();
    let name = format!("{profile} {:?}", case.setting);
    assert_eq!(header.typ.as_deref(), Some(case.minted), "{name}");
    assert_eq!(
        validator(false).validate(token.secret()).await.is_ok(),
        case.strict_accepts,
        "{name}: a validator on the defaults"
    );
    validator(true)
        .validate(token.secret())
        .await
        .unwrap_or_else(|error| panic!("{name}: the profile's validator refused: {error}"));
}

#[tokio::test]
async fn each_profile_mints_its_typ_and_its_resource_defaults_accept_jwt_and_at_jwt() {
    let case = |profile, setting, minted, strict_accepts| TypCase {
        profile,
        setting,
        minted,
        strict_accepts,
    };
    let cases = [
        case(Profile::Rfc, None, "at+jwt", true),
        case(Profile::Slb, None, "JWT", false),
        case(Profile::Cloudentity, None, "JWT", false),
        case(Profile::CyberArk, None, "JWT", false),
        case(Profile::UserClouds, None, "JWT", false),
        // The setting: a vendor validator still accepts RFC 9068's `at+jwt`.
        case(Profile::Slb, Some("at+jwt"), "at+jwt", true),
        case(Profile::Cloudentity, Some("at+jwt"), "at+jwt", true),
        case(Profile::CyberArk, Some("at+jwt"), "at+jwt", true),
    ];
    for case in &cases {
        check_typ(case).await;
    }
}
