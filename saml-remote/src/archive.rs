//! Persisting last-good metadata copies, so a restart while the metadata URL
//! is down still finds the IdPs.
//!
//! A resolver saves every document it accepted (HTTP 200, verified) under
//! its URL, and reads the archive only when it has no copy in memory and the
//! fetch fails. An archived document is parsed and verified again with the
//! current trust settings (signing certificate, `validUntil`), so a tampered
//! or stale archive cannot add keys or revive expired metadata.
//!
//! [`MemoryArchive`] keeps copies in memory (tests, or sharing between
//! resolvers of one process). A SQL implementation belongs with
//! `saml-store-sql`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use saml_core::store::StoreError;

/// One archived metadata document, with the validators needed to revalidate
/// it with a conditional request.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchivedMetadata {
    /// The document as fetched.
    pub xml: String,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
    /// The response's `ETag`.
    pub etag: Option<String>,
    /// The response's `Last-Modified`.
    pub last_modified: Option<String>,
}

impl fmt::Debug for ArchivedMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchivedMetadata")
            .field("xml_bytes", &self.xml.len())
            .field("fetched_at", &self.fetched_at)
            .field("etag", &self.etag)
            .field("last_modified", &self.last_modified)
            .finish()
    }
}

impl ArchivedMetadata {
    /// A copy of `xml` fetched at `fetched_at`, without validators.
    #[must_use]
    pub fn new(xml: impl Into<String>, fetched_at: DateTime<Utc>) -> Self {
        Self {
            xml: xml.into(),
            fetched_at,
            etag: None,
            last_modified: None,
        }
    }

    /// Sets the validators.
    #[must_use]
    pub fn with_validators(mut self, etag: Option<String>, last_modified: Option<String>) -> Self {
        self.etag = etag;
        self.last_modified = last_modified;
        self
    }
}

/// Keeps the last good copy of each metadata URL.
#[async_trait]
pub trait MetadataArchive: Send + Sync + fmt::Debug {
    /// Stores `copy` as the last good copy of `url`, replacing any older one.
    async fn save(&self, url: &str, copy: &ArchivedMetadata) -> Result<(), StoreError>;
    /// The last good copy of `url`, if any.
    async fn load(&self, url: &str) -> Result<Option<ArchivedMetadata>, StoreError>;
}

/// An in-memory [`MetadataArchive`]. Cheap to clone (clones share copies).
#[derive(Debug, Clone, Default)]
pub struct MemoryArchive {
    copies: Arc<Mutex<HashMap<String, ArchivedMetadata>>>,
}

impl MemoryArchive {
    /// An empty archive.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many URLs have a copy.
    #[must_use]
    pub fn len(&self) -> usize {
        self.copies.lock().map_or(0, |c| c.len())
    }

    /// Whether no URL has a copy.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("the metadata archive's lock is poisoned".into())
}

#[async_trait]
impl MetadataArchive for MemoryArchive {
    async fn save(&self, url: &str, copy: &ArchivedMetadata) -> Result<(), StoreError> {
        self.copies
            .lock()
            .map_err(|_| poisoned())?
            .insert(url.to_owned(), copy.clone());
        Ok(())
    }

    async fn load(&self, url: &str) -> Result<Option<ArchivedMetadata>, StoreError> {
        Ok(self
            .copies
            .lock()
            .map_err(|_| poisoned())?
            .get(url)
            .cloned())
    }
}
