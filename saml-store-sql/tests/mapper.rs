//! `DirectoryMapper` on every database: pre-provisioned users (known,
//! unknown, disabled), just-in-time users (added once, also when many
//! sign-ins of a new user race on two nodes), and failures that refuse.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use saml_core::clock::FixedClock;
use saml_core::protocol::Assertion;
use saml_core::store::{PassThroughMapper, Provider, SamlUser, UserMapper};
use saml_core::{Error, ErrorCode};
use saml_store_sql::{DirectoryMapper, NewUser, REFUSED_CODE, SignInMode};
use saml_testkit::conformance::at;

use common::{Server, fresh, provider, sample_assertion, two_nodes};

/// An inner mapper that returns a fixed user (whatever the assertion says).
#[derive(Debug, Clone)]
struct Fixed(SamlUser);

#[async_trait]
impl UserMapper for Fixed {
    async fn map(&self, provider: &Provider, _: &Assertion) -> Result<SamlUser, Error> {
        let mut user = self.0.clone();
        user.provider = provider.name.clone();
        Ok(user)
    }
}

async fn user(name_id: &str, attributes: &[(&str, &str)]) -> Fixed {
    // Start from what the default mapper makes of a real assertion.
    let mut user = PassThroughMapper
        .map(&provider("any"), &sample_assertion())
        .await
        .expect("pass-through");
    user.name_id = name_id.to_owned();
    user.session_index = Some("s-1".to_owned());
    user.attributes = attributes
        .iter()
        .map(|(name, value)| ((*name).to_owned(), vec![(*value).to_owned()]))
        .collect();
    Fixed(user)
}

async fn pre_provisioned(server: Server) {
    let store = fresh(server).await;
    let users = store.users();
    users
        .add(NewUser::new("okta", "alice"), at(0))
        .await
        .unwrap();
    users
        .add(NewUser::new("okta", "dora").enabled(false), at(0))
        .await
        .unwrap();
    users
        .add(NewUser::new("entra", "bob"), at(0))
        .await
        .unwrap();
    let okta = provider("okta");
    let assertion = sample_assertion();
    let mapper = |inner: Fixed| {
        DirectoryMapper::new(store.users(), SignInMode::AdmitPreProvisioned).with_inner(inner)
    };

    // Known and enabled: the inner mapper's user, unchanged.
    let alice = mapper(user("alice", &[]).await)
        .map(&okta, &assertion)
        .await
        .expect("alice");
    assert_eq!(alice.name_id, "alice");
    assert_eq!(alice.provider, "okta");
    assert_eq!(alice.session_index.as_deref(), Some("s-1"));

    // Unknown here (bob belongs to another provider), or disabled: refused.
    for (name_id, why) in [
        ("bob", "not in the user directory"),
        ("mallory", "not in the user directory"),
        ("ALICE", "not in the user directory"),
        ("dora", "disabled"),
    ] {
        let err = mapper(user(name_id, &[]).await)
            .map(&okta, &assertion)
            .await
            .expect_err(name_id);
        assert_eq!(err.code(), REFUSED_CODE, "{name_id}");
        assert!(err.detail().contains(why), "{name_id}: {}", err.detail());
    }
    // Nothing was added by refusals.
    assert_eq!(users.count("okta").await.unwrap(), 2);

    // Enabling dora lets her in.
    users
        .set_enabled("okta", "dora", true, at(5))
        .await
        .unwrap();
    mapper(user("dora", &[]).await)
        .map(&okta, &assertion)
        .await
        .expect("dora enabled");
}

/// The default inner mapper on a real assertion from the dev IdP.
async fn pass_through_on_a_real_assertion(server: Server) {
    let store = fresh(server).await;
    let assertion = sample_assertion();
    let okta = provider("okta");
    let mapper = DirectoryMapper::new(store.users(), SignInMode::AdmitPreProvisioned);
    assert_eq!(
        mapper
            .map(&okta, &assertion)
            .await
            .expect_err("unknown")
            .code(),
        REFUSED_CODE
    );
    store
        .users()
        .add(NewUser::new("okta", assertion.name_id.value.clone()), at(0))
        .await
        .unwrap();
    let user = mapper.map(&okta, &assertion).await.expect("known");
    assert_eq!(user.name_id, assertion.name_id.value);
    assert!(!user.attributes.is_empty());

    // By attribute instead of NameID.
    let by_uid = DirectoryMapper::new(store.users(), SignInMode::AdmitPreProvisioned)
        .external_id_attribute("no-such-attribute");
    assert_eq!(
        by_uid
            .map(&okta, &assertion)
            .await
            .expect_err("no attribute")
            .code(),
        ErrorCode::MissingAttribute
    );
}

