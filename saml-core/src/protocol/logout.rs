//! Single Logout (SAML Core 2.0, section 3.7; Profiles, section 4.4): building
//! `samlp:LogoutRequest` and `samlp:LogoutResponse`, sending them on the
//! Redirect or POST binding, and validating the ones an identity provider
//! sends us.
//!
//! - SP-initiated logout: build a [`LogoutRequest`], send it, keep its
//!   [`PendingLogoutRequest`]; when the IdP answers, check the
//!   `LogoutResponse` with [`LogoutValidator::validate_response`] (POST) or
//!   [`LogoutValidator::validate_response_redirect`] (Redirect) against the
//!   pending ID.
//! - IdP-initiated logout: check the incoming `LogoutRequest` with
//!   [`LogoutValidator::validate_request`] or
//!   [`LogoutValidator::validate_request_redirect`], end the sessions it
//!   names, and answer with a [`LogoutResponse`] (echoing the `RelayState`).
//!
//! Validation follows the rules of the Response validator: the message must
//! be signed by a trusted IdP key (an enveloped XML signature on POST, the
//! query-string signature on Redirect) unless the configuration says
//! otherwise, the `Issuer` must be the IdP, a `Destination` must be our SLO
//! URL (and is required on signed messages), and times are checked with the
//! injected clock and the configured skew.
//!
//! ```
//! use saml_core::clock::{FixedClock, parse_datetime};
//! use saml_core::protocol::{LogoutRequest, LogoutResponse, LogoutValidator, NameId};
//!
//! let clock = FixedClock(parse_datetime("2024-06-01T12:00:00Z")?);
//! let name_id = NameId {
//!     value: "alice@example.com".into(),
//!     format: None,
//!     name_qualifier: None,
//!     sp_name_qualifier: None,
//! };
//! // SP-initiated: send a request and remember its ID.
//! let request = LogoutRequest::builder("https://sp.example/saml", "https://idp.example/slo", name_id)
//!     .session_index("_s1")
//!     .build(&clock)?;
//! let url = request.redirect_url(Some("r1"), None)?;
//! assert!(url.starts_with("https://idp.example/slo?SAMLRequest="));
//! let pending = request.pending(Some("r1"));
//!
//! // The IdP answers (here unsigned, so the validator must allow that).
//! let answer = LogoutResponse::builder("https://idp.example", "https://sp.example/saml/slo", &pending.id)
//!     .build(&clock)?;
//! let mut validator = LogoutValidator::new("https://idp.example", vec![], "https://sp.example/saml/slo");
//! validator.require_signature = false;
//! let outcome = validator.validate_response(&answer.to_xml(), &pending.id, &clock)?;
//! assert!(!outcome.partial);
//! # Ok::<(), saml_core::Error>(())
//! ```

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};

use super::{DEFAULT_CLOCK_SKEW_SECONDS, NameId, SAML_NS, SAMLP_NS, STATUS_SUCCESS};
use crate::binding::soap_envelope;
use crate::binding::{
    PostForm, RedirectParameter, decode_redirect, parse_redirect_query, post_form, redirect_url,
};
use crate::clock::{Clock, format_datetime, parse_datetime};
use crate::crypto::{PublicKey, SignatureAlgorithm, SigningKey};
use crate::dsig::{
    DSIG_NS, SignOptions, VerifyOptions, sign_enveloped, verify_enveloped, verify_redirect_query,
};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;
use crate::xml::{Document, Element, shorten};

use super::markup::{
    attr, check_values, escape_text, invalid, is_xml_id, message_id, text_element,
};

/// Status code URIs (SAML Core 2.0, section 3.2.2.2).
pub mod status {
    /// The request succeeded (top level).
    pub const SUCCESS: &str = super::STATUS_SUCCESS;
    /// The request could not be performed due to an error on the part of the
    /// requester (top level).
    pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    /// The request could not be performed due to an error on the part of the
    /// responder (top level).
    pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    /// The SAML version of the request is not supported (top level).
    pub const VERSION_MISMATCH: &str = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch";
    /// Logout succeeded only in part: not every session participant was
    /// reached (second level).
    pub const PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
    /// The responder refuses to perform the request (second level).
    pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    /// The principal is unknown to the responder (second level).
    pub const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";
}

/// `LogoutRequest/@Reason` values (SAML Core 2.0, section 3.7.3).
pub mod logout_reason {
    /// The principal asked to end the session.
    pub const USER: &str = "urn:oasis:names:tc:SAML:2.0:logout:user";
    /// An administrator ended the session.
    pub const ADMIN: &str = "urn:oasis:names:tc:SAML:2.0:logout:admin";
}

/// How long after its `IssueInstant` an incoming logout message is still
/// accepted, unless configured otherwise (plus the clock skew).
pub const DEFAULT_MAX_MESSAGE_AGE_SECONDS: i64 = 300;

/// The `samlp:Status` of a response we build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StatusSpec {
    pub(super) code: String,
    pub(super) sub_code: Option<String>,
    pub(super) message: Option<String>,
}

