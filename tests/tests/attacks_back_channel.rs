//! The attack suite for the layer's newer paths (issue 10): the
//! HTTP-Artifact binding (`/saml/artifact`, `ArtifactResolve` over SOAP at
//! the IdP's resolution service), front-channel Single Logout (`/saml/slo`
//! on HTTP-Redirect and HTTP-POST, `/saml/logout`) and back-channel logout
//! (`/saml/slo/soap`). Each case names its source (specification section,
//! CVE or published research) and is judged through the layer in process:
//!
//! - a refusal carries the listed status and error code (on the SOAP
//!   endpoint: a SOAP 1.1 `Client` fault whose string starts with the code;
//!   SOAP 1.1 sends every fault with HTTP 500), never another 500, never a
//!   panic;
//! - no refusal sets a session cookie, and the attacker's browser stays
//!   anonymous;
//! - every session that is not the genuine target of the message is still
//!   alive afterwards (Alice and Bob at provider `idp`, Alice at provider
//!   `other`);
//! - the application behind the layer is never reached.
//!
//! XML signatures of the messages the attacks start from are made twice,
//! by our signer and by `xmlsec1`; HTTP-Redirect query signatures by our
//! `SigningKey` and by the `openssl dgst -sign` CLI. Controls (the genuine
//! message, accepted) run in every family, so that a refusal is the
//! attack's doing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../src/attacks/back_channel.rs"]
mod back_channel;
#[allow(dead_code)]
#[path = "../src/attacks/kit.rs"]
mod kit;
#[allow(dead_code)]
#[path = "../src/attacks/layer.rs"]
mod layer;

use std::sync::Arc;

use chrono::Duration;
use http::header::{CONTENT_TYPE, ORIGIN};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use saml_core::ErrorCode;
use saml_core::binding::{SOAP_ACTION, soap_envelope};
use saml_core::clock::{Clock, format_datetime};
use saml_core::crypto::SignatureAlgorithm;
use saml_core::protocol::{
    Artifact, ArtifactResponse, LogoutRequest, LogoutRequestBuilder, LogoutResponse, NameId,
};
use saml_core::store::ResponseBinding;
use saml_remote::{HttpError, HttpErrorKind, HttpResponse};
use saml_store_memory::MemoryStore;

use back_channel::{
    A, A_ARS, A_ARS2, A_SLO, B, B_ARS, B_ENTITY, B_SLO, FakeArs, METADATA_ARS, PLAIN_ENTITY, Query,
    Seen, artifact_url, clock_of, providers, sign_in, signed_response, slo_url, soap_ok, soap_url,
};
use kit::{ALICE, KeyPair, SIGNERS, Signer, b64, keys, sign, signature_of};
use layer::{BASE, Browser, IDP_ENTITY, Node, Reply, TestClock, form_body, percent};

use ErrorCode::{
    AlgorithmForbidden, DecryptionFailed, DestinationMismatch, DigestMismatch, DtdForbidden,
    DuplicateId, Expired, InResponseToMismatch, InputTooLarge, IssuerMismatch, MalformedXml,
    NotYetValid, ReferenceMismatch, Replayed, SignatureInvalid, SignatureMissing, StatusNotSuccess,
    StoreUnavailable, UnknownProvider, UnsupportedEncoding, UntrustedKey,
};

const BOB: &str = "bob@example.com";
/// A principal with no session: genuine messages naming her end nothing.
const CAROL: &str = "carol@example.com";

const RSA_SHA256: SignatureAlgorithm = SignatureAlgorithm::RsaSha256;

/// Every refusal a wrapping attempt may legitimately end in.
const WRAPPING: &[ErrorCode] = &[
    SignatureInvalid,
    DigestMismatch,
    ReferenceMismatch,
    DuplicateId,
    SignatureMissing,
];
/// A signature by a key the provider does not trust.
const FOREIGN_KEY: &[ErrorCode] = &[UntrustedKey, SignatureInvalid];

// ====================================================================
// Judging
// ====================================================================

/// What must happen to a case.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Refused with this status and one of these codes.
    Refused(StatusCode, &'static [ErrorCode]),
    /// On the SOAP endpoint: a SOAP `Client` fault with one of these codes.
    Fault(&'static [ErrorCode]),
    /// The genuine message (a control): accepted.
    Accepted,
}

const fn bad(codes: &'static [ErrorCode]) -> Want {
    Want::Refused(StatusCode::BAD_REQUEST, codes)
}

/// The code of a SOAP fault written by the layer (`<faultstring>code: ...`).
fn fault_code(reply: &Reply) -> Option<String> {
    let start = reply.body.find("<faultstring>")? + "<faultstring>".len();
    let rest = &reply.body[start..];
    Some(rest[..rest.find(':')?].to_owned())
}

/// Judges one reply; `None` when it meets `want`.
fn judge(reply: &Reply, want: Want) -> Option<String> {
    if reply.sets_session() && !matches!(want, Want::Accepted) {
        return Some(format!("the reply sets a session: {reply:?}"));
    }
    match want {
        Want::Accepted => {
            if reply.status.is_success() || reply.status.is_redirection() {
                None
            } else {
                Some(format!("the genuine message was refused: {reply:?}"))
            }
        }
        Want::Refused(status, codes) => {
            if reply.status == StatusCode::INTERNAL_SERVER_ERROR {
                return Some(format!("500: {reply:?}"));
            }
            if reply.status != status {
                return Some(format!(
                    "status {} instead of {status}: {reply:?}",
                    reply.status
                ));
            }
            match reply.code() {
                Some(code) if codes.iter().any(|c| c.as_str() == code) => None,
                other => Some(format!(
                    "code {other:?}, wanted one of {codes:?}: {reply:?}"
                )),
            }
        }
        Want::Fault(codes) => {
            let client = reply
                .body
                .contains("<faultcode>SOAP-ENV:Client</faultcode>");
            let is_xml = reply
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/xml"));
            let code = fault_code(reply);
            if reply.status == StatusCode::INTERNAL_SERVER_ERROR
                && client
                && is_xml
                && code
                    .as_deref()
                    .is_some_and(|c| codes.iter().any(|w| w.as_str() == c))
            {
                None
            } else {
                Some(format!(
                    "not a Client fault with one of {codes:?}: {reply:?}"
                ))
            }
        }
    }
}

/// Every error code the cases expect, for the self-check below.
const ALL_CODES: &[ErrorCode] = &[
    AlgorithmForbidden,
    DecryptionFailed,
    DestinationMismatch,
    DigestMismatch,
    DtdForbidden,
    DuplicateId,
    Expired,
    InResponseToMismatch,
    InputTooLarge,
    IssuerMismatch,
    MalformedXml,
    NotYetValid,
    ReferenceMismatch,
    Replayed,
    SignatureInvalid,
    SignatureMissing,
    StatusNotSuccess,
    StoreUnavailable,
    UnknownProvider,
    UnsupportedEncoding,
    UntrustedKey,
];

/// Judges `reply` against `want`, and checks that the same reply fails the
/// opposite expectations (acceptance, or every other code), so that no
/// case can pass vacuously.
fn judge_strict(reply: &Reply, want: Want) -> Option<String> {
    let verdict = judge(reply, want);
    if verdict.is_some() {
        return verdict;
    }
    let leak = |codes: &[ErrorCode]| -> &'static [ErrorCode] {
        let others: Vec<ErrorCode> = ALL_CODES
            .iter()
            .copied()
            .filter(|c| !codes.contains(c))
            .collect();
        others.leak()
    };
    let opposites = match want {
        Want::Refused(status, codes) => vec![Want::Accepted, Want::Refused(status, leak(codes))],
        Want::Fault(codes) => vec![Want::Accepted, Want::Fault(leak(codes))],
        Want::Accepted => vec![
            Want::Refused(StatusCode::BAD_REQUEST, ALL_CODES),
            Want::Fault(ALL_CODES),
        ],
    };
    opposites
        .into_iter()
        .find(|o| judge(reply, *o).is_none())
        .map(|o| format!("the reply also passes as {o:?}: the case cannot fail"))
}

/// Collects failures and reports them all at once.
#[derive(Default)]
struct Verdicts(Vec<String>);

impl Verdicts {
    fn check(&mut self, case: &str, source: &str, signer: Signer, problem: Option<String>) {
        if let Some(p) = problem {
            self.0.push(format!("[{signer:?}] {case} ({source}): {p}"));
        }
    }

    fn finish(self, total: usize) {
        assert!(
            self.0.is_empty(),
            "{} of {total} case runs failed:\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
        eprintln!("{total} case runs passed");
    }
}

// ====================================================================
// The SLO world: two IdPs, three victims
// ====================================================================

/// A node trusting the suite's providers, with three sessions the attacks
/// must not end: Alice and Bob at `idp`, Alice at `other`.
struct World {
    node: Node,
    alice_a: Browser,
    bob_a: Browser,
    alice_b: Browser,
}

/// Names of the victims, for the cases that legitimately end one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    AliceA,
    BobA,
    AliceB,
}

impl World {
    async fn new() -> Self {
        Self::with(|_, _| {}).await
    }

    async fn with(settings: impl Fn(&str, &mut saml_core::store::ProviderSettings)) -> Self {
        let node = Node::with_providers(
            MemoryStore::new(),
            TestClock::new(),
            providers(settings),
            |b| b,
        );
        let alice_a = sign_in(&node, A, ALICE).await;
        let bob_a = sign_in(&node, A, BOB).await;
        let alice_b = sign_in(&node, B, ALICE).await;
        Self {
            node,
            alice_a,
            bob_a,
            alice_b,
        }
    }

    /// Which victims are still signed in.
    async fn alive(&mut self) -> Vec<Victim> {
        let mut out = Vec::new();
        if self.alice_a.whoami(&self.node).await.is_some() {
            out.push(Victim::AliceA);
        }
        if self.bob_a.whoami(&self.node).await.is_some() {
            out.push(Victim::BobA);
        }
        if self.alice_b.whoami(&self.node).await.is_some() {
            out.push(Victim::AliceB);
        }
        out
    }

    /// Delivers `d` from a fresh (attacker's or IdP's) browser.
    async fn deliver(&self, d: &Delivery) -> Reply {
        let mut browser = Browser::default();
        match d {
            Delivery::Get(uri) => browser.get(&self.node, uri).await,
            Delivery::Post(body) => {
                browser
                    .post_form(&self.node, "/saml/slo", body.clone())
                    .await
            }
            Delivery::Soap(body) => soap(&self.node, body.clone()).await,
        }
    }
}

async fn soap(node: &Node, body: impl Into<bytes::Bytes>) -> Reply {
    node.send(
        Request::post("/saml/slo/soap")
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("soapaction", SOAP_ACTION)
            .body(Full::new(body.into()))
            .unwrap(),
    )
    .await
}

/// One message to the layer.
#[derive(Debug, Clone)]
enum Delivery {
    /// `GET` of this URI (HTTP-Redirect).
    Get(String),
    /// `POST /saml/slo` with this form body (HTTP-POST).
    Post(String),
    /// `POST /saml/slo/soap` with this SOAP body.
    Soap(Vec<u8>),
}

