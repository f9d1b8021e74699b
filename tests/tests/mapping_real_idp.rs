//! Attribute mapping over the captured real-IdP responses in
//! `../shared/testdata/real-idp/`: every accepted case is validated with
//! `ResponseValidator` as `response_real_idp.rs` does (encrypted ones
//! decrypted with the case's SP key, except those whose RSA-1024 SP key is
//! refused at load time), then mapped with the default rules and every
//! preset. The mapping must not fail, the ID must be the NameID, and an
//! email must be found whenever the NameID or an attribute value holds one.
//! A table of what was mapped is printed for the record (`--nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use base64::Engine;
use saml_core::clock::{FixedClock, parse_datetime};
use saml_core::crypto::{Certificate, PublicKey};
use saml_core::mapping::{MappedUser, MappingRules, Preset, RoleRule};
use saml_core::protocol::{Assertion, Expectation, ResponseValidator};
use saml_core::xml::Document;
use saml_core::xmlenc::DecryptionKey;
use saml_core::{Error, Limits};
use saml_tests::{files_with_suffix, shared_dir};

fn load(dir: &Path, case: &serde_json::Value) -> (String, bool) {
    let files = &case["files"];
    let (name, bare) = match (files["response"].as_str(), files["assertion"].as_str()) {
        (Some(r), _) => (r, false),
        (None, Some(a)) => (a, true),
        _ => ("response.xml", false),
    };
    let raw = std::fs::read_to_string(dir.join(name)).unwrap();
    let xml = if name.ends_with(".b64") {
        let compact: String = raw.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap(),
        )
        .into_owned()
    } else {
        raw
    };
    (xml, bare || name.starts_with("assertion"))
}

fn validate(
    dir: &Path,
    case: &serde_json::Value,
    decryption_keys: Vec<DecryptionKey>,
) -> Result<Assertion, Error> {
    let (xml, bare) = load(dir, case);
    let v = &case["verify_with"];
    let keys: Vec<PublicKey> =
        Certificate::from_pem(&std::fs::read_to_string(dir.join("idp-cert.pem")).unwrap())
            .unwrap()
            .iter()
            .map(|c| c.public_key().clone())
            .collect();
    let idp = case["files"]["idp_metadata_entity_id"]
        .as_str()
        .or_else(|| case["expected"]["issuer"].as_str())
        .unwrap_or("");
    let mut validator = ResponseValidator::new(
        idp,
        keys.clone(),
        v["sp_entity_id"].as_str().unwrap(),
        v["acs_url"].as_str().unwrap_or(""),
    );
    validator.acs_url = v["acs_url"].as_str().map(str::to_owned);
    validator.allow_idp_initiated = v["allow_idp_initiated"].as_bool().unwrap_or(false);
    validator.clock_skew =
        chrono::Duration::seconds(v["clock_skew_seconds"].as_i64().unwrap_or(10));
    if v["allow_sha1"].as_bool().unwrap_or(false) {
        validator.verify = validator.verify.dangerous_allow_sha1();
    }
    // Old test IdPs with 1024-bit keys: the explicit opt-in (see dsig_real_idp).
    if keys.iter().any(PublicKey::is_weak) {
        validator.verify = validator.verify.dangerous_allow_weak_keys();
    }
    validator.decryption_keys = decryption_keys;
    let clock = FixedClock(parse_datetime(v["now"].as_str().unwrap()).unwrap());
    let expect = Expectation {
        in_response_to: v["in_response_to"].as_str(),
        force_authn_since: None,
    };
    let limits = Limits::default();
    let doc = Document::parse(&xml, &limits)?;
    if bare {
        validator.validate_assertion(&doc, &expect, &clock)
    } else {
        validator.validate(&doc, &expect, &clock)
    }
}

/// An independent, deliberately simple notion of "holds an email".
fn emailish(v: &str) -> bool {
    let v = v.trim();
    v.split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.'))
        && !v.contains(char::is_whitespace)
}

