//! What the fuzz targets share: the configuration they validate against and
//! the trusted key. The seed generator (`examples/seeds.rs`) builds messages
//! for this same configuration, so unmodified seeds pass every check and
//! mutations start from a valid message.

use std::sync::OnceLock;

use saml_core::Limits;
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey};
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
