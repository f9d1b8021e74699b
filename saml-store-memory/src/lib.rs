//! In-memory implementations of the saml-tower component traits, for tests,
//! development and single-node deployments.
//!
//! - [`MemoryStore`]: one handle that is both the [`SessionStore`] and the
//!   [`ReplayCache`]. Cloning it is cheap and every clone shares the same
//!   data. Every check-and-insert happens under one lock, so single use holds
//!   under concurrency (within this process: run a shared store such as
//!   `saml-store-sql` when there is more than one node).
//! - [`StaticMetadataResolver`]: a fixed list of identity providers, found by
//!   name or by entity ID.
//! - [`ChainedMetadataResolver`]: several resolvers asked in order, as one
//!   (local files beside metadata URLs, say).
//! - [`StaticKeyStore`]: the SP's fixed [`SpKeys`].
//! - [`PassThroughMapper`], re-exported from `saml-core`: the default
//!   [`UserMapper`](saml_core::store::UserMapper).
//! - [`MemoryStore`] is also an [`AuditSink`]: it keeps the most recent
//!   [`DEFAULT_MAX_AUDIT_EVENTS`] audit events (a ring buffer; older ones
//!   are dropped), readable with [`MemoryStore::recent_audit_events`].
//!
//! Memory stays bounded. Expired entries are filtered on read, dropped by
//! `purge_expired`, and purged lazily every [`MemoryStore::with_purge_every`]
//! writes. Each kind of entry has a cap: once it is reached (after purging
//! what has expired), new entries are refused with
//! [`StoreError::Unavailable`], so the layer fails closed instead of the
//! process growing without bound.
//!
//! Nothing here reads the system clock: every trait method takes `now`, so
//! expiry is tested with fixed times. A record is expired at `now` when
//! `expires_at <= now`. Sessions are keyed by `id_hash`: callers hash the
//! session id, and the store never sees the id itself.
//!
//! ```
//! use chrono::{TimeDelta, Utc};
//! use saml_core::store::ReplayCache;
//! use saml_store_memory::MemoryStore;
//!
//! let store = MemoryStore::new().with_max_pending(1_000);
//! let now = Utc::now();
//! let until = now + TimeDelta::minutes(5);
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! runtime.block_on(async {
//!     assert!(store.insert_once("assertion-id", until, now).await?);
//!     // The same assertion ID again: a replay.
//!     assert!(!store.insert_once("assertion-id", until, now).await?);
//!     Ok::<(), saml_core::store::StoreError>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate passes the shared conformance suite in `saml-testkit`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use saml_core::store::PassThroughMapper;
use saml_core::store::{
    AuditEvent, AuditSink, KeyStore, MetadataResolver, PendingLogin, Provider, ReplayCache,
    SessionRecord, SessionStore, SpKeys, StoreError,
};
use std::sync::{Mutex, PoisonError};

/// Default cap on pending logins ([`MemoryStore::with_max_pending`]).
pub const DEFAULT_MAX_PENDING: usize = 10_000;
/// Default cap on remembered replay keys ([`MemoryStore::with_max_replay_entries`]).
pub const DEFAULT_MAX_REPLAY_ENTRIES: usize = 100_000;
/// Default cap on sessions ([`MemoryStore::with_max_sessions`]).
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;
/// Default number of audit events kept ([`MemoryStore::with_max_audit_events`]).
pub const DEFAULT_MAX_AUDIT_EVENTS: usize = 1_000;
/// Default number of writes between lazy purges ([`MemoryStore::with_purge_every`]).
pub const DEFAULT_PURGE_EVERY: u64 = 1_000;

/// Sessions, replay keys and pending logins in memory.
///
/// Implements [`SessionStore`] and [`ReplayCache`]. Clones share the data;
/// the limits belong to each handle, so configure them before cloning.
///
/// Lazy purging: every write counts, and once
/// [`with_purge_every`](Self::with_purge_every) writes have happened, the
/// next write that is given `now` (`insert_once`, `take_pending`, `touch`)
/// drops everything expired at that `now`. `create` and `save_pending` carry
/// no `now`; when their cap is reached they first drop entries of their own
/// kind that expired before the new record's `created_at` / `issued_at`.
/// Replay keys are only ever purged with a `now` a caller passed.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    max_pending: usize,
    max_replay: usize,
    max_sessions: usize,
    max_audit: usize,
    purge_every: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pending: DEFAULT_MAX_PENDING,
            max_replay: DEFAULT_MAX_REPLAY_ENTRIES,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_audit: DEFAULT_MAX_AUDIT_EVENTS,
            purge_every: DEFAULT_PURGE_EVERY,
        }
    }
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, SessionRecord>,
    /// Replay key to the instant it may be forgotten.
    replay: HashMap<String, DateTime<Utc>>,
    pending: HashMap<String, PendingLogin>,
    /// The most recent audit events, oldest at the front.
    audit: VecDeque<AuditEvent>,
    writes_since_purge: u64,
}

