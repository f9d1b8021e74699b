//! Attribute mapping: from a validated [`Assertion`] to the application's
//! user profile (DESIGN.md section 5).
//!
//! Admins map claims to user fields the way the product manuals describe:
//! each target field takes one claim name or an ordered list of fallbacks,
//! dotted targets (`name.given`, `profile.department`) build nested profile
//! objects, roles come from a multi-valued attribute or from one string split
//! on a separator, and required targets fail the login with
//! [`ErrorCode::MissingAttribute`] and a message that lists the claim names
//! that were tried.
//!
//! # Sources
//!
//! A source is a claim (attribute) name. An attribute matches a source when
//! its `Name` or its `FriendlyName` equals it. URI-like sources (containing
//! `:` or `/`, e.g. `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress`
//! or `urn:oid:0.9.2342.19200300.100.1.3`) compare exactly; plain names
//! (`mail`, `givenName`, `firstName`) compare ASCII case-insensitively, so
//! `Email`, `FirstName` and `firstname` (as Okta testers and PingFederate send
//! them) all match. The special source [`NAME_ID`] (`$name_id`) is the
//! assertion's NameID value. Values are trimmed; empty values are ignored, so
//! an attribute sent without a value falls through to the next source.
//!
//! # Defaults and presets
//!
//! [`MappingRules::default`] (the same as [`Preset::Generic`]) works with the
//! common claim URIs (emailaddress, givenname, surname, name, upn,
//! mobilephone, role, groups), plain LDAP-style names (`mail`, `uid`,
//! `givenName`, `sn`, `cn`, `eduPersonPrincipalName`) and `urn:oid:` names.
//! [`MappingRules::preset`] tunes the order and adds IdP-specific fields; each
//! [`Preset`] variant documents its choices. Every preset fills the same core
//! targets ([`targets`]), so application code does not depend on the IdP.
//!
//! # Example
//!
//! ```
//! use saml_core::mapping::{FieldRule, MappingRules, Preset, RoleRule, targets};
//! use saml_core::protocol::Assertion;
//!
//! let rules = MappingRules::preset(Preset::EntraId)
//!     // Fail the login when no email is sent.
//!     .field(FieldRule::new(targets::EMAIL, [
//!         "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
//!         "$name_id",
//!     ]).email().required())
//!     // A custom claim into a nested profile field.
//!     .field(FieldRule::new("profile.department", ["department"]))
//!     // Roles sent as one string: "admins;users".
//!     .roles(RoleRule::new(["appRoles"]).separator(";"));
//! assert!(rules.problems().is_empty());
//!
//! fn on_login(rules: &MappingRules, assertion: &Assertion) -> saml_core::Result<String> {
//!     let user = rules.map(assertion)?;
//!     for warning in &user.warnings {
//!         eprintln!("mapping: {warning}");
//!     }
//!     Ok(format!("{} <{}>", user.id, user.email().unwrap_or("no email")))
//! }
//! ```

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{Assertion, Attribute, name_id_format};

/// The special source that stands for the assertion's NameID value.
pub const NAME_ID: &str = "$name_id";

/// Well-known claim (attribute) names, for writing rules without typos.
pub mod claims {
    /// WS-Federation email address (Entra ID, AD FS, Auth0, PlusAuth).
    pub const EMAIL_ADDRESS: &str =
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
    /// WS-Federation given name.
    pub const GIVEN_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname";
    /// WS-Federation surname.
    pub const SURNAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname";
    /// WS-Federation name: Entra ID puts the user principal name here, Auth0
    /// and AD FS a display name.
    pub const NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
    /// WS-Federation user principal name.
    pub const UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
    /// WS-Federation name identifier (AD FS's "Name ID" claim type).
    pub const NAME_IDENTIFIER: &str =
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier";
    /// WS-Federation mobile phone.
    pub const MOBILE_PHONE: &str =
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/mobilephone";
    /// The `https://` spelling of the mobile-phone claim, as some product
    /// manuals print it.
    pub const MOBILE_PHONE_HTTPS: &str =
        "https://schemas.xmlsoap.org/ws/2005/05/identity/claims/mobilephone";
    /// Username claim type, as product manuals suggest configuring it.
    pub const USERNAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/username";
    /// Microsoft display name (Entra ID).
    pub const MS_DISPLAY_NAME: &str = "http://schemas.microsoft.com/identity/claims/displayname";
    /// Microsoft object identifier: Entra ID's immutable user ID in the tenant.
    pub const MS_OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
    /// Microsoft tenant ID (Entra ID).
    pub const MS_TENANT_ID: &str = "http://schemas.microsoft.com/identity/claims/tenantid";
    /// Microsoft role claim (Entra ID app roles, AD FS roles).
    pub const MS_ROLE: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
    /// Microsoft groups claim (Entra ID group object IDs or names).
    pub const MS_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
    /// Entra ID's group overage claim: sent instead of the groups when the
    /// user is in more groups than fit in the token (150 for SAML).
    pub const MS_GROUPS_LINK: &str = "http://schemas.microsoft.com/claims/groups.link";
    /// Windows account name, `DOMAIN\user` (AD FS).
    pub const MS_WINDOWS_ACCOUNT_NAME: &str =
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname";
    /// AD FS group claim.
    pub const ADFS_GROUP: &str = "http://schemas.xmlsoap.org/claims/Group";
    /// AD FS common name claim.
    pub const ADFS_COMMON_NAME: &str = "http://schemas.xmlsoap.org/claims/CommonName";
    /// AD FS 1.x email address claim.
    pub const ADFS_EMAIL: &str = "http://schemas.xmlsoap.org/claims/EmailAddress";
    /// AD FS 1.x UPN claim.
    pub const ADFS_UPN: &str = "http://schemas.xmlsoap.org/claims/UPN";
    /// `mail` (RFC 4524).
    pub const OID_MAIL: &str = "urn:oid:0.9.2342.19200300.100.1.3";
    /// `uid` (RFC 4519).
    pub const OID_UID: &str = "urn:oid:0.9.2342.19200300.100.1.1";
    /// `givenName`.
    pub const OID_GIVEN_NAME: &str = "urn:oid:2.5.4.42";
    /// `sn` (surname).
    pub const OID_SN: &str = "urn:oid:2.5.4.4";
    /// `cn` (common name).
    pub const OID_CN: &str = "urn:oid:2.5.4.3";
    /// `displayName` (inetOrgPerson).
    pub const OID_DISPLAY_NAME: &str = "urn:oid:2.16.840.1.113730.3.1.241";
    /// `telephoneNumber`.
    pub const OID_TELEPHONE: &str = "urn:oid:2.5.4.20";
    /// `mobile`.
    pub const OID_MOBILE: &str = "urn:oid:0.9.2342.19200300.100.1.41";
    /// PKCS#9 `emailAddress` (Keycloak's X500 email mapper).
    pub const OID_PKCS9_EMAIL: &str = "urn:oid:1.2.840.113549.1.9.1";
    /// `eduPersonPrincipalName`.
    pub const OID_EPPN: &str = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6";
    /// `eduPersonAffiliation`.
    pub const OID_AFFILIATION: &str = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1";
    /// `eduPersonScopedAffiliation`.
    pub const OID_SCOPED_AFFILIATION: &str = "urn:oid:1.3.6.1.4.1.5923.1.1.1.9";
    /// `eduPersonEntitlement`.
    pub const OID_ENTITLEMENT: &str = "urn:oid:1.3.6.1.4.1.5923.1.1.1.7";
    /// `eduPersonUniqueId`.
    pub const OID_UNIQUE_ID: &str = "urn:oid:1.3.6.1.4.1.5923.1.1.1.13";
    /// `isMemberOf`.
    pub const OID_IS_MEMBER_OF: &str = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1";
    /// SAML V2.0 Subject Identifier Attributes: `subject-id`.
    pub const SUBJECT_ID: &str = "urn:oasis:names:tc:SAML:attribute:subject-id";
    /// SAML V2.0 Subject Identifier Attributes: `pairwise-id`.
    pub const PAIRWISE_ID: &str = "urn:oasis:names:tc:SAML:attribute:pairwise-id";
}

