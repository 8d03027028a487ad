//! `/_ccflow/issuers`: the issuers this process serves, with their endpoints (several under
//! `/{name}` with `[[issuers]]`, else the one at the root).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::auth_server::AuthServer;
use crate::http::IssuerList;

/// `GET /_ccflow/issuers`: every issuer of the process, in configuration order.
#[utoipa::path(
    get,
    path = "/issuers",
    summary = "The issuers this process serves: name, profile, issuer and endpoint URLs",
    responses((status = OK, description = "the issuers", body = IssuersBody))
)]
pub(super) async fn get_issuers(
    server: web::Data<AuthServer>,
    list: Option<web::Data<IssuerList>>,
) -> HttpResponse {
    let issuers = match &list {
        Some(list) => list
            .0
            .iter()
            .map(|(name, server)| issuer_body(name.as_deref(), server))
            .collect(),
        // Mounted alone (`configure`): this server is the process's one issuer.
        None => vec![issuer_body(None, &server)],
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(IssuersBody { issuers })
}

/// The issuers of the process.
#[derive(Serialize, ToSchema)]
pub(super) struct IssuersBody {
    issuers: Vec<IssuerBody>,
}

/// One issuer and where its endpoints are.
#[derive(Serialize, ToSchema)]
struct IssuerBody {
    /// Its `[[issuers]]` name (the path prefix `/{name}`); `null` for the one issuer at the root.
    name: Option<String>,
    /// Its path prefix: `/{name}`, or `""` at the root.
    prefix: String,
    profile: String,
    /// The `iss` of its tokens.
    issuer: String,
    discovery_url: String,
    token_url: String,
    jwks_url: String,
    introspection_url: Option<String>,
    revocation_url: Option<String>,
    /// Its own admin API (keys, clients, scenarios, clock, journal).
    admin_url: String,
}

fn issuer_body(name: Option<&str>, server: &AuthServer) -> IssuerBody {
    let prefix = name.map(|name| format!("/{name}")).unwrap_or_default();
    IssuerBody {
        name: name.map(str::to_owned),
        prefix,
        profile: server.profile().as_str().to_owned(),
        issuer: server.issuer().to_owned(),
        discovery_url: server.discovery_url(),
        token_url: server.token_url().to_owned(),
        jwks_url: server.jwks_url(),
        introspection_url: server.introspection_url(),
        revocation_url: server.revocation_url(),
        admin_url: server.url(super::ADMIN_PREFIX),
    }
}
