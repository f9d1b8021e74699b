//! The shared conformance suite on SQLite (in memory and in a file),
//! PostgreSQL and MariaDB/MySQL; see `common` for where the stores live.

mod common;

use common::{Server, fresh};

mod on_sqlite_in_memory {
    saml_testkit::store_conformance_tests!(
        saml_store_sql::SqlStore::connect("sqlite::memory:")
            .await
            .expect("SQLite in memory")
    );
}

mod on_sqlite_file {
    saml_testkit::store_conformance_tests!(super::fresh(super::Server::Sqlite).await);
}

mod on_postgres {
    saml_testkit::store_conformance_tests!(super::fresh(super::Server::Postgres).await);
}

mod on_mysql {
    saml_testkit::store_conformance_tests!(super::fresh(super::Server::Mysql).await);
}
