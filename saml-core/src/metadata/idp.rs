//! Identity-provider metadata: parsing an `md:EntityDescriptor` (or one
//! entity of an `md:EntitiesDescriptor` aggregate) into the trusted
//! configuration of an IdP, optionally verifying the document's signature,
//! and linting the result for administrators.
//!
//! Trust rules: when [`MetadataOptions::trusted_signers`] is not empty, the
//! document element must carry an enveloped signature by one of those keys,
//! and everything is read from that verified element. Certificates found in
//! the metadata become the IdP's trusted keys; their validity dates are
//! reported by [`IdpMetadata::lint`] but never enforced (SAML trusts keys by
//! configuration).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{parse_duration, short};
use crate::Limits;
use crate::clock::parse_datetime;
use crate::crypto::{Certificate, PublicKey};
use crate::dsig::{DSIG_NS, VerifyOptions, verify_enveloped};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::bindings::{HTTP_POST, HTTP_REDIRECT};
use crate::protocol::{MD_NS, SAMLP_NS};
use crate::xml::{Document, Element};

/// Certificates that end within this many seconds are reported by [`IdpMetadata::lint`].
const EXPIRY_WARNING_SECS: i64 = 30 * 86_400;

/// How to read a metadata document: which entity, which signers to trust,
/// and which limits and time to apply.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetadataOptions {
    /// The entity to pick from an `EntitiesDescriptor`. Required when the
    /// aggregate holds several IdP entities; when given, an entity with this
    /// `entityID` must exist (also for a single `EntityDescriptor`).
    pub entity_id: Option<String>,
    /// Keys trusted to sign the metadata. When not empty, the document
    /// element (`EntityDescriptor` or `EntitiesDescriptor`) must carry a
    /// valid enveloped signature by one of them.
    pub trusted_signers: Vec<PublicKey>,
    /// Accept metadata without a verified signature when no trusted signers
    /// are configured (default `true`). When `false`, parsing without
    /// trusted signers fails: set it to insist on signed metadata.
    pub allow_unsigned: bool,
    /// XML reader limits. Federation aggregates need more than the defaults.
    pub limits: Limits,
    /// The current time. When given, metadata whose `validUntil` (of the
    /// document element, an enclosing `EntitiesDescriptor`, the entity or its
    /// IdP role) is not after it is refused as `expired`.
    pub now: Option<DateTime<Utc>>,
    /// What the metadata signature may use beyond the safe defaults (SHA-1,
    /// weak keys).
    pub verify: VerifyOptions,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl MetadataOptions {
    /// The defaults: the only IdP entity, unsigned metadata accepted, default
    /// limits, no expiry check, safe signature algorithms.
    #[must_use]
    pub fn new() -> Self {
        Self {
            entity_id: None,
            trusted_signers: Vec::new(),
            allow_unsigned: true,
            limits: Limits::default(),
            now: None,
            verify: VerifyOptions::new(),
        }
    }

    /// Picks the entity with this `entityID`.
    #[must_use]
    pub fn with_entity_id(mut self, entity_id: impl Into<String>) -> Self {
        self.entity_id = Some(entity_id.into());
        self
    }

    /// Requires a signature by one of these keys.
    #[must_use]
    pub fn with_trusted_signers(mut self, keys: Vec<PublicKey>) -> Self {
        self.trusted_signers = keys;
        self
    }

    /// Sets whether metadata may be used without a verified signature.
    #[must_use]
    pub const fn with_allow_unsigned(mut self, allow: bool) -> Self {
        self.allow_unsigned = allow;
        self
    }

    /// Sets the XML reader limits.
    #[must_use]
    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks `validUntil` against this time.
    #[must_use]
    pub const fn with_now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Sets the signature verification options.
    #[must_use]
    pub const fn with_verify_options(mut self, verify: VerifyOptions) -> Self {
        self.verify = verify;
        self
    }
}

/// One protocol endpoint of an IdP (`SingleSignOnService`,
/// `SingleLogoutService`, `ArtifactResolutionService`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The binding URI (see [`crate::protocol::bindings`]).
    pub binding: String,
    /// Where to send requests.
    pub location: String,
    /// Where to send responses, when it differs from `location`.
    pub response_location: Option<String>,
    /// The endpoint index (indexed endpoints only).
    pub index: Option<u16>,
    /// The `isDefault` flag (indexed endpoints only).
    pub is_default: Option<bool>,
}

impl Endpoint {
    /// An endpoint with a binding and a location and nothing else.
    #[must_use]
    pub fn new(binding: impl Into<String>, location: impl Into<String>) -> Self {
        Self {
            binding: binding.into(),
            location: location.into(),
            response_location: None,
            index: None,
            is_default: None,
        }
    }

