//! The claims of a verified access token, checked by type and by the injected clock.
//!
//! jsonwebtoken only verifies the signature here: it reads `SystemTime` itself (so tests
//! could not move time) and reports a string `exp` as "missing". Every claim rule lives in
//! this module instead, with one precise rejection per failure.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ccflow_protocol::{Audience, Scope, Scopes};
use jsonwebtoken::Algorithm;
use serde::Deserialize as _;
use serde_json::{Map, Value};

use crate::error::TokenRejection;
use crate::payload::{ClaimsJson, Payload};

/// What the rules compare claims against.
#[derive(Debug)]
pub(crate) struct ClaimRules<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) audiences: &'a [String],
    /// The one claim scopes are read from; `None`: `scope` and `scp`, merged.
    pub(crate) scope_claim: Option<&'static str>,
    pub(crate) leeway: Duration,
    pub(crate) now: SystemTime,
}

/// A verified access token's claims (RFC 9068 §2.2).
///
/// Every accessor reads a claim that has been type-checked; [`Claims::get`]
/// reaches any other claim. Claims are not secret, so `Debug` shows them; the
/// token itself is never kept.
#[derive(Clone)]
pub struct Claims {
    issuer: String,
    subject: Option<String>,
    client_id: Option<String>,
    audiences: Audience,
    scopes: Scopes,
    expires_at: i64,
    issued_at: Option<i64>,
    not_before: Option<i64>,
    jwt_id: Option<String>,
    key_id: Option<String>,
    algorithm: Algorithm,
    /// `cnf` as sent: the binding checks read it on every request.
    confirmation: Option<Value>,
    /// The claims set's JSON; [`Claims::all`] builds its map on first use.
    json: ClaimsJson,
    all: OnceLock<Map<String, Value>>,
}

impl fmt::Debug for Claims {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Claims")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("client_id", &self.client_id)
            .field("audiences", &self.audiences)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("not_before", &self.not_before)
            .field("jwt_id", &self.jwt_id)
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("all", self.all())
            .finish()
    }
}

/// Equal claims: the same claims set, read by the same rules, verified by the same key.
impl PartialEq for Claims {
    fn eq(&self, other: &Claims) -> bool {
        self.issuer == other.issuer
            && self.subject == other.subject
            && self.client_id == other.client_id
            && self.audiences == other.audiences
            && self.scopes == other.scopes
            && self.expires_at == other.expires_at
            && self.issued_at == other.issued_at
            && self.not_before == other.not_before
            && self.jwt_id == other.jwt_id
            && self.key_id == other.key_id
            && self.algorithm == other.algorithm
            && self.all() == other.all()
    }
}

