//! Provider administration, store side: the [`AdminBackend`] trait an admin
//! API (saml-tower's `admin` feature) drives, and the neutral, serde-ready
//! types it speaks.
//!
//! The trait covers what an administrator does on a settings page: list,
//! read, create, update, enable, disable and remove identity providers (the
//! provider registry), list a provider's users a page at a time and import
//! users from CSV with a per-row report (the user directory), and read the
//! audit log. It needs no runtime and no HTTP types (`async-trait`, object
//! safe: `Arc<dyn AdminBackend>`); `saml-store-sql`'s `SqlStore` implements
//! it over its registry, directory and audit log.
//!
//! Every failure is an [`AdminError`] whose [`code`](AdminError::code) is a
//! stable [`AdminErrorCode`]; invalid input names the fields to fix.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use saml_core::admin::{AdminError, AdminErrorCode, AuditQuery, ProviderEntry};
//! use saml_core::metadata::{IdpMetadata, MetadataOptions};
//! use saml_core::store::{Provider, ProviderSettings};
//!
//! let xml = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com">
//!   <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
//!     <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
//!   </md:IDPSSODescriptor>
//! </md:EntityDescriptor>"#;
//! let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().ok_or("time")?;
//! let provider = Provider {
//!     name: "acme".into(),
//!     metadata: IdpMetadata::parse(xml, &MetadataOptions::new())?,
//!     settings: ProviderSettings::default(),
//! };
//! let entry = ProviderEntry::new(provider, xml, 1, now, now);
//! let view = entry.view(now);
//! assert_eq!(view.entity_id, "https://idp.example.com");
//! assert_eq!(view.sso_urls, ["https://idp.example.com/sso"]);
//! // No signing certificate: the admin is told.
//! assert!(!view.warnings.is_empty());
//!
//! let e = AdminError::invalid("name", "use A-Z a-z 0-9 - _ .");
//! assert_eq!(e.code(), AdminErrorCode::InvalidInput);
//! assert_eq!(AuditQuery::default().limit, 100);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crypto::{Certificate, sha256_hex};
use crate::metadata::{Endpoint, IdpMetadata};
use crate::store::{AuditEvent, AuditKind, Provider, ProviderSettings, StoreError};

/// Default number of audit events one [`AuditQuery`] returns.
pub const DEFAULT_AUDIT_LIMIT: u64 = 100;
/// The most audit events one [`AuditQuery`] returns.
pub const MAX_AUDIT_LIMIT: u64 = 1_000;
/// Default number of users one page of [`AdminBackend::users`] holds.
pub const DEFAULT_USER_PAGE: u64 = 50;
/// The most users one page of [`AdminBackend::users`] holds.
pub const MAX_USER_PAGE: u64 = 1_000;

/// The stable code of an admin API refusal (the `error.code` of its JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdminErrorCode {
    /// The body or a parameter is not acceptable; the fields say what to fix (422).
    InvalidInput,
    /// No provider has this name (404).
    ProviderNotFound,
    /// A provider with this name or entity ID exists (409).
    ProviderExists,
    /// Disabling or removing the last enabled provider was refused (409).
    SamlDisableRefused,
    /// The provider changed after this request read it (another
    /// administrator's change); read it again and retry (409).
    ProviderChanged,
    /// The metadata URL could not be fetched or used (502).
    MetadataFetchFailed,
    /// The store failed; nothing was changed that the answer does not say (503).
    StoreUnavailable,
    /// The caller is not an administrator (403).
    AdminForbidden,
    /// A state change without the CSRF header, or from a foreign origin (403).
    AdminCsrf,
    /// The request body is over the size cap (413).
    PayloadTooLarge,
    /// No such route (404).
    NotFound,
    /// The route exists, the method does not (405).
    MethodNotAllowed,
    /// The body's media type is not the one the route reads (415).
    UnsupportedMediaType,
}