    /// Where responses go: `ResponseLocation` if present, else `Location`.
    #[must_use]
    pub fn response_location_or_location(&self) -> &str {
        self.response_location.as_deref().unwrap_or(&self.location)
    }
}

/// What a `KeyDescriptor`'s key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUse {
    /// `use="signing"`.
    Signing,
    /// `use="encryption"`.
    Encryption,
}

/// One `md:KeyDescriptor` of the IdP role that carried certificates.
#[derive(Debug, Clone)]
pub struct KeyDescriptor {
    /// The `use` attribute; `None` means the key serves both purposes.
    pub usage: Option<KeyUse>,
    /// Every `ds:X509Certificate` of its `ds:KeyInfo/ds:X509Data`.
    pub certificates: Vec<Certificate>,
    /// The `Algorithm` of each `md:EncryptionMethod`.
    pub encryption_methods: Vec<String>,
}

impl KeyDescriptor {
    /// True if the key may verify signatures (`use="signing"` or no `use`).
    #[must_use]
    pub fn is_for_signing(&self) -> bool {
        self.usage != Some(KeyUse::Encryption)
    }

    /// True if the key may encrypt (`use="encryption"` or no `use`).
    #[must_use]
    pub fn is_for_encryption(&self) -> bool {
        self.usage != Some(KeyUse::Signing)
    }
}

/// How serious a [`LintFinding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Works today, but should be fixed.
    Warning,
    /// Logins will fail (or are unsafe) until this is fixed.
    Error,
}

/// One problem found by [`IdpMetadata::lint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// How serious it is.
    pub severity: Severity,
    /// A stable snake_case identifier, e.g. `certificate_expiring`.
    pub code: &'static str,
    /// A sentence for the administrator.
    pub message: String,
}

/// The trusted configuration of one identity provider, from its metadata
/// ([`IdpMetadata::parse`]) or entered by hand ([`IdpMetadata::from_parts`]).
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    entity_id: String,
    sso: Vec<Endpoint>,
    slo: Vec<Endpoint>,
    artifact_resolution: Vec<Endpoint>,
    key_descriptors: Vec<KeyDescriptor>,
    signing_certificates: Vec<Certificate>,
    encryption_certificates: Vec<Certificate>,
    name_id_formats: Vec<String>,
    want_authn_requests_signed: bool,
    valid_until: Option<DateTime<Utc>>,
    cache_duration: Option<Duration>,
    signature_verified: bool,
}

/// An `EntityDescriptor` found in the document, with the tightest
/// `validUntil` / `cacheDuration` of the `EntitiesDescriptor`s around it.
#[derive(Clone, Copy)]
struct Candidate<'d, 'a> {
    element: Element<'d, 'a>,
    valid_until: Option<DateTime<Utc>>,
    cache_duration: Option<Duration>,
}

fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::MalformedXml, detail)
}

fn unknown(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::UnknownProvider, detail)
}

/// Keeps the earlier of two optional instants / the shorter of two durations.
fn earliest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Reads `validUntil` and `cacheDuration` of a metadata element.
fn time_attributes(el: Element<'_, '_>) -> Result<(Option<DateTime<Utc>>, Option<Duration>)> {
    let valid_until = el
        .attribute("validUntil")
        .map(|v| {
            parse_datetime(v).map_err(|e| {
                malformed(format!("md:{} validUntil: {}", el.local_name(), e.detail()))
            })
        })
        .transpose()?;
    let cache = el
        .attribute("cacheDuration")
        .map(|v| {
            parse_duration(v).map_err(|e| {
                malformed(format!(
                    "md:{} cacheDuration: {}",
                    el.local_name(),
                    e.detail()
                ))
            })
        })
        .transpose()?;
    Ok((valid_until, cache))
}

/// Parses an `xs:boolean`.
fn parse_bool(value: &str, what: &str) -> Result<bool> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(malformed(format!(
            "{what} must be true or false, not `{}`",
            short(other)
        ))),
    }
}

/// The first IdP role of an entity that supports SAML 2.0, if any.
fn idp_role<'d, 'a>(entity: Element<'d, 'a>) -> Option<Element<'d, 'a>> {
    entity.child_elements().find(|c| {
        c.is(MD_NS, "IDPSSODescriptor")
            && c.attribute("protocolSupportEnumeration")
                .is_some_and(|p| p.split_ascii_whitespace().any(|uri| uri == SAMLP_NS))
    })
}