impl Claims {
    /// `iss`: exactly the configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`, if present.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The client the token was issued to: `client_id` (RFC 9068 §2.2), else
    /// `azp` (which SLB sends), else `sub` (for client credentials, RFC 9068
    /// §2.2 makes `sub` the client's id when no resource owner is involved).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref().or(self.subject.as_deref())
    }

    /// `aud`: one or more audiences, at least one of them this API's.
    pub fn audiences(&self) -> &Audience {
        &self.audiences
    }

    /// The granted scopes, from `scope` (a space-delimited string, RFC 8693
    /// §4.2) and `scp` (an array, as Cloudentity sends), merged.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// `exp` as NumericDate seconds (fractions dropped).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// `iat`, if present.
    pub fn issued_at(&self) -> Option<i64> {
        self.issued_at
    }

    /// `nbf`, if present.
    pub fn not_before(&self) -> Option<i64> {
        self.not_before
    }

    /// `jti`, if present: safe to log, unlike the token.
    pub fn jwt_id(&self) -> Option<&str> {
        self.jwt_id.as_deref()
    }

    /// The `kid` of the key that verified the token, if the token named one.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The thumbprint the token is bound to (`cnf.jkt`, RFC 9449 §6.1), when it is a string.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.confirmation.as_ref()?.get("jkt")?.as_str()
    }

    /// Whether the token is DPoP-bound: it has a `cnf.jkt`, of whatever type (a bound token
    /// must never pass as Bearer, RFC 9449 §7.2, even with a malformed binding).
    pub fn is_dpop_bound(&self) -> bool {
        self.confirmation
            .as_ref()
            .is_some_and(|cnf| cnf.get("jkt").is_some())
    }

    /// The certificate thumbprint the token is bound to (`cnf["x5t#S256"]`, RFC 8705 §3.1),
    /// when it is a string.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.confirmation
            .as_ref()?
            .get(ccflow_protocol::mtls::CNF_X5T_S256)?
            .as_str()
    }

    /// Whether the token is certificate-bound: it has a `cnf["x5t#S256"]`, of whatever type (a
    /// malformed binding must not make the token a plain bearer token, RFC 8705 §3).
    pub fn is_certificate_bound(&self) -> bool {
        self.confirmation
            .as_ref()
            .is_some_and(|cnf| cnf.get(ccflow_protocol::mtls::CNF_X5T_S256).is_some())
    }

    /// Any claim, as sent.
    pub fn get(&self, claim: &str) -> Option<&Value> {
        self.all().get(claim)
    }

    /// All claims, as sent. The map is built on the first call (most requests never ask), from
    /// the claims set the validator parsed.
    pub fn all(&self) -> &Map<String, Value> {
        self.all.get_or_init(|| self.json.map())
    }

    /// Checks verified claims against the rules, in order: `iss`, `aud`,
    /// `exp`, `nbf`, `iat`, then the types of the optional claims read.
    pub(crate) fn check(
        payload: Payload,
        rules: &ClaimRules<'_>,
        algorithm: Algorithm,
        key_id: Option<String>,
    ) -> Result<Claims, TokenRejection> {
        // Each read member is taken out (its string moves into the typed claim, uncopied);
        // `all` is built later from the JSON text, which still holds it.
        let Payload { json, mut read } = payload;
        // RFC 9068 §4: iss exact (a trailing slash is part of the string), aud
        // naming this API, exp required; all three are required claims here.
        let issuer = match read.iss.take() {
            None => return Err(TokenRejection::MissingClaim("iss")),
            Some(Value::String(issuer)) if issuer == rules.issuer => issuer,
            Some(Value::String(issuer)) => {
                return Err(TokenRejection::WrongIssuer {
                    expected: rules.issuer.to_owned(),
                    received: issuer,
                });
            }
            Some(_) => return Err(TokenRejection::ClaimType("iss")),
        };
        let audiences = match read.aud.take() {
            None => return Err(TokenRejection::MissingClaim("aud")),
            Some(value) => {
                Audience::deserialize(value).map_err(|_| TokenRejection::ClaimType("aud"))?
            }
        };
        if !rules
            .audiences
            .iter()
            .any(|audience| audiences.contains(audience))
        {
            return Err(TokenRejection::WrongAudience {
                expected: rules.audiences.to_vec(),
                received: audiences.iter().cloned().collect(),
            });
        }
        let now = seconds_since_epoch(rules.now);
        let leeway = rules.leeway.as_secs_f64();
        // RFC 7519 §4.1.4: "the current date/time MUST be before the expiration".
        let expires_at =
            numeric_date(read.exp.as_ref(), "exp")?.ok_or(TokenRejection::MissingClaim("exp"))?;
        if now >= expires_at + leeway {
            return Err(TokenRejection::Expired);
        }
        let not_before = numeric_date(read.nbf.as_ref(), "nbf")?;
        if not_before.is_some_and(|not_before| not_before > now + leeway) {
            return Err(TokenRejection::NotYetValid);
        }
        let issued_at = numeric_date(read.iat.as_ref(), "iat")?;
        if issued_at.is_some_and(|issued_at| issued_at > now + leeway) {
            return Err(TokenRejection::IssuedInFuture);
        }
        let subject = optional_string(read.sub.take(), "sub")?;
        let client_id = match optional_string(read.client_id.take(), "client_id")? {
            Some(client_id) => Some(client_id),
            None => optional_string(read.azp.take(), "azp")?,
        };
        let jwt_id = optional_string(read.jti.take(), "jti")?;
        let all = OnceLock::new();
        let scopes = match rules.scope_claim {
            None => scopes(&[("scope", read.scope.as_ref()), ("scp", read.scp.as_ref())])?,
            Some("scope") => scopes(&[("scope", read.scope.as_ref())])?,
            Some("scp") => scopes(&[("scp", read.scp.as_ref())])?,
            // A claim of the issuer's own: read from the whole map, built now and kept.
            Some(claim) => scopes(&[(claim, all.get_or_init(|| json.map()).get(claim))])?,
        };
        Ok(Claims {
            issuer,
            subject,
            client_id,
            audiences,
            scopes,
            expires_at: whole_seconds(expires_at),
            issued_at: issued_at.map(whole_seconds),
            not_before: not_before.map(whole_seconds),
            jwt_id,
            key_id,
            algorithm,
            confirmation: read.cnf,
            json,
            all,
        })
    }
}

