//! The SDK's access token and the lenient, typed parsing of token responses from real servers.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ccflow_protocol::{ErrorCode, Scopes};
use serde_json::{Map, Value};

use crate::error::TokenError;

/// An access token with what the server said about it. Cheap to clone (one `Arc`).
///
/// `Debug` and `Display` never show the token itself: use [`AccessToken::secret`].
#[derive(Clone)]
pub struct AccessToken {
    inner: Arc<TokenInner>,
}

struct TokenInner {
    secret: String,
    token_type: String,
    issued_at: SystemTime,
    expires_at: SystemTime,
    scopes: Scopes,
    rejected: Vec<String>,
    extra: Map<String, Value>,
    header_value: reqwest::header::HeaderValue,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("token_type", &self.inner.token_type)
            .field("expires_at", &self.inner.expires_at)
            .field("scopes", &self.inner.scopes)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted access token]")
    }
}

impl AccessToken {
    /// The token value, to send as `Authorization: Bearer <secret>` (or `DPoP <secret>` with a
    /// proof, when [`is_dpop_bound`](Self::is_dpop_bound)).
    pub fn secret(&self) -> &str {
        &self.inner.secret
    }

    /// The `token_type` as the server sent it (e.g. `Bearer` or `bearer`).
    pub fn token_type(&self) -> &str {
        &self.inner.token_type
    }

    /// Whether the server bound the token to the client's DPoP key (`token_type` `DPoP`,
    /// RFC 9449 §5): it must then be sent as `Authorization: DPoP` with a proof, never as a
    /// Bearer token (§7.2).
    pub fn is_dpop_bound(&self) -> bool {
        self.inner.token_type.eq_ignore_ascii_case("DPoP")
    }

    /// When the SDK received it.
    pub fn issued_at(&self) -> SystemTime {
        self.inner.issued_at
    }

    /// When it expires: from `expires_in`, else the JWT `exp`, else the configured default.
    pub fn expires_at(&self) -> SystemTime {
        self.inner.expires_at
    }

    /// The granted scopes: the response's `scope` (string, array, or SLB's `valid` list), or
    /// the requested ones when the server omitted it (RFC 6749 §5.1).
    pub fn scopes(&self) -> &Scopes {
        &self.inner.scopes
    }

    /// Requested scopes the server reported as invalid: SLB answers `{"valid": [..],
    /// "invalid": [..]}` and still issues a token for the valid ones (seed 001). Empty
    /// elsewhere.
    pub fn rejected_scopes(&self) -> &[String] {
        &self.inner.rejected
    }

    /// Every other member of the token response (e.g. `refresh_token`, vendor fields).
    pub fn extra(&self) -> &Map<String, Value> {
        &self.inner.extra
    }

    /// The lifetime the server granted.
    pub fn lifetime(&self) -> Duration {
        self.inner
            .expires_at
            .duration_since(self.inner.issued_at)
            .unwrap_or_default()
    }

    /// The ready `Authorization` header value (`Bearer …`, or `DPoP …` for a bound token),
    /// marked sensitive so HTTP logging hides it.
    pub fn authorization_header(&self) -> &reqwest::header::HeaderValue {
        &self.inner.header_value
    }

    /// Whether both handles hold the same token value.
    pub fn same_token(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.secret == other.inner.secret
    }
}

/// What the parser needs besides the body.
pub(crate) struct ParseContext<'a> {
    pub(crate) status: u16,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) now: SystemTime,
    pub(crate) requested_scopes: &'a Scopes,
    pub(crate) default_lifetime: Duration,
    /// Removed from any body excerpt.
    pub(crate) client_secret: Option<&'a str>,
    /// The request carried a DPoP proof, so `token_type: DPoP` is expected (RFC 9449 §5).
    pub(crate) sent_dpop_proof: bool,
}

/// How the token's expiry was determined, so a missing `expires_in` can be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpirySource {
    ExpiresIn,
    JwtExp,
    Default,
}

const EXCERPT_CHARS: usize = 200;

/// Members whose values are credentials and never appear in an excerpt.
const SECRET_MEMBERS: [&str; 5] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
];

/// The start of a body, safe to show: JSON credential members redacted, the client secret and
/// anything that looks like a JWT removed, truncated.
pub(crate) fn excerpt(body: &[u8], client_secret: Option<&str>) -> String {
    let text = String::from_utf8_lossy(body);
    let mut text = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut object)) => {
            for member in SECRET_MEMBERS {
                if let Some(value) = object.get_mut(member) {
                    *value = Value::String("[redacted]".to_owned());
                }
            }
            Value::Object(object).to_string()
        }
        _ => text.into_owned(),
    };
    if let Some(secret) = client_secret.filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    let text = redact_credential_like(&text);
    if text.chars().count() > EXCERPT_CHARS {
        let mut short: String = text.chars().take(EXCERPT_CHARS).collect();
        short.push_str("...");
        short
    } else {
        text
    }
}

