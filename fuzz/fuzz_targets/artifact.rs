//! Fuzzes the HTTP-Artifact binding: `Artifact::parse` (a parsed artifact
//! encodes back to itself) and `ArtifactResponseValidator::validate` (the
//! embedded message it returns parses on its own).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_fuzz::artifact(data));
