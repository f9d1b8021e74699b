//! The development IdP end to end, without HTTP: an AuthnRequest built by our
//! SP code goes in (Redirect or POST binding), the login form comes out, the
//! submitted form yields a POST form whose `SAMLResponse` our own
//! `ResponseValidator` accepts with keys taken from the IdP's metadata —
//! signed, also Response-signed, encrypted, IdP-initiated — and refuses
//! when the form was tampered with; single logout both ways, checked with
//! `LogoutValidator`; and (feature `service`) the same through
//! `DevIdpService`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use saml_core::binding::{PostForm, decode_post};
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, SignatureAlgorithm, SigningKey};
use saml_core::mapping::MappingRules;
use saml_core::metadata::{IdpMetadata, MetadataOptions, Severity};
use saml_core::protocol::bindings::{HTTP_POST, HTTP_REDIRECT};
use saml_core::protocol::{
    Assertion, AuthnRequest, Expectation, LogoutRequest, LogoutResponse, LogoutValidator, NameId,
    ResponseValidator, name_id_format,
};
use saml_core::xml::Document;
use saml_core::xmlenc::DecryptionKey;
use saml_core::{ErrorCode, Limits};
use saml_testkit::dev_idp::{
    DevIdp, DevIdpConfig, DevUser, LoginPrompt, PASSWORD_PROTECTED_TRANSPORT, RequestSignature,
    ResponseParams, encode_form, form_fields,
};

const IDP: &str = "http://127.0.0.1:3000/dev-idp/metadata";
const SSO: &str = "http://127.0.0.1:3000/dev-idp/sso";
const SP: &str = "http://127.0.0.1:3000/saml/metadata";
const ACS: &str = "http://127.0.0.1:3000/saml/acs";
const ALICE: &str = "alice@example.com";

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    std::fs::read_to_string(dir.join("bench-fixtures").join(name)).unwrap()
}

fn now() -> DateTime<Utc> {
    parse_datetime("2024-06-01T12:00:00Z").unwrap()
}

fn clock() -> FixedClock {
    FixedClock(now())
}

/// A config with the bench fixtures' IdP key (no key generation per test).
fn config() -> DevIdpConfig {
    let mut config = DevIdpConfig::new(IDP, SSO);
    config.key = Some((fixture("idp-key.pem"), fixture("idp-cert.pem")));
    config
}

fn sp_key() -> SigningKey {
    let cert = Certificate::from_pem(&fixture("sp-cert.pem"))
        .unwrap()
        .remove(0);
    SigningKey::from_pem(&fixture("sp-key.pem"))
        .unwrap()
        .with_certificate(cert)
        .unwrap()
}

fn request() -> AuthnRequest {
    AuthnRequest::builder(SP, SSO)
        .assertion_consumer_service_url(ACS)
        .build(&clock())
        .unwrap()
}

/// The query string of the request's Redirect URL.
fn query(request: &AuthnRequest, relay_state: Option<&str>) -> String {
    let url = request.redirect_url(relay_state, None).unwrap();
    url.split_once('?').unwrap().1.to_owned()
}

/// A validator configured the way an SP would be, from the IdP's metadata.
fn validator(idp: &DevIdp) -> ResponseValidator {
    let metadata = IdpMetadata::parse(&idp.metadata_xml(), &MetadataOptions::new()).unwrap();
    ResponseValidator::new(metadata.entity_id(), metadata.signing_keys(), SP, ACS)
}

fn response_xml(form: &PostForm) -> String {
    let (name, value) = &form.fields()[0];
    assert_eq!(name, "SAMLResponse");
    decode_post(value, &Limits::default()).unwrap()
}

fn relay_state(form: &PostForm) -> Option<&str> {
    form.fields()
        .iter()
        .find(|(n, _)| n == "RelayState")
        .map(|(_, v)| v.as_str())
}

fn expect(request: &AuthnRequest) -> Expectation<'_> {
    Expectation {
        in_response_to: Some(request.id()),
        force_authn_since: Some(request.issue_instant()),
    }
}

/// Runs the SP-initiated flow through `idp` for `user` and returns the POST
/// form and the request.
fn login(idp: &DevIdp, user: &str, relay: Option<&str>) -> (PostForm, AuthnRequest) {
    let request = request();
    let prompt = idp.begin(&query(&request, relay), &clock()).unwrap();
    let form = idp.respond(&prompt.form_body(user), &clock()).unwrap();
    (form, request)
}

