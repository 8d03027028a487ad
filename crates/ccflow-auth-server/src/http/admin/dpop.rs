//! `/_ccflow/dpop`: the token endpoint's DPoP policy (read and replace), and the bad-proof
//! factory (`/_ccflow/dpop/proof`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use ccflow_protocol::ErrorCode;

use super::respond::{ErrorBody, admin_error};
use crate::DpopSettings;
use crate::control::proofs::FactoryProof;
use crate::control::proofs::ProofSpec;
use crate::domain::auth_server::AuthServer;

/// `GET /_ccflow/dpop`: the DPoP settings in force (`enabled` resolved).
#[utoipa::path(
    get,
    path = "/dpop",
    summary = "The DPoP settings in force",
    responses((status = OK, description = "the settings", body = DpopSettings))
)]
pub(super) async fn get_dpop(server: web::Data<AuthServer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(server.inner.dpop.settings())
}

/// `PUT /_ccflow/dpop`: replaces the settings (omitted keys take their defaults, an omitted
/// `enabled` keeps the current state); answers the settings now in force.
#[utoipa::path(
    put,
    path = "/dpop",
    summary = "Replace the DPoP settings",
    request_body = DpopSettings,
    responses(
        (status = OK, description = "the settings now in force", body = DpopSettings),
        (status = BAD_REQUEST, description = "not DPoP settings", body = ErrorBody),
    )
)]
pub(super) async fn put_dpop(server: web::Data<AuthServer>, body: web::Bytes) -> HttpResponse {
    let settings: DpopSettings =
        match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
            Ok(settings) => settings,
            Err(error) => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidRequest,
                    &format!("not DPoP settings: {error}"),
                );
            }
        };
    match server.inner.dpop.replace(settings) {
        Ok(settings) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(settings),
        Err(why) => admin_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, &why),
    }
}

/// `POST /_ccflow/dpop/proof`: a proof from the bad-proof factory.
#[utoipa::path(
    post,
    path = "/dpop/proof",
    summary = "A DPoP proof from the bad-proof factory",
    request_body = ProofSpec,
    responses(
        (status = OK, description = "the proof", body = FactoryProof),
        (status = BAD_REQUEST, description = "not a proof spec", body = ErrorBody),
    )
)]
pub(super) async fn post_proof(server: web::Data<AuthServer>, body: web::Bytes) -> HttpResponse {
    let spec: ProofSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(error) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                &format!("not a proof spec: {error}"),
            );
        }
    };
    match server.factory_proof(&spec) {
        Ok(proof) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(proof),
        Err(why) => admin_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, &why),
    }
}
