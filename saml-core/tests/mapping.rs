//! Attribute mapping over assertions that went through real validation:
//! each test signs a small response with the bench fixtures' IdP key,
//! validates it with a `ResponseValidator`, and maps the resulting
//! `Assertion`. Covers fallback order, dotted nesting, roles (multi-valued,
//! split on a separator, trimmed, deduplicated, merged), FriendlyName and
//! case-insensitive plain-name matching, required targets, Entra ID group
//! overage and every preset.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use saml_core::ErrorCode;
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, SigningKey};
use saml_core::dsig::{SignOptions, sign_enveloped};
use saml_core::mapping::{
    FieldRule, MappedUser, MappingRules, NAME_ID, Preset, RoleRule, Value, claims, targets,
};
use saml_core::protocol::{Assertion, Expectation, ResponseValidator, name_id_format};

const IDP: &str = "https://idp.example.test/saml2/metadata";
const SP: &str = "https://sp.example.test/saml/metadata";
const ACS: &str = "https://sp.example.test/saml/acs";
const REQUEST: &str = "_req1";

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("SAML_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    std::fs::read_to_string(dir.join("bench-fixtures").join(name)).unwrap()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One attribute: Name, optional FriendlyName, values.
type Attr<'a> = (&'a str, Option<&'a str>, &'a [&'a str]);

/// Signs and validates an assertion with this subject and these attributes.
fn assertion(name_id: &str, format: &str, attrs: &[Attr<'_>]) -> Assertion {
    let attributes: String = attrs
        .iter()
        .map(|(name, friendly, values)| {
            let friendly =
                friendly.map_or_else(String::new, |f| format!(r#" FriendlyName="{}""#, escape(f)));
            let values: String = values
                .iter()
                .map(|v| format!("<saml:AttributeValue>{}</saml:AttributeValue>", escape(v)))
                .collect();
            format!(
                r#"<saml:Attribute Name="{}"{friendly}>{values}</saml:Attribute>"#,
                escape(name)
            )
        })
        .collect();
    let statement = if attrs.is_empty() {
        String::new()
    } else {
        format!("<saml:AttributeStatement>{attributes}</saml:AttributeStatement>")
    };
    let xml = format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2024-06-01T12:00:40Z">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<saml:Subject><saml:NameID Format="{format}">{name_id}</saml:NameID>"#,
            r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{req}" NotOnOrAfter="2024-06-01T12:05:00Z" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject>"#,
            r#"<saml:Conditions NotBefore="2024-06-01T11:59:00Z" NotOnOrAfter="2024-06-01T12:05:00Z"><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="2024-06-01T12:00:30Z" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
            "{statement}</saml:Assertion>"
        ),
        idp = IDP,
        format = format,
        name_id = escape(name_id),
        req = REQUEST,
        acs = ACS,
        sp = SP,
        statement = statement,
    );
    let cert = Certificate::from_pem(&fixture("idp-cert.pem"))
        .unwrap()
        .remove(0);
    let key = SigningKey::from_pem(&fixture("idp-key.pem"))
        .unwrap()
        .with_certificate(cert.clone())
        .unwrap();
    let signed = sign_enveloped(&xml, "_a1", &key, &SignOptions::default()).unwrap();
    let response = format!(
        concat!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="2024-06-01T12:00:40Z" Destination="{acs}" InResponseTo="{req}">"#,
            r#"<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{idp}</saml:Issuer>"#,
            r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#,
            "{assertion}</samlp:Response>"
        ),
        acs = ACS,
        req = REQUEST,
        idp = IDP,
        assertion = signed,
    );
    let validator = ResponseValidator::new(IDP, vec![cert.public_key().clone()], SP, ACS);
    let expect = Expectation {
        in_response_to: Some(REQUEST),
        force_authn_since: None,
    };
    let clock = FixedClock(parse_datetime("2024-06-01T12:01:00Z").unwrap());
    validator.validate_xml(&response, &expect, &clock).unwrap()
}

fn email_subject(attrs: &[Attr<'_>]) -> Assertion {
    assertion("alice@example.test", name_id_format::EMAIL, attrs)
}

fn opaque_subject(attrs: &[Attr<'_>]) -> Assertion {
    assertion("u-7f3a9", name_id_format::PERSISTENT, attrs)
}

fn map(rules: &MappingRules, a: &Assertion) -> MappedUser {
    rules.map(a).unwrap()
}

#[test]
fn default_id_is_the_name_id() {
    let user = map(&MappingRules::default(), &opaque_subject(&[]));
    assert_eq!(user.id, "u-7f3a9");
    assert_eq!(user.get(targets::ID), Some("u-7f3a9"));
    assert_eq!(user.email(), None);
    assert!(user.roles.is_empty());
    assert!(!user.groups_overage);
    assert!(user.warnings.is_empty(), "{:?}", user.warnings);
    // Without any rules at all the ID still comes from the NameID.
    let bare = map(&MappingRules::new(), &opaque_subject(&[]));
    assert_eq!(bare.id, "u-7f3a9");
    assert_eq!(bare.fields.len(), 1);
}

#[test]
fn email_fallbacks_are_tried_in_order() {
    let rules = MappingRules::default();
    // The claim URI comes before `mail`.
    let a = opaque_subject(&[
        ("mail", None, &["second@example.test"]),
        (claims::EMAIL_ADDRESS, None, &["first@example.test"]),
    ]);
    assert_eq!(map(&rules, &a).email(), Some("first@example.test"));
    // Only `mail`.
    let a = opaque_subject(&[("mail", None, &["second@example.test"])]);
    assert_eq!(map(&rules, &a).email(), Some("second@example.test"));
    // An attribute without a (non-empty) value falls through.
    let a = opaque_subject(&[
        (claims::EMAIL_ADDRESS, None, &["  "]),
        ("email", None, &["third@example.test"]),
    ]);
    assert_eq!(map(&rules, &a).email(), Some("third@example.test"));
    // Nothing but an email-shaped NameID.
    assert_eq!(
        map(&rules, &email_subject(&[])).email(),
        Some("alice@example.test")
    );
    // The UPN comes before the NameID.
    let a = email_subject(&[(claims::UPN, None, &["a.upn@corp.example"])]);
    assert_eq!(map(&rules, &a).email(), Some("a.upn@corp.example"));
    // Entra ID's `name` claim (the UPN) after an opaque NameID.
    let a = opaque_subject(&[(claims::NAME, None, &["User1@tenant.onmicrosoft.com"])]);
    assert_eq!(
        map(&rules, &a).email(),
        Some("User1@tenant.onmicrosoft.com")
    );
}

#[test]
fn email_rules_skip_values_that_are_not_addresses() {
    let a = email_subject(&[
        ("mail", None, &["n/a"]),
        (claims::NAME, None, &["Alice Example"]),
    ]);
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.email(), Some("alice@example.test"));
    assert!(
        user.warnings
            .iter()
            .any(|w| w.contains("`mail` holds no email address")),
        "{:?}",
        user.warnings
    );
    // Auth0's `name` is a display name: never taken as email, and no
    // warning for a claim that holds an email only sometimes.
    let a = opaque_subject(&[(claims::NAME, None, &["Alice Example"])]);
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.email(), None);
    assert_eq!(user.display_name(), Some("Alice Example"));
    assert!(user.warnings.is_empty(), "{:?}", user.warnings);
}

#[test]
fn dotted_targets_nest() {
    let rules = MappingRules::default()
        .field(FieldRule::new("profile.org.department", ["department"]))
        .field(FieldRule::new("profile.org.cost_center", ["costCenter"]))
        .field(FieldRule::new("profile.locale", ["locale"]));
    let a = email_subject(&[
        (claims::GIVEN_NAME, None, &["Alice"]),
        (claims::SURNAME, None, &["Example"]),
        ("department", None, &["R&D"]),
        ("costCenter", None, &["42"]),
        ("locale", None, &["fr-CH"]),
    ]);
    let user = map(&rules, &a);
    assert_eq!(user.given_name(), Some("Alice"));
    assert_eq!(user.family_name(), Some("Example"));
    assert_eq!(user.get("name.given"), Some("Alice"));
    let name = user.fields["name"].as_object().unwrap();
    assert_eq!(name["family"], Value::String("Example".into()));
    assert_eq!(user.get("profile.org.department"), Some("R&D"));
    assert_eq!(user.get("profile.org.cost_center"), Some("42"));
    assert_eq!(user.get("profile.locale"), Some("fr-CH"));
    assert_eq!(user.get("profile.org"), None);
    assert_eq!(
        user.get_value("profile.org")
            .and_then(Value::as_object)
            .map(|o| o.len()),
        Some(2)
    );
    assert_eq!(user.get("profile.missing"), None);
    assert_eq!(user.get("name.given.deeper"), None);
}

#[test]
fn conflicting_targets_warn_instead_of_failing() {
    let rules = MappingRules::default().field(FieldRule::new("name", ["cn"]));
    assert!(!rules.problems().is_empty());
    let a = email_subject(&[
        (claims::GIVEN_NAME, None, &["Alice"]),
        ("cn", None, &["Alice Example"]),
    ]);
    let user = map(&rules, &a);
    assert_eq!(user.given_name(), Some("Alice"));
    assert!(
        user.warnings.iter().any(|w| w.contains("`name`")),
        "{:?}",
        user.warnings
    );
}

#[test]
fn roles_multi_valued_split_trimmed_deduplicated() {
    let rules = MappingRules::default();
    let a = email_subject(&[("groups", None, &["admins", " users ", "admins"])]);
    let user = map(&rules, &a);
    assert_eq!(user.roles, ["admins", "users"]);
    assert_eq!(user.get_all(targets::ROLES), ["admins", "users"]);
    assert!(user.has_role("admins"));
    assert!(!user.has_role("Admins"));

    // One string, split on a separator (PingFederate sends "red,green,blue").
    let rules = MappingRules::default().roles(RoleRule::new(["group"]).separator(","));
    let a = email_subject(&[("group", None, &["red, green ,,blue,red", "green,yellow"])]);
    assert_eq!(map(&rules, &a).roles, ["red", "green", "blue", "yellow"]);

    let rules = MappingRules::default().roles(RoleRule::new(["memberOf"]).separator(";"));
    let a = email_subject(&[("memberOf", None, &["CN=A,OU=G;CN=B,OU=G ; "])]);
    assert_eq!(map(&rules, &a).roles, ["CN=A,OU=G", "CN=B,OU=G"]);
}

#[test]
fn unsplit_role_lists_are_flagged_but_dns_are_not() {
    let a = email_subject(&[("group", None, &["red,green,blue"])]);
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.roles, ["red,green,blue"]);
    assert!(
        user.warnings.iter().any(|w| w.contains("separator")),
        "{:?}",
        user.warnings
    );
    let a = email_subject(&[("memberOf", None, &["CN=Admins,OU=Groups,DC=corp"])]);
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.roles, ["CN=Admins,OU=Groups,DC=corp"]);
    assert!(user.warnings.is_empty(), "{:?}", user.warnings);
}

