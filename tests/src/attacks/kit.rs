//! The attack suite's toolkit: keys, genuine responses, two independent
//! signers (ours and `xmlsec1`), encryption for the SP, and string surgery.
//!
//! This file is not part of the `saml_tests` library: `tests/tests/attacks.rs`
//! includes it with `#[path]`, because it needs the layer's crates, which
//! are dev-dependencies only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use saml_core::clock::format_datetime;
use saml_core::crypto::{Certificate, PublicKey, SigningKey};
use saml_core::dsig::{SignOptions, sign_enveloped};
use saml_core::xmlenc::{DecryptionKey, EncryptOptions, encrypt_element};

pub(crate) const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The genuine user the IdP signs for.
pub(crate) const ALICE: &str = "alice@example.com";
/// The user every attacker wants to become.
pub(crate) const ADMIN: &str = "admin@example.com";

// ---------------------------------------------------------------- keys

/// A private key with its certificate, as files (for xmlsec1) and parsed.
#[derive(Debug)]
pub(crate) struct KeyPair {
    pub(crate) key_path: PathBuf,
    pub(crate) cert_path: PathBuf,
    pub(crate) key_pem: String,
    pub(crate) cert_pem: String,
}

impl KeyPair {
    fn load(key_path: PathBuf, cert_path: PathBuf) -> Self {
        Self {
            key_pem: std::fs::read_to_string(&key_path).expect("key file"),
            cert_pem: std::fs::read_to_string(&cert_path).expect("certificate file"),
            key_path,
            cert_path,
        }
    }

    pub(crate) fn signing(&self) -> SigningKey {
        let cert = Certificate::from_pem(&self.cert_pem).unwrap().remove(0);
        SigningKey::from_pem(&self.key_pem)
            .unwrap()
            .with_certificate(cert)
            .unwrap()
    }

    pub(crate) fn public(&self) -> PublicKey {
        Certificate::from_pem(&self.cert_pem).unwrap()[0]
            .public_key()
            .clone()
    }

    /// The certificate's DER in base64, as `X509Certificate` carries it.
    pub(crate) fn cert_b64(&self) -> String {
        self.cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect()
    }
}

/// Every key of the suite, loaded or generated once per run.
#[derive(Debug)]
pub(crate) struct Keys {
    /// The IdP's signing key: trusted by the SP (bench fixtures).
    pub(crate) idp: KeyPair,
    /// The SP's encryption key pair (bench fixtures): its certificate is
    /// public, so attackers can encrypt anything for the SP.
    pub(crate) sp: KeyPair,
    /// A key only the attacker holds (generated with the openssl CLI).
    pub(crate) attacker: KeyPair,
    pub(crate) dir: PathBuf,
}

impl Keys {
    pub(crate) fn decryption(&self) -> DecryptionKey {
        DecryptionKey::from_pem(&self.sp.key_pem).expect("SP decryption key")
    }
}

fn shared_dir() -> PathBuf {
    std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let fixtures = shared_dir().join("bench-fixtures");
        let dir = std::env::temp_dir().join(format!("saml-attacks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("attacker-key.pem");
        let cert = dir.join("attacker-cert.pem");
        run_ok(
            Command::new("openssl")
                .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
                .arg("rsa_keygen_bits:2048")
                .arg("-out")
                .arg(&key),
        );
        run_ok(
            Command::new("openssl")
                .args(["req", "-new", "-x509", "-key"])
                .arg(&key)
                .args(["-subj", "/CN=attacker", "-days", "3650", "-out"])
                .arg(&cert),
        );
        Keys {
            idp: KeyPair::load(fixtures.join("idp-key.pem"), fixtures.join("idp-cert.pem")),
            sp: KeyPair::load(fixtures.join("sp-key.pem"), fixtures.join("sp-cert.pem")),
            attacker: KeyPair::load(key, cert),
            dir,
        }
    })
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run openssl (is the CLI installed?)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    keys().dir.join(format!("{n:05}-{name}.xml"))
}

