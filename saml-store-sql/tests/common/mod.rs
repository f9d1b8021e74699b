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

/// Connects to `url` without migrating (to build old-style databases).
pub(crate) async fn raw(url: &str) -> sea_orm::DatabaseConnection {
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.max_connections(1).min_connections(1);
    }
    Database::connect(options).await.expect("connect")
}

/// The names of the indexes in the store's namespace.
pub(crate) async fn index_names(store: &SqlStore) -> std::collections::BTreeSet<String> {
    use sea_orm::{DatabaseBackend, Statement};
    let backend = store.backend();
    let sql = match backend {
        DatabaseBackend::Sqlite => {
            "SELECT name AS n FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'"
        }
        DatabaseBackend::Postgres => {
            "SELECT indexname::text AS n FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'idx_%'"
        }
        _ => {
            "SELECT DISTINCT index_name AS n FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name LIKE 'idx_%'"
        }
    };
    store
        .connection()
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("list indexes")
        .iter()
        .map(|row| row.try_get::<String>("", "n").expect("index name"))
        .collect()
}

/// The names of the tables in the store's namespace.
pub(crate) async fn table_names(store: &SqlStore) -> std::collections::BTreeSet<String> {
    use sea_orm::{DatabaseBackend, Statement};
    let backend = store.backend();
    let sql = match backend {
        DatabaseBackend::Sqlite => {
            "SELECT name AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        DatabaseBackend::Postgres => {
            "SELECT tablename::text AS n FROM pg_tables WHERE schemaname = current_schema()"
        }
        _ => {
            "SELECT table_name AS n FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
    };
    store
        .connection()
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("list tables")
        .iter()
        .map(|row| row.try_get::<String>("", "n").expect("table name"))
        .collect()
}

/// A validated assertion from the development IdP (for `UserMapper` calls;
/// the mappers under test mostly look at what an inner mapper returns).
pub(crate) fn sample_assertion() -> saml_core::protocol::Assertion {
    use saml_core::clock::{FixedClock, parse_datetime};
    use saml_core::crypto::Certificate;
    use saml_core::protocol::{Expectation, ResponseValidator};
    use saml_testkit::dev_idp::{DevIdp, DevIdpConfig, ResponseParams};
    static ONE: std::sync::OnceLock<saml_core::protocol::Assertion> = std::sync::OnceLock::new();
    ONE.get_or_init(|| {
        const SP: &str = "https://sp.example.test/saml/metadata";
        const ACS: &str = "https://sp.example.test/saml/acs";
        let idp = DevIdp::new(DevIdpConfig::new(
            "https://idp.example.test/metadata",
            "https://idp.example.test/sso",
        ))
        .expect("dev IdP");
        let clock = FixedClock(parse_datetime("2026-01-01T12:00:00Z").expect("time"));
        let params = ResponseParams::new(ACS, SP).answering("_request-1");
        let user = idp.user("alice@example.com").expect("alice");
        let xml = idp.issue_response(user, &params, &clock).expect("response");
        let cert = Certificate::from_pem(&idp.certificate_pem())
            .expect("certificate")
            .remove(0);
        ResponseValidator::new(idp.entity_id(), vec![cert.public_key().clone()], SP, ACS)
            .validate_xml(
                &xml,
                &Expectation {
                    in_response_to: Some("_request-1"),
                    force_authn_since: None,
                },
                &clock,
            )
            .expect("a valid assertion")
    })
    .clone()
}

/// A provider named `name` (metadata is not looked at by the stores).
pub(crate) fn provider(name: &str) -> saml_core::store::Provider {
    saml_core::store::Provider {
        name: name.to_owned(),
        metadata: saml_core::metadata::IdpMetadata::from_parts(
            "https://idp.example.test/metadata",
            vec![],
            vec![],
            vec![],
        ),
        settings: saml_core::store::ProviderSettings::default(),
    }
}
