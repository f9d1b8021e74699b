//! Versioned schema migrations (sea-orm-migration), recorded in the
//! `saml_migrations` table so they never mix with an application's own
//! sea-orm migrator (which uses `seaql_migrations`).
//!
//! | migration | what it does |
//! |---|---|
//! | `m20261123_000001_create_tables` | `saml_session`, `saml_replay`, `saml_pending`, exactly as the unversioned `migrate` of earlier releases created them |
//! | `m20261123_000002_add_indexes` | indexes on every `expires_at` (purging) and on `saml_session.subject_hash` (IdP-initiated logout) |
//! | `m20261123_000003_create_users` | `saml_user`, the user directory |
//! | `m20261123_000004_create_audit_log` | `saml_audit`, the audit log |
//! | `m20261123_000005_create_providers` | `saml_provider`, the provider registry; `saml_session.provider_key` |
//! | `m20261123_000006_create_keys` | `saml_key`, the SP's keys (private halves encrypted) |
//! | `m20261123_000007_create_metadata_archive` | `saml_metadata_archive`, last good copies of remote metadata |
//!
//! Every step is idempotent (`IF NOT EXISTS`, indexes created only when
//! absent), so a database whose tables were made by the old unversioned
//! `migrate` (tables present, no `saml_migrations`) upgrades in place: the
//! first step finds its tables, leaves them and their rows alone, and is
//! recorded; the later steps add what is missing. The same holds for a
//! MySQL run that stopped half-way (MySQL cannot roll DDL back).
//!
//! [`run`] holds a database-wide lock for the whole run, so several nodes
//! may start at once: one migrates, the others wait and then find nothing to
//! do. PostgreSQL uses a transaction-scoped advisory lock (and transactional
//! DDL: a failed run leaves nothing behind), MySQL/MariaDB a named lock
//! (`GET_LOCK`) on one pinned connection, SQLite an immediate (write)
//! transaction.

// `MigrationTrait::up` takes `&SchemaManager` without its lifetime, and an
// `async_trait` impl must match that signature.
#![allow(elided_lifetimes_in_paths)]

mod m20261123_000001_create_tables;
mod m20261123_000002_add_indexes;
mod m20261123_000003_create_users;
mod m20261123_000004_create_audit_log;
mod m20261123_000005_create_providers;
mod m20261123_000006_create_keys;
mod m20261123_000007_create_metadata_archive;

use sea_orm::sea_query::{Alias, ColumnDef, IntoIden};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, DynIden, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager};

/// The migration history table.
pub(crate) const MIGRATION_TABLE: &str = "saml_migrations";

/// How long a node waits for another node's migration run, in seconds.
pub(crate) const LOCK_WAIT_SECONDS: u32 = 120;

/// The crate's migrations, in order.
#[derive(Debug)]
pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tables::Migration),
            Box::new(m20261123_000002_add_indexes::Migration),
            Box::new(m20261123_000003_create_users::Migration),
            Box::new(m20261123_000004_create_audit_log::Migration),
            Box::new(m20261123_000005_create_providers::Migration),
            Box::new(m20261123_000006_create_keys::Migration),
            Box::new(m20261123_000007_create_metadata_archive::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new(MIGRATION_TABLE).into_iden()
    }
}

/// The names of every migration this version knows, oldest first.
pub(crate) fn names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// Applies every pending migration under a database-wide lock.
pub(crate) async fn run(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db.begin().await?;
            // Waits for a concurrent run; the lock is released at commit or
            // rollback. Keyed by schema, so separate schemas don't queue.
            txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
                .await?;
            txn.execute_unprepared(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.saml_migrations'))",
            )
            .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        DatabaseBackend::MySql => {
            // A transaction pins one connection for GET_LOCK/RELEASE_LOCK
            // (the DDL commits implicitly; the lock is what serialises).
            let txn = db.begin().await?;
            let lock_name = "CONCAT('saml_migrations.', MD5(COALESCE(DATABASE(), '')))";
            let row = txn
                .query_one_raw(Statement::from_string(
                    DatabaseBackend::MySql,
                    format!("SELECT GET_LOCK({lock_name}, {LOCK_WAIT_SECONDS}) AS got"),
                ))
                .await?;
            let got: Option<i64> = match row {
                Some(row) => row.try_get("", "got")?,
                None => None,
            };
            if got != Some(1) {
                return Err(DbErr::Migration(format!(
                    "another node held the migration lock for over {LOCK_WAIT_SECONDS} s"
                )));
            }
            let result = Migrator::up(&txn, None).await;
            let released = txn
                .execute_unprepared(&format!("DO RELEASE_LOCK({lock_name})"))
                .await;
            result?;
            released?;
            txn.commit().await
        }
        DatabaseBackend::Sqlite => {
            // BEGIN IMMEDIATE takes the write lock up front: a second process
            // waits (busy timeout) instead of failing on a stale snapshot.
            let txn = db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        other => Err(DbErr::BackendNotSupported {
            db: other.as_str(),
            ctx: "saml-store-sql migrations",
        }),
    }
}

/// A `varchar(len)` column `name` compared exactly: MySQL's default
/// collations fold case and ignore trailing spaces, so text that queries
/// filter on gets a binary collation there.
fn exact_string(manager: &SchemaManager<'_>, name: &str, len: u32) -> ColumnDef {
    let mut column = ColumnDef::new(Alias::new(name));
    if manager.get_database_backend() == DatabaseBackend::MySql {
        column.custom(Alias::new(format!(
            "varchar({len}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )));
    } else {
        column.string_len(len);
    }
    column
}

/// Creates index `name` on `table(columns)` unless it exists.
async fn create_index(
    manager: &SchemaManager<'_>,
    table: &str,
    name: &str,
    columns: &[&str],
) -> Result<(), DbErr> {
    if manager.has_index(table, name).await? {
        return Ok(());
    }
    let mut index = sea_orm::sea_query::Index::create();
    index.name(name).table(Alias::new(table));
    for column in columns {
        index.col(Alias::new(*column));
    }
    manager.create_index(index).await
}

/// The migrations recorded in the history table, oldest first; none when
/// the table does not exist.
pub(crate) async fn applied(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_applied_migrations_read_only(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}
