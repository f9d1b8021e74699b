//! The HTTP-Redirect and HTTP-POST bindings and the AuthnRequest builder,
//! through the public API: round trips, bounds (DEFLATE bombs, oversized
//! posts), signatures, HTML escaping, and every AuthnRequest option read back
//! with our own XML reader.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{TimeZone, Utc};
use saml_core::binding::{
    RedirectParameter, decode_post, decode_redirect, encode_post, encode_redirect,
    parse_redirect_query, post_form, redirect_url,
};
use saml_core::clock::{FixedClock, SystemClock};
use saml_core::crypto::{Certificate, PublicKey, SignatureAlgorithm, SigningKey};
use saml_core::dsig::{DSIG_NS, VerifyOptions, verify_enveloped, verify_redirect_query};
use saml_core::protocol::{
    AuthnContextComparison, AuthnRequest, SAML_NS, SAMLP_NS, bindings, generate_id, name_id_format,
};
use saml_core::xml::{Document, Element};
use saml_core::{ErrorCode, Limits};

const XML: &str = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_b1" Version="2.0" IssueInstant="2024-06-01T12:00:00Z"><saml:Issuer>https://sp.example/é</saml:Issuer><saml:NameID>a&amp;b</saml:NameID></samlp:LogoutRequest>"#;

/// `SAML_SHARED_DIR` overrides where `../shared` is, as in the other tests.
fn fixtures() -> PathBuf {
    std::env::var_os("SAML_SHARED_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
            PathBuf::from,
        )
        .join("bench-fixtures")
}

/// The SP key pair from the shared bench fixtures (certificate attached).
fn sp_keys() -> &'static (SigningKey, PublicKey) {
    static KEYS: OnceLock<(SigningKey, PublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key_pem = std::fs::read_to_string(fixtures().join("sp-key.pem")).unwrap();
        let cert_pem = std::fs::read_to_string(fixtures().join("sp-cert.pem")).unwrap();
        let cert = Certificate::from_pem(&cert_pem).unwrap().remove(0);
        let public = cert.public_key().clone();
        let key = SigningKey::from_pem(&key_pem)
            .unwrap()
            .with_certificate(cert)
            .unwrap();
        (key, public)
    })
}

fn query_of(url: &str) -> &str {
    url.split_once('?').unwrap().1
}

fn clock() -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap())
}

// ---------------------------------------------------------------- Redirect

#[test]
fn redirect_round_trip() {
    let value = encode_redirect(XML);
    // Raw DEFLATE: no zlib header, smaller than the text, and not URL-encoded.
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&value)
        .unwrap();
    assert_ne!(raw.first(), Some(&0x78));
    assert!(!value.contains('%'));
    assert_eq!(decode_redirect(&value, &Limits::default()).unwrap(), XML);

    let relay = "/app/page?x=1&y=a b+c#frag/é";
    let url = redirect_url(
        "https://idp.example/sso",
        RedirectParameter::SamlRequest,
        XML,
        Some(relay),
        None,
    )
    .unwrap();
    assert!(url.starts_with("https://idp.example/sso?SAMLRequest="));
    let query = query_of(&url);
    // Every value is percent-encoded: only unreserved characters and escapes.
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .collect();
    assert_eq!(pairs.len(), 2, "{query}");
    assert_eq!(pairs[1].0, "RelayState");
    for (_, value) in pairs {
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{value}"
        );
    }
    let message = parse_redirect_query(query, &Limits::default()).unwrap();
    assert_eq!(message.parameter(), RedirectParameter::SamlRequest);
    assert_eq!(message.xml(), XML);
    assert_eq!(message.relay_state(), Some(relay));
    assert!(!message.has_signature());

    let url = redirect_url(
        "https://sp.example/slo",
        RedirectParameter::SamlResponse,
        XML,
        None,
        None,
    )
    .unwrap();
    assert!(!url.contains("RelayState"));
    let message = parse_redirect_query(query_of(&url), &Limits::default()).unwrap();
    assert_eq!(message.parameter(), RedirectParameter::SamlResponse);
    assert_eq!(message.relay_state(), None);
    assert_eq!(message.into_xml(), XML);
}

