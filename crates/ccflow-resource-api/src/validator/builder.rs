//! `ValidatorBuilder`: every setting of a [`Validator`], checked by `build`, which refuses
//! unsafe configurations (weak HMAC secrets, plain-HTTP key sources, missing audiences).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ccflow_protocol::{Clock, SystemClock};
use jsonwebtoken::Algorithm;

use super::issuer::{Defaults, IssuerSettings, Issuers, KeySources, build_issuer};
use super::{DEFAULT_LEEWAY, DEFAULT_REALM, Inner, Validator};
use crate::dpop::{DpopSettings, DpopState, TokenBinding};
use crate::error::BuildError;
use crate::forwarded::{self, ForwardedCertificate, ForwardedCertificateFormat, IpNetwork};
use crate::jwks::JwksSettings;
use crate::token;

pub(super) fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

/// RFC 7518 §3.2: an HMAC key at least as long as the hash output.
pub(super) fn min_secret_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// Configures a [`Validator`]. Start with [`Validator::builder`].
///
/// `build` refuses configurations that would make validation unsafe: no
/// issuer, no audience, an empty allow-list, or HMAC without a dedicated
/// shared secret.
///
/// One issuer: [`issuer`](Self::issuer), with [`jwks_url`](Self::jwks_url),
/// [`audience`](Self::audience), [`algorithms`](Self::algorithms), [`profile`](Self::profile)...
/// Several: [`trust`](Self::trust) once per issuer with its [`IssuerSettings`] (the
/// builder's audiences, algorithms and `typ`s are their defaults); both forms mix, the
/// builder's own issuer first. Clock, leeway, realm, HTTP client, JWKS timing, DPoP and
/// client-certificate settings are the validator's, shared by every issuer; each issuer has
/// its own key cache.
#[must_use]
pub struct ValidatorBuilder {
    issuer: Option<String>,
    trusted: Vec<IssuerSettings>,
    jwks_url: Option<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    shared_secret: Option<Vec<u8>>,
    leeway: Duration,
    accepted_typ: Option<Vec<String>>,
    realm: String,
    clock: Option<Arc<dyn Clock>>,
    http: Option<reqwest::Client>,
    /// PEM certificates the default HTTP client trusts besides the system's roots.
    root_certificates: Vec<Vec<u8>>,
    jwks: JwksSettings,
    token_binding: TokenBinding,
    public_url: Option<String>,
    dpop: DpopSettings,
    forwarded_certificate: Option<(String, ForwardedCertificateFormat)>,
    trusted_proxies: Vec<IpNetwork>,
}