#[test]
fn roles_take_the_first_source_unless_merged() {
    let a = email_subject(&[
        (claims::MS_ROLE, None, &["Reader"]),
        (claims::MS_GROUPS, None, &["0b1c…", "Reader"]),
        ("memberOf", None, &[""]),
    ]);
    assert_eq!(map(&MappingRules::default(), &a).roles, ["Reader"]);
    let merged =
        MappingRules::default().roles(RoleRule::new([claims::MS_ROLE, claims::MS_GROUPS]).merge());
    assert_eq!(map(&merged, &a).roles, ["Reader", "0b1c…"]);
    // An empty value (OneLogin's memberOf) gives no role and no fallback stop.
    let a = email_subject(&[
        ("memberOf", None, &[""]),
        ("eduPersonAffiliation", None, &["staff"]),
    ]);
    assert_eq!(map(&MappingRules::default(), &a).roles, ["staff"]);
    // Roles at another target.
    let rules = MappingRules::default().roles(RoleRule::new(["groups"]).target("profile.groups"));
    let a = email_subject(&[("groups", None, &["g1"])]);
    let user = map(&rules, &a);
    assert_eq!(user.get_all("profile.groups"), ["g1"]);
    assert_eq!(user.get(targets::ROLES), None);
    // No roles rule: no roles.
    let user = map(&MappingRules::default().without_roles(), &a);
    assert!(user.roles.is_empty());
}

