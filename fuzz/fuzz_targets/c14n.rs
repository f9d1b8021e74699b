//! Fuzzes canonicalization (all four methods) of every element of arbitrary input.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_core::internal::fuzz_c14n(data));
