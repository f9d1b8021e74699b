//! Encryption of an element for a recipient's RSA key, as IdPs do it: a
//! fresh AES key encrypts the content, RSA-OAEP encrypts the AES key, and the
//! `EncryptedKey` travels inside the `EncryptedData`'s `KeyInfo`.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    AES_128, AES_256, DecryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use base64::Engine;

use super::{XENC_NS, XENC11_NS};
use crate::crypto::PublicKey;
use crate::dsig::DSIG_NS;
use crate::error::{Error, ErrorCode, Result};

/// Content encryption for [`encrypt_element`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentAlgorithm {
    /// AES-256-GCM (the default).
    Aes256Gcm,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-CBC (for IdPs and SPs that predate GCM).
    Aes256Cbc,
    /// AES-128-CBC.
    Aes128Cbc,
}

impl ContentAlgorithm {
    /// The algorithm URI.
    #[must_use]
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            Self::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Self::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            Self::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
        }
    }

    const fn key_len(self) -> usize {
        match self {
            Self::Aes256Gcm | Self::Aes256Cbc => 32,
            Self::Aes128Gcm | Self::Aes128Cbc => 16,
        }
    }
}

/// Key transport for [`encrypt_element`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransport {
    /// `rsa-oaep-mgf1p` (SHA-1 digest and MGF1; the most widely supported).
    RsaOaepMgf1p,
    /// xmlenc11 `rsa-oaep` with SHA-256 and MGF1-SHA-256.
    RsaOaepSha256,
}

/// How to encrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptOptions {
    /// Content encryption.
    pub content: ContentAlgorithm,
    /// Key transport.
    pub transport: KeyTransport,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            content: ContentAlgorithm::Aes256Gcm,
            transport: KeyTransport::RsaOaepMgf1p,
        }
    }
}

fn failed(detail: &str) -> Error {
    Error::new(
        ErrorCode::DecryptionFailed,
        format!("encryption failed: {detail}"),
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Encrypts `element_xml` (one serialized element, e.g. a signed
/// `saml:Assertion`) for `recipient` and returns an `xenc:EncryptedData`
/// element; wrap it in `saml:EncryptedAssertion` (or `EncryptedID`, ...).
/// The plaintext must declare every namespace prefix it uses.
pub fn encrypt_element(
    element_xml: &str,
    recipient: &PublicKey,
    options: &EncryptOptions,
) -> Result<String> {
    let mut key = vec![0u8; options.content.key_len()];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| failed("no randomness"))?;
    let cipher = match options.content {
        ContentAlgorithm::Aes256Gcm | ContentAlgorithm::Aes128Gcm => {
            let alg = if options.content == ContentAlgorithm::Aes256Gcm {
                &AES_256_GCM
            } else {
                &AES_128_GCM
            };
            let sealing =
                LessSafeKey::new(UnboundKey::new(alg, &key).map_err(|_| failed("bad AES key"))?);
            let mut iv = [0u8; 12];
            aws_lc_rs::rand::fill(&mut iv).map_err(|_| failed("no randomness"))?;
            let mut buf = element_xml.as_bytes().to_vec();
            sealing
                .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut buf)
                .map_err(|_| failed("AES-GCM"))?;
            [iv.as_slice(), &buf].concat()
        }
        ContentAlgorithm::Aes256Cbc | ContentAlgorithm::Aes128Cbc => {
            let alg = if options.content == ContentAlgorithm::Aes256Cbc {
                &AES_256
            } else {
                &AES_128
            };
            let encrypting = PaddedBlockEncryptingKey::cbc_pkcs7(
                UnboundCipherKey::new(alg, &key).map_err(|_| failed("bad AES key"))?,
            )
            .map_err(|_| failed("AES-CBC"))?;
            let mut buf = element_xml.as_bytes().to_vec();
            // PKCS#7 padding is one of the paddings ISO 10126 allows.
            let context = encrypting
                .encrypt(&mut buf)
                .map_err(|_| failed("AES-CBC"))?;
            let DecryptionContext::Iv128(iv) = context else {
                return Err(failed("unexpected IV"));
            };
            [iv.as_ref(), buf.as_slice()].concat()
        }
    };

    let public = PublicEncryptingKey::from_der(recipient.spki_der()).map_err(|_| {
        Error::new(
            ErrorCode::UntrustedKey,
            "the recipient key is not an RSA key of 2048 to 8192 bits",
        )
    })?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| failed("RSA-OAEP"))?;
    let (alg, method) = match options.transport {
        KeyTransport::RsaOaepMgf1p => (
            &OAEP_SHA1_MGF1SHA1,
            r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>"#.to_owned(),
        ),
        KeyTransport::RsaOaepSha256 => (
            &OAEP_SHA256_MGF1SHA256,
            format!(
                r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF xmlns:xenc11="{XENC11_NS}" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod>"#
            ),
        ),
    };
    let mut wrapped = vec![0u8; oaep.ciphertext_size()];
    let wrapped = oaep
        .encrypt(alg, &key, &mut wrapped, None)
        .map_err(|_| failed("RSA-OAEP"))?
        .to_vec();

    Ok(format!(
        concat!(
            r#"<xenc:EncryptedData xmlns:xenc="{xenc}" xmlns:ds="{ds}" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
            r#"<xenc:EncryptionMethod Algorithm="{content}"/>"#,
            r#"<ds:KeyInfo><xenc:EncryptedKey>{method}<xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{cipher}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>"#
        ),
        xenc = XENC_NS,
        ds = DSIG_NS,
        content = options.content.uri(),
        method = method,
        wrapped = b64(&wrapped),
        cipher = b64(&cipher),
    ))
}
