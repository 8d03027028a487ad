//! Who is calling the token, introspection and revocation endpoints: client authentication
//! against the registry (worded by the profile), the length limit on a Basic `client_id`, and
//! the record of a used `private_key_jwt` assertion.

use ccflow_protocol::mtls::ClientCertificate;
use ccflow_protocol::{ClientAuthentication, ErrorResponse};

use crate::domain::assertion::AssertionContext;
use crate::domain::auth_server::AuthServer;
use crate::domain::authentication::{Authenticated, Connection, authenticate};
use crate::domain::clients::Registry;
use crate::domain::endpoint::EndpointError;
use crate::domain::site::Site;

impl AuthServer {
    /// Authenticates the caller; the profile words a failure.
    pub(super) fn authenticate<'a>(
        &self,
        site: &Site,
        registry: &'a Registry,
        auth: &ClientAuthentication,
        certificate: Option<&ClientCertificate>,
        now: i64,
    ) -> Result<Authenticated<'a>, EndpointError> {
        let inner = &*self.inner;
        let context = AssertionContext {
            audiences: [site.issuer.as_str(), site.token_url.as_str()],
            now,
            max_lifetime: inner.client_assertion_max_lifetime,
            replay_cache: &inner.replay_cache,
        };
        let connection = Connection {
            certificate,
            trust: inner.mtls.as_ref(),
            now,
        };
        authenticate(registry, auth, &context, connection).map_err(|failure| EndpointError {
            response: inner.dialect.word_auth_failure(failure),
            basic_attempted: auth.used_basic(),
        })
    }

    /// A client certificate (and its key) for `client_id` from the run's generated CA (RFC 8705
    /// §2.1 tests): subject `CN=<client_id>`, plus a DNS subject alternative name if given.
    #[cfg(feature = "tls")]
    pub(crate) fn issue_client_certificate(
        &self,
        client_id: &str,
        dns_name: Option<&str>,
    ) -> Result<ccflow_tls::IssuedCertificate, crate::domain::mtls::IssueError> {
        crate::domain::mtls::issue_client_certificate(self.inner.mtls.as_ref(), client_id, dns_name)
    }

    /// Records a `private_key_jwt` assertion as used, once the request has succeeded.
    pub(super) fn consume_assertion(
        &self,
        authenticated: &Authenticated<'_>,
        now: i64,
    ) -> Result<(), EndpointError> {
        match &authenticated.assertion {
            Some(assertion) if !self.inner.replay_cache.record(assertion, now) => {
                Err(EndpointError::plain(ErrorResponse::invalid_client(
                    "client_assertion rejected: `jti` was already used (replayed assertion)",
                )))
            }
            _ => Ok(()),
        }
    }

    /// The `client_id` length limit for an id from HTTP Basic (body ids were checked with the
    /// other parameters).
    pub(super) fn check_basic_client_id(
        &self,
        auth: &ClientAuthentication,
    ) -> Result<(), EndpointError> {
        match auth {
            ClientAuthentication::Basic { client_id, .. } => self
                .inner
                .limits
                .check_client_id(client_id.as_str())
                .map_err(EndpointError::plain),
            _ => Ok(()),
        }
    }
}
