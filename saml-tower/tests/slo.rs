//! Single Logout through the layer, in process: SP-initiated (`POST
//! /saml/logout` → LogoutRequest to the IdP → its LogoutResponse at
//! `/saml/slo`) and IdP-initiated (a LogoutRequest at `/saml/slo` ends the
//! principal's sessions and is answered), on both bindings, with the
//! refusals: unsigned, wrongly signed, replayed, crossed with a login, from
//! another browser. The IdP side is built with saml-core's logout messages
//! and a test IdP key whose metadata lists an SLO endpoint; the audit tests
//! use a recording sink.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support;

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::Utc;
use http::header::ORIGIN;
use http::{Method, StatusCode};
use saml_core::Limits;
use saml_core::binding::{RedirectParameter, decode_post, parse_redirect_query};
use saml_core::crypto::{Certificate, SigningKey};
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::protocol::{LogoutRequest, LogoutResponse, NameId, status};
use saml_core::store::{AuditEvent, AuditKind, AuditSink, Provider, ProviderSettings, StoreError};
use saml_core::xml::Document;
use saml_testkit::dev_idp::{DevIdp, DevIdpConfig, ResponseParams};
use saml_tower::SamlLayerBuilder;

use support::{
    ALICE, BASE, BOB, Browser, Sp, SpOptions, begin_login, empty, form_body, login_as,
    post_response,
};

const IDP: &str = "https://slo.idp.example/metadata";
const IDP_SLO: &str = "https://slo.idp.example/slo";

/// A key pair as PEM (private key, certificate).
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

/// The test IdP: a development IdP for sign-in with a key the test also
/// holds, so it can sign logout messages. Built once (RSA keygen is slow).
struct SloIdp {
    idp: DevIdp,
    key: SigningKey,
    /// A key the SP does not trust.
    stranger: SigningKey,
}

fn slo_idp() -> &'static SloIdp {
    static IDP_CELL: OnceLock<SloIdp> = OnceLock::new();
    IDP_CELL.get_or_init(|| {
        let (key, cert) = key_pem("slo test IdP");
        let mut config = DevIdpConfig::new(IDP, "https://slo.idp.example/sso");
        config.key = Some((key.clone(), cert.clone()));
        let signing = |k: &str, c: &str| {
            SigningKey::from_pem(k)
                .unwrap()
                .with_certificate(Certificate::from_pem(c).unwrap().remove(0))
                .unwrap()
        };
        let (other_key, other_cert) = key_pem("stranger");
        SloIdp {
            idp: DevIdp::new(config).unwrap(),
            key: signing(&key, &cert),
            stranger: signing(&other_key, &other_cert),
        }
    })
}

/// The provider `slo`: the test IdP's metadata plus SLO endpoints on both
/// bindings (`bindings` chooses which).
fn slo_provider(bindings: &[&str], settings: impl FnOnce(&mut ProviderSettings)) -> Provider {
    slo_provider_with(bindings, |xml| xml, settings)
}

/// [`slo_provider`] with its metadata XML edited by `edit` first.
fn slo_provider_with(
    bindings: &[&str],
    edit: impl FnOnce(String) -> String,
    settings: impl FnOnce(&mut ProviderSettings),
) -> Provider {
    let services: String = bindings
        .iter()
        .map(|b| {
            format!(
                "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{b}\" Location=\"{IDP_SLO}\"/>"
            )
        })
        .collect();
    let xml = slo_idp().idp.metadata_xml();
    let at = xml.find("<md:SingleSignOnService").expect("an SSO element");
    let xml = edit(format!("{}{services}{}", &xml[..at], &xml[at..]));
    let metadata = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap();
    assert_eq!(metadata.slo_endpoints().len(), bindings.len());
    let mut s = ProviderSettings::default();
    settings(&mut s);
    Provider {
        name: "slo".to_owned(),
        metadata,
        settings: s,
    }
}

fn sp_with(
    bindings: &[&str],
    settings: impl FnOnce(&mut ProviderSettings),
    configure: impl FnOnce(SamlLayerBuilder) -> SamlLayerBuilder,
) -> Sp {
    Sp::build(
        SpOptions::new(vec![slo_provider(bindings, settings)]),
        configure,
    )
}

fn sp() -> Sp {
    sp_with(&["HTTP-Redirect"], |_| {}, |b| b)
}

