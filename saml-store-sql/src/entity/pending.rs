//! `saml_pending`: AuthnRequests waiting for their answer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_pending")]
pub struct Model {
    /// SHA-256 of the request ID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    /// The `PendingLogin` as JSON.
    #[sea_orm(column_type = "Text")]
    pub record: String,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
