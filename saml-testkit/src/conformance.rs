//! The one conformance suite every store implementation runs.
//!
//! Each case is a plain `async fn` taking the component as a trait object
//! (`Arc<dyn SessionStore>`, `Arc<dyn ReplayCache>`, `Arc<dyn
//! MetadataResolver>`), in the style of `object_store::integration`. A case
//! panics with a message naming the broken rule when the implementation does
//! not conform. The macros [`session_store_tests!`](crate::session_store_tests),
//! [`replay_cache_tests!`](crate::replay_cache_tests),
//! [`store_conformance_tests!`](crate::store_conformance_tests) and
//! [`metadata_resolver_tests!`](crate::metadata_resolver_tests) expand to one
//! `#[tokio::test]` per case, so a store crate runs the whole suite with one
//! line and every case shows up under its own name:
//!
//! ```text
//! // my-store/tests/conformance.rs
//! saml_testkit::store_conformance_tests!(MyStore::connect("sqlite::memory:").await.unwrap());
//! ```
//!
//! The constructor expression is evaluated once per case inside the test's
//! async body (so it may `.await`), and must give a fresh, empty store that
//! no other test writes to: counts returned by `purge_expired` and
//! `delete_by_subject` are checked exactly. The calling crate needs `tokio`
//! as a dev-dependency with the `rt` and `macros` features (this crate turns
//! on `rt-multi-thread` and `time` for the concurrency cases).
//!
//! # The contract the suite pins down
//!
//! Beyond what the trait documentation says:
//! - *Expired at `now`* means `expires_at <= now` (SAML's NotOnOrAfter).
//! - Keys (session id hashes, replay keys, request IDs), provider names and
//!   NameIDs compare byte for byte: no case folding, no trimming, no Unicode
//!   normalisation, no `LIKE` wildcards.
//! - `touch` and `delete` of an absent or expired session are `Ok(())` and
//!   create nothing; `touch` changes only `last_seen`.
//! - A duplicate `create` or `save_pending` is `StoreError::Conflict` and
//!   leaves the first record as it was, also when racing.
//! - `ReplayCache::purge_expired` counts expired replay keys *and* expired
//!   pending logins.
//! - Odd input (empty strings, 10 KB keys, Unicode, NUL, SQL metacharacters)
//!   is either stored faithfully (read back equal) or refused with a
//!   `StoreError`; never a panic.
//! - Every `now` a case passes is non-decreasing, so stores may purge
//!   lazily; `purge_expired` counts are checked only where no other call
//!   carrying a `now` could have purged first.
//! - Check-and-insert is atomic: [`RACERS`] tasks released together by a
//!   barrier on a multi-threaded runtime, [`ROUNDS`] times on fresh keys,
//!   give exactly one winner (`insert_once`, `take_pending`, `create`,
//!   `save_pending`). A race that has not finished after 30 s is reported as
//!   a deadlock.
//! - A metadata resolver lists disabled providers too, keeps their settings,
//!   and never answers a name lookup with an entity ID or the reverse.
//!
//! Times are fixed ([`at`]): nothing sleeps.
//!
//! Not API-stable: cases are added as stores teach us new ways to fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use saml_core::mapping::Value;
use saml_core::metadata::{Endpoint, IdpMetadata};
use saml_core::protocol::bindings::{HTTP_POST, HTTP_REDIRECT};
use saml_core::store::{
    MetadataResolver, PendingLogin, Provider, ProviderSettings, ReplayCache, SamlUser,
    SessionRecord, SessionStore, StoreError,
};
use tokio::sync::Barrier;

/// How many tasks race in the concurrency cases.
pub const RACERS: usize = 32;

/// How many races each concurrency case runs (on fresh keys), so a narrow
/// check-then-act window is still hit.
pub const ROUNDS: usize = 64;

/// How long a concurrency case may take before the suite calls it a deadlock.
const RACE_TIMEOUT: Duration = Duration::from_secs(30);

/// The instant every case starts from: 2030-01-01T00:00:00Z.
const T0_UNIX: i64 = 1_893_456_000;

/// `T0 + seconds` (T0 is 2030-01-01T00:00:00Z). Whole seconds, so stores
/// that keep second or microsecond precision read back equal records.
#[must_use]
pub fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(T0_UNIX + seconds, 0).expect("fixed suite time in range")
}

/// Odd strings every store must survive: empty, blank, 10 KB, Unicode
/// (including bidi overrides and a BOM), NUL, control characters, and SQL
/// and `LIKE` metacharacters. Labelled for failure messages.
#[must_use]
pub fn odd_strings() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("blank", "   ".to_owned()),
        ("10 KB ASCII", "k".repeat(10 * 1024)),
        ("10 KB Unicode", "\u{1F511}\u{43A}".repeat(10 * 1024 / 6)),
        (
            "Unicode",
            "\u{43A}\u{43B}\u{44E}\u{447}-\u{1F511}-\u{202E}rtl\u{202C}-\u{FEFF}-caf\u{E9}-\u{65E5}\u{672C}".to_owned(),
        ),
        ("NUL", "before\0after".to_owned()),
        ("control characters", "tab\tnewline\ncr\rbell\u{7}".to_owned()),
        ("SQL quote", "x'; DROP TABLE sessions; --".to_owned()),
        ("LIKE wildcards", "%_\\%".to_owned()),
    ]
}

