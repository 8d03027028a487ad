//! The framework-free core of request authentication: a request's `Authorization` and `DPoP`
//! header values, method and URL in, an [`Authenticated`] or the reason out. The actix adapter
//! (and any other framework's) only translates its request into [`RequestCredentials`] and the
//! answer from [`Refusal`](crate::Refusal).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use ccflow_protocol::dpop::{self, ProofCheck, ProofError};
use ccflow_protocol::mtls::ClientCertificate;
use subtle::ConstantTimeEq as _;

use crate::authenticated::Authenticated;
use crate::dpop::TokenBinding;
use crate::error::{AuthError, DpopRejection, TokenRejection};
use crate::token::{self, TokenScheme};
use crate::validator::Validator;

/// What authentication reads of a request, as any HTTP framework has it.
///
/// `Debug` shows the method, the URL and the certificate's thumbprint: the header values are
/// credentials. `Default` is an
/// empty request (no method, URL, headers or certificate), for struct-update syntax.
#[derive(Clone, Copy, Default)]
pub struct RequestCredentials<'a> {
    /// The request method, as sent (`GET`): a proof's `htm` must equal it.
    pub method: &'a str,
    /// The URL the request reached this API at, as the API sees it: scheme, host (from the
    /// `Host` header), path and query, e.g. `http://127.0.0.1:8081/v1/items?x=1`. With
    /// [`ValidatorBuilder::public_url`](crate::ValidatorBuilder::public_url) set, only its path
    /// counts (and it may be just the path, `/v1/items`).
    pub url: &'a str,
    /// Every `Authorization` header value, in order.
    pub authorization: &'a [&'a [u8]],
    /// Every `DPoP` header value, in order.
    pub dpop: &'a [&'a [u8]],
    /// The client certificate the request's TLS connection presented (mutual TLS), if any: what
    /// a certificate-bound token's `cnf["x5t#S256"]` must match (RFC 8705 §3).
    pub client_certificate: Option<&'a ClientCertificate>,
    /// The IP address of the peer the request came from (the TCP connection's): a trusted
    /// proxy's may forward a client certificate in a header
    /// ([`ValidatorBuilder::forwarded_client_certificate`](crate::ValidatorBuilder::forwarded_client_certificate)).
    pub peer: Option<IpAddr>,
    /// Every value of the forwarded-certificate header
    /// ([`Validator::forwarded_certificate_header`]), in order; read only when `peer` is a
    /// trusted proxy and the token is certificate-bound.
    pub forwarded_client_certificate: &'a [&'a [u8]],
}

impl fmt::Debug for RequestCredentials<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RequestCredentials")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "authorization",
                &format_args!("[{} redacted]", self.authorization.len()),
            )
            .field("dpop", &format_args!("[{} redacted]", self.dpop.len()))
            .field("client_certificate", &self.client_certificate)
            .field("peer", &self.peer)
            .field(
                "forwarded_client_certificate",
                &format_args!("[{} values]", self.forwarded_client_certificate.len()),
            )
            .finish()
    }
}

impl RequestCredentials<'_> {
    /// How the request presents its token, if with a scheme this crate knows: what a refusal's
    /// challenge answers in.
    pub fn scheme(&self) -> Option<TokenScheme> {
        token::scheme_of(self.authorization)
    }

    fn query(&self) -> &str {
        let Some((_, query)) = self.url.split_once('?') else {
            return "";
        };
        query.split_once('#').map_or(query, |(query, _)| query)
    }
}

impl Validator {
    /// Authenticates a request whose route accepts tokens as `binding` says: finds its one
    /// token (header only; an `access_token` in the query is refused), validates it, and for
    /// `Authorization: DPoP` checks its one `DPoP` proof (RFC 9449 §4.3 with the protocol's
    /// `check_proof`: signature with the embedded key, `typ`, algorithm, `htm`, `htu` against
    /// this request's URL, `iat`, `ath`; then this API's nonce when it requires one, the
    /// token's `cnf.jkt` against the proof key's thumbprint, and the `jti` replay, §11.1).
    /// A DPoP-bound token sent as Bearer is refused (§7.2).
    ///
    /// A certificate-bound token (`cnf["x5t#S256"]`, RFC 8705 §3), however presented, passes
    /// only when the request's client certificate has that thumbprint (compared in constant
    /// time); a token bound both ways (`cnf.jkt` too) needs its DPoP proof and the certificate.
    /// Tokens without that member are not affected by a certificate, present or not.
    ///
    /// The form-body transport needs the body, which only the actix middlewares read.
    pub async fn authenticate_credentials(
        &self,
        request: &RequestCredentials<'_>,
        binding: TokenBinding,
    ) -> Result<Authenticated, AuthError> {
        let presented = token::presented(
            request.authorization,
            request.query(),
            binding.accepts_dpop(),
        )?;
        match presented.scheme {
            TokenScheme::Bearer => {
                if !binding.accepts_bearer() {
                    return Err(TokenRejection::DpopRequired.into());
                }
                let validated = self.validate_for_issuer(presented.token).await?;
                let claims = &validated.0;
                if claims.is_dpop_bound() {
                    return Err(TokenRejection::DpopBoundAsBearer.into());
                }
                let certificate = self.check_certificate_binding(claims, request)?;
                Ok(Authenticated::new(validated, None, certificate))
            }
            TokenScheme::Dpop => self.authenticate_dpop(request, presented.token).await,
        }
    }

