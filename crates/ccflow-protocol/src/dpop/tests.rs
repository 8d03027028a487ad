//! Unit tests of DPoP proofs: every RFC 9449 §4.3 rule, one table of proofs that are wrong in
//! exactly one way, the RFC's own example proof, and keys of every supported type.

use serde_json::{Map, Value, json};

use super::*;

/// Fixed test-only keys (generated with openssl for these tests; never used elsewhere).
const ES256_PEM: &str = include_str!("testdata/es256.pem");
const ED25519_PEM: &str = include_str!("testdata/ed25519.pem");
const RS256_PEM: &str = include_str!("testdata/rs256.pem");
const ES384_PEM: &str = include_str!("testdata/es384.pem");

const NOW: u64 = 1_800_000_000;
const URL: &str = "https://as.example/oauth2/token";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";

fn check_at<'a>(url: &'a str, access_token: Option<&'a str>) -> ProofCheck<'a> {
    ProofCheck {
        method: "POST",
        url,
        now: NOW,
        iat_window: DEFAULT_IAT_WINDOW_SECS,
        algorithms: &DEFAULT_ALGORITHMS,
        access_token,
    }
}

fn good_claims() -> Value {
    json!({"jti": "e1j4bBO8bX4_nQ", "htm": "POST", "htu": URL, "iat": NOW})
}

fn key() -> DpopKey {
    DpopKey::from_pem(ES256_PEM).unwrap()
}

/// How a case's proof is built: a header and claims signed by the test key, or raw text.
enum Proof {
    Signed(Map<String, Value>, Value),
    Raw(String),
}

/// Applies `edit` to the good header, or to the good claims.
fn header(edit: impl FnOnce(&mut Map<String, Value>)) -> Proof {
    let mut header = key().proof_header();
    edit(&mut header);
    Proof::Signed(header, good_claims())
}

fn claims(edit: impl FnOnce(&mut Map<String, Value>)) -> Proof {
    let mut claims = good_claims();
    edit(claims.as_object_mut().unwrap());
    Proof::Signed(key().proof_header(), claims)
}

