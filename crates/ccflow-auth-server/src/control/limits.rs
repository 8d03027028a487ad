//! Request size limits (headers, body, parameters, scope, parameter values): what the server
//! refuses to read or process, each with its own status and OAuth error. See `docs/security.md`.

use actix_web::http::header::HeaderMap;
use ccflow_protocol::{ErrorResponse, FormParams};

/// The default largest request body accepted; larger ones get 413. Configurable with
/// [`Limits::max_body_bytes`].
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A limit set out of range: which key (`limits.max_params`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
#[non_exhaustive]
pub struct LimitsError {
    /// The key, as the config file names it, e.g. `limits.max_params`.
    pub field: String,
    /// What is wrong.
    pub why: String,
}

impl LimitsError {
    fn field(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            why: why.into(),
        }
    }
}

/// actix-web's own cap on a request head (request line and headers): anything larger is
/// answered `431` with an empty body before the server sees it, so a larger
/// [`Limits::max_header_bytes`] could never take effect. (It also refuses more than 96 header
/// fields the same way.)
pub(crate) const ACTIX_MAX_HEAD_BYTES: usize = 131_072;

/// Limits on what a request to the OAuth endpoints may contain (token, introspection,
/// revocation; the header limit also covers discovery and the JWKS). Every violation is
/// answered with a JSON OAuth error (`invalid_request`), never a 5xx, and changes no state.
///
/// On by default with the values below; configure with
/// [`MockAuthServerBuilder::limits`](crate::MockAuthServerBuilder::limits) or `[limits]` in
/// the TOML file. Lengths are in bytes of UTF-8, after percent-decoding.
///
/// ```
/// use ccflow_auth_server::{Limits, MockAuthServer};
///
/// let builder = MockAuthServer::builder().limits(Limits::default().max_scope_count(10));
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Limits {
    pub(crate) max_header_bytes: usize,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_params: usize,
    pub(crate) max_scope_count: usize,
    pub(crate) max_scope_length: usize,
    pub(crate) max_client_id_length: usize,
    pub(crate) max_resource_length: usize,
    pub(crate) max_client_assertion_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_body_bytes: MAX_BODY_BYTES,
            max_params: 64,
            max_scope_count: 64,
            max_scope_length: 4096,
            max_client_id_length: 256,
            max_resource_length: 2048,
            max_client_assertion_length: 8192,
        }
    }
}

impl Limits {
    /// The header block: the sum over header fields of name + value + 4 bytes (`: ` and CRLF),
    /// the request line excluded. Over it: `431` (RFC 6585 §5), `invalid_request`. Default
    /// 16 KiB; at most 128 KiB (actix-web's own cap, which answers `431` with an empty body).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// The request body. Over it: `413`, `invalid_request`. Default 16 KiB
    /// ([`MAX_BODY_BYTES`]).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Parameters in the body (form pairs with a value, or JSON members and array items).
    /// Over it: `400`, `invalid_request`. Default 64.
    pub fn max_params(mut self, count: usize) -> Self {
        self.max_params = count;
        self
    }

    /// Space-delimited tokens in `scope`. Over it: `400`, `invalid_request`. Default 64.
    pub fn max_scope_count(mut self, count: usize) -> Self {
        self.max_scope_count = count;
        self
    }

    /// The whole `scope` value. Over it: `400`, `invalid_request`. Default 4096 bytes.
    pub fn max_scope_length(mut self, bytes: usize) -> Self {
        self.max_scope_length = bytes;
        self
    }

    /// A `client_id`, in the body or in HTTP Basic credentials. Over it: `400`,
    /// `invalid_request`. Default 256 bytes.
    pub fn max_client_id_length(mut self, bytes: usize) -> Self {
        self.max_client_id_length = bytes;
        self
    }

    /// Each `resource` (RFC 8707) and `audience` value. Over it: `400`, `invalid_request`.
    /// Default 2048 bytes.
    pub fn max_resource_length(mut self, bytes: usize) -> Self {
        self.max_resource_length = bytes;
        self
    }

