//! The admin pages and the sign-in page.
//!
//! | route | what |
//! |---|---|
//! | `GET /login` | a "Log in using ..." button per enabled provider, read from the providers at each request (so providers added or disabled in the admin pages show at once), and the break-glass link |
//! | `GET`/`POST /admin/login` | the break-glass password form ([`crate::admin_auth`]) |
//! | `POST /admin/logout` | ends the break-glass session |
//! | `GET /admin` | the provider list with enable switches |
//! | `GET /admin/providers/new` | add a provider: metadata URL or XML, "Fetch metadata" preview, settings, attribute mapping |
//! | `GET /admin/providers/{name}` | one provider: its metadata, the values the IdP admin pastes, settings, mapping, test login, users and CSV import, removal |
//! | `GET /admin/audit` | the audit log |
//! | `GET /admin/assets/admin.js`, `admin.css` | the pages' script and stylesheet |
//! | `/admin/api/...` | the admin JSON API (saml-tower's `AdminService`, docs/admin-api.md) |
//!
//! The pages are shells: `admin.js` reads and changes everything through the
//! JSON API, sending its CSRF header (`X-Requested-With: saml-admin`) on
//! every call. Pages other than the login form need an admin (the
//! break-glass cookie, or a SAML user with `--admin-role`); others are sent
//! to `/admin/login`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use saml_core::store::{MetadataResolver, ProviderSettings};
use serde::Deserialize;

use crate::admin_auth::{Admin, AdminAuth, LoginRefused, client_ip, same_site_form};
use crate::pages::{
    self, FixedProvider, LoginButton, Viewer, admin_login_page, admin_page, escape, local_path,
};

/// What the admin pages and the sign-in page need.
#[derive(Clone)]
pub(crate) struct AdminState {
    /// The break-glass login.
    pub(crate) auth: AdminAuth,
    /// Every provider the SAML layer knows (command line and database).
    pub(crate) providers: Arc<dyn MetadataResolver>,
    /// The providers configured on the command line.
    pub(crate) fixed: Arc<Vec<FixedProvider>>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("auth", &self.auth)
            .field("fixed", &self.fixed)
            .finish_non_exhaustive()
    }
}