/// A fresh, unique XML ID with this prefix.
pub(crate) fn fresh_id(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("_{prefix}{:06}", N.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------- signers

/// Who produces the signatures of the base responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signer {
    /// `saml_core::dsig::sign_enveloped`.
    Ours,
    /// `xmlsec1 --sign` (libxmlsec1, OpenSSL), an independent implementation.
    Xmlsec,
}

pub(crate) const SIGNERS: [Signer; 2] = [Signer::Ours, Signer::Xmlsec];

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// An xmlsec1 signature template for the element `id`, with `transforms`
/// (the inside of `ds:Transforms`).
pub(crate) fn template(id: &str, transforms: &str) -> String {
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{ds}"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r#"<ds:SignatureMethod Algorithm="{alg}"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>{transforms}</ds:Transforms>"##,
            r#"<ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference>"#,
            r#"</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"#
        ),
        ds = DS_NS,
        c14n = EXC_C14N,
        alg = RSA_SHA256,
        id = id,
        transforms = transforms,
        digest = SHA256,
    )
}

/// The usual transforms: enveloped-signature, then exclusive C14N.
pub(crate) fn standard_transforms() -> String {
    format!(r#"<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>"#)
}

/// `xml` with `insert` right after the Issuer of the element whose ID is `id`.
pub(crate) fn after_issuer_of(xml: &str, id: &str, insert: &str) -> String {
    let at = xml
        .find(&format!(r#"ID="{id}""#))
        .unwrap_or_else(|| panic!("no ID {id}"));
    let end = at + xml[at..].find("</saml:Issuer>").expect("an Issuer") + "</saml:Issuer>".len();
    format!("{}{insert}{}", &xml[..end], &xml[end..])
}

/// Runs `xmlsec1 --sign` on a document that holds one signature template;
/// `Err` carries xmlsec1's complaint.
pub(crate) fn xmlsec_sign_template(doc: &str, key: &KeyPair) -> Result<String, String> {
    let input = scratch("template");
    let output = input.with_extension("signed.xml");
    std::fs::write(&input, doc).unwrap();
    let mut privkey = key.key_path.clone().into_os_string();
    privkey.push(",");
    privkey.push(&key.cert_path);
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(privkey)
        .arg("--id-attr:ID")
        .arg(format!("{SAML_NS}:Assertion"))
        .arg("--id-attr:ID")
        .arg(format!("{SAMLP_NS}:Response"))
        .arg("--id-attr:ID")
        .arg(format!("{SAMLP_NS}:LogoutResponse"))
        .arg("--id-attr:ID")
        .arg(format!("{SAMLP_NS}:LogoutRequest"))
        .arg("--id-attr:ID")
        .arg(format!("{SAMLP_NS}:ArtifactResponse"))
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("run xmlsec1 (is it installed at /usr/bin/xmlsec1?)");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let signed = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    Ok(strip_declaration(&signed).trim_end().to_owned())
}

fn strip_declaration(xml: &str) -> &str {
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest
            .find("?>")
            .map_or(xml, |end| rest[end + 2..].trim_start()),
        None => xml,
    }
}

/// Signs the element `id` of `xml` (its Signature right after its Issuer).
pub(crate) fn sign(signer: Signer, xml: &str, id: &str, key: &KeyPair) -> String {
    match signer {
        Signer::Ours => sign_enveloped(xml, id, &key.signing(), &SignOptions::default())
            .unwrap_or_else(|e| panic!("sign_enveloped {id}: {e}")),
        Signer::Xmlsec => {
            let doc = after_issuer_of(xml, id, &template(id, &standard_transforms()));
            xmlsec_sign_template(&doc, key).unwrap_or_else(|e| panic!("xmlsec1 --sign {id}: {e}"))
        }
    }
}

/// `xmlsec1 --verify` of the element `id` with `cert` as the only key.
pub(crate) fn xmlsec_verifies(doc: &str, cert: &Path) -> bool {
    let input = scratch("verify");
    std::fs::write(&input, doc).unwrap();
    let out = Command::new("xmlsec1")
        .args([
            "--verify",
            "--enabled-key-data",
            "key-name",
            "--pubkey-cert-pem",
        ])
        .arg(cert)
        .arg("--id-attr:ID")
        .arg(format!("{SAML_NS}:Assertion"))
        .arg("--id-attr:ID")
        .arg(format!("{SAMLP_NS}:Response"))
        .arg(&input)
        .output()
        .expect("run xmlsec1");
    let _ = std::fs::remove_file(&input);
    out.status.success()
}

// ---------------------------------------------------------------- documents

/// Where a response goes and what it answers.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) idp: String,
    pub(crate) sp: String,
    pub(crate) acs: String,
    pub(crate) request_id: Option<String>,
    pub(crate) now: DateTime<Utc>,
}

fn t(at: DateTime<Utc>) -> String {
    format_datetime(at)
}

/// An unsigned assertion for `name_id` (raw XML content: a test may put
/// comments in it) declaring its own `saml` prefix.
pub(crate) fn assertion_xml(ctx: &Ctx, id: &str, name_id: &str) -> String {
    let irt = ctx
        .request_id
        .as_ref()
        .map(|r| format!(r#" InResponseTo="{r}""#))
        .unwrap_or_default();
    let now = ctx.now;
    format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="{now}">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name}</saml:NameID>"#,
            r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{irt} NotOnOrAfter="{noa}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject>"#,
            r#"<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="{now}" SessionIndex="_s{id}" SessionNotOnOrAfter="{snoa}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
            r#"<saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>{name}</saml:AttributeValue></saml:Attribute>"#,
            r#"<saml:Attribute Name="role"><saml:AttributeValue>user</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#,
            r#"</saml:Assertion>"#
        ),
        saml = SAML_NS,
        id = id,
        now = t(now),
        idp = ctx.idp,
        name = name_id,
        irt = irt,
        noa = t(now + Duration::minutes(5)),
        acs = ctx.acs,
        nb = t(now - Duration::seconds(30)),
        sp = ctx.sp,
        snoa = t(now + Duration::hours(8)),
    )
}

