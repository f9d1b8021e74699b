//! `ChainedMetadataResolver`: resolvers asked in order, failures that do
//! not hide the others, conflicts and ambiguity that refuse.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use saml_core::metadata::IdpMetadata;
use saml_core::store::{MetadataResolver, Provider, ProviderSettings, StoreError};
use saml_store_memory::{ChainedMetadataResolver, StaticMetadataResolver};

fn provider(name: &str, entity_id: &str) -> Provider {
    Provider {
        name: name.to_owned(),
        metadata: IdpMetadata::from_parts(entity_id, vec![], vec![], vec![]),
        settings: ProviderSettings::default(),
    }
}

fn name(p: Option<Arc<Provider>>) -> Option<String> {
    p.map(|p| p.name.clone())
}

/// A resolver whose source is down: every call fails.
#[derive(Debug)]
struct Down;

#[async_trait]
impl MetadataResolver for Down {
    async fn provider(&self, _: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        Err(StoreError::Unavailable("metadata URL down".into()))
    }
    async fn provider_by_entity_id(&self, _: &str) -> Result<Option<Arc<Provider>>, StoreError> {
        Err(StoreError::Unavailable("metadata URL down".into()))
    }
    async fn providers(&self) -> Result<Vec<Arc<Provider>>, StoreError> {
        Err(StoreError::Unavailable("metadata URL down".into()))
    }
}

#[tokio::test]
async fn an_empty_chain_knows_nobody() {
    let chain = ChainedMetadataResolver::new();
    assert!(chain.is_empty());
    assert_eq!(name(chain.provider("dev").await.unwrap()), None);
    assert_eq!(name(chain.provider_by_entity_id("x").await.unwrap()), None);
    assert!(chain.providers().await.unwrap().is_empty());
}

#[tokio::test]
async fn lookups_go_through_the_resolvers_in_order() {
    let chain = ChainedMetadataResolver::new()
        .with(StaticMetadataResolver::new(vec![provider(
            "dev",
            "https://dev",
        )]))
        .with(StaticMetadataResolver::new(vec![
            provider("okta", "https://okta"),
            // Shadowed by the first resolver's `dev`.
            provider("dev", "https://other-dev"),
        ]));
    assert_eq!(chain.len(), 2);
    assert_eq!(
        name(chain.provider("okta").await.unwrap()).as_deref(),
        Some("okta")
    );
    let dev = chain.provider("dev").await.unwrap().unwrap();
    assert_eq!(dev.metadata.entity_id(), "https://dev");
    assert_eq!(
        name(chain.provider_by_entity_id("https://okta").await.unwrap()).as_deref(),
        Some("okta")
    );
    assert_eq!(name(chain.provider("nobody").await.unwrap()), None);
    let names: Vec<String> = chain
        .providers()
        .await
        .unwrap()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(names, ["dev", "okta"]);
}

#[tokio::test]
async fn a_failing_resolver_does_not_hide_the_others_but_fails_closed_when_nothing_is_found() {
    let chain = ChainedMetadataResolver::new()
        .with(Down)
        .with(StaticMetadataResolver::new(vec![provider(
            "dev",
            "https://dev",
        )]));
    assert_eq!(
        name(chain.provider("dev").await.unwrap()).as_deref(),
        Some("dev")
    );
    assert_eq!(
        name(chain.provider_by_entity_id("https://dev").await.unwrap()).as_deref(),
        Some("dev")
    );
    // Unknown everywhere that answered, and one resolver could not answer:
    // the provider may exist there, so the lookup fails (503), not "unknown".
    assert!(matches!(
        chain.provider("remote").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        chain.provider_by_entity_id("https://remote").await,
        Err(StoreError::Unavailable(_))
    ));
    // The list leaves the failing resolver out.
    assert_eq!(chain.providers().await.unwrap().len(), 1);
    // Only failures: the list fails too.
    let down = ChainedMetadataResolver::new()
        .with(Down)
        .with_shared(Arc::new(Down));
    assert!(matches!(
        down.providers().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn an_ambiguous_lookup_is_refused_at_once() {
    let chain = ChainedMetadataResolver::new()
        .with(StaticMetadataResolver::new(vec![
            provider("a", "https://same"),
            provider("b", "https://same"),
        ]))
        .with(StaticMetadataResolver::new(vec![provider(
            "c",
            "https://same",
        )]));
    assert!(matches!(
        chain.provider_by_entity_id("https://same").await,
        Err(StoreError::Conflict(_))
    ));
}
