//! Memory under hostile input (issue 10, "no memory growth beyond the
//! documented limits"): every oversized or explosive input the attack suite
//! sends is sent here through the layer while a counting allocator watches
//! the heap.
//!
//! Two properties per input:
//! - **Bounded peak.** The heap a request adds at its peak stays under
//!   [`PEAK_BOUND`], 8 times the layer's 2 MiB body cap, however
//!   large the input claims to be (a 16 MiB DEFLATE bomb, a 20 MiB body).
//! - **No growth.** Repeating every input many times leaves the heap where
//!   it was: refusals keep nothing (no pending request, no replay entry, no
//!   cache).
//!
//! One test function on a current-thread runtime, so no other test's
//! allocations are counted. The allocator (peakmem-alloc: the workspace
//! forbids the unsafe code a global allocator needs) counts bytes; it
//! measures, it does not time (no timings in tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/attacks/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../src/attacks/layer.rs"]
#[allow(dead_code)]
mod layer;

use std::alloc::System;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait};
use saml_core::binding::encode_redirect;

use layer::{Browser, Node, form_body, percent};

/// Counts the heap: the most bytes live at once since the last reset,
/// above the level at the reset.
#[global_allocator]
static HEAP: PeakMemAlloc<System> = PeakMemAlloc::new(System);

const MIB: usize = 1 << 20;

/// The most heap one hostile request may add at its peak: 8 times the
/// layer's 2 MiB body cap (measured: at most about 8 MiB, for a 1 MiB
/// document of 100,000 nodes or of 100,000 attributes). Documented in
/// docs/security.md ("Limits").
const PEAK_BOUND: usize = 16 * MIB;

/// Rounds of every case for the growth check.
const ROUNDS: usize = 10;

/// How much higher the peak over [`ROUNDS`] rounds may be than over one
/// (lazily grown tables): far less than one request's input, so a request
/// that kept even a fraction of its input would fail the check.
const GROWTH_BOUND: usize = 64 * 1024;

/// One hostile request: where it goes and what it carries.
struct Case {
    name: &'static str,
    method: Method,
    uri: String,
    content_type: Option<&'static str>,
    body: Bytes,
    /// The status the layer must answer.
    status: StatusCode,
}

impl Case {
    fn get(name: &'static str, uri: String, status: StatusCode) -> Self {
        Self {
            name,
            method: Method::GET,
            uri,
            content_type: None,
            body: Bytes::new(),
            status,
        }
    }

    fn form(name: &'static str, uri: &str, body: String, status: StatusCode) -> Self {
        Self {
            name,
            method: Method::POST,
            uri: uri.to_owned(),
            content_type: Some("application/x-www-form-urlencoded"),
            body: Bytes::from(body),
            status,
        }
    }

    fn soap(name: &'static str, body: String, status: StatusCode) -> Self {
        Self {
            name,
            method: Method::POST,
            uri: "/saml/slo/soap".to_owned(),
            content_type: Some("text/xml; charset=utf-8"),
            body: Bytes::from(body),
            status,
        }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut builder = Browser::default().request(self.method.clone(), &self.uri);
        if let Some(ct) = self.content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        // Bytes clones share the buffer: the input is not copied here.
        builder.body(Full::new(self.body.clone())).unwrap()
    }
}

fn b64(xml: &str) -> String {
    kit::b64_bytes(xml.as_bytes())
}

const RESPONSE_OPEN: &str = concat!(
    r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
    r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" "#,
    r#"IssueInstant="2026-03-02T09:00:00Z">"#
);

fn soap(inner: &str) -> String {
    format!(
        r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>{inner}</SOAP-ENV:Body></SOAP-ENV:Envelope>"#
    )
}