#[test]
fn deflate_bomb_is_refused_quickly() {
    // 50 MB of zeros deflate to about 50 KB.
    let zeros = vec![0_u8; 50 * 1024 * 1024];
    let bomb = miniz_oxide::deflate::compress_to_vec(&zeros, 9);
    drop(zeros);
    assert!(bomb.len() < 200 * 1024, "{}", bomb.len());
    let value = base64::engine::general_purpose::STANDARD.encode(&bomb);

    let start = Instant::now();
    let err = decode_redirect(&value, &Limits::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InputTooLarge, "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );

    // Through the query parser too, and with a tighter limit.
    let url = format!(
        "SAMLRequest={}",
        value
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    let limits = Limits {
        max_xml_bytes: 4096,
        ..Limits::default()
    };
    let err = parse_redirect_query(&url, &limits).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InputTooLarge);
    assert!(err.detail().contains("4096"), "{err}");
}

#[test]
fn garbage_is_malformed() {
    let limits = Limits::default();
    for garbage in [
        "not base64 at all!",
        "%%%",
        "/////w==", // 0xFF 0xFF 0xFF: a reserved DEFLATE block type
        "AAAA",     // a stored block cut short
        "",
        &base64::engine::general_purpose::STANDARD.encode(XML), // not deflated
    ] {
        let err = decode_redirect(garbage, &limits).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml, "{garbage}: {err}");
    }
    // Oversized base64 never gets decoded.
    let err = decode_redirect(&"A".repeat(2 * 1024 * 1024), &limits).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InputTooLarge);
}

#[test]
fn destination_with_a_query_string() {
    let value = encode_redirect(XML);
    for (destination, prefix) in [
        (
            "https://adfs.example/adfs/ls/?wa=wsignin1.0",
            "https://adfs.example/adfs/ls/?wa=wsignin1.0&SAMLRequest=",
        ),
        (
            "https://login.microsoftonline.com/t/saml2?sso_reload=true",
            "https://login.microsoftonline.com/t/saml2?sso_reload=true&SAMLRequest=",
        ),
        (
            "https://idp.example/sso",
            "https://idp.example/sso?SAMLRequest=",
        ),
    ] {
        let url = redirect_url(
            destination,
            RedirectParameter::SamlRequest,
            XML,
            Some("s"),
            None,
        )
        .unwrap();
        assert!(url.starts_with(prefix), "{url}");
        assert_eq!(url.matches('?').count(), 1, "{url}");
        let message = parse_redirect_query(query_of(&url), &Limits::default()).unwrap();
        assert_eq!(message.xml(), XML);
        assert_eq!(message.relay_state(), Some("s"));
        // Signed, with the extra parameter in front: still verifies.
        let (key, public) = sp_keys();
        let signed = redirect_url(
            destination,
            RedirectParameter::SamlRequest,
            XML,
            Some("s"),
            Some((key, SignatureAlgorithm::RsaSha256)),
        )
        .unwrap();
        assert!(signed.starts_with(prefix), "{signed}");
        let verified = verify_redirect_query(
            query_of(&signed),
            std::slice::from_ref(public),
            &VerifyOptions::new(),
        )
        .unwrap();
        assert_eq!(verified.message(), value);
    }
    // A destination that already carries a binding parameter is refused.
    for destination in [
        "https://idp.example/sso?SAMLRequest=abc",
        "https://idp.example/sso?x=1&RelayState=abc",
    ] {
        let err =
            redirect_url(destination, RedirectParameter::SamlRequest, XML, None, None).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml, "{destination}");
    }
}

#[test]
fn signed_redirect_verifies() {
    let (key, public) = sp_keys();
    let keys = std::slice::from_ref(public);
    for algorithm in [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha512] {
        let url = redirect_url(
            "https://idp.example/sso",
            RedirectParameter::SamlRequest,
            XML,
            Some("state & more"),
            Some((key, algorithm)),
        )
        .unwrap();
        let query = query_of(&url);
        let verified = verify_redirect_query(query, keys, &VerifyOptions::new()).unwrap();
        assert_eq!(verified.algorithm(), algorithm);
        assert_eq!(verified.relay_state(), Some("state & more"));
        assert_eq!(
            decode_redirect(verified.message(), &Limits::default()).unwrap(),
            XML
        );
        // The unsigned parser sees the signature but does not vouch for it.
        let parsed = parse_redirect_query(query, &Limits::default()).unwrap();
        assert!(parsed.has_signature());
        assert_eq!(parsed.xml(), XML);
        // Tampering with the relay state breaks the signature.
        let tampered = query.replace("RelayState=state", "RelayState=other");
        assert_eq!(
            verify_redirect_query(&tampered, keys, &VerifyOptions::new())
                .unwrap_err()
                .code(),
            ErrorCode::SignatureInvalid
        );
    }
    // We never sign with SHA-1.
    let err = redirect_url(
        "https://idp.example/sso",
        RedirectParameter::SamlRequest,
        XML,
        None,
        Some((key, SignatureAlgorithm::RsaSha1)),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::AlgorithmForbidden);
}

