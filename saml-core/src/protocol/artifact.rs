//! The HTTP-Artifact binding's message shapes (SAML Bindings 2.0, sections
//! 3.6 and 3.2; Core 2.0, section 3.5): the type 0x0004 artifact the browser
//! carries as `SAMLart`, the `samlp:ArtifactResolve` the SP sends over SOAP to
//! the IdP's artifact resolution service, and the `samlp:ArtifactResponse`
//! that comes back carrying the real message.
//!
//! This module does no I/O: the caller posts [`ArtifactResolve::soap_envelope`]
//! to the resolution service (with `Content-Type: text/xml` and
//! `SOAPAction: http://www.oasis-open.org/committees/security`) and hands the
//! reply to [`ArtifactResponseValidator::validate`], which returns the
//! embedded message as standalone XML for the matching validator (for
//! example [`ResponseValidator`](super::ResponseValidator)).
//!
//! ```
//! use saml_core::clock::{FixedClock, parse_datetime};
//! use saml_core::protocol::{Artifact, ArtifactResolve};
//!
//! let clock = FixedClock(parse_datetime("2024-06-01T12:00:00Z")?);
//! // What an IdP would put in SAMLart:
//! let sent = Artifact::new("https://idp.example", 1, [7; 20]).encode();
//! // What the SP does with it:
//! let artifact = Artifact::parse(&sent)?;
//! assert!(artifact.source_id_matches("https://idp.example"));
//! let resolve = ArtifactResolve::builder("https://sp.example", "https://idp.example/ars", &artifact)
//!     .build(&clock)?;
//! let soap = resolve.soap_envelope(None)?;
//! assert!(soap.contains(&sent));
//! # Ok::<(), saml_core::Error>(())
//! ```

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};

use super::logout::{
    StatusSpec, check_in_response_to, check_issue_instant, check_issuer, check_version_and_id,
    child, read_status,
};
use super::markup::{attr, check_values, invalid, is_xml_id, message_id, text_element};
use super::{DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_MAX_MESSAGE_AGE_SECONDS, SAML_NS, SAMLP_NS};
use crate::binding::soap::{soap_body_element, soap_envelope, standalone_xml};
use crate::clock::{Clock, format_datetime};
use crate::crypto::{PublicKey, SigningKey, hex};
use crate::dsig::{DSIG_NS, SignOptions, VerifyOptions, sign_enveloped, verify_enveloped};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;
use crate::xml::{Document, shorten};

pub use crate::binding::soap::{SOAP_ACTION, SOAP_ENV_NS};

/// The artifact type this module supports (SAML Bindings 2.0, 3.6.4).
pub const ARTIFACT_TYPE_CODE: u16 = 0x0004;

/// Bytes of a type 0x0004 artifact: type code, endpoint index, source ID,
/// message handle.
const ARTIFACT_LEN: usize = 2 + 2 + 20 + 20;

/// Longest `SAMLart` text looked at (a type 0x0004 artifact is 60
/// characters of base64).
const MAX_ARTIFACT_CHARS: usize = 256;

/// How much embedded message a test IdP may wrap ([`ArtifactResponseBuilder`]).
const MAX_EMBEDDED_BYTES: usize = 16 << 20;

/// A SAML 2.0 type 0x0004 artifact: a reference to a message the issuer
/// keeps until the receiver resolves it.
///
/// `Debug` prints the endpoint index and source ID but not the message
/// handle, which is what resolves the message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Artifact {
    endpoint_index: u16,
    source_id: [u8; 20],
    message_handle: [u8; 20],
}

impl fmt::Debug for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Artifact")
            .field("endpoint_index", &self.endpoint_index)
            .field("source_id", &hex(&self.source_id))
            .field("message_handle", &"<redacted>")
            .finish()
    }
}

impl Artifact {
    /// An artifact from `entity_id` (its SHA-1 becomes the source ID) for
    /// the resolution endpoint `endpoint_index`, with this message handle
    /// (which must be unpredictable: see [`generate`](Self::generate)).
    #[must_use]
    pub fn new(entity_id: &str, endpoint_index: u16, message_handle: [u8; 20]) -> Self {
        Self {
            endpoint_index,
            source_id: Self::source_id_for(entity_id),
            message_handle,
        }
    }