#[test]
fn friendly_names_and_plain_names_match() {
    let a = opaque_subject(&[
        (claims::OID_MAIL, Some("mail"), &["alice@example.test"]),
        (claims::OID_GIVEN_NAME, Some("givenName"), &["Alice"]),
        ("urn:example:dept", Some("Department"), &["Ops"]),
        ("FirstName", None, &["Okta-style"]),
    ]);
    let rules = MappingRules::new()
        .field(FieldRule::new("by_friendly", ["mail"]))
        .field(FieldRule::new("by_friendly_case", ["MAIL"]))
        .field(FieldRule::new("dept", ["department"]))
        .field(FieldRule::new("first", ["firstName"]))
        .field(FieldRule::new("uri_exact", [claims::OID_GIVEN_NAME]))
        .field(FieldRule::new("uri_case", ["URN:OID:2.5.4.42"]));
    let user = map(&rules, &a);
    assert_eq!(user.get("by_friendly"), Some("alice@example.test"));
    assert_eq!(user.get("by_friendly_case"), Some("alice@example.test"));
    assert_eq!(user.get("dept"), Some("Ops"));
    assert_eq!(user.get("first"), Some("Okta-style"));
    assert_eq!(user.get("uri_exact"), Some("Alice"));
    // URIs compare exactly.
    assert_eq!(user.get("uri_case"), None);
}

