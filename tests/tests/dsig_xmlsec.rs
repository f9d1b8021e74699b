//! Differential test: our XML-DSig against `xmlsec1` (libxmlsec1 with the
//! OpenSSL backend) as the outside oracle, in both directions:
//!
//! - documents signed by `xmlsec1 --sign` (from a signature template) must
//!   verify with [`verify_enveloped`];
//! - documents signed by [`sign_enveloped`] must verify with
//!   `xmlsec1 --verify`.
//!
//! The matrix: RSA 2048/3072/4096 with rsa-sha256/384/512, ECDSA P-256 and
//! P-384, digests SHA-256/384/512, the four C14N methods (exclusive with and
//! without an InclusiveNamespaces PrefixList) both as CanonicalizationMethod
//! and as the Reference transform, documents with comments inside the signed
//! element (a bare-name `#ID` Reference removes them before C14N, even with a
//! WithComments transform), and namespace-heavy SAML-like documents. RSA-PSS
//! is not in xmlsec1 1.2.x, so PSS is checked as our own round trip and the
//! oracle is asked only to confirm it does not know the algorithm.
//!
//! Keys and self-signed certificates are generated once per run with the
//! `openssl` CLI in a temporary folder.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use saml_core::c14n::Method;
use saml_core::crypto::{Certificate, DigestAlgorithm, PublicKey, SignatureAlgorithm, SigningKey};
use saml_core::dsig::{SignOptions, VerifyOptions, sign_enveloped, verify_enveloped};
use saml_core::xml::Document;
use saml_core::{ErrorCode, Limits};

const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

// ---------------------------------------------------------------------------
// Documents. `{SIG:<id>}` marks where the Signature of the element with that
// ID goes (right after its Issuer, where SAML and `sign_enveloped` put it).
// ---------------------------------------------------------------------------

/// Prefixed SAML: a prefix (`xs`, `xsi`, `idpx`) declared on the Response and
/// used only inside the Assertion, `xs` only inside attribute values, comments
/// in the Assertion, CDATA, character references and attribute whitespace.
const DOC_PREFIXED: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:idpx="urn:example:idp-extensions" ID="_r1" Version="2.0" IssueInstant="2024-05-01T12:00:00Z" Destination="https://sp.example.com/acs" InResponseTo="_req1">
  <saml:Issuer>https://idp.example.com</saml:Issuer>{SIG:_r1}
  <samlp:Status>
    <samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>
  </samlp:Status>
  <saml:Assertion ID="_a1" Version="2.0" IssueInstant="2024-05-01T12:00:00Z">
    <saml:Issuer>https://idp.example.com</saml:Issuer>{SIG:_a1}
    <!-- issued for alice -->
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="2024-05-01T12:05:00Z" Recipient="https://sp.example.com/acs" InResponseTo="_req1"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2024-05-01T11:59:00Z" NotOnOrAfter="2024-05-01T12:05:00Z">
      <saml:AudienceRestriction><saml:Audience>https://sp.example.com</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="2024-05-01T12:00:00Z" SessionIndex="_s1">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>
      <saml:Attribute Name="mail" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">
        <saml:AttributeValue xsi:type="xs:string">alice@example.com</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="groups"   FriendlyName='tab&#x9;and&#xA;newline "quoted"'><!-- two values -->
        <saml:AttributeValue xsi:type="xs:string">staff &amp; friends &gt; others</saml:AttributeValue>
        <saml:AttributeValue xsi:type="xs:string"><![CDATA[a<b & "c"]]></saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="custom">
        <saml:AttributeValue><idpx:Level idpx:scale="1-5" b="2" a="1">4</idpx:Level></saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"#;

/// Default namespaces: the Response in the protocol namespace as default, the
/// Issuer and Assertion re-declaring the default, an `xmlns=""` undeclaration
/// inside the Assertion, `xml:lang` on the root (inherited by the Assertion in
/// inclusive C14N), comments in and outside the signed element.
const DOC_DEFAULT_NS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the document element -->
<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xml:lang="en" ID="_r2" Version="2.0" IssueInstant="2024-05-01T12:00:00Z">
  <Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">https://idp.example.com</Issuer>{SIG:_r2}
  <Status><StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></Status>
  <Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a2" Version="2.0" IssueInstant="2024-05-01T12:00:00Z">
    <Issuer>https://idp.example.com</Issuer>{SIG:_a2}
    <Subject><NameID>bob</NameID></Subject>
    <AttributeStatement>
      <Attribute Name="mail"><AttributeValue xsi:type="xs:string">bob@example.com</AttributeValue></Attribute>
      <Attribute Name="raw"><AttributeValue><Extra xmlns="" kind="plain">no namespace<!-- inner comment --></Extra></AttributeValue></Attribute>
      <Attribute Name="qualified"><AttributeValue xmlns:q="urn:example:q" xsi:type="q:Thing"><q:Thing xmlns:q="urn:example:q">redundant declaration</q:Thing></AttributeValue></Attribute>
    </AttributeStatement>
  </Assertion>