/// Every `EntityDescriptor` of the document, in document order, with the
/// time limits inherited from enclosing `EntitiesDescriptor`s.
fn candidates<'d, 'a>(root: Element<'d, 'a>) -> Result<Vec<Candidate<'d, 'a>>> {
    let mut out = Vec::new();
    if root.is(MD_NS, "EntityDescriptor") {
        out.push(Candidate {
            element: root,
            valid_until: None,
            cache_duration: None,
        });
        return Ok(out);
    }
    if !root.is(MD_NS, "EntitiesDescriptor") {
        return Err(malformed(format!(
            "metadata must start with md:EntityDescriptor or md:EntitiesDescriptor, not <{}>",
            short(root.local_name())
        )));
    }
    // An explicit stack: nesting depth is bounded by the reader's limits,
    // but recursion depth should not depend on caller-chosen limits.
    let mut stack = vec![(root, None, None)];
    while let Some((group, inherited_until, inherited_cache)) = stack.pop() {
        let (until, cache) = time_attributes(group)?;
        let until = earliest(inherited_until, until);
        let cache = earliest(inherited_cache, cache);
        let mut nested = Vec::new();
        for child in group.child_elements() {
            if child.is(MD_NS, "EntityDescriptor") {
                out.push(Candidate {
                    element: child,
                    valid_until: until,
                    cache_duration: cache,
                });
            } else if child.is(MD_NS, "EntitiesDescriptor") {
                nested.push((child, until, cache));
            }
        }
        // Reverse so that nested groups are visited in document order.
        stack.extend(nested.into_iter().rev());
    }
    out.sort_by_key(|c| c.element.id());
    Ok(out)
}

fn entity_id_of<'d>(entity: Element<'d, '_>) -> Result<&'d str> {
    entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| malformed("an md:EntityDescriptor has no entityID"))
}

/// Verifies the document signature as the options require. Returns whether a
/// signature was verified.
fn check_signature(root: Element<'_, '_>, options: &MetadataOptions) -> Result<bool> {
    if !options.trusted_signers.is_empty() {
        let verified = verify_enveloped(root, &options.trusted_signers, &options.verify)
            .map_err(|e| Error::new(e.code(), format!("metadata signature: {}", e.detail())))?;
        if verified.element().id() != root.id() {
            return Err(Error::new(
                ErrorCode::ReferenceMismatch,
                "the metadata signature does not cover the document element",
            ));
        }
        return Ok(true);
    }
    if !options.allow_unsigned {
        return Err(Error::new(
            ErrorCode::UntrustedKey,
            "signed metadata is required but no trusted metadata signing key is configured",
        ));
    }
    Ok(false)
}

fn check_expiry(
    valid_until: Option<DateTime<Utc>>,
    now: Option<DateTime<Utc>>,
    what: &str,
) -> Result<()> {
    if let (Some(until), Some(now)) = (valid_until, now)
        && until <= now
    {
        return Err(Error::new(
            ErrorCode::Expired,
            format!(
                "{what} expired at {} (validUntil); fetch fresh metadata",
                crate::clock::format_datetime(until)
            ),
        ));
    }
    Ok(())
}

fn endpoint(el: Element<'_, '_>, indexed: bool) -> Result<Endpoint> {
    let name = el.local_name();
    let binding = el
        .attribute("Binding")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| malformed(format!("md:{name} has no Binding")))?;
    let location = el
        .attribute("Location")
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| malformed(format!("md:{name} has no Location")))?;
    let response_location = el
        .attribute("ResponseLocation")
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    let index = match el.attribute("index") {
        Some(v) => Some(v.trim().parse::<u16>().map_err(|_| {
            malformed(format!(
                "md:{name} index `{}` is not an unsignedShort",
                short(v)
            ))
        })?),
        None if indexed => {
            return Err(malformed(format!("md:{name} has no index")));
        }
        None => None,
    };
    let is_default = el
        .attribute("isDefault")
        .map(|v| parse_bool(v, &format!("md:{name} isDefault")))
        .transpose()?;
    Ok(Endpoint {
        binding: binding.to_owned(),
        location: location.to_owned(),
        response_location,
        index,
        is_default,
    })
}