impl StatusSpec {
    pub(super) fn success() -> Self {
        Self {
            code: STATUS_SUCCESS.to_owned(),
            sub_code: None,
            message: None,
        }
    }

    pub(super) fn values(&self) -> Vec<(&'static str, &str)> {
        let mut values = vec![("status code", self.code.as_str())];
        if let Some(sub) = &self.sub_code {
            values.push(("second-level status code", sub));
        }
        if let Some(message) = &self.message {
            values.push(("status message", message));
        }
        values
    }

    pub(super) fn write(&self, out: &mut String) {
        out.push_str("<samlp:Status><samlp:StatusCode");
        attr(out, "Value", &self.code);
        match &self.sub_code {
            Some(sub) => {
                out.push_str("><samlp:StatusCode");
                attr(out, "Value", sub);
                out.push_str("/></samlp:StatusCode>");
            }
            None => out.push_str("/>"),
        }
        if let Some(message) = &self.message {
            text_element(out, "samlp:StatusMessage", message);
        }
        out.push_str("</samlp:Status>");
    }
}

// ---------------------------------------------------------------------------
// Shared helpers for validating messages (also used by `artifact`).
// ---------------------------------------------------------------------------

pub(super) fn child<'d, 'a>(
    el: Element<'d, 'a>,
    ns: &'static str,
    local: &'static str,
) -> Option<Element<'d, 'a>> {
    el.child_elements().find(|c| c.is(ns, local))
}

/// Seconds between two times, for error messages that say how far off the clocks were.
fn seconds(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (a - b).num_seconds().abs()
}

/// The message's `Issuer` must be present, of entity format (or none), and
/// equal `expected`.
pub(super) fn check_issuer(message: Element<'_, '_>, expected: &str, whose: &str) -> Result<()> {
    let issuer = child(message, SAML_NS, "Issuer").ok_or_else(|| {
        Error::new(
            ErrorCode::IssuerMismatch,
            format!("the {whose} has no Issuer"),
        )
    })?;
    if let Some(format) = issuer.attribute("Format")
        && format != super::name_id_format::ENTITY
    {
        return Err(Error::new(
            ErrorCode::IssuerMismatch,
            format!(
                "the {whose} Issuer has format `{}`, not entity",
                shorten(format)
            ),
        ));
    }
    let value = issuer.text();
    if value.trim() != expected {
        return Err(Error::new(
            ErrorCode::IssuerMismatch,
            format!(
                "the {whose} Issuer `{}` is not the configured IdP `{}`",
                shorten(value.trim()),
                shorten(expected)
            ),
        ));
    }
    Ok(())
}

/// `IssueInstant` is required; it may be at most `skew` in the future and at
/// most `max_age + skew` in the past.
pub(super) fn check_issue_instant(
    message: Element<'_, '_>,
    now: DateTime<Utc>,
    skew: Duration,
    max_age: Duration,
    whose: &str,
) -> Result<DateTime<Utc>> {
    let issued = message
        .attribute("IssueInstant")
        .ok_or_else(|| invalid(format!("the {whose} has no IssueInstant")))
        .and_then(parse_datetime)?;
    if issued > now + skew {
        return Err(Error::new(
            ErrorCode::NotYetValid,
            format!(
                "the {whose} was issued {} s in the future (clock skew {} s)",
                seconds(issued, now),
                skew.num_seconds()
            ),
        ));
    }
    if issued + max_age < now - skew {
        return Err(Error::new(
            ErrorCode::Expired,
            format!(
                "the {whose} was issued {} s ago; at most {} s are accepted (clock skew {} s)",
                seconds(now, issued),
                max_age.num_seconds(),
                skew.num_seconds()
            ),
        ));
    }
    Ok(issued)
}

/// The document element must be `samlp:{local}`.
pub(super) fn check_root<'d, 'a>(
    doc: &'d Document<'a>,
    local: &'static str,
) -> Result<Element<'d, 'a>> {
    let root = doc.root();
    if !root.is(SAMLP_NS, local) {
        return Err(invalid(format!(
            "expected samlp:{local}, found <{}>",
            shorten(root.local_name())
        )));
    }
    Ok(root)
}

pub(super) fn check_version_and_id(message: Element<'_, '_>, whose: &str) -> Result<String> {
    if message.attribute("Version") != Some("2.0") {
        return Err(invalid(format!("the {whose} is not SAML 2.0")));
    }
    message
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("the {whose} has no ID")))
}

/// Reads the `InResponseTo` of a response: it must name `expected`.
pub(super) fn check_in_response_to(
    message: Element<'_, '_>,
    expected: &str,
    whose: &str,
) -> Result<String> {
    match message.attribute("InResponseTo") {
        Some(got) if got == expected => Ok(got.to_owned()),
        Some(got) => Err(Error::new(
            ErrorCode::InResponseToMismatch,
            format!(
                "the {whose} answers request `{}`, not the pending one",
                shorten(got)
            ),
        )),
        None => Err(Error::new(
            ErrorCode::InResponseToMismatch,
            format!("the {whose} does not name the pending request (no InResponseTo)"),
        )),
    }
}

