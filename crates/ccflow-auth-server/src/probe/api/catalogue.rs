//! The resource-server catalogue of `probe api`: every case, what it sends and what the API
//! must answer, with its RFC section.

use ccflow_protocol::Defect;

use super::attacker::Pointer;

/// What the API must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// 2xx.
    Accept,
    /// 401 with a Bearer challenge carrying no error code (RFC 6750 §3.1).
    BareChallenge,
    /// 400 `invalid_request`; a 401 is lenient.
    InvalidRequest,
    /// 401 `invalid_token`.
    InvalidToken,
    /// 403 `insufficient_scope`.
    InsufficientScope,
    /// 401 `invalid_dpop_proof` or `invalid_token`: a DPoP request whose proof does not fit it
    /// (RFC 9449 §7.1 names `invalid_dpop_proof` for a bad proof; a proof that is sound but not
    /// of the token's key is as well refused as `invalid_token`).
    InvalidDpopProof,
    /// 401 `use_dpop_nonce` with a fresh `DPoP-Nonce` header (RFC 9449 §9): a proof without
    /// the nonce an API requires, or with one it never issued.
    UseDpopNonce,
}

impl Expect {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Expect::Accept => "2xx",
            Expect::BareChallenge => "401, WWW-Authenticate: Bearer",
            Expect::InvalidRequest => "400, WWW-Authenticate: Bearer error=\"invalid_request\"",
            Expect::InvalidToken => "401, WWW-Authenticate: Bearer error=\"invalid_token\"",
            Expect::InsufficientScope => {
                "403, WWW-Authenticate: Bearer error=\"insufficient_scope\""
            }
            Expect::InvalidDpopProof => {
                // `invalid_token` passes too (judge.rs).
                "401, WWW-Authenticate: DPoP error=\"invalid_dpop_proof\""
            }
            Expect::UseDpopNonce => {
                "401, WWW-Authenticate: DPoP error=\"use_dpop_nonce\", and a DPoP-Nonce header"
            }
        }
    }
}

