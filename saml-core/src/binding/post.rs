//! The HTTP-POST binding (SAML Bindings 2.0, section 3.5): the message is
//! base64-encoded (no DEFLATE) into a hidden form field that the browser
//! posts to the recipient, with an optional `RelayState`.
//!
//! Sending: [`post_form`] builds a [`PostForm`], rendered as a complete page
//! by [`PostForm::html`] (the user clicks "Continue") or
//! [`PostForm::html_with_nonce`] (submits itself under a nonce-based
//! Content-Security-Policy; no inline script without a nonce ever). Frameworks
//! that render their own page use [`PostForm::action`] and
//! [`PostForm::fields`]. Receiving: [`decode_post`] on the form field value.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::dsig::RedirectParameter;
use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;

/// Standard alphabet; padding optional on input (some senders drop it).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64-encodes (standard alphabet, padded, one line) a message for the
/// HTTP-POST binding.
///
/// ```
/// use saml_core::binding::{decode_post, encode_post};
/// use saml_core::Limits;
///
/// let value = encode_post("<samlp:Response/>");
/// assert_eq!(decode_post(&value, &Limits::default())?, "<samlp:Response/>");
/// # Ok::<(), saml_core::Error>(())
/// ```
#[must_use]
pub fn encode_post(message_xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(message_xml.as_bytes())
}

/// The longest base64 text (whitespace excluded) whose decoding can fit in
/// `max_xml_bytes`.
const fn max_base64_len(max_xml_bytes: usize) -> usize {
    (max_xml_bytes / 3).saturating_mul(4).saturating_add(4)
}

/// Decodes an HTTP-POST message value (the `SAMLResponse` or `SAMLRequest`
/// form field, after form decoding) back to the XML text.
///
/// ASCII whitespace (IdPs wrap lines at 64 or 76 characters) is ignored and
/// padding is optional. The size is checked before anything is decoded: a
/// value whose base64 could decode to more than `limits.max_xml_bytes` is
/// refused outright, and so is one padded with so much whitespace that
/// merely stripping it would cost.
///
/// Errors: `input_too_large`, `malformed_xml` (not base64),
/// `unsupported_encoding` (the message is not UTF-8).
pub fn decode_post(value: &str, limits: &Limits) -> Result<String> {
    let max = limits.max_xml_bytes;
    let max_b64 = max_base64_len(max);
    let too_large = || {
        Error::new(
            ErrorCode::InputTooLarge,
            format!("the posted message would decode to more than {max} bytes"),
        )
    };
    // Generous room for line breaks (CRLF every 64 characters is +3%).
    if value.len() > max_b64.saturating_mul(2) {
        return Err(too_large());
    }
    let compact: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if compact.len() > max_b64 {
        return Err(too_large());
    }
    let decoded = LENIENT.decode(&compact).map_err(|_| {
        Error::new(
            ErrorCode::MalformedXml,
            "the posted message is not valid base64",
        )
    })?;
    if decoded.len() > max {
        return Err(too_large());
    }
    // XML in another encoding (UTF-16, Latin-1) is an encoding problem;
    // other binary data (a DEFLATEd message posted by mistake, say) is
    // simply not an XML message.
    let looks_like_xml = decoded.starts_with(&[0xFE, 0xFF])
        || decoded.starts_with(&[0xFF, 0xFE])
        || decoded.starts_with(&[0, b'<'])
        || decoded.first() == Some(&b'<');
    String::from_utf8(decoded).map_err(|_| {
        if looks_like_xml {
            Error::new(ErrorCode::UnsupportedEncoding, "the posted message is not UTF-8; send UTF-8")
        } else {
            Error::new(
                ErrorCode::MalformedXml,
                "the posted value does not decode to an XML message (DEFLATEd? that is for the Redirect binding)",
            )
        }
    })
}

/// Escapes `&`, `<`, `>`, `"` and `'`: the result is safe as HTML or XML
/// element content and inside single- or double-quoted attribute values.
///
/// ```
/// assert_eq!(
///     saml_core::binding::html_escape(r#"<a href="x">O'Neil & co</a>"#),
///     "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
/// );
/// ```
#[must_use]
pub fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTTP-POST binding message ready to send: the form's target and its
/// fields (already base64-encoded, not yet HTML-escaped). Build it with
/// [`post_form`].
///
/// The pages it renders carry no inline script unless a CSP nonce is given:
/// - [`html`](Self::html) shows a "Continue" button that the user clicks;
/// - [`html_with_nonce`](Self::html_with_nonce) submits itself with
///   `<script nonce="…">`, which a `Content-Security-Policy` of
///   `script-src 'nonce-…'` allows; the button is then inside `<noscript>`.
///
/// The page's CSP must not restrict `form-action` to the SP's own origin,
/// since the form posts to another site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostForm {
    action: String,
    fields: Vec<(String, String)>,
}

