//! Every captured real-IdP metadata document in
//! `../shared/testdata/real-idp/metadata/*/*/` is read by our metadata parser
//! and compared with its `metadata.json`: the IdP entity IDs, and for each IdP
//! entity its SSO/SLO/artifact endpoints per binding, key descriptor counts by
//! use, distinct signing certificates, NameID formats, WantAuthnRequestsSigned
//! and validUntil. Where `document_signature_xmlsec1` records a verdict (made
//! with the certificate in the document's own Signature KeyInfo, a
//! self-consistency check), our verification with that same certificate as
//! the only trusted signer must agree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use saml_core::clock::parse_datetime;
use saml_core::crypto::{Certificate, PublicKey};
use saml_core::dsig::DSIG_NS;
use saml_core::metadata::{Endpoint, IdpMetadata, KeyUse, MetadataOptions, Severity};
use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};
use saml_tests::{files_with_suffix, shared_dir};
use serde_json::Value;

fn vectors() -> Vec<(String, String, Value)> {
    let root = shared_dir().join("testdata/real-idp/metadata");
    let out: Vec<_> = files_with_suffix(&root, "metadata.json")
        .into_iter()
        .map(|json_path| {
            let dir = json_path.parent().unwrap();
            let name = dir.strip_prefix(&root).unwrap().display().to_string();
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
            let file = json["file"].as_str().unwrap_or("metadata.xml");
            let xml = std::fs::read_to_string(dir.join(file)).unwrap();
            (name, xml, json)
        })
        .collect();
    assert!(
        out.len() >= 18,
        "expected the 18 metadata vectors under {}, found {}",
        root.display(),
        out.len()
    );
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// `{binding: [location, ...]}` from the JSON.
fn expected_by_binding(v: &Value) -> BTreeMap<String, Vec<String>> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(binding, locations)| (binding.clone(), strings(locations)))
                .collect()
        })
        .unwrap_or_default()
}

/// The same shape from our endpoints.
fn ours_by_binding(endpoints: &[Endpoint]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in endpoints {
        out.entry(e.binding.clone())
            .or_default()
            .push(e.location.clone());
    }
    out
}

fn options() -> MetadataOptions {
    MetadataOptions::new()
}

#[test]
fn idp_entity_ids_match() {
    for (name, xml, json) in vectors() {
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        assert_eq!(
            doc.root().local_name(),
            json["root"].as_str().unwrap(),
            "{name}: root"
        );
        let all = IdpMetadata::parse_all(&xml, &options())
            .unwrap_or_else(|e| panic!("{name}: parse_all: {e}"));
        let ids: Vec<_> = all.iter().map(|i| i.entity_id().to_owned()).collect();
        assert_eq!(
            ids,
            strings(&json["idp_entity_ids"]),
            "{name}: IdP entity IDs"
        );

        // Without an entity ID, a single IdP is picked and several are ambiguous.
        let picked = IdpMetadata::parse(&xml, &options());
        if ids.len() == 1 {
            assert_eq!(picked.unwrap().entity_id(), ids[0], "{name}");
        } else {
            assert_eq!(
                picked.unwrap_err().code(),
                ErrorCode::UnknownProvider,
                "{name}: several IdPs need an entity ID"
            );
        }
    }
}

