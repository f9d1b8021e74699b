//! Certificates, public keys and signing keys.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::SignatureAlgorithm;
use crate::error::{Error, ErrorCode, Result};

/// Smallest RSA modulus accepted unless weak keys are explicitly allowed.
const MIN_RSA_BITS: usize = 2048;

/// Largest base64 input decoded for keys and signatures (1 MiB).
const MAX_BASE64: usize = 1 << 20;

fn key_error(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::UntrustedKey, detail)
}

/// Decodes base64 that may contain line breaks and spaces (as in XML and
/// PEM bodies), with a length check before any decoding.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>> {
    if text.len() > MAX_BASE64 {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            "base64 value is too large",
        ));
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Error::new(ErrorCode::MalformedXml, "invalid base64 value"))
}

/// The kind and size of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA with this many modulus bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// ECDSA on NIST P-521.
    EcP521,
}

/// A public key trusted for verifying signatures, optionally with the
/// certificate it came from (so `KeyInfo` can select it).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_type: KeyType,
    /// For RSA: PKCS#1 RSAPublicKey DER; for EC: the uncompressed point.
    key_bytes: Vec<u8>,
    spki: Vec<u8>,
    /// Shared with the [`Certificate`] it came from: metadata keeps each
    /// certificate in several places, and a DER copy per place adds up in
    /// aggregates of thousands of IdPs.
    certificate: Option<Arc<[u8]>>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` (RSA or EC P-256/384/521).
    pub fn from_spki_der(spki: &[u8]) -> Result<Self> {
        use x509_parser::prelude::FromDer;
        let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki)
            .map_err(|_| key_error("the SubjectPublicKeyInfo cannot be parsed"))?;
        Self::from_info(&info, None)
    }

    fn from_info(
        info: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
        certificate: Option<Arc<[u8]>>,
    ) -> Result<Self> {
        use x509_parser::public_key::PublicKey as Parsed;
        let parsed = info
            .parsed()
            .map_err(|_| key_error("the public key cannot be parsed"))?;
        let key_type = match parsed {
            Parsed::RSA(rsa) => {
                let modulus = rsa.modulus;
                let first = modulus
                    .iter()
                    .position(|&b| b != 0)
                    .unwrap_or(modulus.len());
                let significant = modulus.get(first..).unwrap_or_default();
                let lead_bits = significant
                    .first()
                    .map_or(0, |b| 8 - b.leading_zeros() as usize);
                let bits = significant.len().saturating_sub(1) * 8 + lead_bits;
                KeyType::Rsa { bits }
            }
            Parsed::EC(point) => match point.data().len() {
                65 => KeyType::EcP256,
                97 => KeyType::EcP384,
                133 => KeyType::EcP521,
                _ => {
                    return Err(key_error(
                        "unsupported elliptic curve (use P-256, P-384 or P-521)",
                    ));
                }
            },
            _ => return Err(key_error("unsupported public key type (use RSA or ECDSA)")),
        };
        Ok(Self {
            key_type,
            key_bytes: info.subject_public_key.data.to_vec(),
            spki: info.raw.to_vec(),
            certificate,
        })
    }

    /// The key's type and size.
    #[must_use]
    pub const fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The DER certificate this key came from, if any.
    #[must_use]
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }

    /// True for RSA keys under 2048 bits.
    #[must_use]
    pub const fn is_weak(&self) -> bool {
        matches!(self.key_type, KeyType::Rsa { bits } if bits < MIN_RSA_BITS)
    }

    /// Verifies `signature` over `message`. XML-DSig ECDSA signatures are the
    /// raw `r‖s` concatenation. Weak RSA keys verify only if `allow_weak`.
    pub(crate) fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
        sig: &[u8],
        allow_weak: bool,
    ) -> Result<()> {
        use SignatureAlgorithm as A;
        let invalid = || {
            Error::new(
                ErrorCode::SignatureInvalid,
                "the signature value does not verify with the trusted key",
            )
        };
        if self.is_weak() && !allow_weak {
            return Err(key_error(
                "the trusted RSA key is shorter than 2048 bits; replace it or allow weak keys explicitly",
            ));
        }
        let weak = self.is_weak();
        let rsa: Option<&'static dyn signature::VerificationAlgorithm> = match (algorithm, weak) {
            (A::RsaSha1, false) => Some(&signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
            (A::RsaSha1, true) => Some(&signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY),
            (A::RsaSha256, false) => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            (A::RsaSha256, true) => {
                Some(&signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY)
            }
            (A::RsaSha384, false) => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            (A::RsaSha512, false) => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            (A::RsaSha512, true) => {
                Some(&signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY)
            }
            (A::RsaPssSha256, false) => Some(&signature::RSA_PSS_2048_8192_SHA256),
            (A::RsaPssSha384, false) => Some(&signature::RSA_PSS_2048_8192_SHA384),
            (A::RsaPssSha512, false) => Some(&signature::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        match (self.key_type, algorithm.is_ecdsa()) {
            (KeyType::Rsa { .. }, false) => {
                let alg = rsa.ok_or_else(|| {
                    Error::new(
                        ErrorCode::AlgorithmForbidden,
                        "this algorithm is not available for weak RSA keys",
                    )
                })?;
                UnparsedPublicKey::new(alg, &self.key_bytes)
                    .verify(message, sig)
                    .map_err(|_| invalid())
            }
            (KeyType::Rsa { .. }, true) | (_, false) => Err(key_error(format!(
                "the trusted key is {:?} but the signature algorithm is {}",
                self.key_type,
                algorithm.uri()
            ))),
            (curve, true) => {
                let (fixed, asn1): (Option<&'static signature::EcdsaVerificationAlgorithm>, _) =
                    match (curve, algorithm) {
                        (KeyType::EcP256, A::EcdsaSha256) => {
                            (Some(&signature::ECDSA_P256_SHA256_FIXED), None)
                        }
                        (KeyType::EcP256, A::EcdsaSha384) => {
                            (None, Some(&signature::ECDSA_P256_SHA384_ASN1))
                        }
                        (KeyType::EcP256, A::EcdsaSha512) => {
                            (None, Some(&signature::ECDSA_P256_SHA512_ASN1))
                        }
                        (KeyType::EcP384, A::EcdsaSha256) => {
                            (None, Some(&signature::ECDSA_P384_SHA256_ASN1))
                        }
                        (KeyType::EcP384, A::EcdsaSha384) => {
                            (Some(&signature::ECDSA_P384_SHA384_FIXED), None)
                        }
                        (KeyType::EcP384, A::EcdsaSha512) => {
                            (None, Some(&signature::ECDSA_P384_SHA512_ASN1))
                        }
                        (KeyType::EcP521, A::EcdsaSha256) => {
                            (Some(&signature::ECDSA_P521_SHA256_FIXED), None)
                        }
                        (KeyType::EcP521, A::EcdsaSha384) => {
                            (Some(&signature::ECDSA_P521_SHA384_FIXED), None)
                        }
                        (KeyType::EcP521, A::EcdsaSha512) => {
                            (Some(&signature::ECDSA_P521_SHA512_FIXED), None)
                        }
                        _ => (None, None),
                    };
                if let Some(alg) = fixed {
                    return UnparsedPublicKey::new(alg, &self.key_bytes)
                        .verify(message, sig)
                        .map_err(|_| invalid());
                }
                let alg = asn1.ok_or_else(invalid)?;
                let der = raw_ecdsa_to_der(sig).ok_or_else(invalid)?;
                UnparsedPublicKey::new(alg, &self.key_bytes)
                    .verify(message, &der)
                    .map_err(|_| invalid())
            }
        }
    }
}

/// Re-encodes a raw `r‖s` ECDSA signature as the DER `SEQUENCE { r, s }`
/// that aws-lc-rs's ASN.1 algorithms take (for curve/digest pairs it has no
/// fixed-length variant of).
fn raw_ecdsa_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) || raw.len() > 132 {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let int = |v: &[u8]| {
        let start = v
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(v.len().saturating_sub(1));
        let v = v.get(start..).unwrap_or_default();
        let mut out = vec![0x02];
        let pad = v.first().is_some_and(|b| b & 0x80 != 0);
        out.push(u8::try_from(v.len() + usize::from(pad)).unwrap_or(0));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let body = [int(r), int(s)].concat();
    let mut der = vec![0x30];
    if body.len() >= 0x80 {
        der.push(0x81);
    }
    der.push(u8::try_from(body.len()).ok()?);
    der.extend(body);
    Some(der)
}

/// An X.509 certificate, used as a container for a trusted public key.
#[derive(Clone)]
pub struct Certificate {
    der: Arc<[u8]>,
    key: PublicKey,
    not_before: i64,
    not_after: i64,
    subject: String,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .field("key_type", &self.key.key_type)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| key_error(format!("the certificate cannot be parsed: {e}")))?;
        if !rest.is_empty() {
            return Err(key_error("trailing data after the certificate"));
        }
        let shared: Arc<[u8]> = Arc::from(der);
        let key = PublicKey::from_info(cert.public_key(), Some(shared.clone()))?;
        Ok(Self {
            der: shared,
            key,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            subject: cert.subject().to_string(),
        })
    }

    /// Parses every `CERTIFICATE` block of a PEM text (at least one).
    pub fn from_pem(pem: &str) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let der = der.map_err(|e| key_error(format!("bad PEM certificate: {e}")))?;
            out.push(Self::from_der(&der)?);
        }
        if out.is_empty() {
            return Err(key_error("no CERTIFICATE block found in the PEM text"));
        }
        Ok(out)
    }

    /// Parses the bare base64 found in metadata and `KeyInfo/X509Certificate`.
    pub fn from_base64(text: &str) -> Result<Self> {
        Self::from_der(&decode_base64(text)?)
    }

    /// The DER encoding.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The public key (carrying this certificate, so `KeyInfo` can select it).
    #[must_use]
    pub const fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The subject distinguished name.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Start of validity, Unix seconds.
    #[must_use]
    pub const fn not_before(&self) -> i64 {
        self.not_before
    }

    /// End of validity, Unix seconds.
    #[must_use]
    pub const fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether `unix_seconds` lies in the validity window. Information only:
    /// SAML trusts configured keys whatever their certificate's dates.
    #[must_use]
    pub const fn is_valid_at(&self, unix_seconds: i64) -> bool {
        self.not_before <= unix_seconds && unix_seconds <= self.not_after
    }
}

/// The private half of a key pair, for signing requests, metadata and test
/// responses. Its `Debug` never prints key material.
pub struct SigningKey {
    inner: SigningInner,
    certificate: Option<Certificate>,
}

enum SigningInner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, KeyType),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key", &"[redacted]")
            .field("certificate", &self.certificate)
            .finish()
    }
}

impl SigningKey {
    /// Parses a PEM private key: PKCS#8 (`PRIVATE KEY`), PKCS#1
    /// (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| key_error(format!("no usable private key in the PEM text: {e}")))?;
        Self::from_private_key_der(&der)
    }

    /// Parses a DER private key, trying PKCS#8, then PKCS#1, then SEC1.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        Self::from_pkcs8(der)
            .or_else(|_| {
                RsaKeyPair::from_der(der)
                    .map(|k| Self {
                        inner: SigningInner::Rsa(k),
                        certificate: None,
                    })
                    .map_err(|_| key_error(""))
            })
            .or_else(|_| Self::from_sec1(der))
            .map_err(|_| key_error("the DER private key is not PKCS#8, PKCS#1 or SEC1"))
    }

    fn from_private_key_der(der: &PrivateKeyDer<'_>) -> Result<Self> {
        match der {
            PrivateKeyDer::Pkcs8(k) => Self::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(|k| Self {
                    inner: SigningInner::Rsa(k),
                    certificate: None,
                })
                .map_err(|e| key_error(format!("bad RSA private key: {e}"))),
            PrivateKeyDer::Sec1(k) => Self::from_sec1(k.secret_sec1_der()),
            _ => Err(key_error("unsupported private key format")),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self> {
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Ok(Self {
                inner: SigningInner::Rsa(k),
                certificate: None,
            });
        }
        for (alg, kt) in ec_signing_algorithms() {
            if let Ok(k) = EcdsaKeyPair::from_pkcs8(alg, der) {
                return Ok(Self {
                    inner: SigningInner::Ec(k, kt),
                    certificate: None,
                });
            }
        }
        Err(key_error(
            "the PKCS#8 key is not RSA or ECDSA P-256/P-384/P-521",
        ))
    }

    fn from_sec1(der: &[u8]) -> Result<Self> {
        for (alg, kt) in ec_signing_algorithms() {
            if let Ok(k) = EcdsaKeyPair::from_private_key_der(alg, der) {
                return Ok(Self {
                    inner: SigningInner::Ec(k, kt),
                    certificate: None,
                });
            }
        }
        Err(key_error("the SEC1 key is not ECDSA P-256/P-384/P-521"))
    }

    /// Attaches the certificate to publish in `KeyInfo` and metadata. It must
    /// hold this key's public half.
    pub fn with_certificate(mut self, certificate: Certificate) -> Result<Self> {
        if certificate.public_key().key_bytes != self.public_key_bytes() {
            return Err(key_error("the certificate does not match the private key"));
        }
        self.certificate = Some(certificate);
        Ok(self)
    }

    /// The attached certificate, if any.
    #[must_use]
    pub const fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    /// The key's type and size.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            SigningInner::Rsa(k) => KeyType::Rsa {
                bits: k.public_modulus_len() * 8,
            },
            SigningInner::Ec(_, kt) => *kt,
        }
    }

    fn public_key_bytes(&self) -> &[u8] {
        match &self.inner {
            SigningInner::Rsa(k) => k.public_key().as_ref(),
            SigningInner::Ec(k, _) => k.public_key().as_ref(),
        }
    }

    /// The default signature algorithm for this key.
    #[must_use]
    pub fn default_algorithm(&self) -> SignatureAlgorithm {
        match self.key_type() {
            KeyType::Rsa { .. } => SignatureAlgorithm::RsaSha256,
            KeyType::EcP256 => SignatureAlgorithm::EcdsaSha256,
            KeyType::EcP384 => SignatureAlgorithm::EcdsaSha384,
            KeyType::EcP521 => SignatureAlgorithm::EcdsaSha512,
        }
    }

    /// Signs `message`. ECDSA signatures come out as raw `r‖s`. For ECDSA the
    /// digest must match the curve (P-256/SHA-256, P-384/SHA-384, P-521/any).
    pub fn sign(&self, algorithm: SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>> {
        use SignatureAlgorithm as A;
        let failed = || Error::new(ErrorCode::SignatureInvalid, "signing failed");
        let rng = SystemRandom::new();
        match &self.inner {
            SigningInner::Rsa(k) => {
                let padding: &'static dyn signature::RsaEncoding = match algorithm {
                    A::RsaSha1 => {
                        return Err(Error::new(
                            ErrorCode::AlgorithmForbidden,
                            "we never make RSA-SHA1 signatures",
                        ));
                    }
                    A::RsaSha256 => &signature::RSA_PKCS1_SHA256,
                    A::RsaSha384 => &signature::RSA_PKCS1_SHA384,
                    A::RsaSha512 => &signature::RSA_PKCS1_SHA512,
                    A::RsaPssSha256 => &signature::RSA_PSS_SHA256,
                    A::RsaPssSha384 => &signature::RSA_PSS_SHA384,
                    A::RsaPssSha512 => &signature::RSA_PSS_SHA512,
                    _ => return Err(key_error("an RSA key cannot make ECDSA signatures")),
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(padding, &rng, message, &mut sig)
                    .map_err(|_| failed())?;
                Ok(sig)
            }
            SigningInner::Ec(k, kt) => {
                let matches_curve = matches!(
                    (kt, algorithm),
                    (KeyType::EcP256, A::EcdsaSha256)
                        | (KeyType::EcP384, A::EcdsaSha384)
                        | (KeyType::EcP521, A::EcdsaSha512)
                );
                if !matches_curve {
                    return Err(key_error(format!(
                        "a {kt:?} key signs only with its matching ECDSA digest"
                    )));
                }
                Ok(k.sign(&rng, message)
                    .map_err(|_| failed())?
                    .as_ref()
                    .to_vec())
            }
        }
    }
}

fn ec_signing_algorithms() -> [(&'static signature::EcdsaSigningAlgorithm, KeyType); 3] {
    [
        (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, KeyType::EcP256),
        (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, KeyType::EcP384),
        (&signature::ECDSA_P521_SHA512_FIXED_SIGNING, KeyType::EcP521),
    ]
}