async fn sign_in(sp: &Sp, user: &str) -> Browser {
    let mut browser = Browser::default();
    login_as(sp, &slo_idp().idp, &mut browser, "", user).await;
    assert_eq!(browser.whoami(sp).await.unwrap().name_id, user);
    browser
}

fn path_of(url: &str) -> String {
    url.strip_prefix(BASE)
        .unwrap_or_else(|| panic!("{url} is not ours"))
        .to_owned()
}

async fn post_logout(sp: &Sp, browser: &mut Browser, body: &str) -> support::Reply {
    let req = browser
        .request(Method::POST, "/saml/logout")
        .header(ORIGIN, BASE)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    browser.send(sp, req).await
}

/// The LogoutRequest the SP sent on the Redirect binding.
fn sent_request(location: &str) -> (String, Option<String>, Vec<String>, bool) {
    let (endpoint, query) = location.split_once('?').unwrap();
    assert_eq!(endpoint, IDP_SLO);
    let message = parse_redirect_query(query, &Limits::default()).unwrap();
    assert_eq!(message.parameter(), RedirectParameter::SamlRequest);
    let doc = Document::parse(message.xml(), &Limits::default()).unwrap();
    let root = doc.root();
    assert_eq!(root.local_name(), "LogoutRequest");
    let id = root.attribute("ID").unwrap().to_owned();
    let name_id = root
        .child_elements()
        .find(|e| e.local_name() == "NameID")
        .map(|e| e.text().to_string());
    let indexes = root
        .child_elements()
        .filter(|e| e.local_name() == "SessionIndex")
        .map(|e| e.text().to_string())
        .collect();
    (id, name_id, indexes, message.has_signature())
}

fn logout_response(sp: &Sp, in_response_to: &str, key: Option<&SigningKey>) -> String {
    let response = LogoutResponse::builder(IDP, &format!("{BASE}/saml/slo"), in_response_to)
        .build(&sp.clock)
        .unwrap();
    let url = response
        .redirect_url(None, key.map(|k| (k, k.default_algorithm())))
        .unwrap();
    path_of(&url)
}

fn logout_request(
    sp: &Sp,
    name_id: &str,
    session_index: Option<&str>,
    key: Option<&SigningKey>,
) -> (String, String) {
    let name_id = NameId {
        value: name_id.to_owned(),
        format: None,
        name_qualifier: None,
        sp_name_qualifier: None,
    };
    let mut builder = LogoutRequest::builder(IDP, &format!("{BASE}/saml/slo"), name_id);
    if let Some(index) = session_index {
        builder = builder.session_index(index);
    }
    let request = builder.build(&sp.clock).unwrap();
    let url = request
        .redirect_url(Some("back-to-idp"), key.map(|k| (k, k.default_algorithm())))
        .unwrap();
    (request.id().to_owned(), path_of(&url))
}

/// Checks the SP's LogoutResponse (Redirect binding) to the IdP.
fn answered(reply: &support::Reply, request_id: &str, status_code: &str) {
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let (endpoint, query) = reply.location().split_once('?').unwrap();
    assert_eq!(endpoint, IDP_SLO);
    let message = parse_redirect_query(query, &Limits::default()).unwrap();
    assert_eq!(message.parameter(), RedirectParameter::SamlResponse);
    assert_eq!(message.relay_state(), Some("back-to-idp"));
    let doc = Document::parse(message.xml(), &Limits::default()).unwrap();
    let root = doc.root();
    assert_eq!(root.local_name(), "LogoutResponse");
    assert_eq!(root.attribute("InResponseTo"), Some(request_id));
    assert_eq!(root.attribute("Destination"), Some(IDP_SLO));
    assert!(message.xml().contains(status_code), "{}", message.xml());
}

// ====================================================================
// SP-initiated
// ====================================================================

#[tokio::test]
async fn sp_initiated_logout_asks_the_idp_and_finishes_on_its_response() {
    let sp = sp();
    let mut browser = sign_in(&sp, ALICE).await;
    let user = browser.whoami(&sp).await.unwrap();
    let reply = post_logout(&sp, &mut browser, "return_to=%2Fbye").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    // The local session is over before the IdP says anything.
    assert!(browser.cookie("saml_session").is_none());
    assert_eq!(browser.whoami(&sp).await, None);
    let (id, name_id, indexes, signed) = sent_request(reply.location());
    assert_eq!(name_id.as_deref(), Some(ALICE));
    assert_eq!(indexes, vec![user.session_index.clone().unwrap()]);
    assert!(!signed, "no SP key is configured");
    assert!(browser.cookie("saml_binding").is_some());

    let back = logout_response(&sp, &id, Some(&slo_idp().key));
    let done = browser.get(&sp, &back).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{done:?}");
    assert_eq!(done.location(), "/bye");
    assert!(browser.cookie("saml_binding").is_none());
    // Once only.
    let again = browser.get(&sp, &back).await;
    again.assert_rejected(StatusCode::BAD_REQUEST, "in_response_to_mismatch");
}

