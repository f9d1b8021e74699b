//! The one client trait for every server-to-server call: metadata and MDQ
//! fetches (`GET` with headers) today, SOAP calls (`POST` with a body) for
//! Artifact resolution and back-channel logout tomorrow.
//!
//! [`HttpClient`] is small and object-safe (`Arc<dyn HttpClient>`), so an
//! application can plug in the client it already has and tests can fake the
//! network. Its request and response types are our own ([`HttpRequest`],
//! [`HttpResponse`]): no client library appears in the API. Every request
//! carries its own timeout and response size cap, and an implementation must
//! enforce both *while* it reads (never buffer an oversized body first).
//!
//! The transport rule — HTTPS, or plain HTTP only to a loopback host
//! (`127.0.0.0/8`, `::1`, `localhost`) for development — is checked by
//! [`check_transport`]. The resolvers of this crate call it before every
//! request, so a user-supplied client gets the same rule.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

/// The default time limit of one request, connection to last body byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default response size cap (10 MiB): plenty for one entity's metadata;
/// raise it for federation aggregates.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// An HTTP method this crate sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpMethod {
    /// `GET` (metadata, MDQ).
    Get,
    /// `POST` (SOAP).
    Post,
}

impl HttpMethod {
    /// The method name as sent on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// One outgoing request.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, in order (names compare case-insensitively).
    pub headers: Vec<(String, String)>,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
    /// Time limit for the whole exchange, connection to last body byte.
    pub timeout: Duration,
    /// Largest response body accepted; a longer one fails with
    /// [`HttpErrorKind::TooLarge`] as soon as the limit is passed.
    pub max_response_bytes: usize,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body may be a signed SOAP message: show only its size.
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

impl HttpRequest {
    /// A `GET` of `url` with the default timeout and size cap.
    #[must_use]
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: HttpMethod::Get,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// A `POST` of `body` to `url` with the default timeout and size cap.
    #[must_use]
    pub fn post(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: HttpMethod::Post,
            body: body.into(),
            ..Self::get(url)
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the time limit.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the response size cap.
    #[must_use]
    pub const fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A response, body read in full (within the request's cap).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// A response with this status, no headers and this body.
    #[must_use]
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What went wrong with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// The URL breaks the transport rule (see [`check_transport`]) or cannot be parsed.
    InsecureUrl,
    /// The request did not complete within its timeout.
    Timeout,
    /// The response body was longer than the request's cap.
    TooLarge,
    /// The connection failed (DNS, TCP, TLS).
    Connect,
    /// Anything else: a protocol error, a refused redirect, a broken body.
    Other,
}

/// A failed request: a [`HttpErrorKind`] and a message that is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    kind: HttpErrorKind,
    message: String,
}

impl HttpError {
    /// An error of `kind`.
    #[must_use]
    pub fn new(kind: HttpErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> HttpErrorKind {
        self.kind
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Sends server-to-server HTTP requests.
///
/// Implementations must honour [`HttpRequest::timeout`] and stop reading as
/// soon as the body passes [`HttpRequest::max_response_bytes`]
/// ([`HttpErrorKind::TooLarge`]). They answer every status (a `404` or `500`
/// is an `Ok` response) and fail only when no response was read. They must
/// not follow a redirect to a URL that [`check_transport`] refuses; the
/// bundled [`ReqwestClient`](crate::ReqwestClient) follows none off the
/// original host.
#[async_trait]
pub trait HttpClient: Send + Sync + fmt::Debug {
    /// Sends `request` and reads the whole response.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}

#[async_trait]
impl<T: HttpClient + ?Sized> HttpClient for std::sync::Arc<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(request).await
    }
}

/// Checks the transport rule: `https://` anywhere, `http://` only to a
/// loopback host (`127.0.0.0/8`, `::1`, `localhost`) for development.
/// Returns the parsed URL.
///
/// ```
/// use saml_remote::check_transport;
///
/// assert!(check_transport("https://idp.example.org/metadata").is_ok());
/// assert!(check_transport("http://127.0.0.1:8080/metadata").is_ok());
/// assert!(check_transport("http://localhost/metadata").is_ok());
/// assert!(check_transport("http://idp.example.org/metadata").is_err());
/// assert!(check_transport("ftp://idp.example.org/metadata").is_err());
/// ```
///
/// # Errors
///
/// [`HttpErrorKind::InsecureUrl`] saying what to change.
pub fn check_transport(url: &str) -> Result<url::Url, HttpError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        HttpError::new(
            HttpErrorKind::InsecureUrl,
            format!("`{}` is not an absolute URL ({e})", shorten(url)),
        )
    })?;
    if parsed.username() != "" || parsed.password().is_some() {
        return Err(HttpError::new(
            HttpErrorKind::InsecureUrl,
            format!(
                "`{}` carries credentials in the URL; send them in a header instead",
                shorten(url)
            ),
        ));
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(HttpError::new(
            HttpErrorKind::InsecureUrl,
            format!(
                "`{}` uses plain HTTP; use https:// (plain HTTP is allowed only to 127.0.0.1, ::1 or localhost)",
                shorten(url)
            ),
        )),
        other => Err(HttpError::new(
            HttpErrorKind::InsecureUrl,
            format!("`{}` uses the scheme `{other}`; use https://", shorten(url)),
        )),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name.eq_ignore_ascii_case("localhost")
        }
        None => false,
    }
}

/// Cuts a URL or value echoed in a message to a readable length.
pub(crate) fn shorten(s: &str) -> &str {
    let mut end = s.len().min(200);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn transport_rule() {
        for ok in [
            "https://idp.example.org/md",
            "HTTPS://IDP.EXAMPLE.ORG/md",
            "http://127.0.0.1/md",
            "http://127.1.2.3:9000/md",
            "http://[::1]:8080/md",
            "http://localhost:3000/md",
            "http://LOCALHOST./md",
        ] {
            assert!(check_transport(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.org/md",
            "http://10.0.0.1/md",
            "http://[::2]/md",
            "http://localhost.example.org/md",
            "http://127.0.0.1.example.org/md",
            "ftp://idp.example.org/md",
            "file:///etc/passwd",
            "https://user:pw@idp.example.org/md",
            "/relative",
            "",
        ] {
            let err = check_transport(bad).unwrap_err();
            assert_eq!(err.kind(), HttpErrorKind::InsecureUrl, "{bad}");
        }
    }

    #[test]
    fn headers_compare_case_insensitively() {
        let r = HttpResponse::new(200, "x").header("ETag", "\"1\"");
        assert_eq!(r.header_value("etag"), Some("\"1\""));
        let q = HttpRequest::post("https://a.example", "body").header("SOAPAction", "x");
        assert_eq!(q.header_value("soapaction"), Some("x"));
        assert!(!format!("{q:?}").contains("body\""));
    }
}
