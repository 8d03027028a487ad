//! The `client_secret_basic` decoder (`parse_basic_authorization`, RFC 6749 §2.3.1 over
//! RFC 7617).
//!
//! Input: `[mode byte] rest`. Mode even: `rest` is the whole header value. Mode odd: `rest` is
//! the decoded credentials and the harness base64-encodes them, so the fuzzer reaches the
//! form-urldecoding past the base64 layer. Asserts: no panic; every error is `invalid_client`
//! answered with 401 and a Basic challenge; every success re-encodes (`basic_authorization`)
//! to a header that parses to the same id and secret; `Debug` shows none of the secret.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ccflow_auth_server::protocol::{ErrorCode, basic_authorization, parse_basic_authorization};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let header = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    } else {
        format!("Basic {}", STANDARD.encode(rest))
    };
    match parse_basic_authorization(&header) {
        Err(error) => {
            assert_eq!(error.error_code(), ErrorCode::InvalidClient, "{error}");
            assert!(error.basic_attempted(), "{error}: Basic challenge expected");
            assert_eq!(error.to_error_response().status(), 401, "{error}");
        }
        Ok((client_id, client_secret)) => {
            assert!(!client_id.as_str().is_empty(), "an empty client id passed");
            let again = basic_authorization(client_id.as_str(), client_secret.expose_secret());
            let (id_again, secret_again) = parse_basic_authorization(&again)
                .unwrap_or_else(|error| panic!("re-encoded credentials fail: {error}"));
            assert_eq!(id_again.as_str(), client_id.as_str());
            assert_eq!(secret_again.expose_secret(), client_secret.expose_secret());
            // Whatever the secret, `Debug` shows none of it.
            assert_eq!(format!("{client_secret:?}"), "ClientSecret([redacted])");
        }
    }
});
