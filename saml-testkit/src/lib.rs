//! Test support shared across the workspace:
//! - `conformance` (feature `conformance`): the one suite every store
//!   implementation runs (expiry, single use under concurrency, not-found,
//!   delete by subject, bad input), so stores cannot drift apart;
//! - [`dev_idp`]: a development identity provider that answers real,
//!   signed (optionally encrypted) SAML responses, for the example server,
//!   local development and end-to-end tests.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod dev_idp;
