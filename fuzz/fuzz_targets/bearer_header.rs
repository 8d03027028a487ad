//! The resource API's bearer-token extraction and validation as a request reaches it
//! (`Validator::authenticate`): arbitrary `Authorization` header bytes, a second header and a
//! query string, against a validator that trusts the fixture keys of a real mock issuer.
//!
//! Input: `[flags] query \n authorization \n second-authorization`. Flag bit 0 sends the
//! second header too. Every `$T` in a header becomes a valid token, so the fuzzer can wrap
//! real tokens in odd framings. Asserts: no panic; success only for a header that carries a
//! valid token; every refusal is the RFC 6750 §3.1 answer for its kind (400 `invalid_request`,
//! 401 `invalid_token`, or a bare 401 challenge when there are no bearer credentials, which is
//! what any other scheme must get).
#![no_main]

use actix_web::http::Uri;
use actix_web::http::header::HeaderValue;
use actix_web::test::TestRequest;
use ccflow_fuzz::{ValidatorHarness, split_parts};
use ccflow_resource_api::AuthError;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static HARNESS: ValidatorHarness = ValidatorHarness::new();
}

/// Replaces every `$T` with the first valid token.
fn with_tokens(bytes: &[u8], token: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(2).position(|window| window == b"$T") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(token.as_bytes());
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    out
}

/// Form-urldecodes a query parameter name (`+` is a space, `%XX` a byte), leaving malformed
/// escapes as they are.
fn form_decode(name: &str) -> Vec<u8> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|&byte| char::from(byte).to_digit(16))
                .and_then(|digit| u8::try_from(digit).ok())
        };
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(high * 16 + low);
                index += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                index += 1;
            }
            (byte, _, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let parts = split_parts(rest, b'\n', 3);
    HARNESS.with(|harness| {
        let token = &harness.valid_tokens[0];
        let Ok(query) = std::str::from_utf8(parts[0]) else {
            return;
        };
        let uri = format!("/v1/items?{query}");
        if Uri::try_from(uri.as_str()).is_err() {
            return;
        }
        let first = with_tokens(parts[1], token);
        let Ok(first_value) = HeaderValue::from_bytes(&first) else {
            return;
        };
        let mut request = TestRequest::get()
            .uri(&uri)
            .append_header(("authorization", first_value.clone()));
        let two_headers = flags & 1 == 1;
        if two_headers {
            let Ok(second) = HeaderValue::from_bytes(&with_tokens(parts[2], token)) else {
                return;
            };
            request = request.append_header(("authorization", second));
        }
        let request = request.to_http_request();
        let result = harness
            .runtime
            .block_on(harness.validator.authenticate(&request));
        match result {
            Ok(_) => {
                assert!(
                    !two_headers,
                    "accepted a request with two Authorization headers"
                );
                assert!(
                    harness
                        .valid_tokens
                        .iter()
                        .any(|valid| first.windows(valid.len()).any(|w| w == valid.as_bytes())),
                    "accepted a header without a valid token: {first_value:?}"
                );
            }
            Err(error) => {
                harness.check_refusal(&error);
                // RFC 6750 §3.1: a request with another scheme (or none) carries no bearer
                // credentials, so it gets the bare challenge, whatever follows the scheme.
                let value = String::from_utf8_lossy(&first);
                let value = value.trim_matches([' ', '\t']);
                let scheme = value.split(' ').next().unwrap_or_default();
                let plain = !two_headers
                    && first_value.to_str().is_ok()
                    && first.len() <= ccflow_resource_api::MAX_AUTHORIZATION_BYTES
                    // The query as the server parsed it (a `#` starts the fragment).
                    && !request.query_string().split('&').any(|pair| {
                        form_decode(pair.split('=').next().unwrap_or_default()) == b"access_token"
                    });
                if plain && !scheme.eq_ignore_ascii_case("bearer") {
                    assert_eq!(error, AuthError::MissingToken, "scheme {scheme:?}");
                }
            }
        }
    });
});