#[test]
fn each_rule_of_rfc_9449_section_4_3() {
    #[track_caller]
    fn check(name: &str, proof: Proof, check: ProofCheck<'_>, expected: Result<(), ProofError>) {
        let text = match proof {
            Proof::Signed(header, claims) => key().sign(&header, &claims).unwrap(),
            Proof::Raw(text) => text,
        };
        let got = check_proof(&text, &check).map(|verified| {
            assert_eq!(verified.jkt, key().thumbprint(), "{name}: jkt");
            assert_eq!(verified.jti, "e1j4bBO8bX4_nQ", "{name}: jti");
        });
        // `.err()` compares the refusal, `Ok` having been checked above.
        assert_eq!(got.err(), expected.err(), "{name}");
    }
    let good = || claims(|_| {});
    let at = || check_at(URL, None);

    check("well-formed", good(), at(), Ok(()));
    // Check 2: form.
    check(
        "two parts",
        Proof::Raw("a.b".into()),
        at(),
        Err(ProofError::Malformed),
    );
    check(
        "four parts",
        Proof::Raw("a.b.c.d".into()),
        at(),
        Err(ProofError::Malformed),
    );
    check(
        "not base64url",
        Proof::Raw("a*.b.c".into()),
        at(),
        Err(ProofError::Malformed),
    );
    check(
        "claims not an object",
        Proof::Raw(format!(
            "{}.WzFd.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"dpop+jwt"}"#)
        )),
        at(),
        Err(ProofError::Malformed),
    );
    check(
        "too long",
        Proof::Raw("a".repeat(MAX_PROOF_BYTES + 1)),
        at(),
        Err(ProofError::TooLong),
    );
    // Check 4: typ (case-insensitive, RFC 7515 §4.1.9).
    check(
        "typ JWT",
        header(|h| {
            h.insert("typ".into(), json!("JWT"));
        }),
        at(),
        Err(ProofError::WrongType),
    );
    check(
        "no typ",
        header(|h| {
            h.remove("typ");
        }),
        at(),
        Err(ProofError::WrongType),
    );
    check(
        "typ upper case",
        header(|h| {
            h.insert("typ".into(), json!("DPoP+JWT"));
        }),
        at(),
        Ok(()),
    );
    // Check 5: alg.
    let not_allowed = || Err(ProofError::AlgNotAllowed("ES256 RS256 PS256 EdDSA".into()));
    check(
        "alg none",
        header(|h| {
            h.insert("alg".into(), json!("none"));
        }),
        at(),
        not_allowed(),
    );
    check(
        "alg HS256",
        header(|h| {
            h.insert("alg".into(), json!("HS256"));
        }),
        at(),
        not_allowed(),
    );
    check(
        "alg unknown",
        header(|h| {
            h.insert("alg".into(), json!("XX1"));
        }),
        at(),
        not_allowed(),
    );
    check(
        "alg missing",
        header(|h| {
            h.remove("alg");
        }),
        at(),
        not_allowed(),
    );
    let only_eddsa = ProofCheck {
        algorithms: &[Algorithm::EdDSA],
        ..at()
    };
    check(
        "alg not allowed here",
        good(),
        only_eddsa,
        Err(ProofError::AlgNotAllowed("EdDSA".into())),
    );
    // Checks 6 and 7: the key.
    check(
        "no jwk",
        header(|h| {
            h.remove("jwk");
        }),
        at(),
        Err(ProofError::MissingJwk),
    );
    check(
        "jwk not an object",
        header(|h| {
            h.insert("jwk".into(), json!("k"));
        }),
        at(),
        Err(ProofError::MissingJwk),
    );
    check(
        "jwk with d",
        header(|h| {
            h["jwk"]["d"] = json!("AAAA");
        }),
        at(),
        Err(ProofError::PrivateJwk),
    );
    check(
        "symmetric jwk",
        header(|h| {
            h.insert("jwk".into(), json!({"kty": "oct", "k": "c2VjcmV0"}));
        }),
        at(),
        Err(ProofError::PrivateJwk),
    );
    check(
        "jwk of another curve",
        header(|h| {
            let coordinate = URL_SAFE_NO_PAD.encode([1; 48]);
            h.insert(
                "jwk".into(),
                json!({"kty": "EC", "crv": "P-384", "x": coordinate, "y": coordinate}),
            );
        }),
        at(),
        Err(ProofError::KeyAlgMismatch),
    );
    check(
        "jwk of another key",
        header(|h| {
            h.insert(
                "jwk".into(),
                serde_json::to_value(DpopKey::generate().unwrap().public_jwk()).unwrap(),
            );
        }),
        at(),
        Err(ProofError::BadSignature),
    );
    check(
        "signature of other bytes",
        Proof::Raw({
            let proof = key().sign(&key().proof_header(), &good_claims()).unwrap();
            let other = key()
                .sign(&key().proof_header(), &json!({"jti": "x"}))
                .unwrap();
            let (message, _) = proof.rsplit_once('.').unwrap();
            format!("{message}.{}", other.rsplit_once('.').unwrap().1)
        }),
        at(),
        Err(ProofError::BadSignature),
    );
    // Required claims.
    check(
        "no jti",
        claims(|c| {
            c.remove("jti");
        }),
        at(),
        Err(ProofError::MissingClaim("jti", "string")),
    );
    check(
        "jti a number",
        claims(|c| {
            c.insert("jti".into(), json!(7));
        }),
        at(),
        Err(ProofError::MissingClaim("jti", "string")),
    );
    check(
        "empty jti",
        claims(|c| {
            c.insert("jti".into(), json!(""));
        }),
        at(),
        Err(ProofError::BadJti),
    );
    check(
        "long jti",
        claims(|c| {
            c.insert("jti".into(), json!("j".repeat(MAX_JTI_CHARS + 1)));
        }),
        at(),
        Err(ProofError::BadJti),
    );
    check(
        "no htm",
        claims(|c| {
            c.remove("htm");
        }),
        at(),
        Err(ProofError::MissingClaim("htm", "string")),
    );
    check(
        "no htu",
        claims(|c| {
            c.remove("htu");
        }),
        at(),
        Err(ProofError::MissingClaim("htu", "string")),
    );
    check(
        "no iat",
        claims(|c| {
            c.remove("iat");
        }),
        at(),
        Err(ProofError::MissingClaim("iat", "NumericDate")),
    );
    check(
        "iat a string",
        claims(|c| {
            c.insert("iat".into(), json!("1800000000"));
        }),
        at(),
        Err(ProofError::MissingClaim("iat", "NumericDate")),
    );
    check(
        "iat with a fraction",
        claims(|c| {
            c.insert("iat".into(), json!(1_800_000_000.5));
        }),
        at(),
        Ok(()),
    );
    check(
        "nonce a number",
        claims(|c| {
            c.insert("nonce".into(), json!(1));
        }),
        at(),
        Err(ProofError::MissingClaim("nonce", "string")),
    );
    // Check 8: htm, case-sensitive.
    check(
        "htm GET",
        claims(|c| {
            c.insert("htm".into(), json!("GET"));
        }),
        at(),
        Err(ProofError::WrongMethod("POST".into())),
    );
    check(
        "htm post",
        claims(|c| {
            c.insert("htm".into(), json!("post"));
        }),
        at(),
        Err(ProofError::WrongMethod("POST".into())),
    );
    // Check 9: htu, normalised, without query and fragment.
    let wrong_url = || Err(ProofError::WrongUrl(URL.into()));
    check(
        "htu other path",
        claims(|c| {
            c.insert("htu".into(), json!("https://as.example/token"));
        }),
        at(),
        wrong_url(),
    );
    check(
        "htu other scheme",
        claims(|c| {
            c.insert("htu".into(), json!("http://as.example/oauth2/token"));
        }),
        at(),
        wrong_url(),
    );
    check(
        "htu other port",
        claims(|c| {
            c.insert("htu".into(), json!("https://as.example:8443/oauth2/token"));
        }),
        at(),
        wrong_url(),
    );
    check(
        "htu relative",
        claims(|c| {
            c.insert("htu".into(), json!("/oauth2/token"));
        }),
        at(),
        wrong_url(),
    );
    check(
        "htu upper-case host and default port",
        claims(|c| {
            c.insert("htu".into(), json!("HTTPS://AS.example:443/oauth2/token"));
        }),
        at(),
        Ok(()),
    );
    check(
        "htu with query and fragment",
        claims(|c| {
            c.insert("htu".into(), json!("https://as.example/oauth2/token?a=b#f"));
        }),
        at(),
        Ok(()),
    );
    check(
        "request with a query",
        good(),
        check_at("https://as.example/oauth2/token?x=1", None),
        Ok(()),
    );
    // Check 11: iat window, either way.
    let stale = || Err(ProofError::StaleIat(DEFAULT_IAT_WINDOW_SECS));
    check(
        "iat at the past edge",
        claims(|c| {
            c.insert("iat".into(), json!(NOW - 60));
        }),
        at(),
        Ok(()),
    );
    check(
        "iat past the edge",
        claims(|c| {
            c.insert("iat".into(), json!(NOW - 61));
        }),
        at(),
        stale(),
    );
    check(
        "iat at the future edge",
        claims(|c| {
            c.insert("iat".into(), json!(NOW + 60));
        }),
        at(),
        Ok(()),
    );
    check(
        "iat in the future",
        claims(|c| {
            c.insert("iat".into(), json!(NOW + 61));
        }),
        at(),
        stale(),
    );
    // Check 12: ath with an access token.
    let with_token = || check_at(URL, Some(TOKEN));
    check(
        "no ath with a token",
        good(),
        with_token(),
        Err(ProofError::MissingAth),
    );
    check(
        "ath of another token",
        claims(|c| {
            c.insert("ath".into(), json!(access_token_hash("other")));
        }),
        with_token(),
        Err(ProofError::WrongAth),
    );
    check(
        "ath of the token",
        claims(|c| {
            c.insert("ath".into(), json!(access_token_hash(TOKEN)));
        }),
        with_token(),
        Ok(()),
    );
}

