//! Fuzzes the SOAP binding, `saml_core::binding::soap_message`: a message it
//! takes out of an envelope must stand on its own as a document with the
//! same root.
#![no_main]

use saml_core::Limits;
use saml_core::binding::soap_message;
use saml_core::xml::Document;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    if let Ok(message) = soap_message(text, &limits) {
        let doc = Document::parse(&message.xml, &limits).expect("the message parses alone");
        let root = doc.root();
        assert_eq!(root.local_name(), message.local_name);
        assert_eq!(root.namespace(), message.namespace.as_deref());
    }
});
