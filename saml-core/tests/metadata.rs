//! Metadata: picking an IdP out of an aggregate, not-found and ambiguous
//! entities, `validUntil` and `cacheDuration`, signed metadata (valid, wrong
//! key, tampered, unsigned, wrapped), SP metadata round trips through our own
//! reader, and two outside oracles on our SP metadata: pysaml2 (schema
//! validation against the OASIS XSD and its metadata store) and `xmlsec1
//! --verify` on the signed form. The captured real-IdP metadata vectors are
//! checked in `tests/tests/metadata_vectors.rs` (it needs JSON).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use saml_core::clock::parse_datetime;
use saml_core::crypto::{Certificate, PublicKey, SigningKey};
use saml_core::dsig::{DSIG_NS, SignOptions, VerifyOptions, sign_enveloped, verify_enveloped};
use saml_core::metadata::{
    ContactType, Endpoint, IdpMetadata, KeyUse, MetadataOptions, SP_ENCRYPTION_METHODS, Severity,
    SpMetadata, format_duration, parse_duration,
};
use saml_core::protocol::bindings::{HTTP_ARTIFACT, HTTP_POST, HTTP_REDIRECT, SOAP};
use saml_core::protocol::{MD_NS, name_id_format};
use saml_core::xml::{Document, Element};
use saml_core::{ErrorCode, Limits};

fn shared() -> PathBuf {
    std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(shared().join("bench-fixtures").join(name)).unwrap()
}

fn sp_cert() -> Certificate {
    Certificate::from_pem(&fixture("sp-cert.pem"))
        .unwrap()
        .remove(0)
}

fn idp_cert() -> Certificate {
    Certificate::from_pem(&fixture("idp-cert.pem"))
        .unwrap()
        .remove(0)
}

/// The SP key with its certificate (so signatures carry it in KeyInfo).
fn sp_key() -> SigningKey {
    SigningKey::from_pem(&fixture("sp-key.pem"))
        .unwrap()
        .with_certificate(sp_cert())
        .unwrap()
}

fn idp_key() -> SigningKey {
    SigningKey::from_pem(&fixture("idp-key.pem"))
        .unwrap()
        .with_certificate(idp_cert())
        .unwrap()
}

fn b64(cert: &Certificate) -> String {
    base64::engine::general_purpose::STANDARD.encode(cert.der())
}

fn t(s: &str) -> DateTime<Utc> {
    parse_datetime(s).unwrap()
}