/// The sign-in page and the admin pages (not the JSON API).
pub(crate) fn routes(state: AdminState) -> Router {
    Router::new()
        .route("/login", get(login_page))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/admin/login", get(admin_login_form).post(admin_login))
        .route("/admin/logout", axum::routing::post(admin_logout))
        .route("/admin", get(providers_page))
        .route("/admin/", get(providers_page))
        .route("/admin/providers/new", get(new_provider_page))
        .route("/admin/providers/{name}", get(provider_page))
        .route("/admin/audit", get(audit_page))
        .route(
            "/admin/assets/admin.js",
            get(|| async { pages::asset("text/javascript; charset=utf-8", pages::ADMIN_JS) }),
        )
        .route(
            "/admin/assets/admin.css",
            get(|| async { pages::asset("text/css; charset=utf-8", pages::ADMIN_CSS) }),
        )
        .with_state(state)
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The login page: the enabled providers' buttons, read at each request.
async fn login_page(
    State(state): State<AdminState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let return_to = query.get("return_to").and_then(|r| local_path(r));
    match state.providers.providers().await {
        Ok(providers) => {
            let mut buttons: Vec<LoginButton> = providers
                .iter()
                .filter(|p| p.settings.enabled)
                .map(|p| LoginButton {
                    name: p.name.clone(),
                    display_name: p.display_name().to_owned(),
                })
                .collect();
            buttons.sort_by(|a, b| a.display_name.cmp(&b.display_name));
            pages::login_page(Some(&buttons), return_to)
        }
        Err(e) => {
            eprintln!("saml-example-axum: listing providers for the login page: {e}");
            pages::login_page(None, return_to)
        }
    }
}

/// The admin of this request, if any.
fn viewer(state: &AdminState, parts: &Parts) -> Option<Viewer> {
    state.auth.admin(parts).map(|admin| Viewer {
        break_glass: admin == Admin::BreakGlass,
        name: admin.audit_name(),
    })
}

/// Sends a visitor who is not an admin to the break-glass login, and back.
fn to_login(parts: &Parts) -> Response {
    let next = parts.uri.path_and_query().map_or("/admin", |p| p.as_str());
    see_other(&format!("/admin/login?next={}", pages::encode_query(next)))
}

/// Where to go after the break-glass login: a local `/admin` path.
fn next_target(next: Option<&str>) -> &str {
    next.and_then(local_path)
        .filter(|n| n.starts_with("/admin") && !n.starts_with("/admin/login"))
        .unwrap_or("/admin")
}

async fn admin_login_form(
    State(state): State<AdminState>,
    Query(query): Query<HashMap<String, String>>,
    parts: Parts,
) -> Response {
    let next = next_target(query.get("next").map(String::as_str));
    if state.auth.admin(&parts).is_some() {
        return see_other(next);
    }
    admin_login_page(StatusCode::OK, next, None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

async fn admin_login(
    State(state): State<AdminState>,
    parts: Parts,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = next_target(form.next.as_deref());
    if !same_site_form(&parts.headers, state.auth.origin()) {
        return admin_login_page(
            StatusCode::FORBIDDEN,
            next,
            Some("This form was sent from another site."),
        );
    }
    let client = client_ip(&parts);
    let who = client.map_or_else(|| "unknown address".to_owned(), |ip| ip.to_string());
    match state.auth.login(&form.password, client) {
        Ok(cookie) => {
            eprintln!("saml-example-axum: break-glass admin signed in from {who}");
            let mut response = see_other(next);
            response.headers_mut().insert(SET_COOKIE, cookie);
            response
        }
        Err(LoginRefused::WrongPassword) => {
            eprintln!(
                "saml-example-axum: break-glass admin sign-in refused (wrong password) from {who}"
            );
            admin_login_page(StatusCode::UNAUTHORIZED, next, Some("Wrong password."))
        }
        Err(LoginRefused::TooManyAttempts) => {
            eprintln!(
                "saml-example-axum: break-glass admin sign-in refused (too many attempts) from {who}"
            );
            admin_login_page(
                StatusCode::TOO_MANY_REQUESTS,
                next,
                Some("Too many wrong passwords from this address; wait ten minutes."),
            )
        }
        Err(LoginRefused::NoRandomness) => admin_login_page(
            StatusCode::SERVICE_UNAVAILABLE,
            next,
            Some("The server cannot start a session right now."),
        ),
    }
}

async fn admin_logout(State(state): State<AdminState>, parts: Parts) -> Response {
    if !same_site_form(&parts.headers, state.auth.origin()) {
        return (StatusCode::FORBIDDEN, "cross-site form refused").into_response();
    }
    let cleared = state.auth.logout(&parts.headers);
    let mut response = see_other("/admin/login");
    response.headers_mut().insert(SET_COOKIE, cleared);
    response
}

async fn providers_page(State(state): State<AdminState>, parts: Parts) -> Response {
    match viewer(&state, &parts) {
        Some(viewer) => admin_page(
            &viewer,
            "Identity providers",
            "data-page=\"providers\"",
            &pages::providers_main(&state.fixed),
        ),
        None => to_login(&parts),
    }
}

async fn new_provider_page(State(state): State<AdminState>, parts: Parts) -> Response {
    match viewer(&state, &parts) {
        Some(viewer) => admin_page(
            &viewer,
            "Add an identity provider",
            &format!(
                "data-page=\"provider-new\" data-defaults=\"{}\"",
                escape(&serde_json::to_string(&ProviderSettings::default()).unwrap_or_default())
            ),
            &pages::new_provider_main(),
        ),
        None => to_login(&parts),
    }
}

/// Whether `name` can be a provider name (the registry's URL-safe set).
fn plausible_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

async fn provider_page(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    parts: Parts,
) -> Response {
    let Some(viewer) = viewer(&state, &parts) else {
        return to_login(&parts);
    };
    if !plausible_name(&name) {
        return pages::html_page(
            StatusCode::NOT_FOUND,
            "No such provider",
            "",
            "<main class=\"narrow\"><h1>No such provider</h1><p><a href=\"/admin\">All providers</a></p></main>",
        );
    }
    admin_page(
        &viewer,
        &format!("Provider {name}"),
        &format!("data-page=\"provider\" data-provider=\"{}\"", escape(&name)),
        &pages::provider_main(),
    )
}

async fn audit_page(State(state): State<AdminState>, parts: Parts) -> Response {
    match viewer(&state, &parts) {
        Some(viewer) => admin_page(
            &viewer,
            "Audit log",
            "data-page=\"audit\"",
            &pages::audit_main(),
        ),
        None => to_login(&parts),
    }
}
