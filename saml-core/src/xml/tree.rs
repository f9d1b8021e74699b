//! The read-only tree built by the reader, and the handles used to walk it.
//!
//! Nodes live in one vector in document order; each node records where its
//! subtree ends, so children and descendants are found without pointers.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use crate::error::{Error, ErrorCode, Result};

/// Sentinel for "no parent" and "no namespace".
pub(crate) const NONE: u32 = u32::MAX;

/// Identifies a node within its [`Document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

/// A parsed XML document. Borrows from the input wherever no decoding was
/// needed. Build one with [`Document::parse`].
pub struct Document<'a> {
    /// The whole input: element, attribute and PI names are read from it.
    pub(crate) input: &'a str,
    pub(crate) nodes: Vec<NodeData<'a>>,
    pub(crate) attributes: Vec<AttrData<'a>>,
    /// Namespace declarations; index 0 is the implicit `xml` binding.
    pub(crate) namespaces: Vec<NsDecl<'a>>,
    pub(crate) root: u32,
}

impl fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("nodes", &self.nodes.len())
            .field("root", &self.root().local_name())
            .finish_non_exhaustive()
    }
}

pub(crate) struct NodeData<'a> {
    pub(crate) kind: NodeKind<'a>,
    pub(crate) parent: u32,
    /// One past the last node of this node's subtree.
    pub(crate) end: u32,
    /// Byte span in the input (elements: start tag to end tag inclusive).
    pub(crate) span: (u32, u32),
}

pub(crate) enum NodeKind<'a> {
    Element(ElementData),
    Text(Cow<'a, str>),
    Comment(Cow<'a, str>),
    /// The data is boxed (processing instructions are rare in SAML) so that
    /// every node stays at 48 bytes.
    Pi {
        target: &'a str,
        data: Box<Cow<'a, str>>,
    },
}

/// Names are kept as positions in `Document::input` rather than `&str`s,
/// which halves their size: a federation aggregate has millions of nodes.
pub(crate) struct ElementData {
    /// The name, right after the `<` that starts the node's span.
    pub(crate) name: ElementName,
    /// Index into `namespaces`, or `NONE` for no namespace.
    pub(crate) ns: u32,
    pub(crate) attrs: (u32, u32),
    pub(crate) decls: (u32, u32),
}

pub(crate) struct AttrData<'a> {
    pub(crate) name: QName,
    pub(crate) ns: u32,
    pub(crate) value: Cow<'a, str>,
}

/// The lengths of an element's prefix and local name; the name itself
/// starts one byte after the element's span.
#[derive(Clone, Copy)]
pub(crate) struct ElementName {
    pub(crate) prefix_len: u32,
    pub(crate) local_len: u32,
}

impl ElementName {
    /// The name as a [`QName`], given where the element's span starts.
    pub(crate) const fn at(self, span_start: u32) -> QName {
        QName {
            start: span_start.saturating_add(1),
            prefix_len: self.prefix_len,
            local_len: self.local_len,
        }
    }
}

/// A qualified name as written in the input: `prefix:local` or `local`
/// starting at byte `start`.
#[derive(Clone, Copy)]
pub(crate) struct QName {
    pub(crate) start: u32,
    pub(crate) prefix_len: u32,
    pub(crate) local_len: u32,
}

impl QName {
    pub(crate) fn prefix(self, input: &str) -> &str {
        let start = self.start as usize;
        input
            .get(start..start + self.prefix_len as usize)
            .unwrap_or_default()
    }

    pub(crate) fn local(self, input: &str) -> &str {
        let mut start = self.start as usize;
        if self.prefix_len > 0 {
            start += self.prefix_len as usize + 1;
        }
        input
            .get(start..start + self.local_len as usize)
            .unwrap_or_default()
    }
}

pub(crate) struct NsDecl<'a> {
    /// Empty for the default namespace.
    pub(crate) prefix: &'a str,
    /// Empty for `xmlns=""` (no default namespace).
    pub(crate) uri: Cow<'a, str>,
}

fn range(r: (u32, u32)) -> Range<usize> {
    r.0 as usize..r.1 as usize
}

impl<'a> Document<'a> {
    /// The document element.
    #[must_use]
    pub fn root(&self) -> Element<'_, 'a> {
        Element {
            doc: self,
            id: self.root,
        }
    }

    /// The top-level nodes: the document element and the comments and
    /// processing instructions before and after it.
    #[must_use]
    pub fn children(&self) -> Children<'_, 'a> {
        Children {
            doc: self,
            next: 0,
            end: u32::try_from(self.nodes.len()).unwrap_or(NONE),
        }
    }

    /// Number of nodes (elements, text, comments, processing instructions).
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The element with this id, if `id` names an element of this document.
    #[must_use]
    pub fn element(&self, id: NodeId) -> Option<Element<'_, 'a>> {
        match self.nodes.get(id.0 as usize)?.kind {
            NodeKind::Element(_) => Some(Element {
                doc: self,
                id: id.0,
            }),
            _ => None,
        }
    }

