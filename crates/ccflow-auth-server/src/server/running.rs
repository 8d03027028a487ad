//! `MockAuthServer`: a running server, its URLs, test control, and expectations checked when
//! it is dropped.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use ccflow_protocol::VirtualClock;

use super::error::StartError;
use super::issuer::MockIssuer;
use crate::control::expect::{Expectations, RequestAssertion, RequestExpectation};
use crate::control::journal::{Endpoint, JournalEntry};
use crate::control::scenarios::ScenarioBuilder;
use crate::domain::auth_server::AuthServer;
use crate::domain::clients::{Client, ClientError};
use crate::domain::keys::KeyError;

/// What serving HTTPS needs (nothing can be built without the `tls` feature).
#[cfg(feature = "tls")]
pub(super) type Tls = super::tls::ServerTls;
/// What serving HTTPS needs (nothing can be built without the `tls` feature).
#[cfg(not(feature = "tls"))]
pub(super) type Tls = std::convert::Infallible;

/// The rustls configuration handed to the server thread.
#[cfg(feature = "tls")]
type TlsConfig = std::sync::Arc<rustls::ServerConfig>;
#[cfg(not(feature = "tls"))]
type TlsConfig = std::convert::Infallible;

/// Serves `app` from `listener` (over TLS when `tls` is given) on a thread of its own, and
/// returns once it accepts connections.
/// With `https`, the main listener serves plain HTTP and `https` serves TLS.
pub(super) async fn launch(
    apps: Vec<(Option<String>, AuthServer)>,
    (listener, address): (TcpListener, SocketAddr),
    https_listener: Option<(TcpListener, SocketAddr)>,
    workers: usize,
    tls: Option<Tls>,
) -> Result<MockAuthServer, StartError> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let Some(app) = apps.first().map(|(_, app)| app.clone()) else {
        return Err(StartError::Start("no issuer to serve".to_owned()));
    };
    let issuers: Vec<MockIssuer> = apps
        .iter()
        .filter_map(|(name, app)| Some(MockIssuer::new(name.clone()?, app.clone())))
        .collect();
    let thread_apps = apps;
    let https = tls.is_some() && https_listener.is_none();
    let https_address = https_listener.as_ref().map(|(_, address)| *address);
    #[cfg(feature = "tls")]
    let (tls_config, tls_ca_pem): (Option<TlsConfig>, Option<String>) = match tls {
        Some(tls) => (Some(tls.config), tls.ca_pem),
        None => (None, None),
    };
    #[cfg(not(feature = "tls"))]
    let (tls_config, tls_ca_pem): (Option<TlsConfig>, Option<String>) =
        (None, tls.map(|never| match never {}));
    let thread = std::thread::Builder::new()
        .name(format!("ccflow-auth-server-{}", address.port()))
        .spawn(move || {
            let bindings = match https_listener {
                Some((https, _)) => vec![(listener, None), (https, tls_config)],
                None => vec![(listener, tls_config)],
            };
            serve(thread_apps, bindings, workers, ready_tx);
        })
        .map_err(|error| StartError::Start(error.to_string()))?;
    match ready_rx.await {
        Ok(Ok(handle)) => Ok(MockAuthServer {
            app,
            issuers,
            expectations: Expectations::default(),
            address,
            https,
            https_address,
            tls_ca_pem,
            handle,
            thread: Some(thread),
        }),
        Ok(Err(error)) => Err(StartError::Start(error)),
        Err(_) => Err(StartError::Start(
            "the server thread ended during start-up".to_owned(),
        )),
    }
}

