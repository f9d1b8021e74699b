//! The component traits the layer delegates to, and the records they keep.
//!
//! Everything stateful or deployment-specific sits behind one of five
//! object-safe traits, so any piece can be swapped: [`SessionStore`],
//! [`ReplayCache`], [`MetadataResolver`], [`KeyStore`] and [`UserMapper`]; an
//! optional [`AuditSink`] keeps the audit log.
//! The traits need no runtime (they use `async-trait`); `saml-store-memory`
//! and `saml-store-sql` implement them, and `saml-testkit` holds the one
//! conformance suite every implementation runs.
//!
//! Store errors fail closed: the layer answers `store_unavailable` (HTTP 503)
//! and lets nobody in.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crypto::SigningKey;
use crate::error::{Error, ErrorCode};
use crate::mapping::{AttributeMapping, MappingRules, Preset, Value};
use crate::metadata::IdpMetadata;
use crate::protocol::Assertion;
use crate::xmlenc::DecryptionKey;

/// Why a store call failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing store could not be reached or failed; deny access.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A record with this key already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored record could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::new(ErrorCode::StoreUnavailable, e.to_string())
    }
}

/// The authenticated user as handlers see it (and as `/me` shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlUser {
    /// The provider (IdP configuration name) the user signed in with.
    pub provider: String,
    /// The NameID value.
    pub name_id: String,
    /// The NameID format, if the IdP gave one.
    pub name_id_format: Option<String>,
    /// The IdP session index (for Single Logout).
    pub session_index: Option<String>,
    /// Attributes: name to values, as the IdP sent them.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The profile mapped from the attributes by [`MappingMapper`] (the
    /// provider's [`preset`](ProviderSettings::preset) or its own rules):
    /// `id`, `email`, `name.given`, ... (see [`mapping::targets`](crate::mapping::targets)).
    /// Empty with [`PassThroughMapper`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profile: BTreeMap<String, Value>,
    /// Roles mapped from the role and group claims (empty with [`PassThroughMapper`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The IdP left groups out (Entra ID group overage): [`roles`](Self::roles)
    /// may be incomplete; look memberships up another way before denying access.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub groups_overage: bool,
}

impl SamlUser {
    /// A user with no attributes, profile or roles (for tests and custom mappers).
    #[must_use]
    pub fn new(provider: impl Into<String>, name_id: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            name_id: name_id.into(),
            name_id_format: None,
            session_index: None,
            attributes: BTreeMap::new(),
            profile: BTreeMap::new(),
            roles: Vec::new(),
            groups_overage: false,
        }
    }

    /// The mapped profile string at dotted `path` (`email`, `name.given`;
    /// the first item of a list).
    #[must_use]
    pub fn profile_str(&self, path: &str) -> Option<&str> {
        let mut segments = path.split('.');
        let mut current = self.profile.get(segments.next()?)?;
        for seg in segments {
            current = current.as_object()?.get(seg)?;
        }
        current.as_str()
    }

    /// Whether the mapped roles include `role`.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The first value of attribute `name`.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// An authenticated session. The store keeps the hash of the session id,
/// never the id itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    /// Who is signed in. Shared: the layer hands this same allocation to
    /// every request of the session instead of copying the attributes.
    pub user: Arc<SamlUser>,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// Last activity (for the idle timeout).
    pub last_seen: DateTime<Utc>,
    /// Absolute end: the earlier of our lifetime and the IdP's SessionNotOnOrAfter.
    pub expires_at: DateTime<Utc>,
}

/// What a [`PendingLogin`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PendingKind {
    /// The `Response` to an `AuthnRequest` (at the ACS).
    #[default]
    Login,
    /// The `LogoutResponse` to a `LogoutRequest` (at the SLO endpoint).
    Logout,
    /// The `Response` to an `AuthnRequest` an administrator sent to test a
    /// provider: the ACS validates and maps it like a login, then shows a
    /// report instead of starting a session.
    Test,
}

/// A login or logout in progress: the request whose answer we wait for.
/// Its [`kind`](Self::kind) keeps the two apart, so the answer to one can
/// never complete the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The AuthnRequest ID (what InResponseTo must equal).
    pub request_id: String,
    /// The provider the request went to.
    pub provider: String,
    /// Where to send the user after login (a checked same-origin path).
    pub return_to: Option<String>,
    /// SHA-256 (hex) of the browser-binding cookie set with the request.
    pub browser_binding: String,
    /// When the request was issued (ForceAuthn: authentication must not predate it).
    pub issued_at: DateTime<Utc>,
    /// Whether ForceAuthn was asked.
    pub force_authn: bool,
    /// When the request stops being answerable.
    pub expires_at: DateTime<Utc>,
    /// Login or logout (records stored before logout existed are logins).
    #[serde(default)]
    pub kind: PendingKind,
}

