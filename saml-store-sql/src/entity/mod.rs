//! The tables, as sea-orm entities. The schema itself comes from the
//! migrations in `crate::migration`, never from these definitions.
//!
//! Every key column holds the SHA-256 (hex) of the caller's key, not the key
//! itself: lookups are then exact byte comparisons on every database (MySQL's
//! default collations fold case and ignore trailing spaces), keys of any
//! length fit a fixed-width primary key, and the tables never hold a usable
//! session id.
//!
//! Times are microseconds since the Unix epoch in a BIGINT, which every
//! backend compares the same way.

// The derive macros generate public items (Column, ActiveModel, ...) that
// stay private to the crate.
#![allow(unreachable_pub, missing_docs)]

pub(crate) mod audit;
pub(crate) mod key;
pub(crate) mod metadata_archive;
pub(crate) mod pending;
pub(crate) mod provider;
pub(crate) mod replay;
pub(crate) mod session;
pub(crate) mod user;
