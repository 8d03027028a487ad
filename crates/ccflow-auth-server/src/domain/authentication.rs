//! Client authentication (RFC 6749 §2.3, RFC 7523 §2.2): which registered client a request
//! proves to be, or why it proves none.

use ccflow_protocol::mtls::ClientCertificate;
use ccflow_protocol::{AuthMethod, ClientAuthentication, ClientId, ClientSecret, ErrorResponse};

use crate::domain::assertion::{AssertionContext, VerifiedAssertion, verify as verify_assertion};
use crate::domain::clients::{RegisteredClient, Registry, method_not_allowed};
use crate::domain::echo::truncate;
use crate::domain::mtls::{self, MtlsTrust};

/// The connection's side of client authentication: the certificate it presented (mutual TLS,
/// RFC 8705), what the server trusts for it, and the time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connection<'a> {
    pub(crate) certificate: Option<&'a ClientCertificate>,
    pub(crate) trust: Option<&'a MtlsTrust>,
    pub(crate) now: i64,
}

/// What authentication proved, before any state changes.
#[derive(Debug)]
pub(crate) struct Authenticated<'a> {
    pub(crate) client: &'a RegisteredClient,
    /// A `private_key_jwt` assertion's `jti` and `exp`, to record once the request succeeds.
    pub(crate) assertion: Option<VerifiedAssertion>,
}

/// Why authentication failed, so a profile can word it its own way (UserClouds says
/// `invalid_grant` for a wrong secret).
#[derive(Debug)]
pub(crate) struct AuthFailure {
    pub(crate) kind: AuthFailureKind,
    pub(crate) response: ErrorResponse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthFailureKind {
    UnknownClient(ClientId),
    WrongSecret,
    Other,
}

impl From<ErrorResponse> for AuthFailure {
    fn from(response: ErrorResponse) -> Self {
        Self {
            kind: AuthFailureKind::Other,
            response,
        }
    }
}

/// The secret compared against when the client id is unknown, so an unknown id costs as much
/// time as a wrong secret.
const TIMING_DUMMY_SECRET: &str = "ccflow-timing-equaliser-0123456789abcdef0123456789abcdef";

/// Authenticates the caller; `assertion_context` checks `private_key_jwt` assertions,
/// `connection` the certificate of mutual TLS.
pub(crate) fn authenticate<'a>(
    registry: &'a Registry,
    auth: &ClientAuthentication,
    assertion_context: &AssertionContext<'_>,
    connection: Connection<'_>,
) -> Result<Authenticated<'a>, AuthFailure> {
    match auth {
        ClientAuthentication::Basic {
            client_id,
            client_secret,
            alternative,
        } => {
            let mut candidates = vec![(client_id, client_secret)];
            candidates.extend(alternative.as_ref().map(|(id, secret)| (id, secret)));
            authenticate_secret(registry, auth.method(), &candidates)
        }
        ClientAuthentication::Post {
            client_id,
            client_secret,
        } => authenticate_secret(registry, auth.method(), &[(client_id, client_secret)]),
        ClientAuthentication::Assertion {
            client_id,
            assertion,
        } => {
            let verified = verify_assertion(
                registry,
                client_id.as_ref(),
                assertion,
                assertion_context,
            )?;
            let client = registry.get(&verified.client_id).ok_or_else(|| {
                AuthFailure::from(ErrorResponse::invalid_client("client of the assertion is not registered"))
            })?;
            Ok(Authenticated {
                client,
                assertion: Some(verified),
            })
        }
        // RFC 8705 §2: a mutual TLS client sends `client_id` and no other credential.
        ClientAuthentication::None {
            client_id: Some(client_id),
        } if registry
            .get(client_id)
            .is_some_and(|client| client.auth_methods.iter().any(|m| m.is_mutual_tls())) =>
        {
            let client = registry.get(client_id).ok_or_else(|| {
                AuthFailure::from(ErrorResponse::invalid_client("client is not registered"))
            })?;
            mtls::authenticate(
                (client.id.as_str(), &client.auth_methods, &client.mtls),
                connection.certificate,
                connection.trust,
                connection.now,
            )?;
            Ok(Authenticated {
                client,
                assertion: None,
            })
        }
        ClientAuthentication::None { client_id: Some(_) } => {
            Err(ErrorResponse::invalid_client(
                "client authentication required: send client_secret_basic, client_secret_post or private_key_jwt",
            )
            .into())
        }
        ClientAuthentication::None { client_id: None } => Err(ErrorResponse::invalid_client(
            "no client authentication included (RFC 6749 section 2.3)",
        )
        .into()),
    }
}

/// Authenticates a client secret given in one or more forms (Basic credentials read raw and
/// per RFC 6749 §2.3.1 where a profile accepts either): the first form naming a registered
/// client with that secret wins. Every form's secret is compared, each in constant time, so
/// which form matched does not show in the timing; neither form is ever logged.
fn authenticate_secret<'a>(
    registry: &'a Registry,
    method: AuthMethod,
    candidates: &[(&ClientId, &ClientSecret)],
) -> Result<Authenticated<'a>, AuthFailure> {
    let checked: Vec<(Option<&'a RegisteredClient>, bool)> = candidates
        .iter()
        .map(|(client_id, client_secret)| match registry.get(client_id) {
            Some(client) => {
                let matches = client
                    .secret
                    .as_ref()
                    .is_some_and(|secret| secret == *client_secret);
                (Some(client), matches)
            }
            None => {
                // Spend the same comparison as a known client would.
                let _ = ClientSecret::new(TIMING_DUMMY_SECRET) == **client_secret;
                (None, false)
            }
        })
        .collect();
    let matched = checked
        .iter()
        .find_map(|(client, matches)| client.filter(|_| *matches));
    let Some(client) = matched.or_else(|| checked.iter().find_map(|(client, _)| *client)) else {
        let client_id = candidates[0].0;
        return Err(AuthFailure {
            kind: AuthFailureKind::UnknownClient(client_id.clone()),
            response: ErrorResponse::invalid_client(format!(
                "unknown client `{}`",
                truncate(client_id.as_str())
            )),
        });
    };
    if !client.auth_methods.contains(&method) {
        return Err(method_not_allowed(client, method).into());
    }
    if matched.is_none() {
        return Err(AuthFailure {
            kind: AuthFailureKind::WrongSecret,
            response: ErrorResponse::invalid_client("client secret does not match"),
        });
    }
    Ok(Authenticated {
        client,
        assertion: None,
    })
}
