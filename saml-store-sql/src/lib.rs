//! sea-orm stores for saml-tower on SQLite, PostgreSQL and MySQL/MariaDB:
//! the sessions and replay state every node must share, a user directory
//! with CSV import, and the audit log.
//!
//! - [`SqlStore`] is one handle that is the [`SessionStore`], the
//!   [`ReplayCache`] and the [`AuditSink`](saml_core::store::AuditSink), like
//!   `MemoryStore`. [`SqlStore::connect`] opens a pool and brings the schema
//!   up to date ([`SqlStore::migrate`], see [Migrations](#migrations)).
//! - [`SqlStore::users`] is the [`UserDirectory`]: users per provider, keyed
//!   by external ID, with an enabled flag, and a bulk CSV import
//!   ([`directory`]).
//! - [`DirectoryMapper`] puts the directory in front of sign-in: only
//!   pre-provisioned users, or users added just in time ([`mapper`]).
//! - [`SqlStore::audit_log`] reads the audit log back, newest first, and
//!   [`SqlStore::purge_audit_log`] applies a retention ([`audit`]).
//! - [`SqlStore::providers`] is the [`ProviderRegistry`]: provider
//!   connections (settings and metadata XML) kept in the database, a
//!   `MetadataResolver` over them; removing one removes its users and ends
//!   its sessions ([`registry`]).
//! - [`SqlStore::keys`] is the [`KeyStore`](saml_core::store::KeyStore): the
//!   SP's signing and decryption keys with rollover, private keys encrypted
//!   with AES-256-GCM under a [`KeyEncryptionKey`] the application supplies
//!   ([`keys`]).
//! - [`SqlStore`] is also saml-core's
//!   [`AdminBackend`](saml_core::admin::AdminBackend), what saml-tower's
//!   admin API (feature `admin`) drives: providers, users, CSV import and the
//!   audit log ([`admin`]).
//! - [`SqlStore::metadata_archive`] is saml-remote's `MetadataArchive`: the
//!   last good copy of each remote metadata URL, for every node and across
//!   restarts ([`archive`]).
//!
//! With the `tls-rustls` feature, PostgreSQL and MySQL/MariaDB connections
//! can use TLS (rustls on aws-lc-rs): put `sslmode=verify-full` (PostgreSQL)
//! or `ssl-mode=VERIFY_IDENTITY` (MySQL) in the URL; see `docs/storage.md`.
//!
//! How it behaves:
//!
//! - Single use holds across nodes: check-and-insert relies on the primary
//!   key (an `INSERT` that loses the race gets a unique violation), expired
//!   entries are revived by a conditional `UPDATE`, and a pending login is
//!   handed to whichever node's `DELETE` removed the row.
//! - Keys are stored as their SHA-256, so lookups compare bytes exactly on
//!   every database whatever its collation, and the session table never
//!   holds a usable session id (the layer passes only the id's hash; the
//!   store hashes that once more). The user directory keys users the same
//!   way, so `Alice` and `alice` are two users on MySQL too.
//! - Nothing reads the system clock: every method takes `now`. A row is
//!   expired at `now` when `expires_at <= now`. Expired rows are ignored on
//!   read and removed by `purge_expired` (call it from a periodic task).
//! - Every database error is a [`StoreError`]: `Conflict` for a duplicate
//!   key, `Unavailable` otherwise, so the layer fails closed (HTTP 503).
//!
//! ```
//! use chrono::{TimeDelta, Utc};
//! use saml_core::store::ReplayCache;
//! use saml_store_sql::SqlStore;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     // SQLite in memory; PostgreSQL or MySQL URLs work the same way.
//!     let store = SqlStore::connect("sqlite::memory:").await?;
//!     let now = Utc::now();
//!     let until = now + TimeDelta::minutes(5);
//!     assert!(store.insert_once("assertion-id", until, now).await?);
//!     // The same assertion ID again: a replay.
//!     assert!(!store.insert_once("assertion-id", until, now).await?);
//!     Ok::<(), saml_core::store::StoreError>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Migrations
//!
//! The schema is versioned with sea-orm-migration. Each migration is
//! recorded in the `saml_migrations` table (not sea-orm's default
//! `seaql_migrations`, so an application's own migrator on the same
//! database keeps its own history):
//!
//! | migration | what it does |
//! |---|---|
//! | `m20261123_000001_create_tables` | `saml_session`, `saml_replay`, `saml_pending`, exactly as the unversioned `migrate` of earlier releases created them |
//! | `m20261123_000002_add_indexes` | indexes on every `expires_at` (the purge) and on `saml_session.subject_hash` (IdP-initiated logout) |
//! | `m20261123_000003_create_users` | `saml_user`, the user directory |
//! | `m20261123_000004_create_audit_log` | `saml_audit`, the audit log |
//! | `m20261123_000005_create_providers` | `saml_provider`, the provider registry; `saml_session.provider_key` (what removing a provider ends sessions by) |
//! | `m20261123_000006_create_keys` | `saml_key`, the SP's keys, private halves encrypted |
//! | `m20261123_000007_create_metadata_archive` | `saml_metadata_archive`, the last good copy of each remote metadata URL |
//!
//! [`SqlStore::migrate`] (which [`SqlStore::connect`] calls) applies the
//! missing ones in order. It is idempotent, and safe when several nodes
//! start at once: it holds a database-wide lock while it runs (a
//! transaction-scoped advisory lock on PostgreSQL, with transactional DDL; a
//! named `GET_LOCK` on MySQL/MariaDB; an immediate write transaction on
//! SQLite), so one node migrates and the others wait, then find nothing to
//! do. A database made by the unversioned `migrate` of earlier releases (the
//! three tables, no `saml_migrations`) is adopted in place: its tables and
//! rows are kept, the first migration is recorded, the rest are applied.
//! A database migrated by a newer release (a migration this version does not
//! know) is refused with `StoreError::Unavailable` rather than used.
//! [`SqlStore::applied_migrations`] and [`SqlStore::known_migrations`] tell
//! where a database stands.
//!
//! This crate passes the shared conformance suite in `saml-testkit` on all
//! three databases. The user guide's `docs/storage.md` covers deployment:
//! the memory and SQL stores compared, several nodes, the directory and its
//! CSV format, the audit log, and writing a store of your own.

