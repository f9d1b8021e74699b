//! Validation of `samlp:Response` messages (Web Browser SSO profile) into a
//! typed [`Assertion`].
//!
//! Every rule of SAML 2.0 Core and Profiles that protects the SP is checked,
//! and the assertion is read only from the element whose signature verified
//! (DESIGN.md section 7, invariant 1). Checks run in a fixed order so that each
//! broken rule is reported with its own code: the response signature (if
//! any), the number of assertions, the assertion signature, who signed,
//! status, issuers, destination, subject confirmation, conditions, and the
//! authentication statement.

use chrono::{DateTime, Duration, Utc};

use super::{CM_BEARER, SAML_NS, SAMLP_NS, STATUS_SUCCESS};
use crate::clock::{Clock, parse_datetime};
use crate::crypto::PublicKey;
use crate::dsig::{DSIG_NS, VerifyOptions, verify_enveloped};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;
use crate::xml::{Document, Element, XML_NS, shorten};
use crate::xmlenc::{DecryptOptions, DecryptionKey, decrypt_element, decryption_failed};

/// Default tolerance for clock differences between IdP and SP, in seconds.
pub const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 10;

/// A NameID with its format and qualifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    /// The identifier (all text nodes concatenated; comments never cut it).
    pub value: String,
    /// `Format`, if given.
    pub format: Option<String>,
    /// `NameQualifier`, if given.
    pub name_qualifier: Option<String>,
    /// `SPNameQualifier`, if given.
    pub sp_name_qualifier: Option<String>,
}

/// One attribute of an AttributeStatement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `Name`.
    pub name: String,
    /// `NameFormat`, if given.
    pub name_format: Option<String>,
    /// `FriendlyName`, if given.
    pub friendly_name: Option<String>,
    /// The text of each `AttributeValue` (empty values kept, `xsi:nil` skipped).
    pub values: Vec<String>,
}

/// A validated assertion: what the application may trust about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Assertion {
    /// The assertion's `ID` (for the replay cache).
    pub id: String,
    /// The `ID` of the enclosing Response, if any.
    pub response_id: Option<String>,
    /// The IdP's entity ID (the assertion's Issuer).
    pub issuer: String,
    /// The subject.
    pub name_id: NameId,
    /// `AuthnStatement/@SessionIndex` (needed for Single Logout).
    pub session_index: Option<String>,
    /// `AuthnStatement/@SessionNotOnOrAfter`: the session must end by then.
    pub session_not_on_or_after: Option<DateTime<Utc>>,
    /// `AuthnStatement/@AuthnInstant`.
    pub authn_instant: Option<DateTime<Utc>>,
    /// `AuthnContext/AuthnContextClassRef`.
    pub authn_context_class_ref: Option<String>,
    /// Attributes in document order (several statements merged).
    pub attributes: Vec<Attribute>,
    /// `Conditions/@NotBefore`.
    pub not_before: Option<DateTime<Utc>>,
    /// `Conditions/@NotOnOrAfter`.
    pub not_on_or_after: Option<DateTime<Utc>>,
    /// `InResponseTo` the response answered, if solicited.
    pub in_response_to: Option<String>,
    /// `Conditions/OneTimeUse` was present.
    pub one_time_use: bool,
    /// The first instant the validator would refuse this assertion as
    /// expired: the earliest `NotOnOrAfter` it enforced (conditions, the
    /// bearer confirmation it accepted, `SessionNotOnOrAfter`) plus the
    /// clock skew. The replay cache must remember the ID at least until then.
    pub accepted_until: DateTime<Utc>,
}

impl Assertion {
    /// Until when the assertion ID must be remembered by the replay cache:
    /// for as long as the validator would accept the assertion
    /// ([`accepted_until`](Self::accepted_until), which counts the clock
    /// skew), and at least five minutes.
    #[must_use]
    pub fn replay_expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.accepted_until.max(now + Duration::minutes(5))
    }

    /// The values of the attribute named `name` (empty if absent).
    #[must_use]
    pub fn attribute_values(&self, name: &str) -> Vec<&str> {
        self.attributes
            .iter()
            .filter(|a| a.name == name)
            .flat_map(|a| a.values.iter().map(String::as_str))
            .collect()
    }
}