fn key_descriptor(el: Element<'_, '_>) -> Result<KeyDescriptor> {
    let usage = match el.attribute("use").map(str::trim) {
        None => None,
        Some("signing") => Some(KeyUse::Signing),
        Some("encryption") => Some(KeyUse::Encryption),
        Some(other) => {
            return Err(malformed(format!(
                "md:KeyDescriptor use `{}` is neither signing nor encryption",
                short(other)
            )));
        }
    };
    let mut certificates = Vec::new();
    let mut encryption_methods = Vec::new();
    for child in el.child_elements() {
        if child.is(DSIG_NS, "KeyInfo") {
            for data in child.child_elements().filter(|d| d.is(DSIG_NS, "X509Data")) {
                for cert in data
                    .child_elements()
                    .filter(|c| c.is(DSIG_NS, "X509Certificate"))
                {
                    let cert = Certificate::from_base64(&cert.text()).map_err(|e| {
                        Error::new(
                            e.code(),
                            format!("md:KeyDescriptor certificate: {}", e.detail()),
                        )
                    })?;
                    certificates.push(cert);
                }
            }
        } else if child.is(MD_NS, "EncryptionMethod")
            && let Some(alg) = child.attribute("Algorithm")
        {
            encryption_methods.push(alg.trim().to_owned());
        }
    }
    Ok(KeyDescriptor {
        usage,
        certificates,
        encryption_methods,
    })
}

/// Appends `cert` unless a certificate with the same DER is already there.
fn push_distinct(list: &mut Vec<Certificate>, cert: &Certificate) {
    if !list.iter().any(|c| c.der() == cert.der()) {
        list.push(cert.clone());
    }
}

impl IdpMetadata {
    /// Parses IdP metadata: an `md:EntityDescriptor`, or an
    /// `md:EntitiesDescriptor` from which one IdP entity is picked (the only
    /// one, or the one named by [`MetadataOptions::entity_id`]).
    ///
    /// The entity's first `md:IDPSSODescriptor` that supports SAML 2.0 is
    /// read. `validUntil` is the earliest and `cacheDuration` the shortest of
    /// those on the document element, enclosing `EntitiesDescriptor`s, the
    /// entity and its IdP role.
    ///
    /// Errors: `malformed_xml` (not metadata, or a missing or invalid
    /// attribute), `input_too_large` (over [`MetadataOptions::limits`]),
    /// `unknown_provider` (entity not found, several IdP entities and none
    /// chosen, or no SAML 2.0 IdP role), `signature_missing` and the other
    /// signature errors of [`verify_enveloped`] (when trusted signers are
    /// set), `untrusted_key` (signed metadata required without a trusted key,
    /// or a certificate that cannot be used), `expired` (`validUntil` passed).
    pub fn parse(xml: &str, options: &MetadataOptions) -> Result<Self> {
        let doc = Document::parse(xml, &options.limits)?;
        let root = doc.root();
        let signature_verified = check_signature(root, options)?;
        let (root_until, _) = time_attributes(root)?;
        check_expiry(root_until, options.now, "the metadata")?;
        let all = candidates(root)?;

        let chosen = if let Some(wanted) = options.entity_id.as_deref() {
            // Entities without a usable entityID cannot match; they are
            // not reported here (parse them by their own ID to see errors).
            let matches: Vec<_> = all
                .iter()
                .filter(|c| entity_id_of(c.element).is_ok_and(|id| id == wanted.trim()))
                .copied()
                .collect();
            match matches.as_slice() {
                [one] => *one,
                [] => {
                    return Err(unknown(format!(
                        "no entity `{}` in the metadata ({} entities)",
                        short(wanted),
                        all.len()
                    )));
                }
                several => {
                    return Err(malformed(format!(
                        "entity `{}` appears {} times in the metadata",
                        short(wanted),
                        several.len()
                    )));
                }
            }
        } else if root.is(MD_NS, "EntityDescriptor") {
            *all.first()
                .ok_or_else(|| unknown("the metadata holds no entity"))?
        } else {
            let idps: Vec<_> = all
                .iter()
                .filter(|c| idp_role(c.element).is_some())
                .copied()
                .collect();
            match idps.as_slice() {
                [one] => *one,
                [] => {
                    return Err(unknown(format!(
                        "the metadata holds no SAML 2.0 IdP entity ({} entities)",
                        all.len()
                    )));
                }
                several => {
                    return Err(unknown(format!(
                        "the metadata holds {} IdP entities; choose one by entity ID",
                        several.len()
                    )));
                }
            }
        };
        let idp = Self::from_entity(chosen, signature_verified)?;
        check_expiry(
            idp.valid_until,
            options.now,
            &format!("the metadata of `{}`", short(&idp.entity_id)),
        )?;
        Ok(idp)
    }