/// Characters of tokens as servers issue them (RFC 6750 §2.1 b64token, plus `~`).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=')
}

/// Replaces every run of token characters that is 16 or more long and holds a digit (JWTs,
/// opaque tokens, secrets, but also ids: excerpts err on the side of hiding).
fn redact_credential_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 16 && run.chars().any(|c| c.is_ascii_digit()) {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Parses any response of the token endpoint (RFC 6749 §5.1 and §5.2), leniently where real
/// servers differ (see VENDORS.md): `token_type` in any case, `expires_in` number or numeric
/// string or absent, `scope` string, array or `{valid, invalid}`, `error` inside a 2xx.
pub(crate) fn parse_token_response(
    body: &[u8],
    context: &ParseContext<'_>,
) -> Result<(AccessToken, ExpirySource), TokenError> {
    let status = context.status;
    let invalid = |reason: &str| TokenError::InvalidResponse {
        status,
        reason: reason.to_owned(),
        body_excerpt: excerpt(body, context.client_secret),
    };
    if (300..400).contains(&status) {
        return Err(invalid(
            "a redirect, which the SDK does not follow (token endpoints must answer directly)",
        ));
    }
    let is_html = context.content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("text/html")
    });
    let json: Value = match serde_json::from_slice(body) {
        Ok(json) => json,
        Err(_) if is_html => return Err(invalid("an HTML page instead of JSON")),
        Err(_) if !(200..300).contains(&status) => {
            return Err(invalid("an error status without an OAuth error body"));
        }
        Err(_) if body.is_empty() => return Err(invalid("an empty body instead of JSON")),
        Err(_) => return Err(invalid("the body is not JSON")),
    };
    let Value::Object(mut object) = json else {
        return Err(invalid("the JSON body is not an object"));
    };
    // RFC 6749 §5.2; some servers put `error` in a 200 (e.g. GitHub).
    if let Some(code) = object.get("error") {
        let Some(code) = code.as_str() else {
            return Err(invalid("`error` is not a string"));
        };
        return Err(TokenError::OAuth {
            status,
            code: ErrorCode::from(code),
            description: object
                .get("error_description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            uri: object
                .get("error_uri")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    if !(200..300).contains(&status) {
        return Err(invalid("an error status without an OAuth error body"));
    }
    let secret = match object.remove("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token,
        Some(_) => return Err(invalid("`access_token` is not a non-empty string")),
        None => return Err(invalid("no `access_token` member")),
    };
    let token_type = match object.remove("token_type") {
        Some(Value::String(kind)) => kind,
        // RFC 6749 §5.1 requires it; every vendor we emulate sends Bearer when it is absent.
        None => "Bearer".to_owned(),
        Some(_) => return Err(invalid("`token_type` is not a string")),
    };
    // A server without DPoP ignores the proof and answers Bearer (RFC 9449 §5); a DPoP-bound
    // token is only taken by a client that sent a proof, as only it can use the token.
    let bound = token_type.eq_ignore_ascii_case("dpop");
    let usable = token_type.eq_ignore_ascii_case("bearer") || (bound && context.sent_dpop_proof);
    if !usable {
        return Err(invalid(if bound {
            "`token_type` is DPoP but this client has no DPoP key (TokenClientBuilder::dpop)"
        } else {
            "`token_type` is neither Bearer nor DPoP"
        }));
    }
    let (lifetime, source) = match object.remove("expires_in") {
        Some(value) => {
            let seconds = match &value {
                Value::Number(number) => number
                    .as_i64()
                    .or_else(|| number.as_f64().map(|f| f as i64)),
                Value::String(text) => text.trim().parse::<i64>().ok(),
                _ => None,
            };
            match seconds {
                Some(seconds) if seconds < 0 => return Err(invalid("`expires_in` is negative")),
                Some(seconds) => (
                    Duration::from_secs(seconds.unsigned_abs()),
                    ExpirySource::ExpiresIn,
                ),
                None => return Err(invalid("`expires_in` is not a number")),
            }
        }
        None => match jwt_lifetime(&secret, context.now) {
            Some(lifetime) => (lifetime, ExpirySource::JwtExp),
            None => (context.default_lifetime, ExpirySource::Default),
        },
    };
    let scope = object.remove("scope");
    // SLB reports the requested values it refused (seed 001).
    let rejected = match &scope {
        Some(Value::Object(report)) => report
            .get("invalid")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let scopes = match scope {
        None | Some(Value::Null) => context.requested_scopes.clone(),
        Some(value) => parse_scope(&value)
            .ok_or_else(|| invalid("`scope` is neither a string, an array nor {valid, invalid}"))?,
    };
    // RFC 9449 §7.1: a bound token travels under the DPoP scheme, never as Bearer (§7.2).
    let scheme = if bound { "DPoP" } else { "Bearer" };
    let mut header_value = reqwest::header::HeaderValue::from_str(&format!("{scheme} {secret}"))
        .map_err(|_| invalid("`access_token` has characters not allowed in an HTTP header"))?;
    header_value.set_sensitive(true);
    let token = AccessToken {
        inner: Arc::new(TokenInner {
            secret,
            token_type,
            issued_at: context.now,
            expires_at: context.now + lifetime,
            scopes,
            rejected,
            extra: object,
            header_value,
        }),
    };
    Ok((token, source))
}

fn parse_scope(value: &Value) -> Option<Scopes> {
    let collect = |items: &Vec<Value>| -> Option<Scopes> {
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .and_then(|s| ccflow_protocol::Scope::new(s).ok())
            })
            .collect()
    };
    match value {
        Value::String(text) if text.trim().is_empty() => Some(Scopes::new()),
        // Lenient on whitespace: some servers separate with several spaces.
        Value::String(text) => text
            .split_whitespace()
            .map(|part| ccflow_protocol::Scope::new(part).ok())
            .collect(),
        Value::Array(items) => collect(items),
        // SLB Authenticator: {"valid": [...], "invalid": [...]} (seed 001).
        Value::Object(object) => match object.get("valid") {
            Some(Value::Array(items)) => collect(items),
            None => Some(Scopes::new()),
            _ => None,
        },
        _ => None,
    }
}

/// The remaining lifetime from a JWT's `exp`, read without verifying it (the client only uses
/// it to schedule a refresh).
fn jwt_lifetime(token: &str, now: SystemTime) -> Option<Duration> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    let now = ccflow_protocol::unix_seconds(now);
    Some(Duration::from_secs(u64::try_from(exp - now).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(status: u16) -> ParseContext<'static> {
        static REQUESTED: std::sync::OnceLock<Scopes> = std::sync::OnceLock::new();
        ParseContext {
            status,
            content_type: Some("application/json"),
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
            requested_scopes: REQUESTED.get_or_init(|| Scopes::parse("a b").unwrap()),
            default_lifetime: Duration::from_secs(300),
            client_secret: Some("s3cret-canary"),
            sent_dpop_proof: false,
        }
    }

    #[track_caller]
    fn ok(body: &Value) -> (AccessToken, ExpirySource) {
        parse_token_response(body.to_string().as_bytes(), &context(200)).expect("parses")
    }

    #[track_caller]
    fn fails(status: u16, body: &[u8], reason: &str) -> TokenError {
        let error = parse_token_response(body, &context(status)).expect_err("must fail");
        assert!(
            error.to_string().contains(reason),
            "`{error}` should mention `{reason}`"
        );
        error
    }

    #[test]
    fn accepts_token_type_in_any_case() {
        for kind in ["Bearer", "bearer", "BEARER"] {
            let (token, _) =
                ok(&json!({"access_token": "t", "token_type": kind, "expires_in": 60}));
            assert_eq!(token.token_type(), kind);
            assert_eq!(token.authorization_header().to_str().unwrap(), "Bearer t");
            assert!(token.authorization_header().is_sensitive());
        }
    }

    #[test]
    fn accepts_expires_in_as_number_or_numeric_string() {
        let (token, source) =
            ok(&json!({"access_token": "t", "token_type": "Bearer", "expires_in": "3599"}));
        assert_eq!(token.lifetime(), Duration::from_secs(3599));
        assert_eq!(source, ExpirySource::ExpiresIn);
        let (token, _) =
            ok(&json!({"access_token": "t", "token_type": "Bearer", "expires_in": 18000}));
        assert_eq!(token.lifetime(), Duration::from_secs(18000));
    }

    #[test]
    fn a_missing_expires_in_falls_back_to_the_jwt_exp_then_the_default() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"exp": 1_000_600}).to_string());
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig");
        let (token, source) = ok(&json!({"access_token": jwt, "token_type": "Bearer"}));
        assert_eq!(
            (token.lifetime(), source),
            (Duration::from_secs(600), ExpirySource::JwtExp)
        );
        let (token, source) = ok(&json!({"access_token": "opaque", "token_type": "Bearer"}));
        assert_eq!(
            (token.lifetime(), source),
            (Duration::from_secs(300), ExpirySource::Default)
        );
    }

    #[test]
    fn reads_scope_as_string_array_or_slb_object() {
        let scopes = |value: Value| {
            ok(&json!({"access_token": "t", "expires_in": 1, "scope": value}))
                .0
                .scopes()
                .to_string()
        };
        assert_eq!(scopes(json!("x y")), "x y");
        assert_eq!(scopes(json!(["x", "y"])), "x y");
        assert_eq!(
            scopes(json!({"valid": ["svc-a"], "invalid": ["nope"]})),
            "svc-a"
        );
        let (slb, _) = ok(
            &json!({"access_token": "t", "expires_in": 1, "scope": {"valid": ["svc-a"], "invalid": ["nope"]}}),
        );
        assert_eq!(slb.rejected_scopes(), ["nope"]);
        let (token, _) = ok(&json!({"access_token": "t", "expires_in": 1}));
        assert_eq!(
            token.scopes().to_string(),
            "a b",
            "absent scope means the requested ones"
        );
    }

    #[test]
    fn keeps_extra_members() {
        let (token, _) =
            ok(&json!({"access_token": "t", "expires_in": 1, "refresh_token": "r", "tid": "x"}));
        assert_eq!(token.extra()["tid"], "x");
        assert!(token.extra().contains_key("refresh_token"));
    }

    #[test]
    fn an_error_inside_a_200_is_an_oauth_error() {
        let error = parse_token_response(
            br#"{"error":"invalid_client","error_description":"nope"}"#,
            &context(200),
        )
        .unwrap_err();
        assert!(
            matches!(
                error,
                TokenError::OAuth {
                    status: 200,
                    code: ErrorCode::InvalidClient,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_dpop_token_is_taken_only_after_sending_a_proof() {
        let body = br#"{"access_token":"t","token_type":"DPoP","expires_in":60}"#;
        let mut sent = context(200);
        sent.sent_dpop_proof = true;
        let (token, _) = parse_token_response(body, &sent).unwrap();
        assert!(token.is_dpop_bound());
        assert_eq!(token.authorization_header().to_str().unwrap(), "DPoP t");
        // A server without DPoP answers Bearer to a client that sent a proof.
        let (token, _) =
            parse_token_response(br#"{"access_token":"t","token_type":"Bearer"}"#, &sent).unwrap();
        assert!(!token.is_dpop_bound());
    }

    #[test]
    fn rejects_unusable_responses_with_a_reason() {
        fails(200, b"<html><body>Bad gateway</body></html>", "not JSON");
        fails(200, b"", "empty body");
        fails(200, b"[1,2]", "not an object");
        fails(200, br#"{"token_type":"Bearer"}"#, "no `access_token`");
        fails(
            200,
            br#"{"access_token":"t","token_type":"mac"}"#,
            "neither Bearer nor DPoP",
        );
        fails(
            200,
            br#"{"access_token":"t","token_type":"DPoP"}"#,
            "this client has no DPoP key",
        );
        fails(200, br#"{"access_token":"t","expires_in":-5}"#, "negative");
        fails(
            200,
            br#"{"access_token":"t","expires_in":"soon"}"#,
            "not a number",
        );
        fails(502, b"bad gateway", "error status");
        fails(302, b"", "redirect");
        let mut html = context(503);
        html.content_type = Some("text/html; charset=utf-8");
        let error = parse_token_response(b"<html>down</html>", &html).unwrap_err();
        assert!(error.to_string().contains("HTML"), "{error}");
    }

    #[test]
    fn excerpts_never_show_tokens_or_the_secret() {
        let body = br#"{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl","expires_in":"x","note":"s3cret-canary"}"#;
        let error = fails(200, body, "not a number");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("eyJzdWIi"), "{text}");
        assert!(!text.contains("s3cret-canary"), "{text}");
        let plain = excerpt(
            b"token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl here",
            None,
        );
        assert_eq!(plain, "token [redacted] here");
        let opaque = excerpt(b"<p>bad token: Zm9vYmFyMTIzNDU2Nzg5MA, try again</p>", None);
        assert_eq!(opaque, "<p>bad token: [redacted], try again</p>");
        assert_eq!(excerpt(b"service unavailable", None), "service unavailable");
        assert!(excerpt(&[b'x'; 1000], None).len() <= EXCERPT_CHARS + 3);
    }

    #[test]
    fn debug_and_display_hide_the_token() {
        let (token, _) = ok(&json!({"access_token": "canary-token-value", "expires_in": 60}));
        assert!(!format!("{token:?} {token}").contains("canary-token-value"));
    }
}