/// How the returned AuthnContextClassRef must relate to the requested ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthnContextRequirement {
    /// No requirement (the default: requesting a class makes Entra ID refuse
    /// passwordless and MFA users).
    None,
    /// The returned class must be one of these.
    OneOf(Vec<String>),
}

/// Settings for validating responses from one identity provider. Plain data
/// with safe defaults: build with [`ResponseValidator::new`] and adjust.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResponseValidator {
    /// The IdP's entity ID; Response and Assertion Issuers must equal it.
    pub idp_entity_id: String,
    /// The IdP's trusted signing keys (several during rollover).
    pub idp_keys: Vec<PublicKey>,
    /// Our entity ID: the Audience must contain it.
    pub sp_entity_id: String,
    /// Our ACS URL: Destination and Recipient must equal it. `None` only for
    /// bare assertions checked outside the Web SSO profile.
    pub acs_url: Option<String>,
    /// Tolerance for every time check.
    pub clock_skew: Duration,
    /// Require the assertion itself to be signed (a signed Response alone is
    /// not enough).
    pub require_signed_assertion: bool,
    /// Accept responses that answer no request (IdP-initiated SSO).
    pub allow_idp_initiated: bool,
    /// Signature algorithm policy.
    pub verify: VerifyOptions,
    /// Resource limits for the XML.
    pub limits: Limits,
    /// Required authentication context.
    pub authn_context: AuthnContextRequirement,
    /// Our private keys for encrypted assertions, NameIDs and attributes
    /// (several during rollover; each is tried).
    pub decryption_keys: Vec<DecryptionKey>,
    /// Decryption algorithm policy.
    pub decrypt: DecryptOptions,
}

/// What the response must answer: the pending request, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expectation<'r> {
    /// The ID of the AuthnRequest this response answers (`None`: IdP-initiated).
    pub in_response_to: Option<&'r str>,
    /// When that request was issued, if ForceAuthn was asked: an assertion
    /// whose AuthnInstant predates it is refused, so an IdP that ignores
    /// ForceAuthn cannot silently skip re-authentication.
    pub force_authn_since: Option<DateTime<Utc>>,
}

fn err(code: ErrorCode, detail: impl Into<String>) -> Error {
    Error::new(code, detail)
}

fn children<'d, 'a>(
    el: Element<'d, 'a>,
    ns: &'static str,
    local: &'static str,
) -> impl Iterator<Item = Element<'d, 'a>> {
    el.child_elements().filter(move |c| c.is(ns, local))
}

fn child<'d, 'a>(
    el: Element<'d, 'a>,
    ns: &'static str,
    local: &'static str,
) -> Option<Element<'d, 'a>> {
    children(el, ns, local).next()
}

fn time_attr(el: Element<'_, '_>, name: &str) -> Result<Option<DateTime<Utc>>> {
    el.attribute(name).map(parse_datetime).transpose()
}

fn read_name_id(el: Element<'_, '_>) -> Result<NameId> {
    if el.has_child_elements() {
        return Err(err(ErrorCode::MalformedXml, "the NameID contains elements"));
    }
    Ok(NameId {
        value: el.text().trim().to_owned(),
        format: owned(el.attribute("Format")),
        name_qualifier: owned(el.attribute("NameQualifier")),
        sp_name_qualifier: owned(el.attribute("SPNameQualifier")),
    })
}

