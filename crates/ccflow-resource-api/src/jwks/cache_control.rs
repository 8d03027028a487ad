//! `Cache-Control` and `Age` (RFC 9111) read from a JWKS response: how long its keys stay fresh.

use std::time::Duration;

use reqwest::header::{AGE, CACHE_CONTROL, HeaderMap};

use crate::jwks::settings::JwksSettings;

/// How long a response stays fresh: `Cache-Control: max-age` minus `Age`
/// (RFC 9111 §4.2.1, §4.2.3), `no-store`/`no-cache` as zero, within the
/// configured bounds; the default when there is no `max-age`.
pub(crate) fn freshness(headers: &HeaderMap, settings: &JwksSettings) -> Duration {
    let mut max_age: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
            let seconds = match name.trim().to_ascii_lowercase().as_str() {
                "no-store" | "no-cache" => Some(0),
                "max-age" => argument.trim().trim_matches('"').parse::<u64>().ok(),
                _ => None,
            };
            // Conflicting directives: the most conservative wins.
            if let Some(seconds) = seconds {
                max_age = Some(max_age.map_or(seconds, |known| known.min(seconds)));
            }
        }
    }
    let Some(max_age) = max_age else {
        return settings.default_ttl;
    };
    let age = headers
        .get(AGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age)).clamp(settings.min_ttl, settings.max_ttl)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn honours_max_age_within_bounds() {
        #[track_caller]
        fn check(cache_control: &[&str], age: Option<&str>, expected_secs: u64) {
            let mut headers = HeaderMap::new();
            for value in cache_control {
                headers.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
            }
            if let Some(age) = age {
                headers.insert(AGE, HeaderValue::from_str(age).unwrap());
            }
            let ttl = freshness(&headers, &JwksSettings::default());
            assert_eq!(ttl, Duration::from_secs(expected_secs), "{cache_control:?}");
        }
        check(&[], None, 300);
        check(&["public, max-age=120"], None, 120);
        check(&["MAX-AGE=\"90\""], None, 90);
        check(&["max-age=120"], Some("100"), 30);
        check(&["max-age=600"], Some("100"), 500);
        check(&["max-age=5"], None, 30);
        check(&["max-age=999999"], None, 3600);
        check(&["no-store"], None, 30);
        check(&["max-age=600", "no-cache"], None, 30);
        check(&["max-age=600, max-age=120"], None, 120);
        check(&["max-age=soon"], None, 300);
        check(&["private"], None, 300);
    }
}