    /// Like [`new`](Self::new) with a random message handle (160 bits from
    /// the system CSPRNG).
    ///
    /// Errors: `signature_invalid` if the system random generator fails (as
    /// [`generate_id`](super::generate_id)).
    pub fn generate(entity_id: &str, endpoint_index: u16) -> Result<Self> {
        let mut handle = [0_u8; 20];
        aws_lc_rs::rand::fill(&mut handle).map_err(|_| {
            Error::new(
                ErrorCode::SignatureInvalid,
                "the system random number generator failed",
            )
        })?;
        Ok(Self::new(entity_id, endpoint_index, handle))
    }

    /// An artifact from its three fields.
    #[must_use]
    pub const fn from_parts(
        endpoint_index: u16,
        source_id: [u8; 20],
        message_handle: [u8; 20],
    ) -> Self {
        Self {
            endpoint_index,
            source_id,
            message_handle,
        }
    }

    /// The source ID of `entity_id`: the SHA-1 of its UTF-8 bytes. SHA-1 is
    /// an identifier hash here (Bindings 3.6.4), not a signature.
    #[must_use]
    pub fn source_id_for(entity_id: &str) -> [u8; 20] {
        let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, entity_id.as_bytes());
        let mut out = [0_u8; 20];
        for (o, b) in out.iter_mut().zip(hash.as_ref()) {
            *o = *b;
        }
        out
    }

    /// Parses a received `SAMLart` value (already percent/form-decoded):
    /// standard base64 of 44 bytes with type code 0x0004. Surrounding and
    /// embedded ASCII whitespace is ignored.
    ///
    /// Errors: `input_too_large` for text over 256 characters;
    /// `malformed_xml` (the closest code: a structural error in the
    /// message) when it is not base64, has another type code, or has the
    /// wrong length.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > MAX_ARTIFACT_CHARS {
            return Err(Error::new(
                ErrorCode::InputTooLarge,
                format!("the artifact is longer than {MAX_ARTIFACT_CHARS} characters"),
            ));
        }
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| invalid("the artifact is not valid base64"))?;
        let type_code = match bytes.as_slice() {
            [high, low, ..] => u16::from_be_bytes([*high, *low]),
            _ => return Err(invalid("the artifact is too short to carry a type code")),
        };
        if type_code != ARTIFACT_TYPE_CODE {
            return Err(invalid(format!(
                "artifact type 0x{type_code:04X} is not supported (only 0x0004)"
            )));
        }
        if bytes.len() != ARTIFACT_LEN {
            return Err(invalid(format!(
                "a type 0x0004 artifact has {ARTIFACT_LEN} bytes, this one {}",
                bytes.len()
            )));
        }
        let wrong_length = || invalid("the artifact has the wrong length");
        let index: [u8; 2] = bytes
            .get(2..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(wrong_length)?;
        let source_id: [u8; 20] = bytes
            .get(4..24)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(wrong_length)?;
        let message_handle: [u8; 20] = bytes
            .get(24..ARTIFACT_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(wrong_length)?;
        Ok(Self {
            endpoint_index: u16::from_be_bytes(index),
            source_id,
            message_handle,
        })
    }

    /// The `SAMLart` value: standard, padded base64 (percent-encode it when
    /// putting it in a URL).
    #[must_use]
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(ARTIFACT_LEN);
        bytes.extend_from_slice(&ARTIFACT_TYPE_CODE.to_be_bytes());
        bytes.extend_from_slice(&self.endpoint_index.to_be_bytes());
        bytes.extend_from_slice(&self.source_id);
        bytes.extend_from_slice(&self.message_handle);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Whether the artifact names `entity_id` as its source (SHA-1 of the
    /// entity ID). Use it to pick the IdP whose resolution service to ask.
    #[must_use]
    pub fn source_id_matches(&self, entity_id: &str) -> bool {
        self.source_id == Self::source_id_for(entity_id)
    }

    /// The index of the issuer's artifact resolution endpoint.
    #[must_use]
    pub const fn endpoint_index(&self) -> u16 {
        self.endpoint_index
    }

    /// The source ID (SHA-1 of the issuer's entity ID).
    #[must_use]
    pub const fn source_id(&self) -> &[u8; 20] {
        &self.source_id
    }

    /// The message handle.
    #[must_use]
    pub const fn message_handle(&self) -> &[u8; 20] {
        &self.message_handle
    }
}

// ---------------------------------------------------------------------------
// ArtifactResolve
// ---------------------------------------------------------------------------

/// The settings of an [`ArtifactResolve`]; get one from
/// [`ArtifactResolve::builder`], finish with [`build`](Self::build).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ArtifactResolveBuilder {
    id: Option<String>,
    issuer: String,
    destination: String,
    artifact: String,
}

