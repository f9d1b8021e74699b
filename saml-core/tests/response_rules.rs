//! Response validation: every rule broken one at a time is rejected with its
//! own code, the classic signature-wrapping permutations (XSW1-8) and other
//! splices never yield the attacker's subject, and a valid response gives the
//! typed assertion. Responses are signed here with the bench fixtures' IdP key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey, SigningKey};
use saml_core::dsig::{SignOptions, sign_enveloped};
use saml_core::protocol::{Assertion, AuthnContextRequirement, Expectation, ResponseValidator};
use saml_core::{ErrorCode, Limits};

const IDP: &str = "https://idp.example.test/saml2/metadata";
const SP: &str = "https://sp.example.test/saml/metadata";
const ACS: &str = "https://sp.example.test/saml/acs";
const REQUEST: &str = "_req1";

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    std::fs::read_to_string(dir.join("bench-fixtures").join(name)).unwrap()
}

fn key(name: &str, cert: &str) -> SigningKey {
    let c = Certificate::from_pem(&fixture(cert)).unwrap().remove(0);
    SigningKey::from_pem(&fixture(name))
        .unwrap()
        .with_certificate(c)
        .unwrap()
}

fn idp_public() -> PublicKey {
    Certificate::from_pem(&fixture("idp-cert.pem")).unwrap()[0]
        .public_key()
        .clone()
}

fn now() -> DateTime<Utc> {
    parse_datetime("2024-06-01T12:01:00Z").unwrap()
}

/// The parts of a response a test may change.
#[derive(Clone)]
struct Parts {
    destination: Option<String>,
    response_issuer: String,
    status: String,
    response_irt: Option<String>,
    assertion_issuer: String,
    name_id: String,
    method: String,
    recipient: String,
    scd_irt: Option<String>,
    scd_not_on_or_after: String,
    not_before: String,
    not_on_or_after: String,
    audiences: Vec<Vec<String>>,
    authn_instant: String,
    session_not_on_or_after: Option<String>,
    class_ref: String,
    extra_assertion: bool,
}

impl Default for Parts {
    fn default() -> Self {
        Self {
            destination: Some(ACS.into()),
            response_issuer: IDP.into(),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            response_irt: Some(REQUEST.into()),
            assertion_issuer: IDP.into(),
            name_id: "alice@example.test".into(),
            method: "urn:oasis:names:tc:SAML:2.0:cm:bearer".into(),
            recipient: ACS.into(),
            scd_irt: Some(REQUEST.into()),
            scd_not_on_or_after: "2024-06-01T12:05:00Z".into(),
            not_before: "2024-06-01T11:59:00Z".into(),
            not_on_or_after: "2024-06-01T12:05:00Z".into(),
            audiences: vec![vec![SP.into()]],
            authn_instant: "2024-06-01T12:00:30Z".into(),
            session_not_on_or_after: Some("2024-06-01T20:00:00Z".into()),
            class_ref: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into(),
            extra_assertion: false,
        }
    }
}

fn attr(name: &str, value: Option<&String>) -> String {
    value.map_or_else(String::new, |v| format!(r#" {name}="{v}""#))
}

fn assertion_xml(p: &Parts, id: &str) -> String {
    let audiences: String = p
        .audiences
        .iter()
        .map(|list| {
            let inner: String = list
                .iter()
                .map(|a| format!("<saml:Audience>{a}</saml:Audience>"))
                .collect();
            format!("<saml:AudienceRestriction>{inner}</saml:AudienceRestriction>")
        })
        .collect();
    format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="2024-06-01T12:00:40Z">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
            r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID>"#,
            r#"<saml:SubjectConfirmation Method="{method}"><saml:SubjectConfirmationData{scd_irt} NotOnOrAfter="{scd_noa}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject>"#,
            r#"<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">{audiences}</saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="{ai}"{snoa} SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>{class_ref}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
            r#"<saml:AttributeStatement><saml:Attribute Name="mail" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic" FriendlyName="email"><saml:AttributeValue>alice@example.test</saml:AttributeValue></saml:Attribute>"#,
            r#"<saml:Attribute Name="groups"><saml:AttributeValue>admins</saml:AttributeValue><saml:AttributeValue>users</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#,
            r#"</saml:Assertion>"#
        ),
        id = id,
        issuer = p.assertion_issuer,
        name_id = p.name_id,
        method = p.method,
        scd_irt = attr("InResponseTo", p.scd_irt.as_ref()),
        scd_noa = p.scd_not_on_or_after,
        recipient = p.recipient,
        nb = p.not_before,
        noa = p.not_on_or_after,
        audiences = audiences,
        ai = p.authn_instant,
        snoa = attr("SessionNotOnOrAfter", p.session_not_on_or_after.as_ref()),
        class_ref = p.class_ref,
    )
}