// -------------------------------------------------------------------- POST

#[test]
fn post_round_trip() {
    let value = encode_post(XML);
    assert_eq!(decode_post(&value, &Limits::default()).unwrap(), XML);
    // Line-wrapped as many IdPs send it.
    let wrapped: String = value
        .as_bytes()
        .chunks(64)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    assert_eq!(decode_post(&wrapped, &Limits::default()).unwrap(), XML);

    let form = post_form(
        "https://idp.example/sso",
        RedirectParameter::SamlResponse,
        XML,
        Some("rs"),
    )
    .unwrap();
    assert_eq!(form.action(), "https://idp.example/sso");
    let fields = form.fields();
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[0].0, "SAMLResponse");
    assert_eq!(decode_post(&fields[0].1, &Limits::default()).unwrap(), XML);
    assert_eq!(fields[1], ("RelayState".to_owned(), "rs".to_owned()));
    let without = post_form(
        "https://idp.example/sso",
        RedirectParameter::SamlRequest,
        XML,
        None,
    )
    .unwrap();
    assert_eq!(without.fields().len(), 1);
    assert_eq!(without.fields()[0].0, "SAMLRequest");
}

#[test]
fn destinations_must_be_http_urls() {
    for destination in [
        "javascript:alert(document.cookie)",
        "JAVASCRIPT://x",
        "data:text/html,<script>x</script>",
        "/relative/sso",
        "https://",
        "",
        "https://idp.example/sso\r\nSet-Cookie: a=b",
        "https://idp.example/a b",
    ] {
        let err = post_form(destination, RedirectParameter::SamlRequest, XML, None).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml, "{destination}");
        let err =
            redirect_url(destination, RedirectParameter::SamlRequest, XML, None, None).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml, "{destination}");
    }
    for destination in ["HTTPS://IDP.EXAMPLE/SSO", "http://localhost:8080/sso"] {
        assert!(post_form(destination, RedirectParameter::SamlRequest, XML, None).is_ok());
        assert!(redirect_url(destination, RedirectParameter::SamlRequest, XML, None, None).is_ok());
    }
    // An AuthnRequest to such a destination builds, but cannot be sent.
    let request = AuthnRequest::builder("https://sp.example", "javascript:alert(1)")
        .build(&clock())
        .unwrap();
    assert!(request.post_form(None, None).is_err());
    assert!(request.redirect_url(None, None).is_err());
}

#[test]
fn post_errors() {
    let limits = Limits {
        max_xml_bytes: 1000,
        ..Limits::default()
    };
    // Oversized, and not even base64: the size check comes first.
    let err = decode_post(&"!".repeat(1400), &limits).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InputTooLarge);
    // Valid base64 of 1001 bytes.
    let err = decode_post(&encode_post(&"a".repeat(1001)), &limits).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InputTooLarge);
    // Huge amounts of whitespace are refused before they are stripped.
    let err = decode_post(&" ".repeat(10_000), &limits).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InputTooLarge);
    assert_eq!(
        decode_post("not base64!", &limits).unwrap_err().code(),
        ErrorCode::MalformedXml
    );
    let latin1 = base64::engine::general_purpose::STANDARD.encode(b"<a>\xe9</a>");
    assert_eq!(
        decode_post(&latin1, &limits).unwrap_err().code(),
        ErrorCode::UnsupportedEncoding
    );
}

#[test]
fn post_form_html_escapes_everything() {
    let hostile = r#""><script>alert(1)</script><input name='x"#;
    let form = post_form(
        r#"https://idp.example/sso?a=1&b="x"><script>"#,
        RedirectParameter::SamlRequest,
        XML,
        Some(hostile),
    )
    .unwrap();
    for html in [form.html(), form.html_with_nonce(r#"n"><script>"#)] {
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("alert(1)</script>"), "{html}");
        assert!(html.contains(
            r#"value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;input name=&#39;x""#
        ));
        assert!(html.contains(
            r#"action="https://idp.example/sso?a=1&amp;b=&quot;x&quot;&gt;&lt;script&gt;""#
        ));
        assert_eq!(html.matches("<form ").count(), 1);
        assert_eq!(html.matches("<input ").count(), 2);
    }
}