#[test]
fn okta_tester_capitalised_names_map_with_defaults() {
    let a = assertion(
        "jane.doe@example.com",
        name_id_format::UNSPECIFIED,
        &[
            ("Email", None, &["jane.doe@example.com"]),
            ("FirstName", None, &["Jane"]),
            ("LastName", None, &["Doe"]),
        ],
    );
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.email(), Some("jane.doe@example.com"));
    assert_eq!(user.given_name(), Some("Jane"));
    assert_eq!(user.family_name(), Some("Doe"));
}

#[test]
fn multi_valued_fields() {
    let a = email_subject(&[("mail", None, &["a@example.test", "b@example.test"])]);
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.email(), Some("a@example.test"));
    assert!(
        user.warnings.iter().any(|w| w.contains("kept the first")),
        "{:?}",
        user.warnings
    );
    let rules =
        MappingRules::default().field(FieldRule::new("emails", ["mail"]).email().multi_valued());
    let user = map(&rules, &a);
    assert_eq!(
        user.get_value("emails"),
        Some(&Value::List(vec![
            "a@example.test".into(),
            "b@example.test".into()
        ]))
    );
    assert_eq!(user.get_all("emails").len(), 2);
}

#[test]
fn missing_required_target_names_what_was_tried() {
    let rules = MappingRules::default().field(
        FieldRule::new(targets::EMAIL, [claims::EMAIL_ADDRESS, "mail", NAME_ID])
            .email()
            .required(),
    );
    let a = opaque_subject(&[
        ("givenName", None, &["Alice"]),
        (claims::SURNAME, None, &["E"]),
    ]);
    let err = rules.map(&a).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MissingAttribute);
    let detail = err.detail();
    for part in [
        "`email`",
        "…/emailaddress",
        "mail",
        "$name_id",
        "not an email address: $name_id",
        "givenName",
        "…/surname",
    ] {
        assert!(detail.contains(part), "{part} not in {detail}");
    }
    // Present: no error.
    assert!(rules.map(&email_subject(&[])).is_ok());

    // A custom id source, absent.
    let rules = MappingRules::default().field(FieldRule::new(targets::ID, [claims::MS_OBJECT_ID]));
    let err = rules.map(&email_subject(&[])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MissingAttribute);
    assert!(err.detail().contains("`id`"), "{}", err.detail());
    assert!(
        err.detail().contains("…/objectidentifier"),
        "{}",
        err.detail()
    );
    assert!(err.detail().contains("no attributes"), "{}", err.detail());

    // Any other required target.
    let rules = MappingRules::default()
        .field(FieldRule::new("profile.employee_id", ["employeeNumber"]).required());
    let err = rules.map(&email_subject(&[])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MissingAttribute);
    assert!(
        err.detail().contains("profile.employee_id"),
        "{}",
        err.detail()
    );
}

#[test]
fn transient_name_id_as_id_is_warned() {
    let a = assertion("_9f2e41", name_id_format::TRANSIENT, &[]);
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.id, "_9f2e41");
    assert!(
        user.warnings.iter().any(|w| w.contains("transient")),
        "{:?}",
        user.warnings
    );
}