/// Keys that a byte-exact store must keep apart (case, surrounding blanks,
/// Unicode normalisation forms, `LIKE` wildcards).
#[must_use]
pub fn near_duplicate_keys() -> Vec<String> {
    [
        "key",
        "KEY",
        "Key",
        "key ",
        " key",
        "caf\u{E9}",
        "cafe\u{301}",
        "k%",
        "k_",
        "k\\",
        "k",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// A user with a bit of everything: a NameID format, a session index,
/// multi-valued, Unicode and empty attributes.
#[must_use]
pub fn sample_user(provider: &str, name_id: &str, session_index: Option<&str>) -> SamlUser {
    let mut attributes = BTreeMap::new();
    attributes.insert("mail".to_owned(), vec!["alice@example.org".to_owned()]);
    attributes.insert(
        "groups".to_owned(),
        vec![
            "admins".to_owned(),
            "\u{1F511}-\u{43A}\u{43B}\u{44E}\u{447}".to_owned(),
        ],
    );
    attributes.insert("empty".to_owned(), Vec::new());
    SamlUser {
        provider: provider.to_owned(),
        name_id: name_id.to_owned(),
        name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".to_owned()),
        session_index: session_index.map(str::to_owned),
        attributes,
        // A mapped profile with every value shape, so stores keep it whole.
        profile: BTreeMap::from([
            ("id".to_owned(), Value::String(name_id.to_owned())),
            (
                "name".to_owned(),
                Value::Object(BTreeMap::from([(
                    "given".to_owned(),
                    Value::String("Ålice".to_owned()),
                )])),
            ),
            (
                "roles".to_owned(),
                Value::List(vec!["admins".to_owned(), "users".to_owned()]),
            ),
        ]),
        roles: vec!["admins".to_owned(), "users".to_owned()],
        groups_overage: true,
    }
}

/// A session created at `created` (also its `last_seen`) that expires at `expires`.
#[must_use]
pub fn sample_session(
    id_hash: &str,
    user: SamlUser,
    created: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> SessionRecord {
    SessionRecord {
        id_hash: id_hash.to_owned(),
        user: Arc::new(user),
        created_at: created,
        last_seen: created,
        expires_at: expires,
    }
}

/// A pending login for `request_id`, issued at `issued`, answerable until `expires`.
#[must_use]
pub fn sample_pending(
    request_id: &str,
    issued: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> PendingLogin {
    PendingLogin {
        request_id: request_id.to_owned(),
        provider: "idp-a".to_owned(),
        return_to: Some("/deep/link?q=1#frag".to_owned()),
        browser_binding: "a3f1c0de".repeat(8),
        issued_at: issued,
        force_authn: true,
        expires_at: expires,
        kind: saml_core::store::PendingKind::Login,
    }
}

/// The providers [`metadata_resolver_tests!`](crate::metadata_resolver_tests)
/// hands to the resolver constructor: three providers with distinct names and
/// entity IDs, one disabled, one with a Unicode display name.
#[must_use]
pub fn sample_providers() -> Vec<Provider> {
    let provider = |name: &str, entity_id: &str, settings: ProviderSettings| Provider {
        name: name.to_owned(),
        metadata: IdpMetadata::from_parts(
            entity_id,
            vec![Endpoint::new(HTTP_REDIRECT, format!("{entity_id}/sso"))],
            vec![Endpoint::new(HTTP_POST, format!("{entity_id}/slo"))],
            Vec::new(),
        ),
        settings,
    };
    let mut initech = ProviderSettings::default();
    initech.enabled = false;
    initech.display_name = Some("Initech \u{2014} \u{DC}n\u{EF}c\u{F6}de".to_owned());
    vec![
        provider(
            "acme",
            "https://idp.acme.example/saml",
            ProviderSettings::default(),
        ),
        provider("globex", "urn:globex:idp", ProviderSettings::default()),
        provider("initech", "https://login.initech.example/idp", initech),
    ]
}

// ---------------------------------------------------------------------------
// Helpers

/// Runs `n` futures made by `make`, released together by a barrier on
/// separate tasks, and returns their outputs in order.
async fn race<T, F, Fut>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let fut = make(i);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for handle in handles {
        let joined = tokio::time::timeout(RACE_TIMEOUT, handle)
            .await
            .unwrap_or_else(|_| {
                panic!("a racing task did not finish within {RACE_TIMEOUT:?}: deadlock?")
            });
        out.push(joined.unwrap_or_else(|e| panic!("a racing task panicked: {e}")));
    }
    out
}

fn ok<T, E: Debug>(what: &str, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: unexpected error {e:?}"))
}

fn assert_conflict<T: Debug>(what: &str, r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Err(StoreError::Conflict(_)), got {other:?}"),
    }
}

/// A short description of a possibly huge string for failure messages.
fn describe(s: &str) -> String {
    let head: String = s.chars().take(24).collect();
    if head.len() == s.len() {
        format!("{s:?}")
    } else {
        format!("{head:?}... ({} bytes)", s.len())
    }
}

async fn load(
    store: &Arc<dyn SessionStore>,
    id: &str,
    now: DateTime<Utc>,
) -> Option<SessionRecord> {
    ok(
        &format!("load({}, {now})", describe(id)),
        store.load(id, now).await,
    )
}

async fn create(store: &Arc<dyn SessionStore>, record: SessionRecord) {
    let what = format!("create({})", describe(&record.id_hash));
    ok(&what, store.create(record).await);
}

async fn insert_once(
    cache: &Arc<dyn ReplayCache>,
    key: &str,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    ok(
        &format!("insert_once({}, {expires}, {now})", describe(key)),
        cache.insert_once(key, expires, now).await,
    )
}

async fn take(cache: &Arc<dyn ReplayCache>, id: &str, now: DateTime<Utc>) -> Option<PendingLogin> {
    ok(
        &format!("take_pending({}, {now})", describe(id)),
        cache.take_pending(id, now).await,
    )
}

async fn save(cache: &Arc<dyn ReplayCache>, pending: PendingLogin) {
    let what = format!("save_pending({})", describe(&pending.request_id));
    ok(&what, cache.save_pending(pending).await);
}

// ---------------------------------------------------------------------------
// SessionStore

/// create, load (the record reads back equal), delete, delete again.
pub async fn session_create_load_delete(store: Arc<dyn SessionStore>) {
    let rec = sample_session(
        "sess-a",
        sample_user("idp-a", "alice", Some("idx-1")),
        at(0),
        at(3600),
    );
    create(&store, rec.clone()).await;
    assert_eq!(
        load(&store, "sess-a", at(0)).await.as_ref(),
        Some(&rec),
        "load right after create must return the record as given"
    );
    assert_eq!(
        load(&store, "sess-a", at(10)).await.as_ref(),
        Some(&rec),
        "a live session must load"
    );

    let mut bob = sample_user("idp-a", "bob", None);
    bob.name_id_format = None;
    bob.attributes.clear();
    let bare = sample_session("sess-b", bob, at(10), at(3600));
    create(&store, bare.clone()).await;
    assert_eq!(
        load(&store, "sess-b", at(10)).await,
        Some(bare),
        "None fields and empty attributes must read back equal"
    );

    ok("delete(sess-a)", store.delete("sess-a").await);
    assert_eq!(
        load(&store, "sess-a", at(20)).await,
        None,
        "a deleted session must not load"
    );
    ok(
        "delete of an already deleted session must be Ok",
        store.delete("sess-a").await,
    );
    ok(
        "delete of a never created session must be Ok",
        store.delete("sess-never").await,
    );
    assert!(
        load(&store, "sess-b", at(20)).await.is_some(),
        "deleting one session must leave others"
    );
}

/// Loading an id that was never stored (or is a prefix/extension of one) is `None`.
pub async fn session_load_absent(store: Arc<dyn SessionStore>) {
    assert_eq!(
        load(&store, "no-such-session", at(0)).await,
        None,
        "load of an absent id on an empty store must be None"
    );
    create(
        &store,
        sample_session(
            "sess-abc",
            sample_user("idp-a", "alice", None),
            at(0),
            at(3600),
        ),
    )
    .await;
    for id in ["no-such-session", "sess-ab", "sess-abcd", "sess-%", ""] {
        assert_eq!(
            load(&store, id, at(1)).await,
            None,
            "load({id:?}) must be None: only exact ids match"
        );
    }
}

/// Sessions expired at `now` (`expires_at <= now`) are not returned, and
/// `touch` does not revive them.
pub async fn session_expiry(store: Arc<dyn SessionStore>) {
    let user = || sample_user("idp-a", "alice", None);
    create(&store, sample_session("sess-old", user(), at(0), at(100))).await;
    create(&store, sample_session("sess-edge", user(), at(0), at(200))).await;
    create(&store, sample_session("sess-live", user(), at(0), at(1000))).await;

    assert!(
        load(&store, "sess-old", at(99)).await.is_some(),
        "a session must load one second before it expires"
    );
    assert_eq!(
        load(&store, "sess-old", at(100)).await,
        None,
        "a session must not load at its expires_at (expired when expires_at <= now)"
    );
    assert_eq!(
        load(&store, "sess-old", at(150)).await,
        None,
        "an expired session must not load"
    );
    ok(
        "touch of an expired session must be Ok",
        store.touch("sess-old", at(150)).await,
    );
    assert_eq!(
        load(&store, "sess-old", at(150)).await,
        None,
        "touch must not revive an expired session"
    );
    assert!(
        load(&store, "sess-edge", at(150)).await.is_some(),
        "a live session must load"
    );
    assert_eq!(
        load(&store, "sess-edge", at(200)).await,
        None,
        "a session must not load at its expires_at"
    );
    assert!(
        load(&store, "sess-live", at(200)).await.is_some(),
        "a live session must load"
    );
    assert_eq!(
        load(&store, "sess-live", at(1000)).await,
        None,
        "a session must not load at its expires_at"
    );
}

/// `purge_expired(now)` removes the sessions expired at `now`, returns how
/// many, and keeps the live ones. (No other call carrying a `now` comes
/// between the creates and the purge, so a store that also purges lazily
/// still has every expired record to count.)
pub async fn session_purge_expired(store: Arc<dyn SessionStore>) {
    let user = || sample_user("idp-a", "alice", None);
    create(&store, sample_session("sess-old", user(), at(0), at(100))).await;
    create(&store, sample_session("sess-edge", user(), at(0), at(200))).await;
    create(&store, sample_session("sess-live", user(), at(0), at(1000))).await;

    assert_eq!(
        ok("purge_expired", store.purge_expired(at(200)).await),
        2,
        "purge_expired(now) must remove and count the sessions with expires_at <= now"
    );
    assert_eq!(
        ok("purge_expired", store.purge_expired(at(200)).await),
        0,
        "a second purge at the same time must find nothing"
    );
    assert!(
        load(&store, "sess-live", at(200)).await.is_some(),
        "purge must keep live sessions"
    );
    assert_eq!(
        ok("purge_expired", store.purge_expired(at(999)).await),
        0,
        "purge must not remove a session before it expires"
    );
    assert_eq!(
        ok("purge_expired", store.purge_expired(at(1000)).await),
        1,
        "purge must remove a session at its expires_at"
    );
    assert_eq!(
        load(&store, "sess-live", at(1000)).await,
        None,
        "a purged session must not load"
    );
}

/// `touch` moves `last_seen` and nothing else; touching an absent id is
/// `Ok` and creates nothing.
pub async fn session_touch(store: Arc<dyn SessionStore>) {
    let rec = sample_session(
        "sess-t",
        sample_user("idp-a", "alice", Some("idx-1")),
        at(0),
        at(3600),
    );
    create(&store, rec.clone()).await;
    ok("touch", store.touch("sess-t", at(60)).await);
    let after = load(&store, "sess-t", at(60))
        .await
        .expect("a touched live session must still load");
    assert_eq!(
        after.last_seen,
        at(60),
        "touch(now) must set last_seen to now"
    );
    assert_eq!(
        SessionRecord {
            last_seen: rec.last_seen,
            ..after
        },
        rec,
        "touch must change nothing but last_seen"
    );
    ok("touch", store.touch("sess-t", at(120)).await);
    assert_eq!(
        load(&store, "sess-t", at(120)).await.map(|r| r.last_seen),
        Some(at(120)),
        "a second touch must move last_seen again"
    );

    ok(
        "touch of an absent session must be Ok",
        store.touch("sess-absent", at(130)).await,
    );
    assert_eq!(
        load(&store, "sess-absent", at(130)).await,
        None,
        "touch must not create a session"
    );
}

/// A second `create` with the same id hash is `Conflict` and changes nothing.
pub async fn session_create_duplicate_conflicts(store: Arc<dyn SessionStore>) {
    let first = sample_session(
        "sess-dup",
        sample_user("idp-a", "alice", None),
        at(0),
        at(3600),
    );
    create(&store, first.clone()).await;
    let second = sample_session(
        "sess-dup",
        sample_user("idp-b", "mallory", None),
        at(5),
        at(7200),
    );
    assert_conflict(
        "create with an existing id hash",
        store.create(second).await,
    );
    assert_eq!(
        load(&store, "sess-dup", at(10)).await,
        Some(first),
        "a refused create must leave the first record unchanged"
    );
}

/// [`RACERS`] tasks create the same id hash at once ([`ROUNDS`] times):
/// exactly one succeeds, the others get `Conflict`, and the winner's record
/// is what loads.
pub async fn session_create_concurrent_single_winner(store: Arc<dyn SessionStore>) {
    for round in 0..ROUNDS {
        let id = format!("sess-race-{round}");
        let results = race(RACERS, |i| {
            let store = Arc::clone(&store);
            let rec = sample_session(
                &id,
                sample_user("idp-a", &format!("user-{i}"), None),
                at(0),
                at(3600),
            );
            async move { store.create(rec).await }
        })
        .await;
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one of {RACERS} concurrent creates of one id must succeed, got {} (round {round})",
            winners.len()
        );
        for r in results.into_iter().filter(Result::is_err) {
            assert_conflict("a losing concurrent create", r);
        }
        let loaded = load(&store, &id, at(1))
            .await
            .expect("the winning session must load");
        assert_eq!(
            loaded.user.name_id,
            format!("user-{}", winners[0]),
            "the stored record must be the winner's"
        );
    }
}

/// `delete_by_subject` ends exactly the matching sessions (provider and
/// NameID, and the session index when given) and returns how many.
pub async fn session_delete_by_subject(store: Arc<dyn SessionStore>) {
    let sessions = [
        ("a1", "idp-a", "alice", Some("idx-1")),
        ("a2", "idp-a", "alice", Some("idx-2")),
        ("a3", "idp-a", "alice", None),
        ("a4", "idp-a", "alice", Some("idx-1")),
        ("b1", "idp-a", "bob", Some("idx-1")),
        ("c1", "idp-b", "alice", Some("idx-1")),
        ("d1", "idp-a", "ALICE", Some("idx-1")),
        ("e1", "idp-a", "alice ", Some("idx-1")),
    ];
    for (id, provider, name_id, idx) in sessions {
        create(
            &store,
            sample_session(id, sample_user(provider, name_id, idx), at(0), at(3600)),
        )
        .await;
    }
    let present = async |ids: &[&str], now: DateTime<Utc>| {
        let mut found = BTreeSet::new();
        for (id, ..) in sessions {
            if load(&store, id, now).await.is_some() {
                found.insert(id);
            }
        }
        let expected: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(found, expected, "sessions left after delete_by_subject");
    };

    let n = ok(
        "delete_by_subject(idp-a, alice, idx-1)",
        store
            .delete_by_subject("idp-a", "alice", Some("idx-1"))
            .await,
    );
    assert_eq!(
        n, 2,
        "delete_by_subject with a session index must end exactly the sessions with that index (a1, a4)"
    );
    present(&["a2", "a3", "b1", "c1", "d1", "e1"], at(1)).await;

    let n = ok(
        "delete_by_subject(idp-a, alice, idx-404)",
        store
            .delete_by_subject("idp-a", "alice", Some("idx-404"))
            .await,
    );
    assert_eq!(n, 0, "an unknown session index must end nothing");

    let n = ok(
        "delete_by_subject(idp-a, %, None)",
        store.delete_by_subject("idp-a", "%", None).await,
    );
    assert_eq!(
        n, 0,
        "a NameID of `%` must match only the NameID `%` (no LIKE)"
    );

    let n = ok(
        "delete_by_subject(idp-a, alice, None)",
        store.delete_by_subject("idp-a", "alice", None).await,
    );
    assert_eq!(
        n, 2,
        "delete_by_subject without a session index must end all the subject's sessions at that provider (a2, a3)"
    );
    present(&["b1", "c1", "d1", "e1"], at(2)).await;

    let n = ok(
        "delete_by_subject(idp-a, alice, None) again",
        store.delete_by_subject("idp-a", "alice", None).await,
    );
    assert_eq!(n, 0, "a repeated delete_by_subject must find nothing");
    let n = ok(
        "delete_by_subject(idp-c, alice, None)",
        store.delete_by_subject("idp-c", "alice", None).await,
    );
    assert_eq!(n, 0, "another provider's subject must not match");
    present(&["b1", "c1", "d1", "e1"], at(3)).await;
}

/// Odd ids and field values are stored faithfully or refused with a
/// `StoreError`, never a panic.
pub async fn session_bad_input(store: Arc<dyn SessionStore>) {
    for (i, (label, odd)) in odd_strings().into_iter().enumerate() {
        // The odd value as the id hash.
        let rec = sample_session(&odd, sample_user("idp-a", "alice", None), at(0), at(3600));
        if store.create(rec.clone()).await.is_ok() {
            assert_eq!(
                load(&store, &odd, at(1)).await,
                Some(rec),
                "a session with a {label} id was accepted, so it must read back equal"
            );
            ok(
                &format!("touch with a {label} id"),
                store.touch(&odd, at(2)).await,
            );
            ok(
                &format!("delete with a {label} id"),
                store.delete(&odd).await,
            );
            assert_eq!(
                load(&store, &odd, at(3)).await,
                None,
                "a deleted session with a {label} id must not load"
            );
        }
        // The odd value in every string field.
        let id = format!("sess-odd-{i}");
        let mut user = sample_user(&odd, &odd, Some(&odd));
        user.name_id_format = Some(odd.clone());
        user.attributes
            .insert(odd.clone(), vec![odd.clone(), odd.clone()]);
        let rec = sample_session(&id, user, at(0), at(3600));
        if store.create(rec.clone()).await.is_ok() {
            assert_eq!(
                load(&store, &id, at(1)).await,
                Some(rec),
                "a session with {label} fields was accepted, so it must read back equal"
            );
            match store.delete_by_subject(&odd, &odd, Some(&odd)).await {
                Ok(n) => assert_eq!(
                    n, 1,
                    "delete_by_subject with {label} provider, NameID and index must end that one session"
                ),
                Err(e) => panic!(
                    "delete_by_subject of a stored session with {label} fields failed: {e:?}"
                ),
            }
        }
        // Lookups with the odd value must not fail in surprising ways.
        let _ = store.load(&odd, at(4)).await;
        let _ = store.delete_by_subject(&odd, "alice", None).await;
    }
}

/// Ids differing only in case, blanks, Unicode normalisation or `LIKE`
/// wildcards are different sessions.
pub async fn session_keys_compare_exactly(store: Arc<dyn SessionStore>) {
    let keys = near_duplicate_keys();
    for (i, key) in keys.iter().enumerate() {
        create(
            &store,
            sample_session(
                key,
                sample_user("idp-a", &format!("user-{i}"), None),
                at(0),
                at(3600),
            ),
        )
        .await;
    }
    for (i, key) in keys.iter().enumerate() {
        let rec = load(&store, key, at(1))
            .await
            .unwrap_or_else(|| panic!("session {key:?} must load"));
        assert_eq!(
            rec.user.name_id,
            format!("user-{i}"),
            "load({key:?}) returned another key's session: keys must compare byte for byte"
        );
    }
    ok("delete(k_)", store.delete("k_").await);
    for key in &keys {
        assert_eq!(
            load(&store, key, at(2)).await.is_some(),
            key != "k_",
            "delete(\"k_\") must remove exactly that session (checking {key:?})"
        );
    }
}

// ---------------------------------------------------------------------------
// ReplayCache: insert_once

/// First `insert_once` is `true`, repeats are `false` until the key expires
/// (`expires_at <= now`), then `true` again.
pub async fn replay_insert_once_single_use(cache: Arc<dyn ReplayCache>) {
    assert!(
        insert_once(&cache, "assertion-1", at(60), at(0)).await,
        "the first insert_once of a key must be true"
    );
    assert!(
        !insert_once(&cache, "assertion-1", at(60), at(1)).await,
        "a repeated insert_once must be false (replay)"
    );
    assert!(
        !insert_once(&cache, "assertion-1", at(600), at(59)).await,
        "insert_once must stay false until the key expires"
    );
    assert!(
        insert_once(&cache, "assertion-2", at(60), at(59)).await,
        "another key must be independent"
    );
    assert!(
        insert_once(&cache, "assertion-1", at(120), at(60)).await,
        "insert_once must be true again once the key expired (expires_at <= now)"
    );
    assert!(
        !insert_once(&cache, "assertion-1", at(120), at(61)).await,
        "the re-inserted key must be remembered until its new expiry"
    );
    assert!(
        !insert_once(&cache, "assertion-1", at(120), at(119)).await,
        "the re-inserted key must be remembered until its new expiry"
    );
    assert!(
        insert_once(&cache, "assertion-1", at(180), at(120)).await,
        "the re-inserted key must expire at its new expiry"
    );
}

/// [`RACERS`] tasks insert one key at once ([`ROUNDS`] times): exactly one
/// gets `true`.
pub async fn replay_insert_once_concurrent_single_winner(cache: Arc<dyn ReplayCache>) {
    for round in 0..ROUNDS {
        let key = format!("assertion-race-{round}");
        let results = race(RACERS, |_| {
            let cache = Arc::clone(&cache);
            let key = key.clone();
            async move { cache.insert_once(&key, at(60), at(0)).await }
        })
        .await;
        let winners = results
            .into_iter()
            .map(|r| ok("concurrent insert_once", r))
            .filter(|won| *won)
            .count();
        assert_eq!(
            winners, 1,
            "exactly one of {RACERS} concurrent insert_once calls on one key must return true, got {winners} (round {round})"
        );
        assert!(
            !insert_once(&cache, &key, at(60), at(1)).await,
            "after the race the key must be remembered"
        );
    }
}

/// [`RACERS`] tasks insert distinct keys at once: all get `true`.
pub async fn replay_insert_once_concurrent_distinct_keys(cache: Arc<dyn ReplayCache>) {
    let results = race(RACERS, |i| {
        let cache = Arc::clone(&cache);
        async move {
            cache
                .insert_once(&format!("assertion-{i}"), at(60), at(0))
                .await
        }
    })
    .await;
    for (i, r) in results.into_iter().enumerate() {
        assert!(
            ok("concurrent insert_once", r),
            "concurrent insert_once of the distinct key assertion-{i} must be true"
        );
    }
}

/// `purge_expired` removes expired replay keys and pending logins and counts
/// both. (No call carrying a later `now` comes between the inserts and the
/// purges, so lazily purging stores still have every expired entry to count.)
pub async fn replay_purge_expired(cache: Arc<dyn ReplayCache>) {
    assert!(
        insert_once(&cache, "r-old", at(100), at(0)).await,
        "first insert"
    );
    assert!(
        insert_once(&cache, "r-edge", at(200), at(0)).await,
        "first insert"
    );
    assert!(
        insert_once(&cache, "r-live", at(1000), at(0)).await,
        "first insert"
    );
    save(&cache, sample_pending("p-old", at(0), at(100))).await;
    save(&cache, sample_pending("p-live", at(0), at(1000))).await;

    let n = ok("purge_expired", cache.purge_expired(at(200)).await);
    assert_eq!(
        n, 3,
        "purge_expired(now) must remove and count the replay keys and pending logins with expires_at <= now"
    );
    assert_eq!(
        ok("purge_expired", cache.purge_expired(at(200)).await),
        0,
        "a second purge at the same time must find nothing"
    );
    assert!(
        !insert_once(&cache, "r-live", at(1000), at(200)).await,
        "purge must keep live replay keys"
    );
    assert!(
        take(&cache, "p-live", at(200)).await.is_some(),
        "purge must keep live pending logins"
    );
    assert!(
        insert_once(&cache, "r-old", at(300), at(200)).await,
        "a purged key may be inserted again"
    );
    assert_eq!(
        ok("purge_expired", cache.purge_expired(at(999)).await),
        1,
        "only r-old (re-inserted until 300) has expired by 999"
    );
    assert_eq!(
        ok("purge_expired", cache.purge_expired(at(1000)).await),
        1,
        "r-live expires at 1000"
    );
}

// ---------------------------------------------------------------------------
// ReplayCache: pending logins

/// save then take returns the pending login as saved; a second take is `None`.
pub async fn pending_save_take(cache: Arc<dyn ReplayCache>) {
    let pending = sample_pending("req-1", at(0), at(300));
    save(&cache, pending.clone()).await;
    let mut bare = sample_pending("req-2", at(0), at(300));
    bare.return_to = None;
    bare.force_authn = false;
    save(&cache, bare.clone()).await;

    assert_eq!(
        take(&cache, "req-1", at(10)).await,
        Some(pending),
        "take_pending must return the pending login as saved"
    );
    assert_eq!(
        take(&cache, "req-1", at(11)).await,
        None,
        "a second take_pending must be None (single use)"
    );
    assert_eq!(
        take(&cache, "req-absent", at(12)).await,
        None,
        "take_pending of an unknown request ID must be None"
    );
    assert_eq!(
        take(&cache, "req-", at(12)).await,
        None,
        "take_pending must not match prefixes"
    );
    assert_eq!(
        take(&cache, "req-2", at(13)).await,
        Some(bare),
        "taking one pending login must leave the others"
    );
}

/// [`RACERS`] tasks take one pending login at once ([`ROUNDS`] times):
/// exactly one gets it.
pub async fn pending_take_concurrent_single_winner(cache: Arc<dyn ReplayCache>) {
    for round in 0..ROUNDS {
        let id = format!("req-race-{round}");
        let pending = sample_pending(&id, at(0), at(300));
        save(&cache, pending.clone()).await;
        let results = race(RACERS, |_| {
            let cache = Arc::clone(&cache);
            let id = id.clone();
            async move { cache.take_pending(&id, at(10)).await }
        })
        .await;
        let taken: Vec<PendingLogin> = results
            .into_iter()
            .filter_map(|r| ok("concurrent take_pending", r))
            .collect();
        assert_eq!(
            taken.len(),
            1,
            "exactly one of {RACERS} concurrent take_pending calls must get the pending login, got {} (round {round})",
            taken.len()
        );
        assert_eq!(
            taken.first(),
            Some(&pending),
            "the winner must get the pending login as saved"
        );
    }
}

/// A pending login expired at `now` is not returned (and not returned later).
pub async fn pending_expired(cache: Arc<dyn ReplayCache>) {
    save(&cache, sample_pending("req-early", at(0), at(100))).await;
    save(&cache, sample_pending("req-edge", at(0), at(100))).await;
    save(&cache, sample_pending("req-late", at(0), at(100))).await;
    assert!(
        take(&cache, "req-early", at(99)).await.is_some(),
        "a pending login must be taken one second before it expires"
    );
    assert_eq!(
        take(&cache, "req-edge", at(100)).await,
        None,
        "a pending login must not be taken at its expires_at"
    );
    assert_eq!(
        take(&cache, "req-edge", at(101)).await,
        None,
        "an expired pending login must stay gone"
    );
    assert_eq!(
        take(&cache, "req-late", at(500)).await,
        None,
        "an expired pending login must not be taken"
    );
}

/// A second `save_pending` with the same request ID is `Conflict` and changes nothing.
pub async fn pending_save_duplicate_conflicts(cache: Arc<dyn ReplayCache>) {
    let first = sample_pending("req-dup", at(0), at(300));
    save(&cache, first.clone()).await;
    let mut second = sample_pending("req-dup", at(5), at(900));
    second.provider = "idp-evil".to_owned();
    second.return_to = Some("/elsewhere".to_owned());
    assert_conflict(
        "save_pending with an existing request ID",
        cache.save_pending(second).await,
    );
    assert_eq!(
        take(&cache, "req-dup", at(10)).await,
        Some(first),
        "a refused save_pending must leave the first pending login unchanged"
    );
}

/// [`RACERS`] tasks save one request ID at once ([`ROUNDS`] times): exactly
/// one succeeds, the others get `Conflict`, and the winner's pending login
/// is what is taken.
pub async fn pending_save_concurrent_single_winner(cache: Arc<dyn ReplayCache>) {
    for round in 0..ROUNDS {
        let id = format!("req-save-race-{round}");
        let results = race(RACERS, |i| {
            let cache = Arc::clone(&cache);
            let mut pending = sample_pending(&id, at(0), at(300));
            pending.provider = format!("idp-{i}");
            async move { cache.save_pending(pending).await }
        })
        .await;
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one of {RACERS} concurrent save_pending calls of one request ID must succeed, got {} (round {round})",
            winners.len()
        );
        for r in results.into_iter().filter(Result::is_err) {
            assert_conflict("a losing concurrent save_pending", r);
        }
        let taken = take(&cache, &id, at(1))
            .await
            .expect("the winning pending login must be taken");
        assert_eq!(
            taken.provider,
            format!("idp-{}", winners[0]),
            "the stored pending login must be the winner's"
        );
    }
}