fn cell(s: Option<&str>, width: usize) -> String {
    let s = s.unwrap_or("-");
    if s.chars().count() > width {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}

fn row(name: &str, user: &MappedUser) -> String {
    let name_cell = user.display_name().map(str::to_owned).or_else(|| {
        match (user.given_name(), user.family_name()) {
            (None, None) => None,
            (g, f) => Some(
                format!("{} {}", g.unwrap_or(""), f.unwrap_or(""))
                    .trim()
                    .to_owned(),
            ),
        }
    });
    format!(
        "{:<52} {:<40} {:<26} {}",
        cell(Some(name), 52),
        cell(user.email(), 40),
        cell(name_cell.as_deref(), 26),
        if user.roles.is_empty() {
            "-".to_owned()
        } else {
            user.roles.join(", ")
        }
    )
}

#[test]
fn default_rules_map_every_accepted_real_idp_response() {
    let root = shared_dir().join("testdata/real-idp");
    let cases = files_with_suffix(&root, "case.json");
    assert!(cases.len() >= 60);
    let defaults = MappingRules::default();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    let (mut mapped, mut with_email, mut with_roles) = (0, 0, 0);
    let (mut decrypted, mut weak_keys) = (0, 0);
    for case_path in &cases {
        let dir = case_path.parent().unwrap();
        let name = dir.strip_prefix(&root).unwrap().display().to_string();
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case_path).unwrap()).unwrap();
        let encrypted = case["contains"]["assertion_encrypted"]
            .as_bool()
            .unwrap_or(false)
            || case["verify_with"]["decryption_key"].as_str().is_some();
        if case["expected"]["verdict"] != "accept" {
            continue;
        }
        let mut keys = Vec::new();
        if let Some(key) = case["verify_with"]["decryption_key"].as_str() {
            match DecryptionKey::from_pem(&std::fs::read_to_string(dir.join(key)).unwrap()) {
                Ok(k) => keys.push(k),
                Err(_) => {
                    // RSA-1024 SP keys are refused (see response_real_idp).
                    weak_keys += 1;
                    continue;
                }
            }
        }
        if encrypted {
            decrypted += 1;
        }
        let assertion = match validate(dir, &case, keys) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{name}: validation failed: {e}"));
                continue;
            }
        };
        let user = match defaults.map(&assertion) {
            Ok(u) => u,
            Err(e) => {
                failures.push(format!("{name}: default mapping failed: {e}"));
                continue;
            }
        };
        mapped += 1;
        if user.id != assertion.name_id.value {
            failures.push(format!(
                "{name}: id {:?}, NameID {:?}",
                user.id, assertion.name_id.value
            ));
        }
        let candidates: Vec<&str> = std::iter::once(assertion.name_id.value.as_str())
            .chain(
                assertion
                    .attributes
                    .iter()
                    .flat_map(|a| a.values.iter().map(String::as_str)),
            )
            .filter(|v| emailish(v))
            .map(str::trim)
            .collect();
        match user.email() {
            Some(email) => {
                with_email += 1;
                if !candidates.contains(&email) {
                    failures.push(format!("{name}: email {email:?} is not in the assertion"));
                }
            }
            None if !candidates.is_empty() => {
                failures.push(format!(
                    "{name}: no email mapped, but {candidates:?} present"
                ));
            }
            None => {}
        }
        if !user.roles.is_empty() {
            with_roles += 1;
        }
        // Every preset maps too (IDs may differ: Shibboleth prefers attributes).
        for preset in Preset::ALL {
            if let Err(e) = MappingRules::preset(*preset).map(&assertion) {
                failures.push(format!("{name}: preset {preset:?} failed: {e}"));
            }
        }
        check_known(&name, &user, &assertion, &mut failures);
        table.push(row(&name, &user));
        for w in &user.warnings {
            table.push(format!("    warning: {w}"));
        }
    }
    eprintln!("{:<52} {:<40} {:<26} roles", "case", "email", "name");
    for line in &table {
        eprintln!("{line}");
    }
    eprintln!(
        "{mapped} accepted cases mapped with the defaults ({decrypted} decrypted): {with_email} with an email, {with_roles} with roles; {weak_keys} skipped (RSA-1024 SP key)"
    );
    assert!(mapped >= 25, "only {mapped} cases mapped");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a few well-known captures must map to.
