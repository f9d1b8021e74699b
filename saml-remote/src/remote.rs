//! [`RemoteMetadataResolver`]: identity providers from metadata URLs — one
//! IdP's own metadata ("give us your metadata URL") or a federation's signed
//! aggregate of thousands, indexed by entity ID so the shared ACS finds any
//! IdP by the Issuer of its response in one hash lookup.
//!
//! Each [`MetadataSource`] is one URL and says which of its entities become
//! providers, under which names and with which [`ProviderSettings`], and who
//! must have signed it. The resolver fetches each URL on first use, keeps it
//! fresh by the [`RefreshPolicy`] (conditional requests, `cacheDuration`,
//! `validUntil`, minimum and maximum intervals), keeps the last good copy
//! when a refresh fails, and stops trusting a copy whose `validUntil` has
//! passed. Signing keys come only from the verified document, so a key the
//! IdP adds is trusted after the next refresh and a key it removes is not.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use saml_core::Limits;
use saml_core::clock::{Clock, SystemClock, format_datetime};
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
use crate::provider_name_for;
use crate::trust::{Trust, settings_for};

/// The `Accept` header of metadata fetches.
pub(crate) const ACCEPT_METADATA: &str =
    "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1";

/// One metadata URL and the providers it supplies.
///
/// Say which entities become providers with exactly one of
/// [`provider`](Self::provider) (the document's only IdP), or any mix of
/// [`entity`](Self::entity) (one named entity of an aggregate) and
/// [`all_entities`](Self::all_entities) (every other IdP entity, named by
/// [`provider_name_for`]). Say who signs it with
/// [`signed_by_pem`](Self::signed_by_pem) /
/// [`signed_by`](Self::signed_by), or accept unsigned metadata with
/// [`allow_unsigned`](Self::allow_unsigned).
///
/// ```
/// use saml_core::store::ProviderSettings;
/// use saml_remote::MetadataSource;
///
/// // One IdP's own metadata URL (unsigned, as most vendors publish it).
/// let okta = MetadataSource::new("https://example.okta.com/app/abc/sso/saml/metadata")
///     .provider("okta", ProviderSettings::default())
///     .allow_unsigned();
///
/// // Two named IdPs plus every other one of a signed federation aggregate.
/// # let federation_pem = "";
/// let federation = MetadataSource::new("https://federation.example.org/idps.xml")
///     .entity("campus", "https://idp.campus.example.org/idp", ProviderSettings::default())
///     .entity("lab", "https://idp.lab.example.org/idp", ProviderSettings::default())
///     .all_entities(ProviderSettings::default())
///     .max_response_bytes(256 << 20);
/// # let _ = (okta, federation, federation_pem);
/// // .signed_by_pem(federation_pem)? makes the signature required.
/// ```
#[derive(Clone)]
pub struct MetadataSource {
    url: String,
    single: Option<(String, ProviderSettings)>,
    entities: Vec<(String, String, ProviderSettings)>,
    all: Option<ProviderSettings>,
    trust: Trust,
}

impl fmt::Debug for MetadataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataSource")
            .field("url", &self.url)
            .field("single", &self.single.as_ref().map(|(n, _)| n))
            .field("entities", &self.entities.len())
            .field("all_entities", &self.all.is_some())
            .field("signers", &self.trust.signers.len())
            .field("allow_unsigned", &self.trust.allow_unsigned)
            .finish()
    }
}

