//! Test support for the `SamlLayer` integration tests: a controllable clock,
//! a cookie-carrying "browser", a development IdP per provider name, stores
//! that can be switched off, and the login flow step by step.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use http::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use saml_core::binding::{PostForm, parse_form};
use saml_core::clock::Clock;
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{
    MetadataResolver, PendingLogin, Provider, ProviderSettings, ReplayCache, SessionRecord,
    SessionStore, StoreError,
};
use saml_store_memory::{MemoryStore, StaticMetadataResolver};
use saml_testkit::dev_idp::{DevIdp, DevIdpConfig};
use saml_tower::{BoxError, Rejection, RequireLoginLayer, SamlLayer, SamlLayerBuilder, SamlUser};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt};

/// The plain-HTTP loopback base URL most tests use.
pub(crate) const BASE: &str = "http://127.0.0.1:3000";
/// The user the dev IdP logs in unless a test says otherwise.
pub(crate) const ALICE: &str = "alice@example.com";
/// The second built-in dev IdP user.
pub(crate) const BOB: &str = "bob@example.com";

// ---------------------------------------------------------------- clock

/// A clock the test moves by hand; shared by the layer and the dev IdP.
#[derive(Debug, Clone)]
pub(crate) struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub(crate) fn new() -> Self {
        let start = Utc
            .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("valid start time");
        Self(Arc::new(Mutex::new(start)))
    }

    pub(crate) fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

// ---------------------------------------------------------------- encoding

/// Percent-encodes everything but the unreserved characters (query values,
/// form fields).
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An `application/x-www-form-urlencoded` body.
pub(crate) fn form_body<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", enc(n.as_ref()), enc(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

/// The decoded query parameter `name` of a URL or path.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    parse_form(query)?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------- dev IdPs

/// The development IdP `https://{name}.idp.example/...`. Cached per name:
/// the IdP is stateless, and RSA key generation is the slowest step.
pub(crate) fn idp(name: &str) -> Arc<DevIdp> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<DevIdp>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Mutex::default)
        .lock()
        .expect("idp cache lock");
    cache
        .entry(name.to_owned())
        .or_insert_with(|| {
            Arc::new(
                DevIdp::new(DevIdpConfig::new(
                    format!("https://{name}.idp.example/metadata"),
                    format!("https://{name}.idp.example/sso"),
                ))
                .expect("dev IdP"),
            )
        })
        .clone()
}

/// A provider named `name` trusting the dev IdP `idp`, with default
/// settings changed by `settings`.
pub(crate) fn provider(
    name: &str,
    idp: &DevIdp,
    settings: impl FnOnce(&mut ProviderSettings),
) -> Provider {
    let metadata =
        IdpMetadata::parse(&idp.metadata_xml(), &MetadataOptions::new()).expect("IdP metadata");
    let mut s = ProviderSettings::default();
    settings(&mut s);
    Provider {
        name: name.to_owned(),
        metadata,
        settings: s,
    }
}

// ---------------------------------------------------------------- the app

type ReqBody = Full<Bytes>;
type App = BoxCloneService<Request<ReqBody>, Response<UnsyncBoxBody<Bytes, BoxError>>, Infallible>;

/// The layer around a trivial inner service that answers 200 with the
/// signed-in user as JSON (or `anonymous`) and counts its calls.
pub(crate) struct Sp {
    app: App,
    pub(crate) clock: TestClock,
    calls: Arc<AtomicUsize>,
    pub(crate) base: String,
}

/// How to build an [`Sp`].
pub(crate) struct SpOptions {
    pub(crate) base: String,
    pub(crate) providers: Vec<Provider>,
    pub(crate) require_login: bool,
}

impl SpOptions {
    pub(crate) fn new(providers: Vec<Provider>) -> Self {
        Self {
            base: BASE.to_owned(),
            providers,
            require_login: false,
        }
    }
}

impl Sp {
    /// One provider `dev` (the dev IdP `dev`) with default settings.
    pub(crate) fn dev() -> (Self, Arc<DevIdp>) {
        Self::dev_with(|_| {}, |b| b)
    }

    /// One provider `dev`, its settings and the layer builder adjusted.
    pub(crate) fn dev_with(
        settings: impl FnOnce(&mut ProviderSettings),
        configure: impl FnOnce(SamlLayerBuilder) -> SamlLayerBuilder,
    ) -> (Self, Arc<DevIdp>) {
        let idp = idp("dev");
        let sp = Self::build(
            SpOptions::new(vec![provider("dev", &idp, settings)]),
            configure,
        );
        (sp, idp)
    }