pub mod admin;
pub mod archive;
pub mod audit;
pub mod directory;
mod entity;
pub mod keys;
pub mod mapper;
mod migration;
pub mod registry;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use saml_core::store::{PendingLogin, ReplayCache, SessionRecord, SessionStore, StoreError};
use sea_orm::sea_query::Expr;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseBackend,
    DatabaseConnection, DbErr, EntityTrait, QueryFilter, SqlErr,
};

use entity::{pending, replay, session};

pub use archive::SqlMetadataArchive;
pub use audit::{AuditFilter, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT};
pub use directory::{
    DEFAULT_MAX_IMPORT_BYTES, DEFAULT_MAX_IMPORT_ROWS, DirectoryError, FailedRow, ImportError,
    ImportReport, ImportedRow, MAX_DISPLAY_NAME_LEN, MAX_EMAIL_LEN, MAX_EXTERNAL_ID_LEN,
    MAX_PAGE_SIZE, MAX_PROFILE_BYTES, MAX_PROVIDER_LEN, NewUser, RowProblem, User, UserDirectory,
};
pub use keys::{
    DEFAULT_KEY_CACHE_TTL, KekError, KeyEncryptionKey, KeyInfo, KeyPurpose, KeyStoreError,
    MAX_KEY_ID_LEN, NewKey, SqlKeyStore,
};
pub use mapper::{
    DEFAULT_EMAIL_ATTRIBUTES, DEFAULT_NAME_ATTRIBUTES, DirectoryMapper, REFUSED_CODE, SignInMode,
};
pub use registry::{ProviderRegistry, RegistryError, Removed, StoredProvider};
/// The sea-orm this crate is built on (for [`SqlStore::connect_with`]'s
/// `ConnectOptions` and [`SqlStore::from_connection`]).
pub use sea_orm;

/// How long an SQLite request waits for another writer before it fails (ms),
/// sqlx's default.
const SQLITE_BUSY_MILLIS: u32 = 5_000;

