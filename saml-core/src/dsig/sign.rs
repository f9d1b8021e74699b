//! Enveloped signatures: the signer side, for AuthnRequest / LogoutRequest /
//! LogoutResponse on the POST binding, SP metadata, and the responses of a
//! development or test IdP.

use aws_lc_rs::digest;
use base64::Engine;

use super::{DSIG_NS, ENVELOPED_SIGNATURE, EXC_C14N_NS};
use crate::c14n::{Canonicalizer, Method};
use crate::crypto::{DigestAlgorithm, SignatureAlgorithm, SigningKey};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;
use crate::xml::{Document, Element};

/// How to sign. The defaults are exclusive C14N, SHA-256, the key's default
/// algorithm (RSA-SHA256 for RSA keys) and the certificate in `KeyInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignOptions {
    /// Signature algorithm; `None` picks the key's default.
    pub algorithm: Option<SignatureAlgorithm>,
    /// Digest algorithm of the Reference.
    pub digest: DigestAlgorithm,
    /// Canonicalization of SignedInfo and of the signed element.
    pub c14n: Method,
    /// InclusiveNamespaces PrefixList for exclusive C14N (both places).
    pub inclusive_prefixes: Option<String>,
    /// Put the key's certificate (if any) in `KeyInfo/X509Data`.
    pub include_certificate: bool,
}

impl Default for SignOptions {
    fn default() -> Self {
        Self {
            algorithm: None,
            digest: DigestAlgorithm::Sha256,
            c14n: Method::Exclusive,
            inclusive_prefixes: None,
            include_certificate: true,
        }
    }
}

/// Signs the element whose `ID` is `id` in `xml` with an enveloped signature
/// and returns the new document text. The `ds:Signature` goes where the SAML
/// schemas put it: right after a leading `Issuer` child, otherwise first.
pub fn sign_enveloped(
    xml: &str,
    id: &str,
    key: &SigningKey,
    options: &SignOptions,
) -> Result<String> {
    let limits = Limits {
        max_xml_bytes: 64 << 20,
        ..Limits::default()
    };
    let algorithm = options.algorithm.unwrap_or_else(|| key.default_algorithm());
    if options.digest == DigestAlgorithm::Sha1 {
        return Err(Error::new(
            ErrorCode::AlgorithmForbidden,
            "we never make SHA-1 digests",
        ));
    }
    let prefixes = options
        .inclusive_prefixes
        .as_deref()
        .filter(|_| options.c14n.is_exclusive());

    // 1. Digest the element as it stands (the enveloped transform removes the
    //    signature again on the verifier's side).
    let doc = Document::parse(xml, &limits)?;
    let element = doc
        .element_by_id(id)?
        .ok_or_else(|| Error::new(ErrorCode::ReferenceMismatch, "no element carries that ID"))?;
    if element.child_elements().any(|c| c.is(DSIG_NS, "Signature")) {
        return Err(Error::new(
            ErrorCode::SignatureInvalid,
            "the element is already signed",
        ));
    }
    // A `#ID` reference selects the element without its comments, whatever
    // the C14N transform says (XML-DSig 4.3.3.3); verifiers digest that.
    let mut canon = Canonicalizer::new(options.c14n.without_comments());
    if let Some(p) = prefixes {
        canon = canon.inclusive_prefixes(p);
    }
    let mut canonical = Vec::new();
    canon.canonicalize(element, &mut canonical);
    let digest_value = b64(digest::digest(options.digest.aws(), &canonical).as_ref());

    // 2. Insert a Signature with an empty SignatureValue.
    let signature = signature_markup(id, algorithm, options, prefixes, &digest_value, key);
    let with_signature = insert(xml, element, &signature)?;

    // 3. Canonicalize SignedInfo where it now stands, sign, fill in the value.
    let doc = Document::parse(&with_signature, &limits)?;
    let element = doc
        .element_by_id(id)?
        .ok_or_else(|| Error::new(ErrorCode::ReferenceMismatch, "no element carries that ID"))?;
    let sig_el = element
        .child_elements()
        .find(|c| c.is(DSIG_NS, "Signature"))
        .ok_or_else(|| Error::new(ErrorCode::SignatureInvalid, "inserted signature not found"))?;
    let mut parts = sig_el.child_elements();
    let (Some(signed_info), Some(value)) = (parts.next(), parts.next()) else {
        return Err(Error::new(
            ErrorCode::SignatureInvalid,
            "inserted signature is incomplete",
        ));
    };
    let mut signed_bytes = Vec::new();
    let mut canon = Canonicalizer::new(options.c14n);
    if let Some(p) = prefixes {
        canon = canon.inclusive_prefixes(p);
    }
    canon.canonicalize(signed_info, &mut signed_bytes);
    let signature_value = b64(&key.sign(algorithm, &signed_bytes)?);
    let span = value.span();
    let mut out = String::with_capacity(with_signature.len() + signature_value.len() + 40);
    out.push_str(with_signature.get(..span.start).unwrap_or_default());
    out.push_str("<ds:SignatureValue>");
    out.push_str(&signature_value);
    out.push_str("</ds:SignatureValue>");
    out.push_str(with_signature.get(span.end..).unwrap_or_default());
    Ok(out)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

fn signature_markup(
    id: &str,
    algorithm: SignatureAlgorithm,
    options: &SignOptions,
    prefixes: Option<&str>,
    digest_value: &str,
    key: &SigningKey,
) -> String {
    let c14n = options.c14n.uri();
    let inclusive = prefixes.map_or_else(String::new, |p| {
        format!(
            r#"<ec:InclusiveNamespaces xmlns:ec="{EXC_C14N_NS}" PrefixList="{}"/>"#,
            escape_attr(p)
        )
    });
    let key_info = match key.certificate() {
        Some(cert) if options.include_certificate => format!(
            "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
            b64(cert.der())
        ),
        _ => String::new(),
    };
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{ds}"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}">{inclusive}</ds:CanonicalizationMethod>"#,
            r#"<ds:SignatureMethod Algorithm="{sig}"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="{env}"/>"#,
            r#"<ds:Transform Algorithm="{c14n}">{inclusive}</ds:Transform>"#,
            r#"</ds:Transforms><ds:DigestMethod Algorithm="{dig}"/>"#,
            r#"<ds:DigestValue>{digest_value}</ds:DigestValue></ds:Reference></ds:SignedInfo>"#,
            r#"<ds:SignatureValue></ds:SignatureValue>{key_info}</ds:Signature>"#
        ),
        ds = DSIG_NS,
        c14n = c14n,
        inclusive = inclusive,
        sig = algorithm.uri(),
        id = escape_attr(id),
        env = ENVELOPED_SIGNATURE,
        dig = options.digest.uri(),
        digest_value = digest_value,
        key_info = key_info,
    )
}