/// How many entries a [`MemoryStore`] holds right now (expired ones included
/// until they are purged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Sessions.
    pub sessions: usize,
    /// Remembered replay keys.
    pub replay_entries: usize,
    /// Pending logins.
    pub pending: usize,
    /// Audit events kept.
    pub audit_events: usize,
}

fn count(removed: usize) -> u64 {
    u64::try_from(removed).unwrap_or(u64::MAX)
}

impl State {
    fn purge_sessions(&mut self, now: DateTime<Utc>) -> u64 {
        let before = self.sessions.len();
        self.sessions.retain(|_, r| r.expires_at > now);
        count(before.saturating_sub(self.sessions.len()))
    }

    fn purge_replay(&mut self, now: DateTime<Utc>) -> u64 {
        let before = self.replay.len();
        self.replay.retain(|_, expires_at| *expires_at > now);
        count(before.saturating_sub(self.replay.len()))
    }

    fn purge_pending(&mut self, now: DateTime<Utc>) -> u64 {
        let before = self.pending.len();
        self.pending.retain(|_, p| p.expires_at > now);
        count(before.saturating_sub(self.pending.len()))
    }

    /// Counts a write; purges everything expired at `now` when a purge is due
    /// and this write knows the time.
    fn note_write(&mut self, limits: Limits, now: Option<DateTime<Utc>>) {
        self.writes_since_purge = self.writes_since_purge.saturating_add(1);
        if let Some(now) = now
            && self.writes_since_purge >= limits.purge_every
        {
            self.purge_sessions(now);
            self.purge_replay(now);
            self.purge_pending(now);
            self.writes_since_purge = 0;
        }
    }
}

impl MemoryStore {
    /// An empty store with the default caps.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Caps the number of pending logins (default [`DEFAULT_MAX_PENDING`]).
    /// Beyond it, `save_pending` answers
    /// `StoreError::Unavailable("too many pending logins")`.
    #[must_use]
    pub fn with_max_pending(mut self, max: usize) -> Self {
        self.limits.max_pending = max;
        self
    }

    /// Caps the number of remembered replay keys (default
    /// [`DEFAULT_MAX_REPLAY_ENTRIES`]). Beyond it, `insert_once` of a new key
    /// answers `StoreError::Unavailable("too many replay cache entries")`:
    /// a key that cannot be remembered is not accepted.
    #[must_use]
    pub fn with_max_replay_entries(mut self, max: usize) -> Self {
        self.limits.max_replay = max;
        self
    }

    /// Caps the number of sessions (default [`DEFAULT_MAX_SESSIONS`]).
    /// Beyond it, `create` answers `StoreError::Unavailable("too many sessions")`.
    #[must_use]
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.limits.max_sessions = max;
        self
    }

    /// Keeps at most `max` audit events (default
    /// [`DEFAULT_MAX_AUDIT_EVENTS`]): recording one more drops the oldest.
    /// 0 keeps none.
    #[must_use]
    pub fn with_max_audit_events(mut self, max: usize) -> Self {
        self.limits.max_audit = max;
        self
    }

    /// The audit events kept, newest first (at most the cap set with
    /// [`with_max_audit_events`](Self::with_max_audit_events)).
    pub async fn recent_audit_events(&self) -> Vec<AuditEvent> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.audit.iter().rev().cloned().collect()
    }

    /// Purges expired entries lazily after this many writes (default
    /// [`DEFAULT_PURGE_EVERY`]; 0 counts as 1, a purge on every write).
    #[must_use]
    pub fn with_purge_every(mut self, writes: u64) -> Self {
        self.limits.purge_every = writes.max(1);
        self
    }

    /// How many entries the store holds.
    pub async fn stats(&self) -> MemoryStats {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        MemoryStats {
            sessions: state.sessions.len(),
            replay_entries: state.replay.len(),
            pending: state.pending.len(),
            audit_events: state.audit.len(),
        }
    }
}

