//! The pool settings `connect` chooses must not upset the pool's own
//! background tasks: a panic there does not fail any call, it only shows in
//! the process (an earlier version overflowed an `Instant` with
//! `Duration::MAX` on SQLite). A panic hook catches it; this file holds one
//! test so the hook sees only this store.

#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use saml_core::store::ReplayCache;
use saml_store_sql::SqlStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pool_runs_without_panics_in_background_tasks() {
    let panics = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&panics);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    for url in ["sqlite::memory:", "sqlite::memory:?cache=private"] {
        let store = SqlStore::connect(url).await.expect("SQLite");
        let now = Utc::now();
        assert!(
            store
                .insert_once("k", now + TimeDelta::minutes(1), now)
                .await
                .expect("insert")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !store
                .insert_once("k", now + TimeDelta::minutes(1), now)
                .await
                .expect("still there: the in-memory database outlives idle time")
        );
    }
    assert_eq!(panics.load(Ordering::SeqCst), 0, "a pool task panicked");
}

#[tokio::test]
async fn sqlite_files_use_write_ahead_logging() {
    use sea_orm::{ConnectionTrait, Statement};
    let path = std::env::temp_dir().join(format!("saml_t_wal_{}.sqlite", std::process::id()));
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("SQLite file");
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(
            store.backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .expect("pragma")
        .expect("a row");
    let mode: String = row.try_get_by_index(0).expect("mode");
    assert_eq!(mode, "wal");
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
