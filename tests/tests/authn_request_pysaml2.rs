//! Oracle test: pysaml2 (Debian `python3-pysaml2`) reads the AuthnRequests we
//! build, on both bindings.
//!
//! For each case the Python side (`oracles/authn_request_pysaml2.py`) parses
//! our XML with `samlp.authn_request_from_string` and reports every field as
//! pysaml2 sees it; for the Redirect binding it decodes our `SAMLRequest` with
//! pysaml2's own `decode_base64_and_inflate` (base64 + raw inflate) and
//! checks our query signature with `saml2.sigver.verify_redirect_signature`
//! and with `cryptography` over the raw octets; for the POST binding it
//! base64-decodes the form value and checks our enveloped signature with
//! pysaml2's xmlsec1 backend. Both the plain and the signed XML are also
//! validated (lxml) against the SAML 2.0 protocol schema pysaml2 ships. The
//! expectations are here, on the Rust side.
//!
//! The RelayStates avoid spaces: pysaml2 rebuilds the signed octets with
//! `quote_plus` (space as `+`), while we send `%20`, so a signed query whose
//! RelayState has a space verifies with the raw octets but not with pysaml2.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, SignatureAlgorithm, SigningKey};
use saml_core::protocol::{AuthnContextComparison, AuthnRequest, bindings, name_id_format};
use saml_tests::{python, shared_dir};
use serde_json::{Value, json};

const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const MFA: &str = "http://schemas.microsoft.com/claims/multipleauthn";

fn clock() -> FixedClock {
    FixedClock(parse_datetime("2024-06-01T12:00:00Z").unwrap())
}

/// One AuthnRequest and how we sent it.
struct Case {
    name: &'static str,
    request: AuthnRequest,
    relay_state: Option<&'static str>,
    redirect_signing: Option<SignatureAlgorithm>,
    post_signed: bool,
    /// What pysaml2 must report for the request itself.
    expected: Value,
}

