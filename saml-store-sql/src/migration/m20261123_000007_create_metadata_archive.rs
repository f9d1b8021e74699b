//! `saml_metadata_archive`: the last good copy of each remote metadata URL.

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Aggregates run to tens of MB: MySQL's TEXT stops at 64 KiB.
        let mut xml = ColumnDef::new(Alias::new("xml"));
        if manager.get_database_backend() == DatabaseBackend::MySql {
            xml.custom(Alias::new("longtext"));
        } else {
            xml.text();
        }
        let table = Table::create()
            .table(Alias::new("saml_metadata_archive"))
            .if_not_exists()
            .col(
                ColumnDef::new(Alias::new("url_hash"))
                    .string_len(64)
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(Alias::new("url")).text().not_null())
            .col(xml.not_null())
            .col(
                ColumnDef::new(Alias::new("fetched_at"))
                    .big_integer()
                    .not_null(),
            )
            .col(ColumnDef::new(Alias::new("etag")).text().null())
            .col(ColumnDef::new(Alias::new("last_modified")).text().null())
            .to_owned();
        manager.create_table(table).await
    }
}
