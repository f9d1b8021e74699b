//! What only a shared database gives: several nodes (here, several pools on
//! one PostgreSQL schema or MySQL database) see one set of sessions, replay
//! keys and pending logins; the tables never hold a usable key; and a
//! database that goes away fails closed.

#![allow(clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use saml_core::store::{ReplayCache, SessionStore, StoreError};
use saml_store_sql::SqlStore;
use saml_testkit::conformance::sample_user;
use saml_testkit::conformance::{at, sample_pending, sample_session};
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Statement};

use common::{Server, two_nodes};

async fn nodes_share_sessions_replay_keys_and_pending_logins(server: Server) {
    let (a, b) = two_nodes(server).await;

    // A session created on A works on B; logging out on B ends it on A.
    let session = sample_session(
        "sid-hash-1",
        sample_user("okta", "alice@example.com", None),
        at(0),
        at(3600),
    );
    a.create(session.clone()).await.expect("create on A");
    assert_eq!(
        b.load("sid-hash-1", at(10)).await.expect("load on B"),
        Some(session)
    );
    b.delete("sid-hash-1").await.expect("delete on B");
    assert_eq!(a.load("sid-hash-1", at(20)).await.expect("load on A"), None);

    // An assertion ID used on A is a replay on B.
    assert!(
        a.insert_once("assertion-1", at(300), at(0))
            .await
            .expect("A")
    );
    assert!(
        !b.insert_once("assertion-1", at(300), at(1))
            .await
            .expect("B")
    );

    // A pending login saved on A is taken once, by whichever node asks first.
    a.save_pending(sample_pending("req-1", at(0), at(300)))
        .await
        .expect("save on A");
    assert!(b.take_pending("req-1", at(5)).await.expect("B").is_some());
    assert!(a.take_pending("req-1", at(6)).await.expect("A").is_none());
}

/// How many IDs the race uses: 1,000 by default so the suite stays quick
/// on two cores; `SAML_RACE_IDS=10000` runs the full-size race.
fn race_ids() -> usize {
    std::env::var("SAML_RACE_IDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// 32 tasks spread over two nodes insert the same IDs: each is accepted once.
async fn racing_nodes_accept_each_replay_id_once(server: Server, ids: usize) {
    let (a, b) = two_nodes(server).await;
    let nodes = [Arc::new(a), Arc::new(b)];
    let mut tasks = Vec::new();
    for task in 0..32 {
        let node = Arc::clone(&nodes[task % 2]);
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            // Half the tasks walk the IDs backwards, so races happen all along.
            let order: Vec<usize> = if task % 4 < 2 {
                (0..ids).collect()
            } else {
                (0..ids).rev().collect()
            };
            for i in order {
                if node
                    .insert_once(&format!("id-{i}"), at(3600), at(0))
                    .await
                    .expect("insert_once")
                {
                    won.push(i);
                }
            }
            won
        }));
    }
    let mut accepted = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for i in task.await.expect("task") {
            total += 1;
            assert!(accepted.insert(i), "id-{i} accepted twice");
        }
    }
    assert_eq!(total, ids, "every ID accepted exactly once");
}

/// The session table holds hashes of hashes: the value the layer passes as
/// `id_hash` (itself the SHA-256 of the cookie) appears nowhere.
async fn tables_hold_no_usable_keys(server: Server) {
    let (a, _) = two_nodes(server).await;
    let id_hash = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed";
    a.create(sample_session(
        id_hash,
        sample_user("okta", "alice@example.com", None),
        at(0),
        at(3600),
    ))
    .await
    .expect("create");
    let backend = a.backend();
    let rows = a
        .connection()
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT key_hash FROM saml_session",
        ))
        .await
        .expect("select");
    assert_eq!(rows.len(), 1);
    let key: String = rows[0].try_get("", "key_hash").expect("key_hash");
    assert_eq!(key.len(), 64);
    assert_ne!(key, id_hash);
}

/// A store whose database went away answers `Unavailable`, never a record.
async fn a_closed_pool_fails_closed(server: Server) {
    let (a, _) = two_nodes(server).await;
    a.create(sample_session(
        "sid",
        sample_user("okta", "alice@example.com", None),
        at(0),
        at(3600),
    ))
    .await
    .expect("create");
    a.connection().clone().close().await.expect("close");
    let unavailable = |r: &StoreError| matches!(r, StoreError::Unavailable(_));
    assert!(a.load("sid", at(1)).await.is_err_and(|e| unavailable(&e)));
    assert!(
        a.insert_once("k", at(60), at(1))
            .await
            .is_err_and(|e| unavailable(&e))
    );
    assert!(
        a.take_pending("r", at(1))
            .await
            .is_err_and(|e| unavailable(&e))
    );
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    for url in [
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
    ] {
        let mut options = ConnectOptions::new(url);
        options
            .connect_timeout(Duration::from_secs(2))
            .acquire_timeout(Duration::from_secs(2));
        let err = SqlStore::connect_with(options).await.expect_err(url);
        assert!(matches!(err, StoreError::Unavailable(_)), "{url}: {err:?}");
    }
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn nodes_share_state() {
                nodes_share_sessions_replay_keys_and_pending_logins(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_nodes() {
                racing_nodes_accept_each_replay_id_once(Server::$server, race_ids()).await;
            }

            #[tokio::test]
            async fn hashed_keys() {
                tables_hold_no_usable_keys(Server::$server).await;
            }

            #[tokio::test]
            async fn closed_pool() {
                a_closed_pool_fails_closed(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Postgres, Mysql, Sqlite);
