//! Replays the fuzz regression corpus (`fuzz/corpus/regressions/`), the
//! generated seeds (`fuzz/seeds/<target>/`) and a few hostile inputs through
//! every fuzz target on the stable toolchain, so a crash found once stays
//! fixed.
//!
//! The first five targets call `saml_core::internal`; the newer ones
//! (`dsig`, `soap`, `artifact`, `logout`, `post`) use the public API with
//! the configuration of `fuzz/src/lib.rs`, which is included here as is;
//! their bodies live there too, so the targets and this replay run the same
//! code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use saml_core::Limits;
use saml_core::dsig::{VerifyOptions, verify_enveloped};
use saml_core::internal::{fuzz_c14n, fuzz_metadata, fuzz_redirect, fuzz_response, fuzz_xml};
use saml_core::protocol::{ArtifactResponseValidator, LogoutValidator};
use saml_core::xml::Document;

#[allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::expect_used,
    clippy::unwrap_used
)]
#[path = "../../fuzz/src/lib.rs"]
mod saml_fuzz;

use saml_fuzz::{DSIG_NS, IDP, LOGOUT_REQUEST_ID, RESOLVE_ID, SLO, clock, idp_key};

/// A fuzz target's body.
type Target = fn(&[u8]);

/// Every target, by its name in `fuzz/Cargo.toml`.
const TARGETS: &[(&str, Target)] = &[
    ("xml_reader", fuzz_xml),
    ("c14n", fuzz_c14n),
    ("response", fuzz_response),
    ("redirect", fuzz_redirect),
    ("metadata", fuzz_metadata),
    ("dsig", saml_fuzz::dsig),
    ("soap", saml_fuzz::soap),
    ("artifact", saml_fuzz::artifact),
    ("logout", saml_fuzz::logout),
    ("post", saml_fuzz::post),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly in `dir` (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn every_target(data: &[u8]) {
    for (_, target) in TARGETS {
        target(data);
    }
}

#[test]
fn every_target_is_replayed() {
    // The list above names every target of fuzz/Cargo.toml.
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let declared: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "saml-fuzz")
        .collect();
    let mut replayed: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    let mut declared_sorted = declared.clone();
    declared_sorted.sort_unstable();
    replayed.sort_unstable();
    assert_eq!(replayed, declared_sorted);
}

#[test]
fn regression_corpus_does_not_panic() {
    let mut replayed = 0;
    for path in files(&fuzz_dir().join("corpus/regressions")) {
        every_target(&std::fs::read(&path).unwrap());
        replayed += 1;
    }
    for data in [
        &b""[..],
        b"<",
        b"<a",
        b"<a/><",
        b"\xEF\xBB\xBF<a/>",
        b"<a>\xff</a>",
        b"<?xml?><a/>",
        b"<a b='&#x;'/>",
    ] {
        every_target(data);
        replayed += 1;
    }
    assert!(replayed >= 8);
}

#[test]
fn the_seeds_of_every_target_do_not_panic() {
    let mut replayed = 0;
    for (name, target) in TARGETS {
        for path in files(&fuzz_dir().join("seeds").join(name)) {
            let data = std::fs::read(&path).unwrap();
            target(&data);
            every_target(&data);
            replayed += 1;
        }
    }
    // Seeds exist for the five newer targets.
    assert!(replayed >= 25, "{replayed}");
}

#[test]
fn unmodified_seeds_pass_every_check() {
    // What fuzz/src/lib.rs promises: the seeds validate against the fuzz
    // configuration, so mutations start beyond the checks, not at them.
    let seed = |path: &str| std::fs::read_to_string(fuzz_dir().join("seeds").join(path)).unwrap();
    let clock = clock();
    let logout = LogoutValidator::new(IDP, vec![idp_key().clone()], SLO);
    let request = logout
        .validate_request(&seed("logout/request-signed.xml"), &clock)
        .unwrap();
    assert!(request.signed);
    let response = logout
        .validate_response(
            &seed("logout/response-signed.xml"),
            LOGOUT_REQUEST_ID,
            &clock,
        )
        .unwrap();
    assert!(response.signed);
    let redirect = logout
        .validate_request_redirect(seed("logout/request-redirect-signed.txt").trim(), &clock)
        .unwrap();
    assert!(redirect.signed);
    let resolved = ArtifactResponseValidator::new(IDP, vec![idp_key().clone()])
        .validate(&seed("artifact/response-signed.xml"), RESOLVE_ID, &clock)
        .unwrap();
    assert!(resolved.signed);
    for path in files(&fuzz_dir().join("seeds/dsig")) {
        let data = std::fs::read(&path).unwrap();
        let doc = Document::parse_bytes(&data, &Limits::default()).unwrap();
        let signed: Vec<_> = doc
            .root()
            .descendants()
            .filter(|e| e.child_elements().any(|c| c.is(DSIG_NS, "Signature")))
            .collect();
        assert!(!signed.is_empty(), "{}", path.display());
        for element in signed {
            verify_enveloped(element, &[idp_key().clone()], &VerifyOptions::new())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn hostile_back_channel_inputs_do_not_panic() {
    let soap = |body: &str| {
        format!(
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>{body}</S:Body></S:Envelope>"#
        )
    };
    let inputs = [
        soap(""),
        soap("<S:Fault/>"),
        soap("<S:Fault><faultcode/></S:Fault>"),
        soap(r#"<p:ArtifactResponse xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol"/>"#),
        soap(
            r#"<p:ArtifactResponse xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0"><x/><y/></p:ArtifactResponse>"#,
        ),
        soap(
            r#"<p:LogoutRequest xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="q:x"/>"#,
        ),
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header/><S:Header/><S:Body/></S:Envelope>"#.to_owned(),
        "SAMLRequest=&SigAlg=&Signature=".to_owned(),
        "SAMLResponse=%&RelayState=%zz".to_owned(),
        "SAMLRequest=AAAA&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature=%3D".to_owned(),
        "AAQAAQ".to_owned(),
        "AAQAAQ==".to_owned(),
        " \n\t".to_owned(),
        "A".repeat(300),
        "====".to_owned(),
    ];
    for input in &inputs {
        every_target(input.as_bytes());
    }
}