    /// A `client_assertion` JWT (RFC 7523). Over it: `400`, `invalid_request`. Default
    /// 8192 bytes.
    pub fn max_client_assertion_length(mut self, bytes: usize) -> Self {
        self.max_client_assertion_length = bytes;
        self
    }

    /// Every limit must be at least 1; the header limit at most actix-web's own cap.
    pub(crate) fn validate(&self) -> Result<(), LimitsError> {
        for (name, value) in [
            ("max_header_bytes", self.max_header_bytes),
            ("max_body_bytes", self.max_body_bytes),
            ("max_params", self.max_params),
            ("max_scope_count", self.max_scope_count),
            ("max_scope_length", self.max_scope_length),
            ("max_client_id_length", self.max_client_id_length),
            ("max_resource_length", self.max_resource_length),
            (
                "max_client_assertion_length",
                self.max_client_assertion_length,
            ),
        ] {
            if value == 0 {
                return Err(LimitsError::field(
                    format!("limits.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if self.max_header_bytes > ACTIX_MAX_HEAD_BYTES {
            return Err(LimitsError::field(
                "limits.max_header_bytes",
                format!(
                    "must be at most {ACTIX_MAX_HEAD_BYTES} (actix-web refuses larger request heads itself)"
                ),
            ));
        }
        Ok(())
    }

    /// `431` when the header block is over [`Limits::max_header_bytes`]. Counting is a walk
    /// over the handful of headers a request has, cheap enough for every request.
    pub(crate) fn check_headers(&self, headers: &HeaderMap) -> Result<(), ErrorResponse> {
        let size = header_block_bytes(headers);
        if size > self.max_header_bytes {
            // RFC 6585 §5: 431 Request Header Fields Too Large. The body stays an RFC 6749
            // §5.2 error, like the 413 for bodies, so OAuth clients can read it.
            return Err(ErrorResponse::invalid_request(format!(
                "the request headers take {size} bytes; at most {} are accepted",
                self.max_header_bytes
            ))
            .with_status(431));
        }
        Ok(())
    }

    /// The parameter-count, scope and value-length limits, checked after decoding and before
    /// any client lookup. Values are never echoed (a `client_assertion` is a credential).
    ///
    /// These are `invalid_request` rather than `invalid_scope` or `invalid_client`: the values
    /// may be well-formed, it is the request that exceeds what the server accepts, which
    /// RFC 6749 §5.2 words as "otherwise malformed"; one code for every limit also keeps
    /// clients from reading a size problem as a credential or policy problem.
    pub(crate) fn check_params(&self, params: &FormParams) -> Result<(), ErrorResponse> {
        if params.len() > self.max_params {
            return Err(ErrorResponse::invalid_request(format!(
                "the request has {} parameters; at most {} are accepted",
                params.len(),
                self.max_params
            )));
        }
        for (name, value) in params.iter() {
            let max = match name {
                "client_id" => self.max_client_id_length,
                "resource" | "audience" => self.max_resource_length,
                "client_assertion" => self.max_client_assertion_length,
                "scope" => {
                    let count = value.split_whitespace().count();
                    if count > self.max_scope_count {
                        return Err(ErrorResponse::invalid_request(format!(
                            "parameter `scope` has {count} scopes; at most {} are accepted",
                            self.max_scope_count
                        )));
                    }
                    self.max_scope_length
                }
                _ => continue,
            };
            too_long(name, value, max)?;
        }
        Ok(())
    }

    /// The `client_id` limit for ids that do not come from the body (HTTP Basic).
    pub(crate) fn check_client_id(&self, client_id: &str) -> Result<(), ErrorResponse> {
        too_long("client_id", client_id, self.max_client_id_length)
    }
}

fn too_long(name: &str, value: &str, max: usize) -> Result<(), ErrorResponse> {
    if value.len() > max {
        return Err(ErrorResponse::invalid_request(format!(
            "parameter `{name}` is {} bytes long; at most {max} are accepted",
            value.len()
        )));
    }
    Ok(())
}

/// The size of the header block as it is normally written: `name: value\r\n` per field.
pub(crate) fn header_block_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};
    use ccflow_protocol::ErrorCode;

    fn params(pairs: &[(&str, &str)]) -> FormParams {
        let mut params = FormParams::new();
        for (name, value) in pairs {
            params.push(*name, *value);
        }
        params
    }

    #[track_caller]
    fn check(limits: &Limits, pairs: &[(&str, &str)], expected: Result<(), &str>) {
        match (limits.check_params(&params(pairs)), expected) {
            (Ok(()), Ok(())) => {}
            (Err(error), Err(contains)) => {
                assert_eq!(error.error, ErrorCode::InvalidRequest);
                assert_eq!(error.status(), 400);
                let description = error.error_description.unwrap_or_default();
                assert!(description.contains(contains), "{description}");
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn every_parameter_limit_passes_at_the_limit_and_fails_one_over() {
        let limits = Limits::default()
            .max_params(3)
            .max_scope_count(2)
            .max_scope_length(7)
            .max_client_id_length(4)
            .max_resource_length(5)
            .max_client_assertion_length(6);
        check(&limits, &[("a", "1"), ("b", "1"), ("c", "1")], Ok(()));
        check(
            &limits,
            &[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")],
            Err("4 parameters; at most 3"),
        );
        check(&limits, &[("scope", "a b")], Ok(()));
        check(&limits, &[("scope", "a b c")], Err("3 scopes; at most 2"));
        check(&limits, &[("scope", "abc dfg")], Ok(()));
        check(&limits, &[("scope", "abc dfgh")], Err("`scope` is 8 bytes"));
        check(&limits, &[("client_id", "abcd")], Ok(()));
        check(&limits, &[("client_id", "abcde")], Err("`client_id` is 5"));
        check(
            &limits,
            &[("resource", "12345"), ("audience", "12345")],
            Ok(()),
        );
        check(&limits, &[("resource", "123456")], Err("`resource` is 6"));
        check(&limits, &[("audience", "123456")], Err("`audience` is 6"));
        check(&limits, &[("client_assertion", "a.b.cd")], Ok(()));
        check(
            &limits,
            &[("client_assertion", "a.b.cde")],
            Err("`client_assertion` is 7"),
        );
        // Other parameters are bounded by the body size only.
        check(&limits, &[("client_secret", &"s".repeat(1000))], Ok(()));
    }

    #[test]
    fn lengths_are_bytes_and_values_are_never_echoed() {
        let limits = Limits::default().max_client_assertion_length(3);
        let error = limits
            .check_params(&params(&[("client_assertion", "éé")]))
            .unwrap_err();
        let description = error.error_description.unwrap_or_default();
        assert!(description.contains("4 bytes"), "{description}");
        assert!(!description.contains('é'), "{description}");
        assert!(limits.check_client_id("abc").is_ok());
        assert!(
            Limits::default()
                .max_client_id_length(2)
                .check_client_id("abc")
                .is_err()
        );
    }

    #[test]
    fn header_block_is_counted_as_written() {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("host"),
            HeaderValue::from_static("x"),
        );
        headers.append(HeaderName::from_static("a"), HeaderValue::from_static("12"));
        headers.append(HeaderName::from_static("a"), HeaderValue::from_static("3"));
        // "host: x\r\n" + "a: 12\r\n" + "a: 3\r\n"
        assert_eq!(header_block_bytes(&headers), 9 + 7 + 6);
        assert!(
            Limits::default()
                .max_header_bytes(22)
                .check_headers(&headers)
                .is_ok()
        );
        let error = Limits::default()
            .max_header_bytes(21)
            .check_headers(&headers)
            .unwrap_err();
        assert_eq!(
            (error.status(), error.error),
            (431, ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn validation_names_the_key() {
        assert!(Limits::default().validate().is_ok());
        let error = Limits::default().max_params(0).validate().unwrap_err();
        assert_eq!(error.field, "limits.max_params");
        let error = Limits::default()
            .max_header_bytes(ACTIX_MAX_HEAD_BYTES + 1)
            .validate()
            .unwrap_err();
        assert_eq!(error.field, "limits.max_header_bytes");
    }
}