/// Odd replay keys are remembered faithfully or refused with a `StoreError`.
pub async fn replay_bad_input(cache: Arc<dyn ReplayCache>) {
    for (label, odd) in odd_strings() {
        match cache.insert_once(&odd, at(60), at(0)).await {
            Ok(true) => {
                let again = cache.insert_once(&odd, at(60), at(1)).await;
                assert!(
                    matches!(again, Ok(false)),
                    "a {label} key was accepted, so inserting it again must be Ok(false), got {again:?}"
                );
            }
            Ok(false) => {
                panic!("the first insert_once of a {label} key on a fresh store returned false")
            }
            Err(_) => {}
        }
    }
}

/// Odd request IDs and field values are stored faithfully or refused.
pub async fn pending_bad_input(cache: Arc<dyn ReplayCache>) {
    for (i, (label, odd)) in odd_strings().into_iter().enumerate() {
        let pending = sample_pending(&odd, at(0), at(300));
        if cache.save_pending(pending.clone()).await.is_ok() {
            assert_eq!(
                take(&cache, &odd, at(1)).await,
                Some(pending),
                "a pending login with a {label} request ID was accepted, so it must read back equal"
            );
        }
        let mut pending = sample_pending(&format!("req-odd-{i}"), at(0), at(300));
        pending.provider.clone_from(&odd);
        pending.return_to = Some(odd.clone());
        pending.browser_binding.clone_from(&odd);
        if cache.save_pending(pending.clone()).await.is_ok() {
            assert_eq!(
                take(&cache, &pending.request_id, at(1)).await,
                Some(pending),
                "a pending login with {label} fields was accepted, so it must read back equal"
            );
        }
        let _ = cache.take_pending(&odd, at(2)).await;
    }
}