/// The target names every preset fills, so application code can rely on them.
pub mod targets {
    /// The user's identifier (always required).
    pub const ID: &str = "id";
    /// Email address.
    pub const EMAIL: &str = "email";
    /// Given (first) name.
    pub const GIVEN_NAME: &str = "name.given";
    /// Family (last) name.
    pub const FAMILY_NAME: &str = "name.family";
    /// Display name.
    pub const DISPLAY_NAME: &str = "display_name";
    /// Phone number.
    pub const PHONE: &str = "phone";
    /// User principal name (Microsoft IdPs).
    pub const UPN: &str = "upn";
    /// Login name.
    pub const USERNAME: &str = "username";
    /// The default target of the roles rule.
    pub const ROLES: &str = "roles";
}

use claims as c;

/// Claims that announce Entra ID group overage (the groups were left out).
const OVERAGE_LINK: &[&str] = &[c::MS_GROUPS_LINK, "groups.link"];
const OVERAGE_FLAG: &[&str] = &["http://schemas.microsoft.com/claims/hasgroups", "hasgroups"];
const OVERAGE_JWT: &[&str] = &["_claim_names", "_claim_sources"];

/// What a field's values must look like; other values are skipped (with a
/// warning) and the next source is tried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueFormat {
    /// Any non-empty value.
    #[default]
    Any,
    /// An email address (`local@domain.tld`, no spaces). Lets a rule list
    /// claims that hold an email only sometimes (the NameID, a UPN, a
    /// username) without taking a non-email value.
    Email,
}

/// One target field and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldRule {
    /// Dotted path of the field: `email`, `name.given`, `profile.department`.
    /// The target `id` is the user's identifier and is always required.
    pub target: String,
    /// Ordered fallbacks: claim names, or [`NAME_ID`]. The first source with
    /// a usable value wins.
    pub sources: Vec<String>,
    /// Fail the login with `missing_attribute` when no source has a value.
    pub required: bool,
    /// What a value must look like to be taken.
    pub format: ValueFormat,
    /// Keep every value of the winning source as a list (otherwise the first
    /// value is kept and a warning notes the others).
    pub multi_valued: bool,
}

impl FieldRule {
    /// A rule filling `target` from the first of `sources` that has a value.
    #[must_use]
    pub fn new<I, S>(target: impl Into<String>, sources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            target: target.into(),
            sources: sources.into_iter().map(Into::into).collect(),
            required: false,
            format: ValueFormat::Any,
            multi_valued: false,
        }
    }

    /// Makes the target required: absent, it fails the login.
    #[must_use]
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Takes only values that look like an email address.
    #[must_use]
    pub const fn email(mut self) -> Self {
        self.format = ValueFormat::Email;
        self
    }

    /// Sets the accepted value format.
    #[must_use]
    pub const fn with_format(mut self, format: ValueFormat) -> Self {
        self.format = format;
        self
    }

    /// Keeps all values of the winning source as a list.
    #[must_use]
    pub const fn multi_valued(mut self) -> Self {
        self.multi_valued = true;
        self
    }
}

/// Where the user's roles (or groups) come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoleRule {
    /// Claim names holding roles, in order of preference.
    pub sources: Vec<String>,
    /// Split each value on this string (for IdPs that send `"a,b,c"` as one
    /// value). `None`: every value is one role. Not set by default, because
    /// splitting on `,` would cut LDAP DNs (`CN=Admins,OU=Groups,…`) apart;
    /// a warning says when a value looks like an unsplit list.
    pub separator: Option<String>,
    /// Dotted path where the roles also appear in the profile fields.
    pub target: String,
    /// Take the union of every source instead of only the first source that
    /// has values (e.g. Entra ID app roles plus groups).
    pub merge: bool,
}

impl RoleRule {
    /// Roles from the first of `sources` that has values, target `roles`.
    #[must_use]
    pub fn new<I, S>(sources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            sources: sources.into_iter().map(Into::into).collect(),
            separator: None,
            target: targets::ROLES.to_owned(),
            merge: false,
        }
    }

    /// Splits each value on `separator` (trimming and dropping empty parts).
    #[must_use]
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = Some(separator.into());
        self
    }

    /// Puts the roles at another dotted path of the profile.
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }

    /// Takes roles from every source, not only the first that has values.
    #[must_use]
    pub const fn merge(mut self) -> Self {
        self.merge = true;
        self
    }
}

/// Named sets of defaults tuned for one kind of identity provider. Every
/// preset fills the same core [`targets`]; the ID always defaults to the
/// NameID except for Shibboleth, whose NameID is usually transient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// Microsoft Entra ID (Azure AD). The `…/claims/name` claim carries the
    /// user principal name here, so it fills `upn` and serves as an email
    /// fallback, never as the display name (that is `…/identity/claims/displayname`).
    /// Adds `object_id` (the immutable `objectidentifier`) and `tenant_id`.
    /// Roles merge app roles (`…/claims/role`) and groups (`…/claims/groups`);
    /// group overage (`groups.link`) is flagged on every preset.
    /// The ID stays the NameID (UPN by default), which is what admins
    /// pre-provision users by; map `id` to [`claims::MS_OBJECT_ID`] for an ID
    /// that survives renames.
    EntraId,
    /// Microsoft AD FS. Email from `emailaddress`, then the UPN claims (also
    /// AD FS 1.x `…/claims/EmailAddress` and `…/claims/UPN`); display name from
    /// `…/claims/CommonName`; username from `windowsaccountname`; roles merge
    /// the `…/claims/Group` and `…/claims/role` claims.
    Adfs,
    /// Okta. Okta's attribute statements use plain names that admins choose:
    /// `email`, `firstName`, `lastName`, `mobilePhone`, `login`, and a group
    /// attribute statement usually named `groups`; those come first, the
    /// claim URIs after. The NameID (Okta username) is the ID.
    Okta,
    /// Google Workspace. Google sends the primary email as NameID and no
    /// attributes unless the admin maps some (plain names such as
    /// `firstName`, `lastName`, and a group-membership attribute, usually
    /// `groups`), so the email comes from the NameID first.
    Google,
    /// Shibboleth IdP and other research-and-education IdPs. `urn:oid:` names
    /// come first. The NameID is often transient (new at each login), so the
    /// ID comes from `subject-id`, `pairwise-id`, `eduPersonUniqueId` or
    /// `eduPersonPrincipalName` before the NameID. Roles from `isMemberOf`,
    /// then `eduPersonAffiliation`; also fills `affiliation`
    /// (`eduPersonScopedAffiliation`) and `entitlements` (`eduPersonEntitlement`).
    Shibboleth,
    /// Anything else (Keycloak, PingFederate, OneLogin, SimpleSAMLphp, Auth0,
    /// JumpCloud…): the broad defaults of [`MappingRules::default`].
    #[default]
    Generic,
}

