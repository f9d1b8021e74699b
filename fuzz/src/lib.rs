//! What the fuzz targets share: the configuration they validate against,
//! the trusted key, and the bodies of the targets over the public API. The seed generator (`examples/seeds.rs`) builds messages
//! for this same configuration, so unmodified seeds pass every check and
//! mutations start from a valid message.

use std::sync::OnceLock;

use saml_core::Limits;
use saml_core::binding::{decode_post, encode_post, soap_message};
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey};
use saml_core::dsig::{VerifyOptions, verify_enveloped};
use saml_core::protocol::{Artifact, ArtifactResponseValidator, LogoutValidator};
use saml_core::xml::Document;

/// The identity provider's entity ID.
pub const IDP: &str = "https://idp.example.test/saml2/metadata";
/// Our entity ID.
pub const SP: &str = "https://sp.example.test/saml/metadata";
/// Our single logout URL.
pub const SLO: &str = "https://sp.example.test/saml/slo";
/// The ID of the `LogoutRequest` we sent (what a `LogoutResponse` answers).
pub const LOGOUT_REQUEST_ID: &str = "_sp_lr1";
/// The ID of the `ArtifactResolve` we sent.
pub const RESOLVE_ID: &str = "_ar1";
/// When seeds are issued.
pub const ISSUED: &str = "2024-06-01T12:00:00Z";

/// The validation time: 30 s after the seeds were issued.
#[must_use]
pub fn clock() -> FixedClock {
    static CLOCK: OnceLock<FixedClock> = OnceLock::new();
    let now = CLOCK
        .get_or_init(|| FixedClock(parse_datetime("2024-06-01T12:00:30Z").expect("a valid time")));
    FixedClock(now.0)
}

/// The IdP's signing key (the bench fixtures' `idp-cert.pem`), trusted by
/// every target.
#[must_use]
pub fn idp_key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        Certificate::from_pem(include_str!("../seeds/idp-cert.pem"))
            .expect("the fixture certificate parses")
            .remove(0)
            .public_key()
            .clone()
    })
}

/// The trusted IdP key, plus the keys of up to three `X509Certificate`s the
/// document carries. The fuzzer cannot forge a signature; trusting the
/// input's own certificates lets real signed responses (signed by many
/// different IdPs) verify, so mutations explore what follows verification
/// too.
#[must_use]
pub fn keys_with_embedded(data: &[u8]) -> Vec<PublicKey> {
    let mut keys = vec![idp_key().clone()];
    if let Ok(doc) = Document::parse_bytes(data, &Limits::default()) {
        keys.extend(
            doc.root()
                .descendants()
                .filter(|e| e.local_name() == "X509Certificate")
                .take(3)
                .filter_map(|e| Certificate::from_base64(&e.text()).ok())
                .map(|c| c.public_key().clone()),
        );
    }
    keys
}

/// The XML Signature namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The body of `fuzz_targets/dsig.rs` (also replayed by saml-core's
/// `tests/fuzz_regressions.rs`).
pub fn dsig(data: &[u8]) {
    let Ok(doc) = Document::parse_bytes(data, &Limits::default()) else {
        return;
    };
    let keys = keys_with_embedded(data);
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
}

/// The body of `fuzz_targets/soap.rs` (also replayed by saml-core's
/// `tests/fuzz_regressions.rs`).
pub fn soap(data: &[u8]) {
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
}

/// The body of `fuzz_targets/artifact.rs` (also replayed by saml-core's
/// `tests/fuzz_regressions.rs`).
pub fn artifact(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(artifact) = Artifact::parse(text) {
        assert_eq!(Artifact::parse(&artifact.encode()).ok(), Some(artifact));
    }
    // Signatures optional (see `logout`).
    let mut validator = ArtifactResponseValidator::new(IDP, vec![idp_key().clone()]);
    validator.require_signature = false;
    if let Ok(resolved) = validator.validate(text, RESOLVE_ID, &clock()) {
        let doc = Document::parse(&resolved.message_xml, &validator.limits)
            .expect("the embedded message parses alone");
        assert_eq!(doc.root().local_name(), resolved.message_name);
    }
}

/// The body of `fuzz_targets/logout.rs` (also replayed by saml-core's
/// `tests/fuzz_regressions.rs`).
pub fn logout(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let clock = clock();
    // Signatures optional, so unsigned inputs reach every later check; a
    // signature that is present must still verify.
    let mut validator = LogoutValidator::new(IDP, vec![idp_key().clone()], SLO);
    validator.require_signature = false;
    let _ = validator.validate_request(text, &clock);
    let _ = validator.validate_response(text, LOGOUT_REQUEST_ID, &clock);
    let _ = validator.validate_request_redirect(text, &clock);
    let _ = validator.validate_response_redirect(text, LOGOUT_REQUEST_ID, &clock);
}

/// The body of `fuzz_targets/post.rs` (also replayed by saml-core's
/// `tests/fuzz_regressions.rs`).
pub fn post(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let small = Limits {
        max_xml_bytes: 64,
        ..Limits::default()
    };
    for limits in [Limits::default(), small] {
        if let Ok(xml) = decode_post(text, &limits) {
            assert!(xml.len() <= limits.max_xml_bytes);
            assert_eq!(decode_post(&encode_post(&xml), &limits).ok(), Some(xml));
        }
    }
}
