//! The crate's one error type. Every error carries a stable, snake_case
//! [`ErrorCode`] (the contract used by the CLI, the HTTP layer and the
//! troubleshooting guide) and a short detail that is safe to log.

use std::fmt;

/// Result alias used throughout `saml-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable error codes. The string form ([`ErrorCode::as_str`]) is a public
/// contract: it never changes once released.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The input is not well-formed (namespace-aware) XML, or breaks a structural rule.
    MalformedXml,
    /// The input contains a DOCTYPE, an entity declaration or an unknown entity reference.
    DtdForbidden,
    /// The input exceeds a configured size, depth or count limit.
    InputTooLarge,
    /// The input is not UTF-8 (or declares another encoding).
    UnsupportedEncoding,
    /// Two elements carry the same ID, so a reference to it is ambiguous.
    DuplicateId,
    /// A required signature is absent.
    SignatureMissing,
    /// A signature value does not verify.
    SignatureInvalid,
    /// A Reference digest does not match the canonical bytes.
    DigestMismatch,
    /// The signing key is not among the trusted keys.
    UntrustedKey,
    /// An algorithm or transform is not allowed.
    AlgorithmForbidden,
    /// A Reference does not point at the element that holds the signature.
    ReferenceMismatch,
    /// More than one assertion, or another ambiguity about what was signed.
    AmbiguousAssertion,
    /// The response status is not Success.
    StatusNotSuccess,
    /// The issuer is not the expected identity provider.
    IssuerMismatch,
    /// The Destination does not match this endpoint.
    DestinationMismatch,
    /// The Audience does not include this service provider.
    AudienceMismatch,
    /// The SubjectConfirmationData Recipient does not match this endpoint.
    RecipientMismatch,
    /// InResponseTo does not match the pending request.
    InResponseToMismatch,
    /// An unsolicited (IdP-initiated) response arrived while not allowed.
    UnsolicitedResponse,
    /// A validity window has not started yet.
    NotYetValid,
    /// A validity window has ended.
    Expired,
    /// A one-time identifier was seen before.
    Replayed,
    /// Decryption failed (deliberately unspecific).
    DecryptionFailed,
    /// No identity provider is configured under that name or entity ID.
    UnknownProvider,
    /// A required attribute is absent.
    MissingAttribute,
    /// The returned authentication context does not satisfy the request.
    AuthnContextMismatch,
    /// A store could not be reached; access is denied.
    StoreUnavailable,
    /// The user is valid at the IdP but may not sign in here (not
    /// provisioned, or disabled).
    UserNotAllowed,
}

impl ErrorCode {
    /// Every code, for documentation and uniqueness tests.
    pub const ALL: &'static [Self] = &[
        Self::MalformedXml,
        Self::DtdForbidden,
        Self::InputTooLarge,
        Self::UnsupportedEncoding,
        Self::DuplicateId,
        Self::SignatureMissing,
        Self::SignatureInvalid,
        Self::DigestMismatch,
        Self::UntrustedKey,
        Self::AlgorithmForbidden,
        Self::ReferenceMismatch,
        Self::AmbiguousAssertion,
        Self::StatusNotSuccess,
        Self::IssuerMismatch,
        Self::DestinationMismatch,
        Self::AudienceMismatch,
        Self::RecipientMismatch,
        Self::InResponseToMismatch,
        Self::UnsolicitedResponse,
        Self::NotYetValid,
        Self::Expired,
        Self::Replayed,
        Self::DecryptionFailed,
        Self::UnknownProvider,
        Self::MissingAttribute,
        Self::AuthnContextMismatch,
        Self::StoreUnavailable,
        Self::UserNotAllowed,
    ];

    /// The stable snake_case string of this code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedXml => "malformed_xml",
            Self::DtdForbidden => "dtd_forbidden",
            Self::InputTooLarge => "input_too_large",
            Self::UnsupportedEncoding => "unsupported_encoding",
            Self::DuplicateId => "duplicate_id",
            Self::SignatureMissing => "signature_missing",
            Self::SignatureInvalid => "signature_invalid",
            Self::DigestMismatch => "digest_mismatch",
            Self::UntrustedKey => "untrusted_key",
            Self::AlgorithmForbidden => "algorithm_forbidden",
            Self::ReferenceMismatch => "reference_mismatch",
            Self::AmbiguousAssertion => "ambiguous_assertion",
            Self::StatusNotSuccess => "status_not_success",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::DestinationMismatch => "destination_mismatch",
            Self::AudienceMismatch => "audience_mismatch",
            Self::RecipientMismatch => "recipient_mismatch",
            Self::InResponseToMismatch => "in_response_to_mismatch",
            Self::UnsolicitedResponse => "unsolicited_response",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::Replayed => "replayed",
            Self::DecryptionFailed => "decryption_failed",
            Self::UnknownProvider => "unknown_provider",
            Self::MissingAttribute => "missing_attribute",
            Self::AuthnContextMismatch => "authn_context_mismatch",
            Self::StoreUnavailable => "store_unavailable",
            Self::UserNotAllowed => "user_not_allowed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from `saml-core`: a stable [`ErrorCode`] plus a short,
/// log-safe detail that says what went wrong and, where possible, what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Error {
    code: ErrorCode,
    detail: Box<str>,
}

/// Longest detail kept; longer details (which could echo attacker input) are cut.
const MAX_DETAIL: usize = 300;

impl Error {
    /// Builds an error from a code and a detail message.
    #[must_use]
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        let mut detail: String = detail.into();
        if detail.len() > MAX_DETAIL {
            let mut cut = MAX_DETAIL;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
            detail.push('…');
        }
        Self {
            code,
            detail: detail.into_boxed_str(),
        }
    }

    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable detail (safe to log, never contains secrets).
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn every_code_is_documented_in_the_troubleshooting_guide() {
        let guide = include_str!("../../docs/troubleshooting.md");
        for code in ErrorCode::ALL {
            assert!(
                guide.contains(&format!("## `{}`", code.as_str())),
                "{code} is not documented"
            );
        }
    }

    #[test]
    fn long_details_are_cut() {
        let e = Error::new(ErrorCode::MalformedXml, "é".repeat(1000));
        assert!(e.detail().len() <= MAX_DETAIL + 3);
        assert_eq!(e.to_string().split(':').next(), Some("malformed_xml"));
    }
}
