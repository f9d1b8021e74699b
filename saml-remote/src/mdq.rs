//! [`MdqResolver`]: the Metadata Query Protocol, as federations serve it.
//! Instead of downloading an aggregate of thousands of entities, the SP asks
//! the federation's MDQ service for one entity when it first needs it:
//! `GET {base}/entities/{percent-encoded entityID}` with
//! `Accept: application/samlmetadata+xml`.
//!
//! Each entity is cached like a remote source: signature checked against the
//! federation's certificate, refreshed by `cacheDuration`/`validUntil`
//! within the policy's bounds with conditional requests, the last good copy
//! kept when the service fails, refused once expired. A `404` is cached as
//! a negative result for [`MdqResolverBuilder::negative_ttl`], so an unknown
//! Issuer does not cost a request per response. The cache holds at most
//! [`MdqResolverBuilder::max_entities`] entities (least recently used go
//! first; entities named in the configuration stay).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use saml_core::clock::{Clock, SystemClock};
use saml_core::crypto::Certificate;
use saml_core::dsig::VerifyOptions;
use saml_core::metadata::IdpMetadata;
use saml_core::store::{MetadataResolver, Provider, ProviderSettings, StoreError};

use crate::archive::MetadataArchive;
use crate::cell::{Catalog, Cell, Env, Loader, RefreshOutcome};
use crate::error::{ConfigError, RemoteError};
use crate::events::TARGET;
use crate::http::{HttpClient, check_transport};
use crate::policy::RefreshPolicy;
use crate::remote::{check_fresh, default_client};
use crate::trust::{Trust, settings_for};
use crate::{entity_id_for_name, provider_name_for};

/// The media type MDQ answers with.
pub const MDQ_MEDIA_TYPE: &str = "application/samlmetadata+xml";

/// Everything but RFC 3986 unreserved characters is percent-encoded in the
/// path segment (the MDQ specification requires `/`, `:` and friends to be).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Entity IDs longer than this are not looked up (SAML caps them at 1024).
const MAX_ENTITY_ID: usize = 1024;

/// The MDQ request URL for `entity_id` under `base`.
///
/// ```
/// assert_eq!(
///     saml_remote::mdq_url("https://mdq.example.org/", "https://idp.example.org/idp"),
///     "https://mdq.example.org/entities/https%3A%2F%2Fidp.example.org%2Fidp"
/// );
/// ```
#[must_use]
pub fn mdq_url(base: &str, entity_id: &str) -> String {
    format!(
        "{}/entities/{}",
        base.trim_end_matches('/'),
        utf8_percent_encode(entity_id, SEGMENT)
    )
}

/// Reads one entity out of an MDQ answer.
struct EntityLoader {
    entity_id: String,
    name: String,
    settings: ProviderSettings,
    trust: Arc<Trust>,
}

impl Loader for EntityLoader {
    fn load(&self, xml: &str, url: &str, now: DateTime<Utc>) -> Result<Catalog, RemoteError> {
        let options = self
            .trust
            .options(now)
            .with_entity_id(self.entity_id.clone());
        let idp = IdpMetadata::parse(xml, &options).map_err(|error| RemoteError::Metadata {
            url: url.to_owned(),
            error,
        })?;
        let mut catalog = Catalog::default();
        catalog.push(Provider {
            name: self.name.clone(),
            metadata: idp,
            settings: self.settings.clone(),
        });
        Ok(catalog)
    }
}

struct Entry {
    cell: Cell,
    loader: EntityLoader,
    explicit: bool,
    last_used: AtomicI64,
}

struct Inner {
    base: String,
    trust: Arc<Trust>,
    /// Configured names to (entity ID, settings), and back.
    by_name: HashMap<String, (String, ProviderSettings)>,
    name_of: HashMap<String, String>,
    /// Order of configured names, for `providers()`.
    order: Vec<String>,
    any: Option<ProviderSettings>,
    negative_ttl: Duration,
    max_entities: usize,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    env: Env,
}

