//! Replays the fuzz regression corpus (`fuzz/corpus/regressions/`) and a few
//! hostile inputs through the fuzz entry points on the stable toolchain, so a
//! crash found once stays fixed.

use std::path::Path;

use saml_core::internal::{fuzz_c14n, fuzz_metadata, fuzz_redirect, fuzz_response, fuzz_xml};

#[test]
fn regression_corpus_does_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        fuzz_xml(&data);
        fuzz_c14n(&data);
        fuzz_response(&data);
        fuzz_redirect(&data);
        fuzz_metadata(&data);
        replayed += 1;
    }
    for data in [
        &b""[..],
        b"<",
        b"<a",
        b"<a/><",
        b"\xEF\xBB\xBF<a/>",
        b"<a>\xff</a>",
        b"<?xml?><a/>",
        b"<a b='&#x;'/>",
    ] {
        fuzz_xml(data);
        fuzz_c14n(data);
        fuzz_response(data);
        fuzz_redirect(data);
        fuzz_metadata(data);
        replayed += 1;
    }
    assert!(replayed >= 8);
}
