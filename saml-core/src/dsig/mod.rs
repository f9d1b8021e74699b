//! XML Signature (enveloped) verification and signing, and the HTTP-Redirect
//! binding's query-string signatures.
//!
//! Verification is deliberately narrow: one `Signature` as a direct child of
//! the element it signs, exactly one `Reference` whose URI is `#` plus that
//! element's unique `ID`, only the enveloped-signature and C14N transforms,
//! and keys only from the caller's trusted list (`KeyInfo` merely selects
//! among them). The result, [`Verified`], is the only way to get at the signed
//! element, so later code reads what was signed and nothing else.

mod redirect;
mod sign;
mod verify;

pub use redirect::{
    RedirectParameter, VerifiedRedirect, sign_redirect_query, verify_redirect_query,
};
pub(crate) use redirect::{percent_decode, percent_encode};
pub use sign::{SignOptions, sign_enveloped};
pub use verify::{Verified, VerifyOptions, verify_enveloped};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The enveloped-signature transform.
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// The namespace of `InclusiveNamespaces` (Exclusive C14N).
pub const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
