//! `SqlMetadataArchive` on every server: save, load, overwrite, exact URLs,
//! a large aggregate, two nodes; and saml-remote's resolver using it to
//! survive a restart while the metadata URL is down (the same behaviour
//! saml-remote checks with its `MemoryArchive`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use saml_core::clock::{Clock, format_datetime};
use saml_core::store::{MetadataResolver, ProviderSettings};
use saml_remote::{
    ArchivedMetadata, HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    MetadataArchive, MetadataSource, RemoteMetadataResolver,
};
use saml_store_sql::SqlMetadataArchive;

use common::{Server, fresh, two_nodes};

const URL: &str = "https://idp.example.org/metadata";
const IDP: &str = "https://idp.example.org";

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap() + TimeDelta::seconds(seconds)
}

async fn save_load_overwrite(server: Server) {
    let archive = fresh(server).await.metadata_archive();
    assert_eq!(archive.load(URL).await.unwrap(), None);

    let first = ArchivedMetadata::new("<first/>", at(0));
    archive.save(URL, &first).await.unwrap();
    assert_eq!(archive.load(URL).await.unwrap(), Some(first));

    let second = ArchivedMetadata::new("<second/>", at(60)).with_validators(
        Some("\"v2\"".to_owned()),
        Some("Wed, 21 Oct 2026 07:28:00 GMT".to_owned()),
    );
    archive.save(URL, &second).await.unwrap();
    assert_eq!(archive.load(URL).await.unwrap(), Some(second.clone()));
    // Overwriting with no validators clears them.
    let third = ArchivedMetadata::new("<third/>", at(120));
    archive.save(URL, &third).await.unwrap();
    assert_eq!(archive.load(URL).await.unwrap(), Some(third.clone()));
    assert_eq!(archive.urls().await.unwrap(), [URL]);

    // URLs are exact: case, trailing slash, query.
    for other in [
        "https://IDP.example.org/metadata",
        "https://idp.example.org/metadata/",
        "https://idp.example.org/metadata?x",
    ] {
        assert_eq!(archive.load(other).await.unwrap(), None, "{other}");
    }
    archive
        .save("https://other.example/md", &second)
        .await
        .unwrap();
    let mut urls = archive.urls().await.unwrap();
    urls.sort();
    assert_eq!(
        urls,
        [
            "https://idp.example.org/metadata",
            "https://other.example/md"
        ]
    );
    assert_eq!(archive.load(URL).await.unwrap(), Some(third));

    assert!(archive.remove(URL).await.unwrap());
    assert!(!archive.remove(URL).await.unwrap());
    assert_eq!(archive.load(URL).await.unwrap(), None);
    assert!(
        archive
            .load("https://other.example/md")
            .await
            .unwrap()
            .is_some()
    );
}

/// An aggregate far past MySQL's 64 KiB `TEXT`, with non-ASCII text.
async fn large_documents(server: Server) {
    let archive = fresh(server).await.metadata_archive();
    let entity = "<md:EntityDescriptor entityID=\"https://idp.example/é\"/>";
    let xml = format!(
        "<md:EntitiesDescriptor>{}</md:EntitiesDescriptor>",
        entity.repeat(40_000)
    );
    assert!(xml.len() > 2_000_000);
    let copy = ArchivedMetadata::new(xml, at(0));
    archive.save(URL, &copy).await.unwrap();
    assert_eq!(archive.load(URL).await.unwrap(), Some(copy));
}

async fn nodes_share_copies(server: Server) {
    let (a, b) = two_nodes(server).await;
    let copy =
        ArchivedMetadata::new("<from-a/>", at(0)).with_validators(Some("\"a\"".into()), None);
    a.metadata_archive().save(URL, &copy).await.unwrap();
    assert_eq!(b.metadata_archive().load(URL).await.unwrap(), Some(copy));
}

