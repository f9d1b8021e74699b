//! `saml_session`: one row per authenticated session.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_session")]
pub struct Model {
    /// SHA-256 of the session's `id_hash`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    /// SHA-256 of provider NUL name_id: what IdP-initiated logout looks up.
    pub subject_hash: String,
    /// SHA-256 of the IdP session index, when there is one.
    pub session_index_hash: Option<String>,
    /// The `SessionRecord` as JSON (its `last_seen` is the column below).
    #[sea_orm(column_type = "Text")]
    pub record: String,
    pub last_seen: i64,
    /// SHA-256 of the provider (from migration 5 on; older rows have none):
    /// what removing a provider ends sessions by.
    #[sea_orm(nullable)]
    pub provider_key: Option<String>,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