/// A status that was read and found acceptable.
pub(super) struct ReadStatus {
    pub(super) sub_code: Option<String>,
    pub(super) message: Option<String>,
}

/// Reads `samlp:Status`; anything but a top-level Success is
/// `status_not_success`, with the codes and message in the detail.
pub(super) fn read_status(message: Element<'_, '_>, whose: &str) -> Result<ReadStatus> {
    let status = child(message, SAMLP_NS, "Status")
        .ok_or_else(|| invalid(format!("the {whose} has no Status")))?;
    let code = child(status, SAMLP_NS, "StatusCode")
        .ok_or_else(|| invalid("the Status has no StatusCode"))?;
    let value = code.attribute("Value").unwrap_or("");
    let sub_code = child(code, SAMLP_NS, "StatusCode")
        .and_then(|c| c.attribute("Value"))
        .map(str::to_owned);
    let status_message = child(status, SAMLP_NS, "StatusMessage").map(|m| m.text().into_owned());
    if value == STATUS_SUCCESS {
        return Ok(ReadStatus {
            sub_code,
            message: status_message,
        });
    }
    let last = |uri: &'_ str| shorten(uri.rsplit(':').next().unwrap_or(uri)).to_owned();
    let mut detail = format!("the {whose} status is {}", last(value));
    if let Some(s) = &sub_code {
        detail.push_str(" / ");
        detail.push_str(&last(s));
    }
    if let Some(m) = &status_message {
        detail.push_str(": ");
        detail.push_str(shorten(m));
    }
    Err(Error::new(ErrorCode::StatusNotSuccess, detail))
}