#[tokio::test]
async fn sp_initiated_logout_over_post_when_the_idp_only_offers_post() {
    let sp = sp_with(&["HTTP-POST"], |_| {}, |b| b);
    let mut browser = sign_in(&sp, ALICE).await;
    let reply = post_logout(&sp, &mut browser, "").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        reply.body.contains(&format!("action=\"{IDP_SLO}\"")),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("name=\"SAMLRequest\""));
    assert_eq!(browser.whoami(&sp).await, None);
    // The IdP answers over POST too.
    let value = reply
        .body
        .split("name=\"SAMLRequest\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let xml = decode_post(value, &Limits::default()).unwrap();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let id = doc.root().attribute("ID").unwrap().to_owned();
    let response = LogoutResponse::builder(IDP, &format!("{BASE}/saml/slo"), &id)
        .build(&sp.clock)
        .unwrap();
    let form = response.post_form(None, Some(&slo_idp().key)).unwrap();
    let done = post_response(&sp, &mut browser, &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{done:?}");
    assert_eq!(done.location(), "/");
}

#[tokio::test]
async fn without_an_idp_slo_endpoint_logout_is_local() {
    let sp = sp_with(&[], |_| {}, |b| b);
    let mut browser = sign_in(&sp, ALICE).await;
    let reply = post_logout(&sp, &mut browser, "").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(reply.location(), "/");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn the_logout_response_must_be_signed_by_the_idp_and_come_to_the_same_browser() {
    let sp = sp();
    for (key, other_browser, code, status_code) in [
        (None, false, "signature_missing", StatusCode::BAD_REQUEST),
        (
            Some(&slo_idp().stranger),
            false,
            "untrusted_key",
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(&slo_idp().key),
            true,
            "in_response_to_mismatch",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let mut browser = sign_in(&sp, ALICE).await;
        let reply = post_logout(&sp, &mut browser, "").await;
        let (id, ..) = sent_request(reply.location());
        let back = logout_response(&sp, &id, key);
        let mut other = Browser::default();
        let done = if other_browser {
            other.get(&sp, &back).await
        } else {
            browser.get(&sp, &back).await
        };
        assert_eq!(done.status, status_code, "{code}: {done:?}");
        let got = done.code();
        assert!(
            got == code || (code == "untrusted_key" && got == "signature_invalid"),
            "{code}: got {got}"
        );
    }
}

#[tokio::test]
async fn a_logout_response_cannot_complete_a_login_nor_a_login_response_a_logout() {
    let sp = sp();
    let idp = &slo_idp().idp;
    // A LogoutResponse "answering" a pending login.
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let (_, query) = location.split_once('?').unwrap();
    let login_id = idp.begin(query, &sp.clock).unwrap().request.id;
    let back = logout_response(&sp, &login_id, Some(&slo_idp().key));
    browser
        .get(&sp, &back)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "in_response_to_mismatch");

    // A signed login Response "answering" a pending logout.
    let mut browser = sign_in(&sp, ALICE).await;
    let reply = post_logout(&sp, &mut browser, "").await;
    let (logout_id, ..) = sent_request(reply.location());
    let params = ResponseParams::new(sp.acs_url(), sp.entity_id()).answering(&logout_id);
    let xml = idp
        .issue_response(idp.user(ALICE).unwrap(), &params, &sp.clock)
        .unwrap();
    let form =
        saml_core::binding::post_form(&sp.acs_url(), RedirectParameter::SamlResponse, &xml, None)
            .unwrap();
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "in_response_to_mismatch");
    assert_eq!(browser.whoami(&sp).await, None);
}

#[tokio::test]
async fn sp_logout_requests_are_signed_when_the_sp_has_a_key() {
    let (key, cert) = key_pem("sp");
    let signing = SigningKey::from_pem(&key)
        .unwrap()
        .with_certificate(Certificate::from_pem(&cert).unwrap().remove(0))
        .unwrap();
    let keys = saml_store_memory::StaticKeyStore::new(saml_core::store::SpKeys {
        signing: Some(Arc::new(signing)),
        ..Default::default()
    });
    let sp = sp_with(&["HTTP-Redirect"], |_| {}, |b| b.key_store(keys));
    let mut browser = sign_in(&sp, ALICE).await;
    let reply = post_logout(&sp, &mut browser, "").await;
    let (_, _, _, signed) = sent_request(reply.location());
    assert!(signed);
    assert!(reply.location().contains("&Signature="));
}

#[tokio::test]
async fn sp_metadata_lists_the_single_logout_service_on_every_binding() {
    let sp = sp();
    let reply = sp
        .send(http::Request::get("/saml/metadata").body(empty()).unwrap())
        .await;
    for binding in ["HTTP-Redirect", "HTTP-POST"] {
        assert!(
            reply.body.contains(&format!(
                "SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{binding}\" Location=\"{BASE}/saml/slo\""
            )),
            "{}",
            reply.body
        );
    }
    assert!(
        reply.body.contains(&format!(
            "SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" Location=\"{BASE}/saml/slo/soap\""
        )),
        "{}",
        reply.body
    );
}

// ====================================================================
// IdP-initiated
// ====================================================================

#[tokio::test]
async fn idp_initiated_logout_ends_every_session_of_the_principal() {
    let sp = sp();
    let mut alice_one = sign_in(&sp, ALICE).await;
    let mut alice_two = sign_in(&sp, ALICE).await;
    let mut bob = sign_in(&sp, BOB).await;
    let (id, path) = logout_request(&sp, ALICE, None, Some(&slo_idp().key));
    let reply = alice_one.get(&sp, &path).await;
    answered(&reply, &id, status::SUCCESS);
    assert!(alice_one.cookie("saml_session").is_none());
    assert_eq!(alice_one.whoami(&sp).await, None);
    assert_eq!(alice_two.whoami(&sp).await, None);
    assert_eq!(bob.whoami(&sp).await.unwrap().name_id, BOB);
}

#[tokio::test]
async fn a_session_index_ends_only_that_session() {
    let sp = sp();
    let mut first = sign_in(&sp, ALICE).await;
    let mut second = sign_in(&sp, ALICE).await;
    let index = first.whoami(&sp).await.unwrap().session_index.unwrap();
    assert_ne!(
        Some(&index),
        second.whoami(&sp).await.unwrap().session_index.as_ref()
    );
    let (id, path) = logout_request(&sp, ALICE, Some(&index), Some(&slo_idp().key));
    // Delivered through the browser whose session it does not name: that
    // browser keeps its session and its cookie.
    let reply = second.get(&sp, &path).await;
    answered(&reply, &id, status::SUCCESS);
    assert!(reply.set_cookie("saml_session").is_none(), "{reply:?}");
    assert_eq!(first.whoami(&sp).await, None);
    assert!(second.whoami(&sp).await.is_some());
}

/// Metadata past its `validUntil` no longer vouches for the IdP's keys,
/// whichever resolver kept it: no login starts, and neither a response nor
/// a logout request signed with those keys is accepted. Before that
/// instant everything works.
#[tokio::test]
async fn an_idp_whose_metadata_expired_is_trusted_for_nothing() {
    let until = "2026-03-02T09:02:00Z"; // two minutes after the test clock starts
    let provider = slo_provider_with(
        &["HTTP-Redirect"],
        |xml| {
            xml.replacen(
                "<md:EntityDescriptor",
                &format!("<md:EntityDescriptor validUntil=\"{until}\""),
                1,
            )
        },
        |_| {},
    );
    assert!(provider.metadata.valid_until().is_some());
    let sp = Sp::build(SpOptions::new(vec![provider]), |b| b);
    let mut alice = sign_in(&sp, ALICE).await;
    let mut late = Browser::default();
    let location = begin_login(&sp, &mut late, "").await;
    // The IdP answers in time; the answer arrives after the expiry.
    let form = support::idp_answer(&slo_idp().idp, &location, &sp.clock, &sp.clock, BOB);

    sp.clock.advance(chrono::Duration::minutes(3));
    let reply = Browser::default().get(&sp, "/saml/login").await;
    reply.assert_rejected(StatusCode::BAD_GATEWAY, "expired");
    assert!(reply.body.contains("validUntil"), "{reply:?}");

    // A response to the login started in time, signed with the IdP's key.
    let reply = post_response(&sp, &mut late, &form).await;
    reply.assert_rejected(StatusCode::BAD_GATEWAY, "expired");
    assert!(reply.body.contains("validUntil"), "{reply:?}");
    assert!(late.whoami(&sp).await.is_none());

    // A signed LogoutRequest for Alice ends nothing.
    let (_, path) = logout_request(&sp, ALICE, None, Some(&slo_idp().key));
    let reply = Browser::default().get(&sp, &path).await;
    reply.assert_rejected(StatusCode::BAD_GATEWAY, "expired");
    assert!(reply.body.contains("validUntil"), "{reply:?}");
    assert_eq!(alice.whoami(&sp).await.unwrap().name_id, ALICE);

    // Alice's own logout stays local: the IdP's answer could not be
    // trusted, so she is not sent there to end on an error.
    let reply = post_logout(&sp, &mut alice, "").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(reply.location(), "/");
    assert!(alice.whoami(&sp).await.is_none());
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_logout_requests_end_nothing() {
    let sp = sp();
    let mut alice = sign_in(&sp, ALICE).await;
    for (key, codes) in [
        (None, &["signature_missing"][..]),
        (
            Some(&slo_idp().stranger),
            &["untrusted_key", "signature_invalid"][..],
        ),
    ] {
        let (_, path) = logout_request(&sp, ALICE, None, key);
        let reply = Browser::default().get(&sp, &path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
        assert!(codes.contains(&reply.code()), "{codes:?}: {}", reply.code());
        assert!(alice.whoami(&sp).await.is_some());
    }
    // A tampered signed query: the signature covers the exact bytes.
    let (_, path) = logout_request(&sp, BOB, None, Some(&slo_idp().key));
    let tampered = path.replace("RelayState=back-to-idp", "RelayState=elsewhere");
    assert_ne!(tampered, path);
    let reply = Browser::default().get(&sp, &tampered).await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "signature_invalid");
    assert!(alice.whoami(&sp).await.is_some());
}

#[tokio::test]
async fn unsigned_logout_requests_pass_only_when_configured() {
    let sp = sp_with(
        &["HTTP-Redirect"],
        |s| s.require_signed_logout = false,
        |b| b,
    );
    let mut alice = sign_in(&sp, ALICE).await;
    let (id, path) = logout_request(&sp, ALICE, None, None);
    answered(
        &Browser::default().get(&sp, &path).await,
        &id,
        status::SUCCESS,
    );
    assert_eq!(alice.whoami(&sp).await, None);
}

#[tokio::test]
async fn a_replayed_logout_request_is_refused() {
    let sp = sp();
    let _alice = sign_in(&sp, ALICE).await;
    let (id, path) = logout_request(&sp, ALICE, None, Some(&slo_idp().key));
    answered(
        &Browser::default().get(&sp, &path).await,
        &id,
        status::SUCCESS,
    );
    Browser::default()
        .get(&sp, &path)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "replayed");
}

#[tokio::test]
async fn idp_initiated_logout_over_post_is_answered_over_post() {
    let sp = sp_with(&["HTTP-Redirect", "HTTP-POST"], |_| {}, |b| b);
    let mut alice = sign_in(&sp, ALICE).await;
    let name_id = NameId {
        value: ALICE.to_owned(),
        format: None,
        name_qualifier: None,
        sp_name_qualifier: None,
    };
    let request = LogoutRequest::builder(IDP, &format!("{BASE}/saml/slo"), name_id)
        .build(&sp.clock)
        .unwrap();
    let form = request.post_form(Some("rs"), Some(&slo_idp().key)).unwrap();
    let mut browser = Browser::default();
    let reply = browser
        .post_form(&sp, "/saml/slo", form_body(form.fields()))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.body.contains(&format!("action=\"{IDP_SLO}\"")));
    assert!(reply.body.contains("name=\"SAMLResponse\""));
    assert!(reply.body.contains("name=\"RelayState\" value=\"rs\""));
    assert_eq!(alice.whoami(&sp).await, None);
}

