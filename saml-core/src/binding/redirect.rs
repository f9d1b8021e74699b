//! The HTTP-Redirect binding (SAML Bindings 2.0, section 3.4): the message is
//! DEFLATEd (raw, RFC 1951), base64-encoded, percent-encoded and carried in
//! the query string of a `302` Location, with an optional `RelayState` and an
//! optional query-string signature.
//!
//! Sending: [`redirect_url`] (or [`encode_redirect`] for the bare value).
//! Receiving: a signed query goes through
//! [`verify_redirect_query`](crate::dsig::verify_redirect_query) and then
//! [`decode_redirect`] on its [`message`](crate::dsig::VerifiedRedirect::message);
//! an unsigned one through [`parse_redirect_query`]. Inflating is capped at
//! [`Limits::max_xml_bytes`], so a DEFLATE bomb costs at most that much memory.

use base64::Engine;
use miniz_oxide::inflate::{
    TINFLStatus, decompress_to_vec_with_limit, decompress_to_vec_zlib_with_limit,
};

use crate::crypto::{SignatureAlgorithm, SigningKey, decode_base64};
use crate::dsig::{RedirectParameter, percent_decode, percent_encode, sign_redirect_query};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;

/// Largest raw query [`parse_redirect_query`] accepts (the same bound as
/// [`verify_redirect_query`](crate::dsig::verify_redirect_query)).
const MAX_QUERY: usize = 256 * 1024;

/// DEFLATE level for outgoing messages (the default of zlib).
const DEFLATE_LEVEL: u8 = 6;

/// The names the binding owns in a query string.
const BINDING_PARAMETERS: [&str; 5] = [
    "SAMLRequest",
    "SAMLResponse",
    "RelayState",
    "SigAlg",
    "Signature",
];

fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::MalformedXml, detail)
}

/// DEFLATEs (raw RFC 1951, no zlib header) and base64-encodes (standard
/// alphabet, padded) a message for the HTTP-Redirect binding. The result is
/// not yet percent-encoded: [`redirect_url`] does that.
///
/// ```
/// use saml_core::binding::{decode_redirect, encode_redirect};
/// use saml_core::Limits;
///
/// let value = encode_redirect("<samlp:LogoutRequest/>");
/// assert_eq!(decode_redirect(&value, &Limits::default())?, "<samlp:LogoutRequest/>");
/// # Ok::<(), saml_core::Error>(())
/// ```
#[must_use]
pub fn encode_redirect(message_xml: &str) -> String {
    let deflated = miniz_oxide::deflate::compress_to_vec(message_xml.as_bytes(), DEFLATE_LEVEL);
    base64::engine::general_purpose::STANDARD.encode(deflated)
}

/// Decodes an HTTP-Redirect message value (already percent-decoded: base64
/// of the DEFLATEd XML) back to the XML text.
///
/// Whitespace in the base64 is ignored. The data must be raw DEFLATE as the
/// binding requires; a zlib-wrapped stream (some non-conforming senders add
/// the header) is accepted as well. Inflating stops at
/// `limits.max_xml_bytes`, so a DEFLATE bomb is refused after producing at
/// most that much output.
///
/// Errors: `input_too_large` (the base64 is over 1 MiB, or the inflated
/// message over `limits.max_xml_bytes`), `malformed_xml` (not base64, not a
/// DEFLATE stream, or a truncated one), `unsupported_encoding` (the message
/// is not UTF-8).
pub fn decode_redirect(value_b64: &str, limits: &Limits) -> Result<String> {
    let deflated = decode_base64(value_b64)
        .map_err(|e| retag(e, "the redirect message is not valid base64"))?;
    let max = limits.max_xml_bytes;
    let inflated = match decompress_to_vec_with_limit(&deflated, max) {
        Ok(out) => out,
        Err(e) if e.status == TINFLStatus::HasMoreOutput => return Err(too_large(max)),
        Err(raw_error) => {
            // A zlib header (CMF 0x78 with a valid FCHECK) never starts a
            // valid raw stream in practice, so trying it second is safe.
            let looks_like_zlib = matches!(deflated.as_slice(), [0x78, flg, ..]
                if (0x7800_u16 | u16::from(*flg)).is_multiple_of(31));
            if !looks_like_zlib {
                return Err(inflate_error(raw_error.status));
            }
            match decompress_to_vec_zlib_with_limit(&deflated, max) {
                Ok(out) => out,
                Err(e) if e.status == TINFLStatus::HasMoreOutput => return Err(too_large(max)),
                Err(e) => return Err(inflate_error(e.status)),
            }
        }
    };
    String::from_utf8(inflated).map_err(|_| {
        Error::new(
            ErrorCode::UnsupportedEncoding,
            "the inflated redirect message is not UTF-8",
        )
    })
}

