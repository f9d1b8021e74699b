//! The provider registry: identity-provider connections kept in the
//! database (`saml_provider`), each its name, its [`ProviderSettings`] and
//! the IdP's metadata XML, and a [`MetadataResolver`] over them.
//!
//! A [`ProviderRegistry`] comes from [`SqlStore::providers`]. Metadata is
//! parsed (and so checked) when a provider is created or updated, and again
//! on every lookup. Names and entity IDs are unique and compare exactly.
//! Removing a provider also removes its users from the directory and ends
//! its sessions.
//!
//! Rows hold versioned JSON (`{"format":1,"settings":..,"metadata_xml":..}`)
//! so later releases can read what earlier ones wrote; a row of an unknown
//! format is `StoreError::Corrupt`, never guessed at.
//!
//! ```
//! use chrono::Utc;
//! use saml_core::store::{MetadataResolver, ProviderSettings};
//! use saml_store_sql::SqlStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let metadata = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com">
//!   <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
//!     <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
//!   </md:IDPSSODescriptor>
//! </md:EntityDescriptor>"#;
//! let registry = store.providers();
//! registry.create("acme", ProviderSettings::default(), metadata, Utc::now()).await?;
//! let acme = registry.provider_by_entity_id("https://idp.example.com").await?.ok_or("not registered")?;
//! assert_eq!(acme.name, "acme");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{MetadataResolver, Provider, ProviderSettings, StoreError};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::directory::UserDirectory;
use crate::entity::{provider, session};
use crate::{
    SqlStore, from_json, from_micros, insert_error, key_hash, micros, to_json, unavailable,
};

/// The JSON format this release writes.
const FORMAT: u32 = 1;
/// Longest provider name, in characters.
const MAX_NAME: usize = 255;
/// Sessions without a provider column scanned per batch when a provider is removed.
const SCAN_BATCH: u64 = 500;
/// How often `set_enabled` retries when other changes keep slipping in
/// between its read and its write.
const SET_ENABLED_ATTEMPTS: u32 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    format: u32,
    settings: ProviderSettings,
    metadata_xml: String,
}

/// A provider as the registry keeps it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoredProvider {
    /// The provider, metadata parsed.
    pub provider: Provider,
    /// The metadata XML as given.
    pub metadata_xml: String,
    /// Starts at 1; every change adds one.
    pub revision: i64,
    /// When the provider was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// What removing a provider removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Removed {
    /// Users removed from the directory.
    pub users: u64,
    /// Sessions ended.
    pub sessions: u64,
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is empty, too long or not URL-safe.
    #[error("invalid provider name: {0}")]
    InvalidName(String),
    /// The metadata does not parse.
    #[error("invalid metadata: {0}")]
    InvalidMetadata(saml_core::Error),
    /// Another provider has this name or this entity ID.
    #[error("{0}")]
    AlreadyExists(String),
    /// There is no provider with this name.
    #[error("no provider named `{0}`")]
    NotFound(String),
    /// The provider is no longer at the expected revision ([`update_if`](ProviderRegistry::update_if)).
    #[error("provider `{name}` changed after revision {expected} was read")]
    Changed {
        /// The provider.
        name: String,
        /// The revision the write expected.
        expected: i64,
    },
    /// The database failed (or a row could not be read back).
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn check_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidName(format!(
            "`{name}`: use 1 to {MAX_NAME} of A-Z a-z 0-9 - _ . (it appears in URLs)"
        )))
    }
}

fn parse(xml: &str) -> Result<IdpMetadata, saml_core::Error> {
    IdpMetadata::parse(xml, &MetadataOptions::default())
}

/// Identity providers in `saml_provider`. Cheap to clone.
#[derive(Clone)]
pub struct ProviderRegistry {
    db: DatabaseConnection,
    users: UserDirectory,
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// The provider registry on this store's database.
    #[must_use]
    pub fn providers(&self) -> ProviderRegistry {
        ProviderRegistry {
            db: self.db.clone(),
            users: self.users(),
        }
    }
}