#[test]
fn post_form_has_no_inline_script_without_a_nonce() {
    let form = post_form(
        "https://idp.example/sso",
        RedirectParameter::SamlRequest,
        XML,
        Some("rs"),
    )
    .unwrap();
    let html = form.html();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("onload"), "{html}");
    assert!(!html.contains("<noscript"), "{html}");
    assert!(html.contains(r#"<form method="post" action="https://idp.example/sso">"#));
    assert!(html.contains(r#"<input type="hidden" name="SAMLRequest" value=""#));
    assert!(html.contains(r#"<input type="hidden" name="RelayState" value="rs">"#));
    assert!(html.contains(r#"<button type="submit">"#));

    let html = form.html_with_nonce("r4nd0m");
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(html.contains(r#"<script nonce="r4nd0m">document.forms[0].submit()</script>"#));
    let noscript = html
        .split_once("<noscript>")
        .unwrap()
        .1
        .split_once("</noscript>")
        .unwrap()
        .0;
    assert!(noscript.contains(r#"<button type="submit">"#));
    // The fields themselves are the same.
    assert!(html.contains(&format!(
        r#"<input type="hidden" name="SAMLRequest" value="{}">"#,
        encode_post(XML)
    )));
}

// ------------------------------------------------------------ AuthnRequest

fn child<'d, 'a>(el: Element<'d, 'a>, ns: &str, name: &str) -> Option<Element<'d, 'a>> {
    el.child_elements().find(|c| c.is(ns, name))
}

fn names(el: Element<'_, '_>) -> Vec<String> {
    el.child_elements()
        .map(|c| c.local_name().to_owned())
        .collect()
}

#[test]
fn authn_request_defaults() {
    let request = AuthnRequest::builder("https://sp.example/saml", "https://idp.example/sso")
        .build(&clock())
        .unwrap();
    let xml = request.to_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(SAMLP_NS, "AuthnRequest"));
    assert_eq!(root.attribute("ID"), Some(request.id()));
    assert_eq!(root.attribute("Version"), Some("2.0"));
    assert_eq!(root.attribute("IssueInstant"), Some("2024-06-01T12:00:00Z"));
    assert_eq!(request.issue_instant(), clock().0);
    assert_eq!(
        root.attribute("Destination"),
        Some("https://idp.example/sso")
    );
    assert_eq!(root.attribute("ForceAuthn"), Some("true"));
    assert_eq!(root.attribute("IsPassive"), None);
    assert_eq!(root.attribute("ProtocolBinding"), Some(bindings::HTTP_POST));
    assert_eq!(root.attribute("AssertionConsumerServiceURL"), None);
    assert_eq!(root.attribute("AssertionConsumerServiceIndex"), None);
    assert_eq!(root.attribute("ProviderName"), None);
    assert_eq!(names(root), ["Issuer", "NameIDPolicy"]);
    let issuer = child(root, SAML_NS, "Issuer").unwrap();
    assert_eq!(issuer.text(), "https://sp.example/saml");
    let policy = child(root, SAMLP_NS, "NameIDPolicy").unwrap();
    assert_eq!(
        policy.attribute("Format"),
        Some(name_id_format::UNSPECIFIED)
    );
    assert_eq!(policy.attribute("AllowCreate"), Some("true"));
    assert!(request.force_authn());
    assert!(!request.is_passive());
    assert!(request.requested_authn_context_class_refs().is_empty());
}

#[test]
fn authn_request_every_option() {
    let hostile = r#"https://sp.example/acs?a=1&b="<x>""#;
    let request =
        AuthnRequest::builder("https://sp.example/<&>", "https://idp.example/sso?x=\"1\"")
            .id("_fixed-id.1")
            .assertion_consumer_service_url(hostile)
            .protocol_binding(Some(bindings::HTTP_ARTIFACT))
            .force_authn(false)
            .is_passive(true)
            .name_id_policy(Some(name_id_format::EMAIL), false)
            .requested_authn_context(
                AuthnContextComparison::Minimum,
                vec![
                    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".to_owned(),
                    "urn:x:mfa&more".to_owned(),
                ],
            )
            .subject_hint("user@example.com <x>", Some(name_id_format::EMAIL))
            .provider_name("Acme \"Portal\"\ttab\nline")
            .build(&clock())
            .unwrap();
    assert_eq!(request.id(), "_fixed-id.1");
    assert_eq!(request.assertion_consumer_service_url(), Some(hostile));
    let xml = request.to_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert_eq!(root.attribute("ID"), Some("_fixed-id.1"));
    assert_eq!(
        root.attribute("Destination"),
        Some("https://idp.example/sso?x=\"1\"")
    );
    assert_eq!(root.attribute("ForceAuthn"), None);
    assert_eq!(root.attribute("IsPassive"), Some("true"));
    assert_eq!(
        root.attribute("ProtocolBinding"),
        Some(bindings::HTTP_ARTIFACT)
    );
    assert_eq!(root.attribute("AssertionConsumerServiceURL"), Some(hostile));
    assert_eq!(
        root.attribute("ProviderName"),
        Some("Acme \"Portal\"\ttab\nline")
    );
    // Schema order.
    assert_eq!(
        names(root),
        ["Issuer", "Subject", "NameIDPolicy", "RequestedAuthnContext"]
    );
    assert_eq!(
        child(root, SAML_NS, "Issuer").unwrap().text(),
        "https://sp.example/<&>"
    );
    let name_id = child(child(root, SAML_NS, "Subject").unwrap(), SAML_NS, "NameID").unwrap();
    assert_eq!(name_id.text(), "user@example.com <x>");
    assert_eq!(name_id.attribute("Format"), Some(name_id_format::EMAIL));
    let policy = child(root, SAMLP_NS, "NameIDPolicy").unwrap();
    assert_eq!(policy.attribute("Format"), Some(name_id_format::EMAIL));
    assert_eq!(policy.attribute("AllowCreate"), Some("false"));
    let context = child(root, SAMLP_NS, "RequestedAuthnContext").unwrap();
    assert_eq!(context.attribute("Comparison"), Some("minimum"));
    let refs: Vec<String> = context
        .child_elements()
        .inspect(|c| assert!(c.is(SAML_NS, "AuthnContextClassRef")))
        .map(|c| c.text().into_owned())
        .collect();
    assert_eq!(
        refs,
        [
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
            "urn:x:mfa&more"
        ]
    );
    assert_eq!(request.requested_authn_context_class_refs(), refs);
    assert!(!request.force_authn());
    assert!(request.is_passive());

    let pending = request.pending(Some("/deep"));
    assert_eq!(pending.id, "_fixed-id.1");
    assert_eq!(pending.issue_instant, clock().0);
    assert_eq!(pending.relay_state.as_deref(), Some("/deep"));
    assert!(!pending.force_authn);
    assert_eq!(pending.acs_url.as_deref(), Some(hostile));
}

#[test]
fn authn_request_variants() {
    let base = || AuthnRequest::builder("https://sp.example", "https://idp.example/sso");
    // Index excludes URL and ProtocolBinding; the last ACS setter wins.
    let xml = base()
        .assertion_consumer_service_url("https://sp.example/acs")
        .assertion_consumer_service_index(3)
        .build(&clock())
        .unwrap()
        .to_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    assert_eq!(
        doc.root().attribute("AssertionConsumerServiceIndex"),
        Some("3")
    );
    assert_eq!(doc.root().attribute("AssertionConsumerServiceURL"), None);
    assert_eq!(doc.root().attribute("ProtocolBinding"), None);
    let xml = base()
        .assertion_consumer_service_index(3)
        .assertion_consumer_service_url("https://sp.example/acs")
        .protocol_binding(None)
        .name_id_policy(None, true)
        .subject_hint("jdoe", None)
        .requested_authn_context(AuthnContextComparison::Exact, vec!["c".into()])
        .requested_authn_context(AuthnContextComparison::Better, vec![])
        .build(&clock())
        .unwrap()
        .to_xml();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let root = doc.root();
    assert_eq!(root.attribute("AssertionConsumerServiceIndex"), None);
    assert_eq!(
        root.attribute("AssertionConsumerServiceURL"),
        Some("https://sp.example/acs")
    );
    assert_eq!(root.attribute("ProtocolBinding"), None);
    assert_eq!(names(root), ["Issuer", "Subject", "NameIDPolicy"]);
    let policy = child(root, SAMLP_NS, "NameIDPolicy").unwrap();
    assert_eq!(policy.attribute("Format"), None);
    let name_id = child(child(root, SAML_NS, "Subject").unwrap(), SAML_NS, "NameID").unwrap();
    assert_eq!(name_id.attribute("Format"), None);
    for (comparison, text) in [
        (AuthnContextComparison::Exact, "exact"),
        (AuthnContextComparison::Maximum, "maximum"),
        (AuthnContextComparison::Better, "better"),
    ] {
        let xml = base()
            .requested_authn_context(comparison, vec!["c".into()])
            .build(&clock())
            .unwrap()
            .to_xml();
        assert!(xml.contains(&format!(r#"Comparison="{text}""#)), "{xml}");
    }
}

#[test]
fn authn_request_refuses_bad_values() {
    let base = || AuthnRequest::builder("https://sp.example", "https://idp.example/sso");
    for builder in [
        AuthnRequest::builder("", "https://idp.example/sso"),
        AuthnRequest::builder("https://sp.example", ""),
        base().id("1abc"),
        base().id("a:b"),
        base().id(""),
        base().subject_hint("a\u{1}b", None),
        base().provider_name("\u{FFFF}"),
        base().assertion_consumer_service_url("https://sp/\u{0}"),
    ] {
        let err = builder.build(&clock()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml, "{err}");
    }
}

#[test]
fn authn_request_ids_are_random() {
    let mut seen = HashSet::new();
    for _ in 0..1000 {
        let request = AuthnRequest::builder("https://sp.example", "https://idp.example/sso")
            .build(&SystemClock)
            .unwrap();
        let id = request.id().to_owned();
        assert_eq!(id.len(), 33, "{id}");
        assert!(id.starts_with('_'), "{id}");
        assert!(
            id[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        assert!(seen.insert(id), "duplicate ID");
    }
    // Every hex digit shows up in every position over 1000 IDs (128 random bits).
    for position in 1..33 {
        let digits: HashSet<u8> = seen.iter().map(|id| id.as_bytes()[position]).collect();
        assert_eq!(digits.len(), 16, "position {position}");
    }
    assert_ne!(generate_id().unwrap(), generate_id().unwrap());
}

#[test]
fn authn_request_over_redirect() {
    let (key, public) = sp_keys();
    let request = AuthnRequest::builder(
        "https://sp.example",
        "https://adfs.example/adfs/ls/?wa=wsignin1.0",
    )
    .assertion_consumer_service_url("https://sp.example/saml/acs")
    .build(&clock())
    .unwrap();
    let url = request.redirect_url(Some("r1"), None).unwrap();
    assert!(url.starts_with("https://adfs.example/adfs/ls/?wa=wsignin1.0&SAMLRequest="));
    let message = parse_redirect_query(query_of(&url), &Limits::default()).unwrap();
    assert_eq!(message.xml(), request.to_xml());
    assert_eq!(message.relay_state(), Some("r1"));

    let url = request
        .redirect_url(Some("r1"), Some((key, SignatureAlgorithm::RsaSha256)))
        .unwrap();
    let verified = verify_redirect_query(
        query_of(&url),
        std::slice::from_ref(public),
        &VerifyOptions::new(),
    )
    .unwrap();
    let xml = decode_redirect(verified.message(), &Limits::default()).unwrap();
    assert_eq!(xml, request.to_xml());
    // No XML signature on the Redirect binding.
    assert!(!xml.contains(DSIG_NS));
}

#[test]
fn authn_request_over_post() {
    let (key, public) = sp_keys();
    let request = AuthnRequest::builder("https://sp.example", "https://idp.example/sso")
        .assertion_consumer_service_url("https://sp.example/saml/acs")
        .subject_hint("jdoe@example.com", Some(name_id_format::EMAIL))
        .build(&clock())
        .unwrap();

    let form = request.post_form(Some("r2"), None).unwrap();
    assert_eq!(form.action(), "https://idp.example/sso");
    let xml = decode_post(&form.fields()[0].1, &Limits::default()).unwrap();
    assert_eq!(xml, request.to_xml());
    assert_eq!(form.fields()[1].1, "r2");

    let form = request.post_form(Some("r2"), Some(key)).unwrap();
    let xml = decode_post(&form.fields()[0].1, &Limits::default()).unwrap();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    // The signature sits right after Issuer.
    assert_eq!(
        names(doc.root()),
        ["Issuer", "Signature", "Subject", "NameIDPolicy"]
    );
    let verified = verify_enveloped(
        doc.root(),
        std::slice::from_ref(public),
        &VerifyOptions::new(),
    )
    .unwrap();
    assert_eq!(verified.element().attribute("ID"), Some(request.id()));
    assert_eq!(verified.algorithm(), SignatureAlgorithm::RsaSha256);
    assert!(
        child(
            child(doc.root(), DSIG_NS, "Signature").unwrap(),
            DSIG_NS,
            "KeyInfo"
        )
        .is_some()
    );
}
