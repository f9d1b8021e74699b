//! Canonical XML: Exclusive XML Canonicalization 1.0, and inclusive Canonical
//! XML 1.0 and 1.1, each with or without comments, of an element subtree or a
//! whole document.
//!
//! Output goes to any [`Sink`], so a signature verifier can feed a digest
//! directly instead of building the canonical bytes first. A subtree (such as
//! an enveloped `Signature`) can be left out, which is what the
//! enveloped-signature transform needs.
//!
//! ```
//! use saml_core::{c14n::{Canonicalizer, Method}, xml::Document, Limits};
//!
//! let xml = r#"<r xmlns="urn:d" xmlns:x="urn:x"><x:e b='2' a="&#9;1"/><!--c--></r>"#;
//! let doc = Document::parse(xml, &Limits::default())?;
//! let e = doc.root().child_elements().next().ok_or("a child element")?;
//! let mut out = Vec::new();
//! Canonicalizer::new(Method::Exclusive).canonicalize(e, &mut out);
//! assert_eq!(out, br#"<x:e xmlns:x="urn:x" a="&#x9;1" b="2"></x:e>"#);
//! // Inclusive C14N carries every in-scope namespace to the apex.
//! assert_eq!(
//!     Method::Inclusive.canonicalize(e),
//!     br#"<x:e xmlns="urn:d" xmlns:x="urn:x" a="&#x9;1" b="2"></x:e>"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::xml::tree::NodeKind;
use crate::xml::{Attribute, Document, Element, Node, NodeId, XML_NS};

/// A canonicalization method, named by its algorithm URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `http://www.w3.org/2001/10/xml-exc-c14n#`
    Exclusive,
    /// `http://www.w3.org/2001/10/xml-exc-c14n#WithComments`
    ExclusiveWithComments,
    /// `http://www.w3.org/TR/2001/REC-xml-c14n-20010315`
    Inclusive,
    /// `http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments`
    InclusiveWithComments,
    /// `http://www.w3.org/2006/12/xml-c14n11` (Canonical XML 1.1)
    Inclusive11,
    /// `http://www.w3.org/2006/12/xml-c14n11#WithComments`
    Inclusive11WithComments,
}

impl Method {
    /// Every method.
    pub const ALL: [Self; 6] = [
        Self::Exclusive,
        Self::ExclusiveWithComments,
        Self::Inclusive,
        Self::InclusiveWithComments,
        Self::Inclusive11,
        Self::Inclusive11WithComments,
    ];

    /// The algorithm URI.
    #[must_use]
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Exclusive => "http://www.w3.org/2001/10/xml-exc-c14n#",
            Self::ExclusiveWithComments => "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
            Self::Inclusive => "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            Self::InclusiveWithComments => {
                "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
            }
            Self::Inclusive11 => "http://www.w3.org/2006/12/xml-c14n11",
            Self::Inclusive11WithComments => "http://www.w3.org/2006/12/xml-c14n11#WithComments",
        }
    }

    /// The method named by `uri`, if it is one of the six supported.
    #[must_use]
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.uri() == uri)
    }

    /// True for the exclusive variants.
    #[must_use]
    pub const fn is_exclusive(self) -> bool {
        matches!(self, Self::Exclusive | Self::ExclusiveWithComments)
    }

    /// True for the variants that keep comments.
    #[must_use]
    pub const fn with_comments(self) -> bool {
        matches!(
            self,
            Self::ExclusiveWithComments
                | Self::InclusiveWithComments
                | Self::Inclusive11WithComments
        )
    }

    /// The same method without comments (what a bare-name `#ID` reference
    /// feeds it, since that node-set has no comments).
    #[must_use]
    pub const fn without_comments(self) -> Self {
        match self {
            Self::ExclusiveWithComments => Self::Exclusive,
            Self::InclusiveWithComments => Self::Inclusive,
            Self::Inclusive11WithComments => Self::Inclusive11,
            m => m,
        }
    }

    /// Canonicalizes `element` with default options into a new vector.
    #[must_use]
    pub fn canonicalize(self, element: Element<'_, '_>) -> Vec<u8> {
        let mut out = Vec::new();
        Canonicalizer::new(self).canonicalize(element, &mut out);
        out
    }
}

