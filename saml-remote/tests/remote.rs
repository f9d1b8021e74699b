//! `RemoteMetadataResolver` against a fake network and a manual clock:
//! first fetch, conditional requests, the refresh schedule and its bounds,
//! the last good copy, expiry, signatures (ours and `xmlsec1`'s, and a real
//! Entra ID document), aggregates, key rollover, the transport rule, the
//! size cap and the archive. Nothing sleeps: time moves by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use saml_core::ErrorCode;
use saml_core::store::{MetadataResolver, ProviderSettings};
use saml_remote::{
    HttpClient, MemoryArchive, MetadataArchive, MetadataSource, RefreshOutcome, RefreshPolicy,
    RemoteMetadataResolver, RemoteMetadataResolverBuilder, provider_name_for,
};
use support::{
    FakeClient, ManualClock, Reply, aggregate, entity, entity_doc, key, long_key, sign, t0,
    valid_until,
};

const URL: &str = "https://idp.example.org/metadata";
const IDP: &str = "https://idp.example.org";

fn builder(client: &Arc<FakeClient>, clock: &Arc<ManualClock>) -> RemoteMetadataResolverBuilder {
    RemoteMetadataResolver::builder()
        .http_client(Arc::clone(client) as Arc<dyn HttpClient>)
        .clock(Arc::clone(clock) as _)
}

/// One unsigned-allowed source mapping the document's IdP to `acme`.
fn unsigned(client: &Arc<FakeClient>, clock: &Arc<ManualClock>) -> RemoteMetadataResolver {
    builder(client, clock)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap()
}

fn setup() -> (Arc<FakeClient>, Arc<ManualClock>) {
    (FakeClient::new(), ManualClock::at(t0()))
}

fn store_message(e: &saml_core::store::StoreError) -> String {
    e.to_string()
}

#[tokio::test]
async fn first_lookup_fetches_once_then_serves_the_cache() {
    let (client, clock) = setup();
    let k = long_key("acme");
    client.doc(URL, &entity_doc(IDP, &[&k.cert_b64], ""), "\"v1\"");
    let resolver = unsigned(&client, &clock);
    assert_eq!(client.total_calls(), 0, "building fetches nothing");

    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(p.name, "acme");
    assert_eq!(p.metadata.entity_id(), IDP);
    assert_eq!(p.metadata.signing_certificates().len(), 1);
    assert!(!p.metadata.signature_verified());
    let request = client.last_request();
    assert_eq!(request.url, URL);
    assert!(
        request
            .header_value("Accept")
            .unwrap()
            .contains("application/samlmetadata+xml")
    );
    assert!(request.header_value("If-None-Match").is_none());

    let by_id = resolver.provider_by_entity_id(IDP).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&p, &by_id));
    assert_eq!(resolver.providers().await.unwrap().len(), 1);
    assert!(resolver.provider("other").await.unwrap().is_none());
    assert!(
        resolver
            .provider_by_entity_id("https://other.example")
            .await
            .unwrap()
            .is_none()
    );
    // A name is not an entity ID and the reverse.
    assert!(resolver.provider(IDP).await.unwrap().is_none());
    assert!(
        resolver
            .provider_by_entity_id("acme")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(client.calls(URL), 1);

    let status = &resolver.status()[0];
    assert_eq!(status.fetched_at, Some(t0()));
    assert_eq!(status.providers, 1);
    assert!(status.last_error.is_none());
}

