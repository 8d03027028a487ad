//! How `probe api` judges an answer: the RFC's answer passes, a refusal in other words is
//! lenient, anything else fails; and how it describes what it sent without showing a token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccflow_protocol::{BearerChallenge, ErrorCode};
use serde_json::{Map, Value};

use super::catalogue::Expect;
use crate::probe::report::Verdict;

/// What came back from the API.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) challenge: Option<String>,
    /// A `DPoP-Nonce` the API asks for (RFC 9449 §9).
    pub(super) nonce: Option<String>,
}

impl Answer {
    pub(super) fn describe(&self) -> String {
        match &self.challenge {
            // Long enough for a whole challenge with a descriptive `error_description` (a cut
            // one no longer parses, and the table shows its raw text instead of the error code);
            // still capped, as an API's header is not ours to echo without bound.
            Some(challenge) => format!(
                "{}, WWW-Authenticate: {}",
                self.status,
                shorten(challenge, 600)
            ),
            None => format!("{} (no WWW-Authenticate)", self.status),
        }
    }
}

pub(super) fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The verdict of an answer: the RFC's answer passes; a refusal in other words is lenient; an
/// acceptance of what must be refused, a refusal of what must pass, or a 5xx fails.
pub(super) fn judge(expect: Expect, answer: &Answer) -> (Verdict, String) {
    // An API that takes DPoP may answer in a `DPoP` challenge (RFC 9449 §7.1) instead.
    let challenge = answer.challenge.as_deref().and_then(|value| {
        let bearer = BearerChallenge::parse(value);
        let dpop = BearerChallenge::parse_scheme(value, "DPoP");
        match (bearer, dpop) {
            (Some(bearer), _) if bearer.error.is_some() => Some(bearer),
            (_, Some(dpop)) if dpop.error.is_some() => Some(dpop),
            (bearer, dpop) => bearer.or(dpop),
        }
    });
    let error = challenge
        .as_ref()
        .and_then(|challenge| challenge.error.clone());
    let status = answer.status;
    if expect == Expect::Accept {
        return if is_success(status) {
            (Verdict::Pass, String::new())
        } else {
            (Verdict::Fail, "a valid request was refused".to_owned())
        };
    }
    if is_success(status) {
        return (
            Verdict::Fail,
            "accepted: the API must refuse this".to_owned(),
        );
    }
    if status >= 500 {
        return (
            Verdict::Fail,
            "a server error, not a refusal (RFC 6750 §3)".to_owned(),
        );
    }
    if !(400..500).contains(&status) {
        return (Verdict::Fail, "neither accepted nor refused".to_owned());
    }
    let (want_status, want_error) = match expect {
        Expect::Accept => unreachable!("handled above"),
        Expect::BareChallenge => (401, None),
        Expect::InvalidRequest => (400, Some(ErrorCode::InvalidRequest)),
        Expect::InvalidToken => (401, Some(ErrorCode::InvalidToken)),
        Expect::InsufficientScope => (403, Some(ErrorCode::InsufficientScope)),
        Expect::InvalidDpopProof => (401, Some(ErrorCode::InvalidDpopProof)),
        Expect::UseDpopNonce => (401, Some(ErrorCode::UseDpopNonce)),
    };
    let error_word = error.as_ref().map(ErrorCode::as_str);
    if expect == Expect::InvalidDpopProof
        && status == 401
        && matches!(
            error,
            Some(ErrorCode::InvalidDpopProof | ErrorCode::InvalidToken)
        )
    {
        return (Verdict::Pass, String::new());
    }
    let want_word = want_error.as_ref().map(ErrorCode::as_str);
    if challenge.is_none() && (status == 401 || want_status == 401) {
        // RFC 6750 §3: a 401 MUST carry a WWW-Authenticate challenge.
        return (
            Verdict::Lenient,
            "refused, but without a Bearer WWW-Authenticate challenge (RFC 6750 §3)".to_owned(),
        );
    }
    if expect == Expect::UseDpopNonce && status == 401 && error_word == want_word {
        // RFC 9449 §9: the nonce to use comes in a `DPoP-Nonce` header; without one the
        // client cannot recover.
        return match answer.nonce {
            Some(_) => (Verdict::Pass, String::new()),
            None => (
                Verdict::Lenient,
                "use_dpop_nonce without a DPoP-Nonce header: the client is not told which nonce to use (RFC 9449 §9)".to_owned(),
            ),
        };
    }
    if status == want_status && error_word == want_word {
        return (Verdict::Pass, String::new());
    }
    if expect == Expect::InvalidRequest && status == 401 {
        return (Verdict::Lenient, "refused as unauthenticated; RFC 6750 §3.1 says 400 invalid_request for a malformed request".to_owned());
    }
    (
        Verdict::Lenient,
        format!(
            "refused, but not in RFC 6750's words: status {status} (want {want_status}), error {} (want {})",
            error_word.unwrap_or("none"),
            want_word.unwrap_or("none")
        ),
    )
}

/// What was sent, tokens shortened: `GET URL, Authorization: Bearer <JWT alg=RS256 kid=… typ=…,
/// 812 bytes, eyJhbGciOi…>`.
pub(super) fn describe_sent(url: &str, authorization: Option<&str>) -> String {
    match authorization {
        None => format!("GET {url}, no Authorization header"),
        Some(value) => match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                format!("GET {url}, Authorization: Bearer {}", describe_token(token))
            }
            // The probe's own constants (Basic of a made-up client), never a user's secret.
            _ => format!("GET {url}, Authorization: {}", shorten(value, 24)),
        },
    }
}

/// A token as the report shows it: its header's `alg`, `kid`, `typ` and extra members, its
/// length and first characters; never the whole token.
pub(super) fn describe_token(token: &str) -> String {
    let header: Option<Map<String, Value>> = token
        .split('.')
        .next()
        .and_then(|segment| URL_SAFE_NO_PAD.decode(segment).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let mut parts = Vec::new();
    if let Some(header) = header {
        for (name, value) in &header {
            let text = match value {
                Value::String(text) => shorten(text, 16),
                Value::Object(_) => "{…}".to_owned(),
                other => shorten(&other.to_string(), 24),
            };
            parts.push(format!("{name}={text}"));
        }
    }
    format!(
        "<JWT {}, {} bytes, {}>",
        parts.join(" "),
        token.len(),
        shorten(token, 10)
    )
}

pub(super) fn shorten(text: &str, keep: usize) -> String {
    if text.chars().count() > keep {
        format!("{}…", text.chars().take(keep).collect::<String>())
    } else {
        text.to_owned()
    }
}