/// Where canonical bytes go: a buffer, or a running digest.
pub trait Sink {
    /// Appends bytes to the output.
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Canonicalization settings: the method, the InclusiveNamespaces PrefixList
/// (exclusive methods only) and an optional subtree to leave out.
#[derive(Debug, Clone)]
pub struct Canonicalizer<'p> {
    method: Method,
    /// Prefixes treated inclusively; `""` stands for `#default`.
    inclusive_prefixes: Vec<&'p str>,
    exclude: Option<NodeId>,
}

impl<'p> Canonicalizer<'p> {
    /// A canonicalizer for `method` with no prefix list and nothing excluded.
    #[must_use]
    pub const fn new(method: Method) -> Self {
        Self {
            method,
            inclusive_prefixes: Vec::new(),
            exclude: None,
        }
    }

    /// Sets the InclusiveNamespaces PrefixList (whitespace-separated prefixes,
    /// `#default` for the default namespace). Ignored by inclusive methods,
    /// which render every namespace anyway.
    #[must_use]
    pub fn inclusive_prefixes(mut self, prefix_list: &'p str) -> Self {
        self.inclusive_prefixes = prefix_list
            .split_ascii_whitespace()
            .map(|p| if p == "#default" { "" } else { p })
            .collect();
        self
    }

    /// Leaves out the subtree rooted at `node` (the enveloped-signature transform).
    #[must_use]
    pub const fn excluding(mut self, node: NodeId) -> Self {
        self.exclude = Some(node);
        self
    }

    /// Writes the canonical form of a whole document: the document element
    /// plus the comments (for the with-comments methods) and processing
    /// instructions around it, each set off by a line feed (Canonical XML 1.0
    /// section 2.2). The XML declaration and whitespace outside the document
    /// element are not part of the output.
    pub fn canonicalize_document(&self, doc: &Document<'_>, sink: &mut impl Sink) {
        let mut before_root = true;
        for node in doc.children() {
            let markup: (&[u8], &str, &str, &[u8]) = match node {
                Node::Element(el) => {
                    self.canonicalize(el, sink);
                    before_root = false;
                    continue;
                }
                Node::Comment(c) if self.method.with_comments() => (b"<!--", c, "", b"-->"),
                Node::ProcessingInstruction { target, data } => (b"<?", target, data, b"?>"),
                Node::Comment(_) | Node::Text(_) => continue,
            };
            if !before_root {
                sink.write(b"\n");
            }
            sink.write(markup.0);
            sink.write(markup.1.as_bytes());
            if !markup.2.is_empty() {
                sink.write(b" ");
                sink.write(markup.2.as_bytes());
            }
            sink.write(markup.3);
            if before_root {
                sink.write(b"\n");
            }
        }
    }

    /// Writes the canonical form of the subtree rooted at `apex` into `sink`.
    pub fn canonicalize(&self, apex: Element<'_, '_>, sink: &mut impl Sink) {
        let doc = apex.document();
        let mut state = State {
            rendered: Vec::new(),
            open: Vec::new(),
            marks: Vec::new(),
            scratch_ns: Vec::new(),
            scratch_attrs: Vec::new(),
        };
        let comments = self.method.with_comments();
        // Nodes are stored in document order and each records where its
        // subtree ends, so one linear walk visits the subtree; a stack of open
        // elements says when to write end tags.
        let first = apex.id().0;
        let last = doc.node(first).map_or(first, |n| n.end);
        let mut id = first;
        while id < last {
            let Some(node) = doc.node(id) else { break };
            close_finished(&mut state, id, sink);
            match &node.kind {
                NodeKind::Element(_) => {
                    if self.exclude == Some(NodeId(id)) {
                        id = node.end.max(id + 1);
                        continue;
                    }
                    let el = Element { doc, id };
                    self.start_tag(el, id == first, &mut state, sink);
                    state.open.push(Open {
                        end: node.end,
                        prefix: el.prefix(),
                        local: el.local_name(),
                    });
                }
                NodeKind::Text(t) => escape(sink, t, Context::Text),
                NodeKind::Comment(c) => {
                    if comments {
                        sink.write(b"<!--");
                        sink.write(c.as_bytes());
                        sink.write(b"-->");
                    }
                }
                NodeKind::Pi { target, data } => {
                    sink.write(b"<?");
                    sink.write(target.as_bytes());
                    if !data.is_empty() {
                        sink.write(b" ");
                        sink.write(data.as_bytes());
                    }
                    sink.write(b"?>");
                }
            }
            id += 1;
        }
        close_finished(&mut state, u32::MAX, sink);
    }

