//! A minimal in-process harness for `SamlLayer` (after
//! `saml-tower/tests/support`, which another crate's tests cannot import):
//! a hand-moved clock, a cookie jar, one provider trusting the suite's IdP
//! key, the SP's decryption key, and a store that several layers (nodes)
//! may share: a `MemoryStore` clone, or one database behind each node's own
//! `SqlStore` pool (`tests/attacks_nodes.rs`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use http::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use saml_core::clock::Clock;
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{Provider, ProviderSettings, ReplayCache, SessionStore, SpKeys};
use saml_store_memory::{MemoryStore, StaticKeyStore, StaticMetadataResolver};
use saml_testkit::dev_idp::{DevIdp, DevIdpConfig};
use saml_tower::{BoxError, Rejection, SamlLayer, SamlLayerBuilder, SamlUser};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt};

use super::kit::{Ctx, keys};

pub(crate) const BASE: &str = "http://127.0.0.1:3000";
pub(crate) const IDP_ENTITY: &str = "https://idp.attacks.example/metadata";

/// A clock the test moves by hand.
#[derive(Debug, Clone)]
pub(crate) struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub(crate) fn new() -> Self {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap();
        Self(Arc::new(Mutex::new(start)))
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The development IdP, here only for its metadata: it signs with the
/// suite's IdP key, so the provider trusts that key and nothing else.
pub(crate) fn idp() -> &'static DevIdp {
    static IDP: std::sync::OnceLock<DevIdp> = std::sync::OnceLock::new();
    IDP.get_or_init(|| {
        let mut config = DevIdpConfig::new(IDP_ENTITY, "https://idp.attacks.example/sso");
        config.key = Some((keys().idp.key_pem.clone(), keys().idp.cert_pem.clone()));
        DevIdp::new(config).expect("dev IdP")
    })
}

pub(crate) fn provider(settings: impl FnOnce(&mut ProviderSettings)) -> Provider {
    let metadata = IdpMetadata::parse(&idp().metadata_xml(), &MetadataOptions::new()).unwrap();
    let mut s = ProviderSettings::default();
    settings(&mut s);
    Provider {
        name: "attacks".to_owned(),
        metadata,
        settings: s,
    }
}

pub(crate) fn percent(s: &str) -> String {
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

pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", percent(n), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

type ReqBody = Full<Bytes>;
type App = BoxCloneService<Request<ReqBody>, Response<UnsyncBoxBody<Bytes, BoxError>>, Infallible>;

/// One SP node: the layer around an inner service that answers the signed-in
/// user as JSON (or `anonymous`).
pub(crate) struct Node {
    app: App,
    pub(crate) clock: TestClock,
    calls: Arc<AtomicUsize>,
}

impl Node {
    /// A node with its own store and one provider.
    pub(crate) fn new(settings: impl FnOnce(&mut ProviderSettings)) -> Self {
        Self::build(MemoryStore::new(), TestClock::new(), settings, |b| b)
    }

    /// A node on `store` (shared with other nodes) and `clock`.
    pub(crate) fn build<S: SessionStore + ReplayCache + Clone + 'static>(
        store: S,
        clock: TestClock,
        settings: impl FnOnce(&mut ProviderSettings),
        configure: impl FnOnce(SamlLayerBuilder) -> SamlLayerBuilder,
    ) -> Self {
        Self::with_providers(store, clock, vec![provider(settings)], configure)
    }

    /// A node on `store` and `clock` that trusts exactly `providers`.
    pub(crate) fn with_providers<S: SessionStore + ReplayCache + Clone + 'static>(
        store: S,
        clock: TestClock,
        providers: Vec<Provider>,
        configure: impl FnOnce(SamlLayerBuilder) -> SamlLayerBuilder,
    ) -> Self {
        let sp_keys = SpKeys {
            decryption: vec![keys().decryption()],
            ..SpKeys::default()
        };
        let builder = SamlLayer::builder(BASE)
            .stores(store)
            .metadata_resolver(StaticMetadataResolver::new(providers))
            .key_store(StaticKeyStore::new(sp_keys))
            .clock(clock.clone())
            .insecure_allow_http_cookies_on_localhost();
        let layer = configure(builder).build().expect("layer configuration");
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let inner = tower::service_fn(move |req: Request<ReqBody>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = req.extensions().get::<Arc<SamlUser>>().map_or_else(
                    || "anonymous".to_owned(),
                    |u| serde_json::to_string(u).unwrap(),
                );
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            }
        });
        let app = BoxCloneService::new(
            layer
                .layer(inner)
                .map_response(|r| r.map(BodyExt::boxed_unsync)),
        );
        Self { app, clock, calls }
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Sends `req` through the layer. The future owns what it needs (it
    /// borrows nothing from the node), so it can be spawned: concurrent
    /// requests on several nodes.
    pub(crate) fn send(
        &self,
        req: Request<ReqBody>,
    ) -> impl Future<Output = Reply> + Send + 'static + use<> {
        let app = self.app.clone();
        async move {
            let response = app.oneshot(req).await.expect("infallible");
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.expect("body").to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                rejection: parts.extensions.get::<Rejection>().cloned(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }
        }
    }

    /// The context a response for this node must carry.
    pub(crate) fn ctx(&self, request_id: Option<String>) -> Ctx {
        Ctx {
            idp: IDP_ENTITY.to_owned(),
            sp: format!("{BASE}/saml/metadata"),
            acs: format!("{BASE}/saml/acs"),
            request_id,
            now: self.clock.now(),
        }
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
    pub(crate) fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.split_once('=').is_some_and(|(n, _)| n.trim() == name))
    }

    /// Whether this answer starts a session (a non-deleting session cookie).
    pub(crate) fn sets_session(&self) -> bool {
        self.set_cookie("saml_session").is_some_and(|c| {
            let value = c.split(';').next().and_then(|p| p.split_once('='));
            value.is_some_and(|(_, v)| !v.trim().is_empty()) && !c.contains("Max-Age=0")
        })
    }

    /// The error code of a refusal, checked against the status.
    pub(crate) fn code(&self) -> Option<&'static str> {
        let r = self.rejection.as_ref()?;
        assert_eq!(r.status(), self.status, "{self:?}");
        Some(r.code().as_str())
    }
}