#[test]
fn each_idp_entity_matches() {
    let mut checked = 0;
    for (name, xml, json) in vectors() {
        let root_valid_until = json["valid_until"].as_str();
        for entity in json["entities"].as_array().unwrap() {
            let entity_id = entity["entity_id"].as_str().unwrap();
            let Some(expected) = entity.get("idp") else {
                // Not an IdP: asking for it as one must fail clearly.
                let err =
                    IdpMetadata::parse(&xml, &options().with_entity_id(entity_id)).unwrap_err();
                assert_eq!(
                    err.code(),
                    ErrorCode::UnknownProvider,
                    "{name}: {entity_id}"
                );
                continue;
            };
            let what = format!("{name} / {entity_id}");
            let idp = IdpMetadata::parse(&xml, &options().with_entity_id(entity_id))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(idp.entity_id(), entity_id);
            assert!(!idp.signature_verified(), "{what}");

            assert_eq!(
                ours_by_binding(idp.sso_endpoints()),
                expected_by_binding(&expected["sso"]),
                "{what}: SSO endpoints"
            );
            assert_eq!(
                ours_by_binding(idp.slo_endpoints()),
                expected_by_binding(&expected["slo"]),
                "{what}: SLO endpoints"
            );
            let ars: Vec<_> = idp
                .artifact_resolution_endpoints()
                .iter()
                .map(|e| vec![e.binding.clone(), e.location.clone()])
                .collect();
            let expected_ars: Vec<_> = expected["artifact_resolution"]
                .as_array()
                .map(|a| a.iter().map(strings).collect())
                .unwrap_or_default();
            assert_eq!(ars, expected_ars, "{what}: artifact resolution endpoints");

            let count = |usage| {
                idp.key_descriptors()
                    .iter()
                    .filter(|k| k.usage == usage)
                    .count()
            };
            let kd = &expected["key_descriptors"];
            assert_eq!(
                (
                    count(Some(KeyUse::Signing)),
                    count(Some(KeyUse::Encryption)),
                    count(None)
                ),
                (
                    kd["signing"].as_u64().unwrap() as usize,
                    kd["encryption"].as_u64().unwrap() as usize,
                    kd["no_use"].as_u64().unwrap() as usize
                ),
                "{what}: key descriptors (signing, encryption, no use)"
            );
            assert_eq!(
                idp.signing_certificates().len() as u64,
                expected["signing_cert_count"].as_u64().unwrap(),
                "{what}: distinct signing certificates"
            );
            assert_eq!(idp.signing_keys().len(), idp.signing_certificates().len());
            assert_eq!(
                idp.name_id_formats(),
                strings(&expected["nameid_formats"]).as_slice(),
                "{what}: NameID formats"
            );
            let want = match &expected["want_authn_requests_signed"] {
                Value::Null => false,
                Value::String(s) => s == "true" || s == "1",
                other => panic!("{what}: unexpected want_authn_requests_signed {other}"),
            };
            assert_eq!(idp.want_authn_requests_signed(), want, "{what}");

            // validUntil: the earliest of the document's and the entity's.
            let expected_until = [entity["valid_until"].as_str(), root_valid_until]
                .into_iter()
                .flatten()
                .map(|v| parse_datetime(v).unwrap())
                .min();
            assert_eq!(idp.valid_until(), expected_until, "{what}: validUntil");
            if let Some(until) = expected_until {
                assert_eq!(
                    IdpMetadata::parse(&xml, &options().with_entity_id(entity_id).with_now(until))
                        .unwrap_err()
                        .code(),
                    ErrorCode::Expired,
                    "{what}"
                );
            }

            // Every real IdP has a signing key and a browser SSO endpoint.
            let now = parse_datetime("2025-01-01T00:00:00Z").unwrap();
            let errors: Vec<_> = idp
                .lint(now)
                .into_iter()
                .filter(|f| f.severity == Severity::Error && f.code != "metadata_expired")
                .collect();
            assert!(errors.is_empty(), "{what}: {errors:?}");
            checked += 1;
        }
    }
    assert!(checked >= 18, "only {checked} IdP entities checked");
}

/// The certificate(s) in the document's own `ds:Signature/ds:KeyInfo`.
fn signature_certificates(xml: &str) -> Vec<PublicKey> {
    let doc = Document::parse(xml, &Limits::default()).unwrap();
    let root = doc.root();
    root.child_elements()
        .filter(|c| c.is(DSIG_NS, "Signature"))
        .flat_map(|s| s.descendants())
        .filter(|e| e.is(DSIG_NS, "X509Certificate"))
        .map(|e| {
            Certificate::from_base64(&e.text())
                .unwrap()
                .public_key()
                .clone()
        })
        .collect()
}

#[test]
fn document_signatures_agree_with_xmlsec1() {
    let mut checked = 0;
    for (name, xml, json) in vectors() {
        let Some(verdict) = json["document_signature_xmlsec1"]["result"].as_str() else {
            // Unsigned: with trusted signers it must be refused as unsigned.
            let any_key = Certificate::from_pem(
                &std::fs::read_to_string(shared_dir().join("bench-fixtures/idp-cert.pem")).unwrap(),
            )
            .unwrap()
            .remove(0)
            .public_key()
            .clone();
            let err = IdpMetadata::parse_all(&xml, &options().with_trusted_signers(vec![any_key]))
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::SignatureMissing, "{name}: {err}");
            continue;
        };
        let keys = signature_certificates(&xml);
        assert!(!keys.is_empty(), "{name}: no certificate in the signature");
        let result = IdpMetadata::parse_all(&xml, &options().with_trusted_signers(keys));
        if verdict == "ok" {
            let all = result.unwrap_or_else(|e| panic!("{name}: xmlsec1 verified it, we say {e}"));
            assert!(!all.is_empty(), "{name}");
            assert!(all.iter().all(IdpMetadata::signature_verified), "{name}");
        } else {
            let err = result.unwrap_err();
            if verdict.contains("digest") {
                assert_eq!(err.code(), ErrorCode::DigestMismatch, "{name}: {err}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} signed documents checked");
}

#[test]
fn vectors_exist() {
    assert!(
        Path::new(&shared_dir())
            .join("testdata/real-idp/metadata")
            .is_dir()
    );
}
