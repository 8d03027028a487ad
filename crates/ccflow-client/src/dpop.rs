//! DPoP at the token endpoint (RFC 9449), client side: the key proofs are signed with, and the
//! server nonces remembered per origin (§8: a nonce is valid for the server that issued it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ccflow_protocol::dpop::DpopKey;
use url::Url;

/// The most origins whose nonce is remembered (a client talks to one or two servers).
const MAX_ORIGINS: usize = 64;

/// A client's DPoP key and the nonces its servers handed out. Cheap to clone; clones share the
/// nonces (a client derived with `with_scopes` talks to the same servers).
#[derive(Clone)]
pub(crate) struct Dpop {
    pub(crate) key: Arc<DpopKey>,
    nonces: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Dpop")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    pub(crate) fn new(key: DpopKey) -> Self {
        Self {
            key: Arc::new(key),
            nonces: Arc::default(),
        }
    }

    /// The nonce last received from `url`'s origin.
    pub(crate) fn nonce_for(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        self.nonces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&origin)
            .cloned()
    }

    /// Remembers a `DPoP-Nonce` received from `url`'s origin.
    pub(crate) fn remember(&self, url: &str, nonce: &str) {
        let Some(origin) = origin(url) else { return };
        let mut nonces = self.nonces.lock().unwrap_or_else(PoisonError::into_inner);
        if nonces.len() >= MAX_ORIGINS && !nonces.contains_key(&origin) {
            nonces.clear();
        }
        nonces.insert(origin, nonce.to_owned());
    }
}

fn origin(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|url| url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_origin() {
        let dpop = Dpop::new(DpopKey::generate().unwrap());
        dpop.remember("https://as.example/oauth2/token", "n1");
        assert_eq!(
            dpop.nonce_for("https://as.example/other?x").as_deref(),
            Some("n1")
        );
        assert_eq!(dpop.nonce_for("https://as.example:8443/oauth2/token"), None);
        assert_eq!(dpop.nonce_for("http://as.example/oauth2/token"), None);
        dpop.remember("https://AS.example:443/t", "n2");
        assert_eq!(
            dpop.nonce_for("https://as.example/oauth2/token").as_deref(),
            Some("n2")
        );
        assert_eq!(dpop.nonce_for("not a url"), None);
        let debug = format!("{dpop:?}");
        assert!(debug.contains("jkt") && !debug.contains("n2"), "{debug}");
    }
}
