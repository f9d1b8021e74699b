//! Every captured real-IdP message in `../shared/testdata/real-idp/` gets, for
//! each of its signatures, the verdict xmlsec1 recorded in its `case.json`
//! (checked there with only the trusted IdP certificate). Where the case is
//! rejected for a signature-level reason, our error code must be the one the
//! case records. Signatures inside encrypted assertions wait for XML-Enc.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use base64::Engine;
use saml_core::crypto::{Certificate, PublicKey};
use saml_core::dsig::{DSIG_NS, VerifyOptions, verify_enveloped};
use saml_core::xml::{Document, Element};
use saml_core::{ErrorCode, Limits};
use saml_tests::{files_with_suffix, shared_dir};

const SIGNATURE_CODES: &[&str] = &[
    "digest_mismatch",
    "signature_invalid",
    "reference_mismatch",
    "algorithm_forbidden",
];

fn load_message(dir: &Path, case: &serde_json::Value) -> String {
    let name = case["files"]["response"]
        .as_str()
        .or_else(|| case["files"]["assertion"].as_str())
        .unwrap_or("response.xml");
    let raw = std::fs::read_to_string(dir.join(name)).unwrap();
    if name.ends_with(".b64") {
        let compact: String = raw.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        raw
    }
}

fn assertion_of<'d, 'a>(root: Element<'d, 'a>) -> Option<Element<'d, 'a>> {
    if root.local_name() == "Assertion" {
        return Some(root);
    }
    root.child_elements()
        .find(|e| e.local_name() == "Assertion")
}

fn outcome(
    el: Option<Element<'_, '_>>,
    keys: &[PublicKey],
    options: &VerifyOptions,
) -> Result<(), ErrorCode> {
    let el = el.ok_or(ErrorCode::SignatureMissing)?;
    verify_enveloped(el, keys, options)
        .map(|_| ())
        .map_err(|e| e.code())
}

#[test]
fn real_idp_signatures_match_xmlsec1() {
    let root = shared_dir().join("testdata/real-idp");
    let cases = files_with_suffix(&root, "case.json");
    assert!(
        cases.len() >= 60,
        "expected the 60 real-IdP cases under {}",
        root.display()
    );
    let (mut checked, mut failures) = (0, Vec::new());
    for case_path in &cases {
        let dir = case_path.parent().unwrap();
        let name = dir.strip_prefix(&root).unwrap().display().to_string();
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case_path).unwrap()).unwrap();
        let xml = load_message(dir, &case);
        let expected = &case["expected"];
        let Ok(doc) = Document::parse(&xml, &Limits::default()) else {
            // Unparseable on purpose (malformed or DEFLATEd): the case must say so.
            assert_eq!(
                expected["error"], "malformed_xml",
                "{name}: we cannot parse it"
            );
            continue;
        };
        let keys: Vec<PublicKey> =
            Certificate::from_pem(&std::fs::read_to_string(dir.join("idp-cert.pem")).unwrap())
                .unwrap()
                .iter()
                .map(|c| c.public_key().clone())
                .collect();
        let allow_sha1 = case["verify_with"]["allow_sha1"].as_bool().unwrap_or(false);
        // Several old test IdPs use 1024-bit RSA keys: refused by default,
        // accepted with the explicit opt-in (checked below).
        let weak = keys.iter().any(PublicKey::is_weak);
        let strict = if allow_sha1 {
            VerifyOptions::new().dangerous_allow_sha1()
        } else {
            VerifyOptions::new()
        };
        let options = if weak {
            strict.dangerous_allow_weak_keys()
        } else {
            strict
        };
        let encrypted = case["contains"]["assertion_encrypted"]
            .as_bool()
            .unwrap_or(false);
        let xmlsec = &case["xmlsec1"];

        let mut checks: Vec<(&str, Option<Element<'_, '_>>)> = Vec::new();
        if xmlsec.get("response_signature").is_some() {
            checks.push(("response_signature", Some(doc.root())));
        }
        if xmlsec.get("assertion_signature").is_some() && !encrypted {
            checks.push(("assertion_signature", assertion_of(doc.root())));
        }
        if xmlsec.get("first_signature_anywhere").is_some() {
            let sig = doc
                .root()
                .descendants()
                .find(|e| e.is(DSIG_NS, "Signature"));
            checks.push(("first_signature_anywhere", sig.and_then(|s| s.parent())));
        }
        for (field, element) in checks {
            let verdict = xmlsec[field].as_str().unwrap();
            let ours = outcome(element, &keys, &options);
            checked += 1;
            match (verdict == "ok", ours) {
                (true, Ok(())) => {
                    if weak {
                        let refused = outcome(element, &keys, &strict);
                        if refused != Err(ErrorCode::UntrustedKey) {
                            failures.push(format!(
                                "{name} {field}: weak key accepted without the opt-in: {refused:?}"
                            ));
                        }
                    }
                    if allow_sha1 && expected.get("without_allow_sha1").is_some() {
                        let no_sha1 = if weak {
                            VerifyOptions::new().dangerous_allow_weak_keys()
                        } else {
                            VerifyOptions::new()
                        };
                        let strict = outcome(element, &keys, &no_sha1);
                        if strict != Err(ErrorCode::AlgorithmForbidden) {
                            failures.push(format!(
                                "{name} {field}: SHA-1 accepted without the opt-in: {strict:?}"
                            ));
                        }
                    }
                }
                (false, Err(code)) => {
                    let wanted = expected["error"].as_str().unwrap_or("");
                    if SIGNATURE_CODES.contains(&wanted) && code.as_str() != wanted {
                        failures.push(format!(
                            "{name} {field}: rejected with {code}, case says {wanted}"
                        ));
                    }
                }
                (true, Err(code)) => {
                    failures.push(format!("{name} {field}: xmlsec1 ok, ours {code}"))
                }
                (false, Ok(())) => failures.push(format!(
                    "{name} {field}: xmlsec1 fails ({verdict}), ours accepts"
                )),
            }
        }
    }
    eprintln!("checked {checked} signatures in {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 50, "too few signatures checked: {checked}");
}