    /// Parses every IdP entity of a metadata document, for aggregates.
    ///
    /// The document-level checks (well-formedness, limits, the signature,
    /// the document element's `validUntil`) fail the whole call, as in
    /// [`IdpMetadata::parse`]. In an `EntitiesDescriptor`, entities without a
    /// SAML 2.0 IdP role are left out, and so are IdP entities that cannot be
    /// used (a missing attribute, an unusable certificate) or whose own
    /// `validUntil` has passed, so that one broken entry does not hide the
    /// rest of a federation; [`IdpMetadata::parse`] with
    /// [`MetadataOptions::entity_id`] reports why a given entity is refused.
    /// A lone `EntityDescriptor` yields one IdP, an error, or nothing when it
    /// has no IdP role. [`MetadataOptions::entity_id`] is ignored.
    pub fn parse_all(xml: &str, options: &MetadataOptions) -> Result<Vec<Self>> {
        let doc = Document::parse(xml, &options.limits)?;
        let root = doc.root();
        let signature_verified = check_signature(root, options)?;
        let (root_until, _) = time_attributes(root)?;
        check_expiry(root_until, options.now, "the metadata")?;
        let all = candidates(root)?;
        let single = root.is(MD_NS, "EntityDescriptor");
        let mut out = Vec::new();
        for candidate in all {
            if idp_role(candidate.element).is_none() {
                continue;
            }
            let parsed = Self::from_entity(candidate, signature_verified).and_then(|idp| {
                check_expiry(idp.valid_until, options.now, "the entity's metadata")?;
                Ok(idp)
            });
            match parsed {
                Ok(idp) => out.push(idp),
                Err(e) if single => return Err(e),
                Err(_) => {}
            }
        }
        Ok(out)
    }

    /// Reads one entity.
    fn from_entity(candidate: Candidate<'_, '_>, signature_verified: bool) -> Result<Self> {
        let entity = candidate.element;
        let entity_id = entity_id_of(entity)?;
        let context = |e: Error| {
            Error::new(
                e.code(),
                format!("entity `{}`: {}", short(entity_id), e.detail()),
            )
        };
        let role = idp_role(entity).ok_or_else(|| {
            let any_idp = entity
                .child_elements()
                .any(|c| c.is(MD_NS, "IDPSSODescriptor"));
            unknown(format!(
                "entity `{}` has no {}IdP role (md:IDPSSODescriptor)",
                short(entity_id),
                if any_idp { "SAML 2.0 " } else { "" }
            ))
        })?;
        let (entity_until, entity_cache) = time_attributes(entity).map_err(context)?;
        let (role_until, role_cache) = time_attributes(role).map_err(context)?;
        let valid_until = earliest(earliest(candidate.valid_until, entity_until), role_until);
        let cache_duration = earliest(earliest(candidate.cache_duration, entity_cache), role_cache);
        let want_authn_requests_signed = role
            .attribute("WantAuthnRequestsSigned")
            .map(|v| parse_bool(v, "WantAuthnRequestsSigned"))
            .transpose()
            .map_err(context)?
            .unwrap_or(false);

        let mut idp = Self {
            entity_id: entity_id.to_owned(),
            sso: Vec::new(),
            slo: Vec::new(),
            artifact_resolution: Vec::new(),
            key_descriptors: Vec::new(),
            signing_certificates: Vec::new(),
            encryption_certificates: Vec::new(),
            name_id_formats: Vec::new(),
            want_authn_requests_signed,
            valid_until,
            cache_duration,
            signature_verified,
        };
        for child in role.child_elements() {
            if child.namespace() != Some(MD_NS) {
                continue;
            }
            match child.local_name() {
                "SingleSignOnService" => idp.sso.push(endpoint(child, false).map_err(context)?),
                "SingleLogoutService" => idp.slo.push(endpoint(child, false).map_err(context)?),
                "ArtifactResolutionService" => idp
                    .artifact_resolution
                    .push(endpoint(child, true).map_err(context)?),
                "NameIDFormat" => {
                    let format = child.text();
                    let format = format.trim();
                    if !format.is_empty() && !idp.name_id_formats.iter().any(|f| f == format) {
                        idp.name_id_formats.push(format.to_owned());
                    }
                }
                "KeyDescriptor" => {
                    let kd = key_descriptor(child).map_err(context)?;
                    if !kd.certificates.is_empty() {
                        idp.key_descriptors.push(kd);
                    }
                }
                _ => {}
            }
        }
        idp.collect_certificates();
        Ok(idp)
    }

    /// Fills the signing and encryption lists from the key descriptors.
    fn collect_certificates(&mut self) {
        let mut signing = Vec::new();
        let mut encryption = Vec::new();
        for kd in &self.key_descriptors {
            for cert in &kd.certificates {
                if kd.is_for_signing() {
                    push_distinct(&mut signing, cert);
                }
                if kd.is_for_encryption() {
                    push_distinct(&mut encryption, cert);
                }
            }
        }
        self.signing_certificates = signing;
        self.encryption_certificates = encryption;
    }