/// Authenticated sessions.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// Stores a new session; `Conflict` if the id hash exists.
    async fn create(&self, record: SessionRecord) -> Result<(), StoreError>;
    /// The session with this id hash, unless absent or expired at `now`.
    async fn load(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Records activity at `now`.
    async fn touch(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Ends one session (absent is not an error).
    async fn delete(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Ends every session of this subject at this provider, restricted to one
    /// IdP session index when given (IdP-initiated logout). Returns how many.
    async fn delete_by_subject(
        &self,
        provider: &str,
        name_id: &str,
        session_index: Option<&str>,
    ) -> Result<u64, StoreError>;
    /// Removes sessions expired at `now`. Returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Single use of assertion IDs and pending requests, cluster-wide.
#[async_trait]
pub trait ReplayCache: Send + Sync + fmt::Debug {
    /// Remembers `key` until `expires_at`. Returns `false` if it was already
    /// remembered and not expired: a replay. Check-and-insert is atomic.
    async fn insert_once(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Stores a pending login; `Conflict` if its request ID exists.
    async fn save_pending(&self, pending: PendingLogin) -> Result<(), StoreError>;
    /// Removes and returns the pending login with this request ID, unless
    /// absent or expired at `now`. A second call returns `None` (single use).
    async fn take_pending(
        &self,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingLogin>, StoreError>;
    /// Removes entries expired at `now`. Returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// The binding AuthnRequests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestBinding {
    /// HTTP-Redirect (DEFLATE in the query; signed over the query string).
    #[default]
    Redirect,
    /// HTTP-POST (an auto-submitted form; signed as XML).
    Post,
}

/// How the IdP returns its Response to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseBinding {
    /// HTTP-POST: the browser posts the Response to the ACS (the default).
    #[default]
    Post,
    /// HTTP-Artifact: the browser brings an artifact, which the SP resolves
    /// over SOAP at the IdP's artifact resolution service (the assertion
    /// never passes through the browser). Needs an HTTP client on the layer.
    Artifact,
}

/// Per-provider settings (DESIGN.md section 5), with the safe defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ProviderSettings {
    /// Name shown on the login page ("Log in using ...").
    pub display_name: Option<String>,
    /// Whether sign-in through this provider is enabled.
    pub enabled: bool,
    /// Ask the IdP to re-authenticate the user (on by default), and refuse
    /// assertions whose authentication predates the request.
    pub force_authn: bool,
    /// Ask for passive authentication (no user interaction).
    pub is_passive: bool,
    /// How AuthnRequests travel to the IdP (default: HTTP-Redirect; the
    /// POST binding is used when the IdP offers no Redirect endpoint).
    pub request_binding: RequestBinding,
    /// Sign AuthnRequests.
    pub sign_request: bool,
    /// Require the assertion itself to be signed.
    pub want_assertions_signed: bool,
    /// Accept IdP-initiated (unsolicited) responses (off by default).
    pub allow_idp_initiated: bool,
    /// Accept SHA-1 signatures (legacy IdPs only).
    pub allow_sha1: bool,
    /// NameID format to request (default: unspecified).
    pub name_id_format: Option<String>,
    /// AuthnContextClassRefs to request and require (default: none).
    pub authn_context_class_refs: Vec<String>,
    /// Tolerated clock skew in seconds (default 10).
    pub clock_skew_seconds: i64,
    /// Claim-mapping defaults and known quirks of the IdP product (default
    /// [`Preset::Generic`]); used by [`MappingMapper`]. In configuration
    /// files: `entra_id`, `adfs`, `okta`, `google`, `shibboleth` or `generic`.
    pub preset: Preset,
    /// How the IdP is asked to return the Response (default: HTTP-POST).
    pub response_binding: ResponseBinding,
    /// Require the IdP's logout messages (LogoutRequest and LogoutResponse)
    /// to be signed (default `true`: an unsigned LogoutRequest would let
    /// anyone end a user's sessions).
    pub require_signed_logout: bool,
    /// Claim mapping edited by an administrator, applied by
    /// [`MappingMapper`] on top of the [`preset`](Self::preset) (or of the
    /// rules the application set for this provider in code). `None` (the
    /// default, and what settings stored before this field existed read as):
    /// the preset alone. See [`AttributeMapping`] for the JSON shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_mapping: Option<AttributeMapping>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            display_name: None,
            enabled: true,
            force_authn: true,
            is_passive: false,
            request_binding: RequestBinding::Redirect,
            sign_request: false,
            want_assertions_signed: false,
            allow_idp_initiated: false,
            allow_sha1: false,
            name_id_format: None,
            authn_context_class_refs: Vec::new(),
            clock_skew_seconds: crate::protocol::DEFAULT_CLOCK_SKEW_SECONDS,
            require_signed_logout: true,
            response_binding: ResponseBinding::Post,
            preset: Preset::Generic,
            attribute_mapping: None,
        }
    }
}

/// A configured identity provider: its name, metadata and settings.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The configuration name (URL-safe: used in `/saml/{provider}/acs`).
    pub name: String,
    /// The IdP's metadata (entity ID, endpoints, keys).
    pub metadata: IdpMetadata,
    /// Settings.
    pub settings: ProviderSettings,
}

