//! The HTTP-Artifact binding through the layer, in process: the provider
//! asks for an artifact (`ProtocolBinding` HTTP-Artifact, ACS
//! `/saml/artifact`), the browser brings `SAMLart`, and the layer resolves it
//! with an `ArtifactResolve` over SOAP through a fake `HttpClient` that plays
//! the IdP's artifact resolution service (saml-core's `ArtifactResponse`
//! signed with the test IdP's key, around a Response from the development
//! IdP). Refusals: a reused artifact, an unknown issuer, no HTTP client, a
//! failing back channel, an unsigned or foreign-signed `ArtifactResponse`,
//! one answering another request, and an unsigned Response inside a signed
//! `ArtifactResponse`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use http::StatusCode;
use saml_core::Limits;
use saml_core::clock::Clock;
use saml_core::crypto::{Certificate, SigningKey};
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::protocol::{Artifact, ArtifactResponse, SOAP_ACTION};
use saml_core::store::{Provider, ProviderSettings, ResponseBinding};
use saml_core::xml::Document;
use saml_remote::{HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse};
use saml_testkit::dev_idp::{DevIdp, DevIdpConfig, ResponseParams};
use saml_tower::SamlLayerBuilder;

use support::{ALICE, BASE, Browser, Sp, SpOptions, begin_login, enc};

const IDP: &str = "https://art.idp.example/metadata";
const ARS: &str = "https://art.idp.example/ars";

fn key_pem(cn: &str) -> (String, String) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2090, 1, 1);
    let cert = params.self_signed(&pair).unwrap();
    (pair.serialize_pem(), cert.pem())
}

fn signing_key(key: &str, cert: &str) -> SigningKey {
    SigningKey::from_pem(key)
        .unwrap()
        .with_certificate(Certificate::from_pem(cert).unwrap().remove(0))
        .unwrap()
}

/// The test IdP: signs assertions (`idp`) or nothing (`unsigned_idp`) with
/// one key the test also holds; `stranger` is a key nobody trusts.
struct ArtIdp {
    idp: DevIdp,
    unsigned_idp: DevIdp,
    key: SigningKey,
    stranger: SigningKey,
}

fn art_idp() -> &'static ArtIdp {
    static CELL: OnceLock<ArtIdp> = OnceLock::new();
    CELL.get_or_init(|| {
        let (key, cert) = key_pem("artifact test IdP");
        let config = |sign: bool| {
            let mut c = DevIdpConfig::new(IDP, "https://art.idp.example/sso");
            c.key = Some((key.clone(), cert.clone()));
            c.sign_assertion = sign;
            c.sign_response = false;
            c
        };
        let (other_key, other_cert) = key_pem("stranger");
        ArtIdp {
            idp: DevIdp::new(config(true)).unwrap(),
            unsigned_idp: DevIdp::new(config(false)).unwrap(),
            key: signing_key(&key, &cert),
            stranger: signing_key(&other_key, &other_cert),
        }
    })
}

fn art_provider() -> Provider {
    let xml = art_idp().idp.metadata_xml();
    let at = xml.find("<md:SingleSignOnService").expect("an SSO element");
    let ars = format!(
        "<md:ArtifactResolutionService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" Location=\"{ARS}\" index=\"1\"/>"
    );
    let xml = format!("{}{ars}{}", &xml[..at], &xml[at..]);
    let metadata = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap();
    let mut settings = ProviderSettings::default();
    settings.response_binding = ResponseBinding::Artifact;
    Provider {
        name: "art".to_owned(),
        metadata,
        settings,
    }
}

/// How the fake resolution service misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Signed,
    Unsigned,
    Stranger,
    WrongInResponseTo,
    Down,
    Http503,
}

/// The IdP's artifact resolution service: messages stored by artifact.
#[derive(Debug, Clone, Default)]
struct FakeArs {
    messages: Arc<Mutex<HashMap<String, String>>>,
    mode: Arc<Mutex<Mode>>,
    calls: Arc<AtomicUsize>,
    clock: Arc<Mutex<Option<Arc<dyn Clock>>>>,
}

impl FakeArs {
    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Keeps `response_xml` and returns the artifact standing for it.
    fn store(&self, response_xml: String) -> String {
        let artifact = Artifact::generate(IDP, 1).unwrap().encode();
        self.messages
            .lock()
            .unwrap()
            .insert(artifact.clone(), response_xml);
        artifact
    }
}

