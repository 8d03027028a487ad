//! Mutual TLS (RFC 8705) at the auth server, one row per rule: client authentication with a
//! CA-issued certificate (`tls_client_auth`, §2.1, names per §2.1.2) or a registered
//! self-signed one (`self_signed_tls_client_auth`, §2.2), certificate-bound tokens (§3, `cnf`
//! `x5t#S256` = SHA-256 of the DER, §3.1), introspection (§3.2), metadata (§3.3, §5), all
//! through real TLS connections (reqwest with a client identity).

#![cfg(feature = "tls")]

mod common;

use ccflow_auth_server::protocol::mtls::x5t_s256;
use ccflow_auth_server::{Client, IssuedCertificate, MockAuthServer};
use ccflow_tls::{CertificateAuthority, ClientSubject};
use common::{claims_of, signing_key};
use serde_json::Value;

/// What a client presents in the TLS handshake.
#[derive(Clone, Copy, Debug)]
enum Presents {
    Nothing,
    /// Issued by the server's CA: subject `CN=<name>`, optional DNS SAN.
    FromServerCa(&'static str, Option<&'static str>),
    /// Issued by another CA, `CN=<name>`.
    FromOtherCa(&'static str),
    /// The self-signed certificate registered for `self-svc`.
    RegisteredSelfSigned,
    /// Another self-signed certificate, `CN=self-svc`.
    OtherSelfSigned,
}

/// How the client authenticates in the request.
#[derive(Clone, Copy, Debug)]
enum Credentials {
    /// `client_id` in the body, nothing else (RFC 8705 §2).
    ClientIdOnly(&'static str),
    /// HTTP Basic with a secret.
    Basic(&'static str, &'static str),
}

struct Case {
    rule: &'static str,
    presents: Presents,
    credentials: Credentials,
    /// 200, or the status and a fragment of `error_description` (`error` is `invalid_client`).
    expected: Result<Bound, (u16, &'static str)>,
}

/// Whether a successful token is bound to the presented certificate.
#[derive(Debug, PartialEq)]
enum Bound {
    Yes,
    No,
}

struct Fixture {
    server: MockAuthServer,
    registered_self_signed: IssuedCertificate,
    other_ca: CertificateAuthority,
}

async fn fixture(https_beside_http: bool) -> Fixture {
    let registered_self_signed =
        IssuedCertificate::self_signed(&ClientSubject::new("self-svc")).unwrap();
    let mut builder = MockAuthServer::builder()
        .signing_key(signing_key())
        .client(Client::tls_client_auth("ca-svc").tls_client_auth_subject_dn("CN=ca-svc"))
        .client(Client::tls_client_auth("san-svc").tls_client_auth_san_dns("san-svc.example"))
        .client(
            Client::self_signed_tls_client_auth("self-svc")
                .tls_client_certificate_pem(registered_self_signed.certificate_pem()),
        )
        .client(
            Client::tls_client_auth("bound-ca-svc")
                .tls_client_auth_subject_dn("CN=bound-ca-svc")
                .tls_client_certificate_bound_access_tokens(true),
        )
        .client(
            Client::new("bound-secret", "s3cret").tls_client_certificate_bound_access_tokens(true),
        )
        .client(Client::new("plain", "s3cret"));
    builder = if https_beside_http {
        builder.https_bind("127.0.0.1:0".parse().unwrap())
    } else {
        builder.tls(Vec::<String>::new())
    };
    Fixture {
        server: builder.start().await.unwrap(),
        registered_self_signed,
        other_ca: CertificateAuthority::generate().unwrap(),
    }
}

impl Fixture {
    fn identity(&self, presents: Presents) -> Option<IssuedCertificate> {
        match presents {
            Presents::Nothing => None,
            Presents::FromServerCa(name, dns) => Some(
                self.server
                    .issue_client_certificate(name, dns)
                    .expect("a generated CA")
                    .unwrap(),
            ),
            Presents::FromOtherCa(name) => Some(
                self.other_ca
                    .issue_client_certificate(&ClientSubject::new(name))
                    .unwrap(),
            ),
            Presents::RegisteredSelfSigned => Some(self.registered_self_signed.clone()),
            Presents::OtherSelfSigned => {
                Some(IssuedCertificate::self_signed(&ClientSubject::new("self-svc")).unwrap())
            }
        }
    }

