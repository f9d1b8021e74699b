//! Decryption of `xenc:EncryptedData` carried by SAML's encrypted elements.

use std::fmt;

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use super::{XENC_NS, XENC11_NS};
use crate::crypto::decode_base64;
use crate::dsig::DSIG_NS;
use crate::error::{Error, ErrorCode, Result};
use crate::xml::{Element, shorten};

/// What decryption accepts beyond the safe defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecryptOptions {
    /// Accept RSA PKCS#1 v1.5 key transport (`rsa-1_5`), which is open to
    /// padding-oracle attacks. Only for IdPs that cannot do RSA-OAEP.
    pub allow_rsa_pkcs1_v15: bool,
}

impl DecryptOptions {
    /// The safe defaults: RSA-OAEP only.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            allow_rsa_pkcs1_v15: false,
        }
    }

    /// Accepts RSA PKCS#1 v1.5 key transport.
    #[must_use]
    pub const fn dangerous_allow_rsa_pkcs1_v15(mut self) -> Self {
        self.allow_rsa_pkcs1_v15 = true;
        self
    }
}

/// An SP private key for decrypting what IdPs encrypt to it. `Debug` never
/// prints key material.
#[derive(Clone)]
pub struct DecryptionKey {
    key: PrivateDecryptingKey,
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("bits", &self.key.key_size_bits())
            .finish_non_exhaustive()
    }
}

fn key_error(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::UntrustedKey, detail)
}

