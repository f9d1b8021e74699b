//! `MdqResolver` against a fake MDQ service and a manual clock: hits,
//! misses and negative caching, the request shape, signatures, refresh with
//! 304, the last good copy, expiry and the cache bound.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use saml_core::ErrorCode;
use saml_core::store::{MetadataResolver, ProviderSettings};
use saml_remote::{
    HttpClient, MdqResolver, MdqResolverBuilder, RefreshOutcome, mdq_url, provider_name_for,
};
use support::{FakeClient, ManualClock, entity_doc, long_key, sign, t0, valid_until};

const BASE: &str = "https://mdq.fed.example.org";
const IDP: &str = "https://idp.uni.example/idp/shibboleth";

fn builder(client: &Arc<FakeClient>, clock: &Arc<ManualClock>) -> MdqResolverBuilder {
    MdqResolver::builder(format!("{BASE}/"))
        .http_client(Arc::clone(client) as Arc<dyn HttpClient>)
        .clock(Arc::clone(clock) as _)
}

fn setup() -> (Arc<FakeClient>, Arc<ManualClock>) {
    (FakeClient::new(), ManualClock::at(t0()))
}

#[tokio::test]
async fn a_hit_is_fetched_once_by_its_encoded_entity_id() {
    let (client, clock) = setup();
    let signer = long_key("mdq signer");
    let k = long_key("idp");
    let url = mdq_url(BASE, IDP);
    assert_eq!(
        url,
        "https://mdq.fed.example.org/entities/https%3A%2F%2Fidp.uni.example%2Fidp%2Fshibboleth"
    );
    client.doc(
        &url,
        &sign(
            &entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
            &signer,
        ),
        "\"1\"",
    );
    let mdq = builder(&client, &clock)
        .signed_by_pem(&signer.cert_pem)
        .unwrap()
        .any_entity(ProviderSettings::default())
        .build()
        .unwrap();
    let p = mdq.provider_by_entity_id(IDP).await.unwrap().unwrap();
    assert_eq!(p.metadata.entity_id(), IDP);
    assert!(p.metadata.signature_verified());
    assert_eq!(p.name, provider_name_for(IDP));
    assert_eq!(p.display_name(), IDP);
    let request = client.last_request();
    assert_eq!(request.url, url);
    assert_eq!(
        request.header_value("Accept"),
        Some("application/samlmetadata+xml")
    );

    // Cached: by entity ID and by its generated name.
    let again = mdq.provider_by_entity_id(IDP).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&p, &again));
    let by_name = mdq.provider(&p.name).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&p, &by_name));
    assert_eq!(client.calls(&url), 1);

    // Due after cacheDuration: a conditional request, 304, same copy.
    clock.advance(3600);
    let after = mdq.provider_by_entity_id(IDP).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&p, &after));
    assert_eq!(client.calls(&url), 2);
    assert_eq!(
        client.last_request().header_value("If-None-Match"),
        Some("\"1\"")
    );
    assert_eq!(
        mdq.refresh_entity(IDP).await.unwrap(),
        RefreshOutcome::NotModified
    );
}

