//! The form-body transport check every adapter's policies run (RFC 6750 §2.2 is not supported,
//! §2 allows one transport): which bodies are forms, how much of one is read, and the verdict
//! on a body once read. Reading the body is the adapter's job.

use crate::error::RequestRejection;
use crate::token;

/// The largest form body the middlewares (and the axum layers) read to look for an
/// `access_token` parameter; bigger form bodies on protected routes are refused with 413.
pub const MAX_FORM_BODY_BYTES: usize = 64 * 1024;

/// Whether a `Content-Type` value names a form (`application/x-www-form-urlencoded`), judged by
/// the media type alone, parameters ignored: the reading actix's own `web::Form` extractor
/// starts with (the value up to `;`, trimmed). A whole-value `mime` parse would be stricter, and
/// a malformed parameter (`; charset`, a space before `;`) would then hide a form body from the
/// token check.
pub(crate) fn is_form(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type.and_then(|value| std::str::from_utf8(value).ok()) else {
        return false;
    };
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(mime::APPLICATION_WWW_FORM_URLENCODED.essence_str())
}

/// The verdict on a form body read whole: a token in it is refused, as a second transport when
/// the request also has an `Authorization` header.
pub(crate) fn check_body(body: &[u8], has_authorization: bool) -> Result<(), RequestRejection> {
    if !token::form_has_access_token(body) {
        return Ok(());
    }
    Err(if has_authorization {
        RequestRejection::MultipleTransports
    } else {
        RequestRejection::TokenInBody
    })
}

/// The refusal of a form body over [`MAX_FORM_BODY_BYTES`].
pub(crate) fn too_large() -> RequestRejection {
    RequestRejection::FormBodyTooLarge {
        limit: MAX_FORM_BODY_BYTES,
    }
}
