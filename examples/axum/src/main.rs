//! The axum example: a small site whose home page needs a SAML sign-in, with
//! a built-in development IdP so a newcomer can click through a full login
//! at once.
//!
//! ```sh
//! cargo run -p saml-example-axum
//! # open http://127.0.0.1:3000/ and pick a user at the development IdP
//! ```
//!
//! Flags (and environment variables): `--listen` (`SAML_LISTEN`, default
//! `127.0.0.1:3000`), `--base-url` (`SAML_BASE_URL`, default
//! `http://<listen>`), `--database-url` (`SAML_DATABASE_URL`, default
//! `sqlite://saml-example.sqlite?mode=rwc`, a file in the working directory;
//! also `postgres://...`, `mysql://...` or `memory`), repeatable
//! `--idp NAME=METADATA_URL_OR_FILE` (`SAML_IDP`, comma-separated),
//! `--allow-idp-initiated`, and for the admin pages: `--admin-password`
//! (`SAML_ADMIN_PASSWORD`, at least 12 characters; without it a random one
//! is printed to stderr at startup), `--admin-role ROLE` (`SAML_ADMIN_ROLE`:
//! SAML users with that role may administer too; off by default),
//! `--no-dev-provider` (`SAML_NO_DEV_PROVIDER`: serve the development IdP
//! without registering it as provider `dev`) and `--pre-provisioned-only`
//! (`SAML_PRE_PROVISIONED_ONLY`: only users already in the user directory
//! sign in; otherwise users are added at their first sign-in).
//!
//! Routes:
//!
//! - `/` (signed-in users only; others go to `/login`), `/me` (the
//!   signed-in user as JSON, or 401), `/audit` (signed-in users only: the
//!   last 50 audit events as JSON, newest first);
//! - `/login`: a "Log in using &lt;display name&gt;" button per enabled provider
//!   (read at each request, so providers added or disabled in the admin
//!   pages show at once) and the link to the break-glass admin login;
//! - `/admin/login`, `/admin/logout`: the break-glass administrator
//!   (`admin_auth`);
//! - `/admin`, `/admin/providers/new`, `/admin/providers/{name}`,
//!   `/admin/audit`: the admin pages (`admin`), and `/admin/assets/*`
//!   their script and stylesheet;
//! - `/admin/api/*`: saml-tower's admin JSON API (`docs/admin-api.md`)
//!   over the SQL store's provider registry, user directory and audit log;
//! - the SAML endpoints under `/saml`, and the development IdP under
//!   `/dev-idp` (saml-testkit's `DevIdpService`, shared by every example).
//!
//! `docs/admin-pages.md` describes the admin pages, the break-glass login
//! and their end-to-end test in headless Chromium (`tests/admin_e2e.rs`).
//!
//! # Identity providers
//!
//! `--idp NAME=FILE` reads the IdP's metadata once at startup.
//! `--idp NAME=URL` fetches it with `saml-remote`'s `RemoteMetadataResolver`
//! (`ReqwestClient`): at startup, then again in a background task as the
//! document's `cacheDuration` says (at most every 6 hours), keeping the
//! last good copy while the URL is down, so a key rollover at the IdP is
//! picked up without a restart. URLs must be `https://`; plain `http://` is
//! accepted for loopback hosts only (`127.0.0.1`, `::1`, `localhost`). The
//! metadata may be unsigned: its authenticity rests on HTTPS (what single
//! IdPs such as Okta or Entra ID publish); for a signed federation
//! aggregate use `saml-remote` in your own code with `signed_by_pem`.
//! Files and URLs mix freely; the layer asks the development IdP, the files,
//! the URLs and then the providers stored in the database (added in the
//! admin pages) in turn (`saml_store_memory::ChainedMetadataResolver`), so
//! a stored provider must not reuse a command-line provider's name or
//! entity ID.
//!
//! Per-provider settings (DESIGN.md section 5), both repeatable:
//!
//! - `--idp-preset NAME=PRESET` (`SAML_IDP_PRESET`): the claim-mapping preset
//!   of provider `NAME`: `entra_id`, `adfs`, `okta`, `google`, `shibboleth`
//!   or `generic` (the default). It fills the user's profile and roles.
//! - `--idp-settings NAME=FILE.json` (`SAML_IDP_SETTINGS`): the provider's
//!   whole `ProviderSettings` as JSON; missing keys keep their defaults,
//!   unknown keys are refused. For example
//!   `{"preset": "okta", "display_name": "Okta", "clock_skew_seconds": 30,
//!   "response_binding": "artifact"}`.
//!
//! A preset given with `--idp-preset` wins over the file's, and
//! `--allow-idp-initiated` turns IdP-initiated sign-in on for every provider.
//!
//! # Several nodes
//!
//! Nodes behind one load balancer share the database (`--database-url
//! postgres://...`) and are all given the load balancer's public URL as
//! `--base-url`. The SP's entity ID, its ACS and SLO URLs, and the
//! `Destination` every IdP message must carry all derive from the base URL,
//! so each node accepts what the IdP sends to any of them; sessions, pending
//! logins and used assertion IDs live in the database, so a session started
//! on one node works on the others, logout on one ends it everywhere, and a
//! response accepted once is refused on every node. Give nodes no SP keys of
//! their own (or the same ones): the IdP knows one SP. The development IdP
//! makes a new key at each start, so use a real IdP with several nodes.
//!
//! Sign-ins, refused sign-ins, replays, logouts and the admin pages'
//! changes are recorded in the audit log of the store (`saml_audit` in the
//! database; with `memory`, the provider registry, the user directory and
//! the audit log live in an in-memory SQLite database), with the client's
//! address: the TCP peer here,
//! which behind a load balancer is the balancer; read the header your own
//! proxy sets with `SamlLayerBuilder::client_address` instead.
//!
//! `tests/two_nodes.rs` runs two nodes on one PostgreSQL database with node
//! A's address as the shared base URL (standing for the balancer's), and
//! takes the database away mid-run: requests answer 503, nobody is let in,
//! and the service recovers when the database returns.