impl PostForm {
    /// The URL the form posts to.
    #[must_use]
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The hidden fields, in order: the message (`SAMLRequest` or
    /// `SAMLResponse`, base64), then `RelayState` if any. Values are raw:
    /// escape them when rendering.
    #[must_use]
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// A complete HTML5 page with the form and a visible submit button,
    /// without any script: the user must click "Continue". Use
    /// [`html_with_nonce`](Self::html_with_nonce) for a page that submits
    /// itself.
    #[must_use]
    pub fn html(&self) -> String {
        self.page(None)
    }

    /// A complete HTML5 page that submits itself with
    /// `<script nonce="{nonce}">document.forms[0].submit()</script>`; the
    /// submit button shows only without JavaScript (`<noscript>`). Serve it
    /// with a `Content-Security-Policy` whose `script-src` allows
    /// `'nonce-{nonce}'`, and use a fresh random nonce per response.
    #[must_use]
    pub fn html_with_nonce(&self, nonce: &str) -> String {
        self.page(Some(nonce))
    }

    fn page(&self, nonce: Option<&str>) -> String {
        let mut out = String::with_capacity(
            512 + self.action.len()
                + self
                    .fields
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 48)
                    .sum::<usize>(),
        );
        out.push_str(concat!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n",
            "<meta charset=\"utf-8\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<meta name=\"robots\" content=\"noindex, nofollow\">\n",
            "<title>Continue sign-in</title>\n</head>\n<body>\n",
        ));
        out.push_str("<form method=\"post\" action=\"");
        out.push_str(&html_escape(&self.action));
        out.push_str("\">\n");
        for (name, value) in &self.fields {
            out.push_str("<input type=\"hidden\" name=\"");
            out.push_str(&html_escape(name));
            out.push_str("\" value=\"");
            out.push_str(&html_escape(value));
            out.push_str("\">\n");
        }
        let button = "<p>Press Continue to go on.</p>\n<button type=\"submit\">Continue</button>\n";
        if nonce.is_some() {
            out.push_str("<noscript>\n");
            out.push_str(button);
            out.push_str("</noscript>\n");
        } else {
            out.push_str(button);
        }
        out.push_str("</form>\n");
        if let Some(nonce) = nonce {
            out.push_str("<script nonce=\"");
            out.push_str(&html_escape(nonce));
            out.push_str("\">document.forms[0].submit()</script>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

/// Builds the HTTP-POST form that carries `message_xml` (base64-encoded) as
/// `parameter` to `destination`, with `RelayState` when given. Sign the XML
/// first if it must be signed (on this binding the signature is inside the
/// XML: [`sign_enveloped`](crate::dsig::sign_enveloped)).
///
/// Errors: `malformed_xml` when the destination is not an `http(s)://` URL
/// (a `javascript:` form action would run script in the SP's origin) or
/// contains whitespace or control characters.
pub fn post_form(
    destination: &str,
    parameter: RedirectParameter,
    message_xml: &str,
    relay_state: Option<&str>,
) -> Result<PostForm> {
    super::check_destination(destination)?;
    let mut fields = vec![(parameter.name().to_owned(), encode_post(message_xml))];
    if let Some(relay_state) = relay_state {
        fields.push(("RelayState".to_owned(), relay_state.to_owned()));
    }
    Ok(PostForm {
        action: destination.to_owned(),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_bound_matches_the_limit() {
        // Exactly max bytes of XML encodes within the bound.
        for max in [0, 1, 2, 3, 4, 100, 1024 * 1024] {
            let xml = "a".repeat(max);
            assert!(encode_post(&xml).len() <= max_base64_len(max), "{max}");
            let limits = Limits {
                max_xml_bytes: max,
                ..Limits::default()
            };
            assert_eq!(decode_post(&encode_post(&xml), &limits).unwrap(), xml);
            let over = "a".repeat(max + 1);
            assert_eq!(
                decode_post(&encode_post(&over), &limits)
                    .unwrap_err()
                    .code(),
                ErrorCode::InputTooLarge,
                "{max}"
            );
        }
    }

    #[test]
    fn whitespace_and_missing_padding_are_tolerated() {
        let value = encode_post("<a>hello</a>!");
        assert!(value.ends_with('='));
        let wrapped = format!(" {}\r\n{}\t", &value[..8], value[8..].trim_end_matches('='));
        assert_eq!(
            decode_post(&wrapped, &Limits::default()).unwrap(),
            "<a>hello</a>!"
        );
    }

    #[test]
    fn escaping_covers_quotes_and_markup() {
        assert_eq!(
            html_escape(r#"<a href='x'>"&"</a>"#),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
    }
}
