//! Lowercase hexadecimal, and the SHA-256 fingerprints every crate of the
//! workspace keeps instead of secrets (session tokens, store keys).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex, two characters per byte.
///
/// ```
/// assert_eq!(saml_core::crypto::hex(&[0x00, 0xab, 0x7f]), "00ab7f");
/// ```
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// SHA-256 of `data` as lowercase hex (64 characters).
///
/// ```
/// assert_eq!(
///     saml_core::crypto::sha256_hex(b"abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
#[must_use]
pub fn sha256_hex(data: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}
