//! Service-provider metadata: a builder for the `md:EntityDescriptor` that
//! describes this SP to identity providers (assertion consumer and logout
//! endpoints, signing and encryption certificates, NameID formats), written
//! as XML and optionally signed.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};

use super::{SP_ENCRYPTION_METHODS, format_duration};
use crate::clock::format_datetime;
use crate::crypto::{Certificate, SigningKey};
use crate::dsig::{DSIG_NS, SignOptions, sign_enveloped};
use crate::error::Result;
use crate::protocol::{MD_NS, SAMLP_NS};

/// The `contactType` of an `md:ContactPerson`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactType {
    /// `technical`.
    Technical,
    /// `support`.
    Support,
    /// `administrative`.
    Administrative,
    /// `billing`.
    Billing,
    /// `other`.
    Other,
}

impl ContactType {
    /// The schema value (`technical`, `support`...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Technical => "technical",
            Self::Support => "support",
            Self::Administrative => "administrative",
            Self::Billing => "billing",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone)]
struct Service {
    binding: String,
    location: String,
}

#[derive(Debug, Clone)]
struct Organization {
    name: String,
    display_name: String,
    url: String,
}

/// A builder for this service provider's metadata.
///
/// The XML follows the schema order: `md:SPSSODescriptor` holds the key
/// descriptors, then `SingleLogoutService`, `NameIDFormat` and
/// `AssertionConsumerService` (indexed 0, 1, 2..., the first one default),
/// and `md:Organization` / `md:ContactPerson` follow the role. The schema
/// requires at least one assertion consumer service.
///
/// ```
/// use saml_core::metadata::SpMetadata;
/// use saml_core::protocol::bindings::{HTTP_POST, HTTP_REDIRECT};
///
/// let xml = SpMetadata::new("https://sp.example.com/saml/metadata")
///     .assertion_consumer_service(HTTP_POST, "https://sp.example.com/saml/acs")
///     .single_logout_service(HTTP_REDIRECT, "https://sp.example.com/saml/slo")
///     .to_xml();
/// assert!(xml.contains(r#"index="0" isDefault="true""#));
/// ```
#[derive(Debug, Clone)]
pub struct SpMetadata {
    entity_id: String,
    acs: Vec<Service>,
    slo: Vec<Service>,
    signing: Vec<Certificate>,
    encryption: Vec<Certificate>,
    name_id_formats: Vec<String>,
    authn_requests_signed: bool,
    want_assertions_signed: bool,
    valid_until: Option<DateTime<Utc>>,
    cache_duration: Option<Duration>,
    organization: Option<Organization>,
    contacts: Vec<(ContactType, String)>,
}

