//! Fuzzes the hardened XML reader with arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_core::internal::fuzz_xml(data));
