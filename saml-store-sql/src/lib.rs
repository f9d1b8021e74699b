//! sea-orm implementations of the saml-tower component traits for SQLite,
//! PostgreSQL and MySQL/MariaDB, with migrations.
//!
//! **Status: not implemented yet.** See the README's status table.
