//! Parse + exclusive C14N of the shared bench fixtures, beside the floor: a
//! bare quick-xml event scan of the same bytes, measured in the same run.
//!
//! `cargo bench -p saml-core --bench xml`. Target: parse + C14N within 3x the scan.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::Reader;
use quick_xml::events::Event;
use saml_core::Limits;
use saml_core::c14n::{Canonicalizer, Method};
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
    let limits = Limits {
        max_xml_bytes: 4 << 20,
        ..Limits::default()
    };
    for (label, file) in [("typical", "typical.xml"), ("large", "large.xml")] {
        let xml = fixture(file);
        let mut group = c.benchmark_group(label);
        group.throughput(Throughput::Bytes(xml.len() as u64));
        group.bench_function("floor: quick-xml scan", |b| {
            b.iter(|| scan(black_box(&xml)))
        });
        group.bench_function("parse", |b| {
            b.iter(|| {
                Document::parse(black_box(&xml), &limits)
                    .unwrap()
                    .node_count()
            });
        });
        let mut out = Vec::with_capacity(xml.len());
        group.bench_function("parse + exc-c14n", |b| {
            b.iter(|| {
                let doc = Document::parse(black_box(&xml), &limits).unwrap();
                out.clear();
                Canonicalizer::new(Method::Exclusive).canonicalize(doc.root(), &mut out);
                out.len()
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
