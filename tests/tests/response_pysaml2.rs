//! Oracle test: SAML Responses built by a third-party IdP, pysaml2 (Debian
//! `python3-pysaml2` 7.0.1, xmlsec1 backend), are accepted by our
//! `ResponseValidator`, and tampered ones are refused with the right code.
//!
//! `oracles/idp_pysaml2.py` runs `saml2.server.Server.create_authn_response`
//! with the bench-fixture IdP key (entity `https://idp.example.test/saml2/metadata`)
//! for our SP, once per variant: Response and/or Assertion signed, RSA-SHA256,
//! RSA-SHA512, pysaml2's default algorithms and explicit RSA-SHA1; persistent
//! and email NameIDs; the same attributes every time (multi-valued
//! `eduPersonAffiliation`, non-ASCII `uid`, `givenName`, `sn`). pysaml2 reads
//! the real clock, so the script reports the instant it finished and we
//! validate with a [`FixedClock`] at that instant. The oracle runs once per
//! test binary; the expectations (attribute names and values, NameIDs,
//! signature placement, algorithms, error codes) are here, on the Rust side.
//!
//! For each accepted variant, the same pysaml2 output is also refused when:
//! one character of the NameID changes (`digest_mismatch`), our SP entity ID
//! differs (`audience_mismatch`), another request is pending
//! (`in_response_to_mismatch`), two hours have passed (`expired`), or another
//! key is trusted (`signature_invalid`). SHA-1 variants are refused by default
//! (`algorithm_forbidden`) and accepted only with `dangerous_allow_sha1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey};
use saml_core::dsig::DSIG_NS;
use saml_core::protocol::{
    Assertion, Expectation, ResponseValidator, SAML_NS, SAMLP_NS, name_id_format,
};
use saml_core::xml::Document;
use saml_core::{Error, ErrorCode, Limits};
use saml_tests::{python, shared_dir};
use serde_json::Value;

const IDP_ENTITY_ID: &str = "https://idp.example.test/saml2/metadata";
const SP_ENTITY_ID: &str = "https://sp.example.test/saml/metadata";
const ACS_URL: &str = "https://sp.example.test/saml/acs";
const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
const URI_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const PERSISTENT_ID: &str = "a8f2c1e0-5b6d-4f7a-9c3e-2d1b0a9f8e7d";
const EMAIL_ID: &str = "john.doe@example.test";

const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// The attributes pysaml2 emits for the identity the script gives it, with
/// its default attribute converters (`saml2/attributemaps`, URI name format):
/// `(Name, NameFormat, FriendlyName, values)`, sorted by Name.
const EXPECTED_ATTRIBUTES: &[(&str, &str, &str, &[&str])] = &[
    (
        "urn:oid:0.9.2342.19200300.100.1.1",
        URI_FORMAT,
        "uid",
        &["jöhn.dœ-ü"],
    ),
    (
        "urn:oid:0.9.2342.19200300.100.1.3",
        URI_FORMAT,
        "mail",
        &["john.doe@example.test"],
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        URI_FORMAT,
        "eduPersonAffiliation",
        &["member", "staff"],
    ),
    ("urn:oid:2.5.4.4", URI_FORMAT, "sn", &["Dœ"]),
    ("urn:oid:2.5.4.42", URI_FORMAT, "givenName", &["Jöhn"]),
];

/// One Response pysaml2 built, with what the script asked for.
#[derive(Debug)]
struct Variant {
    name: String,
    xml: String,
    request_id: String,
    now: DateTime<Utc>,
    name_id: String,
    name_id_format: String,
    sign_response: bool,
    sign_assertion: bool,
    /// The algorithms the script asked for (`None`: pysaml2's default).
    requested_algorithms: Option<(String, String)>,
    raw: Value,
}

