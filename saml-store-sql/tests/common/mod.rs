//! Fresh stores on each database server for the integration tests.
//!
//! SQLite runs in a file under the temp directory; on PostgreSQL each store
//! gets a new schema, on MySQL a new database, named
//! `saml_t_<pid>_<n>_<nanos>`. The servers come from
//! `SAML_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and `SAML_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`);
//! `.ci/run` starts both and drops the namespaces earlier runs left behind.
//! A server that is down fails these tests: nothing is skipped.

#![allow(dead_code, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use saml_store_sql::SqlStore;
use sea_orm::{ConnectionTrait, Database};

/// The database servers the tests run on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Server {
    Sqlite,
    Postgres,
    Mysql,
}

/// A namespace name no other case (or concurrent run) uses.
fn namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "saml_t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn server_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A URL for a new, empty namespace on `server`.
pub(crate) async fn fresh_url(server: Server) -> String {
    let name = namespace();
    match server {
        Server::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.sqlite"));
            format!("sqlite://{}?mode=rwc", path.display())
        }
        Server::Postgres => {
            let url = server_url(
                "SAML_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            );
            let admin = Database::connect(&url)
                .await
                .expect("PostgreSQL is running");
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {name}"))
                .await
                .expect("create schema");
            admin.close().await.expect("close");
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}options=-c%20search_path%3D{name}")
        }
        Server::Mysql => {
            let url = server_url("SAML_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
            let admin = Database::connect(&url).await.expect("MariaDB is running");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            admin.close().await.expect("close");
            let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
            format!("{base}/{name}")
        }
    }
}

/// A fresh, empty store on `server`.
pub(crate) async fn fresh(server: Server) -> SqlStore {
    let url = fresh_url(server).await;
    SqlStore::connect(&url).await.expect("store")
}

/// Two stores with their own pools on one fresh namespace: two nodes.
pub(crate) async fn two_nodes(server: Server) -> (SqlStore, SqlStore) {
    let url = fresh_url(server).await;
    let a = SqlStore::connect(&url).await.expect("node A");
    let b = SqlStore::connect(&url).await.expect("node B");
    (a, b)
}
