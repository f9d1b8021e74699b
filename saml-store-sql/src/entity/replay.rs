//! `saml_replay`: assertion IDs (and other single-use keys) already seen.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_replay")]
pub struct Model {
    /// SHA-256 of the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
