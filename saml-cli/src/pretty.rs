//! Indented printing of a parsed document for `saml decode`.

use std::fmt::Write;

use saml_core::xml::{Document, Element, Node};

/// The document as indented XML (namespace declarations as written).
pub(crate) fn pretty(doc: &Document<'_>) -> String {
    let mut out = String::new();
    element(&mut out, doc.root(), 0);
    out
}

fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn qname(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_owned()
    } else {
        format!("{prefix}:{local}")
    }
}

fn element(out: &mut String, el: Element<'_, '_>, depth: usize) {
    let pad = "  ".repeat(depth);
    let name = qname(el.prefix(), el.local_name());
    let _ = write!(out, "{pad}<{name}");
    for ns in el.namespace_declarations() {
        let attr = if ns.prefix.is_empty() {
            "xmlns".to_owned()
        } else {
            format!("xmlns:{}", ns.prefix)
        };
        let _ = write!(out, " {attr}=\"{}\"", escape(ns.uri, true));
    }
    for a in el.attributes() {
        let _ = write!(
            out,
            " {}=\"{}\"",
            qname(a.prefix, a.local_name),
            escape(a.value, true)
        );
    }
    let children: Vec<Node<'_, '_>> = el
        .children()
        .filter(|n| !matches!(n, Node::Text(t) if t.trim().is_empty()))
        .collect();
    match children.as_slice() {
        [] => out.push_str("/>\n"),
        [Node::Text(t)] => {
            let _ = writeln!(out, ">{}</{name}>", escape(t.trim(), false));
        }
        _ => {
            out.push_str(">\n");
            for child in children {
                match child {
                    Node::Element(e) => element(out, e, depth + 1),
                    Node::Text(t) => {
                        let _ = writeln!(out, "{pad}  {}", escape(t.trim(), false));
                    }
                    Node::Comment(c) => {
                        let _ = writeln!(out, "{pad}  <!--{c}-->");
                    }
                    Node::ProcessingInstruction { target, data } => {
                        let _ = writeln!(out, "{pad}  <?{target} {data}?>");
                    }
                }
            }
            let _ = writeln!(out, "{pad}</{name}>");
        }
    }
}