/// Escapes text content.
fn text(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Writes ` name="value"` with the value escaped (whitespace characters too,
/// so attribute-value normalization keeps them).
fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl SpMetadata {
    /// Starts the metadata of the SP with this entity ID. Defaults:
    /// `AuthnRequestsSigned="false"`, `WantAssertionsSigned="true"`.
    #[must_use]
    pub fn new(entity_id: impl Into<String>) -> Self {
        Self {
            entity_id: entity_id.into(),
            acs: Vec::new(),
            slo: Vec::new(),
            signing: Vec::new(),
            encryption: Vec::new(),
            name_id_formats: Vec::new(),
            authn_requests_signed: false,
            want_assertions_signed: true,
            valid_until: None,
            cache_duration: None,
            organization: None,
            contacts: Vec::new(),
        }
    }

    /// Adds an `AssertionConsumerService`. Indexes are assigned in call
    /// order from 0; the first one is the default.
    #[must_use]
    pub fn assertion_consumer_service(
        mut self,
        binding: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        self.acs.push(Service {
            binding: binding.into(),
            location: location.into(),
        });
        self
    }

    /// Adds a `SingleLogoutService`.
    #[must_use]
    pub fn single_logout_service(
        mut self,
        binding: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        self.slo.push(Service {
            binding: binding.into(),
            location: location.into(),
        });
        self
    }

    /// Adds a certificate under `KeyDescriptor use="signing"` (several for a
    /// key rollover).
    #[must_use]
    pub fn signing_certificate(mut self, certificate: Certificate) -> Self {
        self.signing.push(certificate);
        self
    }

    /// Adds a certificate under `KeyDescriptor use="encryption"`, with the
    /// encryption methods we decrypt ([`super::SP_ENCRYPTION_METHODS`]).
    #[must_use]
    pub fn encryption_certificate(mut self, certificate: Certificate) -> Self {
        self.encryption.push(certificate);
        self
    }

    /// Adds a supported `NameIDFormat` (see [`crate::protocol::name_id_format`]).
    #[must_use]
    pub fn name_id_format(mut self, format: impl Into<String>) -> Self {
        self.name_id_formats.push(format.into());
        self
    }

    /// Sets `AuthnRequestsSigned` (whether we sign our requests).
    #[must_use]
    pub const fn authn_requests_signed(mut self, signed: bool) -> Self {
        self.authn_requests_signed = signed;
        self
    }

    /// Sets `WantAssertionsSigned` (default `true`).
    #[must_use]
    pub const fn want_assertions_signed(mut self, want: bool) -> Self {
        self.want_assertions_signed = want;
        self
    }

    /// Sets the `validUntil` of the `EntityDescriptor`.
    #[must_use]
    pub const fn valid_until(mut self, until: DateTime<Utc>) -> Self {
        self.valid_until = Some(until);
        self
    }

    /// Sets the `cacheDuration` of the `EntityDescriptor`.
    #[must_use]
    pub const fn cache_duration(mut self, duration: Duration) -> Self {
        self.cache_duration = Some(duration);
        self
    }

    /// Sets the `md:Organization` (name, display name and URL, in English).
    #[must_use]
    pub fn organization(
        mut self,
        name: impl Into<String>,
        display_name: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        self.organization = Some(Organization {
            name: name.into(),
            display_name: display_name.into(),
            url: url.into(),
        });
        self
    }

    /// Adds an `md:ContactPerson` with an email address (`mailto:` is added
    /// when missing).
    #[must_use]
    pub fn contact(mut self, contact_type: ContactType, email: impl Into<String>) -> Self {
        self.contacts.push((contact_type, email.into()));
        self
    }

    /// The entity ID.
    #[must_use]
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The `ID` of the `EntityDescriptor`: `_` plus the hex of the first 16
    /// bytes of the SHA-256 of the entity ID, so it is stable and can be
    /// referenced by a signature.
    #[must_use]
    pub fn id(&self) -> String {
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.entity_id.as_bytes());
        let half = hash.as_ref().get(..16).unwrap_or_default();
        format!("_{}", crate::crypto::hex(half))
    }

    fn key_descriptor(out: &mut String, usage: &str, cert: &Certificate, methods: &[&str]) {
        out.push_str("<md:KeyDescriptor");
        attr(out, "use", usage);
        out.push_str("><ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(cert.der()));
        out.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
        for method in methods {
            out.push_str("<md:EncryptionMethod");
            attr(out, "Algorithm", method);
            out.push_str("/>");
        }
        out.push_str("</md:KeyDescriptor>");
    }

    /// Renders the unsigned `md:EntityDescriptor`.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out =
            String::with_capacity(2048 + 2048 * (self.signing.len() + self.encryption.len()));
        out.push_str("<md:EntityDescriptor");
        attr(&mut out, "xmlns:md", MD_NS);
        attr(&mut out, "xmlns:ds", DSIG_NS);
        attr(&mut out, "ID", &self.id());
        attr(&mut out, "entityID", &self.entity_id);
        if let Some(until) = self.valid_until {
            attr(&mut out, "validUntil", &format_datetime(until));
        }
        if let Some(cache) = self.cache_duration {
            attr(&mut out, "cacheDuration", &format_duration(cache));
        }
        out.push_str(">\n  <md:SPSSODescriptor");
        attr(
            &mut out,
            "AuthnRequestsSigned",
            if self.authn_requests_signed {
                "true"
            } else {
                "false"
            },
        );
        attr(
            &mut out,
            "WantAssertionsSigned",
            if self.want_assertions_signed {
                "true"
            } else {
                "false"
            },
        );
        attr(&mut out, "protocolSupportEnumeration", SAMLP_NS);
        out.push('>');
        for cert in &self.signing {
            out.push_str("\n    ");
            Self::key_descriptor(&mut out, "signing", cert, &[]);
        }
        for cert in &self.encryption {
            out.push_str("\n    ");
            Self::key_descriptor(&mut out, "encryption", cert, SP_ENCRYPTION_METHODS);
        }
        for slo in &self.slo {
            out.push_str("\n    <md:SingleLogoutService");
            attr(&mut out, "Binding", &slo.binding);
            attr(&mut out, "Location", &slo.location);
            out.push_str("/>");
        }
        for format in &self.name_id_formats {
            out.push_str("\n    <md:NameIDFormat>");
            text(&mut out, format);
            out.push_str("</md:NameIDFormat>");
        }
        for (index, acs) in self.acs.iter().enumerate() {
            out.push_str("\n    <md:AssertionConsumerService");
            attr(&mut out, "Binding", &acs.binding);
            attr(&mut out, "Location", &acs.location);
            attr(&mut out, "index", &index.to_string());
            if index == 0 {
                attr(&mut out, "isDefault", "true");
            }
            out.push_str("/>");
        }
        out.push_str("\n  </md:SPSSODescriptor>");
        if let Some(org) = &self.organization {
            out.push_str("\n  <md:Organization>");
            for (element, value) in [
                ("OrganizationName", &org.name),
                ("OrganizationDisplayName", &org.display_name),
                ("OrganizationURL", &org.url),
            ] {
                let _ = write!(out, "\n    <md:{element} xml:lang=\"en\">");
                text(&mut out, value);
                let _ = write!(out, "</md:{element}>");
            }
            out.push_str("\n  </md:Organization>");
        }
        for (contact_type, email) in &self.contacts {
            out.push_str("\n  <md:ContactPerson");
            attr(&mut out, "contactType", contact_type.as_str());
            out.push_str("><md:EmailAddress>");
            if !email.starts_with("mailto:") {
                out.push_str("mailto:");
            }
            text(&mut out, email);
            out.push_str("</md:EmailAddress></md:ContactPerson>");
        }
        out.push_str("\n</md:EntityDescriptor>\n");
        out
    }

    /// Renders the metadata and signs the `md:EntityDescriptor` with an
    /// enveloped signature (first child), using `key`'s default algorithm,
    /// exclusive C14N and SHA-256, with its certificate in `KeyInfo`.
    ///
    /// Errors: those of [`sign_enveloped`] (for example `algorithm_forbidden`).
    pub fn to_signed_xml(&self, key: &SigningKey) -> Result<String> {
        sign_enveloped(&self.to_xml(), &self.id(), key, &SignOptions::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use crate::protocol::bindings::HTTP_POST;
    use crate::xml::Document;

    #[test]
    fn escapes_everything() {
        let xml = SpMetadata::new("urn:a&b<c>\"d\"")
            .assertion_consumer_service(HTTP_POST, "https://sp/acs?a=1&b=\"2\"\n")
            .name_id_format("x<y>&z")
            .organization("A & B", "<A>", "https://a.example/?q=\"1\"")
            .contact(ContactType::Support, "ops&dev@example.com")
            .to_xml();
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        let root = doc.root();
        assert_eq!(root.attribute("entityID"), Some("urn:a&b<c>\"d\""));
        let acs = root
            .descendants()
            .find(|e| e.local_name() == "AssertionConsumerService")
            .unwrap();
        assert_eq!(
            acs.attribute("Location"),
            Some("https://sp/acs?a=1&b=\"2\"\n")
        );
        let texts: Vec<_> = root
            .descendants()
            .filter(|e| !e.has_child_elements())
            .map(|e| e.text().into_owned())
            .collect();
        for expected in [
            "x<y>&z",
            "A & B",
            "<A>",
            "https://a.example/?q=\"1\"",
            "mailto:ops&dev@example.com",
        ] {
            assert!(
                texts.iter().any(|t| t == expected),
                "{expected} in {texts:?}"
            );
        }
    }

    #[test]
    fn id_is_stable_and_an_ncname() {
        let a = SpMetadata::new("https://sp.example.com");
        assert_eq!(a.id(), SpMetadata::new("https://sp.example.com").id());
        assert_ne!(a.id(), SpMetadata::new("https://sp2.example.com").id());
        assert_eq!(a.id().len(), 33);
        assert!(a.id().starts_with('_'));
    }
}