fn check_alice(assertion: &Assertion) {
    assert_eq!(assertion.issuer, IDP);
    assert_eq!(assertion.name_id.value, ALICE);
    assert_eq!(
        assertion.name_id.format.as_deref(),
        Some(name_id_format::EMAIL)
    );
    assert_eq!(assertion.attribute_values("mail"), vec![ALICE]);
    assert_eq!(
        assertion
            .attribute_values("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
        vec![ALICE]
    );
    assert_eq!(assertion.attribute_values("givenName"), vec!["Alice"]);
    assert_eq!(assertion.attribute_values("sn"), vec!["Liddell"]);
    assert_eq!(
        assertion.attribute_values("groups"),
        vec!["admins", "users"]
    );
    assert_eq!(
        assertion.authn_context_class_ref.as_deref(),
        Some(PASSWORD_PROTECTED_TRANSPORT)
    );
    assert_eq!(assertion.authn_instant, Some(now()));
    assert_eq!(
        assertion.not_on_or_after,
        Some(now() + Duration::seconds(300))
    );
    assert!(
        assertion
            .session_index
            .as_deref()
            .is_some_and(|s| s.starts_with('_'))
    );
}

/// The main scenario, with a key generated at start as the example server does.
#[test]
fn sp_initiated_round_trip_with_generated_key() {
    let idp = DevIdp::new(DevIdpConfig::new(IDP, SSO)).unwrap();
    let request = request();
    let prompt = idp
        .begin(&query(&request, Some("/deep/link?x=1")), &clock())
        .unwrap();
    assert_eq!(prompt.request.id, request.id());
    assert_eq!(prompt.request.sp_entity_id, SP);
    assert_eq!(prompt.request.acs_url, ACS);
    assert_eq!(prompt.request.issue_instant, now());
    assert!(prompt.request.force_authn);
    assert!(!prompt.request.is_passive);
    assert_eq!(
        prompt.request.name_id_format.as_deref(),
        Some(name_id_format::UNSPECIFIED)
    );
    assert_eq!(prompt.request.signature, RequestSignature::Unsigned);
    assert_eq!(prompt.relay_state.as_deref(), Some("/deep/link?x=1"));

    let page = prompt.html("/dev-idp/login");
    assert!(page.contains("<title>Development IdP \u{2014} not for production</title>"));
    assert!(page.contains("action=\"/dev-idp/login\""));
    assert!(page.contains("value=\"alice@example.com\""));
    assert!(page.contains("value=\"bob@example.com\""));
    assert!(page.contains("name=\"relay_state\" value=\"/deep/link?x=1\""));
    assert!(!page.contains("<script"));
    assert!(!page.contains("src="));
    assert!(!page.contains("href="));

    let form = idp.respond(&prompt.form_body(ALICE), &clock()).unwrap();
    assert_eq!(form.action(), ACS);
    assert_eq!(relay_state(&form), Some("/deep/link?x=1"));
    let xml = response_xml(&form);
    let assertion = validator(&idp)
        .validate_xml(&xml, &expect(&request), &clock())
        .unwrap();
    check_alice(&assertion);
    assert_eq!(assertion.in_response_to.as_deref(), Some(request.id()));

    // The default attribute mapping finds everything it should.
    let user = MappingRules::default().map(&assertion).unwrap();
    assert_eq!(user.id, ALICE);
    assert_eq!(user.email(), Some(ALICE));
    assert_eq!(user.given_name(), Some("Alice"));
    assert_eq!(user.family_name(), Some("Liddell"));
    assert_eq!(user.display_name(), Some("Alice Liddell"));
    assert!(user.has_role("admins") && user.has_role("users"));

    // The certificate in PEM is the one in the metadata.
    let pem = Certificate::from_pem(&idp.certificate_pem()).unwrap();
    assert_eq!(pem.len(), 1);
    assert_eq!(pem[0].der(), idp.certificate().der());
}

#[test]
fn the_other_user_and_a_replayed_form_body() {
    let idp = DevIdp::new(config()).unwrap();
    let (form, request) = login(&idp, "bob@example.com", None);
    assert_eq!(relay_state(&form), None);
    let assertion = validator(&idp)
        .validate_xml(&response_xml(&form), &expect(&request), &clock())
        .unwrap();
    assert_eq!(assertion.name_id.value, "bob@example.com");
    assert_eq!(assertion.attribute_values("groups"), vec!["users"]);
}

#[test]
fn form_fields_are_percent_and_plus_decoded() {
    let mut config = config();
    config.users = vec![DevUser::new("a b+c@example.com", "Spacey").attribute("x", ["1"])];
    let idp = DevIdp::new(config).unwrap();
    let request = request();
    let relay = "a b+c/é&=%";
    let prompt = idp.begin(&query(&request, Some(relay)), &clock()).unwrap();
    assert_eq!(prompt.relay_state.as_deref(), Some(relay));
    let body = prompt.form_body("a b+c@example.com");
    assert!(body.contains("user=a+b%2Bc%40example.com"), "{body}");
    let form = idp.respond(&body, &clock()).unwrap();
    assert_eq!(relay_state(&form), Some(relay));
    let assertion = validator(&idp)
        .validate_xml(&response_xml(&form), &expect(&request), &clock())
        .unwrap();
    assert_eq!(assertion.name_id.value, "a b+c@example.com");

    // Lower-case hex works too; malformed escapes and unknown users do not.
    let lower = body.replace("%2B", "%2b").replace("%C3%A9", "%c3%a9");
    assert_ne!(lower, body);
    let form = idp.respond(&lower, &clock()).unwrap();
    assert_eq!(relay_state(&form), Some(relay));
    let bad = format!("{body}&x=%G0");
    assert_eq!(
        idp.respond(&bad, &clock()).unwrap_err().code(),
        ErrorCode::MalformedXml
    );
    let unknown = body.replace("user=a+b%2Bc%40example.com", "user=mallory");
    assert_eq!(
        idp.respond(&unknown, &clock()).unwrap_err().code(),
        ErrorCode::MalformedXml
    );
    let missing = encode_form([(form_fields::USER, "a b+c@example.com")]);
    assert!(idp.respond(&missing, &clock()).is_err());
}

#[test]
fn encrypted_assertion_for_the_sp_key() {
    let mut config = config();
    config.encrypt_for = Some(fixture("sp-cert.pem"));
    let idp = DevIdp::new(config).unwrap();
    let (form, request) = login(&idp, ALICE, Some("r"));
    let xml = response_xml(&form);
    assert!(xml.contains("<saml:EncryptedAssertion>"));
    assert!(!xml.contains("<saml:Assertion"));
    assert!(!xml.contains(ALICE), "the subject must not be readable");

    let mut v = validator(&idp);
    assert_eq!(
        v.validate_xml(&xml, &expect(&request), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::DecryptionFailed
    );
    v.decryption_keys = vec![DecryptionKey::from_pem(&fixture("sp-key.pem")).unwrap()];
    let assertion = v.validate_xml(&xml, &expect(&request), &clock()).unwrap();
    check_alice(&assertion);
}

#[test]
fn encrypted_and_response_signed() {
    let mut config = config();
    config.encrypt_for = Some(fixture("sp-cert.pem"));
    config.sign_response = true;
    let idp = DevIdp::new(config).unwrap();
    let (form, request) = login(&idp, ALICE, None);
    let mut v = validator(&idp);
    v.decryption_keys = vec![DecryptionKey::from_pem(&fixture("sp-key.pem")).unwrap()];
    v.require_signed_assertion = true;
    check_alice(
        &v.validate_xml(&response_xml(&form), &expect(&request), &clock())
            .unwrap(),
    );
}

fn signature_parents(xml: &str) -> Vec<String> {
    let doc = Document::parse(xml, &Limits::default()).unwrap();
    doc.root()
        .descendants()
        .filter(|e| e.local_name() == "Signature")
        .map(|s| s.parent().unwrap().local_name().to_owned())
        .collect()
}

#[test]
fn response_also_signed() {
    let mut config = config();
    config.sign_response = true;
    let idp = DevIdp::new(config).unwrap();
    let (form, request) = login(&idp, ALICE, None);
    let xml = response_xml(&form);
    let mut parents = signature_parents(&xml);
    parents.sort();
    assert_eq!(parents, ["Assertion", "Response"]);
    let mut v = validator(&idp);
    v.require_signed_assertion = true;
    check_alice(&v.validate_xml(&xml, &expect(&request), &clock()).unwrap());
}

#[test]
fn response_signed_only() {
    let mut config = config();
    config.sign_response = true;
    config.sign_assertion = false;
    let idp = DevIdp::new(config).unwrap();
    let (form, request) = login(&idp, ALICE, None);
    let xml = response_xml(&form);
    assert_eq!(signature_parents(&xml), ["Response"]);
    let mut v = validator(&idp);
    check_alice(&v.validate_xml(&xml, &expect(&request), &clock()).unwrap());
    v.require_signed_assertion = true;
    assert_eq!(
        v.validate_xml(&xml, &expect(&request), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureMissing
    );
}

#[test]
fn unsigned_responses_are_refused() {
    let mut config = config();
    config.sign_assertion = false;
    let idp = DevIdp::new(config).unwrap();
    let (form, request) = login(&idp, ALICE, None);
    assert_eq!(
        validator(&idp)
            .validate_xml(&response_xml(&form), &expect(&request), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureMissing
    );
}

#[test]
fn responses_from_another_key_are_refused() {
    // An IdP with a freshly generated key is not the one in the metadata.
    let other = DevIdp::new(DevIdpConfig::new(IDP, SSO)).unwrap();
    let idp = DevIdp::new(config()).unwrap();
    let (form, request) = login(&other, ALICE, None);
    assert!(
        validator(&idp)
            .validate_xml(&response_xml(&form), &expect(&request), &clock())
            .is_err()
    );
}

#[test]
fn idp_initiated() {
    let idp = DevIdp::new(config()).unwrap();
    let alice = idp.user(ALICE).unwrap().clone();
    let form = idp
        .respond_idp_initiated(&alice, ACS, SP, Some("/target"), &clock())
        .unwrap();
    assert_eq!(form.action(), ACS);
    assert_eq!(relay_state(&form), Some("/target"));
    let xml = response_xml(&form);
    assert!(!xml.contains("InResponseTo"));

    let mut v = validator(&idp);
    assert_eq!(
        v.validate_xml(&xml, &Expectation::default(), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::UnsolicitedResponse
    );
    v.allow_idp_initiated = true;
    let assertion = v
        .validate_xml(&xml, &Expectation::default(), &clock())
        .unwrap();
    check_alice(&assertion);
    assert_eq!(assertion.in_response_to, None);

    // An unsolicited response is not an answer to a pending request.
    let pending = Expectation {
        in_response_to: Some("_pending"),
        force_authn_since: None,
    };
    assert_eq!(
        v.validate_xml(&xml, &pending, &clock()).unwrap_err().code(),
        ErrorCode::InResponseToMismatch
    );
}

#[test]
fn issue_response_directly() {
    let idp = DevIdp::new(config()).unwrap();
    let user = DevUser::standard("carol@example.org", "Carol", "Shaw", &[]);
    let params = ResponseParams::new(ACS, SP).answering("_req42");
    let xml = idp.issue_response(&user, &params, &clock()).unwrap();
    let expectation = Expectation {
        in_response_to: Some("_req42"),
        force_authn_since: None,
    };
    let assertion = validator(&idp)
        .validate_xml(&xml, &expectation, &clock())
        .unwrap();
    assert_eq!(assertion.name_id.value, "carol@example.org");
    assert!(assertion.attribute_values("groups").is_empty());
    assert_eq!(assertion.attribute_values("uid"), vec!["carol"]);

    // Valid within the lifetime (and skew), expired after it.
    let later = FixedClock(now() + Duration::seconds(299));
    assert!(
        validator(&idp)
            .validate_xml(&xml, &expectation, &later)
            .is_ok()
    );
    let too_late = FixedClock(now() + Duration::seconds(311));
    assert_eq!(
        validator(&idp)
            .validate_xml(&xml, &expectation, &too_late)
            .unwrap_err()
            .code(),
        ErrorCode::Expired
    );
    // For another SP, the audience does not match.
    let other = ResponseValidator::new(
        IDP,
        validator(&idp).idp_keys,
        "https://other.example/sp",
        ACS,
    );
    assert_eq!(
        other
            .validate_xml(&xml, &expectation, &clock())
            .unwrap_err()
            .code(),
        ErrorCode::AudienceMismatch
    );
}

/// Rewrites one hidden field of the prompt's form body.
fn tampered_body(prompt: &LoginPrompt, field: &str, value: &str) -> String {
    let mut fields = prompt.hidden_fields();
    for (name, v) in &mut fields {
        if *name == field {
            *v = value.to_owned();
        }
    }
    fields.push((form_fields::USER, ALICE.to_owned()));
    encode_form(fields.iter().map(|(n, v)| (*n, v.as_str())))
}

#[test]
fn tampered_form_fields_are_refused_by_the_sp() {
    let idp = DevIdp::new(config()).unwrap();
    let request = request();
    let prompt = idp.begin(&query(&request, None), &clock()).unwrap();
    let v = validator(&idp);

    // ACS URL changed: the response goes elsewhere, and the real ACS refuses it.
    let evil = "https://evil.example/acs";
    let form = idp
        .respond(
            &tampered_body(&prompt, form_fields::ACS_URL, evil),
            &clock(),
        )
        .unwrap();
    assert_eq!(form.action(), evil);
    assert_eq!(
        v.validate_xml(&response_xml(&form), &expect(&request), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::DestinationMismatch
    );

    // Request ID changed: it no longer answers the pending request.
    let form = idp
        .respond(
            &tampered_body(&prompt, form_fields::REQUEST_ID, "_other"),
            &clock(),
        )
        .unwrap();
    assert_eq!(
        v.validate_xml(&response_xml(&form), &expect(&request), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::InResponseToMismatch
    );

    // SP entity ID changed: the audience is not us.
    let form = idp
        .respond(
            &tampered_body(
                &prompt,
                form_fields::SP_ENTITY_ID,
                "https://other.example/sp",
            ),
            &clock(),
        )
        .unwrap();
    assert_eq!(
        v.validate_xml(&response_xml(&form), &expect(&request), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::AudienceMismatch
    );

    // A script URL as ACS is refused outright.
    assert_eq!(
        idp.respond(
            &tampered_body(&prompt, form_fields::ACS_URL, "javascript:alert(1)"),
            &clock()
        )
        .unwrap_err()
        .code(),
        ErrorCode::MalformedXml
    );
}

#[test]
fn hostile_values_are_escaped_in_the_login_page() {
    let idp = DevIdp::new(config()).unwrap();
    let hostile = "\"><script>alert('x')</script><a href=\"//evil\">&amp;";
    let request = AuthnRequest::builder(&format!("{SP}?<b>\"'"), SSO)
        .assertion_consumer_service_url(format!("{ACS}?q=\"><img/src=x>"))
        .provider_name("<i>Evil & Co</i>")
        .build(&clock())
        .unwrap();
    let prompt = idp
        .begin(&query(&request, Some(hostile)), &clock())
        .unwrap();
    assert_eq!(prompt.relay_state.as_deref(), Some(hostile));
    let page = prompt.html("/login?a=\"><script>x</script>");
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"));
    assert!(!page.contains("<i>"));
    assert!(!page.contains("<b>"));
    assert!(!page.contains("<a "));
    assert!(page.contains("&lt;a href=&quot;//evil&quot;&gt;"));
    assert!(page.contains("&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(page.contains("&amp;amp;"));
    assert!(page.contains("&lt;i&gt;Evil &amp; Co&lt;/i&gt;"));

    // And it comes back unchanged in the response form.
    let form = idp.respond(&prompt.form_body(ALICE), &clock()).unwrap();
    assert_eq!(relay_state(&form), Some(hostile));
    assert!(!form.html().contains("<script"));
}

#[test]
fn metadata_parses_and_lints_clean() {
    let idp = DevIdp::new(config()).unwrap();
    let xml = idp.metadata_xml();
    let metadata = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap();
    assert_eq!(metadata.entity_id(), IDP);
    assert_eq!(metadata.sso_endpoint(HTTP_REDIRECT).unwrap().location, SSO);
    assert_eq!(metadata.sso_endpoint(HTTP_POST).unwrap().location, SSO);
    assert_eq!(metadata.signing_certificates().len(), 1);
    assert_eq!(
        metadata.signing_certificates()[0].der(),
        idp.certificate().der()
    );
    assert_eq!(
        metadata.name_id_formats(),
        [name_id_format::EMAIL, name_id_format::UNSPECIFIED]
    );
    assert!(!metadata.want_authn_requests_signed());
    let findings = metadata.lint(now());
    assert!(
        findings.iter().all(|f| f.severity != Severity::Error),
        "{findings:?}"
    );

    // The generated key's certificate lints clean as well (no expiry soon).
    let generated = DevIdp::new(DevIdpConfig::new(IDP, SSO)).unwrap();
    let metadata = IdpMetadata::parse(&generated.metadata_xml(), &MetadataOptions::new()).unwrap();
    let findings = metadata.lint(Utc::now());
    assert!(
        findings
            .iter()
            .all(|f| f.severity != Severity::Error && !f.code.starts_with("certificate_")),
        "{findings:?}"
    );
}

#[test]
fn signed_redirect_requests() {
    let request = request();
    let url = request
        .redirect_url(Some("rs"), Some((&sp_key(), SignatureAlgorithm::RsaSha256)))
        .unwrap();
    let signed_query = url.split_once('?').unwrap().1;

    // No SP certificate: accepted, noted, and the page says so.
    let idp = DevIdp::new(config()).unwrap();
    let prompt = idp.begin(signed_query, &clock()).unwrap();
    assert_eq!(prompt.request.signature, RequestSignature::NotChecked);
    assert!(prompt.html("/login").contains("NOT checked"));

    // With the SP certificate: verified.
    let mut with_cert = config();
    with_cert.sp_signing_certificate = Some(fixture("sp-cert.pem"));
    let idp = DevIdp::new(with_cert.clone()).unwrap();
    let prompt = idp.begin(&format!("?{signed_query}"), &clock()).unwrap();
    assert_eq!(prompt.request.signature, RequestSignature::Verified);
    assert_eq!(prompt.relay_state.as_deref(), Some("rs"));

    // A tampered signed query fails.
    let tampered = signed_query.replace("RelayState=rs", "RelayState=rt");
    assert_eq!(
        idp.begin(&tampered, &clock()).unwrap_err().code(),
        ErrorCode::SignatureInvalid
    );

    // The wrong certificate fails.
    let mut wrong = config();
    wrong.sp_signing_certificate = Some(fixture("idp-cert.pem"));
    let idp = DevIdp::new(wrong).unwrap();
    assert!(idp.begin(signed_query, &clock()).is_err());

    // Requiring signatures: the unsigned request is refused, and metadata says so.
    with_cert.want_authn_requests_signed = true;
    let idp = DevIdp::new(with_cert).unwrap();
    assert!(
        idp.metadata_xml()
            .contains("WantAuthnRequestsSigned=\"true\"")
    );
    assert_eq!(
        idp.begin(&query(&request, None), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureMissing
    );
    assert!(idp.begin(signed_query, &clock()).is_ok());

    // Requiring signatures needs a certificate to check them with.
    let mut no_cert = config();
    no_cert.want_authn_requests_signed = true;
    assert!(DevIdp::new(no_cert).is_err());
}

#[test]
fn post_binding_requests() {
    let request = request();
    let mut with_cert = config();
    with_cert.sp_signing_certificate = Some(fixture("sp-cert.pem"));
    let idp = DevIdp::new(with_cert).unwrap();

    let signed = request.post_form(Some("post rs"), Some(&sp_key())).unwrap();
    assert_eq!(signed.action(), SSO);
    let body = encode_form(
        signed
            .fields()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let prompt = idp.begin_post(&body, &clock()).unwrap();
    assert_eq!(prompt.request.signature, RequestSignature::Verified);
    assert_eq!(prompt.relay_state.as_deref(), Some("post rs"));
    let form = idp.respond(&prompt.form_body(ALICE), &clock()).unwrap();
    check_alice(
        &validator(&idp)
            .validate_xml(&response_xml(&form), &expect(&request), &clock())
            .unwrap(),
    );

    let unsigned = request.post_form(None, None).unwrap();
    let body = encode_form(
        unsigned
            .fields()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let prompt = idp.begin_post(&body, &clock()).unwrap();
    assert_eq!(prompt.request.signature, RequestSignature::Unsigned);
    assert_eq!(prompt.relay_state, None);

    // A request signed by someone else fails.
    let other = SigningKey::from_pem(&fixture("idp-key.pem")).unwrap();
    let forged = request.post_form(None, Some(&other)).unwrap();
    let body = encode_form(
        forged
            .fields()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    assert!(idp.begin_post(&body, &clock()).is_err());

    assert!(idp.begin_post("RelayState=x", &clock()).is_err());
}

#[test]
fn cancel_and_no_passive_answer_failures() {
    let idp = DevIdp::new(config()).unwrap();
    let request = AuthnRequest::builder(SP, SSO)
        .assertion_consumer_service_url(ACS)
        .is_passive(true)
        .build(&clock())
        .unwrap();
    let prompt = idp.begin(&query(&request, Some("r")), &clock()).unwrap();
    assert!(prompt.request.is_passive);
    let v = validator(&idp);

    let form = idp.respond(&prompt.cancel_form_body(), &clock()).unwrap();
    assert_eq!(relay_state(&form), Some("r"));
    let xml = response_xml(&form);
    assert!(xml.contains("status:AuthnFailed"));
    let err = v
        .validate_xml(&xml, &expect(&request), &clock())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::StatusNotSuccess);
    assert!(err.detail().contains("AuthnFailed"), "{err}");

    let form = idp.respond_no_passive(&prompt, &clock()).unwrap();
    let err = v
        .validate_xml(&response_xml(&form), &expect(&request), &clock())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::StatusNotSuccess);
    assert!(err.detail().contains("NoPassive"), "{err}");
}

#[test]
fn bad_requests_are_refused() {
    let idp = DevIdp::new(config()).unwrap();
    let code = |q: &str, c: &FixedClock| idp.begin(q, c).unwrap_err().code();

    // Addressed to another IdP.
    let elsewhere = AuthnRequest::builder(SP, "https://other-idp.example/sso")
        .assertion_consumer_service_url(ACS)
        .build(&clock())
        .unwrap();
    assert_eq!(
        code(&query(&elsewhere, None), &clock()),
        ErrorCode::DestinationMismatch
    );

    // Too old, or from the future.
    let q = query(&request(), None);
    assert_eq!(
        code(&q, &FixedClock(now() + Duration::minutes(11))),
        ErrorCode::Expired
    );
    assert_eq!(
        code(&q, &FixedClock(now() - Duration::minutes(2))),
        ErrorCode::NotYetValid
    );

    // No ACS URL and no default; with a default it is used.
    let no_acs = AuthnRequest::builder(SP, SSO).build(&clock()).unwrap();
    assert_eq!(
        code(&query(&no_acs, None), &clock()),
        ErrorCode::MalformedXml
    );
    let mut with_default = config();
    with_default.default_acs_url = Some(ACS.to_owned());
    let prompt = DevIdp::new(with_default)
        .unwrap()
        .begin(&query(&no_acs, None), &clock())
        .unwrap();
    assert_eq!(prompt.request.acs_url, ACS);

    // Another response binding.
    let artifact = AuthnRequest::builder(SP, SSO)
        .assertion_consumer_service_url(ACS)
        .protocol_binding(Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"))
        .build(&clock())
        .unwrap();
    assert_eq!(
        code(&query(&artifact, None), &clock()),
        ErrorCode::MalformedXml
    );

    // Not an AuthnRequest, or no message at all.
    assert_eq!(code("RelayState=x", &clock()), ErrorCode::MalformedXml);
    let url = saml_core::binding::redirect_url(
        SSO,
        saml_core::binding::RedirectParameter::SamlResponse,
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>",
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        code(url.split_once('?').unwrap().1, &clock()),
        ErrorCode::MalformedXml
    );
}

#[test]
fn configuration_is_checked() {
    let bad = |f: fn(&mut DevIdpConfig)| {
        let mut c = config();
        f(&mut c);
        DevIdp::new(c).unwrap_err().code()
    };
    assert_eq!(bad(|c| c.entity_id.clear()), ErrorCode::MalformedXml);
    assert_eq!(bad(|c| c.sso_url = "/sso".into()), ErrorCode::MalformedXml);
    assert_eq!(bad(|c| c.users.clear()), ErrorCode::MalformedXml);
    assert_eq!(
        bad(|c| c.users.push(DevUser::new(ALICE, "Alice again"))),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        bad(|c| c.users.push(DevUser::new("x\u{1}", "ctl"))),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        bad(|c| c.assertion_lifetime_seconds = 0),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        bad(|c| c.key = Some((fixture("idp-key.pem"), fixture("sp-cert.pem")))),
        ErrorCode::UntrustedKey
    );
    assert_eq!(
        bad(|c| c.encrypt_for = Some("not a pem".into())),
        ErrorCode::UntrustedKey
    );

    // Debug never prints the private key.
    let debug = format!("{:?}", config());
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    assert!(debug.contains("[redacted]"));
}

#[test]
fn the_idp_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DevIdp>();
    static IDP_ONCE: OnceLock<DevIdp> = OnceLock::new();
    let idp = IDP_ONCE.get_or_init(|| DevIdp::new(config()).unwrap());
    assert_eq!(idp.users().len(), 2);
    assert_eq!(idp.entity_id(), IDP);
    assert_eq!(idp.sso_url(), SSO);
}

// ---------------------------------------------------------------------------
// Single logout
// ---------------------------------------------------------------------------

const SLO: &str = "http://127.0.0.1:3000/dev-idp/slo";
const SP_SLO: &str = "http://127.0.0.1:3000/saml/slo";

fn slo_config() -> DevIdpConfig {
    let mut config = config();
    config.slo_url = Some(SLO.to_owned());
    config
}

fn alice_name_id() -> NameId {
    NameId {
        value: ALICE.to_owned(),
        format: Some(name_id_format::EMAIL.to_owned()),
        name_qualifier: None,
        sp_name_qualifier: None,
    }
}

/// The SP's LogoutRequest to the IdP's SLO URL.
fn sp_logout_request(destination: &str, clock: &FixedClock) -> LogoutRequest {
    LogoutRequest::builder(SP, destination, alice_name_id())
        .session_index("_session1")
        .build(clock)
        .unwrap()
}

fn query_of(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

/// How an SP checks the IdP's logout messages: keys from the IdP metadata.
fn sp_logout_validator(idp: &DevIdp) -> LogoutValidator {
    let metadata = IdpMetadata::parse(&idp.metadata_xml(), &MetadataOptions::new()).unwrap();
    LogoutValidator::new(metadata.entity_id(), metadata.signing_keys(), SP_SLO)
}

/// Flips one character inside the `Signature` parameter of a query.
fn tamper_signature(query: &str) -> String {
    let start = query.find("Signature=").unwrap() + "Signature=".len();
    let mut bytes = query.as_bytes().to_vec();
    bytes[start + 4] = if bytes[start + 4] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn slo_endpoint_is_advertised_only_when_configured() {
    let without = DevIdp::new(config()).unwrap();
    assert_eq!(without.slo_url(), None);
    assert!(!without.metadata_xml().contains("SingleLogoutService"));
    let metadata = IdpMetadata::parse(&without.metadata_xml(), &MetadataOptions::new()).unwrap();
    assert!(metadata.slo_endpoints().is_empty());

    let idp = DevIdp::new(slo_config()).unwrap();
    assert_eq!(idp.slo_url(), Some(SLO));
    let metadata = IdpMetadata::parse(&idp.metadata_xml(), &MetadataOptions::new()).unwrap();
    assert_eq!(metadata.slo_endpoints().len(), 1);
    assert_eq!(metadata.slo_endpoint(HTTP_REDIRECT).unwrap().location, SLO);
    assert!(metadata.slo_endpoint(HTTP_POST).is_none());
    let findings = metadata.lint(now());
    assert!(
        findings.iter().all(|f| f.severity != Severity::Error),
        "{findings:?}"
    );

    let mut bad = slo_config();
    bad.slo_url = Some("/slo".to_owned());
    assert_eq!(
        DevIdp::new(bad).unwrap_err().code(),
        ErrorCode::MalformedXml
    );
    assert!(format!("{:?}", slo_config()).contains(SLO));
}

#[test]
fn sp_logout_request_gets_a_signed_success_response() {
    let idp = DevIdp::new(slo_config()).unwrap();
    let request = sp_logout_request(SLO, &clock());
    let url = request.redirect_url(Some("back-to"), None).unwrap();
    let answer = idp.answer_logout(query_of(&url), SP_SLO, &clock()).unwrap();
    assert_eq!(answer.request.id, request.id());
    assert_eq!(answer.request.issuer, SP);
    assert_eq!(answer.request.name_id.value, ALICE);
    assert_eq!(answer.request.session_indexes, ["_session1"]);
    assert_eq!(answer.signature, RequestSignature::Unsigned);
    assert_eq!(answer.relay_state.as_deref(), Some("back-to"));
    assert!(
        answer
            .redirect_url
            .starts_with(&format!("{SP_SLO}?SAMLResponse=")),
        "{}",
        answer.redirect_url
    );

    // The SP accepts it: signed by the key in the metadata, Success,
    // InResponseTo its request, RelayState echoed.
    let validator = sp_logout_validator(&idp);
    let response_query = query_of(&answer.redirect_url);
    let outcome = validator
        .validate_response_redirect(response_query, request.id(), &clock())
        .unwrap();
    assert!(outcome.signed);
    assert!(!outcome.partial);
    assert_eq!(outcome.id, answer.response_id);
    assert_eq!(outcome.issuer, IDP);
    assert_eq!(outcome.in_response_to, request.id());
    assert_eq!(outcome.relay_state.as_deref(), Some("back-to"));

    // ... but not as the answer to another request,
    assert_eq!(
        validator
            .validate_response_redirect(response_query, "_other", &clock())
            .unwrap_err()
            .code(),
        ErrorCode::InResponseToMismatch
    );
    // not with a tampered signature or relay state,
    assert_eq!(
        validator
            .validate_response_redirect(&tamper_signature(response_query), request.id(), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );
    let changed = response_query.replace("RelayState=back-to", "RelayState=elsewhere");
    assert_ne!(changed, response_query);
    assert_eq!(
        validator
            .validate_response_redirect(&changed, request.id(), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );
    // and not from another IdP key.
    let other = DevIdp::new({
        let mut c = DevIdpConfig::new(IDP, SSO);
        c.slo_url = Some(SLO.to_owned());
        c
    })
    .unwrap();
    let foreign = other
        .answer_logout(query_of(&url), SP_SLO, &clock())
        .unwrap();
    assert!(
        validator
            .validate_response_redirect(query_of(&foreign.redirect_url), request.id(), &clock())
            .is_err()
    );
}

#[test]
fn signed_sp_logout_requests() {
    let request = sp_logout_request(SLO, &clock());
    let url = request
        .redirect_url(None, Some((&sp_key(), SignatureAlgorithm::RsaSha256)))
        .unwrap();
    let signed_query = query_of(&url);

    // No SP certificate: accepted, not checked.
    let idp = DevIdp::new(slo_config()).unwrap();
    let answer = idp.answer_logout(signed_query, SP_SLO, &clock()).unwrap();
    assert_eq!(answer.signature, RequestSignature::NotChecked);

    // With it: verified; a tampered signature is refused.
    let mut with_cert = slo_config();
    with_cert.sp_signing_certificate = Some(fixture("sp-cert.pem"));
    let idp = DevIdp::new(with_cert.clone()).unwrap();
    let answer = idp
        .answer_logout(&format!("?{signed_query}"), SP_SLO, &clock())
        .unwrap();
    assert_eq!(answer.signature, RequestSignature::Verified);
    assert!(answer.request.signed);
    assert_eq!(
        idp.answer_logout(&tamper_signature(signed_query), SP_SLO, &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );

    // Requiring signatures refuses the unsigned request.
    with_cert.want_authn_requests_signed = true;
    let idp = DevIdp::new(with_cert).unwrap();
    let unsigned = request.redirect_url(None, None).unwrap();
    assert_eq!(
        idp.answer_logout(query_of(&unsigned), SP_SLO, &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureMissing
    );
    assert!(idp.answer_logout(signed_query, SP_SLO, &clock()).is_ok());
}

#[test]
fn bad_logout_requests_are_refused() {
    let idp = DevIdp::new(slo_config()).unwrap();
    let request = sp_logout_request(SLO, &clock());
    let good = request.redirect_url(None, None).unwrap();
    let code = |idp: &DevIdp, query: &str, sp_slo: &str, at: &FixedClock| {
        idp.answer_logout(query, sp_slo, at).unwrap_err().code()
    };

    // No SLO URL configured.
    let plain = DevIdp::new(config()).unwrap();
    assert_eq!(
        code(&plain, query_of(&good), SP_SLO, &clock()),
        ErrorCode::MalformedXml
    );
    // The answer's destination must be an http(s) URL from the caller.
    for sp_slo in ["javascript:alert(1)", "/saml/slo", ""] {
        assert_eq!(
            code(&idp, query_of(&good), sp_slo, &clock()),
            ErrorCode::MalformedXml
        );
    }
    // Addressed to another IdP.
    let elsewhere = sp_logout_request("https://other.example/slo", &clock())
        .redirect_url(None, None)
        .unwrap();
    assert_eq!(
        code(&idp, query_of(&elsewhere), SP_SLO, &clock()),
        ErrorCode::DestinationMismatch
    );
    // Too old, or from the future.
    let later = FixedClock(now() + Duration::minutes(10));
    assert_eq!(
        code(&idp, query_of(&good), SP_SLO, &later),
        ErrorCode::Expired
    );
    let earlier = FixedClock(now() - Duration::minutes(10));
    assert_eq!(
        code(&idp, query_of(&good), SP_SLO, &earlier),
        ErrorCode::NotYetValid
    );
    // A LogoutResponse, an AuthnRequest, garbage.
    let response = LogoutResponse::builder(SP, SLO, "_x")
        .build(&clock())
        .unwrap()
        .redirect_url(None, None)
        .unwrap();
    assert_eq!(
        code(&idp, query_of(&response), SP_SLO, &clock()),
        ErrorCode::MalformedXml
    );
    assert!(
        idp.answer_logout(&query(&request_authn(), None), SP_SLO, &clock())
            .is_err()
    );
    assert!(
        idp.answer_logout("SAMLRequest=%%%", SP_SLO, &clock())
            .is_err()
    );
    assert!(idp.answer_logout("", SP_SLO, &clock()).is_err());
}

fn request_authn() -> AuthnRequest {
    request()
}

#[test]
fn idp_initiated_logout() {
    let idp = DevIdp::new(slo_config()).unwrap();
    let logout = idp
        .start_logout(ALICE, Some("_session1"), SP_SLO, Some("r1"), &clock())
        .unwrap();
    assert!(
        logout
            .redirect_url
            .starts_with(&format!("{SP_SLO}?SAMLRequest="))
    );
    assert_eq!(logout.request.destination(), SP_SLO);

    // The SP accepts the signed request with the key from the metadata.
    let validator = sp_logout_validator(&idp);
    let sp_query = query_of(&logout.redirect_url);
    let incoming = validator
        .validate_request_redirect(sp_query, &clock())
        .unwrap();
    assert!(incoming.signed);
    assert_eq!(incoming.id, logout.request.id());
    assert_eq!(incoming.issuer, IDP);
    assert_eq!(incoming.name_id, alice_name_id());
    assert_eq!(incoming.session_indexes, ["_session1"]);
    assert_eq!(incoming.relay_state.as_deref(), Some("r1"));
    // A tampered signature is refused.
    assert_eq!(
        validator
            .validate_request_redirect(&tamper_signature(sp_query), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );
    // Without a session index: every session of the user.
    let all = idp
        .start_logout(ALICE, None, SP_SLO, None, &clock())
        .unwrap();
    let incoming = validator
        .validate_request_redirect(query_of(&all.redirect_url), &clock())
        .unwrap();
    assert!(incoming.session_indexes.is_empty());

    // The SP's answer, checked by the IdP.
    let answer = LogoutResponse::builder(SP, SLO, logout.request.id())
        .build(&clock())
        .unwrap()
        .redirect_url(Some("r1"), Some((&sp_key(), SignatureAlgorithm::RsaSha256)))
        .unwrap();
    let outcome = idp
        .check_logout_response(query_of(&answer), SP, logout.request.id(), &clock())
        .unwrap();
    assert_eq!(outcome.in_response_to, logout.request.id());
    assert_eq!(outcome.relay_state.as_deref(), Some("r1"));
    assert!(
        !outcome.signed,
        "no SP certificate: the signature is not checked"
    );
    // With the SP certificate the signature is verified, and must hold.
    let mut with_cert = slo_config();
    with_cert.sp_signing_certificate = Some(fixture("sp-cert.pem"));
    let checking = DevIdp::new(with_cert).unwrap();
    let outcome = checking
        .check_logout_response(query_of(&answer), SP, logout.request.id(), &clock())
        .unwrap();
    assert!(outcome.signed);
    assert_eq!(
        checking
            .check_logout_response(
                &tamper_signature(query_of(&answer)),
                SP,
                logout.request.id(),
                &clock()
            )
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );
    assert_eq!(
        idp.check_logout_response(query_of(&answer), SP, all.request.id(), &clock())
            .unwrap_err()
            .code(),
        ErrorCode::InResponseToMismatch
    );
    assert_eq!(
        idp.check_logout_response(
            query_of(&answer),
            "https://other.example",
            logout.request.id(),
            &clock()
        )
        .unwrap_err()
        .code(),
        ErrorCode::IssuerMismatch
    );

    // Bad input.
    assert!(
        idp.start_logout(ALICE, None, "javascript:x", None, &clock())
            .is_err()
    );
    assert!(idp.start_logout("", None, SP_SLO, None, &clock()).is_err());
    assert!(
        idp.start_logout("a\u{0}", None, SP_SLO, None, &clock())
            .is_err()
    );
}

#[cfg(feature = "service")]
mod service {
    //! The development IdP mounted as a Tower service.

    use http::{Request, StatusCode, header};
    use http_body_util::BodyExt as _;
    use saml_testkit::dev_idp::DevIdpService;
    use tower_service::Service as _;

    use super::*;

    fn service() -> DevIdpService {
        DevIdpService::new(DevIdp::new(slo_config()).unwrap(), "/dev-idp/")
            .sp_slo_url(SP_SLO)
            .clock(clock())
    }

    async fn call(
        dev: &mut DevIdpService,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, http::HeaderMap, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .unwrap();
        let response = dev.call(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    #[tokio::test(flavor = "current_thread")]
    async fn routes_of_the_service() {
        let mut dev = service();
        assert_eq!(dev.base(), "/dev-idp");
        assert!(dev.handles("/dev-idp/sso"));
        assert!(dev.handles("/dev-idp"));
        assert!(!dev.handles("/dev-idpx/sso"));
        assert!(!dev.handles("/saml/acs"));

        let (status, headers, body) = call(&mut dev, "GET", "/dev-idp/metadata", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/samlmetadata+xml"
        );
        assert_eq!(body, dev.idp().metadata_xml());

        // Redirect binding: the login page, posting to {base}/login.
        let request = request();
        let uri = format!("/dev-idp/sso?{}", query(&request, Some("/home")));
        let (status, headers, page) = call(&mut dev, "GET", &uri, "").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("action=\"/dev-idp/login\""));
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );

        // The user picks Alice: the auto-submit form under a nonce CSP.
        let prompt = dev
            .idp()
            .begin(&query(&request, Some("/home")), &clock())
            .unwrap();
        let (status, headers, form) =
            call(&mut dev, "POST", "/dev-idp/login", &prompt.form_body(ALICE)).await;
        assert_eq!(status, StatusCode::OK, "{form}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap();
        assert!(form.contains(&format!("nonce=\"{nonce}\"")), "{form}");
        assert!(form.contains(ACS));
        // A second answer gets another nonce.
        let (_, again, _) =
            call(&mut dev, "POST", "/dev-idp/login", &prompt.form_body(ALICE)).await;
        assert_ne!(
            again[header::CONTENT_SECURITY_POLICY],
            headers[header::CONTENT_SECURITY_POLICY]
        );

        // POST binding.
        let form = request.post_form(None, None).unwrap();
        let body = encode_form(form.fields().iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let (status, _, page) = call(&mut dev, "POST", "/dev-idp/sso", &body).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Development IdP"));

        // Single logout: 303 to the SP's SLO URL with a response it accepts.
        let logout = sp_logout_request(SLO, &clock());
        let url = logout.redirect_url(Some("rs"), None).unwrap();
        let uri = format!("/dev-idp/slo?{}", query_of(&url));
        let (status, headers, _) = call(&mut dev, "GET", &uri, "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = headers[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with(&format!("{SP_SLO}?SAMLResponse=")));
        sp_logout_validator(dev.idp())
            .validate_response_redirect(query_of(location), logout.id(), &clock())
            .unwrap();
        // IdP-initiated: 303 to the SP's SLO URL with a signed request.
        let (status, headers, _) = call(
            &mut dev,
            "GET",
            "/dev-idp/logout?name_id=alice%40example.com&session_index=_s9&RelayState=r",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = headers[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with(&format!("{SP_SLO}?SAMLRequest=")));
        let incoming = sp_logout_validator(dev.idp())
            .validate_request_redirect(query_of(location), &clock())
            .unwrap();
        assert_eq!(incoming.name_id.value, ALICE);
        assert_eq!(incoming.session_indexes, ["_s9"]);
        assert_eq!(incoming.relay_state.as_deref(), Some("r"));
        // The SP's answer to an IdP-initiated logout: a page.
        let (status, _, page) = call(&mut dev, "GET", "/dev-idp/slo?SAMLResponse=x", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("signed out"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn errors_of_the_service() {
        let mut dev = service();
        for (method, uri, want) in [
            ("GET", "/dev-idp/nope", StatusCode::NOT_FOUND),
            ("GET", "/other", StatusCode::NOT_FOUND),
            ("GET", "/dev-idp", StatusCode::NOT_FOUND),
            ("GET", "/dev-idp/login", StatusCode::METHOD_NOT_ALLOWED),
            ("DELETE", "/dev-idp/sso", StatusCode::METHOD_NOT_ALLOWED),
            ("POST", "/dev-idp/metadata", StatusCode::METHOD_NOT_ALLOWED),
            ("GET", "/dev-idp/sso", StatusCode::BAD_REQUEST),
            (
                "GET",
                "/dev-idp/sso?SAMLRequest=%%",
                StatusCode::BAD_REQUEST,
            ),
            (
                "GET",
                "/dev-idp/slo?SAMLRequest=abc",
                StatusCode::BAD_REQUEST,
            ),
            ("GET", "/dev-idp/logout", StatusCode::BAD_REQUEST),
            ("GET", "/dev-idp/logout?name_id=", StatusCode::BAD_REQUEST),
            (
                "GET",
                "/dev-idp/logout?name_id=%ZZ",
                StatusCode::BAD_REQUEST,
            ),
            ("POST", "/dev-idp/logout", StatusCode::METHOD_NOT_ALLOWED),
        ] {
            let (status, _, body) = call(&mut dev, method, uri, "").await;
            assert_eq!(status, want, "{method} {uri}: {body}");
        }
        let (status, _, body) = call(&mut dev, "POST", "/dev-idp/login", "user=nobody").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("malformed_xml"), "{body}");
        // Too large a body.
        let big = "a".repeat(3 << 20);
        let (status, _, _) = call(&mut dev, "POST", "/dev-idp/login", &big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        // Without an SP SLO URL, logout requests are not served.
        let mut bare = DevIdpService::new(DevIdp::new(slo_config()).unwrap(), "/dev-idp");
        let url = sp_logout_request(SLO, &clock())
            .redirect_url(None, None)
            .unwrap();
        let uri = format!("/dev-idp/slo?{}", query_of(&url));
        let (status, _, _) = call(&mut bare, "GET", &uri, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = call(&mut bare, "GET", "/dev-idp/logout?name_id=a", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(format!("{bare:?}").contains("/dev-idp"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn for_base_url_lays_out_the_examples_routes() {
        let dev = DevIdpService::for_base_url("http://127.0.0.1:3001/").unwrap();
        assert_eq!(dev.base(), "/dev-idp");
        assert_eq!(
            dev.idp().entity_id(),
            "http://127.0.0.1:3001/dev-idp/metadata"
        );
        assert_eq!(dev.idp().sso_url(), "http://127.0.0.1:3001/dev-idp/sso");
        assert_eq!(
            dev.idp().slo_url(),
            Some("http://127.0.0.1:3001/dev-idp/slo")
        );
        assert!(DevIdpService::for_base_url("ftp://x").is_err());
    }
}
