//! Signature verification of the typical signed response (8.7 KB, assertion
//! signed with RSA-2048/SHA-256), beside the floor measured in the same run:
//! one aws-lc-rs RSA-2048 SHA-256 verification, plus SHA-256 over the
//! canonical assertion bytes, plus a bare quick-xml scan of the document.
//!
//! `cargo bench -p saml-core --bench dsig`. Target: within 2x the floor.

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
use saml_core::crypto::{Certificate, PublicKey};
use saml_core::dsig::{DSIG_NS, VerifyOptions, verify_enveloped};
use saml_core::xml::Document;

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

fn bench(c: &mut Criterion) {
    let xml = fixture("typical.xml");
    let cert = Certificate::from_pem(&fixture("idp-cert.pem"))
        .unwrap()
        .remove(0);
    let keys: Vec<PublicKey> = vec![cert.public_key().clone()];
    let limits = Limits::default();

    // Inputs of the floor, computed once with our own C14N.
    let doc = Document::parse(&xml, &limits).unwrap();
    let assertion = doc
        .root()
        .child_elements()
        .find(|e| e.local_name() == "Assertion")
        .unwrap();
    let signature = assertion
        .child_elements()
        .find(|e| e.is(DSIG_NS, "Signature"))
        .unwrap();
    let signed_info = signature.child_elements().next().unwrap();
    let mut canonical_assertion = Vec::new();
    Canonicalizer::new(Method::Exclusive)
        .excluding(signature.id())
        .canonicalize(assertion, &mut canonical_assertion);
    let signed_info_bytes = Method::Exclusive.canonicalize(signed_info);
    let value = signature.child_elements().nth(1).unwrap().text();
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap();
    let rsa_public = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(
        &rustls_pki_types::pem::PemObject::from_pem_slice(fixture("idp-key.pem").as_bytes())
            .map(|k: rustls_pki_types::PrivatePkcs8KeyDer<'_>| k.secret_pkcs8_der().to_vec())
            .unwrap(),
    )
    .map(|k| {
        aws_lc_rs::signature::KeyPair::public_key(&k)
            .as_ref()
            .to_vec()
    })
    .unwrap();
    let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public);
    public
        .verify(&signed_info_bytes, &sig)
        .expect("the fixture verifies");
    drop(doc);

    let mut group = c.benchmark_group("verify typical");
    group.bench_function("floor: rsa verify + sha256 + scan", |b| {
        b.iter(|| {
            let events = scan(black_box(&xml));
            let d = digest::digest(&digest::SHA256, black_box(&canonical_assertion));
            public
                .verify(black_box(&signed_info_bytes), black_box(&sig))
                .unwrap();
            (events, d)
        });
    });
    group.bench_function("parse + verify_enveloped", |b| {
        b.iter(|| {
            let doc = Document::parse(black_box(&xml), &limits).unwrap();
            let assertion = doc
                .root()
                .child_elements()
                .find(|e| e.local_name() == "Assertion")
                .unwrap();
            verify_enveloped(assertion, &keys, &VerifyOptions::new())
                .unwrap()
                .key_index()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