fn response_xml(p: &Parts, assertion: &str) -> String {
    let extra = if p.extra_assertion {
        assertion_xml(p, "_a2")
    } else {
        String::new()
    };
    format!(
        concat!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="2024-06-01T12:00:40Z"{dest}{irt}>"#,
            r#"<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{issuer}</saml:Issuer>"#,
            r#"<samlp:Status><samlp:StatusCode Value="{status}"/><samlp:StatusMessage>denied by policy</samlp:StatusMessage></samlp:Status>"#,
            "{assertion}{extra}</samlp:Response>"
        ),
        dest = attr("Destination", p.destination.as_ref()),
        irt = attr("InResponseTo", p.response_irt.as_ref()),
        issuer = p.response_issuer,
        status = p.status,
        assertion = assertion,
        extra = extra,
    )
}

#[derive(Clone, Copy)]
enum Signed {
    Assertion,
    Response,
    Both,
    Neither,
}

fn build(p: &Parts, signed: Signed) -> String {
    let idp = key("idp-key.pem", "idp-cert.pem");
    let mut assertion = assertion_xml(p, "_a1");
    if matches!(signed, Signed::Assertion | Signed::Both) {
        assertion = sign_enveloped(&assertion, "_a1", &idp, &SignOptions::default()).unwrap();
    }
    let response = response_xml(p, &assertion);
    if matches!(signed, Signed::Response | Signed::Both) {
        sign_enveloped(&response, "_r1", &idp, &SignOptions::default()).unwrap()
    } else {
        response
    }
}

fn validator() -> ResponseValidator {
    ResponseValidator::new(IDP, vec![idp_public()], SP, ACS)
}

fn check(
    xml: &str,
    v: &ResponseValidator,
    expect: &Expectation<'_>,
) -> Result<Assertion, ErrorCode> {
    v.validate_xml(xml, expect, &FixedClock(now()))
        .map_err(|e| e.code())
}

fn pending() -> Expectation<'static> {
    Expectation {
        in_response_to: Some(REQUEST),
        force_authn_since: None,
    }
}

fn code_for(p: Parts) -> ErrorCode {
    check(&build(&p, Signed::Assertion), &validator(), &pending()).unwrap_err()
}

#[test]
fn a_valid_response_gives_the_typed_assertion() {
    for signed in [Signed::Assertion, Signed::Response, Signed::Both] {
        let a = check(&build(&Parts::default(), signed), &validator(), &pending()).unwrap();
        assert_eq!(a.issuer, IDP);
        assert_eq!(a.name_id.value, "alice@example.test");
        assert_eq!(
            a.name_id.format.as_deref(),
            Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
        );
        assert_eq!(a.session_index.as_deref(), Some("_s1"));
        assert_eq!(a.id, "_a1");
        assert_eq!(a.response_id.as_deref(), Some("_r1"));
        assert_eq!(a.in_response_to.as_deref(), Some(REQUEST));
        assert_eq!(a.attribute_values("groups"), ["admins", "users"]);
        assert_eq!(a.attributes[0].friendly_name.as_deref(), Some("email"));
        assert_eq!(
            a.authn_context_class_ref.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
        );
        assert_eq!(
            a.not_on_or_after,
            Some(parse_datetime("2024-06-01T12:05:00Z").unwrap())
        );
        // Accepted until the earliest NotOnOrAfter (12:05) plus the 10 s
        // skew; the replay cache holds the ID at least that long.
        assert_eq!(
            a.accepted_until,
            parse_datetime("2024-06-01T12:05:10Z").unwrap()
        );
        assert!(a.replay_expiry(now()) >= a.accepted_until);
    }
}