#[async_trait]
impl HttpClient for FakeArs {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(request.method, HttpMethod::Post);
        assert_eq!(request.url, ARS);
        assert_eq!(request.header_value("SOAPAction"), Some(SOAP_ACTION));
        assert!(
            request
                .header_value("content-type")
                .unwrap()
                .starts_with("text/xml")
        );
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Down => {
                return Err(HttpError::new(HttpErrorKind::Connect, "connection refused"));
            }
            Mode::Http503 => return Ok(HttpResponse::new(503, "busy")),
            _ => {}
        }
        let soap = String::from_utf8(request.body).unwrap();
        let doc = Document::parse(&soap, &Limits::default()).unwrap();
        let resolve = doc
            .root()
            .descendants()
            .find(|e| e.local_name() == "ArtifactResolve")
            .unwrap();
        let id = resolve.attribute("ID").unwrap().to_owned();
        let artifact = resolve
            .child_elements()
            .find(|e| e.local_name() == "Artifact")
            .unwrap()
            .text()
            .to_string();
        // Single use at the IdP too, as the binding requires.
        let message = self.messages.lock().unwrap().remove(&artifact);
        let in_response_to = if mode == Mode::WrongInResponseTo {
            "_someone-elses-request".to_owned()
        } else {
            id
        };
        let clock = self.clock.lock().unwrap().clone().unwrap();
        let mut builder = ArtifactResponse::builder(IDP, &in_response_to);
        if let Some(xml) = message {
            builder = builder.message(xml);
        }
        let answer = builder.build(clock.as_ref()).unwrap();
        let envelope = match mode {
            Mode::Unsigned => answer.soap_envelope(None),
            Mode::Stranger => answer.soap_envelope(Some(&art_idp().stranger)),
            _ => answer.soap_envelope(Some(&art_idp().key)),
        }
        .unwrap();
        Ok(HttpResponse::new(200, envelope).header("Content-Type", "text/xml"))
    }
}

fn sp_with(
    ars: Option<&FakeArs>,
    configure: impl FnOnce(SamlLayerBuilder) -> SamlLayerBuilder,
) -> Sp {
    let client = ars.cloned();
    let sp = Sp::build(SpOptions::new(vec![art_provider()]), move |b| {
        let b = match client {
            Some(c) => b.http_client(c),
            None => b,
        };
        configure(b)
    });
    if let Some(ars) = ars {
        *ars.clock.lock().unwrap() = Some(Arc::new(sp.clock.clone()));
    }
    sp
}

/// Starts a login and lets `idp` answer for Alice; returns the Response XML
/// the artifact will stand for.
async fn idp_response(sp: &Sp, browser: &mut Browser, idp: &DevIdp, return_to: &str) -> String {
    let location = begin_login(sp, browser, &format!("return_to={}", enc(return_to))).await;
    // The development IdP answers on HTTP-POST only; issue the Response the
    // artifact stands for directly, answering the request.
    let xml = support::authn_request_xml(&location);
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let request_id = doc.root().attribute("ID").unwrap().to_owned();
    let params =
        ResponseParams::new(format!("{BASE}/saml/artifact"), sp.entity_id()).answering(request_id);
    idp.issue_response(idp.user(ALICE).unwrap(), &params, &sp.clock)
        .unwrap()
}

#[tokio::test]
async fn the_authn_request_asks_for_an_artifact_at_the_artifact_endpoint() {
    let ars = FakeArs::default();
    let sp = sp_with(Some(&ars), |b| b);
    let location = begin_login(&sp, &mut Browser::default(), "").await;
    let xml = support::authn_request_xml(&location);
    assert!(
        xml.contains("ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\""),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "AssertionConsumerServiceURL=\"{BASE}/saml/artifact\""
        )),
        "{xml}"
    );
}

#[tokio::test]
async fn an_artifact_is_resolved_over_soap_and_signs_the_user_in_once() {
    let ars = FakeArs::default();
    let sp = sp_with(Some(&ars), |b| b);
    for post in [false, true] {
        let mut browser = Browser::default();
        let xml = idp_response(&sp, &mut browser, &art_idp().idp, "/deep").await;
        let artifact = ars.store(xml);
        let reply = if post {
            browser
                .post_form(&sp, "/saml/artifact", format!("SAMLart={}", enc(&artifact)))
                .await
        } else {
            browser
                .get(&sp, &format!("/saml/artifact?SAMLart={}", enc(&artifact)))
                .await
        };
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
        assert_eq!(reply.location(), "/deep");
        assert_eq!(browser.whoami(&sp).await.unwrap().name_id, ALICE);

        // The same artifact again: refused before the IdP is asked.
        let calls = ars.calls();
        let again = browser
            .get(&sp, &format!("/saml/artifact?SAMLart={}", enc(&artifact)))
            .await;
        again.assert_rejected(StatusCode::BAD_REQUEST, "replayed");
        assert_eq!(ars.calls(), calls);
    }
}