/// Identity providers resolved one by one from an MDQ service. Cheap to clone.
///
/// Which entities it resolves: those named with
/// [`MdqResolverBuilder::entity`], and with
/// [`MdqResolverBuilder::any_entity`] every other entity the service knows
/// (looked up by entity ID, or by the name [`provider_name_for`] gives it).
/// Without `any_entity`, other entity IDs are unknown without a request.
/// [`providers`](MetadataResolver::providers) lists the named entities only.
///
/// ```no_run
/// use saml_core::store::{MetadataResolver, ProviderSettings};
/// use saml_remote::MdqResolver;
///
/// # async fn run(federation_mdq_cert_pem: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let mdq = MdqResolver::builder("https://mdq.federation.example.org")
///     .signed_by_pem(federation_mdq_cert_pem)?
///     .entity("campus", "https://idp.campus.example.org/idp", ProviderSettings::default())
///     .any_entity(ProviderSettings::default())
///     .build()?;
/// // The shared ACS finds the IdP of a response by its Issuer:
/// let idp = mdq.provider_by_entity_id("https://idp.other.example.org/idp").await?;
/// # let _ = idp;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MdqResolver {
    inner: Arc<Inner>,
}

impl fmt::Debug for MdqResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MdqResolver")
            .field("base", &self.inner.base)
            .field("entities", &self.inner.order)
            .field("any_entity", &self.inner.any.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds an [`MdqResolver`].
#[must_use]
pub struct MdqResolverBuilder {
    base: String,
    trust: Trust,
    entities: Vec<(String, String, ProviderSettings)>,
    any: Option<ProviderSettings>,
    negative_ttl: Duration,
    max_entities: usize,
    client: Option<Arc<dyn HttpClient>>,
    clock: Arc<dyn Clock>,
    archive: Option<Arc<dyn MetadataArchive>>,
    policy: RefreshPolicy,
}

impl fmt::Debug for MdqResolverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MdqResolverBuilder")
            .field("base", &self.base)
            .field("entities", &self.entities.len())
            .finish_non_exhaustive()
    }
}

impl MdqResolverBuilder {
    /// The entity `entity_id` is the provider `name`.
    pub fn entity(
        mut self,
        name: impl Into<String>,
        entity_id: impl Into<String>,
        settings: ProviderSettings,
    ) -> Self {
        self.entities
            .push((name.into(), entity_id.into(), settings));
        self
    }

    /// Any other entity the service knows is a provider too, with these
    /// settings (its entity ID as display name unless set).
    pub fn any_entity(mut self, settings: ProviderSettings) -> Self {
        self.any = Some(settings);
        self
    }

    /// Requires every answer to be signed by one of these certificates' keys.
    pub fn signed_by(mut self, certificates: Vec<Certificate>) -> Self {
        self.trust.add_signers(certificates);
        self
    }

    /// Requires every answer to be signed by a key of a certificate in this
    /// PEM text (the federation's MDQ signing certificate).
    ///
    /// # Errors
    ///
    /// No readable certificate in the text.
    pub fn signed_by_pem(mut self, pem: &str) -> Result<Self, ConfigError> {
        self.trust.add_signers_pem(pem)?;
        Ok(self)
    }

    /// Accepts unsigned answers when no signing certificate is configured
    /// (trust then rests on HTTPS alone; federations sign MDQ answers).
    pub fn allow_unsigned(mut self) -> Self {
        self.trust.allow_unsigned = true;
        self
    }

    /// What the signatures may use beyond the safe defaults.
    pub fn verify_options(mut self, options: VerifyOptions) -> Self {
        self.trust.verify = options;
        self
    }

