//! Media types of request bodies (RFC 9110 §8.3.1), read with `mime` instead of string prefixes:
//! `application/jsonx` is not JSON, `Application/JSON; charset=utf-8` is.

/// The media type (`type/subtype`, lower case) of a `Content-Type` value, parameters ignored;
/// `None` if it is not a media type at all. Parameters are left to the caller: a form body
/// checks its `charset` itself (RFC 6749 Appendix B), and a malformed parameter does not change
/// what the body is.
pub fn media_type(content_type: &str) -> Option<mime::Mime> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence
        .parse::<mime::Mime>()
        .ok()
        .filter(|media| media.params().next().is_none())
}

/// Whether a `Content-Type` value says `application/json`.
pub fn is_json(content_type: &str) -> bool {
    media_type(content_type).is_some_and(|media| media == mime::APPLICATION_JSON)
}

/// Whether a `Content-Type` value says `application/x-www-form-urlencoded`.
pub fn is_form(content_type: &str) -> bool {
    media_type(content_type).is_some_and(|media| media == mime::APPLICATION_WWW_FORM_URLENCODED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_media_type_not_a_prefix() {
        let cases: &[(&str, bool, bool)] = &[
            ("application/json", true, false),
            ("Application/JSON; charset=utf-8", true, false),
            (" application/json ;charset", true, false),
            ("application/jsonx", false, false),
            ("application/json-patch+json", false, false),
            ("text/json", false, false),
            ("application/x-www-form-urlencoded", false, true),
            (
                "APPLICATION/X-WWW-FORM-URLENCODED;charset=UTF-8",
                false,
                true,
            ),
            ("application/x-www-form-urlencodedx", false, false),
            ("", false, false),
            ("json", false, false),
        ];
        for (content_type, json, form) in cases {
            assert_eq!(is_json(content_type), *json, "{content_type:?} json");
            assert_eq!(is_form(content_type), *form, "{content_type:?} form");
        }
    }
}