fn read_attribute(a: Element<'_, '_>) -> Result<Attribute> {
    let name = a
        .attribute("Name")
        .ok_or_else(|| err(ErrorCode::MalformedXml, "an Attribute has no Name"))?;
    let values = children(a, SAML_NS, "AttributeValue")
        .filter(|v| {
            v.attribute_ns("http://www.w3.org/2001/XMLSchema-instance", "nil") != Some("true")
        })
        .map(|v| v.text().into_owned())
        .collect();
    Ok(Attribute {
        name: name.to_owned(),
        name_format: owned(a.attribute("NameFormat")),
        friendly_name: owned(a.attribute("FriendlyName")),
        values,
    })
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

/// Seconds between two times, for error messages that say how far off the clocks were.
fn seconds(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (a - b).num_seconds().abs()
}

impl ResponseValidator {
    /// A validator with the safe defaults: clock skew 10 s, IdP-initiated
    /// SSO refused, either the Response or the Assertion must be signed, no
    /// SHA-1, default limits, no authentication-context requirement.
    #[must_use]
    pub fn new(
        idp_entity_id: impl Into<String>,
        idp_keys: Vec<PublicKey>,
        sp_entity_id: impl Into<String>,
        acs_url: impl Into<String>,
    ) -> Self {
        Self {
            idp_entity_id: idp_entity_id.into(),
            idp_keys,
            sp_entity_id: sp_entity_id.into(),
            acs_url: Some(acs_url.into()),
            clock_skew: Duration::seconds(DEFAULT_CLOCK_SKEW_SECONDS),
            require_signed_assertion: false,
            allow_idp_initiated: false,
            verify: VerifyOptions::new(),
            limits: Limits::default(),
            authn_context: AuthnContextRequirement::None,
            decryption_keys: Vec::new(),
            decrypt: DecryptOptions::new(),
        }
    }

    /// Validates a Response given as XML text.
    pub fn validate_xml(
        &self,
        xml: &str,
        expect: &Expectation<'_>,
        clock: &dyn Clock,
    ) -> Result<Assertion> {
        let doc = Document::parse(xml, &self.limits)?;
        self.validate(&doc, expect, clock)
    }

    /// Validates a parsed Response.
    pub fn validate(
        &self,
        doc: &Document<'_>,
        expect: &Expectation<'_>,
        clock: &dyn Clock,
    ) -> Result<Assertion> {
        let now = clock.now();
        let response = doc.root();
        if !response.is(SAMLP_NS, "Response") {
            return Err(err(
                ErrorCode::MalformedXml,
                format!("expected samlp:Response, found <{}>", response.local_name()),
            ));
        }
        if response.attribute("Version") != Some("2.0") {
            return Err(err(ErrorCode::MalformedXml, "the Response is not SAML 2.0"));
        }

        // 1. The Response signature, when there is one, must hold before
        //    anything inside it is looked at (signature wrapping).
        let response_signed = child(response, DSIG_NS, "Signature").is_some();
        let verified_response = if response_signed {
            Some(verify_enveloped(response, &self.idp_keys, &self.verify)?)
        } else {
            None
        };

        // 2. Signatures only where SAML puts them: on the Response and on its
        //    assertion. One anywhere else is a wrapping attempt.
        for sig in response
            .descendants()
            .filter(|e| e.is(DSIG_NS, "Signature"))
        {
            let parent = sig.parent();
            let on_response = parent.is_some_and(|p| p.id() == response.id());
            let on_assertion = parent.is_some_and(|p| {
                p.is(SAML_NS, "Assertion") && p.parent().is_some_and(|r| r.id() == response.id())
            });
            if !on_response && !on_assertion {
                return Err(err(
                    ErrorCode::SignatureInvalid,
                    "a signature sits where SAML puts none (signature wrapping?)",
                ));
            }
        }

        // 3. Status, then exactly one assertion, anywhere in the document.
        let all_assertions = response
            .descendants()
            .filter(|e| e.is(SAML_NS, "Assertion") || e.is(SAML_NS, "EncryptedAssertion"))
            .count();
        let direct: Vec<Element<'_, '_>> = response
            .child_elements()
            .filter(|e| e.is(SAML_NS, "Assertion") || e.is(SAML_NS, "EncryptedAssertion"))
            .collect();
        self.check_status(response)?;
        if all_assertions != 1 || direct.len() != 1 {
            return Err(err(
                ErrorCode::AmbiguousAssertion,
                format!(
                    "a response must carry exactly one assertion; this one has {all_assertions}"
                ),
            ));
        }
        let assertion = direct
            .first()
            .copied()
            .ok_or_else(|| err(ErrorCode::AmbiguousAssertion, "no assertion"))?;
        // An EncryptedAssertion is decrypted (its ciphertext is covered by
        // the Response signature, if any) and parsed with the same reader and
        // limits; nothing but one assertion may come out of it.
        let decrypted_xml;
        let decrypted_doc;
        let encrypted = assertion.is(SAML_NS, "EncryptedAssertion");
        // Without a verified Response signature the ciphertext is not
        // authenticated (CBC has no integrity): then every failure with the
        // plaintext reads as a plain decryption failure, with no detail that
        // could serve as a format oracle (Jager and Somorovsky, 2011).
        let opaque = |e: Error| {
            if verified_response.is_some() {
                e
            } else {
                decryption_failed()
            }
        };
        let assertion = if encrypted {
            decrypted_xml = self.decrypt_in_context(assertion)?;
            decrypted_doc = Document::parse(&decrypted_xml, &self.limits).map_err(opaque)?;
            let wrapper = decrypted_doc.root();
            let mut inner = wrapper.child_elements();
            let (Some(a), None) = (inner.next(), inner.next()) else {
                return Err(opaque(err(
                    ErrorCode::AmbiguousAssertion,
                    "the EncryptedAssertion does not hold exactly one element",
                )));
            };
            if !a.is(SAML_NS, "Assertion")
                || a.descendants()
                    .filter(|e| e.is(SAML_NS, "Assertion"))
                    .count()
                    != 1
            {
                return Err(opaque(err(
                    ErrorCode::AmbiguousAssertion,
                    "the EncryptedAssertion does not hold exactly one assertion",
                )));
            }
            let misplaced = a
                .descendants()
                .filter(|e| e.is(DSIG_NS, "Signature"))
                .any(|sig| sig.parent().is_none_or(|p| p.id() != a.id()));
            if misplaced {
                return Err(opaque(err(
                    ErrorCode::SignatureInvalid,
                    "a signature sits where SAML puts none (signature wrapping?)",
                )));
            }
            a
        } else {
            assertion
        };

        // 4. The assertion signature; then who signed what.
        let assertion_signed = child(assertion, DSIG_NS, "Signature").is_some();
        let assertion = if assertion_signed {
            let verified = verify_enveloped(assertion, &self.idp_keys, &self.verify);
            if encrypted {
                verified.map_err(opaque)?
            } else {
                verified?
            }
            .element()
        } else if self.require_signed_assertion {
            return Err(err(
                ErrorCode::SignatureMissing,
                "the assertion must be signed, and it is not",
            ));
        } else if let Some(v) = verified_response {
            if encrypted {
                // The signed Response covers the EncryptedAssertion's ciphertext.
                assertion
            } else {
                // Read the assertion through the verified Response: it is a
                // direct child of the signed element, so covered by its digest.
                let inside = v
                    .element()
                    .child_elements()
                    .find(|e| e.id() == assertion.id());
                inside.ok_or_else(|| {
                    err(
                        ErrorCode::SignatureInvalid,
                        "assertion not inside the signed response",
                    )
                })?
            }
        } else {
            return Err(err(
                ErrorCode::SignatureMissing,
                "neither the Response nor the Assertion is signed",
            ));
        };

        // 5. Issuers and destination.
        if let Some(issuer) = child(response, SAML_NS, "Issuer") {
            self.check_issuer(issuer, "Response")?;
        }
        let destination = response.attribute("Destination");
        if let Some(acs) = &self.acs_url {
            match destination {
                Some(d) if d == acs => {}
                Some(d) => {
                    return Err(err(
                        ErrorCode::DestinationMismatch,
                        format!(
                            "Destination `{}` is not our ACS URL `{}`",
                            shorten(d),
                            shorten(acs)
                        ),
                    ));
                }
                None if response_signed => {
                    return Err(err(
                        ErrorCode::DestinationMismatch,
                        "a signed Response must carry a Destination",
                    ));
                }
                None => {}
            }
        }
        let in_response_to = response.attribute("InResponseTo");
        self.check_in_response_to(in_response_to, expect, "Response", false)?;

        let mut out = self.read_assertion(assertion, expect, now)?;
        out.response_id = owned(response.attribute("ID"));
        out.in_response_to = owned(in_response_to).or(out.in_response_to);
        Ok(out)
    }

    /// Validates a bare, signed `saml:Assertion` (for tokens delivered outside
    /// a Response, such as Entra ID's). The assertion itself must be signed.
    pub fn validate_assertion(
        &self,
        doc: &Document<'_>,
        expect: &Expectation<'_>,
        clock: &dyn Clock,
    ) -> Result<Assertion> {
        let now = clock.now();
        let root = doc.root();
        if !root.is(SAML_NS, "Assertion") {
            return Err(err(
                ErrorCode::MalformedXml,
                format!("expected saml:Assertion, found <{}>", root.local_name()),
            ));
        }
        if child(root, DSIG_NS, "Signature").is_none() {
            return Err(err(
                ErrorCode::SignatureMissing,
                "the assertion is not signed",
            ));
        }
        let assertion = verify_enveloped(root, &self.idp_keys, &self.verify)?.element();
        self.read_assertion(assertion, expect, now)
    }

    /// Decrypts an encrypted element and wraps the plaintext in an element
    /// that declares the namespaces in scope where the ciphertext stood, so a
    /// fragment that uses an outer prefix still parses.
    fn decrypt_in_context(&self, encrypted: Element<'_, '_>) -> Result<String> {
        let plain = decrypt_element(encrypted, &self.decryption_keys, &self.decrypt)?;
        let mut scope: Vec<(&str, &str)> = Vec::new();
        let mut current = Some(encrypted);
        while let Some(el) = current {
            for d in el.namespace_declarations() {
                if !scope.iter().any(|(p, _)| *p == d.prefix) {
                    scope.push((d.prefix, d.uri));
                }
            }
            current = el.parent();
        }
        let mut out = String::from("<decrypted");
        for (prefix, uri) in scope {
            if prefix == "xml" || uri == XML_NS {
                continue;
            }
            let uri = uri
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;");
            if prefix.is_empty() {
                out.push_str(&format!(" xmlns=\"{uri}\""));
            } else {
                out.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
            }
        }
        out.push('>');
        out.push_str(&plain);
        out.push_str("</decrypted>");
        Ok(out)
    }

    fn check_status(&self, response: Element<'_, '_>) -> Result<()> {
        let status = child(response, SAMLP_NS, "Status")
            .ok_or_else(|| err(ErrorCode::MalformedXml, "the Response has no Status"))?;
        let code = child(status, SAMLP_NS, "StatusCode")
            .ok_or_else(|| err(ErrorCode::MalformedXml, "the Status has no StatusCode"))?;
        let value = code.attribute("Value").unwrap_or("");
        if value == STATUS_SUCCESS {
            return Ok(());
        }
        let second = child(code, SAMLP_NS, "StatusCode").and_then(|c| c.attribute("Value"));
        let message = child(status, SAMLP_NS, "StatusMessage").map(|m| m.text().into_owned());
        let mut detail = format!(
            "the IdP answered {}",
            shorten(value.rsplit(':').next().unwrap_or(value))
        );
        if let Some(s) = second {
            detail.push_str(&format!(
                " / {}",
                shorten(s.rsplit(':').next().unwrap_or(s))
            ));
        }
        if let Some(m) = message {
            detail.push_str(&format!(": {}", shorten(&m)));
        }
        // A failure status never grants anything, signed or not.
        Err(err(ErrorCode::StatusNotSuccess, detail))
    }

    fn check_issuer(&self, issuer: Element<'_, '_>, whose: &str) -> Result<()> {
        if let Some(format) = issuer.attribute("Format")
            && format != super::name_id_format::ENTITY
        {
            return Err(err(
                ErrorCode::IssuerMismatch,
                format!(
                    "the {whose} Issuer has format `{}`, not entity",
                    shorten(format)
                ),
            ));
        }
        let value = issuer.text();
        if value.trim() != self.idp_entity_id {
            return Err(err(
                ErrorCode::IssuerMismatch,
                format!(
                    "the {whose} Issuer `{}` is not the configured IdP `{}`",
                    shorten(value.trim()),
                    shorten(&self.idp_entity_id)
                ),
            ));
        }
        Ok(())
    }

    /// `required`: whether a pending request obliges this element to name it
    /// (SubjectConfirmationData must; the Response's attribute is optional).
    fn check_in_response_to(
        &self,
        value: Option<&str>,
        expect: &Expectation<'_>,
        whose: &str,
        required: bool,
    ) -> Result<()> {
        match (value, expect.in_response_to) {
            (Some(got), Some(want)) if got == want => Ok(()),
            (Some(got), Some(_)) => Err(err(
                ErrorCode::InResponseToMismatch,
                format!(
                    "the {whose} answers request `{}`, not the pending one",
                    shorten(got)
                ),
            )),
            (Some(got), None) => Err(err(
                ErrorCode::InResponseToMismatch,
                format!(
                    "the {whose} answers request `{}`, but no request is pending",
                    shorten(got)
                ),
            )),
            (None, Some(_)) if !required => Ok(()),
            (None, Some(_)) => Err(err(
                ErrorCode::InResponseToMismatch,
                format!("the {whose} does not name the pending request (an unsolicited response?)"),
            )),
            (None, None) if self.allow_idp_initiated => Ok(()),
            (None, None) => Err(err(
                ErrorCode::UnsolicitedResponse,
                "IdP-initiated responses are not allowed for this provider",
            )),
        }
    }

    fn read_assertion(
        &self,
        assertion: Element<'_, '_>,
        expect: &Expectation<'_>,
        now: DateTime<Utc>,
    ) -> Result<Assertion> {
        let skew = self.clock_skew;
        if assertion.attribute("Version") != Some("2.0") {
            return Err(err(
                ErrorCode::MalformedXml,
                "the Assertion is not SAML 2.0",
            ));
        }
        let id = owned(assertion.attribute("ID"))
            .ok_or_else(|| err(ErrorCode::MalformedXml, "the Assertion has no ID"))?;
        let issuer = child(assertion, SAML_NS, "Issuer")
            .ok_or_else(|| err(ErrorCode::IssuerMismatch, "the Assertion has no Issuer"))?;
        self.check_issuer(issuer, "Assertion")?;

        // Subject: NameID and a bearer confirmation for us.
        let subject = child(assertion, SAML_NS, "Subject")
            .ok_or_else(|| err(ErrorCode::MalformedXml, "the Assertion has no Subject"))?;
        let name_id = match child(subject, SAML_NS, "EncryptedID") {
            Some(encrypted) => {
                let xml = self.decrypt_in_context(encrypted)?;
                let doc = Document::parse(&xml, &self.limits)?;
                let mut inner = doc.root().child_elements();
                match (inner.next(), inner.next()) {
                    (Some(n), None) if n.is(SAML_NS, "NameID") => read_name_id(n)?,
                    _ => {
                        return Err(err(
                            ErrorCode::MalformedXml,
                            "the EncryptedID does not hold one NameID",
                        ));
                    }
                }
            }
            None => read_name_id(
                child(subject, SAML_NS, "NameID")
                    .ok_or_else(|| err(ErrorCode::MalformedXml, "the Subject has no NameID"))?,
            )?,
        };
        let (confirmation_in_response_to, confirmation_not_on_or_after) =
            self.check_subject_confirmation(subject, expect, now)?;

        // Conditions: SAML Profiles 4.1.4.2 requires a bearer assertion to be
        // audience-restricted, so they must be there.
        let conditions = child(assertion, SAML_NS, "Conditions").ok_or_else(|| {
            err(
                ErrorCode::AudienceMismatch,
                "the assertion has no Conditions, so no audience; it could be meant for any SP",
            )
        })?;
        let not_before = time_attr(conditions, "NotBefore")?;
        let not_on_or_after = time_attr(conditions, "NotOnOrAfter")?;
        if let Some(nb) = not_before
            && now + skew < nb
        {
            return Err(err(
                ErrorCode::NotYetValid,
                format!(
                    "the assertion is valid only in {} s (clock skew {} s)",
                    seconds(nb, now),
                    skew.num_seconds()
                ),
            ));
        }
        if let Some(na) = not_on_or_after
            && now - skew >= na
        {
            return Err(err(
                ErrorCode::Expired,
                format!(
                    "the assertion expired {} s ago (clock skew {} s)",
                    seconds(now, na),
                    skew.num_seconds()
                ),
            ));
        }
        let mut restrictions = children(conditions, SAML_NS, "AudienceRestriction").peekable();
        if restrictions.peek().is_none() {
            return Err(err(
                ErrorCode::AudienceMismatch,
                "the assertion names no audience (AudienceRestriction); it could be meant for any SP",
            ));
        }
        for restriction in restrictions {
            let ok = children(restriction, SAML_NS, "Audience")
                .any(|a| a.text().trim() == self.sp_entity_id);
            if !ok {
                return Err(err(
                    ErrorCode::AudienceMismatch,
                    format!(
                        "the assertion is not addressed to `{}`",
                        shorten(&self.sp_entity_id)
                    ),
                ));
            }
        }
        let one_time_use = child(conditions, SAML_NS, "OneTimeUse").is_some();

        // Authentication statement. The Web SSO profile requires one, but
        // real IdPs (Keycloak) omit it; without it nothing that depends on it
        // (ForceAuthn, a required context) can be proven, so those fail.
        let authn = child(assertion, SAML_NS, "AuthnStatement");
        let authn_instant = authn
            .map(|a| time_attr(a, "AuthnInstant"))
            .transpose()?
            .flatten();
        let session_not_on_or_after = authn
            .map(|a| time_attr(a, "SessionNotOnOrAfter"))
            .transpose()?
            .flatten();
        if let Some(end) = session_not_on_or_after
            && now - skew >= end
        {
            return Err(err(
                ErrorCode::Expired,
                format!("the IdP session ended {} s ago", seconds(now, end)),
            ));
        }
        if let Some(since) = expect.force_authn_since {
            match authn_instant {
                Some(at) if at + skew >= since => {}
                Some(at) => {
                    return Err(err(
                        ErrorCode::AuthnContextMismatch,
                        format!(
                            "re-authentication was required, but the user authenticated {} s before the request",
                            seconds(since, at)
                        ),
                    ));
                }
                None => {
                    return Err(err(
                        ErrorCode::AuthnContextMismatch,
                        "re-authentication was required, but the assertion has no AuthnInstant",
                    ));
                }
            }
        }
        let authn_context_class_ref = authn
            .and_then(|a| child(a, SAML_NS, "AuthnContext"))
            .and_then(|c| child(c, SAML_NS, "AuthnContextClassRef"))
            .map(|c| c.text().trim().to_owned());
        if let AuthnContextRequirement::OneOf(allowed) = &self.authn_context {
            let ok = authn_context_class_ref
                .as_ref()
                .is_some_and(|c| allowed.iter().any(|a| a == c));
            if !ok {
                return Err(err(
                    ErrorCode::AuthnContextMismatch,
                    "the IdP did not authenticate the user with a required context class",
                ));
            }
        }

        // The replay cache must hold the ID while any of this is accepted.
        let accepted_until = [
            not_on_or_after,
            confirmation_not_on_or_after,
            session_not_on_or_after,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|end| end + skew)
        .ok_or_else(|| {
            err(
                ErrorCode::Expired,
                "the assertion carries no NotOnOrAfter anywhere, so it would never expire",
            )
        })?;

        let mut attributes = Vec::new();
        for statement in children(assertion, SAML_NS, "AttributeStatement") {
            for a in statement.child_elements() {
                if a.is(SAML_NS, "Attribute") {
                    attributes.push(read_attribute(a)?);
                } else if a.is(SAML_NS, "EncryptedAttribute") {
                    let xml = self.decrypt_in_context(a)?;
                    let doc = Document::parse(&xml, &self.limits)?;
                    let mut inner = doc.root().child_elements();
                    match (inner.next(), inner.next()) {
                        (Some(attr), None) if attr.is(SAML_NS, "Attribute") => {
                            attributes.push(read_attribute(attr)?)
                        }
                        _ => {
                            return Err(err(
                                ErrorCode::MalformedXml,
                                "an EncryptedAttribute does not hold one Attribute",
                            ));
                        }
                    }
                }
            }
        }

        Ok(Assertion {
            id,
            response_id: None,
            issuer: self.idp_entity_id.clone(),
            name_id,
            session_index: owned(authn.and_then(|a| a.attribute("SessionIndex"))),
            session_not_on_or_after,
            authn_instant,
            authn_context_class_ref,
            attributes,
            not_before,
            not_on_or_after,
            in_response_to: confirmation_in_response_to,
            one_time_use,
            accepted_until,
        })
    }

    /// At least one bearer SubjectConfirmation must hold entirely; the first
    /// failure is reported when none does. Returns its InResponseTo and
    /// NotOnOrAfter.
    fn check_subject_confirmation(
        &self,
        subject: Element<'_, '_>,
        expect: &Expectation<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Option<String>, Option<DateTime<Utc>>)> {
        let mut first_error = None;
        for confirmation in children(subject, SAML_NS, "SubjectConfirmation") {
            if confirmation.attribute("Method") != Some(CM_BEARER) {
                continue;
            }
            match self.check_bearer(confirmation, expect, now) {
                Ok(found) => return Ok(found),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            err(
                ErrorCode::RecipientMismatch,
                "the Subject has no bearer SubjectConfirmation",
            )
        }))
    }

    fn check_bearer(
        &self,
        confirmation: Element<'_, '_>,
        expect: &Expectation<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Option<String>, Option<DateTime<Utc>>)> {
        let skew = self.clock_skew;
        let Some(data) = child(confirmation, SAML_NS, "SubjectConfirmationData") else {
            if self.acs_url.is_none() {
                return Ok((None, None));
            }
            return Err(err(
                ErrorCode::RecipientMismatch,
                "the bearer SubjectConfirmation has no SubjectConfirmationData",
            ));
        };
        if let Some(acs) = &self.acs_url {
            match data.attribute("Recipient") {
                Some(r) if r == acs => {}
                Some(r) => {
                    return Err(err(
                        ErrorCode::RecipientMismatch,
                        format!(
                            "Recipient `{}` is not our ACS URL `{}`",
                            shorten(r),
                            shorten(acs)
                        ),
                    ));
                }
                None => {
                    return Err(err(
                        ErrorCode::RecipientMismatch,
                        "the SubjectConfirmationData has no Recipient",
                    ));
                }
            }
        }
        let not_on_or_after = time_attr(data, "NotOnOrAfter")?;
        match not_on_or_after {
            Some(na) if now - skew >= na => {
                return Err(err(
                    ErrorCode::Expired,
                    format!(
                        "the subject confirmation expired {} s ago (clock skew {} s)",
                        seconds(now, na),
                        skew.num_seconds()
                    ),
                ));
            }
            Some(_) => {}
            None if self.acs_url.is_some() => {
                return Err(err(
                    ErrorCode::Expired,
                    "the SubjectConfirmationData has no NotOnOrAfter",
                ));
            }
            None => {}
        }
        if let Some(nb) = time_attr(data, "NotBefore")?
            && now + skew < nb
        {
            return Err(err(
                ErrorCode::NotYetValid,
                format!(
                    "the subject confirmation is valid only in {} s",
                    seconds(nb, now)
                ),
            ));
        }
        let irt = data.attribute("InResponseTo");
        self.check_in_response_to(irt, expect, "SubjectConfirmationData", true)?;
        Ok((owned(irt), not_on_or_after))
    }
}
