//! Entry points for fuzz targets and other internal harnesses. Not a stable API.

use crate::Limits;
use crate::c14n::Method;
use crate::xml::Document;

/// Parses arbitrary bytes; must never panic.
pub fn fuzz_xml(data: &[u8]) {
    if let Ok(doc) = Document::parse_bytes(data, &Limits::default()) {
        let root = doc.root();
        let _ = root.text();
        let _ = doc.element_by_id("_x");
    }
}

/// Parses arbitrary bytes and canonicalizes every element with every method;
/// must never panic.
pub fn fuzz_c14n(data: &[u8]) {
    if let Ok(doc) = Document::parse_bytes(data, &Limits::default()) {
        for el in doc.root().descendants().take(64) {
            for method in Method::ALL {
                let _ = method.canonicalize(el);
            }
        }
    }
}
