//! The admin API (feature `admin`) over `SqlStore` on in-memory SQLite:
//! every route, bad input with field errors, authorization, the CSRF rule,
//! the last-provider guard, body caps, metadata fetches from a loopback
//! server, the audit log, and a provider test login through the dev IdP
//! that ends on a report instead of a session.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use saml_core::admin::{AdminBackend, AdminError};
use saml_core::binding::PostForm;
use saml_core::clock::SystemClock;
use saml_remote::ReqwestClient;
use saml_store_sql::SqlStore;
use saml_testkit::dev_idp::{DevIdp, DevIdpConfig};
use saml_tower::admin::AdminService;
use saml_tower::{SamlLayer, SamlUser};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt};

const BASE: &str = "http://127.0.0.1:3000";

type App = BoxCloneService<Request<Full<Bytes>>, Response<Bytes>, Infallible>;

fn idp(name: &str) -> DevIdp {
    DevIdp::new(DevIdpConfig::new(
        format!("https://{name}.idp.example/metadata"),
        format!("https://{name}.idp.example/sso"),
    ))
    .expect("dev IdP")
}

/// The application (layer around an inner service that reports the
/// signed-in user) and the admin API, on one SQLite store.
struct Env {
    store: SqlStore,
    app: App,
    admin: AdminService,
    allow_disable: Arc<AtomicBool>,
    layer: SamlLayer,
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    #[track_caller]
    fn refused(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{self:?}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        v
    }

    #[track_caller]
    fn field_errors(&self) -> Vec<String> {
        let v = self.refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        v["error"]["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("no fields: {self:?}"))
            .keys()
            .cloned()
            .collect()
    }
}

impl Env {
    async fn new() -> Self {
        Self::with(|b| b).await
    }

