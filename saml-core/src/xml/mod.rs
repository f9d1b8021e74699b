//! A hardened XML reader and the read-only tree it builds.
//!
//! [`Document::parse`] reads UTF-8 XML with quick-xml into a compact tree that
//! keeps namespaces resolved, comments and processing instructions as nodes
//! (so canonicalization can keep or drop them) and the byte span of every
//! element. It refuses DTDs and entities, non-UTF-8 input, undeclared prefixes,
//! duplicate attributes and every other kind of malformed input, and enforces
//! the [`Limits`](crate::Limits) on size, depth, attributes and nodes.
//!
//! ```
//! use saml_core::xml::Document;
//! use saml_core::Limits;
//!
//! let xml = r#"<p:a xmlns:p="urn:x" ID="_1"><p:b>hi<!-- c -->there</p:b></p:a>"#;
//! let doc = Document::parse(xml, &Limits::default())?;
//! let root = doc.root();
//! assert_eq!(root.namespace(), Some("urn:x"));
//! let b = root.child_elements().next().ok_or("a child element")?;
//! // Text is the concatenation of all text nodes; comments never cut it short.
//! assert_eq!(b.text(), "hithere");
//! assert_eq!(doc.element_by_id("_1")?.map(|e| e.local_name()), Some("a"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod reader;
mod text;
pub(crate) mod tree;

pub(crate) use text::truncate as shorten;
pub use tree::{Attribute, Children, Document, Element, Namespace, Node, NodeId};

/// The namespace bound to the `xml` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of `xmlns` declarations, which may never be bound.
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";
