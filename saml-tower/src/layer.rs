//! [`SamlLayer`] and its builder: configuration checked once, at start-up.

use std::fmt;
use std::sync::Arc;

use chrono::Duration;
use http::request::Parts;
use saml_core::clock::{Clock, SystemClock};
use saml_core::store::{
    AuditSink, KeyStore, MappingMapper, MetadataResolver, ReplayCache, SessionStore, UserMapper,
};
use saml_remote::HttpClient;
use tower_layer::Layer;

use crate::service::SamlService;

/// A configuration mistake found by [`SamlLayerBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid SAML layer configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Everything the service needs, shared by all clones.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) base_url: String,
    pub(crate) prefix: String,
    pub(crate) entity_id: String,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) replay: Arc<dyn ReplayCache>,
    pub(crate) metadata: Arc<dyn MetadataResolver>,
    pub(crate) keys: Option<Arc<dyn KeyStore>>,
    pub(crate) mapper: Arc<dyn UserMapper>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) session_lifetime: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) pending_lifetime: Duration,
    pub(crate) secure_cookies: bool,
    pub(crate) session_cookie: String,
    pub(crate) binding_cookie: String,
    pub(crate) max_body_bytes: usize,
    pub(crate) allowed_return_origins: Vec<String>,
    pub(crate) audit: Option<Arc<dyn AuditSink>>,
    pub(crate) client_address: ClientAddressFn,
    pub(crate) http: Option<Arc<dyn HttpClient>>,
}

/// How the layer finds a request's client address (for the audit log).
#[derive(Clone)]
pub(crate) struct ClientAddressFn(pub(crate) Arc<FindClientAddress>);

/// A function from request parts to the client address.
type FindClientAddress = dyn Fn(&Parts) -> Option<String> + Send + Sync;

impl fmt::Debug for ClientAddressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientAddressFn")
    }
}

impl Shared {
    /// Our ACS URL, shared or per provider.
    pub(crate) fn acs_url(&self, provider: Option<&str>) -> String {
        match provider {
            Some(p) => format!("{}{}/{p}/acs", self.base_url, self.prefix),
            None => format!("{}{}/acs", self.base_url, self.prefix),
        }
    }
}

impl Shared {
    /// Where artifacts arrive (HTTP-Artifact binding, GET or POST).
    pub(crate) fn artifact_url(&self) -> String {
        format!("{}{}/artifact", self.base_url, self.prefix)
    }

    /// Our back-channel (SOAP) single logout URL.
    pub(crate) fn slo_soap_url(&self) -> String {
        format!("{}{}/slo/soap", self.base_url, self.prefix)
    }

    /// Our single logout URL (both bindings).
    pub(crate) fn slo_url(&self) -> String {
        format!("{}{}/slo", self.base_url, self.prefix)
    }
}

/// The layer: cheap to clone, build it once with [`SamlLayer::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SamlLayer {
    pub(crate) shared: Arc<Shared>,
}

impl SamlLayer {
    /// Starts a configuration for the application served at `base_url`
    /// (scheme, host and port, e.g. `https://app.example.com`).
    pub fn builder(base_url: impl Into<String>) -> SamlLayerBuilder {
        SamlLayerBuilder {
            base_url: base_url.into(),
            prefix: "/saml".into(),
            entity_id: None,
            sessions: None,
            replay: None,
            metadata: None,
            keys: None,
            mapper: None,
            clock: None,
            session_lifetime: Duration::hours(8),
            idle_timeout: Duration::hours(1),
            insecure_http: false,
            allowed_return_origins: Vec::new(),
            audit: None,
            client_address: None,
            http: None,
        }
    }

