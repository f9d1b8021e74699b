//! XML Encryption: decrypting `EncryptedAssertion`, `EncryptedID` and
//! `EncryptedAttribute` with the SP's private keys, and encrypting assertions
//! (for the development IdP and tests).
//!
//! Supported: key transport RSA-OAEP (`rsa-oaep-mgf1p`, and xmlenc11
//! `rsa-oaep` when its digest and MGF1 digest are equal: SHA-1, SHA-256,
//! SHA-384 or SHA-512 — aws-lc-rs pairs only equal digests, so other
//! combinations are refused with `algorithm_forbidden`); content AES-128/192/256
//! in GCM and CBC. RSA PKCS#1 v1.5 key transport only with an explicit opt-in.
//! RSA keys must be 2048 to 8192 bits (aws-lc-rs decrypts nothing smaller).
//!
//! Every failure after the algorithm checks is reported as the same
//! `decryption_failed`, and a failed key transport still runs the content
//! decryption with a random key, so the sender learns nothing about which
//! step failed (no padding oracle).

mod decrypt;
mod encrypt;

pub(crate) use decrypt::failed as decryption_failed;
pub use decrypt::{DecryptOptions, DecryptionKey, decrypt_element};
pub use encrypt::{ContentAlgorithm, EncryptOptions, KeyTransport, encrypt_element};

/// The XML Encryption namespace.
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
/// The XML Encryption 1.1 namespace.
pub const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