/// Refuses `ds:Signature` elements anywhere but directly on `message`: SAML
/// puts none elsewhere in these messages, so one is a wrapping attempt.
fn check_signature_placement(message: Element<'_, '_>) -> Result<()> {
    let misplaced = message
        .descendants()
        .filter(|e| e.is(DSIG_NS, "Signature"))
        .any(|sig| sig.parent().is_none_or(|p| p.id() != message.id()));
    if misplaced {
        return Err(Error::new(
            ErrorCode::SignatureInvalid,
            "a signature sits where SAML puts none (signature wrapping?)",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// LogoutRequest
// ---------------------------------------------------------------------------

/// The settings of a [`LogoutRequest`]; get one from
/// [`LogoutRequest::builder`], finish with [`build`](Self::build).
///
/// Defaults: a fresh random ID, no `SessionIndex` (the IdP then ends every
/// session of the principal), no `NotOnOrAfter`, no `Reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LogoutRequestBuilder {
    id: Option<String>,
    issuer: String,
    destination: String,
    name_id: NameId,
    session_indexes: Vec<String>,
    not_on_or_after: Option<DateTime<Utc>>,
    reason: Option<String>,
}

impl LogoutRequestBuilder {
    /// Uses this ID instead of a random one (tests, replays). It must be an
    /// `xs:ID`, which [`build`](Self::build) checks.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds a `SessionIndex` (the one from the assertion that started the
    /// session); may be called several times.
    pub fn session_index(mut self, index: impl Into<String>) -> Self {
        self.session_indexes.push(index.into());
        self
    }

    /// Replaces the `SessionIndex` list.
    pub fn session_indexes(mut self, indexes: Vec<String>) -> Self {
        self.session_indexes = indexes;
        self
    }

    /// Sets `NotOnOrAfter`: the receiver must not act on the request from
    /// then on.
    pub const fn not_on_or_after(mut self, at: DateTime<Utc>) -> Self {
        self.not_on_or_after = Some(at);
        self
    }

    /// Sets `Reason` (see [`logout_reason`]).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Fixes the ID (generating one unless set), takes `IssueInstant` from
    /// `clock`, and checks the values.
    ///
    /// Errors: `malformed_xml` when the issuer, destination, NameID or a
    /// session index is empty, the ID is not an `xs:ID`, or a value contains
    /// a character XML cannot carry; and those of [`generate_id`](crate::protocol::authn_request::generate_id).
    pub fn build(self, clock: &dyn Clock) -> Result<LogoutRequest> {
        let mut required = vec![
            ("issuer", self.issuer.as_str()),
            ("destination", self.destination.as_str()),
            ("NameID", self.name_id.value.as_str()),
        ];
        required.extend(
            self.session_indexes
                .iter()
                .map(|s| ("SessionIndex", s.as_str())),
        );
        let mut optional = Vec::new();
        for (what, value) in [
            ("NameID format", &self.name_id.format),
            ("NameQualifier", &self.name_id.name_qualifier),
            ("SPNameQualifier", &self.name_id.sp_name_qualifier),
            ("reason", &self.reason),
        ] {
            if let Some(v) = value {
                optional.push((what, v.as_str()));
            }
        }
        check_values(&required, &optional)?;
        let id = message_id(self.id)?;
        Ok(LogoutRequest {
            id,
            issue_instant: clock.now(),
            issuer: self.issuer,
            destination: self.destination,
            name_id: self.name_id,
            session_indexes: self.session_indexes,
            not_on_or_after: self.not_on_or_after,
            reason: self.reason,
        })
    }
}

/// A built `samlp:LogoutRequest`: serialize it with [`to_xml`](Self::to_xml)
/// or [`signed_xml`](Self::signed_xml), or send it with
/// [`redirect_url`](Self::redirect_url) or [`post_form`](Self::post_form).
/// The SP keeps [`pending`](Self::pending) until the IdP answers; a test or
/// development IdP uses the same type to start IdP-initiated logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    id: String,
    issue_instant: DateTime<Utc>,
    issuer: String,
    destination: String,
    name_id: NameId,
    session_indexes: Vec<String>,
    not_on_or_after: Option<DateTime<Utc>>,
    reason: Option<String>,
}

impl LogoutRequest {
    /// Starts a request from `issuer` (our entity ID) to the peer's single
    /// logout URL `destination`, for the principal `name_id` (exactly as the
    /// assertion named it, qualifiers included).
    pub fn builder(issuer: &str, destination: &str, name_id: NameId) -> LogoutRequestBuilder {
        LogoutRequestBuilder {
            id: None,
            issuer: issuer.to_owned(),
            destination: destination.to_owned(),
            name_id,
            session_indexes: Vec::new(),
            not_on_or_after: None,
            reason: None,
        }
    }

    /// The request ID (the response's `InResponseTo`).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the request was issued.
    #[must_use]
    pub const fn issue_instant(&self) -> DateTime<Utc> {
        self.issue_instant
    }

    /// The sender's entity ID (`Issuer`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The peer's SLO endpoint (`Destination`).
    #[must_use]
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The principal.
    #[must_use]
    pub const fn name_id(&self) -> &NameId {
        &self.name_id
    }

    /// The `SessionIndex` values.
    #[must_use]
    pub fn session_indexes(&self) -> &[String] {
        &self.session_indexes
    }

    /// `NotOnOrAfter`, if set.
    #[must_use]
    pub const fn not_on_or_after(&self) -> Option<DateTime<Utc>> {
        self.not_on_or_after
    }

    /// `Reason`, if set.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The record to keep until the `LogoutResponse` arrives.
    #[must_use]
    pub fn pending(&self, relay_state: Option<&str>) -> PendingLogoutRequest {
        PendingLogoutRequest {
            id: self.id.clone(),
            issue_instant: self.issue_instant,
            relay_state: relay_state.map(str::to_owned),
        }
    }

    /// The request as XML text (UTF-8, no XML declaration), unsigned.
    /// Element order is the schema's: `Issuer`, (`Signature`, added by
    /// signing), `NameID`, `SessionIndex`*.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(768);
        out.push_str("<samlp:LogoutRequest");
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
        if let Some(at) = self.not_on_or_after {
            attr(&mut out, "NotOnOrAfter", &format_datetime(at));
        }
        if let Some(reason) = &self.reason {
            attr(&mut out, "Reason", reason);
        }
        out.push('>');
        text_element(&mut out, "saml:Issuer", &self.issuer);
        out.push_str("<saml:NameID");
        if let Some(q) = &self.name_id.name_qualifier {
            attr(&mut out, "NameQualifier", q);
        }
        if let Some(q) = &self.name_id.sp_name_qualifier {
            attr(&mut out, "SPNameQualifier", q);
        }
        if let Some(f) = &self.name_id.format {
            attr(&mut out, "Format", f);
        }
        out.push('>');
        escape_text(&self.name_id.value, &mut out);
        out.push_str("</saml:NameID>");
        for index in &self.session_indexes {
            text_element(&mut out, "samlp:SessionIndex", index);
        }
        out.push_str("</samlp:LogoutRequest>");
        out
    }

    /// The request with an enveloped signature (the POST binding's way).
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn signed_xml(&self, key: &SigningKey, options: &SignOptions) -> Result<String> {
        sign_enveloped(&self.to_xml(), &self.id, key, options)
    }

    /// The HTTP-Redirect URL (`SAMLRequest`), with a query-string signature
    /// when `signing` is given.
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

    /// The HTTP-POST form (`SAMLRequest`), the XML signed with default
    /// [`SignOptions`] when `signing` is given.
    ///
    /// Errors: those of [`sign_enveloped`] and
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

    /// The SOAP 1.1 envelope for the back channel, the message signed in
    /// place (enveloped, default [`SignOptions`]) when `signing` is given.
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn soap_envelope(&self, signing: Option<&SigningKey>) -> Result<String> {
        let envelope = soap_envelope(&self.to_xml());
        match signing {
            Some(key) => sign_enveloped(&envelope, &self.id, key, &SignOptions::default()),
            None => Ok(envelope),
        }
    }
}

/// What the SP keeps about a sent [`LogoutRequest`] until the
/// `LogoutResponse` comes back ([`LogoutRequest::pending`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingLogoutRequest {
    /// The request ID: the response's `InResponseTo` must equal it.
    pub id: String,
    /// The request's `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The `RelayState` sent with the request.
    pub relay_state: Option<String>,
}