/// Keeps `input_too_large`, turns every other base64 failure into `malformed_xml`.
fn retag(e: Error, detail: &str) -> Error {
    if e.code() == ErrorCode::InputTooLarge {
        e
    } else {
        malformed(detail)
    }
}

fn too_large(max: usize) -> Error {
    Error::new(
        ErrorCode::InputTooLarge,
        format!("the redirect message inflates to more than {max} bytes"),
    )
}

fn inflate_error(status: TINFLStatus) -> Error {
    let what = match status {
        TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => "is truncated",
        TINFLStatus::Adler32Mismatch => "has a bad checksum",
        _ => "is not a DEFLATE stream",
    };
    malformed(format!("the redirect message {what}"))
}

/// Builds the URL to redirect the browser to: `destination` plus the
/// binding's query, `SAMLRequest=…[&RelayState=…]` (or `SAMLResponse=…`),
/// and with `signing` also `&SigAlg=…&Signature=…` (via
/// [`sign_redirect_query`]).
///
/// A destination that already has a query string keeps it: the binding's
/// parameters are appended with `&` (ADFS and Entra ID endpoints such as
/// `https://adfs.example/adfs/ls/?wa=wsignin1.0`). Those extra parameters are
/// not signed, as the binding specifies, and verifiers ignore them. A
/// fragment (`#…`) stays at the end. Every value is percent-encoded (all but
/// RFC 3986 unreserved characters).
///
/// Note that the binding limits `RelayState` to 80 bytes; many IdPs accept
/// more, but an opaque short token is the portable choice.
///
/// Errors: `malformed_xml` when the destination is not an `http(s)://`
/// URL, contains whitespace or control characters, or already carries one of the
/// binding's parameters (`SAMLRequest`, `SAMLResponse`, `RelayState`,
/// `SigAlg`, `Signature`), which would make the message ambiguous; and
/// those of [`sign_redirect_query`] (`algorithm_forbidden` for RSA-SHA1,
/// `untrusted_key` for an algorithm that does not fit the key).
///
/// ```
/// use saml_core::binding::redirect_url;
/// use saml_core::dsig::RedirectParameter;
///
/// let url = redirect_url(
///     "https://adfs.example/adfs/ls/?wa=wsignin1.0",
///     RedirectParameter::SamlRequest,
///     "<samlp:AuthnRequest/>",
///     Some("/deep link"),
///     None,
/// )?;
/// assert!(url.starts_with("https://adfs.example/adfs/ls/?wa=wsignin1.0&SAMLRequest="));
/// assert!(url.ends_with("&RelayState=%2Fdeep%20link"));
/// # Ok::<(), saml_core::Error>(())
/// ```
pub fn redirect_url(
    destination: &str,
    parameter: RedirectParameter,
    message_xml: &str,
    relay_state: Option<&str>,
    signing: Option<(&SigningKey, SignatureAlgorithm)>,
) -> Result<String> {
    check_destination(destination)?;
    let (base, fragment) = match destination.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (destination, None),
    };
    let message = encode_redirect(message_xml);
    let query = match signing {
        Some((key, algorithm)) => {
            sign_redirect_query(parameter, &message, relay_state, key, algorithm)?
        }
        None => {
            let mut query = format!("{}={}", parameter.name(), percent_encode(&message));
            if let Some(relay_state) = relay_state {
                query.push_str("&RelayState=");
                query.push_str(&percent_encode(relay_state));
            }
            query
        }
    };
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut url = String::with_capacity(base.len() + query.len() + 2);
    url.push_str(base);
    url.push_str(separator);
    url.push_str(&query);
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    Ok(url)
}

/// Refuses destinations that cannot carry the binding's query safely.
fn check_destination(destination: &str) -> Result<()> {
    super::check_destination(destination)?;
    let query = destination
        .split('#')
        .next()
        .and_then(|d| d.split_once('?'))
        .map(|(_, q)| q);
    if let Some(query) = query {
        for pair in query.split('&') {
            let raw_name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let name = percent_decode(raw_name, true).unwrap_or_default();
            if BINDING_PARAMETERS.contains(&name.as_str()) {
                return Err(malformed(format!(
                    "the redirect destination already carries a {name} parameter"
                )));
            }
        }
    }
    Ok(())
}

/// A message received on the HTTP-Redirect binding, decoded but NOT
/// verified: see [`parse_redirect_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectMessage {
    parameter: RedirectParameter,
    xml: String,
    relay_state: Option<String>,
    has_signature: bool,
}

