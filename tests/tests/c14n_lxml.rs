//! Differential test: our C14N against Python lxml (libxml2) as the oracle.
//!
//! Every XML file under `../shared/` and 1,200 generated documents are
//! canonicalized by lxml, element by element, with all four methods and (for
//! the exclusive ones) with and without an InclusiveNamespaces prefix list.
//! Our output must be byte-identical, and we must accept exactly the files
//! lxml accepts.
//!
//! lxml canonicalizes a subtree by copying it under a fake document root, and
//! libxml2's inclusive C14N compares namespace nodes by identity in places.
//! Both show only in *inclusive* C14N, which is therefore compared only where
//! lxml is faithful:
//! - the apex is the document element, or it inherits no namespace
//!   declaration and no `xml:*` attribute from its ancestors (re-rooting drops
//!   inherited `xml:*` attributes, and re-declarations of a copied namespace
//!   come out twice);
//! - no URI is bound to two prefixes (default included) in the document
//!   (libxml2 then emits `xmlns=""` or repeats declarations, which would move
//!   elements out of their namespace);
//! - the document does not declare the `xml` prefix explicitly (libxml2 then
//!   emits `xmlns=""` on the first unprefixed child of the apex).
//!
//! We follow the specification there; the W3C examples in `saml-core` and the
//! xmlsec1 signature cross-checks cover those cases. lxml also drops `#default` from an
//! InclusiveNamespaces list, so the oracle never passes it.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use saml_core::Limits;
use saml_core::c14n::{Canonicalizer, Method};
use saml_core::xml::{Document, XML_NS};
use saml_tests::{files_with_suffix, generate, python, shared_dir};

const GENERATED: u64 = 1200;

fn method(name: &str) -> Method {
    match name {
        "exclusive" => Method::Exclusive,
        "exclusive-comments" => Method::ExclusiveWithComments,
        "inclusive" => Method::Inclusive,
        "inclusive-comments" => Method::InclusiveWithComments,
        other => panic!("unknown method {other}"),
    }
}

#[test]
fn c14n_matches_lxml() {
    let shared = shared_dir();
    let mut files = files_with_suffix(&shared.join("testdata"), ".xml");
    files.extend(files_with_suffix(&shared.join("bench-fixtures"), ".xml"));
    assert!(
        files.len() >= 40,
        "expected the shared XML files under {}",
        shared.display()
    );
    let shared_count = files.len();

    let dir = std::env::temp_dir().join(format!("saml-c14n-lxml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for seed in 0..GENERATED {
        let path = dir.join(format!("gen-{seed}.xml"));
        std::fs::write(&path, generate::document(seed)).unwrap();
        files.push(path);
    }

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracles/c14n_lxml.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the lxml oracle (install python3-lxml)");
    let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "lxml oracle failed");
    let stdout = String::from_utf8(output.stdout).unwrap();

    let sources: HashMap<String, String> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read_to_string(f).unwrap()))
        .collect();
    let mut docs: HashMap<&str, Option<Document<'_>>> = HashMap::new();
    let limits = Limits {
        max_xml_bytes: 4 << 20,
        ..Limits::default()
    };

    let (mut compared, mut skipped, mut refused) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let mut compared_files = std::collections::HashSet::new();
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = v["file"].as_str().unwrap();
        let source = &sources[file];
        let doc = docs
            .entry(sources.get_key_value(file).unwrap().0.as_str())
            .or_insert_with(|| Document::parse(source, &limits).ok());
        if v.get("parsed").is_some() {
            refused += 1;
            if doc.is_some() {
                failures.push(format!("{file}: lxml refuses it but we accept it"));
            }
            continue;
        }
        let Some(doc) = doc.as_ref() else {
            let err = Document::parse(source, &limits).unwrap_err();
            failures.push(format!("{file}: lxml accepts it but we refuse it: {err}"));
            docs.insert(sources.get_key_value(file).unwrap().0.as_str(), None);
            continue;
        };
        let index = usize::try_from(v["index"].as_u64().unwrap()).unwrap();
        let el = doc.root().descendants().nth(index).unwrap();
        let m = method(v["method"].as_str().unwrap());
        if !m.is_exclusive() {
            let mut inherits = false;
            let mut parent = el.parent();
            while let Some(p) = parent {
                inherits |= p.attributes().any(|a| a.namespace == Some(XML_NS));
                inherits |= p.namespace_declarations().next().is_some();
                parent = p.parent();
            }
            let decls: Vec<_> = doc
                .root()
                .descendants()
                .flat_map(|e| e.namespace_declarations())
                .collect();
            let shared_uri = decls.iter().any(|d| {
                decls
                    .iter()
                    .any(|o| o.prefix != d.prefix && o.uri == d.uri && !d.uri.is_empty())
            });
            let declares_xml = decls.iter().any(|d| d.prefix == "xml");
            if shared_uri || inherits || declares_xml {
                skipped += 1;
                continue;
            }
        }
        let mut ours = Vec::new();
        Canonicalizer::new(m)
            .inclusive_prefixes(v["prefixes"].as_str().unwrap())
            .canonicalize(el, &mut ours);
        let expected = v["out"].as_str().unwrap();
        compared += 1;
        compared_files.insert(file.to_owned());
        if ours != expected.as_bytes() && failures.len() < 20 {
            failures.push(format!(
                "{file} element {index} {} [{}]\n  lxml: {expected}\n  ours: {}",
                v["method"],
                v["prefixes"],
                String::from_utf8_lossy(&ours)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "compared {compared} subtrees in {} files ({shared_count} shared + {GENERATED} generated); \
         {skipped} inclusive cases skipped (lxml re-rooting); {refused} files refused by both",
        compared_files.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences from lxml:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        compared_files.len() >= 1000 + 40,
        "too few documents compared: {}",
        compared_files.len()
    );
    assert!(compared > 20_000, "too few subtrees compared: {compared}");
}