impl PendingLogoutRequest {
    /// Rebuilds a record (for stores).
    #[must_use]
    pub const fn new(
        id: String,
        issue_instant: DateTime<Utc>,
        relay_state: Option<String>,
    ) -> Self {
        Self {
            id,
            issue_instant,
            relay_state,
        }
    }
}

// ---------------------------------------------------------------------------
// LogoutResponse
// ---------------------------------------------------------------------------

/// The settings of a [`LogoutResponse`]; get one from
/// [`LogoutResponse::builder`], finish with [`build`](Self::build).
/// The default status is Success.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LogoutResponseBuilder {
    id: Option<String>,
    issuer: String,
    destination: String,
    in_response_to: String,
    status: StatusSpec,
}

impl LogoutResponseBuilder {
    /// Uses this ID instead of a random one.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the status: a top-level code (see [`status`]), an optional
    /// second-level code and an optional human-readable message.
    pub fn status(mut self, code: &str, sub_code: Option<&str>, message: Option<&str>) -> Self {
        self.status = StatusSpec {
            code: code.to_owned(),
            sub_code: sub_code.map(str::to_owned),
            message: message.map(str::to_owned),
        };
        self
    }

    /// Success with the second-level code `PartialLogout`: not every session
    /// participant could be logged out.
    pub fn partial_logout(self) -> Self {
        self.status(status::SUCCESS, Some(status::PARTIAL_LOGOUT), None)
    }

    /// Fixes the ID, takes `IssueInstant` from `clock`, checks the values.
    ///
    /// Errors: `malformed_xml` when the issuer, destination, InResponseTo or
    /// status code is empty, an ID is not an `xs:ID`, or a value contains a
    /// character XML cannot carry; and those of [`generate_id`](crate::protocol::authn_request::generate_id).
    pub fn build(self, clock: &dyn Clock) -> Result<LogoutResponse> {
        let mut required = vec![
            ("issuer", self.issuer.as_str()),
            ("destination", self.destination.as_str()),
            ("InResponseTo", self.in_response_to.as_str()),
        ];
        required.extend(self.status.values());
        check_values(&required, &[])?;
        if !is_xml_id(&self.in_response_to) {
            return Err(invalid(format!(
                "InResponseTo `{}` is not a valid xs:ID",
                shorten(&self.in_response_to)
            )));
        }
        let id = message_id(self.id)?;
        Ok(LogoutResponse {
            id,
            issue_instant: clock.now(),
            issuer: self.issuer,
            destination: self.destination,
            in_response_to: self.in_response_to,
            status: self.status,
        })
    }
}

/// A built `samlp:LogoutResponse`, the answer to a logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutResponse {
    id: String,
    issue_instant: DateTime<Utc>,
    issuer: String,
    destination: String,
    in_response_to: String,
    status: StatusSpec,
}

impl LogoutResponse {
    /// Starts a response from `issuer` (our entity ID) to the requester's
    /// SLO endpoint `destination`, answering the request `in_response_to`.
    pub fn builder(issuer: &str, destination: &str, in_response_to: &str) -> LogoutResponseBuilder {
        LogoutResponseBuilder {
            id: None,
            issuer: issuer.to_owned(),
            destination: destination.to_owned(),
            in_response_to: in_response_to.to_owned(),
            status: StatusSpec::success(),
        }
    }

    /// The response ID.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the response was issued.
    #[must_use]
    pub const fn issue_instant(&self) -> DateTime<Utc> {
        self.issue_instant
    }

    /// The sender's entity ID (`Issuer`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where it goes (`Destination`).
    #[must_use]
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The request it answers (`InResponseTo`).
    #[must_use]
    pub fn in_response_to(&self) -> &str {
        &self.in_response_to
    }

    /// The top-level status code.
    #[must_use]
    pub fn status_code(&self) -> &str {
        &self.status.code
    }