impl ArtifactResolveBuilder {
    /// Uses this ID instead of a random one.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Fixes the ID, takes `IssueInstant` from `clock`, checks the values.
    ///
    /// Errors: `malformed_xml` for an empty issuer or destination, an ID
    /// that is not an `xs:ID`, or a character XML cannot carry; and those of
    /// [`generate_id`](super::generate_id).
    pub fn build(self, clock: &dyn Clock) -> Result<ArtifactResolve> {
        check_values(
            &[
                ("issuer", self.issuer.as_str()),
                ("destination", self.destination.as_str()),
            ],
            &[],
        )?;
        let id = message_id(self.id)?;
        Ok(ArtifactResolve {
            id,
            issue_instant: clock.now(),
            issuer: self.issuer,
            destination: self.destination,
            artifact: self.artifact,
        })
    }
}

/// A built `samlp:ArtifactResolve`: send
/// [`soap_envelope`](Self::soap_envelope) to the IdP's artifact resolution
/// service and check the answer with [`ArtifactResponseValidator`] against
/// [`id`](Self::id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactResolve {
    id: String,
    issue_instant: DateTime<Utc>,
    issuer: String,
    destination: String,
    artifact: String,
}

impl ArtifactResolve {
    /// Starts a request from `issuer` (our entity ID) to the resolution
    /// service at `destination`, for `artifact`.
    pub fn builder(issuer: &str, destination: &str, artifact: &Artifact) -> ArtifactResolveBuilder {
        ArtifactResolveBuilder {
            id: None,
            issuer: issuer.to_owned(),
            destination: destination.to_owned(),
            artifact: artifact.encode(),
        }
    }

    /// The request ID (the answer's `InResponseTo`).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the request was issued.
    #[must_use]
    pub const fn issue_instant(&self) -> DateTime<Utc> {
        self.issue_instant
    }

    /// Our entity ID (`Issuer`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The resolution service URL (`Destination`).
    #[must_use]
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The artifact, encoded as it is sent.
    #[must_use]
    pub fn artifact(&self) -> &str {
        &self.artifact
    }

    /// The bare `samlp:ArtifactResolve` (no SOAP envelope, unsigned).
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("<samlp:ArtifactResolve");
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
        out.push('>');
        text_element(&mut out, "saml:Issuer", &self.issuer);
        text_element(&mut out, "samlp:Artifact", &self.artifact);
        out.push_str("</samlp:ArtifactResolve>");
        out
    }

    /// The SOAP 1.1 envelope to post, with the `ArtifactResolve` signed
    /// (enveloped, default [`SignOptions`]) when `signing` is given.
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn soap_envelope(&self, signing: Option<&SigningKey>) -> Result<String> {
        match signing {
            Some(key) => self.signed_soap_envelope(key, &SignOptions::default()),
            None => Ok(soap_envelope(&self.to_xml())),
        }
    }

    /// The SOAP 1.1 envelope with the `ArtifactResolve` signed with
    /// `options`. It is signed in place, inside the envelope, so even an
    /// inclusive C14N signature verifies where the IdP finds it.
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn signed_soap_envelope(&self, key: &SigningKey, options: &SignOptions) -> Result<String> {
        sign_enveloped(&soap_envelope(&self.to_xml()), &self.id, key, options)
    }
}

// ---------------------------------------------------------------------------
// ArtifactResponse (building: for test and development IdPs)
// ---------------------------------------------------------------------------

/// The settings of an [`ArtifactResponse`] (what an IdP answers; here for
/// test and development IdPs). Get one from [`ArtifactResponse::builder`].
/// The default status is Success with no embedded message (the answer for
/// an unknown artifact).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ArtifactResponseBuilder {
    id: Option<String>,
    issuer: String,
    in_response_to: String,
    destination: Option<String>,
    status: StatusSpec,
    message: Option<String>,
}

impl ArtifactResponseBuilder {
    /// Uses this ID instead of a random one.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets `Destination`.
    pub fn destination(mut self, destination: impl Into<String>) -> Self {
        self.destination = Some(destination.into());
        self
    }