/// Runs the oracle once per test binary.
fn variants() -> &'static [Variant] {
    static VARIANTS: OnceLock<Vec<Variant>> = OnceLock::new();
    VARIANTS.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracles/idp_pysaml2.py");
        let out = Command::new(python())
            .arg(&script)
            .arg(shared_dir().join("bench-fixtures"))
            .output()
            .expect("run the pysaml2 IdP oracle (install python3-pysaml2 and xmlsec1)");
        assert!(
            out.status.success(),
            "the pysaml2 IdP oracle failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let v: Value = serde_json::from_str(line).unwrap();
                let s = |k: &str| v[k].as_str().unwrap().to_owned();
                Variant {
                    name: s("name"),
                    xml: s("xml"),
                    request_id: s("request_id"),
                    now: parse_datetime(v["now"].as_str().unwrap()).unwrap(),
                    name_id: v["name_id"]["value"].as_str().unwrap().to_owned(),
                    name_id_format: v["name_id"]["format"].as_str().unwrap().to_owned(),
                    sign_response: v["sign_response"].as_bool().unwrap(),
                    sign_assertion: v["sign_assertion"].as_bool().unwrap(),
                    requested_algorithms: v["sign_alg"]
                        .as_str()
                        .map(|alg| (alg.to_owned(), v["digest_alg"].as_str().unwrap().to_owned())),
                    raw: v,
                }
            })
            .collect()
    })
}

fn variant(name: &str) -> &'static Variant {
    variants()
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("the oracle produced no variant `{name}`"))
}

fn trusted_key(file: &str) -> PublicKey {
    let pem = std::fs::read_to_string(shared_dir().join("bench-fixtures").join(file)).unwrap();
    Certificate::from_pem(&pem).unwrap()[0].public_key().clone()
}

fn validator() -> ResponseValidator {
    ResponseValidator::new(
        IDP_ENTITY_ID,
        vec![trusted_key("idp-cert.pem")],
        SP_ENTITY_ID,
        ACS_URL,
    )
}