</Response>
<!-- a comment after the document element -->
"#;

/// `doc` with the marker of `id` replaced by `insert` and every other marker
/// removed.
fn fill(doc: &str, id: &str, insert: &str) -> String {
    let mut out = doc.replace(&format!("{{SIG:{id}}}"), insert);
    while let Some(start) = out.find("{SIG:") {
        let end = start + out[start..].find('}').unwrap() + 1;
        out.replace_range(start..end, "");
    }
    out
}

/// The unsigned document.
fn plain(doc: &str) -> String {
    fill(doc, "", "")
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    P256,
    P384,
}

impl Kind {
    const ALL: [Self; 5] = [
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::P256,
        Self::P384,
    ];

    const fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
            Self::P256 => "p256",
            Self::P384 => "p384",
        }
    }

    const fn genpkey_args(self) -> [&'static str; 4] {
        match self {
            Self::Rsa2048 => ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            Self::Rsa3072 => ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
            Self::Rsa4096 => ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
            Self::P256 => ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Self::P384 => ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        }
    }
}

#[derive(Debug)]
struct KeyFiles {
    kind: Kind,
    key_path: PathBuf,
    cert_path: PathBuf,
    key_pem: String,
    cert_pem: String,
}

impl KeyFiles {
    fn signing_key(&self) -> SigningKey {
        let cert = Certificate::from_pem(&self.cert_pem).unwrap().remove(0);
        SigningKey::from_pem(&self.key_pem)
            .unwrap()
            .with_certificate(cert)
            .unwrap()
    }

    fn public_key(&self) -> PublicKey {
        Certificate::from_pem(&self.cert_pem).unwrap()[0]
            .public_key()
            .clone()
    }
}

#[derive(Debug)]
struct Fixture {
    dir: PathBuf,
    keys: Vec<KeyFiles>,
}

impl Fixture {
    fn key(&self, kind: Kind) -> &KeyFiles {
        self.keys.iter().find(|k| k.kind == kind).unwrap()
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("run openssl (is the openssl CLI installed?)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every key is generated once per run; the five `genpkey` run in parallel.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("saml-dsig-xmlsec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let children: Vec<(Kind, Child)> = Kind::ALL
            .iter()
            .map(|&kind| {
                let child = Command::new("openssl")
                    .arg("genpkey")
                    .args(kind.genpkey_args())
                    .arg("-out")
                    .arg(dir.join(format!("{}-key.pem", kind.name())))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run openssl (is the openssl CLI installed?)");
                (kind, child)
            })
            .collect();
        let mut keys = Vec::new();
        for (kind, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "openssl genpkey {kind:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let key_path = dir.join(format!("{}-key.pem", kind.name()));
            let cert_path = dir.join(format!("{}-cert.pem", kind.name()));
            run_ok(
                Command::new("openssl")
                    .args(["req", "-new", "-x509", "-key"])
                    .arg(&key_path)
                    .args(["-subj", "/CN=test", "-days", "3650", "-out"])
                    .arg(&cert_path),
            );
            keys.push(KeyFiles {
                kind,
                key_pem: std::fs::read_to_string(&key_path).unwrap(),
                cert_pem: std::fs::read_to_string(&cert_path).unwrap(),
                key_path,
                cert_path,
            });
        }
        Fixture { dir, keys }
    })
}

/// A fresh file name in the fixture folder.
fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    fixture().dir.join(format!("{n:04}-{name}.xml"))
}

// ---------------------------------------------------------------------------
// xmlsec1
// ---------------------------------------------------------------------------

/// The `--id-attr:ID` options for every element type we sign.
fn id_attrs(cmd: &mut Command) -> &mut Command {
    for el in [
        format!("{SAML_NS}:Assertion"),
        format!("{SAMLP_NS}:Response"),
    ] {
        cmd.arg("--id-attr:ID").arg(el);
    }
    cmd
}