#[test]
fn hostile_xml_is_refused_first() {
    let doctype = format!(
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        build(&Parts::default(), Signed::Assertion)
    );
    assert_eq!(
        check(&doctype, &validator(), &pending()).unwrap_err(),
        ErrorCode::DtdForbidden
    );
    let mut small = validator();
    small.limits = Limits {
        max_xml_bytes: 1000,
        ..Limits::default()
    };
    assert_eq!(
        check(
            &build(&Parts::default(), Signed::Assertion),
            &small,
            &pending()
        )
        .unwrap_err(),
        ErrorCode::InputTooLarge
    );
}

#[test]
fn every_rule_broken_alone_has_its_own_code() {
    let cases: Vec<(&str, Parts, ErrorCode)> = vec![
        (
            "status",
            Parts {
                status: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
                ..Parts::default()
            },
            ErrorCode::StatusNotSuccess,
        ),
        (
            "destination",
            Parts {
                destination: Some("https://evil.example/acs".into()),
                ..Parts::default()
            },
            ErrorCode::DestinationMismatch,
        ),
        (
            "response issuer",
            Parts {
                response_issuer: "https://evil.example".into(),
                ..Parts::default()
            },
            ErrorCode::IssuerMismatch,
        ),
        (
            "assertion issuer",
            Parts {
                assertion_issuer: "https://evil.example".into(),
                ..Parts::default()
            },
            ErrorCode::IssuerMismatch,
        ),
        (
            "two assertions",
            Parts {
                extra_assertion: true,
                ..Parts::default()
            },
            ErrorCode::AmbiguousAssertion,
        ),
        (
            "not bearer",
            Parts {
                method: "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key".into(),
                ..Parts::default()
            },
            ErrorCode::RecipientMismatch,
        ),
        (
            "recipient",
            Parts {
                recipient: "https://evil.example/acs".into(),
                ..Parts::default()
            },
            ErrorCode::RecipientMismatch,
        ),
        (
            "confirmation expired",
            Parts {
                scd_not_on_or_after: "2024-06-01T12:00:00Z".into(),
                ..Parts::default()
            },
            ErrorCode::Expired,
        ),
        (
            "confirmation answers another request",
            Parts {
                scd_irt: Some("_other".into()),
                ..Parts::default()
            },
            ErrorCode::InResponseToMismatch,
        ),
        (
            "confirmation names no request",
            Parts {
                scd_irt: None,
                ..Parts::default()
            },
            ErrorCode::InResponseToMismatch,
        ),
        (
            "response answers another request",
            Parts {
                response_irt: Some("_other".into()),
                ..Parts::default()
            },
            ErrorCode::InResponseToMismatch,
        ),
        (
            "not yet valid",
            Parts {
                not_before: "2024-06-01T12:02:00Z".into(),
                ..Parts::default()
            },
            ErrorCode::NotYetValid,
        ),
        (
            "expired",
            Parts {
                not_on_or_after: "2024-06-01T12:00:30Z".into(),
                ..Parts::default()
            },
            ErrorCode::Expired,
        ),
        (
            "audience",
            Parts {
                audiences: vec![vec!["https://other-sp.example".into()]],
                ..Parts::default()
            },
            ErrorCode::AudienceMismatch,
        ),
        (
            "every restriction must name us",
            Parts {
                audiences: vec![vec![SP.into()], vec!["https://other-sp.example".into()]],
                ..Parts::default()
            },
            ErrorCode::AudienceMismatch,
        ),
        (
            "session ended",
            Parts {
                session_not_on_or_after: Some("2024-06-01T12:00:00Z".into()),
                ..Parts::default()
            },
            ErrorCode::Expired,
        ),
    ];
    for (what, parts, code) in cases {
        assert_eq!(code_for(parts), code, "{what}");
    }
    // One of several audiences in a restriction is enough.
    let ok = Parts {
        audiences: vec![vec!["https://other-sp.example".into(), SP.into()]],
        ..Parts::default()
    };
    assert!(check(&build(&ok, Signed::Assertion), &validator(), &pending()).is_ok());
}

