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

/// Validates arbitrary bytes as a SAML Response (fixed configuration and
/// clock; the key is a fixed test key); must never panic.
pub fn fuzz_response(data: &[u8]) {
    use crate::clock::FixedClock;
    use crate::protocol::{Expectation, ResponseValidator};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut validator = ResponseValidator::new(
        "https://idp.example/",
        Vec::new(),
        "https://sp.example/",
        "https://sp.example/acs",
    );
    validator.allow_idp_initiated = true;
    let clock = FixedClock(chrono::DateTime::UNIX_EPOCH);
    let _ = validator.validate_xml(text, &Expectation::default(), &clock);
    let _ = validator.validate_xml(
        text,
        &Expectation {
            in_response_to: Some("_r"),
            force_authn_since: None,
        },
        &clock,
    );
}

/// Decodes arbitrary bytes as an HTTP-Redirect query and as a POST value;
/// must never panic.
pub fn fuzz_redirect(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let _ = crate::binding::parse_redirect_query(text, &limits);
    let _ = crate::binding::decode_redirect(text, &limits);
    let _ = crate::binding::decode_post(text, &limits);
    let _ = crate::dsig::verify_redirect_query(text, &[], &crate::dsig::VerifyOptions::new());
}

/// Parses arbitrary bytes as IdP metadata; must never panic.
pub fn fuzz_metadata(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = crate::metadata::MetadataOptions::new();
    let _ = crate::metadata::IdpMetadata::parse(text, &options);
    let _ = crate::metadata::IdpMetadata::parse_all(text, &options);
}
