//! The user directory: the users each identity provider may sign in, keyed
//! by (provider, external ID), in the `saml_user` table.
//!
//! A [`UserDirectory`] comes from [`SqlStore::users`]. It adds, reads, lists
//! (per provider, a page at a time), enables and disables, and removes users,
//! and imports them in bulk from CSV ([`UserDirectory::import_csv`]).
//! [`DirectoryMapper`](crate::DirectoryMapper) puts it in front of sign-in.
//!
//! External IDs are matched exactly (case and spaces count) on every
//! database: the row key is the SHA-256 of provider and external ID, so
//! MySQL's case-folding collations cannot merge `Alice` and `alice`.
//!
//! # CSV import
//!
//! The first line is a header. One column must be named `ExternalId`; `email`
//! and `name` (display name) are optional; header names are matched without
//! regard to case or surrounding spaces. Any other column is kept in the
//! user's profile (a JSON object of strings) under its header name; empty
//! cells are left out. Cells are trimmed; blank lines are skipped; a UTF-8 BOM
//! is ignored.
//!
//! ```text
//! ExternalId,email,name,department
//! alice@example.com,alice@example.com,Alice Liddell,Research
//! bob,,Bob,
//! ```
//!
//! Every row stands alone: a row is either added whole or not at all, a bad
//! row is reported (with its line number and the reason) and does not stop
//! the others, a row whose user already exists is skipped and reported, and
//! a second row with the same external ID is reported as a duplicate of the
//! first. Rows are written in batches, each in one transaction.
//!
//! The whole file is refused, before anything is written, when it is empty,
//! has no `ExternalId` column, names a column twice, has a header that is not
//! UTF-8, is over [`DEFAULT_MAX_IMPORT_BYTES`] (16 MiB) or holds over
//! [`DEFAULT_MAX_IMPORT_ROWS`] (100,000) rows; both caps can be changed with
//! [`UserDirectory::with_max_import_bytes`] and
//! [`UserDirectory::with_max_import_rows`].
//!
//! ```
//! use chrono::Utc;
//! use saml_store_sql::SqlStore;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let store = SqlStore::connect("sqlite::memory:").await?;
//!     let users = store.users();
//!     let csv = "ExternalId,Email,Name\nalice,alice@example.com,Alice\nbob,not-an-email,Bob\nalice,,Again\n";
//!     let report = users.import_csv("okta", csv.as_bytes(), Utc::now()).await?;
//!     assert_eq!(report.added.len(), 1);
//!     assert_eq!(report.failed.len(), 2); // line 3: bad email; line 4: duplicate of line 2
//!     assert_eq!(report.failed[0].line, 3);
//!     assert!(users.get("okta", "alice").await?.is_some_and(|u| u.enabled));
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;

use chrono::{DateTime, Utc};
use saml_core::store::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entity::user;
use crate::{
    SqlStore, from_json, from_micros, insert_error, key_hash, micros, to_json, unavailable,
};

/// Default cap on the size of one CSV import: 16 MiB.
pub const DEFAULT_MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;
/// Default cap on the number of rows of one CSV import: 100,000.
pub const DEFAULT_MAX_IMPORT_ROWS: usize = 100_000;
/// The most users one [`UserDirectory::list`] call returns.
pub const MAX_PAGE_SIZE: u64 = 1_000;

/// Longest provider name, in characters.
pub const MAX_PROVIDER_LEN: usize = 255;
/// Longest external ID, in characters.
pub const MAX_EXTERNAL_ID_LEN: usize = 1_024;
/// Longest email address, in characters.
pub const MAX_EMAIL_LEN: usize = 320;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_LEN: usize = 256;
/// Largest profile, in bytes of JSON.
pub const MAX_PROFILE_BYTES: usize = 64 * 1024;

/// Rows written per transaction by the CSV import.
const IMPORT_BATCH: usize = 500;
/// Attempts per batch when a concurrent writer adds one of its users.
const IMPORT_ATTEMPTS: usize = 3;

