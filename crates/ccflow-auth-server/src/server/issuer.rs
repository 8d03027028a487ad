//! `MockIssuer`: one named issuer of a server started with several (`issuer_named`,
//! `[[issuers]]`): its URLs under `/{name}` and its own test control.

use std::fmt;

use ccflow_protocol::{Profile, VirtualClock};

use crate::control::expect::RequestAssertion;
use crate::control::journal::{Endpoint, JournalEntry};
use crate::control::scenarios::ScenarioBuilder;
use crate::domain::auth_server::AuthServer;
use crate::domain::clients::{Client, ClientError};
use crate::domain::keys::KeyError;

/// One issuer of a [`MockAuthServer`](crate::MockAuthServer) with several, from
/// [`issuer_at`](crate::MockAuthServer::issuer_at): everything is its own (clients, keys,
/// clock, scenarios, journal), and its URLs are under `/{name}`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ccflow_auth_server::{Client, MockAuthServer, Profile};
///
/// let slb: Profile = "slb".parse()?;
/// let server = MockAuthServer::builder()
///     .issuer_named("slb", |i| i.profile(slb).client(Client::new("svc", "s3cret")))
///     .issuer_named("rfc", |i| i.client(Client::new("svc", "other")))
///     .start()
///     .await?;
/// let slb = server.issuer_at("slb").unwrap();
/// assert_eq!(slb.token_url(), format!("{}/slb/v2/token", server.uri()));
/// assert_eq!(server.issuer_at("rfc").unwrap().issuer(), format!("{}/rfc", server.uri()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MockIssuer {
    name: String,
    app: AuthServer,
}

impl fmt::Debug for MockIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockIssuer")
            .field("name", &self.name)
            .field("issuer", &self.app.issuer())
            .finish_non_exhaustive()
    }
}

impl MockIssuer {
    pub(super) fn new(name: String, app: AuthServer) -> Self {
        Self { name, app }
    }

    /// Its name: the path prefix `/{name}`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile it speaks.
    pub fn profile(&self) -> Profile {
        self.app.profile()
    }

    /// Its issuer identifier (`iss`): the server's base URL, `/{name}`, and the profile's
    /// issuer path.
    pub fn issuer(&self) -> &str {
        self.app.issuer()
    }

    /// Its token endpoint URL.
    pub fn token_url(&self) -> String {
        self.app.token_url().to_owned()
    }

    /// Its JWKS URL.
    pub fn jwks_url(&self) -> String {
        self.app.jwks_url()
    }

    /// Its discovery document URL (RFC 8414 form where the profile serves it).
    pub fn discovery_url(&self) -> String {
        self.app.discovery_url()
    }

    /// Its introspection endpoint URL, if the profile has one.
    pub fn introspection_url(&self) -> Option<String> {
        self.app.introspection_url()
    }

    /// Its revocation endpoint URL, if the profile has one.
    pub fn revocation_url(&self) -> Option<String> {
        self.app.revocation_url()
    }

    /// Its own admin API, `…/{name}/_ccflow`.
    pub fn admin_url(&self) -> String {
        self.app.url(crate::ADMIN_PREFIX)
    }

    /// Its virtual clock (`None` when the test injected a clock of its own).
    pub fn clock(&self) -> Option<&VirtualClock> {
        self.app.inner.virtual_clock.as_ref()
    }

    /// Rotates its signing key; returns the new `kid`. Other issuers keep theirs.
    pub fn rotate_keys(&self) -> Result<String, KeyError> {
        self.app.rotate_keys()
    }

    /// Starts a fault scenario on its token endpoint.
    pub fn on_token(&self) -> ScenarioBuilder {
        self.app.on_token()
    }

    /// Starts a fault scenario on any of its endpoints.
    pub fn on(&self, endpoint: Endpoint) -> ScenarioBuilder {
        self.app.on(endpoint)
    }

    /// Starts a token from its bad-token factory.
    pub fn mint(&self) -> crate::MintBuilder {
        self.app.mint()
    }

    /// Removes its fault scenarios.
    pub fn clear_scenarios(&self) {
        self.app.clear_scenarios();
    }

    /// Registers a client with it while the server runs.
    pub fn add_client(&self, client: Client) -> Result<(), ClientError> {
        self.app.add_client(client)
    }

    /// Unregisters one of its clients while the server runs.
    pub fn remove_client(&self, client_id: &str) -> bool {
        self.app.remove_client(client_id)
    }

    /// Its state (journal, keys).
    pub fn app(&self) -> &AuthServer {
        &self.app
    }

    /// Every request it received so far, oldest first.
    pub fn received_requests(&self) -> Vec<JournalEntry> {
        self.app.journal().entries()
    }

    /// An assertion over its requests to `endpoint` (or all, with `None`).
    pub fn assert_requests(&self, endpoint: Option<Endpoint>) -> RequestAssertion<'_> {
        RequestAssertion::new(self.app.journal(), endpoint)
    }
}