#[tokio::test]
async fn a_bad_artifactresponse_signs_nobody_in() {
    for (mode, status, codes) in [
        (
            Mode::Unsigned,
            StatusCode::BAD_REQUEST,
            &["signature_missing"][..],
        ),
        (
            Mode::Stranger,
            StatusCode::BAD_REQUEST,
            &["untrusted_key", "signature_invalid"][..],
        ),
        (
            Mode::WrongInResponseTo,
            StatusCode::BAD_REQUEST,
            &["in_response_to_mismatch"][..],
        ),
        (
            Mode::Down,
            StatusCode::BAD_GATEWAY,
            &["store_unavailable"][..],
        ),
        (
            Mode::Http503,
            StatusCode::BAD_GATEWAY,
            &["store_unavailable"][..],
        ),
    ] {
        let ars = FakeArs::default();
        let sp = sp_with(Some(&ars), |b| b);
        ars.set_mode(mode);
        let mut browser = Browser::default();
        let xml = idp_response(&sp, &mut browser, &art_idp().idp, "/").await;
        let artifact = ars.store(xml);
        let reply = browser
            .get(&sp, &format!("/saml/artifact?SAMLart={}", enc(&artifact)))
            .await;
        assert_eq!(reply.status, status, "{mode:?}: {reply:?}");
        assert!(codes.contains(&reply.code()), "{mode:?}: {}", reply.code());
        assert_eq!(browser.whoami(&sp).await, None, "{mode:?}");
    }
}

#[tokio::test]
async fn a_signed_artifactresponse_does_not_sign_the_response_inside() {
    let ars = FakeArs::default();
    let sp = sp_with(Some(&ars), |b| b);
    let mut browser = Browser::default();
    let xml = idp_response(&sp, &mut browser, &art_idp().unsigned_idp, "/").await;
    assert!(!xml.contains("Signature"), "{xml}");
    let artifact = ars.store(xml);
    let reply = browser
        .get(&sp, &format!("/saml/artifact?SAMLart={}", enc(&artifact)))
        .await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "signature_missing");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn an_artifact_nobody_configured_issued_or_without_a_client_is_refused() {
    let ars = FakeArs::default();
    let sp = sp_with(Some(&ars), |b| b);
    let foreign = Artifact::generate("https://other.idp.example/", 1)
        .unwrap()
        .encode();
    Browser::default()
        .get(&sp, &format!("/saml/artifact?SAMLart={}", enc(&foreign)))
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
    for junk in ["", "AAAA", "%%%", &"A".repeat(400)] {
        let reply = Browser::default()
            .get(&sp, &format!("/saml/artifact?SAMLart={junk}"))
            .await;
        assert!(reply.status.is_client_error(), "{junk}: {reply:?}");
        reply.code();
    }
    assert_eq!(ars.calls(), 0);

    let without = sp_with(None, |b| b);
    let artifact = Artifact::generate(IDP, 1).unwrap().encode();
    Browser::default()
        .get(
            &without,
            &format!("/saml/artifact?SAMLart={}", enc(&artifact)),
        )
        .await
        .assert_rejected(StatusCode::NOT_IMPLEMENTED, "unknown_provider");
}

async fn metadata(sp: &Sp) -> String {
    sp.send(
        http::Request::get("/saml/metadata")
            .body(support::empty())
            .unwrap(),
    )
    .await
    .body
}

#[tokio::test]
async fn our_metadata_offers_the_artifact_acs_only_with_a_client() {
    let binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact";
    let with = metadata(&sp_with(Some(&FakeArs::default()), |b| b)).await;
    assert!(
        with.contains(&format!(
            "Binding=\"{binding}\" Location=\"{BASE}/saml/artifact\""
        )),
        "{with}"
    );
    let without = metadata(&sp_with(None, |b| b)).await;
    assert!(!without.contains(binding), "{without}");
}