/// Runs the actix system on the current (dedicated) thread until the server stops.
fn serve(
    apps: Vec<(Option<String>, AuthServer)>,
    bindings: Vec<(TcpListener, Option<TlsConfig>)>,
    workers: usize,
    ready: tokio::sync::oneshot::Sender<Result<ServerHandle, String>>,
) {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        // One issuer at the root, as always; or several, each under `/{name}`.
        let named: Vec<(String, AuthServer)> = apps
            .iter()
            .filter_map(|(name, app)| Some((name.clone()?, app.clone())))
            .collect();
        let root = apps.into_iter().find(|(name, _)| name.is_none());
        let mut server = HttpServer::new(move || match &root {
            Some((_, app)) => App::new()
                .configure(crate::http::configure(app.clone()))
                .default_service(web::to(crate::http::not_found)),
            None => App::new()
                .configure(crate::http::configure_issuers(named.clone()))
                .default_service(web::to(crate::http::root_not_found)),
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(5);
        // Mutual TLS (RFC 8705): handlers read the client's certificate from the connection.
        #[cfg(feature = "tls")]
        {
            server = server.on_connect(ccflow_tls::on_connect);
        }
        for (listener, tls) in bindings {
            let bound = match tls {
                #[cfg(feature = "tls")]
                Some(config) => {
                    server.listen_rustls_0_23(listener, std::sync::Arc::unwrap_or_clone(config))
                }
                #[cfg(not(feature = "tls"))]
                Some(never) => match never {},
                None => server.listen(listener),
            };
            server = match bound {
                Ok(server) => server,
                Err(error) => {
                    let _ = ready.send(Err(error.to_string()));
                    return;
                }
            };
        }
        let server = server.run();
        let _ = ready.send(Ok(server.handle()));
        if let Err(error) = server.await {
            tracing::error!(%error, "the server stopped with an error");
        }
    });
}

/// A running mock authorization server. Stops when dropped or on [`shutdown`](Self::shutdown).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ccflow_auth_server::{Client, MockAuthServer};
///
/// let server = MockAuthServer::builder()
///     .client(Client::new("orders-service", "s3cret").scopes(["orders.read"]))
///     .start()
///     .await?;
/// assert!(server.token_url().ends_with("/oauth2/token"));
/// # Ok(()) }
/// ```
pub struct MockAuthServer {
    /// The issuer at the root, or the first named one.
    app: AuthServer,
    /// The named issuers, in configuration order (empty for one issuer at the root).
    issuers: Vec<MockIssuer>,
    expectations: Expectations,
    address: SocketAddr,
    /// Whether its main address serves HTTPS.
    https: bool,
    /// The second address, serving HTTPS, when HTTP stays on the main one.
    https_address: Option<SocketAddr>,
    /// The throw-away CA's certificate when it made its own.
    tls_ca_pem: Option<String>,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAuthServer")
            .field("address", &self.address)
            .field("issuer", &self.app.issuer())
            .finish_non_exhaustive()
    }
}

