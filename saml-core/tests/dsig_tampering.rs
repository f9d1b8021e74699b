//! Signature verification refuses every tampering with the right code:
//! changed bytes, digests and references, removed or doubled signatures,
//! foreign keys, forbidden transforms and algorithms, and ID wrapping.
//! Keys are the bench fixtures' (`../shared/bench-fixtures`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use saml_core::crypto::{Certificate, PublicKey, SignatureAlgorithm, SigningKey};
use saml_core::dsig::{SignOptions, VerifyOptions, sign_enveloped, verify_enveloped};
use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    std::fs::read_to_string(dir.join("bench-fixtures").join(name)).unwrap()
}

fn idp_key() -> SigningKey {
    let cert = Certificate::from_pem(&fixture("idp-cert.pem"))
        .unwrap()
        .remove(0);
    SigningKey::from_pem(&fixture("idp-key.pem"))
        .unwrap()
        .with_certificate(cert)
        .unwrap()
}

fn idp_public() -> PublicKey {
    Certificate::from_pem(&fixture("idp-cert.pem")).unwrap()[0]
        .public_key()
        .clone()
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

const ASSERTION: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0"><saml:Issuer>https://idp.example.test</saml:Issuer><saml:Assertion ID="_a1" Version="2.0" IssueInstant="2024-06-01T12:00:00Z"><saml:Issuer>https://idp.example.test</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.test</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="role"><saml:AttributeValue>user</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"#;

fn signed() -> String {
    sign_enveloped(ASSERTION, "_a1", &idp_key(), &SignOptions::default()).unwrap()
}

fn verify(xml: &str) -> Result<(), ErrorCode> {
    verify_with(xml, &[idp_public()], &VerifyOptions::new())
}

fn verify_with(xml: &str, keys: &[PublicKey], options: &VerifyOptions) -> Result<(), ErrorCode> {
    let doc = Document::parse(xml, &Limits::default()).map_err(|e| e.code())?;
    let assertion = doc
        .root()
        .child_elements()
        .find(|e| e.local_name() == "Assertion")
        .unwrap();
    verify_enveloped(assertion, keys, options)
        .map(|v| assert_eq!(v.element().id(), assertion.id()))
        .map_err(|e| e.code())
}

#[test]
fn signed_assertion_verifies_and_the_signature_sits_after_issuer() {
    let xml = signed();
    assert_eq!(verify(&xml), Ok(()));
    let issuer_end = xml
        .find("</saml:Issuer><ds:Signature")
        .expect("Signature right after the assertion's Issuer");
    assert!(issuer_end > xml.find("<saml:Assertion").unwrap());
}

#[test]
fn every_changed_byte_in_the_signed_content_is_caught() {
    let xml = signed();
    let start = xml.find("<saml:Assertion").unwrap();
    let sig_start = xml.find("<ds:Signature").unwrap();
    let sig_end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let end = xml.find("</saml:Assertion>").unwrap();
    let mut tried = 0;
    // Flip one letter or digit at a time in text and attribute values of the
    // signed assertion (outside its Signature); markup stays well-formed.
    for i in (start..end).filter(|i| !(sig_start..sig_end).contains(i)) {
        let b = xml.as_bytes()[i];
        if !b.is_ascii_alphanumeric() || !in_value_or_text(&xml, i) {
            continue;
        }
        let mut bytes = xml.clone().into_bytes();
        bytes[i] = if b == b'x' { b'y' } else { b'x' };
        let tampered = String::from_utf8(bytes).unwrap();
        let got = verify(&tampered);
        assert!(
            matches!(
                got,
                Err(ErrorCode::DigestMismatch | ErrorCode::ReferenceMismatch)
            ),
            "byte {i} changed: {got:?}"
        );
        tried += 1;
    }
    assert!(tried > 100, "only {tried} positions tried");
}

/// True if position `i` is inside an attribute value or text (not a name).
fn in_value_or_text(xml: &str, i: usize) -> bool {
    let before = &xml[..i];
    let last_open = before.rfind('<').unwrap_or(0);
    let last_close = before.rfind('>');
    if last_close.is_some_and(|c| c > last_open) {
        return true; // text
    }
    before[last_open..].matches('"').count() % 2 == 1
}

#[test]
fn changes_in_signed_info_break_the_signature() {
    let xml = signed();
    let tampered = xml.replace("<ds:SignedInfo>", "<ds:SignedInfo Id=\"x\">");
    assert_eq!(verify(&tampered), Err(ErrorCode::SignatureInvalid));
    let value_start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut bytes = xml.into_bytes();
    bytes[value_start + 5] = if bytes[value_start + 5] == b'A' {
        b'B'
    } else {
        b'A'
    };
    assert_eq!(
        verify(&String::from_utf8(bytes).unwrap()),
        Err(ErrorCode::SignatureInvalid)
    );
}

#[test]
fn changed_digest_value_is_a_digest_mismatch() {
    let xml = signed();
    let at = xml.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
    let mut bytes = xml.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        verify(&String::from_utf8(bytes).unwrap()),
        Err(ErrorCode::DigestMismatch)
    );
}