#[test]
fn entra_group_overage_is_flagged() {
    let link = "https://graph.windows.net/tenant/users/oid/getMemberObjects";
    let a = email_subject(&[
        (claims::MS_ROLE, None, &["Approver"]),
        (claims::MS_GROUPS_LINK, None, &[link]),
    ]);
    for preset in Preset::ALL {
        let user = map(&MappingRules::preset(*preset), &a);
        assert!(user.groups_overage, "{preset:?}");
        assert_eq!(user.groups_link.as_deref(), Some(link));
        assert!(
            user.warnings.iter().any(|w| w.contains("overage")),
            "{:?}",
            user.warnings
        );
    }
    let user = map(&MappingRules::preset(Preset::EntraId), &a);
    assert_eq!(user.roles, ["Approver"]);

    // The JWT-style flag, as some bridges forward it.
    let a = email_subject(&[("hasgroups", None, &["true"])]);
    let user = map(&MappingRules::default(), &a);
    assert!(user.groups_overage);
    assert_eq!(user.groups_link, None);
    let a = email_subject(&[("hasgroups", None, &["false"])]);
    assert!(!map(&MappingRules::default(), &a).groups_overage);
}

fn entra_assertion() -> Assertion {
    assertion(
        "RrX3SPSxDw6z4KHaKB2V_mnv0G-LbRZdYvo1RQa1L7s",
        name_id_format::PERSISTENT,
        &[
            (
                claims::MS_TENANT_ID,
                None,
                &["add29489-7269-41f4-8841-b63c95564420"],
            ),
            (
                claims::MS_OBJECT_ID,
                None,
                &["d1ad9ce7-b322-4221-ab74-1e1011e1bbcb"],
            ),
            (claims::NAME, None, &["User1@Cyrano.onmicrosoft.com"]),
            (claims::SURNAME, None, &["One"]),
            (claims::GIVEN_NAME, None, &["User"]),
            (claims::MS_DISPLAY_NAME, None, &["User One"]),
            (claims::MS_ROLE, None, &["Task.Write"]),
            (
                claims::MS_GROUPS,
                None,
                &["5b2c6e8a-0000-4000-8000-000000000001"],
            ),
        ],
    )
}

#[test]
fn preset_entra_id() {
    let user = map(&MappingRules::preset(Preset::EntraId), &entra_assertion());
    assert_eq!(user.id, "RrX3SPSxDw6z4KHaKB2V_mnv0G-LbRZdYvo1RQa1L7s");
    assert_eq!(user.email(), Some("User1@Cyrano.onmicrosoft.com"));
    assert_eq!(user.get(targets::UPN), Some("User1@Cyrano.onmicrosoft.com"));
    assert_eq!(user.display_name(), Some("User One"));
    assert_eq!(user.given_name(), Some("User"));
    assert_eq!(
        user.get("object_id"),
        Some("d1ad9ce7-b322-4221-ab74-1e1011e1bbcb")
    );
    assert_eq!(
        user.get("tenant_id"),
        Some("add29489-7269-41f4-8841-b63c95564420")
    );
    assert_eq!(
        user.roles,
        ["Task.Write", "5b2c6e8a-0000-4000-8000-000000000001"]
    );
    assert!(!user.groups_overage);

    // Without displayname, Entra's `name` (a UPN) is not used as display name.
    let a = opaque_subject(&[(claims::NAME, None, &["u@t.onmicrosoft.com"])]);
    let user = map(&MappingRules::preset(Preset::EntraId), &a);
    assert_eq!(user.display_name(), None);
    // The generic defaults take the first role source only.
    let user = map(&MappingRules::default(), &entra_assertion());
    assert_eq!(user.roles, ["Task.Write"]);
}

