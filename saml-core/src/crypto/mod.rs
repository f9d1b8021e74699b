//! Keys, certificates and algorithm identifiers, on aws-lc-rs.
//!
//! SAML trusts keys by configuration: a certificate from IdP metadata is a
//! container for a public key, so an expired certificate is reported
//! ([`Certificate::is_valid_at`]) but never refused. Weak RSA keys (under 2048
//! bits) are refused unless a caller explicitly allows them.

mod algorithm;
mod hex;
mod keys;

pub use algorithm::{DigestAlgorithm, SignatureAlgorithm};
pub use hex::{hex, sha256_hex};
pub use keys::{Certificate, KeyType, PublicKey, SigningKey};

pub(crate) use keys::decode_base64;