    /// Builds an IdP configuration from values an administrator entered by
    /// hand (entity ID, SSO/SLO URLs, PEM signing certificates) instead of
    /// metadata. Nothing is verified; [`IdpMetadata::lint`] reports gaps.
    ///
    /// ```
    /// use saml_core::metadata::{Endpoint, IdpMetadata};
    /// use saml_core::protocol::bindings::HTTP_REDIRECT;
    ///
    /// let idp = IdpMetadata::from_parts(
    ///     "https://idp.example.org",
    ///     vec![Endpoint::new(HTTP_REDIRECT, "https://idp.example.org/sso")],
    ///     vec![],
    ///     vec![], // Certificate::from_pem(...)?
    /// );
    /// assert!(idp.sso_endpoint(HTTP_REDIRECT).is_some());
    /// ```
    #[must_use]
    pub fn from_parts(
        entity_id: impl Into<String>,
        sso: Vec<Endpoint>,
        slo: Vec<Endpoint>,
        signing_certificates: Vec<Certificate>,
    ) -> Self {
        let mut idp = Self {
            entity_id: entity_id.into(),
            sso,
            slo,
            artifact_resolution: Vec::new(),
            key_descriptors: Vec::new(),
            signing_certificates: Vec::new(),
            encryption_certificates: Vec::new(),
            name_id_formats: Vec::new(),
            want_authn_requests_signed: false,
            valid_until: None,
            cache_duration: None,
            signature_verified: false,
        };
        if !signing_certificates.is_empty() {
            idp.key_descriptors.push(KeyDescriptor {
                usage: Some(KeyUse::Signing),
                certificates: signing_certificates,
                encryption_methods: Vec::new(),
            });
        }
        idp.collect_certificates();
        idp
    }

    /// The IdP's entity ID (the `Issuer` of its messages).
    #[must_use]
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// Every `SingleSignOnService`, in document order.
    #[must_use]
    pub fn sso_endpoints(&self) -> &[Endpoint] {
        &self.sso
    }

    /// Every `SingleLogoutService`, in document order.
    #[must_use]
    pub fn slo_endpoints(&self) -> &[Endpoint] {
        &self.slo
    }

    /// Every `ArtifactResolutionService`, in document order.
    #[must_use]
    pub fn artifact_resolution_endpoints(&self) -> &[Endpoint] {
        &self.artifact_resolution
    }

    /// The first SSO endpoint with this binding.
    #[must_use]
    pub fn sso_endpoint(&self, binding: &str) -> Option<&Endpoint> {
        self.sso.iter().find(|e| e.binding == binding)
    }

    /// The first SLO endpoint with this binding.
    #[must_use]
    pub fn slo_endpoint(&self, binding: &str) -> Option<&Endpoint> {
        self.slo.iter().find(|e| e.binding == binding)
    }

    /// The artifact resolution endpoint with this index, or, for `None`, the
    /// default one: the first with `isDefault="true"`, else the first without
    /// `isDefault="false"`, else the first.
    #[must_use]
    pub fn artifact_resolution_endpoint(&self, index: Option<u16>) -> Option<&Endpoint> {
        let all = &self.artifact_resolution;
        match index {
            Some(i) => all.iter().find(|e| e.index == Some(i)),
            None => all
                .iter()
                .find(|e| e.is_default == Some(true))
                .or_else(|| all.iter().find(|e| e.is_default.is_none()))
                .or_else(|| all.first()),
        }
    }

    /// The key descriptors of the IdP role that carried certificates.
    #[must_use]
    pub fn key_descriptors(&self) -> &[KeyDescriptor] {
        &self.key_descriptors
    }

    /// Distinct certificates usable for signature verification (from
    /// `use="signing"` and use-less key descriptors). All are kept, so a key
    /// rollover announced in metadata works.
    #[must_use]
    pub fn signing_certificates(&self) -> &[Certificate] {
        &self.signing_certificates
    }

    /// Distinct certificates usable for encryption (from `use="encryption"`
    /// and use-less key descriptors).
    #[must_use]
    pub fn encryption_certificates(&self) -> &[Certificate] {
        &self.encryption_certificates
    }

    /// The public keys of [`IdpMetadata::signing_certificates`]: the trusted
    /// keys for this IdP's responses and logout messages.
    #[must_use]
    pub fn signing_keys(&self) -> Vec<PublicKey> {
        self.signing_certificates
            .iter()
            .map(|c| c.public_key().clone())
            .collect()
    }

    /// The `NameIDFormat`s the IdP supports, distinct, in document order.
    #[must_use]
    pub fn name_id_formats(&self) -> &[String] {
        &self.name_id_formats
    }

