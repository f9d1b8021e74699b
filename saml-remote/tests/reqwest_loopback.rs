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

/// What the scripted server answers next: status, extra header lines, body.
type Script = Arc<std::sync::Mutex<(u16, String, String)>>;

/// A server answering every request with the current script (a 304 when
/// the request's If-None-Match equals the scripted ETag), or never
/// answering when the status is 0.
async fn scripted() -> (String, Script) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let script: Script = Arc::new(std::sync::Mutex::new((404, String::new(), String::new())));
    let shared = Arc::clone(&script);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (status, headers, body) = shared.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                if status == 0 {
                    let _ = socket.read(&mut chunk).await;
                    return;
                }
                let head = String::from_utf8_lossy(&buf).to_lowercase();
                let etag = headers
                    .lines()
                    .find_map(|l| l.strip_prefix("ETag: "))
                    .map(str::to_lowercase);
                let response = match etag {
                    Some(e) if head.contains(&format!("if-none-match: {e}")) => {
                        "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_owned()
                    }
                    _ => format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, script)
}

fn set(script: &Script, status: u16, etag: &str, body: &str) {
    let headers = if etag.is_empty() {
        String::new()
    } else {
        format!("ETag: {etag}\r\n")
    };
    *script.lock().unwrap() = (status, headers, body.to_owned());
}

/// Whether a document signed by `key` verifies with the provider's keys.
fn verifies(p: &saml_core::store::Provider, key: &support::TestKey) -> bool {
    use saml_core::dsig::{SignOptions, VerifyOptions, sign_enveloped, verify_enveloped};
    let msg =
        r#"<m:Message xmlns:m="urn:example:message" ID="_msg"><m:Body>hello</m:Body></m:Message>"#;
    let signed = sign_enveloped(msg, "_msg", &key.signing, &SignOptions::default()).unwrap();
    let doc = saml_core::xml::Document::parse(&signed, &saml_core::Limits::default()).unwrap();
    verify_enveloped(
        doc.root(),
        &p.metadata.signing_keys(),
        &VerifyOptions::new(),
    )
    .is_ok()
}

/// The whole life of a metadata URL over real HTTP: it changes, fails in
/// every way (500, garbage, oversized, silent), rotates keys and expires.
#[tokio::test]
async fn a_changing_failing_rotating_expiring_url() {
    let (url, script) = scripted().await;
    let clock = support::ManualClock::at(support::t0());
    let old = long_key("old");
    let new = long_key("new");
    let until = support::t0() + chrono::TimeDelta::days(1);
    let doc = |keys: &[&str]| entity_doc(IDP, keys, &support::valid_until(until));
    let resolver = RemoteMetadataResolver::builder()
        .http_client(Arc::new(ReqwestClient::new().unwrap()))
        .clock(Arc::clone(&clock) as _)
        .policy(saml_remote::RefreshPolicy::new().with_timeout(Duration::from_millis(300)))
        .source(
            MetadataSource::new(url.clone())
                .provider("acme", ProviderSettings::default())
                .allow_unsigned()
                .max_response_bytes(20_000),
        )
        .build()
        .unwrap();

    set(&script, 200, "\"1\"", &doc(&[&old.cert_b64]));
    resolver.refresh().await.unwrap();
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert!(verifies(&p, &old));
    assert!(!verifies(&p, &new));

    // Every kind of failure keeps the last good copy.
    for (label, status, body) in [
        ("500", 500, "boom".to_owned()),
        ("garbage", 200, "<<<not xml".to_owned()),
        ("oversized", 200, "x".repeat(50_000)),
        ("silent", 0, String::new()),
    ] {
        set(&script, status, "", &body);
        let err = resolver.refresh().await.unwrap_err();
        let p = resolver.provider("acme").await.unwrap().unwrap();
        assert!(verifies(&p, &old), "{label}: {err}");
        if label == "oversized" {
            assert_eq!(err.code(), saml_core::ErrorCode::InputTooLarge, "{err}");
        }
    }

    // The IdP rolls its key: announce the new one, then drop the old one.
    set(&script, 200, "\"2\"", &doc(&[&old.cert_b64, &new.cert_b64]));
    resolver.refresh().await.unwrap();
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert!(verifies(&p, &old) && verifies(&p, &new));
    set(&script, 200, "\"3\"", &doc(&[&new.cert_b64]));
    resolver.refresh().await.unwrap();
    let p = resolver.provider("acme").await.unwrap().unwrap();
    assert!(verifies(&p, &new), "the new key validates after refresh");
    assert!(!verifies(&p, &old), "the removed key no longer does");
    assert_eq!(
        resolver.refresh_source(&url).await.unwrap(),
        RefreshOutcome::NotModified
    );

    // The URL dies and the copy reaches its validUntil: refused.
    set(&script, 503, "", "down");
    clock.set(until);
    assert!(resolver.refresh().await.is_err());
    let err = resolver.provider("acme").await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}
