//! Rejections: a stable error code, an HTTP status and a short message,
//! rendered as an HTML page for browsers or JSON for API callers. Never a 500.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use saml_core::{Error, ErrorCode};

/// Why the layer refused a request. Attached to the response extensions, so
/// applications can log or restyle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    code: ErrorCode,
    status: StatusCode,
    detail: String,
}

impl Rejection {
    /// A rejection for a library error, with the status its code calls for.
    #[must_use]
    pub fn from_error(error: &Error) -> Self {
        let status = match error.code() {
            ErrorCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UnknownProvider => StatusCode::NOT_FOUND,
            ErrorCode::InputTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UserNotAllowed => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            code: error.code(),
            status,
            detail: error.detail().to_owned(),
        }
    }

    /// A rejection with an explicit status.
    #[must_use]
    pub fn new(code: ErrorCode, status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            status,
            detail: detail.into(),
        }
    }

    /// The stable error code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The human-readable detail.
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Renders the rejection: JSON for API callers, a small HTML page otherwise.
    pub(crate) fn into_response(self, json: bool) -> Response<Bytes> {
        let (content_type, body) = if json {
            let body = serde_json::json!({"error": self.code.as_str(), "message": self.detail})
                .to_string();
            ("application/json", body)
        } else {
            let body = format!(
                concat!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
                    "<title>Sign-in failed</title></head><body>",
                    "<h1>Sign-in failed</h1><p>{}</p><p>Error code: <code>{}</code></p>",
                    "<p><a href=\"/\">Back to the start page</a></p></body></html>"
                ),
                html_escape(&self.detail),
                self.code.as_str()
            );
            ("text/html; charset=utf-8", body)
        };
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response.extensions_mut().insert(self);
        response
    }
}

pub(crate) use saml_core::binding::html_escape;