/// Replay keys and request IDs differing only in case, blanks, Unicode
/// normalisation or `LIKE` wildcards are different entries.
pub async fn replay_keys_compare_exactly(cache: Arc<dyn ReplayCache>) {
    let keys = near_duplicate_keys();
    for key in &keys {
        assert!(
            insert_once(&cache, key, at(60), at(0)).await,
            "insert_once({key:?}) must be true: keys must compare byte for byte"
        );
    }
    for (i, key) in keys.iter().enumerate() {
        let mut pending = sample_pending(key, at(0), at(300));
        pending.provider = format!("idp-{i}");
        save(&cache, pending).await;
    }
    for (i, key) in keys.iter().enumerate() {
        let taken = take(&cache, key, at(1))
            .await
            .unwrap_or_else(|| panic!("pending login {key:?} must be taken"));
        assert_eq!(
            taken.provider,
            format!("idp-{i}"),
            "take_pending({key:?}) returned another request's pending login"
        );
    }
}

// ---------------------------------------------------------------------------
// MetadataResolver

/// Every [`sample_providers`] entry is found by name, as configured.
pub async fn metadata_lookup_by_name(resolver: Arc<dyn MetadataResolver>) {
    for expected in sample_providers() {
        let found = ok(
            &format!("provider({})", expected.name),
            resolver.provider(&expected.name).await,
        )
        .unwrap_or_else(|| panic!("provider {:?} must be found by name", expected.name));
        assert_eq!(
            found.name, expected.name,
            "provider(name) returned another provider"
        );
        assert_eq!(
            found.metadata.entity_id(),
            expected.metadata.entity_id(),
            "provider(name) returned other metadata"
        );
        assert_eq!(
            found.settings, expected.settings,
            "provider(name) must keep the provider's settings (including disabled ones)"
        );
    }
}

