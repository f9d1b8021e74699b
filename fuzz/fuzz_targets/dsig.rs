//! Fuzzes `saml_core::dsig::verify_enveloped` on every signed element of
//! arbitrary (signed-looking) documents, with the safe default policy and
//! with SHA-1 and weak keys allowed. Trusted keys: the fixture IdP key and
//! the certificates the document carries (see `keys_with_embedded`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_fuzz::dsig(data));
