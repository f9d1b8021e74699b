//! Building `samlp:AuthnRequest` (SAML Core 2.0, section 3.4.1), the message
//! that starts an SP-initiated login, and sending it on the Redirect or POST
//! binding.
//!
//! ```
//! use saml_core::clock::SystemClock;
//! use saml_core::protocol::{AuthnContextComparison, AuthnRequest};
//!
//! let request = AuthnRequest::builder("https://sp.example/saml", "https://idp.example/sso")
//!     .assertion_consumer_service_url("https://sp.example/saml/acs")
//!     .requested_authn_context(
//!         AuthnContextComparison::Minimum,
//!         vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into()],
//!     )
//!     .build(&SystemClock)?;
//! let url = request.redirect_url(Some("r1"), None)?;
//! assert!(url.starts_with("https://idp.example/sso?SAMLRequest="));
//! // Store this until the response arrives (InResponseTo, ForceAuthn check).
//! let pending = request.pending(Some("r1"));
//! assert_eq!(pending.id, request.id());
//! # Ok::<(), saml_core::Error>(())
//! ```

use chrono::{DateTime, Utc};

use super::bindings::HTTP_POST;
use super::markup::{attr, escape_text, invalid, is_xml_id, is_xml_text};
use super::name_id_format::UNSPECIFIED;
use super::{SAML_NS, SAMLP_NS};
use crate::binding::{PostForm, RedirectParameter, post_form, redirect_url};
use crate::clock::{Clock, format_datetime};
use crate::crypto::{SignatureAlgorithm, SigningKey};
use crate::dsig::{SignOptions, sign_enveloped};
use crate::error::{Error, ErrorCode, Result};

/// Generates a fresh message ID: `_` followed by 32 lower-case hex digits
/// (128 bits from the system CSPRNG). IDs must start with a letter or `_`
/// (`xs:ID`), hence the underscore.
///
/// Errors: `signature_invalid` in the (practically impossible) case that the
/// system random generator fails; no ID is made up then.
pub fn generate_id() -> Result<String> {
    let mut bytes = [0_u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| {
        Error::new(
            ErrorCode::SignatureInvalid,
            "the system random number generator failed",
        )
    })?;
    Ok(format!("_{}", crate::crypto::hex(&bytes)))
}

/// How the IdP compares its authentication context with the requested ones
/// (`RequestedAuthnContext/@Comparison`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthnContextComparison {
    /// One of the listed contexts exactly (the SAML default).
    #[default]
    Exact,
    /// At least as strong as one of them.
    Minimum,
    /// At most as strong as one of them.
    Maximum,
    /// Stronger than any of them.
    Better,
}

impl AuthnContextComparison {
    /// The attribute value: `exact`, `minimum`, `maximum` or `better`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
            Self::Better => "better",
        }
    }
}