fn xmlsec1() -> Command {
    Command::new("xmlsec1")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `xmlsec1 --sign` of a template; `Err` carries xmlsec1's output.
fn try_xmlsec_sign(template: &str, key: &KeyFiles) -> Result<String, String> {
    let input = scratch("template");
    let output = input.with_extension("signed.xml");
    std::fs::write(&input, template).unwrap();
    let mut privkey = key.key_path.clone().into_os_string();
    privkey.push(",");
    privkey.push(&key.cert_path);
    let out = id_attrs(xmlsec1().arg("--sign").arg("--privkey-pem").arg(privkey))
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("run xmlsec1 (is it installed?)");
    if !out.status.success() {
        return Err(describe(&out));
    }
    let signed = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    Ok(signed)
}

fn xmlsec_sign(template: &str, key: &KeyFiles) -> String {
    try_xmlsec_sign(template, key)
        .unwrap_or_else(|e| panic!("xmlsec1 --sign failed:\n{e}\ntemplate:\n{template}"))
}

/// `xmlsec1 --verify` with `cert` as the only key; `Ok` if it exits 0,
/// otherwise `Err` with its output.
fn xmlsec_verify(doc: &str, cert: &Path) -> Result<(), String> {
    let input = scratch("verify");
    std::fs::write(&input, doc).unwrap();
    let out = id_attrs(
        xmlsec1()
            .args([
                "--verify",
                "--enabled-key-data",
                "key-name",
                "--pubkey-cert-pem",
            ])
            .arg(cert),
    )
    .arg(&input)
    .output()
    .expect("run xmlsec1 (is it installed?)");
    if out.status.success() {
        let _ = std::fs::remove_file(&input);
        Ok(())
    } else {
        Err(describe(&out))
    }
}

/// A C14N method element (`CanonicalizationMethod` or `Transform`).
fn c14n_element(name: &str, method: Method, prefixes: Option<&str>) -> String {
    match prefixes {
        Some(p) => format!(
            r#"<ds:{name} Algorithm="{}"><ec:InclusiveNamespaces xmlns:ec="{EXC_C14N_NS}" PrefixList="{p}"/></ds:{name}>"#,
            method.uri()
        ),
        None => format!(r#"<ds:{name} Algorithm="{}"/>"#, method.uri()),
    }
}

/// What an xmlsec1 signature template asks for.
#[derive(Debug, Clone, Copy)]
struct Template<'a> {
    algorithm: &'a str,
    digest: DigestAlgorithm,
    /// CanonicalizationMethod of SignedInfo, with a PrefixList.
    signed_info: (Method, Option<&'a str>),
    /// The C14N transform after enveloped-signature; `None` for none.
    reference: Option<(Method, Option<&'a str>)>,
}

impl<'a> Template<'a> {
    fn new(algorithm: SignatureAlgorithm, digest: DigestAlgorithm) -> Self {
        Self {
            algorithm: algorithm.uri(),
            digest,
            signed_info: (Method::Exclusive, None),
            reference: Some((Method::Exclusive, None)),
        }
    }

    fn c14n(mut self, method: Method, prefixes: Option<&'a str>) -> Self {
        self.signed_info = (method, prefixes);
        self.reference = Some((method, prefixes));
        self
    }

    fn markup(&self, id: &str) -> String {
        let mut s = String::from(r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">"#);
        s.push_str("<ds:SignedInfo>");
        s.push_str(&c14n_element(
            "CanonicalizationMethod",
            self.signed_info.0,
            self.signed_info.1,
        ));
        write!(s, r#"<ds:SignatureMethod Algorithm="{}"/>"#, self.algorithm).unwrap();
        write!(s, r##"<ds:Reference URI="#{id}"><ds:Transforms>"##).unwrap();
        write!(s, r#"<ds:Transform Algorithm="{ENVELOPED}"/>"#).unwrap();
        if let Some((m, p)) = self.reference {
            s.push_str(&c14n_element("Transform", m, p));
        }
        write!(
            s,
            r#"</ds:Transforms><ds:DigestMethod Algorithm="{}"/><ds:DigestValue/></ds:Reference>"#,
            self.digest.uri()
        )
        .unwrap();
        s.push_str("</ds:SignedInfo><ds:SignatureValue/>");
        s.push_str("<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>");
        s
    }

    /// `doc` with this template at the marker of `id`.
    fn apply(&self, doc: &str, id: &str) -> String {
        fill(doc, id, &self.markup(id))
    }
}

// ---------------------------------------------------------------------------
// Ours
// ---------------------------------------------------------------------------

fn options(
    algorithm: SignatureAlgorithm,
    digest: DigestAlgorithm,
    c14n: Method,
    prefixes: Option<&str>,
) -> SignOptions {
    let mut o = SignOptions::default();
    o.algorithm = Some(algorithm);
    o.digest = digest;
    o.c14n = c14n;
    o.inclusive_prefixes = prefixes.map(str::to_owned);
    o.include_certificate = true;
    o
}

fn ours_sign(doc: &str, id: &str, key: &KeyFiles, o: &SignOptions) -> String {
    sign_enveloped(&plain(doc), id, &key.signing_key(), o)
        .unwrap_or_else(|e| panic!("sign_enveloped({id}, {:?}, {o:?}): {e}", key.kind))
}

/// Verifies the signature on the element `id` of `xml` with our code.
fn ours_verify(
    xml: &str,
    id: &str,
    keys: &[PublicKey],
) -> Result<(SignatureAlgorithm, DigestAlgorithm), saml_core::Error> {
    let doc = Document::parse(xml, &Limits::default())?;
    let element = doc
        .element_by_id(id)?
        .unwrap_or_else(|| panic!("no element with ID {id}"));
    let verified = verify_enveloped(element, keys, &VerifyOptions::new())?;
    assert_eq!(verified.element().attribute("ID"), Some(id));
    assert_eq!(verified.element().id(), element.id());
    Ok((verified.algorithm(), verified.digest_algorithm()))
}

/// Replaces the first `from` (which must occur) by `to`.
fn tamper(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "`{from}` not found in the document");
    xml.replacen(from, to, 1)
}

/// Collects failures so that one run reports every broken case.
#[derive(Debug, Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, label: &str, result: Result<(), String>) {
        if let Err(e) = result {
            self.0.push(format!("[{label}] {e}"));
        }
    }

    fn finish(self, total: usize) {
        assert!(
            self.0.is_empty(),
            "{} failure(s) in {total} cases:\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// xmlsec1 signs `doc`'s element `id` from `t`; ours must verify it.
fn xmlsec_to_ours(doc: &str, id: &str, key: &KeyFiles, t: &Template<'_>) -> Result<(), String> {
    let signed = try_xmlsec_sign(&t.apply(doc, id), key)?;
    match ours_verify(&signed, id, &[key.public_key()]) {
        Ok((alg, dig)) if alg.uri() == t.algorithm && dig == t.digest => Ok(()),
        Ok(other) => Err(format!("verified, but reported {other:?}")),
        Err(e) => Err(format!(
            "xmlsec1 signed, ours says {:?}: {e}\n--- document\n{signed}",
            e.code()
        )),
    }
}

/// Ours signs `doc`'s element `id` with `o`; xmlsec1 must verify it (and so
/// must we).
fn ours_to_xmlsec(doc: &str, id: &str, key: &KeyFiles, o: &SignOptions) -> Result<(), String> {
    let signed = sign_enveloped(&plain(doc), id, &key.signing_key(), o)
        .map_err(|e| format!("sign_enveloped: {e}"))?;
    let theirs = xmlsec_verify(&signed, &key.cert_path);
    let ours = ours_verify(&signed, id, &[key.public_key()]);
    match (theirs, ours) {
        (Ok(()), Ok(_)) => Ok(()),
        (theirs, ours) => Err(format!(
            "ours signed; xmlsec1: {}; ours: {}\n--- document\n{signed}",
            theirs.err().unwrap_or_else(|| "OK".into()),
            ours.err()
                .map_or_else(|| "OK".into(), |e| format!("{:?}: {e}", e.code()))
        )),
    }
}

const DIGESTS: [DigestAlgorithm; 3] = [
    DigestAlgorithm::Sha256,
    DigestAlgorithm::Sha384,
    DigestAlgorithm::Sha512,
];

const RSA_ALGORITHMS: [SignatureAlgorithm; 3] = [
    SignatureAlgorithm::RsaSha256,
    SignatureAlgorithm::RsaSha384,
    SignatureAlgorithm::RsaSha512,
];

/// Each RSA size with each RSA algorithm, the digest rotating so that each
/// size and each algorithm meets every digest.
fn rsa_matrix() -> Vec<(Kind, SignatureAlgorithm, DigestAlgorithm)> {
    let mut out = Vec::new();
    for (i, kind) in [Kind::Rsa2048, Kind::Rsa3072, Kind::Rsa4096]
        .into_iter()
        .enumerate()
    {
        for (j, alg) in RSA_ALGORITHMS.into_iter().enumerate() {
            out.push((kind, alg, DIGESTS[(i + j) % 3]));
        }
    }
    out
}

fn ecdsa_matrix() -> Vec<(Kind, SignatureAlgorithm, DigestAlgorithm)> {
    let mut out = Vec::new();
    for digest in DIGESTS {
        out.push((Kind::P256, SignatureAlgorithm::EcdsaSha256, digest));
        out.push((Kind::P384, SignatureAlgorithm::EcdsaSha384, digest));
    }
    out
}

// ---------------------------------------------------------------------------
// Algorithms
// ---------------------------------------------------------------------------

#[test]
fn rsa_xmlsec_signs_ours_verifies() {
    let fx = fixture();
    let mut failures = Failures::default();
    let cases = rsa_matrix();
    for &(kind, alg, digest) in &cases {
        let t = Template::new(alg, digest);
        failures.check(
            &format!("{kind:?} {alg:?} {digest:?}"),
            xmlsec_to_ours(DOC_PREFIXED, "_a1", fx.key(kind), &t),
        );
    }
    failures.finish(cases.len());
}

#[test]
fn rsa_ours_signs_xmlsec_verifies() {
    let fx = fixture();
    let mut failures = Failures::default();
    let cases = rsa_matrix();
    for &(kind, alg, digest) in &cases {
        let o = options(alg, digest, Method::Exclusive, None);
        failures.check(
            &format!("{kind:?} {alg:?} {digest:?}"),
            ours_to_xmlsec(DOC_PREFIXED, "_a1", fx.key(kind), &o),
        );
    }
    failures.finish(cases.len());
}

#[test]
fn ecdsa_xmlsec_signs_ours_verifies() {
    let fx = fixture();
    let mut failures = Failures::default();
    let cases = ecdsa_matrix();
    for &(kind, alg, digest) in &cases {
        let t = Template::new(alg, digest);
        for (doc, id) in [(DOC_PREFIXED, "_a1"), (DOC_DEFAULT_NS, "_r2")] {
            failures.check(
                &format!("{kind:?} {alg:?} {digest:?} #{id}"),
                xmlsec_to_ours(doc, id, fx.key(kind), &t),
            );
        }
    }
    failures.finish(cases.len() * 2);
}

#[test]
fn ecdsa_ours_signs_xmlsec_verifies() {
    let fx = fixture();
    let mut failures = Failures::default();
    let cases = ecdsa_matrix();
    for &(kind, alg, digest) in &cases {
        let o = options(alg, digest, Method::Exclusive, None);
        for (doc, id) in [(DOC_PREFIXED, "_a1"), (DOC_DEFAULT_NS, "_r2")] {
            failures.check(
                &format!("{kind:?} {alg:?} {digest:?} #{id}"),
                ours_to_xmlsec(doc, id, fx.key(kind), &o),
            );
        }
    }
    failures.finish(cases.len() * 2);
}

/// xmlsec1 1.2.x has no RSA-PSS (it arrived in 1.3): our PSS signatures are
/// checked as a round trip, and xmlsec1 must fail on the algorithm (not on
/// the document). Should a newer xmlsec1 know PSS, it must verify ours.
#[test]
fn rsa_pss_round_trip_and_xmlsec_support() {
    let fx = fixture();
    let mut failures = Failures::default();
    let cases = [
        (
            Kind::Rsa2048,
            SignatureAlgorithm::RsaPssSha256,
            DigestAlgorithm::Sha256,
        ),
        (
            Kind::Rsa3072,
            SignatureAlgorithm::RsaPssSha384,
            DigestAlgorithm::Sha384,
        ),
        (
            Kind::Rsa4096,
            SignatureAlgorithm::RsaPssSha512,
            DigestAlgorithm::Sha512,
        ),
    ];
    for (kind, alg, digest) in cases {
        let key = fx.key(kind);
        let label = format!("{kind:?} {alg:?}");
        let signed = ours_sign(
            DOC_PREFIXED,
            "_a1",
            key,
            &options(alg, digest, Method::Exclusive, None),
        );
        match ours_verify(&signed, "_a1", &[key.public_key()]) {
            Ok((a, d)) => assert_eq!((a, d), (alg, digest), "{label}"),
            Err(e) => failures
                .0
                .push(format!("[{label}] ours does not verify its own PSS: {e}")),
        }
        // The other RSA key must not verify it.
        let other = fx.key(if kind == Kind::Rsa2048 {
            Kind::Rsa3072
        } else {
            Kind::Rsa2048
        });
        let err = ours_verify(&signed, "_a1", &[other.public_key()]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::SignatureInvalid, "{label}: {err}");

        match xmlsec_verify(&signed, &key.cert_path) {
            Ok(()) => {}
            Err(out)
                if out.contains(alg.uri()) && out.contains("xmlSecTransformIdListFindByHref") => {}
            Err(out) => failures.0.push(format!(
                "[{label}] xmlsec1 failed other than on the unknown algorithm:\n{out}"
            )),
        }
        let template = Template::new(alg, digest).apply(DOC_PREFIXED, "_a1");
        match try_xmlsec_sign(&template, key) {
            Ok(theirs) => failures.check(
                &format!("{label} xmlsec1-signed"),
                ours_verify(&theirs, "_a1", &[key.public_key()])
                    .map(|_| ())
                    .map_err(|e| format!("{e}")),
            ),
            Err(out) => assert!(
                out.contains("xmlSecTransformIdListFindByHref"),
                "{label}: xmlsec1 --sign failed other than on the unknown algorithm:\n{out}"
            ),
        }
    }
    failures.finish(cases.len());
}

// ---------------------------------------------------------------------------
// Canonicalization
// ---------------------------------------------------------------------------

/// Every signed element of both documents, with a prefix list that names a
/// prefix used only in QName content (`xs`), one declared on an ancestor and
/// `#default`.
const TARGETS: [(&str, &str, &str); 4] = [
    (DOC_PREFIXED, "_a1", "xs idpx"),
    (DOC_PREFIXED, "_r1", "xs saml"),
    (DOC_DEFAULT_NS, "_a2", "xs #default"),
    (DOC_DEFAULT_NS, "_r2", "#default xsi"),
];

/// The four methods, exclusive ones also with a prefix list.
fn methods(prefix_list: &str) -> Vec<(Method, Option<&str>)> {
    vec![
        (Method::Exclusive, None),
        (Method::Exclusive, Some(prefix_list)),
        (Method::ExclusiveWithComments, None),
        (Method::ExclusiveWithComments, Some(prefix_list)),
        (Method::Inclusive, None),
        (Method::InclusiveWithComments, None),
    ]
}

#[test]
fn c14n_xmlsec_signs_ours_verifies() {
    let fx = fixture();
    let key = fx.key(Kind::Rsa2048);
    let mut failures = Failures::default();
    let mut total = 0;
    for (doc, id, list) in TARGETS {
        let all = methods(list);
        // The same method in both places.
        for &(m, p) in &all {
            let t =
                Template::new(SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256).c14n(m, p);
            total += 1;
            failures.check(
                &format!("#{id} {m:?} {p:?}"),
                xmlsec_to_ours(doc, id, key, &t),
            );
        }
        // SignedInfo and Reference canonicalized differently, and a
        // Reference with no C14N transform (inclusive C14N by default).
        for (i, &si) in all.iter().enumerate() {
            let mut t = Template::new(SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha384);
            t.signed_info = si;
            t.reference = if i % 3 == 0 {
                None
            } else {
                Some(all[(i + 3) % all.len()])
            };
            total += 1;
            failures.check(
                &format!("#{id} SignedInfo {si:?} Reference {:?}", t.reference),
                xmlsec_to_ours(doc, id, key, &t),
            );
        }
    }
    failures.finish(total);
}

#[test]
fn c14n_ours_signs_xmlsec_verifies() {
    let fx = fixture();
    let key = fx.key(Kind::P256);
    let mut failures = Failures::default();
    let mut total = 0;
    for (doc, id, list) in TARGETS {
        for (m, p) in methods(list) {
            // Documents with comments in the signed element are the subject
            // of `comments_ours_signs_with_comments_xmlsec_verifies`.
            if m.with_comments() {
                continue;
            }
            let o = options(
                SignatureAlgorithm::EcdsaSha256,
                DigestAlgorithm::Sha256,
                m,
                p,
            );
            total += 1;
            failures.check(
                &format!("#{id} {m:?} {p:?}"),
                ours_to_xmlsec(doc, id, key, &o),
            );
        }
    }
    failures.finish(total);
}

/// Both documents with every comment removed, so that the WithComments
/// variants can be compared on their own, apart from comment handling.
#[test]
fn c14n_with_comments_methods_on_comment_free_documents_both_ways() {
    let fx = fixture();
    let key = fx.key(Kind::Rsa3072);
    let mut failures = Failures::default();
    let mut total = 0;
    for (doc, id, list) in TARGETS {
        let doc = strip_comments(doc);
        for (m, p) in methods(list) {
            if !m.with_comments() {
                continue;
            }
            let o = options(SignatureAlgorithm::RsaSha512, DigestAlgorithm::Sha512, m, p);
            let t =
                Template::new(SignatureAlgorithm::RsaSha512, DigestAlgorithm::Sha512).c14n(m, p);
            total += 2;
            failures.check(
                &format!("ours→xmlsec1 #{id} {m:?} {p:?}"),
                ours_to_xmlsec(&doc, id, key, &o),
            );
            failures.check(
                &format!("xmlsec1→ours #{id} {m:?} {p:?}"),
                xmlsec_to_ours(&doc, id, key, &t),
            );
        }
    }
    failures.finish(total);
}

fn strip_comments(doc: &str) -> String {
    let mut out = doc.to_owned();
    while let Some(start) = out.find("<!--") {
        let end = start + out[start..].find("-->").unwrap() + 3;
        out.replace_range(start..end, "");
    }
    out
}

// ---------------------------------------------------------------------------
// Comments inside the signed element
// ---------------------------------------------------------------------------

/// xmlsec1 signs with WithComments transforms and a bare-name `#ID`
/// Reference: the comments are not part of the digest (XML-DSig 4.3.3.3), so
/// ours verifies, and editing or removing a comment breaks neither verifier.
#[test]
fn comments_xmlsec_signs_with_comments_ours_verifies() {
    let fx = fixture();
    let key = fx.key(Kind::Rsa2048);
    let mut failures = Failures::default();
    let mut total = 0;
    let cases = [
        (
            DOC_PREFIXED,
            "_a1",
            "<!-- issued for alice -->",
            "<!-- issued for mallory -->",
        ),
        (DOC_PREFIXED, "_r1", "<!-- two values -->", ""),
        (DOC_DEFAULT_NS, "_a2", "<!-- inner comment -->", "<!--x-->"),
    ];
    for (doc, id, comment, replacement) in cases {
        for m in [Method::ExclusiveWithComments, Method::InclusiveWithComments] {
            total += 1;
            let label = format!("#{id} {m:?}");
            let t =
                Template::new(SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256).c14n(m, None);
            let signed = xmlsec_sign(&t.apply(doc, id), key);
            let edited = tamper(&signed, comment, replacement);
            let checks = [
                (
                    "ours, as signed",
                    ours_verify(&signed, id, &[key.public_key()])
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                ),
                (
                    "ours, comment edited",
                    ours_verify(&edited, id, &[key.public_key()])
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                ),
                (
                    "xmlsec1, comment edited",
                    xmlsec_verify(&edited, &key.cert_path),
                ),
            ];
            for (what, result) in checks {
                failures.check(&format!("{label} {what}"), result);
            }
        }
    }
    failures.finish(total);
}

/// The other way round: ours signs documents with comments inside the signed
/// element using a WithComments method; xmlsec1 (which drops the comments for
/// a bare-name Reference) must verify, and so must we.
///
/// The DigestValue must therefore equal the one of the comment-free
/// counterpart method. `sign_enveloped` digests the element with
/// `options.c14n` as given, comments included, while both verifiers (ours in
/// `verify.rs` and xmlsec1) drop them for `URI="#ID"`, so each such signature
/// fails with a digest mismatch on both sides.
#[test]
fn comments_ours_signs_with_comments_xmlsec_verifies() {
    let fx = fixture();
    let key = fx.key(Kind::Rsa2048);
    let mut failures = Failures::default();
    let mut total = 0;
    for (doc, id, list) in TARGETS {
        for (m, p) in methods(list) {
            if !m.with_comments() {
                continue;
            }
            total += 1;
            let label = format!("#{id} {m:?} {p:?}");
            let o = options(SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256, m, p);
            let without = match m {
                Method::ExclusiveWithComments => Method::Exclusive,
                _ => Method::Inclusive,
            };
            let o_without = options(
                SignatureAlgorithm::RsaSha256,
                DigestAlgorithm::Sha256,
                without,
                p,
            );
            let with_value = digest_value(&ours_sign(doc, id, key, &o));
            let without_value = digest_value(&ours_sign(doc, id, key, &o_without));
            if with_value != without_value {
                failures.0.push(format!(
                    "[{label}] DigestValue {with_value} (comments digested), but a bare-name \
                     Reference digests without comments: {without_value}"
                ));
            }
            failures.check(&label, ours_to_xmlsec(doc, id, key, &o));
        }
    }
    failures.finish(total);
}

/// The text of the (first) `ds:DigestValue`.
fn digest_value(xml: &str) -> String {
    let start = xml.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
    let end = start + xml[start..].find("</ds:DigestValue>").unwrap();
    xml[start..end].to_owned()
}

/// Ours signs with the comment-free methods; a comment edited afterwards
/// changes nothing for either verifier.
#[test]
fn comments_ours_signs_without_comments_edit_is_harmless() {
    let fx = fixture();
    let key = fx.key(Kind::P384);
    for m in [Method::Exclusive, Method::Inclusive] {
        let o = options(
            SignatureAlgorithm::EcdsaSha384,
            DigestAlgorithm::Sha384,
            m,
            None,
        );
        let signed = ours_sign(DOC_PREFIXED, "_a1", key, &o);
        let edited = tamper(
            &signed,
            "<!-- issued for alice -->",
            "<!-- issued for mallory -->",
        );
        xmlsec_verify(&edited, &key.cert_path).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        ours_verify(&edited, "_a1", &[key.public_key()]).unwrap_or_else(|e| panic!("{m:?}: {e}"));
    }
}

// ---------------------------------------------------------------------------
// Negative cross-checks
// ---------------------------------------------------------------------------

const MAIL: &str = "<saml:AttributeValue xsi:type=\"xs:string\">alice@example.com<";
const MAIL_TAMPERED: &str = "<saml:AttributeValue xsi:type=\"xs:string\">alicf@example.com<";

#[test]
fn tampered_xmlsec_signed_is_digest_mismatch() {
    let fx = fixture();
    for kind in [Kind::Rsa4096, Kind::P256] {
        let key = fx.key(kind);
        let alg = if kind == Kind::P256 {
            SignatureAlgorithm::EcdsaSha256
        } else {
            SignatureAlgorithm::RsaSha512
        };
        for (id, m) in [
            ("_a1", Method::Exclusive),
            ("_r1", Method::InclusiveWithComments),
        ] {
            let t = Template::new(alg, DigestAlgorithm::Sha256).c14n(m, None);
            let signed = xmlsec_sign(&t.apply(DOC_PREFIXED, id), key);
            ours_verify(&signed, id, &[key.public_key()])
                .unwrap_or_else(|e| panic!("{kind:?} #{id}: untampered must verify: {e}"));
            let tampered = tamper(&signed, MAIL, MAIL_TAMPERED);
            let err = ours_verify(&tampered, id, &[key.public_key()]).unwrap_err();
            assert_eq!(
                err.code(),
                ErrorCode::DigestMismatch,
                "{kind:?} #{id}: {err}"
            );
            assert!(
                xmlsec_verify(&tampered, &key.cert_path).is_err(),
                "{kind:?} #{id}: xmlsec1 accepted a tampered document"
            );
        }
    }
}

#[test]
fn tampered_ours_signed_fails_xmlsec() {
    let fx = fixture();
    for kind in [Kind::Rsa3072, Kind::P384] {
        let key = fx.key(kind);
        let alg = if kind == Kind::P384 {
            SignatureAlgorithm::EcdsaSha384
        } else {
            SignatureAlgorithm::RsaSha384
        };
        for (id, m) in [("_a1", Method::Exclusive), ("_r1", Method::Inclusive)] {
            let signed = ours_sign(
                DOC_PREFIXED,
                id,
                key,
                &options(alg, DigestAlgorithm::Sha512, m, None),
            );
            xmlsec_verify(&signed, &key.cert_path)
                .unwrap_or_else(|e| panic!("{kind:?} #{id}: untampered must verify: {e}"));
            let tampered = tamper(&signed, MAIL, MAIL_TAMPERED);
            let out = xmlsec_verify(&tampered, &key.cert_path)
                .expect_err("xmlsec1 accepted a document tampered after we signed it");
            assert!(
                out.contains("FAIL") || out.contains("do not match"),
                "{kind:?} #{id}: {out}"
            );
            let err = ours_verify(&tampered, id, &[key.public_key()]).unwrap_err();
            assert_eq!(
                err.code(),
                ErrorCode::DigestMismatch,
                "{kind:?} #{id}: {err}"
            );
        }
    }
    // A changed SignatureValue (DigestValue intact) fails as a signature.
    let key = fx.key(Kind::Rsa2048);
    let signed = ours_sign(
        DOC_PREFIXED,
        "_a1",
        key,
        &options(
            SignatureAlgorithm::RsaSha256,
            DigestAlgorithm::Sha256,
            Method::Exclusive,
            None,
        ),
    );
    let start = signed.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut bytes = signed.into_bytes();
    bytes[start + 10] = if bytes[start + 10] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(xmlsec_verify(&tampered, &key.cert_path).is_err());
    let err = ours_verify(&tampered, "_a1", &[key.public_key()]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::SignatureInvalid, "{err}");
}

#[test]
fn wrong_trusted_key_is_signature_invalid() {
    let fx = fixture();
    let cases = [
        (Kind::Rsa2048, SignatureAlgorithm::RsaSha256, Kind::Rsa3072),
        (Kind::Rsa4096, SignatureAlgorithm::RsaSha384, Kind::Rsa2048),
        (Kind::P256, SignatureAlgorithm::EcdsaSha256, Kind::P256),
        (Kind::P384, SignatureAlgorithm::EcdsaSha384, Kind::P384),
    ];
    for (kind, alg, wrong_kind) in cases {
        let key = fx.key(kind);
        let t = Template::new(alg, DigestAlgorithm::Sha256);
        let signed = xmlsec_sign(&t.apply(DOC_DEFAULT_NS, "_a2"), key);
        // A different key of the same type: another size for RSA, a fresh
        // key for the EC curves.
        let (wrong, wrong_cert) = if wrong_kind == kind {
            fresh_ec_key(kind)
        } else {
            let k = fx.key(wrong_kind);
            (k.public_key(), k.cert_path.clone())
        };
        let err = ours_verify(&signed, "_a2", std::slice::from_ref(&wrong)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::SignatureInvalid, "{kind:?}: {err}");
        // With the right key beside it, the right key is found.
        ours_verify(&signed, "_a2", &[wrong, key.public_key()])
            .unwrap_or_else(|e| panic!("{kind:?} with two keys: {e}"));
        assert!(
            xmlsec_verify(&signed, &wrong_cert).is_err(),
            "{kind:?}: xmlsec1 accepted the wrong key"
        );
    }
}

/// A second key of the same curve, generated for this test only: its public
/// key and its certificate file.
fn fresh_ec_key(kind: Kind) -> (PublicKey, PathBuf) {
    let key_path = scratch(&format!("{}-second-key", kind.name()));
    let cert_path = scratch(&format!("{}-second-cert", kind.name()));
    run_ok(
        Command::new("openssl")
            .arg("genpkey")
            .args(kind.genpkey_args())
            .arg("-out")
            .arg(&key_path),
    );
    run_ok(
        Command::new("openssl")
            .args(["req", "-new", "-x509", "-key"])
            .arg(&key_path)
            .args(["-subj", "/CN=test", "-days", "3650", "-out"])
            .arg(&cert_path),
    );
    let pem = std::fs::read_to_string(&cert_path).unwrap();
    let public = Certificate::from_pem(&pem).unwrap()[0].public_key().clone();
    (public, cert_path)
}