#[tokio::test]
async fn not_modified_keeps_the_copy_and_extends_freshness() {
    let (client, clock) = setup();
    let k = long_key("acme");
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
        "\"v1\"",
    );
    let resolver = unsigned(&client, &clock);
    let first = resolver.provider("acme").await.unwrap().unwrap();

    clock.advance(59 * 60);
    resolver.provider("acme").await.unwrap();
    assert_eq!(client.calls(URL), 1, "fresh for an hour");

    clock.advance(60);
    let again = resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(client.calls(URL), 2, "due after cacheDuration");
    assert_eq!(
        client.last_request().header_value("If-None-Match"),
        Some("\"v1\"")
    );
    assert!(Arc::ptr_eq(&first, &again), "304 keeps the same copy");
    let status = &resolver.status()[0];
    assert_eq!(status.fetched_at, Some(clock_now(&clock)));
    assert_eq!(
        status.next_refresh,
        Some(clock_now(&clock) + chrono::TimeDelta::hours(1))
    );

    clock.advance(30 * 60);
    resolver.provider("acme").await.unwrap();
    assert_eq!(client.calls(URL), 2, "the 304 started a new period");

    // Last-Modified works the same way.
    client.set(
        URL,
        Reply::Doc {
            body: entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
            etag: None,
            last_modified: Some("Tue, 01 Jan 2030 00:00:00 GMT".into()),
        },
    );
    assert_eq!(
        resolver.refresh_source(URL).await.unwrap(),
        RefreshOutcome::Updated
    );
    assert_eq!(
        resolver.refresh_source(URL).await.unwrap(),
        RefreshOutcome::NotModified
    );
    assert_eq!(
        client.last_request().header_value("If-Modified-Since"),
        Some("Tue, 01 Jan 2030 00:00:00 GMT")
    );
}

fn clock_now(clock: &Arc<ManualClock>) -> chrono::DateTime<chrono::Utc> {
    saml_core::clock::Clock::now(clock.as_ref())
}

/// How many seconds after a fetch the next one happens, for a document
/// with these root attributes under this policy (probing minute by minute).
async fn refresh_after(attrs: &str, policy: RefreshPolicy) -> i64 {
    let (client, clock) = setup();
    let k = long_key("acme");
    client.doc(URL, &entity_doc(IDP, &[&k.cert_b64], attrs), "\"v1\"");
    let resolver = builder(&client, &clock)
        .policy(policy)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    resolver.provider("acme").await.unwrap().unwrap();
    for minute in 1..=24 * 60 {
        clock.advance(60);
        resolver.provider("acme").await.unwrap().unwrap();
        if client.calls(URL) == 2 {
            return minute * 60;
        }
    }
    panic!("no refresh within a day");
}

