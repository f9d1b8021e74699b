//! Oracle test: Single Logout messages both ways with pysaml2 (Debian
//! `python3-pysaml2`), driven by `oracles/logout_pysaml2.py`.
//!
//! One way, pysaml2 reads what we build: our LogoutRequests and
//! LogoutResponses are parsed with `samlp.logout_request_from_string` /
//! `logout_response_from_string` and every field compared, validated against
//! the SAML 2.0 protocol schema pysaml2 ships, inflated from our Redirect
//! query with pysaml2's `decode_base64_and_inflate` and their query
//! signatures checked with `saml2.sigver.verify_redirect_signature`, and
//! our POSTed enveloped signatures checked with pysaml2's xmlsec1 backend.
//!
//! The other way, our `LogoutValidator` accepts what pysaml2 builds: the
//! Python side creates `saml2.samlp.LogoutRequest` / `LogoutResponse`
//! objects as an IdP would, serializes them (`str(obj)`), signs them with
//! xmlsec1 through `CryptoBackendXmlSec1.sign_statement` (pysaml2's
//! `pre_signature_part`: RSA-SHA256, exclusive C14N) and sends them with
//! `saml2.pack.http_redirect_message` (query signed with RSA-SHA256). The
//! unsigned XML passes only with signatures not required; the signed forms
//! pass the default, strict validator; tampering is caught.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use saml_core::ErrorCode;
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey, SignatureAlgorithm, SigningKey};
use saml_core::protocol::{
    LogoutRequest, LogoutResponse, LogoutValidator, NameId, logout_reason, name_id_format, status,
};
use saml_tests::{python, shared_dir};
use serde_json::{Value, json};

const IDP: &str = "https://idp.example.test/saml2/metadata";
const IDP_SLO: &str = "https://idp.example.test/saml2/slo";
const SP: &str = "https://sp.example.test/saml/metadata";
const SLO: &str = "https://sp.example.test/saml/slo";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

fn clock() -> FixedClock {
    FixedClock(parse_datetime("2024-06-01T12:00:00Z").unwrap())
}

/// When the messages are checked (30 s after they were issued).
fn later() -> FixedClock {
    FixedClock(parse_datetime("2024-06-01T12:00:30Z").unwrap())
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(shared_dir().join("bench-fixtures").join(name)).unwrap()
}

fn sp_key() -> SigningKey {
    let cert = Certificate::from_pem(&fixture("sp-cert.pem"))
        .unwrap()
        .remove(0);
    SigningKey::from_pem(&fixture("sp-key.pem"))
        .unwrap()
        .with_certificate(cert)
        .unwrap()
}

fn public(cert: &str) -> PublicKey {
    Certificate::from_pem(&fixture(cert)).unwrap()[0]
        .public_key()
        .clone()
}

