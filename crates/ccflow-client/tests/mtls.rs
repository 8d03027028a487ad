//! Mutual TLS from the SDK (RFC 8705), against a real `MockAuthServer` over HTTPS: the client
//! identity and the extra root on the builder, `tls_client_auth` and
//! `self_signed_tls_client_auth`, a certificate-bound token whose `cnf["x5t#S256"]` is the
//! certificate's, and `AuthorizedClient` presenting the same certificate to an HTTPS API.

use std::net::TcpListener;

use actix_web::{App, HttpRequest, HttpServer, web};
use base64::Engine as _;
use ccflow_auth_server::{Client, MockAuthServer};
use ccflow_client::{AuthMethod, AuthorizedClient, TokenClient, TokenError};
use ccflow_protocol::mtls::ClientCertificate;
use ccflow_tls::{ClientCertificates, ClientSubject, IssuedCertificate};
use serde_json::Value;

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// An HTTPS API (its own CA) that answers the thumbprint of the client certificate of the
/// connection, or `none`; its base URL and CA certificate.
fn api() -> (String, String) {
    let ca = ccflow_tls::CertificateAuthority::generate().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let identity = ca
        .server_identity("api", ccflow_tls::server_names(address, None, &[]))
        .unwrap();
    let config = ccflow_tls::server_config(identity, ClientCertificates::Request).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new().route(
                    "/whoami",
                    web::get().to(|req: HttpRequest| async move {
                        req.conn_data::<ClientCertificate>()
                            .map_or_else(|| "none".to_owned(), |c| c.thumbprint().to_owned())
                    }),
                )
            })
            .on_connect(ccflow_tls::on_connect)
            .workers(1)
            .disable_signals()
            .listen_rustls_0_23(listener, config)
            .unwrap()
            .run();
            ready_tx.send(()).unwrap();
            let _ = server.await;
        });
    });
    ready_rx.recv().unwrap();
    (
        format!("https://localhost:{}", address.port()),
        ca.certificate_pem().to_owned(),
    )
}

#[tokio::test]
async fn the_sdk_authenticates_with_its_certificate_and_presents_it_to_the_api() {
    let self_signed = IssuedCertificate::self_signed(&ClientSubject::new("self-svc")).unwrap();
    let server = MockAuthServer::builder()
        .client(
            Client::tls_client_auth("ca-svc")
                .tls_client_auth_subject_dn("CN=ca-svc")
                .tls_client_certificate_bound_access_tokens(true),
        )
        .client(
            Client::self_signed_tls_client_auth("self-svc")
                .tls_client_certificate_pem(self_signed.certificate_pem()),
        )
        .tls(Vec::<String>::new())
        .start()
        .await
        .unwrap();
    let issued = server
        .issue_client_certificate("ca-svc", None)
        .unwrap()
        .unwrap();
    let (api_url, api_ca) = api();
    // (client id, method, identity, bound)
    let cases = [
        ("ca-svc", AuthMethod::TlsClientAuth, &issued, true),
        (
            "self-svc",
            AuthMethod::SelfSignedTlsClientAuth,
            &self_signed,
            false,
        ),
    ];
    for (client_id, method, identity, bound) in cases {
        let tokens = TokenClient::builder()
            .token_url(server.token_url())
            .client_id(client_id)
            .auth_method(method)
            .client_identity_pem(identity.identity_pem())
            .add_root_certificate_pem(server.tls_ca_pem().unwrap())
            .add_root_certificate_pem(api_ca.clone())
            .build()
            .unwrap();
        let token = tokens.token().await.unwrap();
        let cnf = &claims(token.secret())["cnf"]["x5t#S256"];
        if bound {
            assert_eq!(cnf, identity.thumbprint(), "{client_id}");
        } else {
            assert!(cnf.is_null(), "{client_id}: {cnf}");
        }
        // The API sees the same certificate the token is bound to.
        let api = AuthorizedClient::new(tokens);
        let seen = api
            .send(api.get(format!("{api_url}/whoami")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(seen, identity.thumbprint(), "{client_id}");
    }
}

#[tokio::test]
async fn configuration_errors_name_what_is_missing_and_never_the_key() {
    let issued = IssuedCertificate::self_signed(&ClientSubject::new("svc")).unwrap();
    let base = || {
        TokenClient::builder()
            .token_url("https://127.0.0.1:1/token")
            .client_id("svc")
    };
    let cases: [(Result<TokenClient, TokenError>, &str); 3] = [
        (
            base().auth_method(AuthMethod::TlsClientAuth).build(),
            "set client_identity_pem",
        ),
        (
            base()
                .auth_method(AuthMethod::TlsClientAuth)
                .client_identity_pem(issued.private_key_pem())
                .build(),
            "not a PEM certificate followed by its private key",
        ),
        (
            base()
                .auth_method(AuthMethod::TlsClientAuth)
                .client_identity_pem(issued.identity_pem())
                .http_client(reqwest::Client::new())
                .build(),
            "set them on yours",
        ),
    ];
    for (result, expected) in cases {
        let error = result.err().unwrap().to_string();
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains("PRIVATE"), "{error}");
    }
    let debug = format!("{:?}", base().client_identity_pem(issued.identity_pem()));
    assert!(!debug.contains("PRIVATE"), "{debug}");
}