    pub(crate) fn build(
        options: SpOptions,
        configure: impl FnOnce(SamlLayerBuilder) -> SamlLayerBuilder,
    ) -> Self {
        let clock = TestClock::new();
        let mut builder = SamlLayer::builder(options.base.clone())
            .stores(MemoryStore::new())
            .metadata_resolver(StaticMetadataResolver::new(options.providers))
            .clock(clock.clone());
        if options.base.starts_with("http://") {
            builder = builder.insecure_allow_http_cookies_on_localhost();
        }
        let layer = configure(builder).build().expect("layer configuration");
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let inner = tower::service_fn(move |req: Request<ReqBody>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = req.extensions().get::<Arc<SamlUser>>().map_or_else(
                    || "anonymous".to_owned(),
                    |u| serde_json::to_string(u).expect("user json"),
                );
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            }
        });
        let app = if options.require_login {
            BoxCloneService::new(
                layer
                    .layer(RequireLoginLayer::new().layer(inner))
                    .map_response(|r| r.map(BodyExt::boxed_unsync)),
            )
        } else {
            BoxCloneService::new(
                layer
                    .layer(inner)
                    .map_response(|r| r.map(BodyExt::boxed_unsync)),
            )
        };
        Self {
            app,
            clock,
            calls,
            base: options.base,
        }
    }

    /// How often the inner service was called.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// One request through the layer (a clone of the service per request).
    pub(crate) async fn send(&self, req: Request<ReqBody>) -> Reply {
        let response = self.app.clone().oneshot(req).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("response body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            rejection: parts.extensions.get::<Rejection>().cloned(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Our SP entity ID (the default: the metadata URL).
    pub(crate) fn entity_id(&self) -> String {
        format!("{}/saml/metadata", self.base)
    }

    /// The shared ACS URL.
    pub(crate) fn acs_url(&self) -> String {
        format!("{}/saml/acs", self.base)
    }
}

/// A response, read completely.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) rejection: Option<Rejection>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location in {self:?}"))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` header for cookie `name`, if any.
    pub(crate) fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.split_once('=').is_some_and(|(n, _)| n.trim() == name))
    }

    /// The value `Set-Cookie` gives cookie `name`.
    pub(crate) fn cookie_value(&self, name: &str) -> Option<&str> {
        let header = self.set_cookie(name)?;
        let first = header.split(';').next()?;
        first.split_once('=').map(|(_, v)| v.trim())
    }

    /// The error code, checking that the status and the `Rejection`
    /// extension agree with the body.
    pub(crate) fn code(&self) -> &'static str {
        let rejection = self
            .rejection
            .as_ref()
            .unwrap_or_else(|| panic!("no Rejection extension in {self:?}"));
        assert_eq!(rejection.status(), self.status, "{self:?}");
        rejection.code().as_str()
    }

    /// Status and code in one check; never a 500.
    #[track_caller]
    pub(crate) fn assert_rejected(&self, status: StatusCode, code: &str) {
        assert_ne!(self.status, StatusCode::INTERNAL_SERVER_ERROR, "{self:?}");
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.code(), code, "{self:?}");
        for name in ["saml_session", "__Host-saml_session"] {
            assert!(
                self.set_cookie(name)
                    .is_none_or(|c| c.contains("Max-Age=0")),
                "a rejection must not set a session: {self:?}"
            );
        }
    }

    /// The signed-in user the inner service saw.
    pub(crate) fn user(&self) -> Option<SamlUser> {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        (self.body != "anonymous").then(|| serde_json::from_str(&self.body).expect("user JSON"))
    }
}

/// The attributes of a `Set-Cookie` value, lowercased (without name=value).
pub(crate) fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

// ---------------------------------------------------------------- browser

#[derive(Debug, Clone)]
struct Cookie {
    value: String,
    path: String,
}

/// A cookie jar that sends cookies by path and obeys `Set-Cookie`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Browser {
    jar: BTreeMap<String, Cookie>,
}