/// A user in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The provider (IdP configuration name).
    pub provider: String,
    /// The user's ID at that provider (by default the NameID).
    pub external_id: String,
    /// Whether the user may sign in.
    pub enabled: bool,
    /// Email address.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Anything else, as a JSON object.
    pub profile: Map<String, Value>,
    /// When the user was added.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A user to add: provider and external ID, enabled unless said otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct NewUser {
    provider: String,
    external_id: String,
    enabled: bool,
    email: Option<String>,
    display_name: Option<String>,
    profile: Map<String, Value>,
}

impl NewUser {
    /// An enabled user with no email, display name or profile.
    pub fn new(provider: impl Into<String>, external_id: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            external_id: external_id.into(),
            enabled: true,
            email: None,
            display_name: None,
            profile: Map::new(),
        }
    }

    /// Sets the email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the display name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the profile (a JSON object).
    pub fn profile(mut self, profile: Map<String, Value>) -> Self {
        self.profile = profile;
        self
    }

    /// Whether the user may sign in (default `true`).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Checks every field; the first problem found.
    fn check(&self) -> Result<(), Invalid> {
        check_provider(&self.provider)?;
        check_text("external_id", &self.external_id, MAX_EXTERNAL_ID_LEN)?;
        if let Some(email) = &self.email {
            check_email(email)?;
        }
        if let Some(name) = &self.display_name {
            check_text("display_name", name, MAX_DISPLAY_NAME_LEN)?;
        }
        Ok(())
    }

    fn row(&self, now: DateTime<Utc>) -> Result<user::ActiveModel, DirectoryError> {
        self.check()?;
        let profile = to_json(&self.profile)?;
        if profile.len() > MAX_PROFILE_BYTES {
            return Err(
                Invalid::new("profile", format!("over {MAX_PROFILE_BYTES} bytes of JSON")).into(),
            );
        }
        Ok(user::ActiveModel {
            key_hash: Set(user_key(&self.provider, &self.external_id)),
            provider: Set(self.provider.clone()),
            provider_key: Set(provider_key(&self.provider)),
            external_id: Set(self.external_id.clone()),
            enabled: Set(self.enabled),
            email: Set(self.email.clone()),
            display_name: Set(self.display_name.clone()),
            profile: Set(profile),
            created_at: Set(micros(now)),
            updated_at: Set(micros(now)),
        })
    }
}

/// A field that fails validation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Invalid {
    field: &'static str,
    reason: String,
}

impl Invalid {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl From<Invalid> for DirectoryError {
    fn from(e: Invalid) -> Self {
        Self::Invalid {
            field: e.field,
            reason: e.reason,
        }
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(field, "is empty"));
    }
    if value.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "contains control characters"));
    }
    Ok(())
}

fn check_provider(provider: &str) -> Result<(), Invalid> {
    check_text("provider", provider, MAX_PROVIDER_LEN)
}

fn check_email(email: &str) -> Result<(), Invalid> {
    check_text("email", email, MAX_EMAIL_LEN)?;
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "email",
            format!("`{email}` is not an email address"),
        ))
    }
}

/// What a provider's users are found by: exact on every database.
fn provider_key(provider: &str) -> String {
    key_hash(&[provider])
}

/// The row key of a user.
fn user_key(provider: &str, external_id: &str) -> String {
    key_hash(&[provider, external_id])
}