impl AdminErrorCode {
    /// Every code, for documentation tests.
    pub const ALL: &'static [Self] = &[
        Self::InvalidInput,
        Self::ProviderNotFound,
        Self::ProviderExists,
        Self::SamlDisableRefused,
        Self::ProviderChanged,
        Self::MetadataFetchFailed,
        Self::StoreUnavailable,
        Self::AdminForbidden,
        Self::AdminCsrf,
        Self::PayloadTooLarge,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::UnsupportedMediaType,
    ];

    /// The snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::ProviderNotFound => "provider_not_found",
            Self::ProviderExists => "provider_exists",
            Self::SamlDisableRefused => "saml_disable_refused",
            Self::ProviderChanged => "provider_changed",
            Self::MetadataFetchFailed => "metadata_fetch_failed",
            Self::StoreUnavailable => "store_unavailable",
            Self::AdminForbidden => "admin_forbidden",
            Self::AdminCsrf => "admin_csrf",
            Self::PayloadTooLarge => "payload_too_large",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    /// The HTTP status an admin API answers with.
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidInput => 422,
            Self::ProviderNotFound | Self::NotFound => 404,
            Self::ProviderExists | Self::SamlDisableRefused | Self::ProviderChanged => 409,
            Self::MetadataFetchFailed => 502,
            Self::StoreUnavailable => 503,
            Self::AdminForbidden | Self::AdminCsrf => 403,
            Self::PayloadTooLarge => 413,
            Self::MethodNotAllowed => 405,
            Self::UnsupportedMediaType => 415,
        }
    }
}

impl fmt::Display for AdminErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an admin operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// Input to fix: field name to what is wrong with it.
    #[error("invalid input: {}", summary(.0))]
    Invalid(BTreeMap<String, String>),
    /// No provider has this name.
    #[error("no provider named `{0}`")]
    NotFound(String),
    /// A provider with this name or entity ID exists (the message says which).
    #[error("{0}")]
    AlreadyExists(String),
    /// The provider is no longer at the revision the write expected: it
    /// changed in between (the message says which provider).
    #[error("{0}")]
    Changed(String),
    /// The store failed (or a stored record cannot be read back). The text
    /// is the store's own error, for the server log: an admin API answers a
    /// generic message instead and never shows it to the caller.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

fn summary(fields: &BTreeMap<String, String>) -> String {
    fields
        .iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AdminError {
    /// Invalid input in one field.
    #[must_use]
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(BTreeMap::from([(field.into(), message.into())]))
    }

    /// The stable code.
    #[must_use]
    pub const fn code(&self) -> AdminErrorCode {
        match self {
            Self::Invalid(_) => AdminErrorCode::InvalidInput,
            Self::NotFound(_) => AdminErrorCode::ProviderNotFound,
            Self::AlreadyExists(_) => AdminErrorCode::ProviderExists,
            Self::Changed(_) => AdminErrorCode::ProviderChanged,
            Self::Unavailable(_) => AdminErrorCode::StoreUnavailable,
        }
    }

    /// The fields to fix (empty unless [`AdminError::Invalid`]).
    #[must_use]
    pub fn fields(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Self::Invalid(fields) => Some(fields),
            _ => None,
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// A provider as a backend keeps it: the parsed provider, the metadata XML
/// it was registered with, and its revision.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderEntry {
    /// The provider (name, parsed metadata, settings).
    pub provider: Provider,
    /// The metadata XML as given.
    pub metadata_xml: String,
    /// Starts at 1; every change adds one.
    pub revision: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl ProviderEntry {
    /// An entry (for backends).
    #[must_use]
    pub fn new(
        provider: Provider,
        metadata_xml: impl Into<String>,
        revision: i64,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            provider,
            metadata_xml: metadata_xml.into(),
            revision,
            created_at,
            updated_at,
        }
    }

    /// What the admin API shows of it, with warnings judged at `now`.
    #[must_use]
    pub fn view(&self, now: DateTime<Utc>) -> ProviderView {
        let p = &self.provider;
        let md = &p.metadata;
        ProviderView {
            name: p.name.clone(),
            display_name: p.display_name().to_owned(),
            enabled: p.settings.enabled,
            entity_id: md.entity_id().to_owned(),
            sso_urls: md
                .sso_endpoints()
                .iter()
                .map(|e| e.location.clone())
                .collect(),
            slo_urls: md
                .slo_endpoints()
                .iter()
                .map(|e| e.location.clone())
                .collect(),
            certificates: md
                .signing_certificates()
                .iter()
                .map(CertificateView::of)
                .collect(),
            settings: p.settings.clone(),
            revision: self.revision,
            created_at: self.created_at,
            updated_at: self.updated_at,
            warnings: warnings(md, now),
        }
    }
}

fn warnings(md: &IdpMetadata, now: DateTime<Utc>) -> Vec<String> {
    md.lint(now).into_iter().map(|f| f.message).collect()
}

/// A provider as the admin API shows it (`Provider` in `docs/admin-api.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProviderView {
    /// The configuration name (appears in URLs).
    pub name: String,
    /// The name on the login button (the settings' display name, else the name).
    pub display_name: String,
    /// Whether sign-in through it is enabled.
    pub enabled: bool,
    /// The IdP's entity ID.
    pub entity_id: String,
    /// The IdP's single sign-on URLs (every binding).
    pub sso_urls: Vec<String>,
    /// The IdP's single logout URLs (every binding).
    pub slo_urls: Vec<String>,
    /// The IdP's signing certificates.
    pub certificates: Vec<CertificateView>,
    /// The settings.
    pub settings: ProviderSettings,
    /// Starts at 1; every change adds one.
    pub revision: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Problems to fix: no signing certificate, a certificate expiring or
    /// expired, no browser SSO endpoint, plain-HTTP endpoints...
    pub warnings: Vec<String>,
}