#[tokio::test]
async fn cache_duration_and_valid_until_within_the_min_and_max_bounds() {
    let policy = RefreshPolicy::new();
    // No cacheDuration: the default interval (1 h).
    assert_eq!(refresh_after("", policy.clone()).await, 3600);
    // cacheDuration inside the bounds.
    assert_eq!(
        refresh_after(r#" cacheDuration="PT20M""#, policy.clone()).await,
        1200
    );
    // Below the minimum (5 min): the minimum.
    assert_eq!(
        refresh_after(r#" cacheDuration="PT10S""#, policy.clone()).await,
        300
    );
    // Above the maximum (6 h): the maximum.
    assert_eq!(
        refresh_after(r#" cacheDuration="P7D""#, policy.clone()).await,
        6 * 3600
    );
    // validUntil in 40 minutes brings a 6 h cacheDuration forward to 30 min.
    let until = valid_until(t0() + chrono::TimeDelta::minutes(40));
    assert_eq!(
        refresh_after(&format!(r#" cacheDuration="PT6H"{until}"#), policy.clone()).await,
        1800
    );
    // Configured bounds.
    let tight = RefreshPolicy::new()
        .with_min_interval(Duration::from_secs(600))
        .with_max_interval(Duration::from_secs(1800));
    assert_eq!(
        refresh_after(r#" cacheDuration="PT1M""#, tight.clone()).await,
        600
    );
    assert_eq!(refresh_after(r#" cacheDuration="PT2H""#, tight).await, 1800);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_copy() {
    let (client, clock) = setup();
    let k = long_key("acme");
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
        "\"v1\"",
    );
    let resolver = unsigned(&client, &clock);
    let good = resolver.provider("acme").await.unwrap().unwrap();

    for (label, reply) in [
        (
            "500",
            Reply::Raw(saml_remote::HttpResponse::new(500, "oops")),
        ),
        (
            "garbage",
            Reply::Raw(saml_remote::HttpResponse::new(200, "<html>not metadata")),
        ),
        (
            "not metadata",
            Reply::Raw(saml_remote::HttpResponse::new(200, "<a/>")),
        ),
        (
            "refused",
            Reply::Fail(saml_remote::HttpError::new(
                saml_remote::HttpErrorKind::Connect,
                "connection refused",
            )),
        ),
        (
            "timeout",
            Reply::Fail(saml_remote::HttpError::new(
                saml_remote::HttpErrorKind::Timeout,
                "timed out",
            )),
        ),
    ] {
        client.set(URL, reply);
        clock.advance(2 * 3600);
        let calls = client.calls(URL);
        let p = resolver.provider("acme").await.unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&p, &good),
            "{label}: the last good copy answers"
        );
        assert_eq!(client.calls(URL), calls + 1, "{label}");
        let status = &resolver.status()[0];
        assert!(status.last_error.is_some(), "{label}");
        // No retry before the retry interval (1 min).
        clock.advance(30);
        resolver.provider("acme").await.unwrap().unwrap();
        assert_eq!(client.calls(URL), calls + 1, "{label}: retry waits");
        assert!(resolver.refresh().await.is_err(), "{label}");
    }
    let err = resolver.refresh().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreUnavailable);

    // The URL recovers: a new copy is fetched after the retry wait.
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
        "\"v2\"",
    );
    clock.advance(61);
    let fresh = resolver.provider("acme").await.unwrap().unwrap();
    assert!(!Arc::ptr_eq(&fresh, &good));
    assert!(resolver.status()[0].last_error.is_none());
}

#[tokio::test]
async fn never_loaded_and_failing_fails_closed_with_the_reason() {
    let (client, clock) = setup();
    client.status(URL, 503);
    let resolver = unsigned(&client, &clock);
    let err = resolver.provider("acme").await.unwrap_err();
    let msg = store_message(&err);
    assert!(msg.contains("store_unavailable"), "{msg}");
    assert!(msg.contains("503"), "{msg}");
    // Within the retry wait: the same answer, no new request.
    let err = resolver.provider_by_entity_id(IDP).await.unwrap_err();
    assert!(store_message(&err).contains("503"), "{err}");
    assert!(resolver.providers().await.is_err());
    assert_eq!(client.calls(URL), 1);
    clock.advance(61);
    assert!(resolver.provider("acme").await.is_err());
    assert_eq!(client.calls(URL), 2);
}

#[tokio::test]
async fn expired_metadata_stops_being_trusted() {
    let (client, clock) = setup();
    let k = long_key("acme");
    let until = t0() + chrono::TimeDelta::hours(2);
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], &valid_until(until)),
        "\"v1\"",
    );
    let resolver = unsigned(&client, &clock);
    resolver.provider("acme").await.unwrap().unwrap();

    // The URL goes down; the copy is used until validUntil...
    client.fail(URL);
    clock.set(until - chrono::TimeDelta::seconds(1));
    assert!(resolver.provider("acme").await.unwrap().is_some());
    // ...and refused from then on, saying why.
    clock.set(until);
    for err in [
        resolver.provider("acme").await.unwrap_err(),
        resolver.provider_by_entity_id(IDP).await.unwrap_err(),
        resolver.providers().await.unwrap_err(),
    ] {
        let msg = store_message(&err);
        assert!(msg.starts_with("store unavailable: expired:"), "{msg}");
        assert!(msg.contains("2030-01-01T02:00:00Z"), "{msg}");
    }

    // A freshly fetched document that has already expired is refused too.
    let (client, clock) = setup();
    client.doc(
        URL,
        &entity_doc(
            IDP,
            &[&k.cert_b64],
            &valid_until(t0() - chrono::TimeDelta::seconds(1)),
        ),
        "\"v1\"",
    );
    let resolver = unsigned(&client, &clock);
    let err = resolver.refresh().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Expired, "{err}");
    assert!(resolver.provider("acme").await.is_err());

    // An expired entity in an aggregate is left out; the rest is served.
    let (client, clock) = setup();
    let doc = aggregate(
        &[
            entity(
                "https://old.example",
                &[&k.cert_b64],
                &valid_until(t0() - chrono::TimeDelta::seconds(1)),
            ),
            entity("https://new.example", &[&k.cert_b64], ""),
        ],
        "",
    );
    client.doc(URL, &doc, "\"v1\"");
    let resolver = builder(&client, &clock)
        .source(
            MetadataSource::new(URL)
                .all_entities(ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    assert!(
        resolver
            .provider_by_entity_id("https://new.example")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        resolver
            .provider_by_entity_id("https://old.example")
            .await
            .unwrap()
            .is_none()
    );
}

fn signed_source(
    client: &Arc<FakeClient>,
    clock: &Arc<ManualClock>,
    pem: &str,
) -> RemoteMetadataResolver {
    builder(client, clock)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .signed_by_pem(pem)
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn signatures_required_verified_and_refused() {
    let publisher = long_key("metadata signer");
    let stranger = long_key("someone else");
    let idp_key = long_key("idp");
    let doc = entity_doc(IDP, &[&idp_key.cert_b64], "");

    // Valid.
    let (client, clock) = setup();
    client.doc(URL, &sign(&doc, &publisher), "\"v1\"");
    let resolver = signed_source(&client, &clock, &publisher.cert_pem);
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert!(p.metadata.signature_verified());

    // Unsigned.
    let (client, clock) = setup();
    client.doc(URL, &doc, "\"v1\"");
    let resolver = signed_source(&client, &clock, &publisher.cert_pem);
    let err = resolver.refresh().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SignatureMissing, "{err}");
    assert!(resolver.provider("acme").await.is_err());

    // Signed by another key.
    let (client, clock) = setup();
    client.doc(URL, &sign(&doc, &stranger), "\"v1\"");
    let resolver = signed_source(&client, &clock, &publisher.cert_pem);
    let err = resolver.refresh().await.unwrap_err();
    assert!(
        matches!(
            err.code(),
            ErrorCode::UntrustedKey | ErrorCode::SignatureInvalid
        ),
        "{err}"
    );

    // Tampered after signing (an attacker swaps the SSO URL).
    let (client, clock) = setup();
    let tampered =
        sign(&doc, &publisher).replace(&format!("{IDP}/sso"), "https://evil.example/sso");
    client.doc(URL, &tampered, "\"v1\"");
    let resolver = signed_source(&client, &clock, &publisher.cert_pem);
    let err = resolver.refresh().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DigestMismatch, "{err}");

    // A bad signature on refresh keeps the good copy.
    let (client, clock) = setup();
    client.doc(URL, &sign(&doc, &publisher), "\"v1\"");
    let resolver = signed_source(&client, &clock, &publisher.cert_pem);
    let good = resolver.provider("acme").await.unwrap().unwrap();
    client.doc(URL, &sign(&doc, &stranger), "\"v2\"");
    assert!(resolver.refresh().await.is_err());
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&p, &good));

    // No signer and no allow_unsigned(): refused at build time.
    let err = builder(&client, &clock)
        .source(MetadataSource::new(URL).provider("acme", ProviderSettings::default()))
        .build()
        .unwrap_err();
    assert!(err.message().contains("signed_by_pem"), "{err}");
    assert!(err.message().contains("allow_unsigned"), "{err}");
    assert!(MetadataSource::new(URL).signed_by_pem("not a pem").is_err());
}

