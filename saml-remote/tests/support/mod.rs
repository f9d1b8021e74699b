//! Test support: a fake [`HttpClient`] that counts calls and serves canned
//! documents (answering conditional requests with 304 like a real server),
//! a manual clock, test keys, and metadata documents built and signed here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use saml_core::clock::{Clock, format_datetime};
use saml_core::crypto::{Certificate, SigningKey};
use saml_core::dsig::{SignOptions, sign_enveloped};
use saml_remote::{HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpResponse};

pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// 2030-01-01T00:00:00Z.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_893_456_000, 0).unwrap()
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(t)))
    }
    pub fn advance(&self, seconds: i64) {
        let mut t = self.0.lock().unwrap();
        *t += TimeDelta::seconds(seconds);
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// What the fake serves at one URL.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A document with validators; a request carrying a matching
    /// `If-None-Match` (or `If-Modified-Since`) gets a 304.
    Doc {
        body: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// This response, whatever the request.
    Raw(HttpResponse),
    /// This transport error.
    Fail(HttpError),
}

/// The fake network. Unknown URLs answer 404.
#[derive(Debug, Default)]
pub struct FakeClient {
    routes: Mutex<HashMap<String, Reply>>,
    log: Mutex<Vec<HttpRequest>>,
}

impl FakeClient {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn set(&self, url: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(url.to_owned(), reply);
    }

    /// Serves `body` with an ETag.
    pub fn doc(&self, url: &str, body: &str, etag: &str) {
        self.set(
            url,
            Reply::Doc {
                body: body.to_owned(),
                etag: Some(etag.to_owned()),
                last_modified: None,
            },
        );
    }

    pub fn status(&self, url: &str, status: u16) {
        self.set(url, Reply::Raw(HttpResponse::new(status, "error page")));
    }

    pub fn fail(&self, url: &str) {
        self.set(
            url,
            Reply::Fail(HttpError::new(
                HttpErrorKind::Connect,
                "connection refused (fake)",
            )),
        );
    }

    /// Requests sent to `url` so far.
    pub fn calls(&self, url: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.url == url)
            .count()
    }

    pub fn total_calls(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn last_request(&self) -> HttpRequest {
        self.log.lock().unwrap().last().cloned().unwrap()
    }
}

#[async_trait]
impl HttpClient for FakeClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.log.lock().unwrap().push(request.clone());
        let reply = self.routes.lock().unwrap().get(&request.url).cloned();
        match reply {
            None => Ok(HttpResponse::new(404, "not found")),
            Some(Reply::Raw(r)) => Ok(r),
            Some(Reply::Fail(e)) => Err(e),
            Some(Reply::Doc {
                body,
                etag,
                last_modified,
            }) => {
                let etag_match =
                    etag.is_some() && request.header_value("If-None-Match") == etag.as_deref();
                let lm_match = last_modified.is_some()
                    && request.header_value("If-Modified-Since") == last_modified.as_deref();
                if etag_match || lm_match {
                    return Ok(HttpResponse::new(304, ""));
                }
                let mut r = HttpResponse::new(200, body);
                if let Some(e) = etag {
                    r = r.header("ETag", e);
                }
                if let Some(lm) = last_modified {
                    r = r.header("Last-Modified", lm);
                }
                Ok(r)
            }
        }
    }
}

/// A signing key with its self-signed certificate.
pub struct TestKey {
    pub signing: SigningKey,
    pub cert: Certificate,
    pub cert_pem: String,
    pub key_pem: String,
    /// The certificate's DER, base64 (as metadata carries it).
    pub cert_b64: String,
}

/// An ECDSA P-256 key whose certificate ends on `not_after` (y, m, d).
pub fn key(cn: &str, not_after: (i32, u8, u8)) -> TestKey {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = params.self_signed(&pair).unwrap();
    let cert_pem = cert.pem();
    let key_pem = pair.serialize_pem();
    let certificate = Certificate::from_pem(&cert_pem).unwrap().remove(0);
    let signing = SigningKey::from_pem(&key_pem)
        .unwrap()
        .with_certificate(certificate.clone())
        .unwrap();
    TestKey {
        signing,
        cert_b64: base64::engine::general_purpose::STANDARD.encode(certificate.der()),
        cert: certificate,
        cert_pem,
        key_pem,
    }
}

/// A key valid until 2090.
pub fn long_key(cn: &str) -> TestKey {
    key(cn, (2090, 1, 1))
}

/// One `md:EntityDescriptor` (without the namespace declaration, for
/// aggregates) of an IdP with these signing certificates (base64 DER).
pub fn entity(entity_id: &str, certs: &[&str], attrs: &str) -> String {
    let keys: String = certs
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
            )
        })
        .collect();
    format!(
        r#"<md:EntityDescriptor entityID="{entity_id}"{attrs}><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{entity_id}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// A standalone entity document with `ID="_md"` on its root.
pub fn entity_doc(entity_id: &str, certs: &[&str], attrs: &str) -> String {
    entity(entity_id, certs, attrs).replacen(
        "<md:EntityDescriptor ",
        &format!(r#"<md:EntityDescriptor xmlns:md="{MD_NS}" ID="_md" "#),
        1,
    )
}

/// An `md:EntitiesDescriptor` with `ID="_md"` around these entities.
pub fn aggregate(entities: &[String], attrs: &str) -> String {
    let mut out = format!(r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}" ID="_md"{attrs}>"#);
    for e in entities {
        out.push_str(e);
    }
    out.push_str("</md:EntitiesDescriptor>");
    out
}

/// Signs the root (`ID="_md"`) of a document made by this module.
pub fn sign(xml: &str, key: &TestKey) -> String {
    sign_enveloped(xml, "_md", &key.signing, &SignOptions::default()).unwrap()
}

/// ` validUntil="..."` for `t`.
pub fn valid_until(t: DateTime<Utc>) -> String {
    format!(r#" validUntil="{}""#, format_datetime(t))
}
