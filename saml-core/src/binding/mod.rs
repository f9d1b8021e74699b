//! HTTP bindings: how a SAML message travels through the browser.
//!
//! - HTTP-Redirect ([`redirect_url`], [`encode_redirect`], [`decode_redirect`],
//!   [`parse_redirect_query`]): DEFLATE + base64 in the query string of a
//!   redirect, signed (if at all) over the query string; verification of such
//!   signatures is [`dsig::verify_redirect_query`](crate::dsig::verify_redirect_query).
//! - HTTP-POST ([`post_form`], [`PostForm`], [`encode_post`], [`decode_post`]):
//!   base64 in a form field of a page the browser posts; signed (if at all)
//!   inside the XML.
//!
//! - SOAP ([`soap_envelope`], [`soap_message`]): server to server, for
//!   artifact resolution and back-channel logout; signed inside the XML.
//!
//! Everything here is bounded: inflating stops at
//! [`Limits::max_xml_bytes`](crate::Limits::max_xml_bytes) and a posted value
//! is size-checked before it is decoded. The rendered form never carries an
//! inline script unless the caller gives a CSP nonce.
//!
//! ```
//! use saml_core::binding::{decode_redirect, parse_redirect_query, redirect_url};
//! use saml_core::dsig::RedirectParameter;
//! use saml_core::Limits;
//!
//! let xml = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#;
//! let url = redirect_url("https://idp.example/slo", RedirectParameter::SamlRequest, xml, Some("s1"), None)?;
//! let (_, query) = url.split_once('?').ok_or("a query string")?;
//! let received = parse_redirect_query(query, &Limits::default())?;
//! assert_eq!(received.xml(), xml);
//! assert_eq!(received.relay_state(), Some("s1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod post;
mod redirect;
pub(crate) mod soap;

pub use crate::dsig::RedirectParameter;

/// Decodes an `application/x-www-form-urlencoded` body (as the HTTP-POST
/// binding delivers it) into name/value pairs, in order. `None` if an escape
/// is malformed or a value is not UTF-8.
#[must_use]
pub fn parse_form(body: &str) -> Option<Vec<(String, String)>> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                crate::dsig::percent_decode(name, true)?,
                crate::dsig::percent_decode(value, true)?,
            ))
        })
        .collect()
}
pub use post::{PostForm, decode_post, encode_post, html_escape, post_form};
pub use redirect::{
    RedirectMessage, decode_redirect, encode_redirect, parse_redirect_query, redirect_url,
};
pub use soap::{SOAP_ACTION, SOAP_ENV_NS, SoapMessage, soap_envelope, soap_message};

use crate::error::{Error, ErrorCode, Result};

/// Refuses a destination that is not an absolute `http://` or `https://`
/// URL, or that contains whitespace or control characters. Destinations
/// come from configuration or metadata; this stops a `javascript:` form
/// action or a header-splitting Location at the last step.
fn check_destination(destination: &str) -> Result<()> {
    let scheme_ok = ["https://", "http://"].iter().any(|scheme| {
        destination
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
            && destination.len() > scheme.len()
    });
    if !scheme_ok {
        return Err(Error::new(
            ErrorCode::MalformedXml,
            format!(
                "the destination `{}` is not an http(s) URL",
                crate::xml::shorten(destination)
            ),
        ));
    }
    if destination
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::new(
            ErrorCode::MalformedXml,
            "the destination contains whitespace or control characters",
        ));
    }
    Ok(())
}
