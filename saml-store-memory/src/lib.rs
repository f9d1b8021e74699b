//! In-memory implementations of the saml-tower component traits (sessions, replay
//! cache, metadata, keys, users), for tests and single-node deployments.
//!
//! **Status: not implemented yet.** See the README's status table.
