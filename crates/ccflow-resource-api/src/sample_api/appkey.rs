//! SLB's `appkey` header as an optional policy of the sample API (VENDORS.md: Delfi APIs want
//! an `appkey` header besides the bearer token, D). The refusals follow the API gateway SLB
//! fronts its APIs with (Apigee's VerifyAPIKey answers: 401 with a `fault` object) — the
//! seeds show no error, so the shape is inferred (I). Keys are compared in constant time and
//! never logged or echoed.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use ccflow_protocol::ClientSecret;
use serde_json::json;

/// The header the key travels in (Delfi: `appkey`; HTTP header names are case-insensitive).
pub const APPKEY_HEADER: &str = "appkey";

/// The accepted keys; empty means the policy is off. Each is a secret (`ClientSecret`
/// compares in constant time and prints redacted).
#[derive(Debug, Clone, Default)]
pub(crate) struct AppKeys(Arc<[ClientSecret]>);

impl AppKeys {
    pub(crate) fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(keys.into_iter().map(ClientSecret::new).collect())
    }

    pub(crate) fn is_required(&self) -> bool {
        !self.0.is_empty()
    }

    /// Why `presented` is refused, if it is: no key, or none of ours. Every key is compared,
    /// so the time taken does not say which one matched.
    fn refusal(&self, presented: Option<&str>) -> Option<HttpResponse> {
        let Some(presented) = presented else {
            return Some(fault(
                "Failed to resolve API Key variable request.header.appkey",
                "steps.oauth.v2.FailedToResolveAPIKey",
            ));
        };
        let presented = ClientSecret::new(presented);
        let known = self
            .0
            .iter()
            .fold(false, |found, key| (*key == presented) | found);
        (!known).then(|| fault("Invalid ApiKey", "oauth.v2.InvalidApiKey"))
    }
}

/// The gateway's refusal: `401 {"fault":{"faultstring","detail":{"errorcode"}}}` (I).
fn fault(faultstring: &str, errorcode: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::UNAUTHORIZED).json(json!({
        "fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}
    }))
}

/// Lets a request through when the policy is off or its `appkey` is one of ours; runs
/// before the bearer token is looked at, as a gateway in front of the API would.
pub(super) async fn check<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let refusal = request
        .app_data::<web::Data<AppKeys>>()
        .filter(|keys| keys.is_required())
        .and_then(|keys| {
            let presented = request
                .headers()
                .get(APPKEY_HEADER)
                .map(|value| value.to_str().unwrap_or_default());
            keys.refusal(presented)
        });
    match refusal {
        Some(response) => Ok(request.into_response(response).map_into_right_body()),
        None => next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}
