//! [`AdminBackend`] for [`SqlStore`]: the admin API of saml-tower (feature
//! `admin`) over this store's [`ProviderRegistry`](crate::ProviderRegistry),
//! [`UserDirectory`](crate::UserDirectory) and audit log.
//!
//! Every call delegates to those; their errors become [`AdminError`]s with
//! stable codes: a bad provider name is `invalid_input` on the field `name`,
//! metadata that does not parse is `invalid_input` on `metadata_xml`, a
//! refused CSV file is `invalid_input` on `csv`, a taken name or entity ID
//! is `provider_exists`, an absent provider `provider_not_found`, and any
//! database failure `store_unavailable`. The registry is read on every
//! lookup (no cache), so a provider created, enabled or disabled here takes
//! effect for sign-in at once when the layer resolves providers through
//! [`SqlStore::providers`].
//!
//! ```
//! use std::sync::Arc;
//! use chrono::Utc;
//! use saml_core::admin::{AdminBackend, AdminErrorCode};
//! use saml_core::store::ProviderSettings;
//! use saml_store_sql::SqlStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let backend: Arc<dyn AdminBackend> = Arc::new(store);
//! let refused = backend
//!     .create_provider("no spaces", ProviderSettings::default(), "<x/>", Utc::now())
//!     .await
//!     .err()
//!     .map(|e| e.code());
//! assert_eq!(refused, Some(AdminErrorCode::InvalidInput));
//! assert!(backend.providers().await?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use saml_core::admin::{
    AdminBackend, AdminError, AuditQuery, ImportFailure, ImportOutcome, MAX_AUDIT_LIMIT,
    MAX_USER_PAGE, ProviderEntry, RemovedProvider, UserPage, UserView,
};
use saml_core::store::{AuditEvent, ProviderSettings};

use crate::directory::{DirectoryError, ImportError, User};
use crate::registry::{RegistryError, StoredProvider};
use crate::{AuditFilter, SqlStore};

fn registry(e: RegistryError) -> AdminError {
    match e {
        RegistryError::InvalidName(why) => AdminError::invalid("name", why),
        RegistryError::InvalidMetadata(e) => AdminError::invalid("metadata_xml", e.to_string()),
        RegistryError::AlreadyExists(why) => AdminError::AlreadyExists(why),
        RegistryError::NotFound(name) => AdminError::NotFound(name),
        e @ RegistryError::Changed { .. } => AdminError::Changed(e.to_string()),
        RegistryError::Store(e) => e.into(),
    }
}

fn directory(e: DirectoryError) -> AdminError {
    match e {
        DirectoryError::Invalid { field, reason } => AdminError::invalid(field, reason),
        DirectoryError::Store(e) => e.into(),
        other => AdminError::Unavailable(other.to_string()),
    }
}

fn import(e: ImportError) -> AdminError {
    match e {
        ImportError::InvalidProvider(why) => AdminError::invalid("provider", why),
        ImportError::Read(why) => AdminError::Unavailable(why),
        other => AdminError::invalid("csv", other.to_string()),
    }
}

fn entry(p: StoredProvider) -> ProviderEntry {
    ProviderEntry::new(
        p.provider,
        p.metadata_xml,
        p.revision,
        p.created_at,
        p.updated_at,
    )
}

fn user(u: User) -> UserView {
    let mut view = UserView::new(u.external_id, u.enabled, u.created_at);
    view.email = u.email;
    view.display_name = u.display_name;
    view.profile = u.profile;
    view.updated_at = u.updated_at;
    view
}

impl SqlStore {
    async fn stored(&self, name: &str) -> Result<ProviderEntry, AdminError> {
        self.providers()
            .get(name)
            .await
            .map_err(registry)?
            .map(entry)
            .ok_or_else(|| AdminError::NotFound(name.to_owned()))
    }
}

#[async_trait]
impl AdminBackend for SqlStore {
    async fn providers(&self) -> Result<Vec<ProviderEntry>, AdminError> {
        let all = self.providers().list().await.map_err(registry)?;
        Ok(all.into_iter().map(entry).collect())
    }

    async fn provider(&self, name: &str) -> Result<ProviderEntry, AdminError> {
        self.stored(name).await
    }

    async fn create_provider(
        &self,
        name: &str,
        settings: ProviderSettings,
        metadata_xml: &str,
        now: DateTime<Utc>,
    ) -> Result<ProviderEntry, AdminError> {
        self.providers()
            .create(name, settings, metadata_xml, now)
            .await
            .map(entry)
            .map_err(registry)
    }