mod admin;
mod admin_auth;
mod pages;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use saml_core::admin::AdminBackend;
use saml_core::clock::SystemClock;
use saml_core::mapping::Preset;
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{
    AuditEvent, MappingMapper, Provider, ProviderSettings, ReplayCache, SessionStore, StoreError,
};
use saml_remote::{MetadataSource, RefreshPolicy, RemoteMetadataResolver, ReqwestClient};
use saml_store_memory::{ChainedMetadataResolver, MemoryStore, StaticMetadataResolver};
use saml_store_sql::{AuditFilter, DirectoryMapper, SignInMode, SqlStore};
use saml_testkit::dev_idp::DevIdpService;
use saml_tower::{RequireLoginLayer, SamlLayer, SignedIn};

/// How many audit events `/audit` shows.
const AUDIT_PAGE: usize = 50;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "saml-example-axum",
    about = "A protected site with SAML sign-in and a development IdP"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SAML_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Public base URL (scheme, host, port); default `http://<listen>`.
    /// Several nodes behind one load balancer all get the balancer's URL.
    #[arg(long, env = "SAML_BASE_URL")]
    base_url: Option<String>,
    /// Store for sessions, replay state and the audit log:
    /// `sqlite://FILE?mode=rwc`, `postgres://...`, `mysql://...`, or
    /// `memory` (lost at exit).
    #[arg(
        long,
        env = "SAML_DATABASE_URL",
        default_value = "sqlite://saml-example.sqlite?mode=rwc"
    )]
    database_url: String,
    /// An extra identity provider: `NAME=METADATA_URL_OR_FILE` (repeatable).
    /// URLs are `https://` (`http://` to loopback hosts only) and refreshed
    /// in the background.
    #[arg(long = "idp", env = "SAML_IDP", value_delimiter = ',')]
    idps: Vec<String>,
    /// The claim-mapping preset of a provider: `NAME=PRESET` (`entra_id`,
    /// `adfs`, `okta`, `google`, `shibboleth`, `generic`; repeatable).
    #[arg(long = "idp-preset", env = "SAML_IDP_PRESET", value_delimiter = ',')]
    idp_presets: Vec<String>,
    /// A provider's settings as a JSON file: `NAME=FILE.json` (repeatable;
    /// missing keys keep their defaults).
    #[arg(
        long = "idp-settings",
        env = "SAML_IDP_SETTINGS",
        value_delimiter = ','
    )]
    idp_settings: Vec<String>,
    /// Accept IdP-initiated (unsolicited) sign-in.
    #[arg(long, env = "SAML_ALLOW_IDP_INITIATED")]
    allow_idp_initiated: bool,
    /// The break-glass administrator password (at least 12 characters) for
    /// `/admin/login`; without it a random one is printed to stderr at
    /// startup. Prefer the environment variable: flags show in `ps`.
    #[arg(long, env = "SAML_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// SAML users holding this role (e.g. `admins`) may use the admin pages
    /// too. Off by default: anyone can be any user at the development IdP.
    #[arg(long, env = "SAML_ADMIN_ROLE")]
    admin_role: Option<String>,
    /// Serve the development IdP at `/dev-idp/` without registering it as
    /// provider `dev` (register it in the admin pages by its metadata URL,
    /// `<base-url>/dev-idp/metadata`).
    #[arg(long, env = "SAML_NO_DEV_PROVIDER")]
    no_dev_provider: bool,
    /// Only users already in the user directory (imported from CSV in the
    /// admin pages) may sign in. Without it, users are added to the
    /// directory at their first sign-in; disabled users are refused either way.
    #[arg(long, env = "SAML_PRE_PROVISIONED_ONLY")]
    pre_provisioned_only: bool,
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("saml-example-axum: {message}");
    std::process::exit(2)
}