/// The network: one URL serving a document with an ETag (304 on a match),
/// or failing.
#[derive(Debug, Default)]
struct Network {
    document: Mutex<Option<(String, String)>>,
}

impl Network {
    fn serve(&self, body: &str, etag: &str) {
        *self.document.lock().unwrap() = Some((body.to_owned(), etag.to_owned()));
    }

    fn go_down(&self) {
        *self.document.lock().unwrap() = None;
    }
}

#[async_trait]
impl HttpClient for Network {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let document = self.document.lock().unwrap().clone();
        let Some((body, etag)) = document else {
            return Err(HttpError::new(HttpErrorKind::Connect, "connection refused"));
        };
        if request.header_value("If-None-Match") == Some(etag.as_str()) {
            return Ok(HttpResponse::new(304, ""));
        }
        Ok(HttpResponse::new(200, body).header("ETag", etag))
    }
}

#[derive(Debug)]
struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn metadata(valid_until: DateTime<Utc>) -> String {
    let cert: String = include_str!("data/sp-rsa.crt")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP}" validUntil="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        format_datetime(valid_until)
    )
}

fn resolver(
    network: &Arc<Network>,
    clock: &Arc<ManualClock>,
    archive: &SqlMetadataArchive,
) -> RemoteMetadataResolver {
    RemoteMetadataResolver::builder()
        .http_client(Arc::clone(network) as Arc<dyn HttpClient>)
        .clock(Arc::clone(clock) as Arc<dyn Clock>)
        .archive(Arc::new(archive.clone()))
        .source(
            MetadataSource::new(URL)
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap()
}

/// What saml-remote's `the_archive_serves_a_restart_while_the_url_is_down`
/// checks with `MemoryArchive`, with the SQL archive and a real restart (a
/// new store on the same database).
async fn serves_a_restart_while_the_url_is_down(server: Server) {
    let (node, restarted_node) = two_nodes(server).await;
    let network = Arc::new(Network::default());
    let clock = Arc::new(ManualClock(Mutex::new(at(0))));
    let until = at(0) + TimeDelta::days(2);
    network.serve(&metadata(until), "\"v1\"");

    let first = resolver(&network, &clock, &node.metadata_archive());
    first.refresh().await.unwrap();
    let saved = node.metadata_archive().load(URL).await.unwrap().unwrap();
    assert_eq!(saved.etag.as_deref(), Some("\"v1\""));
    assert_eq!(saved.fetched_at, at(0));
    assert_eq!(saved.xml, metadata(until));

    // Restart (another pool on the database) with the URL down.
    network.go_down();
    *clock.0.lock().unwrap() = at(3600);
    let archive = restarted_node.metadata_archive();
    let restarted = resolver(&network, &clock, &archive);
    let acme = restarted.provider("acme").await.unwrap().unwrap();
    assert_eq!(acme.metadata.entity_id(), IDP);
    let status = &restarted.status()[0];
    assert!(status.from_archive);
    assert_eq!(status.fetched_at, Some(at(0)));
    assert!(status.last_error.is_some());

    // The URL is back with the same document: the archived ETag is sent.
    network.serve(&metadata(until), "\"v1\"");
    restarted.refresh().await.unwrap();
    assert!(!restarted.status()[0].from_archive);

    // An archived copy past its validUntil is not revived.
    network.go_down();
    *clock.0.lock().unwrap() = until;
    let late = resolver(&network, &clock, &archive);
    assert!(late.provider("acme").await.is_err());
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test]
            async fn save_load_overwrite() {
                super::save_load_overwrite(Server::$server).await;
            }

            #[tokio::test]
            async fn large_documents() {
                super::large_documents(Server::$server).await;
            }

            #[tokio::test]
            async fn nodes_share_copies() {
                super::nodes_share_copies(Server::$server).await;
            }

            #[tokio::test]
            async fn serves_a_restart_while_the_url_is_down() {
                super::serves_a_restart_while_the_url_is_down(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Sqlite, Postgres, Mysql);