/// Why a directory call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// A field is not acceptable (empty, too long, not an email address...).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field (`provider`, `external_id`, `email`, `display_name`, `profile`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A user with this provider and external ID already exists.
    #[error("user `{external_id}` of provider `{provider}` already exists")]
    AlreadyExists {
        /// The provider.
        provider: String,
        /// The external ID.
        external_id: String,
    },
    /// The database failed (or a row could not be read back).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a whole CSV import was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The input is over the size cap.
    #[error("the import is larger than the limit of {max_bytes} bytes")]
    TooLarge {
        /// The cap.
        max_bytes: usize,
    },
    /// The input holds more rows than the row cap.
    #[error("the import has more than the limit of {max_rows} rows")]
    TooManyRows {
        /// The cap.
        max_rows: usize,
    },
    /// Nothing but whitespace.
    #[error("the file is empty: expected a header line with an `ExternalId` column")]
    Empty,
    /// The header line names no `ExternalId` column.
    #[error("the first line must be a header with an `ExternalId` column; it has: {found}")]
    MissingExternalIdColumn {
        /// The header line as read (cut to 200 characters).
        found: String,
    },
    /// The header line names a column twice.
    #[error("the header line names column `{0}` twice")]
    DuplicateColumn(String),
    /// The header line is not UTF-8.
    #[error("the header line (line 1) is not valid UTF-8")]
    HeaderNotUtf8,
    /// The header line is not CSV.
    #[error("the header line cannot be read as CSV: {0}")]
    MalformedHeader(String),
    /// The provider name is not acceptable.
    #[error("invalid provider: {0}")]
    InvalidProvider(String),
    /// Reading the input failed.
    #[error("cannot read the import: {0}")]
    Read(String),
}

/// What happened to one CSV row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    /// The row's external ID.
    pub external_id: String,
}

/// A CSV row that was not added, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    /// The row's external ID, when it could be read.
    pub external_id: Option<String>,
    /// Why it was not added.
    pub problem: RowProblem,
}

/// Why a CSV row was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowProblem {
    /// The row is not valid UTF-8.
    InvalidUtf8,
    /// The row has another number of cells than the header.
    WrongFieldCount {
        /// Cells in the header.
        expected: usize,
        /// Cells in this row.
        found: usize,
    },
    /// A cell is not acceptable (an empty external ID, a bad email...).
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An earlier row has the same external ID.
    DuplicateInFile {
        /// That row's line.
        first_line: u64,
    },
    /// The row is not CSV.
    Malformed(String),
    /// The database failed before the row was written (a generic reason;
    /// the database's error is in the server log, target `saml::store`).
    NotWritten(String),
}

/// The reason of a row the database failed to write (the detail is logged).
const NOT_WRITTEN_REASON: &str = "the database failed; try the import again later";

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUtf8 => f.write_str("not valid UTF-8"),
            Self::WrongFieldCount { expected, found } => {
                write!(
                    f,
                    "expected {expected} cells as in the header, found {found}"
                )
            }
            Self::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
            Self::DuplicateInFile { first_line } => {
                write!(f, "duplicate of line {first_line} (same ExternalId)")
            }
            Self::Malformed(why) => write!(f, "not CSV: {why}"),
            Self::NotWritten(why) => write!(f, "not written: {why}"),
        }
    }
}

/// The outcome of a CSV import, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Rows added as new users.
    pub added: Vec<ImportedRow>,
    /// Rows whose user already existed (left unchanged).
    pub skipped_existing: Vec<ImportedRow>,
    /// Rows not added, with the reason.
    pub failed: Vec<FailedRow>,
}

impl ImportReport {
    /// One line for logs and the audit log: `added 2, skipped 1 (already
    /// present), failed 1`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "added {}, skipped {} (already present), failed {}",
            self.added.len(),
            self.skipped_existing.len(),
            self.failed.len()
        )
    }
}

/// The users of every provider, in `saml_user`. Cheap to clone.
#[derive(Clone)]
pub struct UserDirectory {
    db: DatabaseConnection,
    max_import_bytes: usize,
    max_import_rows: usize,
}

impl fmt::Debug for UserDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserDirectory")
            .field("backend", &self.db.get_database_backend())
            .field("max_import_bytes", &self.max_import_bytes)
            .field("max_import_rows", &self.max_import_rows)
            .finish()
    }
}

impl SqlStore {
    /// The user directory on this store's database.
    #[must_use]
    pub fn users(&self) -> UserDirectory {
        UserDirectory::new(self)
    }
}

