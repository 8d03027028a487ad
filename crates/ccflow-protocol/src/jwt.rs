//! jsonwebtoken's crypto provider for every ccflow crate, on the backend [`crate::crypto`] picks:
//! on aws-lc-rs ccflow's own, with parsed keys cached; on RustCrypto jsonwebtoken's.
//!
//! One provider per process: the auth server, the validator and the SDK all install this one
//! ([`install_provider`]), so whichever starts first, all of them get it. An application that
//! installed its own provider earlier keeps it (and everything still works).

pub use crate::crypto::{cached_provider_sign, default_provider_sign};

/// Installs ccflow's provider as jsonwebtoken's process default. Idempotent: a provider
/// installed earlier (by us or by the embedding application) is left in place.
///
/// Always explicit, never left to jsonwebtoken's choice by crate features: when a build has
/// both backends (see [`crate::crypto`]), jsonwebtoken would panic on first use instead.
pub fn install_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // An `Err` means some provider is already installed, which is what we want anyway.
        let _ = crate::crypto::jwt_provider().install_default();
    });
}