/// Splits `NAME=VALUE` for the flag `flag`, or exits with a usage error.
fn name_value<'a>(flag: &str, spec: &'a str, value: &str) -> (&'a str, &'a str) {
    match spec.split_once('=') {
        Some((name, v)) if !name.is_empty() && !v.is_empty() => (name, v),
        _ => fail(format!("{flag} {spec}: expected NAME={value}")),
    }
}

/// The per-provider settings given by `--idp-settings`, `--idp-preset` and
/// `--allow-idp-initiated`.
#[derive(Debug, Default)]
struct SettingsFlags {
    files: Vec<(String, ProviderSettings)>,
    presets: Vec<(String, Preset)>,
    allow_idp_initiated: bool,
}

impl SettingsFlags {
    fn from_args(args: &Args) -> Self {
        let files = args
            .idp_settings
            .iter()
            .map(|spec| {
                let (name, path) = name_value("--idp-settings", spec, "FILE.json");
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| fail(format!("--idp-settings {name}: {path}: {e}")));
                let settings = serde_json::from_str::<ProviderSettings>(&text)
                    .unwrap_or_else(|e| fail(format!("--idp-settings {name}: {path}: {e}")));
                (name.to_owned(), settings)
            })
            .collect();
        let presets = args
            .idp_presets
            .iter()
            .map(|spec| {
                let (name, preset) = name_value("--idp-preset", spec, "PRESET");
                let preset = Preset::from_name(preset).unwrap_or_else(|| {
                    fail(format!(
                        "--idp-preset {name}: unknown preset `{preset}`; expected one of entra_id, adfs, okta, google, shibboleth, generic"
                    ))
                });
                (name.to_owned(), preset)
            })
            .collect();
        Self {
            files,
            presets,
            allow_idp_initiated: args.allow_idp_initiated,
        }
    }

    /// Refuses settings for a provider that no `--idp` names (a typo).
    fn check_names(&self, known: &[&str]) {
        let named = self
            .files
            .iter()
            .map(|(n, _)| (n, "--idp-settings"))
            .chain(self.presets.iter().map(|(n, _)| (n, "--idp-preset")));
        for (name, flag) in named {
            if !known.contains(&name.as_str()) {
                fail(format!(
                    "{flag} {name}: no provider is named `{name}` (known: {})",
                    known.join(", ")
                ));
            }
        }
    }

    /// The settings of provider `name`, shown as `display`.
    fn for_provider(&self, name: &str, display: &str) -> ProviderSettings {
        let mut settings = self
            .files
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        if let Some((_, preset)) = self.presets.iter().rev().find(|(n, _)| n == name) {
            settings.preset = *preset;
        }
        if settings.display_name.is_none() {
            settings.display_name = Some(display.to_owned());
        }
        if self.allow_idp_initiated {
            settings.allow_idp_initiated = true;
        }
        settings
    }
}