/// A logout case: `build` returns the deliveries; all but the last are
/// preparation (they must be accepted), the last is judged.
struct SloCase {
    name: &'static str,
    source: &'static str,
    build: fn(&Node, Signer) -> Vec<Delivery>,
    want: Want,
    /// The victims whose sessions the (genuine) message ends.
    ends: &'static [Victim],
}

const fn case(
    name: &'static str,
    source: &'static str,
    build: fn(&Node, Signer) -> Vec<Delivery>,
    want: Want,
) -> SloCase {
    SloCase {
        name,
        source,
        build,
        want,
        ends: &[],
    }
}

async fn run_slo_cases(cases: &[SloCase]) {
    let mut verdicts = Verdicts::default();
    let mut total = 0;
    for signer in SIGNERS {
        for c in cases {
            total += 1;
            let mut world = World::new().await;
            let deliveries = (c.build)(&world.node, signer);
            let (last, before) = deliveries.split_last().expect("a delivery");
            let mut problem = None;
            for d in before {
                let r = world.deliver(d).await;
                if !(r.status.is_success() || r.status.is_redirection()) {
                    problem = Some(format!("the preparation was refused: {r:?}"));
                }
            }
            let calls = world.node.calls();
            let reply = world.deliver(last).await;
            problem = problem.or_else(|| judge_strict(&reply, c.want));
            if problem.is_none() && world.node.calls() != calls {
                problem = Some("the application was reached".to_owned());
            }
            if problem.is_none() {
                let alive = world.alive().await;
                let expected: Vec<Victim> = [Victim::AliceA, Victim::BobA, Victim::AliceB]
                    .into_iter()
                    .filter(|v| !c.ends.contains(v))
                    .collect();
                if alive != expected {
                    problem = Some(format!(
                        "sessions alive afterwards: {alive:?}, expected {expected:?}"
                    ));
                }
            }
            verdicts.check(c.name, c.source, signer, problem);
        }
    }
    verdicts.finish(total);
}

// ---------------------------------------------------------------- messages

fn name_id(value: &str) -> NameId {
    NameId {
        value: value.to_owned(),
        format: None,
        name_qualifier: None,
        sp_name_qualifier: None,
    }
}

/// An unsigned LogoutRequest from `issuer` to `destination` for `who`,
/// the builder adjusted by `tweak`: (ID, XML).
fn request_to(
    node: &Node,
    issuer: &str,
    destination: &str,
    who: &str,
    tweak: impl FnOnce(LogoutRequestBuilder) -> LogoutRequestBuilder,
) -> (String, String) {
    let request = tweak(LogoutRequest::builder(issuer, destination, name_id(who)))
        .build(&node.clock)
        .unwrap();
    (request.id().to_owned(), request.to_xml())
}

/// A LogoutRequest from provider `idp` to our front-channel SLO URL.
fn request(node: &Node, who: &str) -> (String, String) {
    request_to(node, IDP_ENTITY, &slo_url(), who, |b| b)
}

/// The Redirect query of `xml`, signed by `key` with `algorithm`.
fn redirect(xml: &str, signer: Signer, key: &KeyPair, algorithm: SignatureAlgorithm) -> Query {
    Query::message("SAMLRequest", xml, Some("rs")).signed(signer, key, algorithm)
}

/// The Redirect query of `xml`, signed by provider `idp`.
fn redirect_a(xml: &str, signer: Signer) -> Query {
    redirect(xml, signer, &keys().idp, RSA_SHA256)
}

fn get(q: &Query) -> Vec<Delivery> {
    vec![Delivery::Get(q.uri())]
}

/// `xml` signed (enveloped) by `key`.
fn xml_signed(signer: Signer, xml: &str, id: &str, key: &KeyPair) -> String {
    sign(signer, xml, id, key)
}

fn post(xml: &str) -> Delivery {
    Delivery::Post(form_body(&[
        ("SAMLRequest", &b64(xml)),
        ("RelayState", "rs"),
    ]))
}

/// The POST delivery of a LogoutRequest signed by provider `idp`.
fn post_signed(node: &Node, who: &str, signer: Signer) -> Vec<Delivery> {
    let (id, xml) = request(node, who);
    vec![post(&xml_signed(signer, &xml, &id, &keys().idp))]
}

fn insert_after(xml: &str, marker: &str, insert: &str) -> String {
    kit::insert_after_first(xml, marker, insert)
}

// ====================================================================
// SLO front channel, HTTP-Redirect
// ====================================================================