    /// Writes `<name`, the namespace declarations to render, the attributes and `>`.
    fn start_tag<'d>(
        &self,
        el: Element<'d, '_>,
        is_apex: bool,
        state: &mut State<'d>,
        sink: &mut impl Sink,
    ) where
        'p: 'd,
    {
        state.marks.push(state.rendered.len());
        let mut decls = std::mem::take(&mut state.scratch_ns);
        decls.clear();
        if self.method.is_exclusive() {
            // Visibly utilized prefixes plus the InclusiveNamespaces list.
            decls.push((el.prefix(), el.namespace().unwrap_or("")));
            for a in el.attributes() {
                if let Some(uri) = a.namespace
                    && a.prefix != "xml"
                {
                    decls.push((a.prefix, uri));
                }
            }
            for &p in &self.inclusive_prefixes {
                if p != "xml" {
                    if let Some(uri) = el.lookup_namespace(p) {
                        decls.push((p, uri));
                    } else if p.is_empty() {
                        decls.push(("", ""));
                    }
                }
            }
        } else if is_apex {
            // Every in-scope binding, nearest declaration first.
            let mut current = Some(el);
            while let Some(e) = current {
                for d in e.namespace_declarations() {
                    if d.prefix != "xml" && !decls.iter().any(|(p, _)| *p == d.prefix) {
                        decls.push((d.prefix, d.uri));
                    }
                }
                current = e.parent();
            }
        } else {
            decls.extend(
                el.namespace_declarations()
                    .filter(|d| d.prefix != "xml")
                    .map(|d| (d.prefix, d.uri)),
            );
        }
        if decls.len() > 1 {
            decls.sort_unstable();
            decls.dedup_by(|a, b| a.0 == b.0);
        }

        write_qname_open(sink, el.prefix(), el.local_name());
        for &(prefix, uri) in &decls {
            let current = state
                .rendered
                .iter()
                .rev()
                .find(|(p, _)| same(p, prefix))
                .map_or("", |(_, u)| *u);
            if same(current, uri) {
                continue;
            }
            state.rendered.push((prefix, uri));
            if prefix.is_empty() {
                sink.write(b" xmlns=\"");
            } else {
                sink.write(b" xmlns:");
                sink.write(prefix.as_bytes());
                sink.write(b"=\"");
            }
            escape(sink, uri, Context::Attribute);
            sink.write(b"\"");
        }
        state.scratch_ns = decls;

        let mut attrs = std::mem::take(&mut state.scratch_attrs);
        attrs.clear();
        attrs.extend(el.attributes());
        if is_apex && !self.method.is_exclusive() {
            let c14n11 = matches!(
                self.method,
                Method::Inclusive11 | Method::Inclusive11WithComments
            );
            inherit_xml_attributes(el, &mut attrs, c14n11);
        }
        if attrs.len() > 1 {
            attrs.sort_unstable_by(|a, b| {
                (a.namespace.unwrap_or(""), a.local_name)
                    .cmp(&(b.namespace.unwrap_or(""), b.local_name))
            });
        }
        for a in &attrs {
            sink.write(b" ");
            write_qname(sink, a.prefix, a.local_name);
            sink.write(b"=\"");
            escape(sink, a.value, Context::Attribute);
            sink.write(b"\"");
        }
        state.scratch_attrs = attrs;
        sink.write(b">");
    }
}

