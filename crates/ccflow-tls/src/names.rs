//! The names a generated server certificate carries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The names for a server bound to `address` whose public host is `public_host` (the issuer's
/// or the API's, if known): `localhost`, both loopback addresses, the bound address unless it
/// is a wildcard, the public host, then `extra`; each once, case-insensitively.
#[must_use]
pub fn server_names(
    address: SocketAddr,
    public_host: Option<&str>,
    extra: &[String],
) -> Vec<String> {
    let mut names: Vec<String> = vec![
        "localhost".to_owned(),
        IpAddr::V4(Ipv4Addr::LOCALHOST).to_string(),
        IpAddr::V6(Ipv6Addr::LOCALHOST).to_string(),
    ];
    if !address.ip().is_unspecified() {
        names.push(address.ip().to_string());
    }
    // `[::1]` in a URL is `::1` in a certificate.
    names.extend(public_host.map(|host| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    }));
    names.extend(extra.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| !name.is_empty() && seen.insert(name.to_ascii_lowercase()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound address, the public host, the extra names, and the names expected.
    type Case = (
        &'static str,
        Option<&'static str>,
        &'static [&'static str],
        &'static [&'static str],
    );

    #[test]
    fn a_server_certificate_names_loopback_the_bound_address_and_the_public_host() {
        let cases: [Case; 3] = [
            (
                "127.0.0.1:8443",
                None,
                &[],
                &["localhost", "127.0.0.1", "::1"],
            ),
            (
                "0.0.0.0:8443",
                Some("auth"),
                &["id.example", "AUTH"],
                &["localhost", "127.0.0.1", "::1", "auth", "id.example"],
            ),
            (
                "192.0.2.7:8443",
                Some("[::1]"),
                &[],
                &["localhost", "127.0.0.1", "::1", "192.0.2.7"],
            ),
        ];
        for (address, public_host, extra, expected) in cases {
            let extra: Vec<String> = extra.iter().map(|name| (*name).to_owned()).collect();
            assert_eq!(
                server_names(address.parse().unwrap(), public_host, &extra),
                expected,
                "{address} {public_host:?}"
            );
        }
    }
}
