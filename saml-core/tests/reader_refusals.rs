//! Every refusal of the hardened XML reader, each fed its bad input and checked
//! for the stable error code; the classic XML attacks (billion laughs,
//! external entities, deep nesting, huge values) are refused quickly.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};

fn code(xml: &str) -> ErrorCode {
    match Document::parse(xml, &Limits::default()) {
        Ok(_) => panic!("accepted: {xml}"),
        Err(e) => e.code(),
    }
}

#[test]
fn dtds_and_entities_are_refused() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"#;
    assert_eq!(code(billion_laughs), ErrorCode::DtdForbidden);
    let xxe = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    assert_eq!(code(xxe), ErrorCode::DtdForbidden);
    let parameter = r#"<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1/evil.dtd"> %p;]><r/>"#;
    assert_eq!(code(parameter), ErrorCode::DtdForbidden);
    assert_eq!(code("<!DOCTYPE r><r/>"), ErrorCode::DtdForbidden);
    // An undeclared entity reference assumes a DTD: refused in text and in attributes.
    assert_eq!(code("<r>&lol;</r>"), ErrorCode::DtdForbidden);
    assert_eq!(code(r#"<r a="&lol;"/>"#), ErrorCode::DtdForbidden);
}

#[test]
fn predefined_entities_and_char_refs_are_decoded() {
    let doc = Document::parse(
        r#"<r a="&lt;&#x41;&#66;">&amp;&apos;&quot;&gt;&#x1F600;</r>"#,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(doc.root().attribute("a"), Some("<AB"));
    assert_eq!(doc.root().text(), "&'\">\u{1F600}");
    for bad in [
        "<r>&#0;</r>",
        "<r>&#xD800;</r>",
        "<r>&#xFFFE;</r>",
        "<r>&#x110000;</r>",
        "<r>&#;</r>",
        r#"<r a="&#1;"/>"#,
    ] {
        assert_eq!(code(bad), ErrorCode::MalformedXml, "{bad}");
    }
}

#[test]
fn encodings_other_than_utf8_are_refused() {
    assert_eq!(
        code(r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#),
        ErrorCode::UnsupportedEncoding
    );
    assert_eq!(
        code(r#"<?xml version="1.0" encoding="UTF-16"?><r/>"#),
        ErrorCode::UnsupportedEncoding
    );
    let err = Document::parse_bytes(b"<r>\xff\xfe</r>", &Limits::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnsupportedEncoding);
    let utf16 = [0xFF, 0xFE, b'<', 0, b'r', 0, b'/', 0, b'>', 0];
    assert_eq!(
        Document::parse_bytes(&utf16, &Limits::default())
            .unwrap_err()
            .code(),
        ErrorCode::UnsupportedEncoding
    );
    // UTF-8 with or without a BOM, declared in any case, is fine.
    assert!(Document::parse_bytes("\u{FEFF}<r/>".as_bytes(), &Limits::default()).is_ok());
    assert!(
        Document::parse(
            r#"<?xml version="1.0" encoding="utf-8"?><r/>"#,
            &Limits::default()
        )
        .is_ok()
    );
    assert_eq!(
        code(r#"<?xml version="1.1"?><r/>"#),
        ErrorCode::MalformedXml
    );
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_xml_bytes: 100,
        max_depth: 3,
        max_attributes: 2,
        max_nodes: 5,
    };
    let err = |xml: &str| Document::parse(xml, &limits).unwrap_err().code();
    assert_eq!(
        err(&format!("<r>{}</r>", "x".repeat(200))),
        ErrorCode::InputTooLarge
    );
    assert_eq!(err("<a><b><c><d/></c></b></a>"), ErrorCode::InputTooLarge);
    assert!(Document::parse("<a><b><c/></b></a>", &limits).is_ok());
    assert_eq!(err(r#"<r a="1" b="2" c="3"/>"#), ErrorCode::InputTooLarge);
    assert!(Document::parse(r#"<r a="1" b="2"/>"#, &limits).is_ok());
    assert_eq!(err("<r><a/><a/><a/><a/><a/></r>"), ErrorCode::InputTooLarge);
    // Namespace declarations count as attributes.
    assert_eq!(
        err(r#"<r xmlns:a="urn:a" xmlns:b="urn:b" c="3"/>"#),
        ErrorCode::InputTooLarge
    );
}

#[test]
fn attacks_are_refused_fast_and_bounded() {
    let defaults = Limits::default();
    // 10 MB attribute value: refused on size before any parsing.
    let huge = format!(r#"<r a="{}"/>"#, "A".repeat(10 * 1024 * 1024));
    let start = Instant::now();
    assert_eq!(
        Document::parse(&huge, &defaults).unwrap_err().code(),
        ErrorCode::InputTooLarge
    );
    // Deep nesting within the size limit: refused at the depth limit.
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    assert_eq!(
        Document::parse(
            &deep,
            &Limits {
                max_xml_bytes: 1 << 20,
                ..defaults
            }
        )
        .unwrap_err()
        .code(),
        ErrorCode::InputTooLarge
    );
    // Many small nodes: refused at the node limit.
    let wide = format!("<r>{}</r>", "<a/>".repeat(200_000));
    assert_eq!(
        Document::parse(
            &wide,
            &Limits {
                max_xml_bytes: 1 << 21,
                ..defaults
            }
        )
        .unwrap_err()
        .code(),
        ErrorCode::InputTooLarge
    );
    // Generous bound for a slow debug build on a loaded machine; a quadratic
    // or unbounded path would take far longer.
    assert!(
        start.elapsed().as_secs() < 20,
        "attack inputs took {:?}",
        start.elapsed()
    );
}

#[test]
fn namespace_errors_are_refused() {
    assert_eq!(code("<p:r/>"), ErrorCode::MalformedXml);
    assert_eq!(code(r#"<r p:a="1"/>"#), ErrorCode::MalformedXml);
    assert_eq!(code(r#"<r xmlns:p=""/>"#), ErrorCode::MalformedXml);
    assert_eq!(
        code(r#"<r xmlns:xml="urn:other"/>"#),
        ErrorCode::MalformedXml
    );
    assert_eq!(
        code(r#"<r xmlns:p="http://www.w3.org/XML/1998/namespace"/>"#),
        ErrorCode::MalformedXml
    );
    assert_eq!(code(r#"<r xmlns:xmlns="urn:x"/>"#), ErrorCode::MalformedXml);
    assert_eq!(
        code(r#"<r xmlns:p="http://www.w3.org/2000/xmlns/"/>"#),
        ErrorCode::MalformedXml
    );
    assert_eq!(code(r#"<xmlns:r/>"#), ErrorCode::MalformedXml);
    assert_eq!(
        code(r#"<r xmlns:p="urn:a" xmlns:p="urn:b"/>"#),
        ErrorCode::MalformedXml
    );
    assert_eq!(code(r#"<a:b:c xmlns:a="urn:a"/>"#), ErrorCode::MalformedXml);
    // A prefix declared on a sibling is not in scope.
    assert_eq!(
        code(r#"<r><a xmlns:p="urn:p"/><p:b/></r>"#),
        ErrorCode::MalformedXml
    );
    // Declared after use on the same element is fine (attribute order is irrelevant).
    assert!(Document::parse(r#"<p:r p:a="1" xmlns:p="urn:p"/>"#, &Limits::default()).is_ok());
}

#[test]
fn duplicate_attributes_are_refused() {
    assert_eq!(code(r#"<r a="1" a="2"/>"#), ErrorCode::MalformedXml);
    // Same expanded name through two prefixes bound to one URI.
    assert_eq!(
        code(r#"<r xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>"#),
        ErrorCode::MalformedXml
    );
    // Same local name in different namespaces is fine.
    assert!(Document::parse(r#"<r xmlns:p="urn:x" a="1" p:a="2"/>"#, &Limits::default()).is_ok());
}

#[test]
fn malformed_markup_is_refused() {
    for bad in [
        "",
        "   ",
        "text",
        "<r>",
        "<r></s>",
        "</r>",
        "<r/><r/>",
        "<r/>trailing",
        "x<r/>",
        "<r><![CDATA[x</r>",
        "<r a=1/>",
        "<r a='1/>",
        r#"<r a="1"b="2"/>"#,
        r#"<r a="x<y"/>"#,
        "<r a/>",
        "<r>a & b</r>",
        "<r><!-- a -- b --></r>",
        "<r><!-- a ---></r>",
        "<1r/>",
        "<r><?xml version='1.0'?></r>",
        "<r/><?xml version='1.0'?>",
        "<r>]]></r>",
        "<r>\u{1}</r>",
        "<r>\u{FFFF}</r>",
        "<r><!--x",
        "<r",
    ] {
        assert_eq!(code(bad), ErrorCode::MalformedXml, "{bad:?}");
    }
}

#[test]
fn duplicate_ids_are_an_error_not_a_pick() {
    let doc = Document::parse(
        r#"<r ID="a"><x ID="b"/><y ID="b"/><z xmlns:o="urn:o" o:ID="a"/></r>"#,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        doc.element_by_id("b").unwrap_err().code(),
        ErrorCode::DuplicateId
    );
    // Only the unqualified ID attribute counts: an ID in another namespace is not an ID.
    assert_eq!(
        doc.element_by_id("a").unwrap().map(|e| e.local_name()),
        Some("r")
    );
    assert!(doc.element_by_id("none").unwrap().is_none());
}

#[test]
fn text_is_never_truncated_at_comments_or_pis() {
    let doc = Document::parse(
        "<n>admin@example.com<!---->.evil.com<?pi x?>!</n>",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(doc.root().text(), "admin@example.com.evil.com!");
    let doc = Document::parse("<n>a<![CDATA[<b>]]>&amp;c\r\nd</n>", &Limits::default()).unwrap();
    assert_eq!(doc.root().text(), "a<b>&c\nd");
}

#[test]
fn spans_point_at_the_element() {
    let xml = "<?xml version=\"1.0\"?>\n<r><a x=\"1\">t</a><b/></r>";
    let doc = Document::parse(xml, &Limits::default()).unwrap();
    let mut kids = doc.root().child_elements();
    let a = kids.next().unwrap();
    let b = kids.next().unwrap();
    assert_eq!(&xml[a.span()], "<a x=\"1\">t</a>");
    assert_eq!(&xml[b.span()], "<b/>");
    assert_eq!(&xml[doc.root().span()], "<r><a x=\"1\">t</a><b/></r>");
}