impl ProviderRegistry {
    /// Registers a provider named `name` (URL-safe: `A-Z a-z 0-9 - _ .`).
    ///
    /// # Errors
    /// [`RegistryError::InvalidName`], [`RegistryError::InvalidMetadata`],
    /// [`RegistryError::AlreadyExists`] (the name or the entity ID is
    /// taken), [`RegistryError::Store`].
    pub async fn create(
        &self,
        name: &str,
        settings: ProviderSettings,
        metadata_xml: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredProvider, RegistryError> {
        check_name(name)?;
        let metadata = parse(metadata_xml).map_err(RegistryError::InvalidMetadata)?;
        let record = to_json(&Record {
            format: FORMAT,
            settings: settings.clone(),
            metadata_xml: metadata_xml.to_owned(),
        })?;
        let row = provider::ActiveModel {
            key_hash: Set(key_hash(&[name])),
            name: Set(name.to_owned()),
            entity_key: Set(key_hash(&[metadata.entity_id()])),
            entity_id: Set(metadata.entity_id().to_owned()),
            record: Set(record),
            revision: Set(1),
            created_at: Set(micros(now)),
            updated_at: Set(micros(now)),
        };
        match provider::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(insert_error)
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(RegistryError::AlreadyExists(format!(
                    "a provider named `{name}` or with entity ID `{}` exists",
                    metadata.entity_id()
                )));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(StoredProvider {
            provider: Provider {
                name: name.to_owned(),
                metadata,
                settings,
            },
            metadata_xml: metadata_xml.to_owned(),
            revision: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// The provider named `name`.
    ///
    /// # Errors
    /// [`RegistryError::Store`] when the database fails or the stored
    /// metadata no longer parses.
    pub async fn get(&self, name: &str) -> Result<Option<StoredProvider>, RegistryError> {
        let row = provider::Entity::find_by_id(key_hash(&[name]))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        row.map(stored).transpose().map_err(Into::into)
    }

    /// Every provider, by name.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn list(&self) -> Result<Vec<StoredProvider>, RegistryError> {
        let rows = provider::Entity::find()
            .order_by_asc(provider::Column::Name)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        rows.into_iter()
            .map(stored)
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// Replaces the settings and metadata of `name`. Returns the new revision.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], [`RegistryError::InvalidMetadata`],
    /// [`RegistryError::AlreadyExists`] (another provider has the new
    /// entity ID), [`RegistryError::Store`].
    pub async fn update(
        &self,
        name: &str,
        settings: ProviderSettings,
        metadata_xml: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, RegistryError> {
        self.write(name, None, settings, metadata_xml, now).await
    }

    /// [`update`](Self::update) only while `name` is at `expected_revision`
    /// (a compare-and-swap, so a change made in between is never
    /// overwritten). Returns the new revision, `expected_revision + 1`.
    ///
    /// # Errors
    /// As [`update`](Self::update), and [`RegistryError::Changed`] when the
    /// provider is at another revision.
    pub async fn update_if(
        &self,
        name: &str,
        expected_revision: i64,
        settings: ProviderSettings,
        metadata_xml: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, RegistryError> {
        self.write(name, Some(expected_revision), settings, metadata_xml, now)
            .await
    }

    async fn write(
        &self,
        name: &str,
        expected_revision: Option<i64>,
        settings: ProviderSettings,
        metadata_xml: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, RegistryError> {
        let metadata = parse(metadata_xml).map_err(RegistryError::InvalidMetadata)?;
        let record = to_json(&Record {
            format: FORMAT,
            settings,
            metadata_xml: metadata_xml.to_owned(),
        })?;
        let update = provider::Entity::update_many()
            .col_expr(provider::Column::Record, Expr::value(record))
            .col_expr(
                provider::Column::EntityKey,
                Expr::value(key_hash(&[metadata.entity_id()])),
            )
            .col_expr(
                provider::Column::EntityId,
                Expr::value(metadata.entity_id().to_owned()),
            )
            .col_expr(
                provider::Column::Revision,
                Expr::col(provider::Column::Revision).add(1),
            )
            .col_expr(provider::Column::UpdatedAt, Expr::value(micros(now)))
            .filter(provider::Column::KeyHash.eq(key_hash(&[name])));
        let update = match expected_revision {
            Some(expected) => update.filter(provider::Column::Revision.eq(expected)),
            None => update,
        };
        let done = update
            .exec(&self.db)
            .await
            .map_err(|e| match insert_error(e) {
                StoreError::Conflict(_) => RegistryError::AlreadyExists(format!(
                    "another provider has entity ID `{}`",
                    metadata.entity_id()
                )),
                other => other.into(),
            })?;
        match (done.rows_affected, expected_revision) {
            (0, Some(expected)) if self.get(name).await?.is_some() => {
                return Err(RegistryError::Changed {
                    name: name.to_owned(),
                    expected,
                });
            }
            (0, _) => return Err(RegistryError::NotFound(name.to_owned())),
            (_, Some(expected)) => return Ok(expected + 1),
            _ => {}
        }
        self.get(name)
            .await?
            .map(|p| p.revision)
            .ok_or_else(|| RegistryError::NotFound(name.to_owned()))
    }

    /// Enables or disables sign-in through `name` (its settings' `enabled`).
    /// Returns the new revision.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    pub async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<i64, RegistryError> {
        // Read, flip, write back only if nothing changed in between (else
        // the other change would be lost); retried, since the flip is
        // meant for whatever the record is now.
        let mut attempts = 0;
        loop {
            let current = self
                .get(name)
                .await?
                .ok_or_else(|| RegistryError::NotFound(name.to_owned()))?;
            let mut settings = current.provider.settings;
            settings.enabled = enabled;
            match self
                .update_if(name, current.revision, settings, &current.metadata_xml, now)
                .await
            {
                Err(RegistryError::Changed { .. }) if attempts < SET_ENABLED_ATTEMPTS => {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    /// Removes `name`, its users in the directory, and its sessions.
    /// Removing an absent provider is [`RegistryError::NotFound`].
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], [`RegistryError::Store`].
    pub async fn remove(&self, name: &str) -> Result<Removed, RegistryError> {
        let done = provider::Entity::delete_many()
            .filter(provider::Column::KeyHash.eq(key_hash(&[name])))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if done.rows_affected == 0 {
            return Err(RegistryError::NotFound(name.to_owned()));
        }
        let users = self
            .users
            .remove_all_for_provider(name)
            .await
            .map_err(|e| match e {
                crate::DirectoryError::Store(e) => e,
                other => StoreError::Unavailable(other.to_string()),
            })?;
        let sessions = self.end_sessions(name).await?;
        Ok(Removed { users, sessions })
    }

    /// Ends every session of provider `name` (it need not exist any more).
    /// Returns how many ended.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database fails.
    pub async fn end_sessions(&self, name: &str) -> Result<u64, StoreError> {
        let mut ended = session::Entity::delete_many()
            .filter(session::Column::ProviderKey.eq(key_hash(&[name])))
            .exec(&self.db)
            .await
            .map_err(unavailable)?
            .rows_affected;
        // Sessions created before migration 5 have no provider column: read
        // their records.
        let mut offset = 0;
        loop {
            let rows: Vec<(String, String)> = session::Entity::find()
                .select_only()
                .column(session::Column::KeyHash)
                .column(session::Column::Record)
                .filter(session::Column::ProviderKey.is_null())
                .order_by_asc(session::Column::KeyHash)
                .offset(offset)
                .limit(SCAN_BATCH)
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(unavailable)?;
            if rows.is_empty() {
                return Ok(ended);
            }
            let mut mine = Vec::new();
            for (key, record) in &rows {
                // A record that does not decode signs nobody in (loading it
                // fails too), so it is skipped rather than blocking the rest.
                match from_json::<saml_core::store::SessionRecord>(record) {
                    Ok(record) if record.user.provider == name => mine.push(key.clone()),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(target: "saml::store", error = %e, "an undecodable session row was skipped while ending a provider's sessions");
                    }
                }
            }
            let kept = u64::try_from(rows.len() - mine.len()).unwrap_or(u64::MAX);
            if !mine.is_empty() {
                ended = ended.saturating_add(
                    session::Entity::delete_many()
                        .filter(session::Column::KeyHash.is_in(mine))
                        .exec(&self.db)
                        .await
                        .map_err(unavailable)?
                        .rows_affected,
                );
            }
            offset = offset.saturating_add(kept);
        }
    }
}

fn stored(row: provider::Model) -> Result<StoredProvider, StoreError> {
    let record: Record = from_json(&row.record)?;
    if record.format != FORMAT {
        return Err(StoreError::Corrupt(format!(
            "provider `{}` is stored in format {}, this release reads format {FORMAT}",
            row.name, record.format
        )));
    }
    let metadata = parse(&record.metadata_xml).map_err(|e| {
        StoreError::Corrupt(format!(
            "stored metadata of `{}` does not parse: {e}",
            row.name
        ))
    })?;
    Ok(StoredProvider {
        provider: Provider {
            name: row.name,
            metadata,
            settings: record.settings,
        },
        metadata_xml: record.metadata_xml,
        revision: row.revision,
        created_at: from_micros(row.created_at)?,
        updated_at: from_micros(row.updated_at)?,
    })
}

fn registry_error(e: RegistryError) -> StoreError {
    match e {
        RegistryError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
}

#[async_trait]
impl MetadataResolver for ProviderRegistry {
    async fn provider(&self, name: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        let found = self.get(name).await.map_err(registry_error)?;
        Ok(found.map(|p| Arc::new(p.provider)))
    }

    async fn provider_by_entity_id(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        let row = provider::Entity::find()
            .filter(provider::Column::EntityKey.eq(key_hash(&[entity_id])))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let found = stored(row)?;
        if found.provider.metadata.entity_id() != entity_id {
            return Err(StoreError::Corrupt(
                "provider row under the wrong entity ID".to_owned(),
            ));
        }
        Ok(Some(Arc::new(found.provider)))
    }

    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        let all = self.list().await.map_err(registry_error)?;
        Ok(all.into_iter().map(|p| Arc::new(p.provider)).collect())
    }
}
