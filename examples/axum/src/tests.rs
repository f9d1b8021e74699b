//! The example's admin wiring in process (tower `oneshot`, no browser): the
//! sign-in page, the break-glass login, the admin pages' guard and headers,
//! and the admin API's authorization and CSRF rules as mounted here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE,
};
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use saml_core::store::ProviderSettings;
use saml_store_sql::SqlStore;
use tower::ServiceExt;

use crate::{Args, app};

const BASE: &str = "http://127.0.0.1:3999";
const PASSWORD: &str = "a test break-glass password";

/// A fresh SQLite file in the temp directory, removed when dropped.
struct Database(PathBuf);

impl Database {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "saml_t_example_admin_{name}_{}.sqlite",
            std::process::id()
        ));
        let db = Self(path);
        db.remove();
        db
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.display())
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.remove();
    }
}

async fn example(db: &Database, extra: &[&str]) -> Router {
    let mut argv = vec![
        "saml-example-axum".to_owned(),
        "--database-url".to_owned(),
        db.url(),
    ];
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    let args = Args::try_parse_from(argv).unwrap();
    app(&args, BASE, PASSWORD).await
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: impl axum::http::header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &Router, path: &str, cookie: Option<&str>) -> Answer {
    let mut request = Request::get(path).header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

async fn login(app: &Router, password: &str, origin: Option<&str>) -> Answer {
    let mut request =
        Request::post("/admin/login").header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    let body = format!(
        "password={}&next=%2Fadmin%2Faudit",
        crate::pages::encode_query(password)
    );
    send(app, request.body(Body::from(body)).unwrap()).await
}

/// Signs in with the break-glass password; returns the `Cookie` value.
async fn admin_cookie(app: &Router) -> String {
    let answer = login(app, PASSWORD, Some(BASE)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    answer
        .header(SET_COOKIE)
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn dev_metadata(entity_id: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{entity_id}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

#[tokio::test]
async fn the_sign_in_page_shows_enabled_providers_and_the_break_glass_link() {
    let db = Database::new("signin");
    let app = example(&db, &[]).await;
    // The home page sends browsers to the sign-in page.
    let home = get(&app, "/", None).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.header(LOCATION), "/login?return_to=/");
    let page = get(&app, "/login?return_to=/deep%3Fa%3D1", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(
            "href=\"/saml/login?idp=dev&amp;return_to=/deep%3Fa%3D1\">Log in using Development IdP</a>"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/admin/login\""));
    assert!(
        page.header(CONTENT_SECURITY_POLICY)
            .contains("script-src 'self'")
    );
    // A return_to off this site is dropped.
    let page = get(&app, "/login?return_to=//evil.example/", None).await;
    assert!(!page.body.contains("evil.example"));
}

#[tokio::test]
async fn providers_added_or_disabled_at_run_time_show_without_a_restart() {
    let db = Database::new("runtime");
    let app = example(&db, &["--no-dev-provider"]).await;
    let page = get(&app, "/login", None).await;
    assert!(page.body.contains("No sign-in provider is enabled"));
    assert!(page.body.contains("href=\"/admin/login\""));

    // Another process (or the admin API) writes the registry.
    let other = SqlStore::connect(&db.url()).await.unwrap();
    let registry = other.providers();
    let mut settings = ProviderSettings::default();
    settings.display_name = Some("Acme <SSO>".to_owned());
    registry
        .create(
            "acme",
            settings.clone(),
            &dev_metadata("https://idp.acme.example"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let mut off = settings.clone();
    off.enabled = false;
    off.display_name = Some("Switched off".to_owned());
    registry
        .create(
            "off",
            off,
            &dev_metadata("https://idp.off.example"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let page = get(&app, "/login", None).await;
    assert!(
        page.body.contains("Log in using Acme &lt;SSO&gt;</a>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Switched off"));

    registry
        .set_enabled("acme", false, chrono::Utc::now())
        .await
        .unwrap();
    let page = get(&app, "/login", None).await;
    assert!(page.body.contains("No sign-in provider is enabled"));
    // The break-glass login still opens the admin pages.
    let cookie = admin_cookie(&app).await;
    let admin = get(&app, "/admin", Some(&cookie)).await;
    assert_eq!(admin.status, StatusCode::OK);
}

#[tokio::test]
async fn the_break_glass_login_guards_the_admin_pages() {
    let db = Database::new("breakglass");
    // A metadata URL that is down: SAML is half broken, the admin login is not.
    let app = example(&db, &["--idp", "down=http://127.0.0.1:9/metadata"]).await;
    for path in [
        "/admin",
        "/admin/providers/new",
        "/admin/providers/dev",
        "/admin/audit",
    ] {
        let answer = get(&app, path, None).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            answer
                .header(LOCATION)
                .starts_with("/admin/login?next=/admin"),
            "{path}: {}",
            answer.header(LOCATION)
        );
    }
    let form = get(&app, "/admin/login", None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("type=\"password\""));

    let wrong = login(&app, "not it", Some(BASE)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header(SET_COOKIE).is_empty());
    let cross_site = login(&app, PASSWORD, Some("http://evil.example")).await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(cross_site.header(SET_COOKIE).is_empty());

    let ok = login(&app, PASSWORD, None).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.header(LOCATION), "/admin/audit");
    let set = ok.header(SET_COOKIE);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(attribute), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();

    for path in [
        "/admin",
        "/admin/providers/new",
        "/admin/providers/acme",
        "/admin/audit",
    ] {
        let page = get(&app, path, Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let csp = page.header(CONTENT_SECURITY_POLICY);
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        // Only the script file: no inline script, no outside resource.
        assert_eq!(page.body.matches("<script").count(), 1, "{path}");
        assert!(
            page.body
                .contains("<script src=\"/admin/assets/admin.js\" defer>")
        );
        assert!(
            !page.body.contains("src=\"http") && !page.body.contains("href=\"http"),
            "{path}"
        );
    }
    // The command line's providers are listed read-only.
    let list = get(&app, "/admin", Some(&cookie)).await;
    assert!(list.body.contains("<code>down</code>"));
    // A name that cannot be a provider's.
    let odd = get(&app, "/admin/providers/a%20b", Some(&cookie)).await;
    assert_eq!(odd.status, StatusCode::NOT_FOUND);

    let js = get(&app, "/admin/assets/admin.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.header(CONTENT_TYPE).starts_with("text/javascript"));
    assert!(js.body.contains("X-Requested-With"));

    // Logout ends the session (a cross-site logout form is refused).
    let request = |origin: &str| {
        Request::post("/admin/logout")
            .header(COOKIE, &cookie)
            .header(ORIGIN, origin)
            .body(Body::empty())
            .unwrap()
    };
    let refused = send(&app, request("http://evil.example")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let out = send(&app, request(BASE)).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.header(SET_COOKIE).contains("Max-Age=0"));
    let after = get(&app, "/admin", Some(&cookie)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

async fn api(
    app: &Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    csrf: bool,
    body: &str,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("/admin/api{path}"))
        .header("accept", "application/json")
        .header(CONTENT_TYPE, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    if csrf {
        request = request.header("x-requested-with", "saml-admin");
    }
    send(app, request.body(Body::from(body.to_owned())).unwrap()).await
}

fn error_code(answer: &Answer) -> String {
    let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
    json["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_admin_api_admits_the_break_glass_admin_only_and_wants_its_csrf_header() {
    let db = Database::new("api");
    let app = example(&db, &["--no-dev-provider"]).await;
    let nobody = api(&app, "GET", "/providers", None, true, "").await;
    assert_eq!(nobody.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&nobody), "admin_forbidden");
    let forged = api(&app, "GET", "/providers", Some("saml_admin=00"), true, "").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let cookie = admin_cookie(&app).await;
    let list = api(&app, "GET", "/providers", Some(&cookie), false, "").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body.trim(), "[]");

    let body = format!(
        r#"{{"name":"acme","metadata_xml":{}}}"#,
        serde_json::to_string(&dev_metadata("https://idp.acme.example")).unwrap()
    );
    // A change without the CSRF header is refused, and nothing is created.
    let no_header = api(&app, "POST", "/providers", Some(&cookie), false, &body).await;
    assert_eq!(no_header.status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&no_header), "admin_csrf");
    // Bad input gets field-level errors.
    let bad = api(
        &app,
        "POST",
        "/providers",
        Some(&cookie),
        true,
        r#"{"name":"a b"}"#,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(error_code(&bad), "invalid_input");
    assert!(bad.body.contains("\"fields\""), "{}", bad.body);
    // With the header: created, named in the audit log as the break-glass admin.
    let created = api(&app, "POST", "/providers", Some(&cookie), true, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let page = get(&app, "/login", None).await;
    assert!(page.body.contains("Log in using acme"), "{}", page.body);
    // The last enabled provider may be disabled: the break-glass login remains.
    let off = api(
        &app,
        "POST",
        "/providers/acme/disable",
        Some(&cookie),
        true,
        "",
    )
    .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    let page = get(&app, "/login", None).await;
    assert!(page.body.contains("No sign-in provider is enabled"));
    let audit = api(
        &app,
        "GET",
        "/audit?kind=provider_changed",
        Some(&cookie),
        false,
        "",
    )
    .await;
    assert!(audit.body.contains("break-glass admin"), "{}", audit.body);
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `action` and hidden fields of the first form in `html`.
fn form(html: &str) -> (String, Vec<(String, String)>) {
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(unescape)
        .unwrap();
    let fields = html
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest
                .split_once("value=\"")
                .and_then(|(_, v)| v.split_once('"'))
                .map(|(v, _)| unescape(v))
                .unwrap_or_default();
            (name.to_owned(), value)
        })
        .collect();
    (action, fields)
}

fn form_body(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(n, v)| {
            format!(
                "{}={}",
                crate::pages::encode_query(n),
                crate::pages::encode_query(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn local(url: &str) -> &str {
    url.strip_prefix(BASE).unwrap_or(url)
}

/// Alice signs in through the development IdP; returns her session cookie.
async fn alice_session(app: &Router) -> String {
    let start = get(app, "/saml/login?idp=dev", None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let binding = start
        .header(SET_COOKIE)
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let prompt = get(app, local(start.header(LOCATION)), None).await;
    let (action, mut fields) = form(&prompt.body);
    fields.push(("user".to_owned(), "alice@example.com".to_owned()));
    let post = |path: &str, body: String, cookie: Option<&str>| {
        let mut request = Request::post(path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("accept", "text/html");
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.body(Body::from(body)).unwrap()
    };
    let answer = send(app, post(local(&action), form_body(&fields), None)).await;
    let (acs, fields) = form(&answer.body);
    let signed_in = send(app, post(local(&acs), form_body(&fields), Some(&binding))).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    signed_in
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("saml_session="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn saml_users_with_the_admin_role_administer_only_when_it_is_configured() {
    let db = Database::new("role");
    // Off by default: Alice (groups admins and users) is just a user.
    let app = example(&db, &[]).await;
    let session = alice_session(&app).await;
    let home = get(&app, "/", Some(&session)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Email: <b>alice@example.com</b>"),
        "{}",
        home.body
    );
    let refused = api(&app, "GET", "/providers", Some(&session), false, "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let page = get(&app, "/admin", Some(&session)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    drop(app);

    let app = example(&db, &["--admin-role", "admins"]).await;
    let session = alice_session(&app).await;
    let list = api(&app, "GET", "/providers", Some(&session), false, "").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let page = get(&app, "/admin", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("alice@example.com (dev)"));
    // No break-glass sign-out button for a SAML administrator.
    assert!(!page.body.contains("action=\"/admin/logout\""));
    // Alice was added to the user directory at her first sign-in.
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let alice = store.users().get("dev", "alice@example.com").await.unwrap();
    assert!(alice.is_some_and(|u| u.enabled));
}
