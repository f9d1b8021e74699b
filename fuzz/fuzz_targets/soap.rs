//! Fuzzes the SOAP binding, `saml_core::binding::soap_message`: a message it
//! takes out of an envelope must stand on its own as a document with the
//! same root.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_fuzz::soap(data));