/// One IdP `EntityDescriptor` (without namespace declarations when `bare`,
/// for use inside an aggregate that declares them).
fn idp_entity(entity_id: &str, extra_attrs: &str, bare: bool) -> String {
    let ns = if bare {
        String::new()
    } else {
        format!(r#" xmlns:md="{MD_NS}" xmlns:ds="{DSIG_NS}""#)
    };
    format!(
        r#"<md:EntityDescriptor{ns} ID="{id}" entityID="{entity_id}"{extra_attrs}>
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
{cert}
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="{HTTP_REDIRECT}" Location="{entity_id}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
        id = xml_id(entity_id),
        cert = b64(&idp_cert()),
    )
}

/// An XML ID derived from an entity ID (`https://a.example` -> `_https___a_example`).
fn xml_id(entity_id: &str) -> String {
    let mut id = String::from("_");
    id.extend(
        entity_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    id
}

fn sp_entity(entity_id: &str) -> String {
    format!(
        r#"<md:EntityDescriptor entityID="{entity_id}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="{HTTP_POST}" Location="{entity_id}/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

/// An aggregate with two IdPs (one in a nested group) and one SP.
fn aggregate(root_attrs: &str, nested_attrs: &str, b_attrs: &str) -> String {
    format!(
        r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}" xmlns:ds="{DSIG_NS}" ID="_agg" Name="test federation"{root_attrs}>
{a}
<md:EntitiesDescriptor Name="nested"{nested_attrs}>
{b}
</md:EntitiesDescriptor>
{sp}
</md:EntitiesDescriptor>"#,
        a = idp_entity("https://a.example", "", true),
        b = idp_entity("https://b.example", b_attrs, true),
        sp = sp_entity("https://sp.example"),
    )
}

fn code_of<T: std::fmt::Debug>(r: saml_core::Result<T>) -> ErrorCode {
    r.unwrap_err().code()
}

// ---------------------------------------------------------------------------
// Picking entities

#[test]
fn aggregate_needs_an_entity_id_when_ambiguous() {
    let xml = aggregate("", "", "");
    let err = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownProvider);
    assert!(err.detail().contains("2 IdP entities"), "{err}");
}

#[test]
fn aggregate_picks_by_entity_id() {
    let xml = aggregate("", "", "");
    for id in ["https://a.example", "https://b.example"] {
        let idp = IdpMetadata::parse(&xml, &MetadataOptions::new().with_entity_id(id)).unwrap();
        assert_eq!(idp.entity_id(), id);
        assert_eq!(
            idp.sso_endpoint(HTTP_REDIRECT).unwrap().location,
            format!("{id}/sso")
        );
        assert_eq!(idp.signing_certificates().len(), 1);
        assert_eq!(idp.signing_certificates()[0].der(), idp_cert().der());
        assert!(idp.encryption_certificates().is_empty());
        assert!(!idp.signature_verified());
    }
    let all = IdpMetadata::parse_all(&xml, &MetadataOptions::new()).unwrap();
    let ids: Vec<_> = all.iter().map(IdpMetadata::entity_id).collect();
    assert_eq!(ids, ["https://a.example", "https://b.example"]);
}

#[test]
fn unknown_and_non_idp_entities_are_refused() {
    let xml = aggregate("", "", "");
    let err = IdpMetadata::parse(&xml, &MetadataOptions::new().with_entity_id("https://nope"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownProvider);
    assert!(err.detail().contains("https://nope"), "{err}");

    let err = IdpMetadata::parse(
        &xml,
        &MetadataOptions::new().with_entity_id("https://sp.example"),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownProvider);
    assert!(err.detail().contains("no IdP role"), "{err}");

    // A lone EntityDescriptor must still match a requested entity ID.
    let single = idp_entity("https://a.example", "", false);
    assert_eq!(
        code_of(IdpMetadata::parse(
            &single,
            &MetadataOptions::new().with_entity_id("https://b.example")
        )),
        ErrorCode::UnknownProvider
    );
    // An SP's own metadata is not an IdP.
    let sp = SpMetadata::new("https://sp.example")
        .assertion_consumer_service(HTTP_POST, "https://sp.example/acs")
        .to_xml();
    assert_eq!(
        code_of(IdpMetadata::parse(&sp, &MetadataOptions::new())),
        ErrorCode::UnknownProvider
    );
    assert!(
        IdpMetadata::parse_all(&sp, &MetadataOptions::new())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_only_idp_of_an_aggregate_is_picked() {
    let xml = format!(
        r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}" xmlns:ds="{DSIG_NS}">{}{}</md:EntitiesDescriptor>"#,
        sp_entity("https://sp.example"),
        idp_entity("https://a.example", "", true)
    );
    let idp = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap();
    assert_eq!(idp.entity_id(), "https://a.example");

    let none = format!(
        r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}">{}</md:EntitiesDescriptor>"#,
        sp_entity("https://sp.example")
    );
    let err = IdpMetadata::parse(&none, &MetadataOptions::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownProvider);
}

#[test]
fn duplicate_entities_are_refused() {
    let xml = format!(
        r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}" xmlns:ds="{DSIG_NS}">{}{}</md:EntitiesDescriptor>"#,
        idp_entity("https://a.example", "", true),
        idp_entity("https://a.example", "", true).replace("_https___a_example", "_other")
    );
    let err = IdpMetadata::parse(
        &xml,
        &MetadataOptions::new().with_entity_id("https://a.example"),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MalformedXml);
    assert!(err.detail().contains("2 times"), "{err}");
}

#[test]
fn non_metadata_documents_are_refused() {
    for xml in [
        "<foo/>",
        r#"<EntityDescriptor entityID="x"/>"#,
        "not xml",
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>"#,
    ] {
        assert_eq!(
            code_of(IdpMetadata::parse(xml, &MetadataOptions::new())),
            ErrorCode::MalformedXml,
            "{xml}"
        );
    }
    let dtd = r#"<!DOCTYPE x [<!ENTITY e "boom">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&e;"/>"#;
    assert_eq!(
        code_of(IdpMetadata::parse(dtd, &MetadataOptions::new())),
        ErrorCode::DtdForbidden
    );
}

#[test]
fn limits_are_the_callers() {
    let xml = aggregate("", "", "");
    let small = Limits {
        max_xml_bytes: 256,
        ..Limits::default()
    };
    assert_eq!(
        code_of(IdpMetadata::parse(
            &xml,
            &MetadataOptions::new().with_limits(small)
        )),
        ErrorCode::InputTooLarge
    );
    let mut big = "<!--x-->".repeat(200_000);
    big.push_str(&idp_entity("https://a.example", "", false));
    assert_eq!(
        code_of(IdpMetadata::parse(&big, &MetadataOptions::new())),
        ErrorCode::InputTooLarge
    );
    let roomy = Limits {
        max_xml_bytes: 4 << 20,
        max_nodes: 1_000_000,
        ..Limits::default()
    };
    assert!(IdpMetadata::parse(&big, &MetadataOptions::new().with_limits(roomy)).is_ok());
}

#[test]
fn unusable_certificates_are_reported_with_the_entity() {
    let xml = idp_entity("https://a.example", "", false).replace("MII", "AAA");
    let err = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap_err();
    assert!(err.detail().contains("https://a.example"), "{err}");
    // In an aggregate, the broken entity is left out of parse_all only.
    let agg = aggregate("", "", "").replacen("MII", "AAA", 1);
    let all = IdpMetadata::parse_all(&agg, &MetadataOptions::new()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].entity_id(), "https://b.example");
}

// ---------------------------------------------------------------------------
// validUntil and cacheDuration

#[test]
fn valid_until_in_the_past_is_expired() {
    let xml = aggregate(r#" validUntil="2030-01-01T00:00:00Z""#, "", "");
    let options = MetadataOptions::new().with_entity_id("https://a.example");
    let idp = IdpMetadata::parse(&xml, &options).unwrap();
    assert_eq!(idp.valid_until(), Some(t("2030-01-01T00:00:00Z")));
    assert!(IdpMetadata::parse(&xml, &options.clone().with_now(t("2029-12-31T23:59:59Z"))).is_ok());
    let err =
        IdpMetadata::parse(&xml, &options.clone().with_now(t("2030-01-01T00:00:00Z"))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Expired);
    assert!(err.detail().contains("2030-01-01T00:00:00Z"), "{err}");
    // Without a clock nothing is checked, but lint says so.
    let findings = idp.lint(t("2031-01-01T00:00:00Z"));
    assert!(
        findings
            .iter()
            .any(|f| f.code == "metadata_expired" && f.severity == Severity::Error)
    );
    // The root's expiry fails parse_all as a whole.
    assert_eq!(
        code_of(IdpMetadata::parse_all(
            &xml,
            &MetadataOptions::new().with_now(t("2031-01-01T00:00:00Z"))
        )),
        ErrorCode::Expired
    );
}

#[test]
fn entity_and_nested_valid_until_apply() {
    // b's own validUntil passed; a is fine.
    let xml = aggregate("", "", r#" validUntil="2020-01-01T00:00:00Z""#);
    let now = t("2025-01-01T00:00:00Z");
    let options = MetadataOptions::new().with_now(now);
    assert_eq!(
        code_of(IdpMetadata::parse(
            &xml,
            &options.clone().with_entity_id("https://b.example")
        )),
        ErrorCode::Expired
    );
    assert!(IdpMetadata::parse(&xml, &options.clone().with_entity_id("https://a.example")).is_ok());
    let all = IdpMetadata::parse_all(&xml, &options).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].entity_id(), "https://a.example");

    // The nested group's validUntil covers b; the earliest one wins.
    let xml = aggregate(
        r#" validUntil="2040-01-01T00:00:00Z""#,
        r#" validUntil="2021-06-01T00:00:00Z""#,
        r#" validUntil="2035-01-01T00:00:00Z""#,
    );
    let b = IdpMetadata::parse(
        &xml,
        &MetadataOptions::new().with_entity_id("https://b.example"),
    )
    .unwrap();
    assert_eq!(b.valid_until(), Some(t("2021-06-01T00:00:00Z")));
    let a = IdpMetadata::parse(
        &xml,
        &MetadataOptions::new().with_entity_id("https://a.example"),
    )
    .unwrap();
    assert_eq!(a.valid_until(), Some(t("2040-01-01T00:00:00Z")));
    assert_eq!(
        code_of(IdpMetadata::parse(
            &xml,
            &options.with_entity_id("https://b.example")
        )),
        ErrorCode::Expired
    );
}

#[test]
fn cache_duration_is_read_and_checked() {
    let xml = aggregate(r#" cacheDuration="P1D""#, "", r#" cacheDuration="PT5M30S""#);
    let a = IdpMetadata::parse(
        &xml,
        &MetadataOptions::new().with_entity_id("https://a.example"),
    )
    .unwrap();
    assert_eq!(a.cache_duration(), Some(Duration::from_secs(86_400)));
    let b = IdpMetadata::parse(
        &xml,
        &MetadataOptions::new().with_entity_id("https://b.example"),
    )
    .unwrap();
    assert_eq!(b.cache_duration(), Some(Duration::from_secs(330)));

    let single = idp_entity("https://a.example", r#" cacheDuration="PT1H""#, false);
    let idp = IdpMetadata::parse(&single, &MetadataOptions::new()).unwrap();
    assert_eq!(idp.cache_duration(), Some(Duration::from_secs(3_600)));
    let none = IdpMetadata::parse(
        &idp_entity("https://a.example", "", false),
        &MetadataOptions::new(),
    )
    .unwrap();
    assert_eq!(none.cache_duration(), None);
    assert_eq!(none.valid_until(), None);

    for bad in ["1 hour", "PT1H30", "P1H", "-PT1H", "PT", ""] {
        let xml = idp_entity(
            "https://a.example",
            &format!(r#" cacheDuration="{bad}""#),
            false,
        );
        let err = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml, "{bad}");
        assert!(err.detail().contains("cacheDuration"), "{err}");
    }
}

#[test]
fn duration_syntax() {
    let cases = [
        ("PT1H", 3_600),
        ("P1D", 86_400),
        ("PT5M30S", 330),
        ("P7D", 604_800),
        ("PT0S", 0),
        ("P1DT2H3M4S", 93_784),
        ("P1Y", 365 * 86_400),
        ("P1M", 30 * 86_400),
    ];
    for (text, secs) in cases {
        assert_eq!(
            parse_duration(text).unwrap(),
            Duration::from_secs(secs),
            "{text}"
        );
    }
    assert_eq!(
        parse_duration("PT1.5S").unwrap(),
        Duration::from_millis(1_500)
    );
    for bad in [
        "P", "T1H", "P1H", "PT1D", "P1M1Y", "PT1H1H", "PT1,5S", "P-1D", "+P1D", "P1DT",
    ] {
        assert_eq!(
            parse_duration(bad).unwrap_err().code(),
            ErrorCode::MalformedXml,
            "{bad}"
        );
    }
    assert_eq!(format_duration(Duration::from_secs(330)), "PT5M30S");
    assert_eq!(format_duration(Duration::from_secs(604_800)), "P7D");
}

// ---------------------------------------------------------------------------
// Signed metadata

fn signed_idp_metadata(key: &SigningKey) -> String {
    let xml = idp_entity("https://a.example", "", false);
    sign_enveloped(
        &xml,
        &xml_id("https://a.example"),
        key,
        &SignOptions::default(),
    )
    .unwrap()
}

fn trusting(keys: Vec<PublicKey>) -> MetadataOptions {
    MetadataOptions::new().with_trusted_signers(keys)
}

#[test]
fn signed_metadata_verifies_with_the_trusted_key() {
    let signed = signed_idp_metadata(&sp_key());
    let idp = IdpMetadata::parse(&signed, &trusting(vec![sp_cert().public_key().clone()])).unwrap();
    assert!(idp.signature_verified());
    assert_eq!(idp.entity_id(), "https://a.example");
    // Several trusted signers (a metadata key rollover): any one will do.
    let idp = IdpMetadata::parse(
        &signed,
        &trusting(vec![
            idp_cert().public_key().clone(),
            sp_cert().public_key().clone(),
        ]),
    )
    .unwrap();
    assert!(idp.signature_verified());
    // Without trusted signers the signature is not checked (and not claimed).
    let idp = IdpMetadata::parse(&signed, &MetadataOptions::new()).unwrap();
    assert!(!idp.signature_verified());
}

#[test]
fn signed_metadata_with_another_key_is_refused() {
    let signed = signed_idp_metadata(&sp_key());
    let code = code_of(IdpMetadata::parse(
        &signed,
        &trusting(vec![idp_cert().public_key().clone()]),
    ));
    assert!(
        matches!(code, ErrorCode::SignatureInvalid | ErrorCode::UntrustedKey),
        "{code:?}"
    );
    // Signed by the IdP key, trusting the SP key.
    let other = signed_idp_metadata(&idp_key());
    assert!(IdpMetadata::parse(&other, &trusting(vec![sp_cert().public_key().clone()])).is_err());
}

#[test]
fn tampered_metadata_is_refused() {
    let signed = signed_idp_metadata(&sp_key());
    let trusted = trusting(vec![sp_cert().public_key().clone()]);
    let tampered = signed.replace("https://a.example/sso", "https://evil.example/sso");
    assert_ne!(tampered, signed);
    assert_eq!(
        code_of(IdpMetadata::parse(&tampered, &trusted)),
        ErrorCode::DigestMismatch
    );
    // A key substituted in the metadata.
    let swapped = signed.replacen(&b64(&idp_cert()), &b64(&sp_cert()), 1);
    assert_ne!(swapped, signed);
    assert_eq!(
        code_of(IdpMetadata::parse(&swapped, &trusted)),
        ErrorCode::DigestMismatch
    );
}

#[test]
fn unsigned_metadata_with_trusted_signers_is_refused() {
    let xml = idp_entity("https://a.example", "", false);
    assert_eq!(
        code_of(IdpMetadata::parse(
            &xml,
            &trusting(vec![sp_cert().public_key().clone()])
        )),
        ErrorCode::SignatureMissing
    );
    assert_eq!(
        code_of(IdpMetadata::parse_all(
            &xml,
            &trusting(vec![sp_cert().public_key().clone()])
        )),
        ErrorCode::SignatureMissing
    );
    // Insisting on signatures without a key is a configuration error.
    assert_eq!(
        code_of(IdpMetadata::parse(
            &xml,
            &MetadataOptions::new().with_allow_unsigned(false)
        )),
        ErrorCode::UntrustedKey
    );
}

#[test]
fn a_signed_entity_wrapped_in_an_unsigned_aggregate_is_refused() {
    // The signature must be on the document element: a signed entity moved
    // into an attacker's aggregate next to an evil entity does not count.
    let signed = signed_idp_metadata(&sp_key());
    let inner = signed.replace(&format!(r#" xmlns:md="{MD_NS}" xmlns:ds="{DSIG_NS}""#), "");
    let wrapped = format!(
        r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}" xmlns:ds="{DSIG_NS}">{inner}{}</md:EntitiesDescriptor>"#,
        idp_entity("https://evil.example", "", true)
    );
    let options =
        trusting(vec![sp_cert().public_key().clone()]).with_entity_id("https://a.example");
    assert_eq!(
        code_of(IdpMetadata::parse(&wrapped, &options)),
        ErrorCode::SignatureMissing
    );
}

#[test]
fn signed_aggregates_verify_at_the_root() {
    let xml = aggregate("", "", "");
    let signed = sign_enveloped(&xml, "_agg", &sp_key(), &SignOptions::default()).unwrap();
    let trusted = trusting(vec![sp_cert().public_key().clone()]);
    let all = IdpMetadata::parse_all(&signed, &trusted).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(IdpMetadata::signature_verified));
    let b = IdpMetadata::parse(
        &signed,
        &trusted.clone().with_entity_id("https://b.example"),
    )
    .unwrap();
    assert!(b.signature_verified());
    let tampered = signed.replace("https://b.example/sso", "https://evil.example/sso");
    assert_eq!(
        code_of(IdpMetadata::parse_all(&tampered, &trusted)),
        ErrorCode::DigestMismatch
    );
}

#[test]
fn sha1_metadata_signatures_need_the_opt_in() {
    // We never make SHA-1 signatures, so xmlsec1 signs a template.
    let id = xml_id("https://a.example");
    let template = idp_entity("https://a.example", "", false).replacen(
        "\n  <md:IDPSSODescriptor",
        &format!(
            r##"<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>
  <md:IDPSSODescriptor"##
        ),
        1,
    );
    let path = temp_file("sha1-template.xml", &template);
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(shared().join("bench-fixtures/sp-key.pem"))
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")
        .arg(&path.0)
        .output()
        .expect("run xmlsec1 (is it installed?)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = String::from_utf8(out.stdout).unwrap();
    let trusted = trusting(vec![sp_cert().public_key().clone()]);
    assert_eq!(
        code_of(IdpMetadata::parse(&signed, &trusted)),
        ErrorCode::AlgorithmForbidden
    );
    let legacy = trusted.with_verify_options(VerifyOptions::new().dangerous_allow_sha1());
    assert!(
        IdpMetadata::parse(&signed, &legacy)
            .unwrap()
            .signature_verified()
    );
}

// ---------------------------------------------------------------------------
// Reading the IdP role in detail

#[test]
fn full_idp_role_is_read() {
    let sp = b64(&sp_cert());
    let idp = b64(&idp_cert());
    let xml = format!(
        r#"<EntityDescriptor xmlns="{MD_NS}" entityID="https://idp.example.org/x?a=1&amp;b=2">
  <IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><KeyInfo xmlns="{DSIG_NS}"><KeyName>k1</KeyName><X509Data><X509Certificate>{idp}</X509Certificate><X509Certificate>{sp}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <KeyDescriptor use="signing"><KeyInfo xmlns="{DSIG_NS}"><X509Data><X509Certificate>{idp}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <KeyDescriptor use="signing"><KeyInfo xmlns="{DSIG_NS}"><KeyName>only a name</KeyName></KeyInfo></KeyDescriptor>
    <KeyDescriptor use="encryption"><KeyInfo xmlns="{DSIG_NS}"><X509Data><X509Certificate>{sp}</X509Certificate></X509Data></KeyInfo><EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/></KeyDescriptor>
    <KeyDescriptor><KeyInfo xmlns="{DSIG_NS}"><X509Data><X509Certificate>{sp}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <ArtifactResolutionService Binding="{SOAP}" Location="https://idp.example.org/ars" index="3" isDefault="true"/>
    <SingleLogoutService Binding="{HTTP_REDIRECT}" Location="https://idp.example.org/slo" ResponseLocation="https://idp.example.org/slo/resp"/>
    <SingleLogoutService Binding="{HTTP_POST}" Location="https://idp.example.org/slo-post"/>
    <NameIDFormat>{email}</NameIDFormat>
    <NameIDFormat>{persistent}</NameIDFormat>
    <SingleSignOnService Binding="{HTTP_POST}" Location="https://idp.example.org/sso-post"/>
    <SingleSignOnService Binding="{HTTP_REDIRECT}" Location="https://idp.example.org/sso-redirect"/>
    <SingleSignOnService Binding="{HTTP_REDIRECT}" Location="https://idp.example.org/second"/>
    <Attribute xmlns="urn:oasis:names:tc:SAML:2.0:assertion" Name="ignored"/>
  </IDPSSODescriptor>
</EntityDescriptor>"#,
        email = name_id_format::EMAIL,
        persistent = name_id_format::PERSISTENT,
    );
    let idp = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap();
    assert_eq!(idp.entity_id(), "https://idp.example.org/x?a=1&b=2");
    assert!(idp.want_authn_requests_signed());
    assert_eq!(idp.sso_endpoints().len(), 3);
    assert_eq!(
        idp.sso_endpoint(HTTP_REDIRECT).unwrap().location,
        "https://idp.example.org/sso-redirect"
    );
    assert_eq!(
        idp.sso_endpoint(HTTP_POST).unwrap(),
        &Endpoint::new(HTTP_POST, "https://idp.example.org/sso-post")
    );
    assert!(idp.sso_endpoint(HTTP_ARTIFACT).is_none());
    let slo = idp.slo_endpoint(HTTP_REDIRECT).unwrap();
    assert_eq!(
        slo.response_location.as_deref(),
        Some("https://idp.example.org/slo/resp")
    );
    assert_eq!(idp.slo_endpoint(HTTP_POST).unwrap().response_location, None);
    let ars = &idp.artifact_resolution_endpoints()[0];
    assert_eq!((ars.index, ars.is_default), (Some(3), Some(true)));
    assert_eq!(idp.artifact_resolution_endpoint(Some(3)), Some(ars));
    assert_eq!(idp.artifact_resolution_endpoint(None), Some(ars));
    assert_eq!(
        idp.name_id_formats(),
        [name_id_format::EMAIL, name_id_format::PERSISTENT]
    );

    // Key descriptors without certificates are skipped; all others kept.
    let uses: Vec<_> = idp.key_descriptors().iter().map(|k| k.usage).collect();
    assert_eq!(
        uses,
        [
            Some(KeyUse::Signing),
            Some(KeyUse::Signing),
            Some(KeyUse::Encryption),
            None
        ]
    );
    assert_eq!(idp.key_descriptors()[0].certificates.len(), 2);
    assert_eq!(
        idp.key_descriptors()[2].encryption_methods,
        ["http://www.w3.org/2009/xmlenc11#aes128-gcm"]
    );
    // Distinct certificates: signing = idp + sp (rollover), encryption = sp.
    let signing: Vec<_> = idp
        .signing_certificates()
        .iter()
        .map(|c| c.der().to_vec())
        .collect();
    assert_eq!(
        signing,
        [idp_cert().der().to_vec(), sp_cert().der().to_vec()]
    );
    assert_eq!(idp.encryption_certificates().len(), 1);
    assert_eq!(idp.encryption_certificates()[0].der(), sp_cert().der());
    let keys = idp.signing_keys();
    assert_eq!(keys.len(), 2);
    assert_eq!(&keys[0], idp_cert().public_key());

    // Everything is fine here, except the certificates expire in 2045.
    let findings = idp.lint(t("2025-01-01T00:00:00Z"));
    assert!(findings.is_empty(), "{findings:?}");
    let findings = idp.lint(t("2044-12-15T00:00:00Z"));
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(
        findings
            .iter()
            .all(|f| f.code == "certificate_expiring" && f.severity == Severity::Warning)
    );
    let findings = idp.lint(t("2046-01-01T00:00:00Z"));
    assert!(
        findings.iter().all(|f| f.code == "certificate_expired"),
        "{findings:?}"
    );
}

#[test]
fn unknown_key_use_is_refused() {
    let xml = idp_entity("https://a.example", "", false).replace("use=\"signing\"", "use=\"both\"");
    assert_eq!(
        code_of(IdpMetadata::parse(&xml, &MetadataOptions::new())),
        ErrorCode::MalformedXml
    );
}

#[test]
fn hand_entered_idp_and_lint() {
    let idp = IdpMetadata::from_parts(
        "https://idp.example.org",
        vec![Endpoint::new(HTTP_REDIRECT, "https://idp.example.org/sso")],
        vec![Endpoint::new(HTTP_REDIRECT, "https://idp.example.org/slo")],
        Certificate::from_pem(&fixture("idp-cert.pem")).unwrap(),
    );
    assert_eq!(idp.entity_id(), "https://idp.example.org");
    assert_eq!(idp.signing_keys().len(), 1);
    assert!(idp.encryption_certificates().is_empty());
    assert!(!idp.signature_verified());
    assert!(!idp.want_authn_requests_signed());
    assert!(idp.lint(t("2025-01-01T00:00:00Z")).is_empty());

    let bare = IdpMetadata::from_parts(
        "https://idp.example.org",
        vec![Endpoint::new(HTTP_ARTIFACT, "http://idp.example.org/sso")],
        vec![],
        vec![],
    );
    let mut codes: Vec<_> = bare
        .lint(t("2025-01-01T00:00:00Z"))
        .into_iter()
        .map(|f| (f.code, f.severity))
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            ("insecure_endpoint", Severity::Warning),
            ("no_browser_sso_endpoint", Severity::Error),
            ("no_signing_certificate", Severity::Error),
            ("no_slo_endpoint", Severity::Warning),
        ]
    );
}

#[test]
fn weak_keys_are_linted() {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-keyout",
            "/dev/null",
            "-subj",
            "/CN=weak",
            "-days",
            "3650",
        ])
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let weak = Certificate::from_pem(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let idp = IdpMetadata::from_parts(
        "https://idp.example.org",
        vec![Endpoint::new(HTTP_POST, "https://idp.example.org/sso")],
        vec![Endpoint::new(HTTP_POST, "https://idp.example.org/slo")],
        weak,
    );
    let codes: Vec<_> = idp.lint(Utc::now()).into_iter().map(|f| f.code).collect();
    assert_eq!(codes, ["weak_key"]);
}

#[test]
fn bench_fixture_idp_metadata_parses() {
    let idp = IdpMetadata::parse(&fixture("idp-metadata.xml"), &MetadataOptions::new()).unwrap();
    assert_eq!(idp.entity_id(), "https://idp.example.test/saml2/metadata");
    assert_eq!(idp.signing_certificates()[0].der(), idp_cert().der());
}

// ---------------------------------------------------------------------------
// SP metadata

fn full_sp() -> SpMetadata {
    SpMetadata::new("https://sp.example.com/saml/metadata")
        .assertion_consumer_service(HTTP_POST, "https://sp.example.com/saml/acs")
        .assertion_consumer_service(HTTP_ARTIFACT, "https://sp.example.com/saml/artifact")
        .single_logout_service(HTTP_REDIRECT, "https://sp.example.com/saml/slo")
        .single_logout_service(HTTP_POST, "https://sp.example.com/saml/slo")
        .signing_certificate(sp_cert())
        .encryption_certificate(sp_cert())
        .name_id_format(name_id_format::PERSISTENT)
        .name_id_format(name_id_format::EMAIL)
        .authn_requests_signed(true)
        .want_assertions_signed(true)
        .valid_until(t("2030-06-01T12:00:00Z"))
        .cache_duration(Duration::from_secs(86_400))
        .organization(
            "Example & Co",
            "Example <Co>",
            "https://example.com/?a=1&b=\"2\"",
        )
        .contact(ContactType::Technical, "ops@example.com")
        .contact(ContactType::Support, "mailto:help@example.com")
}

fn names(el: Element<'_, '_>) -> Vec<String> {
    el.child_elements()
        .map(|c| c.local_name().to_owned())
        .collect()
}

#[test]
fn sp_metadata_round_trip() {
    let sp = full_sp();
    let xml = sp.to_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(MD_NS, "EntityDescriptor"));
    assert_eq!(
        root.attribute("entityID"),
        Some("https://sp.example.com/saml/metadata")
    );
    assert_eq!(root.attribute("ID"), Some(sp.id().as_str()));
    assert_eq!(root.attribute("validUntil"), Some("2030-06-01T12:00:00Z"));
    assert_eq!(root.attribute("cacheDuration"), Some("P1D"));
    assert_eq!(
        names(root),
        [
            "SPSSODescriptor",
            "Organization",
            "ContactPerson",
            "ContactPerson"
        ]
    );

    let role = root.child_elements().next().unwrap();
    assert!(role.is(MD_NS, "SPSSODescriptor"));
    assert_eq!(role.attribute("AuthnRequestsSigned"), Some("true"));
    assert_eq!(role.attribute("WantAssertionsSigned"), Some("true"));
    assert_eq!(
        role.attribute("protocolSupportEnumeration"),
        Some("urn:oasis:names:tc:SAML:2.0:protocol")
    );
    assert_eq!(
        names(role),
        [
            "KeyDescriptor",
            "KeyDescriptor",
            "SingleLogoutService",
            "SingleLogoutService",
            "NameIDFormat",
            "NameIDFormat",
            "AssertionConsumerService",
            "AssertionConsumerService"
        ]
    );
    let children: Vec<_> = role.child_elements().collect();
    for (kd, usage, methods) in [
        (children[0], "signing", &[][..]),
        (children[1], "encryption", SP_ENCRYPTION_METHODS),
    ] {
        assert!(kd.is(MD_NS, "KeyDescriptor"));
        assert_eq!(kd.attribute("use"), Some(usage));
        let cert = kd
            .descendants()
            .find(|e| e.is(DSIG_NS, "X509Certificate"))
            .unwrap();
        assert_eq!(
            Certificate::from_base64(&cert.text()).unwrap().der(),
            sp_cert().der()
        );
        let found: Vec<_> = kd
            .child_elements()
            .filter(|e| e.is(MD_NS, "EncryptionMethod"))
            .map(|e| e.attribute("Algorithm").unwrap())
            .collect();
        assert_eq!(found, methods);
    }
    assert_eq!(children[2].attribute("Binding"), Some(HTTP_REDIRECT));
    assert_eq!(
        children[2].attribute("Location"),
        Some("https://sp.example.com/saml/slo")
    );
    assert_eq!(children[3].attribute("Binding"), Some(HTTP_POST));
    assert_eq!(children[4].text(), name_id_format::PERSISTENT);
    assert_eq!(children[5].text(), name_id_format::EMAIL);
    for (el, binding, location, index, default) in [
        (
            children[6],
            HTTP_POST,
            "https://sp.example.com/saml/acs",
            "0",
            Some("true"),
        ),
        (
            children[7],
            HTTP_ARTIFACT,
            "https://sp.example.com/saml/artifact",
            "1",
            None,
        ),
    ] {
        assert!(el.is(MD_NS, "AssertionConsumerService"));
        assert_eq!(el.attribute("Binding"), Some(binding));
        assert_eq!(el.attribute("Location"), Some(location));
        assert_eq!(el.attribute("index"), Some(index));
        assert_eq!(el.attribute("isDefault"), default);
    }

    let org = root.child_elements().nth(1).unwrap();
    let org_texts: Vec<_> = org
        .child_elements()
        .map(|e| e.text().into_owned())
        .collect();
    assert_eq!(
        org_texts,
        [
            "Example & Co",
            "Example <Co>",
            "https://example.com/?a=1&b=\"2\""
        ]
    );
    assert_eq!(
        names(org),
        [
            "OrganizationName",
            "OrganizationDisplayName",
            "OrganizationURL"
        ]
    );
    let contacts: Vec<_> = root
        .child_elements()
        .filter(|e| e.local_name() == "ContactPerson")
        .map(|e| {
            (
                e.attribute("contactType").unwrap().to_owned(),
                e.child_elements().next().unwrap().text().into_owned(),
            )
        })
        .collect();
    assert_eq!(
        contacts,
        [
            ("technical".to_owned(), "mailto:ops@example.com".to_owned()),
            ("support".to_owned(), "mailto:help@example.com".to_owned())
        ]
    );
}