    /// Finds the element whose unqualified `ID` attribute equals `id` (the SAML
    /// and XML-DSig convention). More than one such element is an error
    /// ([`ErrorCode::DuplicateId`]), never a silent pick of one of them.
    pub fn element_by_id(&self, id: &str) -> Result<Option<Element<'_, 'a>>> {
        let mut found = None;
        for (index, node) in self.nodes.iter().enumerate() {
            let NodeKind::Element(data) = &node.kind else {
                continue;
            };
            let attrs = self.attributes.get(range(data.attrs)).unwrap_or_default();
            if attrs
                .iter()
                .any(|a| a.ns == NONE && a.name.local(self.input) == "ID" && a.value == id)
            {
                if found.is_some() {
                    return Err(Error::new(
                        ErrorCode::DuplicateId,
                        "two elements carry the same ID; refusing to pick one",
                    ));
                }
                found = Some(Element {
                    doc: self,
                    id: u32::try_from(index).unwrap_or(NONE),
                });
            }
        }
        Ok(found)
    }

    pub(crate) fn node(&self, id: u32) -> Option<&NodeData<'a>> {
        self.nodes.get(id as usize)
    }

    pub(crate) fn ns_uri(&self, ns: u32) -> Option<&str> {
        self.namespaces.get(ns as usize).map(|d| d.uri.as_ref())
    }
}

/// A view of one node of a [`Document`].
#[derive(Debug, Clone, Copy)]
pub enum Node<'d, 'a> {
    /// An element.
    Element(Element<'d, 'a>),
    /// Character data (references decoded, CDATA merged, line ends normalized).
    Text(&'d str),
    /// A comment's content, without `<!--` and `-->`.
    Comment(&'d str),
    /// A processing instruction.
    ProcessingInstruction {
        /// The PI target.
        target: &'d str,
        /// The PI data after the target and its separating whitespace.
        data: &'d str,
    },
}

/// A handle to an element: a reference to the document plus a node id.
#[derive(Clone, Copy)]
pub struct Element<'d, 'a> {
    pub(crate) doc: &'d Document<'a>,
    pub(crate) id: u32,
}

impl fmt::Debug for Element<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Element")
            .field("id", &self.id)
            .field("name", &self.local_name())
            .field("namespace", &self.namespace())
            .finish()
    }
}

/// One attribute of an element (namespace declarations are not attributes).
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'d> {
    /// Prefix as written, empty if none.
    pub prefix: &'d str,
    /// Local name.
    pub local_name: &'d str,
    /// Namespace URI, `None` for unprefixed attributes.
    pub namespace: Option<&'d str>,
    /// The normalized value.
    pub value: &'d str,
}

/// One namespace declaration written on an element.
#[derive(Debug, Clone, Copy)]
pub struct Namespace<'d> {
    /// The declared prefix, empty for the default namespace.
    pub prefix: &'d str,
    /// The URI, empty for `xmlns=""`.
    pub uri: &'d str,
}

