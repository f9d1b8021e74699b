//! The three original tables. Frozen: this must keep producing exactly the
//! schema that the unversioned `migrate` of earlier releases created (a unit
//! test compares the SQL), with `IF NOT EXISTS`, so that such databases are
//! adopted as they are.

use sea_orm::sea_query::{Alias, ColumnDef, Table, TableCreateStatement};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The `CREATE TABLE IF NOT EXISTS` statements, in order.
pub(super) fn statements() -> [TableCreateStatement; 3] {
    let session = Table::create()
        .table(Alias::new("saml_session"))
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new("key_hash"))
                .string()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Alias::new("subject_hash"))
                .string()
                .not_null(),
        )
        .col(ColumnDef::new(Alias::new("session_index_hash")).string())
        .col(ColumnDef::new(Alias::new("record")).text().not_null())
        .col(
            ColumnDef::new(Alias::new("last_seen"))
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("expires_at"))
                .big_integer()
                .not_null(),
        )
        .to_owned();
    let replay = Table::create()
        .table(Alias::new("saml_replay"))
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new("key_hash"))
                .string()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Alias::new("expires_at"))
                .big_integer()
                .not_null(),
        )
        .to_owned();
    let pending = Table::create()
        .table(Alias::new("saml_pending"))
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new("key_hash"))
                .string()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Alias::new("record")).text().not_null())
        .col(
            ColumnDef::new(Alias::new("expires_at"))
                .big_integer()
                .not_null(),
        )
        .to_owned();
    [session, replay, pending]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in statements() {
            manager.create_table(table).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::DatabaseBackend;

    /// What the unversioned `migrate` ran (`create_table_from_entity(..)
    /// .if_not_exists()` on the three entities), per backend.
    const OLD_SQL: [(DatabaseBackend, [&str; 3]); 3] = [
        (
            DatabaseBackend::Sqlite,
            [
                r#"CREATE TABLE IF NOT EXISTS "saml_session" ( "key_hash" varchar NOT NULL PRIMARY KEY, "subject_hash" varchar NOT NULL, "session_index_hash" varchar, "record" text NOT NULL, "last_seen" integer NOT NULL, "expires_at" integer NOT NULL )"#,
                r#"CREATE TABLE IF NOT EXISTS "saml_replay" ( "key_hash" varchar NOT NULL PRIMARY KEY, "expires_at" integer NOT NULL )"#,
                r#"CREATE TABLE IF NOT EXISTS "saml_pending" ( "key_hash" varchar NOT NULL PRIMARY KEY, "record" text NOT NULL, "expires_at" integer NOT NULL )"#,
            ],
        ),
        (
            DatabaseBackend::Postgres,
            [
                r#"CREATE TABLE IF NOT EXISTS "saml_session" ( "key_hash" varchar NOT NULL PRIMARY KEY, "subject_hash" varchar NOT NULL, "session_index_hash" varchar, "record" text NOT NULL, "last_seen" bigint NOT NULL, "expires_at" bigint NOT NULL )"#,
                r#"CREATE TABLE IF NOT EXISTS "saml_replay" ( "key_hash" varchar NOT NULL PRIMARY KEY, "expires_at" bigint NOT NULL )"#,
                r#"CREATE TABLE IF NOT EXISTS "saml_pending" ( "key_hash" varchar NOT NULL PRIMARY KEY, "record" text NOT NULL, "expires_at" bigint NOT NULL )"#,
            ],
        ),
        (
            DatabaseBackend::MySql,
            [
                "CREATE TABLE IF NOT EXISTS `saml_session` ( `key_hash` varchar(255) NOT NULL PRIMARY KEY, `subject_hash` varchar(255) NOT NULL, `session_index_hash` varchar(255), `record` text NOT NULL, `last_seen` bigint NOT NULL, `expires_at` bigint NOT NULL )",
                "CREATE TABLE IF NOT EXISTS `saml_replay` ( `key_hash` varchar(255) NOT NULL PRIMARY KEY, `expires_at` bigint NOT NULL )",
                "CREATE TABLE IF NOT EXISTS `saml_pending` ( `key_hash` varchar(255) NOT NULL PRIMARY KEY, `record` text NOT NULL, `expires_at` bigint NOT NULL )",
            ],
        ),
    ];

    #[test]
    fn same_sql_as_the_unversioned_migrate() {
        for (backend, old) in OLD_SQL {
            for (old, new) in old.iter().zip(super::statements()) {
                assert_eq!(*old, backend.build(&new).sql, "{backend:?}");
            }
        }
    }
}
