//! The hardened reader: quick-xml events in, a [`Document`] out, with every
//! well-formedness, namespace and resource rule checked on the way.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::text::{
    attribute_value, check_chars, decode_reference, is_name, normalize_eol, split_qname, truncate,
};
use super::tree::{
    AttrData, Document, ElementData, ElementName, NONE, NodeData, NodeKind, NsDecl, QName,
};
use super::{XML_NS, XMLNS_NS};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;

fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::MalformedXml, detail)
}

fn too_large(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::InputTooLarge, detail)
}

impl<'a> Document<'a> {
    /// Parses XML given as bytes. The input must be UTF-8 (a UTF-8 byte order
    /// mark is allowed); anything else fails with `unsupported_encoding`.
    pub fn parse_bytes(input: &'a [u8], limits: &Limits) -> Result<Self> {
        if input.len() > limits.max_xml_bytes {
            return Err(too_large(format!(
                "XML document of {} bytes exceeds the limit of {} bytes",
                input.len(),
                limits.max_xml_bytes
            )));
        }
        if input.starts_with(&[0xFE, 0xFF]) || input.starts_with(&[0xFF, 0xFE]) {
            return Err(Error::new(
                ErrorCode::UnsupportedEncoding,
                "UTF-16 input is not supported; send UTF-8",
            ));
        }
        let text = std::str::from_utf8(input).map_err(|e| {
            Error::new(
                ErrorCode::UnsupportedEncoding,
                format!("input is not valid UTF-8: {e}"),
            )
        })?;
        Self::parse(text, limits)
    }

    /// Parses an XML document, refusing DTDs, entities, non-UTF-8 encoding
    /// declarations, namespace errors, malformed markup and anything beyond
    /// `limits`.
    pub fn parse(input: &'a str, limits: &Limits) -> Result<Self> {
        if input.len() > limits.max_xml_bytes || u32::try_from(input.len()).is_err() {
            return Err(too_large(format!(
                "XML document of {} bytes exceeds the limit of {} bytes",
                input.len(),
                limits.max_xml_bytes
            )));
        }
        let body = input.strip_prefix('\u{FEFF}').unwrap_or(input);
        let offset = input.len() - body.len();
        check_chars(body)?;
        Builder::new(input, offset, limits).run(body)
    }
}

