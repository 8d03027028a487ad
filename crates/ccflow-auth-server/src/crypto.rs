//! Selects jsonwebtoken's crypto backend once per process (DESIGN.md "Crypto": aws-lc-rs only).

/// Installs jsonwebtoken's aws-lc-rs provider as the process default. Idempotent: a provider
/// installed earlier (by us or by the embedding application) is left in place.
pub(crate) fn install_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // An `Err` means some provider is already installed, which is exactly what we want.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}