/// Every [`sample_providers`] entry is found by its entity ID.
pub async fn metadata_lookup_by_entity_id(resolver: Arc<dyn MetadataResolver>) {
    for expected in sample_providers() {
        let entity_id = expected.metadata.entity_id();
        let found = ok(
            &format!("provider_by_entity_id({entity_id})"),
            resolver.provider_by_entity_id(entity_id).await,
        )
        .unwrap_or_else(|| {
            panic!(
                "provider {:?} must be found by its entity ID {entity_id:?}",
                expected.name
            )
        });
        assert_eq!(
            found.name, expected.name,
            "provider_by_entity_id returned another provider"
        );
    }
}

/// Unknown names and entity IDs, near misses, and a name used as an entity
/// ID (or the reverse) find nothing.
pub async fn metadata_unknown_is_none(resolver: Arc<dyn MetadataResolver>) {
    for name in [
        "unknown",
        "ACME",
        "acme ",
        "acm",
        "https://idp.acme.example/saml",
    ] {
        let found = ok(&format!("provider({name})"), resolver.provider(name).await);
        assert!(
            found.is_none(),
            "provider({name:?}) must be None: names compare exactly and are not entity IDs"
        );
    }
    for entity_id in [
        "https://unknown.example",
        "HTTPS://IDP.ACME.EXAMPLE/SAML",
        "https://idp.acme.example/saml/",
        "acme",
        "urn:globex",
    ] {
        let found = ok(
            &format!("provider_by_entity_id({entity_id})"),
            resolver.provider_by_entity_id(entity_id).await,
        );
        assert!(
            found.is_none(),
            "provider_by_entity_id({entity_id:?}) must be None: entity IDs compare exactly and are not names"
        );
    }
}