impl Provider {
    /// The name shown to users.
    #[must_use]
    pub fn display_name(&self) -> &str {
        self.settings.display_name.as_deref().unwrap_or(&self.name)
    }
}

/// Finds identity providers by name or by Issuer entity ID.
#[async_trait]
pub trait MetadataResolver: Send + Sync + fmt::Debug {
    /// The provider configured under `name`.
    async fn provider(&self, name: &str) -> Result<Option<Arc<Provider>>, StoreError>;
    /// The provider whose entity ID is `entity_id` (the shared ACS finds the IdP by Issuer).
    async fn provider_by_entity_id(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError>;
    /// Every configured provider (the login page lists the enabled ones).
    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError>;
}

/// The SP's own credentials.
#[derive(Debug, Clone, Default)]
pub struct SpKeys {
    /// The key that signs requests and metadata (with its certificate).
    pub signing: Option<Arc<SigningKey>>,
    /// Keys that decrypt (current and, during rollover, older or newer ones).
    pub decryption: Vec<DecryptionKey>,
}

/// The SP's keys, with rollover.
#[async_trait]
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The current keys.
    async fn keys(&self) -> Result<SpKeys, StoreError>;
}

/// Turns a validated assertion into the application's user.
#[async_trait]
pub trait UserMapper: Send + Sync + fmt::Debug {
    /// The user for `assertion` from `provider`, or an error that refuses the
    /// login (for example `missing_attribute`, or an unknown user).
    async fn map(&self, provider: &Provider, assertion: &Assertion) -> Result<SamlUser, Error>;

    /// What [`map`](Self::map) would answer, without side effects: an
    /// administrator's test login shows it, and must not, say, add the
    /// tester to a user directory. The default calls `map`; mappers that
    /// write override it.
    async fn preview(&self, provider: &Provider, assertion: &Assertion) -> Result<SamlUser, Error> {
        self.map(provider, assertion).await
    }
}

/// The plainest mapper: NameID, format, session index and every
/// attribute, as given; no profile, no roles.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThroughMapper;

fn raw_user(provider: &Provider, assertion: &Assertion) -> SamlUser {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &assertion.attributes {
        attributes
            .entry(a.name.clone())
            .or_default()
            .extend(a.values.iter().cloned());
    }
    let mut user = SamlUser::new(&provider.name, &assertion.name_id.value);
    user.name_id_format.clone_from(&assertion.name_id.format);
    user.session_index.clone_from(&assertion.session_index);
    user.attributes = attributes;
    user
}

#[async_trait]
impl UserMapper for PassThroughMapper {
    async fn map(&self, provider: &Provider, assertion: &Assertion) -> Result<SamlUser, Error> {
        Ok(raw_user(provider, assertion))
    }
}

/// The layer's default mapper: everything [`PassThroughMapper`] gives, plus
/// the [`profile`](SamlUser::profile) and [`roles`](SamlUser::roles) mapped
/// by the provider's [`preset`](ProviderSettings::preset), or by rules set
/// for that provider with [`rules`](Self::rules); the provider's
/// [`attribute_mapping`](ProviderSettings::attribute_mapping) (edited by an
/// administrator) is applied on top of either. A required target that is
/// missing fails the login with `missing_attribute`.
///
/// ```
/// use saml_core::mapping::{FieldRule, MappingRules, Preset};
/// use saml_core::store::MappingMapper;
///
/// let mapper = MappingMapper::new().rules(
///     "okta",
///     MappingRules::preset(Preset::Okta)
///         .field(FieldRule::new("email", ["email"]).email().required()),
/// );
/// # let _ = mapper;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MappingMapper {
    rules: BTreeMap<String, MappingRules>,
}

impl MappingMapper {
    /// Maps every provider by its preset.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `provider` (the configuration name) by `rules` instead of its preset.
    #[must_use]
    pub fn rules(mut self, provider: impl Into<String>, rules: MappingRules) -> Self {
        self.rules.insert(provider.into(), rules);
        self
    }
}

