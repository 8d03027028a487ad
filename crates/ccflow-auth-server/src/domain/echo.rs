//! Bounds on user-supplied text that error descriptions and logs echo back.

/// Bounds user-supplied text echoed in error descriptions.
pub(crate) fn truncate(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push_str("...");
        short
    }
}
