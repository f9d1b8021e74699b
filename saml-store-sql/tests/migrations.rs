//! Versioned migrations on every database: from an empty namespace, from a
//! database made by the old unversioned `migrate` (tables, rows, no
//! `saml_migrations`), several nodes migrating at once, and a database
//! migrated by a newer release.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use saml_core::store::{ReplayCache, SessionStore, StoreError};
use saml_store_sql::SqlStore;
use saml_testkit::conformance::{at, sample_pending, sample_session, sample_user};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend};

/// The old store's key hash: SHA-256 of the parts joined by NUL, hex.
fn sha(parts: &[&str]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parts.join("\0").as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

use common::{Server, fresh_url, index_names, raw, table_names};

/// What the unversioned `migrate` of earlier releases ran.
fn old_migrate_sql(backend: DatabaseBackend) -> [&'static str; 3] {
    match backend {
        DatabaseBackend::Sqlite => [
            r#"CREATE TABLE IF NOT EXISTS "saml_session" ( "key_hash" varchar NOT NULL PRIMARY KEY, "subject_hash" varchar NOT NULL, "session_index_hash" varchar, "record" text NOT NULL, "last_seen" integer NOT NULL, "expires_at" integer NOT NULL )"#,
            r#"CREATE TABLE IF NOT EXISTS "saml_replay" ( "key_hash" varchar NOT NULL PRIMARY KEY, "expires_at" integer NOT NULL )"#,
            r#"CREATE TABLE IF NOT EXISTS "saml_pending" ( "key_hash" varchar NOT NULL PRIMARY KEY, "record" text NOT NULL, "expires_at" integer NOT NULL )"#,
        ],
        DatabaseBackend::Postgres => [
            r#"CREATE TABLE IF NOT EXISTS "saml_session" ( "key_hash" varchar NOT NULL PRIMARY KEY, "subject_hash" varchar NOT NULL, "session_index_hash" varchar, "record" text NOT NULL, "last_seen" bigint NOT NULL, "expires_at" bigint NOT NULL )"#,
            r#"CREATE TABLE IF NOT EXISTS "saml_replay" ( "key_hash" varchar NOT NULL PRIMARY KEY, "expires_at" bigint NOT NULL )"#,
            r#"CREATE TABLE IF NOT EXISTS "saml_pending" ( "key_hash" varchar NOT NULL PRIMARY KEY, "record" text NOT NULL, "expires_at" bigint NOT NULL )"#,
        ],
        _ => [
            "CREATE TABLE IF NOT EXISTS `saml_session` ( `key_hash` varchar(255) NOT NULL PRIMARY KEY, `subject_hash` varchar(255) NOT NULL, `session_index_hash` varchar(255), `record` text NOT NULL, `last_seen` bigint NOT NULL, `expires_at` bigint NOT NULL )",
            "CREATE TABLE IF NOT EXISTS `saml_replay` ( `key_hash` varchar(255) NOT NULL PRIMARY KEY, `expires_at` bigint NOT NULL )",
            "CREATE TABLE IF NOT EXISTS `saml_pending` ( `key_hash` varchar(255) NOT NULL PRIMARY KEY, `record` text NOT NULL, `expires_at` bigint NOT NULL )",
        ],
    }
}

fn expected_tables() -> BTreeSet<String> {
    [
        "saml_audit",
        "saml_key",
        "saml_metadata_archive",
        "saml_migrations",
        "saml_pending",
        "saml_provider",
        "saml_replay",
        "saml_session",
        "saml_user",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn expected_indexes() -> BTreeSet<String> {
    [
        "idx_saml_audit_at",
        "idx_saml_audit_kind_at",
        "idx_saml_audit_provider_at",
        "idx_saml_key_signing_current",
        "idx_saml_pending_expires_at",
        "idx_saml_provider_entity_key",
        "idx_saml_replay_expires_at",
        "idx_saml_session_expires_at",
        "idx_saml_session_provider_key",
        "idx_saml_session_subject_hash",
        "idx_saml_user_provider_key",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// Everything a fully migrated namespace has, and nothing of sea-orm's own
/// history table.
async fn assert_fully_migrated(store: &SqlStore) {
    assert_eq!(
        store.applied_migrations().await.expect("applied"),
        SqlStore::known_migrations()
    );
    let tables = table_names(store).await;
    assert!(!tables.contains("seaql_migrations"), "{tables:?}");
    assert_eq!(tables, expected_tables());
    assert_eq!(index_names(store).await, expected_indexes());
}

/// A namespace with the old tables (and some rows in them), not migrated.
async fn old_style(server: Server) -> String {
    let url = fresh_url(server).await;
    let db = raw(&url).await;
    for sql in old_migrate_sql(db.get_database_backend()) {
        db.execute_unprepared(sql).await.expect("old CREATE TABLE");
    }
    // Rows as the old store wrote them (its columns, its key hashes).
    let session = sample_session(
        "sid-old",
        sample_user("okta", "alice@example.com", Some("idx-1")),
        at(0),
        at(3600),
    );
    let pending = sample_pending("request-old", at(0), at(300));
    let inserts = [
        Query::insert()
            .into_table(Alias::new("saml_session"))
            .columns(
                [
                    "key_hash",
                    "subject_hash",
                    "session_index_hash",
                    "record",
                    "last_seen",
                    "expires_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                sha(&["sid-old"]).into(),
                sha(&["okta", "alice@example.com"]).into(),
                sha(&["idx-1"]).into(),
                serde_json::to_string(&session).unwrap().into(),
                at(0).timestamp_micros().into(),
                at(3600).timestamp_micros().into(),
            ])
            .to_owned(),
        Query::insert()
            .into_table(Alias::new("saml_replay"))
            .columns(["key_hash", "expires_at"].map(Alias::new))
            .values_panic([
                sha(&["assertion-old"]).into(),
                at(3600).timestamp_micros().into(),
            ])
            .to_owned(),
        Query::insert()
            .into_table(Alias::new("saml_pending"))
            .columns(["key_hash", "record", "expires_at"].map(Alias::new))
            .values_panic([
                sha(&["request-old"]).into(),
                serde_json::to_string(&pending).unwrap().into(),
                at(300).timestamp_micros().into(),
            ])
            .to_owned(),
    ];
    for insert in &inserts {
        db.execute(insert).await.expect("old row");
    }
    assert!(
        SqlStore::from_connection(db.clone())
            .applied_migrations()
            .await
            .expect("none")
            .is_empty()
    );
    db.close().await.expect("close");
    url
}

async fn from_empty(server: Server) {
    let url = fresh_url(server).await;
    let store = SqlStore::connect(&url).await.expect("connect migrates");
    assert_fully_migrated(&store).await;
    // Idempotent: again and again, nothing changes.
    store.migrate().await.expect("second run");
    store.migrate().await.expect("third run");
    assert_fully_migrated(&store).await;
}

async fn from_old_style(server: Server) {
    let url = old_style(server).await;
    let store = SqlStore::connect(&url).await.expect("upgrade");
    assert_fully_migrated(&store).await;
    // The old rows survived and still mean the same.
    assert!(store.load("sid-old", at(10)).await.expect("load").is_some());
    assert!(
        !store
            .insert_once("assertion-old", at(3600), at(10))
            .await
            .expect("replay")
    );
    assert!(
        store
            .take_pending("request-old", at(10))
            .await
            .expect("take")
            .is_some()
    );
    assert_eq!(
        store
            .delete_by_subject("okta", "alice@example.com", Some("idx-1"))
            .await
            .expect("delete by subject"),
        1
    );
    // And the new tables work.
    store
        .users()
        .add(saml_store_sql::NewUser::new("okta", "alice"), at(0))
        .await
        .expect("user");
    let kek = saml_store_sql::KeyEncryptionKey::from_bytes(&[9; 32]).expect("kek");
    assert!(store.keys(kek).list().await.expect("keys").is_empty());
    let archive = store.metadata_archive();
    let copy = saml_remote::ArchivedMetadata::new("<x/>", at(0));
    saml_remote::MetadataArchive::save(&archive, "https://idp.example/md", &copy)
        .await
        .expect("archive");
}

/// Several nodes start at once: every `connect` succeeds and each migration
/// is applied (and recorded) once.
async fn concurrently(server: Server, url: String) {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { SqlStore::connect(&url).await }));
    }
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(
            task.await
                .expect("task")
                .expect("every node migrates or waits"),
        );
    }
    for store in &stores {
        assert_fully_migrated(store).await;
    }
    let _ = server;
}

/// A database of the release before the key store and the metadata
/// archive (migrations 1 to 5 recorded) gets 6 and 7, and keeps its rows.
async fn from_the_previous_release(server: Server) {
    let url = fresh_url(server).await;
    let store = SqlStore::connect(&url).await.expect("connect");
    store
        .users()
        .add(saml_store_sql::NewUser::new("okta", "alice"), at(0))
        .await
        .expect("user");
    let db = store.connection();
    db.execute_unprepared("DROP TABLE saml_key")
        .await
        .expect("drop");
    db.execute_unprepared("DROP TABLE saml_metadata_archive")
        .await
        .expect("drop");
    db.execute_unprepared(
        "DELETE FROM saml_migrations WHERE version IN ('m20261123_000006_create_keys', 'm20261123_000007_create_metadata_archive')",
    )
    .await
    .expect("forget");
    assert_eq!(store.applied_migrations().await.expect("applied").len(), 5);
    let upgraded = SqlStore::connect(&url).await.expect("upgrade");
    assert_fully_migrated(&upgraded).await;
    assert!(
        upgraded
            .users()
            .get("okta", "alice")
            .await
            .expect("get")
            .is_some()
    );
}

async fn newer_database_is_refused(server: Server) {
    let url = fresh_url(server).await;
    let store = SqlStore::connect(&url).await.expect("connect");
    store
        .connection()
        .execute_unprepared(
            "INSERT INTO saml_migrations (version, applied_at) VALUES ('m20991231_000001_from_a_newer_release', 0)",
        )
        .await
        .expect("insert");
    let err = store.migrate().await.expect_err("unknown migration");
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("m20991231_000001_from_a_newer_release")),
        "{err:?}"
    );
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test]
            async fn migrates_an_empty_database() {
                from_empty(Server::$server).await;
            }

            #[tokio::test]
            async fn adopts_a_database_of_the_unversioned_migrate() {
                from_old_style(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn nodes_migrating_at_once_from_empty() {
                concurrently(Server::$server, fresh_url(Server::$server).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn nodes_migrating_at_once_from_the_old_schema() {
                concurrently(Server::$server, old_style(Server::$server).await).await;
            }

            #[tokio::test]
            async fn upgrades_a_database_of_the_previous_release() {
                from_the_previous_release(Server::$server).await;
            }

            #[tokio::test]
            async fn refuses_a_database_of_a_newer_release() {
                newer_database_is_refused(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Postgres, Mysql, Sqlite);

#[tokio::test]
async fn sqlite_in_memory_is_migrated_too() {
    let store = SqlStore::connect("sqlite::memory:").await.expect("memory");
    assert_fully_migrated(&store).await;
}

/// A node opening an SQLite file while another process holds its write lock
/// (as a node migrating it does) waits longer than a request would (sqlx's
/// 5 s), instead of failing with "database is locked"; once open, requests
/// go back to the short wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_waits_for_a_migrating_node_longer_than_a_request_would() {
    let url = fresh_url(Server::Sqlite).await;
    let first = SqlStore::connect(&url).await.expect("first node");
    let holder = raw(&url).await;
    holder
        .execute_unprepared("BEGIN IMMEDIATE")
        .await
        .expect("write lock");
    let second = tokio::spawn({
        let url = url.clone();
        async move { SqlStore::connect(&url).await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    holder.execute_unprepared("COMMIT").await.expect("release");
    let second = second.await.expect("task").expect("waited for the lock");
    assert_fully_migrated(&second).await;
    let timeout = second
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA busy_timeout",
        ))
        .await
        .expect("pragma")
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a number");
    assert_eq!(timeout, 5_000);
    drop(first);
}