impl Preset {
    /// Every preset.
    pub const ALL: &'static [Self] = &[
        Self::EntraId,
        Self::Adfs,
        Self::Okta,
        Self::Google,
        Self::Shibboleth,
        Self::Generic,
    ];

    /// The stable configuration name: `entra_id`, `adfs`, `okta`, `google`,
    /// `shibboleth`, `generic`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EntraId => "entra_id",
            Self::Adfs => "adfs",
            Self::Okta => "okta",
            Self::Google => "google",
            Self::Shibboleth => "shibboleth",
            Self::Generic => "generic",
        }
    }

    /// The preset named `name` (case, `-` and `_` ignored; `azure_ad` is
    /// Entra ID, `google_workspace` is Google).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let key: String = name
            .chars()
            .filter(|ch| !matches!(ch, '-' | '_' | ' '))
            .map(|ch| ch.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "entraid" | "entra" | "azuread" | "azure" => Some(Self::EntraId),
            "adfs" => Some(Self::Adfs),
            "okta" => Some(Self::Okta),
            "google" | "googleworkspace" => Some(Self::Google),
            "shibboleth" | "shibbolethidp" => Some(Self::Shibboleth),
            "generic" => Some(Self::Generic),
            _ => None,
        }
    }
}

impl serde::Serialize for Preset {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Preset {
    /// Accepts every name [`Preset::from_name`] does.
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown preset `{name}`; expected one of entra_id, adfs, okta, google, shibboleth, generic"
            ))
        })
    }
}

/// The mapping configuration of one identity provider: plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappingRules {
    /// Field rules, applied in order. A rule with target `id` sets
    /// [`MappedUser::id`]; without one the ID is the NameID.
    pub fields: Vec<FieldRule>,
    /// Where roles come from (`None`: no roles).
    pub roles: Option<RoleRule>,
}

impl Default for MappingRules {
    /// The generic defaults ([`Preset::Generic`]).
    fn default() -> Self {
        Self::preset(Preset::Generic)
    }
}

/// Concatenates source lists, dropping repeats.
fn list(parts: &[&[&str]]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in parts.iter().flat_map(|p| p.iter()) {
        if !out.iter().any(|o| o == s) {
            out.push((*s).to_owned());
        }
    }
    out
}

// The generic source lists; presets reorder and trim them.
const G_EMAIL: &[&str] = &[
    c::EMAIL_ADDRESS,
    "mail",
    "email",
    c::OID_MAIL,
    c::OID_PKCS9_EMAIL,
    "User.email",
    c::ADFS_EMAIL,
    c::UPN,
    c::ADFS_UPN,
    "userPrincipalName",
    "eduPersonPrincipalName",
    c::OID_EPPN,
    NAME_ID,
    c::NAME,
    "username",
];
const G_GIVEN: &[&str] = &[
    c::GIVEN_NAME,
    "givenName",
    c::OID_GIVEN_NAME,
    "firstName",
    "first_name",
    "given_name",
    "User.FirstName",
];
const G_FAMILY: &[&str] = &[
    c::SURNAME,
    "sn",
    c::OID_SN,
    "surname",
    "lastName",
    "last_name",
    "family_name",
    "User.LastName",
];
const G_DISPLAY: &[&str] = &[
    c::MS_DISPLAY_NAME,
    c::NAME,
    "displayName",
    c::OID_DISPLAY_NAME,
    "cn",
    c::OID_CN,
    c::ADFS_COMMON_NAME,
];
const G_PHONE: &[&str] = &[
    c::MOBILE_PHONE,
    c::MOBILE_PHONE_HTTPS,
    "mobile",
    c::OID_MOBILE,
    "mobilePhone",
    "telephoneNumber",
    c::OID_TELEPHONE,
    "phone",
    "phoneNumber",
    "phone_number",
];
const G_UPN: &[&str] = &[c::UPN, c::ADFS_UPN, "userPrincipalName", "upn"];
const G_USERNAME: &[&str] = &[
    c::USERNAME,
    "username",
    "uid",
    c::OID_UID,
    c::MS_WINDOWS_ACCOUNT_NAME,
    "sAMAccountName",
    "preferred_username",
    NAME_ID,
];
const G_ROLES: &[&str] = &[
    c::MS_ROLE,
    c::MS_GROUPS,
    c::ADFS_GROUP,
    "groups",
    "group",
    "role",
    "roles",
    "memberOf",
    "isMemberOf",
    c::OID_IS_MEMBER_OF,
    "eduPersonAffiliation",
    c::OID_AFFILIATION,
];

/// The plain names admins type into Okta and Google attribute statements.
const PLAIN_EMAIL: &[&str] = &["email", "mail"];
const PLAIN_GIVEN: &[&str] = &["firstName", "first_name", "givenName", "given_name"];
const PLAIN_FAMILY: &[&str] = &["lastName", "last_name", "familyName", "family_name", "sn"];
const PLAIN_DISPLAY: &[&str] = &["displayName", "fullName", "full_name"];
const PLAIN_PHONE: &[&str] = &[
    "mobilePhone",
    "phone",
    "phoneNumber",
    "phone_number",
    "primaryPhone",
];
const PLAIN_ROLES: &[&str] = &["groups", "group", "roles", "role"];

