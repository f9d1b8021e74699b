//! One metadata document, fetched once: what an administrator's "fetch
//! metadata" button needs (a preview before anything is stored), under the
//! same rules as the resolvers' fetches.

use std::time::Duration;

use saml_core::{Error, ErrorCode};

use crate::error::RemoteError;
use crate::http::{HttpClient, HttpError, HttpErrorKind, HttpRequest, check_transport};

use crate::remote::ACCEPT_METADATA;

/// Fetches the metadata document at `url` once and returns its text: the
/// transport rule of [`check_transport`] (HTTPS, or plain HTTP to a loopback
/// host), `timeout` for the whole exchange, at most `max_bytes` of body,
/// status 200 only, UTF-8 (a leading byte-order mark is dropped). Nothing
/// is parsed or trusted here: parse the text with
/// [`IdpMetadata::parse`](saml_core::metadata::IdpMetadata::parse).
///
/// ```
/// use std::time::Duration;
/// use saml_remote::{HttpClient, HttpError, HttpRequest, HttpResponse, fetch_metadata_xml};
///
/// #[derive(Debug)]
/// struct Canned;
///
/// #[async_trait::async_trait]
/// impl HttpClient for Canned {
///     async fn send(&self, _: HttpRequest) -> Result<HttpResponse, HttpError> {
///         Ok(HttpResponse::new(200, "\u{feff}<md:EntityDescriptor/>"))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let xml = fetch_metadata_xml(&Canned, "https://idp.example.org/md", Duration::from_secs(10), 1 << 20).await?;
/// assert_eq!(xml, "<md:EntityDescriptor/>");
/// // Plain HTTP only to loopback hosts.
/// assert!(fetch_metadata_xml(&Canned, "http://idp.example.org/md", Duration::from_secs(10), 1 << 20).await.is_err());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`RemoteError::Http`] (the transport rule, connection, timeout, the size
/// cap), [`RemoteError::Status`] for any status but 200,
/// [`RemoteError::Metadata`] (`unsupported_encoding`) for a body that is
/// not UTF-8.
pub async fn fetch_metadata_xml(
    client: &dyn HttpClient,
    url: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<String, RemoteError> {
    let http = |error| RemoteError::Http {
        url: url.to_owned(),
        error,
    };
    check_transport(url).map_err(http)?;
    let request = HttpRequest::get(url)
        .header("Accept", ACCEPT_METADATA)
        .timeout(timeout)
        .max_response_bytes(max_bytes);
    let response = client.send(request).await.map_err(http)?;
    check_size(url, response.body.len(), max_bytes)?;
    if response.status != 200 {
        return Err(RemoteError::Status {
            url: url.to_owned(),
            status: response.status,
        });
    }
    metadata_text(url, response.body)
}

/// Refuses a body over the cap (a client that did not enforce it).
pub(crate) fn check_size(url: &str, len: usize, max_bytes: usize) -> Result<(), RemoteError> {
    if len > max_bytes {
        return Err(RemoteError::Http {
            url: url.to_owned(),
            error: HttpError::new(
                HttpErrorKind::TooLarge,
                format!(
                    "the response is larger than the {max_bytes} byte cap; raise max_response_bytes for this source if the document is legitimately that large"
                ),
            ),
        });
    }
    Ok(())
}

/// The body as text: UTF-8, without the byte-order mark some servers
/// (Entra ID) put first.
pub(crate) fn metadata_text(url: &str, body: Vec<u8>) -> Result<String, RemoteError> {
    let xml = String::from_utf8(body).map_err(|_| RemoteError::Metadata {
        url: url.to_owned(),
        error: Error::new(ErrorCode::UnsupportedEncoding, "the metadata is not UTF-8"),
    })?;
    Ok(match xml.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => xml,
    })
}
