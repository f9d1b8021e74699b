//! `saml_user`: the user directory.

use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Alias::new("saml_user"))
            .if_not_exists()
            .col(
                ColumnDef::new(Alias::new("key_hash"))
                    .string_len(64)
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(Alias::new("provider"))
                    .string_len(255)
                    .not_null(),
            )
            .col(
                ColumnDef::new(Alias::new("provider_key"))
                    .string_len(64)
                    .not_null(),
            )
            .col(ColumnDef::new(Alias::new("external_id")).text().not_null())
            .col(ColumnDef::new(Alias::new("enabled")).boolean().not_null())
            .col(ColumnDef::new(Alias::new("email")).text().null())
            .col(ColumnDef::new(Alias::new("display_name")).text().null())
            .col(ColumnDef::new(Alias::new("profile")).text().not_null())
            .col(
                ColumnDef::new(Alias::new("created_at"))
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(Alias::new("updated_at"))
                    .big_integer()
                    .not_null(),
            )
            .to_owned();
        manager.create_table(table).await?;
        super::create_index(
            manager,
            "saml_user",
            "idx_saml_user_provider_key",
            &["provider_key"],
        )
        .await
    }
}
