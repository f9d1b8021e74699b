//! Per-operation latency of the SQL store beside the memory store, in the
//! same run: session load, session create and replay insert, on SQLite (a
//! file) and on PostgreSQL and MariaDB (a fresh schema or database; the
//! servers of the tests, see `tests/common`).
//!
//! `cargo bench -p saml-store-sql`. ops/s = 1 / the reported time.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use saml_core::store::{ReplayCache, SamlUser, SessionRecord, SessionStore};
use saml_store_memory::MemoryStore;
use saml_store_sql::SqlStore;
use sea_orm::{ConnectionTrait, Database};

fn record(id_hash: String) -> SessionRecord {
    let now = Utc::now();
    SessionRecord {
        id_hash,
        user: Arc::new({
            let mut user = SamlUser::new("okta", "alice@example.com");
            user.session_index = Some("_session-index".to_owned());
            user.attributes = [("mail".to_owned(), vec!["alice@example.com".to_owned()])]
                .into_iter()
                .collect();
            user
        }),
        created_at: now,
        last_seen: now,
        expires_at: now + Duration::hours(8),
    }
}

/// A URL for a fresh namespace on a server, like the tests make.
async fn fresh(kind: &str) -> String {
    let name = format!("saml_t_bench_{}_{kind}", std::process::id());
    match kind {
        "postgres" => {
            let url = std::env::var("SAML_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let admin = Database::connect(&url).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {name}"))
                .await
                .unwrap();
            format!("{url}?options=-c%20search_path%3D{name}")
        }
        "mysql" => {
            let url = std::env::var("SAML_TEST_MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
            let admin = Database::connect(&url).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
        _ => {
            let path = std::env::temp_dir().join(format!("{name}.sqlite"));
            format!("sqlite://{}?mode=rwc", path.display())
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let memory = MemoryStore::new()
        .with_max_sessions(usize::MAX)
        .with_max_replay_entries(usize::MAX);
    let mut stores: Vec<(&str, Arc<dyn Both>)> = vec![("memory", Arc::new(memory))];
    for kind in ["sqlite", "postgres", "mysql"] {
        let store = rt.block_on(async { SqlStore::connect(&fresh(kind).await).await.unwrap() });
        stores.push((kind, Arc::new(store)));
    }
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group("store");
    for (name, store) in &stores {
        rt.block_on(store.create(record("loaded".to_owned())))
            .unwrap();
        group.bench_function(format!("session_load/{name}"), |b| {
            b.iter(|| rt.block_on(store.load("loaded", Utc::now())).unwrap());
        });
        group.bench_function(format!("session_create/{name}"), |b| {
            b.iter(|| {
                let id = format!("s{}", next.fetch_add(1, Ordering::Relaxed));
                rt.block_on(store.create(record(id))).unwrap();
            });
        });
        group.bench_function(format!("replay_insert/{name}"), |b| {
            b.iter(|| {
                let key = format!("r{}", next.fetch_add(1, Ordering::Relaxed));
                let now = Utc::now();
                assert!(
                    rt.block_on(store.insert_once(&key, now + Duration::minutes(5), now))
                        .unwrap()
                );
            });
        });
    }
    group.finish();
}

/// Both traits behind one pointer, so the stores sit in one list.
trait Both: SessionStore + ReplayCache {}
impl<T: SessionStore + ReplayCache> Both for T {}

criterion_group!(benches, bench);
criterion_main!(benches);