impl MappingRules {
    /// No rules at all: the ID is the NameID and nothing else is mapped.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            fields: Vec::new(),
            roles: None,
        }
    }

    /// The defaults tuned for `preset` (see each [`Preset`] variant).
    #[must_use]
    pub fn preset(preset: Preset) -> Self {
        let id = |sources: &[&[&str]]| FieldRule::new(targets::ID, list(sources)).required();
        let f = |target: &str, sources: &[&[&str]]| FieldRule::new(target, list(sources));
        let email = |sources: &[&[&str]]| FieldRule::new(targets::EMAIL, list(sources)).email();
        match preset {
            Preset::Generic => Self {
                fields: vec![
                    id(&[&[NAME_ID]]),
                    email(&[G_EMAIL]),
                    f(targets::GIVEN_NAME, &[G_GIVEN]),
                    f(targets::FAMILY_NAME, &[G_FAMILY]),
                    f(targets::DISPLAY_NAME, &[G_DISPLAY]),
                    f(targets::PHONE, &[G_PHONE]),
                    f(targets::UPN, &[G_UPN]),
                    f(targets::USERNAME, &[G_USERNAME]),
                ],
                roles: Some(RoleRule::new(list(&[G_ROLES]))),
            },
            Preset::EntraId => Self {
                fields: vec![
                    id(&[&[NAME_ID]]),
                    email(&[&[c::EMAIL_ADDRESS, c::NAME, c::UPN, NAME_ID], PLAIN_EMAIL]),
                    f(targets::GIVEN_NAME, &[&[c::GIVEN_NAME], PLAIN_GIVEN]),
                    f(targets::FAMILY_NAME, &[&[c::SURNAME], PLAIN_FAMILY]),
                    f(
                        targets::DISPLAY_NAME,
                        &[&[c::MS_DISPLAY_NAME], PLAIN_DISPLAY],
                    ),
                    f(
                        targets::PHONE,
                        &[
                            &[c::MOBILE_PHONE, c::MOBILE_PHONE_HTTPS, "telephoneNumber"],
                            PLAIN_PHONE,
                        ],
                    ),
                    f(targets::UPN, &[&[c::NAME, c::UPN, "userPrincipalName"]]),
                    f(targets::USERNAME, &[&[c::NAME, c::UPN, NAME_ID]]),
                    f("object_id", &[&[c::MS_OBJECT_ID]]),
                    f("tenant_id", &[&[c::MS_TENANT_ID]]),
                ],
                roles: Some(
                    RoleRule::new(list(&[&[c::MS_ROLE, c::MS_GROUPS], PLAIN_ROLES])).merge(),
                ),
            },
            Preset::Adfs => Self {
                fields: vec![
                    id(&[&[NAME_ID]]),
                    email(&[
                        &[
                            c::EMAIL_ADDRESS,
                            c::ADFS_EMAIL,
                            c::UPN,
                            c::ADFS_UPN,
                            NAME_ID,
                        ],
                        PLAIN_EMAIL,
                    ]),
                    f(targets::GIVEN_NAME, &[&[c::GIVEN_NAME], PLAIN_GIVEN]),
                    f(targets::FAMILY_NAME, &[&[c::SURNAME], PLAIN_FAMILY]),
                    f(
                        targets::DISPLAY_NAME,
                        &[
                            &[c::ADFS_COMMON_NAME, c::MS_DISPLAY_NAME, c::NAME],
                            PLAIN_DISPLAY,
                        ],
                    ),
                    f(
                        targets::PHONE,
                        &[&[c::MOBILE_PHONE, c::MOBILE_PHONE_HTTPS], PLAIN_PHONE],
                    ),
                    f(targets::UPN, &[&[c::UPN, c::ADFS_UPN]]),
                    f(
                        targets::USERNAME,
                        &[&[
                            c::MS_WINDOWS_ACCOUNT_NAME,
                            "sAMAccountName",
                            c::UPN,
                            NAME_ID,
                        ]],
                    ),
                ],
                roles: Some(
                    RoleRule::new(list(&[&[c::ADFS_GROUP, c::MS_ROLE], PLAIN_ROLES])).merge(),
                ),
            },
            Preset::Okta => Self {
                fields: vec![
                    id(&[&[NAME_ID]]),
                    email(&[
                        PLAIN_EMAIL,
                        &[c::EMAIL_ADDRESS, "login", "username", NAME_ID],
                    ]),
                    f(targets::GIVEN_NAME, &[PLAIN_GIVEN, &[c::GIVEN_NAME]]),
                    f(targets::FAMILY_NAME, &[PLAIN_FAMILY, &[c::SURNAME]]),
                    f(targets::DISPLAY_NAME, &[PLAIN_DISPLAY, &[c::NAME]]),
                    f(targets::PHONE, &[PLAIN_PHONE, &[c::MOBILE_PHONE]]),
                    f(targets::UPN, &[&[c::UPN, "userPrincipalName"]]),
                    f(targets::USERNAME, &[&["login", "username", NAME_ID]]),
                ],
                roles: Some(RoleRule::new(list(&[
                    PLAIN_ROLES,
                    &[c::MS_ROLE, c::MS_GROUPS],
                ]))),
            },
            Preset::Google => Self {
                fields: vec![
                    id(&[&[NAME_ID]]),
                    email(&[&[NAME_ID], PLAIN_EMAIL, &[c::EMAIL_ADDRESS]]),
                    f(targets::GIVEN_NAME, &[PLAIN_GIVEN, &[c::GIVEN_NAME]]),
                    f(targets::FAMILY_NAME, &[PLAIN_FAMILY, &[c::SURNAME]]),
                    f(targets::DISPLAY_NAME, &[PLAIN_DISPLAY, &[c::NAME]]),
                    f(targets::PHONE, &[PLAIN_PHONE]),
                    f(targets::UPN, &[&["userPrincipalName", "upn"]]),
                    f(targets::USERNAME, &[&["username", NAME_ID]]),
                ],
                roles: Some(RoleRule::new(list(&[PLAIN_ROLES]))),
            },
            Preset::Shibboleth => Self {
                fields: vec![
                    id(&[&[
                        c::SUBJECT_ID,
                        c::PAIRWISE_ID,
                        c::OID_UNIQUE_ID,
                        c::OID_EPPN,
                        NAME_ID,
                    ]]),
                    email(&[&[
                        c::OID_MAIL,
                        "mail",
                        c::OID_EPPN,
                        "eduPersonPrincipalName",
                        NAME_ID,
                    ]]),
                    f(targets::GIVEN_NAME, &[&[c::OID_GIVEN_NAME, "givenName"]]),
                    f(targets::FAMILY_NAME, &[&[c::OID_SN, "sn"]]),
                    f(
                        targets::DISPLAY_NAME,
                        &[&[c::OID_DISPLAY_NAME, "displayName", c::OID_CN, "cn"]],
                    ),
                    f(
                        targets::PHONE,
                        &[&[c::OID_TELEPHONE, "telephoneNumber", c::OID_MOBILE, "mobile"]],
                    ),
                    f(targets::UPN, &[&[c::OID_EPPN, "eduPersonPrincipalName"]]),
                    f(
                        targets::USERNAME,
                        &[&[c::OID_UID, "uid", c::OID_EPPN, NAME_ID]],
                    ),
                    f(
                        "affiliation",
                        &[&[c::OID_SCOPED_AFFILIATION, "eduPersonScopedAffiliation"]],
                    )
                    .multi_valued(),
                    f(
                        "entitlements",
                        &[&[c::OID_ENTITLEMENT, "eduPersonEntitlement"]],
                    )
                    .multi_valued(),
                ],
                roles: Some(RoleRule::new(list(&[&[
                    c::OID_IS_MEMBER_OF,
                    "isMemberOf",
                    c::OID_AFFILIATION,
                    "eduPersonAffiliation",
                ]]))),
            },
        }
    }

    /// Adds `rule`, replacing any rule with the same target.
    #[must_use]
    pub fn field(mut self, rule: FieldRule) -> Self {
        if let Some(existing) = self.fields.iter_mut().find(|r| r.target == rule.target) {
            *existing = rule;
        } else {
            self.fields.push(rule);
        }
        self
    }

    /// Removes the rule for `target`.
    #[must_use]
    pub fn without_field(mut self, target: &str) -> Self {
        self.fields.retain(|r| r.target != target);
        self
    }

    /// Sets the roles rule.
    #[must_use]
    pub fn roles(mut self, rule: RoleRule) -> Self {
        self.roles = Some(rule);
        self
    }

    /// Maps no roles.
    #[must_use]
    pub fn without_roles(mut self) -> Self {
        self.roles = None;
        self
    }

    /// The rule for `target`, if any.
    #[must_use]
    pub fn field_rule(&self, target: &str) -> Option<&FieldRule> {
        self.fields.iter().find(|r| r.target == target)
    }

    /// Configuration mistakes, for checking rules when a provider is
    /// registered (empty): empty or malformed dotted targets, a target that
    /// is also the parent of another (`name` and `name.given`), duplicate
    /// targets, rules without sources, unknown `$` sources, an empty
    /// separator. [`MappingRules::map`] skips such rules with a warning.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut all_targets: Vec<(&str, &str)> = Vec::new();
        for rule in &self.fields {
            all_targets.push(("field", &rule.target));
            check_sources(&format!("field `{}`", rule.target), &rule.sources, &mut out);
        }
        if let Some(roles) = &self.roles {
            all_targets.push(("roles", &roles.target));
            check_sources("roles", &roles.sources, &mut out);
            if roles.separator.as_deref() == Some("") {
                out.push("roles: the separator is empty".to_owned());
            }
        }
        for (i, (kind, target)) in all_targets.iter().enumerate() {
            if !valid_path(target) {
                out.push(format!(
                    "{kind} target `{target}` is not a dotted path of non-empty names"
                ));
                continue;
            }
            for (_, other) in all_targets.iter().skip(i + 1) {
                if other == target {
                    out.push(format!("target `{target}` is mapped twice"));
                } else if is_parent(target, other) || is_parent(other, target) {
                    out.push(format!(
                        "targets `{target}` and `{other}` conflict: one would be an object holding the other"
                    ));
                }
            }
        }
        out
    }

    /// Maps a validated assertion to a user. Fails with
    /// [`ErrorCode::MissingAttribute`] when the ID or a required target has
    /// no value; the message lists the claim names that were tried and those
    /// the assertion carries.
    pub fn map(&self, assertion: &Assertion) -> Result<MappedUser> {
        let mut user = MappedUser::default();
        let fallback_id = FieldRule::new(targets::ID, [NAME_ID]).required();
        let id_rule = self.field_rule(targets::ID).unwrap_or(&fallback_id);
        let (source, values) = resolve(assertion, id_rule, &mut user.warnings)
            .ok_or_else(|| missing(id_rule, assertion))?;
        let Some(id) = values.first() else {
            return Err(missing(id_rule, assertion));
        };
        user.id = (*id).to_owned();
        if source == NAME_ID
            && assertion.name_id.format.as_deref() == Some(name_id_format::TRANSIENT)
        {
            user.warnings.push(
                "the ID is a transient NameID, new at each login: map `id` to a persistent \
                 attribute (subject-id, eduPersonPrincipalName, objectidentifier) or ask the IdP \
                 for a persistent NameID"
                    .to_owned(),
            );
        }
        user.put(targets::ID, Value::String(user.id.clone()));

        for rule in self.fields.iter().filter(|r| r.target != targets::ID) {
            let Some((source, values)) = resolve(assertion, rule, &mut user.warnings) else {
                if rule.required {
                    return Err(missing(rule, assertion));
                }
                continue;
            };
            let value = if rule.multi_valued {
                Value::List(dedup(values.iter().copied()))
            } else {
                let kept = dedup(values.iter().copied());
                if kept.len() > 1 {
                    user.warnings.push(format!(
                        "`{}`: `{}` carried {} values; kept the first",
                        rule.target,
                        short(source),
                        kept.len()
                    ));
                }
                match kept.into_iter().next() {
                    Some(v) => Value::String(v),
                    None => continue,
                }
            };
            user.put(&rule.target, value);
        }

        if let Some(rule) = &self.roles {
            user.roles = roles(assertion, rule, &mut user.warnings);
            user.put(&rule.target, Value::List(user.roles.clone()));
        }
        detect_overage(assertion, &mut user);
        Ok(user)
    }
}