/// A cookie jar that sends cookies by path and obeys `Set-Cookie`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Browser {
    jar: BTreeMap<String, (String, String)>,
}

impl Browser {
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(|(v, _)| v.as_str())
    }

    pub(crate) fn set_cookie(&mut self, name: &str, value: &str, path: &str) {
        self.jar
            .insert(name.to_owned(), (value.to_owned(), path.to_owned()));
    }

    pub(crate) fn request(&self, method: Method, uri: &str) -> http::request::Builder {
        let path = uri.split('?').next().unwrap_or(uri);
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|(_, (_, p))| {
                p == "/"
                    || path
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(n, (v, _))| format!("{n}={v}"))
            .collect();
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(ACCEPT, "text/html,*/*;q=0.8");
        if !cookies.is_empty() {
            builder = builder.header(COOKIE, cookies.join("; "));
        }
        builder
    }

    pub(crate) async fn send(&mut self, node: &Node, req: Request<ReqBody>) -> Reply {
        let reply = node.send(req).await;
        for header in reply.headers.get_all(SET_COOKIE) {
            let header = header.to_str().unwrap();
            let mut parts = header.split(';');
            let (name, value) = parts.next().and_then(|p| p.split_once('=')).unwrap();
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
        reply
    }

    pub(crate) async fn get(&mut self, node: &Node, uri: &str) -> Reply {
        let req = self
            .request(Method::GET, uri)
            .body(Full::new(Bytes::new()))
            .unwrap();
        self.send(node, req).await
    }

    pub(crate) async fn post_form(&mut self, node: &Node, uri: &str, body: String) -> Reply {
        let req = self
            .request(Method::POST, uri)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        self.send(node, req).await
    }

    /// Posts a Response (XML) to the shared ACS, with an optional RelayState.
    pub(crate) async fn post_response(
        &mut self,
        node: &Node,
        xml: &str,
        relay_state: Option<&str>,
    ) -> Reply {
        let b64 = super::kit::b64(xml);
        let mut fields = vec![("SAMLResponse", b64.as_str())];
        if let Some(r) = relay_state {
            fields.push(("RelayState", r));
        }
        self.post_form(node, "/saml/acs", form_body(&fields)).await
    }

    /// Starts a login (`GET /saml/login?{query}`) and returns the
    /// AuthnRequest ID the layer is now waiting for.
    pub(crate) async fn begin_login(&mut self, node: &Node, query: &str) -> String {
        let uri = if query.is_empty() {
            "/saml/login".to_owned()
        } else {
            format!("/saml/login?{query}")
        };
        let reply = self.get(node, &uri).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
        let location = reply.location().unwrap().to_owned();
        let (_, q) = location.split_once('?').unwrap();
        let xml = saml_core::binding::parse_redirect_query(q, &saml_core::Limits::default())
            .unwrap()
            .into_xml();
        let doc = saml_core::xml::Document::parse(&xml, &saml_core::Limits::default()).unwrap();
        doc.root().attribute("ID").unwrap().to_owned()
    }

    /// The NameID of the user the inner service sees for this browser.
    pub(crate) async fn whoami(&mut self, node: &Node) -> Option<String> {
        self.user(node).await.map(|(name, _)| name)
    }

    /// The NameID and the `mail` attribute values of the user the inner
    /// service sees for this browser.
    pub(crate) async fn user(&mut self, node: &Node) -> Option<(String, Vec<String>)> {
        let reply = self.get(node, "/whoami").await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        if reply.body == "anonymous" {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let mail = v["attributes"]["mail"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Some((v["name_id"].as_str()?.to_owned(), mail))
    }
}