impl RedirectMessage {
    /// Whether the query carried `SAMLRequest` or `SAMLResponse`.
    #[must_use]
    pub const fn parameter(&self) -> RedirectParameter {
        self.parameter
    }

    /// The inflated message XML (not yet parsed).
    #[must_use]
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// Takes the inflated message XML.
    #[must_use]
    pub fn into_xml(self) -> String {
        self.xml
    }

    /// The decoded `RelayState`, if the query carried one.
    #[must_use]
    pub fn relay_state(&self) -> Option<&str> {
        self.relay_state.as_deref()
    }

    /// Whether the query carries a `Signature` or `SigAlg` parameter. Such a
    /// query must go through
    /// [`verify_redirect_query`](crate::dsig::verify_redirect_query);
    /// this type never says that a signature is valid.
    #[must_use]
    pub const fn has_signature(&self) -> bool {
        self.has_signature
    }
}

/// Parses a received HTTP-Redirect query string (the part after `?`, as
/// received) without verifying any signature: for messages that the
/// configuration allows unsigned, and for diagnostics. A signed query is
/// decoded too, but only [`RedirectMessage::has_signature`] tells; verify
/// it with [`verify_redirect_query`](crate::dsig::verify_redirect_query)
/// and decode [`VerifiedRedirect::message`](crate::dsig::VerifiedRedirect::message)
/// with [`decode_redirect`] instead.
///
/// Parameter names are compared after percent-decoding; other parameters
/// are ignored. A `+` in `RelayState` is a space (form encoding); in the
/// message it stays `+` (base64).
///
/// Errors: `input_too_large` (a query over 256 KiB, or see
/// [`decode_redirect`]), `malformed_xml` (a binding parameter given twice,
/// both or neither of `SAMLRequest`/`SAMLResponse`, malformed
/// percent-encoding, or a message that does not decode), and
/// `unsupported_encoding` (a message that is not UTF-8).
pub fn parse_redirect_query(raw_query: &str, limits: &Limits) -> Result<RedirectMessage> {
    if raw_query.len() > MAX_QUERY {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            format!("the redirect query is longer than {} KiB", MAX_QUERY / 1024),
        ));
    }
    let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    let mut request = None;
    let mut response = None;
    let mut relay_state = None;
    let mut seen_sig_alg = false;
    let mut seen_signature = false;
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(raw_name, true).ok_or_else(|| {
            malformed("a query parameter name has malformed percent-encoding or is not UTF-8")
        })?;
        let duplicate = match name.as_str() {
            "SAMLRequest" => request.replace(value).is_some(),
            "SAMLResponse" => response.replace(value).is_some(),
            "RelayState" => relay_state.replace(value).is_some(),
            "SigAlg" => std::mem::replace(&mut seen_sig_alg, true),
            "Signature" => std::mem::replace(&mut seen_signature, true),
            _ => continue,
        };
        if duplicate {
            return Err(malformed(format!(
                "the query carries {name} more than once"
            )));
        }
    }
    let has_signature = seen_sig_alg || seen_signature;
    let (parameter, raw_message) = match (request, response) {
        (Some(m), None) => (RedirectParameter::SamlRequest, m),
        (None, Some(m)) => (RedirectParameter::SamlResponse, m),
        (Some(_), Some(_)) => {
            return Err(malformed(
                "the query carries both SAMLRequest and SAMLResponse",
            ));
        }
        (None, None) => {
            return Err(malformed(
                "the query carries neither SAMLRequest nor SAMLResponse",
            ));
        }
    };
    let message = percent_decode(raw_message, false).ok_or_else(|| {
        malformed(format!(
            "the {} parameter has malformed percent-encoding",
            parameter.name()
        ))
    })?;
    let relay_state = relay_state
        .map(|r| {
            percent_decode(r, true).ok_or_else(|| {
                malformed("the RelayState parameter has malformed percent-encoding or is not UTF-8")
            })
        })
        .transpose()?;
    Ok(RedirectMessage {
        parameter,
        xml: decode_redirect(&message, limits)?,
        relay_state,
        has_signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0"/>"#;

    #[test]
    fn percent_encoding_round_trips() {
        let s = "a b+c/d=é&~";
        let enc = percent_encode(s);
        assert_eq!(enc, "a%20b%2Bc%2Fd%3D%C3%A9%26~");
        assert_eq!(percent_decode(&enc, false).as_deref(), Some(s));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%F", false), None);
        assert_eq!(percent_decode("%FF", false), None);
    }

    #[test]
    fn zlib_wrapped_streams_are_accepted() {
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(XML.as_bytes(), 6);
        let value = base64::engine::general_purpose::STANDARD.encode(zlib);
        assert_eq!(decode_redirect(&value, &Limits::default()).unwrap(), XML);
    }

    #[test]
    fn truncated_streams_are_malformed() {
        let deflated = miniz_oxide::deflate::compress_to_vec(XML.repeat(10).as_bytes(), 6);
        let cut = deflated.get(..deflated.len() / 2).unwrap();
        let value = base64::engine::general_purpose::STANDARD.encode(cut);
        let err = decode_redirect(&value, &Limits::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml);
        assert!(err.detail().contains("truncated"), "{err}");
    }

    #[test]
    fn non_utf8_is_unsupported_encoding() {
        let value = base64::engine::general_purpose::STANDARD
            .encode(miniz_oxide::deflate::compress_to_vec(b"<a>\xff</a>", 6));
        assert_eq!(
            decode_redirect(&value, &Limits::default())
                .unwrap_err()
                .code(),
            ErrorCode::UnsupportedEncoding
        );
    }

    #[test]
    fn output_exactly_at_the_limit_is_accepted() {
        let limits = Limits {
            max_xml_bytes: XML.len(),
            ..Limits::default()
        };
        assert_eq!(
            decode_redirect(&encode_redirect(XML), &limits).unwrap(),
            XML
        );
        let limits = Limits {
            max_xml_bytes: XML.len() - 1,
            ..Limits::default()
        };
        assert_eq!(
            decode_redirect(&encode_redirect(XML), &limits)
                .unwrap_err()
                .code(),
            ErrorCode::InputTooLarge
        );
    }

    #[test]
    fn fragments_and_trailing_separators() {
        let url =
            |d: &str| redirect_url(d, RedirectParameter::SamlRequest, XML, None, None).unwrap();
        let value = percent_encode(&encode_redirect(XML));
        assert_eq!(
            url("https://i/x#f"),
            format!("https://i/x?SAMLRequest={value}#f")
        );
        assert_eq!(
            url("https://i/x?"),
            format!("https://i/x?SAMLRequest={value}")
        );
        assert_eq!(
            url("https://i/x?a=1&"),
            format!("https://i/x?a=1&SAMLRequest={value}")
        );
    }

    #[test]
    fn bad_destinations_are_refused() {
        for d in [
            "",
            "https://i/x?SAMLRequest=1",
            "https://i/x?a=1&Relay%53tate=1",
            "https://i/x?Signature",
            "https://i/ x",
            "https://i/x\r\nSet-Cookie: a=b",
            "javascript:alert(1)//?a=1",
        ] {
            let err = redirect_url(d, RedirectParameter::SamlRequest, XML, None, None).unwrap_err();
            assert_eq!(err.code(), ErrorCode::MalformedXml, "{d}");
        }
        // Only the query counts: the same words elsewhere are fine.
        assert!(
            redirect_url(
                "https://i/SAMLRequest?x=RelayState#SigAlg",
                RedirectParameter::SamlRequest,
                XML,
                None,
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn query_parsing_rules() {
        let value = percent_encode(&encode_redirect(XML));
        let m = parse_redirect_query(
            &format!("?x=1&SAMLResponse={value}&RelayState=a+b%2Bc"),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(m.parameter(), RedirectParameter::SamlResponse);
        assert_eq!(m.relay_state(), Some("a b+c"));
        assert!(!m.has_signature());
        assert_eq!(m.xml(), XML);
        for bad in [
            format!("SAMLRequest={value}&SAMLRequest={value}"),
            format!("SAMLRequest={value}&SAMLResponse={value}"),
            format!("SAMLRequest={value}&RelayState=1&Relay%53tate=2"),
            format!("SAMLRequest={value}&SigAlg=1&SigAlg=2"),
            format!("SAMLRequest={value}&RelayState=%zz"),
            format!("SAMLRequest={value}%2"),
            format!("SAMLRequest={value}&%zz=1"),
            "RelayState=1".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                parse_redirect_query(&bad, &Limits::default())
                    .unwrap_err()
                    .code(),
                ErrorCode::MalformedXml,
                "{bad}"
            );
        }
        let signed = parse_redirect_query(
            &format!("SAMLRequest={value}&Signature=abc"),
            &Limits::default(),
        )
        .unwrap();
        assert!(signed.has_signature());
        let oversized = format!("SAMLRequest={value}&pad={}", "a".repeat(MAX_QUERY));
        assert_eq!(
            parse_redirect_query(&oversized, &Limits::default())
                .unwrap_err()
                .code(),
            ErrorCode::InputTooLarge
        );
    }
}