/// Inserts `signature` into `element`: after a leading `Issuer` child, else
/// right after the start tag (expanding an empty-element tag if needed).
fn insert(xml: &str, element: Element<'_, '_>, signature: &str) -> Result<String> {
    let span = element.span();
    let first = element.child_elements().next();
    let at = match first {
        Some(issuer) if issuer.local_name() == "Issuer" => issuer.span().end,
        _ => {
            let tag_end = start_tag_end(xml, span.start).ok_or_else(|| {
                Error::new(
                    ErrorCode::MalformedXml,
                    "cannot find the end of the start tag",
                )
            })?;
            if xml.get(..tag_end).is_some_and(|t| t.ends_with("/>")) {
                // `<X .../>` becomes `<X ...>signature</X>`.
                let qname = if element.prefix().is_empty() {
                    element.local_name().to_owned()
                } else {
                    format!("{}:{}", element.prefix(), element.local_name())
                };
                let head = xml.get(..tag_end - 2).unwrap_or_default();
                let tail = xml.get(tag_end..).unwrap_or_default();
                return Ok(format!("{head}>{signature}</{qname}>{tail}"));
            }
            tag_end
        }
    };
    let mut out = String::with_capacity(xml.len() + signature.len());
    out.push_str(xml.get(..at).unwrap_or_default());
    out.push_str(signature);
    out.push_str(xml.get(at..).unwrap_or_default());
    Ok(out)
}

/// Offset just past the `>` closing the start tag that begins at `start`.
fn start_tag_end(xml: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (i, b) in xml.as_bytes().iter().enumerate().skip(start) {
        match (quote, *b) {
            (None, b'"' | b'\'') => quote = Some(*b),
            (Some(q), c) if c == q => quote = None,
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}