/// An unsigned Response around `inner` (assertions, or anything).
pub(crate) fn response_xml(ctx: &Ctx, id: &str, inner: &str) -> String {
    let irt = ctx
        .request_id
        .as_ref()
        .map(|r| format!(r#" InResponseTo="{r}""#))
        .unwrap_or_default();
    format!(
        concat!(
            r#"<samlp:Response xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{acs}"{irt}>"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#,
            "{inner}</samlp:Response>"
        ),
        samlp = SAMLP_NS,
        saml = SAML_NS,
        id = id,
        now = t(ctx.now),
        acs = ctx.acs,
        irt = irt,
        idp = ctx.idp,
        inner = inner,
    )
}

/// `assertion` encrypted for the SP (AES-256-GCM, RSA-OAEP), wrapped in a
/// `saml:EncryptedAssertion` that declares its prefix.
pub(crate) fn encrypted(assertion: &str) -> String {
    let data = encrypt_element(assertion, &keys().sp.public(), &EncryptOptions::default())
        .expect("encrypt for the SP");
    format!(r#"<saml:EncryptedAssertion xmlns:saml="{SAML_NS}">{data}</saml:EncryptedAssertion>"#)
}

/// The genuine material one attack starts from: what an attacker who once
/// signed in as Alice (or who captured her response) holds.
#[derive(Debug)]
pub(crate) struct Base {
    pub(crate) ctx: Ctx,
    pub(crate) signer: Signer,
    /// The assertion ID and the response ID.
    pub(crate) aid: String,
    pub(crate) rid: String,
    /// Alice's assertion, unsigned.
    pub(crate) assertion: String,
    /// Alice's assertion, signed by the IdP (the element alone).
    pub(crate) signed_assertion: String,
    /// The attacker's assertion for admin, unsigned, with the same ID.
    pub(crate) evil: String,
}

impl Base {
    pub(crate) fn new(ctx: &Ctx, signer: Signer) -> Self {
        Self::with_subject(ctx, signer, ALICE)
    }

    /// A base whose genuine NameID (raw XML) is `name_id`.
    pub(crate) fn with_subject(ctx: &Ctx, signer: Signer, name_id: &str) -> Self {
        let aid = fresh_id("a");
        let rid = fresh_id("r");
        let assertion = assertion_xml(ctx, &aid, name_id);
        let signed_assertion = sign(signer, &assertion, &aid, &keys().idp);
        let evil = assertion_xml(ctx, &aid, ADMIN);
        Self {
            ctx: ctx.clone(),
            signer,
            aid,
            rid,
            assertion,
            signed_assertion,
            evil,
        }
    }

    /// An unsigned Response (this base's ID) around `inner`.
    pub(crate) fn response(&self, inner: &str) -> String {
        response_xml(&self.ctx, &self.rid, inner)
    }

    /// The usual response: unsigned, the assertion signed.
    pub(crate) fn assertion_signed(&self) -> String {
        self.response(&self.signed_assertion)
    }

    /// The Response signed, the assertion not.
    pub(crate) fn response_signed(&self) -> String {
        sign(
            self.signer,
            &self.response(&self.assertion),
            &self.rid,
            &keys().idp,
        )
    }

    /// The Response signed around the signed assertion.
    pub(crate) fn both_signed(&self) -> String {
        sign(
            self.signer,
            &self.response(&self.signed_assertion),
            &self.rid,
            &keys().idp,
        )
    }

    /// The Response signed around the assertion encrypted for the SP.
    pub(crate) fn encrypted_response_signed(&self, plaintext: &str) -> String {
        sign(
            self.signer,
            &self.response(&encrypted(plaintext)),
            &self.rid,
            &keys().idp,
        )
    }

    /// The attacker's assertion with a copy of the genuine signature where
    /// SAML puts it (after the Issuer).
    pub(crate) fn evil_with_signature(&self) -> String {
        insert_after_first(
            &self.evil,
            "</saml:Issuer>",
            signature_of(&self.signed_assertion),
        )
    }

    /// The attacker's assertion with another ID.
    pub(crate) fn evil_with_id(&self, id: &str) -> String {
        self.evil.replacen(
            &format!(r#"ID="{}""#, self.aid),
            &format!(r#"ID="{id}""#),
            1,
        )
    }

    /// Signs `xml`'s element `id` with the IdP key, by this base's signer.
    pub(crate) fn idp_sign(&self, xml: &str, id: &str) -> String {
        sign(self.signer, xml, id, &keys().idp)
    }

    /// Signs `xml`'s element `id` with the attacker's key (certificate in
    /// `KeyInfo`), by this base's signer.
    pub(crate) fn attacker_sign(&self, xml: &str, id: &str) -> String {
        sign(self.signer, xml, id, &keys().attacker)
    }
}

// ---------------------------------------------------------------- surgery

/// The first `ds:Signature` element of `xml` (with prefix `ds`).
pub(crate) fn signature_of(xml: &str) -> &str {
    let a = xml.find("<ds:Signature").expect("a ds:Signature");
    let b = xml[a..].find("</ds:Signature>").expect("its end") + a + "</ds:Signature>".len();
    &xml[a..b]
}

/// `xml` without its first `ds:Signature`.
pub(crate) fn without_signature(xml: &str) -> String {
    xml.replacen(signature_of(xml), "", 1)
}

/// Replaces the first `from` (which must occur).
pub(crate) fn replace1(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "`{from}` not found in\n{xml}");
    xml.replacen(from, to, 1)
}

pub(crate) fn insert_after_first(xml: &str, marker: &str, insert: &str) -> String {
    let at = xml.find(marker).unwrap_or_else(|| panic!("no `{marker}`")) + marker.len();
    format!("{}{insert}{}", &xml[..at], &xml[at..])
}

pub(crate) fn insert_before_first(xml: &str, marker: &str, insert: &str) -> String {
    let at = xml.find(marker).unwrap_or_else(|| panic!("no `{marker}`"));
    format!("{}{insert}{}", &xml[..at], &xml[at..])
}

/// The element `<prefix:name ...>...</prefix:name>` that starts at the first
/// `open` (e.g. `<ds:SignedInfo`), assuming no nesting of the same name.
pub(crate) fn element<'x>(xml: &'x str, open: &str, close: &str) -> &'x str {
    let a = xml.find(open).unwrap_or_else(|| panic!("no `{open}`"));
    let b = xml[a..]
        .find(close)
        .unwrap_or_else(|| panic!("no `{close}`"))
        + a
        + close.len();
    &xml[a..b]
}

/// The text between `open` and `close` (first occurrence).
pub(crate) fn between<'x>(xml: &'x str, open: &str, close: &str) -> &'x str {
    let a = xml.find(open).unwrap_or_else(|| panic!("no `{open}`")) + open.len();
    let b = xml[a..]
        .find(close)
        .unwrap_or_else(|| panic!("no `{close}`"))
        + a;
    &xml[a..b]
}

/// The base64 SHA-256 digest of `bytes`.
pub(crate) fn sha256_b64(bytes: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    base64::engine::general_purpose::STANDARD.encode(d.as_ref())
}

pub(crate) fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

pub(crate) fn b64_bytes(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    t(at)
}
