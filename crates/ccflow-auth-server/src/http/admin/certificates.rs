//! `POST /_ccflow/clients/{id}/certificate`: a client certificate and its private key from the
//! run's generated CA, for mutual TLS tests (RFC 8705 §2.1), so nobody runs openssl. The key is
//! the test client's secret: answered once with `Cache-Control: no-store`, never logged, never
//! kept by the server.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::respond::{ErrorBody, admin_error};
use crate::domain::auth_server::AuthServer;

/// The optional body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CertificateRequest {
    /// A DNS subject alternative name (what `tls_client_auth_san_dns` registers).
    dns_name: Option<String>,
}

/// The answer: the certificate, its key, and the values a registration names.
#[cfg_attr(
    not(feature = "tls"),
    allow(dead_code, reason = "answered only with the `tls` feature")
)]
#[derive(serde::Serialize, ToSchema)]
struct CertificateBody {
    client_id: String,
    /// What `tls_client_auth_subject_dn` registers (RFC 4514).
    subject_dn: String,
    dns_names: Vec<String>,
    /// The `cnf` thumbprint a bound token will carry (RFC 8705 §3.1).
    #[serde(rename = "x5t#S256")]
    x5t_s256: String,
    certificate_pem: String,
    private_key_pem: String,
}

#[utoipa::path(
    post,
    path = "/clients/{id}/certificate",
    summary = "Issue a client certificate and key from the run's CA (mutual TLS tests)",
    params(("id" = String, Path, description = "the client id (the certificate's CN)")),
    request_body(content = Option<CertificateRequest>, description = "optional: a DNS name for the certificate"),
    responses(
        (status = CREATED, description = "the certificate, its private key (never stored), the subject DN and the x5t#S256 thumbprint", body = CertificateBody),
        (status = BAD_REQUEST, description = "a bad body or client id", body = ErrorBody),
        (status = CONFLICT, description = "the server has no CA of its own (no --tls, or --tls-cert files)", body = ErrorBody),
    )
)]
pub(super) async fn post_certificate(
    server: web::Data<AuthServer>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        CertificateRequest::default()
    } else {
        match serde_json::from_slice::<CertificateRequest>(&body) {
            Ok(request) => request,
            Err(_) => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    "the body must be empty or {\"dns_name\": \"…\"}",
                );
            }
        }
    };
    if id.is_empty() {
        return admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "the client id must not be empty",
        );
    }
    issue(&server, &id, request.dns_name.as_deref())
}

#[cfg(feature = "tls")]
fn issue(server: &AuthServer, client_id: &str, dns_name: Option<&str>) -> HttpResponse {
    use crate::domain::mtls::IssueError;

    match server.issue_client_certificate(client_id, dns_name) {
        Ok(issued) => {
            let names = ccflow_tls::CertificateNames::from_der(issued.certificate_der());
            let (subject_dn, dns_names) = match names {
                Ok(names) => (names.subject.to_string(), names.dns_names),
                Err(_) => (format!("CN={client_id}"), Vec::new()),
            };
            HttpResponse::Created()
                .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
                .json(CertificateBody {
                    client_id: client_id.to_owned(),
                    subject_dn,
                    dns_names,
                    x5t_s256: issued.thumbprint().to_owned(),
                    certificate_pem: issued.certificate_pem().to_owned(),
                    private_key_pem: issued.private_key_pem().to_owned(),
                })
        }
        Err(error @ IssueError::NoCa) => admin_error(
            StatusCode::CONFLICT,
            ErrorCode::Other("no_certificate_authority".to_owned()),
            &error.to_string(),
        ),
        Err(error @ IssueError::Issue(_)) => admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &error.to_string(),
        ),
    }
}

#[cfg(not(feature = "tls"))]
fn issue(_: &AuthServer, _: &str, _: Option<&str>) -> HttpResponse {
    admin_error(
        StatusCode::CONFLICT,
        ErrorCode::Other("no_certificate_authority".to_owned()),
        "this server was built without TLS (ccflow-auth-server's `tls` feature)",
    )
}
