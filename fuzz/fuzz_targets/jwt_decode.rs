//! The validator's JWS decoding path (`Validator::validate`: compact split, JOSE header,
//! key lookup, signature, claims) against a validator that trusts the fixture keys.
//!
//! Input: `[mode byte] rest`.
//! - mode 0: `rest` is a compact JWS.
//! - mode 1: `rest` is `header JSON \0 claims JSON`; the harness signs them with the published
//!   ES256 key, so the fuzzer explores header and claim checks behind a valid signature.
//! - mode 2: `rest` picks a valid token (first byte) and edits it with 4-byte operations
//!   `[kind, position (2 bytes), byte]` (overwrite, insert, delete, truncate).
//!
//! Asserts: no panic; every refusal is a 401 `invalid_token` (or 400) answer with a parsable
//! challenge; nothing is accepted unless it is a minted token unchanged (modes 0, 2) or its
//! header and claims pass the RFC 9068 rules checked here independently (mode 1).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_fuzz::{AUDIENCE, T0, ValidatorHarness};
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

thread_local! {
    static HARNESS: ValidatorHarness = ValidatorHarness::new();
}

/// Applies the edit operations of mode 2.
fn edit(token: &str, operations: &[u8]) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    for operation in operations.chunks_exact(4) {
        let position = usize::from(u16::from_be_bytes([operation[1], operation[2]]));
        let byte = operation[3];
        match operation[0] % 4 {
            0 if !bytes.is_empty() => {
                let at = position % bytes.len();
                bytes[at] = byte;
            }
            1 => bytes.insert(position % (bytes.len() + 1), byte),
            2 if !bytes.is_empty() => {
                bytes.remove(position % bytes.len());
            }
            3 => bytes.truncate(position % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

/// Whether a NumericDate claim is a finite number.
fn number(claims: &Value, name: &str) -> Option<f64> {
    claims.get(name).and_then(Value::as_f64)
}

/// The checks a token signed by a trusted key must pass to be accepted (RFC 9068 §4,
/// RFC 7519 §4.1, RFC 7515 §4.1.11), written independently of the validator.
fn acceptable(header: &Value, claims: &Value, issuer: &str, es256_kid: &str) -> Result<(), String> {
    let leeway = ccflow_resource_api::DEFAULT_LEEWAY.as_secs_f64();
    #[allow(clippy::cast_precision_loss, reason = "T0 is far below 2^52")]
    let now = T0 as f64;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err("alg is not ES256".to_owned());
    }
    let typ = header
        .get("typ")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    if !matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return Err(format!("typ {typ:?}"));
    }
    if header.get("crit").is_some() {
        return Err("crit".to_owned());
    }
    match header.get("kid") {
        None => {}
        Some(Value::String(kid)) if kid == es256_kid => {}
        Some(kid) => return Err(format!("kid {kid}")),
    }
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err("iss".to_owned());
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    if !audience_ok {
        return Err("aud".to_owned());
    }
    match number(claims, "exp") {
        Some(exp) if now < exp + leeway => {}
        _ => return Err("exp".to_owned()),
    }
    for name in ["nbf", "iat"] {
        if claims.get(name).is_some() && number(claims, name).is_none_or(|t| t > now + leeway) {
            return Err(name.to_owned());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    HARNESS.with(|harness| {
        let (token, original) = match mode % 3 {
            0 => (rest.to_vec(), None),
            1 => {
                let mut parts = rest.splitn(2, |&byte| byte == 0);
                let header = parts.next().unwrap_or_default();
                let claims = parts.next().unwrap_or_default();
                let signing_input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header),
                    URL_SAFE_NO_PAD.encode(claims)
                );
                let signature = jsonwebtoken::crypto::sign(
                    signing_input.as_bytes(),
                    &harness.es256_key,
                    Algorithm::ES256,
                )
                .expect("ES256 signs any input");
                (format!("{signing_input}.{signature}").into_bytes(), None)
            }
            _ => {
                let Some((&pick, operations)) = rest.split_first() else {
                    return;
                };
                let valid = &harness.valid_tokens[usize::from(pick) % harness.valid_tokens.len()];
                (edit(valid, operations), Some(valid.as_str()))
            }
        };
        let Ok(token) = std::str::from_utf8(&token) else {
            return;
        };
        match harness.runtime.block_on(harness.validator.validate(token)) {
            Err(error) => harness.check_refusal(&error),
            Ok(claims) => match mode % 3 {
                1 => {
                    let mut parts = rest.splitn(2, |&byte| byte == 0);
                    let header: Value = serde_json::from_slice(parts.next().unwrap_or_default())
                        .expect("an accepted header is JSON");
                    let payload: Value = serde_json::from_slice(parts.next().unwrap_or_default())
                        .expect("accepted claims are JSON");
                    if let Err(why) =
                        acceptable(&header, &payload, harness.issuer.issuer(), &harness.es256_kid)
                    {
                        panic!("accepted a token that breaks a rule ({why}): {header} {payload}");
                    }
                    assert_eq!(claims.issuer(), harness.issuer.issuer());
                }
                _ => assert!(
                    harness.valid_tokens.iter().any(|valid| valid == token),
                    "accepted a token that is not one the issuer minted (edited from {original:?}): {token}"
                ),
            },
        }
    });
});
