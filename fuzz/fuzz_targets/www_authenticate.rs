//! `BearerChallenge::parse` (RFC 6750 §3 inside an RFC 7235 §4.1 challenge list) and its
//! round trip with `BearerChallenge::to_header_value`.
//!
//! Input: `[mode byte] rest`. Mode even: `rest` is a `WWW-Authenticate` value; whatever it
//! parses to must survive `to_header_value` and parse back to the same values (sanitised as
//! the builder documents). Mode odd: `rest` is `realm \0 error \0 description \0 uri \0 scope`
//! (missing parts are unset) for the builder, whose header must parse back to those values.
#![no_main]

use ccflow_auth_server::protocol::{BearerChallenge, ErrorCode};
use libfuzzer_sys::fuzz_target;

/// `"` becomes `'`; space and visible ASCII stay; everything else becomes `?` (RFC 6750 §3).
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            ' '..='~' if c != '\\' => c,
            _ => '?',
        })
        .collect()
}

/// The `error_uri` grammar (RFC 6749 §5.2): `%x21 / %x23-5B / %x5D-7E`, everything else `?`.
fn sanitize_uri(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' if c != '"' && c != '\\' => c,
            _ => '?',
        })
        .collect()
}

/// What a challenge should read as after a trip through its header value.
fn expected_after_trip(challenge: &BearerChallenge) -> BearerChallenge {
    BearerChallenge {
        realm: challenge.realm.as_deref().map(sanitize),
        scope: challenge.scope.as_deref().map(sanitize),
        error: challenge
            .error
            .as_ref()
            .map(|code| ErrorCode::from(sanitize(code.as_str()))),
        error_description: challenge.error_description.as_deref().map(sanitize),
        error_uri: challenge.error_uri.as_deref().map(sanitize_uri),
    }
}

#[track_caller]
fn check_round_trip(challenge: &BearerChallenge) {
    let header = challenge.to_header_value();
    let parsed = BearerChallenge::parse(&header)
        .unwrap_or_else(|| panic!("the builder's header does not parse: {header:?}"));
    assert_eq!(parsed, expected_after_trip(challenge), "{header:?}");
    // Sanitised values are a fixed point.
    assert_eq!(parsed.to_header_value(), header);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if mode % 2 == 0 {
        if let Some(challenge) = BearerChallenge::parse(text) {
            check_round_trip(&challenge);
        }
        return;
    }
    let mut parts = text.split('\0');
    let mut next = || parts.next();
    let (realm, error, description, uri, scope) = (next(), next(), next(), next(), next());
    let mut challenge = BearerChallenge::new();
    if let Some(realm) = realm {
        challenge = challenge.realm(realm);
    }
    if let Some(error) = error {
        challenge = challenge.error(ErrorCode::from(error.to_owned()), description.unwrap_or(""));
    }
    if let Some(uri) = uri {
        challenge = challenge.error_uri(uri);
    }
    if let Some(scope) = scope {
        challenge = challenge.scope(scope);
    }
    check_round_trip(&challenge);
});