#[test]
fn preset_adfs() {
    let a = assertion(
        "CORP\\alice",
        name_id_format::UNSPECIFIED,
        &[
            (claims::UPN, None, &["alice@corp.example"]),
            (claims::ADFS_COMMON_NAME, None, &["Alice Example"]),
            (claims::NAME, None, &["CORP\\alice"]),
            (claims::MS_WINDOWS_ACCOUNT_NAME, None, &["CORP\\alice"]),
            (claims::ADFS_GROUP, None, &["Domain Users", "Finance"]),
            (claims::MS_ROLE, None, &["Approver"]),
        ],
    );
    let user = map(&MappingRules::preset(Preset::Adfs), &a);
    assert_eq!(user.id, "CORP\\alice");
    assert_eq!(user.email(), Some("alice@corp.example"));
    assert_eq!(user.get(targets::UPN), Some("alice@corp.example"));
    assert_eq!(user.display_name(), Some("Alice Example"));
    assert_eq!(user.get(targets::USERNAME), Some("CORP\\alice"));
    assert_eq!(user.roles, ["Domain Users", "Finance", "Approver"]);

    // AD FS 1.x email claim.
    let a = opaque_subject(&[(claims::ADFS_EMAIL, None, &["old@corp.example"])]);
    assert_eq!(
        map(&MappingRules::preset(Preset::Adfs), &a).email(),
        Some("old@corp.example")
    );
}

#[test]
fn preset_okta() {
    let a = assertion(
        "eric.chiang+okta@coreos.com",
        name_id_format::PERSISTENT,
        &[
            ("email", None, &["eric@okta-attr.example"]),
            (claims::EMAIL_ADDRESS, None, &["eric@claim.example"]),
            ("firstName", None, &["Eric"]),
            ("lastName", None, &["Chiang"]),
            ("mobilePhone", None, &["+1 555 0100"]),
            ("groups", None, &["Everyone", "Admins"]),
        ],
    );
    let user = map(&MappingRules::preset(Preset::Okta), &a);
    assert_eq!(user.id, "eric.chiang+okta@coreos.com");
    // Okta's plain names come before the claim URIs.
    assert_eq!(user.email(), Some("eric@okta-attr.example"));
    assert_eq!(user.given_name(), Some("Eric"));
    assert_eq!(user.family_name(), Some("Chiang"));
    assert_eq!(user.get(targets::PHONE), Some("+1 555 0100"));
    assert_eq!(user.roles, ["Everyone", "Admins"]);
    // The generic defaults prefer the claim URI.
    assert_eq!(
        map(&MappingRules::default(), &a).email(),
        Some("eric@claim.example")
    );
    // Okta usernames that are emails fill the email.
    let a = assertion(
        "russellhaering",
        name_id_format::UNSPECIFIED,
        &[("username", None, &["russell.haering@scaleft.com"])],
    );
    assert_eq!(
        map(&MappingRules::preset(Preset::Okta), &a).email(),
        Some("russell.haering@scaleft.com")
    );
}

#[test]
fn preset_google() {
    let a = assertion(
        "ross@octolabs.io",
        name_id_format::UNSPECIFIED,
        &[
            ("email", None, &["alias@octolabs.io"]),
            ("firstName", None, &["Ross"]),
            ("lastName", None, &["Kinder"]),
            ("phone", None, &[]),
            ("groups", None, &["eng@octolabs.io", "all@octolabs.io"]),
        ],
    );
    let user = map(&MappingRules::preset(Preset::Google), &a);
    // The NameID is the primary email and comes first.
    assert_eq!(user.email(), Some("ross@octolabs.io"));
    assert_eq!(user.given_name(), Some("Ross"));
    assert_eq!(user.family_name(), Some("Kinder"));
    assert_eq!(user.get(targets::PHONE), None);
    assert_eq!(user.roles, ["eng@octolabs.io", "all@octolabs.io"]);
    assert_eq!(
        map(&MappingRules::default(), &a).email(),
        Some("alias@octolabs.io")
    );
}

