//! The validator: a builder that refuses unsafe configurations, and the validation pipeline,
//! cheapest checks first, the signature before any claim.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ccflow_protocol::Clock;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::claims::{ClaimRules, Claims};
use crate::dpop::{DpopState, TokenBinding};
use crate::error::{AuthError, JwksError, TokenRejection};
use crate::jwks::{JwksStatus, Lookup};
use crate::payload::Payload;
use crate::token::{self, MAX_KID_BYTES};

/// The default leeway on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The default realm of the `WWW-Authenticate` challenge.
pub const DEFAULT_REALM: &str = "ccflow";

mod builder;
mod issuer;
pub use builder::ValidatorBuilder;
use builder::is_hmac;
use issuer::Issuers;
pub use issuer::{IssuerSettings, TrustedIssuer};

/// Validates bearer tokens for one API: cheap to clone, shared by every
/// worker. See the crate documentation for the checks and their order.
///
/// A validator trusts one issuer ([`ValidatorBuilder::issuer`]) or several
/// ([`ValidatorBuilder::trust`], once per issuer). A token's `iss` picks the issuer whose keys,
/// audiences, algorithms and `typ`s then apply; an `iss` no trusted issuer has is refused
/// before any key is looked up or fetched.
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Issuers,
    leeway: Duration,
    realm: String,
    clock: Arc<dyn Clock>,
    token_binding: TokenBinding,
    public_url: Option<String>,
    dpop: DpopState,
    forwarded_certificate: Option<crate::forwarded::ForwardedCertificate>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        formatter
            .debug_struct("Validator")
            .field("issuers", &inner.issuers.all())
            .field("leeway", &inner.leeway)
            .field("token_binding", &inner.token_binding)
            .field("public_url", &inner.public_url)
            .field("dpop", &inner.dpop)
            .field("forwarded_certificate", &inner.forwarded_certificate)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Starts configuring a validator.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// The issuer `iss` must equal: the first trusted issuer's (the only one of a
    /// single-issuer validator; see [`trusted_issuers`](Self::trusted_issuers)).
    pub fn issuer(&self) -> &str {
        &self.inner.issuers.first().issuer
    }

    /// The audiences a token may be for: the first trusted issuer's.
    pub fn audiences(&self) -> &[String] {
        &self.inner.issuers.first().audiences
    }

    /// The algorithm allow-list: the first trusted issuer's.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.issuers.first().algorithms
    }

    /// Every trusted issuer, in the order they were given (the builder's
    /// [`issuer`](ValidatorBuilder::issuer) first).
    pub fn trusted_issuers(&self) -> impl ExactSizeIterator<Item = &TrustedIssuer> {
        self.inner.issuers.all().iter().map(|trusted| &**trusted)
    }

    /// The trusted issuer whose `iss` is exactly `issuer`, if any.
    pub fn trusted_issuer(&self, issuer: &str) -> Option<&TrustedIssuer> {
        self.inner.issuers.get(issuer).map(|trusted| &**trusted)
    }

    /// The challenge realm.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// How routes without a binding of their own accept tokens.
    pub fn token_binding(&self) -> TokenBinding {
        self.inner.token_binding
    }

    /// The public URL proofs' `htu` are checked against, without a trailing slash, if set.
    pub fn public_url(&self) -> Option<&str> {
        self.inner.public_url.as_deref()
    }

    /// The algorithms accepted for DPoP proofs.
    pub fn dpop_algorithms(&self) -> &[Algorithm] {
        &self.inner.dpop.settings.algorithms
    }

    /// The header a trusted proxy forwards client certificates in (lower case), if configured.
    pub fn forwarded_certificate_header(&self) -> Option<&str> {
        self.inner
            .forwarded_certificate
            .as_ref()
            .map(|forwarded| forwarded.header.as_str())
    }

    /// The format of the forwarded-certificate header, if one is configured.
    pub fn forwarded_certificate_format(&self) -> Option<crate::ForwardedCertificateFormat> {
        self.inner
            .forwarded_certificate
            .as_ref()
            .map(|forwarded| forwarded.format)
    }

    /// The proxies trusted to forward client certificates (empty unless a header is configured).
    pub fn trusted_proxies(&self) -> &[crate::IpNetwork] {
        self.inner
            .forwarded_certificate
            .as_ref()
            .map_or(&[], |forwarded| forwarded.trusted_proxies.as_slice())
    }

    pub(crate) fn forwarded_certificate(&self) -> Option<&crate::forwarded::ForwardedCertificate> {
        self.inner.forwarded_certificate.as_ref()
    }

    pub(crate) fn dpop_state(&self) -> &DpopState {
        &self.inner.dpop
    }

    /// The validator's clock, in Unix seconds.
    pub(crate) fn unix_now(&self) -> u64 {
        u64::try_from(ccflow_protocol::unix_seconds(self.inner.clock.now())).unwrap_or_default()
    }

    /// Fetches every trusted issuer's keys now (all at once), joining fetches already under
    /// way, whatever the cooldown. Call it at start-up to warm the caches; a failure is not
    /// fatal, as keys are fetched again on first use. The first issuer's error, in trust
    /// order, is returned; every issuer is tried.
    pub async fn refresh_keys(&self) -> Result<(), JwksError> {
        let refreshes = self
            .inner
            .issuers
            .all()
            .iter()
            .map(|trusted| trusted.refresh_keys());
        futures_util::future::join_all(refreshes)
            .await
            .into_iter()
            .collect()
    }

    /// The first trusted issuer's key cache state, or `None` when only HMAC tokens are
    /// accepted from it (each issuer's: [`TrustedIssuer::jwks_status`]).
    pub fn jwks_status(&self) -> Option<JwksStatus> {
        self.inner.issuers.first().jwks_status()
    }

    /// Validates a bearer token (the part after `Bearer `).
    ///
    /// In order: size and JWS shape, header (`alg` not `none`), the claims' JSON and the
    /// issuer `iss` names among the trusted ones (an untrusted `iss` is refused here, before
    /// any key is looked up or fetched), then that issuer's rules: `alg` on its allow-list,
    /// `typ`, no `crit`, `kid` length, key lookup in its own key cache, signature, then `aud`,
    /// `exp`, `nbf`, `iat` and claim types. The first failure is returned; nothing after it
    /// runs.
    pub async fn validate(&self, token: &str) -> Result<Claims, AuthError> {
        self.validate_for_issuer(token)
            .await
            .map(|(claims, _)| claims)
    }

    /// [`validate`](Self::validate), also returning the trusted issuer that matched.
    pub(crate) async fn validate_for_issuer(
        &self,
        token: &str,
    ) -> Result<(Claims, Arc<TrustedIssuer>), AuthError> {
        let inner = &*self.inner;
        let jws = token::split_compact(token)?;
        let mut decoded_header = Vec::with_capacity(jws.header.len());
        token::decode_header(jws.header, &mut decoded_header)?;
        let header = token::parse_header(&decoded_header)?;
        if header.alg().eq_ignore_ascii_case("none") {
            return Err(TokenRejection::AlgNone.into());
        }
        // Parsed once, here: the issuer it names picks the rules and keys; the claims are
        // checked against them only after the signature.
        let payload = Payload::decode(jws.payload)?;
        let trusted = inner.issuers.for_issuer_claim(payload.read.iss.as_ref())?;
        let algorithm = trusted.check_algorithm(header.alg())?;
        trusted.check_typ(header.typ())?;
        if header.has_crit() {
            return Err(TokenRejection::CriticalHeader.into());
        }
        let kid = header.kid();
        if kid.is_some_and(|kid| kid.len() > MAX_KID_BYTES) {
            return Err(TokenRejection::KidTooLong {
                limit: MAX_KID_BYTES,
            }
            .into());
        }
        match (&trusted.hmac_key, &trusted.jwks) {
            (Some(secret), _) if is_hmac(algorithm) => verify(&jws, secret, algorithm)?,
            (_, Some(jwks)) if !is_hmac(algorithm) => {
                let keys = jwks.keys_for(kid, algorithm).await?;
                match keys.lookup(kid, algorithm) {
                    Lookup::Unknown => return Err(TokenRejection::UnknownKey.into()),
                    Lookup::Mismatch => return Err(TokenRejection::KeyMismatch.into()),
                    Lookup::Found(candidates) => verify_with_any(&jws, &candidates, algorithm)?,
                }
            }
            // Unreachable by construction (build pairs each allowed family
            // with its key source), but refusing is the safe answer.
            _ => {
                return Err(TokenRejection::AlgNotAllowed {
                    accepted: trusted.accepted_algorithms.clone(),
                }
                .into());
            }
        };
        let rules = ClaimRules {
            issuer: &trusted.issuer,
            audiences: &trusted.audiences,
            scope_claim: trusted.scope_claim,
            leeway: inner.leeway,
            now: inner.clock.now(),
        };
        let claims = Claims::check(payload, &rules, algorithm, kid.map(str::to_owned))?;
        Ok((claims, Arc::clone(trusted)))
    }
}

