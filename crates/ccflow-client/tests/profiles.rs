//! Vendor presets: a profile plus the vendor's base URL is all the SDK needs, against the
//! embedded mock speaking each profile.

use ccflow_auth_server::{Client, MockAuthServer, Profile};
use ccflow_client::TokenClient;

async fn server(profile: Profile) -> MockAuthServer {
    MockAuthServer::builder()
        .profile(profile)
        .tenant("acme")
        .workspace("prod")
        .app_id("app1")
        .client(Client::new("svc@cyberark.cloud.9344", "s3cret:+/@").scopes(["myscope"]))
        .client(Client::new("svc-b", "secret-b"))
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_profile_preset_gets_a_token_from_base_url_id_and_secret() {
    for profile in Profile::ALL {
        let server = server(*profile).await;
        let client = TokenClient::builder()
            .profile(*profile)
            .base_url(server.uri())
            .tenant("acme")
            .workspace("prod")
            .app_id("app1")
            .credentials("svc@cyberark.cloud.9344", "s3cret:+/@")
            .build()
            .unwrap();
        let token = client
            .token()
            .await
            .unwrap_or_else(|error| panic!("{profile}: {error}"));
        assert!(token.lifetime().as_secs() > 0, "{profile}");
        client.token().await.unwrap();
        server.assert_token_requests().exactly(1);
    }
}

#[tokio::test]
async fn every_profile_is_found_by_discovery_from_its_issuer() {
    for profile in Profile::ALL {
        let server = server(*profile).await;
        let client = TokenClient::builder()
            .profile(*profile)
            .issuer(server.issuer())
            .credentials("svc-b", "secret-b")
            .build()
            .unwrap();
        client
            .token()
            .await
            .unwrap_or_else(|error| panic!("{profile}: {error}"));
    }
}

#[tokio::test]
async fn slb_rejected_audiences_are_exposed_beside_the_granted_ones() {
    let server = server(Profile::Slb).await;
    let client = TokenClient::builder()
        .profile(Profile::Slb)
        .base_url(server.uri())
        .credentials("svc-b", "secret-b")
        .scopes(["svc@cyberark.cloud.9344", "no-such-client"])
        .build()
        .unwrap();
    let token = client.token().await.unwrap();
    assert_eq!(token.scopes().to_string(), "svc@cyberark.cloud.9344");
    assert_eq!(token.rejected_scopes(), ["no-such-client"]);
}

#[tokio::test]
async fn userclouds_server_style_without_expires_in_uses_the_jwt_exp() {
    let server = MockAuthServer::builder()
        .profile(Profile::UserClouds)
        .response_style(ccflow_auth_server::ResponseStyle::Server)
        .client(Client::new("uc-app", "uc-secret"))
        .start()
        .await
        .unwrap();
    let client = TokenClient::builder()
        .profile(Profile::UserClouds)
        .base_url(server.uri())
        .credentials("uc-app", "uc-secret")
        .build()
        .unwrap();
    let token = client.token().await.unwrap();
    let lifetime = token.lifetime().as_secs();
    assert!(
        (86_390..=86_400).contains(&lifetime),
        "24 h from the JWT exp, got {lifetime}"
    );
    assert!(token.extra().contains_key("refresh_token"));
}

#[tokio::test]
async fn cloudentity_lower_case_bearer_and_ttl_minus_one_are_understood() {
    let server = server(Profile::Cloudentity).await;
    let client = TokenClient::builder()
        .profile(Profile::Cloudentity)
        .base_url(server.uri())
        .tenant("acme")
        .workspace("prod")
        .credentials("svc-b", "secret-b")
        .build()
        .unwrap();
    let token = client.token().await.unwrap();
    assert_eq!(token.token_type(), "bearer");
    assert_eq!(token.lifetime().as_secs(), 3599);
}

/// Each preset's Basic header for a console-generated secret (`+`, `/`, `=`, `%`): raw where
/// the vendor documents `base64(CLIENT_ID:CLIENT_SECRET)` (SLB seeds 000/001, CyberArk seed
/// 003), RFC 6749 §2.3.1 elsewhere. The expected values are written out, not computed by ccflow.
#[tokio::test]
async fn each_preset_sends_basic_credentials_as_its_vendor_documents() {
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // base64("svc-console:k7+Qz/w==%2B")
    const RAW: &str = "Basic c3ZjLWNvbnNvbGU6azcrUXovdz09JTJC";
    // base64("svc-console:k7%2BQz%2Fw%3D%3D%252B")
    const RFC6749: &str = "Basic c3ZjLWNvbnNvbGU6azclMkJReiUyRnclM0QlM0QlMjUyQg==";
    for (profile, expected) in [
        (Profile::Rfc, RFC6749),
        (Profile::Slb, RAW),
        (Profile::Cloudentity, RFC6749),
        (Profile::CyberArk, RAW),
        (Profile::UserClouds, RFC6749),
    ] {
        let vendor = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("authorization", expected))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "at", "token_type": "Bearer", "expires_in": 3600
            })))
            .expect(1)
            .mount(&vendor)
            .await;
        let client = TokenClient::builder()
            .profile(profile)
            .base_url(vendor.uri())
            .credentials("svc-console", "k7+Qz/w==%2B")
            .auth_method(ccflow_client::AuthMethod::ClientSecretBasic)
            .build()
            .unwrap();
        client
            .token()
            .await
            .unwrap_or_else(|error| panic!("{profile}: {error}"));
        vendor.verify().await;
    }
}

/// The Identity Security Platform service-user preset posts the login name and password in
/// the form body to `/oauth2/platformtoken` and gets the profile's token (VENDORS.md, D).
#[tokio::test]
async fn cyberark_service_user_preset_uses_the_platform_token_endpoint() {
    let server = server(Profile::CyberArk).await;
    let client = TokenClient::builder()
        .cyberark_service_user("svc@cyberark.cloud.9344", "s3cret:+/@")
        .base_url(server.uri())
        .app_id("app1")
        .build()
        .unwrap();
    let token = client.token().await.unwrap();
    assert_eq!(token.lifetime().as_secs(), 18_000);
    assert_eq!(token.scopes().to_string(), "myscope");
    let requests = server.received_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/oauth2/platformtoken");
    assert_eq!(requests[0].status, 200);
}

#[tokio::test]
async fn cyberark_service_user_preset_sends_the_form_body_and_no_basic_header() {
    use wiremock::matchers::{body_string, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let vendor = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/platformtoken"))
        .and(body_string(
            "grant_type=client_credentials&client_id=svc%40cyberark.cloud.9344&client_secret=p%40ss+w%2Frd",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "t", "token_type": "Bearer", "expires_in": 18000
        })))
        .expect(1)
        .mount(&vendor)
        .await;
    let client = TokenClient::builder()
        .cyberark_service_user("svc@cyberark.cloud.9344", "p@ss w/rd")
        .base_url(vendor.uri())
        .build()
        .unwrap();
    client.token().await.unwrap();
    let received = vendor.received_requests().await.unwrap();
    assert!(received[0].headers.get("authorization").is_none());
}
