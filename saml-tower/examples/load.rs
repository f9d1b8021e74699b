//! The load-run target for `wrk`: one axum handler served twice, on
//! `127.0.0.1:PORT` through `SamlLayer` (memory store, a session inserted
//! directly into the store, so no IdP is needed) and on `127.0.0.1:PORT+1`
//! without the layer, so that the two throughputs compare like for like.
//!
//! ```sh
//! cargo run --release -p saml-tower --example load -- 8081
//! # prints the cookie header; then, in another shell:
//! wrk -t2 -c32 -d20s -H 'Cookie: saml_session=…' http://127.0.0.1:8081/dashboard
//! wrk -t2 -c32 -d20s -H 'Cookie: saml_session=…' http://127.0.0.1:8082/dashboard
//! ```
//!
//! The handler answers the same bytes on both ports: the signed-in user's
//! NameID when the layer put one in the request, the same fixed name
//! otherwise. The worker threads default to tokio's choice; set
//! `TOKIO_WORKER_THREADS` to pin them.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::Request;
use axum::routing::get;
use chrono::{Duration, Utc};
use saml_core::crypto::sha256_hex;
use saml_core::store::{SamlUser, SessionRecord, SessionStore};
use saml_store_memory::{MemoryStore, StaticMetadataResolver};
use saml_tower::SamlLayer;

/// A fixed session token (the value of the `saml_session` cookie).
const TOKEN: &str = "load-run-session-token-0123456789abcdefghijklmnopq";

async fn dashboard(request: Request<axum::body::Body>) -> String {
    let name = request
        .extensions()
        .get::<Arc<SamlUser>>()
        .map_or("alice@example.com", |u| u.name_id.as_str());
    format!("Hello, {name}\n")
}

/// Whether the layer put a user into the request (to check the setup).
async fn check(request: Request<axum::body::Body>) -> &'static str {
    if request.extensions().get::<Arc<SamlUser>>().is_some() {
        "signed in\n"
    } else {
        "anonymous\n"
    }
}

fn app() -> Router {
    Router::new()
        .route("/dashboard", get(dashboard))
        .route("/check", get(check))
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(8081, |p| p.parse().expect("PORT: a number"));
    let store = MemoryStore::new();
    let now = Utc::now();
    // The user the development IdP signs in (the axum example's Alice):
    // the layer copies the user into every request, attributes included.
    let mut user = SamlUser::new("dev", "alice@example.com");
    user.name_id_format = Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into());
    user.session_index = Some("_1fd7cfcfefa8a30448db63cfd16316f8".into());
    let claims = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims";
    user.attributes = [
        ("displayName", &["Alice Liddell"][..]),
        ("givenName", &["Alice"]),
        ("groups", &["admins", "users"]),
        (
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            &["admins", "users"],
        ),
        (&format!("{claims}/emailaddress"), &["alice@example.com"]),
        (&format!("{claims}/givenname"), &["Alice"]),
        (&format!("{claims}/surname"), &["Liddell"]),
        ("mail", &["alice@example.com"]),
        ("sn", &["Liddell"]),
        ("uid", &["alice"]),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
    .collect::<BTreeMap<_, _>>();
    // The store keeps the SHA-256 of the token, as the layer does at login.
    store
        .create(SessionRecord {
            id_hash: sha256_hex(TOKEN.as_bytes()),
            user: Arc::new(user),
            created_at: now,
            last_seen: now,
            expires_at: now + Duration::hours(8),
        })
        .await
        .unwrap();
    let layered_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let bare_addr = SocketAddr::from(([127, 0, 0, 1], port + 1));
    let saml = SamlLayer::builder(format!("http://{layered_addr}"))
        .stores(store)
        .metadata_resolver(StaticMetadataResolver::new(Vec::new()))
        .insecure_allow_http_cookies_on_localhost()
        .build()
        .unwrap();
    let layered = app().layer(saml);
    let bare = app();
    let layered_listener = tokio::net::TcpListener::bind(layered_addr).await.unwrap();
    let bare_listener = tokio::net::TcpListener::bind(bare_addr).await.unwrap();
    println!("through SamlLayer: http://{layered_addr}/dashboard");
    println!("without the layer: http://{bare_addr}/dashboard");
    println!("header: Cookie: saml_session={TOKEN}");
    let a = tokio::spawn(async move { axum::serve(layered_listener, layered).await });
    let b = tokio::spawn(async move { axum::serve(bare_listener, bare).await });
    let (a, b) = tokio::join!(a, b);
    a.unwrap().unwrap();
    b.unwrap().unwrap();
}