impl fmt::Debug for MemoryStore {
    /// Shows the limits only: the contents are user data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_sessions", &self.limits.max_sessions)
            .field("max_replay_entries", &self.limits.max_replay)
            .field("max_pending", &self.limits.max_pending)
            .field("max_audit_events", &self.limits.max_audit)
            .field("purge_every", &self.limits.purge_every)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: SessionRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.note_write(self.limits, None);
        if state.sessions.contains_key(&record.id_hash) {
            return Err(StoreError::Conflict(
                "a session with this id already exists".to_owned(),
            ));
        }
        if state.sessions.len() >= self.limits.max_sessions {
            state.purge_sessions(record.created_at);
            if state.sessions.len() >= self.limits.max_sessions {
                return Err(StoreError::Unavailable("too many sessions".to_owned()));
            }
        }
        state.sessions.insert(record.id_hash.clone(), record);
        Ok(())
    }

    async fn load(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let state = self.state.lock().map_err(|_| poisoned())?;
        Ok(state
            .sessions
            .get(id_hash)
            .filter(|r| r.expires_at > now)
            .cloned())
    }

    async fn touch(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.note_write(self.limits, Some(now));
        if let Some(record) = state.sessions.get_mut(id_hash)
            && record.expires_at > now
            && record.last_seen < now
        {
            record.last_seen = now;
        }
        Ok(())
    }

    async fn delete(&self, id_hash: &str) -> Result<(), StoreError> {
        self.state
            .lock()
            .map_err(|_| poisoned())?
            .sessions
            .remove(id_hash);
        Ok(())
    }

    async fn delete_by_subject(
        &self,
        provider: &str,
        name_id: &str,
        session_index: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        let before = state.sessions.len();
        state.sessions.retain(|_, r| {
            let matches = r.user.provider == provider
                && r.user.name_id == name_id
                && session_index.is_none_or(|index| r.user.session_index.as_deref() == Some(index));
            !matches
        });
        Ok(count(before.saturating_sub(state.sessions.len())))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(self
            .state
            .lock()
            .map_err(|_| poisoned())?
            .purge_sessions(now))
    }
}

#[async_trait]
impl ReplayCache for MemoryStore {
    async fn insert_once(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.note_write(self.limits, Some(now));
        if let Some(remembered_until) = state.replay.get_mut(key) {
            if *remembered_until > now {
                return Ok(false);
            }
            // Expired: remember it again, in place.
            *remembered_until = expires_at;
            return Ok(true);
        }
        if state.replay.len() >= self.limits.max_replay {
            state.purge_replay(now);
            if state.replay.len() >= self.limits.max_replay {
                return Err(StoreError::Unavailable(
                    "too many replay cache entries".to_owned(),
                ));
            }
        }
        state.replay.insert(key.to_owned(), expires_at);
        Ok(true)
    }

    async fn save_pending(&self, pending: PendingLogin) -> Result<(), StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.note_write(self.limits, None);
        if state.pending.contains_key(&pending.request_id) {
            return Err(StoreError::Conflict(
                "a pending login with this request ID already exists".to_owned(),
            ));
        }
        if state.pending.len() >= self.limits.max_pending {
            state.purge_pending(pending.issued_at);
            if state.pending.len() >= self.limits.max_pending {
                return Err(StoreError::Unavailable(
                    "too many pending logins".to_owned(),
                ));
            }
        }
        state.pending.insert(pending.request_id.clone(), pending);
        Ok(())
    }

    async fn take_pending(
        &self,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingLogin>, StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        state.note_write(self.limits, Some(now));
        Ok(state
            .pending
            .remove(request_id)
            .filter(|p| p.expires_at > now))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        let replay = state.purge_replay(now);
        let pending = state.purge_pending(now);
        Ok(replay.saturating_add(pending))
    }
}

#[async_trait]
impl AuditSink for MemoryStore {
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        if self.limits.max_audit == 0 {
            return Ok(());
        }
        while state.audit.len() >= self.limits.max_audit {
            state.audit.pop_front();
        }
        state.audit.push_back(event);
        Ok(())
    }
}

/// A fixed set of identity providers, found by configuration name or by
/// entity ID. Cheap to clone.
///
/// Names and entity IDs compare exactly. Two providers sharing a name or an
/// entity ID make that lookup ambiguous: [`try_new`](Self::try_new) refuses
/// them, and a resolver built with [`new`](Self::new) answers ambiguous
/// lookups with [`StoreError::Conflict`] (so the login is denied) rather
/// than guess.
///
/// ```
/// use saml_core::metadata::IdpMetadata;
/// use saml_core::store::{Provider, ProviderSettings};
/// use saml_store_memory::StaticMetadataResolver;
///
/// let acme = Provider {
///     name: "acme".to_owned(),
///     metadata: IdpMetadata::from_parts("https://idp.acme.example", vec![], vec![], vec![]),
///     settings: ProviderSettings::default(),
/// };
/// let resolver = StaticMetadataResolver::try_new(vec![acme])?;
/// # let _ = resolver;
/// # Ok::<(), saml_core::store::StoreError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticMetadataResolver {
    registry: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    providers: Vec<Arc<Provider>>,
    by_name: HashMap<String, Slot>,
    by_entity_id: HashMap<String, Slot>,
}