async fn just_in_time(server: Server) {
    let store = fresh(server).await;
    let users = store.users();
    let okta = provider("okta");
    let assertion = sample_assertion();
    let clock = Arc::new(FixedClock(at(100)));
    let jit = |inner: Fixed| {
        DirectoryMapper::new(store.users(), SignInMode::JustInTime)
            .with_clock(clock.clone())
            .with_inner(inner)
    };

    let first = jit(user(
        "erin",
        &[("mail", "erin@example.com"), ("displayName", "Erin")],
    )
    .await);
    // A preview (an admin's test login) admits her but adds nobody.
    let previewed = first.preview(&okta, &assertion).await.expect("admitted");
    assert_eq!(previewed.name_id, "erin");
    assert_eq!(users.count("okta").await.unwrap(), 0);
    first.map(&okta, &assertion).await.expect("added");
    let erin = users
        .get("okta", "erin")
        .await
        .unwrap()
        .expect("in the directory");
    assert!(erin.enabled);
    assert_eq!(erin.email.as_deref(), Some("erin@example.com"));
    assert_eq!(erin.display_name.as_deref(), Some("Erin"));
    assert_eq!(erin.created_at, at(100));

    // Again: no second row, nothing changed.
    first.map(&okta, &assertion).await.expect("known now");
    assert_eq!(users.count("okta").await.unwrap(), 1);

    // An attribute that is not an email address is left out, not fatal.
    jit(user("finn", &[("email", "not an email")]).await)
        .map(&okta, &assertion)
        .await
        .expect("added");
    assert_eq!(
        users.get("okta", "finn").await.unwrap().unwrap().email,
        None
    );

    // Disabled users stay out in this mode too.
    users
        .set_enabled("okta", "erin", false, at(200))
        .await
        .unwrap();
    let err = first.map(&okta, &assertion).await.expect_err("disabled");
    assert_eq!(err.code(), REFUSED_CODE);
    assert!(err.detail().contains("disabled"));
    assert_eq!(users.count("okta").await.unwrap(), 2);
}

/// Sixteen first sign-ins of one new user on two nodes at once: all get in,
/// one row is added.
async fn just_in_time_concurrently(server: Server) {
    let (a, b) = two_nodes(server).await;
    let assertion = Arc::new(sample_assertion());
    let okta = Arc::new(provider("okta"));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (assertion, okta) = (Arc::clone(&assertion), Arc::clone(&okta));
        tasks.push(tokio::spawn(async move {
            DirectoryMapper::new(store.users(), SignInMode::JustInTime)
                .with_inner(user("new-user", &[]).await)
                .map(&okta, &assertion)
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().expect("every sign-in gets in");
    }
    assert_eq!(a.users().count("okta").await.unwrap(), 1);
}

/// A database that went away refuses with `store_unavailable`.
async fn fails_closed(server: Server) {
    let store = fresh(server).await;
    store
        .users()
        .add(NewUser::new("okta", "alice"), at(0))
        .await
        .unwrap();
    store.connection().clone().close().await.unwrap();
    for mode in [SignInMode::AdmitPreProvisioned, SignInMode::JustInTime] {
        let err = DirectoryMapper::new(store.users(), mode)
            .with_inner(user("alice", &[]).await)
            .map(&provider("okta"), &sample_assertion())
            .await
            .expect_err("closed");
        assert_eq!(err.code(), ErrorCode::StoreUnavailable, "{mode:?}");
    }
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test]
            async fn admit_pre_provisioned() {
                pre_provisioned(Server::$server).await;
            }

            #[tokio::test]
            async fn real_assertion() {
                pass_through_on_a_real_assertion(Server::$server).await;
            }

            #[tokio::test]
            async fn jit() {
                just_in_time(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn jit_racing_sign_ins() {
                just_in_time_concurrently(Server::$server).await;
            }

            #[tokio::test]
            async fn database_gone() {
                fails_closed(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Postgres, Mysql, Sqlite);
