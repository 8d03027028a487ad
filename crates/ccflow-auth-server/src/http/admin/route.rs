//! One admin route: a handler served at the method and path its `#[utoipa::path]` operation
//! names, so the method and path are written once, in the operation the OpenAPI document shows.
//! (utoipa's `actix_extras` would read them from actix-web's `#[get("…")]` instead, but it
//! compiles `regex` into every crate that embeds the server; see docs/performance.md.)

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Resource, Responder, guard, web};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa_actix_web::OpenApiFactory;

/// A handler and its operation, for utoipa-actix-web's `service`: it mounts the one and adds
/// the other to the document.
pub(super) struct Route<P> {
    operation: P,
    resource: Resource,
}

/// `handler` at the method and path of `operation` (the struct `#[utoipa::path]` generates
/// for it, `__path_<handler>`). One method per operation: a second method is a second handler.
pub(super) fn route<P, F, Args>(operation: P, handler: F) -> Route<P>
where
    P: utoipa::Path,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let method = match P::methods().as_slice() {
        [method] => http_method(method),
        methods => panic!(
            "the admin operation at {} names {} methods; give each its own handler",
            P::path(),
            methods.len()
        ),
    };
    // A guard on the resource, as actix-web's `#[get("…")]` builds it: a request with another
    // method goes on to the next resource with this path, then to the scope's 404/405.
    let resource = web::resource(P::path())
        .guard(guard::Method(method))
        .to(handler);
    Route {
        operation,
        resource,
    }
}

fn http_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

impl<P> HttpServiceFactory for Route<P> {
    fn register(self, config: &mut AppService) {
        self.resource.register(config);
    }
}

impl<P: OpenApiFactory> OpenApiFactory for Route<P> {
    fn paths(&self) -> Paths {
        self.operation.paths()
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        self.operation.schemas(schemas);
    }
}
