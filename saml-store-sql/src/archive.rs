//! [`SqlMetadataArchive`]: saml-remote's [`MetadataArchive`] in the
//! database, so the last good copy of every metadata URL survives a restart
//! and is shared by every node.
//!
//! One row per URL in `saml_metadata_archive` (the document, when it was
//! fetched, its `ETag` and `Last-Modified`); saving again replaces the row.
//! URLs compare exactly (the key is their SHA-256). `fetched_at` is kept to
//! the microsecond, like every time in this crate.
//! The resolver parses and verifies an archived copy again before using it,
//! so the table is not trusted more than the network.
//!
//! ```
//! use chrono::Utc;
//! use saml_remote::{ArchivedMetadata, MetadataArchive};
//! use saml_store_sql::SqlStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let archive = store.metadata_archive();
//! let url = "https://idp.example.com/metadata";
//! let copy = ArchivedMetadata::new("<md:EntityDescriptor .../>", Utc::now())
//!     .with_validators(Some("\"v1\"".to_owned()), None);
//! archive.save(url, &copy).await?;
//! let loaded = archive.load(url).await?.ok_or(saml_core::store::StoreError::Unavailable("not saved".into()))?;
//! assert_eq!((loaded.xml, loaded.etag), (copy.xml, copy.etag));
//! // RemoteMetadataResolver::builder().archive(Arc::new(archive)) ...
//! # Ok::<(), saml_core::store::StoreError>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use async_trait::async_trait;
use saml_core::store::StoreError;
use saml_remote::{ArchivedMetadata, MetadataArchive};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::entity::metadata_archive as row;
use crate::{SqlStore, from_micros, key_hash, micros, unavailable};

/// Last good metadata copies in `saml_metadata_archive`, one row per URL.
/// Cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct SqlMetadataArchive {
    db: DatabaseConnection,
}

impl fmt::Debug for SqlMetadataArchive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlMetadataArchive")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// The metadata archive for `RemoteMetadataResolverBuilder::archive`
    /// (see [`archive`](crate::archive)).
    #[must_use]
    pub fn metadata_archive(&self) -> SqlMetadataArchive {
        SqlMetadataArchive {
            db: self.db.clone(),
        }
    }
}

impl SqlMetadataArchive {
    /// Forgets the copy of `url`. Returns whether there was one.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when the database fails.
    pub async fn remove(&self, url: &str) -> Result<bool, StoreError> {
        let done = row::Entity::delete_many()
            .filter(row::Column::UrlHash.eq(key_hash(&[url])))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected > 0)
    }

    /// The URLs with a copy, in no particular order.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when the database fails.
    pub async fn urls(&self) -> Result<Vec<String>, StoreError> {
        use sea_orm::QuerySelect;
        row::Entity::find()
            .select_only()
            .column(row::Column::Url)
            .into_tuple::<String>()
            .all(&self.db)
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl MetadataArchive for SqlMetadataArchive {
    async fn save(&self, url: &str, copy: &ArchivedMetadata) -> Result<(), StoreError> {
        let model = row::ActiveModel {
            url_hash: Set(key_hash(&[url])),
            url: Set(url.to_owned()),
            xml: Set(copy.xml.clone()),
            fetched_at: Set(micros(copy.fetched_at)),
            etag: Set(copy.etag.clone()),
            last_modified: Set(copy.last_modified.clone()),
        };
        row::Entity::insert(model)
            .on_conflict(
                OnConflict::column(row::Column::UrlHash)
                    .update_columns([
                        row::Column::Xml,
                        row::Column::FetchedAt,
                        row::Column::Etag,
                        row::Column::LastModified,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("archiving the metadata of {url} failed: {e}"))
            })?;
        Ok(())
    }

    async fn load(&self, url: &str) -> Result<Option<ArchivedMetadata>, StoreError> {
        let Some(found) = row::Entity::find_by_id(key_hash(&[url]))
            .one(&self.db)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        if found.url != url {
            return Err(StoreError::Corrupt(format!(
                "the archived metadata row for {url} holds another URL"
            )));
        }
        Ok(Some(
            ArchivedMetadata::new(found.xml, from_micros(found.fetched_at)?)
                .with_validators(found.etag, found.last_modified),
        ))
    }
}
