//! The provider registry on every database: create, read, update, list,
//! enable and disable, the `MetadataResolver` view, and removal with the
//! provider's users and sessions (also sessions older than the
//! `provider_key` column).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use saml_core::store::{MetadataResolver, ProviderSettings, SessionStore};
use saml_store_sql::{NewUser, RegistryError};
use saml_testkit::conformance::{at, sample_session, sample_user};
use sea_orm::ConnectionTrait;

use common::{Server, fresh};

fn metadata(entity_id: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{entity_id}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

async fn crud_and_resolver(server: Server) {
    let store = fresh(server).await;
    let registry = store.providers();
    let mut settings = ProviderSettings::default();
    settings.display_name = Some("Acme".to_owned());
    let created = registry
        .create(
            "acme",
            settings.clone(),
            &metadata("https://idp.acme.test"),
            at(0),
        )
        .await
        .expect("create");
    assert_eq!(created.revision, 1);
    registry
        .create(
            "globex",
            ProviderSettings::default(),
            &metadata("https://idp.globex.test"),
            at(0),
        )
        .await
        .expect("second");

    for (name, xml) in [
        ("acme", metadata("https://idp.other.test")),
        ("other", metadata("https://idp.acme.test")),
    ] {
        let err = registry
            .create(name, ProviderSettings::default(), &xml, at(1))
            .await;
        assert!(
            matches!(err, Err(RegistryError::AlreadyExists(_))),
            "{name}: {err:?}"
        );
    }
    for name in ["", "has space", "slash/", "ü"] {
        let err = registry
            .create(
                name,
                ProviderSettings::default(),
                &metadata("https://x.test"),
                at(1),
            )
            .await;
        assert!(
            matches!(err, Err(RegistryError::InvalidName(_))),
            "{name:?}: {err:?}"
        );
    }
    let err = registry
        .create(
            "broken",
            ProviderSettings::default(),
            "<not-metadata/>",
            at(1),
        )
        .await;
    assert!(
        matches!(err, Err(RegistryError::InvalidMetadata(_))),
        "{err:?}"
    );

    let acme = registry.get("acme").await.unwrap().expect("acme");
    assert_eq!(acme.provider.settings, settings);
    assert_eq!(acme.provider.metadata.entity_id(), "https://idp.acme.test");
    assert_eq!(acme.metadata_xml, metadata("https://idp.acme.test"));
    let names: Vec<String> = registry
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.provider.name)
        .collect();
    assert_eq!(names, ["acme", "globex"]);

    // The resolver view.
    let found = registry
        .provider_by_entity_id("https://idp.acme.test")
        .await
        .unwrap()
        .expect("by entity ID");
    assert_eq!(found.name, "acme");
    assert!(registry.provider("ACME").await.unwrap().is_none());
    assert!(
        registry
            .provider_by_entity_id("https://idp.acme.test/")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(registry.providers().await.unwrap().len(), 2);

    // Update: new metadata (a new entity ID), then disable and enable.
    let revision = registry
        .update(
            "acme",
            settings.clone(),
            &metadata("https://idp2.acme.test"),
            at(10),
        )
        .await
        .unwrap();
    assert_eq!(revision, 2);
    assert!(
        registry
            .provider_by_entity_id("https://idp.acme.test")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        registry
            .provider_by_entity_id("https://idp2.acme.test")
            .await
            .unwrap()
            .is_some()
    );
    let taken = registry
        .update(
            "acme",
            settings.clone(),
            &metadata("https://idp.globex.test"),
            at(11),
        )
        .await;
    assert!(
        matches!(taken, Err(RegistryError::AlreadyExists(_))),
        "{taken:?}"
    );
    assert_eq!(
        registry.set_enabled("acme", false, at(12)).await.unwrap(),
        3
    );
    let acme = registry.provider("acme").await.unwrap().unwrap();
    assert!(!acme.settings.enabled);
    assert_eq!(acme.settings.display_name.as_deref(), Some("Acme"));
    assert_eq!(registry.set_enabled("acme", true, at(13)).await.unwrap(), 4);
    let stored = registry.get("acme").await.unwrap().unwrap();
    assert!(stored.provider.settings.enabled);
    assert_eq!((stored.created_at, stored.updated_at), (at(0), at(13)));
    assert!(matches!(
        registry.set_enabled("nobody", true, at(14)).await,
        Err(RegistryError::NotFound(_))
    ));
}

async fn removal_takes_users_and_sessions(server: Server) {
    let store = fresh(server).await;
    let registry = store.providers();
    registry
        .create(
            "acme",
            ProviderSettings::default(),
            &metadata("https://idp.acme.test"),
            at(0),
        )
        .await
        .unwrap();
    let users = store.users();
    for (provider, id) in [("acme", "alice"), ("acme", "bob"), ("globex", "carol")] {
        users.add(NewUser::new(provider, id), at(0)).await.unwrap();
    }
    for (sid, provider, name_id) in [
        ("s1", "acme", "alice"),
        ("s2", "acme", "bob"),
        ("s3", "globex", "carol"),
    ] {
        store
            .create(sample_session(
                sid,
                sample_user(provider, name_id, None),
                at(0),
                at(3600),
            ))
            .await
            .unwrap();
    }
    // A session from before the provider column: it must end too.
    store
        .connection()
        .execute_unprepared("UPDATE saml_session SET provider_key = NULL")
        .await
        .unwrap();
    store
        .create(sample_session(
            "s4",
            sample_user("acme", "alice", None),
            at(0),
            at(3600),
        ))
        .await
        .unwrap();

    let removed = registry.remove("acme").await.unwrap();
    assert_eq!((removed.users, removed.sessions), (2, 3));
    assert!(registry.get("acme").await.unwrap().is_none());
    assert_eq!(users.count("acme").await.unwrap(), 0);
    assert_eq!(users.count("globex").await.unwrap(), 1);
    for sid in ["s1", "s2", "s4"] {
        assert!(store.load(sid, at(1)).await.unwrap().is_none(), "{sid}");
    }
    assert!(store.load("s3", at(1)).await.unwrap().is_some());
    assert!(matches!(
        registry.remove("acme").await,
        Err(RegistryError::NotFound(_))
    ));
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test]
            async fn crud() {
                crud_and_resolver(Server::$server).await;
            }

            #[tokio::test]
            async fn remove() {
                removal_takes_users_and_sessions(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Postgres, Mysql, Sqlite);