fn run_oracle(input: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oracles/logout_pysaml2.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the pysaml2 oracle (install python3-pysaml2 and xmlsec1)");
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

fn oracle_input(read: Vec<Value>, make: Vec<Value>) -> Value {
    json!({
        "sp_cert_pem": fixture("sp-cert.pem"),
        "idp_key_pem": fixture("idp-key.pem"),
        "read": read,
        "make": make,
    })
}

/// One message of ours and how we sent it.
struct Ours {
    name: &'static str,
    kind: &'static str,
    xml: String,
    redirect_url: String,
    relay_state: Option<&'static str>,
    redirect_signed: bool,
    post_value: String,
    post_signed: bool,
    /// What pysaml2 must report for the message.
    expected: Value,
}

fn alice() -> NameId {
    NameId {
        value: "alice@example.test".into(),
        format: Some(name_id_format::EMAIL.into()),
        name_qualifier: Some(IDP.into()),
        sp_name_qualifier: Some(SP.into()),
    }
}

fn our_messages() -> Vec<Ours> {
    let key = sp_key();
    let mut out = Vec::new();

    let full = LogoutRequest::builder(SP, IDP_SLO, alice())
        .id("_lr_full")
        .session_index("_s1")
        .session_index("_s2 & <3>")
        .reason(logout_reason::USER)
        .not_on_or_after(parse_datetime("2024-06-01T12:05:00Z").unwrap())
        .build(&clock())
        .unwrap();
    out.push(Ours {
        name: "LogoutRequest, every field, signed",
        kind: "LogoutRequest",
        xml: full.to_xml(),
        redirect_url: full
            .redirect_url(Some("r-1"), Some((&key, SignatureAlgorithm::RsaSha256)))
            .unwrap(),
        relay_state: Some("r-1"),
        redirect_signed: true,
        post_value: full.post_form(Some("r-1"), Some(&key)).unwrap().fields()[0]
            .1
            .clone(),
        post_signed: true,
        expected: json!({
            "tag": "LogoutRequest",
            "namespace": PROTOCOL,
            "id": "_lr_full",
            "version": "2.0",
            "issue_instant": "2024-06-01T12:00:00Z",
            "destination": IDP_SLO,
            "issuer": SP,
            "name_id": {
                "value": "alice@example.test",
                "format": name_id_format::EMAIL,
                "name_qualifier": IDP,
                "sp_name_qualifier": SP,
            },
            "session_indexes": ["_s1", "_s2 & <3>"],
            "not_on_or_after": "2024-06-01T12:05:00Z",
            "reason": logout_reason::USER,
            "signed": false,
        }),
    });

    let minimal = LogoutRequest::builder(
        SP,
        IDP_SLO,
        NameId {
            value: "opaque-42".into(),
            format: None,
            name_qualifier: None,
            sp_name_qualifier: None,
        },
    )
    .id("_lr_min")
    .build(&clock())
    .unwrap();
    out.push(Ours {
        name: "LogoutRequest, minimal, unsigned",
        kind: "LogoutRequest",
        xml: minimal.to_xml(),
        redirect_url: minimal.redirect_url(None, None).unwrap(),
        relay_state: None,
        redirect_signed: false,
        post_value: minimal.post_form(None, None).unwrap().fields()[0].1.clone(),
        post_signed: false,
        expected: json!({
            "tag": "LogoutRequest",
            "namespace": PROTOCOL,
            "id": "_lr_min",
            "version": "2.0",
            "issue_instant": "2024-06-01T12:00:00Z",
            "destination": IDP_SLO,
            "issuer": SP,
            "name_id": {
                "value": "opaque-42",
                "format": null,
                "name_qualifier": null,
                "sp_name_qualifier": null,
            },
            "session_indexes": [],
            "not_on_or_after": null,
            "reason": null,
            "signed": false,
        }),
    });

    let ok = LogoutResponse::builder(SP, IDP_SLO, "_idp_req_1")
        .id("_resp_ok")
        .build(&clock())
        .unwrap();
    out.push(Ours {
        name: "LogoutResponse, success, signed",
        kind: "LogoutResponse",
        xml: ok.to_xml(),
        redirect_url: ok
            .redirect_url(Some("r-2"), Some((&key, SignatureAlgorithm::RsaSha256)))
            .unwrap(),
        relay_state: Some("r-2"),
        redirect_signed: true,
        post_value: ok.post_form(Some("r-2"), Some(&key)).unwrap().fields()[0]
            .1
            .clone(),
        post_signed: true,
        expected: json!({
            "tag": "LogoutResponse",
            "namespace": PROTOCOL,
            "id": "_resp_ok",
            "version": "2.0",
            "issue_instant": "2024-06-01T12:00:00Z",
            "destination": IDP_SLO,
            "in_response_to": "_idp_req_1",
            "issuer": SP,
            "status": {"code": status::SUCCESS, "sub_code": null, "message": null},
            "signed": false,
        }),
    });

    let denied = LogoutResponse::builder(SP, IDP_SLO, "_idp_req_2")
        .id("_resp_denied")
        .status(
            status::RESPONDER,
            Some(status::UNKNOWN_PRINCIPAL),
            Some("no session for <alice> & co"),
        )
        .build(&clock())
        .unwrap();
    out.push(Ours {
        name: "LogoutResponse, failure with message, signed with RSA-SHA512",
        kind: "LogoutResponse",
        xml: denied.to_xml(),
        redirect_url: denied
            .redirect_url(Some("r-3"), Some((&key, SignatureAlgorithm::RsaSha512)))
            .unwrap(),
        relay_state: Some("r-3"),
        redirect_signed: true,
        post_value: denied.post_form(None, Some(&key)).unwrap().fields()[0]
            .1
            .clone(),
        post_signed: true,
        expected: json!({
            "tag": "LogoutResponse",
            "namespace": PROTOCOL,
            "id": "_resp_denied",
            "version": "2.0",
            "issue_instant": "2024-06-01T12:00:00Z",
            "destination": IDP_SLO,
            "in_response_to": "_idp_req_2",
            "issuer": SP,
            "status": {
                "code": status::RESPONDER,
                "sub_code": status::UNKNOWN_PRINCIPAL,
                "message": "no session for <alice> & co",
            },
            "signed": false,
        }),
    });
    out
}

#[test]
fn pysaml2_reads_our_logout_messages() {
    let ours = our_messages();
    let read: Vec<Value> = ours
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "kind": m.kind,
                "xml": m.xml,
                "redirect_query": m.redirect_url.split_once('?').unwrap().1,
                "post_value": m.post_value,
            })
        })
        .collect();
    let output = run_oracle(&oracle_input(read, vec![]));
    let results = output["read"].as_array().unwrap();
    assert_eq!(results.len(), ours.len());
    for (m, result) in ours.iter().zip(results) {
        let name = m.name;
        assert_eq!(result["name"], name);
        assert_eq!(result["parsed"], m.expected, "{name}: pysaml2 parse");
        assert_eq!(result["schema_errors"], json!([]), "{name}: XSD");

        let redirect = &result["redirect"];
        assert_eq!(redirect["xml"], m.xml, "{name}: inflated by pysaml2");
        assert_eq!(redirect["parsed"], m.expected, "{name}: redirect parse");
        assert_eq!(
            redirect["relay_state"],
            m.relay_state.map_or(Value::Null, Value::from),
            "{name}"
        );
        let expected_valid = if m.redirect_signed {
            Value::Bool(true)
        } else {
            Value::Null
        };
        assert_eq!(
            redirect["pysaml2_signature_valid"], expected_valid,
            "{name}: pysaml2 verify_redirect_signature: {redirect}"
        );

        let post = &result["post"];
        let mut expected = m.expected.clone();
        expected["signed"] = Value::Bool(m.post_signed);
        assert_eq!(post["parsed"], expected, "{name}: POST parse");
        assert_eq!(post["schema_errors"], json!([]), "{name}: XSD (POST)");
        let expected_valid = if m.post_signed {
            Value::Bool(true)
        } else {
            Value::Null
        };
        assert_eq!(
            post["xmlsec_signature_valid"], expected_valid,
            "{name}: pysaml2 xmlsec1 backend: {post}"
        );
    }
}