    /// The name of the session cookie: `__Host-saml_session` on HTTPS,
    /// `saml_session` on a plain-HTTP loopback server (browsers refuse the
    /// `__Host-` prefix without `Secure`). Clients that carry the session
    /// themselves (gRPC, scripts) send `Cookie: {name}={token}`.
    ///
    /// ```
    /// use saml_store_memory::{MemoryStore, StaticMetadataResolver};
    /// use saml_tower::SamlLayer;
    ///
    /// let layer = SamlLayer::builder("https://app.example.com")
    ///     .stores(MemoryStore::new())
    ///     .metadata_resolver(StaticMetadataResolver::new(Vec::new()))
    ///     .build()?;
    /// assert_eq!(layer.session_cookie_name(), "__Host-saml_session");
    /// # Ok::<(), saml_tower::ConfigError>(())
    /// ```
    #[must_use]
    pub fn session_cookie_name(&self) -> &str {
        &self.shared.session_cookie
    }
}

impl<S> Layer<S> for SamlLayer {
    type Service = SamlService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SamlService::new(inner, self.shared.clone())
    }
}

/// Builder for [`SamlLayer`]; `build` checks the configuration.
#[must_use]
pub struct SamlLayerBuilder {
    base_url: String,
    prefix: String,
    entity_id: Option<String>,
    sessions: Option<Arc<dyn SessionStore>>,
    replay: Option<Arc<dyn ReplayCache>>,
    metadata: Option<Arc<dyn MetadataResolver>>,
    keys: Option<Arc<dyn KeyStore>>,
    mapper: Option<Arc<dyn UserMapper>>,
    clock: Option<Arc<dyn Clock>>,
    session_lifetime: Duration,
    idle_timeout: Duration,
    insecure_http: bool,
    allowed_return_origins: Vec<String>,
    audit: Option<Arc<dyn AuditSink>>,
    client_address: Option<ClientAddressFn>,
    http: Option<Arc<dyn HttpClient>>,
}