#[test]
fn time_checks_use_the_skew_and_say_how_far_off() {
    // 5 s past NotOnOrAfter is inside the default 10 s skew.
    let p = Parts {
        not_on_or_after: "2024-06-01T12:00:55Z".into(),
        ..Parts::default()
    };
    assert!(check(&build(&p, Signed::Assertion), &validator(), &pending()).is_ok());
    let mut strict = validator();
    strict.clock_skew = Duration::zero();
    let err = strict
        .validate_xml(
            &build(&p, Signed::Assertion),
            &pending(),
            &FixedClock(now()),
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Expired);
    assert!(err.detail().contains("5 s ago"), "{}", err.detail());
    let early = Parts {
        not_before: "2024-06-01T12:01:30Z".into(),
        ..Parts::default()
    };
    let err = validator()
        .validate_xml(
            &build(&early, Signed::Assertion),
            &pending(),
            &FixedClock(now()),
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotYetValid);
    assert!(err.detail().contains("30 s"), "{}", err.detail());
}

#[test]
fn status_failures_carry_the_idp_codes_and_message() {
    let p = Parts {
        status: "urn:oasis:names:tc:SAML:2.0:status:Requester".into(),
        ..Parts::default()
    };
    let err = validator()
        .validate_xml(&build(&p, Signed::Response), &pending(), &FixedClock(now()))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::StatusNotSuccess);
    assert!(
        err.detail().contains("Requester") && err.detail().contains("denied by policy"),
        "{}",
        err.detail()
    );
}

#[test]
fn signatures_are_required_as_configured() {
    let unsigned = build(&Parts::default(), Signed::Neither);
    assert_eq!(
        check(&unsigned, &validator(), &pending()).unwrap_err(),
        ErrorCode::SignatureMissing
    );
    let mut want_assertion = validator();
    want_assertion.require_signed_assertion = true;
    let response_only = build(&Parts::default(), Signed::Response);
    assert_eq!(
        check(&response_only, &want_assertion, &pending()).unwrap_err(),
        ErrorCode::SignatureMissing
    );
    assert!(
        check(
            &build(&Parts::default(), Signed::Both),
            &want_assertion,
            &pending()
        )
        .is_ok()
    );
    // A signed response must say where it is going.
    let p = Parts {
        destination: None,
        ..Parts::default()
    };
    assert_eq!(
        check(&build(&p, Signed::Response), &validator(), &pending()).unwrap_err(),
        ErrorCode::DestinationMismatch
    );
    assert!(check(&build(&p, Signed::Assertion), &validator(), &pending()).is_ok());
    // Signed by a key the IdP configuration does not list.
    let sp = key("sp-key.pem", "sp-cert.pem");
    let assertion = sign_enveloped(
        &assertion_xml(&Parts::default(), "_a1"),
        "_a1",
        &sp,
        &SignOptions::default(),
    )
    .unwrap();
    let foreign = response_xml(&Parts::default(), &assertion);
    assert_eq!(
        check(&foreign, &validator(), &pending()).unwrap_err(),
        ErrorCode::SignatureInvalid
    );
}

#[test]
fn unsolicited_responses_need_the_opt_in() {
    let p = Parts {
        response_irt: None,
        scd_irt: None,
        ..Parts::default()
    };
    let xml = build(&p, Signed::Assertion);
    let none = Expectation::default();
    assert_eq!(
        check(&xml, &validator(), &none).unwrap_err(),
        ErrorCode::UnsolicitedResponse
    );
    let mut allow = validator();
    allow.allow_idp_initiated = true;
    assert!(check(&xml, &allow, &none).is_ok());
    // A solicited response presented when nothing is pending is refused.
    assert_eq!(
        check(&build(&Parts::default(), Signed::Assertion), &allow, &none).unwrap_err(),
        ErrorCode::InResponseToMismatch
    );
}