const REDIRECT_CASES: &[SloCase] = &[
    SloCase {
        name: "control: a genuine signed LogoutRequest ends exactly that principal's sessions at that IdP",
        source: "SAML 2.0 Profiles 4.4.4.1 / Bindings 3.4.4.1",
        build: |n, s| get(&redirect_a(&request(n, ALICE).1, s)),
        want: Want::Accepted,
        ends: &[Victim::AliceA],
    },
    SloCase {
        name: "LogoutRequest from provider B naming a NameID that also signed in at A ends only B's session",
        source: "SAML 2.0 Core 3.7.3.1 (the request names a principal of its issuer); NameID scoping, Profiles 8.3",
        build: |n, s| {
            let (_, xml) = request_to(n, B_ENTITY, &slo_url(), ALICE, |b| b);
            get(&redirect(&xml, s, &keys().attacker, RSA_SHA256))
        },
        want: Want::Accepted,
        ends: &[Victim::AliceB],
    },
    case(
        "unsigned LogoutRequest while signatures are required",
        "SAML 2.0 Profiles 4.4.3.3 (the request MUST be authenticated); CVE-2022-39299 class (unauthenticated SLO)",
        |n, _| {
            get(&Query::message(
                "SAMLRequest",
                &request(n, ALICE).1,
                Some("rs"),
            ))
        },
        bad(&[SignatureMissing]),
    ),
    case(
        "SigAlg without Signature",
        "SAML 2.0 Bindings 3.4.4.1 (both or neither); half-signed queries",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.remove("Signature");
            get(&q)
        },
        bad(&[SignatureMissing]),
    ),
    case(
        "Signature without SigAlg",
        "SAML 2.0 Bindings 3.4.4.1",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.remove("SigAlg");
            get(&q)
        },
        bad(&[SignatureMissing]),
    ),
    case(
        "empty Signature value",
        "signature exclusion (Somorovsky et al., On Breaking SAML, 2012)",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.set("Signature", "");
            get(&q)
        },
        bad(&[SignatureMissing]),
    ),
    case(
        "signature bytes flipped",
        "SAML 2.0 Bindings 3.4.4.1; CWE-347",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            let sig = percent_decode(q.get("Signature"));
            let mut raw = base64_decode(&sig);
            raw[10] ^= 0x01;
            q.set("Signature", &percent(&base64_encode(&raw)));
            get(&q)
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "Signature that is not base64",
        "SAML 2.0 Bindings 3.4.4.1",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.set("Signature", "%%%not-base64");
            get(&q)
        },
        bad(&[SignatureInvalid, MalformedXml]),
    ),
    case(
        "SigAlg changed from RSA-SHA256 to RSA-SHA512 after signing",
        "SAML 2.0 Bindings 3.4.4.1 (SigAlg is part of the signed octets); algorithm substitution",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.set("SigAlg", &percent(SignatureAlgorithm::RsaSha512.uri()));
            get(&q)
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "SigAlg changed to RSA-SHA1 after signing",
        "algorithm downgrade; XML Signature Best Practices (W3C Note 2013) 2.x on SHA-1",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.set("SigAlg", &percent(SignatureAlgorithm::RsaSha1.uri()));
            get(&q)
        },
        bad(&[AlgorithmForbidden]),
    ),
    case(
        "genuinely signed with RSA-SHA1 while SHA-1 is not allowed",
        "SHAttered (Stevens et al., 2017); NIST SP 800-131A Rev. 2",
        |n, s| {
            get(&redirect(
                &request(n, ALICE).1,
                s,
                &keys().idp,
                SignatureAlgorithm::RsaSha1,
            ))
        },
        bad(&[AlgorithmForbidden]),
    ),
    case(
        "SigAlg HMAC-SHA1 (a MAC keyed with public data)",
        "CVE-2009-0217 (HMAC truncation); xml-crypto GHSA-c27r-x354-4m68 (HMAC with the public key)",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.set(
                "SigAlg",
                &percent("http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
            );
            get(&q)
        },
        bad(&[AlgorithmForbidden]),
    ),
    case(
        "parameters signed in another order than the binding's (RelayState first)",
        "SAML 2.0 Bindings 3.4.4.1 (fixed order SAMLRequest, RelayState, SigAlg)",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let full = Query::message("SAMLRequest", &xml, Some("rs"));
            let mut q = Query(vec![full.0[1].clone(), full.0[0].clone()]);
            q = q.signed(s, &keys().idp, RSA_SHA256);
            get(&q)
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "a second SAMLRequest (the attacker's) after the signed one",
        "HTTP parameter pollution (OWASP); duplicate-parameter confusion in SAML Redirect verifiers",
        |n, s| {
            let mut q = redirect_a(&request(n, CAROL).1, s);
            let evil = Query::message("SAMLRequest", &request(n, ALICE).1, None);
            q.push("SAMLRequest", evil.get("SAMLRequest"));
            get(&q)
        },
        bad(&[MalformedXml, SignatureInvalid]),
    ),
    case(
        "a second SAMLRequest (the attacker's) before the signed one",
        "HTTP parameter pollution (OWASP)",
        |n, s| {
            let q = redirect_a(&request(n, CAROL).1, s);
            let evil = Query::message("SAMLRequest", &request(n, ALICE).1, None);
            let mut pairs = vec![("SAMLRequest".to_owned(), evil.get("SAMLRequest").to_owned())];
            pairs.extend(q.0);
            get(&Query(pairs))
        },
        bad(&[MalformedXml, SignatureInvalid]),
    ),
    case(
        "a second Signature parameter",
        "HTTP parameter pollution (OWASP)",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.push("Signature", "AAAA");
            get(&q)
        },
        bad(&[MalformedXml, SignatureInvalid]),
    ),
    case(
        "a second SigAlg parameter",
        "HTTP parameter pollution (OWASP)",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.push("SigAlg", &percent(SignatureAlgorithm::RsaSha1.uri()));
            get(&q)
        },
        bad(&[MalformedXml, SignatureInvalid]),
    ),
    case(
        "a second RelayState parameter",
        "HTTP parameter pollution (OWASP)",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.push("RelayState", "https%3A%2F%2Fevil.example%2F");
            get(&q)
        },
        bad(&[MalformedXml, SignatureInvalid]),
    ),
    case(
        "SAMLRequest given as an encoded parameter name (SAML%52equest) twice",
        "parameter-name decoding differentials between parser and verifier",
        |n, s| {
            let mut q = redirect_a(&request(n, CAROL).1, s);
            let evil = Query::message("SAMLRequest", &request(n, ALICE).1, None);
            q.push("SAML%52equest", evil.get("SAMLRequest"));
            get(&q)
        },
        bad(&[MalformedXml, SignatureInvalid]),
    ),
    case(
        "RelayState altered after signing",
        "SAML 2.0 Bindings 3.4.4.1 (RelayState is signed)",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.set("RelayState", "elsewhere");
            get(&q)
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "RelayState removed after signing",
        "SAML 2.0 Bindings 3.4.4.1",
        |n, s| {
            let mut q = redirect_a(&request(n, ALICE).1, s);
            q.remove("RelayState");
            get(&q)
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "RelayState added to a query signed without one",
        "SAML 2.0 Bindings 3.4.4.1",
        |n, s| {
            let q = Query::message("SAMLRequest", &request(n, ALICE).1, None).signed(
                s,
                &keys().idp,
                RSA_SHA256,
            );
            let mut pairs = vec![q.0[0].clone(), ("RelayState".to_owned(), "x".to_owned())];
            pairs.extend(q.0[1..].iter().cloned());
            get(&Query(pairs))
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "signature over another percent-encoding of the same values (lower-case hex), sent upper-case",
        "SAML 2.0 Bindings 3.4.4.1 (the signature covers the octets as sent, not re-encoded values)",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let mut q = Query::message("SAMLRequest", &xml, Some("r/s"));
            let lower: Vec<(String, String)> =
                q.0.iter().map(|(k, v)| (k.clone(), lower_hex(v))).collect();
            let mut signed = Query(lower);
            signed.push("SigAlg", &lower_hex(&percent(RSA_SHA256.uri())));
            let signature = back_channel::sign_octets(s, &signed.text(), &keys().idp, RSA_SHA256);
            q.push("SigAlg", &percent(RSA_SHA256.uri()));
            q.push("Signature", &percent(&signature));
            get(&q)
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "the message re-encoded (another DEFLATE of the same XML) under the old signature",
        "SAML 2.0 Bindings 3.4.4.1",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let mut q = redirect_a(&xml, s);
            let zlib = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 1);
            q.set("SAMLRequest", &percent(&base64_encode(&zlib)));
            get(&q)
        },
        bad(&[SignatureInvalid]),
    ),
    case(
        "signed by another configured provider's key, Issuer naming provider A",
        "key confusion across IdPs (CVE-2022-41912, crewjam/saml: assertions of one IdP accepted for another)",
        |n, s| {
            get(&redirect(
                &request(n, ALICE).1,
                s,
                &keys().attacker,
                RSA_SHA256,
            ))
        },
        bad(FOREIGN_KEY),
    ),
    case(
        "signed by a key in nobody's metadata",
        "SAML 2.0 Metadata 2.4.1.1 (keys come from metadata); CWE-347",
        |n, s| get(&redirect(&request(n, ALICE).1, s, &keys().sp, RSA_SHA256)),
        bad(FOREIGN_KEY),
    ),
    case(
        "an XML signature inside the redirected message by an untrusted key, no query signature",
        "SAML 2.0 Bindings 3.4.4.1 (XML signatures are removed on this binding; one that remains must verify)",
        |n, s| {
            let (id, xml) = request(n, ALICE);
            let signed = xml_signed(s, &xml, &id, &keys().sp);
            get(&Query::message("SAMLRequest", &signed, Some("rs")))
        },
        bad(FOREIGN_KEY),
    ),
    case(
        "NotOnOrAfter passed",
        "SAML 2.0 Core 3.7.1 (NotOnOrAfter of the LogoutRequest)",
        |n, s| {
            let at = n.clock.now() - Duration::minutes(1);
            let (_, xml) = request_to(n, IDP_ENTITY, &slo_url(), ALICE, |b| b.not_on_or_after(at));
            get(&redirect_a(&xml, s))
        },
        bad(&[Expired]),
    ),
    case(
        "IssueInstant ten minutes old (captured and delayed)",
        "SAML 2.0 Core 3.2.2 (IssueInstant); replay window limits",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let old = format_datetime(n.clock.now() - Duration::minutes(10));
            let xml = retime(&xml, &old);
            get(&redirect_a(&xml, s))
        },
        bad(&[Expired]),
    ),
    case(
        "IssueInstant an hour in the future (pre-signed for later)",
        "SAML 2.0 Core 3.2.2",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let later = format_datetime(n.clock.now() + Duration::hours(1));
            get(&redirect_a(&retime(&xml, &later), s))
        },
        bad(&[NotYetValid]),
    ),
    case(
        "Destination another SP's SLO URL",
        "SAML 2.0 Bindings 3.4.5.2 (Destination MUST be checked); message forwarding between SPs",
        |n, s| {
            let (_, xml) = request_to(
                n,
                IDP_ENTITY,
                "https://other-sp.example/saml/slo",
                ALICE,
                |b| b,
            );
            get(&redirect_a(&xml, s))
        },
        bad(&[DestinationMismatch]),
    ),
    case(
        "Destination our SOAP (back-channel) endpoint",
        "SAML 2.0 Bindings 3.4.5.2",
        |n, s| {
            let (_, xml) = request_to(n, IDP_ENTITY, &soap_url(), ALICE, |b| b);
            get(&redirect_a(&xml, s))
        },
        bad(&[DestinationMismatch]),
    ),
    case(
        "signed LogoutRequest without Destination",
        "SAML 2.0 Bindings 3.4.5.2 (a signed message MUST carry Destination)",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let xml = xml.replacen(&format!(r#" Destination="{}""#, slo_url()), "", 1);
            get(&redirect_a(&xml, s))
        },
        bad(&[DestinationMismatch]),
    ),
    case(
        "Issuer of an IdP nobody configured",
        "SAML 2.0 Core 3.2.1 (Issuer); unknown-issuer handling",
        |n, s| {
            let (_, xml) = request_to(n, "https://evil.example/idp", &slo_url(), ALICE, |b| b);
            get(&redirect(&xml, s, &keys().sp, RSA_SHA256))
        },
        Want::Refused(StatusCode::NOT_FOUND, &[UnknownProvider]),
    ),
    case(
        "no Issuer",
        "SAML 2.0 Core 3.2.1",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let issuer = kit::element(&xml, "<saml:Issuer", "</saml:Issuer>").to_owned();
            get(&redirect_a(&xml.replacen(&issuer, "", 1), s))
        },
        bad(&[IssuerMismatch]),
    ),
    case(
        "replayed: the same signed request twice",
        "SAML 2.0 Core 3.7.3.1 / Profiles 4.4.3.3 (one-time use); replay (CWE-294)",
        |n, s| {
            let q = redirect_a(&request(n, CAROL).1, s);
            vec![Delivery::Get(q.uri()), Delivery::Get(q.uri())]
        },
        bad(&[Replayed]),
    ),
    case(
        "replayed across bindings: the same request ID on Redirect, then on POST",
        "SAML 2.0 Core 3.7.3.1; replay (CWE-294)",
        |n, s| {
            let (id, xml) = request(n, CAROL);
            let first = redirect_a(&xml, s);
            let second = xml_signed(s, &xml, &id, &keys().idp);
            vec![Delivery::Get(first.uri()), post(&second)]
        },
        bad(&[Replayed]),
    ),
    case(
        "two NameIDs (Carol's first, Alice's second)",
        "SAML 2.0 Core 3.7.1 (exactly one identifier)",
        |n, s| {
            let (_, xml) = request(n, CAROL);
            let xml = insert_after(
                &xml,
                "</saml:NameID>",
                &format!("<saml:NameID>{ALICE}</saml:NameID>"),
            );
            get(&redirect_a(&xml, s))
        },
        bad(&[MalformedXml]),
    ),
    case(
        "EncryptedID (not supported) instead of a NameID",
        "SAML 2.0 Core 3.7.1",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let nid = kit::element(&xml, "<saml:NameID", "</saml:NameID>").to_owned();
            let xml = xml.replacen(&nid, "<saml:EncryptedID><x/></saml:EncryptedID>", 1);
            get(&redirect_a(&xml, s))
        },
        bad(&[DecryptionFailed]),
    ),
    case(
        "NameID with a comment splitting the value (alice@example.com<!---->.evil)",
        "CVE-2017-11427 family (Duo Labs, 2018): text truncated at comments",
        |n, s| {
            let (_, xml) = request(n, "placeholder@example.com");
            let xml = xml.replacen(
                "placeholder@example.com",
                &format!("{ALICE}<!---->.evil.test"),
                1,
            );
            get(&redirect_a(&xml, s))
        },
        // The full text is `alice@example.com.evil.test`: nobody's session.
        Want::Accepted,
    ),
    case(
        "DOCTYPE with an entity in the redirected message",
        "XXE (OWASP); CVE-2017-1000452 class; SAML 2.0 Bindings 3.4.4 (no DTD)",
        |n, s| {
            let (_, xml) = request(n, ALICE);
            let xml = format!(r#"<!DOCTYPE x [<!ENTITY e "{ALICE}">]>{xml}"#);
            get(&redirect_a(&xml, s))
        },
        bad(&[DtdForbidden]),
    ),
    case(
        "DEFLATE bomb in SAMLRequest",
        "decompression bombs (CWE-409)",
        |_, _| {
            let bomb = miniz_oxide::deflate::compress_to_vec(&vec![b' '; 20 << 20], 9);
            get(&Query(vec![(
                "SAMLRequest".to_owned(),
                percent(&base64_encode(&bomb)),
            )]))
        },
        Want::Refused(StatusCode::PAYLOAD_TOO_LARGE, &[InputTooLarge]),
    ),
];

#[tokio::test(flavor = "current_thread")]
async fn slo_redirect_attacks_are_refused() {
    run_slo_cases(REDIRECT_CASES).await;
}

// ====================================================================
// SLO front channel, HTTP-POST
// ====================================================================