/// Where the IdP should send the response.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AcsTarget {
    Url(String),
    Index(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NameIdPolicy {
    format: Option<String>,
    allow_create: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RequestedAuthnContext {
    comparison: AuthnContextComparison,
    class_refs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SubjectHint {
    name_id: String,
    format: Option<String>,
}

/// The settings of an [`AuthnRequest`]; get one from
/// [`AuthnRequest::builder`], finish with [`build`](Self::build).
///
/// Defaults (DESIGN section 5): a fresh random ID, `ProtocolBinding`
/// HTTP-POST, `ForceAuthn="true"`, not passive, `NameIDPolicy` with format
/// `unspecified` and `AllowCreate="true"`, no `RequestedAuthnContext` (a
/// default class makes Entra ID refuse passwordless and MFA users), no
/// ACS URL or index (the IdP then uses the default ACS from our metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AuthnRequestBuilder {
    id: Option<String>,
    issuer: String,
    destination: String,
    acs: Option<AcsTarget>,
    protocol_binding: Option<String>,
    force_authn: bool,
    is_passive: bool,
    name_id_policy: NameIdPolicy,
    requested_authn_context: Option<RequestedAuthnContext>,
    subject: Option<SubjectHint>,
    provider_name: Option<String>,
}

impl AuthnRequestBuilder {
    /// Uses this ID instead of a random one (tests, replays). It must be an
    /// `xs:ID` (an XML name without `:`), which [`build`](Self::build) checks,
    /// and unpredictable if it is to protect anything.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Asks for the response at this ACS URL (`AssertionConsumerServiceURL`).
    /// Replaces an index set before: the two are mutually exclusive.
    pub fn assertion_consumer_service_url(mut self, url: impl Into<String>) -> Self {
        self.acs = Some(AcsTarget::Url(url.into()));
        self
    }

    /// Asks for the response at the ACS with this index in our metadata
    /// (`AssertionConsumerServiceIndex`). Replaces a URL set before, and
    /// suppresses `ProtocolBinding`: SAML Core makes the index exclusive with
    /// both (the indexed endpoint names its binding).
    pub fn assertion_consumer_service_index(mut self, index: u16) -> Self {
        self.acs = Some(AcsTarget::Index(index));
        self
    }

    /// The binding the response should use (`ProtocolBinding`; default
    /// HTTP-POST). `None` leaves the attribute out.
    pub fn protocol_binding(mut self, binding: Option<&str>) -> Self {
        self.protocol_binding = binding.map(str::to_owned);
        self
    }

    /// Requires the IdP to authenticate the user afresh (`ForceAuthn`,
    /// default `true`). When on, the response validation must refuse an
    /// `AuthnInstant` before [`AuthnRequest::issue_instant`].
    pub const fn force_authn(mut self, force: bool) -> Self {
        self.force_authn = force;
        self
    }

    /// Forbids the IdP to interact with the user (`IsPassive`, default
    /// `false`).
    pub const fn is_passive(mut self, passive: bool) -> Self {
        self.is_passive = passive;
        self
    }

    /// The `NameIDPolicy`: `Format` (`None` leaves the attribute out; the
    /// default is [`name_id_format::UNSPECIFIED`](super::name_id_format::UNSPECIFIED))
    /// and `AllowCreate` (default `true`).
    pub fn name_id_policy(mut self, format: Option<&str>, allow_create: bool) -> Self {
        self.name_id_policy = NameIdPolicy {
            format: format.map(str::to_owned),
            allow_create,
        };
        self
    }

    /// Requests these `AuthnContextClassRef`s with this comparison. An empty
    /// list removes the `RequestedAuthnContext` (the default: none).
    pub fn requested_authn_context(
        mut self,
        comparison: AuthnContextComparison,
        class_refs: Vec<String>,
    ) -> Self {
        self.requested_authn_context = (!class_refs.is_empty()).then_some(RequestedAuthnContext {
            comparison,
            class_refs,
        });
        self
    }

    /// A login hint: the user the IdP should authenticate, as
    /// `Subject/NameID` (with `Format` if given). Entra ID and others
    /// prefill the username from it.
    pub fn subject_hint(mut self, name_id: &str, format: Option<&str>) -> Self {
        self.subject = Some(SubjectHint {
            name_id: name_id.to_owned(),
            format: format.map(str::to_owned),
        });
        self
    }

    /// A human-readable name of the SP (`ProviderName`), which some IdPs show.
    pub fn provider_name(mut self, name: impl Into<String>) -> Self {
        self.provider_name = Some(name.into());
        self
    }

    /// Fixes the ID (generating one unless set), takes `IssueInstant` from
    /// `clock`, and checks the values.
    ///
    /// Errors: `malformed_xml` when the issuer or destination is empty, the
    /// ID is not an `xs:ID`, or a value contains a character XML cannot
    /// carry (a control character other than tab, CR, LF); and those of
    /// [`generate_id`].
    pub fn build(self, clock: &dyn Clock) -> Result<AuthnRequest> {
        if self.issuer.is_empty() {
            return Err(invalid("the issuer (SP entity ID) is empty"));
        }
        if self.destination.is_empty() {
            return Err(invalid("the destination (IdP SSO URL) is empty"));
        }
        let id = match self.id {
            Some(id) => {
                if !is_xml_id(&id) {
                    return Err(invalid(format!(
                        "`{}` is not a valid xs:ID",
                        crate::xml::shorten(&id)
                    )));
                }
                id
            }
            None => generate_id()?,
        };
        let mut values: Vec<(&str, &str)> =
            vec![("issuer", &self.issuer), ("destination", &self.destination)];
        if let Some(AcsTarget::Url(url)) = &self.acs {
            values.push(("ACS URL", url));
        }
        if let Some(binding) = &self.protocol_binding {
            values.push(("protocol binding", binding));
        }
        if let Some(format) = &self.name_id_policy.format {
            values.push(("NameIDPolicy format", format));
        }
        if let Some(context) = &self.requested_authn_context {
            values.extend(
                context
                    .class_refs
                    .iter()
                    .map(|c| ("AuthnContextClassRef", c.as_str())),
            );
        }
        if let Some(subject) = &self.subject {
            values.push(("subject hint", &subject.name_id));
            if let Some(format) = &subject.format {
                values.push(("subject hint format", format));
            }
        }
        if let Some(name) = &self.provider_name {
            values.push(("provider name", name));
        }
        if let Some((what, _)) = values.iter().find(|(_, v)| !is_xml_text(v)) {
            return Err(invalid(format!(
                "the {what} contains a character that XML cannot carry"
            )));
        }
        Ok(AuthnRequest {
            id,
            issue_instant: clock.now(),
            issuer: self.issuer,
            destination: self.destination,
            acs: self.acs,
            protocol_binding: self.protocol_binding,
            force_authn: self.force_authn,
            is_passive: self.is_passive,
            name_id_policy: self.name_id_policy,
            requested_authn_context: self.requested_authn_context,
            subject: self.subject,
            provider_name: self.provider_name,
        })
    }
}

/// A built `samlp:AuthnRequest`: serialize it with [`to_xml`](Self::to_xml),
/// or send it with [`redirect_url`](Self::redirect_url) or
/// [`post_form`](Self::post_form). Keep [`pending`](Self::pending) until the
/// response arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    id: String,
    issue_instant: DateTime<Utc>,
    issuer: String,
    destination: String,
    acs: Option<AcsTarget>,
    protocol_binding: Option<String>,
    force_authn: bool,
    is_passive: bool,
    name_id_policy: NameIdPolicy,
    requested_authn_context: Option<RequestedAuthnContext>,
    subject: Option<SubjectHint>,
    provider_name: Option<String>,
}

impl AuthnRequest {
    /// Starts a request from the SP entity ID (`Issuer`) to the IdP's
    /// single sign-on URL (`Destination`, and where it is sent). See
    /// [`AuthnRequestBuilder`] for the defaults.
    pub fn builder(issuer: &str, destination: &str) -> AuthnRequestBuilder {
        AuthnRequestBuilder {
            id: None,
            issuer: issuer.to_owned(),
            destination: destination.to_owned(),
            acs: None,
            protocol_binding: Some(HTTP_POST.to_owned()),
            force_authn: true,
            is_passive: false,
            name_id_policy: NameIdPolicy {
                format: Some(UNSPECIFIED.to_owned()),
                allow_create: true,
            },
            requested_authn_context: None,
            subject: None,
            provider_name: None,
        }
    }

    /// The request ID (the response's `InResponseTo`).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the request was issued (`IssueInstant`, whole seconds in the XML).
    #[must_use]
    pub const fn issue_instant(&self) -> DateTime<Utc> {
        self.issue_instant
    }

    /// The SP entity ID (`Issuer`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The IdP endpoint (`Destination`).
    #[must_use]
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The requested ACS URL, if one was set.
    #[must_use]
    pub fn assertion_consumer_service_url(&self) -> Option<&str> {
        match &self.acs {
            Some(AcsTarget::Url(url)) => Some(url),
            _ => None,
        }
    }

    /// Whether `ForceAuthn` is on.
    #[must_use]
    pub const fn force_authn(&self) -> bool {
        self.force_authn
    }

    /// Whether `IsPassive` is on.
    #[must_use]
    pub const fn is_passive(&self) -> bool {
        self.is_passive
    }

    /// The requested `AuthnContextClassRef`s (empty when none were requested).
    #[must_use]
    pub fn requested_authn_context_class_refs(&self) -> &[String] {
        self.requested_authn_context
            .as_ref()
            .map_or(&[], |c| c.class_refs.as_slice())
    }

    /// The record to keep (server-side or in a sealed cookie) until the
    /// response arrives: the ID to match `InResponseTo` and to consume once,
    /// the issue instant for the `ForceAuthn` check, and the relay state.
    #[must_use]
    pub fn pending(&self, relay_state: Option<&str>) -> PendingAuthnRequest {
        PendingAuthnRequest {
            id: self.id.clone(),
            issue_instant: self.issue_instant,
            relay_state: relay_state.map(str::to_owned),
            force_authn: self.force_authn,
            acs_url: self.assertion_consumer_service_url().map(str::to_owned),
        }
    }

    /// The request as XML text (UTF-8, no XML declaration), unsigned.
    ///
    /// Element order is the schema's: `Issuer`, (`Signature`, added by
    /// signing), `Subject`, `NameIDPolicy`, `RequestedAuthnContext`. Optional
    /// attributes appear only when set (`ForceAuthn` and `IsPassive` only
    /// when true, their default being false).
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str("<samlp:AuthnRequest");
        attr(&mut out, "xmlns:samlp", SAMLP_NS);
        attr(&mut out, "xmlns:saml", SAML_NS);
        attr(&mut out, "ID", &self.id);
        attr(&mut out, "Version", "2.0");
        attr(
            &mut out,
            "IssueInstant",
            &format_datetime(self.issue_instant),
        );
        attr(&mut out, "Destination", &self.destination);
        if let Some(name) = &self.provider_name {
            attr(&mut out, "ProviderName", name);
        }
        if self.force_authn {
            attr(&mut out, "ForceAuthn", "true");
        }
        if self.is_passive {
            attr(&mut out, "IsPassive", "true");
        }
        match &self.acs {
            Some(AcsTarget::Index(index)) => {
                attr(
                    &mut out,
                    "AssertionConsumerServiceIndex",
                    &index.to_string(),
                );
            }
            Some(AcsTarget::Url(url)) => {
                if let Some(binding) = &self.protocol_binding {
                    attr(&mut out, "ProtocolBinding", binding);
                }
                attr(&mut out, "AssertionConsumerServiceURL", url);
            }
            None => {
                if let Some(binding) = &self.protocol_binding {
                    attr(&mut out, "ProtocolBinding", binding);
                }
            }
        }
        out.push('>');

        out.push_str("<saml:Issuer>");
        escape_text(&self.issuer, &mut out);
        out.push_str("</saml:Issuer>");

        if let Some(subject) = &self.subject {
            out.push_str("<saml:Subject><saml:NameID");
            if let Some(format) = &subject.format {
                attr(&mut out, "Format", format);
            }
            out.push('>');
            escape_text(&subject.name_id, &mut out);
            out.push_str("</saml:NameID></saml:Subject>");
        }

        out.push_str("<samlp:NameIDPolicy");
        if let Some(format) = &self.name_id_policy.format {
            attr(&mut out, "Format", format);
        }
        attr(
            &mut out,
            "AllowCreate",
            if self.name_id_policy.allow_create {
                "true"
            } else {
                "false"
            },
        );
        out.push_str("/>");

        if let Some(context) = &self.requested_authn_context {
            out.push_str("<samlp:RequestedAuthnContext");
            attr(&mut out, "Comparison", context.comparison.as_str());
            out.push('>');
            for class_ref in &context.class_refs {
                out.push_str("<saml:AuthnContextClassRef>");
                escape_text(class_ref, &mut out);
                out.push_str("</saml:AuthnContextClassRef>");
            }
            out.push_str("</samlp:RequestedAuthnContext>");
        }
        out.push_str("</samlp:AuthnRequest>");
        out
    }

    /// The request as XML with an enveloped signature (the POST binding's
    /// way of signing), made with `options` (defaults: exclusive C14N,
    /// SHA-256, the key's default algorithm, the key's certificate in
    /// `KeyInfo` if it has one).
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn signed_xml(&self, key: &SigningKey, options: &SignOptions) -> Result<String> {
        sign_enveloped(&self.to_xml(), &self.id, key, options)
    }

    /// The HTTP-Redirect URL that sends this request to its destination,
    /// signed over the query string when `signing` is given (the XML itself
    /// is never signed on this binding). See
    /// [`binding::redirect_url`](crate::binding::redirect_url).
    ///
    /// Errors: those of [`binding::redirect_url`](crate::binding::redirect_url).
    pub fn redirect_url(
        &self,
        relay_state: Option<&str>,
        signing: Option<(&SigningKey, SignatureAlgorithm)>,
    ) -> Result<String> {
        redirect_url(
            &self.destination,
            RedirectParameter::SamlRequest,
            &self.to_xml(),
            relay_state,
            signing,
        )
    }

    /// The HTTP-POST form that sends this request to its destination, with
    /// the XML signed (enveloped, default [`SignOptions`]) when `signing` is
    /// given. See [`PostForm`] for rendering.
    ///
    /// Errors: those of [`sign_enveloped`] and of
    /// [`binding::post_form`](crate::binding::post_form).
    pub fn post_form(
        &self,
        relay_state: Option<&str>,
        signing: Option<&SigningKey>,
    ) -> Result<PostForm> {
        let xml = match signing {
            Some(key) => self.signed_xml(key, &SignOptions::default())?,
            None => self.to_xml(),
        };
        post_form(
            &self.destination,
            RedirectParameter::SamlRequest,
            &xml,
            relay_state,
        )
    }
}