impl Browser {
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(|c| c.value.as_str())
    }

    pub(crate) fn set_cookie(&mut self, name: &str, value: &str, path: &str) {
        self.jar.insert(
            name.to_owned(),
            Cookie {
                value: value.to_owned(),
                path: path.to_owned(),
            },
        );
    }

    /// A request builder with this browser's cookies and `Accept: text/html`.
    pub(crate) fn request(&self, method: Method, uri: &str) -> http::request::Builder {
        self.request_accepting(method, uri, "text/html,application/xhtml+xml,*/*;q=0.8")
    }

    /// A request builder with this browser's cookies and this `Accept`.
    pub(crate) fn request_accepting(
        &self,
        method: Method,
        uri: &str,
        accept: &str,
    ) -> http::request::Builder {
        let path = uri.split('?').next().unwrap_or(uri);
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|(_, c)| {
                path.strip_prefix(c.path.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || c.path == "/")
            })
            .map(|(n, c)| format!("{n}={}", c.value))
            .collect();
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(ACCEPT, accept);
        if !cookies.is_empty() {
            builder = builder.header(COOKIE, cookies.join("; "));
        }
        builder
    }

    /// Sends `req` and keeps the cookies the answer sets.
    pub(crate) async fn send(&mut self, sp: &Sp, req: Request<ReqBody>) -> Reply {
        let reply = sp.send(req).await;
        self.absorb(&reply);
        reply
    }

    pub(crate) async fn get(&mut self, sp: &Sp, uri: &str) -> Reply {
        let req = self
            .request(Method::GET, uri)
            .body(empty())
            .expect("request");
        self.send(sp, req).await
    }

    pub(crate) async fn post_form(&mut self, sp: &Sp, uri: &str, body: String) -> Reply {
        let req = self
            .request(Method::POST, uri)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        self.send(sp, req).await
    }

    fn absorb(&mut self, reply: &Reply) {
        for header in reply.headers.get_all(SET_COOKIE) {
            let header = header.to_str().expect("ASCII Set-Cookie");
            let mut parts = header.split(';');
            let (name, value) = parts
                .next()
                .and_then(|p| p.split_once('='))
                .expect("name=value");
            let mut path = "/".to_owned();
            let mut delete = value.is_empty();
            for attr in parts {
                let (k, v) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
                if k.eq_ignore_ascii_case("path") {
                    v.clone_into(&mut path);
                }
                if k.eq_ignore_ascii_case("max-age") && v.parse::<i64>().is_ok_and(|s| s <= 0) {
                    delete = true;
                }
            }
            if delete {
                self.jar.remove(name.trim());
            } else {
                self.set_cookie(name.trim(), value.trim(), &path);
            }
        }
    }

    /// Who the inner service sees for this browser (GET `/whoami`).
    pub(crate) async fn whoami(&mut self, sp: &Sp) -> Option<SamlUser> {
        self.get(sp, "/whoami").await.user()
    }
}

pub(crate) fn empty() -> ReqBody {
    Full::new(Bytes::new())
}

// ---------------------------------------------------------------- the flow

/// `GET /saml/login?{query}`: checks the 303 to an IdP and returns the
/// Location.
pub(crate) async fn begin_login(sp: &Sp, browser: &mut Browser, query: &str) -> String {
    let uri = if query.is_empty() {
        "/saml/login".to_owned()
    } else {
        format!("/saml/login?{query}")
    };
    let reply = browser.get(sp, &uri).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let location = reply.location().to_owned();
    assert!(location.contains("?SAMLRequest="), "{location}");
    location
}

/// The dev IdP reads the AuthnRequest in `location` (at `clock`) and
/// answers for `user` (at `answer_clock`).
pub(crate) fn idp_answer(
    idp: &DevIdp,
    location: &str,
    clock: &dyn Clock,
    answer_clock: &dyn Clock,
    user: &str,
) -> PostForm {
    let (_, query) = location.split_once('?').expect("a query");
    let prompt = idp
        .begin(query, clock)
        .expect("the IdP accepts the request");
    idp.respond(&prompt.form_body(user), answer_clock)
        .expect("the IdP answers")
}

/// POSTs an HTTP-POST binding form to its action (a URL under `sp.base`).
pub(crate) async fn post_response(sp: &Sp, browser: &mut Browser, form: &PostForm) -> Reply {
    let path = form
        .action()
        .strip_prefix(sp.base.as_str())
        .unwrap_or_else(|| panic!("action {} is not under {}", form.action(), sp.base))
        .to_owned();
    browser.post_form(sp, &path, form_body(form.fields())).await
}