#[derive(Debug)]
enum Slot {
    One(Arc<Provider>),
    Ambiguous,
}

fn add(map: &mut HashMap<String, Slot>, key: &str, provider: &Arc<Provider>) {
    match map.get_mut(key) {
        Some(slot) => *slot = Slot::Ambiguous,
        None => {
            map.insert(key.to_owned(), Slot::One(Arc::clone(provider)));
        }
    }
}

fn find(
    map: &HashMap<String, Slot>,
    key: &str,
    what: &str,
) -> Result<Option<Arc<Provider>>, StoreError> {
    match map.get(key) {
        None => Ok(None),
        Some(Slot::One(provider)) => Ok(Some(Arc::clone(provider))),
        Some(Slot::Ambiguous) => Err(StoreError::Conflict(format!(
            "more than one provider has this {what}"
        ))),
    }
}

impl StaticMetadataResolver {
    /// A resolver for `providers`, in this order. Lookups that more than one
    /// provider matches fail with [`StoreError::Conflict`].
    #[must_use]
    pub fn new(providers: Vec<Provider>) -> Self {
        let mut registry = Registry::default();
        for provider in providers {
            let provider = Arc::new(provider);
            add(&mut registry.by_name, &provider.name, &provider);
            add(
                &mut registry.by_entity_id,
                provider.metadata.entity_id(),
                &provider,
            );
            registry.providers.push(provider);
        }
        Self {
            registry: Arc::new(registry),
        }
    }

    /// Like [`new`](Self::new), but refuses two providers with the same name
    /// or the same entity ID.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] naming the duplicate.
    pub fn try_new(providers: Vec<Provider>) -> Result<Self, StoreError> {
        let resolver = Self::new(providers);
        for provider in &resolver.registry.providers {
            if matches!(
                resolver.registry.by_name.get(&provider.name),
                Some(Slot::Ambiguous)
            ) {
                return Err(StoreError::Conflict(format!(
                    "two providers are named `{}`",
                    provider.name
                )));
            }
            let entity_id = provider.metadata.entity_id();
            if matches!(
                resolver.registry.by_entity_id.get(entity_id),
                Some(Slot::Ambiguous)
            ) {
                return Err(StoreError::Conflict(format!(
                    "two providers have the entity ID `{entity_id}`"
                )));
            }
        }
        Ok(resolver)
    }
}

impl From<Vec<Provider>> for StaticMetadataResolver {
    fn from(providers: Vec<Provider>) -> Self {
        Self::new(providers)
    }
}

#[async_trait]
impl MetadataResolver for StaticMetadataResolver {
    async fn provider(&self, name: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        find(&self.registry.by_name, name, "name")
    }

    async fn provider_by_entity_id(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        find(&self.registry.by_entity_id, entity_id, "entity ID")
    }

    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        Ok(self.registry.providers.clone())
    }
}

/// Several [`MetadataResolver`]s asked in order, as one: the layer takes a
/// single resolver, and this lets providers from local files
/// ([`StaticMetadataResolver`]) sit beside providers from metadata URLs
/// (`saml_remote::RemoteMetadataResolver`) or a database registry.
///
/// - [`provider`](MetadataResolver::provider) and
///   [`provider_by_entity_id`](MetadataResolver::provider_by_entity_id): the
///   first resolver that knows the key answers; a later one is asked only
///   when the earlier ones do not know it. A resolver that fails (a metadata
///   URL that is down) does not hide the others: its error is returned only
///   when no resolver found the key, so the lookup fails closed (503) rather
///   than answering "unknown provider" for a provider that may exist.
///   [`StoreError::Conflict`] (an ambiguous lookup) is returned at once.
/// - [`providers`](MetadataResolver::providers): every resolver's providers
///   in order, a name already listed by an earlier resolver left out. A
///   failing resolver is skipped while another answers; the call fails
///   only when every resolver failed.
///
/// Give providers distinct names and entity IDs across the resolvers: when
/// two share one, the first resolver's provider shadows the other.
///
/// ```
/// use saml_core::metadata::IdpMetadata;
/// use saml_core::store::{MetadataResolver, Provider, ProviderSettings};
/// use saml_store_memory::{ChainedMetadataResolver, StaticMetadataResolver};
///
/// let provider = |name: &str, entity_id: &str| Provider {
///     name: name.to_owned(),
///     metadata: IdpMetadata::from_parts(entity_id, vec![], vec![], vec![]),
///     settings: ProviderSettings::default(),
/// };
/// let local = StaticMetadataResolver::new(vec![provider("dev", "https://dev.example")]);
/// let other = StaticMetadataResolver::new(vec![provider("okta", "https://okta.example")]);
/// let resolver = ChainedMetadataResolver::new().with(local).with(other);
///
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// runtime.block_on(async {
///     let okta = resolver.provider_by_entity_id("https://okta.example").await?;
///     assert_eq!(okta.map(|p| p.name.clone()).as_deref(), Some("okta"));
///     assert_eq!(resolver.providers().await?.len(), 2);
///     Ok::<(), saml_core::store::StoreError>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ChainedMetadataResolver {
    resolvers: Vec<Arc<dyn MetadataResolver>>,
}

