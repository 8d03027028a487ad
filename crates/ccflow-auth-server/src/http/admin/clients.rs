//! `/_ccflow/clients`: client registration at run time.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use ccflow_protocol::ErrorCode;
use serde::Serialize;
use serde_json::Value;

use super::respond::{ErrorBody, admin_error};
use crate::domain::auth_server::AuthServer;
use crate::domain::clients::RegisteredClient;
use utoipa::ToSchema;

// Members in alphabetical order, as the untyped JSON objects this replaced wrote them.
/// Every registered client, in registration order.
#[derive(Serialize, ToSchema)]
struct ClientsBody<'a> {
    clients: Vec<ClientBody<'a>>,
}

/// A registered client's public metadata: never its secret, nor its keys beyond their count.
/// The mutual-TLS members (RFC 8705 §2.1.2, §2.2, §3) are there for every client: `null`,
/// `[]` or `false` when it registered none.
#[derive(Serialize, ToSchema)]
struct ClientBody<'a> {
    audiences: &'a [String],
    auth_methods: Vec<&'static str>,
    client_id: &'a str,
    n_public_keys: usize,
    scopes: Vec<&'a str>,
    /// RFC 8705 §2.1.2: the DNS name a `tls_client_auth` certificate must carry.
    tls_client_auth_san_dns: Option<&'a str>,
    /// RFC 8705 §2.1.2: the subject DN a `tls_client_auth` certificate must carry.
    tls_client_auth_subject_dn: Option<&'a str>,
    /// RFC 8705 §3: every token of the client is bound to its certificate.
    tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.2: the `self_signed_tls_client_auth` certificates registered (PEM, or a
    /// JWK's `x5c`), by thumbprint: the certificates themselves are not listed.
    tls_client_certificates: Vec<CertificateBody>,
    token_ttl_secs: Option<u64>,
}

/// A registered certificate, named by its thumbprint.
#[derive(Serialize, ToSchema)]
struct CertificateBody {
    /// The SHA-256 thumbprint of the certificate's DER, base64url (RFC 8705 §3.1): the value a
    /// token bound to it carries in `cnf`.
    #[serde(rename = "x5t#S256")]
    #[schema(rename = "x5t#S256")]
    x5t_s256: String,
}

impl<'a> ClientBody<'a> {
    fn new(client: &'a RegisteredClient) -> Self {
        Self {
            audiences: &client.audiences,
            auth_methods: client
                .auth_methods
                .iter()
                .map(|method| method.as_str())
                .collect(),
            client_id: client.id.as_str(),
            n_public_keys: client.keys.len(),
            scopes: client.scopes.iter().map(|scope| scope.as_str()).collect(),
            tls_client_auth_san_dns: client.mtls.san_dns.as_deref(),
            tls_client_auth_subject_dn: client.mtls.subject_dn.as_deref(),
            tls_client_certificate_bound_access_tokens: client.certificate_bound,
            tls_client_certificates: client
                .mtls
                .certificates
                .iter()
                .map(|der| CertificateBody {
                    x5t_s256: ccflow_protocol::mtls::x5t_s256(der),
                })
                .collect(),
            token_ttl_secs: client.token_ttl.map(|ttl| ttl.as_secs()),
        }
    }
}

/// `GET /_ccflow/clients`: every registered client's id and public metadata, in registration
/// order.
#[utoipa::path(
    get,
    path = "/clients",
    summary = "Every registered client's public metadata",
    responses((status = OK, description = "the clients", body = ClientsBody<'_>))
)]
pub(super) async fn get_clients(server: web::Data<AuthServer>) -> HttpResponse {
    let registry = server.registry();
    let clients = registry.iter().map(ClientBody::new).collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ClientsBody { clients })
}

/// `POST /_ccflow/clients`: registers one client (`ClientRegistration` as JSON); a bad body
/// or a profile rule it breaks is 400, an id already registered 409, and neither changes
/// anything.
#[utoipa::path(
    post,
    path = "/clients",
    summary = "Register a client",
    request_body = ccflow_protocol::ClientRegistration,
    responses(
        (status = CREATED, description = "registered", body = ClientBody<'_>),
        (status = BAD_REQUEST, description = "a bad registration", body = ErrorBody),
        (status = CONFLICT, description = "the id is already registered", body = ErrorBody),
    )
)]
pub(super) async fn post_clients(server: web::Data<AuthServer>, body: web::Bytes) -> HttpResponse {
    let bad = |description: String| {
        admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &description,
        )
    };
    let registration = match serde_json::from_slice::<Value>(&body) {
        Ok(object @ Value::Object(_)) => object,
        Ok(_) | Err(_) => return bad("the body must be a JSON object".to_owned()),
    };
    let registration: ccflow_protocol::ClientRegistration =
        match serde_json::from_value(registration) {
            Ok(registration) => registration,
            Err(error) => {
                return bad(format!("not a client registration: {}", json_error(&error)));
            }
        };
    let id = ccflow_protocol::ClientId::new(registration.client_id.as_str());
    if server.registry().get(&id).is_some() {
        return admin_error(
            StatusCode::CONFLICT,
            ErrorCode::Other("client_exists".to_owned()),
            "a client with this id is already registered; DELETE it first",
        );
    }
    let added =
        crate::Client::from_registration(registration).and_then(|client| server.add_client(client));
    match added {
        Ok(()) => match server.registry().get(&id) {
            Some(client) => HttpResponse::Created()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(ClientBody::new(client)),
            // Removed by a concurrent call in between; it was registered all the same.
            None => HttpResponse::Created().finish(),
        },
        // ClientError names the field and the rule, never the value (a secret, perhaps).
        Err(error) => admin_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            &error.to_string(),
        ),
    }
}

/// Describes a JSON body error without echoing the values it holds (serde's "invalid type"
/// messages quote the value, which may be a secret given in the wrong member).
fn json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if ["unknown field", "missing field", "unknown variant"]
        .iter()
        .any(|start| message.starts_with(start))
    {
        message
    } else {
        "a member has the wrong type or value".to_owned()
    }
}

/// `DELETE /_ccflow/clients/{id}`: unregisters a client (see `AuthServer::remove_client`).
#[utoipa::path(
    delete,
    path = "/clients/{id}",
    summary = "Unregister a client",
    params(("id" = String, Path, description = "the client id")),
    responses(
        (status = NO_CONTENT, description = "unregistered"),
        (status = NOT_FOUND, description = "no such client", body = ErrorBody),
    )
)]
pub(super) async fn delete_client(
    server: web::Data<AuthServer>,
    id: web::Path<String>,
) -> HttpResponse {
    if server.remove_client(&id) {
        HttpResponse::NoContent().finish()
    } else {
        admin_error(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("not_found".to_owned()),
            "no client with this id",
        )
    }
}