impl UserDirectory {
    /// The directory on `store`'s database, with the default import caps.
    #[must_use]
    pub fn new(store: &SqlStore) -> Self {
        Self {
            db: store.db.clone(),
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            max_import_rows: DEFAULT_MAX_IMPORT_ROWS,
        }
    }

    /// Caps the size of one CSV import (default [`DEFAULT_MAX_IMPORT_BYTES`]).
    #[must_use]
    pub fn with_max_import_bytes(mut self, max: usize) -> Self {
        self.max_import_bytes = max;
        self
    }

    /// Caps the rows of one CSV import (default [`DEFAULT_MAX_IMPORT_ROWS`]).
    #[must_use]
    pub fn with_max_import_rows(mut self, max: usize) -> Self {
        self.max_import_rows = max;
        self
    }

    /// Adds `user`, created and updated at `now`.
    ///
    /// # Errors
    /// [`DirectoryError::Invalid`] for a bad field,
    /// [`DirectoryError::AlreadyExists`] when the user exists,
    /// [`DirectoryError::Store`] when the database fails.
    pub async fn add(&self, user: NewUser, now: DateTime<Utc>) -> Result<User, DirectoryError> {
        let row = user.row(now)?;
        match user::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(DirectoryError::AlreadyExists {
                    provider: user.provider,
                    external_id: user.external_id,
                });
            }
            Err(e) => return Err(e.into()),
        }
        Ok(User {
            provider: user.provider,
            external_id: user.external_id,
            enabled: user.enabled,
            email: user.email,
            display_name: user.display_name,
            profile: user.profile,
            created_at: now,
            updated_at: now,
        })
    }

    /// The user, adding `user` first when absent. Returns the stored user
    /// and whether this call added it. Safe under concurrency: of several
    /// calls for one new user, exactly one adds it.
    ///
    /// # Errors
    /// As [`add`](Self::add), without `AlreadyExists`.
    pub async fn get_or_add(
        &self,
        user: NewUser,
        now: DateTime<Utc>,
    ) -> Result<(User, bool), DirectoryError> {
        if let Some(found) = self.get(&user.provider, &user.external_id).await? {
            return Ok((found, false));
        }
        let (provider, external_id) = (user.provider.clone(), user.external_id.clone());
        match self.add(user, now).await {
            Ok(added) => Ok((added, true)),
            Err(DirectoryError::AlreadyExists { .. }) => {
                // Another sign-in added it in the meantime.
                let found = self.get(&provider, &external_id).await?.ok_or_else(|| {
                    StoreError::Unavailable(
                        "a user reported as existing could not be read".to_owned(),
                    )
                })?;
                Ok((found, false))
            }
            Err(e) => Err(e),
        }
    }

    /// The user with this provider and external ID.
    ///
    /// # Errors
    /// [`DirectoryError::Store`] when the database fails.
    pub async fn get(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<User>, DirectoryError> {
        let row = user::Entity::find_by_id(user_key(provider, external_id))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let user = user_from_row(row)?;
        if user.provider != provider || user.external_id != external_id {
            return Err(StoreError::Corrupt("user row under the wrong key".to_owned()).into());
        }
        Ok(Some(user))
    }

    /// Up to `limit` users of `provider` (at most [`MAX_PAGE_SIZE`]),
    /// skipping the first `offset`, ordered by external ID.
    ///
    /// # Errors
    /// [`DirectoryError::Store`] when the database fails.
    pub async fn list(
        &self,
        provider: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<User>, DirectoryError> {
        let rows = user::Entity::find()
            .filter(user::Column::ProviderKey.eq(provider_key(provider)))
            .order_by_asc(user::Column::ExternalId)
            .order_by_asc(user::Column::KeyHash)
            .offset(offset)
            .limit(limit.min(MAX_PAGE_SIZE))
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        rows.into_iter()
            .map(user_from_row)
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// How many users `provider` has.
    ///
    /// # Errors
    /// [`DirectoryError::Store`] when the database fails.
    pub async fn count(&self, provider: &str) -> Result<u64, DirectoryError> {
        let count = user::Entity::find()
            .filter(user::Column::ProviderKey.eq(provider_key(provider)))
            .count(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    /// Enables or disables a user. Returns `false` when there is no such user.
    ///
    /// # Errors
    /// [`DirectoryError::Store`] when the database fails.
    pub async fn set_enabled(
        &self,
        provider: &str,
        external_id: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, DirectoryError> {
        let done = user::Entity::update_many()
            .col_expr(user::Column::Enabled, Expr::value(enabled))
            .col_expr(user::Column::UpdatedAt, Expr::value(micros(now)))
            .filter(user::Column::KeyHash.eq(user_key(provider, external_id)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected > 0)
    }

    /// Removes a user. Returns `false` when there was no such user.
    ///
    /// # Errors
    /// [`DirectoryError::Store`] when the database fails.
    pub async fn remove(&self, provider: &str, external_id: &str) -> Result<bool, DirectoryError> {
        let done = user::Entity::delete_many()
            .filter(user::Column::KeyHash.eq(user_key(provider, external_id)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected > 0)
    }

    /// Removes every user of `provider`. Returns how many.
    ///
    /// # Errors
    /// [`DirectoryError::Store`] when the database fails.
    pub async fn remove_all_for_provider(&self, provider: &str) -> Result<u64, DirectoryError> {
        let done = user::Entity::delete_many()
            .filter(user::Column::ProviderKey.eq(provider_key(provider)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected)
    }

    /// Imports users of `provider` from CSV (see the [module docs](self) for
    /// the format), created at `now`.
    ///
    /// # Errors
    /// An [`ImportError`] when the whole input is refused; nothing is
    /// written then. Per-row problems, and a database failure part-way
    /// through, are in the [`ImportReport`] instead.
    pub async fn import_csv(
        &self,
        provider: &str,
        input: impl Read,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, ImportError> {
        check_provider(provider).map_err(|e| ImportError::InvalidProvider(e.reason))?;
        let limit = u64::try_from(self.max_import_bytes).unwrap_or(u64::MAX);
        let mut bytes = Vec::new();
        input
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| ImportError::Read(e.to_string()))?;
        if bytes.len() > self.max_import_bytes {
            return Err(ImportError::TooLarge {
                max_bytes: self.max_import_bytes,
            });
        }
        let parsed = parse_csv(provider, &bytes, self.max_import_rows)?;
        let mut report = ImportReport {
            failed: parsed.failed,
            ..ImportReport::default()
        };
        let mut store_error: Option<String> = None;
        for batch in parsed.rows.chunks(IMPORT_BATCH) {
            if let Some(why) = &store_error {
                report.failed.extend(batch.iter().map(|row| FailedRow {
                    line: row.line,
                    external_id: Some(row.user.external_id.clone()),
                    problem: RowProblem::NotWritten(why.clone()),
                }));
                continue;
            }
            match self.insert_batch(batch, now).await {
                Ok(existing) => {
                    for row in batch {
                        let done = ImportedRow {
                            line: row.line,
                            external_id: row.user.external_id.clone(),
                        };
                        if existing.contains(&row.key) {
                            report.skipped_existing.push(done);
                        } else {
                            report.added.push(done);
                        }
                    }
                }
                Err(e) => {
                    // The database's words (table names, addresses...) go
                    // to the server log only; the rows say it generically.
                    tracing::error!(
                        target: "saml::store",
                        provider,
                        error = %e,
                        "a CSV import batch could not be written"
                    );
                    let why = NOT_WRITTEN_REASON.to_owned();
                    report.failed.extend(batch.iter().map(|row| FailedRow {
                        line: row.line,
                        external_id: Some(row.user.external_id.clone()),
                        problem: RowProblem::NotWritten(why.clone()),
                    }));
                    store_error = Some(why);
                }
            }
        }
        report.failed.sort_by_key(|f| f.line);
        Ok(report)
    }

    /// Adds the users of `batch` that are absent, in one transaction.
    /// Returns the keys of those that already existed.
    async fn insert_batch(
        &self,
        batch: &[ParsedRow],
        now: DateTime<Utc>,
    ) -> Result<HashSet<String>, StoreError> {
        let mut last = StoreError::Unavailable("no attempt made".to_owned());
        for _ in 0..IMPORT_ATTEMPTS {
            match self.try_insert_batch(batch, now).await {
                Ok(existing) => return Ok(existing),
                // A concurrent writer added one of these users: look again.
                Err(e @ StoreError::Conflict(_)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    async fn try_insert_batch(
        &self,
        batch: &[ParsedRow],
        now: DateTime<Utc>,
    ) -> Result<HashSet<String>, StoreError> {
        let txn = crate::begin_write(&self.db).await.map_err(unavailable)?;
        let keys: Vec<String> = batch.iter().map(|r| r.key.clone()).collect();
        let existing: HashSet<String> = user::Entity::find()
            .select_only()
            .column(user::Column::KeyHash)
            .filter(user::Column::KeyHash.is_in(keys))
            .into_tuple::<String>()
            .all(&txn)
            .await
            .map_err(unavailable)?
            .into_iter()
            .collect();
        let mut rows = Vec::new();
        for row in batch.iter().filter(|r| !existing.contains(&r.key)) {
            rows.push(
                row.user
                    .row(now)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        if !rows.is_empty() {
            user::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .map_err(insert_error)?;
        }
        txn.commit().await.map_err(unavailable)?;
        Ok(existing)
    }
}

fn user_from_row(row: user::Model) -> Result<User, StoreError> {
    Ok(User {
        provider: row.provider,
        external_id: row.external_id,
        enabled: row.enabled,
        email: row.email,
        display_name: row.display_name,
        profile: from_json(&row.profile)?,
        created_at: from_micros(row.created_at)?,
        updated_at: from_micros(row.updated_at)?,
    })
}

/// A CSV row ready to be written.
#[derive(Debug)]
struct ParsedRow {
    line: u64,
    key: String,
    user: NewUser,
}

#[derive(Debug, Default)]
struct Parsed {
    rows: Vec<ParsedRow>,
    failed: Vec<FailedRow>,
}

/// Which cell holds what.
#[derive(Debug)]
struct Columns {
    count: usize,
    external_id: usize,
    email: Option<usize>,
    name: Option<usize>,
    /// Other columns: index and header name (kept in the profile).
    extra: Vec<(usize, String)>,
}

fn header_columns(header: &csv::ByteRecord) -> Result<Columns, ImportError> {
    let mut names = Vec::with_capacity(header.len());
    for (i, cell) in header.iter().enumerate() {
        let text = std::str::from_utf8(cell).map_err(|_| ImportError::HeaderNotUtf8)?;
        let text = if i == 0 {
            text.trim_start_matches('\u{feff}')
        } else {
            text
        };
        names.push(text.trim().to_owned());
    }
    let mut seen = HashSet::new();
    for name in &names {
        if !name.is_empty() && !seen.insert(name.to_lowercase()) {
            return Err(ImportError::DuplicateColumn(name.clone()));
        }
    }
    let find = |wanted: &str| names.iter().position(|n| n.eq_ignore_ascii_case(wanted));
    let Some(external_id) = find("externalid") else {
        let mut found = names.join(", ");
        if let Some((cut, _)) = found.char_indices().nth(200) {
            found.truncate(cut);
            found.push('…');
        }
        return Err(ImportError::MissingExternalIdColumn { found });
    };
    let email = find("email");
    let name = find("name");
    let extra = names
        .iter()
        .enumerate()
        .filter(|(i, n)| {
            !n.is_empty() && *i != external_id && Some(*i) != email && Some(*i) != name
        })
        .map(|(i, n)| (i, n.clone()))
        .collect();
    Ok(Columns {
        count: names.len(),
        external_id,
        email,
        name,
        extra,
    })
}

fn parse_csv(provider: &str, bytes: &[u8], max_rows: usize) -> Result<Parsed, ImportError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) || bytes == b"\xef\xbb\xbf" {
        return Err(ImportError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| ImportError::MalformedHeader(e.to_string()))?
        .clone();
    let columns = header_columns(&header)?;

    let mut parsed = Parsed::default();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    loop {
        let line_before = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line_before, csv::Position::line);
                rows = rows.saturating_add(1);
                if rows > max_rows {
                    return Err(ImportError::TooManyRows { max_rows });
                }
                parsed.failed.push(FailedRow {
                    line,
                    external_id: None,
                    problem: RowProblem::Malformed(e.to_string()),
                });
                continue;
            }
        }
        // A line of nothing but spaces (or separators) counts as blank.
        if record.iter().all(<[u8]>::is_empty) {
            continue;
        }
        rows = rows.saturating_add(1);
        if rows > max_rows {
            return Err(ImportError::TooManyRows { max_rows });
        }
        let line = record
            .position()
            .map_or(line_before, |p| record_line(bytes, p));
        match parse_row(provider, &columns, &record) {
            Err((external_id, problem)) => parsed.failed.push(FailedRow {
                line,
                external_id,
                problem,
            }),
            Ok(user) => {
                if let Some(&first) = first_line.get(&user.external_id) {
                    parsed.failed.push(FailedRow {
                        line,
                        external_id: Some(user.external_id),
                        problem: RowProblem::DuplicateInFile { first_line: first },
                    });
                    continue;
                }
                first_line.insert(user.external_id.clone(), line);
                parsed.rows.push(ParsedRow {
                    line,
                    key: user_key(provider, &user.external_id),
                    user,
                });
            }
        }
    }
    Ok(parsed)
}

/// The line a record starts on: csv's position points before any blank
/// lines it skipped.
fn record_line(bytes: &[u8], position: &csv::Position) -> u64 {
    let mut line = position.line();
    let start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    for b in bytes.iter().skip(start) {
        match b {
            b'\n' => line = line.saturating_add(1),
            b'\r' => {}
            _ => break,
        }
    }
    line
}

type RowFailure = (Option<String>, RowProblem);

fn parse_row(
    provider: &str,
    columns: &Columns,
    record: &csv::ByteRecord,
) -> Result<NewUser, RowFailure> {
    let mut cells = Vec::with_capacity(record.len());
    for cell in record {
        cells.push(std::str::from_utf8(cell).map_err(|_| (None, RowProblem::InvalidUtf8))?);
    }
    let external_id = cells
        .get(columns.external_id)
        .map(|s| (*s).to_owned())
        .filter(|s| !s.is_empty());
    if cells.len() != columns.count {
        return Err((
            external_id,
            RowProblem::WrongFieldCount {
                expected: columns.count,
                found: cells.len(),
            },
        ));
    }
    let Some(external_id) = external_id else {
        return Err((
            None,
            RowProblem::Invalid {
                field: "external_id",
                reason: "is empty".to_owned(),
            },
        ));
    };
    let cell = |index: Option<usize>| {
        index
            .and_then(|i| cells.get(i))
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned())
    };
    let mut user = NewUser::new(provider, external_id.clone());
    user.email = cell(columns.email);
    user.display_name = cell(columns.name);
    for (i, name) in &columns.extra {
        if let Some(value) = cell(Some(*i)) {
            user.profile.insert(name.clone(), Value::String(value));
        }
    }
    let too_big = to_json(&user.profile).map_or(true, |json| json.len() > MAX_PROFILE_BYTES);
    let checked = user.check().and_then(|()| {
        if too_big {
            Err(Invalid::new(
                "profile",
                format!("over {MAX_PROFILE_BYTES} bytes of JSON"),
            ))
        } else {
            Ok(())
        }
    });
    match checked {
        Ok(()) => Ok(user),
        Err(Invalid { field, reason }) => {
            Err((Some(external_id), RowProblem::Invalid { field, reason }))
        }
    }
}

/// Whether `email` would be accepted as an email address.
pub(crate) fn is_email(email: &str) -> bool {
    check_email(email).is_ok()
}
