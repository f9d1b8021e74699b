//! Indexes for the periodic purge (`expires_at <= now` on every table) and
//! for IdP-initiated logout (`saml_session.subject_hash`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (table, index name, columns).
pub(super) const INDEXES: [(&str, &str, &[&str]); 4] = [
    (
        "saml_session",
        "idx_saml_session_expires_at",
        &["expires_at"],
    ),
    (
        "saml_session",
        "idx_saml_session_subject_hash",
        &["subject_hash"],
    ),
    ("saml_replay", "idx_saml_replay_expires_at", &["expires_at"]),
    (
        "saml_pending",
        "idx_saml_pending_expires_at",
        &["expires_at"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, name, columns) in INDEXES {
            super::create_index(manager, table, name, columns).await?;
        }
        Ok(())
    }
}
