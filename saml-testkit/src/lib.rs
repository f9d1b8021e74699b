//! Test support shared by every store crate: the store conformance suite and a
//! development identity provider that signs and encrypts real responses.
//!
//! **Status: not implemented yet.** See the README's status table.
