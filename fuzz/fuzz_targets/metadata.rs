//! Fuzzes `saml_core::internal::fuzz_metadata`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_core::internal::fuzz_metadata(data));