fn validate(
    validator: &ResponseValidator,
    xml: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Assertion, Error> {
    let expect = Expectation {
        in_response_to: Some(request_id),
        force_authn_since: None,
    };
    validator.validate_xml(xml, &expect, &FixedClock(now))
}

fn assert_refused(result: Result<Assertion, Error>, code: ErrorCode, what: &str) {
    match result {
        Ok(a) => panic!("{what}: accepted, expected {code}: {a:?}"),
        Err(e) => assert_eq!(e.code(), code, "{what}: {e}"),
    }
}

/// Where pysaml2 put signatures (`Response` / `Assertion`) and with which
/// SignatureMethod and DigestMethod, read from the XML.
fn signatures(xml: &str) -> Vec<(String, String, String)> {
    let doc = Document::parse(xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(SAMLP_NS, "Response"), "not a samlp:Response");
    root.descendants()
        .filter(|e| e.is(DSIG_NS, "Signature"))
        .map(|sig| {
            let parent = sig.parent().unwrap();
            let on = if parent.is(SAMLP_NS, "Response") {
                "Response"
            } else if parent.is(SAML_NS, "Assertion") {
                "Assertion"
            } else {
                panic!("a signature on <{}>", parent.local_name())
            };
            let find = |local: &str| {
                sig.descendants()
                    .find(|e| e.is(DSIG_NS, local))
                    .and_then(|e| e.attribute("Algorithm"))
                    .unwrap()
                    .to_owned()
            };
            (on.to_owned(), find("SignatureMethod"), find("DigestMethod"))
        })
        .collect()
}

/// pysaml2 signed where it was asked to, with the algorithms given.
fn check_signatures(v: &Variant, sign_alg: &str, digest_alg: &str) {
    let mut expected = Vec::new();
    if v.sign_response {
        expected.push((
            "Response".to_owned(),
            sign_alg.to_owned(),
            digest_alg.to_owned(),
        ));
    }
    if v.sign_assertion {
        expected.push((
            "Assertion".to_owned(),
            sign_alg.to_owned(),
            digest_alg.to_owned(),
        ));
    }
    assert_eq!(signatures(&v.xml), expected, "{}: signatures", v.name);
}

/// Everything pysaml2 was given comes back out of our validator.
fn check_assertion(v: &Variant, a: &Assertion) {
    let name = &v.name;
    assert_eq!(a.issuer, IDP_ENTITY_ID, "{name}");
    assert_eq!(a.name_id.value, v.name_id, "{name}: NameID");
    assert_eq!(
        a.name_id.format.as_deref(),
        Some(v.name_id_format.as_str()),
        "{name}: NameID format"
    );
    let session_index = a.session_index.as_deref().unwrap_or("");
    assert!(!session_index.is_empty(), "{name}: SessionIndex: {a:?}");
    assert_eq!(
        a.authn_context_class_ref.as_deref(),
        Some(PASSWORD),
        "{name}"
    );
    // The script authenticates the user 30 s before asking for the response.
    let instant = a.authn_instant.unwrap();
    assert!(
        instant <= v.now && v.now - instant <= Duration::seconds(90),
        "{name}: AuthnInstant {instant} vs now {}",
        v.now
    );
    // pysaml2's policy lifetime is 15 minutes.
    let end = a.not_on_or_after.expect("Conditions/@NotOnOrAfter");
    assert!(
        end > v.now && end - v.now <= Duration::minutes(15),
        "{name}: NotOnOrAfter {end} vs now {}",
        v.now
    );
    assert!(a.not_before.is_some_and(|nb| nb <= v.now), "{name}");
    assert_eq!(
        a.in_response_to.as_deref(),
        Some(v.request_id.as_str()),
        "{name}"
    );
    assert!(a.response_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert!(!a.id.is_empty());
    assert!(!a.one_time_use);

    let mut got: Vec<_> = a
        .attributes
        .iter()
        .map(|at| {
            (
                at.name.as_str(),
                at.name_format.as_deref().unwrap_or(""),
                at.friendly_name.as_deref().unwrap_or(""),
                at.values.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        })
        .collect();
    got.sort_unstable();
    let expected: Vec<_> = EXPECTED_ATTRIBUTES
        .iter()
        .map(|(n, f, fr, vals)| (*n, *f, *fr, vals.to_vec()))
        .collect();
    assert_eq!(got, expected, "{name}: attributes");
    assert_eq!(
        a.attribute_values("urn:oid:1.3.6.1.4.1.5923.1.1.1.1"),
        ["member", "staff"],
        "{name}: multi-valued attribute in order"
    );

    // What the script reports it gave pysaml2 is what we expect.
    let identity = &v.raw["identity"];
    for (_, _, friendly, values) in EXPECTED_ATTRIBUTES {
        let given: Vec<&str> = identity[*friendly]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(&given, values, "{name}: identity given to pysaml2");
    }
}

/// Changes the first character of the NameID's text.
fn tamper_name_id(xml: &str) -> String {
    let start = xml.find(":NameID ").expect("a NameID element");
    let text_start = start + xml[start..].find('>').unwrap() + 1;
    let first = xml[text_start..].chars().next().unwrap();
    assert_ne!(first, '<', "empty NameID");
    let replacement = if first == 'x' { 'y' } else { 'x' };
    let mut out = String::with_capacity(xml.len());
    out.push_str(&xml[..text_start]);
    out.push(replacement);
    out.push_str(&xml[text_start + first.len_utf8()..]);
    out
}

/// The same pysaml2 output, broken in one way at a time, is refused.
fn check_negatives(v: &Variant, base: &ResponseValidator) {
    let name = &v.name;

    let tampered = tamper_name_id(&v.xml);
    assert_ne!(tampered, v.xml);
    assert_refused(
        validate(base, &tampered, &v.request_id, v.now),
        ErrorCode::DigestMismatch,
        &format!("{name}: NameID changed"),
    );

    let mut other_sp = base.clone();
    other_sp.sp_entity_id = "https://other-sp.example.test/saml/metadata".to_owned();
    assert_refused(
        validate(&other_sp, &v.xml, &v.request_id, v.now),
        ErrorCode::AudienceMismatch,
        &format!("{name}: other SP entity ID"),
    );

    assert_refused(
        validate(base, &v.xml, "_another-pending-request", v.now),
        ErrorCode::InResponseToMismatch,
        &format!("{name}: other request pending"),
    );

    assert_refused(
        validate(base, &v.xml, &v.request_id, v.now + Duration::hours(2)),
        ErrorCode::Expired,
        &format!("{name}: two hours later"),
    );

    let mut other_key = base.clone();
    other_key.idp_keys = vec![trusted_key("sp-cert.pem")];
    assert_refused(
        validate(&other_key, &v.xml, &v.request_id, v.now),
        ErrorCode::SignatureInvalid,
        &format!("{name}: another key trusted"),
    );
}

/// A variant pysaml2 signed with the SHA-2 algorithms it was asked for:
/// accepted with the default (safe) settings, refused once broken.
fn accepted_sha2(name: &str, sign_alg: &str, digest_alg: &str) {
    let v = variant(name);
    assert_eq!(
        v.requested_algorithms,
        Some((sign_alg.to_owned(), digest_alg.to_owned())),
        "{name}"
    );
    check_signatures(v, sign_alg, digest_alg);
    let validator = validator();
    let assertion = validate(&validator, &v.xml, &v.request_id, v.now)
        .unwrap_or_else(|e| panic!("{name}: pysaml2's response refused: {e}\n{}", v.xml));
    check_assertion(v, &assertion);
    check_negatives(v, &validator);
}

/// A variant signed with RSA-SHA1/SHA-1: refused by default, accepted (and
/// still checked) only with the explicit opt-in.
fn sha1_needs_opt_in(name: &str) {
    let v = variant(name);
    check_signatures(v, RSA_SHA1, SHA1);
    assert_refused(
        validate(&validator(), &v.xml, &v.request_id, v.now),
        ErrorCode::AlgorithmForbidden,
        &format!("{name}: SHA-1 by default"),
    );
    let mut legacy = validator();
    legacy.verify = legacy.verify.dangerous_allow_sha1();
    let assertion = validate(&legacy, &v.xml, &v.request_id, v.now)
        .unwrap_or_else(|e| panic!("{name}: refused with SHA-1 allowed: {e}\n{}", v.xml));
    check_assertion(v, &assertion);
    check_negatives(v, &legacy);
}

#[test]
fn oracle_produces_every_variant() {
    let mut names: Vec<&str> = variants().iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    let mut expected = vec![
        "assertion signed, RSA-SHA256",
        "response signed, RSA-SHA256",
        "both signed, RSA-SHA256",
        "both signed, RSA-SHA512, email NameID",
        "assertion signed, RSA-SHA512, email NameID",
        "response signed, RSA-SHA512",
        "both signed, pysaml2 default algorithms",
        "assertion signed, RSA-SHA1 explicit",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
    for v in variants() {
        assert!(
            v.name_id_format == name_id_format::PERSISTENT && v.name_id == PERSISTENT_ID
                || v.name_id_format == name_id_format::EMAIL && v.name_id == EMAIL_ID,
            "{}: {} {}",
            v.name,
            v.name_id_format,
            v.name_id
        );
        // pysaml2 writes the non-ASCII values as character references: our
        // parser has to decode them for the attribute checks to pass.
        assert!(v.xml.contains("&#xF6;"), "{}", v.name);
    }
}

#[test]
fn assertion_signed_rsa_sha256() {
    accepted_sha2("assertion signed, RSA-SHA256", RSA_SHA256, SHA256);
}

#[test]
fn response_signed_rsa_sha256() {
    accepted_sha2("response signed, RSA-SHA256", RSA_SHA256, SHA256);
}

#[test]
fn both_signed_rsa_sha256() {
    accepted_sha2("both signed, RSA-SHA256", RSA_SHA256, SHA256);
}

#[test]
fn both_signed_rsa_sha512_email_name_id() {
    accepted_sha2("both signed, RSA-SHA512, email NameID", RSA_SHA512, SHA512);
}

#[test]
fn assertion_signed_rsa_sha512_email_name_id() {
    accepted_sha2(
        "assertion signed, RSA-SHA512, email NameID",
        RSA_SHA512,
        SHA512,
    );
}

#[test]
fn response_signed_rsa_sha512() {
    accepted_sha2("response signed, RSA-SHA512", RSA_SHA512, SHA512);
}

/// pysaml2 7.0.1 signs with RSA-SHA1 and SHA-1 digests unless told otherwise.
#[test]
fn pysaml2_default_algorithms_are_sha1_and_need_opt_in() {
    let v = variant("both signed, pysaml2 default algorithms");
    assert_eq!(v.requested_algorithms, None);
    sha1_needs_opt_in(&v.name);
}

#[test]
fn explicit_rsa_sha1_needs_opt_in() {
    let v = variant("assertion signed, RSA-SHA1 explicit");
    assert_eq!(
        v.requested_algorithms,
        Some((RSA_SHA1.to_owned(), SHA1.to_owned()))
    );
    sha1_needs_opt_in(&v.name);
}

/// The oracle is not a rubber stamp for us either: the unsigned remains of a
/// pysaml2 response (its signatures cut out) are refused.
#[test]
fn signatures_removed_are_refused() {
    let v = variant("both signed, RSA-SHA256");
    let mut xml = v.xml.clone();
    while let Some(start) = xml.find("<ns2:Signature ") {
        let end = start + xml[start..].find("</ns2:Signature>").unwrap() + "</ns2:Signature>".len();
        xml.replace_range(start..end, "");
    }
    assert!(signatures(&xml).is_empty());
    assert_refused(
        validate(&validator(), &xml, &v.request_id, v.now),
        ErrorCode::SignatureMissing,
        "signatures removed",
    );
}
