//! One cached metadata document (a remote source, or one MDQ entity): the
//! fetch with conditional headers, verification through a [`Loader`], the
//! refresh schedule, the last good copy, the archive fallback, and the
//! events. Both resolvers are thin maps over cells.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use saml_core::clock::{Clock, format_datetime};
use saml_core::store::Provider;
use saml_core::{Error, ErrorCode};

use crate::archive::{ArchivedMetadata, MetadataArchive};
use crate::error::RemoteError;
use crate::events::{TARGET, certificate_warnings, key_changes};
use crate::http::{HttpClient, HttpRequest, check_transport};
use crate::policy::{RefreshPolicy, add};

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// A new copy was fetched, verified and put in use.
    Updated,
    /// The server answered `304 Not Modified`; the copy in hand stays, fresh again.
    NotModified,
    /// The server does not know the entity (MDQ `404`): cached as a negative result.
    NotFound,
}

/// The providers of one document, indexed.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) providers: Vec<Arc<Provider>>,
    pub(crate) by_name: HashMap<String, Arc<Provider>>,
    pub(crate) by_entity: HashMap<String, Arc<Provider>>,
    pub(crate) cache_duration: Option<Duration>,
    pub(crate) valid_until: Option<DateTime<Utc>>,
}

impl Catalog {
    pub(crate) fn push(&mut self, provider: Provider) {
        let provider = Arc::new(provider);
        let m = &provider.metadata;
        self.cache_duration = earliest(self.cache_duration, m.cache_duration());
        self.valid_until = earliest(self.valid_until, m.valid_until());
        self.by_name
            .insert(provider.name.clone(), Arc::clone(&provider));
        self.by_entity
            .insert(m.entity_id().to_owned(), Arc::clone(&provider));
        self.providers.push(provider);
    }
}

fn earliest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Turns a fetched document into providers: parse, verify, map.
pub(crate) trait Loader: Send + Sync {
    /// `now` is the time `validUntil` is checked against.
    fn load(&self, xml: &str, url: &str, now: DateTime<Utc>) -> Result<Catalog, RemoteError>;
}

/// What every cell of a resolver shares.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub(crate) client: Arc<dyn HttpClient>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) archive: Option<Arc<dyn MetadataArchive>>,
    pub(crate) policy: RefreshPolicy,
}

#[derive(Debug, Default)]
struct State {
    /// When the copy in use was last confirmed (200 or 304).
    fetched_at: Option<DateTime<Utc>>,
    /// When it is due again.
    due: Option<DateTime<Utc>>,
    etag: Option<String>,
    last_modified: Option<String>,
    /// The last failure, until the next success.
    last_error: Option<RemoteError>,
    /// No new attempt before this (set after a failure).
    retry_at: Option<DateTime<Utc>>,
    /// A negative result (MDQ 404) holds until this.
    absent_until: Option<DateTime<Utc>>,
    /// The copy in use came from the archive.
    from_archive: bool,
}

/// A snapshot of a cell for status views.
#[derive(Debug, Clone)]
pub(crate) struct CellStatus {
    pub(crate) fetched_at: Option<DateTime<Utc>>,
    pub(crate) next_refresh: Option<DateTime<Utc>>,
    pub(crate) valid_until: Option<DateTime<Utc>>,
    pub(crate) entities: usize,
    pub(crate) last_error: Option<RemoteError>,
    pub(crate) from_archive: bool,
}