    /// The response as XML text (UTF-8, no XML declaration), unsigned.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(640);
        out.push_str("<samlp:LogoutResponse");
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
        attr(&mut out, "InResponseTo", &self.in_response_to);
        out.push('>');
        text_element(&mut out, "saml:Issuer", &self.issuer);
        self.status.write(&mut out);
        out.push_str("</samlp:LogoutResponse>");
        out
    }

    /// The response with an enveloped signature (the POST binding's way).
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn signed_xml(&self, key: &SigningKey, options: &SignOptions) -> Result<String> {
        sign_enveloped(&self.to_xml(), &self.id, key, options)
    }

    /// The HTTP-Redirect URL (`SAMLResponse`), with a query-string signature
    /// when `signing` is given.
    ///
    /// Errors: those of [`binding::redirect_url`](crate::binding::redirect_url).
    pub fn redirect_url(
        &self,
        relay_state: Option<&str>,
        signing: Option<(&SigningKey, SignatureAlgorithm)>,
    ) -> Result<String> {
        redirect_url(
            &self.destination,
            RedirectParameter::SamlResponse,
            &self.to_xml(),
            relay_state,
            signing,
        )
    }

    /// The HTTP-POST form (`SAMLResponse`), the XML signed with default
    /// [`SignOptions`] when `signing` is given.
    ///
    /// Errors: those of [`sign_enveloped`] and
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
            RedirectParameter::SamlResponse,
            &xml,
            relay_state,
        )
    }

    /// The SOAP 1.1 envelope for the back channel, the message signed in
    /// place (enveloped, default [`SignOptions`]) when `signing` is given.
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn soap_envelope(&self, signing: Option<&SigningKey>) -> Result<String> {
        let envelope = soap_envelope(&self.to_xml());
        match signing {
            Some(key) => sign_enveloped(&envelope, &self.id, key, &SignOptions::default()),
            None => Ok(envelope),
        }
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// A validated logout request from the IdP: end the sessions it names, then
/// answer with a [`LogoutResponse`] `InResponseTo` [`id`](Self::id).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingLogoutRequest {
    /// The request `ID` (for the replay cache, and the answer's `InResponseTo`).
    pub id: String,
    /// The IdP's entity ID (the checked `Issuer`).
    pub issuer: String,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The principal whose sessions end.
    pub name_id: NameId,
    /// The `SessionIndex` values; empty means every session of the principal.
    pub session_indexes: Vec<String>,
    /// `NotOnOrAfter`, if given.
    pub not_on_or_after: Option<DateTime<Utc>>,
    /// `Reason`, if given.
    pub reason: Option<String>,
    /// The `RelayState` of a Redirect query (to echo in the answer); `None`
    /// for POST, whose caller has the form field itself.
    pub relay_state: Option<String>,
    /// Whether a trusted signature (XML or query) covered the request.
    pub signed: bool,
    /// Until when the replay cache must remember [`id`](Self::id): after
    /// this the request is refused as too old anyway.
    pub replay_expiry: DateTime<Utc>,
}

/// A validated `LogoutResponse` answering our pending request: the IdP
/// ended the session (in full, or in part when [`partial`](Self::partial)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutOutcome {
    /// The response `ID`.
    pub id: String,
    /// The IdP's entity ID (the checked `Issuer`).
    pub issuer: String,
    /// The pending request it answers.
    pub in_response_to: String,
    /// `IssueInstant`.
    pub issue_instant: DateTime<Utc>,
    /// The status was Success with the second-level code
    /// [`PartialLogout`](status::PARTIAL_LOGOUT): some session participants
    /// could not be logged out.
    pub partial: bool,
    /// `StatusMessage`, if given.
    pub status_message: Option<String>,
    /// The `RelayState` of a Redirect query; `None` for POST.
    pub relay_state: Option<String>,
    /// Whether a trusted signature (XML or query) covered the response.
    pub signed: bool,
}

/// Settings for validating the logout messages of one identity provider.
/// Plain data with safe defaults: build with [`LogoutValidator::new`] and
/// adjust.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogoutValidator {
    /// The IdP's entity ID; the `Issuer` must equal it.
    pub idp_entity_id: String,
    /// The IdP's trusted signing keys (several during rollover).
    pub idp_keys: Vec<PublicKey>,
    /// Our single logout URL: a `Destination` must equal it, and signed
    /// messages must carry one.
    pub slo_url: String,
    /// Tolerance for every time check.
    pub clock_skew: Duration,
    /// How old (by `IssueInstant`) a message may be, on top of the skew.
    pub max_message_age: Duration,
    /// Require a signature (default `true`): an enveloped XML signature, or
    /// on the Redirect binding the query-string signature. When `false`,
    /// unsigned messages pass, but a signature that is present must still
    /// verify.
    pub require_signature: bool,
    /// Signature algorithm policy.
    pub verify: VerifyOptions,
    /// Resource limits for the XML (and the inflated Redirect message).
    pub limits: Limits,
}

/// A message taken off a binding, not yet parsed.
struct Received<'x> {
    xml: Cow<'x, str>,
    relay_state: Option<String>,
    query_signed: bool,
}

/// What the common checks found.
struct Checked {
    id: String,
    signed: bool,
}

impl LogoutValidator {
    /// A validator with the safe defaults: signatures required, clock skew
    /// 10 s, messages at most 5 minutes old, no SHA-1, default limits.
    #[must_use]
    pub fn new(
        idp_entity_id: impl Into<String>,
        idp_keys: Vec<PublicKey>,
        slo_url: impl Into<String>,
    ) -> Self {
        Self {
            idp_entity_id: idp_entity_id.into(),
            idp_keys,
            slo_url: slo_url.into(),
            clock_skew: Duration::seconds(DEFAULT_CLOCK_SKEW_SECONDS),
            max_message_age: Duration::seconds(DEFAULT_MAX_MESSAGE_AGE_SECONDS),
            require_signature: true,
            verify: VerifyOptions::new(),
            limits: Limits::default(),
        }
    }

