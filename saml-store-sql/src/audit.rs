//! The audit log: [`AuditSink`] for [`SqlStore`], one row per event in
//! `saml_audit`, read back newest first with [`SqlStore::audit_log`] and
//! trimmed by age with [`SqlStore::purge_audit_log`].
//!
//! ```
//! use chrono::{TimeDelta, Utc};
//! use saml_core::store::{AuditEvent, AuditKind, AuditSink};
//! use saml_store_sql::{AuditFilter, SqlStore};
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let store = SqlStore::connect("sqlite::memory:").await?;
//!     let now = Utc::now();
//!     store
//!         .record(AuditEvent::new(AuditKind::Login, now).provider("okta").subject("alice"))
//!         .await?;
//!     store
//!         .record(AuditEvent::new(AuditKind::LoginFailed, now).provider("okta").code("expired"))
//!         .await?;
//!
//!     let failures = store
//!         .audit_log(&AuditFilter::new().provider("okta").kind(AuditKind::LoginFailed))
//!         .await?;
//!     assert_eq!(failures.len(), 1);
//!     assert_eq!(failures[0].code.as_deref(), Some("expired"));
//!
//!     // Keep 90 days.
//!     store.purge_audit_log(now, TimeDelta::days(90)).await?;
//!     Ok::<(), saml_core::store::StoreError>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Text fields are cut to a bounded length before they are stored (see
//! [`AuditFilter`] for the read side): the provider to 255 characters, the
//! subject and detail to 1,024, the client address to 255 and the code to
//! 64. Events never hold secrets (see [`AuditEvent`]).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use saml_core::store::{AuditEvent, AuditKind, AuditSink, StoreError};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entity::audit;
use crate::{SqlStore, from_micros, micros, unavailable};

/// Default number of events [`SqlStore::audit_log`] returns.
pub const DEFAULT_AUDIT_LIMIT: u64 = 100;
/// The most events one [`SqlStore::audit_log`] call returns, whatever the
/// filter asks.
pub const MAX_AUDIT_LIMIT: u64 = 10_000;

const MAX_PROVIDER: usize = 255;
const MAX_SUBJECT: usize = 1024;
const MAX_ADDRESS: usize = 255;
const MAX_CODE: usize = 64;
const MAX_DETAIL: usize = 1024;

/// Which audit events [`SqlStore::audit_log`] returns: newest first, at
/// most `limit` (default [`DEFAULT_AUDIT_LIMIT`], capped at
/// [`MAX_AUDIT_LIMIT`]), optionally of one provider and one kind, and
/// optionally only those before an instant (to page back in time).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AuditFilter {
    provider: Option<String>,
    kind: Option<AuditKind>,
    before: Option<DateTime<Utc>>,
    limit: u64,
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self {
            provider: None,
            kind: None,
            before: None,
            limit: DEFAULT_AUDIT_LIMIT,
        }
    }
}

impl AuditFilter {
    /// The newest [`DEFAULT_AUDIT_LIMIT`] events of every provider and kind.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only events of this provider.
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Only events of this kind.
    pub fn kind(mut self, kind: AuditKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only events strictly before `at` (the `at` of the oldest event of
    /// the previous page, to read further back).
    pub fn before(mut self, at: DateTime<Utc>) -> Self {
        self.before = Some(at);
        self
    }

    /// At most `limit` events (capped at [`MAX_AUDIT_LIMIT`]).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = limit.min(MAX_AUDIT_LIMIT);
        self
    }
}

/// `text` cut to at most `max` characters.
fn bounded(text: Option<String>, max: usize) -> Option<String> {
    text.map(|mut t| {
        if let Some((cut, _)) = t.char_indices().nth(max) {
            t.truncate(cut);
        }
        t
    })
}

impl SqlStore {
    /// Audit events matching `filter`, newest first.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when the database fails,
    /// `StoreError::Corrupt` when a stored row cannot be read back.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let mut query = audit::Entity::find();
        if let Some(provider) = &filter.provider {
            query = query.filter(audit::Column::Provider.eq(provider.as_str()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(audit::Column::Kind.eq(kind.as_str()));
        }
        if let Some(before) = filter.before {
            query = query.filter(audit::Column::At.lt(micros(before)));
        }
        let rows = query
            .order_by_desc(audit::Column::At)
            .order_by_desc(audit::Column::Id)
            .limit(filter.limit.min(MAX_AUDIT_LIMIT))
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        rows.into_iter().map(event_from_row).collect()
    }

    /// Deletes audit events older than `retention` at `now` (those with
    /// `at < now - retention`). Returns how many.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when the database fails.
    pub async fn purge_audit_log(
        &self,
        now: DateTime<Utc>,
        retention: TimeDelta,
    ) -> Result<u64, StoreError> {
        let cutoff = now
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let done = audit::Entity::delete_many()
            .filter(audit::Column::At.lt(micros(cutoff)))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected)
    }
}

fn event_from_row(row: audit::Model) -> Result<AuditEvent, StoreError> {
    let kind = AuditKind::from_name(&row.kind)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown audit kind `{}`", row.kind)))?;
    let mut event = AuditEvent::new(kind, from_micros(row.at)?);
    event.provider = row.provider;
    event.subject = row.subject;
    event.client_address = row.client_address;
    event.code = row.code;
    event.detail = row.detail;
    Ok(event)
}

#[async_trait]
impl AuditSink for SqlStore {
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        let row = audit::ActiveModel {
            id: NotSet,
            at: Set(micros(event.at)),
            kind: Set(event.kind.as_str().to_owned()),
            provider: Set(bounded(event.provider, MAX_PROVIDER)),
            subject: Set(bounded(event.subject, MAX_SUBJECT)),
            client_address: Set(bounded(event.client_address, MAX_ADDRESS)),
            code: Set(bounded(event.code, MAX_CODE)),
            detail: Set(bounded(event.detail, MAX_DETAIL)),
        };
        audit::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
