//! A generated federation aggregate for the metadata benchmark and the
//! peak-memory example: one `md:EntitiesDescriptor` of IdP entities shaped
//! like those of research and education federations (registration info,
//! entity categories, scopes, MDUI, two certificates, SAML 1 and 2
//! endpoints, an attribute authority, organization and contacts), signed
//! with the shared bench IdP key.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine;
use saml_core::Limits;
use saml_core::c14n::{Canonicalizer, Method};
use saml_core::crypto::{Certificate, PublicKey, SigningKey};
use saml_core::xml::Document;

/// `../shared/bench-fixtures`, or `$SAML_SHARED_DIR/bench-fixtures`.
pub(crate) fn fixture_dir() -> PathBuf {
    std::env::var_os("SAML_SHARED_DIR")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
            Into::into,
        )
        .join("bench-fixtures")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).expect("bench fixture (../shared/bench-fixtures)")
}

/// The reader limits an aggregate of this size needs (the defaults are
/// 1 MiB and 100,000 nodes).
pub(crate) const AGGREGATE_LIMITS: Limits = Limits {
    max_xml_bytes: 256 << 20,
    max_nodes: 20_000_000,
    ..Limits::DEFAULT
};

/// The key trusted to sign the aggregate.
pub(crate) fn signer() -> PublicKey {
    let pem = String::from_utf8(fixture("idp-cert.pem")).unwrap();
    Certificate::from_pem(&pem).unwrap()[0].public_key().clone()
}

/// The entity ID of entity `i`.
pub(crate) fn entity_id(i: usize) -> String {
    format!("https://idp.campus{i}.example.edu/idp/shibboleth")
}

/// The bench IdP certificate with `n` written into the end of its serial
/// number: a distinct certificate (DER) per call, with a real RSA-2048 key.
/// Its own signature no longer verifies, which SAML metadata never checks.
fn certificate_b64(template: &[u8], n: u32) -> String {
    let mut der = template.to_vec();
    // 30 82 xx xx 30 82 xx xx a0 03 02 01 02 02 14 <20 serial bytes>
    der[31..35].copy_from_slice(&n.to_be_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    // Line-wrapped at 64 characters, as published metadata usually is.
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2);
    for line in b64.as_bytes().chunks(64) {
        out.push('\n');
        out.push_str(std::str::from_utf8(line).unwrap());
    }
    out.push('\n');
    out
}

