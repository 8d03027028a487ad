//! `/_ccflow/throttle`: failed-authentication throttling's state, and lifting every block.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::domain::auth_server::AuthServer;

/// `GET /_ccflow/throttle`: whether failed-authentication throttling is on, its settings, and
/// how many client ids and addresses it is counting.
pub(super) async fn get_throttle(server: web::Data<AuthServer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(server.throttle_json())
}

/// `DELETE /_ccflow/throttle`: forgets every counted failure and lifts every block, so a test
/// that provoked throttling leaves none behind for the next.
pub(super) async fn delete_throttle(server: web::Data<AuthServer>) -> HttpResponse {
    server.clear_auth_failures();
    HttpResponse::NoContent().finish()
}
