//! `saml_audit`: the audit log.

use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Alias::new("saml_audit"))
            .if_not_exists()
            .col(
                ColumnDef::new(Alias::new("id"))
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(ColumnDef::new(Alias::new("at")).big_integer().not_null())
            .col(super::exact_string(manager, "kind", 32).not_null())
            .col(super::exact_string(manager, "provider", 255).null())
            .col(ColumnDef::new(Alias::new("subject")).text().null())
            .col(
                ColumnDef::new(Alias::new("client_address"))
                    .string_len(255)
                    .null(),
            )
            .col(ColumnDef::new(Alias::new("code")).string_len(64).null())
            .col(ColumnDef::new(Alias::new("detail")).text().null())
            .to_owned();
        manager.create_table(table).await?;
        // Newest first, optionally per provider or kind; purge by age.
        super::create_index(manager, "saml_audit", "idx_saml_audit_at", &["at"]).await?;
        super::create_index(
            manager,
            "saml_audit",
            "idx_saml_audit_provider_at",
            &["provider", "at"],
        )
        .await?;
        super::create_index(
            manager,
            "saml_audit",
            "idx_saml_audit_kind_at",
            &["kind", "at"],
        )
        .await
    }
}
