//! The audit events of `SamlLayer` (DESIGN.md section 4: one per login,
//! failure with its code, logout and replay), captured by a small tracing
//! subscriber while the layer runs in process as in `layer.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Once;

use http::header::ORIGIN;
use http::{Method, StatusCode};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use support::{
    ALICE, BASE, BOB, Browser, Sp, begin_login, empty, idp_answer, login, post_response,
    unsolicited,
};

/// One captured event: its fields by name, values as text.
type Fields = BTreeMap<String, String>;

thread_local! {
    /// This thread's events: each test runs on its own current-thread
    /// runtime, so its layer's events land in its own list.
    static EVENTS: RefCell<Vec<Fields>> = const { RefCell::new(Vec::new()) };
}

/// The process-wide subscriber: keeps every `saml::audit` event in the
/// emitting thread's list and ignores the rest. It is global, installed
/// before any event, so no callsite can cache "nobody listens" (a scoped
/// subscriber per test raced with other tests registering callsites).
#[derive(Debug, Clone, Copy, Default)]
struct Collector;

/// A view of the current thread's events.
#[derive(Debug, Clone, Copy)]
struct AuditLog;

impl AuditLog {
    fn events(self) -> Vec<Fields> {
        EVENTS.with(|e| e.borrow().clone())
    }

    /// The events named `event`.
    fn named(self, event: &str) -> Vec<Fields> {
        self.events()
            .into_iter()
            .filter(|f| f.get("event").map(String::as_str) == Some(event))
            .collect()
    }
}

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
        metadata.target() == "saml::audit"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        EVENTS.with(|e| e.borrow_mut().push(fields));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Installs the collector (once per process) and starts this thread's
/// list afresh.
fn capture() -> AuditLog {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Collector).expect("no other subscriber");
    });
    EVENTS.with(|e| e.borrow_mut().clear());
    AuditLog
}

#[tokio::test]
async fn a_login_and_a_logout_each_leave_one_audit_event_without_secrets() {
    let log = capture();
    let (sp, idp) = Sp::dev();
    let mut browser = Browser::default();
    login(&sp, &idp, &mut browser, None).await;

    let started = log.named("login_started");
    assert_eq!(started.len(), 1, "{:?}", log.events());
    assert_eq!(started[0]["provider"], "dev");
    assert!(started[0]["request_id"].len() > 10, "{started:?}");
    let logins = log.named("login");
    assert_eq!(logins.len(), 1, "{:?}", log.events());
    assert_eq!(logins[0]["provider"], "dev");
    assert_eq!(logins[0]["subject"], ALICE);
    assert_eq!(logins[0]["detail"], "sp_initiated");
    assert!(log.named("rejected").is_empty(), "{:?}", log.events());

    let token = browser.cookie("saml_session").unwrap().to_owned();
    let req = browser
        .request(Method::POST, "/saml/logout")
        .header(ORIGIN, BASE)
        .body(empty())
        .unwrap();
    let reply = browser.send(&sp, req).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(log.named("logout").len(), 1, "{:?}", log.events());

    // The session token never reaches the audit log.
    for event in log.events() {
        for value in event.values() {
            assert!(!value.contains(&token), "session token in {event:?}");
        }
    }
}

#[tokio::test]
async fn a_refused_response_is_audited_with_its_code() {
    let log = capture();
    let (sp, idp) = Sp::dev();
    let mut attacker = Browser::default();
    let location = begin_login(&sp, &mut attacker, "").await;
    let form = idp_answer(&idp, &location, &sp.clock, &sp.clock, BOB);
    let reply = post_response(&sp, &mut Browser::default(), &form).await;
    reply.assert_rejected(StatusCode::FORBIDDEN, "in_response_to_mismatch");

    let rejected = log.named("rejected");
    assert_eq!(rejected.len(), 1, "{:?}", log.events());
    assert_eq!(rejected[0]["code"], "in_response_to_mismatch");
    assert_eq!(rejected[0]["path"], "/saml/acs");
    assert!(log.named("login").is_empty(), "{:?}", log.events());
    let failed = log.named("login_failed");
    assert_eq!(failed.len(), 1, "{:?}", log.events());
    assert_eq!(failed[0]["code"], "in_response_to_mismatch");
}

#[tokio::test]
async fn a_replay_is_audited_as_a_replay_and_as_a_refusal() {
    let log = capture();
    let (sp, idp) = Sp::dev_with(|s| s.allow_idp_initiated = true, |b| b);
    let form = unsolicited(&sp, &idp, &sp.acs_url(), None);
    let first = post_response(&sp, &mut Browser::default(), &form).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{first:?}");
    let logins = log.named("login");
    assert_eq!(logins.len(), 1, "{:?}", log.events());
    assert_eq!(logins[0]["detail"], "idp_initiated");

    let again = post_response(&sp, &mut Browser::default(), &form).await;
    again.assert_rejected(StatusCode::BAD_REQUEST, "replayed");
    let replays = log.named("replay");
    assert_eq!(replays.len(), 1, "{:?}", log.events());
    assert_eq!(replays[0]["provider"], "dev");
    assert_eq!(replays[0]["code"], "replayed");
    assert!(
        replays[0]["detail"].starts_with("assertion _"),
        "{replays:?}"
    );
    let rejected = log.named("rejected");
    assert_eq!(rejected.len(), 1, "{:?}", log.events());
    assert_eq!(rejected[0]["code"], "replayed");
    assert_eq!(log.named("login").len(), 1, "no second login");
}