/// Metadata signed by `xmlsec1` (the outside oracle), with an RSA key made
/// by `openssl`, verifies through the resolver with that certificate.
#[tokio::test]
async fn metadata_signed_by_xmlsec1_verifies() {
    use std::process::Command;
    if Command::new("xmlsec1").arg("--version").output().is_err() {
        eprintln!("xmlsec1 is not installed; skipping (CI installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("saml-remote-xmlsec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        ])
        .args(["-subj", "/CN=xmlsec1 metadata signer", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let idp_key = long_key("idp");
    let template = entity_doc(IDP, &[&idp_key.cert_b64], "").replacen(
        "<md:IDPSSODescriptor",
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_md"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature><md:IDPSSODescriptor"##,
        1,
    );
    let tmpl = dir.join("template.xml");
    std::fs::write(&tmpl, &template).unwrap();
    let signed_path = dir.join("signed.xml");
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(format!("{},{}", key.display(), cert.display()))
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            "--output",
        ])
        .arg(&signed_path)
        .arg(&tmpl)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read_to_string(&signed_path).unwrap();
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let (client, clock) = setup();
    client.doc(URL, &signed, "\"v1\"");
    let resolver = signed_source(&client, &clock, &cert_pem);
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert!(p.metadata.signature_verified());
    assert_eq!(p.metadata.signing_certificates().len(), 1);

    // The same document with one byte changed is refused.
    let (client, clock) = setup();
    client.doc(
        URL,
        &signed.replace(&format!("{IDP}/sso"), &format!("{IDP}/ss0")),
        "\"v1\"",
    );
    let resolver = signed_source(&client, &clock, &cert_pem);
    assert_eq!(
        resolver.refresh().await.unwrap_err().code(),
        ErrorCode::DigestMismatch
    );
}