enum Fetched {
    Body {
        xml: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    NotModified,
    NotFound,
}

pub(crate) struct Cell {
    url: String,
    accept: &'static str,
    max_bytes: usize,
    /// MDQ: a 404 is a negative result kept this long.
    negative_ttl: Option<Duration>,
    catalog: RwLock<Option<Arc<Catalog>>>,
    state: Mutex<State>,
    flight: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section only assigns fields: a panic elsewhere cannot
    // leave the state half-written, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cell {
    pub(crate) fn new(
        url: String,
        accept: &'static str,
        max_bytes: usize,
        negative_ttl: Option<Duration>,
    ) -> Self {
        Self {
            url,
            accept,
            max_bytes,
            negative_ttl,
            catalog: RwLock::new(None),
            state: Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn current(&self) -> Option<Arc<Catalog>> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn install(&self, catalog: Option<Arc<Catalog>>) {
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = catalog;
    }

    /// Whether a refresh should run at `now`: the copy is due (or there is
    /// none, or a negative result lapsed) and no retry wait is running.
    pub(crate) fn is_due(&self, now: DateTime<Utc>) -> bool {
        let state = lock(&self.state);
        if state.retry_at.is_some_and(|r| r > now) {
            return false;
        }
        if state.absent_until.is_some_and(|a| a > now) {
            return false;
        }
        match state.due {
            Some(due) => due <= now,
            None => true,
        }
    }

    /// The next time this cell wants a refresh.
    pub(crate) fn next_attempt(&self) -> Option<DateTime<Utc>> {
        let state = lock(&self.state);
        [state.due, state.retry_at, state.absent_until]
            .into_iter()
            .flatten()
            .max()
    }

    pub(crate) fn status(&self) -> CellStatus {
        let catalog = self.current();
        let state = lock(&self.state);
        CellStatus {
            fetched_at: state.fetched_at,
            next_refresh: [state.due, state.retry_at].into_iter().flatten().max(),
            valid_until: catalog.as_ref().and_then(|c| c.valid_until),
            entities: catalog.as_ref().map_or(0, |c| c.providers.len()),
            last_error: state.last_error.clone(),
            from_archive: state.from_archive,
        }
    }

    /// The copy to answer a lookup with: the one in hand (refreshed first
    /// when due and `refresh_on_lookup` is on), or a first fetch. `Ok(None)`
    /// is a negative result (MDQ 404).
    pub(crate) async fn get(
        &self,
        env: &Env,
        loader: &dyn Loader,
    ) -> Result<Option<Arc<Catalog>>, RemoteError> {
        if let Some(catalog) = self.current() {
            if !env.policy.refresh_on_lookup || !self.is_due(env.clock.now()) {
                return Ok(Some(catalog));
            }
            // Refresh unless another task already is; never wait for it:
            // the copy in hand answers meanwhile.
            if let Ok(_flight) = self.flight.try_lock()
                && self.is_due(env.clock.now())
            {
                // A failure is logged and the last good copy kept.
                let _ = self.refresh_locked(env, loader).await;
            }
            return Ok(self.current());
        }
        if let Some(answer) = self.without_fetch(env.clock.now()) {
            return answer;
        }
        let _flight = self.flight.lock().await;
        if let Some(catalog) = self.current() {
            return Ok(Some(catalog));
        }
        if let Some(answer) = self.without_fetch(env.clock.now()) {
            return answer;
        }
        match self.refresh_locked(env, loader).await {
            Ok(_) => Ok(self.current()),
            // The archive may have supplied a copy.
            Err(e) => self.current().map(Some).ok_or(e),
        }
    }

    /// With no copy in hand: the answer that needs no fetch (a negative
    /// result still valid, or a failure whose retry time has not come).
    #[allow(clippy::type_complexity)]
    fn without_fetch(
        &self,
        now: DateTime<Utc>,
    ) -> Option<Result<Option<Arc<Catalog>>, RemoteError>> {
        let state = lock(&self.state);
        if state.absent_until.is_some_and(|a| a > now) {
            return Some(Ok(None));
        }
        if let Some(retry_at) = state.retry_at.filter(|r| *r > now) {
            // The last failure, with its own code (`signature_invalid`,
            // `expired`...), says why better than a generic error.
            let error = state
                .last_error
                .clone()
                .unwrap_or_else(|| RemoteError::NotLoaded {
                    url: self.url.clone(),
                    reason: format!("next try after {}", format_datetime(retry_at)),
                });
            return Some(Err(error));
        }
        None
    }

    /// Fetches now (conditionally when a copy is in hand), whatever the
    /// schedule says; waits for a refresh already running.
    pub(crate) async fn refresh(
        &self,
        env: &Env,
        loader: &dyn Loader,
    ) -> Result<RefreshOutcome, RemoteError> {
        let _flight = self.flight.lock().await;
        self.refresh_locked(env, loader).await
    }

    /// Refreshes if due; `None` when it was not.
    pub(crate) async fn refresh_if_due(
        &self,
        env: &Env,
        loader: &dyn Loader,
    ) -> Option<Result<RefreshOutcome, RemoteError>> {
        let _flight = self.flight.lock().await;
        if !self.is_due(env.clock.now()) {
            return None;
        }
        Some(self.refresh_locked(env, loader).await)
    }

    /// The refresh itself; the caller holds `flight`.
    async fn refresh_locked(
        &self,
        env: &Env,
        loader: &dyn Loader,
    ) -> Result<RefreshOutcome, RemoteError> {
        let now = env.clock.now();
        let old = self.current();
        let (etag, last_modified) = if old.is_some() {
            let state = lock(&self.state);
            (state.etag.clone(), state.last_modified.clone())
        } else {
            (None, None)
        };
        let conditional = etag.is_some() || last_modified.is_some();
        let fetched = self.fetch(env, etag, last_modified).await;
        let result = match fetched {
            Ok(Fetched::Body {
                xml,
                etag,
                last_modified,
            }) => match loader.load(&xml, &self.url, now) {
                Ok(catalog) => {
                    self.accept(env, now, old.as_deref(), catalog, &etag, &last_modified);
                    if let Some(archive) = &env.archive {
                        let copy =
                            ArchivedMetadata::new(xml, now).with_validators(etag, last_modified);
                        if let Err(e) = archive.save(&self.url, &copy).await {
                            tracing::warn!(
                                target: TARGET,
                                event = "archive_failed",
                                url = %self.url,
                                error = %e,
                                "the new metadata copy could not be archived; it is used all the same"
                            );
                        }
                    }
                    Ok(RefreshOutcome::Updated)
                }
                Err(e) => Err(e),
            },
            Ok(Fetched::NotModified) if conditional => match old {
                Some(catalog) => {
                    let mut state = lock(&self.state);
                    state.fetched_at = Some(now);
                    state.due = Some(env.policy.refresh_at(
                        now,
                        catalog.cache_duration,
                        catalog.valid_until,
                    ));
                    state.last_error = None;
                    state.retry_at = None;
                    // The server confirmed the copy (archived or not).
                    state.from_archive = false;
                    drop(state);
                    tracing::debug!(
                        target: TARGET,
                        event = "refresh_not_modified",
                        url = %self.url,
                        "metadata not modified; the copy in hand stays in use"
                    );
                    self.warn_certificates(env, now, &catalog);
                    Ok(RefreshOutcome::NotModified)
                }
                None => Err(self.protocol("answered 304 Not Modified without a copy in hand")),
            },
            Ok(Fetched::NotModified) => {
                Err(self.protocol("answered 304 Not Modified to an unconditional request"))
            }
            Ok(Fetched::NotFound) => {
                let ttl = self.negative_ttl.unwrap_or(env.policy.retry_interval);
                self.install(None);
                let mut state = lock(&self.state);
                *state = State {
                    absent_until: Some(add(now, ttl)),
                    ..State::default()
                };
                drop(state);
                tracing::debug!(
                    target: TARGET,
                    event = "entity_not_found",
                    url = %self.url,
                    "the metadata service does not know this entity"
                );
                Ok(RefreshOutcome::NotFound)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            self.failed(env, loader, now, e).await;
        }
        result
    }

    fn protocol(&self, what: &str) -> RemoteError {
        RemoteError::Metadata {
            url: self.url.clone(),
            error: Error::new(ErrorCode::StoreUnavailable, format!("the server {what}")),
        }
    }

    /// Puts a new copy in use, with its events.
    fn accept(
        &self,
        env: &Env,
        now: DateTime<Utc>,
        old: Option<&Catalog>,
        catalog: Catalog,
        etag: &Option<String>,
        last_modified: &Option<String>,
    ) {
        let due = env
            .policy
            .refresh_at(now, catalog.cache_duration, catalog.valid_until);
        let (mut added, mut removed) = (0usize, 0usize);
        if let Some(old) = old {
            for (entity_id, provider) in &catalog.by_entity {
                match old.by_entity.get(entity_id) {
                    Some(before) => key_changes(
                        &self.url,
                        entity_id,
                        before.metadata.signing_certificates(),
                        provider.metadata.signing_certificates(),
                    ),
                    None => added += 1,
                }
            }
            removed = old
                .by_entity
                .keys()
                .filter(|id| !catalog.by_entity.contains_key(*id))
                .count();
        }
        let catalog = Arc::new(catalog);
        self.install(Some(Arc::clone(&catalog)));
        let mut state = lock(&self.state);
        *state = State {
            fetched_at: Some(now),
            due: Some(due),
            etag: etag.clone(),
            last_modified: last_modified.clone(),
            ..State::default()
        };
        drop(state);
        tracing::info!(
            target: TARGET,
            event = "refresh_succeeded",
            url = %self.url,
            entities = catalog.providers.len(),
            entities_added = added,
            entities_removed = removed,
            signed = catalog.providers.first().is_some_and(|p| p.metadata.signature_verified()),
            valid_until = catalog.valid_until.map(format_datetime),
            next_refresh = %format_datetime(due),
            "metadata refreshed"
        );
        self.warn_certificates(env, now, &catalog);
    }

    fn warn_certificates(&self, env: &Env, now: DateTime<Utc>, catalog: &Catalog) {
        if env.policy.certificate_warning.is_none() {
            return;
        }
        for p in &catalog.providers {
            certificate_warnings(
                &self.url,
                p.metadata.entity_id(),
                p.metadata.signing_certificates(),
                now,
                env.policy.certificate_warning,
            );
        }
    }

    /// Records a failure: the retry wait, the event, and with no copy in
    /// hand, the archived one if there is one.
    async fn failed(
        &self,
        env: &Env,
        loader: &dyn Loader,
        now: DateTime<Utc>,
        error: &RemoteError,
    ) {
        let current = self.current();
        {
            let mut state = lock(&self.state);
            state.last_error = Some(error.clone());
            state.retry_at = Some(add(now, env.policy.retry_interval));
        }
        let kept = {
            let state = lock(&self.state);
            state.fetched_at.map(format_datetime)
        };
        tracing::error!(
            target: TARGET,
            event = "refresh_failed",
            url = %self.url,
            code = error.code().as_str(),
            error = %error,
            kept_copy_fetched_at = kept,
            "metadata refresh failed{}",
            if current.is_some() { "; the last good copy stays in use" } else { "" }
        );
        match current {
            Some(catalog) => {
                if let Some(until) = catalog.valid_until
                    && until <= now
                {
                    tracing::error!(
                        target: TARGET,
                        event = "metadata_expired",
                        url = %self.url,
                        valid_until = %format_datetime(until),
                        "the last good metadata copy has expired (validUntil) and could not be refreshed; its IdPs are refused until a fresh copy is fetched"
                    );
                }
            }
            None => self.use_archive(env, loader, now).await,
        }
    }

    async fn use_archive(&self, env: &Env, loader: &dyn Loader, now: DateTime<Utc>) {
        let Some(archive) = &env.archive else { return };
        let copy = match archive.load(&self.url).await {
            Ok(Some(copy)) => copy,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(
                    target: TARGET,
                    event = "archive_failed",
                    url = %self.url,
                    error = %e,
                    "the metadata archive could not be read"
                );
                return;
            }
        };
        // Verified again with today's trust settings and clock, so a
        // tampered or stale archive cannot add keys or revive expired metadata.
        match loader.load(&copy.xml, &self.url, now) {
            Ok(catalog) => {
                let catalog = Arc::new(catalog);
                self.install(Some(Arc::clone(&catalog)));
                let mut state = lock(&self.state);
                state.fetched_at = Some(copy.fetched_at);
                // Due at once: the next try (after the retry wait) fetches
                // again, conditionally on the archived validators.
                state.due = Some(now);
                state.etag = copy.etag;
                state.last_modified = copy.last_modified;
                state.from_archive = true;
                drop(state);
                tracing::warn!(
                    target: TARGET,
                    event = "archived_copy_used",
                    url = %self.url,
                    fetched_at = %format_datetime(copy.fetched_at),
                    entities = catalog.providers.len(),
                    "the metadata URL failed; using the archived last good copy"
                );
            }
            Err(e) => {
                tracing::error!(
                    target: TARGET,
                    event = "archived_copy_refused",
                    url = %self.url,
                    code = e.code().as_str(),
                    error = %e,
                    "the archived metadata copy cannot be used either"
                );
            }
        }
    }

    /// One GET, conditional when validators are given.
    async fn fetch(
        &self,
        env: &Env,
        etag: Option<String>,
        last_modified: Option<String>,
    ) -> Result<Fetched, RemoteError> {
        let http = |error| RemoteError::Http {
            url: self.url.clone(),
            error,
        };
        // Checked here, not only by the client: a user-supplied client gets
        // the same rule.
        check_transport(&self.url).map_err(http)?;
        let mut request = HttpRequest::get(self.url.clone())
            .header("Accept", self.accept)
            .timeout(env.policy.timeout)
            .max_response_bytes(self.max_bytes);
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(lm) = last_modified {
            request = request.header("If-Modified-Since", lm);
        }
        let response = env.client.send(request).await.map_err(http)?;
        crate::fetch::check_size(&self.url, response.body.len(), self.max_bytes)?;
        match response.status {
            200 => {
                let etag = response.header_value("ETag").map(str::to_owned);
                let last_modified = response.header_value("Last-Modified").map(str::to_owned);
                let xml = crate::fetch::metadata_text(&self.url, response.body)?;
                Ok(Fetched::Body {
                    xml,
                    etag,
                    last_modified,
                })
            }
            304 => Ok(Fetched::NotModified),
            404 | 410 if self.negative_ttl.is_some() => Ok(Fetched::NotFound),
            status => Err(RemoteError::Status {
                url: self.url.clone(),
                status,
            }),
        }
    }
}