fn check_sources(what: &str, sources: &[String], out: &mut Vec<String>) {
    if sources.is_empty() {
        out.push(format!("{what} has no sources"));
    }
    for s in sources {
        if s.trim().is_empty() {
            out.push(format!("{what} has an empty source"));
        } else if s.starts_with('$') && s != NAME_ID {
            out.push(format!(
                "{what}: unknown special source `{s}` (only `{NAME_ID}` exists)"
            ));
        }
    }
}

fn valid_path(path: &str) -> bool {
    path.split('.').all(|seg| !seg.trim().is_empty())
}

/// `parent` is a proper dotted prefix of `child`.
fn is_parent(parent: &str, child: &str) -> bool {
    child
        .strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// URI-like sources compare exactly; plain names case-insensitively.
fn is_uri(source: &str) -> bool {
    source.contains(':') || source.contains('/')
}

fn matches(attr: &Attribute, source: &str) -> bool {
    let friendly = attr.friendly_name.as_deref();
    if attr.name == source || friendly == Some(source) {
        return true;
    }
    !is_uri(source)
        && (attr.name.eq_ignore_ascii_case(source)
            || friendly.is_some_and(|f| f.eq_ignore_ascii_case(source)))
}

/// The non-empty trimmed values of `source`, or `None` if nothing matched it.
fn source_values<'a>(assertion: &'a Assertion, source: &str) -> Option<Vec<&'a str>> {
    if source == NAME_ID {
        let v = assertion.name_id.value.trim();
        return (!v.is_empty()).then(|| vec![v]);
    }
    if source.starts_with('$') {
        return None;
    }
    let mut found = false;
    let mut out = Vec::new();
    for attr in assertion.attributes.iter().filter(|a| matches(a, source)) {
        found = true;
        out.extend(
            attr.values
                .iter()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty()),
        );
    }
    found.then_some(out)
}

/// The first source of `rule` with usable values.
fn resolve<'r, 'a>(
    assertion: &'a Assertion,
    rule: &'r FieldRule,
    warnings: &mut Vec<String>,
) -> Option<(&'r str, Vec<&'a str>)> {
    for source in &rule.sources {
        let Some(values) = source_values(assertion, source) else {
            continue;
        };
        if values.is_empty() {
            continue;
        }
        let usable: Vec<&str> = match rule.format {
            ValueFormat::Any => values,
            ValueFormat::Email => values.into_iter().filter(|v| looks_like_email(v)).collect(),
        };
        if usable.is_empty() {
            // Expected for fallbacks such as an opaque NameID; noted only for
            // claims that promise an email.
            if source != NAME_ID && !is_email_fallback(source) {
                warnings.push(format!(
                    "`{}`: `{}` holds no email address; tried the next source",
                    rule.target,
                    short(source)
                ));
            }
            continue;
        }
        return Some((source, usable));
    }
    None
}

/// Sources that hold an email only sometimes, so a non-email value is no news.
fn is_email_fallback(source: &str) -> bool {
    [
        c::NAME,
        c::UPN,
        c::ADFS_UPN,
        c::OID_EPPN,
        "eduPersonPrincipalName",
        "username",
        "login",
        "userPrincipalName",
    ]
    .iter()
    .any(|s| s.eq_ignore_ascii_case(source))
}

/// `local@domain.tld` without spaces or angle brackets.
fn looks_like_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.contains('.')
        && !v
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control() || matches!(ch, '<' | '>' | ','))
        && !domain.contains(['@', '"', '(', ')', '[', ']', ';', ':', '\\'])
}

fn dedup<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .filter(|v| seen.insert(*v))
        .map(str::to_owned)
        .collect()
}

fn roles(assertion: &Assertion, rule: &RoleRule, warnings: &mut Vec<String>) -> Vec<String> {
    let separator = rule.separator.as_deref().filter(|s| !s.is_empty());
    let mut seen = HashSet::new();
    let mut out: Vec<String> = Vec::new();
    let mut unsplit: Option<&str> = None;
    for source in &rule.sources {
        let Some(values) = source_values(assertion, source) else {
            continue;
        };
        for value in values {
            match separator {
                Some(sep) => {
                    for part in value.split(sep).map(str::trim).filter(|p| !p.is_empty()) {
                        if seen.insert(part) {
                            out.push(part.to_owned());
                        }
                    }
                }
                None => {
                    if unsplit.is_none() && value.contains([',', ';']) && !value.contains('=') {
                        unsplit = Some(source);
                    }
                    if seen.insert(value) {
                        out.push(value.to_owned());
                    }
                }
            }
        }
        if !rule.merge && !out.is_empty() {
            break;
        }
    }
    if let Some(source) = unsplit {
        warnings.push(format!(
            "roles: a value of `{}` looks like a list in one string; set the roles separator \
             (e.g. \",\") if the IdP joins roles",
            short(source)
        ));
    }
    out
}