#[tokio::test]
async fn a_logout_request_from_an_unknown_issuer_is_refused() {
    let sp = sp();
    let name_id = NameId {
        value: ALICE.to_owned(),
        format: None,
        name_qualifier: None,
        sp_name_qualifier: None,
    };
    let request = LogoutRequest::builder(
        "https://stranger.example/idp",
        &format!("{BASE}/saml/slo"),
        name_id,
    )
    .build(&sp.clock)
    .unwrap();
    let url = request
        .redirect_url(
            None,
            Some((&slo_idp().stranger, slo_idp().stranger.default_algorithm())),
        )
        .unwrap();
    Browser::default()
        .get(&sp, &path_of(&url))
        .await
        .assert_rejected(StatusCode::NOT_FOUND, "unknown_provider");
}

#[tokio::test]
async fn garbage_at_the_slo_endpoint_is_a_4xx() {
    let sp = sp();
    for uri in [
        "/saml/slo",
        "/saml/slo?SAMLRequest=%%%",
        "/saml/slo?SAMLRequest=AAAA",
        "/saml/slo?SAMLRequest=x&SAMLResponse=y",
    ] {
        let reply = Browser::default().get(&sp, uri).await;
        assert!(reply.status.is_client_error(), "{uri}: {reply:?}");
        reply.code();
    }
    let reply = Browser::default()
        .post_form(&sp, "/saml/slo", "RelayState=x".to_owned())
        .await;
    reply.assert_rejected(StatusCode::BAD_REQUEST, "malformed_xml");
}

