//! The token endpoint as a client reaches it: a POST with arbitrary `Content-Type`,
//! `Authorization` and body bytes, through the server's own actix routes (`configure`), so the
//! same code as in production reads the body, parses the request and picks the OAuth error.
//!
//! Input: `[server byte] content-type \n authorization \n body`; an empty header line means
//! the header is absent. The server byte picks a profile (rfc, slb, cloudentity, cyberark,
//! userclouds) or the rfc server with tight request limits. Asserts: no panic, never a 5xx, a 200 carries a token, every other
//! answer is a 4xx whose JSON body names an RFC 6749 §5.2 error; `Cache-Control: no-store`
//! where the profile sends cache headers.
#![no_main]

use std::sync::OnceLock;

use actix_web::http::header::HeaderValue;
use actix_web::{App, test};
use ccflow_auth_server::{AuthServer, Profile, configure};
use ccflow_fuzz::{PROFILES, auth_server, check_error_body, split_parts, tight_limits_server};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn servers() -> &'static [AuthServer] {
    static SERVERS: OnceLock<Vec<AuthServer>> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let mut servers: Vec<AuthServer> = PROFILES
            .iter()
            .map(|profile| auth_server(*profile))
            .collect();
        servers.push(tight_limits_server());
        servers
    })
}

thread_local! {
    static SYSTEM: actix_web::rt::SystemRunner = actix_web::rt::System::new();
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let servers = servers();
    let index = usize::from(selector) % servers.len();
    let profile = PROFILES.get(index).copied().unwrap_or(Profile::Rfc);
    let server = &servers[index];
    let parts = split_parts(rest, b'\n', 3);
    let (content_type, authorization, body) = (parts[0], parts[1], parts[2]);
    // Header values an HTTP parser would refuse never reach the endpoint.
    let header = |bytes: &[u8]| {
        (!bytes.is_empty())
            .then(|| HeaderValue::from_bytes(bytes).ok())
            .flatten()
    };
    let path = server.routes().token[0].clone();
    let mut request = test::TestRequest::post()
        .uri(&path)
        .set_payload(body.to_vec());
    if let Some(value) = header(content_type) {
        request = request.insert_header(("content-type", value));
    }
    if let Some(value) = header(authorization) {
        request = request.insert_header(("authorization", value));
    }
    let server = server.clone();
    let (status, cache_control, body) = SYSTEM.with(|system| {
        system.block_on(async move {
            let app = test::init_service(App::new().configure(configure(server))).await;
            let response = test::call_service(&app, request.to_request()).await;
            let status = response.status().as_u16();
            let cache_control = response
                .headers()
                .get("cache-control")
                .map(|value| value.as_bytes().to_vec());
            (status, cache_control, test::read_body(response).await)
        })
    });
    assert!(
        status == 200 || (400..500).contains(&status),
        "status {status} for a token request"
    );
    // RFC 6749 §5.1; a profile whose vendor sends no cache headers is exempt.
    if profile.spec().cache_headers {
        assert_eq!(
            cache_control.as_deref(),
            Some(&b"no-store"[..]),
            "status {status}: Cache-Control"
        );
    }
    let body: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("status {status}: the body is not JSON: {body:?}"));
    if status == 200 {
        assert!(
            body.get("access_token").is_some_and(Value::is_string),
            "200 without an access_token: {body}"
        );
    } else {
        check_error_body(status, &body);
    }
});
