//! Fuzzes the HTTP-Artifact binding: `Artifact::parse` (a parsed artifact
//! encodes back to itself) and `ArtifactResponseValidator::validate` (the
//! embedded message it returns parses on its own).
#![no_main]

use saml_core::protocol::{Artifact, ArtifactResponseValidator};
use saml_core::xml::Document;
use saml_fuzz::{IDP, RESOLVE_ID, clock, idp_key};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(artifact) = Artifact::parse(text) {
        assert_eq!(Artifact::parse(&artifact.encode()).ok(), Some(artifact));
    }
    // Signatures optional, so unsigned inputs reach every later check; a
    // signature that is present must still verify.
    let mut validator = ArtifactResponseValidator::new(IDP, vec![idp_key().clone()]);
    validator.require_signature = false;
    if let Ok(resolved) = validator.validate(text, RESOLVE_ID, &clock()) {
        let doc = Document::parse(&resolved.message_xml, &validator.limits)
            .expect("the embedded message parses alone");
        assert_eq!(doc.root().local_name(), resolved.message_name);
    }
});