impl fmt::Debug for ValidatorBuilder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ValidatorBuilder")
            .field("issuer", &self.issuer)
            .field("trusted", &self.trusted)
            .field("jwks_url", &self.jwks_url)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field(
                "shared_secret",
                &self.shared_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("leeway", &self.leeway)
            .field("accepted_typ", &self.accepted_typ)
            .field("realm", &self.realm)
            .field("jwks", &self.jwks)
            .field("token_binding", &self.token_binding)
            .field("public_url", &self.public_url)
            .field("dpop", &self.dpop)
            .field("forwarded_certificate", &self.forwarded_certificate)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        Self {
            issuer: None,
            trusted: Vec::new(),
            jwks_url: None,
            audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256, Algorithm::PS256, Algorithm::ES256],
            shared_secret: None,
            leeway: DEFAULT_LEEWAY,
            accepted_typ: Some(vec!["at+jwt".to_owned()]),
            realm: DEFAULT_REALM.to_owned(),
            clock: None,
            http: None,
            root_certificates: Vec::new(),
            jwks: JwksSettings::default(),
            token_binding: TokenBinding::default(),
            public_url: None,
            dpop: DpopSettings::default(),
            forwarded_certificate: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ValidatorBuilder {
    /// The issuer: `iss` must equal it exactly, trailing slash included
    /// (RFC 9068 §4). Unless [`jwks_url`](Self::jwks_url) is set, its metadata
    /// (`{issuer}/.well-known/openid-configuration`, then RFC 8414's location)
    /// names the JWKS.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Trusts one more issuer, with its own key source, audiences, algorithms, `typ`s, scope
    /// claim and policy; call it once per issuer. A token's `iss` picks the issuer whose rules
    /// and keys apply, and an `iss` no trusted issuer has is refused (401 `invalid_token`)
    /// before anything is fetched. See [`IssuerSettings`] for what it inherits from this
    /// builder.
    pub fn trust(mut self, issuer: IssuerSettings) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// Fetch keys from this JWKS URL instead of discovering it.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Adds an audience; a token passes if its `aud` names any of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds several audiences.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Replaces the algorithm allow-list (default RS256, PS256, ES256). The
    /// list is enforced server-side: the token's `alg` only picks among these
    /// (RFC 8725 §3.1). HS256/384/512 also need a
    /// [`shared_secret`](Self::shared_secret).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The secret for HS256/384/512 tokens. HMAC tokens are checked with this
    /// secret only, never with a JWKS key, which closes the RS256→HS256 key
    /// confusion (RFC 8725 §2.1).
    pub fn shared_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.shared_secret = Some(secret.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The accepted `typ` values (default `at+jwt`, which also accepts
    /// `application/at+jwt`: RFC 9068 §2.1, RFC 7515 §4.1.9). Vendors that
    /// mint access tokens as `typ: JWT` need `require_typ(["at+jwt", "JWT"])`;
    /// a token without `typ` is refused unless the check is skipped.
    pub fn require_typ<I, S>(mut self, accepted: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.accepted_typ = Some(
            accepted
                .into_iter()
                .map(|typ| token::normalize_typ(typ.as_ref()))
                .collect(),
        );
        self
    }

    /// Applies a vendor profile's validation defaults (`ProfileSpec::resource`): today the
    /// accepted `typ` values (UserClouds also mints `typ: JWT`). Scopes are read from `scope`
    /// and `scp` for every profile; SLB's audience-only authorisation is a route policy
    /// ([`RequireAudience`](crate::RequireAudience), or the sample API's profile setting).
    /// A later [`require_typ`](Self::require_typ) overrides it.
    pub fn profile(self, profile: ccflow_protocol::Profile) -> Self {
        self.require_typ(profile.spec().resource.accepted_typ.iter().copied())
    }

    /// Accepts any `typ`, or none. Only for issuers that send no `typ` at
    /// all: it re-opens the door to ID tokens used as access tokens (RFC 8725 §3.11).
    pub fn skip_typ_check(mut self) -> Self {
        self.accepted_typ = None;
        self
    }

    /// The realm of `WWW-Authenticate` challenges (default `ccflow`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The clock for `exp`/`nbf`/`iat` and for the cache's freshness, cooldown
    /// and retry rules (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The HTTP client for discovery and JWKS fetches. The default has
    /// timeouts and keeps no idle connections (fetches are minutes apart).
    /// The fetch timeout applies whichever client is used.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Trusts the CA certificate(s) of this PEM text, besides the system's roots, for discovery
    /// and JWKS over HTTPS: e.g. the throw-away CA of `ccflow-auth-server --tls`
    /// (`tls ca: PATH`). Applies to the default HTTP client, not to one given with
    /// [`http_client`](Self::http_client). Text with no certificate fails [`build`](Self::build).
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Least time between two fetches triggered by unknown `kid`s (default
    /// 30 s): random `kid`s cannot make us flood the issuer.
    pub fn jwks_refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks.refresh_cooldown = cooldown;
        self
    }

    /// Least time between fetches after one failed, or while no keys are
    /// loaded (default 5 s); also the `Retry-After` of a 503.
    pub fn jwks_retry_interval(mut self, interval: Duration) -> Self {
        self.jwks.retry_interval = interval;
        self
    }

    /// Deadline for discovery plus JWKS fetch (default 3 s); no request waits
    /// longer than this for keys.
    pub fn jwks_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.jwks.fetch_timeout = timeout;
        self
    }

    /// Freshness of a JWKS served without `Cache-Control: max-age` (default 5 min).
    pub fn jwks_default_ttl(mut self, ttl: Duration) -> Self {
        self.jwks.default_ttl = ttl;
        self
    }

    /// Bounds on `max-age` (default 30 s to 1 h): a `no-store` JWKS is not
    /// refetched for every request, and a year-long `max-age` does not keep a
    /// removed key trusted.
    pub fn jwks_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.jwks.min_ttl = min;
        self.jwks.max_ttl = max;
        self
    }

    /// How long past its freshness a cached JWKS keeps validating while the
    /// issuer is unreachable (default 24 h). After that, 503.
    pub fn jwks_max_stale(mut self, max_stale: Duration) -> Self {
        self.jwks.max_stale = max_stale;
        self
    }

    /// How tokens are accepted on routes without a binding of their own (default
    /// [`TokenBinding::Bearer`]; a route can set its own, see [`TokenBinding`]). Whatever the
    /// binding, a DPoP-bound token is never accepted as Bearer (RFC 9449 §7.2).
    pub fn token_binding(mut self, binding: TokenBinding) -> Self {
        self.token_binding = binding;
        self
    }

    /// The URL clients reach this API at, when it is not the one requests arrive with: behind a
    /// proxy or gateway, `https://api.example.com` or `https://gateway.example.com/items-api`.
    /// A DPoP proof's `htu` must then be this URL followed by the request's path (RFC 9449
    /// §4.3 check 9). Without it, the URL is the request's own: `http` (or `https` on a TLS
    /// listener), the `Host` header, the path. `Forwarded` and `X-Forwarded-*` headers are never
    /// read: a client could set them.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// The algorithms accepted for DPoP proofs (default ES256, RS256, PS256, EdDSA; never HMAC,
    /// RFC 9449 §4.2). Sent as the DPoP challenge's `algs` (§7.1).
    pub fn dpop_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.dpop.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How far a proof's `iat` may be from this API's clock, either way (default 60 s,
    /// RFC 9449 §11.1). Proof `jti`s are remembered this long.
    pub fn dpop_iat_window(mut self, window: Duration) -> Self {
        self.dpop.iat_window = window;
        self
    }

    /// Requires every proof to carry a nonce this API issued (RFC 9449 §9; default off). Every
    /// answer with a DPoP challenge then carries a fresh one in `DPoP-Nonce`; a proof without
    /// one, or with an expired one, is answered `use_dpop_nonce`.
    pub fn dpop_require_nonce(mut self, require: bool) -> Self {
        self.dpop.require_nonce = require;
        self
    }

    /// How long this API's nonces are accepted (default 5 min).
    pub fn dpop_nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.dpop.nonce_lifetime = lifetime;
        self
    }

    /// The most proof `jti`s remembered at once (default
    /// [`MAX_DPOP_REPLAY_ENTRIES`](crate::MAX_DPOP_REPLAY_ENTRIES)).
    pub fn dpop_replay_capacity(mut self, capacity: usize) -> Self {
        self.dpop.replay_capacity = capacity;
        self
    }

    /// Behind a TLS-terminating proxy: read the client certificate (RFC 8705 §3) from the
    /// `header` the proxy sets, written in `format`, on requests whose peer address is one of
    /// the [`trusted_proxies`](Self::trusted_proxies) (both are required). From a trusted proxy
    /// the header alone counts, since its connection's own certificate, if any, is the proxy's;
    /// from any other peer the header is ignored and only the connection's certificate counts.
    /// The header is read only for certificate-bound tokens.
    pub fn forwarded_client_certificate(
        mut self,
        header: impl Into<String>,
        format: ForwardedCertificateFormat,
    ) -> Self {
        self.forwarded_certificate = Some((header.into(), format));
        self
    }

    /// The proxies (addresses or CIDR blocks) trusted to forward client certificates in the
    /// [`forwarded_client_certificate`](Self::forwarded_client_certificate) header.
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpNetwork>) -> Self {
        self.trusted_proxies.extend(proxies);
        self
    }

    /// Checks the configuration and builds the validator. Nothing is fetched:
    /// the issuer need not be up (keys load on first use, or on
    /// [`Validator::refresh_keys`]).
    pub fn build(self) -> Result<Validator, BuildError> {
        // DESIGN.md "Crypto": exactly one provider, installed explicitly:
        // ccflow's (aws-lc-rs, public keys parsed once per JWK), unless the
        // application installed one before us.
        ccflow_protocol::jwt::install_provider();

        // The builder's own issuer (the single-issuer form) comes first; its errors are the
        // plain ones they always were.
        let own = match self.issuer {
            Some(issuer) => Some(IssuerSettings {
                issuer,
                jwks_url: self.jwks_url,
                audiences: Vec::new(),
                algorithms: None,
                shared_secret: self.shared_secret,
                accepted_typ: None,
                scope_claim: None,
                authorize_by_audience: false,
                profile: None,
            }),
            None if self.trusted.is_empty() => return Err(BuildError::MissingIssuer),
            None if self.jwks_url.is_some() => {
                return Err(BuildError::InvalidSetting {
                    setting: "jwks_url",
                    why: "belongs to the issuer set with issuer(); give each trusted issuer its own (IssuerSettings::jwks_url)",
                });
            }
            None if self.shared_secret.is_some() => {
                return Err(BuildError::InvalidSetting {
                    setting: "shared_secret",
                    why: "belongs to the issuer set with issuer(); give each trusted issuer its own (IssuerSettings::shared_secret)",
                });
            }
            None => None,
        };
        let settings = self.jwks;
        if settings.fetch_timeout.is_zero() {
            return Err(BuildError::InvalidSetting {
                setting: "jwks_fetch_timeout",
                why: "must be more than zero",
            });
        }
        if settings.min_ttl > settings.max_ttl {
            return Err(BuildError::InvalidSetting {
                setting: "jwks_ttl_bounds",
                why: "the minimum is above the maximum",
            });
        }
        let public_url = match self.public_url {
            None => None,
            Some(url) => {
                if !is_http_url(&url) || url.contains(['?', '#']) {
                    return Err(BuildError::InvalidPublicUrl);
                }
                Some(url.trim_end_matches('/').to_owned())
            }
        };
        let forwarded_certificate = match (self.forwarded_certificate, self.trusted_proxies) {
            (None, proxies) if proxies.is_empty() => None,
            (None, _) => {
                return Err(BuildError::InvalidSetting {
                    setting: "trusted_proxies",
                    why: "trusted proxies without a forwarded client certificate header: set forwarded_client_certificate",
                });
            }
            (Some(_), proxies) if proxies.is_empty() => {
                return Err(BuildError::InvalidSetting {
                    setting: "trusted_proxies",
                    why: "a forwarded client certificate header is read only from trusted proxies: name at least one",
                });
            }
            (Some((header, format)), trusted_proxies) => {
                if !forwarded::is_header_name(&header) {
                    return Err(BuildError::InvalidSetting {
                        setting: "forwarded_client_certificate",
                        why: "the header name is not an HTTP field name (RFC 9110 section 5.1)",
                    });
                }
                Some(ForwardedCertificate {
                    header: header.to_ascii_lowercase(),
                    format,
                    trusted_proxies,
                })
            }
        };
        let dpop = DpopState::new(self.dpop.validated()?)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let defaults = Defaults {
            audiences: self.audiences,
            algorithms: self.algorithms,
            accepted_typ: self.accepted_typ,
        };
        let mut keys = KeySources {
            http: self.http,
            root_certificates: self.root_certificates,
            settings,
            clock: Arc::clone(&clock),
        };
        let mut issuers = Vec::with_capacity(self.trusted.len() + 1);
        if let Some(own) = own {
            issuers.push(build_issuer(own, &defaults, &mut keys)?);
        }
        for trusted in self.trusted {
            let issuer = trusted.issuer.clone();
            issuers.push(
                build_issuer(trusted, &defaults, &mut keys).map_err(|error| {
                    BuildError::TrustedIssuer {
                        issuer,
                        error: Box::new(error),
                    }
                })?,
            );
        }
        Ok(Validator {
            inner: Arc::new(Inner {
                issuers: Issuers::new(issuers)?,
                leeway: self.leeway,
                realm: self.realm,
                clock,
                token_binding: self.token_binding,
                public_url,
                dpop,
                forwarded_certificate,
            }),
        })
    }
}

pub(super) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !url.contains(char::is_whitespace)
}