    /// The largest answer accepted (default 10 MiB).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.trust.max_response_bytes = bytes;
        self
    }

    /// How long a `404` is remembered (default 5 minutes).
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Most entities cached at once, negative results included (default
    /// 10,000).
    pub fn max_entities(mut self, max: usize) -> Self {
        self.max_entities = max;
        self
    }

    /// The HTTP client (default: [`ReqwestClient`](crate::ReqwestClient)
    /// with the `reqwest` feature; required without it).
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.client = Some(client);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where last good copies are persisted, by request URL (default: memory only).
    pub fn archive(mut self, archive: Arc<dyn MetadataArchive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// Refresh and fetch settings.
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Checks the configuration and builds the resolver.
    ///
    /// # Errors
    ///
    /// A base URL that is not `https://` (or `http://` to a loopback host);
    /// no entity and no `any_entity`; an empty or repeated name or entity
    /// ID; no signing certificate without `allow_unsigned()`; inconsistent
    /// intervals; a zero cache size; no HTTP client (without `reqwest`).
    pub fn build(self) -> Result<MdqResolver, ConfigError> {
        let what = format!("the MDQ service {}", self.base);
        check_transport(&self.base).map_err(|e| ConfigError(e.message().to_owned()))?;
        self.trust.validate(&what)?;
        self.policy.validate()?;
        if self.entities.is_empty() && self.any.is_none() {
            return Err(ConfigError(format!(
                "{what} resolves nothing: name entities with .entity(name, entity_id, settings) or allow any with .any_entity(settings)"
            )));
        }
        if self.max_entities == 0 {
            return Err(ConfigError(format!("{what} has a cache size of zero")));
        }
        let mut by_name = HashMap::new();
        let mut name_of = HashMap::new();
        let mut order = Vec::new();
        for (name, id, settings) in self.entities {
            if name.trim().is_empty() || id.trim().is_empty() {
                return Err(ConfigError(format!(
                    "{what} has an empty provider name or entity ID"
                )));
            }
            if name_of.insert(id.clone(), name.clone()).is_some() {
                return Err(ConfigError(format!("{what} maps the entity `{id}` twice")));
            }
            if by_name.insert(name.clone(), (id, settings)).is_some() {
                return Err(ConfigError(format!(
                    "the provider name `{name}` is used twice"
                )));
            }
            order.push(name);
        }
        let client = match self.client {
            Some(c) => c,
            None => default_client()?,
        };
        Ok(MdqResolver {
            inner: Arc::new(Inner {
                base: self.base,
                trust: Arc::new(self.trust),
                by_name,
                name_of,
                order,
                any: self.any,
                negative_ttl: self.negative_ttl,
                max_entities: self.max_entities,
                entries: Mutex::new(HashMap::new()),
                env: Env {
                    client,
                    clock: self.clock,
                    archive: self.archive,
                    policy: self.policy,
                },
            }),
        })
    }
}

impl MdqResolver {
    /// A builder for the MDQ service at `base_url` (requests go to
    /// `{base_url}/entities/{entityID}`).
    pub fn builder(base_url: impl Into<String>) -> MdqResolverBuilder {
        MdqResolverBuilder {
            base: base_url.into(),
            trust: Trust::default(),
            entities: Vec::new(),
            any: None,
            negative_ttl: Duration::from_secs(5 * 60),
            max_entities: 10_000,
            client: None,
            clock: Arc::new(SystemClock),
            archive: None,
            policy: RefreshPolicy::new(),
        }
    }

    /// The cache entry of `entity_id`, created if allowed; `None` when this
    /// resolver does not resolve that entity.
    fn entry(&self, entity_id: &str) -> Option<Arc<Entry>> {
        // "." and ".." would be dot-segments in the request path, which URL
        // normalisation removes: they are not entity IDs anyway.
        if entity_id.is_empty()
            || entity_id.len() > MAX_ENTITY_ID
            || entity_id == "."
            || entity_id == ".."
        {
            return None;
        }
        let now = self.inner.env.clock.now().timestamp();
        let mut entries = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(entity_id) {
            entry.last_used.store(now, Ordering::Relaxed);
            return Some(Arc::clone(entry));
        }
        let (name, settings, explicit) = match self.inner.name_of.get(entity_id) {
            Some(name) => {
                let (_, settings) = self.inner.by_name.get(name)?;
                (name.clone(), settings.clone(), true)
            }
            None => {
                let settings = self.inner.any.as_ref()?;
                (
                    provider_name_for(entity_id),
                    settings_for(settings, entity_id),
                    false,
                )
            }
        };
        if entries.len() >= self.inner.max_entities {
            evict(&mut entries);
        }
        let entry = Arc::new(Entry {
            cell: Cell::new(
                mdq_url(&self.inner.base, entity_id),
                MDQ_MEDIA_TYPE,
                self.inner.trust.max_response_bytes,
                Some(self.inner.negative_ttl),
            ),
            loader: EntityLoader {
                entity_id: entity_id.to_owned(),
                name,
                settings,
                trust: Arc::clone(&self.inner.trust),
            },
            explicit,
            last_used: AtomicI64::new(now),
        });
        entries.insert(entity_id.to_owned(), Arc::clone(&entry));
        Some(entry)
    }

    fn entries(&self) -> Vec<Arc<Entry>> {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    async fn resolve(&self, entity_id: &str) -> Result<Option<Arc<Provider>>, RemoteError> {
        let Some(entry) = self.entry(entity_id) else {
            return Ok(None);
        };
        let Some(catalog) = entry.cell.get(&self.inner.env, &entry.loader).await? else {
            return Ok(None);
        };
        match catalog.providers.first() {
            Some(p) => check_fresh(p, entry.cell.url(), self.inner.env.clock.now()).map(Some),
            None => Ok(None),
        }
    }

    /// Fetches `entity_id` now (conditionally when cached), whatever the
    /// schedule says.
    ///
    /// # Errors
    ///
    /// The entity is not one this resolver resolves, or the fetch failed
    /// (the last good copy stays in use).
    pub async fn refresh_entity(&self, entity_id: &str) -> Result<RefreshOutcome, RemoteError> {
        let entry = self
            .entry(entity_id)
            .ok_or_else(|| RemoteError::MissingEntity(format!(
                "`{entity_id}` is not an entity this MDQ resolver resolves (name it with .entity(..) or allow .any_entity(..))"
            )))?;
        entry.cell.refresh(&self.inner.env, &entry.loader).await
    }

    /// Fetches every cached entity now. All are tried; the first error is returned.
    ///
    /// # Errors
    ///
    /// The first failure.
    pub async fn refresh(&self) -> Result<(), RemoteError> {
        let mut first = None;
        for entry in self.entries() {
            if let Err(e) = entry.cell.refresh(&self.inner.env, &entry.loader).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Fetches the cached entities that are due (what a background task calls).
    ///
    /// # Errors
    ///
    /// The first failure; every due entity is tried.
    pub async fn refresh_due(&self) -> Result<(), RemoteError> {
        let mut first = None;
        for entry in self.entries() {
            // Negative results simply lapse; they are not fetched again
            // until something asks for the entity.
            if entry.cell.current().is_none() {
                continue;
            }
            if let Some(Err(e)) = entry
                .cell
                .refresh_if_due(&self.inner.env, &entry.loader)
                .await
            {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The earliest time a cached entity wants fetching.
    #[must_use]
    pub fn next_refresh(&self) -> Option<DateTime<Utc>> {
        self.entries()
            .iter()
            .filter(|e| e.cell.current().is_some())
            .filter_map(|e| e.cell.next_attempt())
            .min()
    }

    /// How many entities are cached (negative results included).
    #[must_use]
    pub fn cached_entities(&self) -> usize {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Runs forever, refreshing cached entities when due; spawn it and
    /// abort it at shutdown (see
    /// [`RemoteMetadataResolver::refresh_task`](crate::RemoteMetadataResolver::refresh_task)).
    #[cfg(feature = "tokio")]
    pub async fn refresh_task(self) {
        loop {
            let _ = self.refresh_due().await;
            let wait = crate::sleep_until(
                self.next_refresh(),
                self.inner.env.clock.now(),
                &self.inner.env.policy,
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// Makes room for one entry: drops negative and failed entries first, then
/// the least recently used one that was not configured by name.
fn evict(entries: &mut HashMap<String, Arc<Entry>>) {
    let before = entries.len();
    entries.retain(|_, e| e.explicit || e.cell.current().is_some());
    if entries.len() < before {
        return;
    }
    let oldest = entries
        .iter()
        .filter(|(_, e)| !e.explicit)
        .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
        .map(|(id, _)| id.clone());
    if let Some(id) = oldest {
        entries.remove(&id);
        tracing::debug!(
            target: TARGET,
            event = "cache_evicted",
            entity_id = %id,
            "the MDQ cache is full; the least recently used entity was dropped"
        );
    }
}

#[async_trait]
impl MetadataResolver for MdqResolver {
    async fn provider(&self, name: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        let entity_id = match self.inner.by_name.get(name) {
            Some((id, _)) => id.clone(),
            None if self.inner.any.is_some() => match entity_id_for_name(name) {
                // Only the canonical generated name, so one entity has one name.
                Some(id)
                    if provider_name_for(&id) == name && !self.inner.name_of.contains_key(&id) =>
                {
                    id
                }
                _ => return Ok(None),
            },
            None => return Ok(None),
        };
        Ok(self.resolve(&entity_id).await?)
    }

    async fn provider_by_entity_id(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        Ok(self.resolve(entity_id).await?)
    }

    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        let mut out = Vec::new();
        let mut failure = None;
        for name in &self.inner.order {
            let Some((id, _)) = self.inner.by_name.get(name) else {
                continue;
            };
            match self.resolve(id).await {
                Ok(Some(p)) => out.push(p),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(
                        target: TARGET,
                        event = "source_unavailable",
                        entity_id = %id,
                        code = e.code().as_str(),
                        error = %e,
                        "an MDQ entity is left out of the provider list"
                    );
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) if out.is_empty() => Err(e.into()),
            _ => Ok(out),
        }
    }
}