/// Real signed federation metadata (Entra ID, with a BOM and WS-Fed roles),
/// verified with the certificate that signed it.
#[tokio::test]
async fn real_signed_entra_metadata_verifies() {
    // `SAML_SHARED_DIR` overrides where shared/ is, as in the `tests` crate.
    let shared = std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        std::path::PathBuf::from,
    );
    let path =
        shared.join("testdata/real-idp/metadata/entra-id/ssoready-entra-tenant/metadata.xml");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("{} is not there; skipping", path.display());
        return;
    };
    let xml = String::from_utf8(bytes).unwrap();
    // The signer's certificate, from the document's own Signature KeyInfo.
    let start = xml.find("<X509Certificate>").unwrap() + "<X509Certificate>".len();
    let end = start + xml[start..].find("</X509Certificate>").unwrap();
    let b64 = &xml[start..end];
    let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");

    let (client, clock) = setup();
    client.set(
        URL,
        Reply::Raw(saml_remote::HttpResponse::new(
            200,
            xml.clone().into_bytes(),
        )),
    );
    let resolver = signed_source(&client, &clock, &pem);
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert!(p.metadata.signature_verified());
    assert_eq!(
        p.metadata.entity_id(),
        "https://sts.windows.net/a9054a0f-2011-4e31-b3ac-fd8c354146ec/"
    );

    // Any other certificate: refused.
    let (client, clock) = setup();
    client.set(
        URL,
        Reply::Raw(saml_remote::HttpResponse::new(200, xml.into_bytes())),
    );
    let resolver = signed_source(&client, &clock, &long_key("other").cert_pem);
    assert!(resolver.refresh().await.is_err());
}