    /// Sets the status: a top-level code, an optional second-level code and
    /// an optional message.
    pub fn status(mut self, code: &str, sub_code: Option<&str>, message: Option<&str>) -> Self {
        self.status = StatusSpec {
            code: code.to_owned(),
            sub_code: sub_code.map(str::to_owned),
            message: message.map(str::to_owned),
        };
        self
    }

    /// Embeds this message (a complete XML document, such as a signed
    /// `samlp:Response`; an XML declaration is dropped).
    pub fn message(mut self, xml: impl Into<String>) -> Self {
        self.message = Some(xml.into());
        self
    }

    /// Fixes the ID, takes `IssueInstant` from `clock`, checks the values
    /// and that the embedded message is well-formed.
    ///
    /// Errors: `malformed_xml` (empty issuer or InResponseTo, bad IDs,
    /// characters XML cannot carry, a message that does not parse), and
    /// those of the XML reader for the message.
    pub fn build(self, clock: &dyn Clock) -> Result<ArtifactResponse> {
        let mut required = vec![
            ("issuer", self.issuer.as_str()),
            ("InResponseTo", self.in_response_to.as_str()),
        ];
        required.extend(self.status.values());
        let optional: Vec<(&str, &str)> = self
            .destination
            .iter()
            .map(|d| ("destination", d.as_str()))
            .collect();
        check_values(&required, &optional)?;
        if !is_xml_id(&self.in_response_to) {
            return Err(invalid(format!(
                "InResponseTo `{}` is not a valid xs:ID",
                shorten(&self.in_response_to)
            )));
        }
        let message = match &self.message {
            Some(xml) => {
                let limits = Limits {
                    max_xml_bytes: MAX_EMBEDDED_BYTES,
                    ..Limits::default()
                };
                let doc = Document::parse(xml, &limits)?;
                let element = xml
                    .get(doc.root().span())
                    .ok_or_else(|| invalid("the embedded message has no element"))?;
                Some(element.to_owned())
            }
            None => None,
        };
        let id = message_id(self.id)?;
        Ok(ArtifactResponse {
            id,
            issue_instant: clock.now(),
            issuer: self.issuer,
            in_response_to: self.in_response_to,
            destination: self.destination,
            status: self.status,
            message,
        })
    }
}

/// A built `samlp:ArtifactResponse` (test and development IdPs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactResponse {
    id: String,
    issue_instant: DateTime<Utc>,
    issuer: String,
    in_response_to: String,
    destination: Option<String>,
    status: StatusSpec,
    message: Option<String>,
}

impl ArtifactResponse {
    /// Starts an answer from `issuer` (the IdP's entity ID) to the
    /// `ArtifactResolve` with ID `in_response_to`.
    pub fn builder(issuer: &str, in_response_to: &str) -> ArtifactResponseBuilder {
        ArtifactResponseBuilder {
            id: None,
            issuer: issuer.to_owned(),
            in_response_to: in_response_to.to_owned(),
            destination: None,
            status: StatusSpec::success(),
            message: None,
        }
    }

    /// The response ID.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bare `samlp:ArtifactResponse` (no envelope, unsigned), the
    /// embedded message inside it as given.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(512 + self.message.as_ref().map_or(0, String::len));
        out.push_str("<samlp:ArtifactResponse");
        attr(&mut out, "xmlns:samlp", SAMLP_NS);
        attr(&mut out, "xmlns:saml", SAML_NS);
        attr(&mut out, "ID", &self.id);
        attr(&mut out, "Version", "2.0");
        attr(
            &mut out,
            "IssueInstant",
            &format_datetime(self.issue_instant),
        );
        if let Some(d) = &self.destination {
            attr(&mut out, "Destination", d);
        }
        attr(&mut out, "InResponseTo", &self.in_response_to);
        out.push('>');
        text_element(&mut out, "saml:Issuer", &self.issuer);
        self.status.write(&mut out);
        if let Some(message) = &self.message {
            out.push_str(message);
        }
        out.push_str("</samlp:ArtifactResponse>");
        out
    }

    /// The SOAP 1.1 envelope, with the `ArtifactResponse` signed (default
    /// [`SignOptions`]) when `signing` is given.
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn soap_envelope(&self, signing: Option<&SigningKey>) -> Result<String> {
        match signing {
            Some(key) => self.signed_soap_envelope(key, &SignOptions::default()),
            None => Ok(soap_envelope(&self.to_xml())),
        }
    }

    /// The SOAP 1.1 envelope with the `ArtifactResponse` signed in place
    /// with `options`.
    ///
    /// Errors: those of [`sign_enveloped`].
    pub fn signed_soap_envelope(&self, key: &SigningKey, options: &SignOptions) -> Result<String> {
        sign_enveloped(&soap_envelope(&self.to_xml()), &self.id, key, options)
    }
}

