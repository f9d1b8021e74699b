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
//! `--idp NAME=METADATA_FILE` (`SAML_IDP`, comma-separated), and
//! `--allow-idp-initiated`. Routes: `/` (signed-in users only), `/me` (the
//! signed-in user as JSON, or 401), the SAML endpoints under `/saml`, and
//! the development IdP under `/dev-idp` (saml-testkit's `DevIdpService`,
//! shared by every example).

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use saml_core::clock::SystemClock;
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{Provider, ProviderSettings, ReplayCache, SessionStore};
use saml_store_memory::{MemoryStore, StaticMetadataResolver};
use saml_store_sql::SqlStore;
use saml_testkit::dev_idp::DevIdpService;
use saml_tower::{RequireLoginLayer, SamlLayer, SignedIn};

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
    #[arg(long, env = "SAML_BASE_URL")]
    base_url: Option<String>,
    /// Store for sessions and replay state: `sqlite://FILE?mode=rwc`,
    /// `postgres://...`, `mysql://...`, or `memory` (lost at exit).
    #[arg(
        long,
        env = "SAML_DATABASE_URL",
        default_value = "sqlite://saml-example.sqlite?mode=rwc"
    )]
    database_url: String,
    /// An extra identity provider: `NAME=METADATA_FILE` (repeatable).
    #[arg(long = "idp", env = "SAML_IDP", value_delimiter = ',')]
    idps: Vec<String>,
    /// Accept IdP-initiated (unsolicited) sign-in.
    #[arg(long, env = "SAML_ALLOW_IDP_INITIATED")]
    allow_idp_initiated: bool,
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("saml-example-axum: {message}");
    std::process::exit(2)
}

fn provider(
    name: &str,
    metadata: IdpMetadata,
    display: &str,
    allow_idp_initiated: bool,
) -> Provider {
    let mut settings = ProviderSettings::default();
    settings.display_name = Some(display.to_owned());
    settings.allow_idp_initiated = allow_idp_initiated;
    Provider {
        name: name.to_owned(),
        metadata,
        settings,
    }
}

/// Loads `NAME=METADATA_FILE` providers. Plain `http://` metadata URLs are for
/// loopback hosts only; fetching metadata over HTTP arrives with remote metadata.
fn extra_provider(spec: &str, allow_idp_initiated: bool) -> Provider {
    let Some((name, source)) = spec.split_once('=') else {
        fail(format!("--idp {spec}: expected NAME=METADATA_FILE"))
    };
    if source.starts_with("http://") || source.starts_with("https://") {
        fail(format!(
            "--idp {name}: metadata URLs are not supported yet; save the metadata and pass the file"
        ));
    }
    let xml = std::fs::read_to_string(source)
        .unwrap_or_else(|e| fail(format!("--idp {name}: {source}: {e}")));
    let metadata = IdpMetadata::parse(&xml, &MetadataOptions::new())
        .unwrap_or_else(|e| fail(format!("--idp {name}: {e}")));
    provider(name, metadata, name, allow_idp_initiated)
}

/// Builds the application: routes, the development IdP and the SAML layer.
async fn app(args: &Args, base_url: &str) -> Router {
    let dev = DevIdpService::for_base_url(base_url)
        .unwrap_or_else(|e| fail(format!("development IdP: {e}")));
    let dev_metadata = IdpMetadata::parse(&dev.idp().metadata_xml(), &MetadataOptions::new())
        .unwrap_or_else(|e| fail(format!("development IdP: {e}")));
    let mut providers = vec![provider(
        "dev",
        dev_metadata,
        "Development IdP",
        args.allow_idp_initiated,
    )];
    providers.extend(
        args.idps
            .iter()
            .map(|spec| extra_provider(spec, args.allow_idp_initiated)),
    );

    let mut builder = SamlLayer::builder(base_url)
        .metadata_resolver(StaticMetadataResolver::new(providers))
        .clock(SystemClock);
    builder = if args.database_url == "memory" {
        builder.stores(MemoryStore::new())
    } else {
        let store = SqlStore::connect(&args.database_url)
            .await
            .unwrap_or_else(|e| fail(format!("--database-url: {e}")));
        tokio::spawn(purge_now_and_then(store.clone()));
        builder.stores(store)
    };
    if base_url.starts_with("http://") {
        builder = builder.insecure_allow_http_cookies_on_localhost();
    }
    let saml = builder.build().unwrap_or_else(|e| fail(e));

    Router::new()
        .route("/", get(home))
        .route_layer(RequireLoginLayer::new())
        .route("/me", get(me))
        // The development IdP's routes, matched on the full path.
        .route_service("/dev-idp/{*rest}", dev)
        .layer(saml)
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
    Html(format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed in</title>",
            "<style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto}}",
            "td{{padding:.2rem .6rem;border-bottom:1px solid #ddd}}</style></head><body>",
            "<h1>Hello, {}</h1><p>Signed in through <b>{}</b>.</p><table>{}</table>",
            "<form method=\"post\" action=\"/saml/logout\"><button>Sign out</button></form>",
            "<p><a href=\"/me\">/me as JSON</a></p></body></html>"
        ),
        escape(&user.name_id),
        escape(&user.provider),
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
    let app = app(&args, base_url.trim_end_matches('/')).await;
    println!(
        "saml-example-axum listening on {local}; open {base_url}/ and sign in at the development IdP"
    );
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    {
        fail(e);
    }
}