/// What a request sends.
#[derive(Debug, Clone, Copy)]
pub(super) enum Send {
    /// No `Authorization` header.
    Nothing,
    /// This `Authorization` value as is.
    Raw(&'static str),
    /// A token from the factory.
    Token(Mint),
    /// A token of the factory re-signed by the probe's attacker key, whose `jku`/`x5u` points
    /// at the attacker's server (attacker.rs).
    Attacker(Pointer),
}

/// Which token.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mint {
    Valid,
    Defect(Defect),
    Claim(&'static str, &'static str),
    WithoutClaim(&'static str),
    Crit,
    OtherScope,
    /// Bound to a DPoP key (`cnf.jkt`, RFC 9449 §6.1), to be sent as `Bearer`.
    DpopBound,
    /// Bound to a client certificate (`cnf["x5t#S256"]`, RFC 8705 §3.1) the probe does not
    /// present.
    CertificateBound,
}

/// One case of the static catalogue.
pub(super) struct Case {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
    pub(super) rfc: &'static str,
    pub(super) send: Send,
    pub(super) expect: Expect,
}

pub(super) const fn case(
    id: &'static str,
    title: &'static str,
    rfc: &'static str,
    send: Send,
    expect: Expect,
) -> Case {
    Case {
        id,
        title,
        rfc,
        send,
        expect,
    }
}

/// The wrong issuer and audience the probe names.
pub(super) const WRONG_ISSUER: &str = "https://wrong-issuer.ccflow.invalid";
pub(super) const WRONG_AUDIENCE: &str = "ccflow-probe-another-api";
/// A scope no route requires.
pub(super) const OTHER_SCOPE: &str = "ccflow-probe:unrelated";
/// The extension the `crit` case marks critical: nobody understands it.
pub(super) const CRIT_EXTENSION: &str = "urn:ccflow:probe:critical";
/// The `cnf.jkt` of the DPoP-bound token: a JWK SHA-256 thumbprint's shape (RFC 7638), of no
/// key the probe holds; the API must refuse the token as `Bearer` whatever the key.
pub(super) const BOUND_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
/// The `cnf["x5t#S256"]` of the certificate-bound token: a SHA-256 thumbprint's shape (RFC 8705
/// §3.1) of no certificate the probe presents (it presents none); the API must refuse it.
pub(super) const BOUND_X5T: &str = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2";

#[rustfmt::skip]
pub(super) const STATIC_CASES: &[Case] = &[
    case("valid", "a valid token for the audience (and scope) is accepted", "RFC 6750 §2.1", Send::Token(Mint::Valid), Expect::Accept),
    case("no-token", "a request without credentials gets a bare challenge", "RFC 6750 §3.1", Send::Nothing, Expect::BareChallenge),
    case("other-scheme", "credentials of another scheme (Basic) get a bare challenge", "RFC 6750 §3.1", Send::Raw("Basic Y2NmbG93LXByb2JlOm5vdC1hLXNlY3JldA=="), Expect::BareChallenge),
    case("malformed-header", "`Authorization: Bearer` without a token is a malformed request", "RFC 6750 §3.1", Send::Raw("Bearer"), Expect::InvalidRequest),
    case("expired", "an expired token is refused", "RFC 7519 §4.1.4", Send::Token(Mint::Defect(Defect::Expired)), Expect::InvalidToken),
    case("not-yet-valid", "a token before its nbf is refused", "RFC 7519 §4.1.5", Send::Token(Mint::Defect(Defect::NotYetValid)), Expect::InvalidToken),
    case("wrong-iss", "a token of another issuer is refused", "RFC 9068 §4", Send::Token(Mint::Claim("iss", WRONG_ISSUER)), Expect::InvalidToken),
    case("wrong-aud", "a token for another audience is refused", "RFC 9068 §4, RFC 8725 §3.9", Send::Token(Mint::Claim("aud", WRONG_AUDIENCE)), Expect::InvalidToken),
    case("missing-exp", "a token without exp is refused", "RFC 9068 §2.2", Send::Token(Mint::WithoutClaim("exp")), Expect::InvalidToken),
    case("alg-none", "an unsigned token (alg none) is refused", "RFC 8725 §3.1", Send::Token(Mint::Defect(Defect::AlgNone)), Expect::InvalidToken),
    case("hs256-public-key", "HS256 keyed with the issuer's public key is refused", "RFC 8725 §3.1", Send::Token(Mint::Defect(Defect::Hs256WithPublicKey)), Expect::InvalidToken),
    case("unknown-kid", "a kid in no JWKS is refused", "RFC 7515 §4.1.4", Send::Token(Mint::Defect(Defect::UnknownKid)), Expect::InvalidToken),
    case("tampered-payload", "claims changed after signing are refused", "RFC 7515 §5.2", Send::Token(Mint::Defect(Defect::TamperedPayload)), Expect::InvalidToken),
    case("crit-header", "a crit header naming an unknown extension is refused", "RFC 7515 §4.1.11", Send::Token(Mint::Crit), Expect::InvalidToken),
    case("jku-elsewhere", "a token naming the attacker's JWKS in jku is refused, the URL never fetched", "RFC 8725 §3.10", Send::Attacker(Pointer::Jku), Expect::InvalidToken),
    case("x5u-elsewhere", "a token naming the attacker's certificate in x5u is refused, the URL never fetched", "RFC 8725 §3.10", Send::Attacker(Pointer::X5u), Expect::InvalidToken),
    case("embedded-jwk", "a foreign key embedded as jwk is not trusted", "RFC 7515 §4.1.3, RFC 8725 §3.10", Send::Token(Mint::Defect(Defect::EmbeddedJwk)), Expect::InvalidToken),
    case("wrong-typ", "a JWT that is not typed at+jwt is refused", "RFC 9068 §4", Send::Token(Mint::Defect(Defect::WrongTyp)), Expect::InvalidToken),
    case("missing-scope", "a valid token without the route's scope is forbidden", "RFC 6750 §3.1", Send::Token(Mint::OtherScope), Expect::InsufficientScope),
    case("dpop-bound-as-bearer", "a DPoP-bound token sent as Bearer is refused", "RFC 9449 §7.2", Send::Token(Mint::DpopBound), Expect::InvalidToken),
    case("certificate-bound-without-certificate", "a certificate-bound token presented without its certificate is refused", "RFC 8705 §3", Send::Token(Mint::CertificateBound), Expect::InvalidToken),
];

/// The cases that need keys changed or time to pass, run after the static ones.
#[derive(Debug, Clone, Copy)]
pub(super) enum Timed {
    KeyRotation,
    IssuerDown,
    KeyRemoved,
}

impl Timed {
    pub(super) fn id(self) -> &'static str {
        match self {
            Timed::KeyRotation => "key-rotation",
            Timed::IssuerDown => "issuer-down",
            Timed::KeyRemoved => "key-removed",
        }
    }
    pub(super) fn title(self) -> &'static str {
        match self {
            Timed::KeyRotation => {
                "a token of a newly activated key is accepted once the API refetches the JWKS"
            }
            Timed::IssuerDown => {
                "with the issuer's JWKS and discovery down, cached keys keep working past the cache's freshness"
            }
            Timed::KeyRemoved => {
                "a token of a key withdrawn from the JWKS is refused once the API's cache may have expired"
            }
        }
    }
    pub(super) fn rfc(self) -> &'static str {
        match self {
            Timed::KeyRotation => "RFC 7517 §4.5, OIDC Core §10.1.1",
            Timed::IssuerDown => "RFC 9111 §4.2.4",
            Timed::KeyRemoved => "RFC 7517 §5, RFC 9111 §5.2.2.1",
        }
    }
}

/// Every case id, in the order run (what `--skip` accepts).
pub const CASE_IDS: &[&str] = &[
    "valid",
    "no-token",
    "other-scheme",
    "malformed-header",
    "expired",
    "not-yet-valid",
    "wrong-iss",
    "wrong-aud",
    "missing-exp",
    "alg-none",
    "hs256-public-key",
    "unknown-kid",
    "tampered-payload",
    "crit-header",
    "jku-elsewhere",
    "x5u-elsewhere",
    "embedded-jwk",
    "wrong-typ",
    "missing-scope",
    "dpop-bound-as-bearer",
    "certificate-bound-without-certificate",
    "dpop-valid",
    "dpop-wrong-htm",
    "dpop-wrong-htu",
    "dpop-other-key",
    "dpop-stale-iat",
    "dpop-replayed-jti",
    "dpop-missing-ath",
    "dpop-nonce-missing",
    "dpop-nonce-wrong",
    "certificate-bound-with-certificate",
    "certificate-bound-other-certificate",
    "key-rotation",
    "issuer-down",
    "key-removed",
];