    /// Validates a `LogoutRequest` given as XML (the POST binding, after
    /// [`decode_post`](crate::binding::decode_post)).
    ///
    /// Checks, in order: root `samlp:LogoutRequest`, SAML 2.0, an `ID`; the
    /// enveloped signature (`signature_missing` when required and absent;
    /// a signature anywhere else is `signature_invalid`); `Issuer`
    /// (`issuer_mismatch`); `Destination` (`destination_mismatch`); times
    /// (`not_yet_valid` for an `IssueInstant` beyond the skew in the future,
    /// `expired` for an old `IssueInstant` or a passed `NotOnOrAfter`); the
    /// `NameID` (`decryption_failed` for an `EncryptedID`, which is not
    /// supported yet; `malformed_xml` otherwise).
    pub fn validate_request(&self, xml: &str, clock: &dyn Clock) -> Result<IncomingLogoutRequest> {
        self.request(
            Received {
                xml: Cow::Borrowed(xml),
                relay_state: None,
                query_signed: false,
            },
            clock,
        )
    }

    /// Validates a `LogoutRequest` received on the HTTP-Redirect binding:
    /// `raw_query` is the query string exactly as received (after `?`). The
    /// query signature is verified with
    /// [`verify_redirect_query`](crate::dsig::verify_redirect_query), the
    /// message inflated with [`decode_redirect`], and then the checks of
    /// [`validate_request`](Self::validate_request) apply (an XML signature
    /// inside, which the binding forbids but some senders keep, must verify
    /// too). A query with `SigAlg` or `Signature` must verify even when
    /// signatures are not required.
    pub fn validate_request_redirect(
        &self,
        raw_query: &str,
        clock: &dyn Clock,
    ) -> Result<IncomingLogoutRequest> {
        let received = self.receive_redirect(raw_query, RedirectParameter::SamlRequest)?;
        self.request(received, clock)
    }

    /// Validates a `LogoutResponse` given as XML (POST binding) that must
    /// answer our pending request `expected_request_id`.
    ///
    /// Checks, in order: root, version and ID; signature; `Issuer`;
    /// `Destination`; `InResponseTo` (`in_response_to_mismatch`, also when
    /// absent); `IssueInstant`; status (`status_not_success` unless the
    /// top-level code is Success; Success with `PartialLogout` is reported
    /// as [`LogoutOutcome::partial`]).
    pub fn validate_response(
        &self,
        xml: &str,
        expected_request_id: &str,
        clock: &dyn Clock,
    ) -> Result<LogoutOutcome> {
        self.response(
            Received {
                xml: Cow::Borrowed(xml),
                relay_state: None,
                query_signed: false,
            },
            expected_request_id,
            clock,
        )
    }

    /// Validates a `LogoutResponse` received on the HTTP-Redirect binding
    /// (see [`validate_request_redirect`](Self::validate_request_redirect)
    /// for the signature rules and
    /// [`validate_response`](Self::validate_response) for the checks).
    pub fn validate_response_redirect(
        &self,
        raw_query: &str,
        expected_request_id: &str,
        clock: &dyn Clock,
    ) -> Result<LogoutOutcome> {
        let received = self.receive_redirect(raw_query, RedirectParameter::SamlResponse)?;
        self.response(received, expected_request_id, clock)
    }

