//! The SAML SOAP binding (SAML Bindings 2.0, section 3.2): one message in
//! the `Body` of a SOAP 1.1 envelope, posted server to server with
//! `Content-Type: text/xml` and [`SOAP_ACTION`]. Used by artifact resolution
//! and back-channel logout.
//!
//! ```
//! use saml_core::binding::{soap_envelope, soap_message};
//! use saml_core::Limits;
//!
//! let xml = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>"#;
//! let received = soap_message(&soap_envelope(xml), &Limits::default())?;
//! assert_eq!(received.local_name, "LogoutRequest");
//! assert_eq!(received.xml, xml);
//! # Ok::<(), saml_core::Error>(())
//! ```

use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;
use crate::protocol::markup::{attr, escape_attr, invalid};
use crate::xml::{Document, Element, shorten};

/// The SOAP 1.1 envelope namespace (the SAML SOAP binding uses SOAP 1.1).
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace, recognised only to refuse it clearly.
const SOAP12_ENV_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The `SOAPAction` header value the SAML SOAP binding recommends.
pub const SOAP_ACTION: &str = "http://www.oasis-open.org/committees/security";

/// The message a SOAP envelope carried, taken out to stand on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SoapMessage {
    /// The message element's local name (`LogoutRequest`, ...).
    pub local_name: String,
    /// Its namespace URI, if any.
    pub namespace: Option<String>,
    /// The message as a standalone XML document: its exact bytes, with the
    /// namespace declarations it inherited from the envelope added to its
    /// start tag, so its own enveloped signature still verifies.
    pub xml: String,
}

/// Takes the one message out of a received SOAP 1.1 envelope.
///
/// Errors: `malformed_xml` (not a SOAP 1.1 envelope, a SOAP 1.2 one, a
/// header entry with `mustUnderstand`, no or several `Body` elements, an
/// empty `Body` or one with several elements), `status_not_success` (a SOAP
/// `Fault`, with its code and string), and the XML reader's errors.
pub fn soap_message(soap_xml: &str, limits: &Limits) -> Result<SoapMessage> {
    let doc = Document::parse(soap_xml, limits)?;
    let element = soap_body_element(&doc)?;
    Ok(SoapMessage {
        local_name: element.local_name().to_owned(),
        namespace: element.namespace().map(str::to_owned),
        xml: standalone_xml(element, soap_xml)?,
    })
}

/// `body` (one message's XML) inside a SOAP 1.1 envelope.
#[must_use]
pub fn soap_envelope(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 160);
    out.push_str("<SOAP-ENV:Envelope");
    attr(&mut out, "xmlns:SOAP-ENV", SOAP_ENV_NS);
    out.push_str("><SOAP-ENV:Body>");
    out.push_str(body);
    out.push_str("</SOAP-ENV:Body></SOAP-ENV:Envelope>");
    out
}

/// The single element of a SOAP 1.1 `Body`; faults become errors.
pub(crate) fn soap_body_element<'d, 'a>(doc: &'d Document<'a>) -> Result<Element<'d, 'a>> {
    let root = doc.root();
    if root.is(SOAP12_ENV_NS, "Envelope") {
        return Err(invalid(
            "a SOAP 1.2 envelope; the SAML SOAP binding uses SOAP 1.1",
        ));
    }
    if !root.is(SOAP_ENV_NS, "Envelope") {
        return Err(invalid(format!(
            "expected a SOAP 1.1 Envelope, found <{}>",
            shorten(root.local_name())
        )));
    }
    let mut parts = root.child_elements();
    let mut first = parts.next();
    if let Some(header) = first.filter(|e| e.is(SOAP_ENV_NS, "Header")) {
        for entry in header.child_elements() {
            let must = entry.attribute_ns(SOAP_ENV_NS, "mustUnderstand");
            if matches!(must.map(str::trim), Some("1" | "true")) {
                return Err(invalid(format!(
                    "the SOAP header <{}> must be understood, and it is not",
                    shorten(entry.local_name())
                )));
            }
        }
        first = parts.next();
    }
    let body = first
        .filter(|e| e.is(SOAP_ENV_NS, "Body"))
        .ok_or_else(|| invalid("the SOAP Envelope has no Body"))?;
    if parts.any(|e| e.is(SOAP_ENV_NS, "Body") || e.is(SOAP_ENV_NS, "Header")) {
        return Err(invalid(
            "the SOAP Envelope has more than one Body or Header",
        ));
    }
    let mut content = body.child_elements();
    let element = content
        .next()
        .ok_or_else(|| invalid("the SOAP Body is empty"))?;
    if element.is(SOAP_ENV_NS, "Fault") {
        let field = |name: &str| {
            element
                .child_elements()
                .find(|e| e.local_name() == name)
                .map(|e| e.text().trim().to_owned())
                .unwrap_or_default()
        };
        return Err(Error::new(
            ErrorCode::StatusNotSuccess,
            format!(
                "the SOAP peer answered with a SOAP fault: {}: {}",
                shorten(&field("faultcode")),
                shorten(&field("faultstring"))
            ),
        ));
    }
    if content.next().is_some() {
        return Err(invalid("the SOAP Body carries more than one element"));
    }
    Ok(element)
}