/// A certificate as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CertificateView {
    /// The subject distinguished name.
    pub subject: String,
    /// End of validity.
    pub not_after: Option<DateTime<Utc>>,
    /// SHA-256 fingerprint of the DER, lowercase hex.
    pub sha256: String,
}

impl CertificateView {
    /// The view of `cert`.
    #[must_use]
    pub fn of(cert: &Certificate) -> Self {
        Self {
            subject: cert.subject().to_owned(),
            not_after: DateTime::<Utc>::from_timestamp(cert.not_after(), 0),
            sha256: sha256_hex(cert.der()),
        }
    }
}

/// One endpoint of a metadata preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointView {
    /// The binding URI.
    pub binding: String,
    /// The URL.
    pub location: String,
}

impl EndpointView {
    fn of(e: &Endpoint) -> Self {
        Self {
            binding: e.binding.clone(),
            location: e.location.clone(),
        }
    }
}

/// What a metadata document would register, shown before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetadataPreview {
    /// The IdP's entity ID.
    pub entity_id: String,
    /// Single sign-on endpoints.
    pub sso: Vec<EndpointView>,
    /// Single logout endpoints.
    pub slo: Vec<EndpointView>,
    /// Signing certificates.
    pub certificates: Vec<CertificateView>,
    /// Problems an administrator should know about (see [`IdpMetadata::lint`]).
    pub warnings: Vec<String>,
    /// The metadata XML (what `metadata_xml` of a create or update takes).
    pub metadata_xml: String,
}

impl MetadataPreview {
    /// The preview of parsed metadata `md` (from `xml`), judged at `now`.
    #[must_use]
    pub fn of(md: &IdpMetadata, xml: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            entity_id: md.entity_id().to_owned(),
            sso: md.sso_endpoints().iter().map(EndpointView::of).collect(),
            slo: md.slo_endpoints().iter().map(EndpointView::of).collect(),
            certificates: md
                .signing_certificates()
                .iter()
                .map(CertificateView::of)
                .collect(),
            warnings: warnings(md, now),
            metadata_xml: xml.into(),
        }
    }
}

/// What removing a provider removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemovedProvider {
    /// Users removed from the directory.
    pub users_removed: u64,
    /// Sessions ended.
    pub sessions_ended: u64,
}

impl RemovedProvider {
    /// The counts (for backends).
    #[must_use]
    pub const fn new(users_removed: u64, sessions_ended: u64) -> Self {
        Self {
            users_removed,
            sessions_ended,
        }
    }
}

/// A user of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserView {
    /// The user's ID at the provider (by default the NameID).
    pub external_id: String,
    /// Whether the user may sign in.
    pub enabled: bool,
    /// Email address.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Other fields (a JSON object).
    pub profile: serde_json::Map<String, serde_json::Value>,
    /// When the user was added.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    /// A user (for backends).
    #[must_use]
    pub fn new(external_id: impl Into<String>, enabled: bool, at: DateTime<Utc>) -> Self {
        Self {
            external_id: external_id.into(),
            enabled,
            email: None,
            display_name: None,
            profile: serde_json::Map::new(),
            created_at: at,
            updated_at: at,
        }
    }
}

/// One page of a provider's users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserPage {
    /// The users, ordered by external ID.
    pub users: Vec<UserView>,
    /// How many users the provider has in all.
    pub total: u64,
}

impl UserPage {
    /// A page (for backends).
    #[must_use]
    pub const fn new(users: Vec<UserView>, total: u64) -> Self {
        Self { users, total }
    }
}

/// A CSV row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImportFailure {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    /// The row's external ID, when it could be read.
    pub external_id: Option<String>,
    /// Why it was not imported.
    pub reason: String,
}

impl ImportFailure {
    /// A failed row (for backends).
    #[must_use]
    pub fn new(line: u64, external_id: Option<String>, reason: impl Into<String>) -> Self {
        Self {
            line,
            external_id,
            reason: reason.into(),
        }
    }
}

