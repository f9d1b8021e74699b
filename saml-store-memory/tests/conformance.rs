//! The shared conformance suite against the memory stores, plus the memory
//! store's own rules: caps, lazy purging, shared clones.

#![allow(clippy::panic)] // test helpers outside #[test] functions

use std::sync::Arc;

use saml_core::metadata::IdpMetadata;
use saml_core::store::{
    KeyStore, MetadataResolver, Provider, ProviderSettings, ReplayCache, SessionStore, SpKeys,
    StoreError, UserMapper,
};
use saml_store_memory::{
    MemoryStats, MemoryStore, PassThroughMapper, StaticKeyStore, StaticMetadataResolver,
};
use saml_testkit::conformance::{at, sample_pending, sample_session, sample_user};

/// The suite with the defaults.
mod defaults {
    use saml_store_memory::{MemoryStore, StaticMetadataResolver};

    saml_testkit::store_conformance_tests!(MemoryStore::new());
    saml_testkit::metadata_resolver_tests!(|providers| StaticMetadataResolver::new(providers));
}

/// The suite again with a lazy purge on every write: purging must never
/// change what callers observe.
mod purge_on_every_write {
    use saml_store_memory::MemoryStore;

    saml_testkit::store_conformance_tests!(MemoryStore::new().with_purge_every(1));
}

/// The suite through `try_new`.
mod checked_resolver {
    use saml_store_memory::StaticMetadataResolver;

    saml_testkit::metadata_resolver_tests!(
        |providers| StaticMetadataResolver::try_new(providers).unwrap()
    );
}

fn unavailable<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Unavailable(message)) => message,
        other => panic!("expected StoreError::Unavailable, got {other:?}"),
    }
}

fn stats(sessions: usize, replay_entries: usize, pending: usize) -> MemoryStats {
    let mut s = MemoryStats::default();
    s.sessions = sessions;
    s.replay_entries = replay_entries;
    s.pending = pending;
    s
}