struct Builder<'a, 'l> {
    input: &'a str,
    /// Bytes skipped before the reader's input (a byte order mark).
    offset: usize,
    limits: &'l Limits,
    doc: Document<'a>,
    /// Open elements: node index.
    open: Vec<u32>,
    /// In-scope bindings: (prefix, index into `doc.namespaces`, NONE when undeclared).
    scope: Vec<(&'a str, u32)>,
    /// Scope length to restore when each open element closes.
    scope_marks: Vec<usize>,
    /// Text being accumulated: (content, start byte).
    pending_text: Option<(Cow<'a, str>, usize)>,
    /// Reused per start tag: (qname, prefix, local name, value).
    scratch: Vec<(&'a str, &'a str, &'a str, Cow<'a, str>)>,
    seen_root: bool,
    seen_anything: bool,
}

impl<'a, 'l> Builder<'a, 'l> {
    fn new(input: &'a str, offset: usize, limits: &'l Limits) -> Self {
        let doc = Document {
            input,
            nodes: Vec::with_capacity(input.len() / 24),
            attributes: Vec::with_capacity(input.len() / 64),
            namespaces: vec![NsDecl {
                prefix: "xml",
                uri: Cow::Borrowed(XML_NS),
            }],
            root: NONE,
        };
        Self {
            input,
            offset,
            limits,
            doc,
            open: Vec::new(),
            scope: Vec::new(),
            scope_marks: Vec::new(),
            pending_text: None,
            scratch: Vec::new(),
            seen_root: false,
            seen_anything: false,
        }
    }

    fn run(mut self, body: &'a str) -> Result<Document<'a>> {
        let mut reader = Reader::from_str(body);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        loop {
            let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = reader.read_event().map_err(|e| {
                let at = reader.error_position();
                malformed(format!("XML is not well-formed near byte {at}: {e}"))
            })?;
            let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let (start, end) = (start + self.offset, end + self.offset);
            match event {
                Event::Eof => break,
                Event::Text(t) => {
                    let raw = t.into_inner();
                    // One branch-free pass decides whether the slower checks are needed.
                    let rare = raw
                        .bytes()
                        .fold(false, |acc, b| acc | (b == b']') | (b == b'\r'));
                    if rare && raw.contains("]]>") {
                        return Err(malformed("`]]>` is not allowed in text"));
                    }
                    self.push_text(if rare { normalize_cow(raw) } else { raw }, start)?;
                }
                Event::GeneralRef(r) => {
                    let c = decode_reference(&r.into_inner())?;
                    self.push_text(Cow::Owned(c.to_string()), start)?;
                }
                Event::CData(c) => self.push_text(normalize_cow(c.into_inner()), start)?,
                Event::Start(_) => self.start_element(start, end, false)?,
                Event::Empty(_) => self.start_element(start, end, true)?,
                Event::End(_) => self.end_element(end)?,
                Event::Comment(c) => {
                    self.flush_text()?;
                    let content = borrowed(c.into_inner(), self.input, start + 4)?;
                    if content.ends_with('-') {
                        return Err(malformed("a comment may not end with `--->`"));
                    }
                    self.push_leaf(NodeKind::Comment(normalize_eol(content)), start, end)?;
                }
                Event::PI(pi) => {
                    self.flush_text()?;
                    let raw = borrowed(pi.into_inner(), self.input, start + 2)?;
                    let (target, data) = match raw.find(|c: char| c.is_ascii_whitespace()) {
                        Some(i) => {
                            let (t, d) = raw.split_at(i);
                            (t, d.trim_start_matches(|c: char| c.is_ascii_whitespace()))
                        }
                        None => (raw, ""),
                    };
                    if !is_name(target) || target.eq_ignore_ascii_case("xml") {
                        return Err(malformed(format!(
                            "`{}` is not a valid processing-instruction target",
                            truncate(target)
                        )));
                    }
                    self.push_leaf(
                        NodeKind::Pi {
                            target,
                            data: Box::new(normalize_eol(data)),
                        },
                        start,
                        end,
                    )?;
                }
                Event::Decl(decl) => {
                    if self.seen_anything || start != self.offset {
                        return Err(malformed("the XML declaration must come first"));
                    }
                    let version = decl
                        .version()
                        .map_err(|e| malformed(format!("bad XML declaration: {e}")))?;
                    if version != "1.0" {
                        return Err(malformed(format!(
                            "XML version `{}` is not supported; use 1.0",
                            truncate(&version)
                        )));
                    }
                    if let Some(enc) = decl.encoding() {
                        let enc =
                            enc.map_err(|e| malformed(format!("bad XML declaration: {e}")))?;
                        if !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("utf8") {
                            return Err(Error::new(
                                ErrorCode::UnsupportedEncoding,
                                format!(
                                    "declared encoding `{}` is not supported; send UTF-8",
                                    truncate(&enc)
                                ),
                            ));
                        }
                    }
                }
                Event::DocType(_) => {
                    return Err(Error::new(
                        ErrorCode::DtdForbidden,
                        "DOCTYPE declarations are not allowed in SAML messages",
                    ));
                }
            }
            self.seen_anything = true;
        }
        self.flush_text()?;
        if !self.open.is_empty() {
            return Err(malformed("the document ends inside an element"));
        }
        if !self.seen_root {
            return Err(malformed("the document has no element"));
        }
        Ok(self.doc)
    }

    fn push_text(&mut self, text: Cow<'a, str>, start: usize) -> Result<()> {
        if self.open.is_empty() {
            // Outside the document element only whitespace may appear.
            if text
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                && !text.is_empty()
            {
                return Ok(());
            }
            return Err(malformed(
                "text, references and CDATA are not allowed outside the document element",
            ));
        }
        match &mut self.pending_text {
            Some((existing, _)) => existing.to_mut().push_str(&text),
            None => self.pending_text = Some((text, start)),
        }
        Ok(())
    }

    fn flush_text(&mut self) -> Result<()> {
        if let Some((text, start)) = self.pending_text.take() {
            let end = start + text.len();
            self.push_leaf(NodeKind::Text(text), start, end)?;
        }
        Ok(())
    }

    fn next_id(&self) -> Result<u32> {
        if self.doc.nodes.len() >= self.limits.max_nodes {
            return Err(too_large(format!(
                "the document has more than {} nodes",
                self.limits.max_nodes
            )));
        }
        u32::try_from(self.doc.nodes.len()).map_err(|_| too_large("too many nodes"))
    }

    fn push_leaf(&mut self, kind: NodeKind<'a>, start: usize, end: usize) -> Result<()> {
        let id = self.next_id()?;
        let parent = self.open.last().copied().unwrap_or(NONE);
        self.doc.nodes.push(NodeData {
            kind,
            parent,
            end: id + 1,
            span: (pos(start), pos(end)),
        });
        Ok(())
    }

    fn start_element(&mut self, start: usize, end: usize, empty: bool) -> Result<()> {
        self.flush_text()?;
        if self.open.is_empty() && self.seen_root {
            return Err(malformed("a document has exactly one document element"));
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(too_large(format!(
                "elements are nested deeper than {}",
                self.limits.max_depth
            )));
        }
        let id = self.next_id()?;
        let tag = self
            .input
            .get(start..end)
            .and_then(|t| t.strip_prefix('<'))
            .and_then(|t| t.strip_suffix('>'))
            .ok_or_else(|| malformed("unexpected tag boundaries"))?;
        let tag = if empty {
            tag.strip_suffix('/')
                .ok_or_else(|| malformed("bad empty-element tag"))?
        } else {
            tag
        };
        let name_end = tag.bytes().position(is_space_byte).unwrap_or(tag.len());
        let (qname, mut rest) = tag.split_at(name_end);
        let (prefix, local) = split_qname(qname)?;

        self.scope_marks.push(self.scope.len());
        let decl_start = self.doc.namespaces.len();
        let attr_start = self.doc.attributes.len();
        let mut raw_attrs = std::mem::take(&mut self.scratch);
        raw_attrs.clear();
        let mut count = 0usize;
        loop {
            let trimmed = trim_space(rest);
            if trimmed.is_empty() {
                break;
            }
            if trimmed.len() == rest.len() {
                return Err(malformed("attributes must be separated by whitespace"));
            }
            count += 1;
            if count > self.limits.max_attributes {
                return Err(too_large(format!(
                    "an element has more than {} attributes",
                    self.limits.max_attributes
                )));
            }
            let (name, value, after) = split_attribute(trimmed)?;
            rest = after;
            let value = attribute_value(value)?;
            let (aprefix, alocal) = split_qname(name)?;
            if aprefix.is_empty() && alocal == "xmlns" {
                self.declare("", value)?;
            } else if aprefix == "xmlns" {
                self.declare(alocal, value)?;
            } else {
                raw_attrs.push((name, aprefix, alocal, value));
            }
        }
        let decl_end = self.doc.namespaces.len();

        if prefix == "xmlns" {
            return Err(malformed("an element may not use the `xmlns` prefix"));
        }
        let ns = self.resolve(prefix)?;
        for (i, (name, aprefix, alocal, value)) in raw_attrs.drain(..).enumerate() {
            let ans = if aprefix.is_empty() {
                NONE
            } else {
                self.resolve(aprefix)?
            };
            let clash = self
                .doc
                .attributes
                .get(attr_start..)
                .unwrap_or_default()
                .iter()
                .take(i)
                .any(|a| {
                    a.name.local(self.input) == alocal
                        && (a.ns == ans || self.doc.ns_uri(a.ns) == self.doc.ns_uri(ans))
                });
            if clash {
                return Err(malformed(format!(
                    "attribute `{}` appears twice on one element",
                    truncate(name)
                )));
            }
            self.doc.attributes.push(AttrData {
                name: QName {
                    start: pos(offset_in(self.input, name)),
                    prefix_len: pos(aprefix.len()),
                    local_len: pos(alocal.len()),
                },
                ns: ans,
                value,
            });
        }
        self.scratch = raw_attrs;
        let attr_end = self.doc.attributes.len();

        let parent = self.open.last().copied().unwrap_or(NONE);
        if parent == NONE {
            self.doc.root = id;
            self.seen_root = true;
        }
        self.doc.nodes.push(NodeData {
            kind: NodeKind::Element(ElementData {
                // The name follows the `<` of the start tag.
                name: ElementName {
                    prefix_len: pos(prefix.len()),
                    local_len: pos(local.len()),
                },
                ns,
                attrs: (pos(attr_start), pos(attr_end)),
                decls: (pos(decl_start), pos(decl_end)),
            }),
            parent,
            end: id + 1,
            span: (pos(start), pos(end)),
        });
        self.open.push(id);
        if empty {
            self.close(id, end);
        }
        Ok(())
    }

    fn end_element(&mut self, end: usize) -> Result<()> {
        self.flush_text()?;
        let id = self
            .open
            .last()
            .copied()
            .ok_or_else(|| malformed("end tag without a start tag"))?;
        self.close(id, end);
        Ok(())
    }

    fn close(&mut self, id: u32, end: usize) {
        self.open.pop();
        let node_end = u32::try_from(self.doc.nodes.len()).unwrap_or(NONE);
        if let Some(node) = self.doc.nodes.get_mut(id as usize) {
            node.end = node_end;
            node.span.1 = pos(end);
        }
        if let Some(mark) = self.scope_marks.pop() {
            self.scope.truncate(mark);
        }
    }

    fn declare(&mut self, prefix: &'a str, uri: Cow<'a, str>) -> Result<()> {
        if prefix == "xmlns" {
            return Err(malformed("the `xmlns` prefix may not be declared"));
        }
        if prefix == "xml" {
            if uri != XML_NS {
                return Err(malformed(
                    "the `xml` prefix may only be bound to its own namespace",
                ));
            }
        } else if uri == XML_NS || uri == XMLNS_NS {
            return Err(malformed(
                "the XML namespaces may not be bound to another prefix",
            ));
        }
        let mark = self.scope_marks.last().copied().unwrap_or(0);
        if self
            .scope
            .get(mark..)
            .unwrap_or_default()
            .iter()
            .any(|(p, _)| *p == prefix)
        {
            return Err(malformed(format!(
                "namespace prefix `{}` is declared twice on one element",
                truncate(prefix)
            )));
        }
        if !uri.is_empty() && !has_scheme(&uri) {
            // Canonical XML 1.0 section 2.1: relative namespace URIs are an error.
            return Err(malformed(format!(
                "namespace URI `{}` is relative; use an absolute URI",
                truncate(&uri)
            )));
        }
        if !prefix.is_empty() && uri.is_empty() {
            return Err(malformed(format!(
                "prefix `{}` may not be undeclared (XML Namespaces 1.0)",
                truncate(prefix)
            )));
        }
        let index = u32::try_from(self.doc.namespaces.len())
            .map_err(|_| too_large("too many namespaces"))?;
        self.doc.namespaces.push(NsDecl {
            prefix,
            uri: uri.clone(),
        });
        self.scope
            .push((prefix, if uri.is_empty() { NONE } else { index }));
        Ok(())
    }

    fn resolve(&self, prefix: &str) -> Result<u32> {
        if prefix == "xml" {
            return Ok(0);
        }
        match self.scope.iter().rev().find(|(p, _)| *p == prefix) {
            Some((_, index)) => Ok(*index),
            None if prefix.is_empty() => Ok(NONE),
            None => Err(malformed(format!(
                "namespace prefix `{}` is not declared",
                truncate(prefix)
            ))),
        }
    }
}

/// True if `uri` starts with an RFC 3986 scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`).
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn trim_space(s: &str) -> &str {
    let skip = s.bytes().take_while(|&b| is_space_byte(b)).count();
    s.get(skip..).unwrap_or_default()
}

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Where `part`, a slice of `input`, starts in it.
fn offset_in(input: &str, part: &str) -> usize {
    (part.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize)
}

fn pos(p: usize) -> u32 {
    u32::try_from(p).unwrap_or(NONE)
}

fn normalize_cow(raw: Cow<'_, str>) -> Cow<'_, str> {
    match raw {
        Cow::Borrowed(s) => normalize_eol(s),
        Cow::Owned(s) => Cow::Owned(normalize_eol(&s).into_owned()),
    }
}

/// Re-borrows event content from the input so it lives as long as the
/// document. quick-xml hands out borrowed slices of the input here; an owned
/// one would be an internal surprise, reported rather than unwrapped.
fn borrowed<'a>(content: Cow<'_, str>, input: &'a str, at: usize) -> Result<&'a str> {
    input
        .get(at..at + content.len())
        .filter(|s| *s == content)
        .ok_or_else(|| malformed("unexpected markup layout"))
}

/// Splits `name = "value"` off the front of `s`, returning the raw (undecoded)
/// value and the rest.
fn split_attribute(s: &str) -> Result<(&str, &str, &str)> {
    let no_value = || malformed(format!("attribute `{}` has no value", truncate(s)));
    let name_end = s
        .bytes()
        .position(|b| b == b'=' || is_space_byte(b))
        .ok_or_else(no_value)?;
    let (name, rest) = s.split_at(name_end);
    let rest = trim_space(trim_space(rest).strip_prefix('=').ok_or_else(no_value)?);
    let Some(&quote @ (b'"' | b'\'')) = rest.as_bytes().first() else {
        return Err(malformed(format!(
            "the value of attribute `{}` is not quoted",
            truncate(name)
        )));
    };
    let body = rest.get(1..).unwrap_or_default();
    let close = body.bytes().position(|b| b == quote).ok_or_else(|| {
        malformed(format!(
            "the value of attribute `{}` is not closed",
            truncate(name)
        ))
    })?;
    let (value, after) = body.split_at(close);
    Ok((name, value, after.get(1..).unwrap_or_default()))
}
