//! The in-memory audit log: a bounded ring buffer, newest first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use saml_core::store::{AuditEvent, AuditKind, AuditSink};
use saml_store_memory::{DEFAULT_MAX_AUDIT_EVENTS, MemoryStore};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_700_000_000 + seconds)
}

#[tokio::test]
async fn events_come_back_newest_first_with_every_field() {
    let store = MemoryStore::new();
    assert!(store.recent_audit_events().await.is_empty());
    let login = AuditEvent::new(AuditKind::Login, at(0))
        .provider("okta")
        .subject("alice@example.com")
        .client_address("192.0.2.1");
    let failed = AuditEvent::new(AuditKind::LoginFailed, at(1))
        .provider("okta")
        .code("expired")
        .detail("the assertion expired 30 s ago");
    store.record(login.clone()).await.unwrap();
    store.record(failed.clone()).await.unwrap();
    assert_eq!(store.recent_audit_events().await, vec![failed, login]);
    assert_eq!(store.stats().await.audit_events, 2);
}

#[tokio::test]
async fn the_ring_buffer_keeps_the_newest_events() {
    let store = MemoryStore::new().with_max_audit_events(3);
    for i in 0..10 {
        store
            .record(AuditEvent::new(AuditKind::Logout, at(i)))
            .await
            .unwrap();
    }
    let kept: Vec<_> = store
        .recent_audit_events()
        .await
        .iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(kept, vec![at(9), at(8), at(7)]);
}

#[tokio::test]
async fn a_cap_of_zero_keeps_nothing() {
    let store = MemoryStore::new().with_max_audit_events(0);
    store
        .record(AuditEvent::new(AuditKind::Replay, at(0)))
        .await
        .unwrap();
    assert!(store.recent_audit_events().await.is_empty());
}

#[tokio::test]
async fn the_default_cap_holds_and_clones_share_the_log() {
    let store = MemoryStore::new();
    let clone = store.clone();
    let sink: Arc<dyn AuditSink> = Arc::new(clone);
    for i in 0..(DEFAULT_MAX_AUDIT_EVENTS + 5) {
        sink.record(AuditEvent::new(
            AuditKind::Login,
            at(i64::try_from(i).unwrap()),
        ))
        .await
        .unwrap();
    }
    let events = store.recent_audit_events().await;
    assert_eq!(events.len(), DEFAULT_MAX_AUDIT_EVENTS);
    assert_eq!(
        events[0].at,
        at(i64::try_from(DEFAULT_MAX_AUDIT_EVENTS + 4).unwrap())
    );
}