// ---------------------------------------------------------------------------
// ArtifactResponse (validating)
// ---------------------------------------------------------------------------

/// The message an artifact stood for, taken from a validated
/// `ArtifactResponse`. Validate [`message_xml`](Self::message_xml) with the
/// validator of its kind: a signed `ArtifactResponse` does not make the
/// embedded message signed in the eyes of, say, the
/// [`ResponseValidator`](super::ResponseValidator).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedArtifact {
    /// The `ArtifactResponse` `ID`.
    pub id: String,
    /// The IdP's entity ID (the checked `Issuer`).
    pub issuer: String,
    /// The `ArtifactResolve` it answers.
    pub in_response_to: String,
    /// `IssueInstant` of the `ArtifactResponse`.
    pub issue_instant: DateTime<Utc>,
    /// Whether a trusted signature covered the `ArtifactResponse`.
    pub signed: bool,
    /// The local name of the embedded message's element (`Response`,
    /// `LogoutRequest`, …).
    pub message_name: String,
    /// Its namespace URI, if any.
    pub message_namespace: Option<String>,
    /// The embedded message as a standalone XML document: its exact bytes,
    /// with the namespace declarations it uses but inherited from the
    /// envelope added to its start tag (so its own signatures still verify:
    /// exclusive C14N never changes, and a message that declares its own
    /// prefixes, as one signed before wrapping does, gets nothing added).
    pub message_xml: String,
}

impl ResolvedArtifact {
    /// True if the embedded message is `{namespace}local_name`.
    #[must_use]
    pub fn message_is(&self, namespace: &str, local_name: &str) -> bool {
        self.message_name == local_name && self.message_namespace.as_deref() == Some(namespace)
    }
}

/// Settings for validating the `ArtifactResponse` of one identity provider.
/// Plain data with safe defaults: build with
/// [`ArtifactResponseValidator::new`] and adjust.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ArtifactResponseValidator {
    /// The IdP's entity ID; the `Issuer` must equal it.
    pub idp_entity_id: String,
    /// The IdP's trusted signing keys.
    pub idp_keys: Vec<PublicKey>,
    /// Tolerance for every time check.
    pub clock_skew: Duration,
    /// How old (by `IssueInstant`) the answer may be, on top of the skew.
    pub max_message_age: Duration,
    /// Require the `ArtifactResponse` to be signed (default `true`). Some
    /// deployments rely on TLS client authentication of the back channel
    /// instead; the embedded message is checked by its own validator either
    /// way. A signature that is present must verify regardless.
    pub require_signature: bool,
    /// Signature algorithm policy.
    pub verify: VerifyOptions,
    /// Resource limits for the SOAP document.
    pub limits: Limits,
}

impl ArtifactResponseValidator {
    /// A validator with the safe defaults: signature required, clock skew
    /// 10 s, answers at most 5 minutes old, no SHA-1, default limits.
    #[must_use]
    pub fn new(idp_entity_id: impl Into<String>, idp_keys: Vec<PublicKey>) -> Self {
        Self {
            idp_entity_id: idp_entity_id.into(),
            idp_keys,
            clock_skew: Duration::seconds(DEFAULT_CLOCK_SKEW_SECONDS),
            max_message_age: Duration::seconds(DEFAULT_MAX_MESSAGE_AGE_SECONDS),
            require_signature: true,
            verify: VerifyOptions::new(),
            limits: Limits::default(),
        }
    }