/// Every oversized or explosive input, each within what an attacker can
/// send (a URL under 64 KB, a body of any size).
fn cases() -> Vec<Case> {
    let too_large = StatusCode::PAYLOAD_TOO_LARGE;
    let bad = StatusCode::BAD_REQUEST;
    let fault = StatusCode::INTERNAL_SERVER_ERROR;
    // 16 MiB of one byte inflates from about 16 KB.
    let bomb = percent(&encode_redirect(&"A".repeat(16 * MIB)));
    // The most nodes the reader allows (100,000), in just under 1 MiB.
    let many_nodes = format!("{RESPONSE_OPEN}{}</samlp:Response>", "<a/>".repeat(99_000));
    // 256 attributes (the cap) on each of many elements.
    let attrs: String = (0..256).map(|i| format!(" a{i}=\"v\"")).collect();
    let wide = format!(
        "{RESPONSE_OPEN}{}</samlp:Response>",
        format!("<e{attrs}/>").repeat(400)
    );
    // One attribute value of nearly 1 MiB, escaped characters throughout.
    let long_value = format!(
        "{RESPONSE_OPEN}<x v=\"{}\"/></samlp:Response>",
        "&amp;".repeat(200_000)
    );
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let laughs = concat!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">"#,
        r#"<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">"#,
        r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">"#,
        r#"]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol3;</samlp:Response>"#
    );
    vec![
        Case::get(
            "DEFLATE bomb, LogoutRequest",
            format!("/saml/slo?SAMLRequest={bomb}"),
            too_large,
        ),
        Case::get(
            "DEFLATE bomb, signed LogoutResponse",
            format!("/saml/slo?SAMLResponse={bomb}&RelayState=x&SigAlg=x&Signature=x"),
            too_large,
        ),
        Case::form(
            "1.6 MB of base64 at the ACS",
            "/saml/acs",
            form_body(&[("SAMLResponse", &"QUFB".repeat(400_000))]),
            too_large,
        ),
        Case::form(
            "1.6 MB of base64 at the SLO endpoint",
            "/saml/slo",
            form_body(&[("SAMLRequest", &"QUFB".repeat(400_000))]),
            too_large,
        ),
        Case::form(
            "a 20 MiB body",
            "/saml/acs",
            "SAMLResponse=".to_owned() + &"A".repeat(20 * MIB),
            too_large,
        ),
        Case::form(
            "100,000 nodes",
            "/saml/acs",
            form_body(&[("SAMLResponse", &b64(&many_nodes))]),
            bad,
        ),
        Case::form(
            "256 attributes on 400 elements",
            "/saml/acs",
            form_body(&[("SAMLResponse", &b64(&wide))]),
            bad,
        ),
        Case::form(
            "a 1 MiB attribute value",
            "/saml/acs",
            form_body(&[("SAMLResponse", &b64(&long_value))]),
            bad,
        ),
        Case::form(
            "100,000 levels deep",
            "/saml/acs",
            form_body(&[("SAMLResponse", &b64(&deep))]),
            too_large,
        ),
        Case::form(
            "billion laughs",
            "/saml/acs",
            form_body(&[("SAMLResponse", &b64(laughs))]),
            bad,
        ),
        // SOAP refusals are faults, which SOAP 1.1 sends with HTTP 500.
        Case::soap(
            "SOAP, 100,000 nodes",
            soap(&format!("<x>{}</x>", "<a/>".repeat(99_000))),
            fault,
        ),
        Case::soap("SOAP, a 20 MiB body", soap(&"A".repeat(20 * MIB)), fault),
        Case::soap("SOAP, billion laughs", laughs.to_owned(), fault),
    ]
}

#[test]
fn hostile_inputs_stay_within_the_documented_memory_and_leave_nothing_behind() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let node = Node::new(|_| {});
        let cases = cases();
        let mut report = Vec::new();
        // Once each: the status, and the peak the request adds. The
        // request is built first: the input itself is not counted.
        for case in &cases {
            let request = case.request();
            HEAP.reset_peak_memory();
            let reply = node.send(request).await;
            let peak = HEAP.get_peak_memory();
            assert_eq!(reply.status, case.status, "{}: {reply:?}", case.name);
            if reply.status == StatusCode::INTERNAL_SERVER_ERROR {
                // Only a SOAP fault blaming the sender, never a server error.
                assert!(
                    reply.body.contains("SOAP-ENV:Client"),
                    "{}: {reply:?}",
                    case.name
                );
            }
            assert!(!reply.sets_session(), "{}", case.name);
            report.push(format!(
                "{}: {} bytes in, peak +{} KiB",
                case.name,
                case.body.len() + case.uri.len(),
                peak / 1024
            ));
            assert!(
                peak <= PEAK_BOUND,
                "{} added {peak} bytes at its peak (bound {PEAK_BOUND})",
                case.name
            );
        }
        println!("{}", report.join("\n"));
        assert_eq!(node.calls(), 0);

        // Then many times over. Whatever a request kept would pile up,
        // so the peak over many rounds would exceed the peak over one by
        // the rounds times the leak.
        let rounds = |n: usize| {
            let node = &node;
            let cases = &cases;
            async move {
                HEAP.reset_peak_memory();
                for _ in 0..n {
                    for case in cases {
                        let reply = node.send(case.request()).await;
                        assert_eq!(reply.status, case.status, "{}", case.name);
                    }
                }
                HEAP.get_peak_memory()
            }
        };
        let one = rounds(1).await;
        let many = rounds(ROUNDS).await;
        println!(
            "peak over 1 round +{} KiB, over {ROUNDS} rounds +{} KiB",
            one / 1024,
            many / 1024
        );
        assert!(
            many <= one + GROWTH_BOUND,
            "the heap grew: peak {many} bytes over {ROUNDS} rounds, {one} over one"
        );
    });
}
