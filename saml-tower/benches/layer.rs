//! An authenticated request through `SamlLayer` with the memory store,
//! beside the same request to the inner service alone, in the same run.
//!
//! Two sessions: a user with one attribute, and the development IdP's
//! Alice of the axum example (ten attributes, twelve values). The store and
//! the request share one `Arc<SamlUser>`, so the two should cost the same.
//!
//! `cargo bench -p saml-tower --bench layer`. Target: under 1 µs added.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use saml_core::store::{SamlUser, SessionRecord, SessionStore};
use saml_store_memory::{MemoryStore, StaticMetadataResolver};
use saml_tower::SamlLayer;
use tower::{Layer, ServiceExt, service_fn};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let inner = service_fn(|req: Request<Full<Bytes>>| async move {
        let who = req
            .extensions()
            .get::<Arc<SamlUser>>()
            .map_or(0, |u| u.name_id.len());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(vec![0u8; who.min(1)]))))
    });
    let store = MemoryStore::new();
    let now = Utc::now();
    // Sessions created the way the layer does: the store keeps the token's hash.
    let token = "benchmark-session-token-0123456789abcdefghijklmn";
    let alice_token = "benchmark-session-token-alice-0123456789abcdefgh";
    let hash = |token: &str| -> String {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mut user = SamlUser::new("idp", "alice@example.com");
    user.session_index = Some("_s1".into());
    user.attributes = BTreeMap::from([("mail".to_owned(), vec!["alice@example.com".to_owned()])]);
    for (token, user) in [(token, user), (alice_token, dev_idp_alice())] {
        rt.block_on(store.create(SessionRecord {
            id_hash: hash(token),
            user: Arc::new(user),
            created_at: now,
            last_seen: now,
            expires_at: now + Duration::hours(8),
        }))
        .unwrap();
    }
    let layer = SamlLayer::builder("https://app.example.com")
        .stores(store.clone())
        .metadata_resolver(StaticMetadataResolver::new(Vec::new()))
        .build()
        .unwrap();
    let cookie = layer.session_cookie_name().to_owned();
    let layered = layer.layer(inner);
    let request = |token: &str| {
        Request::builder()
            .uri("/dashboard")
            .header("cookie", format!("theme=dark; {cookie}={token}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    // The layer sees the user (the inner service answers one byte then).
    for token in [token, alice_token] {
        let response = rt
            .block_on(layered.clone().oneshot(request(token)))
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = rt
            .block_on(http_body_util::BodyExt::collect(response.into_body()))
            .unwrap()
            .to_bytes();
        assert_eq!(body.len(), 1);
    }

    let mut group = c.benchmark_group("authenticated request");
    group.bench_function("inner service alone", |b| {
        b.iter(|| {
            rt.block_on(inner.oneshot(black_box(request(token))))
                .unwrap()
        });
    });
    group.bench_function("through SamlLayer", |b| {
        b.iter(|| {
            rt.block_on(layered.clone().oneshot(black_box(request(token))))
                .unwrap()
        });
    });
    group.bench_function("through SamlLayer, dev IdP's Alice (10 attributes)", |b| {
        b.iter(|| {
            rt.block_on(layered.clone().oneshot(black_box(request(alice_token))))
                .unwrap()
        });
    });
    group.finish();

    // Where the added time goes: the parts the layer does per request,
    // measured alone (see docs/performance.md).
    let mut parts = c.benchmark_group("layer parts");
    let alice = rt
        .block_on(store.load(&hash(alice_token), now))
        .unwrap()
        .unwrap()
        .user;
    parts.bench_function("SHA-256 + hex of the session token", |b| {
        b.iter(|| saml_core::crypto::sha256_hex(black_box(token).as_bytes()));
    });
    parts.bench_function("MemoryStore::load (id hash copied, user shared)", |b| {
        let h = hash(alice_token);
        b.iter(|| rt.block_on(store.load(black_box(&h), now)).unwrap());
    });
    // What the layer did before the user was shared: a deep copy per request.
    parts.bench_function("SamlUser deep clone + drop, Alice (no longer done)", |b| {
        b.iter(|| SamlUser::clone(black_box(&alice)));
    });
    parts.bench_function("request extensions insert + drop, Arc<SamlUser>", |b| {
        b.iter_batched(
            || Arc::clone(&alice),
            |user| {
                let mut extensions = http::Extensions::new();
                extensions.insert(user);
                extensions
            },
            criterion::BatchSize::SmallInput,
        );
    });
    parts.finish();
}

/// The user the development IdP signs in, as the axum example stores it.
fn dev_idp_alice() -> SamlUser {
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
    .collect();
    user
}

criterion_group!(benches, bench);
criterion_main!(benches);