/// Sessions, replay keys, pending logins, users and the audit log in a SQL
/// database.
///
/// Cloning is cheap: clones share the connection pool.
#[derive(Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`,
    /// `postgres://...`, `mysql://...`) and brings the schema up to date
    /// ([`migrate`](Self::migrate)).
    ///
    /// The pool keeps sea-orm's defaults, without SQL statement logging;
    /// SQLite gets a single connection, so writers in one process never meet
    /// `SQLITE_BUSY` and an in-memory database lives as long as the store.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when the database cannot be reached or
    /// cannot be migrated.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false);
        Self::connect_with(options).await
    }

    /// Like [`connect`](Self::connect), with the pool configured by the
    /// caller (sizes, timeouts, logging). For SQLite the pool is still
    /// limited to one connection that is never recycled, and the database
    /// is switched to write-ahead logging.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when the database cannot be reached or
    /// cannot be migrated.
    pub async fn connect_with(mut options: ConnectOptions) -> Result<Self, StoreError> {
        if options.get_url().starts_with("sqlite:") {
            // One connection, never closed for idleness or age: an in-memory
            // database lives exactly as long as its connection.
            options.max_connections(1).min_connections(1);
            options.map_sqlx_sqlite_pool_opts(|pool| pool.idle_timeout(None).max_lifetime(None));
            // WAL: one fsync per commit instead of several, and readers in
            // other processes do not block the writer. Commits stay durable
            // (synchronous is left at FULL: a lost replay key could let an
            // assertion be used twice after a power cut).
            // Another process may be migrating the same file: opening (the
            // journal mode switch) and migrating wait for it as long as the
            // other databases wait for their migration lock. (One mapper:
            // a second call would replace the first.)
            options.map_sqlx_sqlite_opts(|sqlite| {
                sqlite.journal_mode(SqliteJournalMode::Wal).busy_timeout(
                    std::time::Duration::from_secs(migration::LOCK_WAIT_SECONDS.into()),
                )
            });
        }
        let sqlite = options.get_url().starts_with("sqlite:");
        let db = Database::connect(options).await.map_err(unavailable)?;
        let store = Self::from_connection(db);
        store.migrate().await?;
        if sqlite {
            // Requests wait for a busy database briefly, then fail closed (503).
            store
                .db
                .execute_unprepared(&format!("PRAGMA busy_timeout = {SQLITE_BUSY_MILLIS}"))
                .await
                .map_err(unavailable)?;
        }
        Ok(store)
    }

    /// Wraps an open connection; call [`migrate`](Self::migrate) unless the
    /// tables are managed elsewhere.
    #[must_use]
    pub fn from_connection(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The underlying connection (to share the pool with the application).
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Brings the schema up to date: applies every migration the database
    /// has not seen yet, oldest first, and records each in the
    /// `saml_migrations` table (see [Migrations](crate#migrations)).
    ///
    /// Safe to run on every start, and from several nodes at once: a
    /// database-wide lock lets one node migrate while the others wait, then
    /// find nothing left to do. A database whose tables were created by the
    /// unversioned `migrate` of earlier releases is adopted as it is.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when a statement fails, the lock is not
    /// granted within two minutes, or the database has migrations this
    /// version does not know (it was migrated by a newer release).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::run(&self.db).await.map_err(|e| {
            StoreError::Unavailable(format!("migrating the saml-store-sql schema failed: {e}"))
        })
    }

    /// The migrations recorded in `saml_migrations`, oldest first (empty
    /// before the first [`migrate`](Self::migrate)).
    ///
    /// # Errors
    /// `StoreError::Unavailable` when the database fails.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, StoreError> {
        migration::applied(&self.db).await.map_err(unavailable)
    }

    /// The migrations this version of the crate knows, oldest first:
    /// [`migrate`](Self::migrate) applies whichever of them are missing.
    #[must_use]
    pub fn known_migrations() -> Vec<String> {
        migration::names()
    }

    /// The database behind this store.
    #[must_use]
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }
}

/// A transaction that will write: on SQLite it takes the write lock at
/// `BEGIN`, so a read-then-write transaction waits for another writer (busy
/// timeout) instead of failing on a stale snapshot.
async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        db.begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..sea_orm::TransactionOptions::default()
        })
        .await
    } else {
        db.begin().await
    }
}

// The storage guide in `docs/` is plain Markdown; its Rust code blocks are
// compiled (and, unless marked `no_run`, run) as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../docs/storage.md")]
struct StorageGuide;

/// SHA-256 of `parts` joined by NUL, as lowercase hex.
fn key_hash(parts: &[&str]) -> String {
    saml_core::crypto::sha256_hex(parts.join("\0").as_bytes())
}

/// The stored form of an instant.
fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {us} out of range")))
}

