//! The sample protected API the `ccflow-resource-api` binary serves: an items store behind
//! per-route scopes, mountable in any `App` (or `actix_web::test::init_service`) with
//! [`configure`].
//!
//! | route | needs |
//! | --- | --- |
//! | `GET /healthz` | nothing (liveness) |
//! | `GET /readyz` | nothing (readiness: 200 once the issuer's keys are loaded, else 503) |
//! | `GET /v1/whoami` | any valid token |
//! | `GET /v1/dpop/whoami` | any valid DPoP-bound token with its proof (RFC 9449 §7), whatever the API's token binding |
//! | `GET /v1/items`, `GET /v1/items/{id}` | `items:read` |
//! | `POST /v1/items`, `DELETE /v1/items/{id}` | `items:write` |
//!
//! The other `/v1` routes accept tokens as the validator's
//! [`token_binding`](crate::ValidatorBuilder::token_binding) says; the binary's settings make
//! that `either` unless configured otherwise. With [`SampleApi::require_appkeys`], every `/v1`
//! route also wants SLB's `appkey` header.

mod appkey;
mod config;
mod handlers;
mod items;

use actix_web::web;

pub use appkey::APPKEY_HEADER;
pub use config::{ConfigError, DpopFileSettings, IssuerFileSettings, JwksFileSettings, Settings};
pub use items::{Item, ItemStore, MAX_ITEMS, NewItem, StoreFull};

use crate::Validator;

/// The largest `POST /v1/items` body; bigger ones are answered 413.
pub const MAX_ITEM_BODY_BYTES: usize = 64 * 1024;
/// The route that accepts DPoP-bound tokens with their proof only.
pub const DPOP_WHOAMI_PATH: &str = "/v1/dpop/whoami";
/// The scope that reads items.
pub const READ_SCOPE: &str = "items:read";
/// The scope that creates and deletes items.
pub const WRITE_SCOPE: &str = "items:write";

/// The sample API's state: the validator and the in-memory store. Cheap to
/// clone; clones share the store.
#[derive(Debug, Clone)]
pub struct SampleApi {
    validator: Validator,
    store: ItemStore,
    authorize_by_audience: bool,
    clock: Option<ccflow_protocol::VirtualClock>,
    appkeys: appkey::AppKeys,
}

impl SampleApi {
    /// An API with an empty store.
    pub fn new(validator: Validator) -> Self {
        Self {
            validator,
            store: ItemStore::new(),
            authorize_by_audience: false,
            clock: None,
            appkeys: appkey::AppKeys::default(),
        }
    }

    /// Serves `GET`/`POST /_ccflow/clock` (loopback peers only) to move `clock`, which should be
    /// the validator's clock: end-to-end tests expire tokens on both sides without waiting.
    /// The command model is the mock authorization server's (`VirtualClock::apply_command`).
    #[must_use]
    pub fn with_clock_control(mut self, clock: ccflow_protocol::VirtualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    pub(crate) fn clock_control(&self) -> Option<&ccflow_protocol::VirtualClock> {
        self.clock.as_ref()
    }

    /// Authorises the item routes by audience alone, as SLB APIs do (VENDORS.md): any valid
    /// token, whose `aud` the validator has already checked, may read and write; scopes are
    /// not required.
    #[must_use]
    pub fn authorize_by_audience(mut self, enabled: bool) -> Self {
        self.authorize_by_audience = enabled;
        self
    }

    /// Requires an `appkey` header holding one of `keys` on every `/v1` route, checked before
    /// the bearer token, as SLB's Delfi APIs do (VENDORS.md, D); a missing or unknown key is
    /// answered 401 with the gateway's `fault` body (I). No keys: no such policy.
    #[must_use]
    pub fn require_appkeys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.appkeys = appkey::AppKeys::new(keys);
        self
    }

    /// Whether the `/v1` routes require an `appkey` header.
    pub fn requires_appkey(&self) -> bool {
        self.appkeys.is_required()
    }

    pub(crate) fn appkeys(&self) -> &appkey::AppKeys {
        &self.appkeys
    }

    /// Whether the item routes authorise by audience alone.
    pub fn authorizes_by_audience(&self) -> bool {
        self.authorize_by_audience
    }

    /// The validator guarding the routes.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// The items store.
    pub fn store(&self) -> &ItemStore {
        &self.store
    }
}

/// Mounts the routes, the validator (as app data) and JSON 404/405 answers in
/// an `App`: `App::new().configure(configure(api))`.
pub fn configure(api: SampleApi) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |config: &mut web::ServiceConfig| handlers::mount(config, &api)
}