#[tokio::test]
async fn a_miss_is_cached_briefly() {
    let (client, clock) = setup();
    let mdq = builder(&client, &clock)
        .allow_unsigned()
        .any_entity(ProviderSettings::default())
        .negative_ttl(Duration::from_secs(120))
        .build()
        .unwrap();
    let unknown = "https://unknown.example/idp";
    let url = mdq_url(BASE, unknown);
    assert!(mdq.provider_by_entity_id(unknown).await.unwrap().is_none());
    assert!(mdq.provider_by_entity_id(unknown).await.unwrap().is_none());
    assert!(
        mdq.provider(&provider_name_for(unknown))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(client.calls(&url), 1, "the 404 is remembered");
    clock.advance(119);
    assert!(mdq.provider_by_entity_id(unknown).await.unwrap().is_none());
    assert_eq!(client.calls(&url), 1);
    clock.advance(1);
    assert!(mdq.provider_by_entity_id(unknown).await.unwrap().is_none());
    assert_eq!(client.calls(&url), 2, "asked again after the negative TTL");

    // The entity appears later: found once the negative result lapses.
    let k = long_key("idp");
    client.doc(&url, &entity_doc(unknown, &[&k.cert_b64], ""), "\"1\"");
    assert!(mdq.provider_by_entity_id(unknown).await.unwrap().is_none());
    clock.advance(120);
    assert!(mdq.provider_by_entity_id(unknown).await.unwrap().is_some());

    // An entity removed from the federation (404 at refresh) stops being known.
    client.status(&url, 404);
    mdq.refresh_entity(unknown).await.unwrap();
    assert!(mdq.provider_by_entity_id(unknown).await.unwrap().is_none());

    // Odd lookups never reach the network.
    let before = client.total_calls();
    assert!(mdq.provider_by_entity_id("").await.unwrap().is_none());
    assert!(
        mdq.provider_by_entity_id(&"x".repeat(5_000))
            .await
            .unwrap()
            .is_none()
    );
    for dots in [".", ".."] {
        assert!(mdq.provider_by_entity_id(dots).await.unwrap().is_none());
        assert!(mdq.provider(dots).await.unwrap().is_none());
    }
    assert!(mdq.provider("%FF%FE").await.unwrap().is_none());
    assert!(mdq.provider("not%2fcanonical").await.unwrap().is_none());
    assert_eq!(client.total_calls(), before);
}

#[tokio::test]
async fn only_configured_entities_without_any_entity() {
    let (client, clock) = setup();
    let k = long_key("idp");
    client.doc(
        &mdq_url(BASE, IDP),
        &entity_doc(IDP, &[&k.cert_b64], ""),
        "\"1\"",
    );
    let mdq = builder(&client, &clock)
        .allow_unsigned()
        .entity("uni", IDP, ProviderSettings::default())
        .build()
        .unwrap();
    let p = mdq.provider("uni").await.unwrap().unwrap();
    assert_eq!(p.name, "uni");
    assert_eq!(
        mdq.provider_by_entity_id(IDP).await.unwrap().unwrap().name,
        "uni"
    );
    let listed = mdq.providers().await.unwrap();
    assert_eq!(listed.len(), 1);
    // No generated name for a named entity, and nothing else is resolved.
    assert!(
        mdq.provider(&provider_name_for(IDP))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        mdq.provider_by_entity_id("https://other.example")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(client.total_calls(), 1);
    assert!(mdq.refresh_entity("https://other.example").await.is_err());
}

#[tokio::test]
async fn signatures_and_entity_ids_are_checked() {
    let signer = long_key("mdq signer");
    let stranger = long_key("stranger");
    let k = long_key("idp");
    let url = mdq_url(BASE, IDP);
    let doc = entity_doc(IDP, &[&k.cert_b64], "");
    for (label, body, code) in [
        ("unsigned", doc.clone(), ErrorCode::SignatureMissing),
        (
            "wrong signer",
            sign(&doc, &stranger),
            ErrorCode::UntrustedKey,
        ),
        (
            "another entity",
            sign(
                &entity_doc("https://impostor.example", &[&k.cert_b64], ""),
                &signer,
            ),
            ErrorCode::UnknownProvider,
        ),
    ] {
        let (client, clock) = setup();
        client.doc(&url, &body, "\"1\"");
        let mdq = builder(&client, &clock)
            .signed_by(vec![signer.cert.clone()])
            .any_entity(ProviderSettings::default())
            .build()
            .unwrap();
        let err = mdq.refresh_entity(IDP).await.unwrap_err();
        if label == "wrong signer" {
            assert!(
                matches!(
                    err.code(),
                    ErrorCode::UntrustedKey | ErrorCode::SignatureInvalid
                ),
                "{label}: {err}"
            );
        } else {
            assert_eq!(err.code(), code, "{label}: {err}");
        }
        // A lookup fails closed with the reason and its code.
        let lookup = mdq.provider_by_entity_id(IDP).await.unwrap_err();
        assert!(lookup.to_string().contains(err.code().as_str()), "{lookup}");
    }
    // Unsigned answers need an explicit opt-in.
    let (client, clock) = setup();
    let err = builder(&client, &clock)
        .any_entity(ProviderSettings::default())
        .build()
        .unwrap_err();
    assert!(err.message().contains("signed_by_pem"), "{err}");
    let err = MdqResolver::builder("http://mdq.example.org")
        .allow_unsigned()
        .any_entity(ProviderSettings::default())
        .http_client(client as Arc<dyn HttpClient>)
        .build()
        .unwrap_err();
    assert!(err.message().contains("https://"), "{err}");
}

#[tokio::test]
async fn last_good_copy_and_expiry() {
    let (client, clock) = setup();
    let k = long_key("idp");
    let url = mdq_url(BASE, IDP);
    let until = t0() + chrono::TimeDelta::hours(3);
    client.doc(
        &url,
        &entity_doc(
            IDP,
            &[&k.cert_b64],
            &format!(r#" cacheDuration="PT1H"{}"#, valid_until(until)),
        ),
        "\"1\"",
    );
    let mdq = builder(&client, &clock)
        .allow_unsigned()
        .any_entity(ProviderSettings::default())
        .build()
        .unwrap();
    let good = mdq.provider_by_entity_id(IDP).await.unwrap().unwrap();
    client.status(&url, 500);
    clock.advance(2 * 3600);
    let p = mdq.provider_by_entity_id(IDP).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&p, &good), "the service fails: last good copy");
    assert!(mdq.refresh().await.is_err());
    clock.set(until);
    let err = mdq.provider_by_entity_id(IDP).await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let (client, clock) = setup();
    let k = long_key("idp");
    let ids: Vec<String> = (0..5).map(|i| format!("https://idp{i}.example")).collect();
    for id in &ids {
        client.doc(
            &mdq_url(BASE, id),
            &entity_doc(id, &[&k.cert_b64], ""),
            "\"1\"",
        );
    }
    let mdq = builder(&client, &clock)
        .allow_unsigned()
        .entity(
            "pinned",
            "https://pinned.example",
            ProviderSettings::default(),
        )
        .any_entity(ProviderSettings::default())
        .max_entities(3)
        .build()
        .unwrap();
    client.doc(
        &mdq_url(BASE, "https://pinned.example"),
        &entity_doc("https://pinned.example", &[&k.cert_b64], ""),
        "\"1\"",
    );
    assert!(mdq.provider("pinned").await.unwrap().is_some());
    for id in &ids {
        clock.advance(1);
        assert!(mdq.provider_by_entity_id(id).await.unwrap().is_some());
        assert!(mdq.cached_entities() <= 3, "{}", mdq.cached_entities());
    }
    // The configured entity stayed; the oldest dynamic ones went.
    let calls = client.total_calls();
    assert!(mdq.provider("pinned").await.unwrap().is_some());
    assert_eq!(client.total_calls(), calls);
    assert!(mdq.provider_by_entity_id(&ids[0]).await.unwrap().is_some());
    assert_eq!(client.total_calls(), calls + 1, "evicted, fetched again");
    // Misses for random Issuers cannot grow the cache past its bound either.
    for i in 0..50 {
        let _ = mdq
            .provider_by_entity_id(&format!("https://random{i}.example"))
            .await;
    }
    assert!(mdq.cached_entities() <= 3);
}

#[tokio::test]
async fn background_refresh_of_cached_entities() {
    let (client, clock) = setup();
    let k = long_key("idp");
    let url = mdq_url(BASE, IDP);
    client.doc(
        &url,
        &entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
        "\"1\"",
    );
    let mdq = builder(&client, &clock)
        .allow_unsigned()
        .any_entity(ProviderSettings::default())
        .policy(saml_remote::RefreshPolicy::new().with_refresh_on_lookup(false))
        .build()
        .unwrap();
    assert_eq!(mdq.next_refresh(), None);
    mdq.provider_by_entity_id(IDP).await.unwrap().unwrap();
    assert_eq!(mdq.next_refresh(), Some(t0() + chrono::TimeDelta::hours(1)));
    clock.advance(3600);
    mdq.provider_by_entity_id(IDP).await.unwrap().unwrap();
    assert_eq!(client.calls(&url), 1);
    mdq.refresh_due().await.unwrap();
    assert_eq!(client.calls(&url), 2);
}
