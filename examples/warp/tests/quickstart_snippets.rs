//! The wiring shown in `docs/quickstart.md` is this example's real, compiled
//! code: every `// snippet-start: NAME` … `// snippet-end: NAME` region of
//! `src/main.rs` must appear in the guide word for word (dedented), so the
//! guide cannot drift from the example.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

/// The snippets of `source`: name and dedented text.
fn snippets(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in source.lines() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("// snippet-start: ") {
            current = Some((name.trim().to_owned(), Vec::new()));
        } else if trimmed.starts_with("// snippet-end: ") {
            let (name, lines) = current.take().expect("snippet-end without start");
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let text: Vec<&str> = lines
                .iter()
                .map(|l| l.get(indent..).unwrap_or(""))
                .collect();
            found.push((name, text.join("\n")));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    assert!(current.is_none(), "unterminated snippet");
    found
}

#[test]
fn the_quickstart_shows_this_examples_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
    let guide = std::fs::read_to_string(dir.join("../../docs/quickstart.md")).unwrap();
    let snippets = snippets(&source);
    assert!(!snippets.is_empty());
    for (name, text) in snippets {
        assert!(
            guide.contains(&text),
            "docs/quickstart.md lacks the snippet `{name}` of {}:\n{text}",
            dir.join("src/main.rs").display()
        );
    }
}