#[test]
fn sp_metadata_defaults() {
    let xml = SpMetadata::new("urn:sp")
        .assertion_consumer_service(HTTP_POST, "https://sp/acs")
        .to_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let role = doc.root().child_elements().next().unwrap();
    assert_eq!(role.attribute("AuthnRequestsSigned"), Some("false"));
    assert_eq!(role.attribute("WantAssertionsSigned"), Some("true"));
    assert_eq!(names(role), ["AssertionConsumerService"]);
    assert_eq!(doc.root().attribute("validUntil"), None);
    assert_eq!(doc.root().attribute("cacheDuration"), None);
}

#[test]
fn signed_sp_metadata_verifies() {
    let sp = full_sp();
    let signed = sp.to_signed_xml(&sp_key()).unwrap();
    let doc = Document::parse(&signed, &Limits::default()).unwrap();
    let root = doc.root();
    let first = root.child_elements().next().unwrap();
    assert!(
        first.is(DSIG_NS, "Signature"),
        "signature must be the first child"
    );
    let verified = verify_enveloped(
        root,
        &[sp_cert().public_key().clone()],
        &VerifyOptions::new(),
    )
    .unwrap();
    assert_eq!(verified.element().id(), root.id());
    // Another key does not verify it.
    assert!(
        verify_enveloped(
            root,
            &[idp_cert().public_key().clone()],
            &VerifyOptions::new()
        )
        .is_err()
    );
    // And a change breaks it.
    let tampered = signed.replace("saml/acs", "saml/evil");
    let doc = Document::parse(&tampered, &Limits::default()).unwrap();
    assert_eq!(
        verify_enveloped(
            doc.root(),
            &[sp_cert().public_key().clone()],
            &VerifyOptions::new()
        )
        .unwrap_err()
        .code(),
        ErrorCode::DigestMismatch
    );
}