impl fmt::Debug for SamlLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamlLayerBuilder")
            .field("base_url", &self.base_url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SamlLayerBuilder {
    /// Where the SAML endpoints live (default `/saml`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Our SP entity ID (default: the metadata URL, `{base_url}{prefix}/metadata`).
    pub fn entity_id(mut self, entity_id: impl Into<String>) -> Self {
        self.entity_id = Some(entity_id.into());
        self
    }

    /// One store for sessions and replay state (both traits), e.g. `MemoryStore` or `SqlStore`.
    pub fn stores<T: SessionStore + ReplayCache + Clone + 'static>(mut self, store: T) -> Self {
        self.sessions = Some(Arc::new(store.clone()));
        self.replay = Some(Arc::new(store));
        self
    }

    /// The session store.
    pub fn session_store(mut self, store: impl SessionStore + 'static) -> Self {
        self.sessions = Some(Arc::new(store));
        self
    }

    /// The replay cache (assertion IDs and pending logins).
    pub fn replay_cache(mut self, cache: impl ReplayCache + 'static) -> Self {
        self.replay = Some(Arc::new(cache));
        self
    }

    /// Where identity providers are found.
    pub fn metadata_resolver(mut self, resolver: impl MetadataResolver + 'static) -> Self {
        self.metadata = Some(Arc::new(resolver));
        self
    }

    /// The SP's keys (signing requests and metadata, decrypting assertions).
    pub fn key_store(mut self, keys: impl KeyStore + 'static) -> Self {
        self.keys = Some(Arc::new(keys));
        self
    }

    /// Turns assertions into users (default: [`MappingMapper`](saml_core::store::MappingMapper), the
    /// attributes as given plus a profile and roles mapped by each
    /// provider's preset).
    pub fn user_mapper(mut self, mapper: impl UserMapper + 'static) -> Self {
        self.mapper = Some(Arc::new(mapper));
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Longest session (default 8 hours); the IdP's SessionNotOnOrAfter shortens it.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Session ends after this long without a request (default 1 hour).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Allows an absolute `return_to`/RelayState URL on this origin
    /// (e.g. `https://other.example.com`); same-origin paths are always allowed.
    pub fn allow_return_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_return_origins.push(origin.into());
        self
    }

    /// Where audit events go (besides the `saml::audit` tracing events):
    /// e.g. `SqlStore` or `MemoryStore`. A sign-in is recorded before its
    /// session is created and is refused (503) when it cannot be recorded;
    /// refusals, replays and logouts are recorded best-effort.
    pub fn audit_sink(mut self, sink: impl AuditSink + 'static) -> Self {
        self.audit = Some(Arc::new(sink));
        self
    }

    /// How to find a request's client address for the audit log. The
    /// default reads a [`SocketAddr`](std::net::SocketAddr) from the request
    /// extensions (put there by a server that records the peer). Behind a
    /// reverse proxy, read the header it sets — and only the part your own
    /// proxy wrote, since clients can send such headers too.
    pub fn client_address(
        mut self,
        find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.client_address = Some(ClientAddressFn(Arc::new(find)));
        self
    }

    /// The client for server-to-server calls: resolving artifacts at the
    /// IdP (HTTP-Artifact binding). Without one, `{prefix}/artifact` answers
    /// 501 and our metadata offers no Artifact ACS. `saml_remote::ReqwestClient`
    /// (feature `reqwest` of `saml-remote`) is the usual choice.
    pub fn http_client(mut self, client: impl HttpClient + 'static) -> Self {
        self.http = Some(Arc::new(client));
        self
    }

    /// Sends cookies without `Secure` so a plain-HTTP loopback server works
    /// in development. Refused unless `base_url` is `http://localhost` or
    /// `http://127.0.0.1`.
    pub fn insecure_allow_http_cookies_on_localhost(mut self) -> Self {
        self.insecure_http = true;
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(self) -> Result<SamlLayer, ConfigError> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let loopback = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
            .iter()
            .any(|h| base_url == *h || base_url.starts_with(&format!("{h}:")));
        let allowed_http = loopback && self.insecure_http;
        if !(base_url.starts_with("https://") || allowed_http) {
            return Err(ConfigError(format!(
                "base URL `{base_url}` must be https:// (plain http only for localhost with insecure_allow_http_cookies_on_localhost)"
            )));
        }
        if !self.prefix.starts_with('/') || self.prefix.ends_with('/') || self.prefix.len() < 2 {
            return Err(ConfigError(format!(
                "prefix `{}` must start with `/` and not end with one",
                self.prefix
            )));
        }
        let sessions = self
            .sessions
            .ok_or_else(|| ConfigError("a session store is required (stores(...))".into()))?;
        let replay = self
            .replay
            .ok_or_else(|| ConfigError("a replay cache is required (stores(...))".into()))?;
        let metadata = self
            .metadata
            .ok_or_else(|| ConfigError("a metadata resolver is required".into()))?;
        if self.session_lifetime <= Duration::zero() || self.idle_timeout <= Duration::zero() {
            return Err(ConfigError(
                "session lifetime and idle timeout must be positive".into(),
            ));
        }
        let entity_id = self
            .entity_id
            .unwrap_or_else(|| format!("{base_url}{}/metadata", self.prefix));
        let secure_cookies = !allowed_http;
        // Browsers keep a `__Host-` cookie only if it is Secure, has Path=/
        // and no Domain, so a sibling subdomain or a plain-HTTP page cannot
        // plant or overwrite it: not the session cookie (session fixation),
        // nor the binding cookie (login CSRF with the attacker's own login).
        let (session_cookie, binding_cookie) = if secure_cookies {
            ("__Host-saml_session", "__Host-saml_binding")
        } else {
            ("saml_session", "saml_binding")
        };
        Ok(SamlLayer {
            shared: Arc::new(Shared {
                secure_cookies,
                base_url,
                prefix: self.prefix,
                entity_id,
                sessions,
                replay,
                metadata,
                keys: self.keys,
                mapper: self
                    .mapper
                    .unwrap_or_else(|| Arc::new(MappingMapper::new())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                session_lifetime: self.session_lifetime,
                idle_timeout: self.idle_timeout,
                pending_lifetime: Duration::minutes(10),
                session_cookie: session_cookie.into(),
                binding_cookie: binding_cookie.into(),
                max_body_bytes: 2 * 1024 * 1024,
                allowed_return_origins: self.allowed_return_origins,
                audit: self.audit,
                http: self.http,
                client_address: self
                    .client_address
                    .unwrap_or_else(|| ClientAddressFn(Arc::new(crate::audit::peer_address))),
            }),
        })
    }
}