// ====================================================================
// The audit sink
// ====================================================================

#[derive(Debug, Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<AuditEvent>>>,
    broken: bool,
}

#[async_trait]
impl AuditSink for Recorder {
    async fn record(&self, event: AuditEvent) -> Result<(), StoreError> {
        if self.broken {
            return Err(StoreError::Unavailable("audit table gone".into()));
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

impl Recorder {
    fn kinds(&self) -> Vec<AuditKind> {
        self.events.lock().unwrap().iter().map(|e| e.kind).collect()
    }
}

#[tokio::test]
async fn the_audit_sink_gets_logins_failures_replays_and_logouts_with_the_client_address() {
    let recorder = Recorder::default();
    let sink = recorder.clone();
    let sp = sp_with(
        &["HTTP-Redirect"],
        |_| {},
        |b| {
            b.audit_sink(sink).client_address(|parts| {
                parts
                    .headers
                    .get("x-test-client")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
        },
    );
    let mut browser = sign_in(&sp, ALICE).await;
    // A failed login: an unsolicited response (IdP-initiated is off).
    let idp = &slo_idp().idp;
    let form = idp
        .respond_idp_initiated(
            idp.user(BOB).unwrap(),
            &sp.acs_url(),
            &sp.entity_id(),
            None,
            &sp.clock,
        )
        .unwrap();
    post_response(&sp, &mut Browser::default(), &form)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "unsolicited_response");
    // IdP-initiated logout, with a client address.
    let (_, path) = logout_request(&sp, ALICE, None, Some(&slo_idp().key));
    let req = browser
        .request(Method::GET, &path)
        .header("x-test-client", "192.0.2.7")
        .body(empty())
        .unwrap();
    assert_eq!(browser.send(&sp, req).await.status, StatusCode::SEE_OTHER);
    let req = Browser::default()
        .request(Method::GET, &path)
        .body(empty())
        .unwrap();
    sp.send(req)
        .await
        .assert_rejected(StatusCode::BAD_REQUEST, "replayed");

    assert_eq!(
        recorder.kinds(),
        [
            AuditKind::Login,
            AuditKind::LoginFailed,
            AuditKind::Logout,
            AuditKind::Replay
        ]
    );
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(events[0].provider.as_deref(), Some("slo"));
    assert_eq!(events[0].subject.as_deref(), Some(ALICE));
    assert_eq!(events[1].code.as_deref(), Some("unsolicited_response"));
    assert_eq!(events[2].subject.as_deref(), Some(ALICE));
    assert_eq!(events[2].client_address.as_deref(), Some("192.0.2.7"));
    assert_eq!(events[3].code.as_deref(), Some("replayed"));
    assert!(
        events
            .iter()
            .all(|e| e.at <= Utc::now() + chrono::Duration::days(1))
    );
}

#[tokio::test]
async fn a_sign_in_the_audit_log_cannot_record_does_not_happen() {
    let sink = Recorder {
        broken: true,
        ..Recorder::default()
    };
    let sp = sp_with(&["HTTP-Redirect"], |_| {}, |b| b.audit_sink(sink));
    let mut browser = Browser::default();
    let location = begin_login(&sp, &mut browser, "").await;
    let form = support::idp_answer(&slo_idp().idp, &location, &sp.clock, &sp.clock, ALICE);
    let reply = post_response(&sp, &mut browser, &form).await;
    reply.assert_rejected(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert!(reply.set_cookie("saml_session").is_none());
    assert_eq!(browser.whoami(&sp).await, None);
}

// ====================================================================
// Back channel (SOAP)
// ====================================================================

fn soap_logout_request(sp: &Sp, name_id: &str, key: Option<&SigningKey>) -> (String, String) {
    let name_id = NameId {
        value: name_id.to_owned(),
        format: None,
        name_qualifier: None,
        sp_name_qualifier: None,
    };
    let request = LogoutRequest::builder(IDP, &format!("{BASE}/saml/slo/soap"), name_id)
        .build(&sp.clock)
        .unwrap();
    (request.id().to_owned(), request.soap_envelope(key).unwrap())
}

async fn post_soap(sp: &Sp, envelope: String) -> support::Reply {
    sp.send(
        http::Request::post("/saml/slo/soap")
            .header("content-type", "text/xml")
            .header("soapaction", saml_core::binding::SOAP_ACTION)
            .body(http_body_util::Full::new(bytes::Bytes::from(envelope)))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_signed_soap_logout_request_ends_the_sessions_and_is_answered_in_soap() {
    let sp = sp();
    let mut alice = sign_in(&sp, ALICE).await;
    let mut bob = sign_in(&sp, BOB).await;
    let (id, envelope) = soap_logout_request(&sp, ALICE, Some(&slo_idp().key));
    let reply = post_soap(&sp, envelope.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/xml")
    );
    let answer = saml_core::binding::soap_message(&reply.body, &Limits::default()).unwrap();
    assert_eq!(answer.local_name, "LogoutResponse");
    assert!(
        answer.xml.contains(&format!("InResponseTo=\"{id}\"")),
        "{}",
        answer.xml
    );
    assert!(answer.xml.contains(status::SUCCESS), "{}", answer.xml);
    assert_eq!(alice.whoami(&sp).await, None);
    assert!(bob.whoami(&sp).await.is_some());

    // Once only: the same request again is a SOAP fault.
    let again = post_soap(&sp, envelope).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        again.body.contains("<faultstring>replayed: "),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn soap_logout_requests_must_be_signed_by_the_idp() {
    let sp = sp();
    let mut alice = sign_in(&sp, ALICE).await;
    for (key, code) in [
        (None, "signature_missing"),
        (Some(&slo_idp().stranger), "untrusted_key"),
    ] {
        let (_, envelope) = soap_logout_request(&sp, ALICE, key);
        let reply = post_soap(&sp, envelope).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{reply:?}");
        assert!(
            reply.body.contains("SOAP-ENV:Client")
                && (reply.body.contains(code) || reply.body.contains("signature_invalid")),
            "{code}: {}",
            reply.body
        );
        assert!(alice.whoami(&sp).await.is_some(), "{code}");
    }
    // Tampered after signing: the NameID changed to Bob's.
    let (_, envelope) = soap_logout_request(&sp, ALICE, Some(&slo_idp().key));
    let tampered = envelope.replace(ALICE, BOB);
    let reply = post_soap(&sp, tampered).await;
    assert!(
        reply.body.contains("digest_mismatch") || reply.body.contains("signature_invalid"),
        "{}",
        reply.body
    );
    assert!(alice.whoami(&sp).await.is_some());
}

#[tokio::test]
async fn garbage_on_the_soap_endpoint_is_a_soap_fault() {
    let sp = sp();
    for body in [
        "".to_owned(),
        "not xml".to_owned(),
        "<a/>".to_owned(),
        saml_core::binding::soap_envelope("<x:Other xmlns:x=\"urn:x\"/>"),
        "<!DOCTYPE x [<!ENTITY a \"b\">]><x/>".to_owned(),
    ] {
        let reply = post_soap(&sp, body.clone()).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert!(
            reply.body.contains("<SOAP-ENV:Fault>"),
            "{body}: {}",
            reply.body
        );
    }
    let huge = "x".repeat(3 * 1024 * 1024);
    let reply = post_soap(&sp, huge).await;
    assert!(
        reply.body.contains("input_too_large"),
        "{}",
        &reply.body[..200.min(reply.body.len())]
    );
    assert!(reply.body.contains("SOAP-ENV:Client"));
}