impl ChainedMetadataResolver {
    /// A chain with no resolver yet (it knows no provider).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `resolver`: asked after the ones added before it.
    #[must_use]
    pub fn with(mut self, resolver: impl MetadataResolver + 'static) -> Self {
        self.resolvers.push(Arc::new(resolver));
        self
    }

    /// Appends a resolver that is already shared.
    #[must_use]
    pub fn with_shared(mut self, resolver: Arc<dyn MetadataResolver>) -> Self {
        self.resolvers.push(resolver);
        self
    }

    /// How many resolvers the chain asks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.resolvers.len()
    }

    /// Whether the chain has no resolver.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.resolvers.is_empty()
    }
}

/// Folds one resolver's answer into a chained lookup: `Some(result)` ends
/// the search (found, or a conflict); otherwise a failure is kept in
/// `failure` (the first one) and the next resolver is asked.
fn settle(
    answer: Result<Option<Arc<Provider>>, StoreError>,
    failure: &mut Option<StoreError>,
) -> Option<Result<Option<Arc<Provider>>, StoreError>> {
    match answer {
        Ok(Some(provider)) => Some(Ok(Some(provider))),
        Ok(None) => None,
        Err(e @ StoreError::Conflict(_)) => Some(Err(e)),
        Err(e) => {
            failure.get_or_insert(e);
            None
        }
    }
}

#[async_trait]
impl MetadataResolver for ChainedMetadataResolver {
    async fn provider(&self, name: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        let mut failure = None;
        for resolver in &self.resolvers {
            if let Some(result) = settle(resolver.provider(name).await, &mut failure) {
                return result;
            }
        }
        failure.map_or(Ok(None), Err)
    }

    async fn provider_by_entity_id(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        let mut failure = None;
        for resolver in &self.resolvers {
            let answer = resolver.provider_by_entity_id(entity_id).await;
            if let Some(result) = settle(answer, &mut failure) {
                return result;
            }
        }
        failure.map_or(Ok(None), Err)
    }

    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        let mut out: Vec<Arc<Provider>> = Vec::new();
        let mut names = HashSet::new();
        let mut failure = None;
        let mut answered = false;
        for resolver in &self.resolvers {
            match resolver.providers().await {
                Ok(providers) => {
                    answered = true;
                    for provider in providers {
                        if names.insert(provider.name.clone()) {
                            out.push(provider);
                        }
                    }
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) if !answered => Err(e),
            _ => Ok(out),
        }
    }
}

/// The SP's keys, fixed at construction (no rollover while running).
///
/// ```
/// use saml_core::store::SpKeys;
/// use saml_store_memory::StaticKeyStore;
///
/// let keys = StaticKeyStore::new(SpKeys::default()); // no signing, no decryption
/// # let _ = keys;
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticKeyStore {
    keys: SpKeys,
}

impl StaticKeyStore {
    /// A key store that always answers `keys`.
    #[must_use]
    pub fn new(keys: SpKeys) -> Self {
        Self { keys }
    }
}

impl From<SpKeys> for StaticKeyStore {
    fn from(keys: SpKeys) -> Self {
        Self::new(keys)
    }
}

#[async_trait]
impl KeyStore for StaticKeyStore {
    async fn keys(&self) -> Result<SpKeys, StoreError> {
        Ok(self.keys.clone())
    }
}

/// A panic elsewhere left the store's lock poisoned: refuse (fail closed).
fn poisoned() -> StoreError {
    StoreError::Unavailable("the in-memory store's lock is poisoned".into())
}