#[async_trait]
impl UserMapper for MappingMapper {
    async fn map(&self, provider: &Provider, assertion: &Assertion) -> Result<SamlUser, Error> {
        let base = match self.rules.get(&provider.name) {
            Some(rules) => rules.clone(),
            None => MappingRules::preset(provider.settings.preset),
        };
        let rules = match &provider.settings.attribute_mapping {
            Some(mapping) => mapping.apply(base),
            None => base,
        };
        let mapped = rules.map(assertion)?;
        let mut user = raw_user(provider, assertion);
        user.profile = mapped.fields;
        user.roles = mapped.roles;
        user.groups_overage = mapped.groups_overage;
        Ok(user)
    }
}

/// What an [`AuditEvent`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A user signed in.
    Login,
    /// A sign-in was refused ([`AuditEvent::code`] says why).
    LoginFailed,
    /// A session ended (SP- or IdP-initiated).
    Logout,
    /// A response or request was replayed and refused.
    Replay,
    /// An administrator created, changed, enabled, disabled or removed a provider.
    ProviderChanged,
    /// An administrator imported users.
    UsersImported,
    /// An administrator tested a provider: a test login was validated and
    /// mapped, and reported instead of starting a session.
    ProviderTested,
    /// An administrator previewed a metadata document (a URL fetched, XML
    /// pasted or typed in) before registering it.
    MetadataPreviewed,
    /// An administrator was given a test-login link for a provider.
    TestLinkIssued,
}

impl AuditKind {
    /// The stable snake_case name (as stored and logged).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::Replay => "replay",
            Self::ProviderChanged => "provider_changed",
            Self::UsersImported => "users_imported",
            Self::ProviderTested => "provider_tested",
            Self::MetadataPreviewed => "metadata_previewed",
            Self::TestLinkIssued => "test_link_issued",
        }
    }

    /// The kind named `name` (the inverse of [`as_str`](Self::as_str)).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Login,
            Self::LoginFailed,
            Self::Logout,
            Self::Replay,
            Self::ProviderChanged,
            Self::UsersImported,
            Self::ProviderTested,
            Self::MetadataPreviewed,
            Self::TestLinkIssued,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// One row of the audit log: what happened, when, to whom, from where.
///
/// Never holds secrets: no session ids, no SAML messages, no attribute values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: AuditKind,
    /// The provider (IdP configuration name) involved, if any.
    pub provider: Option<String>,
    /// Who: the NameID for sign-ins and logouts, the administrator for changes.
    pub subject: Option<String>,
    /// The client's address, when the layer knows it.
    pub client_address: Option<String>,
    /// The error code of a refusal (`login_failed`, `replay`).
    pub code: Option<String>,
    /// A short human-readable detail (counts of an import, what changed).
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` at `at`, with every optional field empty.
    #[must_use]
    pub fn new(kind: AuditKind, at: DateTime<Utc>) -> Self {
        Self {
            at,
            kind,
            provider: None,
            subject: None,
            client_address: None,
            code: None,
            detail: None,
        }
    }

    /// Sets the provider.
    #[must_use]
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Sets the subject.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the client address.
    #[must_use]
    pub fn client_address(mut self, address: impl Into<String>) -> Self {
        self.client_address = Some(address.into());
        self
    }

    /// Sets the error code.
    #[must_use]
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the detail.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Where audit events go (the layer always logs them as `saml::audit`
/// tracing events too). A sign-in is recorded before its session is created
/// and fails closed when recording fails; refusals are recorded best-effort.
#[async_trait]
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Appends `event` to the log.
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_without_a_mapping_read_and_write_as_before() {
        let old = r#"{"display_name":"Acme","enabled":false,"preset":"okta"}"#;
        let s: ProviderSettings = serde_json::from_str(old).unwrap_or_default();
        assert_eq!(s.display_name.as_deref(), Some("Acme"));
        assert!(s.attribute_mapping.is_none());
        let written = serde_json::to_string(&s).unwrap_or_default();
        assert!(!written.contains("attribute_mapping"), "{written}");
        let with = r#"{"attribute_mapping":{"fields":{"email":["mail"]}}}"#;
        let s: ProviderSettings = serde_json::from_str(with).unwrap_or_default();
        assert!(s.attribute_mapping.is_some());
        assert!(serde_json::from_str::<ProviderSettings>(r#"{"mapping":{}}"#).is_err());
    }

    #[test]
    fn test_logins_are_their_own_pending_kind() {
        assert_eq!(
            serde_json::to_string(&PendingKind::Test).unwrap_or_default(),
            "\"test\""
        );
        assert_eq!(
            serde_json::from_str::<PendingKind>("\"login\"").ok(),
            Some(PendingKind::Login)
        );
    }
}