#[tokio::test]
async fn pending_cap_refuses_new_logins() {
    let store = MemoryStore::new().with_max_pending(3);
    for i in 0..3 {
        store
            .save_pending(sample_pending(&format!("req-{i}"), at(0), at(300)))
            .await
            .unwrap();
    }
    let refused = store
        .save_pending(sample_pending("req-3", at(1), at(301)))
        .await;
    assert_eq!(unavailable(refused), "too many pending logins");
    // A duplicate is still a conflict, and the existing ones still work.
    assert!(matches!(
        store
            .save_pending(sample_pending("req-0", at(1), at(301)))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.take_pending("req-0", at(2)).await.unwrap().is_some());
    // Taking one frees a place.
    store
        .save_pending(sample_pending("req-3", at(2), at(302)))
        .await
        .unwrap();
    assert_eq!(store.stats().await, stats(0, 0, 3));
}

#[tokio::test]
async fn pending_cap_purges_expired_first() {
    let store = MemoryStore::new().with_max_pending(2);
    store
        .save_pending(sample_pending("req-a", at(0), at(100)))
        .await
        .unwrap();
    store
        .save_pending(sample_pending("req-b", at(0), at(500)))
        .await
        .unwrap();
    // Issued at 100: req-a has expired by then and makes room.
    store
        .save_pending(sample_pending("req-c", at(100), at(400)))
        .await
        .unwrap();
    assert_eq!(store.stats().await, stats(0, 0, 2));
    // Nothing has expired at 200: full.
    assert_eq!(
        unavailable(
            store
                .save_pending(sample_pending("req-d", at(200), at(500)))
                .await
        ),
        "too many pending logins"
    );
}

#[tokio::test]
async fn replay_cap_fails_closed_and_still_detects_replays() {
    let store = MemoryStore::new().with_max_replay_entries(3);
    for key in ["k1", "k2", "k3"] {
        assert!(store.insert_once(key, at(100), at(0)).await.unwrap());
    }
    assert_eq!(
        unavailable(store.insert_once("k4", at(100), at(1)).await),
        "too many replay cache entries"
    );
    assert!(
        !store.insert_once("k1", at(100), at(1)).await.unwrap(),
        "at the cap, replays are still detected"
    );
    // Once they expire, the cap makes room by purging.
    assert!(store.insert_once("k4", at(200), at(100)).await.unwrap());
    assert_eq!(store.stats().await, stats(0, 1, 0));
}

#[tokio::test]
async fn replay_cap_reuses_expired_key_in_place() {
    let store = MemoryStore::new().with_max_replay_entries(1);
    assert!(store.insert_once("k1", at(10), at(0)).await.unwrap());
    assert!(
        store.insert_once("k1", at(20), at(10)).await.unwrap(),
        "an expired key is remembered again without growing"
    );
    assert!(!store.insert_once("k1", at(20), at(11)).await.unwrap());
}

#[tokio::test]
async fn session_cap_refuses_new_sessions() {
    let store = MemoryStore::new().with_max_sessions(2);
    let user = || sample_user("idp-a", "alice", None);
    store
        .create(sample_session("s1", user(), at(0), at(100)))
        .await
        .unwrap();
    store
        .create(sample_session("s2", user(), at(0), at(1000)))
        .await
        .unwrap();
    assert_eq!(
        unavailable(
            store
                .create(sample_session("s3", user(), at(50), at(1000)))
                .await
        ),
        "too many sessions"
    );
    // Created at 100: s1 has expired by then and makes room.
    store
        .create(sample_session("s3", user(), at(100), at(1000)))
        .await
        .unwrap();
    assert_eq!(store.load("s1", at(100)).await.unwrap(), None);
    assert!(store.load("s3", at(100)).await.unwrap().is_some());
    assert_eq!(store.stats().await, stats(2, 0, 0));
}

#[tokio::test]
async fn default_caps() {
    let store = MemoryStore::new();
    for i in 0..10_000 {
        store
            .save_pending(sample_pending(&format!("req-{i}"), at(0), at(300)))
            .await
            .unwrap();
    }
    assert_eq!(
        unavailable(
            store
                .save_pending(sample_pending("one-too-many", at(0), at(300)))
                .await
        ),
        "too many pending logins"
    );
    let debug = format!("{store:?}");
    assert!(debug.contains("max_pending: 10000"), "{debug}");
    assert!(debug.contains("max_replay_entries: 100000"), "{debug}");
    assert!(debug.contains("max_sessions: 100000"), "{debug}");
}

#[tokio::test]
async fn lazy_purge_on_writes_that_know_the_time() {
    let store = MemoryStore::new().with_purge_every(3);
    store
        .create(sample_session(
            "s-old",
            sample_user("idp-a", "alice", None),
            at(0),
            at(10),
        ))
        .await
        .unwrap(); // write 1
    store
        .save_pending(sample_pending("req-old", at(0), at(10)))
        .await
        .unwrap(); // write 2
    assert_eq!(
        store.stats().await,
        stats(1, 0, 1),
        "create and save_pending carry no `now`: no purge yet"
    );
    assert!(store.insert_once("k-new", at(100), at(50)).await.unwrap()); // write 3: purge at 50
    assert_eq!(
        store.stats().await,
        stats(0, 1, 0),
        "the third write purged everything expired at its `now`"
    );

    assert!(store.insert_once("k-2", at(60), at(50)).await.unwrap()); // write 1
    assert!(store.insert_once("k-3", at(60), at(50)).await.unwrap()); // write 2
    assert_eq!(store.stats().await, stats(0, 3, 0));
    store.touch("absent", at(60)).await.unwrap(); // write 3: purge at 60
    assert_eq!(store.stats().await, stats(0, 1, 0));
}

#[tokio::test]
async fn purge_expired_is_per_trait() {
    let store = MemoryStore::new();
    store
        .create(sample_session(
            "s",
            sample_user("idp-a", "alice", None),
            at(0),
            at(10),
        ))
        .await
        .unwrap();
    store
        .save_pending(sample_pending("req", at(0), at(10)))
        .await
        .unwrap();
    assert!(store.insert_once("k", at(10), at(0)).await.unwrap());
    assert_eq!(
        SessionStore::purge_expired(&store, at(10)).await.unwrap(),
        1
    );
    assert_eq!(store.stats().await, stats(0, 1, 1));
    assert_eq!(ReplayCache::purge_expired(&store, at(10)).await.unwrap(), 2);
    assert_eq!(store.stats().await, stats(0, 0, 0));
}

#[tokio::test]
async fn clones_and_trait_objects_share_the_data() {
    let store = MemoryStore::new();
    let sessions: Arc<dyn SessionStore> = Arc::new(store.clone());
    let replay: Arc<dyn ReplayCache> = Arc::new(store.clone());
    assert!(replay.insert_once("k", at(100), at(0)).await.unwrap());
    assert!(!store.insert_once("k", at(100), at(1)).await.unwrap());
    sessions
        .create(sample_session(
            "s",
            sample_user("idp-a", "alice", None),
            at(0),
            at(100),
        ))
        .await
        .unwrap();
    assert!(store.load("s", at(1)).await.unwrap().is_some());
}

#[tokio::test]
async fn debug_shows_no_user_data() {
    let store = MemoryStore::new();
    store
        .create(sample_session(
            "secret-hash",
            sample_user("idp-a", "alice@example.org", None),
            at(0),
            at(100),
        ))
        .await
        .unwrap();
    let debug = format!("{store:?}");
    assert!(
        !debug.contains("alice") && !debug.contains("secret-hash"),
        "{debug}"
    );
}

fn provider(name: &str, entity_id: &str) -> Provider {
    Provider {
        name: name.to_owned(),
        metadata: IdpMetadata::from_parts(entity_id, Vec::new(), Vec::new(), Vec::new()),
        settings: ProviderSettings::default(),
    }
}

#[tokio::test]
async fn resolver_refuses_or_reports_ambiguity() {
    let dup_name = vec![
        provider("acme", "https://a.example"),
        provider("acme", "https://b.example"),
    ];
    let dup_entity = vec![
        provider("a", "https://same.example"),
        provider("b", "https://same.example"),
    ];
    assert!(matches!(
        StaticMetadataResolver::try_new(dup_name.clone()),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        StaticMetadataResolver::try_new(dup_entity.clone()),
        Err(StoreError::Conflict(_))
    ));

    // `new` takes them, but will not guess which one is meant.
    let resolver = StaticMetadataResolver::new(dup_name);
    assert!(matches!(
        resolver.provider("acme").await,
        Err(StoreError::Conflict(_))
    ));
    let b = resolver
        .provider_by_entity_id("https://b.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.name, "acme");
    assert_eq!(resolver.providers().await.unwrap().len(), 2);

    let resolver = StaticMetadataResolver::from(dup_entity);
    assert!(matches!(
        resolver.provider_by_entity_id("https://same.example").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(resolver.provider("b").await.unwrap().unwrap().name, "b");
}

#[tokio::test]
async fn empty_resolver_finds_nothing() {
    let resolver = StaticMetadataResolver::new(Vec::new());
    assert!(resolver.provider("acme").await.unwrap().is_none());
    assert!(
        resolver
            .provider_by_entity_id("https://a.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(resolver.providers().await.unwrap().is_empty());
}

#[tokio::test]
async fn static_key_store_answers_its_keys() {
    let keys: Arc<dyn KeyStore> = Arc::new(StaticKeyStore::from(SpKeys::default()));
    let got = keys.keys().await.unwrap();
    assert!(got.signing.is_none() && got.decryption.is_empty());
}

#[test]
fn pass_through_mapper_is_the_default_mapper() {
    let mapper: Arc<dyn UserMapper> = Arc::new(PassThroughMapper);
    assert!(format!("{mapper:?}").contains("PassThroughMapper"));
}