/// The oracle is not a rubber stamp: a changed RelayState breaks our query
/// signature, a changed SessionIndex our XML signature, in pysaml2's eyes.
#[test]
fn pysaml2_refuses_our_tampered_messages() {
    let key = sp_key();
    let request = LogoutRequest::builder(SP, IDP_SLO, alice())
        .id("_lr_t")
        .session_index("_s1")
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
    let signed = request
        .signed_xml(&key, &saml_core::dsig::SignOptions::default())
        .unwrap()
        .replace("_s1", "_s2");
    let post_value = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signed);
    let output = run_oracle(&oracle_input(
        vec![json!({
            "name": "tampered",
            "kind": "LogoutRequest",
            "xml": request.to_xml(),
            "redirect_query": query,
            "post_value": post_value,
        })],
        vec![],
    ));
    let result = &output["read"][0];
    assert_eq!(result["redirect"]["relay_state"], "evil");
    assert_eq!(
        result["redirect"]["pysaml2_signature_valid"], false,
        "{result}"
    );
    assert_eq!(result["post"]["parsed"]["session_indexes"], json!(["_s2"]));
    assert_eq!(result["post"]["xmlsec_signature_valid"], false, "{result}");
}

/// The SP's validator for the IdP's (here: pysaml2's) messages.
fn strict() -> LogoutValidator {
    LogoutValidator::new(IDP, vec![public("idp-cert.pem")], SLO)
}

fn lax() -> LogoutValidator {
    let mut v = strict();
    v.require_signature = false;
    v
}

fn query(made: &Value) -> &str {
    made["redirect_query"].as_str().unwrap()
}