fn check_known(name: &str, user: &MappedUser, assertion: &Assertion, failures: &mut Vec<String>) {
    let mut want = |what: &str, ours: Option<&str>, expected: &str| {
        if ours != Some(expected) {
            failures.push(format!("{name}: {what}: ours {ours:?}, want {expected:?}"));
        }
    };
    match name {
        "auth0/gosaml2-signed-response" => {
            want("email", user.email(), "russell.haering@scaleft.com");
            want("display name", user.display_name(), "Russell Haering");
            want("given name", user.given_name(), "Russell");
            want("upn", user.get("upn"), "russell.haering@scaleft.com");
        }
        "entra-id/ssoready-signed-assertion" => {
            want("email", user.email(), "ulysse.carion@codomaindata.com");
            want("display name", user.display_name(), "Ulysse Carion");
            want("family name", user.family_name(), "Carion");
            let entra = MappingRules::preset(Preset::EntraId)
                .map(assertion)
                .unwrap();
            want(
                "entra object_id",
                entra.get("object_id"),
                "74a35d48-1914-4115-82f1-1b8a01449f3d",
            );
        }
        "entra-id/token-valid" => {
            want("email", user.email(), "User1@Cyrano.onmicrosoft.com");
            want("display name", user.display_name(), "User1");
            let entra = MappingRules::preset(Preset::EntraId)
                .map(assertion)
                .unwrap();
            want(
                "entra upn",
                entra.get("upn"),
                "User1@Cyrano.onmicrosoft.com",
            );
        }
        "keycloak/ssoready-signed-assertion" => {
            let roles = user.roles.join(",");
            want(
                "roles",
                Some(&roles),
                "view-profile,manage-account-links,default-roles-master,manage-account,uma_authorization,offline_access",
            );
        }
        "okta/dex-both-signed" => {
            want("email", user.email(), "eric.chiang+okta@coreos.com");
            want("roles", Some(&user.roles.join(",")), "Everyone,Admins");
        }
        "okta/gosaml2-encrypted-detached-enckey" => {
            want("email", user.email(), "fronkey@skyportsystems.com");
            want(
                "roles",
                Some(&user.roles.join(",")),
                "red,blue,green,Everyone",
            );
        }
        "okta/oktadev-00-valid" => {
            want("email", user.email(), "jane.doe@example.com");
            want("given name", user.given_name(), "Jane");
            want("family name", user.family_name(), "Doe");
        }
        "okta/gosaml2-both-signed" => {
            want("email", user.email(), "russell.haering@scaleft.com");
        }
        "onelogin/crewjam-signed-response" => {
            want("given name", user.given_name(), "Ross");
            want("family name", user.family_name(), "Kinder");
            // memberOf is sent empty: no role.
            if !user.roles.is_empty() {
                failures.push(format!("{name}: roles {:?}", user.roles));
            }
        }
        "onelogin/olgn09-01-signed-response" => {
            want("roles", Some(&user.roles.join(",")), "red,green,blue");
        }
        "pingfederate/pfed-01-signed-response-no-keyinfo" => {
            want("given name", user.given_name(), "First");
            // One string until the admin sets the separator.
            want("roles", Some(&user.roles.join("|")), "red,green,blue");
            let split = MappingRules::default()
                .roles(RoleRule::new(["group"]).separator(","))
                .map(assertion)
                .unwrap();
            want(
                "split roles",
                Some(&split.roles.join("|")),
                "red|green|blue",
            );
        }
        "simplesamlphp/ruby-saml-signed-assertion" => {
            want(
                "email",
                user.email(),
                "kyle.baczynski@wellspringworldwide.com",
            );
            want("display name", user.display_name(), "Kyle Baczynski");
            want("username", user.get("username"), "kyle.baczynski");
        }
        _ => {}
    }
}