/// Canonical XML 1.0 section 2.4: a subtree's apex inherits the `xml:*`
/// attributes of its ancestors that it does not set itself. Canonical XML 1.1
/// inherits only the simple ones, `xml:lang` and `xml:space` (its `xml:base`
/// fix-up is not implemented: such a base is not inherited).
fn inherit_xml_attributes<'d>(el: Element<'d, '_>, attrs: &mut Vec<Attribute<'d>>, c14n11: bool) {
    let mut current = el.parent();
    while let Some(e) = current {
        for a in e.attributes() {
            if a.namespace == Some(XML_NS)
                && (!c14n11 || matches!(a.local_name, "lang" | "space"))
                && !attrs
                    .iter()
                    .any(|b| b.namespace == Some(XML_NS) && b.local_name == a.local_name)
            {
                attrs.push(a);
            }
        }
        current = e.parent();
    }
}

/// String equality with a pointer fast path: names and URIs usually come
/// from the same place in the document's tables.
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Writes the end tags of the open elements whose subtree ends before `id`.
fn close_finished(state: &mut State<'_>, id: u32, sink: &mut impl Sink) {
    while let Some(open) = state.open.last() {
        if open.end > id {
            return;
        }
        sink.write(b"</");
        write_qname(sink, open.prefix, open.local);
        sink.write(b">");
        state.open.pop();
        if let Some(mark) = state.marks.pop() {
            state.rendered.truncate(mark);
        }
    }
}

/// An element whose end tag is still to be written.
struct Open<'d> {
    end: u32,
    prefix: &'d str,
    local: &'d str,
}

struct State<'d> {
    /// Namespace bindings rendered by output ancestors: (prefix, uri).
    rendered: Vec<(&'d str, &'d str)>,
    /// Open elements, innermost last.
    open: Vec<Open<'d>>,
    /// Length of `rendered` to restore when each open element closes.
    marks: Vec<usize>,
    scratch_ns: Vec<(&'d str, &'d str)>,
    scratch_attrs: Vec<Attribute<'d>>,
}

fn write_qname_open(sink: &mut impl Sink, prefix: &str, local: &str) {
    sink.write(b"<");
    write_qname(sink, prefix, local);
}

fn write_qname(sink: &mut impl Sink, prefix: &str, local: &str) {
    if !prefix.is_empty() {
        sink.write(prefix.as_bytes());
        sink.write(b":");
    }
    sink.write(local.as_bytes());
}

/// What C14N escapes in text or in attribute values.
#[derive(Clone, Copy)]
enum Context {
    Text,
    Attribute,
}

impl Context {
    /// The replacement for `b`, if it is escaped in this context.
    fn replacement(self, b: u8) -> Option<&'static [u8]> {
        match (self, b) {
            (_, b'&') => Some(b"&amp;"),
            (_, b'<') => Some(b"&lt;"),
            (Self::Text, b'>') => Some(b"&gt;"),
            (Self::Attribute, b'"') => Some(b"&quot;"),
            (Self::Attribute, b'\t') => Some(b"&#x9;"),
            (Self::Attribute, b'\n') => Some(b"&#xA;"),
            (_, b'\r') => Some(b"&#xD;"),
            _ => None,
        }
    }

    /// True if some byte of `bytes` needs escaping. Branch-free so it
    /// vectorizes; the reader has refused control bytes other than tab, LF
    /// and CR, so `b < 0x20` stands for those three in attribute values.
    fn any_special(self, bytes: &[u8]) -> bool {
        match self {
            Self::Text => bytes.iter().fold(false, |acc, &b| {
                acc | (b == b'&') | (b == b'<') | (b == b'>') | (b == b'\r')
            }),
            Self::Attribute => bytes.iter().fold(false, |acc, &b| {
                acc | (b == b'&') | (b == b'<') | (b == b'"') | (b < 0x20)
            }),
        }
    }
}

fn escape(sink: &mut impl Sink, s: &str, context: Context) {
    let bytes = s.as_bytes();
    if !context.any_special(bytes) {
        sink.write(bytes);
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = context.replacement(b) {
            sink.write(bytes.get(run..i).unwrap_or_default());
            sink.write(rep);
            run = i + 1;
        }
    }
    sink.write(bytes.get(run..).unwrap_or_default());
}