#[test]
fn removed_signature_is_missing() {
    let xml = signed();
    let a = xml.find("<ds:Signature").unwrap();
    let b = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let stripped = format!("{}{}", &xml[..a], &xml[b..]);
    assert_eq!(verify(&stripped), Err(ErrorCode::SignatureMissing));
}

#[test]
fn two_signatures_are_refused() {
    let xml = signed();
    let a = xml.find("<ds:Signature").unwrap();
    let b = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let doubled = format!("{}{}{}", &xml[..b], &xml[a..b], &xml[b..]);
    assert_eq!(verify(&doubled), Err(ErrorCode::SignatureInvalid));
}

#[test]
fn reference_problems_are_reference_mismatches() {
    let xml = signed();
    let second = xml.replace(
        "</ds:Reference>",
        "</ds:Reference><ds:Reference URI=\"#_r1\"></ds:Reference>",
    );
    assert_eq!(verify(&second), Err(ErrorCode::ReferenceMismatch));
    let other = xml.replace("URI=\"#_a1\"", "URI=\"#_r1\"");
    assert_eq!(verify(&other), Err(ErrorCode::ReferenceMismatch));
    let external = xml.replace("URI=\"#_a1\"", "URI=\"https://evil.example/x\"");
    assert_eq!(verify(&external), Err(ErrorCode::ReferenceMismatch));
    // URI="" is only the whole document when the signature is on the root.
    let whole = xml.replace("URI=\"#_a1\"", "URI=\"\"");
    assert_eq!(verify(&whole), Err(ErrorCode::ReferenceMismatch));
    // Changing the element's ID (the Entra "attribute tampered" case).
    let renamed = xml.replace("<saml:Assertion ID=\"_a1\"", "<saml:Assertion ID=\"_a2\"");
    assert_eq!(verify(&renamed), Err(ErrorCode::ReferenceMismatch));
}

#[test]
fn wrapping_with_a_duplicate_id_is_refused() {
    let xml = signed();
    // XSW: a copy of the signed assertion hidden elsewhere, carrying the same ID.
    let a = xml.find("<saml:Assertion").unwrap();
    let b = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let evil = xml[a..b].replace("alice@example.test", "admin@example.test");
    let wrapped = xml.replace("<saml:Issuer>https://idp.example.test</saml:Issuer><saml:Assertion", &format!("<saml:Issuer>https://idp.example.test</saml:Issuer><samlp:Extensions>{evil}</samlp:Extensions><saml:Assertion"));
    let doc = Document::parse(&wrapped, &Limits::default()).unwrap();
    for assertion in doc
        .root()
        .descendants()
        .filter(|e| e.local_name() == "Assertion")
    {
        let got = verify_enveloped(assertion, &[idp_public()], &VerifyOptions::new())
            .map(|_| ())
            .map_err(|e| e.code());
        assert_eq!(got, Err(ErrorCode::SignatureInvalid));
    }
}

