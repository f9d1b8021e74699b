//! Verification of enveloped signatures.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;

use super::{DSIG_NS, ENVELOPED_SIGNATURE, EXC_C14N_NS};
use crate::c14n::{Canonicalizer, Method, Sink};
use crate::crypto::{DigestAlgorithm, PublicKey, SignatureAlgorithm, decode_base64};
use crate::error::{Error, ErrorCode, Result};
use crate::xml::{Element, Node, NodeId, shorten};

/// What verification accepts beyond the safe defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Accept RSA-SHA1 signatures and SHA-1 digests (legacy IdPs only).
    pub allow_sha1: bool,
    /// Accept RSA keys shorter than 2048 bits.
    pub allow_weak_keys: bool,
}

impl VerifyOptions {
    /// The safe defaults: no SHA-1, no weak keys.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            allow_sha1: false,
            allow_weak_keys: false,
        }
    }

    /// Accepts SHA-1 signatures and digests. Only for IdPs that cannot do better.
    #[must_use]
    pub const fn dangerous_allow_sha1(mut self) -> Self {
        self.allow_sha1 = true;
        self
    }

    /// Accepts RSA keys under 2048 bits.
    #[must_use]
    pub const fn dangerous_allow_weak_keys(mut self) -> Self {
        self.allow_weak_keys = true;
        self
    }
}

/// A successfully verified signature: a handle to the element that was
/// signed, and how. The only way to obtain one is [`verify_enveloped`].
#[derive(Debug, Clone, Copy)]
pub struct Verified<'d, 'a> {
    element: Element<'d, 'a>,
    signature: NodeId,
    algorithm: SignatureAlgorithm,
    digest: DigestAlgorithm,
    key_index: usize,
}

impl<'d, 'a> Verified<'d, 'a> {
    /// The signed element (the one the Reference points at).
    #[must_use]
    pub const fn element(&self) -> Element<'d, 'a> {
        self.element
    }

    /// The `Signature` element's node, to be skipped when reading content.
    #[must_use]
    pub const fn signature_node(&self) -> NodeId {
        self.signature
    }

    /// The signature algorithm used.
    #[must_use]
    pub const fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The digest algorithm of the Reference.
    #[must_use]
    pub const fn digest_algorithm(&self) -> DigestAlgorithm {
        self.digest
    }

    /// Index, in the caller's trusted key list, of the key that verified.
    #[must_use]
    pub const fn key_index(&self) -> usize {
        self.key_index
    }
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::SignatureInvalid, detail)
}

fn reference(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ReferenceMismatch, detail)
}

/// The child elements of `el`, refusing anything but whitespace, comments
/// and elements between them.
fn element_children<'d, 'a>(el: Element<'d, 'a>) -> Result<Vec<Element<'d, 'a>>> {
    let mut out = Vec::new();
    for child in el.children() {
        match child {
            Node::Element(e) => out.push(e),
            Node::Text(t) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            Node::Comment(_) => {}
            _ => {
                return Err(invalid(format!(
                    "unexpected content inside ds:{}",
                    el.local_name()
                )));
            }
        }
    }
    Ok(out)
}

fn expect<'d, 'a>(el: Option<&Element<'d, 'a>>, local: &str) -> Result<Element<'d, 'a>> {
    match el {
        Some(e) if e.is(DSIG_NS, local) => Ok(*e),
        _ => Err(invalid(format!("ds:{local} is missing or out of place"))),
    }
}

fn algorithm_of<'d>(el: Element<'d, '_>) -> Result<&'d str> {
    el.attribute("Algorithm")
        .ok_or_else(|| invalid(format!("ds:{} has no Algorithm", el.local_name())))
}

/// A C14N method with its optional InclusiveNamespaces PrefixList.
fn c14n_of<'d>(el: Element<'d, '_>) -> Result<(Method, Option<&'d str>)> {
    let uri = algorithm_of(el)?;
    let method = Method::from_uri(uri).ok_or_else(|| {
        Error::new(
            ErrorCode::AlgorithmForbidden,
            format!(
                "canonicalization or transform `{}` is not allowed",
                shorten(uri)
            ),
        )
    })?;
    let mut prefixes = None;
    for child in element_children(el)? {
        if method.is_exclusive()
            && child.is(EXC_C14N_NS, "InclusiveNamespaces")
            && prefixes.is_none()
        {
            prefixes = Some(child.attribute("PrefixList").unwrap_or(""));
        } else {
            return Err(invalid(
                "unexpected element inside a canonicalization method",
            ));
        }
    }
    Ok((method, prefixes))
}

/// Feeds canonical bytes straight into a digest.
/// Feeds canonical bytes into a digest through a small buffer: C14N writes
/// many short pieces, and each digest update crosses into C.
struct DigestSink {
    context: digest::Context,
    buffer: Vec<u8>,
}