impl DecryptionKey {
    /// Parses a PEM RSA private key (`PRIVATE KEY` or `RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| key_error(format!("no usable private key in the PEM text: {e}")))?;
        match der {
            PrivateKeyDer::Pkcs8(k) => Self::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => Self::from_pkcs8(&pkcs1_to_pkcs8(k.secret_pkcs1_der())),
            _ => Err(key_error("decryption keys must be RSA")),
        }
    }

    /// Parses a DER PKCS#8 RSA private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        PrivateDecryptingKey::from_pkcs8(der).map(|key| Self { key }).map_err(|e| {
            key_error(format!("not a usable RSA decryption key ({e}); RSA keys of 2048 to 8192 bits are supported"))
        })
    }

    /// The modulus size in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.key.key_size_bits()
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo` (encoding only).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    const RSA_ALGORITHM: [u8; 15] = [
        0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(&RSA_ALGORITHM);
    body.push(0x04);
    der_length(&mut body, pkcs1.len());
    body.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_length(&mut out, body.len());
    out.extend(body);
    out
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    let bytes = len.to_be_bytes();
    let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend(significant);
    }
}

/// The one error every decryption failure turns into (also used by the
/// response validator for anything that goes wrong with unauthenticated
/// plaintext, so a CBC format oracle cannot tell the cases apart).
pub(crate) fn failed() -> Error {
    Error::new(
        ErrorCode::DecryptionFailed,
        "the encrypted element could not be decrypted with the configured keys",
    )
}

fn forbidden(what: &str, uri: &str) -> Error {
    Error::new(
        ErrorCode::AlgorithmForbidden,
        format!("{what} `{}` is not supported or not allowed", shorten(uri)),
    )
}

/// Content encryption algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Cbc(usize),
    Gcm(usize),
}

impl Content {
    fn from_uri(uri: &str) -> Result<Self> {
        Ok(match uri {
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Self::Cbc(16),
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => Self::Cbc(24),
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Self::Cbc(32),
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Self::Gcm(16),
            "http://www.w3.org/2009/xmlenc11#aes192-gcm" => Self::Gcm(24),
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Self::Gcm(32),
            other => return Err(forbidden("content encryption", other)),
        })
    }

    const fn key_len(self) -> usize {
        match self {
            Self::Cbc(n) | Self::Gcm(n) => n,
        }
    }
}

/// Key transport algorithms.
#[derive(Debug, Clone)]
enum Transport {
    /// RSA-OAEP with its (usually empty) label from `OAEPparams`.
    Oaep(&'static OaepAlgorithm, Option<Vec<u8>>),
    Pkcs1,
}

fn child<'d, 'a>(el: Element<'d, 'a>, ns: &str, local: &str) -> Option<Element<'d, 'a>> {
    el.child_elements().find(|c| c.is(ns, local))
}

fn transport_of(encrypted_key: Element<'_, '_>, options: &DecryptOptions) -> Result<Transport> {
    let method = child(encrypted_key, XENC_NS, "EncryptionMethod")
        .ok_or_else(|| forbidden("key transport", "(none)"))?;
    let uri = method.attribute("Algorithm").unwrap_or("");
    let digest = child(method, DSIG_NS, "DigestMethod")
        .and_then(|d| d.attribute("Algorithm"))
        .unwrap_or("http://www.w3.org/2000/09/xmldsig#sha1");
    let oaep_for = |digest: &str| -> Result<&'static OaepAlgorithm> {
        Ok(match digest {
            "http://www.w3.org/2000/09/xmldsig#sha1" => &OAEP_SHA1_MGF1SHA1,
            "http://www.w3.org/2001/04/xmlenc#sha256" => &OAEP_SHA256_MGF1SHA256,
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => &OAEP_SHA384_MGF1SHA384,
            "http://www.w3.org/2001/04/xmlenc#sha512" => &OAEP_SHA512_MGF1SHA512,
            other => return Err(forbidden("RSA-OAEP digest", other)),
        })
    };
    match uri {
        // MGF1 is fixed to SHA-1 here, so only a SHA-1 digest pairs with it.
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => {
            if digest != "http://www.w3.org/2000/09/xmldsig#sha1" {
                return Err(forbidden(
                    "rsa-oaep-mgf1p with a digest other than SHA-1 (MGF1 is SHA-1)",
                    digest,
                ));
            }
            Ok(Transport::Oaep(&OAEP_SHA1_MGF1SHA1, label(method)?))
        }
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
            let mgf = child(method, XENC11_NS, "MGF")
                .and_then(|m| m.attribute("Algorithm"))
                .unwrap_or("http://www.w3.org/2009/xmlenc11#mgf1sha1");
            let mgf_digest = match mgf {
                "http://www.w3.org/2009/xmlenc11#mgf1sha1" => {
                    "http://www.w3.org/2000/09/xmldsig#sha1"
                }
                "http://www.w3.org/2009/xmlenc11#mgf1sha256" => {
                    "http://www.w3.org/2001/04/xmlenc#sha256"
                }
                "http://www.w3.org/2009/xmlenc11#mgf1sha384" => {
                    "http://www.w3.org/2001/04/xmldsig-more#sha384"
                }
                "http://www.w3.org/2009/xmlenc11#mgf1sha512" => {
                    "http://www.w3.org/2001/04/xmlenc#sha512"
                }
                other => return Err(forbidden("RSA-OAEP mask generation", other)),
            };
            if mgf_digest != digest {
                return Err(forbidden(
                    "RSA-OAEP whose digest differs from its MGF1 digest (aws-lc-rs pairs equal digests only)",
                    mgf,
                ));
            }
            Ok(Transport::Oaep(oaep_for(digest)?, label(method)?))
        }
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5" if options.allow_rsa_pkcs1_v15 => {
            Ok(Transport::Pkcs1)
        }
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5" => Err(Error::new(
            ErrorCode::AlgorithmForbidden,
            "RSA PKCS#1 v1.5 key transport is refused (padding oracles); ask the IdP for RSA-OAEP or opt in explicitly",
        )),
        other => Err(forbidden("key transport", other)),
    }
}

/// The OAEP label (`xenc:OAEPparams`, base64), if any.
fn label(method: Element<'_, '_>) -> Result<Option<Vec<u8>>> {
    child(method, XENC_NS, "OAEPparams")
        .map(|p| decode_base64(&p.text()))
        .transpose()
        .map(|l| l.filter(|l| !l.is_empty()))
}

fn cipher_value(el: Element<'_, '_>) -> Result<Vec<u8>> {
    let value = child(el, XENC_NS, "CipherData")
        .and_then(|d| child(d, XENC_NS, "CipherValue"))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::MalformedXml,
                "CipherData/CipherValue is missing (CipherReference is not supported)",
            )
        })?;
    decode_base64(&value.text()).map_err(|_| failed())
}

/// Most EncryptedKeys looked at for one EncryptedData (one per recipient).
const MAX_ENCRYPTED_KEYS: usize = 8;

/// The EncryptedKeys for `data`, one per recipient: inside its KeyInfo, the
/// siblings its RetrievalMethods name, or (the form some IdPs use) the
/// siblings of the EncryptedData.
fn encrypted_keys_for<'d, 'a>(
    container: Element<'d, 'a>,
    data: Element<'d, 'a>,
) -> Result<Vec<Element<'d, 'a>>> {
    let key_info = child(data, DSIG_NS, "KeyInfo");
    let mut keys: Vec<Element<'_, '_>> = key_info
        .map(|k| {
            k.child_elements()
                .filter(|e| e.is(XENC_NS, "EncryptedKey"))
                .collect()
        })
        .unwrap_or_default();
    let siblings: Vec<Element<'_, '_>> = container
        .child_elements()
        .filter(|e| e.is(XENC_NS, "EncryptedKey"))
        .collect();
    let retrievals: Vec<&str> = key_info
        .map(|k| {
            k.child_elements()
                .filter(|e| e.is(DSIG_NS, "RetrievalMethod"))
                .filter_map(|r| r.attribute("URI"))
                .collect()
        })
        .unwrap_or_default();
    for uri in &retrievals {
        let id = uri.strip_prefix('#').unwrap_or(uri);
        let mut matching = siblings.iter().filter(|k| k.attribute("Id") == Some(id));
        match (matching.next(), matching.next()) {
            (Some(k), None) => keys.push(*k),
            _ => {
                return Err(Error::new(
                    ErrorCode::MalformedXml,
                    "a RetrievalMethod does not name exactly one EncryptedKey",
                ));
            }
        }
    }
    if keys.is_empty() && retrievals.is_empty() {
        keys = siblings;
    }
    if keys.is_empty() {
        return Err(Error::new(
            ErrorCode::MalformedXml,
            "no EncryptedKey found for the EncryptedData",
        ));
    }
    if keys.len() > MAX_ENCRYPTED_KEYS {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            "too many EncryptedKeys",
        ));
    }
    Ok(keys)
}

fn unwrap_key(
    transport: &Transport,
    keys: &[DecryptionKey],
    wrapped: &[u8],
    key_len: usize,
) -> Option<Vec<u8>> {
    for key in keys {
        let mut out = vec![0u8; key.key.key_size_bytes()];
        let got = match transport {
            Transport::Oaep(alg, label) => OaepPrivateDecryptingKey::new(key.key.clone())
                .ok()
                .and_then(|k| {
                    k.decrypt(alg, wrapped, &mut out, label.as_deref())
                        .ok()
                        .map(|p| p.to_vec())
                }),
            Transport::Pkcs1 => Pkcs1PrivateDecryptingKey::new(key.key.clone())
                .ok()
                .and_then(|k| k.decrypt(wrapped, &mut out).ok().map(|p| p.to_vec())),
        };
        if let Some(k) = got.filter(|k| k.len() == key_len) {
            return Some(k);
        }
    }
    None
}

fn decrypt_content(content: Content, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match content {
        Content::Cbc(n) => {
            let alg = match n {
                16 => &AES_128,
                24 => &AES_192,
                _ => &AES_256,
            };
            let (iv, body) = data.split_at_checked(16)?;
            if body.is_empty() || body.len() % 16 != 0 {
                return None;
            }
            let iv: [u8; 16] = iv.try_into().ok()?;
            let key = PaddedBlockDecryptingKey::cbc_iso10126(UnboundCipherKey::new(alg, key).ok()?)
                .ok()?;
            let mut buf = body.to_vec();
            let plain = key
                .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
                .ok()?;
            Some(plain.to_vec())
        }
        Content::Gcm(n) => {
            let alg = match n {
                16 => &AES_128_GCM,
                24 => &AES_192_GCM,
                _ => &AES_256_GCM,
            };
            let (iv, body) = data.split_at_checked(12)?;
            let key = LessSafeKey::new(UnboundKey::new(alg, key).ok()?);
            let nonce = Nonce::try_assume_unique_for_key(iv).ok()?;
            let mut buf = body.to_vec();
            let plain = key.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
            Some(plain.to_vec())
        }
    }
}

/// Decrypts the `xenc:EncryptedData` inside `encrypted` (an
/// `EncryptedAssertion`, `EncryptedID` or `EncryptedAttribute`) and returns
/// the plaintext XML, still to be parsed with the hardened reader.
pub fn decrypt_element(
    encrypted: Element<'_, '_>,
    keys: &[DecryptionKey],
    options: &DecryptOptions,
) -> Result<String> {
    if keys.is_empty() {
        return Err(Error::new(
            ErrorCode::DecryptionFailed,
            "the message is encrypted but no decryption key is configured for this SP",
        ));
    }
    let mut datas = encrypted
        .child_elements()
        .filter(|e| e.is(XENC_NS, "EncryptedData"));
    let data = datas
        .next()
        .ok_or_else(|| Error::new(ErrorCode::MalformedXml, "no EncryptedData"))?;
    if datas.next().is_some() {
        return Err(Error::new(
            ErrorCode::MalformedXml,
            "more than one EncryptedData",
        ));
    }
    if let Some(t) = data.attribute("Type")
        && t != "http://www.w3.org/2001/04/xmlenc#Element"
    {
        return Err(forbidden("EncryptedData type", t));
    }
    let method = child(data, XENC_NS, "EncryptionMethod")
        .ok_or_else(|| forbidden("content encryption", "(none)"))?;
    let content = Content::from_uri(method.attribute("Algorithm").unwrap_or(""))?;
    // Every EncryptedKey's algorithms are checked before anything is decrypted.
    let candidates = encrypted_keys_for(encrypted, data)?
        .into_iter()
        .map(|k| Ok((transport_of(k, options)?, cipher_value(k)?)))
        .collect::<Result<Vec<_>>>()?;

    // From here on every failure looks the same, and a failed key transport
    // still decrypts the content with a random key: one path, one answer.
    let cipher = cipher_value(data)?;
    let unwrapped = candidates
        .iter()
        .find_map(|(transport, wrapped)| unwrap_key(transport, keys, wrapped, content.key_len()));
    let key = match &unwrapped {
        Some(k) => k.clone(),
        None => {
            let mut random = vec![0u8; content.key_len()];
            aws_lc_rs::rand::fill(&mut random).map_err(|_| failed())?;
            random
        }
    };
    let plain = decrypt_content(content, &key, &cipher);
    match (unwrapped, plain) {
        (Some(_), Some(p)) => String::from_utf8(p).map_err(|_| failed()),
        _ => Err(failed()),
    }
}
