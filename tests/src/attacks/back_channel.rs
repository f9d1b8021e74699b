//! The back-channel attack suite's toolkit (`tests/attacks_back_channel.rs`):
//! two identity providers with single logout and artifact resolution
//! endpoints in their metadata, sign-in through either, logout messages on
//! every binding, HTTP-Redirect query signatures by two independent signers
//! (our `SigningKey` and the `openssl` CLI), and a fake artifact resolution
//! service behind the layer's `HttpClient`.
//!
//! Like `kit.rs` and `layer.rs`, this file is included with `#[path]`.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use base64::Engine as _;
use saml_core::binding::encode_redirect;
use saml_core::clock::Clock;
use saml_core::crypto::SignatureAlgorithm;
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{Provider, ProviderSettings};
use saml_remote::{HttpClient, HttpError, HttpRequest, HttpResponse};
use saml_testkit::dev_idp::{DevIdp, DevIdpConfig};

use super::kit::{KeyPair, Signer, assertion_xml, fresh_id, keys, response_xml, sign};
use super::layer::{BASE, Browser, IDP_ENTITY, Node, idp, percent};

/// Provider `idp` (entity [`IDP_ENTITY`], key `keys().idp`).
pub(crate) const A: &str = "idp";
/// Provider `other`: another configured IdP, whose key (`keys().attacker`)
/// the SP trusts for it alone.
pub(crate) const B: &str = "other";
pub(crate) const B_ENTITY: &str = "https://other.attacks.example/metadata";
/// Provider `plain`: its artifact resolution service is plain HTTP.
pub(crate) const PLAIN: &str = "plain";
pub(crate) const PLAIN_ENTITY: &str = "https://plain.attacks.example/metadata";

pub(crate) const A_SLO: &str = "https://idp.attacks.example/slo";
pub(crate) const A_ARS: &str = "https://idp.attacks.example/ars";
pub(crate) const A_ARS2: &str = "https://idp.attacks.example/ars2";
pub(crate) const B_SLO: &str = "https://other.attacks.example/slo";
pub(crate) const B_ARS: &str = "https://other.attacks.example/ars";
pub(crate) const PLAIN_ARS: &str = "http://ars.plain.attacks.example/ars";

/// Every URL a metadata document of this suite names for artifact resolution.
pub(crate) const METADATA_ARS: &[&str] = &[A_ARS, A_ARS2, B_ARS, PLAIN_ARS];

pub(crate) fn slo_url() -> String {
    format!("{BASE}/saml/slo")
}

pub(crate) fn soap_url() -> String {
    format!("{BASE}/saml/slo/soap")
}

pub(crate) fn artifact_url() -> String {
    format!("{BASE}/saml/artifact")
}

pub(crate) fn acs_url() -> String {
    format!("{BASE}/saml/acs")
}

pub(crate) fn sp_entity() -> String {
    format!("{BASE}/saml/metadata")
}

/// The development IdP of provider `other`, for its metadata.
pub(crate) fn other_idp() -> &'static DevIdp {
    static IDP: OnceLock<DevIdp> = OnceLock::new();
    IDP.get_or_init(|| {
        let mut config = DevIdpConfig::new(B_ENTITY, "https://other.attacks.example/sso");
        config.key = Some((
            keys().attacker.key_pem.clone(),
            keys().attacker.cert_pem.clone(),
        ));
        DevIdp::new(config).expect("dev IdP")
    })
}

fn plain_idp() -> &'static DevIdp {
    static IDP: OnceLock<DevIdp> = OnceLock::new();
    IDP.get_or_init(|| {
        let mut config = DevIdpConfig::new(PLAIN_ENTITY, "https://plain.attacks.example/sso");
        config.key = Some((keys().idp.key_pem.clone(), keys().idp.cert_pem.clone()));
        DevIdp::new(config).expect("dev IdP")
    })
}

const SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";

fn ars(location: &str, index: u16) -> String {
    format!(
        r#"<md:ArtifactResolutionService Binding="{SOAP}" Location="{location}" index="{index}"/>"#
    )
}

fn slo_services(location: &str) -> String {
    ["HTTP-Redirect", "HTTP-POST", "SOAP"]
        .iter()
        .map(|b| {
            format!(
                r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:{b}" Location="{location}"/>"#
            )
        })
        .collect()
}