#[test]
fn preset_shibboleth() {
    let a = assertion(
        "_41bd295976dadd70e1480f318e772841",
        name_id_format::TRANSIENT,
        &[
            (claims::OID_UID, Some("uid"), &["myself"]),
            (
                claims::OID_AFFILIATION,
                Some("eduPersonAffiliation"),
                &["Member", "Staff"],
            ),
            (
                claims::OID_EPPN,
                Some("eduPersonPrincipalName"),
                &["myself@testshib.org"],
            ),
            (claims::OID_SN, Some("sn"), &["And I"]),
            (
                claims::OID_SCOPED_AFFILIATION,
                Some("eduPersonScopedAffiliation"),
                &["Member@testshib.org", "Staff@testshib.org"],
            ),
            (claims::OID_GIVEN_NAME, Some("givenName"), &["Me Myself"]),
            (
                claims::OID_ENTITLEMENT,
                None,
                &["urn:mace:dir:entitlement:common-lib-terms"],
            ),
            (claims::OID_CN, Some("cn"), &["Me Myself And I"]),
            (
                claims::OID_TELEPHONE,
                Some("telephoneNumber"),
                &["555-5555"],
            ),
        ],
    );
    let user = map(&MappingRules::preset(Preset::Shibboleth), &a);
    // The transient NameID is not the ID: ePPN is.
    assert_eq!(user.id, "myself@testshib.org");
    assert!(
        !user.warnings.iter().any(|w| w.contains("transient")),
        "{:?}",
        user.warnings
    );
    assert_eq!(user.email(), Some("myself@testshib.org"));
    assert_eq!(user.given_name(), Some("Me Myself"));
    assert_eq!(user.family_name(), Some("And I"));
    assert_eq!(user.display_name(), Some("Me Myself And I"));
    assert_eq!(user.get(targets::PHONE), Some("555-5555"));
    assert_eq!(user.get(targets::USERNAME), Some("myself"));
    assert_eq!(user.roles, ["Member", "Staff"]);
    assert_eq!(
        user.get_all("affiliation"),
        ["Member@testshib.org", "Staff@testshib.org"]
    );
    assert_eq!(
        user.get_all("entitlements"),
        ["urn:mace:dir:entitlement:common-lib-terms"]
    );

    // subject-id wins over ePPN; isMemberOf over affiliation.
    let a = assertion(
        "_t",
        name_id_format::TRANSIENT,
        &[
            (claims::OID_EPPN, None, &["me@uni.example"]),
            (claims::SUBJECT_ID, None, &["8a7c@uni.example"]),
            (claims::OID_AFFILIATION, None, &["student"]),
            (claims::OID_IS_MEMBER_OF, None, &["course:cs101"]),
        ],
    );
    let user = map(&MappingRules::preset(Preset::Shibboleth), &a);
    assert_eq!(user.id, "8a7c@uni.example");
    assert_eq!(user.roles, ["course:cs101"]);

    // The generic defaults keep the (warned) transient NameID as ID.
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.id, "_t");
}

#[test]
fn preset_generic_is_the_default() {
    assert_eq!(
        MappingRules::preset(Preset::Generic),
        MappingRules::default()
    );
    assert_eq!(Preset::default(), Preset::Generic);
    let a = email_subject(&[
        ("uid", None, &["smartin"]),
        ("mail", None, &["smartin@yaco.es"]),
        ("cn", None, &["Sixto3"]),
        ("sn", None, &["Martin2"]),
        ("eduPersonAffiliation", None, &["user", "admin"]),
        ("Role", None, &["view-profile"]),
    ]);
    let user = map(&MappingRules::default(), &a);
    assert_eq!(user.email(), Some("smartin@yaco.es"));
    assert_eq!(user.display_name(), Some("Sixto3"));
    assert_eq!(user.family_name(), Some("Martin2"));
    assert_eq!(user.get(targets::USERNAME), Some("smartin"));
    // `role` (Keycloak's `Role`) comes before eduPersonAffiliation.
    assert_eq!(user.roles, ["view-profile"]);
}

#[test]
fn builders_replace_and_remove_rules() {
    let rules = MappingRules::default()
        .field(FieldRule::new(targets::EMAIL, ["corpMail"]))
        .without_field(targets::PHONE);
    assert_eq!(
        rules.field_rule(targets::EMAIL).unwrap().sources,
        ["corpMail"]
    );
    assert!(rules.field_rule(targets::PHONE).is_none());
    assert_eq!(
        rules
            .fields
            .iter()
            .filter(|r| r.target == targets::EMAIL)
            .count(),
        1
    );
    let a = email_subject(&[
        ("corpMail", None, &["not-an-email"]),
        ("telephoneNumber", None, &["1"]),
    ]);
    let user = map(&rules, &a);
    // No email format on the replacement rule: any value is taken.
    assert_eq!(user.email(), Some("not-an-email"));
    assert_eq!(user.get(targets::PHONE), None);
}