#[test]
fn force_authn_and_authn_context_are_enforced() {
    let xml = build(&Parts::default(), Signed::Assertion);
    let since = |t: &str| Expectation {
        in_response_to: Some(REQUEST),
        force_authn_since: Some(parse_datetime(t).unwrap()),
    };
    assert!(check(&xml, &validator(), &since("2024-06-01T12:00:25Z")).is_ok());
    assert_eq!(
        check(&xml, &validator(), &since("2024-06-01T12:00:50Z")).unwrap_err(),
        ErrorCode::AuthnContextMismatch
    );
    let mut mfa = validator();
    mfa.authn_context = AuthnContextRequirement::OneOf(vec!["urn:mfa".into()]);
    assert_eq!(
        check(&xml, &mfa, &pending()).unwrap_err(),
        ErrorCode::AuthnContextMismatch
    );
    mfa.authn_context = AuthnContextRequirement::OneOf(vec![
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into(),
    ]);
    assert!(check(&xml, &mfa, &pending()).is_ok());
}

#[test]
fn comments_inside_the_name_id_yield_the_full_text() {
    let idp = key("idp-key.pem", "idp-cert.pem");
    let assertion = assertion_xml(&Parts::default(), "_a1").replace(
        "alice@example.test</saml:NameID>",
        "alice@example.test<!---->.evil.example</saml:NameID>",
    );
    let signed = sign_enveloped(&assertion, "_a1", &idp, &SignOptions::default()).unwrap();
    let a = check(
        &response_xml(&Parts::default(), &signed),
        &validator(),
        &pending(),
    )
    .unwrap();
    assert_eq!(a.name_id.value, "alice@example.test.evil.example");
}

