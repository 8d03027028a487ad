//! actix-web integration, one file per idea: the `Authenticated` extractor (and the request →
//! `RequestCredentials` translation), the per-route policy middlewares (`RequireScope`,
//! `RequireAudience`, `RequireToken`, `TokenBinding`), and the rendering of every refusal.

mod challenge;
mod extractor;
mod middleware;

pub use middleware::PolicyMiddleware;
