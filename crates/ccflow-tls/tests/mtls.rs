//! Mutual TLS through a real actix-web server: the configuration asks for a client
//! certificate without requiring one, accepts a CA-issued and a self-signed one, refuses a
//! client that does not hold the key of the certificate it presents, and `on_connect` hands
//! handlers the certificate (its `x5t#S256`) or nothing.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpServer, web};
use ccflow_protocol::mtls::ClientCertificate;
use ccflow_tls::{
    CertificateAuthority, ClientCertificates, ClientSubject, IssuedCertificate, server_config,
    server_names,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The thumbprint of the connection's client certificate, or `none`.
async fn thumbprint(req: HttpRequest) -> String {
    req.conn_data::<ClientCertificate>()
        .map_or_else(|| "none".to_owned(), |cert| cert.thumbprint().to_owned())
}

/// An HTTPS server (with `client_certificates`) and a plain HTTP one, both answering
/// [`thumbprint`]; their addresses and the CA.
fn serve(
    client_certificates: ClientCertificates,
) -> (SocketAddr, SocketAddr, CertificateAuthority) {
    let ca = CertificateAuthority::generate().unwrap();
    let https = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let https_address = https.local_addr().unwrap();
    let http_address = http.local_addr().unwrap();
    let identity = ca
        .server_identity("test", server_names(https_address, None, &[]))
        .unwrap();
    let config = server_config(identity, client_certificates).unwrap();
    let server = HttpServer::new(|| App::new().route("/", web::get().to(thumbprint)))
        .on_connect(ccflow_tls::on_connect)
        .workers(1)
        .disable_signals()
        .listen_rustls_0_23(https, config)
        .unwrap()
        .listen(http)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    (https_address, http_address, ca)
}

/// What a client presents.
#[derive(Clone, Copy, Debug)]
enum Presents {
    Nothing,
    IssuedByTheCa,
    SelfSigned,
}

#[track_caller]
fn check(presents: Presents, client_certificates: ClientCertificates, expected_seen: bool) {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let (https, http, ca) = serve(client_certificates);
        let issued = match presents {
            Presents::Nothing => None,
            Presents::IssuedByTheCa => Some(
                ca.issue_client_certificate(&ClientSubject::new("svc"))
                    .unwrap(),
            ),
            Presents::SelfSigned => {
                Some(IssuedCertificate::self_signed(&ClientSubject::new("svc")).unwrap())
            }
        };
        let mut builder = reqwest::Client::builder().add_root_certificate(
            reqwest::Certificate::from_pem(ca.certificate_pem().as_bytes()).unwrap(),
        );
        if let Some(issued) = &issued {
            builder = builder
                .identity(reqwest::Identity::from_pem(issued.identity_pem().as_bytes()).unwrap());
        }
        let client = builder.build().unwrap();
        let over_tls = client
            .get(format!("https://localhost:{}/", https.port()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let expected = match (&issued, expected_seen) {
            (Some(issued), true) => issued.thumbprint().to_owned(),
            _ => "none".to_owned(),
        };
        assert_eq!(over_tls, expected, "{presents:?} {client_certificates:?}");
        // Plain HTTP on the same server never has a certificate.
        let over_http = client
            .get(format!("http://{http}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(over_http, "none");
    });
}

#[test]
fn handlers_see_the_certificate_the_client_presented() {
    let cases = [
        (Presents::Nothing, ClientCertificates::Request, false),
        (Presents::IssuedByTheCa, ClientCertificates::Request, true),
        // RFC 8705 §2.2: a self-signed certificate gets through the TLS layer.
        (Presents::SelfSigned, ClientCertificates::Request, true),
        // Without a request, a client has no occasion to present its certificate.
        (Presents::IssuedByTheCa, ClientCertificates::Ignore, false),
    ];
    for (presents, client_certificates, expected_seen) in cases {
        check(presents, client_certificates, expected_seen);
    }
}

/// A client certificate resolver that presents `chain` but signs with `key`.
#[derive(Debug)]
struct Presenting(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Presenting {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[test]
fn a_client_that_does_not_hold_the_certificate_s_key_fails_the_handshake() {
    let system = actix_web::rt::System::new();
    let (https, ca) = system.block_on(async {
        let (https, _, ca) = serve(ClientCertificates::Request);
        (https, ca)
    });
    let victim = ca
        .issue_client_certificate(&ClientSubject::new("victim"))
        .unwrap();
    let attacker = ca
        .issue_client_certificate(&ClientSubject::new("attacker"))
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cases = [
        // (certificate presented, key signing the handshake, handshake succeeds)
        (&victim, &victim, true),
        (&victim, &attacker, false),
    ];
    for (presented, signing, expected_ok) in cases {
        let key = PrivateKeyDer::from_pem_slice(signing.private_key_pem().as_bytes()).unwrap();
        let signing_key = provider.key_provider.load_private_key(key).unwrap();
        let certified = rustls::sign::CertifiedKey::new(
            vec![CertificateDer::from(presented.certificate_der().to_vec())],
            signing_key,
        );
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.certificate_der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_cert_resolver(Arc::new(Presenting(Arc::new(certified))));
        let connection =
            rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap())
                .unwrap();
        let socket = TcpStream::connect(https).unwrap();
        let mut stream = rustls::StreamOwned::new(connection, socket);
        // The server runs on this thread's actix system: drive it while the client talks.
        let outcome = std::thread::scope(|scope| {
            let client = scope.spawn(move || {
                stream
                    .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")?;
                let mut answer = String::new();
                stream.read_to_string(&mut answer)?;
                Ok::<_, std::io::Error>(answer)
            });
            system.block_on(async {
                while !client.is_finished() {
                    actix_web::rt::task::yield_now().await;
                }
            });
            client.join().unwrap()
        });
        match outcome {
            Ok(answer) => {
                assert!(expected_ok, "the server answered: {answer}");
                assert!(answer.ends_with(presented.thumbprint()), "{answer}");
            }
            Err(error) => assert!(!expected_ok, "the handshake failed: {error}"),
        }
    }
}