/// Whether an `--idp` source is a URL (anything with a scheme); saml-remote
/// refuses every scheme but `https` and loopback `http`.
fn is_url(source: &str) -> bool {
    source.contains("://")
}

/// Loads a `NAME=METADATA_FILE` provider.
fn file_provider(name: &str, path: &str, settings: ProviderSettings) -> Provider {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(format!("--idp {name}: {path}: {e}")));
    let metadata = IdpMetadata::parse(&xml, &MetadataOptions::new())
        .unwrap_or_else(|e| fail(format!("--idp {name}: {e}")));
    Provider {
        name: name.to_owned(),
        metadata,
        settings,
    }
}

/// The providers behind metadata URLs, fetched now and refreshed by a
/// background task. `None` when no `--idp` is a URL.
async fn remote_providers(
    urls: &[(&str, &str)],
    flags: &SettingsFlags,
    client: &ReqwestClient,
) -> Option<RemoteMetadataResolver> {
    if urls.is_empty() {
        return None;
    }
    let mut builder = RemoteMetadataResolver::builder()
        .http_client(Arc::new(client.clone()))
        // The background task keeps copies fresh: no sign-in waits for a fetch.
        .policy(RefreshPolicy::new().with_refresh_on_lookup(false));
    for (name, url) in urls {
        builder = builder.source(
            MetadataSource::new(*url)
                .provider(*name, flags.for_provider(name, name))
                // Single IdPs publish unsigned metadata: HTTPS vouches for it.
                .allow_unsigned(),
        );
    }
    let resolver = builder
        .build()
        .unwrap_or_else(|e| fail(format!("--idp: {e}")));
    // A URL that is down now is retried by the task; its provider answers
    // 503 until then, and the others work.
    if let Err(e) = resolver.refresh().await {
        eprintln!("saml-example-axum: fetching IdP metadata: {e} (retrying in the background)");
    }
    tokio::spawn(resolver.clone().refresh_task());
    Some(resolver)
}

/// Where sessions and replay state live.
#[derive(Debug, Clone)]
enum Sessions {
    Memory(MemoryStore),
    Sql(SqlStore),
}

/// The stores: sessions and replay state, and the SQL store that keeps the
/// provider registry, the user directory and the audit log (an in-memory
/// SQLite database with `--database-url memory`).
#[derive(Debug, Clone)]
struct Stores {
    sessions: Sessions,
    sql: SqlStore,
}

impl Stores {
    async fn open(database_url: &str) -> Self {
        if database_url == "memory" {
            let sql = SqlStore::connect("sqlite::memory:")
                .await
                .unwrap_or_else(|e| fail(format!("in-memory SQLite: {e}")));
            Self {
                sessions: Sessions::Memory(MemoryStore::new()),
                sql,
            }
        } else {
            let sql = SqlStore::connect(database_url)
                .await
                .unwrap_or_else(|e| fail(format!("--database-url: {e}")));
            tokio::spawn(purge_now_and_then(sql.clone()));
            Self {
                sessions: Sessions::Sql(sql.clone()),
                sql,
            }
        }
    }

    /// The last `AUDIT_PAGE` audit events, newest first.
    async fn recent_audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = u64::try_from(AUDIT_PAGE).unwrap_or(50);
        self.sql.audit_log(&AuditFilter::new().limit(limit)).await
    }
}

/// The break-glass admin password: `--admin-password`, or a random one
/// printed to stderr.
fn admin_password(args: &Args) -> String {
    match &args.admin_password {
        Some(password) if password.chars().count() < admin_auth::MIN_PASSWORD_CHARS => {
            fail(format!(
                "--admin-password: at least {} characters",
                admin_auth::MIN_PASSWORD_CHARS
            ))
        }
        Some(password) => password.clone(),
        None => {
            let password = admin_auth::generate_password()
                .unwrap_or_else(|| fail("no randomness for the admin password"));
            eprintln!(
                "saml-example-axum: break-glass admin password (generated; set --admin-password or SAML_ADMIN_PASSWORD to choose one): {password}"
            );
            password
        }
    }
}

