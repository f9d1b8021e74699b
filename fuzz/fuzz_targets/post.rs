//! Fuzzes the HTTP-POST binding decoder, `saml_core::binding::decode_post`,
//! with the default limits and with a small one: what decodes re-encodes
//! and decodes to the same text.
#![no_main]

use saml_core::Limits;
use saml_core::binding::{decode_post, encode_post};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let small = Limits {
        max_xml_bytes: 64,
        ..Limits::default()
    };
    for limits in [Limits::default(), small] {
        if let Ok(xml) = decode_post(text, &limits) {
            assert!(xml.len() <= limits.max_xml_bytes);
            assert_eq!(decode_post(&encode_post(&xml), &limits).ok(), Some(xml));
        }
    }
});
