//! XML Encryption on our side alone (the outside oracles, xmlsec1, OpenSSL
//! and pysaml2, are in `tests/tests/xmlenc_xmlsec.rs`):
//!
//! - [`encrypt_element`] / [`decrypt_element`] round trips for every
//!   [`ContentAlgorithm`] × [`KeyTransport`], plaintexts on and around AES
//!   block boundaries, non-ASCII text, PKCS#1 and PKCS#8 keys, 3072-bit keys,
//!   several configured keys (rollover);
//! - end to end through [`ResponseValidator`]: a signed assertion encrypted
//!   into an unsigned or a signed Response, an unsigned one inside a signed
//!   Response, an `EncryptedID` (also one whose plaintext uses a prefix it
//!   does not declare) and an `EncryptedAttribute`;
//! - every failure rejected cleanly with its code: wrong key, truncated
//!   ciphertext, bad CBC padding, altered GCM tag and corrupted EncryptedKey
//!   all give `decryption_failed` with one and the same detail text; unknown
//!   content algorithms, `rsa-1_5` without the opt-in and OAEP digest ≠ MGF1
//!   digest give `algorithm_forbidden`; a DOCTYPE in the plaintext gives
//!   `dtd_forbidden`; two assertions in one `EncryptedAssertion` give
//!   `ambiguous_assertion`; no key configured gives `decryption_failed`; a
//!   1024-bit key is refused with `untrusted_key`;
//! - AES-CBC tampering: caught by a Response signature (before decryption)
//!   and by the GCM tag; in an unsigned Response (assertion signed) it looks
//!   like any other decryption failure, with no detail from the plaintext
//!   (no CBC format oracle).
//!
//! Keys: the bench fixtures' SP and IdP keys; other RSA keys (2048, 3072 and
//! 1024 bits) and an EC key are made with the `openssl` CLI once per run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey, SigningKey};
use saml_core::dsig::{SignOptions, sign_enveloped};
use saml_core::protocol::{Assertion, Expectation, ResponseValidator};
use saml_core::xml::Document;
use saml_core::xmlenc::{
    ContentAlgorithm, DecryptOptions, DecryptionKey, EncryptOptions, KeyTransport, XENC_NS,
    decrypt_element, encrypt_element,
};
use saml_core::{Error, ErrorCode, Limits};

const IDP: &str = "https://idp.example.test/saml2/metadata";
const SP: &str = "https://sp.example.test/saml/metadata";
const ACS: &str = "https://sp.example.test/saml/acs";
const REQUEST: &str = "_req1";
const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

const CONTENTS: [ContentAlgorithm; 4] = [
    ContentAlgorithm::Aes128Cbc,
    ContentAlgorithm::Aes256Cbc,
    ContentAlgorithm::Aes128Gcm,
    ContentAlgorithm::Aes256Gcm,
];
const TRANSPORTS: [KeyTransport; 2] = [KeyTransport::RsaOaepMgf1p, KeyTransport::RsaOaepSha256];

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

fn shared() -> PathBuf {
    std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(shared().join("bench-fixtures").join(name)).unwrap()
}

fn cert_key(cert: &str) -> PublicKey {
    Certificate::from_pem(&fixture(cert)).unwrap()[0]
        .public_key()
        .clone()
}

fn sp_public() -> PublicKey {
    cert_key("sp-cert.pem")
}

fn sp_key() -> DecryptionKey {
    DecryptionKey::from_pem(&fixture("sp-key.pem")).unwrap()
}