/// The first of `names` present in the assertion, with its values.
fn first_present<'a>(
    assertion: &'a Assertion,
    names: &[&'static str],
) -> Option<(&'static str, Vec<&'a str>)> {
    names
        .iter()
        .find_map(|n| source_values(assertion, n).map(|v| (*n, v)))
}

fn detect_overage(assertion: &Assertion, user: &mut MappedUser) {
    let any = |names: &[&'static str]| first_present(assertion, names);
    let link = any(OVERAGE_LINK);
    let flag = any(OVERAGE_FLAG).filter(|(_, v)| v.iter().any(|x| x.eq_ignore_ascii_case("true")));
    let jwt = any(OVERAGE_JWT);
    let Some((claim, _)) = link.as_ref().or(flag.as_ref()).or(jwt.as_ref()) else {
        return;
    };
    user.groups_overage = true;
    user.groups_link = link
        .as_ref()
        .and_then(|(_, v)| v.first())
        .map(|v| (*v).to_owned());
    user.warnings.push(format!(
        "Entra ID group overage (`{}`): the user is in more groups than fit in the token, so the \
         groups claim was left out and the roles may be incomplete; emit only the groups \
         assigned to the application, or read the memberships from Microsoft Graph",
        short(claim)
    ));
}

/// A URI shortened to its last path segment for messages.
fn short(source: &str) -> String {
    if (source.starts_with("http://") || source.starts_with("https://"))
        && let Some((_, last)) = source.trim_end_matches('/').rsplit_once('/')
    {
        return format!("…/{last}");
    }
    source.to_owned()
}

fn missing(rule: &FieldRule, assertion: &Assertion) -> Error {
    let tried: Vec<String> = rule.sources.iter().map(|s| short(s)).collect();
    let rejected: Vec<String> = rule
        .sources
        .iter()
        .filter(|s| source_values(assertion, s).is_some_and(|v| !v.is_empty()))
        .map(|s| short(s))
        .collect();
    let mut detail = format!(
        "required field `{}` has no value; tried {}",
        rule.target,
        if tried.is_empty() {
            "no sources".to_owned()
        } else {
            tried.join(", ")
        }
    );
    if !rejected.is_empty() {
        detail.push_str(&format!(
            "; present but not an email address: {}",
            rejected.join(", ")
        ));
    }
    let mut present: Vec<String> = Vec::new();
    for a in &assertion.attributes {
        let s = short(&a.name);
        if !present.contains(&s) {
            present.push(s);
        }
    }
    if present.is_empty() {
        detail.push_str("; the assertion has no attributes");
    } else {
        detail.push_str(&format!("; the assertion has {}", present.join(", ")));
    }
    Error::new(ErrorCode::MissingAttribute, detail)
}

/// A profile value: one string, a list, or a nested object (in JSON: a
/// string, an array of strings, or an object).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// One value.
    String(String),
    /// Several values (roles, multi-valued fields).
    List(Vec<String>),
    /// Nested fields (from dotted targets).
    Object(BTreeMap<String, Self>),
}

impl Value {
    /// The string, or the first item of a list.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            Self::List(l) => l.first().map(String::as_str),
            Self::Object(_) => None,
        }
    }

    /// Every string: one for a string, all items of a list, none for an object.
    #[must_use]
    pub fn values(&self) -> Vec<&str> {
        match self {
            Self::String(s) => vec![s.as_str()],
            Self::List(l) => l.iter().map(String::as_str).collect(),
            Self::Object(_) => Vec::new(),
        }
    }

    /// The nested fields of an object.
    #[must_use]
    pub const fn as_object(&self) -> Option<&BTreeMap<String, Self>> {
        match self {
            Self::Object(o) => Some(o),
            _ => None,
        }
    }
}

/// The application's view of the user, built by [`MappingRules::map`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappedUser {
    /// The user's identifier (the `id` target; by default the NameID).
    pub id: String,
    /// The mapped profile; dotted targets nest (`name.given` is
    /// `fields["name"]["given"]`). Holds `id` and the roles target too.
    pub fields: BTreeMap<String, Value>,
    /// Roles, trimmed and without repeats, in the order received.
    pub roles: Vec<String>,
    /// The IdP left the groups out (Entra ID group overage): `roles` may be
    /// incomplete; fetch memberships another way before denying access.
    pub groups_overage: bool,
    /// The `groups.link` URL sent with the overage claim, if any.
    pub groups_link: Option<String>,
    /// Notes for the admin view: dropped extra values, skipped sources,
    /// a transient ID, unsplit role lists, conflicting targets, overage.
    pub warnings: Vec<String>,
}

impl MappedUser {
    /// The string at dotted `path` (the first item if it is a list).
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&str> {
        self.get_value(path).and_then(Value::as_str)
    }

    /// Every string at dotted `path` (empty if absent or an object).
    #[must_use]
    pub fn get_all(&self, path: &str) -> Vec<&str> {
        self.get_value(path).map(Value::values).unwrap_or_default()
    }

    /// The value at dotted `path`.
    #[must_use]
    pub fn get_value(&self, path: &str) -> Option<&Value> {
        let mut segments = path.split('.');
        let mut current = self.fields.get(segments.next()?)?;
        for seg in segments {
            current = current.as_object()?.get(seg)?;
        }
        Some(current)
    }

    /// The `email` field.
    #[must_use]
    pub fn email(&self) -> Option<&str> {
        self.get(targets::EMAIL)
    }

    /// The `name.given` field.
    #[must_use]
    pub fn given_name(&self) -> Option<&str> {
        self.get(targets::GIVEN_NAME)
    }

    /// The `name.family` field.
    #[must_use]
    pub fn family_name(&self) -> Option<&str> {
        self.get(targets::FAMILY_NAME)
    }

    /// The `display_name` field.
    #[must_use]
    pub fn display_name(&self) -> Option<&str> {
        self.get(targets::DISPLAY_NAME)
    }

    /// Whether `role` is among the roles (exact comparison).
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Stores `value` at dotted `path`, or notes why it cannot.
    fn put(&mut self, path: &str, value: Value) {
        if let Err(why) = insert(&mut self.fields, path, value) {
            self.warnings.push(why);
        }
    }
}

fn insert(
    root: &mut BTreeMap<String, Value>,
    path: &str,
    value: Value,
) -> std::result::Result<(), String> {
    if !valid_path(path) {
        return Err(format!("target `{path}` is not a dotted path; skipped"));
    }
    let mut segments: Vec<&str> = path.split('.').map(str::trim).collect();
    let Some(last) = segments.pop() else {
        return Err(format!("target `{path}` is empty; skipped"));
    };
    let mut map = root;
    for seg in segments {
        let entry = map
            .entry(seg.to_owned())
            .or_insert_with(|| Value::Object(BTreeMap::new()));
        match entry {
            Value::Object(inner) => map = inner,
            _ => {
                return Err(format!(
                    "target `{path}` conflicts with the value already at `{seg}`; skipped"
                ));
            }
        }
    }
    if map.contains_key(last) {
        return Err(format!("target `{path}` is already filled; skipped"));
    }
    map.insert(last.to_owned(), value);
    Ok(())
}

