//! Single Logout and HTTP-Artifact message shapes through the public API:
//! LogoutRequest/LogoutResponse round trips in both directions on both
//! bindings (Redirect with a query signature, POST with an XML signature),
//! every validation rule broken one at a time with its code, and the
//! artifact (encode/parse, type code, length, source ID) with the
//! ArtifactResolve/ArtifactResponse SOAP exchange, signed, carrying a real
//! signed Response from the bench fixtures. Keys are the bench fixtures'.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use saml_core::binding::decode_post;
use saml_core::c14n::Method;
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey, SignatureAlgorithm, SigningKey};
use saml_core::dsig::{SignOptions, VerifyOptions, sign_enveloped, verify_enveloped};
use saml_core::protocol::{
    ARTIFACT_TYPE_CODE, Artifact, ArtifactResolve, ArtifactResponse, ArtifactResponseValidator,
    Expectation, LogoutRequest, LogoutResponse, LogoutValidator, NameId, ResponseValidator,
    SAML_NS, SAMLP_NS, SOAP_ENV_NS, logout_reason, name_id_format, status,
};
use saml_core::xml::Document;
use saml_core::{Error, ErrorCode, Limits};

const IDP: &str = "https://idp.example.test/saml2/metadata";
const IDP_SLO: &str = "https://idp.example.test/saml2/slo";
const IDP_ARS: &str = "https://idp.example.test/saml2/ars";
const SP: &str = "https://sp.example.test/saml/metadata";
const SLO: &str = "https://sp.example.test/saml/slo";

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    std::fs::read_to_string(dir.join("bench-fixtures").join(name)).unwrap()
}

struct Keys {
    idp: SigningKey,
    idp_public: PublicKey,
    sp: SigningKey,
    sp_public: PublicKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let load = |key: &str, cert: &str| {
            let cert = Certificate::from_pem(&fixture(cert)).unwrap().remove(0);
            let public = cert.public_key().clone();
            let key = SigningKey::from_pem(&fixture(key))
                .unwrap()
                .with_certificate(cert)
                .unwrap();
            (key, public)
        };
        let (idp, idp_public) = load("idp-key.pem", "idp-cert.pem");
        let (sp, sp_public) = load("sp-key.pem", "sp-cert.pem");
        Keys {
            idp,
            idp_public,
            sp,
            sp_public,
        }
    })
}

fn t(s: &str) -> DateTime<Utc> {
    parse_datetime(s).unwrap()
}

/// When messages are built.
fn issued() -> FixedClock {
    FixedClock(t("2024-06-01T12:00:00Z"))
}

/// When they are validated (30 s later).
fn now() -> FixedClock {
    FixedClock(t("2024-06-01T12:00:30Z"))
}

fn at(offset_seconds: i64) -> FixedClock {
    FixedClock(t("2024-06-01T12:00:00Z") + Duration::seconds(offset_seconds))
}

fn alice() -> NameId {
    NameId {
        value: "alice@example.test".into(),
        format: Some(name_id_format::EMAIL.into()),
        name_qualifier: Some(IDP.into()),
        sp_name_qualifier: Some(SP.into()),
    }
}

