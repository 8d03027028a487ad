//! The per-route policy middlewares (`RequireScope`, `RequireAudience`, `RequireToken`, and a
//! [`TokenBinding`] for a route's accepted schemes): each authenticates once per request,
//! refuses a token in a form body, then checks its policy.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::web::{Bytes, BytesMut};
use futures_util::StreamExt as _;

use crate::actix::challenge::refusal;
use crate::actix::extractor::{log_rejection, scheme_of, validator_of};
use crate::authenticated::Authenticated;
use crate::dpop::TokenBinding;
use crate::error::{AuthError, RequestRejection};
use crate::form::{self, MAX_FORM_BODY_BYTES};
use crate::policy::{Policy, RequireAudience, RequireScope, RequireToken};
use crate::validator::Validator;

/// The middlewares differ only in their policy; one `Transform` each,
/// all building the same service.
macro_rules! policy_transform {
    ($middleware:ty) => {
        impl<S, B> Transform<S, ServiceRequest> for $middleware
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
                + 'static,
            B: MessageBody + 'static,
        {
            type Response = ServiceResponse<EitherBody<B>>;
            type Error = actix_web::Error;
            type Transform = PolicyMiddleware<S>;
            type InitError = ();
            type Future = Ready<Result<Self::Transform, Self::InitError>>;

            fn new_transform(&self, service: S) -> Self::Future {
                ready(Ok(PolicyMiddleware {
                    service: Rc::new(service),
                    policy: self.policy(),
                }))
            }
        }
    };
}

policy_transform!(RequireScope);
policy_transform!(RequireAudience);
policy_transform!(RequireToken);
policy_transform!(TokenBinding);

/// The service the policy middlewares wrap a route in.
#[derive(Debug)]
pub struct PolicyMiddleware<S> {
    service: Rc<S>,
    policy: Arc<Policy>,
}

impl<S, B> Service<ServiceRequest> for PolicyMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let validator = validator_of(request.request());
            let outcome = match &validator {
                Some(validator) => authorize(validator, &mut request, &policy).await,
                None => Err(AuthError::NotConfigured),
            };
            match outcome {
                Ok(authenticated) => {
                    request.extensions_mut().insert(authenticated);
                    service
                        .call(request)
                        .await
                        .map(ServiceResponse::map_into_left_body)
                }
                Err(error) => {
                    log_rejection(request.request(), &error);
                    let binding = match &*policy {
                        Policy::Binding(binding) => Some(*binding),
                        _ => None,
                    };
                    let scheme = scheme_of(request.request());
                    let response = refusal(validator.as_ref(), &error, binding, scheme);
                    Ok(request.into_response(response).map_into_right_body())
                }
            }
        })
    }
}

/// Authenticates once per request (an outer middleware's result is reused),
/// checks the form-body transport, then the policy.
async fn authorize(
    validator: &Validator,
    request: &mut ServiceRequest,
    policy: &Policy,
) -> Result<Authenticated, AuthError> {
    let known = request.extensions().get::<Authenticated>().cloned();
    crate::authenticated::authorize(policy, known, validator.token_binding(), async |binding| {
        check_form_body(request).await?;
        validator
            .authenticate_with(request.request(), binding)
            .await
    })
    .await
}

fn is_form(request: &ServiceRequest) -> bool {
    form::is_form(
        request
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .map(|value| value.as_bytes()),
    )
}

/// RFC 6750 §2.2's form-body transport is not supported, and a token there
/// besides the header breaks §2's one-method rule: either way 400. The body is
/// read (up to [`MAX_FORM_BODY_BYTES`]) and put back for the handler.
async fn check_form_body(request: &mut ServiceRequest) -> Result<(), AuthError> {
    if !is_form(request) {
        return Ok(());
    }
    let mut payload = request.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        // Never hand the handler a silently truncated body.
        let chunk = chunk.map_err(|_| RequestRejection::UnreadableBody)?;
        if body.len() + chunk.len() > MAX_FORM_BODY_BYTES {
            return Err(form::too_large().into());
        }
        body.extend_from_slice(&chunk);
    }
    let body: Bytes = body.freeze();
    let verdict = form::check_body(
        &body,
        request
            .headers()
            .contains_key(actix_web::http::header::AUTHORIZATION),
    );
    request.set_payload(Payload::from(body));
    Ok(verdict?)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn reads_the_form_media_type_case_insensitively_and_ignores_parameters() {
        #[track_caller]
        fn check(content_type: Option<&str>, expected: bool) {
            let mut request = TestRequest::post();
            if let Some(value) = content_type {
                request = request.insert_header(("content-type", value));
            }
            assert_eq!(
                is_form(&request.to_srv_request()),
                expected,
                "{content_type:?}"
            );
        }
        check(Some("application/x-www-form-urlencoded"), true);
        check(Some("Application/X-WWW-Form-URLEncoded"), true);
        check(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            true,
        );
        check(
            Some("application/x-www-form-urlencoded ; charset=utf-8"),
            true,
        );
        check(Some("application/x-www-form-urlencoded; charset"), true);
        check(Some("application/x-www-form-urlencoded;"), true);
        check(Some("application/x-www-form-urlencodedx"), false);
        check(Some("application/x-www-form"), false);
        check(Some("multipart/form-data; boundary=x"), false);
        check(Some("application/json"), false);
        check(Some(""), false);
        check(None, false);
    }
}