/// Most field entries one [`AttributeMapping`] may hold.
pub const MAX_MAPPING_FIELDS: usize = 64;
/// Most claim names one target of an [`AttributeMapping`] may list.
pub const MAX_MAPPING_SOURCES: usize = 16;
/// Longest target path or claim name in an [`AttributeMapping`], in characters.
pub const MAX_MAPPING_NAME: usize = 512;

/// A provider's attribute mapping as an administrator edits it: plain,
/// serde-friendly data kept in [`ProviderSettings::attribute_mapping`](crate::store::ProviderSettings::attribute_mapping)
/// and applied on top of a base set of rules (the provider's
/// [`Preset`], or rules the application set in code) by
/// [`AttributeMapping::apply`].
///
/// In JSON:
///
/// ```json
/// {
///   "fields": { "email": ["mail", "$name_id"], "profile.department": ["department"] },
///   "required": ["email"],
///   "roles": ["groups"],
///   "role_separator": ";"
/// }
/// ```
///
/// - `fields`: target (a dotted path such as `email`, `name.given`,
///   `profile.department`) to the claim names tried in order
///   ([`NAME_ID`], `$name_id`, is the NameID). An entry replaces the base
///   rule of that target (keeping its value format, so `email` still takes
///   only email addresses); an empty list removes the target's rule (except
///   `id`, which always falls back to the NameID). `roles` is not a field
///   target: roles come only from the `roles` claims below.
/// - `required`: targets whose absence fails the login (`missing_attribute`).
/// - `roles`: the claims roles come from, replacing the base roles rule
///   (empty: keep it).
/// - `role_separator`: split each role value on this string.
///
/// ```
/// use saml_core::mapping::{AttributeMapping, MappingRules, Preset};
///
/// let mut mapping = AttributeMapping::default();
/// mapping.fields.insert("email".into(), vec!["mail".into()]);
/// mapping.required.push("email".into());
/// assert!(mapping.problems().is_empty());
/// let rules = mapping.apply(MappingRules::preset(Preset::Generic));
/// let email = rules.field_rule("email").map(|r| (r.sources.clone(), r.required));
/// assert_eq!(email, Some((vec!["mail".to_owned()], true)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AttributeMapping {
    /// Target path to the claim names tried in order.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Vec<String>>,
    /// Targets that must have a value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// Claims holding roles (empty: the base rules' roles).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Split each role value on this string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_separator: Option<String>,
}

