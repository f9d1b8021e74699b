//! Errors: [`ConfigError`] when a resolver is built (a bad URL, a missing
//! signing certificate), [`RemoteError`] when metadata is fetched, verified
//! or looked up. A [`RemoteError`] carries the stable
//! [`ErrorCode`](saml_core::ErrorCode) that fits it and turns into a
//! [`StoreError`] at the [`MetadataResolver`](saml_core::store::MetadataResolver)
//! boundary, so the layer fails closed (503) with a message that says why.

use saml_core::ErrorCode;
use saml_core::store::StoreError;

use crate::http::HttpError;

/// A resolver's configuration cannot work; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metadata configuration: {0}")]
pub struct ConfigError(pub(crate) String);

impl ConfigError {
    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Why metadata could not be fetched, trusted or used.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The request failed (transport rule, connection, timeout, size cap).
    #[error("fetching {url} failed: {error}")]
    Http {
        /// The URL.
        url: String,
        /// What the client reported.
        error: HttpError,
    },
    /// The server answered with a status other than 200 (or 304 to a
    /// conditional request).
    #[error("fetching {url} failed: HTTP status {status}; check the metadata URL")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The document could not be used: not metadata, a bad or missing
    /// signature, an untrusted signer, a size limit.
    #[error("the metadata from {url} was refused: {error}")]
    Metadata {
        /// The URL.
        url: String,
        /// The parser's or verifier's error (its code is kept).
        error: saml_core::Error,
    },
    /// The metadata's `validUntil` has passed and no fresh copy could be
    /// fetched: it is no longer trusted.
    #[error(
        "the metadata of {what} expired at {valid_until} (validUntil) and no fresh copy could be fetched; fix the metadata URL or ask the publisher to re-sign it"
    )]
    Expired {
        /// The source URL or entity ID.
        what: String,
        /// When it expired (RFC 3339).
        valid_until: String,
    },
    /// The document does not hold the configured entity.
    #[error("{0}")]
    MissingEntity(String),
    /// No copy has been loaded yet and none could be (see the last error).
    #[error("no metadata loaded from {url} yet: {reason}")]
    NotLoaded {
        /// The URL.
        url: String,
        /// Why (the last fetch error), or that the retry time has not come.
        reason: String,
    },
    /// The archive of last-good copies failed.
    #[error("metadata archive: {0}")]
    Archive(String),
}

impl RemoteError {
    /// The stable error code that fits: `store_unavailable` for network and
    /// status failures, `input_too_large` for the size cap, `expired`, the
    /// parser's or verifier's code (`signature_invalid`, `signature_missing`,
    /// `digest_mismatch`, `malformed_xml`...) and `unknown_provider` for a
    /// missing entity.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Http { error, .. } => match error.kind() {
                crate::http::HttpErrorKind::TooLarge => ErrorCode::InputTooLarge,
                _ => ErrorCode::StoreUnavailable,
            },
            Self::Metadata { error, .. } => error.code(),
            Self::Expired { .. } => ErrorCode::Expired,
            Self::MissingEntity(_) => ErrorCode::UnknownProvider,
            Self::Status { .. } | Self::NotLoaded { .. } | Self::Archive(_) => {
                ErrorCode::StoreUnavailable
            }
        }
    }
}

impl From<RemoteError> for StoreError {
    fn from(e: RemoteError) -> Self {
        Self::Unavailable(format!("{}: {e}", e.code()))
    }
}

impl From<RemoteError> for saml_core::Error {
    fn from(e: RemoteError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}