/// A whole SP-initiated login for `user` with `query` on `/saml/login`;
/// returns the ACS answer (checked to be a 303 with a session cookie).
pub(crate) async fn login_as(
    sp: &Sp,
    idp: &DevIdp,
    browser: &mut Browser,
    query: &str,
    user: &str,
) -> Reply {
    let location = begin_login(sp, browser, query).await;
    let form = idp_answer(idp, &location, &sp.clock, &sp.clock, user);
    let reply = post_response(sp, browser, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert!(reply.set_cookie("saml_session").is_some(), "{reply:?}");
    reply
}

/// [`login_as`] Alice with an optional `return_to`.
pub(crate) async fn login(
    sp: &Sp,
    idp: &DevIdp,
    browser: &mut Browser,
    return_to: Option<&str>,
) -> Reply {
    let query = return_to.map_or_else(String::new, |r| format!("return_to={}", enc(r)));
    login_as(sp, idp, browser, &query, ALICE).await
}

/// An IdP-initiated response form from `idp` to `acs_url` for our SP.
pub(crate) fn unsolicited(
    sp: &Sp,
    idp: &DevIdp,
    acs_url: &str,
    relay_state: Option<&str>,
) -> PostForm {
    let user = idp.user(ALICE).expect("alice");
    idp.respond_idp_initiated(user, acs_url, &sp.entity_id(), relay_state, &sp.clock)
        .expect("IdP-initiated response")
}

// ---------------------------------------------------------------- stores

/// Sessions and replay state in memory, until switched off: then every call
/// answers `StoreError::Unavailable`.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlakyStore {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

impl FlakyStore {
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(
                "the test switched the store off".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for FlakyStore {
    async fn create(&self, record: SessionRecord) -> Result<(), StoreError> {
        self.check()?;
        self.inner.create(record).await
    }

    async fn load(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.check()?;
        self.inner.load(id_hash, now).await
    }

    async fn touch(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.check()?;
        self.inner.touch(id_hash, now).await
    }

    async fn delete(&self, id_hash: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(id_hash).await
    }

    async fn delete_by_subject(
        &self,
        provider: &str,
        name_id: &str,
        session_index: Option<&str>,
    ) -> Result<u64, StoreError> {
        self.check()?;
        self.inner
            .delete_by_subject(provider, name_id, session_index)
            .await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.check()?;
        SessionStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl ReplayCache for FlakyStore {
    async fn insert_once(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.insert_once(key, expires_at, now).await
    }

    async fn save_pending(&self, pending: PendingLogin) -> Result<(), StoreError> {
        self.check()?;
        self.inner.save_pending(pending).await
    }

    async fn take_pending(
        &self,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingLogin>, StoreError> {
        self.check()?;
        self.inner.take_pending(request_id, now).await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.check()?;
        ReplayCache::purge_expired(&self.inner, now).await
    }
}

/// A metadata resolver whose every call fails.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DownResolver;

#[async_trait]
impl MetadataResolver for DownResolver {
    async fn provider(&self, _name: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        Err(StoreError::Unavailable("registry down".into()))
    }

    async fn provider_by_entity_id(
        &self,
        _entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        Err(StoreError::Unavailable("registry down".into()))
    }

    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        Err(StoreError::Unavailable("registry down".into()))
    }
}

/// A resolver over fixed providers that, once armed, answers its second
/// and later `provider` lookups with the provider disabled: an
/// administrator disabling it while a sign-in is under way.
#[derive(Debug, Clone, Default)]
pub(crate) struct DisabledMidway {
    providers: Vec<Arc<Provider>>,
    /// Armed, and the lookups since.
    state: Arc<(AtomicBool, AtomicUsize)>,
}

impl DisabledMidway {
    pub(crate) fn new(providers: Vec<Provider>) -> Self {
        Self {
            providers: providers.into_iter().map(Arc::new).collect(),
            ..Self::default()
        }
    }

    pub(crate) fn arm(&self) {
        self.state.0.store(true, Ordering::SeqCst);
    }

    fn answer(&self, found: Option<&Arc<Provider>>) -> Option<Arc<Provider>> {
        let found = found?.clone();
        let (armed, lookups) = &*self.state;
        if armed.load(Ordering::SeqCst) && lookups.fetch_add(1, Ordering::SeqCst) >= 1 {
            let mut disabled = (*found).clone();
            disabled.settings.enabled = false;
            return Some(Arc::new(disabled));
        }
        Some(found)
    }
}

#[async_trait]
impl MetadataResolver for DisabledMidway {
    async fn provider(&self, name: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        Ok(self.answer(self.providers.iter().find(|p| p.name == name)))
    }

    async fn provider_by_entity_id(
        &self,
        entity_id: &str,
    ) -> Result<Option<Arc<Provider>>, StoreError> {
        Ok(self.answer(
            self.providers
                .iter()
                .find(|p| p.metadata.entity_id() == entity_id),
        ))
    }

    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        Ok(self.providers.clone())
    }
}

/// The AuthnRequest XML carried by an HTTP-Redirect URL.
pub(crate) fn authn_request_xml(location: &str) -> String {
    let (_, query) = location.split_once('?').expect("a query");
    saml_core::binding::parse_redirect_query(query, &saml_core::Limits::default())
        .expect("a redirect message")
        .into_xml()
}
