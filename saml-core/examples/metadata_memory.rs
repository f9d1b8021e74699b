//! Peak memory of parsing and indexing a 5,000-entity federation aggregate,
//! relative to the document size (Linux).
//!
//! `cargo run --release -p saml-core --example metadata_memory [-- ENTITIES]`
//!
//! The workspace forbids `unsafe`, so instead of a counting allocator this
//! reads the kernel's resident-set counters: the peak (`VmHWM`) is reset
//! through `/proc/self/clear_refs` just before parsing, and the resident
//! size at that moment (the document itself included) is subtracted from
//! the peak reached while parsing and indexing.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/support/aggregate.rs"]
mod aggregate;

use std::collections::HashMap;

use saml_core::metadata::{IdpMetadata, MetadataOptions};

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .expect("field in /proc/self/status");
    let kb: usize = line
        .trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

fn measure(label: &str, xml: &str, options: &MetadataOptions) {
    // "5" resets the peak resident set size to the current one.
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs");
    let before = status_bytes("VmRSS:");
    let index: HashMap<String, IdpMetadata> = IdpMetadata::parse_all(xml, options)
        .unwrap()
        .into_iter()
        .map(|idp| (idp.entity_id().to_owned(), idp))
        .collect();
    let peak = status_bytes("VmHWM:").saturating_sub(before);
    let kept = status_bytes("VmRSS:").saturating_sub(before);
    let mb = |b: usize| b as f64 / 1e6;
    println!(
        "{label}: document {:.1} MB, {} IdPs indexed; peak {:.1} MB above the document = {:.2}x its size; {:.1} MB resident after (index and allocator caches) = {:.2}x",
        mb(xml.len()),
        index.len(),
        mb(peak),
        peak as f64 / xml.len() as f64,
        mb(kept),
        kept as f64 / xml.len() as f64,
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let entities: usize = args
        .next()
        .map_or(5_000, |n| n.parse().expect("ENTITIES: a number"));
    let plain = MetadataOptions::new().with_limits(aggregate::AGGREGATE_LIMITS);
    match args.next().as_deref() {
        Some("unsigned") => measure("unsigned", &aggregate::unsigned(entities), &plain),
        Some("signed") => {
            let verified = plain.with_trusted_signers(vec![aggregate::signer()]);
            measure("signed, verified", &aggregate::signed(entities), &verified);
        }
        _ => {
            // Each measurement in a fresh process, so that heap memory freed
            // by an earlier run (and kept by the allocator) cannot hide the
            // next run's growth.
            let exe = std::env::current_exe().unwrap();
            for mode in ["unsigned", "signed"] {
                let status = std::process::Command::new(&exe)
                    .arg(entities.to_string())
                    .arg(mode)
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
    }
}