#[test]
fn keys_come_only_from_the_trusted_list() {
    // Signed by another key whose certificate travels in KeyInfo.
    let foreign = sign_enveloped(ASSERTION, "_a1", &sp_key(), &SignOptions::default()).unwrap();
    assert_eq!(verify(&foreign), Err(ErrorCode::SignatureInvalid));
    // Signed by the trusted key, but KeyInfo names a foreign certificate: KeyInfo
    // selects nothing, the trusted key still verifies.
    let genuine = signed();
    let sp_cert_b64: String = fixture("sp-cert.pem")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let relabeled = regex_replace_between(
        &genuine,
        "<ds:X509Certificate>",
        "</ds:X509Certificate>",
        &sp_cert_b64,
    );
    assert_eq!(verify(&relabeled), Ok(()));
    // No trusted key at all.
    assert_eq!(
        verify_with(&genuine, &[], &VerifyOptions::new()),
        Err(ErrorCode::UntrustedKey)
    );
    // The foreign key is trusted only if configured.
    let sp_public = Certificate::from_pem(&fixture("sp-cert.pem")).unwrap()[0]
        .public_key()
        .clone();
    assert_eq!(
        verify_with(&foreign, &[idp_public(), sp_public], &VerifyOptions::new()),
        Ok(())
    );
}

fn regex_replace_between(s: &str, open: &str, close: &str, with: &str) -> String {
    let a = s.find(open).unwrap() + open.len();
    let b = s[a..].find(close).unwrap() + a;
    format!("{}{}{}", &s[..a], with, &s[b..])
}

#[test]
fn transforms_beyond_the_allowed_ones_are_refused() {
    let xml = signed();
    let xslt = xml.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"></ds:Transform>",
    );
    assert_ne!(xslt, xml);
    assert_eq!(verify(&xslt), Err(ErrorCode::AlgorithmForbidden));
    let xpath = xml.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>",
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>1</ds:XPath></ds:Transform>",
    );
    assert_eq!(verify(&xpath), Err(ErrorCode::AlgorithmForbidden));
    let no_enveloped = xml.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
        "",
    );
    assert_eq!(verify(&no_enveloped), Err(ErrorCode::AlgorithmForbidden));
    let c14n = xml.replace(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n2\">",
    );
    assert_eq!(verify(&c14n), Err(ErrorCode::AlgorithmForbidden));
    let object = xml.replace("</ds:Signature>", "<ds:Object>x</ds:Object></ds:Signature>");
    assert_eq!(verify(&object), Err(ErrorCode::SignatureInvalid));
}

#[test]
fn sha1_needs_the_opt_in() {
    let xml = signed().replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    assert_eq!(verify(&xml), Err(ErrorCode::AlgorithmForbidden));
    // With the opt-in the algorithm is accepted (and this signature, made
    // with SHA-256, then fails as it should).
    let got = verify_with(
        &xml,
        &[idp_public()],
        &VerifyOptions::new().dangerous_allow_sha1(),
    );
    assert_eq!(got, Err(ErrorCode::SignatureInvalid));
    let digest = signed().replace(
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    );
    assert_eq!(verify(&digest), Err(ErrorCode::AlgorithmForbidden));
    let mut sha1 = SignOptions::default();
    sha1.algorithm = Some(SignatureAlgorithm::RsaSha1);
    assert_eq!(
        sign_enveloped(ASSERTION, "_a1", &idp_key(), &sha1)
            .unwrap_err()
            .code(),
        ErrorCode::AlgorithmForbidden
    );
}

#[test]
fn comments_in_signed_text_change_nothing_and_never_truncate() {
    let xml = signed();
    let injected = xml.replace(
        "alice@example.test",
        "alice@example.test<!---->.evil.example",
    );
    // The comment is not part of the digest input, but the added text is.
    assert_eq!(verify(&injected), Err(ErrorCode::DigestMismatch));
    let harmless = xml.replace("alice@example.test", "alice@<!-- note -->example.test");
    assert_eq!(verify(&harmless), Ok(()));
    let doc = Document::parse(&harmless, &Limits::default()).unwrap();
    let name_id = doc
        .root()
        .descendants()
        .find(|e| e.local_name() == "NameID")
        .unwrap();
    assert_eq!(name_id.text(), "alice@example.test");
}
