//! Fuzzes `saml_core::dsig::verify_enveloped` on every signed element of
//! arbitrary (signed-looking) documents, with the safe default policy and
//! with SHA-1 and weak keys allowed. Trusted keys: the fixture IdP key and
//! the certificates the document carries (see `keys_with_embedded`).
#![no_main]

use saml_core::Limits;
use saml_core::dsig::{VerifyOptions, verify_enveloped};
use saml_core::xml::Document;

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::parse_bytes(data, &Limits::default()) else {
        return;
    };
    let keys = saml_fuzz::keys_with_embedded(data);
    let lax = VerifyOptions::new()
        .dangerous_allow_sha1()
        .dangerous_allow_weak_keys();
    let signed = doc
        .root()
        .descendants()
        .filter(|e| e.child_elements().any(|c| c.is(DSIG_NS, "Signature")))
        .take(8);
    for element in signed {
        let _ = verify_enveloped(element, &keys, &VerifyOptions::new());
        if let Ok(verified) = verify_enveloped(element, &keys, &lax) {
            // The handle points into this document, at the signed element.
            assert_eq!(verified.element().id(), element.id());
        }
    }
});