fn idp_signing() -> SigningKey {
    let c = Certificate::from_pem(&fixture("idp-cert.pem"))
        .unwrap()
        .remove(0);
    SigningKey::from_pem(&fixture("idp-key.pem"))
        .unwrap()
        .with_certificate(c)
        .unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Keys the `openssl` CLI made for this run: PEM private key and SPKI DER.
struct Generated {
    pem: String,
    spki: Vec<u8>,
}

fn generate(name: &str, genpkey: &[&str]) -> Generated {
    let dir = std::env::temp_dir().join(format!("saml-xmlenc-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec!["genpkey", "-out", "key.pem"];
    args.extend_from_slice(genpkey);
    openssl(&dir, &args);
    openssl(
        &dir,
        &[
            "pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "pub.der",
        ],
    );
    let out = Generated {
        pem: std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        spki: std::fs::read(dir.join("pub.der")).unwrap(),
    };
    std::fs::remove_dir_all(&dir).ok();
    out
}

/// Another RSA-2048 key, not the SP's.
fn other_rsa() -> &'static Generated {
    static KEY: OnceLock<Generated> = OnceLock::new();
    KEY.get_or_init(|| {
        generate(
            "rsa2048",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        )
    })
}

// ---------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------

fn options(content: ContentAlgorithm, transport: KeyTransport) -> EncryptOptions {
    let mut o = EncryptOptions::default();
    o.content = content;
    o.transport = transport;
    o
}

fn encrypt(xml: &str, content: ContentAlgorithm, transport: KeyTransport) -> String {
    encrypt_element(xml, &sp_public(), &options(content, transport)).unwrap()
}

/// `EncryptedData` wrapped in a SAML element, as a standalone document.
fn wrap(local: &str, encrypted_data: &str) -> String {
    format!(r#"<saml:{local} xmlns:saml="{SAML_NS}">{encrypted_data}</saml:{local}>"#)
}

fn decrypt_wrapped(
    wrapped: &str,
    keys: &[DecryptionKey],
    options: &DecryptOptions,
) -> Result<String, Error> {
    let doc = Document::parse(wrapped, &Limits::default()).unwrap();
    decrypt_element(doc.root(), keys, options)
}

fn decrypt_with(encrypted_data: &str, keys: &[DecryptionKey]) -> Result<String, Error> {
    decrypt_wrapped(
        &wrap("EncryptedAssertion", encrypted_data),
        keys,
        &DecryptOptions::new(),
    )
}

fn decrypt(encrypted_data: &str) -> Result<String, Error> {
    decrypt_with(encrypted_data, &[sp_key()])
}

/// `(start, end)` byte offsets of the text of every `CipherValue`, in
/// document order: in our output the EncryptedKey's comes first, the
/// content's last.
fn cipher_values(xml: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = xml[from..].find(":CipherValue>") {
        let start = from + i + ":CipherValue>".len();
        let end = start + xml[start..].find("</").unwrap();
        out.push((start, end));
        from = end + 2;
        // Skip the closing tag.
        from += xml[from..].find('>').unwrap();
    }
    out
}

/// `xml` with the bytes of the `which`-th CipherValue (negative: from the
/// end) replaced by `f` of them.
fn tamper(xml: &str, which: isize, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let values = cipher_values(xml);
    let index = usize::try_from(if which < 0 {
        isize::try_from(values.len()).unwrap() + which
    } else {
        which
    })
    .unwrap();
    let (start, end) = values[index];
    let mut bytes = STANDARD
        .decode(xml[start..end].split_whitespace().collect::<String>())
        .unwrap();
    f(&mut bytes);
    format!(
        "{}{}{}",
        &xml[..start],
        STANDARD.encode(&bytes),
        &xml[end..]
    )
}

fn content_bytes(xml: &str) -> Vec<u8> {
    let (start, end) = *cipher_values(xml).last().unwrap();
    STANDARD
        .decode(xml[start..end].split_whitespace().collect::<String>())
        .unwrap()
}

fn now() -> DateTime<Utc> {
    parse_datetime("2024-06-01T12:01:00Z").unwrap()
}

/// A SAML assertion for our SP; `subject_id` is the NameID or EncryptedID
/// element, `extra_attributes` goes at the end of the AttributeStatement.
fn assertion_xml(id: &str, subject_id: &str, extra_attributes: &str) -> String {
    format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="2024-06-01T12:00:40Z">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<saml:Subject>{subject_id}"#,
            r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{req}" NotOnOrAfter="2024-06-01T12:05:00Z" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject>"#,
            r#"<saml:Conditions NotBefore="2024-06-01T11:59:00Z" NotOnOrAfter="2024-06-01T12:05:00Z"><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="2024-06-01T12:00:30Z" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
            r#"<saml:AttributeStatement><saml:Attribute Name="mail" FriendlyName="email"><saml:AttributeValue>alice@example.test</saml:AttributeValue></saml:Attribute>{extra}</saml:AttributeStatement>"#,
            r#"</saml:Assertion>"#
        ),
        saml = SAML_NS,
        id = id,
        idp = IDP,
        subject_id = subject_id,
        req = REQUEST,
        acs = ACS,
        sp = SP,
        extra = extra_attributes,
    )
}

fn plain_name_id(value: &str) -> String {
    format!(r#"<saml:NameID Format="{EMAIL}">{value}</saml:NameID>"#)
}

fn signed_assertion(subject_id: &str, extra_attributes: &str) -> String {
    let a = assertion_xml("_a1", subject_id, extra_attributes);
    sign_enveloped(&a, "_a1", &idp_signing(), &SignOptions::default()).unwrap()
}

/// A Response around `inner` (an Assertion or EncryptedAssertion), signed
/// when `sign` is set.
fn response(inner: &str, sign: bool) -> String {
    let xml = format!(
        concat!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="{saml}" ID="_r1" Version="2.0" IssueInstant="2024-06-01T12:00:40Z" Destination="{acs}" InResponseTo="{req}">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#,
            "{inner}</samlp:Response>"
        ),
        saml = SAML_NS,
        acs = ACS,
        req = REQUEST,
        idp = IDP,
        inner = inner,
    );
    if sign {
        sign_enveloped(&xml, "_r1", &idp_signing(), &SignOptions::default()).unwrap()
    } else {
        xml
    }
}

fn encrypted_assertion(
    assertion: &str,
    content: ContentAlgorithm,
    transport: KeyTransport,
) -> String {
    format!(
        "<saml:EncryptedAssertion>{}</saml:EncryptedAssertion>",
        encrypt(assertion, content, transport)
    )
}

fn validator() -> ResponseValidator {
    let mut v = ResponseValidator::new(IDP, vec![cert_key("idp-cert.pem")], SP, ACS);
    v.decryption_keys = vec![sp_key()];
    v
}

fn validate(v: &ResponseValidator, xml: &str) -> Result<Assertion, Error> {
    let expect = Expectation {
        in_response_to: Some(REQUEST),
        force_authn_since: None,
    };
    v.validate_xml(xml, &expect, &FixedClock(now()))
}

#[track_caller]
fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode, what: &str) -> Error {
    match result {
        Ok(v) => panic!("{what}: accepted ({v:?}), expected {code}"),
        Err(e) => {
            assert_eq!(e.code(), code, "{what}: {e}");
            e
        }
    }
}

/// The detail every decryption failure shares (no oracle: one answer).
fn failure_detail() -> String {
    let ed = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    let other = DecryptionKey::from_pem(&other_rsa().pem).unwrap();
    assert_code(
        decrypt_with(&ed, &[other]),
        ErrorCode::DecryptionFailed,
        "wrong key",
    )
    .detail()
    .to_owned()
}

#[track_caller]
fn assert_failed<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    let e = assert_code(result, ErrorCode::DecryptionFailed, what);
    assert_eq!(
        e.detail(),
        failure_detail(),
        "{what}: the detail must not tell which step failed"
    );
}