// ---------------------------------------------------------------------------
// Outside oracles: pysaml2 and xmlsec1

fn python() -> PathBuf {
    std::env::var_os("SAML_PYTHON").map_or_else(|| PathBuf::from("/usr/bin/python3"), PathBuf::from)
}

/// Validates the metadata against the OASIS schema shipped with pysaml2 and
/// loads it into a pysaml2 metadata store; prints what pysaml2 read.
const PYSAML2_ORACLE: &str = r#"
import json, sys
from saml2.xml.schema import schema_saml_metadata
from saml2.mdstore import InMemoryMetaData
from saml2.attribute_converter import ac_factory

xml = open(sys.argv[1], encoding="utf-8").read()
schema_saml_metadata.validate(xml)
store = InMemoryMetaData(ac_factory(), metadata=xml)
store.load()
out = {"entities": list(store.keys())}
for eid in store.keys():
    ent = store[eid]
    sp = ent["spsso_descriptor"][0]
    out["acs"] = [[s["binding"], s["location"], s.get("index"), s.get("is_default")]
                  for s in sp.get("assertion_consumer_service", [])]
    out["slo"] = [[s["binding"], s["location"]] for s in sp.get("single_logout_service", [])]
    out["nameid"] = [n["text"] for n in sp.get("name_id_format", [])]
    out["authn_requests_signed"] = sp.get("authn_requests_signed")
    out["want_assertions_signed"] = sp.get("want_assertions_signed")
    out["signing"] = ["".join(c.split()) for c in store.certs(eid, "spsso", "signing")]
    out["encryption"] = ["".join(c.split()) for c in store.certs(eid, "spsso", "encryption")]
    out["encryption_methods"] = [m["algorithm"] for k in sp.get("key_descriptor", [])
                                 for m in k.get("encryption_method", [])]
    if "organization" in ent:
        org = ent["organization"]
        out["organization"] = [org["organization_name"][0]["text"],
                               org["organization_display_name"][0]["text"],
                               org["organization_url"][0]["text"]]
    out["contacts"] = [[c["contact_type"], c["email_address"][0]["text"]]
                       for c in ent.get("contact_person", [])]