/// Tries each candidate key until one verifies the signature.
fn verify_with_any(
    jws: &token::CompactJws<'_>,
    candidates: &[&crate::jwks::VerificationKey],
    algorithm: Algorithm,
) -> Result<(), TokenRejection> {
    let mut last = TokenRejection::BadSignature;
    for candidate in candidates {
        match verify(jws, candidate.key(), algorithm) {
            Ok(()) => return Ok(()),
            Err(rejection @ (TokenRejection::BadSignature | TokenRejection::KeyMismatch)) => {
                last = rejection;
            }
            Err(rejection) => return Err(rejection),
        }
    }
    Err(last)
}

/// Checks the signature over `header.payload` with jsonwebtoken's installed crypto provider
/// (DESIGN.md "Crypto"; ccflow's keeps each public key parsed). Only the signature: the header
/// was read and checked above and the claims are decoded once, afterwards, by us, so neither
/// is parsed twice (`jsonwebtoken::decode` would parse the header twice and the claims twice).
fn verify(
    jws: &token::CompactJws<'_>,
    key: &DecodingKey,
    algorithm: Algorithm,
) -> Result<(), TokenRejection> {
    match jsonwebtoken::crypto::verify(jws.signature, jws.signing_input.as_bytes(), key, algorithm)
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(TokenRejection::BadSignature),
        Err(error) => Err(match error.kind() {
            // A signature that is base64url characters but not base64url (a stray length,
            // non-zero trailing bits).
            ErrorKind::Base64(_) => TokenRejection::NotAJws,
            // The key cannot verify this algorithm: an RSA key under ES256, say.
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::UnsupportedAlgorithm => TokenRejection::KeyMismatch,
            _ => TokenRejection::BadSignature,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BuildError;

    fn builder() -> ValidatorBuilder {
        Validator::builder()
            .issuer("https://issuer.test")
            .audience("api")
    }

    #[test]
    fn refuses_unsafe_configurations() {
        #[track_caller]
        fn check(builder: ValidatorBuilder, expected: &BuildError) {
            assert_eq!(&builder.build().unwrap_err(), expected);
        }
        check(
            Validator::builder().audience("api"),
            &BuildError::MissingIssuer,
        );
        check(builder().issuer("issuer.test"), &BuildError::InvalidIssuer);
        check(builder().issuer("https://"), &BuildError::InvalidIssuer);
        check(
            builder().issuer("https://x.test/?a=b"),
            &BuildError::InvalidIssuer,
        );
        check(
            builder().jwks_url("file:///etc/jwks"),
            &BuildError::InvalidJwksUrl,
        );
        check(
            Validator::builder().issuer("https://issuer.test"),
            &BuildError::MissingAudience,
        );
        check(
            Validator::builder()
                .issuer("https://issuer.test")
                .audience(""),
            &BuildError::MissingAudience,
        );
        check(builder().algorithms([]), &BuildError::NoAlgorithms);
        check(
            builder().algorithms([Algorithm::RS256, Algorithm::HS256]),
            &BuildError::HmacWithoutSecret,
        );
        check(
            builder().shared_secret(vec![7; 64]),
            &BuildError::SecretWithoutHmac,
        );
        check(
            builder()
                .algorithms([Algorithm::HS256])
                .shared_secret(vec![7; 31]),
            &BuildError::SecretTooShort { min: 32 },
        );
        check(
            builder()
                .algorithms([Algorithm::HS256, Algorithm::HS512])
                .shared_secret(vec![7; 48]),
            &BuildError::SecretTooShort { min: 64 },
        );
        check(
            builder().require_typ(Vec::<String>::new()),
            &BuildError::NoTyp,
        );
        check(
            builder().jwks_fetch_timeout(Duration::ZERO),
            &BuildError::InvalidSetting {
                setting: "jwks_fetch_timeout",
                why: "must be more than zero",
            },
        );
        check(
            builder().public_url("api.example.com"),
            &BuildError::InvalidPublicUrl,
        );
        check(
            builder().public_url("https://api.example.com/?x=1"),
            &BuildError::InvalidPublicUrl,
        );
        check(
            builder().dpop_algorithms([Algorithm::HS256]),
            &BuildError::InvalidSetting {
                setting: "dpop_algorithms",
                why: "DPoP proofs are signed with asymmetric keys: HMAC is not allowed",
            },
        );
        check(
            builder().jwks_ttl_bounds(Duration::from_secs(10), Duration::from_secs(5)),
            &BuildError::InvalidSetting {
                setting: "jwks_ttl_bounds",
                why: "the minimum is above the maximum",
            },
        );
    }

    #[test]
    fn builds_without_contacting_the_issuer() {
        let validator = builder()
            .audiences(["api", "api", "other"])
            .build()
            .unwrap();
        assert_eq!(validator.issuer(), "https://issuer.test");
        assert_eq!(validator.audiences(), ["api", "other"]);
        assert_eq!(
            validator.algorithms(),
            [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256]
        );
        assert_eq!(validator.realm(), "ccflow");
        let status = validator.jwks_status().unwrap();
        assert_eq!((status.keys, status.fetches), (0, 0));
    }

    #[test]
    fn hmac_only_validators_have_no_jwks() {
        let validator = builder()
            .algorithms([Algorithm::HS256])
            .shared_secret(vec![7; 32])
            .build()
            .unwrap();
        assert!(validator.jwks_status().is_none());
    }

    #[test]
    fn debug_output_hides_the_shared_secret() {
        let secret = "a-very-secret-hmac-key-of-32-bytes!!";
        let builder = builder()
            .algorithms([Algorithm::HS256])
            .shared_secret(secret);
        assert!(!format!("{builder:?}").contains(secret));
        let validator = builder.build().unwrap();
        let debug = format!("{validator:?}");
        assert!(
            !debug.contains(secret) && debug.contains("[redacted]"),
            "{debug}"
        );
    }

    #[test]
    fn checks_typ_case_insensitively_with_optional_application_prefix() {
        #[track_caller]
        fn check(builder: ValidatorBuilder, typ: Option<&str>, ok: bool) {
            let validator = builder.build().unwrap();
            assert_eq!(
                validator.inner.issuers.first().check_typ(typ).is_ok(),
                ok,
                "{typ:?}"
            );
        }
        check(builder(), Some("at+jwt"), true);
        check(builder(), Some("application/at+JWT"), true);
        check(builder(), Some("JWT"), false);
        check(builder(), None, false);
        check(builder().require_typ(["at+jwt", "JWT"]), Some("jwt"), true);
        check(builder().skip_typ_check(), None, true);
    }

    #[test]
    fn checks_the_algorithm_against_the_allow_list() {
        let validator = builder().build().unwrap();
        #[track_caller]
        fn check(validator: &Validator, alg: &str, expected: Result<Algorithm, ()>) {
            let result = validator
                .inner
                .issuers
                .first()
                .check_algorithm(alg)
                .map_err(|_| ());
            assert_eq!(result, expected, "{alg}");
        }
        check(&validator, "RS256", Ok(Algorithm::RS256));
        check(&validator, "ES256", Ok(Algorithm::ES256));
        check(&validator, "HS256", Err(()));
        check(&validator, "RS512", Err(()));
        check(&validator, "rs256", Err(()));
        check(&validator, "", Err(()));
        assert_eq!(
            validator.inner.issuers.first().check_algorithm("nOnE"),
            Err(TokenRejection::AlgNone)
        );
    }
}
