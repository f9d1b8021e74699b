//! The `saml::metadata` events: refresh success and failure, key rollover,
//! certificate expiry warnings and expired metadata, captured by one global
//! subscriber (a scoped one can miss events when another test registers a
//! callsite first). Each test runs on its own current-thread runtime and
//! reads its own thread's events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Once};
use std::time::Duration;

use saml_core::store::{MetadataResolver, ProviderSettings};
use saml_remote::{HttpClient, MetadataSource, RefreshPolicy, RemoteMetadataResolver};
use support::{FakeClient, ManualClock, entity_doc, key, long_key, t0, valid_until};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const URL: &str = "https://idp.example.org/metadata";
const IDP: &str = "https://idp.example.org";

type Fields = BTreeMap<String, String>;

thread_local! {
    static EVENTS: RefCell<Vec<Fields>> = const { RefCell::new(Vec::new()) };
}

#[derive(Debug, Clone, Copy)]
struct Collector;

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Collector {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == saml_remote::events::TARGET
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        fields.insert("level".into(), event.metadata().level().to_string());
        EVENTS.with(|e| e.borrow_mut().push(fields));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Collector).expect("no other subscriber");
    });
    EVENTS.with(|e| e.borrow_mut().clear());
}

/// The events named `name` since the last call, and clears the list.
fn take(name: &str) -> Vec<Fields> {
    EVENTS.with(|e| {
        e.borrow()
            .iter()
            .filter(|f| f.get("event").map(String::as_str) == Some(name))
            .cloned()
            .collect()
    })
}

fn clear() {
    EVENTS.with(|e| e.borrow_mut().clear());
}

fn resolver(
    client: &Arc<FakeClient>,
    clock: &Arc<ManualClock>,
    policy: RefreshPolicy,
) -> RemoteMetadataResolver {
    RemoteMetadataResolver::builder()
        .http_client(Arc::clone(client) as Arc<dyn HttpClient>)
        .clock(Arc::clone(clock) as _)
        .policy(policy)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn refresh_and_rollover_events() {
    capture();
    let client = FakeClient::new();
    let clock = ManualClock::at(t0());
    let old = long_key("old key");
    let new = long_key("new key");
    client.doc(URL, &entity_doc(IDP, &[&old.cert_b64], ""), "\"1\"");
    let r = resolver(&client, &clock, RefreshPolicy::new());
    r.refresh().await.unwrap();
    let ok = take("refresh_succeeded");
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_eq!(ok[0]["url"], URL);
    assert_eq!(ok[0]["entities"], "1");
    assert_eq!(ok[0]["level"], Level::INFO.to_string());
    assert!(
        take("key_added").is_empty(),
        "no rollover on the first load"
    );

    // Rollover: a key added...
    clear();
    client.doc(
        URL,
        &entity_doc(IDP, &[&old.cert_b64, &new.cert_b64], ""),
        "\"2\"",
    );
    r.refresh().await.unwrap();
    let added = take("key_added");
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["entity_id"], IDP);
    assert!(added[0]["subject"].contains("new key"), "{added:?}");
    assert_eq!(added[0]["fingerprint"].len(), 64);
    assert!(take("key_removed").is_empty());

    // ...then the old one removed.
    clear();
    client.doc(URL, &entity_doc(IDP, &[&new.cert_b64], ""), "\"3\"");
    r.refresh().await.unwrap();
    let removed = take("key_removed");
    assert_eq!(removed.len(), 1);
    assert!(removed[0]["subject"].contains("old key"), "{removed:?}");
    assert!(take("key_added").is_empty());

    // 304: a debug event, nothing else changes.
    clear();
    r.refresh().await.unwrap();
    assert_eq!(take("refresh_not_modified").len(), 1);

    // A failure: an error event with the code, the copy kept.
    clear();
    client.status(URL, 500);
    assert!(r.refresh().await.is_err());
    let failed = take("refresh_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["code"], "store_unavailable");
    assert_eq!(failed[0]["level"], Level::ERROR.to_string());
    assert!(failed[0]["error"].contains("500"), "{failed:?}");
    assert!(
        failed[0]["message"].contains("last good copy stays in use"),
        "{failed:?}"
    );
    // Documents never reach the log.
    EVENTS.with(|e| {
        for event in e.borrow().iter() {
            for value in event.values() {
                assert!(!value.contains("EntityDescriptor"), "{event:?}");
            }
        }
    });
}

#[tokio::test]
async fn certificate_expiry_warnings_with_a_lead_time() {
    capture();
    let client = FakeClient::new();
    let clock = ManualClock::at(t0()); // 2030-01-01
    let soon = key("ends soon", (2030, 1, 20));
    let later = key("ends later", (2030, 6, 1));
    let gone = key("ended", (2029, 6, 1));
    client.doc(
        URL,
        &entity_doc(IDP, &[&soon.cert_b64, &later.cert_b64, &gone.cert_b64], ""),
        "\"1\"",
    );
    let r = resolver(&client, &clock, RefreshPolicy::new());
    r.refresh().await.unwrap();
    let expiring = take("certificate_expiring");
    assert_eq!(expiring.len(), 1, "{expiring:?}");
    assert!(expiring[0]["subject"].contains("ends soon"));
    assert_eq!(expiring[0]["not_after"], "2030-01-20T00:00:00Z");
    let expired = take("certificate_expired");
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert!(expired[0]["subject"].contains("ended"));

    // A longer lead time warns about both; none warns about neither.
    clear();
    let r = resolver(
        &client,
        &clock,
        RefreshPolicy::new().with_certificate_warning(Some(Duration::from_secs(200 * 86_400))),
    );
    r.refresh().await.unwrap();
    assert_eq!(take("certificate_expiring").len(), 2);
    clear();
    let r = resolver(
        &client,
        &clock,
        RefreshPolicy::new().with_certificate_warning(None),
    );
    r.refresh().await.unwrap();
    assert!(take("certificate_expiring").is_empty());
    assert!(take("certificate_expired").is_empty());
}

#[tokio::test]
async fn expired_metadata_is_loud() {
    capture();
    let client = FakeClient::new();
    let clock = ManualClock::at(t0());
    let k = long_key("idp");
    let until = t0() + chrono::TimeDelta::hours(1);
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], &valid_until(until)),
        "\"1\"",
    );
    let r = resolver(&client, &clock, RefreshPolicy::new());
    r.refresh().await.unwrap();
    client.fail(URL);
    clock.set(until);
    clear();
    assert!(r.refresh().await.is_err());
    let expired = take("metadata_expired");
    assert_eq!(expired.len(), 1, "at refresh");
    assert_eq!(expired[0]["level"], Level::ERROR.to_string());
    clear();
    assert!(r.provider("acme").await.is_err());
    let expired = take("metadata_expired");
    assert_eq!(expired.len(), 1, "at lookup");
    assert_eq!(expired[0]["entity_id"], IDP);
    assert_eq!(expired[0]["valid_until"], "2030-01-01T01:00:00Z");
}