/// Builds the application: routes, the development IdP and the SAML layer.
async fn app(args: &Args, base_url: &str, admin_password: &str) -> Router {
    let flags = SettingsFlags::from_args(args);
    let dev = DevIdpService::for_base_url(base_url)
        .unwrap_or_else(|e| fail(format!("development IdP: {e}")));
    let dev_metadata = IdpMetadata::parse(&dev.idp().metadata_xml(), &MetadataOptions::new())
        .unwrap_or_else(|e| fail(format!("development IdP: {e}")));
    let specs: Vec<(&str, &str)> = args
        .idps
        .iter()
        .map(|spec| name_value("--idp", spec, "METADATA_URL_OR_FILE"))
        .collect();
    let mut known = if args.no_dev_provider {
        vec![]
    } else {
        vec!["dev"]
    };
    for (name, _) in &specs {
        if known.contains(name) {
            fail(format!("--idp {name}: the name `{name}` is taken"));
        }
        known.push(name);
    }
    flags.check_names(&known);

    let mut fixed = Vec::new();
    let mut files = Vec::new();
    if !args.no_dev_provider {
        files.push(Provider {
            name: "dev".to_owned(),
            metadata: dev_metadata,
            settings: flags.for_provider("dev", "Development IdP"),
        });
        fixed.push(pages::FixedProvider {
            name: "dev".to_owned(),
            source: format!("the built-in development IdP, {base_url}/dev-idp/metadata"),
        });
    }
    let mut urls = Vec::new();
    for (name, source) in specs {
        fixed.push(pages::FixedProvider {
            name: name.to_owned(),
            source: format!("--idp {source}"),
        });
        if is_url(source) {
            urls.push((name, source));
        } else {
            files.push(file_provider(name, source, flags.for_provider(name, name)));
        }
    }
    let client = ReqwestClient::new().unwrap_or_else(|e| fail(format!("HTTP client: {e}")));
    let mut resolver = ChainedMetadataResolver::new().with(
        StaticMetadataResolver::try_new(files).unwrap_or_else(|e| fail(format!("--idp: {e}"))),
    );
    if let Some(remote) = remote_providers(&urls, &flags, &client).await {
        resolver = resolver.with(remote);
    }

    let stores = Stores::open(&args.database_url).await;
    // Providers added in the admin pages, asked last: the command line's win.
    let resolver = resolver.with(stores.sql.providers());
    let mut builder = SamlLayer::builder(base_url)
        .metadata_resolver(resolver.clone())
        .clock(SystemClock)
        // Resolving artifacts (`"response_binding": "artifact"` in --idp-settings).
        .http_client(client)
        // The peer address axum records (`into_make_service_with_connect_info`).
        .client_address(|parts| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string())
        })
        .audit_sink(stores.sql.clone())
        // The provider's preset and attribute mapping fill the profile; the
        // user directory decides who may sign in.
        .user_mapper(
            DirectoryMapper::new(
                stores.sql.users(),
                if args.pre_provisioned_only {
                    SignInMode::AdmitPreProvisioned
                } else {
                    SignInMode::JustInTime
                },
            )
            .with_inner(MappingMapper::new()),
        );
    builder = match &stores.sessions {
        Sessions::Memory(memory) => builder.stores(memory.clone()),
        Sessions::Sql(sql) => builder.stores(sql.clone()),
    };
    if base_url.starts_with("http://") {
        builder = builder.insecure_allow_http_cookies_on_localhost();
    }
    let saml = builder.build().unwrap_or_else(|e| fail(e));

    let auth = admin_auth::AdminAuth::new(admin_password, base_url, args.admin_role.clone());
    // The admin JSON API (saml-tower's `admin` feature) over the SQL store:
    // the break-glass admin (or a SAML user with --admin-role) may call it.
    let backend: Arc<dyn AdminBackend> = Arc::new(stores.sql.clone());
    let (may, named) = (auth.clone(), auth.clone());
    let mut admin_api = saml
        .admin(backend)
        .authorize(move |parts| may.admin(parts).is_some())
        .admin_name(move |parts| named.admin(parts).map(|admin| admin.audit_name()))
        // The break-glass login needs no provider: every provider may go off.
        .can_disable_saml(|_remaining| Ok(()));
    if base_url.starts_with("http://") {
        // Development only (a plain-HTTP base URL is refused elsewhere but
        // on localhost): the development IdP's metadata is served by this
        // process at http://127.0.0.1/..., so let the admin API fetch it.
        admin_api = admin_api.allow_loopback_http_metadata();
    }
    let admin_api = admin_api
        .build()
        .unwrap_or_else(|e| fail(format!("admin API: {e}")));
    let admin_pages = admin::routes(admin::AdminState {
        auth,
        providers: Arc::new(resolver),
        fixed: Arc::new(fixed),
    });

    Router::new()
        .route("/", get(home))
        .route("/audit", get(move || audit(stores.clone())))
        .route_layer(RequireLoginLayer::new().login_path("/login"))
        .route("/me", get(me))
        .merge(admin_pages)
        .nest_service("/admin/api", admin_api)
        // The development IdP's routes, matched on the full path.
        .route_service("/dev-idp/{*rest}", dev)
        .layer(saml)
}

