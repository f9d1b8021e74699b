//! Helpers for writing protocol messages: escaping, `xs:ID` checks and
//! small element writers, shared by every message builder.

use super::generate_id;
use crate::error::{Error, ErrorCode, Result};
use crate::xml::shorten;

/// An input the message builders cannot turn into XML.
pub(crate) fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::MalformedXml, detail)
}

/// XML 1.0 `Char` (what may appear, escaped or not, in a document).
const fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// True if every character may appear in an XML document.
pub(crate) fn is_xml_text(s: &str) -> bool {
    s.chars().all(is_xml_char)
}

/// An `xs:ID` (NCName), with letters and digits taken broadly.
pub(crate) fn is_xml_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| matches!(c, '_' | '-' | '.' | '\u{B7}') || c.is_alphanumeric())
}

/// The given ID (checked) or a fresh one.
pub(crate) fn message_id(id: Option<String>) -> Result<String> {
    match id {
        Some(id) if is_xml_id(&id) => Ok(id),
        Some(id) => Err(invalid(format!("`{}` is not a valid xs:ID", shorten(&id)))),
        None => generate_id(),
    }
}

/// Refuses empty required values and characters XML cannot carry.
pub(crate) fn check_values(required: &[(&str, &str)], optional: &[(&str, &str)]) -> Result<()> {
    if let Some((what, _)) = required.iter().find(|(_, v)| v.is_empty()) {
        return Err(invalid(format!("the {what} is empty")));
    }
    if let Some((what, _)) = required
        .iter()
        .chain(optional)
        .find(|(_, v)| !is_xml_text(v))
    {
        return Err(invalid(format!(
            "the {what} contains a character that XML cannot carry"
        )));
    }
    Ok(())
}

/// Escapes an attribute value (double-quoted); whitespace other than the
/// space as character references, so attribute normalization keeps it.
pub(crate) fn escape_attr(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes element text; CR as a reference so end-of-line handling keeps it.
pub(crate) fn escape_text(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Writes ` name="value"` with the value escaped.
pub(crate) fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_attr(value, out);
    out.push('"');
}

/// Writes `<name>text</name>` with the text escaped.
pub(crate) fn text_element(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_text(value, out);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}