    async fn authenticate_dpop(
        &self,
        request: &RequestCredentials<'_>,
        token: &str,
    ) -> Result<Authenticated, AuthError> {
        let state = self.dpop_state();
        // RFC 9449 §4.3 check 1: exactly one proof.
        let proof = match request.dpop {
            [] => return Err(DpopRejection::MissingProof.into()),
            [proof] => std::str::from_utf8(proof)
                .map_err(|_| DpopRejection::Proof(ProofError::Malformed))?,
            _ => return Err(DpopRejection::MultipleProofs.into()),
        };
        let now = self.unix_now();
        let url = self.expected_url(request.url);
        let verified = dpop::check_proof(
            proof,
            &ProofCheck {
                method: request.method,
                url: &url,
                now,
                iat_window: state.settings.iat_window.as_secs(),
                algorithms: &state.settings.algorithms,
                access_token: Some(token),
            },
        )
        .map_err(DpopRejection::Proof)?;
        // The nonce before the token: a client without one learns it in one round trip.
        state.check_nonce(verified.nonce.as_deref(), now)?;
        let validated = self.validate_for_issuer(token).await?;
        let claims = &validated.0;
        let jkt = claims.dpop_jkt().ok_or(TokenRejection::NotDpopBound)?;
        if jkt != verified.jkt {
            return Err(TokenRejection::DpopKeyMismatch.into());
        }
        // A token bound to a key and to a certificate needs both (RFC 8705 §3 applies to a
        // token however it is presented).
        let certificate = self.check_certificate_binding(claims, request)?;
        // Remembered last: a refused request leaves no trace.
        state.record(&verified.jkt, &verified.jti, verified.iat, now)?;
        Ok(Authenticated::new(
            validated,
            Some(verified.jkt),
            certificate,
        ))
    }
}

impl Validator {
    /// RFC 8705 §3: a token with `cnf["x5t#S256"]` passes only with a client certificate whose
    /// SHA-256 thumbprint is that value (base64url, §3.1; compared byte for byte, in constant
    /// time). Returns the matched thumbprint, `None` for a token that is not certificate-bound.
    fn check_certificate_binding(
        &self,
        claims: &crate::claims::Claims,
        request: &RequestCredentials<'_>,
    ) -> Result<Option<String>, AuthError> {
        if !claims.is_certificate_bound() {
            return Ok(None);
        }
        let forwarded;
        let certificate = match self.forwarded_certificate() {
            // From a trusted proxy, the header is the client's certificate (the proxy's own
            // connection certificate, if any, identifies the proxy). As RFC 9440's security
            // considerations ask of its Client-Cert field, a forwarded certificate is trusted
            // only from the proxies configured to send it.
            Some(settings) if request.peer.is_some_and(|peer| settings.trusts(peer)) => {
                forwarded =
                    crate::forwarded::read(settings.format, request.forwarded_client_certificate)
                        .map_err(|reason| {
                        tracing::warn!(
                            header = settings.header,
                            %reason,
                            "a trusted proxy forwarded a client certificate that cannot be read"
                        );
                        TokenRejection::ForwardedCertificateUnreadable
                    })?;
                forwarded.as_ref()
            }
            // From anyone else, the header is ignored: any client can write it.
            _ => request.client_certificate,
        };
        let certificate = certificate.ok_or(TokenRejection::CertificateMissing)?;
        // A thumbprint that is not a string matches no certificate.
        let bound = claims.certificate_thumbprint().unwrap_or_default();
        let presented = certificate.thumbprint();
        if bool::from(bound.as_bytes().ct_eq(presented.as_bytes())) {
            Ok(Some(presented.to_owned()))
        } else {
            Err(TokenRejection::CertificateMismatch.into())
        }
    }
}

impl Validator {
    /// The URL a proof's `htu` must name: the request's, or its path on the public URL.
    fn expected_url<'a>(&self, seen: &'a str) -> Cow<'a, str> {
        let Some(base) = self.public_url() else {
            return Cow::Borrowed(seen);
        };
        let path = if seen.starts_with('/') {
            seen.split(['?', '#']).next().unwrap_or_default().to_owned()
        } else {
            url::Url::parse(seen)
                .map(|url| url.path().to_owned())
                .unwrap_or_default()
        };
        Cow::Owned(format!("{base}{path}"))
    }
}
