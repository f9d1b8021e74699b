//! `ReqwestClient` for real, against a tiny HTTP/1.1 server on 127.0.0.1
//! (tokio `TcpListener`, no outside network): metadata with an ETag, the
//! 304 answer to the conditional request, the size cap while reading,
//! same-host redirects only, the transport rule, and the timeout.

#![cfg(feature = "reqwest")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use saml_core::store::{MetadataResolver, ProviderSettings};
use saml_remote::{
    HttpClient, HttpErrorKind, HttpRequest, MetadataSource, RefreshOutcome, RemoteMetadataResolver,
    ReqwestClient,
};
use support::{entity_doc, long_key};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const IDP: &str = "https://idp.example.org";

/// Serves: `/metadata` (ETag `"v1"`, 304 to a matching If-None-Match),
/// `/big` (a body over any small cap, no Content-Length), `/hop` (a redirect
/// to `/metadata`), `/away` (a redirect to another host), `/silent` (never
/// answers). Counts requests.
async fn server(metadata: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let metadata = metadata.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_lowercase();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let response = match path.as_str() {
                    "/metadata" if head.contains("if-none-match: \"v1\"") => {
                        "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n"
                            .to_owned()
                    }
                    "/metadata" => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{metadata}",
                        metadata.len()
                    ),
                    "/big" => format!(
                        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}",
                        "x".repeat(100_000)
                    ),
                    "/hop" => "HTTP/1.1 302 Found\r\nLocation: /metadata\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                    "/away" => "HTTP/1.1 302 Found\r\nLocation: http://localhost:1/metadata\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                    "/silent" => {
                        // Hold the connection open without answering.
                        let _ = socket.read(&mut chunk).await;
                        return;
                    }
                    _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned(),
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (base, count)
}

#[tokio::test]
async fn metadata_over_loopback_with_an_etag() {
    let k = long_key("idp");
    let (base, count) = server(entity_doc(IDP, &[&k.cert_b64], "")).await;
    let url = format!("{base}/metadata");
    let resolver = RemoteMetadataResolver::builder()
        .http_client(Arc::new(ReqwestClient::new().unwrap()))
        .source(
            MetadataSource::new(url.clone())
                .provider("acme", ProviderSettings::default())
                .allow_unsigned(),
        )
        .build()
        .unwrap();
    assert_eq!(
        resolver.refresh_source(&url).await.unwrap(),
        RefreshOutcome::Updated
    );
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert_eq!(p.metadata.entity_id(), IDP);
    assert_eq!(
        resolver.refresh_source(&url).await.unwrap(),
        RefreshOutcome::NotModified,
        "the ETag went back as If-None-Match"
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_client_enforces_caps_redirect_rules_transport_and_timeouts() {
    let k = long_key("idp");
    let (base, _) = server(entity_doc(IDP, &[&k.cert_b64], "")).await;
    let client = ReqwestClient::new().unwrap();

    // The cap, while reading a body of unknown length.
    let err = client
        .send(HttpRequest::get(format!("{base}/big")).max_response_bytes(1_000))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), HttpErrorKind::TooLarge, "{err}");
    let ok = client
        .send(HttpRequest::get(format!("{base}/big")).max_response_bytes(200_000))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body.len(), 100_000);

    // A same-host redirect is followed; another host is refused.
    let hop = client
        .send(HttpRequest::get(format!("{base}/hop")))
        .await
        .unwrap();
    assert_eq!(hop.status, 200);
    assert_eq!(hop.header_value("etag"), Some("\"v1\""));
    assert!(
        client
            .send(HttpRequest::get(format!("{base}/away")))
            .await
            .is_err()
    );

    // Statuses are answers, not errors.
    let missing = client
        .send(HttpRequest::get(format!("{base}/nothing")))
        .await
        .unwrap();
    assert_eq!(missing.status, 404);

    // Plain HTTP off loopback is refused before any connection.
    let err = client
        .send(HttpRequest::get("http://idp.example.org/metadata"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), HttpErrorKind::InsecureUrl);

    // The timeout covers a server that never answers.
    let err = client
        .send(HttpRequest::get(format!("{base}/silent")).timeout(Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), HttpErrorKind::Timeout, "{err}");

    // POST carries its body (SOAP calls will use it).
    let posted = client
        .send(HttpRequest::post(format!("{base}/nothing"), "<soap/>").header("SOAPAction", "x"))
        .await
        .unwrap();
    assert_eq!(posted.status, 404);
}