#[test]
fn we_accept_pysaml2_logout_messages() {
    let common = |id: &str, kind: &str, relay_state: &str| {
        json!({
            "name": id,
            "kind": kind,
            "id": id,
            "issue_instant": "2024-06-01T12:00:00Z",
            "issuer": IDP,
            "destination": SLO,
            "relay_state": relay_state,
        })
    };
    let mut request = common("_py_lr", "LogoutRequest", "rs-1");
    request["name_id"] = json!({
        "value": "alice@example.test",
        "format": name_id_format::EMAIL,
        "name_qualifier": IDP,
        "sp_name_qualifier": SP,
    });
    request["session_indexes"] = json!(["_s1", "_s2"]);
    request["reason"] = json!(logout_reason::ADMIN);
    request["not_on_or_after"] = json!("2024-06-01T12:05:00Z");
    let mut success = common("_py_ok", "LogoutResponse", "rs-2");
    success["in_response_to"] = json!("_our_req");
    success["status_code"] = json!(status::SUCCESS);
    let mut partial = common("_py_partial", "LogoutResponse", "rs-3");
    partial["in_response_to"] = json!("_our_req");
    partial["status_code"] = json!(status::SUCCESS);
    partial["sub_code"] = json!(status::PARTIAL_LOGOUT);
    partial["status_message"] = json!("2 of 3 services");
    let mut failure = common("_py_fail", "LogoutResponse", "rs-4");
    failure["in_response_to"] = json!("_our_req");
    failure["status_code"] = json!(status::REQUESTER);
    failure["sub_code"] = json!(status::REQUEST_DENIED);

    let output = run_oracle(&oracle_input(
        vec![],
        vec![request, success, partial, failure],
    ));
    let made = output["make"].as_array().unwrap();
    assert_eq!(made.len(), 4);

    // The LogoutRequest, three ways.
    let lr = &made[0];
    let xml = lr["xml"].as_str().unwrap();
    let signed_xml = lr["signed_xml"].as_str().unwrap();
    assert!(signed_xml.contains("Signature"), "{signed_xml}");
    assert_eq!(
        strict().validate_request(xml, &later()).unwrap_err().code(),
        ErrorCode::SignatureMissing
    );
    let unsigned = lax().validate_request(xml, &later()).unwrap();
    let from_post = strict().validate_request(signed_xml, &later()).unwrap();
    let from_redirect = strict()
        .validate_request_redirect(query(lr), &later())
        .unwrap();
    for (how, incoming) in [
        ("unsigned", &unsigned),
        ("XML-signed", &from_post),
        ("query-signed", &from_redirect),
    ] {
        assert_eq!(incoming.id, "_py_lr", "{how}");
        assert_eq!(incoming.issuer, IDP, "{how}");
        assert_eq!(incoming.name_id, alice(), "{how}");
        assert_eq!(incoming.session_indexes, ["_s1", "_s2"], "{how}");
        assert_eq!(
            incoming.reason.as_deref(),
            Some(logout_reason::ADMIN),
            "{how}"
        );
        assert_eq!(
            incoming.not_on_or_after,
            Some(parse_datetime("2024-06-01T12:05:00Z").unwrap()),
            "{how}"
        );
    }
    assert!(!unsigned.signed && from_post.signed && from_redirect.signed);
    assert_eq!(from_redirect.relay_state.as_deref(), Some("rs-1"));

    // Tampering and foreign keys are caught on pysaml2's messages too.
    assert_eq!(
        strict()
            .validate_request(&signed_xml.replace("_s2", "_s3"), &later())
            .unwrap_err()
            .code(),
        ErrorCode::DigestMismatch
    );
    let trusting_sp = LogoutValidator::new(IDP, vec![public("sp-cert.pem")], SLO);
    assert_eq!(
        trusting_sp
            .validate_request(signed_xml, &later())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );
    assert_eq!(
        trusting_sp
            .validate_request_redirect(query(lr), &later())
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );
    assert_eq!(
        strict()
            .validate_request_redirect(
                &query(lr).replace("RelayState=rs-1", "RelayState=rs-9"),
                &later()
            )
            .unwrap_err()
            .code(),
        ErrorCode::SignatureInvalid
    );

    // The LogoutResponses answer our pending request "_our_req".
    for (made, partial, relay_state) in [(&made[1], false, "rs-2"), (&made[2], true, "rs-3")] {
        let xml = made["xml"].as_str().unwrap();
        let signed_xml = made["signed_xml"].as_str().unwrap();
        let name = made["name"].as_str().unwrap();
        let unsigned = lax().validate_response(xml, "_our_req", &later()).unwrap();
        let from_post = strict()
            .validate_response(signed_xml, "_our_req", &later())
            .unwrap();
        let from_redirect = strict()
            .validate_response_redirect(query(made), "_our_req", &later())
            .unwrap();
        for outcome in [&unsigned, &from_post, &from_redirect] {
            assert_eq!(outcome.id, name);
            assert_eq!(outcome.in_response_to, "_our_req");
            assert_eq!(outcome.partial, partial, "{name}");
        }
        assert!(!unsigned.signed && from_post.signed && from_redirect.signed);
        assert_eq!(from_redirect.relay_state.as_deref(), Some(relay_state));
        if partial {
            assert_eq!(from_post.status_message.as_deref(), Some("2 of 3 services"));
        }
        assert_eq!(
            strict()
                .validate_response(signed_xml, "_other_req", &later())
                .unwrap_err()
                .code(),
            ErrorCode::InResponseToMismatch,
            "{name}"
        );
        assert_eq!(
            strict()
                .validate_response(xml, "_our_req", &later())
                .unwrap_err()
                .code(),
            ErrorCode::SignatureMissing,
            "{name}"
        );
    }
    // A failure status from pysaml2 is a failure for us, on every binding.
    let failure = &made[3];
    for result in [
        strict().validate_response(
            failure["signed_xml"].as_str().unwrap(),
            "_our_req",
            &later(),
        ),
        strict().validate_response_redirect(query(failure), "_our_req", &later()),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.code(), ErrorCode::StatusNotSuccess);
        assert!(err.detail().contains("Requester / RequestDenied"), "{err}");
    }
}