impl MockAuthServer {
    /// The socket address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The base URI, `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// The certificate (PEM) of the throw-away CA that signed this server's HTTPS certificate,
    /// when it was started with [`tls`](crate::MockAuthServerBuilder::tls): what a client must
    /// trust, e.g. `reqwest::Certificate::from_pem(server.tls_ca_pem().unwrap().as_bytes())`.
    /// `None` over plain HTTP or with a certificate from files.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.tls_ca_pem.as_deref()
    }

    /// [`tls_ca_pem`](Self::tls_ca_pem) as a `reqwest::Certificate`, ready for
    /// `reqwest::ClientBuilder::add_root_certificate` (feature `reqwest`).
    #[cfg(feature = "reqwest")]
    pub fn tls_ca_certificate(&self) -> Option<reqwest::Certificate> {
        self.tls_ca_pem()
            .and_then(|pem| reqwest::Certificate::from_pem(pem.as_bytes()).ok())
    }

    /// The HTTPS base URI, `https://127.0.0.1:PORT`: the main one when the server serves HTTPS
    /// only, the second port's with [`https_bind`](crate::MockAuthServerBuilder::https_bind),
    /// `None` over plain HTTP only.
    pub fn https_uri(&self) -> Option<String> {
        match self.https_address {
            Some(address) => Some(format!("https://{address}")),
            None => self.https.then(|| self.uri()),
        }
    }

    /// A client certificate and key (PEM) for `client_id`, issued by this server's throw-away
    /// CA (subject `CN=<client_id>`, plus `dns_name` as a DNS subject alternative name if
    /// given): what a `tls_client_auth` client registered with
    /// `tls_client_auth_subject_dn("CN=<client_id>")` (or that DNS name) presents (RFC 8705
    /// §2.1), e.g. `reqwest::Identity::from_pem(issued.identity_pem().as_bytes())`. `None`
    /// unless the server was started with [`tls`](crate::MockAuthServerBuilder::tls) (or
    /// [`https_bind`](crate::MockAuthServerBuilder::https_bind) alone); the error is rcgen's.
    #[cfg(feature = "tls")]
    pub fn issue_client_certificate(
        &self,
        client_id: &str,
        dns_name: Option<&str>,
    ) -> Option<Result<ccflow_tls::IssuedCertificate, ccflow_tls::TlsError>> {
        use crate::domain::mtls::IssueError;

        match self.app.issue_client_certificate(client_id, dns_name) {
            Ok(issued) => Some(Ok(issued)),
            Err(IssueError::NoCa) => None,
            Err(IssueError::Issue(why)) => Some(Err(ccflow_tls::TlsError::Generate(why))),
        }
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        self.app.issuer()
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        self.app.token_url().to_owned()
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        self.app.jwks_url()
    }

    /// The discovery document URL (RFC 8414 form where the profile serves it).
    pub fn discovery_url(&self) -> String {
        self.app.discovery_url()
    }

    /// The introspection endpoint URL, if the profile has one.
    pub fn introspection_url(&self) -> Option<String> {
        self.app.introspection_url()
    }

    /// The revocation endpoint URL, if the profile has one.
    pub fn revocation_url(&self) -> Option<String> {
        self.app.revocation_url()
    }

    /// The server's virtual clock: `advance`, `set`, `freeze`, `resume`. `None` when the test
    /// injected a clock of its own with [`MockAuthServerBuilder::clock`].
    pub fn clock(&self) -> Option<&VirtualClock> {
        self.app.inner.virtual_clock.as_ref()
    }

    /// Rotates the signing key (see [`AuthServer::rotate_keys`]); returns the new `kid`.
    pub fn rotate_keys(&self) -> Result<String, KeyError> {
        self.app.rotate_keys()
    }

    /// Starts a fault scenario on the token endpoint, wiremock style:
    /// `server.on_token().for_client("svc-a").times(2).respond(Fault::status(503).retry_after(5))`.
    pub fn on_token(&self) -> ScenarioBuilder {
        self.app.on_token()
    }

    /// Starts a fault scenario on any endpoint (e.g. `Endpoint::Jwks`).
    pub fn on(&self, endpoint: Endpoint) -> ScenarioBuilder {
        self.app.on(endpoint)
    }

    /// Starts a token from the bad-token factory:
    /// `server.mint().client("svc").defect(Defect::Expired).sign()`.
    pub fn mint(&self) -> crate::MintBuilder {
        self.app.mint()
    }

    /// Removes every fault scenario.
    pub fn clear_scenarios(&self) {
        self.app.clear_scenarios();
    }

    /// Registers a client while the server runs (see [`AuthServer::add_client`]).
    pub fn add_client(&self, client: Client) -> Result<(), ClientError> {
        self.app.add_client(client)
    }

    /// Unregisters a client while the server runs: its token requests then fail with
    /// `invalid_client` and its tokens introspect inactive (see [`AuthServer::remove_client`]).
    pub fn remove_client(&self, client_id: &str) -> bool {
        self.app.remove_client(client_id)
    }

    /// The issuer named `name` (see [`issuer_named`](crate::MockAuthServerBuilder::issuer_named)):
    /// its URLs under `/{name}` and its own test control. `None` for an unknown name, and for
    /// a server with one issuer at the root.
    pub fn issuer_at(&self, name: &str) -> Option<&MockIssuer> {
        self.issuers.iter().find(|issuer| issuer.name() == name)
    }

    /// The named issuers, in configuration order (empty for one issuer at the root). The
    /// single-issuer accessors of `MockAuthServer` (`token_url`, `rotate_keys`, …) address the
    /// first of them.
    pub fn issuers(&self) -> &[MockIssuer] {
        &self.issuers
    }

    /// The start-up summary the binary prints after its `listening on` line: the issuer's
    /// ([`AuthServer::banner`]), or each named issuer's under an `issuer NAME` heading.
    pub fn banner(&self) -> String {
        if self.issuers.is_empty() {
            return self.app.banner();
        }
        let mut text = format!(
            "issuers:        {} (GET {}/_ccflow/issuers lists them)\n",
            self.issuers.len(),
            self.uri()
        );
        // The root's console picks among the issuers, and its journal is every issuer's; each
        // issuer's own console is in its section (`admin console:`, under its prefix).
        if self.app.inner.admin.enabled {
            text.push_str(&format!(
                "admin console:  {}/_ccflow/console (every issuer, picked in its header)\n",
                self.uri()
            ));
            text.push_str(&format!(
                "admin journal:  {}/_ccflow/requests (every issuer; ?issuer=NAME for one)\n",
                self.uri()
            ));
        }
        for issuer in &self.issuers {
            text.push_str(&format!("\nissuer {}:\n", issuer.name()));
            for line in issuer.app().banner().lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        text
    }

    /// The server's state (journal, keys).
    pub fn app(&self) -> &AuthServer {
        &self.app
    }

    /// Every request received so far, oldest first.
    pub fn received_requests(&self) -> Vec<JournalEntry> {
        self.app.journal().entries()
    }

    /// How many requests reached the token endpoint.
    pub fn token_request_count(&self) -> usize {
        self.assert_token_requests().count()
    }

    /// An assertion over the token requests received so far, with a failure message that lists
    /// every request: `server.assert_token_requests().for_client("svc-a").exactly(1)`.
    pub fn assert_token_requests(&self) -> RequestAssertion<'_> {
        RequestAssertion::new(self.app.journal(), Some(Endpoint::Token))
    }

    /// An assertion over the requests to `endpoint` (or all, with `None`).
    pub fn assert_requests(&self, endpoint: Option<Endpoint>) -> RequestAssertion<'_> {
        RequestAssertion::new(self.app.journal(), endpoint)
    }

    /// An expectation on token requests, checked when the server is dropped (or by
    /// [`verify`](Self::verify)): `server.expect_token_requests().for_client("svc").exactly(1)`.
    pub fn expect_token_requests(&self) -> RequestExpectation<'_> {
        RequestExpectation::new(&self.expectations, Some(Endpoint::Token))
    }

    /// An expectation on requests to `endpoint` (or all, with `None`).
    pub fn expect_requests(&self, endpoint: Option<Endpoint>) -> RequestExpectation<'_> {
        RequestExpectation::new(&self.expectations, endpoint)
    }

    /// Checks the registered expectations now (they are not checked again on drop).
    #[track_caller]
    pub fn verify(&self) {
        let failures = self.expectations.failures(self.app.journal());
        self.expectations.clear();
        if let Some(message) = failures {
            panic!("{message}");
        }
    }

    /// Stops accepting, lets in-flight requests finish (5 s at most), and waits for the thread.
    pub async fn shutdown(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            // The server has stopped, so the thread is finishing; don't block the executor.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for MockAuthServer {
    fn drop(&mut self) {
        // Expectations are checked first, and never while the test is already panicking (a
        // second panic would abort and hide the first failure).
        let failures = (!std::thread::panicking())
            .then(|| self.expectations.failures(self.app.journal()))
            .flatten();
        if let Some(thread) = self.thread.take() {
            // `stop` sends its command eagerly; the returned future only waits for completion.
            drop(self.handle.stop(false));
            let _ = thread.join();
        }
        if let Some(message) = failures {
            panic!("{message}");
        }
    }
}