impl AttributeMapping {
    /// Whether the mapping changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.required.is_empty()
            && self.roles.is_empty()
            && self.role_separator.is_none()
    }

    /// `base` with this mapping applied (see the type's docs).
    #[must_use]
    pub fn apply(&self, base: MappingRules) -> MappingRules {
        let mut rules = base;
        for (target, sources) in &self.fields {
            let target = target.trim();
            if sources.is_empty() {
                if target != targets::ID {
                    rules = rules.without_field(target);
                }
                continue;
            }
            let sources: Vec<String> = sources.iter().map(|s| s.trim().to_owned()).collect();
            let rule = match rules.field_rule(target) {
                Some(existing) => {
                    let mut rule = existing.clone();
                    rule.sources = sources;
                    rule
                }
                None if target == targets::EMAIL => FieldRule::new(target, sources).email(),
                None => FieldRule::new(target, sources),
            };
            rules = rules.field(rule);
        }
        for target in &self.required {
            let target = target.trim();
            if let Some(rule) = rules.fields.iter_mut().find(|r| r.target == target) {
                rule.required = true;
            }
        }
        if !self.roles.is_empty() {
            let mut role = match &rules.roles {
                Some(existing) => {
                    let mut r = existing.clone();
                    r.sources = self.roles.iter().map(|s| s.trim().to_owned()).collect();
                    r.merge = false;
                    r
                }
                None => RoleRule::new(self.roles.iter().map(|s| s.trim().to_owned())),
            };
            if let Some(sep) = &self.role_separator {
                role.separator = Some(sep.clone());
            }
            rules = rules.roles(role);
        } else if let (Some(sep), Some(existing)) = (&self.role_separator, &mut rules.roles) {
            existing.separator = Some(sep.clone());
        }
        rules
    }

    /// What an administrator must fix, as (field, message) pairs: the field
    /// is `fields.<target>`, `required`, `roles` or `role_separator`. Empty
    /// when the mapping is usable. Checks sizes, that targets are dotted
    /// paths of names, that sources are not blank and that `$` sources are
    /// [`NAME_ID`], that every required target is mapped here or is one
    /// of the core [`targets`] every preset fills, and that targets do not conflict (`name` and `name.given`).
    #[must_use]
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let name_ok = |s: &str| {
            !s.trim().is_empty()
                && s.chars().count() <= MAX_MAPPING_NAME
                && !s.chars().any(char::is_control)
        };
        if self.fields.len() > MAX_MAPPING_FIELDS {
            out.push((
                "fields".to_owned(),
                format!("at most {MAX_MAPPING_FIELDS} targets"),
            ));
        }
        for (target, sources) in &self.fields {
            let field = format!("fields.{target}");
            if !name_ok(target) || !valid_path(target.trim()) {
                out.push((
                    field.clone(),
                    "the target must be a dotted path of names, e.g. `email` or `name.given`"
                        .to_owned(),
                ));
            }
            if sources.len() > MAX_MAPPING_SOURCES {
                out.push((
                    field.clone(),
                    format!("at most {MAX_MAPPING_SOURCES} claim names"),
                ));
            }
            for s in sources {
                if !name_ok(s) {
                    out.push((
                        field.clone(),
                        "claim names must not be empty or contain control characters".to_owned(),
                    ));
                } else if s.trim().starts_with('$') && s.trim() != NAME_ID {
                    out.push((
                        field.clone(),
                        format!(
                            "unknown special source `{}` (only `{NAME_ID}` exists)",
                            s.trim()
                        ),
                    ));
                }
            }
        }
        for target in self.fields.keys() {
            let t = target.trim();
            // Roles come only from the roles rule (`roles` below): a field
            // there would shadow it with whatever claim the field names.
            if t == targets::ROLES || is_parent(targets::ROLES, t) {
                out.push((
                    format!("fields.{target}"),
                    "`roles` is not a field target: list the role claims under `roles`".to_owned(),
                ));
            }
        }
        let targets: Vec<&str> = self.fields.keys().map(|t| t.trim()).collect();
        for (i, a) in targets.iter().enumerate() {
            for b in targets.iter().skip(i + 1) {
                if a == b || is_parent(a, b) || is_parent(b, a) {
                    out.push((
                        format!("fields.{b}"),
                        format!("targets `{a}` and `{b}` conflict"),
                    ));
                }
            }
        }
        let core = [
            targets::ID,
            targets::EMAIL,
            targets::GIVEN_NAME,
            targets::FAMILY_NAME,
            targets::DISPLAY_NAME,
            targets::PHONE,
            targets::UPN,
            targets::USERNAME,
        ];
        for target in &self.required {
            let t = target.trim();
            let mapped = self.fields.get(t).is_some_and(|s| !s.is_empty())
                || (core.contains(&t) && !self.fields.get(t).is_some_and(Vec::is_empty));
            if !mapped {
                out.push((
                    "required".to_owned(),
                    format!("`{t}` is required but not mapped; add it to fields"),
                ));
            }
        }
        if self.roles.len() > MAX_MAPPING_SOURCES {
            out.push((
                "roles".to_owned(),
                format!("at most {MAX_MAPPING_SOURCES} claim names"),
            ));
        }
        if self.roles.iter().any(|s| !name_ok(s)) {
            out.push((
                "roles".to_owned(),
                "claim names must not be empty or contain control characters".to_owned(),
            ));
        }
        if let Some(sep) = &self.role_separator
            && (sep.is_empty() || sep.chars().count() > 8)
        {
            out.push((
                "role_separator".to_owned(),
                "use 1 to 8 characters, e.g. `;` or `,`".to_owned(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, friendly: Option<&str>, values: &[&str]) -> Attribute {
        Attribute {
            name: name.to_owned(),
            name_format: None,
            friendly_name: friendly.map(str::to_owned),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn matching_rules() {
        let a = attr(c::OID_MAIL, Some("mail"), &["x"]);
        assert!(matches(&a, c::OID_MAIL));
        assert!(matches(&a, "mail"));
        assert!(matches(&a, "Mail"));
        assert!(!matches(&a, "URN:OID:0.9.2342.19200300.100.1.3"));
        let b = attr(c::EMAIL_ADDRESS, None, &["x"]);
        assert!(!matches(&b, &c::EMAIL_ADDRESS.to_uppercase()));
        let okta = attr("FirstName", None, &["Jane"]);
        assert!(matches(&okta, "firstName"));
    }

    #[test]
    fn email_shape() {
        for ok in [
            "a@b.co",
            "jane.doe+x@example.com",
            "u_d.com#EXT#@t.onmicrosoft.com",
        ] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in [
            "",
            "alice",
            "@b.co",
            "a@",
            "a@localhost",
            "a@.com",
            "a@b.",
            "Kyle <k@b.co>",
            "a b@c.de",
            "a@b.co,c@d.co",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn paths() {
        let mut root = BTreeMap::new();
        insert(&mut root, "name.given", Value::String("A".into())).unwrap();
        insert(&mut root, "name.family", Value::String("B".into())).unwrap();
        assert!(insert(&mut root, "name", Value::String("C".into())).is_err());
        assert!(insert(&mut root, "name.given.x", Value::String("C".into())).is_err());
        assert!(insert(&mut root, "a..b", Value::String("C".into())).is_err());
        assert!(insert(&mut root, "", Value::String("C".into())).is_err());
        assert_eq!(root.len(), 1);
        assert!(is_parent("name", "name.given"));
        assert!(!is_parent("name", "names.given"));
        assert!(!is_parent("name", "name"));
    }

    #[test]
    fn shortening() {
        assert_eq!(short(c::EMAIL_ADDRESS), "…/emailaddress");
        assert_eq!(short(c::OID_MAIL), c::OID_MAIL);
        assert_eq!(short("mail"), "mail");
    }

    #[test]
    fn presets_are_consistent() {
        for preset in Preset::ALL {
            let rules = MappingRules::preset(*preset);
            assert_eq!(rules.problems(), Vec::<String>::new(), "{preset:?}");
            assert_eq!(Preset::from_name(preset.as_str()), Some(*preset));
            for target in [
                targets::ID,
                targets::EMAIL,
                targets::GIVEN_NAME,
                targets::FAMILY_NAME,
                targets::DISPLAY_NAME,
                targets::PHONE,
                targets::UPN,
                targets::USERNAME,
            ] {
                assert!(rules.field_rule(target).is_some(), "{preset:?} {target}");
            }
            assert!(rules.field_rule(targets::ID).is_some_and(|r| r.required));
            assert!(rules.roles.is_some());
        }
        assert_eq!(Preset::from_name("Azure-AD"), Some(Preset::EntraId));
        assert_eq!(Preset::from_name("nope"), None);
    }

    #[test]
    fn problems_are_found() {
        let rules = MappingRules::new()
            .field(FieldRule::new("name", ["cn"]))
            .field(FieldRule::new("name.given", ["givenName"]))
            .field(FieldRule::new("a..b", ["x"]))
            .field(FieldRule::new("empty", Vec::<String>::new()))
            .field(FieldRule::new("odd", ["$issuer"]))
            .roles(RoleRule::new(["groups"]).separator("").target("name"));
        let p = rules.problems();
        assert!(p.iter().any(|m| m.contains("conflict")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("not a dotted path")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("no sources")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("$issuer")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("separator is empty")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("mapped twice")), "{p:?}");
    }

    #[test]
    fn attribute_mapping_applies_over_the_base() {
        let json = r#"{"fields":{"email":["mail"],"profile.team":["team"],"phone":[]},"required":["email"],"roles":["memberOf"],"role_separator":";"}"#;
        let m: AttributeMapping = serde_json::from_str(json).unwrap_or_default();
        assert!(!m.is_empty());
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        let rules = m.apply(MappingRules::preset(Preset::Generic));
        let email = rules.field_rule(targets::EMAIL);
        assert_eq!(
            email.map(|r| r.sources.clone()),
            Some(vec!["mail".to_owned()])
        );
        assert_eq!(
            email.map(|r| (r.required, r.format)),
            Some((true, ValueFormat::Email))
        );
        assert!(rules.field_rule("profile.team").is_some());
        assert!(rules.field_rule(targets::PHONE).is_none());
        let roles = rules.roles.clone().unwrap_or_else(|| RoleRule::new(["x"]));
        assert_eq!(roles.sources, ["memberOf"]);
        assert_eq!(roles.separator.as_deref(), Some(";"));
        assert!(rules.problems().is_empty(), "{:?}", rules.problems());
        // Round trip, and unknown keys refused.
        let back = serde_json::to_string(&m).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<AttributeMapping>(&back).ok(),
            Some(m)
        );
        assert!(serde_json::from_str::<AttributeMapping>(r#"{"field":{}}"#).is_err());
    }

    #[test]
    fn attribute_mapping_problems_name_fields() {
        let mut m = AttributeMapping::default();
        m.fields.insert("name".into(), vec!["cn".into()]);
        m.fields.insert("name.given".into(), vec!["$issuer".into()]);
        m.fields.insert("a..b".into(), vec![" ".into()]);
        m.required.push("profile.unmapped".into());
        m.role_separator = Some(String::new());
        let fields: Vec<String> = m.problems().into_iter().map(|(f, _)| f).collect();
        for want in [
            "fields.name.given",
            "fields.a..b",
            "required",
            "role_separator",
        ] {
            assert!(fields.iter().any(|f| f == want), "{want}: {fields:?}");
        }
    }

    #[test]
    fn attribute_mapping_cannot_shadow_the_roles() {
        for target in ["roles", " roles ", "roles.admin"] {
            let mut m = AttributeMapping::default();
            m.fields.insert(target.into(), vec!["department".into()]);
            let fields: Vec<String> = m.problems().into_iter().map(|(f, _)| f).collect();
            assert_eq!(fields, [format!("fields.{target}")], "{target}");
        }
        let mut m = AttributeMapping::default();
        m.fields.insert("rolesx".into(), vec!["department".into()]);
        m.roles.push("groups".into());
        assert!(m.problems().is_empty());
    }
}