#[test]
fn a_signed_assertion_moved_into_another_response_is_refused() {
    // A genuine assertion answering request A, replayed inside a forged,
    // unsigned Response that claims to answer request B.
    let xml = build(&Parts::default(), Signed::Assertion)
        .replace(r#"InResponseTo="_req1">"#, r#"InResponseTo="_req2">"#);
    let expect_b = Expectation {
        in_response_to: Some("_req2"),
        force_authn_since: None,
    };
    assert_eq!(
        check(&xml, &validator(), &expect_b).unwrap_err(),
        ErrorCode::InResponseToMismatch
    );
    // And presented to another SP, it fails on the signed audience and recipient.
    let other = ResponseValidator::new(IDP, vec![idp_public()], "https://other-sp.example", ACS);
    assert_eq!(
        check(
            &build(&Parts::default(), Signed::Assertion),
            &other,
            &pending()
        )
        .unwrap_err(),
        ErrorCode::AudienceMismatch
    );
}

/// The eight classic wrapping permutations (Somorovsky et al., "On Breaking
/// SAML", USENIX Security 2012), built from a genuine response; none may
/// yield the attacker's subject.
#[test]
fn signature_wrapping_permutations_are_refused() {
    let evil_parts = Parts {
        name_id: "admin@example.test".into(),
        ..Parts::default()
    };
    let signed_response = build(&Parts::default(), Signed::Response);
    let signed_assertion_doc = build(&Parts::default(), Signed::Assertion);
    let a_start = signed_assertion_doc.find("<saml:Assertion").unwrap();
    let a_end = signed_assertion_doc.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let genuine_assertion = &signed_assertion_doc[a_start..a_end];
    let sig_start = genuine_assertion.find("<ds:Signature").unwrap();
    let sig_end = genuine_assertion.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let genuine_signature = &genuine_assertion[sig_start..sig_end];
    let evil_assertion = assertion_xml(&evil_parts, "_a1");
    let evil_with_sig = evil_assertion.replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{genuine_signature}"),
        1,
    );
    let unsigned_response = |assertions: &str| response_xml(&Parts::default(), assertions);

    let r_sig_start = signed_response.find("<ds:Signature").unwrap();
    let r_sig_end = signed_response.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let response_signature = &signed_response[r_sig_start..r_sig_end];
    let evil_response_body = response_xml(&Parts::default(), &evil_assertion);

    let cases = vec![
        // XSW1: evil Response, the signed original inside its Signature.
        (
            "XSW1",
            evil_response_body.replacen(
                "</saml:Issuer>",
                &format!(
                    "</saml:Issuer>{}",
                    response_signature.replace(
                        "</ds:Signature>",
                        &format!("<ds:Object>{signed_response}</ds:Object></ds:Signature>")
                    )
                ),
                1,
            ),
        ),
        // XSW2: the signed original detached before the evil content.
        (
            "XSW2",
            evil_response_body.replacen(
                "</saml:Issuer>",
                &format!("</saml:Issuer>{response_signature}{signed_response}"),
                1,
            ),
        ),
        // XSW3: evil assertion (same ID) before the signed one.
        (
            "XSW3",
            unsigned_response(&format!("{evil_assertion}{genuine_assertion}")),
        ),
        // XSW4: evil assertion wraps the signed one.
        (
            "XSW4",
            unsigned_response(&evil_assertion.replace(
                "</saml:Assertion>",
                &format!("{genuine_assertion}</saml:Assertion>"),
            )),
        ),
        // XSW5: evil assertion carries the copied signature; the original is appended.
        (
            "XSW5",
            unsigned_response(&format!("{evil_with_sig}{genuine_assertion}")),
        ),
        // XSW6: evil assertion with the signature, the original inside its Object.
        (
            "XSW6",
            unsigned_response(&evil_with_sig.replace(
                "</ds:Signature>",
                &format!("<ds:Object>{genuine_assertion}</ds:Object></ds:Signature>"),
            )),
        ),
        // XSW7: the original hidden in an Extensions element.
        (
            "XSW7",
            unsigned_response(&format!(
                "<samlp:Extensions>{genuine_assertion}</samlp:Extensions>{evil_with_sig}"
            ))
            .replace("<samlp:Extensions>", "")
            .replace("</samlp:Extensions>", ""),
        ),
        (
            "XSW7b",
            response_xml(&Parts::default(), &evil_with_sig).replacen(
                "<samlp:Status>",
                &format!("<samlp:Extensions>{genuine_assertion}</samlp:Extensions><samlp:Status>"),
                1,
            ),
        ),
        // XSW8: the original inside the evil assertion's Signature Object.
        (
            "XSW8",
            unsigned_response(&evil_with_sig.replace(
                "</ds:SignatureValue>",
                &format!("</ds:SignatureValue><ds:Object>{genuine_assertion}</ds:Object>"),
            )),
        ),
    ];
    for (name, xml) in cases {
        match check(&xml, &validator(), &pending()) {
            Ok(a) => panic!("{name} accepted: {}", a.name_id.value),
            Err(code) => assert!(
                matches!(
                    code,
                    ErrorCode::SignatureInvalid
                        | ErrorCode::AmbiguousAssertion
                        | ErrorCode::DigestMismatch
                        | ErrorCode::ReferenceMismatch
                        | ErrorCode::MalformedXml
                ),
                "{name}: {code}"
            ),
        }
    }
}

#[test]
fn the_replay_window_covers_every_bound_the_validator_enforces() {
    // The subject confirmation ends first: it bounds acceptance.
    let early = Parts {
        scd_not_on_or_after: "2024-06-01T12:03:00Z".into(),
        ..Parts::default()
    };
    let a = check(&build(&early, Signed::Response), &validator(), &pending()).unwrap();
    assert_eq!(
        a.accepted_until,
        parse_datetime("2024-06-01T12:03:10Z").unwrap()
    );
    // The IdP session ends first.
    let session = Parts {
        session_not_on_or_after: Some("2024-06-01T12:02:00Z".into()),
        ..Parts::default()
    };
    let a = check(&build(&session, Signed::Response), &validator(), &pending()).unwrap();
    assert_eq!(
        a.accepted_until,
        parse_datetime("2024-06-01T12:02:10Z").unwrap()
    );
    // Never shorter than five minutes.
    assert!(a.replay_expiry(now()) >= now() + chrono::Duration::minutes(5));
}