fn entity(out: &mut String, i: usize, cert_template: &[u8]) {
    let host = format!("idp.campus{i}.example.edu");
    let scope = format!("campus{i}.example.edu");
    let signing = certificate_b64(cert_template, u32::try_from(2 * i).unwrap());
    let encryption = certificate_b64(cert_template, u32::try_from(2 * i + 1).unwrap());
    write!(
        out,
        r#"
  <md:EntityDescriptor entityID="https://{host}/idp/shibboleth">
    <md:Extensions>
      <mdrpi:RegistrationInfo registrationAuthority="https://federation.example.org" registrationInstant="2019-05-{day:02}T10:00:00Z">
        <mdrpi:RegistrationPolicy xml:lang="en">https://federation.example.org/policy/registration</mdrpi:RegistrationPolicy>
      </mdrpi:RegistrationInfo>
      <mdattr:EntityAttributes>
        <saml:Attribute Name="http://macedir.org/entity-category-support" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
          <saml:AttributeValue>http://refeds.org/category/research-and-scholarship</saml:AttributeValue>
        </saml:Attribute>
        <saml:Attribute Name="urn:oasis:names:tc:SAML:attribute:assurance-certification" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
          <saml:AttributeValue>https://refeds.org/sirtfi</saml:AttributeValue>
        </saml:Attribute>
      </mdattr:EntityAttributes>
    </md:Extensions>
    <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol urn:mace:shibboleth:1.0">
      <md:Extensions>
        <shibmd:Scope regexp="false">{scope}</shibmd:Scope>
        <mdui:UIInfo>
          <mdui:DisplayName xml:lang="en">Campus {i} University</mdui:DisplayName>
          <mdui:DisplayName xml:lang="de">Universit&#228;t Campus {i}</mdui:DisplayName>
          <mdui:Description xml:lang="en">Identity provider for students &amp; staff of Campus {i} University.</mdui:Description>
          <mdui:InformationURL xml:lang="en">https://www.{scope}/</mdui:InformationURL>
          <mdui:PrivacyStatementURL xml:lang="en">https://www.{scope}/privacy</mdui:PrivacyStatementURL>
          <mdui:Logo height="60" width="80">https://www.{scope}/logo.png</mdui:Logo>
        </mdui:UIInfo>
        <mdui:DiscoHints>
          <mdui:DomainHint>{scope}</mdui:DomainHint>
        </mdui:DiscoHints>
      </md:Extensions>
      <md:KeyDescriptor use="signing">
        <ds:KeyInfo>
          <ds:X509Data>
            <ds:X509Certificate>{signing}</ds:X509Certificate>
          </ds:X509Data>
        </ds:KeyInfo>
      </md:KeyDescriptor>
      <md:KeyDescriptor use="encryption">
        <ds:KeyInfo>
          <ds:X509Data>
            <ds:X509Certificate>{encryption}</ds:X509Certificate>
          </ds:X509Data>
        </ds:KeyInfo>
        <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/>
        <md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
        <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"/>
      </md:KeyDescriptor>
      <md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:1.0:bindings:SOAP-binding" Location="https://{host}:8443/idp/profile/SAML1/SOAP/ArtifactResolution" index="1"/>
      <md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://{host}:8443/idp/profile/SAML2/SOAP/ArtifactResolution" index="2"/>
      <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/idp/profile/SAML2/Redirect/SLO"/>
      <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/idp/profile/SAML2/POST/SLO"/>
      <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
      <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
      <md:SingleSignOnService Binding="urn:mace:shibboleth:1.0:profiles:AuthnRequest" Location="https://{host}/idp/profile/Shibboleth/SSO"/>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{host}/idp/profile/SAML2/POST/SSO"/>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST-SimpleSign" Location="https://{host}/idp/profile/SAML2/POST-SimpleSign/SSO"/>
      <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{host}/idp/profile/SAML2/Redirect/SSO"/>
    </md:IDPSSODescriptor>
    <md:AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol">
      <md:Extensions>
        <shibmd:Scope regexp="false">{scope}</shibmd:Scope>
      </md:Extensions>
      <md:AttributeService Binding="urn:oasis:names:tc:SAML:1.0:bindings:SOAP-binding" Location="https://{host}:8443/idp/profile/SAML1/SOAP/AttributeQuery"/>
      <md:AttributeService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://{host}:8443/idp/profile/SAML2/SOAP/AttributeQuery"/>
      <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    </md:AttributeAuthorityDescriptor>
    <md:Organization>
      <md:OrganizationName xml:lang="en">Campus {i} University</md:OrganizationName>
      <md:OrganizationDisplayName xml:lang="en">Campus {i} University</md:OrganizationDisplayName>
      <md:OrganizationURL xml:lang="en">https://www.{scope}/</md:OrganizationURL>
    </md:Organization>
    <md:ContactPerson contactType="technical">
      <md:GivenName>Identity Team</md:GivenName>
      <md:EmailAddress>mailto:identity@{scope}</md:EmailAddress>
    </md:ContactPerson>
    <md:ContactPerson contactType="other" xmlns:remd="http://refeds.org/metadata" remd:contactType="http://refeds.org/metadata/contactType/security">
      <md:GivenName>Security Team</md:GivenName>
      <md:EmailAddress>mailto:security@{scope}</md:EmailAddress>
    </md:ContactPerson>
  </md:EntityDescriptor>"#,
        day = i % 28 + 1,
    )
    .unwrap();
}

const ROOT_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" ID="_aggregate20260101" Name="https://federation.example.org" validUntil="2045-01-01T00:00:00Z" cacheDuration="PT6H">"#;

/// An unsigned aggregate of `entities` IdP entities.
pub(crate) fn unsigned(entities: usize) -> String {
    let cert = fixture("idp-cert.der");
    let mut out = String::with_capacity(entities * 7_400 + 1_000);
    out.push_str(ROOT_OPEN);
    for i in 0..entities {
        entity(&mut out, i, &cert);
    }
    out.push_str("\n</md:EntitiesDescriptor>\n");
    out
}

/// The aggregate of `entities` IdP entities with an enveloped signature on
/// its root (exclusive C14N, RSA-SHA256, SHA-256) by the bench IdP key.
pub(crate) fn signed(entities: usize) -> String {
    let xml = unsigned(entities);
    let doc = Document::parse(&xml, &AGGREGATE_LIMITS).unwrap();
    let mut canonical = Vec::with_capacity(xml.len());
    Canonicalizer::new(Method::Exclusive).canonicalize(doc.root(), &mut canonical);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &canonical);
    drop(canonical);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let signed_info = format!(
        r##"<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_aggregate20260101"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>"##,
        b64(digest.as_ref())
    );
    // Canonical SignedInfo: exclusive C14N depends only on the prefixes it
    // uses, so a small document with the same declaration gives the bytes.
    let small = format!(
        r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">{signed_info}</ds:Signature>"#
    );
    let small_doc = Document::parse(&small, &Limits::DEFAULT).unwrap();
    let info = small_doc.root().child_elements().next().unwrap();
    let mut info_bytes = Vec::new();
    Canonicalizer::new(Method::Exclusive).canonicalize(info, &mut info_bytes);
    let key_pem = String::from_utf8(fixture("idp-key.pem")).unwrap();
    let key = SigningKey::from_pem(&key_pem).unwrap();
    let value = key.sign(key.default_algorithm(), &info_bytes).unwrap();
    let signature = format!(
        "<ds:Signature>{signed_info}<ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>",
        b64(&value)
    );
    drop(doc);
    let mut out = String::with_capacity(xml.len() + signature.len());
    out.push_str(ROOT_OPEN);
    out.push_str(&signature);
    out.push_str(&xml[ROOT_OPEN.len()..]);
    out
}
