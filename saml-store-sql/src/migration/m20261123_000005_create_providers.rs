//! `saml_provider`, the provider registry, and `saml_session.provider_key`
//! so that removing a provider can end its sessions.

use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Alias::new("saml_provider"))
            .if_not_exists()
            .col(
                ColumnDef::new(Alias::new("key_hash"))
                    .string_len(64)
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(Alias::new("name"))
                    .string_len(255)
                    .not_null(),
            )
            .col(
                ColumnDef::new(Alias::new("entity_key"))
                    .string_len(64)
                    .not_null(),
            )
            .col(ColumnDef::new(Alias::new("entity_id")).text().not_null())
            .col(ColumnDef::new(Alias::new("record")).text().not_null())
            .col(
                ColumnDef::new(Alias::new("revision"))
                    .big_integer()
                    .not_null(),
            )
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
        if !manager
            .has_index("saml_provider", "idx_saml_provider_entity_key")
            .await?
        {
            manager
                .create_index(
                    Index::create()
                        .name("idx_saml_provider_entity_key")
                        .table(Alias::new("saml_provider"))
                        .col(Alias::new("entity_key"))
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        if !manager.has_column("saml_session", "provider_key").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("saml_session"))
                        .add_column(
                            ColumnDef::new(Alias::new("provider_key"))
                                .string_len(64)
                                .null(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        super::create_index(
            manager,
            "saml_session",
            "idx_saml_session_provider_key",
            &["provider_key"],
        )
        .await
    }
}