impl DigestSink {
    const FLUSH_AT: usize = 8 * 1024;

    fn new(algorithm: &'static digest::Algorithm) -> Self {
        Self {
            context: digest::Context::new(algorithm),
            buffer: Vec::with_capacity(Self::FLUSH_AT + 256),
        }
    }

    fn finish(mut self) -> digest::Digest {
        self.context.update(&self.buffer);
        self.context.finish()
    }
}

impl Sink for DigestSink {
    fn write(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= Self::FLUSH_AT {
            self.context.update(&self.buffer);
            self.buffer.clear();
        }
    }
}

/// Verifies the enveloped signature carried by `element` (as a direct
/// `ds:Signature` child) against the trusted `keys`, and returns a handle to
/// the signed element.
///
/// Errors: `signature_missing` (no Signature), `reference_mismatch` (the
/// Reference does not point at `element`, or there is not exactly one),
/// `algorithm_forbidden` (an algorithm or transform outside the allow-list),
/// `digest_mismatch`, `signature_invalid` (bad structure or a value that does
/// not verify with any trusted key, including when the ID is not unique),
/// `untrusted_key` (no usable trusted key).
pub fn verify_enveloped<'d, 'a>(
    element: Element<'d, 'a>,
    keys: &[PublicKey],
    options: &VerifyOptions,
) -> Result<Verified<'d, 'a>> {
    let mut signatures = element
        .child_elements()
        .filter(|c| c.is(DSIG_NS, "Signature"));
    let signature = signatures.next().ok_or_else(|| {
        Error::new(
            ErrorCode::SignatureMissing,
            format!("<{}> is not signed", element.local_name()),
        )
    })?;
    if signatures.next().is_some() {
        return Err(invalid(format!(
            "<{}> carries more than one Signature",
            element.local_name()
        )));
    }

    let parts = element_children(signature)?;
    let signed_info = expect(parts.first(), "SignedInfo")?;
    let signature_value = expect(parts.get(1), "SignatureValue")?;
    let key_info = match parts.get(2) {
        Some(k) if k.is(DSIG_NS, "KeyInfo") => Some(*k),
        Some(_) => {
            return Err(invalid(
                "only SignedInfo, SignatureValue and KeyInfo may appear in a Signature",
            ));
        }
        None => None,
    };
    if parts.len() > 2 + usize::from(key_info.is_some()) {
        return Err(invalid(
            "only SignedInfo, SignatureValue and KeyInfo may appear in a Signature",
        ));
    }

    let info = element_children(signed_info)?;
    let (si_method, si_prefixes) = c14n_of(expect(info.first(), "CanonicalizationMethod")?)?;
    let method_el = expect(info.get(1), "SignatureMethod")?;
    if method_el.has_child_elements() {
        return Err(Error::new(
            ErrorCode::AlgorithmForbidden,
            "SignatureMethod parameters (HMAC output length) are not allowed",
        ));
    }
    let references: Vec<_> = info.iter().skip(2).collect();
    if references.len() != 1 || !references.iter().all(|r| r.is(DSIG_NS, "Reference")) {
        return Err(reference(
            "a SAML signature must have exactly one Reference and nothing else in SignedInfo",
        ));
    }
    let reference_el = *references[0];

    // The Reference must point at the element that holds the Signature: by
    // its unique ID, or by `URI=""` when that element is the document element.
    let uri = reference_el.attribute("URI").unwrap_or("");
    let whole_document = uri.is_empty();
    if whole_document {
        if element.parent().is_some() {
            return Err(reference(
                "`URI=\"\"` signs the whole document, but the signature is not on the document element",
            ));
        }
    } else {
        let id = uri
            .strip_prefix('#')
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                reference(format!(
                    "Reference URI `{}` is not a same-document `#ID` reference",
                    shorten(uri)
                ))
            })?;
        if element.attribute("ID") != Some(id) {
            return Err(reference(
                "the Reference does not point at the signed element's ID",
            ));
        }
        match element.document().element_by_id(id) {
            Ok(Some(target)) if target.id() == element.id() => {}
            Ok(_) => {
                return Err(reference(
                    "the Reference does not point at the signed element",
                ));
            }
            Err(_) => {
                return Err(invalid(
                    "the referenced ID occurs more than once (signature wrapping?)",
                ));
            }
        }
    }

    // Algorithms are checked only once it is clear what the signature covers,
    // so a wrapped or mis-referenced signature is reported as such.
    let algorithm = SignatureAlgorithm::from_uri(algorithm_of(method_el)?, options.allow_sha1)?;
    let ref_parts = element_children(reference_el)?;
    let transforms = ref_parts
        .first()
        .filter(|t| t.is(DSIG_NS, "Transforms"))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::AlgorithmForbidden,
                "an enveloped SAML signature needs the enveloped-signature transform",
            )
        })?;
    let list = element_children(*transforms)?;
    let first = list.first().ok_or_else(|| invalid("empty Transforms"))?;
    if !first.is(DSIG_NS, "Transform")
        || algorithm_of(*first)? != ENVELOPED_SIGNATURE
        || !element_children(*first)?.is_empty()
    {
        return Err(Error::new(
            ErrorCode::AlgorithmForbidden,
            "the first transform must be enveloped-signature",
        ));
    }
    let transform_c14n = match list.get(1..).unwrap_or_default() {
        [] => None,
        [t] if t.is(DSIG_NS, "Transform") => Some(c14n_of(*t)?),
        _ => {
            return Err(Error::new(
                ErrorCode::AlgorithmForbidden,
                "only enveloped-signature and one C14N transform are allowed",
            ));
        }
    };
    let next = 1;
    let digest_method = expect(ref_parts.get(next), "DigestMethod")?;
    let digest_value = expect(ref_parts.get(next + 1), "DigestValue")?;
    if ref_parts.len() != next + 2 {
        return Err(invalid("unexpected elements in Reference"));
    }
    let digest_alg = DigestAlgorithm::from_uri(algorithm_of(digest_method)?, options.allow_sha1)?;

    // Same-document references (`#ID` and `""`) select their nodes without
    // comments (XML-DSig 4.3.3.3), whatever the C14N transform says; with no
    // C14N transform the node-set is serialized with inclusive C14N 1.0.
    let (ref_method, ref_prefixes) = transform_c14n.unwrap_or((Method::Inclusive, None));
    let ref_method = ref_method.without_comments();
    let mut sink = DigestSink::new(digest_alg.aws());
    let mut canon = Canonicalizer::new(ref_method).excluding(signature.id());
    if let Some(p) = ref_prefixes {
        canon = canon.inclusive_prefixes(p);
    }
    if whole_document {
        canon.canonicalize_document(element.document(), &mut sink);
    } else {
        canon.canonicalize(element, &mut sink);
    }
    let computed = sink.finish();
    let expected = decode_base64(&digest_value.text())?;
    if verify_slices_are_equal(computed.as_ref(), &expected).is_err() {
        return Err(Error::new(
            ErrorCode::DigestMismatch,
            format!(
                "the digest of <{}> does not match: the signed content was changed",
                element.local_name()
            ),
        ));
    }

    let mut signed_bytes = Vec::new();
    let mut canon = Canonicalizer::new(si_method);
    if let Some(p) = si_prefixes {
        canon = canon.inclusive_prefixes(p);
    }
    canon.canonicalize(signed_info, &mut signed_bytes);
    let sig = decode_base64(&signature_value.text())?;

    let key_index = verify_with_keys(keys, key_info, algorithm, &signed_bytes, &sig, options)?;
    Ok(Verified {
        element,
        signature: signature.id(),
        algorithm,
        digest: digest_alg,
        key_index,
    })
}