const POST_CASES: &[SloCase] = &[
    SloCase {
        name: "control: a genuine signed LogoutRequest over POST",
        source: "SAML 2.0 Bindings 3.5",
        build: |n, s| post_signed(n, ALICE, s),
        want: Want::Accepted,
        ends: &[Victim::AliceA],
    },
    case(
        "unsigned LogoutRequest over POST while signatures are required",
        "SAML 2.0 Profiles 4.4.3.3; Bindings 3.5.5.2",
        |n, _| vec![post(&request(n, ALICE).1)],
        bad(&[SignatureMissing]),
    ),
    case(
        "signed for Carol, NameID changed to Alice",
        "CWE-347; XML-DSig digest check",
        |n, s| {
            let (id, xml) = request(n, CAROL);
            let signed = xml_signed(s, &xml, &id, &keys().idp);
            vec![post(&signed.replacen(CAROL, ALICE, 1))]
        },
        bad(&[DigestMismatch]),
    ),
    case(
        "signed for Carol, a second NameID (Alice) appended",
        "SAML 2.0 Core 3.7.1; CWE-347",
        |n, s| {
            let (id, xml) = request(n, CAROL);
            let signed = xml_signed(s, &xml, &id, &keys().idp);
            vec![post(&insert_after(
                &signed,
                "</saml:NameID>",
                &format!("<saml:NameID>{ALICE}</saml:NameID>"),
            ))]
        },
        bad(&[DigestMismatch, MalformedXml]),
    ),
    case(
        "XSW: the attacker's request (Alice) carries the genuine signature (Carol's), referencing a missing ID",
        "XSW1 (Somorovsky et al., On Breaking SAML, USENIX Security 2012)",
        |n, s| {
            let (gid, gxml) = request(n, CAROL);
            let genuine = xml_signed(s, &gxml, &gid, &keys().idp);
            let (_, evil) = request(n, ALICE);
            vec![post(&insert_after(
                &evil,
                "</saml:Issuer>",
                signature_of(&genuine),
            ))]
        },
        bad(WRAPPING),
    ),
    case(
        "XSW: the genuine signed request inside the signature's Object of the attacker's request",
        "XSW1 variant (Somorovsky et al. 2012)",
        |n, s| {
            let (gid, gxml) = request(n, CAROL);
            let genuine = xml_signed(s, &gxml, &gid, &keys().idp);
            let (_, evil) = request(n, ALICE);
            let sig = signature_of(&genuine);
            let wrapped_sig = sig.replacen(
                "</ds:Signature>",
                &format!("<ds:Object>{genuine}</ds:Object></ds:Signature>"),
                1,
            );
            vec![post(&insert_after(&evil, "</saml:Issuer>", &wrapped_sig))]
        },
        bad(WRAPPING),
    ),
    case(
        "XSW: the genuine signed request in the Extensions of the attacker's unsigned request",
        "XSW2 (Somorovsky et al. 2012)",
        |n, s| {
            let (gid, gxml) = request(n, CAROL);
            let genuine = xml_signed(s, &gxml, &gid, &keys().idp);
            let (_, evil) = request(n, ALICE);
            vec![post(&insert_after(
                &evil,
                "</saml:Issuer>",
                &format!("<samlp:Extensions>{genuine}</samlp:Extensions>"),
            ))]
        },
        bad(WRAPPING),
    ),
    case(
        "XSW: the attacker's request takes the genuine ID and signature, the genuine request in Extensions",
        "XSW3/XSW4 (Somorovsky et al. 2012); duplicate IDs",
        |n, s| {
            let (gid, gxml) = request(n, CAROL);
            let genuine = xml_signed(s, &gxml, &gid, &keys().idp);
            let (eid, evil) = request(n, ALICE);
            let evil = evil.replacen(&eid, &gid, 1);
            let evil = insert_after(&evil, "</saml:Issuer>", signature_of(&genuine));
            let genuine_inner = genuine.replacen(signature_of(&genuine), "", 1);
            vec![post(&insert_after(
                &evil,
                "</ds:Signature>",
                &format!("<samlp:Extensions>{genuine_inner}</samlp:Extensions>"),
            ))]
        },
        bad(WRAPPING),
    ),
    case(
        "XSW: a signed request (Carol) with the attacker's NameID hidden in Extensions",
        "XSW7-style extension wrapping (Somorovsky et al. 2012)",
        |n, s| {
            let (gid, gxml) = request(n, CAROL);
            let genuine = xml_signed(s, &gxml, &gid, &keys().idp);
            vec![post(&insert_after(
                &genuine,
                "</ds:Signature>",
                &format!("<samlp:Extensions><saml:NameID>{ALICE}</saml:NameID></samlp:Extensions>"),
            ))]
        },
        bad(&[DigestMismatch]),
    ),
    case(
        "signed by an untrusted key, its certificate in KeyInfo",
        "certificate faking (Somorovsky et al. 2012); CVE-2016-5697 (ruby-saml)",
        |n, s| {
            let (id, xml) = request(n, ALICE);
            vec![post(&xml_signed(s, &xml, &id, &keys().sp))]
        },
        bad(FOREIGN_KEY),
    ),
    case(
        "signed by an untrusted key, the trusted IdP's certificate pasted into KeyInfo",
        "certificate faking (Somorovsky et al. 2012)",
        |n, s| {
            let (id, xml) = request(n, ALICE);
            let signed = xml_signed(s, &xml, &id, &keys().sp);
            vec![post(&signed.replacen(
                &keys().sp.cert_b64(),
                &keys().idp.cert_b64(),
                1,
            ))]
        },
        bad(FOREIGN_KEY),
    ),
    case(
        "signed by provider B's key, Issuer A",
        "key confusion across IdPs (CVE-2022-41912, crewjam/saml)",
        |n, s| {
            let (id, xml) = request(n, ALICE);
            vec![post(&xml_signed(s, &xml, &id, &keys().attacker))]
        },
        bad(FOREIGN_KEY),
    ),
    case(
        "the attacker's unsigned request in the first SAMLRequest field, a genuine one in the second",
        "HTTP parameter pollution (OWASP)",
        |n, s| {
            let (gid, gxml) = request(n, CAROL);
            let genuine = xml_signed(s, &gxml, &gid, &keys().idp);
            let (_, evil) = request(n, ALICE);
            vec![Delivery::Post(form_body(&[
                ("SAMLRequest", &b64(&evil)),
                ("SAMLRequest", &b64(&genuine)),
            ]))]
        },
        bad(&[SignatureMissing]),
    ),
    case(
        "SAMLRequest and SAMLResponse in one form",
        "SAML 2.0 Bindings 3.5.4 (one message per form)",
        |n, s| {
            let (id, xml) = request(n, ALICE);
            let genuine = xml_signed(s, &xml, &id, &keys().idp);
            vec![Delivery::Post(form_body(&[
                ("SAMLRequest", &b64(&genuine)),
                ("SAMLResponse", &b64(&genuine)),
            ]))]
        },
        bad(&[MalformedXml]),
    ),
    case(
        "NotOnOrAfter passed (POST)",
        "SAML 2.0 Core 3.7.1",
        |n, s| {
            let at = n.clock.now() - Duration::seconds(11);
            let (id, xml) = request_to(n, IDP_ENTITY, &slo_url(), ALICE, |b| b.not_on_or_after(at));
            vec![post(&xml_signed(s, &xml, &id, &keys().idp))]
        },
        bad(&[Expired]),
    ),
    case(
        "Destination another SP (POST)",
        "SAML 2.0 Bindings 3.5.5.2",
        |n, s| {
            let (id, xml) = request_to(n, IDP_ENTITY, "https://other-sp.example/slo", ALICE, |b| b);
            vec![post(&xml_signed(s, &xml, &id, &keys().idp))]
        },
        bad(&[DestinationMismatch]),
    ),
    case(
        "DOCTYPE with an external entity (POST)",
        "XXE (OWASP); CVE-2017-1000452 class",
        |n, _| {
            let (_, xml) = request(n, ALICE);
            let xml = format!(r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>{xml}"#)
                .replacen(ALICE, "&e;", 1);
            vec![post(&xml)]
        },
        bad(&[DtdForbidden]),
    ),
    case(
        "billion laughs (POST)",
        "CVE-2003-1564 class (entity expansion)",
        |n, _| {
            let (_, xml) = request(n, ALICE);
            let mut dtd = String::from(r#"<!DOCTYPE x [<!ENTITY a0 "ha">"#);
            for i in 1..10 {
                let prev = i - 1;
                dtd.push_str(&format!(r#"<!ENTITY a{i} "&a{prev};&a{prev};&a{prev};&a{prev};&a{prev};&a{prev};&a{prev};&a{prev};&a{prev};&a{prev};">"#));
            }
            dtd.push_str("]>");
            vec![post(&format!("{dtd}{}", xml.replacen(ALICE, "&a9;", 1)))]
        },
        bad(&[DtdForbidden]),
    ),
    case(
        "a POSTed SAMLRequest over the XML size limit",
        "bounded inputs (DESIGN.md 7.3); CWE-400",
        |n, _| {
            let (_, xml) = request(n, ALICE);
            let padded = xml.replacen(ALICE, &format!("{ALICE}{}", " ".repeat(1_100_000)), 1);
            vec![post(&padded)]
        },
        Want::Refused(StatusCode::PAYLOAD_TOO_LARGE, &[InputTooLarge]),
    ),
];

#[tokio::test(flavor = "current_thread")]
async fn slo_post_attacks_are_refused() {
    run_slo_cases(POST_CASES).await;
}

// ====================================================================
// SOAP back-channel logout
// ====================================================================

/// A LogoutRequest from provider `idp` to our SOAP endpoint.
fn soap_request(node: &Node, who: &str) -> (String, String) {
    request_to(node, IDP_ENTITY, &soap_url(), who, |b| b)
}

fn soap_signed(node: &Node, who: &str, signer: Signer) -> String {
    let (id, xml) = soap_request(node, who);
    xml_signed(signer, &xml, &id, &keys().idp)
}

fn soap_d(body: impl Into<Vec<u8>>) -> Delivery {
    Delivery::Soap(body.into())
}

fn in_soap(body: &str) -> Vec<Delivery> {
    vec![soap_d(soap_envelope(body))]
}

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

const SOAP_CASES: &[SloCase] = &[
    SloCase {
        name: "control: a genuine signed LogoutRequest over SOAP",
        source: "SAML 2.0 Bindings 3.2; Profiles 4.4.3.3",
        build: |n, s| in_soap(&soap_signed(n, ALICE, s)),
        want: Want::Accepted,
        ends: &[Victim::AliceA],
    },
    SloCase {
        name: "provider B's signed SOAP LogoutRequest for a NameID that also signed in at A",
        source: "SAML 2.0 Core 3.7.3.1; Profiles 8.3 (NameIDs are scoped by their issuer)",
        build: |n, s| {
            let (id, xml) = request_to(n, B_ENTITY, &soap_url(), ALICE, |b| b);
            in_soap(&xml_signed(s, &xml, &id, &keys().attacker))
        },
        want: Want::Accepted,
        ends: &[Victim::AliceB],
    },
    case(
        "missing signature",
        "SAML 2.0 Bindings 3.2.2.1 / Profiles 4.4.3.3 (the request MUST be authenticated)",
        |n, _| in_soap(&soap_request(n, ALICE).1),
        Want::Fault(&[SignatureMissing]),
    ),
    case(
        "signed by an untrusted key",
        "certificate faking (Somorovsky et al. 2012)",
        |n, s| {
            let (id, xml) = soap_request(n, ALICE);
            in_soap(&xml_signed(s, &xml, &id, &keys().sp))
        },
        Want::Fault(FOREIGN_KEY),
    ),
    case(
        "signed by provider B's key, Issuer A",
        "key confusion across IdPs (CVE-2022-41912, crewjam/saml)",
        |n, s| {
            let (id, xml) = soap_request(n, ALICE);
            in_soap(&xml_signed(s, &xml, &id, &keys().attacker))
        },
        Want::Fault(FOREIGN_KEY),
    ),
    case(
        "NameID changed after signing",
        "CWE-347",
        |n, s| in_soap(&soap_signed(n, CAROL, s).replacen(CAROL, ALICE, 1)),
        Want::Fault(&[DigestMismatch]),
    ),
    case(
        "XSW: the genuine signed request in the Extensions of the attacker's",
        "XSW2 (Somorovsky et al. 2012)",
        |n, s| {
            let genuine = soap_signed(n, CAROL, s);
            let (_, evil) = soap_request(n, ALICE);
            in_soap(&insert_after(
                &evil,
                "</saml:Issuer>",
                &format!("<samlp:Extensions>{genuine}</samlp:Extensions>"),
            ))
        },
        Want::Fault(WRAPPING),
    ),
    case(
        "XSW: the genuine signature copied into the attacker's request",
        "XSW1 (Somorovsky et al. 2012)",
        |n, s| {
            let genuine = soap_signed(n, CAROL, s);
            let (_, evil) = soap_request(n, ALICE);
            in_soap(&insert_after(
                &evil,
                "</saml:Issuer>",
                signature_of(&genuine),
            ))
        },
        Want::Fault(WRAPPING),
    ),
    case(
        "the genuine signed request in a SOAP Header, the attacker's unsigned one in the Body",
        "SOAP wrapping (McIntosh and Austel, XML Signature Element Wrapping Attacks, 2005)",
        |n, s| {
            let genuine = soap_signed(n, CAROL, s);
            let (_, evil) = soap_request(n, ALICE);
            vec![soap_d(format!(
                r#"<S:Envelope xmlns:S="{SOAP_ENV}"><S:Header>{genuine}</S:Header><S:Body>{evil}</S:Body></S:Envelope>"#
            ))]
        },
        Want::Fault(&[SignatureMissing]),
    ),
    case(
        "two Body children: the genuine signed request, then the attacker's",
        "SOAP wrapping (McIntosh and Austel 2005); SAML 2.0 Bindings 3.2.3 (one message in the Body)",
        |n, s| {
            let genuine = soap_signed(n, CAROL, s);
            let (_, evil) = soap_request(n, ALICE);
            in_soap(&format!("{genuine}{evil}"))
        },
        Want::Fault(&[MalformedXml]),
    ),
    case(
        "two Body children: the attacker's request, then the genuine signed one",
        "SOAP wrapping (McIntosh and Austel 2005)",
        |n, s| {
            let genuine = soap_signed(n, CAROL, s);
            let (_, evil) = soap_request(n, ALICE);
            in_soap(&format!("{evil}{genuine}"))
        },
        Want::Fault(&[MalformedXml]),
    ),
    case(
        "two Body elements",
        "SOAP 1.1 section 4 (one Body)",
        |n, s| {
            let genuine = soap_signed(n, CAROL, s);
            let (_, evil) = soap_request(n, ALICE);
            vec![soap_d(format!(
                r#"<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>{genuine}</S:Body><S:Body>{evil}</S:Body></S:Envelope>"#
            ))]
        },
        Want::Fault(&[MalformedXml]),
    ),
    case(
        "a Header entry with mustUnderstand",
        "SOAP 1.1 section 4.2.3",
        |n, s| {
            let genuine = soap_signed(n, ALICE, s);
            vec![soap_d(format!(
                r#"<S:Envelope xmlns:S="{SOAP_ENV}"><S:Header><x:Sec xmlns:x="urn:x" S:mustUnderstand="1"/></S:Header><S:Body>{genuine}</S:Body></S:Envelope>"#
            ))]
        },
        Want::Fault(&[MalformedXml]),
    ),
    case(
        "a SOAP 1.2 envelope",
        "SAML 2.0 Bindings 3.2.2 (SOAP 1.1)",
        |n, s| {
            let genuine = soap_signed(n, ALICE, s);
            vec![soap_d(format!(
                r#"<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>{genuine}</S:Body></S:Envelope>"#
            ))]
        },
        Want::Fault(&[MalformedXml]),
    ),
    case(
        "a SOAP Fault sent to us",
        "SOAP 1.1 section 4.4",
        |_, _| {
            in_soap(
                "<S:Fault xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><faultcode>S:Client</faultcode><faultstring>x</faultstring></S:Fault>",
            )
        },
        Want::Fault(&[StatusNotSuccess]),
    ),
    case(
        "a signed Response instead of a LogoutRequest",
        "message-type confusion (SAML 2.0 Bindings 3.2.3)",
        |n, s| {
            let xml = signed_response(n, A, ALICE, "_none", &back_channel::acs_url(), s);
            in_soap(&xml)
        },
        Want::Fault(&[MalformedXml]),
    ),
    case(
        "DOCTYPE with an internal entity before the envelope",
        "XXE (OWASP); SAML 2.0 Bindings 3.2 (SOAP forbids DTDs: SOAP 1.1 section 3)",
        |n, s| {
            let body = soap_envelope(&soap_signed(n, ALICE, s));
            vec![soap_d(format!(r#"<!DOCTYPE S [<!ENTITY e "x">]>{body}"#))]
        },
        Want::Fault(&[DtdForbidden]),
    ),
    case(
        "an external entity in the NameID",
        "XXE (OWASP)",
        |n, _| {
            let (_, xml) = soap_request(n, ALICE);
            let body = soap_envelope(&xml.replacen(ALICE, "&e;", 1));
            vec![soap_d(format!(
                r#"<!DOCTYPE S [<!ENTITY e SYSTEM "http://evil.example/x">]>{body}"#
            ))]
        },
        Want::Fault(&[DtdForbidden]),
    ),
    case(
        "an undeclared entity reference",
        "XML 1.0 4.1 (well-formedness)",
        |n, _| {
            let (_, xml) = soap_request(n, ALICE);
            in_soap(&xml.replacen(ALICE, "&e;", 1))
        },
        Want::Fault(&[DtdForbidden, MalformedXml]),
    ),
    case(
        "a body over the layer's 2 MiB cap",
        "bounded inputs (DESIGN.md 7.3); CWE-400",
        |n, s| {
            let genuine = soap_signed(n, ALICE, s);
            let pad = " ".repeat(3 << 20);
            vec![soap_d(format!("{}{pad}", soap_envelope(&genuine)))]
        },
        Want::Fault(&[InputTooLarge]),
    ),
    case(
        "a body under the layer's cap but over the 1 MiB XML limit",
        "bounded inputs (DESIGN.md 7.3)",
        |n, s| {
            let genuine = soap_signed(n, ALICE, s);
            let pad = format!("<!--{}-->", "x".repeat(1_200_000));
            vec![soap_d(soap_envelope(&format!("{pad}{genuine}")))]
        },
        Want::Fault(&[InputTooLarge]),
    ),
    case(
        "a body that is not UTF-8",
        "XML 1.0 4.3.3; encoding confusion",
        |_, _| vec![soap_d(vec![0xFF, 0xFE, b'<', 0, b'x', 0])],
        Want::Fault(&[UnsupportedEncoding, MalformedXml]),
    ),
    case(
        "Destination the front-channel SLO URL",
        "SAML 2.0 Bindings 3.2.3 / Core 3.2.1 (Destination)",
        |n, s| {
            let (id, xml) = request(n, ALICE);
            in_soap(&xml_signed(s, &xml, &id, &keys().idp))
        },
        Want::Fault(&[DestinationMismatch]),
    ),
    case(
        "NotOnOrAfter passed (SOAP)",
        "SAML 2.0 Core 3.7.1",
        |n, s| {
            let at = n.clock.now() - Duration::minutes(2);
            let (id, xml) =
                request_to(n, IDP_ENTITY, &soap_url(), ALICE, |b| b.not_on_or_after(at));
            in_soap(&xml_signed(s, &xml, &id, &keys().idp))
        },
        Want::Fault(&[Expired]),
    ),
    case(
        "replayed SOAP LogoutRequest",
        "SAML 2.0 Core 3.7.3.1; replay (CWE-294)",
        |n, s| {
            let body = soap_envelope(&soap_signed(n, CAROL, s));
            vec![soap_d(body.clone()), soap_d(body)]
        },
        Want::Fault(&[Replayed]),
    ),
];

#[tokio::test(flavor = "current_thread")]
async fn soap_logout_attacks_are_refused() {
    run_slo_cases(SOAP_CASES).await;
}

// ====================================================================
// LogoutResponse and open redirects
// ====================================================================

/// Alice (at `idp`) signs out here; returns the ID of the LogoutRequest
/// the SP sent to the IdP.
async fn start_logout(world: &mut World, return_to: &str) -> (String, Reply) {
    let req = world
        .alice_a
        .request(Method::POST, "/saml/logout")
        .header(ORIGIN, BASE)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(bytes::Bytes::from(form_body(&[(
            "return_to",
            return_to,
        )]))))
        .unwrap();
    let reply = world.alice_a.send(&world.node, req).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let location = reply.location().unwrap().to_owned();
    assert!(location.starts_with(&format!("{A_SLO}?")), "{location}");
    let (_, query) = location.split_once('?').unwrap();
    let xml = saml_core::binding::parse_redirect_query(query, &saml_core::Limits::default())
        .unwrap()
        .into_xml();
    let doc = saml_core::xml::Document::parse(&xml, &saml_core::Limits::default()).unwrap();
    (doc.root().attribute("ID").unwrap().to_owned(), reply)
}

/// A LogoutResponse from `issuer` answering `in_response_to`, on the
/// Redirect binding, signed by `key` when given.
fn logout_response(
    node: &Node,
    issuer: &str,
    in_response_to: &str,
    relay_state: Option<&str>,
    key: Option<&KeyPair>,
    signer: Signer,
) -> String {
    let response = LogoutResponse::builder(issuer, &slo_url(), in_response_to)
        .build(&node.clock)
        .unwrap();
    let q = Query::message("SAMLResponse", &response.to_xml(), relay_state);
    let q = match key {
        Some(k) => q.signed(signer, k, RSA_SHA256),
        None => q,
    };
    q.uri()
}

#[tokio::test(flavor = "current_thread")]
async fn logout_responses_that_answer_nothing_of_ours_are_refused() {
    // SAML 2.0 Core 3.7.3.2 and Profiles 4.4.4.2: a LogoutResponse answers
    // one LogoutRequest we sent (InResponseTo), from the IdP we sent it to,
    // to the browser that started it; anything else is refused, and never
    // spends the logout in progress.
    let mut verdicts = Verdicts::default();
    let mut total = 0;
    for signer in SIGNERS {
        type Build = fn(&Node, &str, Signer) -> String;
        let cases: &[(&str, &str, Build, StatusCode, &[ErrorCode])] = &[
            (
                "no logout in progress with that ID",
                "SAML 2.0 Core 3.7.3.2 / 3.2.2 (InResponseTo); unsolicited responses",
                |n, _, s| logout_response(n, IDP_ENTITY, "_never-sent", None, Some(&keys().idp), s),
                StatusCode::BAD_REQUEST,
                &[InResponseToMismatch],
            ),
            (
                "no InResponseTo at all",
                "SAML 2.0 Core 3.2.2",
                |n, _, s| {
                    let response = LogoutResponse::builder(IDP_ENTITY, &slo_url(), "_x")
                        .build(&n.clock)
                        .unwrap()
                        .to_xml()
                        .replacen(r#" InResponseTo="_x""#, "", 1);
                    Query::message("SAMLResponse", &response, None)
                        .signed(s, &keys().idp, RSA_SHA256)
                        .uri()
                },
                StatusCode::BAD_REQUEST,
                &[InResponseToMismatch],
            ),
            (
                "answering our request, but unsigned",
                "SAML 2.0 Profiles 4.4.4.2 (the response MUST be authenticated)",
                |n, id, s| logout_response(n, IDP_ENTITY, id, None, None, s),
                StatusCode::BAD_REQUEST,
                &[SignatureMissing],
            ),
            (
                "answering our request, signed by a stranger",
                "CWE-347",
                |n, id, s| logout_response(n, IDP_ENTITY, id, None, Some(&keys().sp), s),
                StatusCode::BAD_REQUEST,
                FOREIGN_KEY,
            ),
            (
                "answering our request to provider A, from provider B (signed by B)",
                "SAML 2.0 Core 3.2.2 (Issuer of the response is the recipient of the request)",
                |n, id, s| logout_response(n, B_ENTITY, id, None, Some(&keys().attacker), s),
                StatusCode::BAD_REQUEST,
                &[InResponseToMismatch],
            ),
        ];
        for (name, source, build, status, codes) in cases {
            total += 1;
            let mut world = World::new().await;
            let (id, _) = start_logout(&mut world, "/bye").await;
            let uri = build(&world.node, &id, signer);
            // Delivered in Alice's own browser (a cross-site GET the
            // attacker makes it send), so the browser binding holds.
            let reply = world.alice_a.get(&world.node, &uri).await;
            let mut problem = judge_strict(&reply, Want::Refused(*status, codes));
            if problem.is_none() {
                // The logout in progress is not spent: the IdP's genuine
                // answer still completes it, in Alice's browser.
                let genuine = logout_response(
                    &world.node,
                    IDP_ENTITY,
                    &id,
                    None,
                    Some(&keys().idp),
                    signer,
                );
                let done = world.alice_a.get(&world.node, &genuine).await;
                if done.status != StatusCode::SEE_OTHER || done.location() != Some("/bye") {
                    problem = Some(format!(
                        "the genuine LogoutResponse no longer completes the logout: {done:?}"
                    ));
                }
            }
            let alive = world.alive().await;
            if problem.is_none() && alive != [Victim::BobA, Victim::AliceB] {
                problem = Some(format!("sessions alive: {alive:?}"));
            }
            verdicts.check(name, source, signer, problem);
        }
    }
    verdicts.finish(total);
}

#[tokio::test(flavor = "current_thread")]
async fn a_forged_logout_response_cannot_spend_a_login_in_progress() {
    // Whoever learns a pending AuthnRequest ID (Referer, logs, a shared
    // screen) must not be able to cancel that login with a forged
    // LogoutResponse: the ACS puts a pending login back for any response
    // that does not complete it, and so must the SLO endpoint.
    // Source: SAML 2.0 Core 3.2.2 (InResponseTo); CWE-841.
    for signer in SIGNERS {
        let world = World::new().await;
        let mut browser = Browser::default();
        let request_id = browser.begin_login(&world.node, "idp=idp").await;
        let forged = logout_response(&world.node, IDP_ENTITY, &request_id, None, None, signer);
        let reply = Browser::default().get(&world.node, &forged).await;
        assert_eq!(
            judge(&reply, bad(&[InResponseToMismatch])),
            None,
            "{signer:?}"
        );
        let xml = signed_response(
            &world.node,
            A,
            BOB,
            &request_id,
            &back_channel::acs_url(),
            signer,
        );
        let done = browser.post_response(&world.node, &xml, None).await;
        assert!(
            done.sets_session(),
            "{signer:?}: the login was spent: {done:?}"
        );
        assert_eq!(browser.whoami(&world.node).await.as_deref(), Some(BOB));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_logout_response_from_another_browser_does_not_spend_the_logout() {
    // The pending logout is bound to the browser that started it (like the
    // login, against CSRF): the right response from the wrong browser is
    // refused and the user's own browser can still finish.
    // Source: SAML 2.0 Profiles 4.4.4.2; login CSRF analogue (Bursztein et
    // al. / OWASP CSRF); CWE-352.
    for signer in SIGNERS {
        let mut world = World::new().await;
        let (id, _) = start_logout(&mut world, "/bye").await;
        let genuine = logout_response(
            &world.node,
            IDP_ENTITY,
            &id,
            None,
            Some(&keys().idp),
            signer,
        );
        let reply = Browser::default().get(&world.node, &genuine).await;
        assert_eq!(
            judge(
                &reply,
                Want::Refused(StatusCode::FORBIDDEN, &[InResponseToMismatch])
            ),
            None,
            "{signer:?}"
        );
        let done = world.alice_a.get(&world.node, &genuine).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{signer:?}: {done:?}");
        assert_eq!(done.location(), Some("/bye"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logout_never_redirects_off_site() {
    // Open redirects through the logout flow: return_to on /saml/logout and
    // RelayState on the IdP's LogoutResponse never choose where the browser
    // lands; on IdP-initiated logout the answer goes to the IdP's SLO
    // endpoint from metadata, never to a URL the request names.
    // Sources: CWE-601; SAML 2.0 Bindings 3.4.3 (RelayState is opaque to the
    // receiver); the RelayState open redirects of CVE-2021-3755 (Keycloak)
    // and CVE-2023-0264 class.
    let hostile = [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "http://127.0.0.1:3000.evil.example/",
        "javascript:alert(1)",
    ];
    for target in hostile {
        // SP-initiated: return_to refused, RelayState ignored.
        let mut world = World::new().await;
        let (id, _) = start_logout(&mut world, target).await;
        let genuine = logout_response(
            &world.node,
            IDP_ENTITY,
            &id,
            Some(target),
            Some(&keys().idp),
            Signer::Ours,
        );
        let done = world.alice_a.get(&world.node, &genuine).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{target}: {done:?}");
        assert_eq!(done.location(), Some("/"), "{target}");

        // IdP-initiated: the answer goes to the IdP's metadata endpoint.
        let (_, xml) = request(&world.node, BOB);
        let mut q = Query::message("SAMLRequest", &xml, Some(target));
        q = q.signed(Signer::Ours, &keys().idp, RSA_SHA256);
        let reply = Browser::default().get(&world.node, &q.uri()).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{target}: {reply:?}");
        let location = reply.location().unwrap();
        assert!(
            location.starts_with(&format!("{A_SLO}?SAMLResponse=")),
            "{target}: {location}"
        );
    }
    // Provider B's answers go to B's endpoint, never to A's.
    let world = World::new().await;
    let (_, xml) = request_to(&world.node, B_ENTITY, &slo_url(), ALICE, |b| b);
    let q = redirect(&xml, Signer::Ours, &keys().attacker, RSA_SHA256);
    let reply = Browser::default().get(&world.node, &q.uri()).await;
    assert!(
        reply.location().unwrap().starts_with(&format!("{B_SLO}?")),
        "{reply:?}"
    );
}

// ====================================================================
// HTTP-Artifact
// ====================================================================

/// A node whose provider `idp` answers with artifacts, and the fake
/// resolution services behind its HTTP client.
struct ArtWorld {
    node: Node,
    ars: FakeArs,
    browser: Browser,
    /// The pending AuthnRequest the browser's login waits for.
    request_id: String,
}

impl ArtWorld {
    async fn new() -> Self {
        Self::with(|_, _| {}).await
    }

    async fn with(settings: impl Fn(&str, &mut saml_core::store::ProviderSettings)) -> Self {
        let ars = FakeArs::default();
        let client = ars.clone();
        let node = Node::with_providers(
            MemoryStore::new(),
            TestClock::new(),
            providers(|name, s| {
                s.response_binding = ResponseBinding::Artifact;
                settings(name, s);
            }),
            move |b| b.http_client(client),
        );
        let mut browser = Browser::default();
        let request_id = browser.begin_login(&node, "idp=idp").await;
        Self {
            node,
            ars,
            browser,
            request_id,
        }
    }

    /// Alice's genuine Response from provider `idp` for the pending login.
    fn genuine(&self, signer: Signer) -> String {
        signed_response(
            &self.node,
            A,
            ALICE,
            &self.request_id,
            &artifact_url(),
            signer,
        )
    }

    async fn bring(&mut self, samlart: &str) -> Reply {
        self.browser
            .get(
                &self.node,
                &format!("/saml/artifact?SAMLart={}", percent(samlart)),
            )
            .await
    }
}

/// What a case's fake resolution service answers.
type ArsAnswer = Box<dyn Fn(&Seen) -> Result<HttpResponse, HttpError> + Send + Sync>;

/// Everything a case may use to build its answer.
#[derive(Clone)]
struct ArtCtx {
    signer: Signer,
    clock: Arc<dyn Clock + Send + Sync>,
    /// Alice's genuine Response (signed assertion) for the pending login.
    genuine: String,
}

/// An `ArtifactResponse` around `message` from `issuer` answering `irt`,
/// unsigned: (ID, XML).
fn art_response(ctx: &ArtCtx, issuer: &str, irt: &str, message: Option<&str>) -> (String, String) {
    let mut b = ArtifactResponse::builder(issuer, irt);
    if let Some(m) = message {
        b = b.message(m);
    }
    let r = b.build(ctx.clock.as_ref()).unwrap();
    (r.id().to_owned(), r.to_xml())
}

/// The SOAP answer: an `ArtifactResponse` around the genuine Response,
/// signed by `key` (as `issuer`), answering `irt`.
fn signed_answer(ctx: &ArtCtx, key: &KeyPair, issuer: &str, irt: &str, message: &str) -> String {
    let (id, xml) = art_response(ctx, issuer, irt, Some(message));
    soap_envelope(&sign(ctx.signer, &xml, &id, key))
}

struct ArtCase {
    name: &'static str,
    source: &'static str,
    answer: fn(ArtCtx) -> ArsAnswer,
    want: Want,
}

const fn art(
    name: &'static str,
    source: &'static str,
    answer: fn(ArtCtx) -> ArsAnswer,
    want: Want,
) -> ArtCase {
    ArtCase {
        name,
        source,
        answer,
        want,
    }
}

const BAD_GATEWAY: Want = Want::Refused(StatusCode::BAD_GATEWAY, &[StoreUnavailable]);

const ARTIFACT_CASES: &[ArtCase] = &[
    art(
        "control: a signed ArtifactResponse around the genuine Response",
        "SAML 2.0 Bindings 3.6 / 3.2",
        |c| {
            Box::new(move |s| {
                soap_ok(signed_answer(
                    &c,
                    &keys().idp,
                    IDP_ENTITY,
                    &s.id,
                    &c.genuine,
                ))
            })
        },
        Want::Accepted,
    ),
    art(
        "unsigned ArtifactResponse",
        "SAML 2.0 Bindings 3.6.5.2 and Profiles 4.1.3.5 (the resolution exchange MUST be authenticated)",
        |c| {
            Box::new(move |s| {
                soap_ok(soap_envelope(
                    &art_response(&c, IDP_ENTITY, &s.id, Some(&c.genuine)).1,
                ))
            })
        },
        bad(&[SignatureMissing]),
    ),
    art(
        "ArtifactResponse signed by a key in nobody's metadata",
        "SAML 2.0 Metadata 2.4.1.1; certificate faking (Somorovsky et al. 2012)",
        |c| {
            Box::new(move |s| soap_ok(signed_answer(&c, &keys().sp, IDP_ENTITY, &s.id, &c.genuine)))
        },
        bad(FOREIGN_KEY),
    ),
    art(
        "ArtifactResponse signed by another configured IdP's key, Issuer A",
        "key confusion across IdPs (CVE-2022-41912, crewjam/saml)",
        |c| {
            Box::new(move |s| {
                soap_ok(signed_answer(
                    &c,
                    &keys().attacker,
                    IDP_ENTITY,
                    &s.id,
                    &c.genuine,
                ))
            })
        },
        bad(FOREIGN_KEY),
    ),
    art(
        "ArtifactResponse from another configured IdP (Issuer B, signed by B) at A's service",
        "SAML 2.0 Core 3.2.2 (Issuer)",
        |c| {
            Box::new(move |s| {
                soap_ok(signed_answer(
                    &c,
                    &keys().attacker,
                    B_ENTITY,
                    &s.id,
                    &c.genuine,
                ))
            })
        },
        bad(&[IssuerMismatch, UntrustedKey, SignatureInvalid]),
    ),
    art(
        "wrapping: only the inner Response signed, the unsigned ArtifactResponse answering another request",
        "XSW on the artifact binding (Somorovsky et al. 2012, section on artifact and SOAP); Bindings 3.6.5.2",
        |c| {
            Box::new(move |_| {
                let inner = sign(c.signer, &c.genuine, response_id(&c.genuine), &keys().idp);
                soap_ok(soap_envelope(
                    &art_response(&c, IDP_ENTITY, "_someone-elses-resolve", Some(&inner)).1,
                ))
            })
        },
        bad(&[SignatureMissing]),
    ),
    art(
        "wrapping: the inner Response's signature moved onto the ArtifactResponse",
        "XSW (Somorovsky et al. 2012); Reference must point at the signed element",
        |c| {
            Box::new(move |s| {
                let rid = response_id(&c.genuine).to_owned();
                let inner = sign(c.signer, &c.genuine, &rid, &keys().idp);
                let sig = signature_of(&inner).to_owned();
                let (_, xml) =
                    art_response(&c, IDP_ENTITY, &s.id, Some(&inner.replacen(&sig, "", 1)));
                soap_ok(soap_envelope(&insert_after(&xml, "</saml:Issuer>", &sig)))
            })
        },
        bad(WRAPPING),
    ),
    art(
        "wrapping: a genuine signed ArtifactResponse whose Response was swapped for the attacker's",
        "XSW (Somorovsky et al. 2012); CWE-347",
        |c| {
            Box::new(move |s| {
                let body = signed_answer(&c, &keys().idp, IDP_ENTITY, &s.id, &c.genuine);
                soap_ok(body.replacen(ALICE, kit::ADMIN, 2))
            })
        },
        bad(&[DigestMismatch]),
    ),
    art(
        "wrapping: a second (attacker's) Response appended to a signed ArtifactResponse",
        "XSW (Somorovsky et al. 2012); Bindings 3.6 (one message)",
        |c| {
            Box::new(move |s| {
                let body = signed_answer(&c, &keys().idp, IDP_ENTITY, &s.id, &c.genuine);
                let evil = c.genuine.replace(ALICE, kit::ADMIN);
                soap_ok(body.replacen(
                    "</samlp:ArtifactResponse>",
                    &format!("{evil}</samlp:ArtifactResponse>"),
                    1,
                ))
            })
        },
        bad(&[MalformedXml, DigestMismatch]),
    ),
    art(
        "wrapping: the genuine signed ArtifactResponse nested inside the attacker's unsigned one",
        "XSW (Somorovsky et al. 2012)",
        |c| {
            Box::new(move |s| {
                let (gid, gxml) = art_response(&c, IDP_ENTITY, &s.id, Some(&c.genuine));
                let genuine = sign(c.signer, &gxml, &gid, &keys().idp);
                soap_ok(soap_envelope(
                    &art_response(&c, IDP_ENTITY, &s.id, Some(&genuine)).1,
                ))
            })
        },
        bad(&[SignatureMissing]),
    ),
    art(
        "wrapping: the genuine signed ArtifactResponse in a SOAP Header, an unsigned one in the Body",
        "SOAP wrapping (McIntosh and Austel 2005)",
        |c| {
            Box::new(move |s| {
                let (gid, gxml) = art_response(&c, IDP_ENTITY, &s.id, Some(&c.genuine));
                let genuine = sign(c.signer, &gxml, &gid, &keys().idp);
                let evil = art_response(
                    &c,
                    IDP_ENTITY,
                    &s.id,
                    Some(&c.genuine.replace(ALICE, kit::ADMIN)),
                )
                .1;
                soap_ok(format!(
                    r#"<S:Envelope xmlns:S="{SOAP_ENV}"><S:Header>{genuine}</S:Header><S:Body>{evil}</S:Body></S:Envelope>"#
                ))
            })
        },
        bad(&[SignatureMissing]),
    ),
    art(
        "InResponseTo names another ArtifactResolve",
        "SAML 2.0 Core 3.2.2 / 3.5.2; Bindings 3.6.5.2 (binding the answer to our request)",
        |c| {
            Box::new(move |_| {
                soap_ok(signed_answer(
                    &c,
                    &keys().idp,
                    IDP_ENTITY,
                    "_someone-elses-resolve",
                    &c.genuine,
                ))
            })
        },
        bad(&[InResponseToMismatch]),
    ),
    art(
        "an old ArtifactResponse (IssueInstant ten minutes ago)",
        "SAML 2.0 Core 3.2.2; Bindings 3.6.5.2",
        |c| {
            Box::new(move |s| {
                let (id, xml) = art_response(&c, IDP_ENTITY, &s.id, Some(&c.genuine));
                let old = format_datetime(c.clock.now() - Duration::minutes(10));
                let xml = retime(&xml, &old);
                soap_ok(soap_envelope(&sign(c.signer, &xml, &id, &keys().idp)))
            })
        },
        bad(&[Expired]),
    ),
    art(
        "an empty ArtifactResponse (the IdP knows no such artifact)",
        "SAML 2.0 Core 3.5.2",
        |c| {
            Box::new(move |s| {
                let (id, xml) = art_response(&c, IDP_ENTITY, &s.id, None);
                soap_ok(soap_envelope(&sign(c.signer, &xml, &id, &keys().idp)))
            })
        },
        bad(&[StatusNotSuccess]),
    ),
    art(
        "a signed ArtifactResponse around an unsigned Response",
        "SAML 2.0 Profiles 4.1.3.5 / 4.1.4.2 (the assertion itself must be signed unless the response is)",
        |c| {
            Box::new(move |s| {
                let unsigned = kit::without_signature(&c.genuine);
                soap_ok(signed_answer(&c, &keys().idp, IDP_ENTITY, &s.id, &unsigned))
            })
        },
        bad(&[SignatureMissing]),
    ),
    art(
        "a signed ArtifactResponse around a LogoutRequest instead of a Response",
        "message-type confusion (SAML 2.0 Bindings 3.6.3)",
        |c| {
            Box::new(move |s| {
                let lr = LogoutRequest::builder(IDP_ENTITY, &artifact_url(), name_id(ALICE))
                    .build(c.clock.as_ref())
                    .unwrap();
                soap_ok(signed_answer(
                    &c,
                    &keys().idp,
                    IDP_ENTITY,
                    &s.id,
                    &lr.to_xml(),
                ))
            })
        },
        bad(&[MalformedXml]),
    ),
    art(
        "a SOAP Fault (HTTP 500)",
        "SOAP 1.1 section 4.4; SAML 2.0 Bindings 3.2.3.3",
        |_| {
            Box::new(|_| {
                Ok(HttpResponse::new(
                    500,
                    soap_envelope(
                        "<S:Fault xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><faultcode>S:Server</faultcode><faultstring>boom</faultstring></S:Fault>",
                    ),
                ))
            })
        },
        bad(&[StatusNotSuccess]),
    ),
    art(
        "DOCTYPE with an internal entity in the SOAP answer",
        "XXE (OWASP); SOAP 1.1 section 3 (no DTD)",
        |c| {
            Box::new(move |s| {
                let body = signed_answer(&c, &keys().idp, IDP_ENTITY, &s.id, &c.genuine);
                soap_ok(format!(r#"<!DOCTYPE S [<!ENTITY e "x">]>{body}"#))
            })
        },
        bad(&[DtdForbidden]),
    ),
    art(
        "external entity (SSRF through XXE) in the SOAP answer",
        "XXE (OWASP); CWE-611",
        |_| {
            Box::new(|_| {
                soap_ok(format!(
                    r#"<!DOCTYPE S [<!ENTITY e SYSTEM "http://169.254.169.254/latest/meta-data/">]><S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>&e;</S:Body></S:Envelope>"#
                ))
            })
        },
        bad(&[DtdForbidden]),
    ),
    art(
        "billion laughs in the SOAP answer",
        "CVE-2003-1564 class",
        |_| {
            Box::new(|_| {
                soap_ok(format!(
                    r#"<!DOCTYPE S [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>&b;</S:Body></S:Envelope>"#
                ))
            })
        },
        bad(&[DtdForbidden]),
    ),
    art(
        "an oversized SOAP answer (a client that ignores the size cap)",
        "bounded inputs (DESIGN.md 7.3); CWE-400",
        |c| {
            Box::new(move |s| {
                let body = signed_answer(&c, &keys().idp, IDP_ENTITY, &s.id, &c.genuine);
                soap_ok(format!("{body}{}", " ".repeat(3 << 20)))
            })
        },
        Want::Refused(StatusCode::PAYLOAD_TOO_LARGE, &[InputTooLarge]),
    ),
    art(
        "an oversized SOAP answer cut off by the HTTP client",
        "bounded inputs (DESIGN.md 7.3)",
        |_| Box::new(|_| Err(HttpError::new(HttpErrorKind::TooLarge, "over the cap"))),
        BAD_GATEWAY,
    ),
    art(
        "garbage (not XML)",
        "robustness (never a 500)",
        |_| Box::new(|_| soap_ok("this is not xml <<<")),
        bad(&[MalformedXml]),
    ),
    art(
        "an empty answer",
        "robustness",
        |_| Box::new(|_| soap_ok("")),
        bad(&[MalformedXml]),
    ),
    art(
        "an answer that is not UTF-8",
        "XML 1.0 4.3.3",
        |_| Box::new(|_| soap_ok(vec![0xFF, 0xFE, b'<', 0, b'a', 0])),
        BAD_GATEWAY,
    ),
    art(
        "a bare ArtifactResponse without a SOAP envelope",
        "SAML 2.0 Bindings 3.2.3",
        |c| {
            Box::new(move |s| {
                let (id, xml) = art_response(&c, IDP_ENTITY, &s.id, Some(&c.genuine));
                soap_ok(sign(c.signer, &xml, &id, &keys().idp))
            })
        },
        bad(&[MalformedXml]),
    ),
    art(
        "a SOAP 1.2 envelope",
        "SAML 2.0 Bindings 3.2.2 (SOAP 1.1)",
        |c| {
            Box::new(move |s| {
                let body = signed_answer(&c, &keys().idp, IDP_ENTITY, &s.id, &c.genuine);
                soap_ok(body.replace(SOAP_ENV, "http://www.w3.org/2003/05/soap-envelope"))
            })
        },
        bad(&[MalformedXml]),
    ),
    art(
        "a mustUnderstand header",
        "SOAP 1.1 section 4.2.3",
        |c| {
            Box::new(move |s| {
                let body = signed_answer(&c, &keys().idp, IDP_ENTITY, &s.id, &c.genuine);
                soap_ok(body.replacen("<SOAP-ENV:Body>", r#"<SOAP-ENV:Header><x:T xmlns:x="urn:x" SOAP-ENV:mustUnderstand="1"/></SOAP-ENV:Header><SOAP-ENV:Body>"#, 1))
            })
        },
        bad(&[MalformedXml]),
    ),
    art(
        "two ArtifactResponses in the Body",
        "SAML 2.0 Bindings 3.2.3 (one message)",
        |c| {
            Box::new(move |s| {
                let (gid, gxml) = art_response(&c, IDP_ENTITY, &s.id, Some(&c.genuine));
                let genuine = sign(c.signer, &gxml, &gid, &keys().idp);
                soap_ok(soap_envelope(&format!("{genuine}{genuine}")))
            })
        },
        bad(&[MalformedXml]),
    ),
    art(
        "HTTP 302 to elsewhere",
        "SSRF via redirects (CWE-918); SAML 2.0 Bindings 3.2.3",
        |_| {
            Box::new(|_| {
                Ok(HttpResponse::new(302, "").header("Location", "http://169.254.169.254/"))
            })
        },
        BAD_GATEWAY,
    ),
    art(
        "the resolution service is down",
        "fail closed (DESIGN.md 7.7)",
        |_| Box::new(|_| Err(HttpError::new(HttpErrorKind::Connect, "refused"))),
        BAD_GATEWAY,
    ),
];

#[tokio::test(flavor = "current_thread")]
async fn artifact_attacks_are_refused() {
    let mut verdicts = Verdicts::default();
    let mut total = 0;
    for signer in SIGNERS {
        for c in ARTIFACT_CASES {
            total += 1;
            let mut world = ArtWorld::new().await;
            let ctx = ArtCtx {
                signer,
                clock: clock_of(&world.node),
                genuine: world.genuine(signer),
            };
            world.ars.answer((c.answer)(ctx));
            let artifact = Artifact::generate(IDP_ENTITY, 1).unwrap().encode();
            let calls = world.node.calls();
            let reply = world.bring(&artifact).await;
            let mut problem = judge_strict(&reply, c.want);
            if problem.is_none() && world.node.calls() != calls {
                problem = Some("the application was reached".to_owned());
            }
            let seen = world.ars.seen();
            if problem.is_none()
                && (seen.len() != 1 || seen[0].url != A_ARS || seen[0].artifact != artifact)
            {
                problem = Some(format!("the resolution service was asked {seen:?}"));
            }
            if problem.is_none() && seen[0].max_response_bytes > 2 << 20 {
                problem = Some(format!("the answer is not capped: {seen:?}"));
            }
            let signed_in = world.browser.whoami(&world.node).await;
            let expected = matches!(c.want, Want::Accepted).then(|| ALICE.to_owned());
            if problem.is_none() && signed_in != expected {
                problem = Some(format!("signed in afterwards: {signed_in:?}"));
            }
            verdicts.check(c.name, c.source, signer, problem);
        }
    }
    verdicts.finish(total);
}

/// The fake service answers the genuine Response for every resolve, as an
/// IdP that does not enforce single use would.
fn lax_idp(world: &ArtWorld, signer: Signer) {
    let ctx = ArtCtx {
        signer,
        clock: clock_of(&world.node),
        genuine: world.genuine(signer),
    };
    world.ars.answer(Box::new(move |s| {
        soap_ok(signed_answer(
            &ctx,
            &keys().idp,
            IDP_ENTITY,
            &s.id,
            &ctx.genuine,
        ))
    }));
}

#[tokio::test(flavor = "current_thread")]
async fn an_artifact_is_resolved_once_whatever_its_spelling() {
    // SAML 2.0 Bindings 3.6.5.2 / 3.6.4: an artifact is single use. The SP
    // must not ask twice even when the IdP would answer twice, also when
    // the same artifact comes back spelled differently (whitespace, which
    // the artifact parser ignores): the replay key is the artifact, not its
    // text. Source: replay (CWE-294); Bindings 3.6.5.2.
    let artifact = Artifact::generate(IDP_ENTITY, 1).unwrap().encode();
    let spellings = [
        artifact.clone(),
        format!(" {artifact}"),
        format!("{artifact}\n"),
        format!("{}\t{}", &artifact[..20], &artifact[20..]),
    ];
    for signer in SIGNERS {
        let mut world = ArtWorld::new().await;
        lax_idp(&world, signer);
        let first = world.bring(&artifact).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{first:?}");
        assert!(first.sets_session());
        for again in &spellings {
            // A fresh browser and a fresh pending login each time.
            let mut other = Browser::default();
            other.begin_login(&world.node, "idp=idp").await;
            let reply = other
                .get(
                    &world.node,
                    &format!("/saml/artifact?SAMLart={}", percent(again)),
                )
                .await;
            assert_eq!(
                judge(&reply, bad(&[Replayed])),
                None,
                "{signer:?} {again:?}"
            );
            assert_eq!(other.whoami(&world.node).await, None);
        }
        assert_eq!(
            world.ars.seen().len(),
            1,
            "{signer:?}: asked more than once"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_resolution_service_comes_only_from_metadata() {
    // SSRF through the artifact (CWE-918): the SP contacts only an
    // ArtifactResolutionService listed in the trusted metadata of the IdP
    // the artifact's SourceID names, chosen by the artifact's index; nothing
    // in the artifact or the request can name a URL, and an endpoint that
    // breaks the transport rule (plain HTTP off loopback) is not contacted.
    // Sources: SAML 2.0 Bindings 3.6.4 (SourceID, EndpointIndex) and
    // 3.6.5.2; Metadata 2.4.1 (ArtifactResolutionService).
    type Expect = (StatusCode, Option<&'static str>);
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "index 2 of provider A",
            Artifact::generate(IDP_ENTITY, 2).unwrap().encode(),
            (StatusCode::SEE_OTHER, Some(A_ARS2)),
        ),
        (
            "an index provider A does not list (it lists two)",
            Artifact::generate(IDP_ENTITY, 7).unwrap().encode(),
            (StatusCode::BAD_GATEWAY, None),
        ),
        (
            "an index provider B does not list (it lists one: that one is used)",
            Artifact::generate(B_ENTITY, 9).unwrap().encode(),
            (StatusCode::BAD_REQUEST, Some(B_ARS)),
        ),
        (
            "SourceID of an unknown IdP",
            Artifact::generate("https://evil.example/idp", 1)
                .unwrap()
                .encode(),
            (StatusCode::NOT_FOUND, None),
        ),
        (
            "SourceID of a provider whose service is plain HTTP",
            Artifact::generate(PLAIN_ENTITY, 1).unwrap().encode(),
            (StatusCode::BAD_GATEWAY, None),
        ),
        (
            "a URL instead of an artifact",
            "https://evil.example/ars".to_owned(),
            (StatusCode::BAD_REQUEST, None),
        ),
        (
            "an artifact of type 0x0001 (SAML 1.1, with a source URL)",
            base64_encode(&[&[0u8, 1, 0, 1][..], &[7; 40]].concat()),
            (StatusCode::BAD_REQUEST, None),
        ),
        (
            "an oversized SAMLart",
            "A".repeat(10_000),
            (StatusCode::PAYLOAD_TOO_LARGE, None),
        ),
    ];
    for signer in SIGNERS {
        for (name, samlart, (status, url)) in &cases {
            let mut world = ArtWorld::new().await;
            lax_idp(&world, signer);
            let reply = world.bring(samlart).await;
            assert_eq!(reply.status, *status, "{name}: {reply:?}");
            assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
            if !reply.status.is_redirection() {
                assert!(reply.code().is_some(), "{name}: {reply:?}");
                assert!(!reply.sets_session(), "{name}");
            }
            let seen: Vec<String> = world.ars.seen().into_iter().map(|s| s.url).collect();
            assert_eq!(
                seen,
                url.iter().map(|u| (*u).to_owned()).collect::<Vec<_>>(),
                "{name}"
            );
            assert!(
                seen.iter().all(|u| METADATA_ARS.contains(&u.as_str())),
                "{name}"
            );
        }
    }
    // B's artifact for A's pending login: B's service is asked, and B's
    // Response (here A's genuine one, relayed by B) cannot complete A's login.
    let mut world = ArtWorld::new().await;
    lax_idp(&world, Signer::Ours);
    let reply = world
        .bring(&Artifact::generate(B_ENTITY, 1).unwrap().encode())
        .await;
    assert!(
        matches!(
            reply.code(),
            Some("signature_invalid" | "untrusted_key" | "issuer_mismatch")
        ),
        "{reply:?}"
    );
    assert_eq!(world.browser.whoami(&world.node).await, None);
}

#[tokio::test(flavor = "current_thread")]
async fn an_artifact_relay_state_never_redirects_off_site() {
    // CWE-601 through the artifact endpoint: an SP-initiated login lands
    // where the login started (return_to, checked when the login began);
    // the RelayState the browser brings with the artifact is ignored.
    // Source: SAML 2.0 Bindings 3.6.3 (RelayState); CVE-2021-3755 class.
    let mut world = ArtWorld::new().await;
    lax_idp(&world, Signer::Ours);
    let artifact = Artifact::generate(IDP_ENTITY, 1).unwrap().encode();
    let reply = world
        .browser
        .get(
            &world.node,
            &format!(
                "/saml/artifact?SAMLart={}&RelayState={}",
                percent(&artifact),
                percent("https://evil.example/")
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(reply.location(), Some("/"));
}

// ====================================================================
// Small helpers
// ====================================================================

fn base64_encode(bytes: &[u8]) -> String {
    kit::b64_bytes(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn percent_decode(raw: &str) -> String {
    let mut out = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `%2B` → `%2b`: the same value, another encoding.
fn lower_hex(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        out.push('%');
        out.push_str(&rest[at + 1..at + 3].to_ascii_lowercase());
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out
}

/// The ID of the root element of `xml` (its first `ID` attribute).
fn response_id(xml: &str) -> &str {
    kit::between(xml, r#" ID=""#, "\"")
}

/// `xml` with its first `IssueInstant` set to `at`.
fn retime(xml: &str, at: &str) -> String {
    let value = kit::between(xml, r#"IssueInstant=""#, "\"");
    xml.replacen(
        &format!(r#"IssueInstant="{value}""#),
        &format!(r#"IssueInstant="{at}""#),
        1,
    )
}