    /// Validates the SOAP reply of the artifact resolution service to our
    /// `ArtifactResolve` with ID `resolve_id`, and returns the embedded
    /// message.
    ///
    /// Checks, in order: SOAP 1.1 `Envelope` / optional `Header` (no entry
    /// may demand `mustUnderstand`) / `Body` with exactly one element; a SOAP
    /// `Fault` is `status_not_success` with its code and string; that element
    /// is a SAML 2.0 `samlp:ArtifactResponse` with an `ID`
    /// (`malformed_xml`); its signature (`signature_missing` when required
    /// and absent; a signature outside it and the embedded message is
    /// `signature_invalid`); `Issuer` (`issuer_mismatch`); `InResponseTo`
    /// (`in_response_to_mismatch`); `IssueInstant` (`not_yet_valid`,
    /// `expired`); the status (`status_not_success`); and exactly one
    /// embedded message (none, the answer for an unknown, expired or
    /// already used artifact, is `status_not_success` too).
    pub fn validate(
        &self,
        soap_xml: &str,
        resolve_id: &str,
        clock: &dyn Clock,
    ) -> Result<ResolvedArtifact> {
        let now = clock.now();
        let doc = Document::parse(soap_xml, &self.limits)?;
        let response = soap_body_element(&doc)?;
        if !response.is(SAMLP_NS, "ArtifactResponse") {
            return Err(invalid(format!(
                "expected samlp:ArtifactResponse in the SOAP Body, found <{}>",
                shorten(response.local_name())
            )));
        }
        let id = check_version_and_id(response, "ArtifactResponse")?;

        // What follows Issuer, Signature, Extensions and Status is the message.
        let mut messages = response.child_elements().filter(|e| {
            !(e.is(SAML_NS, "Issuer")
                || e.is(DSIG_NS, "Signature")
                || e.is(SAMLP_NS, "Extensions")
                || e.is(SAMLP_NS, "Status"))
        });
        let message = messages.next();
        if messages.next().is_some() {
            return Err(invalid(
                "an ArtifactResponse carries at most one message; this one has more",
            ));
        }

        // Signatures: on the ArtifactResponse, or inside the embedded message
        // (checked later by that message's validator); nowhere else.
        for sig in response
            .descendants()
            .filter(|e| e.is(DSIG_NS, "Signature"))
        {
            let on_response = sig.parent().is_some_and(|p| p.id() == response.id());
            let in_message = message.is_some_and(|m| m.contains(sig.id()));
            if !on_response && !in_message {
                return Err(Error::new(
                    ErrorCode::SignatureInvalid,
                    "a signature sits where SAML puts none (signature wrapping?)",
                ));
            }
        }
        let signed = child(response, DSIG_NS, "Signature").is_some();
        let response = if signed {
            verify_enveloped(response, &self.idp_keys, &self.verify)?.element()
        } else if self.require_signature {
            return Err(Error::new(
                ErrorCode::SignatureMissing,
                "the ArtifactResponse is not signed",
            ));
        } else {
            response
        };

        check_issuer(response, &self.idp_entity_id, "ArtifactResponse")?;
        let in_response_to = check_in_response_to(response, resolve_id, "ArtifactResponse")?;
        let issue_instant = check_issue_instant(
            response,
            now,
            self.clock_skew,
            self.max_message_age,
            "ArtifactResponse",
        )?;
        read_status(response, "ArtifactResponse")?;
        // Re-find the message through the verified element.
        let message = message
            .and_then(|m| response.child_elements().find(|e| e.id() == m.id()))
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::StatusNotSuccess,
                    "the IdP returned no message for the artifact (unknown, expired or already used)",
                )
            })?;
        Ok(ResolvedArtifact {
            id,
            issuer: self.idp_entity_id.clone(),
            in_response_to,
            issue_instant,
            signed,
            message_name: message.local_name().to_owned(),
            message_namespace: message.namespace().map(str::to_owned),
            message_xml: standalone_xml(message, soap_xml)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{FixedClock, parse_datetime};

    #[test]
    fn artifact_debug_hides_the_handle() {
        let a = Artifact::new("https://idp.example", 3, [0xAB; 20]);
        let debug = format!("{a:?}");
        assert!(debug.contains("redacted"));
        assert!(!debug.contains("abab"));
    }

    #[test]
    fn resolve_ids_are_checked() {
        let clock = FixedClock(parse_datetime("2024-06-01T12:00:00Z").unwrap());
        let artifact = Artifact::new("https://idp.example", 0, [1; 20]);
        let err =
            ArtifactResolve::builder("https://sp.example", "https://idp.example/ars", &artifact)
                .id("1bad")
                .build(&clock)
                .unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedXml);
    }
}
