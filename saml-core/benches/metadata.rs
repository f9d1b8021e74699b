//! Parsing and indexing a federation aggregate: a generated
//! `md:EntitiesDescriptor` of 5,000 IdP entities (40 MB, see
//! `support/aggregate.rs`), read with [`IdpMetadata::parse_all`] and indexed
//! by entityID, unsigned and with its enveloped signature verified, beside
//! the floor measured in the same run: a bare quick-xml event scan of the
//! same bytes (plus, for the signed document, one SHA-256 over them).
//!
//! `cargo bench -p saml-core --bench metadata`. Target: at least 100 MB/s.
//! Peak memory is measured by `cargo run --release -p saml-core --example
//! metadata_memory` (a counting allocator would slow every bench here).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/aggregate.rs"]
mod aggregate;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::Reader;
use quick_xml::events::Event;
use saml_core::metadata::{IdpMetadata, MetadataOptions};

const ENTITIES: usize = 5_000;

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

/// What an SP keeps: every IdP of the aggregate by entityID.
fn parse_and_index(xml: &str, options: &MetadataOptions) -> HashMap<String, IdpMetadata> {
    IdpMetadata::parse_all(xml, options)
        .unwrap()
        .into_iter()
        .map(|idp| (idp.entity_id().to_owned(), idp))
        .collect()
}

fn bench(c: &mut Criterion) {
    let signed = aggregate::signed(ENTITIES);
    let unsigned = aggregate::unsigned(ENTITIES);
    let plain = MetadataOptions::new().with_limits(aggregate::AGGREGATE_LIMITS);
    let verified = plain
        .clone()
        .with_trusted_signers(vec![aggregate::signer()]);

    // Every entity is found, and the signature really is checked.
    let index = parse_and_index(&signed, &verified);
    assert_eq!(index.len(), ENTITIES);
    let idp = &index[&aggregate::entity_id(4_321)];
    assert!(idp.signature_verified());
    assert_eq!(idp.signing_certificates().len(), 1);
    assert_eq!(idp.sso_endpoints().len(), 4);
    let tampered = signed.replacen("campus17.", "campus71.", 1);
    assert!(IdpMetadata::parse_all(&tampered, &verified).is_err());
    drop(index);

    eprintln!(
        "aggregate of {ENTITIES} IdP entities: {:.1} MB signed, {:.1} MB unsigned",
        signed.len() as f64 / 1e6,
        unsigned.len() as f64 / 1e6
    );

    let mut group = c.benchmark_group("aggregate 5000 IdPs");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Bytes(signed.len() as u64));
    group.bench_function("floor: quick-xml scan", |b| {
        b.iter(|| scan(black_box(&signed)));
    });
    group.bench_function("floor: quick-xml scan + SHA-256", |b| {
        b.iter(|| {
            let events = scan(black_box(&signed));
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, signed.as_bytes());
            (events, d.as_ref()[0])
        });
    });
    group.bench_function("parse_all + index, unsigned", |b| {
        b.iter(|| parse_and_index(black_box(&unsigned), &plain).len());
    });
    group.bench_function("parse_all + index, signature verified", |b| {
        b.iter(|| parse_and_index(black_box(&signed), &verified).len());
    });
    group.finish();

    let index = parse_and_index(&signed, &verified);
    let wanted: Vec<String> = (0..ENTITIES)
        .step_by(97)
        .map(aggregate::entity_id)
        .collect();
    c.bench_function("lookup by entityID in the index", |b| {
        let mut n = 0;
        b.iter(|| {
            n = (n + 1) % wanted.len();
            index
                .get(black_box(wanted[n].as_str()))
                .map(|i| i.sso_endpoints().len())
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