#[tokio::test]
async fn an_aggregate_of_thousands_is_indexed_by_entity_id() {
    const N: usize = 5_000;
    let publisher = long_key("federation");
    let idp_key = long_key("idps");
    let entities: Vec<String> = (0..N)
        .map(|i| {
            entity(
                &format!("https://idp{i}.example.org/idp"),
                &[&idp_key.cert_b64],
                "",
            )
        })
        .collect();
    let doc = sign(
        &aggregate(&entities, r#" cacheDuration="PT6H""#),
        &publisher,
    );
    let (client, clock) = setup();
    client.doc(URL, &doc, "\"agg\"");
    let resolver = builder(&client, &clock)
        .source(
            MetadataSource::new(URL)
                .signed_by(vec![publisher.cert.clone()])
                .entity(
                    "uni-42",
                    "https://idp42.example.org/idp",
                    ProviderSettings::default(),
                )
                .all_entities(ProviderSettings::default())
                .max_response_bytes(64 << 20),
        )
        .build()
        .unwrap();
    resolver.refresh().await.unwrap();

    for i in [0, 1, 42, 999, 2_500, N - 1] {
        let id = format!("https://idp{i}.example.org/idp");
        let p = resolver.provider_by_entity_id(&id).await.unwrap().unwrap();
        assert_eq!(p.metadata.entity_id(), id);
        assert!(p.metadata.signature_verified());
        if i == 42 {
            assert_eq!(p.name, "uni-42");
        } else {
            assert_eq!(p.name, provider_name_for(&id));
            assert_eq!(p.display_name(), id);
            let by_name = resolver.provider(&p.name).await.unwrap().unwrap();
            assert!(Arc::ptr_eq(&p, &by_name));
        }
    }
    assert!(resolver.provider("uni-42").await.unwrap().is_some());
    // The named entity has no generated name.
    assert!(
        resolver
            .provider(&provider_name_for("https://idp42.example.org/idp"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        resolver
            .provider_by_entity_id("https://idp5000.example.org/idp")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(resolver.providers().await.unwrap().len(), N);
    assert_eq!(resolver.status()[0].providers, N);
    assert_eq!(client.calls(URL), 1, "parsed once");
}

#[tokio::test]
async fn aggregates_refuse_ambiguous_entities_and_need_a_choice() {
    let k = long_key("idp");
    let doc = aggregate(
        &[
            entity("https://a.example", &[&k.cert_b64], ""),
            entity("https://twice.example", &[&k.cert_b64], ""),
            entity("https://twice.example", &[&k.cert_b64], ""),
        ],
        "",
    );
    let (client, clock) = setup();
    client.doc(URL, &doc, "\"v1\"");
    let resolver = builder(&client, &clock)
        .source(
            MetadataSource::new(URL)
                .all_entities(ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    assert!(
        resolver
            .provider_by_entity_id("https://twice.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        resolver
            .provider_by_entity_id("https://a.example")
            .await
            .unwrap()
            .is_some()
    );

    // `.provider(..)` on an aggregate of several IdPs: says to pick one.
    let (client, clock) = setup();
    client.doc(URL, &doc, "\"v1\"");
    let resolver = unsigned(&client, &clock);
    let err = resolver.refresh().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownProvider);
    assert!(err.to_string().contains("MetadataSource::entity"), "{err}");
}

#[tokio::test]
async fn key_rollover_is_picked_up_at_refresh() {
    let old = long_key("old");
    let new = long_key("new");
    let (client, clock) = setup();
    client.doc(URL, &entity_doc(IDP, &[&old.cert_b64], ""), "\"1\"");
    let resolver = unsigned(&client, &clock);
    let der = |p: &saml_core::store::Provider| -> Vec<Vec<u8>> {
        p.metadata
            .signing_certificates()
            .iter()
            .map(|c| c.der().to_vec())
            .collect()
    };
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(der(&p), vec![old.cert.der().to_vec()]);

    // The IdP announces its next key: both are trusted.
    client.doc(
        URL,
        &entity_doc(IDP, &[&old.cert_b64, &new.cert_b64], ""),
        "\"2\"",
    );
    clock.advance(3600);
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(
        der(&p),
        vec![old.cert.der().to_vec(), new.cert.der().to_vec()]
    );
    assert_eq!(p.metadata.signing_keys().len(), 2);

    // The old key is withdrawn: no longer trusted.
    client.doc(URL, &entity_doc(IDP, &[&new.cert_b64], ""), "\"3\"");
    clock.advance(3600);
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(der(&p), vec![new.cert.der().to_vec()]);
}

#[tokio::test]
async fn https_is_required_except_on_loopback() {
    let (client, clock) = setup();
    for bad in [
        "http://idp.example.org/metadata",
        "http://10.1.2.3/metadata",
        "ftp://idp.example.org/metadata",
        "not a url",
    ] {
        let err = builder(&client, &clock)
            .source(
                MetadataSource::new(bad)
                    .provider("acme", ProviderSettings::default())
                    .allow_unsigned(),
            )
            .build()
            .unwrap_err();
        assert!(
            err.message().contains("https://") || err.message().contains("URL"),
            "{bad}: {err}"
        );
    }
    for ok in [
        "http://127.0.0.1:8080/metadata",
        "http://[::1]/metadata",
        "http://localhost/metadata",
    ] {
        let k = long_key("acme");
        client.doc(ok, &entity_doc(IDP, &[&k.cert_b64], ""), "\"1\"");
        let resolver = builder(&client, &clock)
            .source(
                MetadataSource::new(ok)
                    .provider("acme", ProviderSettings::default())
                    .allow_unsigned(),
            )
            .build()
            .unwrap();
        assert!(resolver.provider("acme").await.unwrap().is_some(), "{ok}");
    }
    assert_eq!(client.calls("http://idp.example.org/metadata"), 0);
}

#[tokio::test]
async fn the_size_cap_holds_even_if_the_client_ignores_it() {
    let k = long_key("acme");
    let doc = entity_doc(IDP, &[&k.cert_b64], "");
    let (client, clock) = setup();
    client.doc(URL, &doc, "\"1\"");
    let resolver = builder(&client, &clock)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned()
                .max_response_bytes(doc.len() - 1),
        )
        .build()
        .unwrap();
    let err = resolver.refresh().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InputTooLarge, "{err}");
    assert!(err.to_string().contains("max_response_bytes"), "{err}");
    assert_eq!(client.last_request().max_response_bytes, doc.len() - 1);
    assert_eq!(client.last_request().timeout, Duration::from_secs(30));
}

#[tokio::test]
async fn the_archive_serves_a_restart_while_the_url_is_down() {
    let k = long_key("acme");
    let archive = MemoryArchive::new();
    let (client, clock) = setup();
    let until = t0() + chrono::TimeDelta::days(2);
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], &valid_until(until)),
        "\"v1\"",
    );
    let first = builder(&client, &clock)
        .archive(Arc::new(archive.clone()))
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    first.refresh().await.unwrap();
    let saved = archive.load(URL).await.unwrap().unwrap();
    assert_eq!(saved.etag.as_deref(), Some("\"v1\""));
    assert_eq!(saved.fetched_at, t0());

    // "Restart" with the URL down: the archived copy is used.
    client.fail(URL);
    clock.advance(3600);
    let restarted = builder(&client, &clock)
        .archive(Arc::new(archive.clone()))
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    let p = restarted.provider("acme").await.unwrap().unwrap();
    assert_eq!(p.metadata.entity_id(), IDP);
    let status = &restarted.status()[0];
    assert!(status.from_archive);
    assert_eq!(status.fetched_at, Some(t0()));
    assert!(status.last_error.is_some());

    // The URL is back with the same document: a 304 confirms the copy.
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], &valid_until(until)),
        "\"v1\"",
    );
    clock.advance(61);
    restarted.provider("acme").await.unwrap().unwrap();
    assert_eq!(
        client.last_request().header_value("If-None-Match"),
        Some("\"v1\"")
    );
    assert!(!restarted.status()[0].from_archive);

    // An archived copy past its validUntil is not revived.
    client.fail(URL);
    clock.set(until);
    let late = builder(&client, &clock)
        .archive(Arc::new(archive.clone()))
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    assert!(late.provider("acme").await.is_err());

    // An archived copy must pass today's signature rules.
    let publisher = long_key("publisher");
    let strict = builder(&client, &clock)
        .archive(Arc::new(archive))
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .signed_by(vec![publisher.cert]),
        )
        .build()
        .unwrap();
    clock.set(t0());
    assert!(strict.provider("acme").await.is_err());
}

