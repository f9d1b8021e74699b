//! An authenticated request through `SamlLayer` with the memory store,
//! beside the same request to the inner service alone, in the same run.
//!
//! `cargo bench -p saml-tower --bench layer`. Target: under 1 µs added.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hint::black_box;

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
            .get::<SamlUser>()
            .map_or(0, |u| u.name_id.len());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(vec![0u8; who.min(1)]))))
    });
    let store = MemoryStore::new();
    let now = Utc::now();
    // A session created the way the layer does: the store keeps the token's hash.
    let token = "benchmark-session-token-0123456789abcdefghijklmn";
    let hash: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut user = SamlUser::new("idp", "alice@example.com");
    user.session_index = Some("_s1".into());
    user.attributes = BTreeMap::from([("mail".to_owned(), vec!["alice@example.com".to_owned()])]);
    rt.block_on(store.create(SessionRecord {
        id_hash: hash,
        user,
        created_at: now,
        last_seen: now,
        expires_at: now + Duration::hours(8),
    }))
    .unwrap();
    let layer = SamlLayer::builder("https://app.example.com")
        .stores(store)
        .metadata_resolver(StaticMetadataResolver::new(Vec::new()))
        .build()
        .unwrap();
    let layered = layer.layer(inner);
    let request = || {
        Request::builder()
            .uri("/dashboard")
            .header("cookie", format!("theme=dark; saml_session={token}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    // The layer sees the user.
    let response = rt.block_on(layered.clone().oneshot(request())).unwrap();
    assert_eq!(response.status(), 200);

    let mut group = c.benchmark_group("authenticated request");
    group.bench_function("inner service alone", |b| {
        b.iter(|| rt.block_on(inner.oneshot(black_box(request()))).unwrap());
    });
    group.bench_function("through SamlLayer", |b| {
        b.iter(|| {
            rt.block_on(layered.clone().oneshot(black_box(request())))
                .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