    /// The role's `WantAuthnRequestsSigned` (default `false`).
    #[must_use]
    pub const fn want_authn_requests_signed(&self) -> bool {
        self.want_authn_requests_signed
    }

    /// When this metadata stops being valid: the earliest `validUntil` that
    /// applies to the entity.
    #[must_use]
    pub const fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.valid_until
    }

    /// How long the metadata may be cached: the shortest `cacheDuration`
    /// that applies to the entity.
    #[must_use]
    pub const fn cache_duration(&self) -> Option<Duration> {
        self.cache_duration
    }

    /// Whether the document signature was verified with a trusted key.
    #[must_use]
    pub const fn signature_verified(&self) -> bool {
        self.signature_verified
    }

    /// Checks the configuration for problems an administrator should fix,
    /// at time `now`. Findings (code, severity):
    ///
    /// - `no_signing_certificate` (error): no response can be verified;
    /// - `certificate_expired`, `certificate_expiring` (warning, within 30
    ///   days): still trusted, but the IdP is about to roll its key;
    /// - `weak_key` (warning): an RSA key under 2048 bits, refused at
    ///   verification unless weak keys are allowed;
    /// - `no_browser_sso_endpoint` (error): no HTTP-Redirect or HTTP-POST SSO;
    /// - `insecure_endpoint` (warning): a plain `http://` location;
    /// - `metadata_expired` (error): `validUntil` has passed;
    /// - `no_slo_endpoint` (warning): single logout is not possible.
    #[must_use]
    pub fn lint(&self, now: DateTime<Utc>) -> Vec<LintFinding> {
        let mut out = Vec::new();
        let mut add = |severity, code, message: String| {
            out.push(LintFinding {
                severity,
                code,
                message,
            });
        };
        if self.signing_certificates.is_empty() {
            add(
                Severity::Error,
                "no_signing_certificate",
                "the IdP has no signing certificate, so its responses cannot be verified".into(),
            );
        }
        let now_secs = now.timestamp();
        for cert in &self.signing_certificates {
            let ends = DateTime::<Utc>::from_timestamp(cert.not_after(), 0).map_or_else(
                || cert.not_after().to_string(),
                crate::clock::format_datetime,
            );
            if cert.not_after() < now_secs {
                add(
                    Severity::Warning,
                    "certificate_expired",
                    format!(
                        "the signing certificate `{}` expired at {ends}; it is still trusted, but ask the IdP for its current certificate",
                        short(cert.subject())
                    ),
                );
            } else if cert.not_after() - now_secs <= EXPIRY_WARNING_SECS {
                add(
                    Severity::Warning,
                    "certificate_expiring",
                    format!(
                        "the signing certificate `{}` expires at {ends}; add the IdP's next certificate before then",
                        short(cert.subject())
                    ),
                );
            }
        }
        let mut weak: Vec<Certificate> = Vec::new();
        for cert in self
            .signing_certificates
            .iter()
            .chain(&self.encryption_certificates)
            .filter(|c| c.public_key().is_weak())
        {
            push_distinct(&mut weak, cert);
        }
        for cert in &weak {
            add(
                Severity::Warning,
                "weak_key",
                format!(
                    "the certificate `{}` has an RSA key under 2048 bits",
                    short(cert.subject())
                ),
            );
        }
        if self.sso_endpoint(HTTP_REDIRECT).is_none() && self.sso_endpoint(HTTP_POST).is_none() {
            add(
                Severity::Error,
                "no_browser_sso_endpoint",
                "the IdP has no HTTP-Redirect or HTTP-POST single sign-on endpoint".into(),
            );
        }
        for e in self
            .sso
            .iter()
            .chain(&self.slo)
            .chain(&self.artifact_resolution)
        {
            for location in
                std::iter::once(e.location.as_str()).chain(e.response_location.as_deref())
            {
                if location
                    .get(..7)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
                {
                    add(
                        Severity::Warning,
                        "insecure_endpoint",
                        format!(
                            "the endpoint `{}` uses plain HTTP instead of HTTPS",
                            short(location)
                        ),
                    );
                }
            }
        }
        if let Some(until) = self.valid_until
            && until <= now
        {
            add(
                Severity::Error,
                "metadata_expired",
                format!(
                    "the metadata expired at {} (validUntil); refresh it",
                    crate::clock::format_datetime(until)
                ),
            );
        }
        if self.slo.is_empty() {
            add(
                Severity::Warning,
                "no_slo_endpoint",
                "the IdP has no single logout endpoint; logout ends only the local session".into(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::bindings::SOAP;

    const IDP: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.org" validUntil="2030-01-01T00:00:00Z">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="1" protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol urn:oasis:names:tc:SAML:2.0:protocol" cacheDuration="PT2H">
    <md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://idp.example.org/ars0" index="0" isDefault="false"/>
    <md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://idp.example.org/ars1" index="1" isDefault="true"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location=" https://idp.example.org/slo " ResponseLocation="https://idp.example.org/slo-resp"/>
    <md:NameIDFormat> urn:oasis:names:tc:SAML:2.0:nameid-format:persistent </md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://idp.example.org/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;

    #[test]
    fn reads_an_entity() {
        let idp = IdpMetadata::parse(IDP, &MetadataOptions::new()).unwrap();
        assert_eq!(idp.entity_id(), "https://idp.example.org");
        assert!(idp.want_authn_requests_signed());
        assert_eq!(idp.cache_duration(), Some(Duration::from_secs(7_200)));
        assert_eq!(
            idp.valid_until(),
            Some(parse_datetime("2030-01-01T00:00:00Z").unwrap())
        );
        let slo = idp.slo_endpoint(HTTP_REDIRECT).unwrap();
        assert_eq!(slo.location, "https://idp.example.org/slo");
        assert_eq!(
            slo.response_location_or_location(),
            "https://idp.example.org/slo-resp"
        );
        assert_eq!(idp.name_id_formats().len(), 1);
        assert_eq!(
            idp.artifact_resolution_endpoint(None).unwrap().index,
            Some(1)
        );
        assert_eq!(
            idp.artifact_resolution_endpoint(Some(0)).unwrap().location,
            "https://idp.example.org/ars0"
        );
        assert_eq!(idp.artifact_resolution_endpoints()[0].binding, SOAP);
        let codes: Vec<_> = idp
            .lint(parse_datetime("2025-01-01T00:00:00Z").unwrap())
            .into_iter()
            .map(|f| f.code)
            .collect();
        assert_eq!(codes, ["no_signing_certificate", "insecure_endpoint"]);
    }

    #[test]
    fn refuses_bad_attributes() {
        for (from, to) in [
            (
                "WantAuthnRequestsSigned=\"1\"",
                "WantAuthnRequestsSigned=\"yes\"",
            ),
            ("index=\"1\"", "index=\"70000\""),
            ("index=\"1\" ", ""),
            ("isDefault=\"true\"", "isDefault=\"TRUE\""),
            ("cacheDuration=\"PT2H\"", "cacheDuration=\"2h\""),
            ("validUntil=\"2030-01-01T00:00:00Z\"", "validUntil=\"soon\""),
            ("Location=\"http://idp.example.org/sso\"", ""),
        ] {
            let xml = IDP.replace(from, to);
            let err = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap_err();
            assert_eq!(err.code(), ErrorCode::MalformedXml, "{to}: {err}");
        }
    }

    #[test]
    fn needs_a_saml2_idp_role() {
        let xml = IDP.replace(
            "urn:oasis:names:tc:SAML:1.1:protocol urn:oasis:names:tc:SAML:2.0:protocol",
            "urn:oasis:names:tc:SAML:1.1:protocol",
        );
        let err = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownProvider);
        assert!(err.detail().contains("SAML 2.0 IdP role"), "{err}");
        assert!(
            IdpMetadata::parse_all(&xml, &MetadataOptions::new())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn expiry_uses_the_clock() {
        let late = MetadataOptions::new().with_now(parse_datetime("2030-01-01T00:00:00Z").unwrap());
        assert_eq!(
            IdpMetadata::parse(IDP, &late).unwrap_err().code(),
            ErrorCode::Expired
        );
        let early =
            MetadataOptions::new().with_now(parse_datetime("2029-12-31T23:59:59Z").unwrap());
        assert!(IdpMetadata::parse(IDP, &early).is_ok());
    }

    #[test]
    fn signed_metadata_needs_a_key() {
        let options = MetadataOptions::new().with_allow_unsigned(false);
        assert_eq!(
            IdpMetadata::parse(IDP, &options).unwrap_err().code(),
            ErrorCode::UntrustedKey
        );
    }

    #[test]
    fn durations_tightest_wins() {
        let xml = format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" cacheDuration="PT1H" validUntil="2031-01-01T00:00:00Z">
<md:EntitiesDescriptor cacheDuration="PT30M">{}</md:EntitiesDescriptor></md:EntitiesDescriptor>"#,
            IDP.replace(" xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"", "")
        );
        let idp = IdpMetadata::parse(&xml, &MetadataOptions::new()).unwrap();
        assert_eq!(idp.cache_duration(), Some(Duration::from_secs(1_800)));
        assert_eq!(
            idp.valid_until(),
            Some(parse_datetime("2030-01-01T00:00:00Z").unwrap())
        );
    }
}
