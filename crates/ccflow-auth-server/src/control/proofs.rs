//! The bad-proof factory: DPoP proofs (RFC 9449 §4) made by a test key the server holds, well
//! formed or wrong in exactly one way, so that users can test their resource servers'
//! rejections (`POST /_ccflow/dpop/proof`).

use ccflow_protocol::dpop::access_token_hash;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::auth_server::AuthServer;
use crate::domain::dpop::FactoryKeys;

/// The `jti` every `replayed_jti` proof carries, so that the second such proof repeats the first.
const REPLAYED_JTI: &str = "ccflow-replayed-jti";

/// How a factory proof is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofDefect {
    /// `htm` is another method.
    WrongHtm,
    /// `htu` is another URL.
    WrongHtu,
    /// `iat` is an hour before the server's time.
    StaleIat,
    /// The `jti` is the same in every such proof: the second is a replay.
    ReplayedJti,
    /// Signed by another key than the one bound tokens name (`cnf.jkt` mismatch).
    KeyMismatch,
    /// No `ath` although an access token is given.
    MissingAth,
    /// `ath` of another token.
    WrongAth,
    /// The signature does not verify.
    BadSignature,
    /// `typ` is `JWT`.
    WrongTyp,
}

/// What the factory makes: `POST /_ccflow/dpop/proof`'s body.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofSpec {
    /// The request's method (`htm`), default `GET`.
    #[serde(default)]
    pub htm: Option<String>,
    /// The request's URL (`htu`).
    pub htu: String,
    /// The access token the proof goes with (sets `ath`).
    #[serde(default)]
    pub access_token: Option<String>,
    /// A server nonce to include.
    #[serde(default)]
    pub nonce: Option<String>,
    /// `iat`; default the server's clock.
    #[serde(default)]
    pub iat: Option<u64>,
    /// How the proof is wrong, if it is.
    #[serde(default)]
    pub defect: Option<ProofDefect>,
}

/// The factory's answer: the proof and the thumbprint a token bound to the factory key has.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FactoryProof {
    /// The `DPoP` header value.
    pub proof: String,
    /// `cnf.jkt` of a token bound to the factory key (mint one with claims
    /// `{"cnf": {"jkt": …}}`, or obtain one at the token endpoint with a factory proof).
    pub jkt: String,
}

impl AuthServer {
    /// A proof from the bad-proof factory (see [`ProofSpec`]).
    pub fn factory_proof(&self, spec: &ProofSpec) -> Result<FactoryProof, String> {
        let keys = self
            .inner
            .proof_keys
            .get_or_init(FactoryKeys::generate)
            .as_ref()
            .ok_or("the random number generator failed")?;
        let defect = spec.defect;
        let method = spec.htm.clone().unwrap_or_else(|| "GET".to_owned());
        let now = self.now_secs();
        let url = ccflow_protocol::dpop::htu_of(&spec.htu)
            .ok_or("htu must be an absolute http(s) URL")?;
        let signer = if defect == Some(ProofDefect::KeyMismatch) {
            &keys.other
        } else {
            &keys.key
        };
        let mut header = signer.proof_header();
        if defect == Some(ProofDefect::WrongTyp) {
            header.insert("typ".to_owned(), json!("JWT"));
        }
        let jti = if defect == Some(ProofDefect::ReplayedJti) {
            REPLAYED_JTI.to_owned()
        } else {
            crate::domain::ids::random_uuid(&self.inner.rng)
        };
        let mut claims = json!({
            "jti": jti,
            "htm": if defect == Some(ProofDefect::WrongHtm) { wrong_method(&method) } else { method },
            "htu": if defect == Some(ProofDefect::WrongHtu) { format!("{url}/elsewhere") } else { url },
            "iat": if defect == Some(ProofDefect::StaleIat) {
                now.saturating_sub(3600)
            } else {
                spec.iat.unwrap_or(now)
            },
        });
        if let Some(nonce) = &spec.nonce {
            claims["nonce"] = json!(nonce);
        }
        match (&spec.access_token, defect) {
            (Some(_), Some(ProofDefect::MissingAth)) | (None, _) => {}
            (Some(_), Some(ProofDefect::WrongAth)) => {
                claims["ath"] = json!(access_token_hash("not the token"));
            }
            (Some(token), _) => claims["ath"] = json!(access_token_hash(token)),
        }
        let mut proof = signer
            .sign(&header, &claims)
            .map_err(|error| error.to_string())?;
        if defect == Some(ProofDefect::BadSignature) {
            // Change the signature's first character (its top bits: never padding).
            if let Some(at) = proof.rfind('.').map(|dot| dot + 1) {
                let replacement = if proof[at..].starts_with('A') {
                    "B"
                } else {
                    "A"
                };
                proof.replace_range(at..=at, replacement);
            }
        }
        Ok(FactoryProof {
            proof,
            jkt: keys.key.thumbprint().to_owned(),
        })
    }
}

fn wrong_method(method: &str) -> String {
    if method == "DELETE" {
        "PATCH"
    } else {
        "DELETE"
    }
    .to_owned()
}