fn seconds_since_epoch(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "NumericDate values were checked finite; `as` saturates at the i64 range"
)]
fn whole_seconds(seconds: f64) -> i64 {
    seconds.floor() as i64
}

/// A NumericDate claim (RFC 7519 §2): a JSON number, possibly fractional.
/// Strings, booleans and the like are refused rather than treated as absent
/// (CVE-2026-25537: a string `nbf` used to bypass the check).
fn numeric_date(claim: Option<&Value>, name: &'static str) -> Result<Option<f64>, TokenRejection> {
    match claim {
        None => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(seconds) if seconds.is_finite() => Ok(Some(seconds)),
            _ => Err(TokenRejection::ClaimType(name)),
        },
        Some(_) => Err(TokenRejection::ClaimType(name)),
    }
}

fn optional_string(
    claim: Option<Value>,
    name: &'static str,
) -> Result<Option<String>, TokenRejection> {
    match claim {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(TokenRejection::ClaimType(name)),
    }
}

/// `scope` (string, or an array for issuers that send one) and `scp` (array,
/// or a string), or only the issuer's `scope_claim`: the claims named, in order, each as sent.
/// Separators are read leniently (any ASCII whitespace), but each scope must be an RFC 6749
/// §3.3 scope-token.
fn scopes(claims: &[(&'static str, Option<&Value>)]) -> Result<Scopes, TokenRejection> {
    let mut scopes = Scopes::new();
    for &(claim, value) in claims {
        let mut add = |text: &str| -> Result<(), TokenRejection> {
            for piece in text.split_ascii_whitespace() {
                let scope = Scope::new(piece).map_err(|_| TokenRejection::ClaimType(claim))?;
                scopes.insert(scope);
            }
            Ok(())
        };
        match value {
            None => {}
            Some(Value::String(text)) => add(text)?,
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(text) => add(text)?,
                        _ => return Err(TokenRejection::ClaimType(claim)),
                    }
                }
            }
            Some(_) => return Err(TokenRejection::ClaimType(claim)),
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_767_225_600;
    const ISSUER: &str = "https://issuer.test/";

    fn rules(audiences: &[String]) -> ClaimRules<'_> {
        ClaimRules {
            issuer: ISSUER,
            audiences,
            scope_claim: None,
            leeway: Duration::from_secs(30),
            now: UNIX_EPOCH + Duration::from_secs(NOW),
        }
    }

    fn valid() -> Value {
        json!({
            "iss": ISSUER, "aud": "api", "exp": NOW + 60, "iat": NOW, "nbf": NOW,
            "sub": "svc", "client_id": "svc", "jti": "j1", "scope": "a b"
        })
    }

    fn with(changes: &Value) -> Value {
        let mut claims = valid();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }

    /// The claims set as the validator reads it from a token.
    fn payload(claims: &Value) -> Payload {
        Payload::parse(serde_json::to_vec(claims).unwrap()).unwrap()
    }

    /// The valid claims with `changes`, accepted for the audience `api`.
    #[track_caller]
    fn accepted(changes: &Value) -> Claims {
        let audiences = vec!["api".to_owned()];
        Claims::check(
            payload(&with(changes)),
            &rules(&audiences),
            Algorithm::RS256,
            None,
        )
        .unwrap()
    }

    #[track_caller]
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the rows build their claims inline"
    )]
    fn check(claims: Value, expected: &Result<(), TokenRejection>) {
        let audiences = vec!["other".to_owned(), "api".to_owned()];
        let result =
            Claims::check(payload(&claims), &rules(&audiences), Algorithm::RS256, None).map(|_| ());
        assert_eq!(&result, expected);
    }

    fn wrong_issuer(received: &str) -> TokenRejection {
        TokenRejection::WrongIssuer {
            expected: ISSUER.to_owned(),
            received: received.to_owned(),
        }
    }

    fn wrong_audience(received: &[&str]) -> TokenRejection {
        TokenRejection::WrongAudience {
            expected: vec!["other".to_owned(), "api".to_owned()],
            received: received
                .iter()
                .map(|&audience| audience.to_owned())
                .collect(),
        }
    }

    #[test]
    fn wrong_parties_are_named_in_the_description() {
        assert_eq!(
            wrong_audience(&["orders-api", "x"]).to_string(),
            "the token is not meant for this API: aud is `orders-api`, `x`, this API accepts `other`, `api`"
        );
        assert_eq!(
            wrong_audience(&[]).to_string(),
            "the token is not meant for this API: aud is empty, this API accepts `other`, `api`"
        );
        assert_eq!(
            wrong_issuer("https://issuer.test").to_string(),
            "the token was issued by another issuer: iss is `https://issuer.test`, this API trusts `https://issuer.test/`"
        );
        let long = "a".repeat(200);
        let many: Vec<&str> = std::iter::repeat_n(long.as_str(), 9).collect();
        let description = wrong_audience(&many).to_string();
        assert!(description.contains("and 4 more"), "{description}");
        assert!(description.len() < 600, "{description}");
    }

    #[test]
    fn accepts_valid_claims() {
        check(valid(), &Ok(()));
        check(with(&json!({"aud": ["x", "api"]})), &Ok(()));
        check(
            with(&json!({"nbf": null, "iat": null, "sub": null, "jti": null})),
            &Ok(()),
        );
        check(with(&json!({"exp": (NOW + 60) as f64 + 0.5})), &Ok(()));
    }

    #[test]
    fn checks_the_issuer_exactly() {
        check(
            with(&json!({"iss": "https://issuer.test"})),
            &Err(wrong_issuer("https://issuer.test")),
        );
        check(
            with(&json!({"iss": "https://ISSUER.test/"})),
            &Err(wrong_issuer("https://ISSUER.test/")),
        );
        check(
            with(&json!({"iss": null})),
            &Err(TokenRejection::MissingClaim("iss")),
        );
        check(
            with(&json!({"iss": [ISSUER]})),
            &Err(TokenRejection::ClaimType("iss")),
        );
    }

    #[test]
    fn checks_the_audience() {
        check(
            with(&json!({"aud": "nope"})),
            &Err(wrong_audience(&["nope"])),
        );
        check(with(&json!({"aud": []})), &Err(wrong_audience(&[])));
        check(with(&json!({"aud": "API"})), &Err(wrong_audience(&["API"])));
        check(
            with(&json!({"aud": null})),
            &Err(TokenRejection::MissingClaim("aud")),
        );
        check(
            with(&json!({"aud": 1})),
            &Err(TokenRejection::ClaimType("aud")),
        );
        check(
            with(&json!({"aud": ["api", 1]})),
            &Err(TokenRejection::ClaimType("aud")),
        );
    }

    #[test]
    fn checks_times_with_leeway() {
        check(with(&json!({"exp": NOW - 29})), &Ok(()));
        check(
            with(&json!({"exp": NOW - 30})),
            &Err(TokenRejection::Expired),
        );
        check(with(&json!({"exp": 0})), &Err(TokenRejection::Expired));
        check(with(&json!({"exp": -5})), &Err(TokenRejection::Expired));
        check(with(&json!({"nbf": NOW + 30})), &Ok(()));
        check(
            with(&json!({"nbf": NOW + 31})),
            &Err(TokenRejection::NotYetValid),
        );
        check(with(&json!({"iat": NOW + 30})), &Ok(()));
        check(
            with(&json!({"iat": NOW + 31})),
            &Err(TokenRejection::IssuedInFuture),
        );
    }

    #[test]
    fn requires_a_numeric_exp_and_numeric_times() {
        check(
            with(&json!({"exp": null})),
            &Err(TokenRejection::MissingClaim("exp")),
        );
        check(
            with(&json!({"exp": (NOW + 60).to_string()})),
            &Err(TokenRejection::ClaimType("exp")),
        );
        check(
            with(&json!({"exp": true})),
            &Err(TokenRejection::ClaimType("exp")),
        );
        check(
            with(&json!({"nbf": "0"})),
            &Err(TokenRejection::ClaimType("nbf")),
        );
        check(
            with(&json!({"iat": [NOW]})),
            &Err(TokenRejection::ClaimType("iat")),
        );
    }

    #[test]
    fn checks_the_types_of_optional_claims() {
        check(
            with(&json!({"sub": 1})),
            &Err(TokenRejection::ClaimType("sub")),
        );
        check(
            with(&json!({"client_id": {}})),
            &Err(TokenRejection::ClaimType("client_id")),
        );
        check(
            with(&json!({"jti": 7})),
            &Err(TokenRejection::ClaimType("jti")),
        );
        check(
            with(&json!({"scope": 7})),
            &Err(TokenRejection::ClaimType("scope")),
        );
        check(
            with(&json!({"scope": "a \"b"})),
            &Err(TokenRejection::ClaimType("scope")),
        );
        check(
            with(&json!({"scp": [1]})),
            &Err(TokenRejection::ClaimType("scp")),
        );
    }

    #[test]
    fn reads_scopes_from_scope_and_scp() {
        #[track_caller]
        fn check_scopes(changes: &Value, expected: &[&str]) {
            let claims = accepted(changes);
            let scopes: Vec<&str> = claims.scopes().iter().map(Scope::as_str).collect();
            assert_eq!(scopes, expected);
        }
        check_scopes(&json!({}), &["a", "b"]);
        check_scopes(&json!({"scope": "a  b\tc "}), &["a", "b", "c"]);
        check_scopes(&json!({"scope": null, "scp": ["x", "y"]}), &["x", "y"]);
        check_scopes(&json!({"scope": "a", "scp": ["a", "z"]}), &["a", "z"]);
        check_scopes(&json!({"scope": ["p", "q r"]}), &["p", "q", "r"]);
        check_scopes(&json!({"scope": null}), &[]);
    }

    #[test]
    fn reads_scopes_from_the_one_claim_an_issuer_names() {
        #[track_caller]
        fn check_scopes(scope_claim: &'static str, expected: Result<&[&str], TokenRejection>) {
            let audiences = vec!["api".to_owned()];
            let rules = ClaimRules {
                scope_claim: Some(scope_claim),
                ..rules(&audiences)
            };
            let claims = with(&json!({"scope": "a", "scp": ["s"], "roles": ["r1", "r2 r3"]}));
            let scopes: Result<Vec<String>, _> =
                Claims::check(payload(&claims), &rules, Algorithm::RS256, None).map(|claims| {
                    claims
                        .scopes()
                        .iter()
                        .map(|s| s.as_str().to_owned())
                        .collect()
                });
            let expected = expected.map(|scopes| scopes.iter().map(|s| (*s).to_owned()).collect());
            assert_eq!(scopes, expected, "{scope_claim}");
        }
        check_scopes("scope", Ok(&["a"]));
        check_scopes("scp", Ok(&["s"]));
        // A claim of the issuer's own is read from the whole claims set.
        check_scopes("roles", Ok(&["r1", "r2", "r3"]));
        check_scopes("absent", Ok(&[]));
        check_scopes("exp", Err(TokenRejection::ClaimType("exp")));
    }

    #[test]
    fn client_id_falls_back_to_azp_then_sub() {
        #[track_caller]
        fn check_client(changes: &Value, expected: Option<&str>) {
            let claims = accepted(changes);
            assert_eq!(claims.client_id(), expected);
        }
        check_client(&json!({}), Some("svc"));
        check_client(
            &json!({"client_id": null, "azp": "slb-app"}),
            Some("slb-app"),
        );
        check_client(
            &json!({"client_id": null, "sub": "subject"}),
            Some("subject"),
        );
        check_client(&json!({"client_id": null, "sub": null}), None);
    }

    #[test]
    fn exposes_typed_and_raw_claims() {
        let audiences = vec!["api".to_owned()];
        let claims = Claims::check(
            payload(&with(&json!({"exp": (NOW + 60) as f64 + 0.9, "tid": "t"}))),
            &rules(&audiences),
            Algorithm::ES256,
            Some("k".to_owned()),
        )
        .unwrap();
        assert_eq!(claims.issuer(), ISSUER);
        assert_eq!(claims.expires_at(), (NOW + 60) as i64);
        assert_eq!(claims.issued_at(), Some(NOW as i64));
        assert_eq!(claims.not_before(), Some(NOW as i64));
        assert_eq!(claims.jwt_id(), Some("j1"));
        assert_eq!(claims.key_id(), Some("k"));
        assert_eq!(claims.algorithm(), Algorithm::ES256);
        assert_eq!(claims.audiences(), &Audience::one("api"));
        assert!(claims.has_scope("a") && !claims.has_scope("c"));
        assert_eq!(claims.get("tid"), Some(&json!("t")));
        // The typed accessors took their members; the map, built from the bytes, has them all.
        assert_eq!(claims.get("iss"), Some(&json!(ISSUER)));
        assert_eq!(claims.all().len(), 10);
        let copy = claims.clone();
        assert_eq!(copy, claims);
        assert!(format!("{claims:?}").contains(r#""tid": String("t")"#));
    }
}