/// The `xsi` namespace, whose `type` attribute holds a QName.
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The exact text of `element` in `source`, with the namespace declarations
/// it needs from its ancestors added to its start tag, so it parses on its
/// own: those of prefixes that an element or attribute name (or an
/// `xsi:type` value) inside uses without a declaration inside. Nothing else
/// is added, so a message the IdP signed on its own and then wrapped keeps
/// its exact canonical form under inclusive C14N too; under exclusive C14N
/// the form is unchanged either way.
pub(crate) fn standalone_xml(element: Element<'_, '_>, source: &str) -> Result<String> {
    let text = source
        .get(element.span())
        .ok_or_else(|| invalid("the embedded message could not be located"))?;
    let prefix = element.prefix();
    let qname_len = if prefix.is_empty() {
        element.local_name().len()
    } else {
        prefix.len() + 1 + element.local_name().len()
    };
    let (head, rest) = text
        .split_at_checked(1 + qname_len)
        .filter(|(head, _)| head.starts_with('<'))
        .ok_or_else(|| invalid("the embedded message could not be located"))?;
    let mut declarations = String::new();
    let outside = element.parent();
    for prefix in undeclared_prefixes(element) {
        let Some(uri) = outside.and_then(|p| p.lookup_namespace(prefix)) else {
            // Unbound outside too (or the empty default): nothing to add.
            continue;
        };
        declarations.push(' ');
        if prefix.is_empty() {
            declarations.push_str("xmlns");
        } else {
            declarations.push_str("xmlns:");
            declarations.push_str(prefix);
        }
        declarations.push_str("=\"");
        escape_attr(uri, &mut declarations);
        declarations.push('"');
    }
    let mut out = String::with_capacity(text.len() + declarations.len());
    out.push_str(head);
    out.push_str(&declarations);
    out.push_str(rest);
    Ok(out)
}

/// The prefixes (`""` for the default namespace) used inside `apex`
/// without a declaration between the use and `apex` (inclusive), in order
/// of first use.
fn undeclared_prefixes<'d>(apex: Element<'d, '_>) -> Vec<&'d str> {
    let mut out: Vec<&'d str> = Vec::new();
    for el in apex.descendants() {
        let mut uses = vec![el.prefix()];
        for a in el.attributes() {
            if !a.prefix.is_empty() {
                uses.push(a.prefix);
            }
            if a.namespace == Some(XSI_NS) && a.local_name == "type" {
                uses.push(a.value.trim().split_once(':').map_or("", |(p, _)| p));
            }
        }
        for prefix in uses {
            if prefix == "xml" || out.contains(&prefix) {
                continue;
            }
            let mut current = Some(el);
            let mut declared = false;
            while let Some(e) = current {
                if e.namespace_declarations().any(|d| d.prefix == prefix) {
                    declared = true;
                    break;
                }
                if e.id() == apex.id() {
                    break;
                }
                current = e.parent();
            }
            if !declared {
                out.push(prefix);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standalone_of(xml: &str, local: &str) -> String {
        let doc = Document::parse(xml, &Limits::default()).unwrap();
        let el = doc
            .root()
            .descendants()
            .find(|e| e.local_name() == local)
            .unwrap();
        let out = standalone_xml(el, xml).unwrap();
        // It parses on its own, to the same exclusive canonical form.
        let again = Document::parse(&out, &Limits::default()).unwrap();
        let method = crate::c14n::Method::Exclusive;
        assert_eq!(method.canonicalize(el), method.canonicalize(again.root()));
        out
    }

    #[test]
    fn standalone_adds_the_needed_declarations() {
        let xml = r#"<e:Env xmlns:e="urn:e" xmlns="urn:d" xmlns:p="urn:p&amp;q" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="urn:xs" xmlns:u="urn:unused"><e:B xmlns:x="urn:x"><p:M a="1"><x:c p:b="2"/><d/><p:v xsi:type="xs:string">t</p:v></p:M></e:B></e:Env>"#;
        assert_eq!(
            standalone_of(xml, "M"),
            r#"<p:M xmlns:p="urn:p&amp;q" xmlns:x="urn:x" xmlns="urn:d" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="urn:xs" a="1"><x:c p:b="2"/><d/><p:v xsi:type="xs:string">t</p:v></p:M>"#
        );
    }

    #[test]
    fn standalone_keeps_self_declared_messages_as_they_are() {
        // What an IdP that signed the message on its own and then wrapped it
        // sends: every prefix declared inside, so nothing is added, and even
        // inclusive C14N sees the same element as the signer did.
        let inner = r#"<r:R xmlns:r="urn:r" ID="_1"><a:A xmlns:a="urn:a"><a:B/></a:A></r:R>"#;
        let xml = format!(
            r#"<s:E xmlns:s="urn:s" xmlns:a="urn:a-outer" xmlns:r="urn:r"><s:B>{inner}</s:B></s:E>"#
        );
        assert_eq!(standalone_of(&xml, "R"), inner);
    }

    #[test]
    fn redeclared_and_undeclared_defaults() {
        let xml = r#"<a xmlns="urn:a"><b xmlns=""><c xmlns:a="urn:other"><d/></c></b></a>"#;
        assert_eq!(
            standalone_of(xml, "c"),
            r#"<c xmlns:a="urn:other"><d/></c>"#
        );
        let xml = r#"<a xmlns="urn:a"><b><c><d/></c></b></a>"#;
        assert_eq!(standalone_of(xml, "c"), r#"<c xmlns="urn:a"><d/></c>"#);
    }
}