    async fn update_provider(
        &self,
        name: &str,
        settings: ProviderSettings,
        metadata_xml: &str,
        expected_revision: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<ProviderEntry, AdminError> {
        let registry_ = self.providers();
        match expected_revision {
            Some(expected) => {
                registry_
                    .update_if(name, expected, settings, metadata_xml, now)
                    .await
            }
            None => registry_.update(name, settings, metadata_xml, now).await,
        }
        .map_err(registry)?;
        self.stored(name).await
    }

    async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<ProviderEntry, AdminError> {
        self.providers()
            .set_enabled(name, enabled, now)
            .await
            .map_err(registry)?;
        self.stored(name).await
    }

    async fn remove_provider(&self, name: &str) -> Result<RemovedProvider, AdminError> {
        let removed = self.providers().remove(name).await.map_err(registry)?;
        Ok(RemovedProvider::new(removed.users, removed.sessions))
    }

    async fn end_sessions(&self, provider: &str) -> Result<u64, AdminError> {
        Ok(self.providers().end_sessions(provider).await?)
    }

    async fn users(&self, provider: &str, offset: u64, limit: u64) -> Result<UserPage, AdminError> {
        let directory_ = self.users();
        let users = directory_
            .list(provider, offset, limit.min(MAX_USER_PAGE))
            .await
            .map_err(directory)?;
        let total = directory_.count(provider).await.map_err(directory)?;
        Ok(UserPage::new(users.into_iter().map(user).collect(), total))
    }

    async fn import_users(
        &self,
        provider: &str,
        csv: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome, AdminError> {
        let report = self
            .users()
            .import_csv(provider, csv, now)
            .await
            .map_err(import)?;
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let failed = report
            .failed
            .iter()
            .map(|f| ImportFailure::new(f.line, f.external_id.clone(), f.problem.to_string()))
            .collect();
        Ok(ImportOutcome::new(
            count(report.added.len()),
            count(report.skipped_existing.len()),
            failed,
        ))
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, AdminError> {
        let mut filter = AuditFilter::new().limit(query.limit.min(MAX_AUDIT_LIMIT));
        if let Some(p) = &query.provider {
            filter = filter.provider(p.as_str());
        }
        if let Some(kind) = query.kind {
            filter = filter.kind(kind);
        }
        if let Some(before) = query.before {
            filter = filter.before(before);
        }
        Ok(Self::audit_log(self, &filter).await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use saml_core::admin::AdminErrorCode;

    use super::*;

    const XML: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;

    #[tokio::test]
    async fn every_operation_through_the_trait() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let b: &dyn AdminBackend = &store;
        let now = Utc::now();
        let code = |r: Result<ProviderEntry, AdminError>| r.err().map(|e| e.code());

        let created = b
            .create_provider("acme", ProviderSettings::default(), XML, now)
            .await
            .unwrap();
        assert_eq!(created.revision, 1);
        assert_eq!(
            code(
                b.create_provider("acme", ProviderSettings::default(), XML, now)
                    .await
            ),
            Some(AdminErrorCode::ProviderExists)
        );
        let bad_xml = b
            .create_provider("other", ProviderSettings::default(), "<nope/>", now)
            .await
            .unwrap_err();
        assert!(bad_xml.fields().unwrap().contains_key("metadata_xml"));
        let bad_name = b
            .create_provider("a b", ProviderSettings::default(), XML, now)
            .await
            .unwrap_err();
        assert!(bad_name.fields().unwrap().contains_key("name"));

        let off = b.set_enabled("acme", false, now).await.unwrap();
        assert!(!off.provider.settings.enabled);
        assert_eq!(off.revision, 2);
        let mut settings = ProviderSettings::default();
        settings.display_name = Some("Acme".into());
        let updated = b
            .update_provider("acme", settings.clone(), XML, None, now)
            .await
            .unwrap();
        assert_eq!(updated.provider.display_name(), "Acme");
        // Compare-and-swap: at the revision read it passes (and is that
        // plus one); at a stale one it is refused and changes nothing.
        let swapped = b
            .update_provider("acme", settings.clone(), XML, Some(updated.revision), now)
            .await
            .unwrap();
        assert_eq!(swapped.revision, updated.revision + 1);
        let mut stale = settings.clone();
        stale.display_name = Some("Stale".into());
        assert_eq!(
            code(
                b.update_provider("acme", stale, XML, Some(updated.revision), now)
                    .await
            ),
            Some(AdminErrorCode::ProviderChanged)
        );
        assert_eq!(
            b.provider("acme").await.unwrap().provider.display_name(),
            "Acme"
        );
        assert_eq!(
            code(
                b.update_provider("ghost", settings.clone(), XML, Some(1), now)
                    .await
            ),
            Some(AdminErrorCode::ProviderNotFound)
        );
        assert_eq!(
            code(b.provider("ghost").await),
            Some(AdminErrorCode::ProviderNotFound)
        );

        let csv = "ExternalId,email\nalice,alice@example.com\nbob,not-an-email\nalice,\n";
        let outcome = b.import_users("acme", csv.as_bytes(), now).await.unwrap();
        assert_eq!((outcome.added, outcome.skipped), (1, 0));
        assert_eq!(
            outcome.failed.iter().map(|f| f.line).collect::<Vec<_>>(),
            [3, 4]
        );
        let again = b.import_users("acme", csv.as_bytes(), now).await.unwrap();
        assert_eq!(again.skipped, 1);
        let refused = b
            .import_users("acme", b"email\nx@y.z\n", now)
            .await
            .unwrap_err();
        assert!(refused.fields().unwrap().contains_key("csv"));
        let page = b.users("acme", 0, 10).await.unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.users[0].email.as_deref(), Some("alice@example.com"));

        let removed = b.remove_provider("acme").await.unwrap();
        assert_eq!(removed.users_removed, 1);
        assert_eq!(
            b.remove_provider("acme").await.unwrap_err().code(),
            AdminErrorCode::ProviderNotFound
        );
        assert!(
            b.audit_log(&AuditQuery::default())
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn database_errors_do_not_reach_import_rows() {
        use sea_orm::ConnectionTrait;

        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let b: &dyn AdminBackend = &store;
        let now = Utc::now();
        b.create_provider("acme", ProviderSettings::default(), XML, now)
            .await
            .unwrap();
        store
            .connection()
            .execute_unprepared("DROP TABLE saml_user")
            .await
            .unwrap();
        let outcome = b
            .import_users("acme", b"ExternalId\nalice\nbob\n", now)
            .await
            .unwrap();
        assert_eq!(outcome.failed.len(), 2, "{outcome:?}");
        for row in &outcome.failed {
            assert_eq!(
                row.reason,
                "not written: the database failed; try the import again later"
            );
            assert!(!row.reason.contains("saml_user"), "{row:?}");
        }
    }
}