/// The SP's validator for the IdP's messages.
fn sp_validator() -> LogoutValidator {
    LogoutValidator::new(IDP, vec![keys().idp_public.clone()], SLO)
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> ErrorCode {
    r.unwrap_err().code()
}

fn query_of(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

/// An IdP-initiated LogoutRequest to our SLO URL.
fn idp_request() -> LogoutRequest {
    LogoutRequest::builder(IDP, SLO, alice())
        .id("_idp_lr1")
        .session_index("_s1")
        .session_index("_s2")
        .reason(logout_reason::ADMIN)
        .not_on_or_after(t("2024-06-01T12:05:00Z"))
        .build(&issued())
        .unwrap()
}

fn idp_response(in_response_to: &str) -> LogoutResponse {
    LogoutResponse::builder(IDP, SLO, in_response_to)
        .id("_idp_resp1")
        .build(&issued())
        .unwrap()
}

fn sign_idp(xml: &str, id: &str) -> String {
    sign_enveloped(xml, id, &keys().idp, &SignOptions::default()).unwrap()
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

#[test]
fn logout_request_xml_has_the_schema_shape() {
    let request = idp_request();
    let xml = request.to_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(SAMLP_NS, "LogoutRequest"));
    assert_eq!(root.attribute("ID"), Some("_idp_lr1"));
    assert_eq!(root.attribute("Version"), Some("2.0"));
    assert_eq!(root.attribute("IssueInstant"), Some("2024-06-01T12:00:00Z"));
    assert_eq!(root.attribute("Destination"), Some(SLO));
    assert_eq!(root.attribute("NotOnOrAfter"), Some("2024-06-01T12:05:00Z"));
    assert_eq!(root.attribute("Reason"), Some(logout_reason::ADMIN));
    let children: Vec<_> = root
        .child_elements()
        .map(|e| {
            (
                e.namespace().unwrap(),
                e.local_name(),
                e.text().into_owned(),
            )
        })
        .collect();
    assert_eq!(
        children,
        [
            (SAML_NS, "Issuer", IDP.to_owned()),
            (SAML_NS, "NameID", "alice@example.test".to_owned()),
            (SAMLP_NS, "SessionIndex", "_s1".to_owned()),
            (SAMLP_NS, "SessionIndex", "_s2".to_owned()),
        ]
    );
    let name_id = root.child_elements().nth(1).unwrap();
    assert_eq!(name_id.attribute("Format"), Some(name_id_format::EMAIL));
    assert_eq!(name_id.attribute("NameQualifier"), Some(IDP));
    assert_eq!(name_id.attribute("SPNameQualifier"), Some(SP));
    // Signing puts the signature right after the Issuer.
    let signed = request
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    let doc = Document::parse(&signed, &Limits::default()).unwrap();
    let names: Vec<_> = doc
        .root()
        .child_elements()
        .map(|e| e.local_name())
        .collect();
    assert_eq!(
        names,
        [
            "Issuer",
            "Signature",
            "NameID",
            "SessionIndex",
            "SessionIndex"
        ]
    );
    let pending = request.pending(Some("rs"));
    assert_eq!(pending.id, "_idp_lr1");
    assert_eq!(pending.issue_instant, t("2024-06-01T12:00:00Z"));
    assert_eq!(pending.relay_state.as_deref(), Some("rs"));
}

#[test]
fn logout_response_xml_has_the_schema_shape() {
    let response = LogoutResponse::builder(SP, IDP_SLO, "_req")
        .id("_resp")
        .status(
            status::RESPONDER,
            Some(status::UNKNOWN_PRINCIPAL),
            Some("no <such> user & co"),
        )
        .build(&issued())
        .unwrap();
    let xml = response.to_xml();
    assert!(xml.contains(
        r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"/></samlp:StatusCode><samlp:StatusMessage>no &lt;such&gt; user &amp; co</samlp:StatusMessage></samlp:Status>"#
    ));
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(SAMLP_NS, "LogoutResponse"));
    assert_eq!(root.attribute("InResponseTo"), Some("_req"));
    assert_eq!(root.attribute("Destination"), Some(IDP_SLO));
    assert_eq!(response.status_code(), status::RESPONDER);
    let ok = LogoutResponse::builder(SP, IDP_SLO, "_req")
        .build(&issued())
        .unwrap();
    assert!(
        ok.to_xml()
            .contains(r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>"#)
    );
    assert!(ok.id().starts_with('_') && ok.id().len() == 33);
}

#[test]
fn builders_refuse_bad_values() {
    let empty = NameId {
        value: String::new(),
        ..alice()
    };
    assert_eq!(
        code(LogoutRequest::builder(SP, IDP_SLO, empty).build(&issued())),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(
            LogoutRequest::builder(SP, IDP_SLO, alice())
                .id("0bad")
                .build(&issued())
        ),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(
            LogoutRequest::builder(SP, IDP_SLO, alice())
                .session_index("a\u{1}b")
                .build(&issued())
        ),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(
            LogoutRequest::builder(SP, IDP_SLO, alice())
                .session_index("")
                .build(&issued())
        ),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(LogoutRequest::builder("", IDP_SLO, alice()).build(&issued())),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(LogoutResponse::builder(SP, IDP_SLO, "").build(&issued())),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(LogoutResponse::builder(SP, IDP_SLO, "not an id").build(&issued())),
        ErrorCode::MalformedXml
    );
    // A javascript: destination never becomes a URL or a form.
    let bad = LogoutRequest::builder(SP, "javascript:alert(1)", alice())
        .build(&issued())
        .unwrap();
    assert_eq!(code(bad.redirect_url(None, None)), ErrorCode::MalformedXml);
    assert_eq!(code(bad.post_form(None, None)), ErrorCode::MalformedXml);
}

// ---------------------------------------------------------------------------
// IdP-initiated: the IdP's LogoutRequest, our LogoutResponse
// ---------------------------------------------------------------------------

#[test]
fn idp_request_round_trip_post() {
    let request = idp_request();
    let form = request.post_form(Some("relay"), Some(&keys().idp)).unwrap();
    assert_eq!(form.action(), SLO);
    assert_eq!(form.fields()[0].0, "SAMLRequest");
    assert_eq!(form.fields()[1], ("RelayState".into(), "relay".into()));
    let xml = decode_post(&form.fields()[0].1, &Limits::default()).unwrap();
    let incoming = sp_validator().validate_request(&xml, &now()).unwrap();
    assert_eq!(incoming.id, "_idp_lr1");
    assert_eq!(incoming.issuer, IDP);
    assert_eq!(incoming.issue_instant, t("2024-06-01T12:00:00Z"));
    assert_eq!(incoming.name_id, alice());
    assert_eq!(incoming.session_indexes, ["_s1", "_s2"]);
    assert_eq!(incoming.not_on_or_after, Some(t("2024-06-01T12:05:00Z")));
    assert_eq!(incoming.reason.as_deref(), Some(logout_reason::ADMIN));
    assert_eq!(incoming.relay_state, None);
    assert!(incoming.signed);
    // Remembered until the later of NotOnOrAfter and IssueInstant + max age, plus skew.
    assert_eq!(incoming.replay_expiry, t("2024-06-01T12:05:10Z"));

    // Our answer, signed by the SP, checked the way the IdP would.
    let answer = LogoutResponse::builder(SP, IDP_SLO, &incoming.id)
        .build(&issued())
        .unwrap();
    let form = answer.post_form(Some("relay"), Some(&keys().sp)).unwrap();
    assert_eq!(form.fields()[0].0, "SAMLResponse");
    let xml = decode_post(&form.fields()[0].1, &Limits::default()).unwrap();
    let idp_side = LogoutValidator::new(SP, vec![keys().sp_public.clone()], IDP_SLO);
    let outcome = idp_side
        .validate_response(&xml, &incoming.id, &now())
        .unwrap();
    assert_eq!(outcome.in_response_to, "_idp_lr1");
    assert!(outcome.signed && !outcome.partial);
}

#[test]
fn idp_request_round_trip_redirect() {
    let request = idp_request();
    for alg in [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha512] {
        let url = request
            .redirect_url(Some("state 1"), Some((&keys().idp, alg)))
            .unwrap();
        assert!(url.starts_with(&format!("{SLO}?SAMLRequest=")));
        let incoming = sp_validator()
            .validate_request_redirect(query_of(&url), &now())
            .unwrap();
        assert_eq!(incoming.name_id, alice());
        assert_eq!(incoming.session_indexes, ["_s1", "_s2"]);
        assert_eq!(incoming.relay_state.as_deref(), Some("state 1"));
        assert!(incoming.signed);
    }

    // Our answer on the Redirect binding, checked the way the IdP would.
    let answer = LogoutResponse::builder(SP, IDP_SLO, "_idp_lr1")
        .build(&issued())
        .unwrap();
    let url = answer
        .redirect_url(
            Some("state 1"),
            Some((&keys().sp, SignatureAlgorithm::RsaSha256)),
        )
        .unwrap();
    let idp_side = LogoutValidator::new(SP, vec![keys().sp_public.clone()], IDP_SLO);
    let outcome = idp_side
        .validate_response_redirect(query_of(&url), "_idp_lr1", &now())
        .unwrap();
    assert_eq!(outcome.relay_state.as_deref(), Some("state 1"));
    assert!(outcome.signed);
}

#[test]
fn unsigned_requests_need_the_opt_out() {
    let request = idp_request();
    let xml = request.to_xml();
    let url = request.redirect_url(Some("s"), None).unwrap();
    let v = sp_validator();
    assert_eq!(
        code(v.validate_request(&xml, &now())),
        ErrorCode::SignatureMissing
    );
    assert_eq!(
        code(v.validate_request_redirect(query_of(&url), &now())),
        ErrorCode::SignatureMissing
    );
    let mut lax = sp_validator();
    lax.require_signature = false;
    let incoming = lax.validate_request(&xml, &now()).unwrap();
    assert!(!incoming.signed);
    let incoming = lax
        .validate_request_redirect(query_of(&url), &now())
        .unwrap();
    assert!(!incoming.signed);
    assert_eq!(incoming.relay_state.as_deref(), Some("s"));
    // Unsigned, a missing Destination is tolerated.
    let no_destination = xml.replace(&format!(r#" Destination="{SLO}""#), "");
    assert!(lax.validate_request(&no_destination, &now()).is_ok());
    // But a signature that is present must verify, even when not required.
    let signed = request
        .redirect_url(
            Some("s"),
            Some((&keys().idp, SignatureAlgorithm::RsaSha256)),
        )
        .unwrap();
    let tampered = query_of(&signed).replace("RelayState=s", "RelayState=t");
    assert_eq!(
        code(lax.validate_request_redirect(&tampered, &now())),
        ErrorCode::SignatureInvalid
    );
    // Half a signature is not "unsigned".
    let sig_alg_only = query_of(&signed)
        .split("&Signature=")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        code(lax.validate_request_redirect(&sig_alg_only, &now())),
        ErrorCode::SignatureMissing
    );
    let xml_signed = sign_idp(&xml, "_idp_lr1").replace("alice@", "mallory@");
    assert_eq!(
        code(lax.validate_request(&xml_signed, &now())),
        ErrorCode::DigestMismatch
    );
}

#[test]
fn foreign_keys_and_tampering_are_refused() {
    let request = idp_request();
    let v = sp_validator();
    // Signed by the SP key, which the validator does not trust for the IdP.
    let by_sp = request
        .signed_xml(&keys().sp, &SignOptions::default())
        .unwrap();
    assert_eq!(
        code(v.validate_request(&by_sp, &now())),
        ErrorCode::SignatureInvalid
    );
    let url = request
        .redirect_url(None, Some((&keys().sp, SignatureAlgorithm::RsaSha256)))
        .unwrap();
    assert_eq!(
        code(v.validate_request_redirect(query_of(&url), &now())),
        ErrorCode::SignatureInvalid
    );
    // No trusted key at all.
    let mut keyless = sp_validator();
    keyless.idp_keys.clear();
    let good = request
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    assert_eq!(
        code(keyless.validate_request(&good, &now())),
        ErrorCode::UntrustedKey
    );
    // Changed after signing.
    let changed = good.replace("_s2", "_s3");
    assert_eq!(
        code(v.validate_request(&changed, &now())),
        ErrorCode::DigestMismatch
    );
    // A second signature deeper inside is a wrapping attempt.
    let inner = good.replacen(
        "</saml:NameID>",
        "</saml:NameID><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>",
        1,
    );
    assert_eq!(
        code(v.validate_request(&inner, &now())),
        ErrorCode::SignatureInvalid
    );
    // The query-signed XML cannot be swapped for another message.
    let signed_url = request
        .redirect_url(None, Some((&keys().idp, SignatureAlgorithm::RsaSha256)))
        .unwrap();
    let other = LogoutRequest::builder(
        IDP,
        SLO,
        NameId {
            value: "bob@example.test".into(),
            ..alice()
        },
    )
    .build(&issued())
    .unwrap()
    .redirect_url(None, None)
    .unwrap();
    let other_message = query_of(&other).split('&').next().unwrap().to_owned();
    let spliced = query_of(&signed_url).replacen(
        query_of(&signed_url).split('&').next().unwrap(),
        &other_message,
        1,
    );
    assert_eq!(
        code(v.validate_request_redirect(&spliced, &now())),
        ErrorCode::SignatureInvalid
    );
}

/// A LogoutRequest template for the one-rule-at-a-time tests.
fn request_xml(root_attrs: &str, issuer: &str, subject: &str) -> String {
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" {root_attrs}>{issuer}{subject}<samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>"#
    )
}

const GOOD_ATTRS: &str = r#"Version="2.0" IssueInstant="2024-06-01T12:00:00Z" Destination="https://sp.example.test/saml/slo""#;
const GOOD_ISSUER: &str = "<saml:Issuer>https://idp.example.test/saml2/metadata</saml:Issuer>";
const GOOD_SUBJECT: &str = "<saml:NameID>alice@example.test</saml:NameID>";

fn check_request(attrs: &str, issuer: &str, subject: &str) -> Result<(), ErrorCode> {
    let xml = sign_idp(&request_xml(attrs, issuer, subject), "_r");
    sp_validator()
        .validate_request(&xml, &now())
        .map(|_| ())
        .map_err(|e| e.code())
}

#[test]
fn each_request_rule_alone() {
    assert_eq!(check_request(GOOD_ATTRS, GOOD_ISSUER, GOOD_SUBJECT), Ok(()));
    let cases: Vec<(&str, String, String, String, ErrorCode)> = vec![
        (
            "SAML 1.1",
            GOOD_ATTRS.replace("2.0", "1.1"),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::MalformedXml,
        ),
        (
            "other issuer",
            GOOD_ATTRS.into(),
            GOOD_ISSUER.replace("idp.example", "evil.example"),
            GOOD_SUBJECT.into(),
            ErrorCode::IssuerMismatch,
        ),
        (
            "no issuer",
            GOOD_ATTRS.into(),
            String::new(),
            GOOD_SUBJECT.into(),
            ErrorCode::IssuerMismatch,
        ),
        (
            "issuer not of entity format",
            GOOD_ATTRS.into(),
            GOOD_ISSUER.replace(
                "<saml:Issuer>",
                r#"<saml:Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">"#,
            ),
            GOOD_SUBJECT.into(),
            ErrorCode::IssuerMismatch,
        ),
        (
            "other destination",
            GOOD_ATTRS.replace("/saml/slo", "/saml/other"),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::DestinationMismatch,
        ),
        (
            "signed without destination",
            GOOD_ATTRS.replace(r#" Destination="https://sp.example.test/saml/slo""#, ""),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::DestinationMismatch,
        ),
        (
            "issued in the future",
            GOOD_ATTRS.replace("12:00:00Z", "12:00:45Z"),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::NotYetValid,
        ),
        (
            "issued too long ago",
            GOOD_ATTRS.replace("12:00:00Z", "11:55:10Z"),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::Expired,
        ),
        (
            "no IssueInstant",
            GOOD_ATTRS.replace(r#" IssueInstant="2024-06-01T12:00:00Z""#, ""),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::MalformedXml,
        ),
        (
            "NotOnOrAfter passed",
            format!(r#"{GOOD_ATTRS} NotOnOrAfter="2024-06-01T12:00:20Z""#),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::Expired,
        ),
        (
            "NotOnOrAfter not a time",
            format!(r#"{GOOD_ATTRS} NotOnOrAfter="soon""#),
            GOOD_ISSUER.into(),
            GOOD_SUBJECT.into(),
            ErrorCode::MalformedXml,
        ),
        (
            "no NameID",
            GOOD_ATTRS.into(),
            GOOD_ISSUER.into(),
            String::new(),
            ErrorCode::MalformedXml,
        ),
        (
            "two NameIDs",
            GOOD_ATTRS.into(),
            GOOD_ISSUER.into(),
            format!("{GOOD_SUBJECT}{GOOD_SUBJECT}"),
            ErrorCode::MalformedXml,
        ),
        (
            "empty NameID",
            GOOD_ATTRS.into(),
            GOOD_ISSUER.into(),
            "<saml:NameID> </saml:NameID>".into(),
            ErrorCode::MalformedXml,
        ),
        (
            "BaseID",
            GOOD_ATTRS.into(),
            GOOD_ISSUER.into(),
            "<saml:BaseID/>".into(),
            ErrorCode::MalformedXml,
        ),
        (
            "EncryptedID",
            GOOD_ATTRS.into(),
            GOOD_ISSUER.into(),
            "<saml:EncryptedID/>".into(),
            ErrorCode::DecryptionFailed,
        ),
    ];
    for (name, attrs, issuer, subject, expected) in cases {
        assert_eq!(
            check_request(&attrs, &issuer, &subject),
            Err(expected),
            "{name}"
        );
    }
}

#[test]
fn skew_and_age_bounds() {
    let xml = idp_request()
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    let v = sp_validator();
    // 10 s into the IdP's future is within the skew, 11 s is not.
    assert!(v.validate_request(&xml, &at(-10)).is_ok());
    assert_eq!(
        code(v.validate_request(&xml, &at(-11))),
        ErrorCode::NotYetValid
    );
    // Five minutes plus the skew after issue is the last accepted moment.
    let old = LogoutRequest::builder(IDP, SLO, alice())
        .build(&issued())
        .unwrap()
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    assert!(v.validate_request(&old, &at(310)).is_ok());
    let err = v.validate_request(&old, &at(311)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Expired);
    assert!(err.detail().contains("311 s ago"), "{err}");
    // NotOnOrAfter 12:05:00 passes at 12:05:09 (skew) but not 12:05:10.
    let mut patient = sp_validator();
    patient.max_message_age = Duration::hours(1);
    assert!(patient.validate_request(&xml, &at(309)).is_ok());
    assert_eq!(
        code(patient.validate_request(&xml, &at(310))),
        ErrorCode::Expired
    );
}

#[test]
fn request_structure_and_hardening() {
    let v = sp_validator();
    // A LogoutResponse where a request is expected, on both bindings.
    let response = sign_idp(&idp_response("_x").to_xml(), "_idp_resp1");
    assert_eq!(
        code(v.validate_request(&response, &now())),
        ErrorCode::MalformedXml
    );
    let url = idp_response("_x")
        .redirect_url(None, Some((&keys().idp, SignatureAlgorithm::RsaSha256)))
        .unwrap();
    let err = v
        .validate_request_redirect(query_of(&url), &now())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MalformedXml);
    assert!(err.detail().contains("SAMLRequest"), "{err}");
    // DTDs never get through.
    let dtd = format!("<!DOCTYPE x [<!ENTITY e \"x\">]>{}", idp_request().to_xml());
    assert_eq!(
        code(v.validate_request(&dtd, &now())),
        ErrorCode::DtdForbidden
    );
    // Size limits apply.
    let mut small = sp_validator();
    small.limits.max_xml_bytes = 200;
    assert_eq!(
        code(small.validate_request(&idp_request().to_xml(), &now())),
        ErrorCode::InputTooLarge
    );
    // A comment cannot cut the NameID short (invariant 4).
    let mut lax = sp_validator();
    lax.require_signature = false;
    let commented = idp_request()
        .to_xml()
        .replace("alice@example.test", "alice@example.test<!---->.evil");
    let incoming = lax.validate_request(&commented, &now()).unwrap();
    assert_eq!(incoming.name_id.value, "alice@example.test.evil");
    // Not a query at all.
    assert_eq!(
        code(v.validate_request_redirect("foo=bar", &now())),
        ErrorCode::SignatureInvalid
    );
}

#[test]
fn xml_signature_inside_a_redirect_message_is_checked_too() {
    // Some senders keep the XML signature on the Redirect binding. With an
    // unsigned query it is what proves the sender; it must verify.
    let request = idp_request();
    let signed_xml = request
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    let query = format!(
        "SAMLRequest={}",
        percent(&saml_core::binding::encode_redirect(&signed_xml))
    );
    let incoming = sp_validator()
        .validate_request_redirect(&query, &now())
        .unwrap();
    assert!(incoming.signed);
    let tampered = format!(
        "SAMLRequest={}",
        percent(&saml_core::binding::encode_redirect(
            &signed_xml.replace("_s1", "_s9")
        ))
    );
    assert_eq!(
        code(sp_validator().validate_request_redirect(&tampered, &now())),
        ErrorCode::DigestMismatch
    );
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// SP-initiated: our LogoutRequest, the IdP's LogoutResponse
// ---------------------------------------------------------------------------

#[test]
fn sp_initiated_round_trip_both_bindings() {
    let request = LogoutRequest::builder(SP, IDP_SLO, alice())
        .session_index("_s1")
        .reason(logout_reason::USER)
        .build(&issued())
        .unwrap();
    // What the IdP receives verifies with the SP key.
    let url = request
        .redirect_url(
            Some("back"),
            Some((&keys().sp, SignatureAlgorithm::RsaSha256)),
        )
        .unwrap();
    let idp_side = LogoutValidator::new(SP, vec![keys().sp_public.clone()], IDP_SLO);
    let seen = idp_side
        .validate_request_redirect(query_of(&url), &now())
        .unwrap();
    assert_eq!(seen.id, request.id());
    assert_eq!(seen.session_indexes, ["_s1"]);
    let pending = request.pending(Some("back"));

    let answer = LogoutResponse::builder(IDP, SLO, &pending.id)
        .build(&issued())
        .unwrap();
    // POST, XML-signed.
    let form = answer.post_form(Some("back"), Some(&keys().idp)).unwrap();
    let xml = decode_post(&form.fields()[0].1, &Limits::default()).unwrap();
    let outcome = sp_validator()
        .validate_response(&xml, &pending.id, &now())
        .unwrap();
    assert_eq!(outcome.id, answer.id());
    assert_eq!(outcome.issuer, IDP);
    assert_eq!(outcome.in_response_to, pending.id);
    assert_eq!(outcome.issue_instant, t("2024-06-01T12:00:00Z"));
    assert!(!outcome.partial && outcome.signed);
    assert_eq!(outcome.status_message, None);
    // Redirect, query-signed.
    let url = answer
        .redirect_url(
            Some("back"),
            Some((&keys().idp, SignatureAlgorithm::RsaSha384)),
        )
        .unwrap();
    let outcome = sp_validator()
        .validate_response_redirect(query_of(&url), &pending.id, &now())
        .unwrap();
    assert_eq!(outcome.relay_state.as_deref(), Some("back"));
    assert!(outcome.signed);
}

#[test]
fn partial_logout_is_success_with_a_flag() {
    let answer = LogoutResponse::builder(IDP, SLO, "_req")
        .partial_logout()
        .build(&issued())
        .unwrap();
    let xml = answer
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    let outcome = sp_validator()
        .validate_response(&xml, "_req", &now())
        .unwrap();
    assert!(outcome.partial);
    let with_message = LogoutResponse::builder(IDP, SLO, "_req")
        .status(
            status::SUCCESS,
            Some(status::PARTIAL_LOGOUT),
            Some("2 of 3"),
        )
        .build(&issued())
        .unwrap()
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    let outcome = sp_validator()
        .validate_response(&with_message, "_req", &now())
        .unwrap();
    assert!(outcome.partial);
    assert_eq!(outcome.status_message.as_deref(), Some("2 of 3"));
}

fn check_response(
    build: impl FnOnce(
        saml_core::protocol::LogoutResponseBuilder,
    ) -> saml_core::protocol::LogoutResponseBuilder,
    issuer: &str,
    destination: &str,
    expected_id: &str,
) -> Result<(), ErrorCode> {
    let answer = build(LogoutResponse::builder(issuer, destination, "_req"))
        .build(&issued())
        .unwrap();
    let xml = answer
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    sp_validator()
        .validate_response(&xml, expected_id, &now())
        .map(|_| ())
        .map_err(|e| e.code())
}

#[test]
fn each_response_rule_alone() {
    let same = |b| b;
    assert_eq!(check_response(same, IDP, SLO, "_req"), Ok(()));
    assert_eq!(
        check_response(same, IDP, SLO, "_other"),
        Err(ErrorCode::InResponseToMismatch)
    );
    assert_eq!(
        check_response(same, "https://evil.example", SLO, "_req"),
        Err(ErrorCode::IssuerMismatch)
    );
    assert_eq!(
        check_response(same, IDP, "https://sp.example.test/saml/acs", "_req"),
        Err(ErrorCode::DestinationMismatch)
    );
    let denied = |b: saml_core::protocol::LogoutResponseBuilder| {
        b.status(
            status::REQUESTER,
            Some(status::REQUEST_DENIED),
            Some("nope"),
        )
    };
    assert_eq!(
        check_response(denied, IDP, SLO, "_req"),
        Err(ErrorCode::StatusNotSuccess)
    );
    // PartialLogout under a failure is a failure.
    let partial_failure = |b: saml_core::protocol::LogoutResponseBuilder| {
        b.status(status::RESPONDER, Some(status::PARTIAL_LOGOUT), None)
    };
    assert_eq!(
        check_response(partial_failure, IDP, SLO, "_req"),
        Err(ErrorCode::StatusNotSuccess)
    );

    // The status detail names the codes and the message.
    let xml = LogoutResponse::builder(IDP, SLO, "_req")
        .status(
            status::REQUESTER,
            Some(status::REQUEST_DENIED),
            Some("nope"),
        )
        .build(&issued())
        .unwrap()
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    let err = sp_validator()
        .validate_response(&xml, "_req", &now())
        .unwrap_err();
    assert!(
        err.detail().contains("Requester / RequestDenied: nope"),
        "{err}"
    );

    // No InResponseTo at all.
    let answer = idp_response("_req");
    let without = answer.to_xml().replace(r#" InResponseTo="_req""#, "");
    let signed = sign_idp(&without, answer.id());
    assert_eq!(
        code(sp_validator().validate_response(&signed, "_req", &now())),
        ErrorCode::InResponseToMismatch
    );
    // Unsigned, signed by the wrong key, changed after signing.
    assert_eq!(
        code(sp_validator().validate_response(&answer.to_xml(), "_req", &now())),
        ErrorCode::SignatureMissing
    );
    let url = answer.redirect_url(None, None).unwrap();
    assert_eq!(
        code(sp_validator().validate_response_redirect(query_of(&url), "_req", &now())),
        ErrorCode::SignatureMissing
    );
    let by_sp = answer
        .signed_xml(&keys().sp, &SignOptions::default())
        .unwrap();
    assert_eq!(
        code(sp_validator().validate_response(&by_sp, "_req", &now())),
        ErrorCode::SignatureInvalid
    );
    let url = answer
        .redirect_url(None, Some((&keys().sp, SignatureAlgorithm::RsaSha256)))
        .unwrap();
    assert_eq!(
        code(sp_validator().validate_response_redirect(query_of(&url), "_req", &now())),
        ErrorCode::SignatureInvalid
    );
    let changed = answer
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap()
        .replace("status:Success", "status:Requester");
    assert_eq!(
        code(sp_validator().validate_response(&changed, "_req", &now())),
        ErrorCode::DigestMismatch
    );
    // Times.
    let xml = answer
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    assert_eq!(
        code(sp_validator().validate_response(&xml, "_req", &at(-30))),
        ErrorCode::NotYetValid
    );
    assert_eq!(
        code(sp_validator().validate_response(&xml, "_req", &at(3600))),
        ErrorCode::Expired
    );
    // A request where a response is expected.
    let request = idp_request()
        .signed_xml(&keys().idp, &SignOptions::default())
        .unwrap();
    assert_eq!(
        code(sp_validator().validate_response(&request, "_req", &now())),
        ErrorCode::MalformedXml
    );
    let url = idp_request()
        .redirect_url(None, Some((&keys().idp, SignatureAlgorithm::RsaSha256)))
        .unwrap();
    assert_eq!(
        code(sp_validator().validate_response_redirect(query_of(&url), "_req", &now())),
        ErrorCode::MalformedXml
    );
    // No Status.
    let no_status = answer
        .to_xml()
        .split("<samlp:Status>")
        .next()
        .unwrap()
        .to_owned()
        + "</samlp:LogoutResponse>";
    let signed = sign_idp(&no_status, answer.id());
    assert_eq!(
        code(sp_validator().validate_response(&signed, "_req", &now())),
        ErrorCode::MalformedXml
    );
}

/// Signature checks come before the issuer, so an unsigned message from a
/// stranger says "unsigned", and a signed one from a stranger "bad signature".
#[test]
fn check_order_signature_first() {
    let stranger = LogoutResponse::builder("https://evil.example", "https://evil.example/x", "_o")
        .build(&issued())
        .unwrap();
    assert_eq!(
        code(sp_validator().validate_response(&stranger.to_xml(), "_req", &now())),
        ErrorCode::SignatureMissing
    );
    let signed = stranger
        .signed_xml(&keys().sp, &SignOptions::default())
        .unwrap();
    assert_eq!(
        code(sp_validator().validate_response(&signed, "_req", &now())),
        ErrorCode::SignatureInvalid
    );
}

// ---------------------------------------------------------------------------
// Artifact
// ---------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn artifact_round_trip() {
    let handle: [u8; 20] = std::array::from_fn(|i| u8::try_from(i).unwrap() * 7);
    let artifact = Artifact::new(IDP, 0x0102, handle);
    let encoded = artifact.encode();
    assert_eq!(encoded.len(), 60);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&encoded)
        .unwrap();
    assert_eq!(bytes.len(), 44);
    assert_eq!(bytes[..2], ARTIFACT_TYPE_CODE.to_be_bytes());
    assert_eq!(bytes[2..4], [0x01, 0x02]);
    // SHA-1 of the entity ID, as `python3 -c 'hashlib.sha1(...)'` gives it.
    let sha1 = "940845bb9a29596c394e26e3ae431c51cff8c5ee";
    let hex: String = bytes[4..24].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, sha1);
    assert_eq!(bytes[24..], handle);

    let parsed = Artifact::parse(&encoded).unwrap();
    assert_eq!(parsed, artifact);
    assert_eq!(parsed.endpoint_index(), 0x0102);
    assert_eq!(parsed.message_handle(), &handle);
    assert_eq!(parsed.source_id(), &Artifact::source_id_for(IDP));
    assert!(parsed.source_id_matches(IDP));
    assert!(!parsed.source_id_matches(SP));
    assert!(!parsed.source_id_matches(&format!("{IDP}/")));
    // Whitespace (a wrapped form value) is ignored.
    let wrapped = format!(" {}\n{} ", &encoded[..30], &encoded[30..]);
    assert_eq!(Artifact::parse(&wrapped).unwrap(), artifact);
    assert_eq!(
        Artifact::from_parts(0x0102, Artifact::source_id_for(IDP), handle),
        artifact
    );
    // Random handles differ.
    let a = Artifact::generate(IDP, 0).unwrap();
    let b = Artifact::generate(IDP, 0).unwrap();
    assert_ne!(a.message_handle(), b.message_handle());
    assert!(a.source_id_matches(IDP));
}

#[test]
fn bad_artifacts_are_refused() {
    let good = base64::engine::general_purpose::STANDARD
        .decode(Artifact::new(IDP, 1, [9; 20]).encode())
        .unwrap();
    let mut type1 = good.clone();
    type1[1] = 0x01;
    let err = Artifact::parse(&b64(&type1)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MalformedXml);
    assert!(err.detail().contains("0x0001"), "{err}");
    let mut type_big = good.clone();
    type_big[0] = 0x01;
    type_big[1] = 0x00;
    assert_eq!(
        code(Artifact::parse(&b64(&type_big))),
        ErrorCode::MalformedXml
    );
    let short = &good[..43];
    let err = Artifact::parse(&b64(short)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MalformedXml);
    assert!(err.detail().contains("44 bytes"), "{err}");
    let mut long = good.clone();
    long.push(0);
    assert_eq!(code(Artifact::parse(&b64(&long))), ErrorCode::MalformedXml);
    for bad in ["", "AA==", "A", "not base64!", "AAQ"] {
        assert_eq!(code(Artifact::parse(bad)), ErrorCode::MalformedXml, "{bad}");
    }
    assert_eq!(
        code(Artifact::parse(&"A".repeat(300))),
        ErrorCode::InputTooLarge
    );
}

#[test]
fn artifact_resolve_shape_and_signature() {
    let artifact = Artifact::new(IDP, 1, [3; 20]);
    let resolve = ArtifactResolve::builder(SP, IDP_ARS, &artifact)
        .id("_ar1")
        .build(&issued())
        .unwrap();
    assert_eq!(resolve.id(), "_ar1");
    assert_eq!(resolve.artifact(), artifact.encode());
    assert_eq!(resolve.destination(), IDP_ARS);
    assert_eq!(resolve.issuer(), SP);
    assert_eq!(resolve.issue_instant(), t("2024-06-01T12:00:00Z"));
    let soap = resolve.soap_envelope(None).unwrap();
    let doc = Document::parse(&soap, &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(SOAP_ENV_NS, "Envelope"));
    let body = root.child_elements().next().unwrap();
    assert!(body.is(SOAP_ENV_NS, "Body"));
    let ar = body.child_elements().next().unwrap();
    assert!(ar.is(SAMLP_NS, "ArtifactResolve"));
    assert_eq!(ar.attribute("Destination"), Some(IDP_ARS));
    assert_eq!(ar.attribute("IssueInstant"), Some("2024-06-01T12:00:00Z"));
    let names: Vec<_> = ar.child_elements().map(|e| e.local_name()).collect();
    assert_eq!(names, ["Issuer", "Artifact"]);
    assert_eq!(
        ar.child_elements().nth(1).unwrap().text(),
        artifact.encode()
    );

    // Signed in place, with exclusive and with inclusive C14N: the IdP
    // verifies it where it stands inside the envelope.
    for c14n in [Method::Exclusive, Method::Inclusive] {
        let mut options = SignOptions::default();
        options.c14n = c14n;
        let signed = resolve.signed_soap_envelope(&keys().sp, &options).unwrap();
        let doc = Document::parse(&signed, &Limits::default()).unwrap();
        let ar = doc.element_by_id("_ar1").unwrap().unwrap();
        let names: Vec<_> = ar.child_elements().map(|e| e.local_name()).collect();
        assert_eq!(names, ["Issuer", "Signature", "Artifact"], "{c14n:?}");
        verify_enveloped(ar, &[keys().sp_public.clone()], &VerifyOptions::new()).unwrap();
        assert!(verify_enveloped(ar, &[keys().idp_public.clone()], &VerifyOptions::new()).is_err());
    }
    assert!(
        resolve
            .soap_envelope(Some(&keys().sp))
            .unwrap()
            .contains("<ds:SignatureValue>")
    );
}

/// `request_id` from the bench fixtures' `config.json` (read without serde).
fn config_request_id() -> String {
    let json = fixture("config.json");
    let key = "\"request_id\": \"";
    let start = json.find(key).unwrap() + key.len();
    let end = start + json[start..].find('"').unwrap();
    json[start..end].to_owned()
}

fn ars_validator() -> ArtifactResponseValidator {
    ArtifactResponseValidator::new(IDP, vec![keys().idp_public.clone()])
}

/// When the bench fixtures' responses are valid.
fn fixture_now() -> FixedClock {
    FixedClock(t("2024-06-01T12:01:00Z"))
}

#[test]
fn artifact_response_carries_a_real_signed_response() {
    let typical = fixture("typical.xml");
    let answer = ArtifactResponse::builder(IDP, "_ar1")
        .id("_ares1")
        .message(typical.clone())
        .build(&fixture_now())
        .unwrap();
    assert_eq!(answer.id(), "_ares1");
    let soap = answer.soap_envelope(Some(&keys().idp)).unwrap();
    let resolved = ars_validator()
        .validate(&soap, "_ar1", &fixture_now())
        .unwrap();
    assert_eq!(resolved.id, "_ares1");
    assert_eq!(resolved.issuer, IDP);
    assert_eq!(resolved.in_response_to, "_ar1");
    assert!(resolved.signed);
    assert!(resolved.message_is(SAMLP_NS, "Response"));
    assert_eq!(resolved.message_name, "Response");
    // The embedded Response, with its own signature, validates on its own.
    let validator = ResponseValidator::new(
        IDP,
        vec![keys().idp_public.clone()],
        SP,
        "https://sp.example.test/saml/acs",
    );
    let request_id = config_request_id();
    let expect = Expectation {
        in_response_to: Some(&request_id),
        force_authn_since: None,
    };
    let assertion = validator
        .validate_xml(&resolved.message_xml, &expect, &fixture_now())
        .unwrap();
    assert_eq!(assertion.name_id.value, "alice.smith@example.test");
    // The message bytes are the fixture's element, unchanged.
    let start = typical.find("<saml2p:Response").unwrap();
    assert_eq!(resolved.message_xml, typical[start..].trim_end());

    // Unsigned ArtifactResponse: refused by default, accepted when allowed.
    let unsigned = answer.soap_envelope(None).unwrap();
    assert_eq!(
        code(ars_validator().validate(&unsigned, "_ar1", &fixture_now())),
        ErrorCode::SignatureMissing
    );
    let mut lax = ars_validator();
    lax.require_signature = false;
    let resolved = lax.validate(&unsigned, "_ar1", &fixture_now()).unwrap();
    assert!(!resolved.signed);
    assert!(
        validator
            .validate_xml(&resolved.message_xml, &expect, &fixture_now())
            .is_ok()
    );
}

#[test]
fn embedded_message_inherits_envelope_namespaces() {
    // A hand-made answer whose prefixes are all declared on the Envelope.
    let soap = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="0"/></soap:Header><soap:Body><samlp:ArtifactResponse ID="_ares" Version="2.0" IssueInstant="2024-06-01T12:00:00Z" InResponseTo="_ar1"><saml:Issuer>https://idp.example.test/saml2/metadata</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><samlp:LogoutRequest ID="_lr" Version="2.0" IssueInstant="2024-06-01T12:00:00Z"><saml:Issuer>https://idp.example.test/saml2/metadata</saml:Issuer><saml:NameID>alice</saml:NameID></samlp:LogoutRequest></samlp:ArtifactResponse></soap:Body></soap:Envelope>"#;
    let mut lax = ars_validator();
    lax.require_signature = false;
    let resolved = lax.validate(soap, "_ar1", &now()).unwrap();
    assert!(resolved.message_is(SAMLP_NS, "LogoutRequest"));
    assert!(resolved.message_xml.starts_with(r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr""#), "{}", resolved.message_xml);
    // It parses on its own and the logout validator reads it.
    let mut logout = sp_validator();
    logout.require_signature = false;
    let incoming = logout
        .validate_request(&resolved.message_xml, &now())
        .unwrap();
    assert_eq!(incoming.name_id.value, "alice");
}

fn ars_soap(message: Option<&str>, status_code: &str) -> String {
    let mut builder = ArtifactResponse::builder(IDP, "_ar1")
        .id("_ares")
        .destination(SP)
        .status(status_code, None, None);
    if let Some(m) = message {
        builder = builder.message(m);
    }
    builder
        .build(&issued())
        .unwrap()
        .soap_envelope(Some(&keys().idp))
        .unwrap()
}

const INNER: &str = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr" Version="2.0" IssueInstant="2024-06-01T12:00:00Z"><saml:Issuer>https://idp.example.test/saml2/metadata</saml:Issuer><saml:NameID>alice</saml:NameID></samlp:LogoutRequest>"#;

#[test]
fn each_artifact_response_rule_alone() {
    let v = ars_validator();
    let good = ars_soap(Some(INNER), status::SUCCESS);
    let resolved = v.validate(&good, "_ar1", &now()).unwrap();
    assert_eq!(resolved.message_xml, INNER);

    // InResponseTo.
    assert_eq!(
        code(v.validate(&good, "_ar2", &now())),
        ErrorCode::InResponseToMismatch
    );
    // Issuer.
    let evil = ArtifactResponse::builder("https://evil.example", "_ar1")
        .message(INNER)
        .build(&issued())
        .unwrap()
        .soap_envelope(Some(&keys().idp))
        .unwrap();
    assert_eq!(
        code(v.validate(&evil, "_ar1", &now())),
        ErrorCode::IssuerMismatch
    );
    // Signature: wrong key, tampered (also inside the message), misplaced.
    let by_sp = ArtifactResponse::builder(IDP, "_ar1")
        .message(INNER)
        .build(&issued())
        .unwrap()
        .soap_envelope(Some(&keys().sp))
        .unwrap();
    assert_eq!(
        code(v.validate(&by_sp, "_ar1", &now())),
        ErrorCode::SignatureInvalid
    );
    assert_eq!(
        code(v.validate(&good.replace(">alice<", ">mallory<"), "_ar1", &now())),
        ErrorCode::DigestMismatch
    );
    let misplaced = good.replacen(
        "</samlp:Status>",
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/></samlp:Status>",
        1,
    );
    assert_eq!(
        code(v.validate(&misplaced, "_ar1", &now())),
        ErrorCode::SignatureInvalid
    );
    // Status and message.
    assert_eq!(
        code(v.validate(&ars_soap(Some(INNER), status::RESPONDER), "_ar1", &now())),
        ErrorCode::StatusNotSuccess
    );
    let err = v
        .validate(&ars_soap(None, status::SUCCESS), "_ar1", &now())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::StatusNotSuccess);
    assert!(err.detail().contains("no message"), "{err}");
    let two = ArtifactResponse::builder(IDP, "_ar1")
        .id("_two")
        .message(INNER)
        .build(&issued())
        .unwrap()
        .to_xml()
        .replacen(
            "</samlp:ArtifactResponse>",
            &format!("{INNER}</samlp:ArtifactResponse>"),
            1,
        );
    let two = sign_idp(
        &format!(r#"<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Body>{two}</s:Body></s:Envelope>"#),
        "_two",
    );
    assert_eq!(
        code(v.validate(&two, "_ar1", &now())),
        ErrorCode::MalformedXml
    );
    // Times.
    assert_eq!(
        code(v.validate(&good, "_ar1", &at(-60))),
        ErrorCode::NotYetValid
    );
    assert_eq!(
        code(v.validate(&good, "_ar1", &at(3600))),
        ErrorCode::Expired
    );
}

#[test]
fn soap_envelope_rules() {
    let mut v = ars_validator();
    v.require_signature = false;
    let inner = ArtifactResponse::builder(IDP, "_ar1")
        .message(INNER)
        .build(&issued())
        .unwrap()
        .to_xml();
    let wrap = |envelope_ns: &str, header: &str, body: &str| {
        format!(
            r#"<s:Envelope xmlns:s="{envelope_ns}">{header}<s:Body>{body}</s:Body></s:Envelope>"#
        )
    };
    assert!(
        v.validate(&wrap(SOAP_ENV_NS, "", &inner), "_ar1", &now())
            .is_ok()
    );
    assert!(
        v.validate(
            &wrap(
                SOAP_ENV_NS,
                "<s:Header><h xmlns=\"urn:h\"/></s:Header>",
                &inner
            ),
            "_ar1",
            &now()
        )
        .is_ok()
    );
    let err = v
        .validate(
            &wrap(
                SOAP_ENV_NS,
                "<s:Header><h xmlns=\"urn:h\" s:mustUnderstand=\"1\"/></s:Header>",
                &inner,
            ),
            "_ar1",
            &now(),
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MalformedXml);
    assert!(err.detail().contains("must be understood"), "{err}");
    let err = v
        .validate(
            &wrap("http://www.w3.org/2003/05/soap-envelope", "", &inner),
            "_ar1",
            &now(),
        )
        .unwrap_err();
    assert!(err.detail().contains("SOAP 1.2"), "{err}");
    // Not SOAP, a bare ArtifactResponse, an empty Body, two elements.
    assert_eq!(
        code(v.validate(&inner, "_ar1", &now())),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(v.validate(&wrap(SOAP_ENV_NS, "", ""), "_ar1", &now())),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(v.validate(
            &wrap(SOAP_ENV_NS, "", &format!("{inner}{inner}")),
            "_ar1",
            &now()
        )),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(v.validate(&wrap(SOAP_ENV_NS, "", INNER), "_ar1", &now())),
        ErrorCode::MalformedXml
    );
    // A fault says what the service said.
    let fault = r#"<s:Fault><faultcode>s:Server</faultcode><faultstring>artifact store down</faultstring></s:Fault>"#;
    let err = v
        .validate(&wrap(SOAP_ENV_NS, "", fault), "_ar1", &now())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::StatusNotSuccess);
    assert!(
        err.detail()
            .contains("SOAP fault: s:Server: artifact store down"),
        "{err}"
    );
    // The reader's hardening applies to the envelope.
    let dtd = format!(
        "<!DOCTYPE s [<!ENTITY x \"y\">]>{}",
        wrap(SOAP_ENV_NS, "", &inner)
    );
    assert_eq!(
        code(v.validate(&dtd, "_ar1", &now())),
        ErrorCode::DtdForbidden
    );
    v.limits.max_depth = 3;
    assert_eq!(
        code(v.validate(&wrap(SOAP_ENV_NS, "", &inner), "_ar1", &now())),
        ErrorCode::InputTooLarge
    );
}

#[test]
fn artifact_response_builder_checks_its_message() {
    assert_eq!(
        code(
            ArtifactResponse::builder(IDP, "_ar1")
                .message("<a><b></a>")
                .build(&issued())
        ),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(ArtifactResponse::builder(IDP, "").build(&issued())),
        ErrorCode::MalformedXml
    );
    // An XML declaration is dropped.
    let answer = ArtifactResponse::builder(IDP, "_ar1")
        .message(format!("<?xml version=\"1.0\"?>\n{INNER}\n"))
        .build(&issued())
        .unwrap();
    assert!(
        answer
            .to_xml()
            .contains(&format!("</samlp:Status>{INNER}</samlp:ArtifactResponse>"))
    );
}