print(json.dumps(out))
"#;

/// A file in a per-process temporary folder, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_file(name: &str, contents: &str) -> TempFile {
    let dir = std::env::temp_dir().join(format!("saml-core-metadata-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    TempFile(path)
}

fn pysaml2(xml: &str, name: &str) -> String {
    let path = temp_file(name, xml);
    let out = Command::new(python())
        .arg("-c")
        .arg(PYSAML2_ORACLE)
        .arg(&path.0)
        .output()
        .expect("run python3 with pysaml2 (Debian python3-pysaml2)");
    assert!(
        out.status.success(),
        "pysaml2 refused our metadata:\n{}\n--- metadata\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whether the oracle's one-line JSON output contains `needle` verbatim
/// (saml-core has no JSON parser; the values compared need no escapes
/// beyond the `\"` written into the needles).
fn json_contains(json: &str, needle: &str) -> bool {
    json.contains(needle)
}

#[test]
fn pysaml2_reads_our_sp_metadata() {
    let sp = full_sp();
    for (name, xml) in [
        ("sp.xml", sp.to_xml()),
        ("sp-signed.xml", sp.to_signed_xml(&sp_key()).unwrap()),
        (
            "sp-minimal.xml",
            SpMetadata::new("urn:minimal")
                .assertion_consumer_service(HTTP_POST, "https://sp/acs")
                .to_xml(),
        ),
    ] {
        let json = pysaml2(&xml, name);
        if name == "sp-minimal.xml" {
            assert!(
                json_contains(&json, r#""entities": ["urn:minimal"]"#),
                "{json}"
            );
            assert!(
                json_contains(
                    &json,
                    &format!(r#"[["{HTTP_POST}", "https://sp/acs", "0", "true"]]"#)
                ),
                "{json}"
            );
            continue;
        }
        let cert = b64(&sp_cert());
        for needle in [
            r#""entities": ["https://sp.example.com/saml/metadata"]"#.to_owned(),
            format!(
                r#""acs": [["{HTTP_POST}", "https://sp.example.com/saml/acs", "0", "true"], ["{HTTP_ARTIFACT}", "https://sp.example.com/saml/artifact", "1", null]]"#
            ),
            format!(
                r#""slo": [["{HTTP_REDIRECT}", "https://sp.example.com/saml/slo"], ["{HTTP_POST}", "https://sp.example.com/saml/slo"]]"#
            ),
            format!(r#""nameid": ["{}", "{}"]"#, name_id_format::PERSISTENT, name_id_format::EMAIL),
            r#""authn_requests_signed": "true""#.to_owned(),
            r#""want_assertions_signed": "true""#.to_owned(),
            format!(r#""signing": ["{cert}"]"#),
            format!(r#""encryption": ["{cert}"]"#),
            format!(
                r#""encryption_methods": ["{}", "{}", "{}", "{}"]"#,
                SP_ENCRYPTION_METHODS[0],
                SP_ENCRYPTION_METHODS[1],
                SP_ENCRYPTION_METHODS[2],
                SP_ENCRYPTION_METHODS[3]
            ),
            r#""organization": ["Example & Co", "Example <Co>", "https://example.com/?a=1&b=\"2\""]"#
                .to_owned(),
            r#""contacts": [["technical", "mailto:ops@example.com"], ["support", "mailto:help@example.com"]]"#
                .to_owned(),
        ] {
            assert!(json_contains(&json, &needle), "[{name}] missing {needle}\nin {json}");
        }
    }
}

#[test]
fn xmlsec1_verifies_our_signed_sp_metadata() {
    let signed = full_sp().to_signed_xml(&sp_key()).unwrap();
    let path = temp_file("sp-signed-xmlsec.xml", &signed);
    let cert = shared().join("bench-fixtures/sp-cert.pem");
    let run = |cert: &PathBuf, file: &TempFile| {
        Command::new("xmlsec1")
            .arg("--verify")
            .arg("--enabled-key-data")
            .arg("key-name")
            .arg("--id-attr:ID")
            .arg("urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")
            .arg("--pubkey-cert-pem")
            .arg(cert)
            .arg(&file.0)
            .output()
            .expect("run xmlsec1 (is it installed?)")
    };
    let out = run(&cert, &path);
    assert!(
        out.status.success(),
        "xmlsec1 refused our signed metadata:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tampered = temp_file(
        "sp-signed-xmlsec-tampered.xml",
        &signed.replace("saml/acs", "saml/evil"),
    );
    assert!(!run(&cert, &tampered).status.success());
    let other = shared().join("bench-fixtures/idp-cert.pem");
    assert!(!run(&other, &path).status.success());
}
