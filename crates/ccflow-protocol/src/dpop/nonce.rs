//! Stateless DPoP nonces (RFC 9449 §8 for authorization servers, §9 for resource servers):
//! `{issued_at}.{tag}`, the tag an HMAC-SHA256 of the issue time under a key that never leaves
//! the process. A nonce is checked by its tag (in constant time) and by its age on the
//! checker's own clock, so nothing is stored per nonce and moving a test clock ages them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{HmacSha256Key, RandomError, SystemRandom};

/// The key that makes and checks one server's nonces. `Debug` shows no key material.
pub struct NonceKey(HmacSha256Key);

impl fmt::Debug for NonceKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// A new random key; `Err` only when the random number generator fails.
    pub fn generate(rng: &SystemRandom) -> Result<Self, RandomError> {
        HmacSha256Key::generate(rng).map(Self)
    }

    /// A nonce issued at `now` (Unix seconds): unpredictable to clients, since only this key
    /// makes its tag.
    pub fn fresh(&self, now: u64) -> String {
        let issued = now.to_string();
        let tag = self.0.sign(issued.as_bytes());
        format!("{issued}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether `nonce` was made by this key and, at `now`, is at most `lifetime_secs` old (a
    /// nonce from the future is refused).
    pub fn is_fresh(&self, nonce: &str, now: u64, lifetime_secs: u64) -> bool {
        let Some((issued, tag)) = nonce.split_once('.') else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        // Constant time: the tag is what makes a nonce this key's.
        if !self.0.verify(issued.as_bytes(), &tag) {
            return false;
        }
        issued
            .parse::<u64>()
            .is_ok_and(|issued| issued <= now && now - issued <= lifetime_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::NonceKey;
    use crate::crypto::SystemRandom;

    #[test]
    fn nonces_are_the_keys_own_and_age_on_the_callers_clock() {
        let key = NonceKey::generate(&SystemRandom::new()).unwrap();
        let other = NonceKey::generate(&SystemRandom::new()).unwrap();
        let nonce = key.fresh(1_000);
        let (issued, tag) = nonce.split_once('.').unwrap();
        let cases: [(&str, String, u64, bool); 8] = [
            ("just made", nonce.clone(), 1_000, true),
            ("at the end of its lifetime", nonce.clone(), 1_300, true),
            ("one second too old", nonce.clone(), 1_301, false),
            ("from the future", nonce.clone(), 999, false),
            ("another key's", other.fresh(1_000), 1_000, false),
            ("a changed issue time", format!("1001.{tag}"), 1_001, false),
            ("no tag", issued.to_owned(), 1_000, false),
            (
                "a tag that is not base64url",
                format!("{issued}.!!"),
                1_000,
                false,
            ),
        ];
        for (name, candidate, now, expected) in cases {
            assert_eq!(key.is_fresh(&candidate, now, 300), expected, "{name}");
        }
        assert_eq!(format!("{key:?}"), "NonceKey(..)");
    }
}