impl<'d, 'a> Element<'d, 'a> {
    fn data(self) -> Option<&'d ElementData> {
        match &self.doc.node(self.id)?.kind {
            NodeKind::Element(e) => Some(e),
            _ => None,
        }
    }

    fn qname(self) -> Option<QName> {
        let node = self.doc.node(self.id)?;
        match &node.kind {
            NodeKind::Element(e) => Some(e.name.at(node.span.0)),
            _ => None,
        }
    }

    /// This element's id within its document.
    #[must_use]
    pub fn id(self) -> NodeId {
        NodeId(self.id)
    }

    /// The document this element belongs to.
    #[must_use]
    pub fn document(self) -> &'d Document<'a> {
        self.doc
    }

    /// Local name (without prefix).
    #[must_use]
    pub fn local_name(self) -> &'d str {
        self.qname().map_or("", |n| n.local(self.doc.input))
    }

    /// Prefix as written, empty if none.
    #[must_use]
    pub fn prefix(self) -> &'d str {
        self.qname().map_or("", |n| n.prefix(self.doc.input))
    }

    /// Namespace URI, `None` if the element is in no namespace.
    #[must_use]
    pub fn namespace(self) -> Option<&'d str> {
        self.data().and_then(|e| self.doc.ns_uri(e.ns))
    }

    /// True if this element has the given namespace URI and local name.
    #[must_use]
    pub fn is(self, namespace: &str, local_name: &str) -> bool {
        self.local_name() == local_name && self.namespace() == Some(namespace)
    }

    /// Byte range of the element (start tag through end tag) in the input.
    #[must_use]
    pub fn span(self) -> Range<usize> {
        self.doc
            .node(self.id)
            .map_or(0..0, |n| n.span.0 as usize..n.span.1 as usize)
    }

    /// The parent element, `None` for the document element.
    #[must_use]
    pub fn parent(self) -> Option<Self> {
        let parent = self.doc.node(self.id)?.parent;
        (parent != NONE).then_some(Self {
            doc: self.doc,
            id: parent,
        })
    }

    /// All attributes, in document order (namespace declarations excluded).
    pub fn attributes(self) -> impl Iterator<Item = Attribute<'d>> + 'd {
        let doc = self.doc;
        let attrs = self.data().map_or(&[][..], |e| {
            doc.attributes.get(range(e.attrs)).unwrap_or_default()
        });
        attrs.iter().map(move |a| Attribute {
            prefix: a.name.prefix(doc.input),
            local_name: a.name.local(doc.input),
            namespace: doc.ns_uri(a.ns),
            value: a.value.as_ref(),
        })
    }

    /// The value of the unqualified attribute `local_name`.
    #[must_use]
    pub fn attribute(self, local_name: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| a.namespace.is_none() && a.local_name == local_name)
            .map(|a| a.value)
    }

    /// The value of the attribute `{namespace}local_name`.
    #[must_use]
    pub fn attribute_ns(self, namespace: &str, local_name: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| a.namespace == Some(namespace) && a.local_name == local_name)
            .map(|a| a.value)
    }

    /// The namespace declarations written on this element.
    pub fn namespace_declarations(self) -> impl Iterator<Item = Namespace<'d>> + 'd {
        let decls = self.data().map_or(&[][..], |e| {
            self.doc.namespaces.get(range(e.decls)).unwrap_or_default()
        });
        decls.iter().map(|d| Namespace {
            prefix: d.prefix,
            uri: d.uri.as_ref(),
        })
    }

    /// The URI bound to `prefix` (empty for the default namespace) where this
    /// element stands; `None` if unbound (or the default namespace is empty).
    #[must_use]
    pub fn lookup_namespace(self, prefix: &str) -> Option<&'d str> {
        if prefix == "xml" {
            return Some(super::XML_NS);
        }
        let mut current = Some(self);
        while let Some(el) = current {
            if let Some(d) = el.namespace_declarations().find(|d| d.prefix == prefix) {
                return (!d.uri.is_empty()).then_some(d.uri);
            }
            current = el.parent();
        }
        None
    }

    /// The child nodes in document order.
    #[must_use]
    pub fn children(self) -> Children<'d, 'a> {
        let end = self.doc.node(self.id).map_or(self.id, |n| n.end);
        Children {
            doc: self.doc,
            next: self.id.saturating_add(1),
            end,
        }
    }

    /// The child elements in document order.
    pub fn child_elements(self) -> impl Iterator<Item = Element<'d, 'a>> + 'd {
        self.children().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// True if this element has at least one child element.
    #[must_use]
    pub fn has_child_elements(self) -> bool {
        self.child_elements().next().is_some()
    }

    /// The concatenation of all child text nodes. Comments and processing
    /// instructions are skipped, never treated as the end of the text, so
    /// `a<!---->b` reads as `ab` (the comment-truncation attack cannot work).
    #[must_use]
    pub fn text(self) -> Cow<'d, str> {
        let mut texts = self.children().filter_map(|n| match n {
            Node::Text(t) => Some(t),
            _ => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut s = String::from(first);
                s.push_str(second);
                texts.for_each(|t| s.push_str(t));
                Cow::Owned(s)
            }
        }
    }

    /// All elements of this subtree, this element first, in document order.
    pub fn descendants(self) -> impl Iterator<Item = Element<'d, 'a>> + 'd {
        let doc = self.doc;
        let end = doc.node(self.id).map_or(self.id, |n| n.end);
        (self.id..end).filter_map(move |id| doc.element(NodeId(id)))
    }

    /// True if `other` is this element or lies inside it.
    #[must_use]
    pub fn contains(self, other: NodeId) -> bool {
        let end = self.doc.node(self.id).map_or(self.id, |n| n.end);
        (self.id..end).contains(&other.0)
    }
}

/// Iterator over the children of an element.
#[derive(Debug, Clone)]
pub struct Children<'d, 'a> {
    doc: &'d Document<'a>,
    next: u32,
    end: u32,
}

impl<'d, 'a> Iterator for Children<'d, 'a> {
    type Item = Node<'d, 'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let id = self.next;
        let node = self.doc.node(id)?;
        // Skip the whole subtree of this child to reach its next sibling.
        self.next = node.end.max(id.saturating_add(1));
        Some(match &node.kind {
            NodeKind::Element(_) => Node::Element(Element { doc: self.doc, id }),
            NodeKind::Text(t) => Node::Text(t.as_ref()),
            NodeKind::Comment(c) => Node::Comment(c.as_ref()),
            NodeKind::Pi { target, data } => Node::ProcessingInstruction { target, data },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aggregates of thousands of entities hold millions of nodes: keep the
    /// per-node cost from creeping back up.
    #[test]
    fn nodes_stay_small() {
        assert!(size_of::<NodeData<'_>>() <= 48);
        assert!(size_of::<AttrData<'_>>() <= 40);
    }
}