/// What the SP keeps about a sent [`AuthnRequest`] until the response comes
/// back ([`AuthnRequest::pending`]). Stores persist the public fields and
/// rebuild it with [`PendingAuthnRequest::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingAuthnRequest {
    /// The request ID: the response's `InResponseTo` must equal it, once.
    pub id: String,
    /// The request's `IssueInstant`: with `force_authn`, the assertion's
    /// `AuthnInstant` must not be earlier (less the clock skew).
    pub issue_instant: DateTime<Utc>,
    /// The `RelayState` sent with the request.
    pub relay_state: Option<String>,
    /// Whether `ForceAuthn` was requested.
    pub force_authn: bool,
    /// The ACS URL requested, if any (the response's `Destination` and
    /// `Recipient` should name it).
    pub acs_url: Option<String>,
}

impl PendingAuthnRequest {
    /// Rebuilds a record (for stores).
    #[must_use]
    pub const fn new(
        id: String,
        issue_instant: DateTime<Utc>,
        relay_state: Option<String>,
        force_authn: bool,
        acs_url: Option<String>,
    ) -> Self {
        Self {
            id,
            issue_instant,
            relay_state,
            force_authn,
            acs_url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::markup::escape_attr;
    use super::*;

    #[test]
    fn xml_ids() {
        for ok in ["_a", "a", "_0123abcdef", "é-1.2_x"] {
            assert!(is_xml_id(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a:b", "a b", "a\"b", "a<b"] {
            assert!(!is_xml_id(bad), "{bad}");
        }
    }

    #[test]
    fn xml_chars() {
        assert!(is_xml_text("a\tb\r\nc é \u{10000}"));
        assert!(!is_xml_text("a\u{1}b"));
        assert!(!is_xml_text("\u{FFFE}"));
    }

    #[test]
    fn escaping() {
        let mut out = String::new();
        escape_attr("<&\">\t\n\r'", &mut out);
        assert_eq!(out, "&lt;&amp;&quot;&gt;&#9;&#10;&#13;'");
        let mut out = String::new();
        escape_text("<&>\"\r\n", &mut out);
        assert_eq!(out, "&lt;&amp;&gt;\"&#13;\n");
    }

    #[test]
    fn generated_ids() {
        let id = generate_id().unwrap();
        assert_eq!(id.len(), 33);
        assert!(id.starts_with('_'));
        assert!(
            id[1..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(id, generate_id().unwrap());
    }
}
