//! `saml_provider`: the provider registry, one row per identity provider.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_provider")]
pub struct Model {
    /// SHA-256 of the provider name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    pub name: String,
    /// SHA-256 of the IdP entity ID (unique: the shared ACS finds the IdP by Issuer).
    pub entity_key: String,
    #[sea_orm(column_type = "Text")]
    pub entity_id: String,
    /// Versioned JSON: `{"format":1,"settings":{..},"metadata_xml":".."}`.
    #[sea_orm(column_type = "Text")]
    pub record: String,
    /// Bumped by every change.
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