impl MetadataSource {
    /// The metadata at `url` (`https://`, or `http://` to a loopback host).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            single: None,
            entities: Vec::new(),
            all: None,
            trust: Trust::default(),
        }
    }

    /// The document's one IdP entity (an `EntityDescriptor`, or an
    /// aggregate holding exactly one IdP) is the provider `name`.
    #[must_use]
    pub fn provider(mut self, name: impl Into<String>, settings: ProviderSettings) -> Self {
        self.single = Some((name.into(), settings));
        self
    }

    /// The entity `entity_id` of the document is the provider `name`.
    #[must_use]
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

    /// Every IdP entity not named by [`entity`](Self::entity) is a provider
    /// too, named [`provider_name_for`]`(entity_id)`, with these settings
    /// (and its entity ID as display name unless the settings have one).
    #[must_use]
    pub fn all_entities(mut self, settings: ProviderSettings) -> Self {
        self.all = Some(settings);
        self
    }

    /// Requires the document to be signed by one of these certificates' keys.
    #[must_use]
    pub fn signed_by(mut self, certificates: Vec<Certificate>) -> Self {
        self.trust.add_signers(certificates);
        self
    }

    /// Requires the document to be signed by a key of one of the
    /// certificates in this PEM text (the federation's metadata signer).
    ///
    /// # Errors
    ///
    /// The PEM text holds no readable certificate.
    pub fn signed_by_pem(mut self, pem: &str) -> Result<Self, ConfigError> {
        self.trust.add_signers_pem(pem)?;
        Ok(self)
    }

    /// Accepts the document without a signature when no signing certificate
    /// is configured: its authenticity then rests on the HTTPS connection
    /// alone (what most single IdPs, such as Okta or Google, expect).
    #[must_use]
    pub fn allow_unsigned(mut self) -> Self {
        self.trust.allow_unsigned = true;
        self
    }

    /// What the metadata signature may use beyond the safe defaults.
    #[must_use]
    pub fn verify_options(mut self, options: VerifyOptions) -> Self {
        self.trust.verify = options;
        self
    }

    /// The largest response accepted (default 10 MiB; federation aggregates
    /// need more, e.g. 256 MiB). The XML limits follow unless set with
    /// [`xml_limits`](Self::xml_limits).
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.trust.max_response_bytes = bytes;
        self
    }

    /// The XML reader limits for this document.
    #[must_use]
    pub fn xml_limits(mut self, limits: Limits) -> Self {
        self.trust.limits = Some(limits);
        self
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Maps a parsed document to providers by a source's rules.
struct SourceLoader {
    source: MetadataSource,
}

impl Loader for SourceLoader {
    fn load(&self, xml: &str, url: &str, now: DateTime<Utc>) -> Result<Catalog, RemoteError> {
        let refused = |error| RemoteError::Metadata {
            url: url.to_owned(),
            error,
        };
        let options = self.source.trust.options(now);
        let mut all = IdpMetadata::parse_all(xml, &options).map_err(refused)?;
        let mut catalog = Catalog::default();
        if let Some((name, settings)) = &self.source.single {
            let idp = match all.len() {
                1 => all.swap_remove(0),
                0 => {
                    // Parse the single entity again for the precise reason
                    // (an expired or broken entity is left out of parse_all).
                    let reason = IdpMetadata::parse(xml, &options)
                        .err()
                        .map_or_else(|| "no SAML 2.0 IdP entity".to_owned(), |e| e.to_string());
                    return Err(RemoteError::MissingEntity(format!(
                        "the metadata at {url} holds no usable IdP entity: {reason}"
                    )));
                }
                n => {
                    return Err(RemoteError::MissingEntity(format!(
                        "the metadata at {url} holds {n} IdP entities; map the one you want with MetadataSource::entity(name, entity_id, settings)"
                    )));
                }
            };
            catalog.push(Provider {
                name: name.clone(),
                metadata: idp,
                settings: settings.clone(),
            });
            return Ok(catalog);
        }
        let named: HashMap<&str, (&str, &ProviderSettings)> = self
            .source
            .entities
            .iter()
            .map(|(name, id, s)| (id.as_str(), (name.as_str(), s)))
            .collect();
        // An entity ID listed twice is ambiguous: refuse both.
        let mut seen = HashSet::new();
        let duplicates: HashSet<String> = all
            .iter()
            .map(|m| m.entity_id().to_owned())
            .filter(|id| !seen.insert(id.clone()))
            .collect();
        for id in &duplicates {
            tracing::error!(
                target: TARGET,
                event = "entity_ambiguous",
                url,
                entity_id = %id,
                "an entity ID appears more than once in the metadata; it is refused"
            );
        }
        for idp in all {
            let id = idp.entity_id().to_owned();
            if duplicates.contains(&id) {
                continue;
            }
            if let Some((name, settings)) = named.get(id.as_str()) {
                catalog.push(Provider {
                    name: (*name).to_owned(),
                    metadata: idp,
                    settings: (*settings).clone(),
                });
            } else if let Some(settings) = &self.source.all
                && id != "."
                && id != ".."
            {
                // (A generated name "." or ".." would be a dot-segment in
                // the layer's paths.)
                catalog.push(Provider {
                    name: provider_name_for(&id),
                    settings: settings_for(settings, &id),
                    metadata: idp,
                });
            }
        }
        for (name, id, _) in &self.source.entities {
            if !catalog.by_entity.contains_key(id) {
                tracing::warn!(
                    target: TARGET,
                    event = "entity_missing",
                    url,
                    entity_id = %id,
                    provider = %name,
                    "a configured entity is not (or no longer usable) in the metadata; the provider is unknown until it returns"
                );
            }
        }
        if catalog.providers.is_empty() {
            return Err(RemoteError::MissingEntity(format!(
                "the metadata at {url} holds none of the IdP entities this source is configured to use"
            )));
        }
        Ok(catalog)
    }
}

struct SourceState {
    cell: Cell,
    loader: SourceLoader,
}

struct Inner {
    sources: Vec<SourceState>,
    /// Explicit provider names to their source.
    names: HashMap<String, usize>,
    env: Env,
}

/// Identity providers from remote metadata: fetched over HTTPS, verified,
/// cached, refreshed, and kept when the URL fails. Cheap to clone.
///
/// Build it with [`RemoteMetadataResolver::builder`]. Lookups fetch a source
/// on first use; call [`refresh`](Self::refresh) at startup to fetch
/// everything (and see errors) before serving.
///
/// Lookups fail closed: a source never loaded and failing, or a provider
/// whose metadata has passed `validUntil`, answers a
/// [`StoreError::Unavailable`] whose message starts with the error code
/// (`store_unavailable: ...`, `expired: ...`) and says what to fix.
/// [`providers`](MetadataResolver::providers) leaves such providers out
/// (with an error event) and fails only when none is left to list.
///
/// When sources overlap (the same name or entity ID from two URLs), the
/// first source configured wins.
#[derive(Clone)]
pub struct RemoteMetadataResolver {
    inner: Arc<Inner>,
}

impl fmt::Debug for RemoteMetadataResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteMetadataResolver")
            .field(
                "sources",
                &self
                    .inner
                    .sources
                    .iter()
                    .map(|s| s.cell.url())
                    .collect::<Vec<_>>(),
            )
            .field("policy", &self.inner.env.policy)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RemoteMetadataResolver`].
#[must_use]
pub struct RemoteMetadataResolverBuilder {
    sources: Vec<MetadataSource>,
    client: Option<Arc<dyn HttpClient>>,
    clock: Arc<dyn Clock>,
    archive: Option<Arc<dyn MetadataArchive>>,
    policy: RefreshPolicy,
}

impl fmt::Debug for RemoteMetadataResolverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteMetadataResolverBuilder")
            .field("sources", &self.sources)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RemoteMetadataResolverBuilder {
    /// Adds a source.
    pub fn source(mut self, source: MetadataSource) -> Self {
        self.sources.push(source);
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

    /// Where last good copies are persisted (default: memory only).
    pub fn archive(mut self, archive: Arc<dyn MetadataArchive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// Refresh and fetch settings.
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Checks the configuration and builds the resolver. Nothing is fetched yet.
    ///
    /// # Errors
    ///
    /// No source; a URL that is not `https://` (or `http://` to a loopback
    /// host); a URL given twice; a source that maps no entity or maps both
    /// "the only IdP" and named entities; an empty or repeated provider
    /// name; no signing certificate without `allow_unsigned()`; inconsistent
    /// intervals; no HTTP client (without the `reqwest` feature).
    pub fn build(self) -> Result<RemoteMetadataResolver, ConfigError> {
        if self.sources.is_empty() {
            return Err(ConfigError(
                "no metadata source: add one with .source(MetadataSource::new(url)...)".into(),
            ));
        }
        self.policy.validate()?;
        let client = match self.client {
            Some(c) => c,
            None => default_client()?,
        };
        let mut names = HashMap::new();
        let mut urls = HashSet::new();
        let mut states = Vec::new();
        for (index, source) in self.sources.into_iter().enumerate() {
            let what = format!("the metadata source {}", source.url);
            check_transport(&source.url).map_err(|e| ConfigError(e.message().to_owned()))?;
            if !urls.insert(source.url.clone()) {
                return Err(ConfigError(format!("{what} is configured twice")));
            }
            source.trust.validate(&what)?;
            if source.single.is_none() && source.entities.is_empty() && source.all.is_none() {
                return Err(ConfigError(format!(
                    "{what} supplies no provider: call .provider(name, settings), .entity(name, entity_id, settings) or .all_entities(settings)"
                )));
            }
            if source.single.is_some() && (!source.entities.is_empty() || source.all.is_some()) {
                return Err(ConfigError(format!(
                    "{what} uses .provider(..) (the document's only IdP) together with .entity(..) or .all_entities(..); use one or the other"
                )));
            }
            let explicit = source
                .single
                .iter()
                .map(|(n, _)| n)
                .chain(source.entities.iter().map(|(n, _, _)| n));
            for name in explicit {
                if name.trim().is_empty() {
                    return Err(ConfigError(format!("{what} has an empty provider name")));
                }
                if names.insert(name.clone(), index).is_some() {
                    return Err(ConfigError(format!(
                        "the provider name `{name}` is used twice"
                    )));
                }
            }
            let mut entity_ids = HashSet::new();
            for (_, id, _) in &source.entities {
                if !entity_ids.insert(id.as_str()) {
                    return Err(ConfigError(format!("{what} maps the entity `{id}` twice")));
                }
            }
            states.push(SourceState {
                cell: Cell::new(
                    source.url.clone(),
                    ACCEPT_METADATA,
                    source.trust.max_response_bytes,
                    None,
                ),
                loader: SourceLoader { source },
            });
        }
        Ok(RemoteMetadataResolver {
            inner: Arc::new(Inner {
                sources: states,
                names,
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

#[cfg(feature = "reqwest")]
pub(crate) fn default_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    crate::ReqwestClient::new()
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| ConfigError(format!("the HTTP client cannot be built: {e}")))
}

#[cfg(not(feature = "reqwest"))]
pub(crate) fn default_client() -> Result<Arc<dyn HttpClient>, ConfigError> {
    Err(ConfigError(
        "no HTTP client: enable the `reqwest` feature of saml-remote or pass one with .http_client(..)"
            .into(),
    ))
}

/// Where one source stands (for an admin view or a health check).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceStatus {
    /// The URL.
    pub url: String,
    /// When the copy in use was fetched or last confirmed (`None`: no copy).
    pub fetched_at: Option<DateTime<Utc>>,
    /// When it will be fetched again.
    pub next_refresh: Option<DateTime<Utc>>,
    /// The earliest `validUntil` of its providers.
    pub valid_until: Option<DateTime<Utc>>,
    /// How many providers it supplies.
    pub providers: usize,
    /// The last failure, until the next success.
    pub last_error: Option<RemoteError>,
    /// Whether the copy in use came from the archive.
    pub from_archive: bool,
}

/// Refuses a provider whose metadata has expired, loudly.
pub(crate) fn check_fresh(
    provider: &Arc<Provider>,
    url: &str,
    now: DateTime<Utc>,
) -> Result<Arc<Provider>, RemoteError> {
    if let Some(until) = provider.metadata.valid_until()
        && until <= now
    {
        tracing::error!(
            target: TARGET,
            event = "metadata_expired",
            url,
            entity_id = provider.metadata.entity_id(),
            provider = %provider.name,
            valid_until = %format_datetime(until),
            "refused a lookup: the provider's metadata has expired (validUntil) and no fresh copy could be fetched"
        );
        return Err(RemoteError::Expired {
            what: format!("`{}` (from {url})", provider.metadata.entity_id()),
            valid_until: format_datetime(until),
        });
    }
    Ok(Arc::clone(provider))
}

impl RemoteMetadataResolver {
    /// A builder with no source, the system clock and the default policy.
    pub fn builder() -> RemoteMetadataResolverBuilder {
        RemoteMetadataResolverBuilder {
            sources: Vec::new(),
            client: None,
            clock: Arc::new(SystemClock),
            archive: None,
            policy: RefreshPolicy::new(),
        }
    }

    fn source(&self, url: &str) -> Result<&SourceState, RemoteError> {
        self.inner
            .sources
            .iter()
            .find(|s| s.cell.url() == url)
            .ok_or_else(|| RemoteError::NotLoaded {
                url: url.to_owned(),
                reason: "no source has this URL".into(),
            })
    }

    /// Fetches every source now (conditionally where a copy is in hand),
    /// whatever the schedule says. All are tried; the first error is returned.
    ///
    /// # Errors
    ///
    /// The first source's failure (its last good copy, if any, stays in use).
    pub async fn refresh(&self) -> Result<(), RemoteError> {
        let mut first = None;
        for s in &self.inner.sources {
            if let Err(e) = s.cell.refresh(&self.inner.env, &s.loader).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Fetches the source with this URL now.
    ///
    /// # Errors
    ///
    /// No such source, or the fetch failed (the last good copy stays in use).
    pub async fn refresh_source(&self, url: &str) -> Result<RefreshOutcome, RemoteError> {
        let s = self.source(url)?;
        s.cell.refresh(&self.inner.env, &s.loader).await
    }

    /// Fetches the sources that are due (by the policy and the retry wait).
    /// What a background task calls.
    ///
    /// # Errors
    ///
    /// The first failure; every due source is tried.
    pub async fn refresh_due(&self) -> Result<(), RemoteError> {
        let mut first = None;
        for s in &self.inner.sources {
            if let Some(Err(e)) = s.cell.refresh_if_due(&self.inner.env, &s.loader).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The earliest time a source wants fetching (`None`: never fetched).
    #[must_use]
    pub fn next_refresh(&self) -> Option<DateTime<Utc>> {
        let mut next: Option<DateTime<Utc>> = None;
        for s in &self.inner.sources {
            let at = s.cell.next_attempt()?;
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        next
    }

    /// Where each source stands, in configuration order.
    #[must_use]
    pub fn status(&self) -> Vec<SourceStatus> {
        self.inner
            .sources
            .iter()
            .map(|s| {
                let st = s.cell.status();
                SourceStatus {
                    url: s.cell.url().to_owned(),
                    fetched_at: st.fetched_at,
                    next_refresh: st.next_refresh,
                    valid_until: st.valid_until,
                    providers: st.entities,
                    last_error: st.last_error,
                    from_archive: st.from_archive,
                }
            })
            .collect()
    }

    /// Runs forever, fetching each source when it is due: spawn it on the
    /// application's runtime and abort it at shutdown. Pair it with
    /// [`RefreshPolicy::with_refresh_on_lookup(false)`](RefreshPolicy::with_refresh_on_lookup)
    /// so no login waits for the network. It sleeps until the next due
    /// time, at least one second and at most the policy's maximum interval.
    ///
    /// ```no_run
    /// # async fn run(resolver: saml_remote::RemoteMetadataResolver) {
    /// let task = tokio::spawn(resolver.clone().refresh_task());
    /// // ... serve ...
    /// task.abort();
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    pub async fn refresh_task(self) {
        loop {
            // Failures are logged as events and retried by the schedule.
            let _ = self.refresh_due().await;
            let wait = crate::sleep_until(
                self.next_refresh(),
                self.inner.env.clock.now(),
                &self.inner.env.policy,
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The copy of source `index`, loading it if needed.
    async fn catalog(&self, index: usize) -> Result<Option<Arc<Catalog>>, RemoteError> {
        match self.inner.sources.get(index) {
            Some(s) => s.cell.get(&self.inner.env, &s.loader).await,
            None => Ok(None),
        }
    }

    fn url(&self, index: usize) -> &str {
        self.inner.sources.get(index).map_or("", |s| s.cell.url())
    }

    /// Searches the sources in order; errors of sources that could not
    /// answer are returned only when no source found the key.
    async fn search(
        &self,
        candidates: impl Iterator<Item = usize>,
        find: impl Fn(&Catalog) -> Option<Arc<Provider>>,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        let mut failure = None;
        for index in candidates {
            match self.catalog(index).await {
                Ok(Some(catalog)) => {
                    if let Some(p) = find(&catalog) {
                        let now = self.inner.env.clock.now();
                        return Ok(Some(check_fresh(&p, self.url(index), now)?));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl MetadataResolver for RemoteMetadataResolver {
    async fn provider(&self, name: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        if let Some(&index) = self.inner.names.get(name) {
            return self
                .search(std::iter::once(index), |c| c.by_name.get(name).cloned())
                .await;
        }
        // Generated names: only sources with all_entities() have them.
        let candidates = self
            .inner
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.loader.source.all.is_some())
            .map(|(i, _)| i);
        self.search(candidates, |c| {
            c.by_name
                .get(name)
                .filter(|p| !self.inner.names.contains_key(&p.name))
                .cloned()
        })
        .await
    }

    async fn provider_by_entity_id(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        self.search(0..self.inner.sources.len(), |c| {
            c.by_entity.get(entity_id).cloned()
        })
        .await
    }

    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        let now = self.inner.env.clock.now();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut failure = None;
        for index in 0..self.inner.sources.len() {
            match self.catalog(index).await {
                Ok(Some(catalog)) => {
                    for p in &catalog.providers {
                        if !seen.insert(p.name.clone()) {
                            continue;
                        }
                        match check_fresh(p, self.url(index), now) {
                            Ok(p) => out.push(p),
                            Err(e) => {
                                failure.get_or_insert(e);
                            }
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(
                        target: TARGET,
                        event = "source_unavailable",
                        url = self.url(index),
                        code = e.code().as_str(),
                        error = %e,
                        "a metadata source is left out of the provider list"
                    );
                    failure.get_or_insert(e);
                }
            }
        }
        // Fail closed rather than answer an empty list, which the layer
        // would show as "no identity provider".
        match failure {
            Some(e) if out.is_empty() => Err(e.into()),
            _ => Ok(out),
        }
    }
}
