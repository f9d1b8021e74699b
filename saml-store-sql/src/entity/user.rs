//! `saml_user`: the user directory, one row per (provider, external ID).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_user")]
pub struct Model {
    /// SHA-256 of provider NUL external_id: exact matching on every database.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    pub provider: String,
    /// SHA-256 of the provider: what per-provider queries filter on.
    pub provider_key: String,
    #[sea_orm(column_type = "Text")]
    pub external_id: String,
    pub enabled: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub email: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub display_name: Option<String>,
    /// A JSON object.
    #[sea_orm(column_type = "Text")]
    pub profile: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
