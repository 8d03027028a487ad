//! Where clients reach the server: its issuer identifier, the URL its routes hang under and its
//! token endpoint. Fixed at start-up, or, when the server was told to, derived for each request
//! from the scheme and host the request names (`Host`, `Forwarded`, `X-Forwarded-*`), so that
//! one server answers as `http://auth:8080` inside a compose network and as
//! `http://localhost:8080` from the host.

use crate::domain::urls::join_url;

/// An issuer and the URLs that go with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Site {
    /// `iss` of every token, `issuer` in discovery.
    pub(crate) issuer: String,
    /// Where the routes hang: the issuer without the profile's issuer path.
    pub(crate) base_url: String,
    /// The token endpoint's absolute URL.
    pub(crate) token_url: String,
    /// The profile's issuer path (what `issuer` adds to `base_url`), kept to derive other sites.
    issuer_path: String,
    /// The token endpoint's path under `base_url`.
    token_path: String,
}

impl Site {
    /// The site of `issuer`, whose routes hang under `base_url`, with its token endpoint at
    /// `token_path`.
    pub(crate) fn new(issuer: String, base_url: String, token_path: &str) -> Self {
        let issuer_path = issuer
            .strip_prefix(base_url.trim_end_matches('/'))
            .unwrap_or_default()
            .to_owned();
        Self {
            token_url: join_url(&base_url, token_path),
            token_path: token_path.to_owned(),
            issuer,
            base_url,
            issuer_path,
        }
    }

    /// The absolute URL of a server path.
    pub(crate) fn url(&self, path: &str) -> String {
        join_url(&self.base_url, path)
    }

    /// The URL a request to `path` (the full path as received) was sent to, as clients reach
    /// this site: the base URL's scheme, host and port, and the path. What a DPoP proof's `htu`
    /// must name (RFC 9449 §4.3).
    pub(crate) fn public_url(&self, path: &str) -> String {
        match url::Url::parse(&self.base_url) {
            Ok(base) => format!("{}{path}", base.origin().ascii_serialization()),
            Err(_) => self.url(path),
        }
    }

    /// The same site as reached at `scheme://authority` (the issuer path and routes unchanged),
    /// or `None` when the two do not make an http(s) origin: a scheme other than `http`/`https`,
    /// or an authority with a path, query, user information or anything a host and port cannot
    /// hold. The values come from the request and are untrusted; nothing else of them is used.
    pub(crate) fn reached_at(&self, scheme: &str, authority: &str) -> Option<Self> {
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https")
            || authority.is_empty()
            || authority.contains(['/', '?', '#', '@', '\\'])
            || authority
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        let url = url::Url::parse(&format!("{scheme}://{authority}")).ok()?;
        url.host_str().filter(|host| !host.is_empty())?;
        // The origin as the URL parser writes it: lower-case host, default port dropped.
        let base_url = url.origin().ascii_serialization();
        let issuer = format!("{base_url}{}", self.issuer_path);
        Some(Self::new(issuer, base_url, &self.token_path))
    }
}

#[cfg(test)]
mod tests {
    use super::Site;

    fn slb() -> Site {
        Site::new(
            "http://127.0.0.1:8080/v2".to_owned(),
            "http://127.0.0.1:8080".to_owned(),
            "/v2/token",
        )
    }

    /// The derived issuer and token endpoint, or `None` for no site.
    type Expected = Option<(&'static str, &'static str)>;

    fn check(scheme: &str, authority: &str, expected: Expected) {
        let derived = slb().reached_at(scheme, authority);
        assert_eq!(
            derived
                .as_ref()
                .map(|site| (site.issuer.as_str(), site.token_url.as_str())),
            expected,
            "{scheme}://{authority}"
        );
    }

    #[test]
    fn a_site_is_derived_from_a_scheme_and_an_authority_or_not_at_all() {
        let cases: &[(&str, &str, Expected)] = &[
            (
                "http",
                "auth:8080",
                Some(("http://auth:8080/v2", "http://auth:8080/v2/token")),
            ),
            (
                "https",
                "Auth.Example:443",
                Some(("https://auth.example/v2", "https://auth.example/v2/token")),
            ),
            (
                "HTTP",
                "[::1]:9000",
                Some(("http://[::1]:9000/v2", "http://[::1]:9000/v2/token")),
            ),
            ("ftp", "auth:8080", None),
            ("http", "", None),
            ("http", "auth:8080/evil", None),
            ("http", "user@auth", None),
            ("http", "auth?x=1", None),
            ("http", "auth#x", None),
            ("http", "au th", None),
            ("http", "auth:notaport", None),
            ("http", "auth\\x", None),
        ];
        for (scheme, authority, expected) in cases {
            check(scheme, authority, *expected);
        }
    }

    #[test]
    fn urls_hang_under_the_base() {
        let site = slb();
        assert_eq!(site.url("/jwks"), "http://127.0.0.1:8080/jwks");
        assert_eq!(
            site.public_url("/v2/token"),
            "http://127.0.0.1:8080/v2/token"
        );
    }
}
