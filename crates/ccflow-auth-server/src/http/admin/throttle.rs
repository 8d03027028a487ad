//! `/_ccflow/throttle`: failed-authentication throttling's state, and lifting every block.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::domain::auth_server::AuthServer;
use utoipa::ToSchema;

// Members in alphabetical order, as the untyped JSON objects this replaced wrote them.
/// Whether failed-authentication throttling is on, its settings, and what it counts.
#[derive(Serialize, ToSchema)]
struct ThrottleBody {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<ThrottleSettingsBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracked_addresses: Option<usize>,
    /// Client ids are kept only as keyed hashes, so they can be counted but not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    tracked_client_ids: Option<usize>,
}

/// The throttle's settings, with the config file's key names.
#[derive(Serialize, ToSchema)]
struct ThrottleSettingsBody {
    max_failures_per_client: u32,
    max_failures_per_ip: u32,
    max_tracked: usize,
    window_secs: u64,
}

/// `GET /_ccflow/throttle`: whether failed-authentication throttling is on, its settings, and
/// how many client ids and addresses it is counting.
#[utoipa::path(
    get,
    path = "/throttle",
    summary = "Failed-authentication throttling: settings and what it counts",
    responses((status = OK, description = "the throttle", body = ThrottleBody))
)]
pub(super) async fn get_throttle(server: web::Data<AuthServer>) -> HttpResponse {
    let body = match &server.inner.throttle {
        None => ThrottleBody {
            enabled: false,
            settings: None,
            tracked_addresses: None,
            tracked_client_ids: None,
        },
        Some(throttle) => {
            let (client_ids, addresses) = throttle.tracked();
            let (per_client, per_ip, window_secs, max_tracked) = throttle.settings().as_config();
            ThrottleBody {
                enabled: true,
                settings: Some(ThrottleSettingsBody {
                    max_failures_per_client: per_client,
                    max_failures_per_ip: per_ip,
                    max_tracked,
                    window_secs,
                }),
                tracked_addresses: Some(addresses),
                tracked_client_ids: Some(client_ids),
            }
        }
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `DELETE /_ccflow/throttle`: forgets every counted failure and lifts every block, so a test
/// that provoked throttling leaves none behind for the next.
#[utoipa::path(
    delete,
    path = "/throttle",
    summary = "Forget every counted failure and lift every block",
    responses((status = NO_CONTENT, description = "cleared"))
)]
pub(super) async fn delete_throttle(server: web::Data<AuthServer>) -> HttpResponse {
    server.clear_auth_failures();
    HttpResponse::NoContent().finish()
}
