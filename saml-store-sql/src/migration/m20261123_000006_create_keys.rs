//! `saml_key`: the SP's own signing and decryption keys, private halves
//! encrypted under the application's key-encryption key.

use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Alias::new("saml_key"))
            .if_not_exists()
            .col(
                super::exact_string(manager, "id", 64)
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(Alias::new("purpose"))
                    .string_len(16)
                    .not_null(),
            )
            // 1 on the current signing key, NULL on every other row: the
            // unique index allows any number of NULLs, so at most one row
            // is current on every database.
            .col(
                ColumnDef::new(Alias::new("signing_current"))
                    .integer()
                    .null(),
            )
            .col(
                ColumnDef::new(Alias::new("certificate_pem"))
                    .text()
                    .not_null(),
            )
            .col(
                ColumnDef::new(Alias::new("kek_id"))
                    .string_len(64)
                    .not_null(),
            )
            .col(ColumnDef::new(Alias::new("nonce")).blob().not_null())
            .col(ColumnDef::new(Alias::new("ciphertext")).blob().not_null())
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
            .has_index("saml_key", "idx_saml_key_signing_current")
            .await?
        {
            manager
                .create_index(
                    Index::create()
                        .name("idx_saml_key_signing_current")
                        .table(Alias::new("saml_key"))
                        .col(Alias::new("signing_current"))
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
