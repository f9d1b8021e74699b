//! Writes the generated seeds under `fuzz/seeds/<target>/`: logout, SOAP and
//! artifact messages for the configuration in `src/lib.rs`, signed with the
//! bench fixtures' IdP key where marked. Run again when the message shapes
//! change:
//!
//! ```sh
//! cd fuzz && cargo run --example seeds -- ../../shared/bench-fixtures
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use saml_core::binding::{encode_post, soap_envelope};
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, SignatureAlgorithm, SigningKey};
use saml_core::protocol::{
    Artifact, ArtifactResolve, ArtifactResponse, LogoutRequest, LogoutResponse, NameId,
    logout_reason, name_id_format, status,
};
use saml_core::protocol::{ArtifactResponseValidator, LogoutValidator};
use saml_fuzz::{IDP, ISSUED, LOGOUT_REQUEST_ID, RESOLVE_ID, SLO, SP, clock, idp_key};

fn write(target: &str, name: &str, text: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn query(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

fn main() {
    let fixtures = PathBuf::from(std::env::args().nth(1).expect("the bench-fixtures folder"));
    let read = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
    let cert = Certificate::from_pem(&read("idp-cert.pem"))
        .unwrap()
        .remove(0);
    let key = SigningKey::from_pem(&read("idp-key.pem"))
        .unwrap()
        .with_certificate(cert)
        .unwrap();
    let issued = FixedClock(parse_datetime(ISSUED).unwrap());
    let alice = NameId {
        value: "alice@example.test".into(),
        format: Some(name_id_format::EMAIL.into()),
        name_qualifier: Some(IDP.into()),
        sp_name_qualifier: Some(SP.into()),
    };

    // Logout: POST XML and Redirect queries, signed and not.
    let request = LogoutRequest::builder(IDP, SLO, alice)
        .id("_idp_lr1")
        .session_index("_s1")
        .session_index("_s2")
        .reason(logout_reason::ADMIN)
        .build(&issued)
        .unwrap();
    let response = LogoutResponse::builder(IDP, SLO, LOGOUT_REQUEST_ID)
        .id("_idp_resp1")
        .build(&issued)
        .unwrap();
    let partial = LogoutResponse::builder(IDP, SLO, LOGOUT_REQUEST_ID)
        .id("_idp_resp2")
        .partial_logout()
        .build(&issued)
        .unwrap();
    let failed = LogoutResponse::builder(IDP, SLO, LOGOUT_REQUEST_ID)
        .id("_idp_resp3")
        .status(
            status::RESPONDER,
            Some(status::UNKNOWN_PRINCIPAL),
            Some("who?"),
        )
        .build(&issued)
        .unwrap();
    let rsa256 = Some((&key, SignatureAlgorithm::RsaSha256));
    let signed_request = request.signed_xml(&key, &Default::default()).unwrap();
    let signed_response = response.signed_xml(&key, &Default::default()).unwrap();
    let logout = [
        ("request.xml", request.to_xml()),
        ("request-signed.xml", signed_request.clone()),
        ("response.xml", response.to_xml()),
        ("response-signed.xml", signed_response.clone()),
        ("response-partial.xml", partial.to_xml()),
        ("response-failed.xml", failed.to_xml()),
        (
            "request-redirect.txt",
            query(&request.redirect_url(Some("rs 1"), None).unwrap()).to_owned(),
        ),
        (
            "request-redirect-signed.txt",
            query(&request.redirect_url(Some("rs"), rsa256).unwrap()).to_owned(),
        ),
        (
            "response-redirect.txt",
            query(&response.redirect_url(None, None).unwrap()).to_owned(),
        ),
        (
            "response-redirect-signed.txt",
            query(&response.redirect_url(Some("rs"), rsa256).unwrap()).to_owned(),
        ),
    ];
    for (name, text) in &logout {
        write("logout", name, text);
    }

    // SOAP and artifact resolution.
    let artifact = Artifact::new(IDP, 1, std::array::from_fn(|i| u8::try_from(i).unwrap()));
    let resolve = ArtifactResolve::builder(SP, "https://idp.example.test/saml2/ars", &artifact)
        .id(RESOLVE_ID)
        .build(&issued)
        .unwrap();
    let typical = read("typical.xml");
    let typical = &typical[typical.find("<saml2p:Response").unwrap()..];
    let answer = |message: Option<&str>, code: &str| {
        let mut builder = ArtifactResponse::builder(IDP, RESOLVE_ID)
            .id("_ares1")
            .destination(SP)
            .status(code, None, None);
        if let Some(m) = message {
            builder = builder.message(m);
        }
        builder.build(&issued).unwrap()
    };
    let with_logout = answer(Some(&request.to_xml()), status::SUCCESS);
    let with_response = answer(Some(typical), status::SUCCESS);
    let artifact_seeds = [
        ("artifact.txt", artifact.encode()),
        (
            "logout-signed.xml",
            with_logout.soap_envelope(Some(&key)).unwrap(),
        ),
        ("logout.xml", with_logout.soap_envelope(None).unwrap()),
        (
            "response-signed.xml",
            with_response.soap_envelope(Some(&key)).unwrap(),
        ),
        (
            "empty.xml",
            answer(None, status::SUCCESS).soap_envelope(None).unwrap(),
        ),
        (
            "failed.xml",
            answer(None, status::REQUESTER).soap_envelope(None).unwrap(),
        ),
    ];
    for (name, text) in &artifact_seeds {
        write("artifact", name, text);
    }
    let fault = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>down</faultstring></soap:Fault></soap:Body></soap:Envelope>"#;
    let header = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="0"/></soap:Header><soap:Body><samlp:LogoutRequest ID="_lr" Version="2.0" IssueInstant="2024-06-01T12:00:00Z"><saml:Issuer>https://idp.example.test/saml2/metadata</saml:Issuer><saml:NameID>alice</saml:NameID></samlp:LogoutRequest></soap:Body></soap:Envelope>"#;
    let soap = [
        ("resolve.xml", resolve.soap_envelope(None).unwrap()),
        (
            "resolve-signed.xml",
            resolve.soap_envelope(Some(&key)).unwrap(),
        ),
        (
            "logout-request-signed.xml",
            request.soap_envelope(Some(&key)).unwrap(),
        ),
        ("logout-response.xml", soap_envelope(&response.to_xml())),
        ("artifact-response-signed.xml", artifact_seeds[1].1.clone()),
        ("fault.xml", fault.to_owned()),
        ("header.xml", header.to_owned()),
    ];
    for (name, text) in &soap {
        write("soap", name, text);
    }

    // Signed documents for `dsig` (real IdP responses come from seed.sh).
    write("dsig", "logout-request.xml", &signed_request);
    write("dsig", "logout-response.xml", &signed_response);
    write("dsig", "artifact-response.xml", &artifact_seeds[3].1);
    write("dsig", "resolve.xml", &soap[1].1);

    check(&logout, &artifact_seeds);

    // POST form values.
    write("post", "logout-request.b64", &encode_post(&signed_request));
    write(
        "post",
        "logout-response.b64",
        &encode_post(&response.to_xml()),
    );
}

/// The generated messages pass the targets' validators unmodified (so the
/// fuzzer starts from inputs that reach every check).
fn check(logout: &[(&str, String)], artifact: &[(&str, String)]) {
    let mut validator = LogoutValidator::new(IDP, vec![idp_key().clone()], SLO);
    validator.require_signature = false;
    for (name, text) in logout {
        let ok = if name.starts_with("request") && name.ends_with(".xml") {
            validator.validate_request(text, &clock()).is_ok()
        } else if name.starts_with("request") {
            validator.validate_request_redirect(text, &clock()).is_ok()
        } else if name.ends_with(".xml") {
            let r = validator.validate_response(text, LOGOUT_REQUEST_ID, &clock());
            r.is_ok() || *name == "response-failed.xml"
        } else {
            let r = validator.validate_response_redirect(text, LOGOUT_REQUEST_ID, &clock());
            r.is_ok()
        };
        assert!(ok, "{name} does not validate");
    }
    let mut validator = ArtifactResponseValidator::new(IDP, vec![idp_key().clone()]);
    validator.require_signature = false;
    for (name, text) in artifact.iter().filter(|(n, _)| n.starts_with("logout")) {
        let r = validator.validate(text, RESOLVE_ID, &clock());
        assert!(r.is_ok(), "{name}: {r:?}");
    }
}