    /// A client over HTTPS trusting only the server's CA, presenting `identity`.
    fn client(&self, identity: Option<&IssuedCertificate>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([self.server.tls_ca_certificate().unwrap()]);
        if let Some(identity) = identity {
            builder = builder
                .identity(reqwest::Identity::from_pem(identity.identity_pem().as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }

    fn https(&self, path: &str) -> String {
        format!("{}{path}", self.server.https_uri().unwrap())
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        credentials: Credentials,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut request = client.post(self.https(path));
        match credentials {
            Credentials::ClientIdOnly(id) => form.push(("client_id", id)),
            Credentials::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        }
        let response = request.form(&form).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

#[track_caller]
fn check_token(case: &Case, identity: Option<&IssuedCertificate>, status: u16, body: &Value) {
    let rule = case.rule;
    match &case.expected {
        Ok(bound) => {
            assert_eq!(status, 200, "{rule}: {body}");
            // RFC 8705 tokens stay Bearer tokens.
            assert_eq!(body["token_type"], "Bearer", "{rule}");
            let claims = claims_of(body["access_token"].as_str().unwrap());
            match bound {
                Bound::Yes => {
                    let der = identity.unwrap().certificate_der();
                    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(der), "{rule}: {claims}");
                }
                Bound::No => assert!(claims.get("cnf").is_none(), "{rule}: {claims}"),
            }
        }
        Err((expected_status, fragment)) => {
            assert_eq!(status, *expected_status, "{rule}: {body}");
            assert_eq!(body["error"], "invalid_client", "{rule}: {body}");
            let description = body["error_description"].as_str().unwrap_or_default();
            assert!(description.contains(fragment), "{rule}: {description}");
            assert!(!description.contains("PRIVATE"), "{rule}: {description}");
        }
    }
}

#[tokio::test]
async fn every_rfc_8705_rule_at_the_token_endpoint() {
    use Credentials::{Basic, ClientIdOnly};
    use Presents::*;
    let cases = [
        Case {
            rule: "§2.1: a certificate from the trusted CA with the registered subject DN",
            presents: FromServerCa("ca-svc", None),
            credentials: ClientIdOnly("ca-svc"),
            expected: Ok(Bound::No),
        },
        Case {
            rule: "§2.1: no certificate",
            presents: Nothing,
            credentials: ClientIdOnly("ca-svc"),
            expected: Err((401, "without a client certificate")),
        },
        Case {
            rule: "§2.1: a certificate from a CA the server does not trust",
            presents: FromOtherCa("ca-svc"),
            credentials: ClientIdOnly("ca-svc"),
            expected: Err((401, "does not chain to a trusted CA")),
        },
        Case {
            rule: "§2.1: a self-signed certificate is no tls_client_auth",
            presents: OtherSelfSigned,
            credentials: ClientIdOnly("ca-svc"),
            expected: Err((401, "does not chain to a trusted CA")),
        },
        Case {
            rule: "§2.1.2: the trusted CA's certificate for another subject",
            presents: FromServerCa("someone-else", None),
            credentials: ClientIdOnly("ca-svc"),
            expected: Err((401, "is not the registered `CN=ca-svc`")),
        },
        Case {
            rule: "§2.1.2: the registered DNS SAN",
            presents: FromServerCa("anything", Some("san-svc.example")),
            credentials: ClientIdOnly("san-svc"),
            expected: Ok(Bound::No),
        },
        Case {
            rule: "§2.1.2: no registered DNS SAN",
            presents: FromServerCa("san-svc", Some("other.example")),
            credentials: ClientIdOnly("san-svc"),
            expected: Err((401, "no DNS subject alternative name `san-svc.example`")),
        },
        Case {
            rule: "§2.2: the registered self-signed certificate",
            presents: RegisteredSelfSigned,
            credentials: ClientIdOnly("self-svc"),
            expected: Ok(Bound::No),
        },
        Case {
            rule: "§2.2: another self-signed certificate with the same subject",
            presents: OtherSelfSigned,
            credentials: ClientIdOnly("self-svc"),
            expected: Err((401, "not the registered certificate")),
        },
        Case {
            rule: "§2.2: a CA-issued certificate is not the registered one",
            presents: FromServerCa("self-svc", None),
            credentials: ClientIdOnly("self-svc"),
            expected: Err((401, "not the registered certificate")),
        },
        Case {
            rule: "§2.2: no certificate",
            presents: Nothing,
            credentials: ClientIdOnly("self-svc"),
            expected: Err((401, "without a client certificate")),
        },
        Case {
            rule: "§2: a mutual TLS client may not use a secret instead",
            presents: FromServerCa("ca-svc", None),
            credentials: Basic("ca-svc", "guess"),
            expected: Err((401, "may not authenticate with client_secret_basic")),
        },
        Case {
            rule: "§3: a bound tls_client_auth client's token carries the thumbprint",
            presents: FromServerCa("bound-ca-svc", None),
            credentials: ClientIdOnly("bound-ca-svc"),
            expected: Ok(Bound::Yes),
        },
        Case {
            rule: "§3: a bound client authenticating with a secret is bound too",
            presents: FromOtherCa("whoever"),
            credentials: Basic("bound-secret", "s3cret"),
            expected: Ok(Bound::Yes),
        },
        Case {
            rule: "§3: a bound client without a certificate gets no token",
            presents: Nothing,
            credentials: Basic("bound-secret", "s3cret"),
            expected: Err((401, "tls_client_certificate_bound_access_tokens")),
        },
        Case {
            rule: "§3: an unbound client's certificate binds nothing",
            presents: FromServerCa("plain", None),
            credentials: Basic("plain", "s3cret"),
            expected: Ok(Bound::No),
        },
    ];
    let fixture = fixture(false).await;
    for case in &cases {
        let identity = fixture.identity(case.presents);
        let client = fixture.client(identity.as_ref());
        let (status, body) = fixture
            .post(
                &client,
                "/oauth2/token",
                case.credentials,
                &[("grant_type", "client_credentials")],
            )
            .await;
        check_token(case, identity.as_ref(), status, &body);
    }
    // A refused request changes nothing: only the successful ones left a token behind.
    let issued = fixture
        .server
        .received_requests()
        .iter()
        .filter(|entry| entry.status == 200)
        .count();
    assert_eq!(
        issued,
        cases.iter().filter(|case| case.expected.is_ok()).count()
    );
}

#[tokio::test]
async fn introspection_and_revocation_take_mutual_tls_and_show_cnf() {
    let fixture = fixture(false).await;
    let identity = fixture.identity(Presents::FromServerCa("bound-ca-svc", None));
    let client = fixture.client(identity.as_ref());
    let credentials = Credentials::ClientIdOnly("bound-ca-svc");
    let (_, token) = fixture
        .post(
            &client,
            "/oauth2/token",
            credentials,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let token = token["access_token"].as_str().unwrap();
    // RFC 8705 §3.2: introspection returns the confirmation; the token type stays Bearer.
    let (status, introspected) = fixture
        .post(
            &client,
            "/oauth2/introspect",
            credentials,
            &[("token", token)],
        )
        .await;
    assert_eq!(status, 200, "{introspected}");
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["token_type"], "Bearer");
    assert_eq!(
        introspected["cnf"]["x5t#S256"],
        x5t_s256(identity.as_ref().unwrap().certificate_der())
    );
    // Without the certificate the same client cannot introspect.
    let (status, refused) = fixture
        .post(
            &fixture.client(None),
            "/oauth2/introspect",
            credentials,
            &[("token", token)],
        )
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Revocation with mutual TLS authentication, then the token is inactive.
    let revoked = client
        .post(fixture.https("/oauth2/revoke"))
        .form(&[("token", token), ("client_id", "bound-ca-svc")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    let (_, after) = fixture
        .post(
            &client,
            "/oauth2/introspect",
            credentials,
            &[("token", token)],
        )
        .await;
    assert_eq!(after["active"], false);
}

#[tokio::test]
async fn metadata_advertises_mutual_tls_only_where_it_is_served() {
    // (HTTPS beside HTTP, TLS at all, expected aliases)
    for https_beside_http in [false, true] {
        let fixture = fixture(https_beside_http).await;
        let metadata: Value = reqwest::Client::builder()
            .tls_certs_only([fixture.server.tls_ca_certificate().unwrap()])
            .build()
            .unwrap()
            .get(fixture.server.discovery_url())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for list in [
            "token_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ] {
            let methods = metadata[list].as_array().unwrap();
            for method in ["tls_client_auth", "self_signed_tls_client_auth"] {
                assert!(methods.iter().any(|m| m == method), "{list}: {metadata}");
            }
        }
        assert_eq!(metadata["tls_client_certificate_bound_access_tokens"], true);
        let aliases = &metadata["mtls_endpoint_aliases"];
        if https_beside_http {
            let https = fixture.server.https_uri().unwrap();
            assert_eq!(aliases["token_endpoint"], format!("{https}/oauth2/token"));
            assert_eq!(
                aliases["introspection_endpoint"],
                format!("{https}/oauth2/introspect")
            );
            assert!(
                metadata["token_endpoint"]
                    .as_str()
                    .unwrap()
                    .starts_with("http://")
            );
        } else {
            assert!(aliases.is_null(), "{metadata}");
        }
    }
    // Over plain HTTP there is no certificate to present: nothing is advertised.
    let plain = MockAuthServer::builder().start().await.unwrap();
    let metadata: Value = reqwest::get(plain.discovery_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let methods = metadata["token_endpoint_auth_methods_supported"].to_string();
    assert!(!methods.contains("tls_client_auth"), "{methods}");
    assert!(
        metadata
            .get("tls_client_certificate_bound_access_tokens")
            .is_none()
    );
}

#[tokio::test]
async fn registrations_are_checked_as_rfc_8705_section_2_1_2_and_2_2_say() {
    let cases = [
        (
            Client::tls_client_auth("a"),
            "tls_client_auth needs tls_client_auth_subject_dn or tls_client_auth_san_dns",
        ),
        (
            Client::tls_client_auth("a")
                .tls_client_auth_subject_dn("CN=a")
                .tls_client_auth_san_dns("a.example"),
            "not both",
        ),
        (
            Client::tls_client_auth("a").tls_client_auth_subject_dn("no equals sign"),
            "is not TYPE=value",
        ),
        (
            Client::self_signed_tls_client_auth("a"),
            "self_signed_tls_client_auth needs the client's certificate",
        ),
        (
            Client::self_signed_tls_client_auth("a").tls_client_certificate_pem("not pem"),
            "holds no PEM certificate",
        ),
        (
            Client::new("a", "s").tls_client_auth_subject_dn("CN=a"),
            "only a tls_client_auth client",
        ),
    ];
    for (client, expected) in cases {
        let error = MockAuthServer::builder()
            .client(client)
            .start()
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
    // Profiles whose vendors document no mutual TLS refuse the methods (VENDORS.md, seeds).
    let error = MockAuthServer::builder()
        .profile(ccflow_auth_server::Profile::Slb)
        .client(Client::tls_client_auth("a").tls_client_auth_subject_dn("CN=a"))
        .start()
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("does not accept tls_client_auth"), "{error}");
}

#[tokio::test]
async fn the_toml_and_admin_api_registrations_use_rfc_8705_s_metadata_names() {
    let self_signed = IssuedCertificate::self_signed(&ClientSubject::new("toml-self")).unwrap();
    let directory = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mtls-toml");
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(directory.join("self.pem"), self_signed.certificate_pem()).unwrap();
    let toml = r#"
        [[clients]]
        client_id = "toml-ca"
        auth_method = "tls_client_auth"
        tls_client_auth_subject_dn = "CN=toml-ca"
        tls_client_certificate_bound_access_tokens = true

        [[clients]]
        client_id = "toml-self"
        auth_method = "self_signed_tls_client_auth"
        tls_client_certificate_pem = "self.pem"
    "#;
    let server = ccflow_auth_server::MockAuthServerBuilder::from_config_str(toml, &directory)
        .unwrap()
        .signing_key(signing_key())
        .tls(Vec::<String>::new())
        .start()
        .await
        .unwrap();
    let fixture = Fixture {
        server,
        registered_self_signed: self_signed.clone(),
        other_ca: CertificateAuthority::generate().unwrap(),
    };
    // The admin API registers with the same names (the certificate inline, PEM).
    let admin_self = IssuedCertificate::self_signed(&ClientSubject::new("admin-self")).unwrap();
    let registered = reqwest::Client::builder()
        .tls_certs_only([fixture.server.tls_ca_certificate().unwrap()])
        .build()
        .unwrap()
        .post(format!("{}/_ccflow/clients", fixture.server.uri()))
        .json(&serde_json::json!({
            "client_id": "admin-self",
            "auth_methods": ["self_signed_tls_client_auth"],
            "tls_client_certificate_pem": admin_self.certificate_pem(),
            "tls_client_certificate_bound_access_tokens": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        registered.status().as_u16(),
        201,
        "{:?}",
        registered.text().await
    );
    let ca_issued = fixture
        .identity(Presents::FromServerCa("toml-ca", None))
        .unwrap();
    // (client id, certificate presented, bound)
    let cases = [
        ("toml-ca", ca_issued, true),
        ("toml-self", self_signed, false),
        ("admin-self", admin_self, true),
    ];
    for (client_id, identity, bound) in cases {
        let client = fixture.client(Some(&identity));
        let (status, body) = fixture
            .post(
                &client,
                "/oauth2/token",
                Credentials::ClientIdOnly(client_id),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(status, 200, "{client_id}: {body}");
        let claims = claims_of(body["access_token"].as_str().unwrap());
        let expected = if bound {
            Value::String(identity.thumbprint().to_owned())
        } else {
            Value::Null
        };
        assert_eq!(claims["cnf"]["x5t#S256"], expected, "{client_id}");
    }
}

#[tokio::test]
async fn the_admin_api_issues_client_certificates_from_the_run_s_ca() {
    let fixture = fixture(false).await;
    let admin = fixture.client(None);
    let url = |id: &str| format!("{}/_ccflow/clients/{id}/certificate", fixture.server.uri());
    // (client id, body, expected status)
    let cases: [(&str, Option<Value>, u16); 3] = [
        ("ca-svc", None, 201),
        (
            "san-svc",
            Some(serde_json::json!({"dns_name": "san-svc.example"})),
            201,
        ),
        ("ca-svc", Some(serde_json::json!({"dns_nme": "x"})), 400),
    ];
    for (client_id, body, expected) in cases {
        let mut request = admin.post(url(client_id));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{client_id} {body:?}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let answer: Value = response.json().await.unwrap();
        if expected != 201 {
            assert_eq!(answer["error"], "invalid_request", "{answer}");
            continue;
        }
        assert_eq!(answer["subject_dn"], format!("CN={client_id}"));
        let pem = format!(
            "{}{}",
            answer["certificate_pem"].as_str().unwrap(),
            answer["private_key_pem"].as_str().unwrap()
        );
        // The issued certificate authenticates the client registered with that subject or name.
        let client = reqwest::Client::builder()
            .tls_certs_only([fixture.server.tls_ca_certificate().unwrap()])
            .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let (status, token) = fixture
            .post(
                &client,
                "/oauth2/token",
                Credentials::ClientIdOnly(client_id),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(status, 200, "{client_id}: {token}");
        let der = pem::parse(answer["certificate_pem"].as_str().unwrap()).unwrap();
        assert_eq!(answer["x5t#S256"], x5t_s256(der.contents()));
    }
    // A server without a CA of its own cannot issue.
    let plain = MockAuthServer::builder().start().await.unwrap();
    let refused = reqwest::Client::new()
        .post(format!("{}/_ccflow/clients/svc/certificate", plain.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 409);
    assert!(plain.issue_client_certificate("svc", None).is_none());
}

/// The public JWK of a self-signed client certificate's key (rcgen's P-256), with the
/// certificate as its `x5c` (RFC 7517 §4.7: base64 DER, the key's own certificate first).
fn jwk_with_x5c(certificate: &IssuedCertificate) -> Value {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let pkcs8 = pem::parse(certificate.private_key_pem()).unwrap();
    let key = rcgen::KeyPair::try_from(pkcs8.contents()).unwrap();
    // An uncompressed SEC1 point: 0x04, x, y.
    let point = key.public_key_raw();
    assert_eq!((point.len(), point[0]), (65, 4));
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        "x5c": [STANDARD.encode(certificate.certificate_der())],
    })
}

fn without_x5c(mut jwk: Value) -> Value {
    jwk.as_object_mut().unwrap().remove("x5c");
    jwk
}

#[tokio::test]
async fn self_signed_tls_client_auth_registered_by_jwks_matches_the_x5c_certificate() {
    let certificate =
        |name: &str| IssuedCertificate::self_signed(&ClientSubject::new(name)).unwrap();
    let (table, json, file, built, admin) = (
        certificate("jwks-table"),
        certificate("jwks-json"),
        certificate("jwks-file"),
        certificate("jwks-builder"),
        certificate("jwks-admin"),
    );
    let keyless = certificate("no-x5c");
    let directory = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mtls-jwks");
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(
        directory.join("jwks.json"),
        serde_json::json!({"keys": [jwk_with_x5c(&file)]}).to_string(),
    )
    .unwrap();
    let table_jwk = jwk_with_x5c(&table);
    // RFC 8705 §2.2 through each way of registering a JWK Set: a TOML table, its JSON text
    // (one key without x5c beside the certificate's: any key of the set may match), a file.
    let toml = format!(
        r#"
        [[clients]]
        client_id = "jwks-table"
        auth_method = "self_signed_tls_client_auth"
        [clients.jwks]
        keys = [{{ kty = "EC", crv = "P-256", x = {x}, y = {y}, x5c = [{x5c}] }}]

        [[clients]]
        client_id = "jwks-json"
        auth_method = "self_signed_tls_client_auth"
        jwks = '{json}'

        [[clients]]
        client_id = "jwks-file"
        auth_method = "self_signed_tls_client_auth"
        tls_client_certificate_bound_access_tokens = true
        jwks_file = "jwks.json"
        "#,
        x = table_jwk["x"],
        y = table_jwk["y"],
        x5c = table_jwk["x5c"][0],
        json =
            serde_json::json!({"keys": [without_x5c(jwk_with_x5c(&keyless)), jwk_with_x5c(&json)]}),
    );
    let server = ccflow_auth_server::MockAuthServerBuilder::from_config_str(&toml, &directory)
        .unwrap()
        .signing_key(signing_key())
        .client(
            Client::self_signed_tls_client_auth("jwks-builder")
                .public_jwk(serde_json::from_value(jwk_with_x5c(&built)).unwrap()),
        )
        .tls(Vec::<String>::new())
        .start()
        .await
        .unwrap();
    let fixture = Fixture {
        server,
        registered_self_signed: table.clone(),
        other_ca: CertificateAuthority::generate().unwrap(),
    };
    let registered = fixture
        .client(None)
        .post(format!("{}/_ccflow/clients", fixture.server.uri()))
        .json(&serde_json::json!({
            "client_id": "jwks-admin",
            "auth_methods": ["self_signed_tls_client_auth"],
            "jwks": {"keys": [jwk_with_x5c(&admin)]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    // (client id, certificate presented, expected: bound, or a fragment of the 401's description)
    let cases: [(&str, Option<&IssuedCertificate>, Result<Bound, &str>); 9] = [
        ("jwks-table", Some(&table), Ok(Bound::No)),
        ("jwks-json", Some(&json), Ok(Bound::No)),
        ("jwks-file", Some(&file), Ok(Bound::Yes)),
        ("jwks-builder", Some(&built), Ok(Bound::No)),
        ("jwks-admin", Some(&admin), Ok(Bound::No)),
        // Another client's registered certificate, and the key without x5c's own certificate.
        (
            "jwks-json",
            Some(&table),
            Err("not the registered certificate"),
        ),
        (
            "jwks-json",
            Some(&keyless),
            Err("not the registered certificate"),
        ),
        (
            "jwks-admin",
            Some(&built),
            Err("not the registered certificate"),
        ),
        ("jwks-file", None, Err("without a client certificate")),
    ];
    for (client_id, identity, expected) in cases {
        let case = Case {
            rule: client_id,
            presents: Presents::Nothing,
            credentials: Credentials::ClientIdOnly(client_id),
            expected: expected.map_err(|fragment| (401, fragment)),
        };
        let (status, body) = fixture
            .post(
                &fixture.client(identity),
                "/oauth2/token",
                case.credentials,
                &[("grant_type", "client_credentials")],
            )
            .await;
        check_token(&case, identity, status, &body);
    }
}

#[tokio::test]
async fn a_jwks_registration_without_a_usable_x5c_is_refused_at_load() {
    use base64::Engine as _;
    let certificate = IssuedCertificate::self_signed(&ClientSubject::new("bad")).unwrap();
    let other = IssuedCertificate::self_signed(&ClientSubject::new("other")).unwrap();
    let jwk = jwk_with_x5c(&certificate);
    let with_x5c = |x5c: Value| {
        let mut jwk = jwk.clone();
        jwk["x5c"] = x5c;
        serde_json::json!({"keys": [jwk]}).to_string()
    };
    let not_a_certificate = base64::engine::general_purpose::STANDARD.encode(b"hello");
    // (the client's jwks lines, the field and a fragment of the error)
    let cases = [
        (
            format!(
                "jwks = '{}'",
                serde_json::json!({"keys": [without_x5c(jwk.clone())]})
            ),
            "clients[0].jwks",
            "no key of its jwks has an x5c member",
        ),
        (
            format!("jwks = '{}'", with_x5c(serde_json::json!(["not base64!"]))),
            "clients[0].jwks",
            "keys[0].x5c: [0] is not base64",
        ),
        (
            format!(
                "jwks = '{}'",
                with_x5c(serde_json::json!([not_a_certificate]))
            ),
            "clients[0].jwks",
            "keys[0].x5c: [0] is not an X.509 certificate",
        ),
        (
            format!("jwks = '{}'", with_x5c(serde_json::json!([]))),
            "clients[0].jwks",
            "keys[0].x5c: must hold at least the key's certificate",
        ),
        (
            format!("jwks = '{}'", with_x5c(serde_json::json!("MII"))),
            "clients[0].jwks",
            "keys[0].x5c: must be an array",
        ),
        (
            // RFC 7517 §4.7: x5c[0] must hold the JWK's own key.
            format!("jwks = '{}'", with_x5c(jwk_with_x5c(&other)["x5c"].clone())),
            "clients[0].jwks",
            "keys[0].x5c: the certificate's public key is not the key of this JWK",
        ),
        (
            "jwks = '{\"keys\": '".to_owned(),
            "clients[0].jwks",
            "not a JSON JWK Set",
        ),
        (
            "jwks = 5".to_owned(),
            "clients[0].jwks",
            "must be a table with `keys`, or the JWK Set's JSON text",
        ),
        (
            format!(
                "jwks = '{}'\njwks_file = \"jwks.json\"",
                with_x5c(jwk["x5c"].clone())
            ),
            "clients[0].jwks_file",
            "not both",
        ),
        (
            "jwks_file = \"missing.json\"".to_owned(),
            "clients[0].jwks_file",
            "cannot read",
        ),
    ];
    for (lines, field, fragment) in cases {
        let toml = format!(
            "[[clients]]\nclient_id = \"a\"\nauth_method = \"self_signed_tls_client_auth\"\n{lines}\n"
        );
        let error = match ccflow_auth_server::MockAuthServerBuilder::from_config_str(&toml, ".") {
            Err(error) => error.to_string(),
            Ok(builder) => match builder.start().await {
                Ok(_) => panic!("{lines}: the server started"),
                Err(error) => error.to_string(),
            },
        };
        assert!(
            error.contains(&format!("{field}: ")) && error.contains(fragment),
            "{lines}: {error}"
        );
        assert!(!error.contains("PRIVATE"), "{error}");
    }
}

#[tokio::test]
async fn the_admin_client_list_shows_each_client_s_mutual_tls_registration() {
    let fixture = fixture(false).await;
    let listed: Value = fixture
        .client(None)
        .get(format!("{}/_ccflow/clients", fixture.server.uri()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let thumbprint = fixture.registered_self_signed.thumbprint();
    // (client id, its auth methods and mutual-TLS members as listed)
    let cases = [
        (
            "ca-svc",
            serde_json::json!({"auth_methods": ["tls_client_auth"], "tls_client_auth_subject_dn": "CN=ca-svc", "tls_client_auth_san_dns": null, "tls_client_certificate_bound_access_tokens": false, "tls_client_certificates": []}),
        ),
        (
            "san-svc",
            serde_json::json!({"auth_methods": ["tls_client_auth"], "tls_client_auth_subject_dn": null, "tls_client_auth_san_dns": "san-svc.example", "tls_client_certificate_bound_access_tokens": false, "tls_client_certificates": []}),
        ),
        (
            "self-svc",
            serde_json::json!({"auth_methods": ["self_signed_tls_client_auth"], "tls_client_auth_subject_dn": null, "tls_client_auth_san_dns": null, "tls_client_certificate_bound_access_tokens": false, "tls_client_certificates": [{"x5t#S256": thumbprint}]}),
        ),
        (
            "bound-ca-svc",
            serde_json::json!({"auth_methods": ["tls_client_auth"], "tls_client_auth_subject_dn": "CN=bound-ca-svc", "tls_client_auth_san_dns": null, "tls_client_certificate_bound_access_tokens": true, "tls_client_certificates": []}),
        ),
        (
            "bound-secret",
            serde_json::json!({"auth_methods": ["client_secret_basic", "client_secret_post"], "tls_client_auth_subject_dn": null, "tls_client_auth_san_dns": null, "tls_client_certificate_bound_access_tokens": true, "tls_client_certificates": []}),
        ),
    ];
    for (client_id, expected) in cases {
        let client = listed["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|client| client["client_id"] == client_id)
            .unwrap();
        for (member, value) in expected.as_object().unwrap() {
            assert_eq!(&client[member], value, "{client_id}.{member}: {client}");
        }
    }
    // Thumbprints only: neither the certificate nor, of course, any key.
    let text = listed.to_string();
    assert!(!text.contains("BEGIN"), "{text}");
    assert!(!text.contains(&fixture.registered_self_signed.certificate_pem()[30..60]));
}

#[tokio::test]
async fn the_toml_tls_client_ca_file_is_trusted_for_tls_client_auth() {
    // A CA of the user's (not the run's), as `tls_client_ca_file` in the config file names it.
    let their_ca = CertificateAuthority::generate().unwrap();
    let directory = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mtls-client-ca");
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(directory.join("their-ca.pem"), their_ca.certificate_pem()).unwrap();
    let toml = r#"
        tls_client_ca_file = "their-ca.pem"

        [[clients]]
        client_id = "partner"
        auth_method = "tls_client_auth"
        tls_client_auth_subject_dn = "CN=partner"
    "#;
    let server = ccflow_auth_server::MockAuthServerBuilder::from_config_str(toml, &directory)
        .unwrap()
        .signing_key(signing_key())
        .tls(Vec::<String>::new())
        .start()
        .await
        .unwrap();
    let fixture = Fixture {
        server,
        registered_self_signed: IssuedCertificate::self_signed(&ClientSubject::new("x")).unwrap(),
        other_ca: CertificateAuthority::generate().unwrap(),
    };
    // (certificate, expected: Ok, or a fragment of the 401's description)
    let cases = [
        (
            their_ca
                .issue_client_certificate(&ClientSubject::new("partner"))
                .unwrap(),
            Ok(Bound::No),
        ),
        (
            fixture
                .identity(Presents::FromServerCa("partner", None))
                .unwrap(),
            Ok(Bound::No),
        ),
        (
            fixture.identity(Presents::FromOtherCa("partner")).unwrap(),
            Err((401, "does not chain to a trusted CA")),
        ),
    ];
    for (identity, expected) in cases {
        let case = Case {
            rule: "tls_client_ca_file",
            presents: Presents::Nothing,
            credentials: Credentials::ClientIdOnly("partner"),
            expected,
        };
        let (status, body) = fixture
            .post(
                &fixture.client(Some(&identity)),
                "/oauth2/token",
                case.credentials,
                &[("grant_type", "client_credentials")],
            )
            .await;
        check_token(&case, Some(&identity), status, &body);
    }
}

/// A self-signed RSA certificate's DER and the `n`/`e` of its key (base64url), from the
/// certificate's own RSAPublicKey (RFC 8017 §A.1.1).
fn rsa_certificate() -> (Vec<u8>, String, String) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["rsa.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (sequence, _) = ccflow_tls::der_element(key.public_key_raw(), 0x30).unwrap();
    let (n, rest) = ccflow_tls::der_element(sequence, 0x02).unwrap();
    let (e, _) = ccflow_tls::der_element(rest, 0x02).unwrap();
    let unsigned = |bytes: &[u8]| {
        let start = bytes.iter().position(|byte| *byte != 0).unwrap();
        URL_SAFE_NO_PAD.encode(&bytes[start..])
    };
    (certificate.der().to_vec(), unsigned(n), unsigned(e))
}

#[tokio::test]
async fn an_rsa_jwk_s_x5c_must_hold_its_own_n_and_e() {
    use base64::Engine as _;
    let (der, n, e) = rsa_certificate();
    let (_, other_n, _) = rsa_certificate();
    let x5c = base64::engine::general_purpose::STANDARD.encode(&der);
    // (n of the JWK, a fragment of the error or None when it registers)
    for (jwk_n, expected) in [
        (&n, None),
        (
            &other_n,
            Some("keys[0].x5c: the certificate's public key is not the key of this JWK"),
        ),
    ] {
        let jwk = serde_json::json!({"kty": "RSA", "n": jwk_n, "e": e, "x5c": [x5c]});
        let started = MockAuthServer::builder()
            .client(
                Client::self_signed_tls_client_auth("rsa")
                    .public_jwk(serde_json::from_value(jwk).unwrap()),
            )
            .start()
            .await;
        match (started, expected) {
            (Ok(_), None) => {}
            (Err(error), Some(fragment)) => {
                assert!(error.to_string().contains(fragment), "{error}");
            }
            (Ok(_), Some(fragment)) => panic!("registered, expected {fragment}"),
            (Err(error), None) => panic!("refused: {error}"),
        }
    }
}