/// The last audit events as JSON (any signed-in user may look here; a real
/// application shows them to administrators only).
async fn audit(stores: Stores) -> Response {
    match stores.recent_audit_events().await {
        Ok(events) => axum::Json(events).into_response(),
        Err(e) => {
            eprintln!("saml-example-axum: reading the audit log: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"error": "store_unavailable"})),
            )
                .into_response()
        }
    }
}

async fn home(SignedIn(user): SignedIn) -> Html<String> {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let attributes: String = user
        .attributes
        .iter()
        .map(|(name, values)| {
            format!(
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                escape(name),
                escape(&values.join(", "))
            )
        })
        .collect();
    // The mapped profile's email (the provider's preset and attribute mapping).
    let email = user
        .profile
        .get("email")
        .and_then(|v| v.as_str())
        .map(|e| format!("<p id=\"email\">Email: <b>{}</b></p>", escape(e)))
        .unwrap_or_default();
    Html(format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed in</title>",
            "<style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto}}",
            "td{{padding:.2rem .6rem;border-bottom:1px solid #ddd}}</style></head><body>",
            "<h1>Hello, {}</h1><p>Signed in through <b>{}</b>.</p>{}<table>{}</table>",
            "<form method=\"post\" action=\"/saml/logout\"><button>Sign out</button></form>",
            "<p><a href=\"/me\">/me as JSON</a></p></body></html>"
        ),
        escape(&user.name_id),
        escape(&user.provider),
        email,
        attributes
    ))
}

async fn me(user: Option<SignedIn>) -> Response {
    match user {
        Some(SignedIn(user)) => axum::Json(serde_json::json!({
            "provider": user.provider,
            "name_id": user.name_id,
            "name_id_format": user.name_id_format,
            "session_index": user.session_index,
            "attributes": user.attributes,
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "unauthenticated"})),
        )
            .into_response(),
    }
}

/// Removes expired sessions, replay keys and pending logins every five minutes.
async fn purge_now_and_then(store: SqlStore) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        every.tick().await;
        let now = chrono::Utc::now();
        if let Err(e) = SessionStore::purge_expired(&store, now).await {
            eprintln!("saml-example-axum: purging sessions: {e}");
        }
        if let Err(e) = ReplayCache::purge_expired(&store, now).await {
            eprintln!("saml-example-axum: purging replay state: {e}");
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .unwrap_or_else(|e| fail(format!("{}: {e}", args.listen)));
    let local = listener.local_addr().unwrap_or_else(|e| fail(e));
    let base_url = args
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let password = admin_password(&args);
    let app = app(&args, base_url.trim_end_matches('/'), &password).await;
    println!(
        "saml-example-axum listening on {local}; open {base_url}/ and sign in at the development IdP"
    );
    if let Err(e) = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    {
        fail(e);
    }
}
