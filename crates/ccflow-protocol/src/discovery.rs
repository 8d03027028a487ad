//! Where an issuer publishes its metadata (the one derivation the SDK and the validator share),
//! and whether a URL names this machine.

use url::Url;

/// Whether `url` names this machine: `localhost` (any case), or an IPv4 or IPv6 loopback
/// address. The SDK allows plain `http` to such a URL; the probe knows such a URL cannot be
/// reached from another host or a container.
#[must_use]
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The metadata URLs of `issuer`, in the order to try them: OpenID Connect Discovery §4's
/// (`{issuer}/.well-known/openid-configuration`, which every vendor profile serves, so one
/// request finds it), then RFC 8414 §3.1's (the well-known segment inserted between the host
/// and the issuer's path). A terminating `/` of the path is dropped first (RFC 8414 §3.1); the
/// issuer's query and fragment belong to neither.
pub fn metadata_urls(issuer: &Url) -> [Url; 2] {
    let path = issuer.path().trim_end_matches('/');
    let at = |well_known_path: &str| {
        let mut url = issuer.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.set_path(well_known_path);
        url
    };
    [
        at(&format!("{path}/.well-known/openid-configuration")),
        at(&format!("/.well-known/oauth-authorization-server{path}")),
    ]
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_loopback_url_names_this_machine() {
        #[rustfmt::skip]
        let cases = [
            ("http://localhost:8080/token", true),
            ("http://LocalHost/", true),
            ("http://127.0.0.1:1/", true),
            ("http://127.8.9.10/", true),
            ("http://[::1]:8080/", true),
            ("http://10.0.0.5/", false),
            ("http://localhost.example/", false),
            ("http://[::2]/", false),
            ("http://api:8081/items", false),
            ("file:///tmp/x", false),
        ];
        for (text, expected) in cases {
            assert_eq!(is_loopback(&Url::parse(text).unwrap()), expected, "{text}");
        }
    }

    use super::*;

    #[test]
    fn openid_location_first_then_rfc_8414() {
        let cases: &[(&str, [&str; 2])] = &[
            (
                "https://as.example.com",
                [
                    "https://as.example.com/.well-known/openid-configuration",
                    "https://as.example.com/.well-known/oauth-authorization-server",
                ],
            ),
            (
                "https://as.example.com/tenant/ws/",
                [
                    "https://as.example.com/tenant/ws/.well-known/openid-configuration",
                    "https://as.example.com/.well-known/oauth-authorization-server/tenant/ws",
                ],
            ),
            (
                "http://127.0.0.1:8080/",
                [
                    "http://127.0.0.1:8080/.well-known/openid-configuration",
                    "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
                ],
            ),
            (
                "https://as.example.com/tenant?x=1#f",
                [
                    "https://as.example.com/tenant/.well-known/openid-configuration",
                    "https://as.example.com/.well-known/oauth-authorization-server/tenant",
                ],
            ),
        ];
        for (issuer, expected) in cases {
            let urls = metadata_urls(&Url::parse(issuer).unwrap()).map(String::from);
            assert_eq!(urls, *expected, "{issuer}");
        }
    }
}