#[test]
fn verifies_the_example_proof_of_rfc_9449() {
    // RFC 9449 §4.1, Figure 3 (the token request proof), and its thumbprint from §6.1.
    let proof = concat!(
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0",
        "VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10",
        "NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIj",
        "oiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ",
        ".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
    );
    let check = ProofCheck {
        method: "POST",
        url: "https://server.example.com/token",
        now: 1_562_262_616,
        iat_window: DEFAULT_IAT_WINDOW_SECS,
        algorithms: &DEFAULT_ALGORITHMS,
        access_token: None,
    };
    let verified = check_proof(proof, &check).expect("the RFC's proof verifies");
    assert_eq!(verified.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    assert_eq!(verified.jti, "-BwC3ESc6acc2lTc");
    assert_eq!(verified.algorithm, Algorithm::ES256);
    // The same proof at another endpoint is refused.
    let elsewhere = ProofCheck {
        url: "https://server.example.com/resource",
        ..check
    };
    assert!(matches!(
        check_proof(proof, &elsewhere),
        Err(ProofError::WrongUrl(_))
    ));
}

#[test]
fn ath_matches_the_example_of_rfc_9449() {
    // RFC 9449 §7.1, Figures 12 and 13.
    assert_eq!(
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn every_key_type_signs_proofs_that_verify() {
    #[track_caller]
    fn check(key: &DpopKey, expected_alg: Algorithm) {
        assert_eq!(key.algorithm(), expected_alg);
        let proof = key
            .proof(
                "GET",
                "https://api.example/items?page=2",
                NOW,
                Some("n-1"),
                Some(TOKEN),
            )
            .unwrap();
        let check = ProofCheck {
            method: "GET",
            url: "https://api.example/items",
            ..check_at(URL, Some(TOKEN))
        };
        let verified = check_proof(&proof, &check).unwrap();
        assert_eq!(verified.jkt, key.thumbprint());
        assert_eq!(verified.algorithm, expected_alg);
        assert_eq!(verified.nonce.as_deref(), Some("n-1"));
        assert_eq!(verified.iat, NOW);
        // A fresh random jti each time.
        let again = key
            .proof("GET", "https://api.example/items", NOW, None, Some(TOKEN))
            .unwrap();
        assert_ne!(check_proof(&again, &check).unwrap().jti, verified.jti);
    }
    check(&DpopKey::generate().unwrap(), Algorithm::ES256);
    check(&DpopKey::generate_ed25519().unwrap(), Algorithm::EdDSA);
    check(&DpopKey::from_pem(ES256_PEM).unwrap(), Algorithm::ES256);
    check(&DpopKey::from_pem(ED25519_PEM).unwrap(), Algorithm::EdDSA);
    check(&DpopKey::from_pem(RS256_PEM).unwrap(), Algorithm::RS256);
    check(
        &DpopKey::from_pem_with_algorithm(RS256_PEM, Algorithm::PS256).unwrap(),
        Algorithm::PS256,
    );
}

#[test]
fn keys_that_cannot_sign_proofs_are_refused() {
    assert_eq!(
        DpopKey::from_pem("not pem").unwrap_err(),
        DpopKeyError::NotPem
    );
    let public = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    assert_eq!(DpopKey::from_pem(public).unwrap_err(), DpopKeyError::NotPem);
    // P-384 is not offered for proofs (ES384 is not in the issue's list).
    assert_eq!(
        DpopKey::from_pem(ES384_PEM).unwrap_err(),
        DpopKeyError::UnsupportedKey
    );
    assert_eq!(
        DpopKey::from_pem_with_algorithm(ES256_PEM, Algorithm::RS256).unwrap_err(),
        DpopKeyError::AlgorithmMismatch(Algorithm::RS256)
    );
}

#[test]
fn debug_shows_the_thumbprint_never_the_key() {
    let key = key();
    let debug = format!("{key:?}");
    assert_eq!(
        debug,
        format!(
            "DpopKey {{ algorithm: ES256, jkt: {:?}, .. }}",
            key.thumbprint()
        )
    );
}

#[test]
fn a_fixed_key_has_a_fixed_thumbprint() {
    // The thumbprint is a function of the public key only: loading the same PEM twice gives
    // the same `cnf.jkt`, and the public JWK has no private member.
    let jwk = serde_json::to_value(key().public_jwk()).unwrap();
    assert_eq!(
        jwk.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["crv", "kty", "x", "y"]
    );
    assert_eq!(
        key().thumbprint(),
        DpopKey::from_pem(ES256_PEM).unwrap().thumbprint()
    );
    assert_eq!(
        Some(key().thumbprint().to_owned()),
        jwk_thumbprint(key().public_jwk())
    );
}

#[test]
fn htu_normalisation() {
    #[track_caller]
    fn check(url: &str, expected: Option<&str>) {
        assert_eq!(htu_of(url).as_deref(), expected, "{url}");
    }
    check("https://a.example/p?q#f", Some("https://a.example/p"));
    check("HTTPS://A.EXAMPLE:443/p", Some("https://a.example/p"));
    check("http://a.example:80/x/../p", Some("http://a.example/p"));
    check(
        "http://127.0.0.1:8080/oauth2/token",
        Some("http://127.0.0.1:8080/oauth2/token"),
    );
    check("https://a.example", Some("https://a.example/"));
    check("ftp://a.example/p", None);
    check("/p", None);
    check("not a url", None);
}