/// The outcome of a CSV import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImportOutcome {
    /// Users added.
    pub added: u64,
    /// Rows whose user already existed (left unchanged).
    pub skipped: u64,
    /// Rows not imported, with line numbers and reasons.
    pub failed: Vec<ImportFailure>,
    /// One line: `added 2, skipped 1 (already present), failed 1`.
    pub summary: String,
}

impl ImportOutcome {
    /// An outcome (for backends); the summary is written from the counts.
    #[must_use]
    pub fn new(added: u64, skipped: u64, failed: Vec<ImportFailure>) -> Self {
        let summary = format!(
            "added {added}, skipped {skipped} (already present), failed {}",
            failed.len()
        );
        Self {
            added,
            skipped,
            failed,
            summary,
        }
    }
}

/// Which audit events to read: newest first, at most `limit` (capped at
/// [`MAX_AUDIT_LIMIT`]), optionally of one provider, of one kind, and only
/// those strictly before an instant (to page back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only events of this provider.
    pub provider: Option<String>,
    /// Only events of this kind.
    pub kind: Option<AuditKind>,
    /// Only events strictly before this instant.
    pub before: Option<DateTime<Utc>>,
    /// At most this many events.
    pub limit: u64,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            provider: None,
            kind: None,
            before: None,
            limit: DEFAULT_AUDIT_LIMIT,
        }
    }
}

/// What an admin API needs from the store: the provider registry, the user
/// directory and the audit log. Object safe (`Arc<dyn AdminBackend>`).
///
/// Implementations check what they store (names, metadata, CSV) and answer
/// [`AdminError::Invalid`] with the field to fix; the admin API checks the
/// same things first, so a backend's own checks are the safety net. Changes
/// must be visible to the backend's `MetadataResolver` at once (a new,
/// enabled or disabled provider takes effect for sign-in without a restart).
#[async_trait]
pub trait AdminBackend: Send + Sync + fmt::Debug {
    /// Every provider, by name.
    async fn providers(&self) -> Result<Vec<ProviderEntry>, AdminError>;

    /// The provider named `name` ([`AdminError::NotFound`] when absent).
    async fn provider(&self, name: &str) -> Result<ProviderEntry, AdminError>;

    /// Registers a provider; [`AdminError::AlreadyExists`] when the name or
    /// the entity ID is taken.
    async fn create_provider(
        &self,
        name: &str,
        settings: ProviderSettings,
        metadata_xml: &str,
        now: DateTime<Utc>,
    ) -> Result<ProviderEntry, AdminError>;

    /// Replaces a provider's settings and metadata. With
    /// `expected_revision`, only if the stored revision is still that one
    /// (a compare-and-swap; [`AdminError::Changed`] otherwise), so the
    /// write's revision is exactly `expected_revision + 1`.
    async fn update_provider(
        &self,
        name: &str,
        settings: ProviderSettings,
        metadata_xml: &str,
        expected_revision: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<ProviderEntry, AdminError>;

    /// Enables or disables sign-in through a provider.
    async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<ProviderEntry, AdminError>;

    /// Removes a provider, its users and its sessions.
    async fn remove_provider(&self, name: &str) -> Result<RemovedProvider, AdminError>;

    /// Ends every session of `provider` (disabling a provider ends them, so
    /// a provider disabled in an incident stops vouching for anyone at
    /// once). Returns how many ended.
    async fn end_sessions(&self, provider: &str) -> Result<u64, AdminError>;

    /// Up to `limit` users of `provider` after the first `offset`, and the total.
    async fn users(&self, provider: &str, offset: u64, limit: u64) -> Result<UserPage, AdminError>;

    /// Imports users of `provider` from CSV (header line with an
    /// `ExternalId` column). A refused file is [`AdminError::Invalid`] with
    /// the field `csv`; refused rows are in the outcome.
    async fn import_users(
        &self,
        provider: &str,
        csv: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome, AdminError>;

    /// Audit events matching `query`, newest first.
    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, AdminError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_code_is_documented_with_its_status() {
        let guide = include_str!("../../docs/troubleshooting.md");
        let api = include_str!("../../docs/admin-api.md");
        for code in AdminErrorCode::ALL {
            let heading = format!("### `{}`", code.as_str());
            let at = guide
                .find(&heading)
                .unwrap_or_else(|| panic!("{code} is not in the troubleshooting guide"));
            let status = format!("**Status** {}", code.http_status());
            assert!(
                guide[at..]
                    .lines()
                    .nth(2)
                    .is_some_and(|l| l.contains(&status)),
                "{code}: the guide does not say {status}"
            );
            assert!(
                api.contains(&format!("| {} | `{}` |", code.http_status(), code.as_str())),
                "{code} is not in the admin API's error table"
            );
        }
    }
}