    async fn with(
        configure: impl FnOnce(
            saml_tower::admin::AdminServiceBuilder,
        ) -> saml_tower::admin::AdminServiceBuilder,
    ) -> Self {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let layer = SamlLayer::builder(BASE)
            .insecure_allow_http_cookies_on_localhost()
            .stores(store.clone())
            .metadata_resolver(store.providers())
            .audit_sink(store.clone())
            .http_client(ReqwestClient::new().unwrap())
            .clock(SystemClock)
            .client_address(|parts| {
                parts
                    .headers
                    .get("x-test-client")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .build()
            .unwrap();
        let inner = tower::service_fn(|req: Request<Full<Bytes>>| async move {
            let body = req.extensions().get::<Arc<SamlUser>>().map_or_else(
                || "anonymous".to_owned(),
                |u| serde_json::to_string(u).unwrap(),
            );
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        });
        let app = BoxCloneService::new(layer.layer(inner).and_then(
            |r: Response<saml_tower::ResponseBody<Full<Bytes>>>| async {
                let (parts, body) = r.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                Ok(Response::from_parts(parts, bytes))
            },
        ));
        let allow_disable = Arc::new(AtomicBool::new(false));
        let allow = allow_disable.clone();
        let backend: Arc<dyn AdminBackend> = Arc::new(store.clone());
        let admin = configure(
            layer
                .admin(backend)
                .authorize(|parts| parts.headers.get("x-admin").is_some_and(|v| v == "yes"))
                .admin_name(|_| Some("root".to_owned()))
                .can_disable_saml(move |remaining| {
                    if allow.load(Ordering::SeqCst) {
                        Ok(())
                    } else {
                        Err(format!("{remaining} left and no local admin login"))
                    }
                }),
        )
        .build()
        .unwrap();
        Self {
            store,
            app,
            admin,
            allow_disable,
            layer,
        }
    }

    /// An admin request: authorized, with the CSRF header and our origin.
    fn request(method: Method, path: &str) -> http::request::Builder {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("x-admin", "yes")
            .header("x-test-client", "192.0.2.7");
        if method != Method::GET {
            b = b
                .header("x-requested-with", "saml-admin")
                .header(ORIGIN, BASE);
        }
        b
    }

    async fn send_admin(&self, req: Request<Full<Bytes>>) -> Reply {
        let response = self.admin.clone().oneshot(req).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = Self::request(method, path)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        self.send_admin(req).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn create(&self, name: &str, idp: &DevIdp, settings: Value) -> Reply {
        self.call(
            Method::POST,
            "/providers",
            Some(json!({"name": name, "metadata_xml": idp.metadata_xml(), "settings": settings})),
        )
        .await
    }

    async fn send_app(&self, req: Request<Full<Bytes>>) -> Reply {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn app_get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut b = Request::get(path).header(ACCEPT, "text/html");
        if let Some(c) = cookie {
            b = b.header(COOKIE, c);
        }
        self.send_app(b.body(Full::default()).unwrap()).await
    }
}

impl Env {
    /// A whole login of `user` at provider `name` (the dev IdP `idp`);
    /// returns the session cookie as `name=value`.
    async fn sign_in(&self, name: &str, idp: &DevIdp, user: &str) -> String {
        let start = self.app_get(&format!("/saml/login?idp={name}"), None).await;
        let binding = cookie_pair(&start, "saml_binding").expect("a binding cookie");
        let location = start.headers[LOCATION].to_str().unwrap();
        let (_, query) = location.split_once('?').unwrap();
        let prompt = idp.begin(query, &SystemClock).unwrap();
        let form = idp.respond(&prompt.form_body(user), &SystemClock).unwrap();
        let req = Request::post(form.action().strip_prefix(BASE).unwrap())
            .header(COOKIE, binding)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form_body(&form))))
            .unwrap();
        let acs = self.send_app(req).await;
        assert_eq!(acs.status, StatusCode::SEE_OTHER, "{acs:?}");
        cookie_pair(&acs, "saml_session").expect("a session")
    }
}

fn cookie_pair(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

fn form_body(form: &PostForm) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    form.fields()
        .iter()
        .map(|(n, v)| format!("{}={}", enc(n), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------- rules

#[tokio::test]
async fn callers_the_predicate_refuses_get_403_on_every_route() {
    let env = Env::new().await;
    for (method, path) in [
        (Method::GET, "/providers"),
        (Method::POST, "/providers"),
        (Method::GET, "/providers/dev"),
        (Method::DELETE, "/providers/dev"),
        (Method::GET, "/audit"),
        (Method::POST, "/metadata/preview"),
        (Method::GET, "/no/such/route"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("x-requested-with", "saml-admin")
            .body(Full::default())
            .unwrap();
        env.send_admin(req)
            .await
            .refused(StatusCode::FORBIDDEN, "admin_forbidden");
    }
    assert!(
        AdminService::clone(&env.admin)
            .oneshot(
                Request::get("/providers")
                    .body(Full::<Bytes>::default())
                    .unwrap()
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn state_changes_need_the_csrf_header_and_our_origin() {
    let env = Env::new().await;
    let idp = idp("csrf");
    let body = json!({"name": "dev", "metadata_xml": idp.metadata_xml()}).to_string();
    let post = || {
        Request::post("/providers")
            .header("x-admin", "yes")
            .header(CONTENT_TYPE, "application/json")
    };
    // No header.
    let r = env
        .send_admin(post().body(Full::new(Bytes::from(body.clone()))).unwrap())
        .await;
    r.refused(StatusCode::FORBIDDEN, "admin_csrf");
    // A wrong value.
    let r = env
        .send_admin(
            post()
                .header("x-requested-with", "XMLHttpRequest")
                .body(Full::new(Bytes::from(body.clone())))
                .unwrap(),
        )
        .await;
    r.refused(StatusCode::FORBIDDEN, "admin_csrf");
    // A foreign origin.
    for origin in ["https://evil.example", "null", "http://127.0.0.1:3001"] {
        let r = env
            .send_admin(
                post()
                    .header("x-requested-with", "saml-admin")
                    .header(ORIGIN, origin)
                    .body(Full::new(Bytes::from(body.clone())))
                    .unwrap(),
            )
            .await;
        r.refused(StatusCode::FORBIDDEN, "admin_csrf");
    }
    assert!(
        env.get("/providers")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The header, no Origin (same-origin GET-less clients): accepted.
    let r = env
        .send_admin(
            post()
                .header("x-requested-with", "saml-admin")
                .body(Full::new(Bytes::from(body)))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    // GET needs no header.
    let r = env
        .send_admin(
            Request::get("/providers")
                .header("x-admin", "yes")
                .body(Full::default())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let env = Env::with(|b| b.max_body_bytes(1024)).await;
    let big = json!({"name": "dev", "metadata_xml": "x".repeat(4096)});
    env.call(Method::POST, "/providers", Some(big.clone()))
        .await
        .refused(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    env.call(Method::POST, "/metadata/preview", Some(big))
        .await
        .refused(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // A body without a declared length is cut off while it is read.
    let chunks = Request::post("/providers/dev/users/import")
        .header("x-admin", "yes")
        .header("x-requested-with", "saml-admin")
        .header(CONTENT_TYPE, "text/csv")
        .body(Full::new(Bytes::from(vec![b'a'; 5000])))
        .unwrap();
    env.send_admin(chunks)
        .await
        .refused(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn unknown_routes_404_and_wrong_methods_405() {
    let env = Env::new().await;
    env.get("/nothing")
        .await
        .refused(StatusCode::NOT_FOUND, "not_found");
    let r = env.call(Method::DELETE, "/providers", None).await;
    r.refused(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(r.headers.get("allow").unwrap(), "GET, POST");
    env.get("/providers/x/enable")
        .await
        .refused(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    env.call(Method::PUT, "/audit", None)
        .await
        .refused(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

// ---------------------------------------------------------------- providers

#[tokio::test]
async fn providers_are_created_read_updated_and_removed() {
    let env = Env::new().await;
    let idp = idp("crud");
    let r = env
        .create(
            "crud",
            &idp,
            json!({"display_name": "Crud IdP", "preset": "okta"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let p = r.json();
    assert_eq!(p["name"], "crud");
    assert_eq!(p["display_name"], "Crud IdP");
    assert_eq!(p["enabled"], true);
    assert_eq!(p["entity_id"], idp.entity_id());
    assert_eq!(p["sso_urls"][0], idp.sso_url());
    assert_eq!(p["revision"], 1);
    assert_eq!(p["settings"]["preset"], "okta");
    let cert = &p["certificates"][0];
    assert_eq!(cert["sha256"].as_str().unwrap().len(), 64);
    assert!(cert["subject"].as_str().is_some() && cert["not_after"].as_str().is_some());

    // Duplicate name, and another name for the same entity ID.
    env.create("crud", &idp, json!({}))
        .await
        .refused(StatusCode::CONFLICT, "provider_exists");
    env.create("again", &idp, json!({}))
        .await
        .refused(StatusCode::CONFLICT, "provider_exists");

    let list = env.get("/providers").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        env.get("/providers/crud").await.json()["entity_id"],
        idp.entity_id()
    );
    env.get("/providers/ghost")
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");

    // A partial update keeps what it does not name.
    let r = env
        .call(
            Method::PUT,
            "/providers/crud",
            Some(json!({"settings": {"clock_skew_seconds": 30,
                "attribute_mapping": {"fields": {"email": ["mail"]}, "required": ["email"]}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let p = r.json();
    assert_eq!(p["revision"], 2);
    assert_eq!(p["settings"]["clock_skew_seconds"], 30);
    assert_eq!(p["settings"]["preset"], "okta");
    assert_eq!(p["display_name"], "Crud IdP");
    assert_eq!(
        p["settings"]["attribute_mapping"]["fields"]["email"][0],
        "mail"
    );
    // New metadata (another IdP's) under the same name.
    let other = self::idp("crud2");
    let r = env
        .call(
            Method::PUT,
            "/providers/crud",
            Some(json!({"metadata_xml": other.metadata_xml()})),
        )
        .await;
    assert_eq!(r.json()["entity_id"], other.entity_id());
    env.call(Method::PUT, "/providers/ghost", Some(json!({})))
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");

    env.allow_disable.store(true, Ordering::SeqCst);
    let r = env.call(Method::DELETE, "/providers/crud", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json(), json!({"users_removed": 0, "sessions_ended": 0}));
    env.call(Method::DELETE, "/providers/crud", None)
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");
}

#[tokio::test]
async fn bad_input_is_answered_with_field_errors() {
    let env = Env::new().await;
    let idp = idp("bad");
    let xml = idp.metadata_xml();
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"metadata_xml": xml}), &["name"]),
        (json!({"name": "has space", "metadata_xml": xml}), &["name"]),
        (json!({"name": "..", "metadata_xml": xml}), &["name"]),
        (json!({"name": 7, "metadata_xml": xml}), &["name"]),
        (json!({"name": "ok"}), &["metadata_url"]),
        (
            json!({"name": "ok", "metadata_xml": xml, "metadata_url": "https://x.example/md"}),
            &["metadata_url"],
        ),
        (
            json!({"name": "ok", "metadata_xml": "<not-metadata/>"}),
            &["metadata_xml"],
        ),
        (
            json!({"name": "ok", "metadata_xml": xml, "colour": "red"}),
            &["colour"],
        ),
        (
            json!({"name": "ok", "metadata_xml": xml,
                   "settings": {"clock_skew_seconds": 100000, "force_authn": "yes", "nope": 1}}),
            &["settings.force_authn", "settings.nope"],
        ),
        (
            json!({"name": "ok", "metadata_xml": xml, "settings": {"clock_skew_seconds": -5, "display_name": " "}}),
            &["settings.clock_skew_seconds", "settings.display_name"],
        ),
        (
            json!({"name": "ok", "metadata_xml": xml,
                   "settings": {"attribute_mapping": {"fields": {"a..b": ["x"]}, "required": ["profile.x"]}}}),
            &[
                "settings.attribute_mapping.fields.a..b",
                "settings.attribute_mapping.required",
            ],
        ),
        (
            json!({"name": "ok", "metadata_url": "http://idp.example.org/metadata"}),
            &["metadata_url"],
        ),
        (
            json!({"name": "ok", "manual": {"entity_id": "", "sso_url": "http://evil.example/sso", "certificate_pem": "nope"}}),
            &[
                "manual.entity_id",
                "manual.sso_url",
                "manual.certificate_pem",
            ],
        ),
        (
            json!({"name": "ok", "metadata_xml": xml, "settings": []}),
            &["settings"],
        ),
    ];
    for (body, want) in cases {
        let r = env
            .call(Method::POST, "/providers", Some(body.clone()))
            .await;
        let got = r.field_errors();
        for w in want {
            assert!(got.iter().any(|g| g == w), "{body}: want {w}, got {got:?}");
        }
    }
    // Not JSON, or not an object.
    for raw in ["{", "[1]", ""] {
        let req = Env::request(Method::POST, "/providers")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(raw)))
            .unwrap();
        assert_eq!(env.send_admin(req).await.field_errors(), ["body"], "{raw}");
    }
    assert!(
        env.get("/providers")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A bad update changes nothing.
    env.create("bad", &idp, json!({})).await;
    let r = env
        .call(
            Method::PUT,
            "/providers/bad",
            Some(json!({"settings": {"clock_skew_seconds": "ten"}})),
        )
        .await;
    assert_eq!(r.field_errors(), ["settings.clock_skew_seconds"]);
    assert_eq!(env.get("/providers/bad").await.json()["revision"], 1);
    // Query parameters.
    let r = env.get("/providers/bad/users?limit=100000").await;
    assert_eq!(r.field_errors(), ["limit"]);
    let r = env.get("/audit?kind=nonsense&before=yesterday").await;
    assert_eq!(r.field_errors(), ["before", "kind"]);
}

#[tokio::test]
async fn a_provider_entered_by_hand_becomes_metadata() {
    let env = Env::new().await;
    let idp = idp("manual");
    let r = env
        .call(
            Method::POST,
            "/providers",
            Some(json!({"name": "manual", "manual": {
                "entity_id": idp.entity_id(),
                "sso_url": idp.sso_url(),
                "slo_url": "https://manual.idp.example/slo",
                "certificate_pem": idp.certificate_pem(),
            }})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let p = r.json();
    assert_eq!(p["entity_id"], idp.entity_id());
    assert_eq!(p["slo_urls"][0], "https://manual.idp.example/slo");
    assert_eq!(p["certificates"].as_array().unwrap().len(), 1);
    assert!(p["warnings"].as_array().unwrap().is_empty(), "{p}");
}

#[tokio::test]
async fn disabling_or_removing_the_last_enabled_provider_is_guarded() {
    let env = Env::new().await;
    let (a, b) = (idp("guard-a"), idp("guard-b"));
    env.create("a", &a, json!({})).await;
    env.create("b", &b, json!({})).await;
    // Two enabled: one may go.
    let r = env.call(Method::POST, "/providers/a/disable", None).await;
    assert_eq!(r.json()["enabled"], false, "{r:?}");
    // The last one may not: not by disable, not by PUT, not by DELETE.
    env.call(Method::POST, "/providers/b/disable", None)
        .await
        .refused(StatusCode::CONFLICT, "saml_disable_refused");
    env.call(
        Method::PUT,
        "/providers/b",
        Some(json!({"settings": {"enabled": false}})),
    )
    .await
    .refused(StatusCode::CONFLICT, "saml_disable_refused");
    env.call(Method::DELETE, "/providers/b", None)
        .await
        .refused(StatusCode::CONFLICT, "saml_disable_refused");
    assert_eq!(env.get("/providers/b").await.json()["enabled"], true);
    // Removing a disabled one is fine.
    assert_eq!(
        env.call(Method::DELETE, "/providers/a", None).await.status,
        StatusCode::OK
    );
    // Once the application says another way in exists, it may go.
    env.allow_disable.store(true, Ordering::SeqCst);
    let r = env.call(Method::POST, "/providers/b/disable", None).await;
    assert_eq!(r.json()["enabled"], false, "{r:?}");
    let r = env.call(Method::POST, "/providers/b/enable", None).await;
    assert_eq!(r.json()["enabled"], true);

    // Without a can_disable_saml check: always refused.
    let strict = SamlLayer::admin(&env.layer, Arc::new(env.store.clone()))
        .authorize(|_| true)
        .build()
        .unwrap();
    let req = Env::request(Method::POST, "/providers/b/disable")
        .body(Full::<Bytes>::default())
        .unwrap();
    let response = strict.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    env.call(Method::POST, "/providers/ghost/enable", None)
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");
}

#[tokio::test]
async fn changes_take_effect_for_sign_in_without_a_restart() {
    let env = Env::new().await;
    let (a, b) = (idp("live-a"), idp("live-b"));
    env.app_get("/saml/login?idp=a", None)
        .await
        .status
        .eq(&StatusCode::NOT_FOUND)
        .then_some(())
        .expect("unknown before it is created");
    env.create("a", &a, json!({})).await;
    env.create("b", &b, json!({"enabled": false})).await;
    assert_eq!(
        env.app_get("/saml/login?idp=a", None).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        env.app_get("/saml/login?idp=b", None).await.status,
        StatusCode::NOT_FOUND
    );
    // One enabled provider: the login goes straight to it.
    let r = env.app_get("/saml/login", None).await;
    assert!(
        r.headers[LOCATION]
            .to_str()
            .unwrap()
            .starts_with(a.sso_url())
    );
    env.call(Method::POST, "/providers/b/enable", None).await;
    env.call(Method::POST, "/providers/a/disable", None).await;
    assert_eq!(
        env.app_get("/saml/login?idp=a", None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = env.app_get("/saml/login", None).await;
    assert!(
        r.headers[LOCATION]
            .to_str()
            .unwrap()
            .starts_with(b.sso_url())
    );
}

// ---------------------------------------------------------------- metadata

/// Serves `body` at `/metadata` (404 elsewhere) on 127.0.0.1, once per
/// connection, for `count` connections. Returns the base URL.
async fn serve_metadata(body: String, count: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..count {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let (status, content) = if request.starts_with("GET /metadata ") {
                ("200 OK", body.clone())
            } else {
                ("404 Not Found", "no".to_owned())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{content}",
                content.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn metadata_is_previewed_and_applied_from_a_loopback_url() {
    let env = Env::with(|b| b.allow_loopback_http_metadata()).await;
    let idp = idp("fetched");
    let base = serve_metadata(idp.metadata_xml(), 3).await;
    let url = format!("{base}/metadata");

    let r = env
        .call(
            Method::POST,
            "/metadata/preview",
            Some(json!({"metadata_url": url})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let preview = r.json();
    assert_eq!(preview["entity_id"], idp.entity_id());
    assert_eq!(preview["sso"][0]["location"], idp.sso_url());
    assert!(
        preview["sso"][0]["binding"]
            .as_str()
            .unwrap()
            .contains("HTTP-")
    );
    assert_eq!(preview["certificates"].as_array().unwrap().len(), 1);
    assert!(
        preview["metadata_xml"]
            .as_str()
            .unwrap()
            .contains(idp.entity_id())
    );
    // Nothing stored.
    assert!(
        env.get("/providers")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Apply: create from the URL.
    let r = env
        .call(
            Method::POST,
            "/providers",
            Some(json!({"name": "fetched", "metadata_url": url})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.json()["entity_id"], idp.entity_id());

    // A URL that answers 404: the fetch failed, said generically.
    let v = env
        .call(
            Method::POST,
            "/metadata/preview",
            Some(json!({"metadata_url": format!("{base}/missing")})),
        )
        .await
        .refused(StatusCode::BAD_GATEWAY, "metadata_fetch_failed");
    assert_eq!(
        v["error"]["message"],
        "could not fetch the metadata: HTTP status 404"
    );
    // Nobody listening: no address or resolver detail in the answer.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/metadata", closed.local_addr().unwrap());
    drop(closed);
    let v = env
        .call(
            Method::POST,
            "/metadata/preview",
            Some(json!({"metadata_url": dead})),
        )
        .await
        .refused(StatusCode::BAD_GATEWAY, "metadata_fetch_failed");
    assert_eq!(
        v["error"]["message"],
        "could not fetch the metadata: connection failed"
    );
    // Previews are in the audit log, failed ones with their code.
    let rows = env.get("/audit?kind=metadata_previewed").await.json();
    assert_eq!(rows[0]["code"], "metadata_fetch_failed", "{rows}");
    assert_eq!(rows[0]["subject"], "root");
    assert!(
        rows.as_array().unwrap().iter().any(|r| r["detail"]
            .as_str()
            .unwrap()
            .starts_with("previewed metadata URL")),
        "{rows}"
    );

    // Plain HTTP off loopback, and other schemes, are refused before any fetch.
    for bad in [
        "http://idp.example.org/metadata",
        "ftp://127.0.0.1/metadata",
        "file:///etc/passwd",
    ] {
        let r = env
            .call(
                Method::POST,
                "/metadata/preview",
                Some(json!({"metadata_url": bad})),
            )
            .await;
        assert_eq!(r.field_errors(), ["metadata_url"], "{bad}");
    }
    // Pasted XML previews too.
    let r = env
        .call(
            Method::POST,
            "/metadata/preview",
            Some(json!({"metadata_xml": idp.metadata_xml()})),
        )
        .await;
    assert_eq!(r.json()["entity_id"], idp.entity_id());
}

#[tokio::test]
async fn sp_info_is_what_the_idp_admin_pastes() {
    let env = Env::new().await;
    env.create("dev", &idp("spinfo"), json!({})).await;
    let r = env.get("/providers/dev/sp").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let sp = r.json();
    assert_eq!(sp["entity_id"], format!("{BASE}/saml/metadata"));
    assert_eq!(sp["acs_url"], format!("{BASE}/saml/dev/acs"));
    assert_eq!(sp["shared_acs_url"], format!("{BASE}/saml/acs"));
    assert_eq!(sp["metadata_url"], format!("{BASE}/saml/dev/metadata"));
    assert_eq!(sp["slo_url"], format!("{BASE}/saml/slo"));
    let xml = sp["metadata_xml"].as_str().unwrap();
    assert!(xml.contains(&format!("{BASE}/saml/dev/acs")), "{xml}");
    // The same document the layer serves.
    let served = env.app_get("/saml/dev/metadata", None).await;
    assert_eq!(served.body, xml);
    env.get("/providers/ghost/sp")
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");
}

// ---------------------------------------------------------------- users and audit

#[tokio::test]
async fn users_are_imported_from_csv_and_listed() {
    let env = Env::new().await;
    env.create("dev", &idp("users"), json!({})).await;
    let csv = "ExternalId,email,name\nalice,alice@example.com,Alice\nbob,not-an-email,Bob\n\ncarol,,Carol\nalice,,Again\n";
    let import = |body: &'static str| {
        Env::request(Method::POST, "/providers/dev/users/import")
            .header(CONTENT_TYPE, "text/csv")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let r = env.send_admin(import(csv)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let outcome = r.json();
    assert_eq!(outcome["added"], 2);
    assert_eq!(outcome["skipped"], 0);
    let failed = outcome["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["line"], 3);
    assert!(failed[0]["reason"].as_str().unwrap().contains("email"));
    assert_eq!(failed[1]["line"], 6);
    assert!(outcome["summary"].as_str().unwrap().starts_with("added 2"));
    // Again: the existing users are skipped.
    let again = env.send_admin(import(csv)).await.json();
    assert_eq!(
        (again["added"].clone(), again["skipped"].clone()),
        (json!(0), json!(2))
    );

    let page = env.get("/providers/dev/users?limit=1").await.json();
    assert_eq!(page["total"], 2);
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    assert_eq!(page["users"][0]["external_id"], "alice");
    assert_eq!(page["users"][0]["email"], "alice@example.com");
    let page = env
        .get("/providers/dev/users?offset=1&limit=5")
        .await
        .json();
    assert_eq!(page["users"][0]["external_id"], "carol");

    // A file without the ExternalId column, an empty one, an unknown provider.
    let r = env.send_admin(import("email\nx@y.z\n")).await;
    assert_eq!(r.field_errors(), ["csv"]);
    let r = env.send_admin(import("  \n")).await;
    assert_eq!(r.field_errors(), ["csv"]);
    let req = Env::request(Method::POST, "/providers/ghost/users/import")
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from("ExternalId\nx\n")))
        .unwrap();
    env.send_admin(req)
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");
    env.get("/providers/ghost/users")
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_the_admin_and_address() {
    let env = Env::new().await;
    env.allow_disable.store(true, Ordering::SeqCst);
    env.create("dev", &idp("audited"), json!({})).await;
    env.call(Method::POST, "/providers/dev/disable", None).await;
    env.call(
        Method::PUT,
        "/providers/dev",
        Some(json!({"settings": {"display_name": "Dev"}})),
    )
    .await;
    let req = Env::request(Method::POST, "/providers/dev/users/import")
        .header(CONTENT_TYPE, "text/csv")
        .body(Full::new(Bytes::from("ExternalId\nalice\n")))
        .unwrap();
    env.send_admin(req).await;
    env.call(Method::DELETE, "/providers/dev", None).await;
    // Refused changes leave no row.
    env.create("bad name", &idp("audited"), json!({})).await;

    let rows = env.get("/audit?kind=provider_changed").await.json();
    let details: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(details.len(), 4, "{details:?}");
    assert!(details[0].starts_with("removed (entity ID"), "{details:?}");
    assert!(details[1].starts_with("updated (settings"), "{details:?}");
    assert_eq!(details[2], "disabled; its sessions are ended");
    assert!(details[3].starts_with("created (entity ID"), "{details:?}");
    for row in rows.as_array().unwrap() {
        assert_eq!(row["subject"], "root");
        assert_eq!(row["client_address"], "192.0.2.7");
        assert_eq!(row["provider"], "dev");
    }
    let imported = env
        .get("/audit?kind=users_imported&provider=dev")
        .await
        .json();
    // Recorded before (fail closed), then the outcome.
    assert_eq!(imported.as_array().unwrap().len(), 2, "{imported}");
    assert!(
        imported[1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("import of a 17 byte CSV file started"),
        "{imported}"
    );
    assert!(
        imported[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("added 1")
    );
    let limited = env.get("/audit?limit=2").await.json();
    assert_eq!(limited.as_array().unwrap().len(), 2);
    let none = env.get("/audit?before=2000-01-01T00:00:00Z").await.json();
    assert!(none.as_array().unwrap().is_empty());
}

// ---------------------------------------------------------------- test login

/// Follows a test link through the dev IdP; returns the ACS answer.
async fn run_test_login(env: &Env, idp: &DevIdp, login_url: &str, accept: &str) -> Reply {
    let path = login_url.strip_prefix(BASE).expect("under the base URL");
    let start = env.app_get(path, None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{start:?}");
    let binding = cookie_pair(&start, "saml_binding").expect("binding cookie");
    let location = start.headers[LOCATION].to_str().unwrap();
    let (_, query) = location.split_once('?').unwrap();
    let prompt = idp
        .begin(query, &SystemClock)
        .expect("the IdP takes the request");
    let form = idp
        .respond(&prompt.form_body("alice@example.com"), &SystemClock)
        .expect("the IdP answers");
    let acs = form.action().strip_prefix(BASE).unwrap().to_owned();
    let req = Request::post(acs)
        .header(ACCEPT, accept)
        .header(COOKIE, binding)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form_body(&form))))
        .unwrap();
    env.send_app(req).await
}

#[tokio::test]
async fn a_test_login_reports_the_assertion_and_mapped_user_without_a_session() {
    let env = Env::new().await;
    let idp = idp("tested");
    // Registered disabled: it can be tested before anyone can sign in with it.
    env.create(
        "dev",
        &idp,
        json!({"enabled": false, "attribute_mapping":
            {"fields": {"email": ["mail"], "profile.uid": ["uid"]}, "required": ["email"]}}),
    )
    .await;
    assert_eq!(
        env.app_get("/saml/login?idp=dev", None).await.status,
        StatusCode::NOT_FOUND
    );

    let r = env.call(Method::POST, "/providers/dev/test", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let login_url = r.json()["login_url"].as_str().unwrap().to_owned();
    assert!(
        login_url.starts_with(&format!("{BASE}/saml/login?test=")),
        "{login_url}"
    );

    let report = run_test_login(&env, &idp, &login_url, "application/json").await;
    assert_eq!(report.status, StatusCode::OK, "{report:?}");
    assert!(cookie_pair(&report, "saml_session").is_none(), "{report:?}");
    let v = report.json();
    assert_eq!(v["test"], true);
    assert_eq!(v["issuer"], idp.entity_id());
    assert_eq!(v["name_id"], "alice@example.com");
    assert!(v["session_index"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(v["attributes"]["uid"][0], "alice");
    assert_eq!(v["user"]["profile"]["email"], "alice@example.com");
    assert_eq!(v["user"]["profile"]["profile"]["uid"], "alice");

    // The link is single use.
    let path = login_url.strip_prefix(BASE).unwrap();
    assert_eq!(
        env.app_get(path, None).await.status,
        StatusCode::BAD_REQUEST
    );
    // Nobody is signed in, and the provider is still closed for sign-in.
    assert_eq!(env.app_get("/whoami", None).await.body, "anonymous");
    assert_eq!(
        env.app_get("/saml/login?idp=dev", None).await.status,
        StatusCode::NOT_FOUND
    );

    // A browser gets a page.
    let r = env.call(Method::POST, "/providers/dev/test", None).await;
    let login_url = r.json()["login_url"].as_str().unwrap().to_owned();
    let page = run_test_login(&env, &idp, &login_url, "text/html").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(
        page.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("Test login succeeded"), "{}", page.body);
    assert!(page.body.contains(idp.entity_id()));
    assert!(page.body.contains("alice@example.com"));
    assert!(cookie_pair(&page, "saml_session").is_none());

    let tested = env.get("/audit?kind=provider_tested").await.json();
    assert_eq!(tested.as_array().unwrap().len(), 2);
    assert_eq!(tested[0]["subject"], "alice@example.com");
    let logins = env.get("/audit?kind=login").await.json();
    assert!(logins.as_array().unwrap().is_empty());
    env.call(Method::POST, "/providers/ghost/test", None)
        .await
        .refused(StatusCode::NOT_FOUND, "provider_not_found");
}

#[tokio::test]
async fn an_ordinary_login_uses_the_mapping_the_admin_set() {
    let env = Env::new().await;
    let idp = idp("mapped");
    env.create(
        "dev",
        &idp,
        json!({"attribute_mapping": {"fields": {"profile.team": ["groups"]}}}),
    )
    .await;
    let session = env.sign_in("dev", &idp, "alice@example.com").await;
    let me = env.app_get("/whoami", Some(&session)).await;
    let user: SamlUser = serde_json::from_str(&me.body).unwrap();
    assert_eq!(user.profile_str("profile.team"), Some("admins"));
}

/// A provider disabled in an incident stops vouching for anyone at once:
/// its sessions end on every node (they live in the store), the other
/// providers' sessions stay, and enabling it again revives nothing.
#[tokio::test]
async fn disabling_a_provider_ends_its_sessions() {
    let env = Env::new().await;
    let (a, b) = (idp("ended-a"), idp("ended-b"));
    env.create("a", &a, json!({})).await;
    env.create("b", &b, json!({})).await;
    let alice = env.sign_in("a", &a, "alice@example.com").await;
    let bob = env.sign_in("b", &b, "bob@example.com").await;
    assert_ne!(env.app_get("/whoami", Some(&alice)).await.body, "anonymous");

    let r = env.call(Method::POST, "/providers/a/disable", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(env.app_get("/whoami", Some(&alice)).await.body, "anonymous");
    assert_ne!(env.app_get("/whoami", Some(&bob)).await.body, "anonymous");
    env.call(Method::POST, "/providers/a/enable", None).await;
    assert_eq!(env.app_get("/whoami", Some(&alice)).await.body, "anonymous");
    // Disabling through PUT does the same.
    let bob_again = env.sign_in("b", &b, "bob@example.com").await;
    let r = env
        .call(
            Method::PUT,
            "/providers/b",
            Some(json!({"settings": {"enabled": false}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    for session in [&bob, &bob_again] {
        assert_eq!(
            env.app_get("/whoami", Some(session)).await.body,
            "anonymous"
        );
    }
    let log = env.call(Method::GET, "/audit?provider=a", None).await;
    assert!(
        log.body.contains("disabled; its sessions are ended"),
        "{}",
        log.body
    );
}

// ---------------------------------------------------------------- races and audit

/// The store, with `providers()` held at a barrier for its first two calls
/// once armed: two concurrent requests both read the registry before
/// either writes (the worst interleaving of a race).
#[derive(Debug)]
struct Gate {
    store: SqlStore,
    calls: std::sync::atomic::AtomicUsize,
    barrier: tokio::sync::Barrier,
    /// When set, `providers()` fails like a broken database.
    broken: AtomicBool,
    /// When set, `end_sessions()` fails like a broken database.
    sessions_broken: AtomicBool,
    /// When set (`meddling`), no barrier: instead, at the second
    /// `providers()` call (the recheck after a disable) another
    /// administrator first disables provider `.0` and renames provider `.1`.
    meddle: std::sync::Mutex<Option<(String, String)>>,
}

impl Gate {
    fn new(store: SqlStore) -> Arc<Self> {
        Arc::new(Self {
            store,
            calls: std::sync::atomic::AtomicUsize::new(0),
            barrier: tokio::sync::Barrier::new(2),
            broken: AtomicBool::new(false),
            sessions_broken: AtomicBool::new(false),
            meddle: std::sync::Mutex::new(None),
        })
    }

    fn meddling(store: SqlStore, disable: &str, rename: &str) -> Arc<Self> {
        let gate = Self::new(store);
        *gate.meddle.lock().unwrap() = Some((disable.to_owned(), rename.to_owned()));
        gate
    }

    /// The other administrator's changes (see `meddle`).
    async fn meddle(&self, disable: &str, rename: &str) -> Result<(), AdminError> {
        let now = chrono::Utc::now();
        AdminBackend::set_enabled(&self.store, disable, false, now).await?;
        let current = AdminBackend::provider(&self.store, rename).await?;
        let mut settings = current.provider.settings.clone();
        settings.display_name = Some("Renamed meanwhile".into());
        AdminBackend::update_provider(
            &self.store,
            rename,
            settings,
            &current.metadata_xml,
            None,
            now,
        )
        .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl AdminBackend for Gate {
    async fn providers(&self) -> Result<Vec<saml_core::admin::ProviderEntry>, AdminError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(AdminError::Unavailable(
                "error returned from database: password authentication failed for user \"saml\" at db.internal:5432".into(),
            ));
        }
        let meddle = self.meddle.lock().unwrap().clone();
        if let Some((disable, rename)) = meddle {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 1 {
                *self.meddle.lock().unwrap() = None;
                self.meddle(&disable, &rename).await?;
            }
            return AdminBackend::providers(&self.store).await;
        }
        let all = AdminBackend::providers(&self.store).await;
        if self.calls.fetch_add(1, Ordering::SeqCst) < 2 {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), self.barrier.wait()).await;
        }
        all
    }
    async fn provider(&self, name: &str) -> Result<saml_core::admin::ProviderEntry, AdminError> {
        AdminBackend::provider(&self.store, name).await
    }
    async fn create_provider(
        &self,
        name: &str,
        settings: saml_core::store::ProviderSettings,
        xml: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<saml_core::admin::ProviderEntry, AdminError> {
        AdminBackend::create_provider(&self.store, name, settings, xml, now).await
    }
    async fn update_provider(
        &self,
        name: &str,
        settings: saml_core::store::ProviderSettings,
        xml: &str,
        expected_revision: Option<i64>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<saml_core::admin::ProviderEntry, AdminError> {
        AdminBackend::update_provider(&self.store, name, settings, xml, expected_revision, now)
            .await
    }
    async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<saml_core::admin::ProviderEntry, AdminError> {
        AdminBackend::set_enabled(&self.store, name, enabled, now).await
    }
    async fn remove_provider(
        &self,
        name: &str,
    ) -> Result<saml_core::admin::RemovedProvider, AdminError> {
        AdminBackend::remove_provider(&self.store, name).await
    }
    async fn end_sessions(&self, provider: &str) -> Result<u64, AdminError> {
        if self.sessions_broken.load(Ordering::SeqCst) {
            return Err(AdminError::Unavailable("connection reset".into()));
        }
        AdminBackend::end_sessions(&self.store, provider).await
    }
    async fn users(
        &self,
        provider: &str,
        offset: u64,
        limit: u64,
    ) -> Result<saml_core::admin::UserPage, AdminError> {
        AdminBackend::users(&self.store, provider, offset, limit).await
    }
    async fn import_users(
        &self,
        provider: &str,
        csv: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<saml_core::admin::ImportOutcome, AdminError> {
        AdminBackend::import_users(&self.store, provider, csv, now).await
    }
    async fn audit_log(
        &self,
        query: &saml_core::admin::AuditQuery,
    ) -> Result<Vec<saml_core::store::AuditEvent>, AdminError> {
        AdminBackend::audit_log(&self.store, query).await
    }
}

/// An admin service over `backend` on `env`'s layer, refusing to leave no
/// provider enabled.
fn strict_admin(env: &Env, backend: Arc<dyn AdminBackend>) -> AdminService {
    SamlLayer::admin(&env.layer, backend)
        .authorize(|_| true)
        .admin_name(|_| Some("root".to_owned()))
        .can_disable_saml(|_| Err("no local admin login".to_owned()))
        .build()
        .unwrap()
}

async fn send(admin: &AdminService, method: Method, path: &str, body: Option<Value>) -> Reply {
    let req = Env::request(method, path)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .unwrap();
    let response = admin.clone().oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_removals_of_the_last_two_enabled_providers_do_not_both_pass() {
    let env = Env::new().await;
    env.create("a", &idp("race-a"), json!({})).await;
    env.create("b", &idp("race-b"), json!({})).await;
    let admin = strict_admin(&env, Gate::new(env.store.clone()));
    let (ra, rb) = tokio::join!(
        send(&admin, Method::DELETE, "/providers/a", None),
        send(&admin, Method::DELETE, "/providers/b", None),
    );
    let all = env.get("/providers").await.json();
    let enabled = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["enabled"] == true)
        .count();
    assert!(enabled >= 1, "{ra:?} {rb:?} {all}");
    assert!(
        ra.status == StatusCode::CONFLICT || rb.status == StatusCode::CONFLICT,
        "{ra:?} {rb:?}"
    );
}

/// When the sessions cannot be ended, the caller learns that the provider
/// is disabled all the same and how to finish the job.
#[tokio::test]
async fn a_disable_whose_sessions_cannot_be_ended_says_so() {
    let env = Env::new().await;
    env.create("a", &idp("stuck-a"), json!({})).await;
    env.create("b", &idp("stuck-b"), json!({})).await;
    let gate = Gate::new(env.store.clone());
    gate.calls.store(2, Ordering::SeqCst); // no barrier
    gate.sessions_broken.store(true, Ordering::SeqCst);
    let admin = strict_admin(&env, gate.clone());
    let reply = send(&admin, Method::POST, "/providers/a/disable", None).await;
    reply.refused(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert!(
        reply
            .body
            .contains("the provider is disabled, but ending its sessions failed"),
        "{reply:?}"
    );
    assert!(!reply.body.contains("connection reset"), "{reply:?}");
    assert_eq!(env.get("/providers/a").await.json()["enabled"], false);
    gate.sessions_broken.store(false, Ordering::SeqCst);
    let again = send(&admin, Method::POST, "/providers/a/disable", None).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
}

/// A refused PUT is undone by compare-and-swap: when another
/// administrator changed the provider between the PUT's write and its
/// undo, that change stands (it is not overwritten with the record from
/// before the PUT) and only `enabled` goes back.
#[tokio::test]
async fn undoing_a_refused_put_keeps_a_change_made_in_between() {
    let env = Env::new().await;
    env.create("a", &idp("meddle-a"), json!({})).await;
    env.create("b", &idp("meddle-b"), json!({})).await;
    let admin = strict_admin(&env, Gate::meddling(env.store.clone(), "b", "a"));
    let change = json!({"settings": {"enabled": false, "allow_sha1": true}});
    let reply = send(&admin, Method::PUT, "/providers/a", Some(change)).await;
    reply.refused(StatusCode::CONFLICT, "saml_disable_refused");
    let a = env.get("/providers/a").await.json();
    assert_eq!(a["enabled"], true, "{a}");
    assert_eq!(a["display_name"], "Renamed meanwhile", "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_put_changes_nothing() {
    let env = Env::new().await;
    let (a, b) = (idp("put-a"), idp("put-b"));
    env.create("a", &a, json!({})).await;
    env.create("b", &b, json!({})).await;
    let before_a = env.get("/providers/a").await.json();
    let before_b = env.get("/providers/b").await.json();
    let admin = strict_admin(&env, Gate::new(env.store.clone()));
    let change = |other: &str| {
        json!({
            "settings": {"enabled": false, "allow_sha1": true, "display_name": "Changed"},
            "metadata_xml": idp(other).metadata_xml(),
        })
    };
    let (ra, rb) = tokio::join!(
        send(&admin, Method::PUT, "/providers/a", Some(change("put-a2"))),
        send(&admin, Method::PUT, "/providers/b", Some(change("put-b2"))),
    );
    // Depending on the interleaving, one or both are refused; never neither.
    assert!(
        ra.status == StatusCode::CONFLICT || rb.status == StatusCode::CONFLICT,
        "{ra:?} {rb:?}"
    );
    let mut refused = Vec::new();
    for (name, reply, before) in [("a", &ra, before_a), ("b", &rb, before_b)] {
        let after = env.get(&format!("/providers/{name}")).await.json();
        if reply.status != StatusCode::CONFLICT {
            assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
            continue;
        }
        reply.refused(StatusCode::CONFLICT, "saml_disable_refused");
        refused.push(name);
        assert_eq!(after["settings"], before["settings"], "{after}");
        assert_eq!(after["entity_id"], before["entity_id"], "{after}");
        assert_eq!(after["certificates"], before["certificates"], "{after}");
        assert_eq!(after["enabled"], true);
    }
    // The refusal is in the audit log after the attempt, with its code.
    let name = refused.first().unwrap();
    let rows = env
        .get(&format!("/audit?kind=provider_changed&provider={name}"))
        .await
        .json();
    assert_eq!(rows[0]["code"], "saml_disable_refused", "{rows}");
    assert!(
        rows[1]["detail"]
            .as_str()
            .unwrap()
            .contains("enabled true → false"),
        "{rows}"
    );
}

#[tokio::test]
async fn the_admin_api_needs_an_audit_sink() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let layer = SamlLayer::builder(BASE)
        .insecure_allow_http_cookies_on_localhost()
        .stores(store.clone())
        .metadata_resolver(store.providers())
        .build()
        .unwrap();
    let e = layer
        .admin(Arc::new(store))
        .authorize(|_| true)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("audit_sink"), "{e}");
}

#[derive(Debug)]
struct BrokenSink;

#[async_trait::async_trait]
impl saml_core::store::AuditSink for BrokenSink {
    async fn record(
        &self,
        _: saml_core::store::AuditEvent,
    ) -> Result<(), saml_core::store::StoreError> {
        Err(saml_core::store::StoreError::Unavailable(
            "disk full at /var/db/audit.sqlite".into(),
        ))
    }
}

#[tokio::test]
async fn changes_the_audit_log_cannot_record_do_not_happen() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let layer = SamlLayer::builder(BASE)
        .insecure_allow_http_cookies_on_localhost()
        .stores(store.clone())
        .metadata_resolver(store.providers())
        .audit_sink(BrokenSink)
        .build()
        .unwrap();
    let admin = layer
        .admin(Arc::new(store.clone()))
        .authorize(|_| true)
        .can_disable_saml(|_| Ok(()))
        .build()
        .unwrap();
    let dev = idp("unrecorded");
    let r = send(
        &admin,
        Method::POST,
        "/providers",
        Some(json!({"name": "dev", "metadata_xml": dev.metadata_xml()})),
    )
    .await;
    let v = r.refused(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert!(!r.body.contains("disk full"), "{v}");
    assert!(AdminBackend::providers(&store).await.unwrap().is_empty());
    // Changes to an existing provider: refused too.
    AdminBackend::create_provider(
        &store,
        "dev",
        Default::default(),
        &dev.metadata_xml(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    send(&admin, Method::POST, "/providers/dev/disable", None)
        .await
        .refused(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    send(&admin, Method::DELETE, "/providers/dev", None)
        .await
        .refused(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    send(&admin, Method::POST, "/providers/dev/test", None)
        .await
        .refused(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    let entry = AdminBackend::provider(&store, "dev").await.unwrap();
    assert!(entry.provider.settings.enabled);
    assert_eq!(entry.revision, 1);
}

#[tokio::test]
async fn audit_rows_say_what_changed_and_who_did_it() {
    let env = Env::new().await;
    env.allow_disable.store(true, Ordering::SeqCst);
    env.create("dev", &idp("detail-a"), json!({})).await;
    let r = env
        .call(
            Method::PUT,
            "/providers/dev",
            Some(json!({
                "settings": {"want_assertions_signed": true, "allow_sha1": true, "allow_idp_initiated": true, "display_name": "Dev"},
                "metadata_xml": idp("detail-b").metadata_xml(),
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // A failing change: recorded, then its failure.
    env.create("dev", &idp("detail-c"), json!({})).await;
    let r = env.call(Method::POST, "/providers/dev/test", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    let rows = env.get("/audit?provider=dev").await.json();
    let rows = rows.as_array().unwrap();
    let detail = |i: usize| rows[i]["detail"].as_str().unwrap().to_owned();
    assert_eq!(rows[0]["kind"], "test_link_issued", "{rows:?}");
    assert_eq!(rows[0]["subject"], "root");
    assert_eq!(rows[1]["code"], "provider_exists", "{rows:?}");
    assert!(detail(1).starts_with("create failed"), "{rows:?}");
    assert!(detail(2).starts_with("created (entity ID https://detail-c"));
    let put = detail(3);
    for part in [
        "want_assertions_signed false → true",
        "allow_sha1 false → true",
        "allow_idp_initiated false → true",
        "display_name",
        "entity ID https://detail-a.idp.example/metadata → https://detail-b.idp.example/metadata",
        "certificate SHA-256 [",
    ] {
        assert!(put.contains(part), "{part}: {put}");
    }

    // Without admin_name: a fixed label.
    let anonymous = SamlLayer::admin(&env.layer, Arc::new(env.store.clone()))
        .authorize(|_| true)
        .build()
        .unwrap();
    let r = send(&anonymous, Method::POST, "/providers/dev/enable", None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let rows = env.get("/audit?provider=dev&limit=1").await.json();
    assert_eq!(rows[0]["subject"], "admin", "{rows}");
}

#[tokio::test]
async fn plain_http_metadata_urls_need_the_development_opt_in() {
    let env = Env::new().await;
    let dev = idp("no-opt-in");
    let base = serve_metadata(dev.metadata_xml(), 1).await;
    let url = format!("{base}/metadata");
    for (path, body) in [
        ("/metadata/preview", json!({"metadata_url": url})),
        ("/providers", json!({"name": "dev", "metadata_url": url})),
    ] {
        let r = env.call(Method::POST, path, Some(body)).await;
        assert_eq!(r.field_errors(), ["metadata_url"], "{r:?}");
    }
    assert!(
        env.get("/providers")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_origin_check_compares_origins_not_strings() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let layer = SamlLayer::builder("https://app.example.com/portal")
        .stores(store.clone())
        .metadata_resolver(store.providers())
        .audit_sink(store.clone())
        .build()
        .unwrap();
    let admin = layer
        .admin(Arc::new(store))
        .authorize(|_| true)
        .build()
        .unwrap();
    let status = |origin: &'static str| {
        let admin = admin.clone();
        async move {
            let req = Request::post("/providers")
                .header("x-requested-with", "saml-admin")
                .header(ORIGIN, origin)
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from("{}")))
                .unwrap();
            admin.oneshot(req).await.unwrap().status()
        }
    };
    // Ours (default port written or not, any case): past the CSRF rule
    // (then refused for the empty body).
    for ours in [
        "https://app.example.com",
        "https://APP.example.com:443",
        "https://app.example.com/",
    ] {
        assert_eq!(
            status(ours).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{ours}"
        );
    }
    for foreign in [
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com.evil.example",
        "null",
    ] {
        assert_eq!(status(foreign).await, StatusCode::FORBIDDEN, "{foreign}");
    }
}

#[tokio::test]
async fn bodies_need_the_media_type_their_route_reads() {
    let env = Env::new().await;
    let dev = idp("media");
    let json_body = json!({"name": "dev", "metadata_xml": dev.metadata_xml()}).to_string();
    let send = |path: &'static str, content_type: Option<&'static str>, body: String| {
        let mut b = Env::request(Method::POST, path);
        if let Some(ct) = content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        env.send_admin(b.body(Full::new(Bytes::from(body))).unwrap())
    };
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        send("/providers", ct, json_body.clone())
            .await
            .refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    send("/metadata/preview", Some("text/csv"), "{}".to_owned())
        .await
        .refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert!(
        env.get("/providers")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = send(
        "/providers",
        Some("Application/JSON; charset=utf-8"),
        json_body,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    for ct in [None, Some("application/json"), Some("multipart/form-data")] {
        send(
            "/providers/dev/users/import",
            ct,
            "ExternalId\nx\n".to_owned(),
        )
        .await
        .refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    for ct in ["text/csv", "text/plain; charset=utf-8"] {
        let r = send(
            "/providers/dev/users/import",
            Some(ct),
            "ExternalId\nx\n".to_owned(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{ct}: {r:?}");
    }
}

#[tokio::test]
async fn store_errors_reach_the_server_log_not_the_caller() {
    let env = Env::new().await;
    let gate = Gate::new(env.store.clone());
    gate.broken.store(true, Ordering::SeqCst);
    let admin = strict_admin(&env, gate);
    let r = send(&admin, Method::GET, "/providers", None).await;
    let v = r.refused(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert_eq!(
        v["error"]["message"],
        "the store is unavailable; try again later"
    );
    assert!(!r.body.contains("db.internal"), "{r:?}");
}

#[tokio::test]
async fn expired_metadata_is_refused_by_the_layer_clock() {
    let env = Env::new().await;
    let dev = idp("expired");
    let xml = dev.metadata_xml();
    assert!(xml.contains(" entityID="), "{xml}");
    let expired = xml.replacen(
        " entityID=",
        " validUntil=\"2001-01-01T00:00:00Z\" entityID=",
        1,
    );
    for (path, body) in [
        ("/metadata/preview", json!({"metadata_xml": expired})),
        (
            "/providers",
            json!({"name": "dev", "metadata_xml": expired}),
        ),
    ] {
        let r = env.call(Method::POST, path, Some(body)).await;
        let fields =
            r.refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")["error"]["fields"].clone();
        assert!(fields.get("metadata_xml").is_some(), "{r:?}");
    }
    // Still valid: fine.
    let fresh = xml.replacen(
        " entityID=",
        " validUntil=\"2999-01-01T00:00:00Z\" entityID=",
        1,
    );
    let r = env
        .call(
            Method::POST,
            "/providers",
            Some(json!({"name": "dev", "metadata_xml": fresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
}

#[tokio::test]
async fn the_metadata_cap_is_the_parse_limit() {
    assert_eq!(
        saml_tower::admin::DEFAULT_MAX_METADATA_BYTES,
        saml_core::Limits::DEFAULT.max_xml_bytes
    );
    let env = Env::with(|b| b.allow_loopback_http_metadata()).await;
    let too_big = SamlLayer::admin(&env.layer, Arc::new(env.store.clone()))
        .authorize(|_| true)
        .max_metadata_bytes(saml_core::Limits::DEFAULT.max_xml_bytes + 1)
        .build()
        .unwrap_err();
    assert!(
        too_big.to_string().contains("max_metadata_bytes"),
        "{too_big}"
    );
    // A document over the parse limit is refused by the fetch cap.
    let dev = idp("huge");
    let padding = format!(
        "<!--{}-->",
        "x".repeat(saml_core::Limits::DEFAULT.max_xml_bytes)
    );
    let huge = dev.metadata_xml().replacen(
        "<md:IDPSSODescriptor",
        &format!("{padding}<md:IDPSSODescriptor"),
        1,
    );
    assert!(huge.len() > saml_core::Limits::DEFAULT.max_xml_bytes);
    let base = serve_metadata(huge, 1).await;
    let v = env
        .call(
            Method::POST,
            "/metadata/preview",
            Some(json!({"metadata_url": format!("{base}/metadata")})),
        )
        .await
        .refused(StatusCode::BAD_GATEWAY, "metadata_fetch_failed");
    assert_eq!(
        v["error"]["message"],
        "could not fetch the metadata: too large"
    );
}
