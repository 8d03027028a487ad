//! Test control: fault scenarios, the request journal and expectations over it,
//! failed-authentication throttling, request size limits, and the bad-token and bad-proof
//! factories.

pub(crate) mod expect;
pub(crate) mod journal;
pub(crate) mod limits;
pub(crate) mod mint;
pub(crate) mod proofs;
pub(crate) mod scenarios;
pub(crate) mod throttle;
