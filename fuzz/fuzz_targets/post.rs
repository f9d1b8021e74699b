//! Fuzzes the HTTP-POST binding decoder, `saml_core::binding::decode_post`,
//! with the default limits and with a small one: what decodes re-encodes
//! and decodes to the same text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_fuzz::post(data));
