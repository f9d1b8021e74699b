//! Property tests over random namespaced documents: the reader never panics,
//! canonical XML is a fixed point, exclusive C14N ignores unrelated ancestor
//! declarations, and text and attribute values survive escaping.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use saml_core::Limits;
use saml_core::c14n::Method;
use saml_core::xml::Document;

#[derive(Debug, Clone)]
enum Tree {
    Element {
        prefix: usize,
        decls: Vec<(usize, usize)>,
        attrs: Vec<(usize, String)>,
        children: Vec<Self>,
    },
    Text(String),
    Comment(String),
}

const PREFIXES: [&str; 4] = ["", "a", "b", "c"];
const URIS: [&str; 3] = ["urn:x", "urn:y", "http://example.com/z"];

fn text() -> impl Strategy<Value = String> {
    "[a-z<>&\"' \t\n\u{e9}\u{1F600}]{0,12}"
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        text().prop_map(Tree::Text),
        "[a-z ]{0,8}".prop_map(Tree::Comment)
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        (
            0..PREFIXES.len(),
            prop::collection::vec((0..PREFIXES.len(), 0..URIS.len()), 0..3),
            prop::collection::vec((0..4usize, text()), 0..3),
            prop::collection::vec(inner, 0..5),
        )
            .prop_map(|(prefix, decls, attrs, children)| Tree::Element {
                prefix,
                decls,
                attrs,
                children,
            })
    })
}

fn escape(s: &str, attr: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' if attr => out.push_str("&quot;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders a tree; every prefix used is declared on the element itself, so the
/// output is always namespace-well-formed.
fn render(tree: &Tree, out: &mut String) {
    match tree {
        Tree::Text(t) => out.push_str(&escape(t, false)),
        Tree::Comment(c) => {
            out.push_str("<!--");
            out.push_str(c);
            out.push_str("-->");
        }
        Tree::Element {
            prefix,
            decls,
            attrs,
            children,
        } => {
            let p = PREFIXES[*prefix];
            let name = if p.is_empty() {
                "e".to_owned()
            } else {
                format!("{p}:e")
            };
            out.push('<');
            out.push_str(&name);
            let mut declared: Vec<&str> = Vec::new();
            for (dp, du) in decls {
                let dp = PREFIXES[*dp];
                if declared.contains(&dp) {
                    continue;
                }
                declared.push(dp);
                let attr = if dp.is_empty() {
                    "xmlns".to_owned()
                } else {
                    format!("xmlns:{dp}")
                };
                out.push_str(&format!(" {attr}=\"{}\"", URIS[*du]));
            }
            if !p.is_empty() && !declared.contains(&p) {
                out.push_str(&format!(" xmlns:{p}=\"urn:own\""));
            }
            let mut used = Vec::new();
            for (i, (n, v)) in attrs.iter().enumerate() {
                if used.contains(n) {
                    continue;
                }
                used.push(*n);
                out.push_str(&format!(" at{n}{i}=\"{}\"", escape(v, true)));
            }
            out.push('>');
            for c in children {
                render(c, out);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

fn document(tree: &Tree) -> String {
    let mut out = String::new();
    match tree {
        Tree::Element { .. } => render(tree, &mut out),
        other => {
            out.push_str("<root>");
            render(other, &mut out);
            out.push_str("</root>");
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn reader_never_panics_on_arbitrary_input(s in "(<[a-z:]{0,3}|[ =\"'/>&;#x0-9a-z]|<!--|-->|<\\?|\\?>|<!\\[CDATA\\[|\\]\\]>|xmlns){0,40}") {
        let _ = Document::parse(&s, &Limits::default());
    }

    #[test]
    fn canonical_form_is_a_fixed_point(t in tree()) {
        let xml = document(&t);
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        for method in Method::ALL {
            let once = method.canonicalize(doc.root());
            let text = String::from_utf8(once.clone()).unwrap();
            let again = Document::parse(&text, &Limits::default()).unwrap();
            prop_assert_eq!(&method.canonicalize(again.root()), &once, "{}", xml);
        }
    }

    #[test]
    fn exclusive_c14n_ignores_unrelated_ancestor_declarations(t in tree()) {
        let inner = document(&t);
        let wrapped = format!(r#"<w:wrap xmlns:w="urn:w" xmlns:unused="urn:unused" xmlns:a="urn:shadow">{inner}</w:wrap>"#);
        let alone = Document::parse(&inner, &Limits::default()).unwrap();
        let nested = Document::parse(&wrapped, &Limits::default()).unwrap();
        let apex = nested.root().child_elements().next().unwrap();
        prop_assert_eq!(Method::Exclusive.canonicalize(apex), Method::Exclusive.canonicalize(alone.root()));
    }

    #[test]
    fn text_and_attribute_values_survive_escaping(s in text()) {
        let xml = format!(r#"<r v="{}">{}</r>"#, escape(&s, true), escape(&s, false));
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        prop_assert_eq!(doc.root().attribute("v"), Some(s.as_str()));
        prop_assert_eq!(doc.root().text(), s.as_str());
    }
}
