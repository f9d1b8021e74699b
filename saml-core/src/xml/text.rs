//! Character-level rules of XML 1.0: legal characters, names, and the
//! decoding of references in text and attribute values.

use std::borrow::Cow;

use crate::error::{Error, ErrorCode, Result};

/// Checks that every character of the input is a legal XML 1.0 `Char`.
/// One pass over the bytes: C0 controls other than tab, LF and CR are refused,
/// and so are U+FFFE and U+FFFF (UTF-8 `EF BF BE` / `EF BF BF`). Surrogates
/// cannot occur in a `str`.
pub(crate) fn check_chars(input: &str) -> Result<()> {
    let bytes = input.as_bytes();
    // Fast path: chunks with no forbidden control byte and no 0xEF lead byte
    // are fine. Tab, LF and CR are excluded here, not in the slow path:
    // indented XML has a line end in nearly every chunk. The fold has no
    // early exit, so it vectorizes.
    for (n, chunk) in bytes.chunks(64).enumerate() {
        let suspicious = chunk.iter().fold(false, |acc, &b| {
            acc | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0xEF)
        });
        if !suspicious {
            continue;
        }
        let base = n * 64;
        for (j, &b) in chunk.iter().enumerate() {
            let i = base + j;
            if b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r' {
                return Err(Error::new(
                    ErrorCode::MalformedXml,
                    format!("control character U+{b:04X} at byte {i} is not allowed in XML"),
                ));
            }
            if b == 0xEF
                && bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
            {
                return Err(Error::new(
                    ErrorCode::MalformedXml,
                    format!("non-character U+FFFE/U+FFFF at byte {i} is not allowed in XML"),
                ));
            }
        }
    }
    Ok(())
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// ASCII bytes allowed in an NCName: 1 = anywhere, 2 = not first (digits,
/// `-`, `.`). Non-ASCII bytes are 0 and take the general path.
static ASCII_NAME: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() || c == b'_' {
            1
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            2
        } else {
            0
        };
        b += 1;
    }
    t
};

/// True if `s` is a non-empty NCName (an XML name without colons).
pub(crate) fn is_ncname(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    // One pass over a table; the fold has no early exit so it stays tight.
    let all_ascii_name = bytes
        .iter()
        .fold(true, |ok, &b| ok & (ASCII_NAME[usize::from(b)] != 0));
    if all_ascii_name {
        return ASCII_NAME[usize::from(first)] == 1;
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// True if `s` is an XML `Name` (colons allowed), as PI targets are.
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == ':' || is_name_start(c))
        && chars.all(|c| c == ':' || is_name_char(c))
}

/// Splits a QName into (prefix, local name), refusing anything that is not
/// `NCName` or `NCName:NCName`.
pub(crate) fn split_qname(qname: &str) -> Result<(&str, &str)> {
    let (prefix, local) = match qname.bytes().position(|b| b == b':') {
        Some(i) => (
            qname.get(..i).unwrap_or_default(),
            qname.get(i + 1..).unwrap_or_default(),
        ),
        None => ("", qname),
    };
    let prefix_ok = is_ncname(prefix) || (prefix.is_empty() && local.len() == qname.len());
    if !prefix_ok || !is_ncname(local) {
        return Err(Error::new(
            ErrorCode::MalformedXml,
            format!("`{}` is not a valid qualified XML name", truncate(qname)),
        ));
    }
    Ok((prefix, local))
}

/// Shortens attacker-controlled text for error messages.
pub(crate) fn truncate(s: &str) -> &str {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Decodes one reference name as quick-xml reports it (`amp`, `#38`, `#x26`).
/// Only the five predefined entities and character references that name a
/// legal XML character are accepted; any other entity means a DTD was assumed.
pub(crate) fn decode_reference(name: &str) -> Result<char> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let Some(num) = name.strip_prefix('#') else {
                return Err(Error::new(
                    ErrorCode::DtdForbidden,
                    format!(
                        "entity reference `&{};` is not allowed: only the five predefined entities and character references are",
                        truncate(name)
                    ),
                ));
            };
            let code = match num.strip_prefix('x') {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()
                }
                None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
                    num.parse::<u32>().ok()
                }
                _ => None,
            };
            let c = code.and_then(char::from_u32).filter(|&c| is_xml_char(c));
            return c.ok_or_else(|| {
                Error::new(
                    ErrorCode::MalformedXml,
                    format!(
                        "`&{};` is not a reference to a legal XML character",
                        truncate(name)
                    ),
                )
            });
        }
    };
    Ok(c)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Normalizes line ends in raw text (`\r\n` and lone `\r` become `\n`), as an