#[tokio::test]
async fn lookups_can_leave_refreshing_to_the_background() {
    let k = long_key("acme");
    let (client, clock) = setup();
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
        "\"v1\"",
    );
    let resolver = builder(&client, &clock)
        .policy(RefreshPolicy::new().with_refresh_on_lookup(false))
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    assert_eq!(resolver.next_refresh(), None, "never fetched");
    resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(client.calls(URL), 1, "the first lookup loads");
    assert_eq!(
        resolver.next_refresh(),
        Some(t0() + chrono::TimeDelta::hours(1))
    );
    clock.advance(2 * 3600);
    resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(client.calls(URL), 1, "lookups do not refresh");
    resolver.refresh_due().await.unwrap();
    assert_eq!(client.calls(URL), 2, "the background call does");
    resolver.refresh_due().await.unwrap();
    assert_eq!(client.calls(URL), 2, "not due any more");
    assert!(
        resolver
            .refresh_source("https://nope.example")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sources_are_searched_in_order_and_named_once() {
    let k = long_key("idp");
    let (client, clock) = setup();
    let second = "https://fed.example.org/all.xml";
    client.doc(URL, &entity_doc(IDP, &[&k.cert_b64], ""), "\"1\"");
    client.doc(
        second,
        &aggregate(
            &[
                entity(IDP, &[&k.cert_b64], ""),
                entity("https://b.example", &[&k.cert_b64], ""),
            ],
            "",
        ),
        "\"1\"",
    );
    let resolver = builder(&client, &clock)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .source(
            MetadataSource::new(second)
                .entity("b", "https://b.example", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    assert_eq!(
        resolver
            .provider_by_entity_id(IDP)
            .await
            .unwrap()
            .unwrap()
            .name,
        "acme"
    );
    assert_eq!(
        resolver
            .provider_by_entity_id("https://b.example")
            .await
            .unwrap()
            .unwrap()
            .name,
        "b"
    );
    // Only the source of an explicit name is fetched for it.
    let (client2, clock2) = setup();
    client2.doc(URL, &entity_doc(IDP, &[&k.cert_b64], ""), "\"1\"");
    let lazy = builder(&client2, &clock2)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .source(
            MetadataSource::new(second)
                .entity("b", "https://b.example", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    lazy.provider("acme").await.unwrap().unwrap();
    assert_eq!(client2.calls(second), 0);

    // Configuration mistakes surface at build time.
    let dup = builder(&client, &clock)
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .source(
            MetadataSource::new(second)
                .entity("acme", "https://b.example", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap_err();
    assert!(dup.message().contains("used twice"), "{dup}");
    let none = builder(&client, &clock)
        .source(MetadataSource::new(URL).allow_unsigned())
        .build()
        .unwrap_err();
    assert!(none.message().contains("supplies no provider"), "{none}");
    let both = builder(&client, &clock)
        .source(
            MetadataSource::new(URL)
                .provider("a", ProviderSettings::default())
                .all_entities(ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap_err();
    assert!(both.message().contains("one or the other"), "{both}");
    assert!(RemoteMetadataResolver::builder().build().is_err());
    let bounds = builder(&client, &clock)
        .policy(
            RefreshPolicy::new()
                .with_min_interval(Duration::from_secs(600))
                .with_max_interval(Duration::from_secs(60)),
        )
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap_err();
    assert!(bounds.message().contains("minimum"), "{bounds}");
}

#[tokio::test]
async fn concurrent_first_lookups_fetch_once() {
    let k = long_key("acme");
    let (client, clock) = setup();
    client.doc(URL, &entity_doc(IDP, &[&k.cert_b64], ""), "\"1\"");
    let resolver = unsigned(&client, &clock);
    let lookups = (0..16).map(|_| {
        let r = resolver.clone();
        async move { r.provider("acme").await.unwrap().unwrap() }
    });
    let found = futures_join_all(lookups).await;
    assert_eq!(found.len(), 16);
    assert_eq!(client.calls(URL), 1);
}

/// A minimal join_all (no futures crate): polls all on one task.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn expiring_certificates_do_not_block_lookups() {
    // A certificate past its end stays trusted while the metadata lists it
    // (SAML pins keys by configuration); only events warn about it.
    let k = key("expired", (2029, 1, 1));
    let (client, clock) = setup();
    client.doc(URL, &entity_doc(IDP, &[&k.cert_b64], ""), "\"1\"");
    let resolver = unsigned(&client, &clock);
    assert!(resolver.provider("acme").await.unwrap().is_some());
}

/// The background loop on tokio's paused (virtual) timer: it loads at once,
/// sleeps until the copy is due, and refreshes then.
#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn the_background_task_refreshes_when_due() {
    let k = long_key("acme");
    let (client, clock) = setup();
    client.doc(
        URL,
        &entity_doc(IDP, &[&k.cert_b64], r#" cacheDuration="PT1H""#),
        "\"v1\"",
    );
    let resolver = builder(&client, &clock)
        .policy(RefreshPolicy::new().with_refresh_on_lookup(false))
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    let task = tokio::spawn(resolver.clone().refresh_task());
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(client.calls(URL), 1, "loaded at once");
    tokio::time::sleep(Duration::from_secs(1800)).await;
    assert_eq!(client.calls(URL), 1, "asleep until due");
    clock.advance(3600);
    tokio::time::sleep(Duration::from_secs(1800)).await;
    assert_eq!(client.calls(URL), 2, "refreshed when due");
    assert_eq!(
        client.last_request().header_value("If-None-Match"),
        Some("\"v1\"")
    );
    task.abort();
    assert!(resolver.provider("acme").await.unwrap().is_some());
}
