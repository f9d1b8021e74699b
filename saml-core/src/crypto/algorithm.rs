//! XML-DSig algorithm URIs and what they mean. SHA-1 based algorithms are
//! known here but only usable behind an explicit opt-in at the call site.

use aws_lc_rs::digest;

use crate::error::{Error, ErrorCode, Result};

/// A digest method (`ds:DigestMethod/@Algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-1: legacy, accepted only with an explicit opt-in.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm URI.
    #[must_use]
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            Self::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            Self::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// Parses a DigestMethod URI; SHA-1 only when `allow_sha1`.
    pub fn from_uri(uri: &str, allow_sha1: bool) -> Result<Self> {
        let alg = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|a| a.uri() == uri)
            .ok_or_else(|| forbidden("digest", uri))?;
        if alg == Self::Sha1 && !allow_sha1 {
            return Err(sha1_refused("digest"));
        }
        Ok(alg)
    }

    pub(crate) fn aws(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }
}

/// A signature method (`ds:SignatureMethod/@Algorithm`, or `SigAlg` in the
/// HTTP-Redirect binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-1: legacy, accepted only with an explicit opt-in.
    RsaSha1,
    /// RSA PKCS#1 v1.5 with SHA-256 (the default).
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RsaSha384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RsaSha512,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256 (RFC 6931).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384 and MGF1-SHA-384 (RFC 6931).
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512 and MGF1-SHA-512 (RFC 6931).
    RsaPssSha512,
    /// ECDSA with SHA-256 (signature as raw r‖s).
    EcdsaSha256,
    /// ECDSA with SHA-384 (signature as raw r‖s).
    EcdsaSha384,
    /// ECDSA with SHA-512 (signature as raw r‖s).
    EcdsaSha512,
}

impl SignatureAlgorithm {
    const ALL: [Self; 10] = [
        Self::RsaSha1,
        Self::RsaSha256,
        Self::RsaSha384,
        Self::RsaSha512,
        Self::RsaPssSha256,
        Self::RsaPssSha384,
        Self::RsaPssSha512,
        Self::EcdsaSha256,
        Self::EcdsaSha384,
        Self::EcdsaSha512,
    ];

    /// The algorithm URI.
    #[must_use]
    pub const fn uri(self) -> &'static str {
        match self {
            Self::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            Self::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Self::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            Self::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            Self::RsaPssSha256 => "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
            Self::RsaPssSha384 => "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1",
            Self::RsaPssSha512 => "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1",
            Self::EcdsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            Self::EcdsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
            Self::EcdsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
        }
    }

    /// Parses a SignatureMethod URI; SHA-1 only when `allow_sha1`.
    pub fn from_uri(uri: &str, allow_sha1: bool) -> Result<Self> {
        let alg = Self::ALL
            .into_iter()
            .find(|a| a.uri() == uri)
            .ok_or_else(|| forbidden("signature", uri))?;
        if alg == Self::RsaSha1 && !allow_sha1 {
            return Err(sha1_refused("signature"));
        }
        Ok(alg)
    }

    /// True for the ECDSA algorithms.
    #[must_use]
    pub const fn is_ecdsa(self) -> bool {
        matches!(
            self,
            Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512
        )
    }
}

fn forbidden(what: &str, uri: &str) -> Error {
    Error::new(
        ErrorCode::AlgorithmForbidden,
        format!(
            "{what} algorithm `{}` is not supported or not allowed",
            crate::xml::shorten(uri)
        ),
    )
}

fn sha1_refused(what: &str) -> Error {
    Error::new(
        ErrorCode::AlgorithmForbidden,
        format!(
            "SHA-1 {what} algorithms are refused; ask the IdP for SHA-256 or opt in explicitly (allow_sha1)"
        ),
    )
}
