//! HTTPS (issue 19, first part): the embedded server with a throw-away CA or with certificate
//! files, judged by clients that verify certificates (reqwest's rustls with only the given
//! root; curl for the binary in `binary.rs`).

#![cfg(feature = "tls")]

mod common;

use ccflow_auth_server::{Client, MockAuthServer};
use common::{json_of, signing_key};

/// A client that trusts exactly `root` (no system roots), and reaches `names` at `server`.
fn client_trusting(root: Option<&str>, server: &MockAuthServer, names: &[&str]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(pem) = root {
        builder = builder.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()]);
    } else {
        builder = builder.tls_certs_only([]);
    }
    for name in names {
        builder = builder.resolve(name, server.address());
    }
    builder.build().unwrap()
}

/// One HTTPS request and what must come of it.
struct Case {
    name: &'static str,
    /// Whether the client trusts the server's CA.
    trusts_ca: bool,
    /// The host in the URL (the port is the server's).
    host: &'static str,
    /// `Some(status)` when the request must be answered, `None` when TLS must refuse it.
    expected: Option<u16>,
}

async fn check(server: &MockAuthServer, case: &Case) {
    let ca = server.tls_ca_pem().expect("a generated CA");
    let client = client_trusting(
        case.trusts_ca.then_some(ca),
        server,
        &["auth.test", "other.test"],
    );
    let url = format!(
        "https://{}:{}/oauth2/token",
        case.host,
        server.address().port()
    );
    let answer = client
        .post(&url)
        .basic_auth("svc", Some("svc-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    assert_eq!(
        answer
            .as_ref()
            .ok()
            .map(|response| response.status().as_u16()),
        case.expected,
        "{}: {answer:?}",
        case.name
    );
}

#[tokio::test]
async fn a_generated_ca_is_trusted_for_the_names_the_certificate_carries() {
    let server = MockAuthServer::builder()
        .signing_key(signing_key())
        .client(Client::new("svc", "svc-secret"))
        .tls(["auth.test"])
        .start()
        .await
        .unwrap();
    assert!(
        server.uri().starts_with("https://127.0.0.1:"),
        "{}",
        server.uri()
    );
    assert_eq!(server.issuer(), server.uri());
    let cases = [
        Case {
            name: "the bound address",
            trusts_ca: true,
            host: "127.0.0.1",
            expected: Some(200),
        },
        Case {
            name: "localhost",
            trusts_ca: true,
            host: "localhost",
            expected: Some(200),
        },
        Case {
            name: "a name given to tls()",
            trusts_ca: true,
            host: "auth.test",
            expected: Some(200),
        },
        Case {
            name: "a name the certificate does not carry",
            trusts_ca: true,
            host: "other.test",
            expected: None,
        },
        Case {
            name: "a client that does not trust the CA",
            trusts_ca: false,
            host: "127.0.0.1",
            expected: None,
        },
    ];
    for case in &cases {
        check(&server, case).await;
    }
    // Discovery names https URLs; plain HTTP on the TLS port gets no answer.
    let ca = server.tls_ca_pem().unwrap();
    let document =
        json_of(client_trusting(Some(ca), &server, &[]).get(server.discovery_url())).await;
    assert_eq!(document["token_endpoint"], server.token_url());
    assert!(server.token_url().starts_with("https://"));
    let plain = reqwest::Client::new()
        .get(format!("http://{}/jwks.json", server.address()))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[tokio::test]
async fn certificate_files_are_served_as_given() {
    let directory = std::env::temp_dir().join(format!("ccflow-tls-files-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = directory.join("cert.pem");
    let key = directory.join("key.pem");
    let cert_pem = pem::encode(&pem::Pem::new("CERTIFICATE", made.cert.der().to_vec()));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(
        &key,
        pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            made.signing_key.serialize_der(),
        )),
    )
    .unwrap();
    let server = MockAuthServer::builder()
        .signing_key(signing_key())
        .client(Client::new("svc", "svc-secret"))
        .tls_files(&cert, &key)
        .start()
        .await
        .unwrap();
    assert!(server.tls_ca_pem().is_none());
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let response = client
        .post(server.token_url())
        .basic_auth("svc", Some("svc-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(server);
    // A key file that holds no key: a start error that names the file, not its content.
    std::fs::write(&key, "not a key").unwrap();
    let error = MockAuthServer::builder()
        .tls_files(&cert, &key)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("key.pem"), "{error}");
    std::fs::remove_dir_all(&directory).unwrap();
}

#[tokio::test]
async fn http_and_https_are_served_at_once_on_two_ports() {
    let server = MockAuthServer::builder()
        .signing_key(signing_key())
        .client(Client::new("svc", "svc-secret"))
        .https_bind("127.0.0.1:0".parse().unwrap())
        .issuer_from_request(true)
        .start()
        .await
        .unwrap();
    let https = server.https_uri().expect("a second, HTTPS port");
    // The CA as reqwest takes it (feature `reqwest`), for a plain reqwest client.
    let with_ca = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([server.tls_ca_certificate().expect("a generated CA")])
        .build()
        .unwrap();
    let jwks = with_ca
        .get(format!("{https}/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    assert!(
        server.uri().starts_with("http://127.0.0.1:"),
        "{}",
        server.uri()
    );
    assert_ne!(https, server.uri().replace("http://", "https://"));
    let ca = server
        .tls_ca_pem()
        .expect("a throw-away CA for the second port");
    let trusted = client_trusting(Some(ca), &server, &[]);
    // Each port answers discovery with its own scheme (issuer_from_request reads the
    // connection's), and each gets tokens.
    for (client, base) in [(reqwest::Client::new(), server.uri()), (trusted, https)] {
        let document =
            json_of(client.get(format!("{base}/.well-known/oauth-authorization-server"))).await;
        assert_eq!(document["issuer"], base.as_str());
        let token = client
            .post(format!("{base}/oauth2/token"))
            .basic_auth("svc", Some("svc-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 200, "{base}");
    }
}
