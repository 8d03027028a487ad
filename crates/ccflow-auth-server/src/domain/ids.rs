//! Random and name-based identifiers: token ids, request ids, default subjects.

use ccflow_protocol::crypto::{SystemRandom, sha256};

/// 16 random bytes.
pub(crate) fn random_bytes(rng: &SystemRandom) -> [u8; 16] {
    let mut bytes = [0_u8; 16];
    // A token id must never repeat; without an entropy source the server cannot run.
    rng.fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    bytes
}

/// A random (version 4) UUID, as Cloudentity and UserClouds use for `jti`.
pub(crate) fn random_uuid(rng: &SystemRandom) -> String {
    uuid::Builder::from_random_bytes(random_bytes(rng))
        .into_uuid()
        .to_string()
}

/// A stable name-based UUID (version 8, SHA-256 of `name`), for default subjects: the same
/// client gets the same `sub` on every run.
pub(crate) fn name_uuid(name: &str) -> String {
    let hash = sha256(name.as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_name_uuids_are_stable() {
        let rng = SystemRandom::new();
        let random = random_uuid(&rng);
        assert_eq!(random.len(), 36);
        assert_eq!(&random[14..15], "4");
        assert_ne!(random, random_uuid(&rng));
        assert_eq!(name_uuid("a"), name_uuid("a"));
        assert_ne!(name_uuid("a"), name_uuid("b"));
        assert_eq!(&name_uuid("a")[14..15], "8");
        // The bytes and bits the hand-written version produced (subjects must not change).
        assert_eq!(name_uuid("a"), "ca978112-ca1b-8dca-bac2-31b39a23dc4d");
    }
}