/// Tries the trusted keys: the one `KeyInfo` names by certificate first (if
/// it is trusted), else every trusted key. `KeyInfo` never adds a key.
fn verify_with_keys(
    keys: &[PublicKey],
    key_info: Option<Element<'_, '_>>,
    algorithm: SignatureAlgorithm,
    message: &[u8],
    sig: &[u8],
    options: &VerifyOptions,
) -> Result<usize> {
    if keys.is_empty() {
        return Err(Error::new(
            ErrorCode::UntrustedKey,
            "no trusted key is configured for this identity provider",
        ));
    }
    let named: Vec<Vec<u8>> = key_info
        .map(|k| {
            k.descendants()
                .filter(|e| e.is(DSIG_NS, "X509Certificate"))
                .filter_map(|e| decode_base64(&e.text()).ok())
                .collect()
        })
        .unwrap_or_default();
    let selected = keys.iter().position(|k| {
        k.certificate_der()
            .is_some_and(|c| named.iter().any(|n| n == c))
    });
    let order: Vec<usize> = match selected {
        Some(i) => vec![i],
        None => (0..keys.len()).collect(),
    };
    let mut last = invalid("the signature value does not verify with any trusted key");
    for i in order {
        let Some(key) = keys.get(i) else { continue };
        match key.verify(algorithm, message, sig, options.allow_weak_keys) {
            Ok(()) => return Ok(i),
            Err(e) if e.code() == ErrorCode::UntrustedKey && keys.len() == 1 => last = e,
            Err(_) => {}
        }
    }
    Err(last)
}