fn with_endpoints(
    name: &str,
    idp: &DevIdp,
    endpoints: &str,
    settings: impl FnOnce(&mut ProviderSettings),
) -> Provider {
    let xml = idp.metadata_xml();
    let marker = "</md:KeyDescriptor>";
    let at = xml.find(marker).expect("a KeyDescriptor") + marker.len();
    let xml = format!("{}{endpoints}{}", &xml[..at], &xml[at..]);
    let metadata = IdpMetadata::parse(&xml, &MetadataOptions::new()).expect("metadata");
    let mut s = ProviderSettings::default();
    settings(&mut s);
    Provider {
        name: name.to_owned(),
        metadata,
        settings: s,
    }
}

/// The three providers, each adjusted by `settings` (which gets the name).
pub(crate) fn providers(settings: impl Fn(&str, &mut ProviderSettings)) -> Vec<Provider> {
    let a = format!("{}{}{}", ars(A_ARS, 1), ars(A_ARS2, 2), slo_services(A_SLO));
    let b = format!("{}{}", ars(B_ARS, 1), slo_services(B_SLO));
    vec![
        with_endpoints(A, idp(), &a, |s| settings(A, s)),
        with_endpoints(B, other_idp(), &b, |s| settings(B, s)),
        with_endpoints(PLAIN, plain_idp(), &ars(PLAIN_ARS, 1), |s| {
            settings(PLAIN, s);
        }),
    ]
}

/// Entity ID and signing key of a provider of this suite.
pub(crate) fn entity_and_key(provider: &str) -> (&'static str, &'static KeyPair) {
    match provider {
        A => (IDP_ENTITY, &keys().idp),
        B => (B_ENTITY, &keys().attacker),
        _ => (PLAIN_ENTITY, &keys().idp),
    }
}

/// A Response from `provider` for `name_id`, the assertion signed by the
/// provider's key, answering `request_id` at `acs`.
pub(crate) fn signed_response(
    node: &Node,
    provider: &str,
    name_id: &str,
    request_id: &str,
    acs: &str,
    signer: Signer,
) -> String {
    let (entity, key) = entity_and_key(provider);
    let mut ctx = node.ctx(Some(request_id.to_owned()));
    entity.clone_into(&mut ctx.idp);
    acs.clone_into(&mut ctx.acs);
    let aid = fresh_id("a");
    let assertion = sign(signer, &assertion_xml(&ctx, &aid, name_id), &aid, key);
    response_xml(&ctx, &fresh_id("r"), &assertion)
}

/// Signs `name_id` in at `provider` in a fresh browser, SP-initiated.
pub(crate) async fn sign_in(node: &Node, provider: &str, name_id: &str) -> Browser {
    let mut browser = Browser::default();
    let request_id = browser.begin_login(node, &format!("idp={provider}")).await;
    let xml = signed_response(
        node,
        provider,
        name_id,
        &request_id,
        &acs_url(),
        Signer::Ours,
    );
    let reply = browser.post_response(node, &xml, None).await;
    assert!(reply.sets_session(), "sign-in failed: {reply:?}");
    assert_eq!(browser.whoami(node).await.as_deref(), Some(name_id));
    browser
}

// ---------------------------------------------------------------- redirect

/// The independent signer of HTTP-Redirect queries next to ours: the
/// `openssl dgst -sign` CLI (OpenSSL), over the same octets.
fn openssl_sign(octets: &str, key: &KeyPair, algorithm: SignatureAlgorithm) -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let input = keys().dir.join(format!("redirect-{n}.txt"));
    let output = keys().dir.join(format!("redirect-{n}.sig"));
    std::fs::write(&input, octets).unwrap();
    let digest = match algorithm {
        SignatureAlgorithm::RsaSha1 => "-sha1",
        SignatureAlgorithm::RsaSha384 => "-sha384",
        SignatureAlgorithm::RsaSha512 => "-sha512",
        _ => "-sha256",
    };
    let out = Command::new("openssl")
        .args(["dgst", digest, "-sign"])
        .arg(&key.key_path)
        .arg("-out")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signature = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    signature
}