fn unavailable(e: DbErr) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A unique violation is a `Conflict`; anything else fails closed.
fn insert_error(e: DbErr) -> StoreError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => StoreError::Conflict(detail),
        _ => unavailable(e),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create(&self, record: SessionRecord) -> Result<(), StoreError> {
        let row = session::ActiveModel {
            key_hash: Set(key_hash(&[&record.id_hash])),
            subject_hash: Set(key_hash(&[&record.user.provider, &record.user.name_id])),
            session_index_hash: Set(record.user.session_index.as_deref().map(|s| key_hash(&[s]))),
            record: Set(to_json(&record)?),
            last_seen: Set(micros(record.last_seen)),
            provider_key: Set(Some(key_hash(&[&record.user.provider]))),
            expires_at: Set(micros(record.expires_at)),
        };
        session::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn load(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = session::Entity::find_by_id(key_hash(&[id_hash]))
            .filter(session::Column::ExpiresAt.gt(micros(now)))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let mut record: SessionRecord = from_json(&row.record)?;
        if record.id_hash != id_hash {
            return Err(StoreError::Corrupt(
                "session row under the wrong key".to_owned(),
            ));
        }
        record.last_seen = from_micros(row.last_seen)?;
        Ok(Some(record))
    }

    async fn touch(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeen, Expr::value(micros(now)))
            .filter(session::Column::KeyHash.eq(key_hash(&[id_hash])))
            .filter(session::Column::ExpiresAt.gt(micros(now)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete(&self, id_hash: &str) -> Result<(), StoreError> {
        session::Entity::delete_many()
            .filter(session::Column::KeyHash.eq(key_hash(&[id_hash])))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete_by_subject(
        &self,
        provider: &str,
        name_id: &str,
        session_index: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut query = session::Entity::delete_many()
            .filter(session::Column::SubjectHash.eq(key_hash(&[provider, name_id])));
        if let Some(index) = session_index {
            query = query.filter(session::Column::SessionIndexHash.eq(key_hash(&[index])));
        }
        let done = query.exec(&self.db).await.map_err(unavailable)?;
        Ok(done.rows_affected)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(micros(now)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected)
    }
}

#[async_trait]
impl ReplayCache for SqlStore {
    async fn insert_once(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let hash = key_hash(&[key]);
        let row = replay::ActiveModel {
            key_hash: Set(hash.clone()),
            expires_at: Set(micros(expires_at)),
        };
        match replay::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => {
                // Seen before: only an expired entry may be taken over, and
                // the conditional UPDATE lets exactly one node do it.
                let done = replay::Entity::update_many()
                    .col_expr(replay::Column::ExpiresAt, Expr::value(micros(expires_at)))
                    .filter(replay::Column::KeyHash.eq(hash))
                    .filter(replay::Column::ExpiresAt.lte(micros(now)))
                    .exec(&self.db)
                    .await
                    .map_err(unavailable)?;
                Ok(done.rows_affected == 1)
            }
            Err(e) => Err(e),
        }
    }

    async fn save_pending(&self, pending: PendingLogin) -> Result<(), StoreError> {
        let row = pending::ActiveModel {
            key_hash: Set(key_hash(&[&pending.request_id])),
            record: Set(to_json(&pending)?),
            expires_at: Set(micros(pending.expires_at)),
        };
        pending::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn take_pending(
        &self,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingLogin>, StoreError> {
        let hash = key_hash(&[request_id]);
        let Some(row) = pending::Entity::find_by_id(hash.clone())
            .one(&self.db)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        // Whoever deletes the row owns it: one winner however many nodes race.
        let done = pending::Entity::delete_many()
            .filter(pending::Column::KeyHash.eq(hash))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if done.rows_affected != 1 || row.expires_at <= micros(now) {
            return Ok(None);
        }
        let pending: PendingLogin = from_json(&row.record)?;
        if pending.request_id != request_id {
            return Err(StoreError::Corrupt(
                "pending row under the wrong key".to_owned(),
            ));
        }
        Ok(Some(pending))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let replay = replay::Entity::delete_many()
            .filter(replay::Column::ExpiresAt.lte(micros(now)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        let pending = pending::Entity::delete_many()
            .filter(pending::Column::ExpiresAt.lte(micros(now)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(replay.rows_affected.saturating_add(pending.rows_affected))
    }
}