/// XML processor must before handing text to the application.
pub(crate) fn normalize_eol(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\r') {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Decodes a raw attribute value: references are expanded and literal
/// whitespace (tab, LF, CR, CRLF) becomes a space, per XML 1.0 section 3.3.3
/// for CDATA attributes. A literal `<` is refused.
pub(crate) fn attribute_value(raw: &str) -> Result<Cow<'_, str>> {
    // Control bytes other than tab, LF and CR were refused up front, so
    // `b < 0x20` stands for those three; the fold has no early exit and vectorizes.
    let special = raw
        .bytes()
        .fold(false, |acc, b| acc | (b < 0x20) | (b == b'&') | (b == b'<'));
    if !special {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find(['&', '<', '\t', '\n', '\r']) {
        let (head, tail) = rest.split_at(pos);
        out.push_str(head);
        let mut chars = tail.chars();
        match chars.next() {
            Some('&') => {
                let body = chars.as_str();
                let Some(end) = body.find(';') else {
                    return Err(Error::new(
                        ErrorCode::MalformedXml,
                        "unterminated reference in attribute value",
                    ));
                };
                let (name, after) = body.split_at(end);
                out.push(decode_reference(name)?);
                rest = after.get(1..).unwrap_or_default();
            }
            Some('<') => {
                return Err(Error::new(
                    ErrorCode::MalformedXml,
                    "`<` is not allowed in an attribute value",
                ));
            }
            Some('\r') => {
                out.push(' ');
                let after = chars.as_str();
                rest = after.strip_prefix('\n').unwrap_or(after);
            }
            _ => {
                out.push(' ');
                rest = chars.as_str();
            }
        }
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(decode_reference("amp").unwrap(), '&');
        assert_eq!(decode_reference("#x41").unwrap(), 'A');
        assert_eq!(decode_reference("#65").unwrap(), 'A');
        assert_eq!(
            decode_reference("#0").unwrap_err().code(),
            ErrorCode::MalformedXml
        );
        assert_eq!(
            decode_reference("#xD800").unwrap_err().code(),
            ErrorCode::MalformedXml
        );
        assert_eq!(
            decode_reference("#x").unwrap_err().code(),
            ErrorCode::MalformedXml
        );
        assert_eq!(
            decode_reference("#x110000").unwrap_err().code(),
            ErrorCode::MalformedXml
        );
        assert_eq!(
            decode_reference("lol").unwrap_err().code(),
            ErrorCode::DtdForbidden
        );
    }

    #[test]
    fn attribute_values_are_normalized() {
        assert_eq!(attribute_value("a\r\nb\tc\rd").unwrap(), "a b c d");
        assert_eq!(attribute_value("&#10;&amp;&#x9;").unwrap(), "\n&\t");
        assert!(matches!(
            attribute_value("plain").unwrap(),
            Cow::Borrowed(_)
        ));
        assert!(attribute_value("a<b").is_err());
        assert!(attribute_value("a&b").is_err());
    }

    #[test]
    fn names() {
        assert!(split_qname("saml:Assertion").is_ok());
        assert!(split_qname(":a").is_err());
        assert!(split_qname("a:").is_err());
        assert!(split_qname("a:b:c").is_err());
        assert!(split_qname("1a").is_err());
        assert!(is_name("xml-stylesheet"));
    }

    #[test]
    fn chars() {
        assert!(check_chars("ok\t\n\r").is_ok());
        assert!(check_chars("bad\u{1}").is_err());
        assert!(check_chars("bad\u{FFFE}").is_err());
        assert!(check_chars("fine\u{FFFD}").is_ok());
    }
}
