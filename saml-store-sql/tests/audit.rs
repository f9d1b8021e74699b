//! The audit log on every database: append, newest first, filters, limits,
//! paging back in time, retention purge, bounded fields, fail closed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use saml_core::store::{AuditEvent, AuditKind, AuditSink, StoreError};
use saml_store_sql::{AuditFilter, MAX_AUDIT_LIMIT};
use saml_testkit::conformance::at;

use common::{Server, fresh, two_nodes};

async fn append_and_query(server: Server) {
    let store = fresh(server).await;
    assert!(
        store
            .audit_log(&AuditFilter::new())
            .await
            .unwrap()
            .is_empty()
    );
    let login = AuditEvent::new(AuditKind::Login, at(0))
        .provider("okta")
        .subject("alice@example.com")
        .client_address("2001:db8::1");
    let failed = AuditEvent::new(AuditKind::LoginFailed, at(10))
        .provider("okta")
        .code("audience_mismatch")
        .detail("the assertion is for another SP");
    let replay = AuditEvent::new(AuditKind::Replay, at(20))
        .provider("entra")
        .code("replayed");
    let logout = AuditEvent::new(AuditKind::Logout, at(30));
    let imported = AuditEvent::new(AuditKind::UsersImported, at(30))
        .provider("okta")
        .subject("admin")
        .detail("added 2, skipped 0 (already present), failed 0");
    let changed = AuditEvent::new(AuditKind::ProviderChanged, at(40))
        .provider("entra")
        .subject("admin");
    let sink: Arc<dyn AuditSink> = Arc::new(store.clone());
    for event in [&login, &failed, &replay, &logout, &imported, &changed] {
        sink.record(event.clone()).await.unwrap();
    }

    // Newest first, every field back as it went in; equal times keep the
    // order they were recorded in (newest first).
    assert_eq!(
        store.audit_log(&AuditFilter::new()).await.unwrap(),
        vec![
            changed.clone(),
            imported.clone(),
            logout.clone(),
            replay.clone(),
            failed.clone(),
            login.clone()
        ]
    );
    let okta = store
        .audit_log(&AuditFilter::new().provider("okta"))
        .await
        .unwrap();
    assert_eq!(okta, vec![imported.clone(), failed.clone(), login.clone()]);
    let okta_failures = store
        .audit_log(
            &AuditFilter::new()
                .provider("okta")
                .kind(AuditKind::LoginFailed),
        )
        .await
        .unwrap();
    assert_eq!(okta_failures, vec![failed.clone()]);
    assert_eq!(
        store
            .audit_log(&AuditFilter::new().kind(AuditKind::Replay))
            .await
            .unwrap(),
        vec![replay.clone()]
    );
    assert!(
        store
            .audit_log(&AuditFilter::new().provider("OKTA"))
            .await
            .unwrap()
            .is_empty(),
        "providers compare exactly"
    );

    // Limit and paging back in time.
    let newest_two = store.audit_log(&AuditFilter::new().limit(2)).await.unwrap();
    assert_eq!(newest_two, vec![changed, imported]);
    let older = store
        .audit_log(&AuditFilter::new().before(at(30)).limit(2))
        .await
        .unwrap();
    assert_eq!(older, vec![replay, failed]);
    assert!(
        store
            .audit_log(&AuditFilter::new().limit(0))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn purge_by_retention(server: Server) {
    let store = fresh(server).await;
    for day in 0..10 {
        store
            .record(AuditEvent::new(AuditKind::Login, at(day * 86_400)))
            .await
            .unwrap();
    }
    // At day 10 with 7 days kept: days 0, 1 and 2 go (day 3 is exactly 7
    // days old and stays).
    let now = at(10 * 86_400);
    assert_eq!(
        store
            .purge_audit_log(now, TimeDelta::days(7))
            .await
            .unwrap(),
        3
    );
    let left = store.audit_log(&AuditFilter::new()).await.unwrap();
    assert_eq!(left.len(), 7);
    assert_eq!(left.last().unwrap().at, at(3 * 86_400));
    assert_eq!(
        store
            .purge_audit_log(now, TimeDelta::days(7))
            .await
            .unwrap(),
        0
    );
    // A retention longer than time itself purges nothing; zero purges all past events.
    assert_eq!(store.purge_audit_log(now, TimeDelta::MAX).await.unwrap(), 0);
    assert_eq!(
        store.purge_audit_log(now, TimeDelta::zero()).await.unwrap(),
        7
    );
}

/// Oversized text is cut, not refused (an event is never lost for being long).
async fn long_fields_are_cut(server: Server) {
    let store = fresh(server).await;
    let long = "é".repeat(5_000);
    store
        .record(
            AuditEvent::new(AuditKind::LoginFailed, at(0))
                .provider(long.clone())
                .subject(long.clone())
                .client_address(long.clone())
                .code(long.clone())
                .detail(long.clone()),
        )
        .await
        .unwrap();
    let event = store
        .audit_log(&AuditFilter::new())
        .await
        .unwrap()
        .remove(0);
    let chars = |s: &Option<String>| s.as_deref().unwrap().chars().count();
    assert_eq!(chars(&event.provider), 255);
    assert_eq!(chars(&event.subject), 1024);
    assert_eq!(chars(&event.client_address), 255);
    assert_eq!(chars(&event.code), 64);
    assert_eq!(chars(&event.detail), 1024);
}

/// Two nodes append at once: every event is kept, one row each.
async fn two_nodes_append(server: Server) {
    let (a, b) = two_nodes(server).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .record(AuditEvent::new(AuditKind::Login, at(i)).subject(format!("user-{i}")))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let all = a
        .audit_log(&AuditFilter::new().limit(MAX_AUDIT_LIMIT))
        .await
        .unwrap();
    assert_eq!(all.len(), 200);
    assert_eq!(all[0].at, at(199));
}

async fn fails_closed(server: Server) {
    let store = fresh(server).await;
    store.connection().clone().close().await.unwrap();
    let unavailable = |e: &StoreError| matches!(e, StoreError::Unavailable(_));
    assert!(
        store
            .record(AuditEvent::new(AuditKind::Login, at(0)))
            .await
            .is_err_and(|e| unavailable(&e))
    );
    assert!(
        store
            .audit_log(&AuditFilter::new())
            .await
            .is_err_and(|e| unavailable(&e))
    );
    assert!(
        store
            .purge_audit_log(at(0), TimeDelta::days(1))
            .await
            .is_err_and(|e| unavailable(&e))
    );
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test]
            async fn append_query_filter() {
                append_and_query(Server::$server).await;
            }

            #[tokio::test]
            async fn purge() {
                purge_by_retention(Server::$server).await;
            }

            #[tokio::test]
            async fn long_fields() {
                long_fields_are_cut(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn two_nodes() {
                two_nodes_append(Server::$server).await;
            }

            #[tokio::test]
            async fn database_gone() {
                fails_closed(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Postgres, Mysql, Sqlite);
