//! actix-web integration, one file per idea: the `Authenticated` extractor, the per-route policy
//! middlewares (`RequireScope`, `RequireAudience`, `RequireToken`) over the policies they check,
//! and the RFC 6750 rendering of every refusal.

mod challenge;
mod extractor;
mod middleware;
mod policy;

pub use extractor::Authenticated;
pub use middleware::{
    MAX_FORM_BODY_BYTES, PolicyMiddleware, RequireAudience, RequireScope, RequireToken,
};