fn run_oracle(input: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracles/authn_request_pysaml2.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the pysaml2 oracle (install python3-pysaml2)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the pysaml2 oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn pysaml2_reads_our_authn_requests() {
    let fixtures = shared_dir().join("bench-fixtures");
    let cert_pem = std::fs::read_to_string(fixtures.join("sp-cert.pem")).unwrap();
    let cert = Certificate::from_pem(&cert_pem).unwrap().remove(0);
    let key = SigningKey::from_pem(&std::fs::read_to_string(fixtures.join("sp-key.pem")).unwrap())
        .unwrap()
        .with_certificate(cert)
        .unwrap();

    let sso = "https://idp.example/sso";
    let cases = vec![
        Case {
            name: "defaults",
            request: AuthnRequest::builder("https://sp.example/saml", sso)
                .id("_defaults")
                .assertion_consumer_service_url("https://sp.example/saml/acs")
                .build(&clock())
                .unwrap(),
            relay_state: None,
            redirect_signing: None,
            post_signed: false,
            expected: json!({
                "tag": "AuthnRequest",
                "namespace": "urn:oasis:names:tc:SAML:2.0:protocol",
                "id": "_defaults",
                "version": "2.0",
                "issue_instant": "2024-06-01T12:00:00Z",
                "destination": sso,
                "issuer": "https://sp.example/saml",
                "acs_url": "https://sp.example/saml/acs",
                "acs_index": null,
                "protocol_binding": bindings::HTTP_POST,
                "force_authn": "true",
                "is_passive": null,
                "provider_name": null,
                "signed": false,
                "name_id_policy": {"format": name_id_format::UNSPECIFIED, "allow_create": "true"},
                "requested_authn_context": null,
                "subject": null,
            }),
        },
        Case {
            name: "every option, signed with RSA-SHA256",
            request: AuthnRequest::builder("https://sp.example/saml?x=1&y=<2>", sso)
                .id("_every")
                .assertion_consumer_service_url("https://sp.example/saml/acs?a=1&b=\"2\"")
                .protocol_binding(Some(bindings::HTTP_ARTIFACT))
                .force_authn(false)
                .is_passive(true)
                .name_id_policy(Some(name_id_format::EMAIL), false)
                .requested_authn_context(
                    AuthnContextComparison::Minimum,
                    vec![PPT.to_owned(), MFA.to_owned()],
                )
                .subject_hint("jdoe@example.com", Some(name_id_format::EMAIL))
                .provider_name("Acme & \"Friends\"")
                .build(&clock())
                .unwrap(),
            relay_state: Some("/app/page?x=1&y=é"),
            redirect_signing: Some(SignatureAlgorithm::RsaSha256),
            post_signed: true,
            expected: json!({
                "tag": "AuthnRequest",
                "namespace": "urn:oasis:names:tc:SAML:2.0:protocol",
                "id": "_every",
                "version": "2.0",
                "issue_instant": "2024-06-01T12:00:00Z",
                "destination": sso,
                "issuer": "https://sp.example/saml?x=1&y=<2>",
                "acs_url": "https://sp.example/saml/acs?a=1&b=\"2\"",
                "acs_index": null,
                "protocol_binding": bindings::HTTP_ARTIFACT,
                "force_authn": null,
                "is_passive": "true",
                "provider_name": "Acme & \"Friends\"",
                "signed": false,
                "name_id_policy": {"format": name_id_format::EMAIL, "allow_create": "false"},
                "requested_authn_context": {"comparison": "minimum", "class_refs": [PPT, MFA]},
                "subject": {"name_id": "jdoe@example.com", "format": name_id_format::EMAIL},
            }),
        },
        Case {
            name: "ACS index, ADFS-style destination, signed with RSA-SHA512",
            request: AuthnRequest::builder(
                "https://sp.example/saml",
                "https://adfs.example/adfs/ls/?wa=wsignin1.0",
            )
            .id("_indexed")
            .assertion_consumer_service_index(2)
            .name_id_policy(None, true)
            .requested_authn_context(AuthnContextComparison::Exact, vec![PPT.to_owned()])
            .build(&clock())
            .unwrap(),
            relay_state: Some("r-1"),
            redirect_signing: Some(SignatureAlgorithm::RsaSha512),
            post_signed: true,
            expected: json!({
                "tag": "AuthnRequest",
                "namespace": "urn:oasis:names:tc:SAML:2.0:protocol",
                "id": "_indexed",
                "version": "2.0",
                "issue_instant": "2024-06-01T12:00:00Z",
                "destination": "https://adfs.example/adfs/ls/?wa=wsignin1.0",
                "issuer": "https://sp.example/saml",
                "acs_url": null,
                "acs_index": "2",
                "protocol_binding": null,
                "force_authn": "true",
                "is_passive": null,
                "provider_name": null,
                "signed": false,
                "name_id_policy": {"format": null, "allow_create": "true"},
                "requested_authn_context": {"comparison": "exact", "class_refs": [PPT]},
                "subject": null,
            }),
        },
    ];

    let mut inputs = Vec::new();
    for case in &cases {
        let url = case
            .request
            .redirect_url(
                case.relay_state,
                case.redirect_signing.map(|alg| (&key, alg)),
            )
            .unwrap();
        let (_, query) = url.split_once('?').unwrap();
        // Only the binding's part of the query (a destination may bring its own).
        let binding_query = query
            .split('&')
            .filter(|p| !p.starts_with("wa="))
            .collect::<Vec<_>>()
            .join("&");
        let form = case
            .request
            .post_form(case.relay_state, case.post_signed.then_some(&key))
            .unwrap();
        inputs.push(json!({
            "name": case.name,
            "xml": case.request.to_xml(),
            "redirect_query": binding_query,
            "post_value": form.fields()[0].1,
        }));
    }
    let output = run_oracle(&json!({ "cert_pem": cert_pem, "cases": inputs }));
    let results = output["cases"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());

    for (case, result) in cases.iter().zip(results) {
        let name = case.name;
        assert_eq!(result["name"], name);
        assert_eq!(result["parsed"], case.expected, "{name}: pysaml2 parse");
        assert_eq!(result["schema_errors"], json!([]), "{name}: XSD");

        // Redirect: pysaml2's inflate gives back our XML exactly.
        let redirect = &result["redirect"];
        assert_eq!(redirect["xml"], case.request.to_xml(), "{name}");
        assert_eq!(redirect["parsed"], case.expected, "{name}: redirect parse");
        assert_eq!(
            redirect["relay_state"],
            case.relay_state.map_or(Value::Null, Value::from),
            "{name}"
        );
        match case.redirect_signing {
            Some(alg) => {
                assert_eq!(redirect["sig_alg"], alg.uri(), "{name}");
                assert_eq!(
                    redirect["pysaml2_signature_valid"], true,
                    "{name}: pysaml2 verify_redirect_signature: {redirect}"
                );
                assert_eq!(
                    redirect["raw_signature_valid"], true,
                    "{name}: raw octets: {redirect}"
                );
            }
            None => {
                assert_eq!(redirect["sig_alg"], Value::Null, "{name}");
                assert_eq!(redirect["pysaml2_signature_valid"], Value::Null, "{name}");
            }
        }

        // POST: base64 of the (signed) XML; pysaml2 + xmlsec1 verify it.
        let post = &result["post"];
        let mut expected = case.expected.clone();
        expected["signed"] = Value::Bool(case.post_signed);
        assert_eq!(post["parsed"], expected, "{name}: POST parse");
        assert_eq!(
            post["schema_errors"],
            json!([]),
            "{name}: XSD of the POSTed XML"
        );
        if case.post_signed {
            assert_eq!(
                post["xmlsec_signature_valid"], true,
                "{name}: pysaml2 xmlsec1 backend: {post}"
            );
        } else {
            assert_eq!(post["xml"], case.request.to_xml(), "{name}");
            assert_eq!(post["xmlsec_signature_valid"], Value::Null, "{name}");
        }
    }
}

/// The oracle is not a rubber stamp: a signature over other octets, an XML
/// signature after tampering, and elements out of schema order are refused.
#[test]
fn pysaml2_refuses_tampered_signatures() {
    let fixtures = shared_dir().join("bench-fixtures");
    let cert_pem = std::fs::read_to_string(fixtures.join("sp-cert.pem")).unwrap();
    let key = SigningKey::from_pem(&std::fs::read_to_string(fixtures.join("sp-key.pem")).unwrap())
        .unwrap();
    let request = AuthnRequest::builder("https://sp.example/saml", "https://idp.example/sso")
        .id("_tampered")
        .assertion_consumer_service_url("https://sp.example/saml/acs")
        .build(&clock())
        .unwrap();
    let url = request
        .redirect_url(Some("good"), Some((&key, SignatureAlgorithm::RsaSha256)))
        .unwrap();
    let query = url
        .split_once('?')
        .unwrap()
        .1
        .replace("RelayState=good", "RelayState=evil");
    let form = request.post_form(None, Some(&key)).unwrap();
    let signed_xml = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &form.fields()[0].1,
        )
        .unwrap(),
    )
    .unwrap();
    let tampered_xml =
        signed_xml.replace("https://sp.example/saml/acs", "https://evil.example/acs");
    let post_value =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, tampered_xml);
    let issuer = "<saml:Issuer>https://sp.example/saml</saml:Issuer>";
    let out_of_order = request.to_xml().replacen(issuer, "", 1).replacen(
        "</samlp:AuthnRequest>",
        &format!("{issuer}</samlp:AuthnRequest>"),
        1,
    );
    let output = run_oracle(&json!({
        "cert_pem": cert_pem,
        "cases": [{
            "name": "tampered",
            "xml": out_of_order,
            "redirect_query": query,
            "post_value": post_value,
        }],
    }));
    let result = &output["cases"][0];
    let errors = result["schema_errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains("Issuer")),
        "{result}"
    );
    assert_eq!(result["redirect"]["relay_state"], "evil");
    assert_eq!(
        result["redirect"]["pysaml2_signature_valid"], false,
        "{result}"
    );
    assert_eq!(result["redirect"]["raw_signature_valid"], false, "{result}");
    assert_eq!(
        result["post"]["parsed"]["acs_url"],
        "https://evil.example/acs"
    );
    assert_eq!(result["post"]["xmlsec_signature_valid"], false, "{result}");
}