/// `providers()` lists every configured provider, disabled ones included.
pub async fn metadata_lists_providers(resolver: Arc<dyn MetadataResolver>) {
    let listed = ok("providers()", resolver.providers().await);
    let names: BTreeSet<String> = listed.iter().map(|p| p.name.clone()).collect();
    let expected: BTreeSet<String> = sample_providers().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names, expected,
        "providers() must list every configured provider"
    );
    assert_eq!(
        listed.len(),
        expected.len(),
        "providers() must list each provider once"
    );
}

/// Odd lookups find nothing (or fail with a `StoreError`), never panic.
pub async fn metadata_bad_input(resolver: Arc<dyn MetadataResolver>) {
    for (label, odd) in odd_strings() {
        if let Ok(Some(p)) = resolver.provider(&odd).await {
            panic!("provider() with a {label} name found {:?}", p.name);
        }
        if let Ok(Some(p)) = resolver.provider_by_entity_id(&odd).await {
            panic!(
                "provider_by_entity_id() with a {label} entity ID found {:?}",
                p.name
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Macros

#[doc(hidden)]
pub mod __private {
    pub use saml_core::store::{MetadataResolver, ReplayCache, SessionStore};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case {
    ($trait_:ident, [$($flavor:tt)*], $name:ident, $ctor:expr) => {
        #[::tokio::test($($flavor)*)]
        async fn $name() {
            let component: ::std::sync::Arc<dyn $crate::conformance::__private::$trait_> =
                ::std::sync::Arc::new($ctor);
            $crate::conformance::$name(component).await;
        }
    };
}

/// Expands to one `#[tokio::test]` per [`SessionStore`] case, each calling
/// `ctor` (an expression evaluated in the test's async body, so it may
/// `.await`) for a fresh, empty store.
///
/// ```text
/// saml_testkit::session_store_tests!(MyStore::new());
/// ```
#[macro_export]
macro_rules! session_store_tests {
    ($ctor:expr) => {
        $crate::__conformance_case!(SessionStore, [], session_create_load_delete, $ctor);
        $crate::__conformance_case!(SessionStore, [], session_load_absent, $ctor);
        $crate::__conformance_case!(SessionStore, [], session_expiry, $ctor);
        $crate::__conformance_case!(SessionStore, [], session_purge_expired, $ctor);
        $crate::__conformance_case!(SessionStore, [], session_touch, $ctor);
        $crate::__conformance_case!(SessionStore, [], session_create_duplicate_conflicts, $ctor);
        $crate::__conformance_case!(
            SessionStore,
            [flavor = "multi_thread", worker_threads = 4],
            session_create_concurrent_single_winner,
            $ctor
        );
        $crate::__conformance_case!(SessionStore, [], session_delete_by_subject, $ctor);
        $crate::__conformance_case!(SessionStore, [], session_bad_input, $ctor);
        $crate::__conformance_case!(SessionStore, [], session_keys_compare_exactly, $ctor);
    };
}

/// Expands to one `#[tokio::test]` per [`ReplayCache`] case (replay keys and
/// pending logins), each calling `ctor` for a fresh, empty store.
///
/// ```text
/// saml_testkit::replay_cache_tests!(MyStore::new());
/// ```
#[macro_export]
macro_rules! replay_cache_tests {
    ($ctor:expr) => {
        $crate::__conformance_case!(ReplayCache, [], replay_insert_once_single_use, $ctor);
        $crate::__conformance_case!(
            ReplayCache,
            [flavor = "multi_thread", worker_threads = 4],
            replay_insert_once_concurrent_single_winner,
            $ctor
        );
        $crate::__conformance_case!(
            ReplayCache,
            [flavor = "multi_thread", worker_threads = 4],
            replay_insert_once_concurrent_distinct_keys,
            $ctor
        );
        $crate::__conformance_case!(ReplayCache, [], replay_purge_expired, $ctor);
        $crate::__conformance_case!(ReplayCache, [], replay_bad_input, $ctor);
        $crate::__conformance_case!(ReplayCache, [], replay_keys_compare_exactly, $ctor);
        $crate::__conformance_case!(ReplayCache, [], pending_save_take, $ctor);
        $crate::__conformance_case!(
            ReplayCache,
            [flavor = "multi_thread", worker_threads = 4],
            pending_take_concurrent_single_winner,
            $ctor
        );
        $crate::__conformance_case!(ReplayCache, [], pending_expired, $ctor);
        $crate::__conformance_case!(ReplayCache, [], pending_save_duplicate_conflicts, $ctor);
        $crate::__conformance_case!(
            ReplayCache,
            [flavor = "multi_thread", worker_threads = 4],
            pending_save_concurrent_single_winner,
            $ctor
        );
        $crate::__conformance_case!(ReplayCache, [], pending_bad_input, $ctor);
    };
}

/// Both [`session_store_tests!`](crate::session_store_tests) and
/// [`replay_cache_tests!`](crate::replay_cache_tests) for a store that
/// implements both traits.
///
/// ```text
/// saml_testkit::store_conformance_tests!(MyStore::new());
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($ctor:expr) => {
        $crate::session_store_tests!($ctor);
        $crate::replay_cache_tests!($ctor);
    };
}

/// Expands to one `#[tokio::test]` per [`MetadataResolver`] case. The
/// constructor receives [`sample_providers`] under the given name and must
/// build a resolver holding exactly those providers.
///
/// ```text
/// saml_testkit::metadata_resolver_tests!(|providers| MyResolver::new(providers));
/// ```
#[macro_export]
macro_rules! metadata_resolver_tests {
    (|$providers:ident| $ctor:expr) => {
        $crate::__conformance_case!(MetadataResolver, [], metadata_lookup_by_name, {
            let $providers = $crate::conformance::sample_providers();
            $ctor
        });
        $crate::__conformance_case!(MetadataResolver, [], metadata_lookup_by_entity_id, {
            let $providers = $crate::conformance::sample_providers();
            $ctor
        });
        $crate::__conformance_case!(MetadataResolver, [], metadata_unknown_is_none, {
            let $providers = $crate::conformance::sample_providers();
            $ctor
        });
        $crate::__conformance_case!(MetadataResolver, [], metadata_lists_providers, {
            let $providers = $crate::conformance::sample_providers();
            $ctor
        });
        $crate::__conformance_case!(MetadataResolver, [], metadata_bad_input, {
            let $providers = $crate::conformance::sample_providers();
            $ctor
        });
    };
}