    fn receive_redirect(
        &self,
        raw_query: &str,
        want: RedirectParameter,
    ) -> Result<Received<'static>> {
        let (parameter, received) =
            match verify_redirect_query(raw_query, &self.idp_keys, &self.verify) {
                Ok(verified) => (
                    verified.parameter(),
                    Received {
                        xml: Cow::Owned(decode_redirect(verified.message(), &self.limits)?),
                        relay_state: verified.relay_state().map(str::to_owned),
                        query_signed: true,
                    },
                ),
                Err(e) if e.code() == ErrorCode::SignatureMissing => {
                    let message = parse_redirect_query(raw_query, &self.limits)?;
                    if message.has_signature() {
                        // Half a signature (SigAlg without Signature, or the
                        // reverse) is not "unsigned".
                        return Err(e);
                    }
                    let parameter = message.parameter();
                    let relay_state = message.relay_state().map(str::to_owned);
                    (
                        parameter,
                        Received {
                            xml: Cow::Owned(message.into_xml()),
                            relay_state,
                            query_signed: false,
                        },
                    )
                }
                Err(e) => return Err(e),
            };
        if parameter != want {
            return Err(invalid(format!(
                "expected a {} parameter, the query carries {}",
                want.name(),
                parameter.name()
            )));
        }
        Ok(received)
    }

    /// The checks both messages share, on the root element: version, ID,
    /// signature, issuer, destination.
    fn check_common(
        &self,
        root: Element<'_, '_>,
        whose: &'static str,
        query_signed: bool,
    ) -> Result<Checked> {
        let id = check_version_and_id(root, whose)?;
        check_signature_placement(root)?;
        let xml_signed = child(root, DSIG_NS, "Signature").is_some();
        if xml_signed {
            // The root is the document element, so the verified element is
            // the one everything below reads.
            let verified = verify_enveloped(root, &self.idp_keys, &self.verify)?;
            if verified.element().id() != root.id() {
                return Err(Error::new(
                    ErrorCode::SignatureInvalid,
                    "the signature does not cover the message",
                ));
            }
        } else if !query_signed && self.require_signature {
            return Err(Error::new(
                ErrorCode::SignatureMissing,
                format!("the {whose} is not signed"),
            ));
        }
        let signed = xml_signed || query_signed;
        check_issuer(root, &self.idp_entity_id, whose)?;
        match root.attribute("Destination") {
            Some(d) if d == self.slo_url => {}
            Some(d) => {
                return Err(Error::new(
                    ErrorCode::DestinationMismatch,
                    format!(
                        "Destination `{}` is not our SLO URL `{}`",
                        shorten(d),
                        shorten(&self.slo_url)
                    ),
                ));
            }
            None if signed => {
                return Err(Error::new(
                    ErrorCode::DestinationMismatch,
                    format!("a signed {whose} must carry a Destination"),
                ));
            }
            None => {}
        }
        Ok(Checked { id, signed })
    }

    fn request(&self, received: Received<'_>, clock: &dyn Clock) -> Result<IncomingLogoutRequest> {
        let now = clock.now();
        let doc = Document::parse(&received.xml, &self.limits)?;
        let root = check_root(&doc, "LogoutRequest")?;
        let checked = self.check_common(root, "LogoutRequest", received.query_signed)?;
        let skew = self.clock_skew;
        let issue_instant =
            check_issue_instant(root, now, skew, self.max_message_age, "LogoutRequest")?;
        let not_on_or_after = root
            .attribute("NotOnOrAfter")
            .map(parse_datetime)
            .transpose()?;
        if let Some(end) = not_on_or_after
            && now - skew >= end
        {
            return Err(Error::new(
                ErrorCode::Expired,
                format!(
                    "the LogoutRequest expired {} s ago (clock skew {} s)",
                    seconds(now, end),
                    skew.num_seconds()
                ),
            ));
        }

        if child(root, SAML_NS, "EncryptedID").is_some() {
            return Err(Error::new(
                ErrorCode::DecryptionFailed,
                "encrypted NameIDs in logout requests are not supported yet",
            ));
        }
        let identifiers = root
            .child_elements()
            .filter(|e| {
                e.is(SAML_NS, "NameID") || e.is(SAML_NS, "BaseID") || e.is(SAML_NS, "EncryptedID")
            })
            .count();
        if identifiers != 1 {
            return Err(invalid(format!(
                "a LogoutRequest must name exactly one principal; this one has {identifiers} identifiers"
            )));
        }
        let name_id_el = child(root, SAML_NS, "NameID")
            .ok_or_else(|| invalid("the LogoutRequest has a BaseID, which is not supported"))?;
        if name_id_el.has_child_elements() {
            return Err(invalid("the NameID contains elements"));
        }
        let name_id = NameId {
            value: name_id_el.text().trim().to_owned(),
            format: name_id_el.attribute("Format").map(str::to_owned),
            name_qualifier: name_id_el.attribute("NameQualifier").map(str::to_owned),
            sp_name_qualifier: name_id_el.attribute("SPNameQualifier").map(str::to_owned),
        };
        if name_id.value.is_empty() {
            return Err(invalid("the NameID is empty"));
        }
        let session_indexes = root
            .child_elements()
            .filter(|e| e.is(SAMLP_NS, "SessionIndex"))
            .map(|e| e.text().trim().to_owned())
            .collect();
        let replay_expiry = [Some(issue_instant + self.max_message_age), not_on_or_after]
            .into_iter()
            .flatten()
            .fold(now, DateTime::max)
            + skew;
        Ok(IncomingLogoutRequest {
            id: checked.id,
            issuer: self.idp_entity_id.clone(),
            issue_instant,
            name_id,
            session_indexes,
            not_on_or_after,
            reason: root.attribute("Reason").map(str::to_owned),
            relay_state: received.relay_state,
            signed: checked.signed,
            replay_expiry,
        })
    }

    fn response(
        &self,
        received: Received<'_>,
        expected_request_id: &str,
        clock: &dyn Clock,
    ) -> Result<LogoutOutcome> {
        let now = clock.now();
        let doc = Document::parse(&received.xml, &self.limits)?;
        let root = check_root(&doc, "LogoutResponse")?;
        let checked = self.check_common(root, "LogoutResponse", received.query_signed)?;
        let in_response_to = check_in_response_to(root, expected_request_id, "LogoutResponse")?;
        let issue_instant = check_issue_instant(
            root,
            now,
            self.clock_skew,
            self.max_message_age,
            "LogoutResponse",
        )?;
        let status = read_status(root, "LogoutResponse")?;
        Ok(LogoutOutcome {
            id: checked.id,
            issuer: self.idp_entity_id.clone(),
            in_response_to,
            issue_instant,
            partial: status.sub_code.as_deref() == Some(status::PARTIAL_LOGOUT),
            status_message: status.message,
            relay_state: received.relay_state,
            signed: checked.signed,
        })
    }
}
