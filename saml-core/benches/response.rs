//! Full response validation (base64 decode through typed Assertion) of the
//! shared bench fixtures, each beside its floor measured in the same run: one
//! aws-lc-rs RSA-2048 SHA-256 verification and one SHA-256 over the canonical
//! signed bytes per signature, plus base64 decoding and a bare quick-xml scan
//! (the floor of `../shared/PERFORMANCE.md`). For the encrypted response the
//! floor adds one RSA-2048 OAEP decryption and AES-256-GCM over the cipher text.
//!
//! `cargo bench -p saml-core --bench response`. Target: within 1.5x the floor
//! (1.2x for the encrypted response).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};
use quick_xml::Reader;
use quick_xml::events::Event;
use saml_core::Limits;
use saml_core::c14n::{Canonicalizer, Method};
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::Certificate;
use saml_core::dsig::DSIG_NS;
use saml_core::protocol::{Expectation, ResponseValidator};
use saml_core::xml::Document;
use saml_core::xmlenc::{DecryptOptions, DecryptionKey, XENC_NS, decrypt_element};

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        Into::into,
    );
    std::fs::read_to_string(dir.join("bench-fixtures").join(name))
        .expect("bench fixture (../shared/bench-fixtures)")
}

fn scan(xml: &str) -> usize {
    let mut reader = Reader::from_str(xml);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return events,
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
        }
    }
}

fn b64(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap()
}

/// Per signature: canonical signed element, canonical SignedInfo, signature value.
fn floor_inputs(xml: &str) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let doc = Document::parse(
        xml,
        &Limits {
            max_xml_bytes: 4 << 20,
            ..Limits::default()
        },
    )
    .unwrap();
    let mut out = Vec::new();
    for signed in doc
        .root()
        .descendants()
        .filter(|e| e.child_elements().any(|c| c.is(DSIG_NS, "Signature")))
    {
        let sig = signed
            .child_elements()
            .find(|c| c.is(DSIG_NS, "Signature"))
            .unwrap();
        let mut element = Vec::new();
        Canonicalizer::new(Method::Exclusive)
            .excluding(sig.id())
            .canonicalize(signed, &mut element);
        let signed_info = Method::Exclusive.canonicalize(sig.child_elements().next().unwrap());
        let value = b64(&sig.child_elements().nth(1).unwrap().text());
        out.push((element, signed_info, value));
    }
    out
}

fn bench(c: &mut Criterion) {
    let config: String = fixture("config.json");
    let field = |name: &str| {
        let at = config.find(&format!("\"{name}\"")).unwrap();
        let rest = &config[at + name.len() + 2..];
        let start = rest.find('"').unwrap() + 1;
        let end = rest[start..].find('"').unwrap() + start;
        rest[start..end].to_owned()
    };
    let cert = Certificate::from_pem(&fixture("idp-cert.pem"))
        .unwrap()
        .remove(0);
    let mut validator = ResponseValidator::new(
        field("idp_entity_id"),
        vec![cert.public_key().clone()],
        field("sp_entity_id"),
        field("sp_acs_url"),
    );
    validator.limits = Limits {
        max_xml_bytes: 4 << 20,
        ..Limits::default()
    };
    let clock = FixedClock(parse_datetime(&field("now")).unwrap());
    let request_id = field("request_id");
    let expect = Expectation {
        in_response_to: Some(&request_id),
        force_authn_since: None,
    };
    let spki = cert.public_key().spki_der().to_vec();
    // aws-lc-rs takes the RSA key as SPKI or PKCS#1; the floor uses the same key bytes.
    let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki);

    let sp_key_pem = fixture("sp-key.pem");
    validator.decryption_keys = vec![DecryptionKey::from_pem(&sp_key_pem).unwrap()];
    let sp_pkcs8: Vec<u8> = b64(&sp_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>());
    let oaep_key = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(
        aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&sp_pkcs8).unwrap(),
    )
    .unwrap();

    for name in ["typical", "both-signed", "large", "encrypted"] {
        let posted = fixture(&format!("{name}.b64"));
        let xml = String::from_utf8(b64(&posted)).unwrap();
        // For the encrypted response: the wrapped key, the GCM cipher text,
        // and the signature inputs of the decrypted assertion.
        let mut encrypted_parts: Option<(Vec<u8>, Vec<u8>)> = None;
        let inputs = if name == "encrypted" {
            let doc = Document::parse(&xml, &validator.limits).unwrap();
            let enc = doc
                .root()
                .descendants()
                .find(|e| e.local_name() == "EncryptedAssertion")
                .unwrap();
            let values: Vec<Vec<u8>> = enc
                .descendants()
                .filter(|e| e.is(XENC_NS, "CipherValue"))
                .map(|e| b64(&e.text()))
                .collect();
            encrypted_parts = Some((values[0].clone(), values[1].clone()));
            let plain =
                decrypt_element(enc, &validator.decryption_keys, &DecryptOptions::new()).unwrap();
            floor_inputs(&plain)
        } else {
            floor_inputs(&xml)
        };
        for (_, signed_info, sig) in &inputs {
            public
                .verify(signed_info, sig)
                .expect("fixture signature verifies");
        }
        validator
            .validate_xml(&xml, &expect, &clock)
            .expect("fixture validates");
        let mut group = c.benchmark_group(name);
        group.bench_function("floor", |b| {
            b.iter(|| {
                let xml = b64(black_box(&posted));
                let mut events = scan(std::str::from_utf8(&xml).unwrap());
                if let Some((wrapped, cipher)) = &encrypted_parts {
                    let mut out = vec![0u8; 256];
                    let key = oaep_key
                        .decrypt(&aws_lc_rs::rsa::OAEP_SHA1_MGF1SHA1, wrapped, &mut out, None)
                        .unwrap();
                    let gcm = aws_lc_rs::aead::LessSafeKey::new(
                        aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key)
                            .unwrap(),
                    );
                    let (iv, body) = cipher.split_at(12);
                    let mut buf = body.to_vec();
                    let nonce = aws_lc_rs::aead::Nonce::try_assume_unique_for_key(iv).unwrap();
                    events += gcm
                        .open_in_place(nonce, aws_lc_rs::aead::Aad::empty(), &mut buf)
                        .unwrap()
                        .len();
                }
                for (element, signed_info, sig) in &inputs {
                    events += digest::digest(&digest::SHA256, black_box(element))
                        .as_ref()
                        .len();
                    public
                        .verify(black_box(signed_info), black_box(sig))
                        .unwrap();
                }
                events
            });
        });
        group.bench_function("validate", |b| {
            b.iter(|| {
                let xml = String::from_utf8(b64(black_box(&posted))).unwrap();
                validator
                    .validate_xml(&xml, &expect, &clock)
                    .unwrap()
                    .name_id
                    .value
                    .len()
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