/// Signs `octets` (a Redirect query up to `&Signature=`) with `key`, by our
/// `SigningKey` or, for [`Signer::Xmlsec`], by the openssl CLI; returns the
/// base64 signature (not percent-encoded).
pub(crate) fn sign_octets(
    signer: Signer,
    octets: &str,
    key: &KeyPair,
    algorithm: SignatureAlgorithm,
) -> String {
    let bytes = match signer {
        // Our signer never makes RSA-SHA1 signatures: the CLI makes those.
        Signer::Ours if algorithm != SignatureAlgorithm::RsaSha1 => {
            key.signing().sign(algorithm, octets.as_bytes()).unwrap()
        }
        _ => openssl_sign(octets, key, algorithm),
    };
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A Redirect query under construction: `(name, raw value)` pairs in order.
#[derive(Debug, Clone)]
pub(crate) struct Query(pub(crate) Vec<(String, String)>);

impl Query {
    /// `SAMLRequest` (or `SAMLResponse`) with `xml`, and `RelayState`.
    pub(crate) fn message(parameter: &str, xml: &str, relay_state: Option<&str>) -> Self {
        let mut pairs = vec![(parameter.to_owned(), percent(&encode_redirect(xml)))];
        if let Some(r) = relay_state {
            pairs.push(("RelayState".to_owned(), percent(r)));
        }
        Self(pairs)
    }

    pub(crate) fn push(&mut self, name: &str, raw_value: &str) {
        self.0.push((name.to_owned(), raw_value.to_owned()));
    }

    pub(crate) fn text(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Adds `SigAlg` and the signature over everything so far.
    pub(crate) fn signed(
        mut self,
        signer: Signer,
        key: &KeyPair,
        algorithm: SignatureAlgorithm,
    ) -> Self {
        self.push("SigAlg", &percent(algorithm.uri()));
        let signature = sign_octets(signer, &self.text(), key, algorithm);
        self.push("Signature", &percent(&signature));
        self
    }

    /// The raw value of the first parameter `name`.
    pub(crate) fn get(&self, name: &str) -> &str {
        &self.0.iter().find(|(n, _)| n == name).unwrap().1
    }

    pub(crate) fn set(&mut self, name: &str, raw_value: &str) {
        self.0.iter_mut().find(|(n, _)| n == name).unwrap().1 = raw_value.to_owned();
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| n != name);
    }

    pub(crate) fn uri(&self) -> String {
        format!("/saml/slo?{}", self.text())
    }
}

// ---------------------------------------------------------------- artifact resolution

/// What the fake resolution service saw of one `ArtifactResolve`.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) url: String,
    /// The `ArtifactResolve` ID (what the answer's `InResponseTo` must be).
    pub(crate) id: String,
    pub(crate) artifact: String,
    pub(crate) max_response_bytes: usize,
}

pub(crate) type Answer = Box<dyn Fn(&Seen) -> Result<HttpResponse, HttpError> + Send + Sync>;

/// Plays the IdPs' artifact resolution services: records every request and
/// answers with the current [`Answer`].
#[derive(Clone, Default)]
pub(crate) struct FakeArs {
    answer: Arc<Mutex<Option<Answer>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl std::fmt::Debug for FakeArs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeArs").finish_non_exhaustive()
    }
}

impl FakeArs {
    pub(crate) fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = Some(answer);
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl HttpClient for FakeArs {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let soap = String::from_utf8(request.body.clone()).unwrap();
        let doc = saml_core::xml::Document::parse(&soap, &saml_core::Limits::default()).unwrap();
        let resolve = doc
            .root()
            .descendants()
            .find(|e| e.local_name() == "ArtifactResolve")
            .expect("an ArtifactResolve");
        let seen = Seen {
            url: request.url.clone(),
            id: resolve.attribute("ID").unwrap().to_owned(),
            artifact: resolve
                .child_elements()
                .find(|e| e.local_name() == "Artifact")
                .map(|e| e.text().to_string())
                .unwrap_or_default(),
            max_response_bytes: request.max_response_bytes,
        };
        self.seen.lock().unwrap().push(seen.clone());
        let answer = self.answer.lock().unwrap();
        (answer.as_ref().expect("an answer is set"))(&seen)
    }
}

/// A 200 SOAP answer.
pub(crate) fn soap_ok(body: impl Into<Vec<u8>>) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse::new(200, body).header("Content-Type", "text/xml"))
}

/// The clock of `node`, for building IdP messages at the node's time.
pub(crate) fn clock_of(node: &Node) -> Arc<dyn Clock + Send + Sync> {
    Arc::new(node.clock.clone())
}