fn check_alice(a: &Assertion) {
    assert_eq!(a.id, "_a1");
    assert_eq!(a.issuer, IDP);
    assert_eq!(a.name_id.value, "alice@example.test");
    assert_eq!(a.name_id.format.as_deref(), Some(EMAIL));
    assert_eq!(a.session_index.as_deref(), Some("_s1"));
    assert_eq!(a.in_response_to.as_deref(), Some(REQUEST));
    assert_eq!(a.response_id.as_deref(), Some("_r1"));
    assert_eq!(a.attribute_values("mail"), ["alice@example.test"]);
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

#[test]
fn every_algorithm_pair_round_trips() {
    let plain = assertion_xml("_a1", &plain_name_id("alice@example.test"), "");
    for content in CONTENTS {
        for transport in TRANSPORTS {
            let what = format!("{content:?} / {transport:?}");
            let ed = encrypt(&plain, content, transport);
            assert!(ed.contains(content.uri()), "{what}: {ed}");
            assert!(!ed.contains("alice"), "{what}: plaintext leaked");
            let doc = Document::parse(&ed, &Limits::default()).unwrap();
            assert!(doc.root().is(XENC_NS, "EncryptedData"), "{what}");
            assert_eq!(
                decrypt(&ed).unwrap_or_else(|e| panic!("{what}: {e}")),
                plain,
                "{what}"
            );
            // Fresh key and IV every time.
            assert_ne!(
                content_bytes(&ed),
                content_bytes(&encrypt(&plain, content, transport)),
                "{what}"
            );
        }
    }
}

#[test]
fn plaintexts_around_block_boundaries_and_non_ascii() {
    let mut plains: Vec<String> = (0..=34)
        .map(|n| format!("<a>{}</a>", "x".repeat(n)))
        .collect();
    plains.push("<v>jöhn dœ — ✓ 𝄞</v>".to_owned());
    plains.push(format!("<big>{}</big>", "0123456789abcdef".repeat(4096)));
    for content in CONTENTS {
        for plain in &plains {
            let ed = encrypt(plain, content, KeyTransport::RsaOaepMgf1p);
            let len = content_bytes(&ed).len();
            match content {
                ContentAlgorithm::Aes128Cbc | ContentAlgorithm::Aes256Cbc => {
                    // IV, then the plaintext padded to the next block (a whole
                    // block of padding when it is already aligned).
                    assert_eq!(
                        len,
                        16 + (plain.len() / 16 + 1) * 16,
                        "{content:?} {}",
                        plain.len()
                    );
                }
                _ => assert_eq!(len, 12 + plain.len() + 16, "{content:?} {}", plain.len()),
            }
            assert_eq!(&decrypt(&ed).unwrap(), plain, "{content:?} {}", plain.len());
        }
    }
}

#[test]
fn pkcs1_and_pkcs8_keys_and_a_3072_bit_key() {
    let ed = encrypt(
        "<x>k</x>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepSha256,
    );
    let pkcs1 = fixture("sp-key.rsa.pem");
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
    let key = DecryptionKey::from_pem(&pkcs1).unwrap();
    assert_eq!(key.bits(), 2048);
    assert_eq!(decrypt_with(&ed, &[key]).unwrap(), "<x>k</x>");
    let der = std::fs::read(shared().join("bench-fixtures/sp-key.pk8.der")).unwrap();
    assert_eq!(
        decrypt_with(&ed, &[DecryptionKey::from_pkcs8(&der).unwrap()]).unwrap(),
        "<x>k</x>"
    );

    let big = generate(
        "rsa3072",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    );
    let key = DecryptionKey::from_pem(&big.pem).unwrap();
    assert_eq!(key.bits(), 3072);
    let public = PublicKey::from_spki_der(&big.spki).unwrap();
    for transport in TRANSPORTS {
        let ed = encrypt_element(
            "<x>3072</x>",
            &public,
            &options(ContentAlgorithm::Aes128Cbc, transport),
        )
        .unwrap();
        assert_eq!(
            decrypt_with(&ed, std::slice::from_ref(&key)).unwrap(),
            "<x>3072</x>"
        );
        assert_failed(decrypt(&ed), "3072-bit ciphertext, SP key");
    }
}

#[test]
fn debug_shows_no_key_material() {
    let debug = format!("{:?}", sp_key());
    assert!(debug.contains("2048"), "{debug}");
    assert!(debug.len() < 80, "{debug}");
}

#[test]
fn every_configured_key_is_tried() {
    let other = DecryptionKey::from_pem(&other_rsa().pem).unwrap();
    let for_other = encrypt_element(
        "<x>other</x>",
        &PublicKey::from_spki_der(&other_rsa().spki).unwrap(),
        &EncryptOptions::default(),
    )
    .unwrap();
    let for_sp = encrypt(
        "<x>sp</x>",
        ContentAlgorithm::Aes128Gcm,
        KeyTransport::RsaOaepSha256,
    );
    let both = [other.clone(), sp_key()];
    assert_eq!(decrypt_with(&for_sp, &both).unwrap(), "<x>sp</x>");
    assert_eq!(decrypt_with(&for_other, &both).unwrap(), "<x>other</x>");
    let reversed = [sp_key(), other];
    assert_eq!(decrypt_with(&for_sp, &reversed).unwrap(), "<x>sp</x>");
    assert_eq!(decrypt_with(&for_other, &reversed).unwrap(), "<x>other</x>");
    assert_failed(decrypt(&for_other), "only the SP key");

    // Through the validator: rollover with the old key first.
    let mut v = validator();
    v.decryption_keys = both.to_vec();
    let xml = response(
        &encrypted_assertion(
            &signed_assertion(&plain_name_id("alice@example.test"), ""),
            ContentAlgorithm::Aes256Cbc,
            KeyTransport::RsaOaepMgf1p,
        ),
        false,
    );
    check_alice(&validate(&v, &xml).unwrap());
}

// ---------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------

#[test]
fn signed_assertion_encrypted_in_unsigned_and_signed_responses() {
    let signed = signed_assertion(&plain_name_id("alice@example.test"), "");
    for content in CONTENTS {
        for transport in TRANSPORTS {
            for sign_response in [false, true] {
                let what = format!("{content:?} / {transport:?}, response signed: {sign_response}");
                let xml = response(
                    &encrypted_assertion(&signed, content, transport),
                    sign_response,
                );
                assert!(!xml.contains("alice"), "{what}");
                let a = validate(&validator(), &xml).unwrap_or_else(|e| panic!("{what}: {e}"));
                check_alice(&a);

                let mut strict = validator();
                strict.require_signed_assertion = true;
                check_alice(&validate(&strict, &xml).unwrap());

                // Without our key, nothing comes out.
                let mut keyless = validator();
                keyless.decryption_keys.clear();
                assert_code(validate(&keyless, &xml), ErrorCode::DecryptionFailed, &what);
            }
        }
    }
}

#[test]
fn unsigned_assertion_needs_the_signed_response_around_its_ciphertext() {
    let unsigned = assertion_xml("_a1", &plain_name_id("alice@example.test"), "");
    let enc = encrypted_assertion(
        &unsigned,
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    check_alice(&validate(&validator(), &response(&enc, true)).unwrap());
    assert_code(
        validate(&validator(), &response(&enc, false)),
        ErrorCode::SignatureMissing,
        "neither signed",
    );
    let mut strict = validator();
    strict.require_signed_assertion = true;
    assert_code(
        validate(&strict, &response(&enc, true)),
        ErrorCode::SignatureMissing,
        "assertion signature required",
    );
    // The Response signature covers the ciphertext: another EncryptedData
    // under the same signature breaks the digest.
    let signed = response(&enc, true);
    let other = encrypted_assertion(
        &unsigned,
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    let swapped = signed.replace(&enc, &other);
    assert_ne!(swapped, signed);
    assert_code(
        validate(&validator(), &swapped),
        ErrorCode::DigestMismatch,
        "ciphertext replaced under the Response signature",
    );
}

#[test]
fn a_signed_assertion_altered_before_encryption_is_refused() {
    let signed = signed_assertion(&plain_name_id("alice@example.test"), "");
    let forged = signed.replace(
        "alice@example.test</saml:NameID>",
        "mallory@example.test</saml:NameID>",
    );
    assert_ne!(forged, signed);
    let encrypted = encrypted_assertion(
        &forged,
        ContentAlgorithm::Aes128Gcm,
        KeyTransport::RsaOaepSha256,
    );
    // Under a signed Response the plaintext is authenticated and the precise
    // reason is given; without one, any failure with the plaintext reads as
    // a decryption failure (no format oracle).
    assert_code(
        validate(&validator(), &response(&encrypted, true)),
        ErrorCode::DigestMismatch,
        "forged plaintext, signed response",
    );
    assert_code(
        validate(&validator(), &response(&encrypted, false)),
        ErrorCode::DecryptionFailed,
        "forged plaintext, unsigned response",
    );
}

fn encrypted_id(name_id: &str, content: ContentAlgorithm, transport: KeyTransport) -> String {
    format!(
        "<saml:EncryptedID>{}</saml:EncryptedID>",
        encrypt(name_id, content, transport)
    )
}

fn encrypted_attribute(
    attribute: &str,
    content: ContentAlgorithm,
    transport: KeyTransport,
) -> String {
    format!(
        "<saml:EncryptedAttribute>{}</saml:EncryptedAttribute>",
        encrypt(attribute, content, transport)
    )
}

#[test]
fn encrypted_id_and_encrypted_attribute() {
    let name_id = format!(
        r#"<saml:NameID xmlns:saml="{SAML_NS}" Format="{EMAIL}" SPNameQualifier="{SP}">alice@example.test</saml:NameID>"#
    );
    let attribute = format!(
        r#"<saml:Attribute xmlns:saml="{SAML_NS}" Name="urn:oid:2.5.4.42" FriendlyName="givenName"><saml:AttributeValue>Jöhn</saml:AttributeValue><saml:AttributeValue>J</saml:AttributeValue></saml:Attribute>"#
    );
    for content in CONTENTS {
        for transport in TRANSPORTS {
            let what = format!("{content:?} / {transport:?}");
            let assertion = signed_assertion(
                &encrypted_id(&name_id, content, transport),
                &encrypted_attribute(&attribute, content, transport),
            );
            assert!(!assertion.contains(":NameID") && !assertion.contains("Jöhn"));
            for (outer, sign_response) in [(false, false), (true, false), (true, true)] {
                let inner = if outer {
                    encrypted_assertion(&assertion, content, transport)
                } else {
                    assertion.clone()
                };
                let a = validate(&validator(), &response(&inner, sign_response))
                    .unwrap_or_else(|e| panic!("{what}, outer {outer}: {e}"));
                check_alice(&a);
                assert_eq!(a.name_id.sp_name_qualifier.as_deref(), Some(SP));
                assert_eq!(a.attribute_values("urn:oid:2.5.4.42"), ["Jöhn", "J"]);
                let given = a
                    .attributes
                    .iter()
                    .find(|x| x.name == "urn:oid:2.5.4.42")
                    .unwrap();
                assert_eq!(given.friendly_name.as_deref(), Some("givenName"));
                assert_eq!(a.attributes.len(), 2, "{what}");
            }
        }
    }
}

/// Plaintext that uses the `saml` prefix without declaring it (what xmlsec1
/// produces when the encrypted node inherited its prefix) decrypts in the
/// namespace context where the ciphertext stood.
#[test]
fn plaintext_using_an_inherited_prefix() {
    let name_id = format!(r#"<saml:NameID Format="{EMAIL}">alice@example.test</saml:NameID>"#);
    let attribute = r#"<saml:Attribute Name="mail2"><saml:AttributeValue>a2</saml:AttributeValue></saml:Attribute>"#;
    let assertion = signed_assertion(
        &encrypted_id(
            &name_id,
            ContentAlgorithm::Aes256Gcm,
            KeyTransport::RsaOaepMgf1p,
        ),
        &encrypted_attribute(
            attribute,
            ContentAlgorithm::Aes128Cbc,
            KeyTransport::RsaOaepSha256,
        ),
    );
    let a = validate(&validator(), &response(&assertion, false)).unwrap();
    check_alice(&a);
    assert_eq!(a.attribute_values("mail2"), ["a2"]);
}

// ---------------------------------------------------------------------------
// Failures: decryption_failed, all alike
// ---------------------------------------------------------------------------

#[test]
fn wrong_key() {
    let other = DecryptionKey::from_pem(&other_rsa().pem).unwrap();
    for content in CONTENTS {
        for transport in TRANSPORTS {
            let ed = encrypt("<x>secret</x>", content, transport);
            assert_failed(decrypt_with(&ed, std::slice::from_ref(&other)), "wrong key");
        }
    }
    let mut v = validator();
    v.decryption_keys = vec![other];
    let xml = response(
        &encrypted_assertion(
            &signed_assertion(&plain_name_id("alice@example.test"), ""),
            ContentAlgorithm::Aes256Gcm,
            KeyTransport::RsaOaepMgf1p,
        ),
        true,
    );
    assert_failed(validate(&v, &xml), "wrong key, validator");
}

#[test]
fn truncated_content() {
    for content in CONTENTS {
        let ed = encrypt(
            &assertion_xml("_a1", &plain_name_id("alice@example.test"), ""),
            content,
            KeyTransport::RsaOaepMgf1p,
        );
        let len = content_bytes(&ed).len();
        for keep in [
            0,
            1,
            11,
            12,
            15,
            16,
            17,
            27,
            28,
            31,
            32,
            len - 17,
            len - 16,
            len - 1,
        ] {
            let cut = tamper(&ed, -1, |b| b.truncate(keep));
            assert_failed(
                decrypt(&cut),
                &format!("{content:?}: {keep} of {len} bytes"),
            );
        }
        // Truncated base64 text (no longer a multiple of four characters).
        let (start, end) = *cipher_values(&ed).last().unwrap();
        for drop in [1, 2, 3, 5] {
            let cut = format!("{}{}", &ed[..end - drop], &ed[end..]);
            assert!(start < end - drop);
            assert_failed(
                decrypt(&cut),
                &format!("{content:?}: {drop} base64 characters dropped"),
            );
        }
        // An empty CipherValue.
        let empty = format!("{}{}", &ed[..start], &ed[end..]);
        assert_failed(decrypt(&empty), &format!("{content:?}: empty CipherValue"));
    }
}

#[test]
fn bad_cbc_padding() {
    for content in [ContentAlgorithm::Aes128Cbc, ContentAlgorithm::Aes256Cbc] {
        for n in [0, 5, 16, 40] {
            let plain = format!("<a>{}</a>", "p".repeat(n));
            // Not block-aligned: a garbled last block is never pure padding,
            // so no corruption can give back the exact plaintext.
            assert_ne!(plain.len() % 16, 0);
            let ed = encrypt(&plain, content, KeyTransport::RsaOaepMgf1p);
            // Flipping the top bit of the last byte of the next-to-last block
            // (the IV for a one-block body) flips the same bit of the padding
            // length byte: 1..=16 becomes 0x81..=0x90, always invalid.
            let flipped = tamper(&ed, -1, |b| {
                let i = b.len() - 17;
                b[i] ^= 0x80;
            });
            assert_failed(
                decrypt(&flipped),
                &format!("{content:?}, {n}: padding length"),
            );
            // Flipping the last ciphertext byte garbles the whole last block;
            // its padding byte is then random, and ISO 10126 unpadding checks
            // only that byte. Whatever comes out is never the plaintext, and
            // never a panic.
            let mut refused = 0;
            for mask in 1..=255u8 {
                let flipped = tamper(&ed, -1, |b| {
                    let i = b.len() - 1;
                    b[i] ^= mask;
                });
                match decrypt(&flipped) {
                    Ok(p) => assert_ne!(p, plain, "{content:?}, mask {mask}"),
                    Err(e) => {
                        assert_eq!(e.code(), ErrorCode::DecryptionFailed);
                        assert_eq!(e.detail(), failure_detail());
                        refused += 1;
                    }
                }
            }
            assert!(refused >= 200, "{content:?}: only {refused} of 255 refused");
        }
    }
}

#[test]
fn gcm_tag_altered() {
    for content in [ContentAlgorithm::Aes128Gcm, ContentAlgorithm::Aes256Gcm] {
        let ed = encrypt("<x>tagged</x>", content, KeyTransport::RsaOaepSha256);
        for back in 1..=16 {
            let altered = tamper(&ed, -1, |b| {
                let i = b.len() - back;
                b[i] ^= 0x01;
            });
            assert_failed(decrypt(&altered), &format!("{content:?}: tag byte -{back}"));
        }
        // The IV and the body too.
        for at in [0, 11, 12, 13] {
            let altered = tamper(&ed, -1, |b| b[at] ^= 0x40);
            assert_failed(decrypt(&altered), &format!("{content:?}: byte {at}"));
        }
        // The tag cut off and a fresh one appended.
        let retagged = tamper(&ed, -1, |b| {
            let n = b.len() - 16;
            b.truncate(n);
            b.extend_from_slice(&[0u8; 16]);
        });
        assert_failed(decrypt(&retagged), &format!("{content:?}: zero tag"));
    }
}

#[test]
fn corrupted_encrypted_key() {
    for content in CONTENTS {
        for transport in TRANSPORTS {
            let what = format!("{content:?} / {transport:?}");
            let ed = encrypt("<x>key</x>", content, transport);
            assert_eq!(cipher_values(&ed).len(), 2);
            for at in [0, 1, 100, 255] {
                let bad = tamper(&ed, 0, |b| b[at] ^= 0x01);
                assert_failed(decrypt(&bad), &format!("{what}: EncryptedKey byte {at}"));
            }
            let short = tamper(&ed, 0, |b| b.truncate(128));
            assert_failed(decrypt(&short), &format!("{what}: EncryptedKey truncated"));
            let long = tamper(&ed, 0, |b| b.push(0));
            assert_failed(decrypt(&long), &format!("{what}: EncryptedKey too long"));
            let zero = tamper(&ed, 0, |b| b.iter_mut().for_each(|x| *x = 0));
            assert_failed(decrypt(&zero), &format!("{what}: EncryptedKey zeroed"));
            let (start, end) = cipher_values(&ed)[0];
            let not_base64 = format!("{}!!{}", &ed[..start], &ed[end..]);
            assert_failed(
                decrypt(&not_base64),
                &format!("{what}: EncryptedKey not base64"),
            );
            // A key of the wrong length for the content algorithm: OAEP
            // with the SP key, but 24 bytes wrapped.
            let other_content = match content {
                ContentAlgorithm::Aes128Cbc => ContentAlgorithm::Aes256Cbc,
                ContentAlgorithm::Aes256Cbc => ContentAlgorithm::Aes128Cbc,
                ContentAlgorithm::Aes128Gcm => ContentAlgorithm::Aes256Gcm,
                ContentAlgorithm::Aes256Gcm => ContentAlgorithm::Aes128Gcm,
            };
            let relabelled = ed.replace(content.uri(), other_content.uri());
            assert_failed(
                decrypt(&relabelled),
                &format!("{what}: key length ≠ algorithm"),
            );
        }
    }
    // CBC ciphertext relabelled as GCM of the same key size and back.
    let cbc = encrypt(
        "<x>mode</x>",
        ContentAlgorithm::Aes256Cbc,
        KeyTransport::RsaOaepMgf1p,
    );
    assert_failed(
        decrypt(&cbc.replace(
            ContentAlgorithm::Aes256Cbc.uri(),
            ContentAlgorithm::Aes256Gcm.uri(),
        )),
        "CBC read as GCM",
    );
    let gcm = encrypt(
        "<x>mode</x>",
        ContentAlgorithm::Aes128Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    assert_failed(
        decrypt(&gcm.replace(
            ContentAlgorithm::Aes128Gcm.uri(),
            ContentAlgorithm::Aes128Cbc.uri(),
        )),
        "GCM read as CBC",
    );
    // An OAEP-wrapped key declared as rsa-oaep-mgf1p when it was wrapped
    // with SHA-256 (and the other way round) does not unwrap.
    let sha256 = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepSha256,
    );
    let as_sha1 = sha256
        .replace(
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        )
        .replace(
            "http://www.w3.org/2009/xmlenc11#mgf1sha256",
            "http://www.w3.org/2009/xmlenc11#mgf1sha1",
        );
    assert_failed(decrypt(&as_sha1), "SHA-256 OAEP read as SHA-1");
    // An OAEP label that was not used.
    let mgf1p = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    let labelled = mgf1p.replace(
        r#"xmldsig#sha1"/>"#,
        r#"xmldsig#sha1"/><xenc:OAEPparams>bGFiZWw=</xenc:OAEPparams>"#,
    );
    assert_ne!(labelled, mgf1p);
    assert_failed(decrypt(&labelled), "unexpected OAEP label");
}

#[test]
fn no_decryption_key_configured() {
    let ed = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    let e = assert_code(
        decrypt_with(&ed, &[]),
        ErrorCode::DecryptionFailed,
        "no key",
    );
    assert!(e.detail().contains("no decryption key"), "{e}");
    let mut v = validator();
    v.decryption_keys.clear();
    let xml = response(
        &encrypted_assertion(
            &signed_assertion(&plain_name_id("alice@example.test"), ""),
            ContentAlgorithm::Aes256Gcm,
            KeyTransport::RsaOaepMgf1p,
        ),
        false,
    );
    assert_code(
        validate(&v, &xml),
        ErrorCode::DecryptionFailed,
        "no key, validator",
    );
    // An EncryptedID in a plain assertion, too.
    let assertion = signed_assertion(
        &encrypted_id(
            &plain_name_id("alice@example.test"),
            ContentAlgorithm::Aes256Gcm,
            KeyTransport::RsaOaepMgf1p,
        ),
        "",
    );
    assert_code(
        validate(&v, &response(&assertion, false)),
        ErrorCode::DecryptionFailed,
        "no key, EncryptedID",
    );
}

// ---------------------------------------------------------------------------
// Failures: algorithm_forbidden
// ---------------------------------------------------------------------------

#[test]
fn unknown_or_unsupported_content_algorithm() {
    let ed = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Cbc,
        KeyTransport::RsaOaepMgf1p,
    );
    for uri in [
        "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
        "http://www.w3.org/2001/04/xmlenc#kw-aes256",
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc ",
        "http://www.w3.org/2001/04/xmlenc#AES256-CBC",
        "http://www.w3.org/2009/xmlenc11#aes256-cbc",
        "urn:example:rot13",
        "",
    ] {
        let other = ed.replace(ContentAlgorithm::Aes256Cbc.uri(), uri);
        assert_ne!(other, ed);
        assert_code(decrypt(&other), ErrorCode::AlgorithmForbidden, uri);
    }
    // No EncryptionMethod at all.
    let start = ed.find("<xenc:EncryptionMethod").unwrap();
    let end = start + ed[start..].find("/>").unwrap() + 2;
    let none = format!("{}{}", &ed[..start], &ed[end..]);
    assert_code(
        decrypt(&none),
        ErrorCode::AlgorithmForbidden,
        "no EncryptionMethod",
    );
    // Through the validator too.
    let xml = response(
        &format!(
            "<saml:EncryptedAssertion>{}</saml:EncryptedAssertion>",
            encrypt(
                &signed_assertion(&plain_name_id("alice@example.test"), ""),
                ContentAlgorithm::Aes128Gcm,
                KeyTransport::RsaOaepMgf1p
            )
            .replace(
                ContentAlgorithm::Aes128Gcm.uri(),
                "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"
            )
        ),
        false,
    );
    assert_code(
        validate(&validator(), &xml),
        ErrorCode::AlgorithmForbidden,
        "3DES, validator",
    );
}

#[test]
fn rsa_1_5_needs_the_opt_in() {
    let ed = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    let v15 = ed.replace(
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
    );
    assert_ne!(v15, ed);
    let e = assert_code(
        decrypt(&v15),
        ErrorCode::AlgorithmForbidden,
        "rsa-1_5 by default",
    );
    assert!(e.detail().contains("v1.5"), "{e}");
    // Opted in, an OAEP blob is no PKCS#1 v1.5 block: the usual failure.
    let allowed = DecryptOptions::new().dangerous_allow_rsa_pkcs1_v15();
    assert!(allowed.allow_rsa_pkcs1_v15);
    assert!(!DecryptOptions::new().allow_rsa_pkcs1_v15);
    assert_failed(
        decrypt_wrapped(&wrap("EncryptedAssertion", &v15), &[sp_key()], &allowed),
        "OAEP blob read as PKCS#1 v1.5",
    );
    // The opt-in changes nothing for OAEP.
    assert_eq!(
        decrypt_wrapped(&wrap("EncryptedAssertion", &ed), &[sp_key()], &allowed).unwrap(),
        "<x/>"
    );
    // Through the validator, by default.
    let xml = response(
        &format!(
            "<saml:EncryptedAssertion>{}</saml:EncryptedAssertion>",
            encrypt(
                &signed_assertion(&plain_name_id("alice@example.test"), ""),
                ContentAlgorithm::Aes128Gcm,
                KeyTransport::RsaOaepMgf1p
            )
            .replace(
                "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
                "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
            )
        ),
        true,
    );
    assert_code(
        validate(&validator(), &xml),
        ErrorCode::AlgorithmForbidden,
        "rsa-1_5, validator",
    );
}

#[test]
fn oaep_digest_must_equal_mgf_digest() {
    const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
    const MGF: &str = "http://www.w3.org/2009/xmlenc11#mgf1";
    let ed = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepSha256,
    );
    assert!(
        ed.contains("http://www.w3.org/2009/xmlenc11#rsa-oaep\""),
        "{ed}"
    );
    let with = |digest: &str, mgf: Option<&str>| {
        let out = ed.replace(SHA256, digest);
        match mgf {
            Some(m) => out.replace(&format!("{MGF}sha256"), &format!("{MGF}{m}")),
            None => {
                let start = out.find("<xenc11:MGF").unwrap();
                let end = start + out[start..].find("/>").unwrap() + 2;
                format!("{}{}", &out[..start], &out[end..])
            }
        }
    };
    for (digest, mgf) in [
        (SHA256, Some("sha1")),
        (SHA256, Some("sha512")),
        (SHA1, Some("sha256")),
        (SHA512, Some("sha256")),
        (SHA384, Some("sha512")),
        // No MGF element: MGF1 with SHA-1, the xmlenc11 default.
        (SHA256, None),
        (SHA512, None),
    ] {
        let what = format!("digest {digest}, MGF {mgf:?}");
        let e = assert_code(
            decrypt(&with(digest, mgf)),
            ErrorCode::AlgorithmForbidden,
            &what,
        );
        assert!(
            e.detail().contains("MGF1") || e.detail().contains("mgf1"),
            "{what}: {e}"
        );
    }
    // rsa-oaep-mgf1p always uses MGF1-SHA-1: another digest cannot pair with it.
    let mgf1p = encrypt(
        "<x/>",
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    for digest in [SHA256, SHA512] {
        assert_code(
            decrypt(&mgf1p.replace(SHA1, digest)),
            ErrorCode::AlgorithmForbidden,
            &format!("rsa-oaep-mgf1p with {digest}"),
        );
    }
    // Equal digests that are not the one used pass the check and then fail
    // like any wrong key.
    assert_failed(
        decrypt(&with(SHA512, Some("sha512"))),
        "SHA-512 declared, SHA-256 used",
    );
    assert_failed(
        decrypt(&with(SHA384, Some("sha384"))),
        "SHA-384 declared, SHA-256 used",
    );
    // Unknown digests and MGFs.
    assert_code(
        decrypt(&with(
            "http://www.w3.org/2001/04/xmldsig-more#md5",
            Some("sha256"),
        )),
        ErrorCode::AlgorithmForbidden,
        "MD5",
    );
    assert_code(
        decrypt(&with(SHA256, Some("md5"))),
        ErrorCode::AlgorithmForbidden,
        "MGF1-MD5",
    );
    // An unknown key transport.
    assert_code(
        decrypt(&ed.replace(
            "http://www.w3.org/2009/xmlenc11#rsa-oaep\"",
            "urn:example:kt\"",
        )),
        ErrorCode::AlgorithmForbidden,
        "unknown key transport",
    );
}

// ---------------------------------------------------------------------------
// Failures: what the plaintext holds
// ---------------------------------------------------------------------------

fn response_around_plaintext(plaintext: &str, sign_response: bool) -> String {
    response(
        &encrypted_assertion(
            plaintext,
            ContentAlgorithm::Aes256Gcm,
            KeyTransport::RsaOaepMgf1p,
        ),
        sign_response,
    )
}

#[test]
fn doctype_in_the_plaintext() {
    let signed = signed_assertion(&plain_name_id("alice@example.test"), "");
    for doctype in [
        "<!DOCTYPE saml:Assertion>",
        r#"<!DOCTYPE saml:Assertion [<!ENTITY x "alice">]>"#,
        r#"<!DOCTYPE saml:Assertion [<!ENTITY x SYSTEM "file:///etc/passwd">]>"#,
    ] {
        for (sign_response, code) in [
            (false, ErrorCode::DecryptionFailed),
            (true, ErrorCode::DtdForbidden),
        ] {
            let xml = response_around_plaintext(&format!("{doctype}{signed}"), sign_response);
            assert_code(validate(&validator(), &xml), code, doctype);
        }
        // In an EncryptedID and an EncryptedAttribute too.
        let name_id = format!(
            r#"{doctype}<saml:NameID xmlns:saml="{SAML_NS}">alice@example.test</saml:NameID>"#
        );
        let assertion = signed_assertion(
            &encrypted_id(
                &name_id,
                ContentAlgorithm::Aes128Cbc,
                KeyTransport::RsaOaepSha256,
            ),
            "",
        );
        assert_code(
            validate(&validator(), &response(&assertion, false)),
            ErrorCode::DtdForbidden,
            &format!("EncryptedID: {doctype}"),
        );
        let attribute = format!(
            r#"{doctype}<saml:Attribute xmlns:saml="{SAML_NS}" Name="a"><saml:AttributeValue>v</saml:AttributeValue></saml:Attribute>"#
        );
        let assertion = signed_assertion(
            &plain_name_id("alice@example.test"),
            &encrypted_attribute(
                &attribute,
                ContentAlgorithm::Aes128Cbc,
                KeyTransport::RsaOaepSha256,
            ),
        );
        assert_code(
            validate(&validator(), &response(&assertion, false)),
            ErrorCode::DtdForbidden,
            &format!("EncryptedAttribute: {doctype}"),
        );
    }
    // An entity reference to an undeclared entity is no way around it.
    let entity = signed.replace("alice@example.test</saml:NameID>", "&x;</saml:NameID>");
    let xml = response_around_plaintext(&entity, true);
    let e = validate(&validator(), &xml).unwrap_err();
    assert!(
        matches!(e.code(), ErrorCode::MalformedXml | ErrorCode::DtdForbidden),
        "{e}"
    );
}

#[test]
fn plaintext_with_two_assertions_or_none() {
    let one = signed_assertion(&plain_name_id("alice@example.test"), "");
    let two = assertion_xml("_a2", &plain_name_id("mallory@example.test"), "");
    for (what, plaintext) in [
        ("two assertions", format!("{one}{two}")),
        ("the attacker's first", format!("{two}{one}")),
        (
            "an assertion and something else",
            format!("{one}<saml:Issuer xmlns:saml=\"{SAML_NS}\">x</saml:Issuer>"),
        ),
        ("text only", "just text".to_owned()),
        ("empty", String::new()),
        (
            "another element",
            format!("<saml:NameID xmlns:saml=\"{SAML_NS}\">alice</saml:NameID>"),
        ),
        (
            "an EncryptedAssertion inside",
            encrypted_assertion(
                &one,
                ContentAlgorithm::Aes256Gcm,
                KeyTransport::RsaOaepMgf1p,
            )
            .replace(
                "<saml:EncryptedAssertion>",
                &format!("<saml:EncryptedAssertion xmlns:saml=\"{SAML_NS}\">"),
            ),
        ),
        (
            "an assertion inside an assertion",
            one.replace(
                "</saml:Assertion>",
                &format!("<saml:Advice>{two}</saml:Advice></saml:Assertion>"),
            ),
        ),
    ] {
        for sign_response in [false, true] {
            let xml = response_around_plaintext(&plaintext, sign_response);
            let result = validate(&validator(), &xml);
            if !sign_response {
                // Unauthenticated plaintext: every failure is the same one.
                assert_code(result, ErrorCode::DecryptionFailed, what);
                continue;
            }
            match what {
                // A nested assertion changes the signed content: whichever
                // check fires first, it is refused.
                "an assertion inside an assertion" => {
                    let e = result.unwrap_err();
                    assert!(
                        matches!(
                            e.code(),
                            ErrorCode::AmbiguousAssertion | ErrorCode::DigestMismatch
                        ),
                        "{what}: {e}"
                    );
                }
                _ => {
                    assert_code(result, ErrorCode::AmbiguousAssertion, what);
                }
            }
        }
    }
    // An EncryptedAssertion beside a plain Assertion.
    let both = format!(
        "{one}{}",
        encrypted_assertion(
            &two,
            ContentAlgorithm::Aes256Gcm,
            KeyTransport::RsaOaepMgf1p
        )
    );
    assert_code(
        validate(&validator(), &response(&both, true)),
        ErrorCode::AmbiguousAssertion,
        "plain + encrypted",
    );
    // Two EncryptedData in one EncryptedAssertion.
    let ed1 = encrypt(
        &one,
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    let ed2 = encrypt(
        &two,
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    let two_data = response(
        &format!("<saml:EncryptedAssertion>{ed1}{ed2}</saml:EncryptedAssertion>"),
        false,
    );
    assert!(validate(&validator(), &two_data).is_err());
}

// ---------------------------------------------------------------------------
// Keys refused
// ---------------------------------------------------------------------------

#[test]
fn small_and_non_rsa_keys_are_refused() {
    let small = generate(
        "rsa1024",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    );
    let e = assert_code(
        DecryptionKey::from_pem(&small.pem),
        ErrorCode::UntrustedKey,
        "1024-bit key",
    );
    assert!(e.detail().contains("2048"), "{e}");
    let ec = generate(
        "p256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    assert_code(
        DecryptionKey::from_pem(&ec.pem),
        ErrorCode::UntrustedKey,
        "EC key",
    );
    assert_code(
        DecryptionKey::from_pem("not a key"),
        ErrorCode::UntrustedKey,
        "garbage",
    );
    assert_code(
        DecryptionKey::from_pem(&fixture("sp-cert.pem")),
        ErrorCode::UntrustedKey,
        "a certificate",
    );
    // Encrypting for a 1024-bit key is refused too (when loading the public
    // key, or when encrypting).
    let refused = PublicKey::from_spki_der(&small.spki)
        .and_then(|public| encrypt_element("<x/>", &public, &EncryptOptions::default()));
    assert_code(refused, ErrorCode::UntrustedKey, "encrypting for 1024 bits");
}

// ---------------------------------------------------------------------------
// CBC without integrity
// ---------------------------------------------------------------------------

/// IV bit flips that change the first plaintext block of a signed assertion
/// (`<saml:Assertion ...`) without touching the padding: `(byte, mask)`.
const IV_FLIPS: [(usize, u8); 3] = [(0, b'<' ^ b' '), (5, b':' ^ b'x'), (1, b's' ^ b'S')];

fn cbc_tampered_responses(sign_response: bool) -> Vec<(String, String)> {
    let signed = signed_assertion(&plain_name_id("alice@example.test"), "");
    let ed = encrypt(
        &signed,
        ContentAlgorithm::Aes256Cbc,
        KeyTransport::RsaOaepMgf1p,
    );
    let enc = format!("<saml:EncryptedAssertion>{ed}</saml:EncryptedAssertion>");
    let xml = response(&enc, sign_response);
    IV_FLIPS
        .iter()
        .map(|&(at, mask)| {
            let tampered = tamper(&enc, -1, |b| b[at] ^= mask);
            (
                format!("IV byte {at} ^ {mask:#04x}"),
                xml.replace(&enc, &tampered),
            )
        })
        .collect()
}

/// A signed Response covers the ciphertext: CBC tampering is caught before
/// anything is decrypted. With GCM the tag catches it.
#[test]
fn cbc_tampering_under_a_response_signature_or_with_gcm() {
    for (what, xml) in cbc_tampered_responses(true) {
        assert_code(
            validate(&validator(), &xml),
            ErrorCode::DigestMismatch,
            &what,
        );
    }
    let signed = signed_assertion(&plain_name_id("alice@example.test"), "");
    let ed = encrypt(
        &signed,
        ContentAlgorithm::Aes256Gcm,
        KeyTransport::RsaOaepMgf1p,
    );
    for (at, mask) in IV_FLIPS {
        let tampered = tamper(&ed, -1, |b| b[at] ^= mask);
        let xml = response(
            &format!("<saml:EncryptedAssertion>{tampered}</saml:EncryptedAssertion>"),
            false,
        );
        assert_failed(validate(&validator(), &xml), &format!("GCM, IV byte {at}"));
    }
}

/// The common IdP setup: assertion signed, Response not. AES-CBC has no
/// integrity, so flipping IV bits flips the same bits of the first plaintext
/// block while the padding stays valid: the plaintext "decrypts", then fails
/// to parse, and the validator answers `malformed_xml` with a detail quoting
/// the decrypted text (`expected </samlxAssertion>, but </saml:Assertion>
/// was found`), where an untampered failure answers `decryption_failed`.
/// The ACS layer renders code and detail to the sender: a decryption oracle
/// of the Jager–Somorovsky kind ("How to Break XML Encryption", CCS 2011),
/// against the module's promise that the sender learns nothing about which
/// step failed.
#[test]
fn cbc_tampering_in_an_unsigned_response_looks_like_any_decryption_failure() {
    for (what, xml) in cbc_tampered_responses(false) {
        assert_failed(validate(&validator(), &xml), &what);
    }
}
